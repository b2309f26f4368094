"""One row of the settings table (`SETTINGS` in christmas_tasks/entrypoints/settings.py, the one place every setting
is described): what a setting is, who reads it, and how it reaches a Kestra step."""

from __future__ import annotations

from dataclasses import dataclass

# Who reads a setting: the package's commands, so the Kestra step (Settings.from_env; flows/step.yml writes each),
# or the public edge (`christmas-tasks serve`: EdgeSettings.from_env, from its own environment), or both.
STEP = "step"
EDGE = "edge"


@dataclass(frozen=True)
class Setting:
    """One setting the package reads, who reads it, and how it reaches a Kestra step (flows/step.yml writes every
    setting the step reads; the edge's own are never passed to Kestra)."""

    name: str
    about: str
    secret: bool = False  # a Kestra secret (`secret('NAME')`, a SECRET_NAME variable): never a plain setting
    credential: bool = False  # a secret that must never be shown: scrubbed from every output
    live: bool = False  # required by the live backend: it fails at once, naming each one missing
    local: str | None = None  # what the local backends use when it is unset (never the live backend)
    generated: bool = False  # a random key no person chooses (`christmas-tasks secrets init` makes one)
    kestra: str | None = None  # where step.yml reads it, when not ENV_<NAME> (`envs.<name>`) or secret('<NAME>')
    read_by: tuple[str, ...] = (STEP,)  # STEP, EDGE or both

    def __post_init__(self) -> None:
        if not self.read_by or set(self.read_by) - {STEP, EDGE}:
            raise ValueError(f"setting {self.name}: read_by must name {STEP!r}, {EDGE!r} or both")
        if STEP not in self.read_by and (self.secret or self.kestra or self.live or self.local is not None):
            raise ValueError(f"setting {self.name}: only a setting the step reads can be a Kestra one")
