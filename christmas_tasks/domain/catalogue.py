"""The sequence catalogue (SPEC §3): every sequence, its emails, their templates and delays, as data, in one place
(christmas_tasks/catalogue.json, or the file CHRISTMAS_CATALOGUE names). It is the one list of sequences: nothing
else names them but the events that start and stop them (christmas_tasks/domain/events/).

Checked when it is loaded, naming what is wrong: durations, email numbers unique and in order and within the
ledger's columns (1 to LEDGER_SIZE), delays that never decrease, an anchor, a known contact status.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

from christmas_tasks.domain.errors import ConfigError, InvalidInput, Problem
from christmas_tasks.domain.records import LEDGER_NUMBERS, LEDGER_SIZE
from christmas_tasks.domain.vocabulary import CampaignStatus

ANCHORS = ("email_1_sent_at", "arrival")  # an event's field, or the event's arrival

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


MAX_DELAY = timedelta(days=366)  # a delay or gap past a year is a typo, and past timedelta's range a crash


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a duration such as '90s', '5m', '24h' or '2d'")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > MAX_DELAY.total_seconds():
        raise ValueError(f"{text!r} is longer than {MAX_DELAY.days} days")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class CatalogueEmail:
    number: int
    template: str
    delay: timedelta
    testing_delay: timedelta


@dataclass(frozen=True)
class SequenceDef:
    name: str
    contact_status: CampaignStatus
    anchor: str  # "email_1_sent_at" or "arrival"
    catch_up_gap: timedelta
    testing_catch_up_gap: timedelta
    emails: tuple[CatalogueEmail, ...]

    def email(self, number: int) -> CatalogueEmail:
        for item in self.emails:
            if item.number == number:
                return item
        numbers = ", ".join(str(e.number) for e in self.emails)
        raise InvalidInput("email number", [Problem("email_number", f"{self.name} has emails {numbers}, not {number}")])


@dataclass(frozen=True)
class Catalogue:
    sequences: dict[str, SequenceDef]  # in the file's order

    def get(self, name: str) -> SequenceDef:
        definition = self.sequences.get(name)
        if definition is None:
            known = ", ".join(self.sequences)
            raise InvalidInput("sequence", [Problem("sequence", f"unknown sequence {name!r}; one of {known}")])
        return definition

    def template_names(self) -> list[str]:
        return [e.template for s in self.sequences.values() for e in s.emails]


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """The packaged catalogue, or the file at `path` (a test's fast delay table, a business edit)."""
    where = str(path) if path else "the packaged catalogue.json"
    try:
        if path:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        else:
            raw = json.loads(resources.files("christmas_tasks").joinpath("catalogue.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the sequence catalogue {where}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"the sequence catalogue {where} is malformed: not a JSON object of sequences")
    try:
        sequences = {name: _sequence(name, value) for name, value in raw.items() if not name.startswith("_")}
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"the sequence catalogue {where} is malformed: {exc!s}") from None
    if not sequences:
        raise ConfigError(f"the sequence catalogue {where} has no sequence")
    return Catalogue(sequences)


def _sequence(name: str, raw: dict[str, Any]) -> SequenceDef:
    emails = tuple(
        CatalogueEmail(
            int(e["number"]), str(e["template"]), parse_duration(e["delay"]), parse_duration(e["testing_delay"])
        )
        for e in raw["emails"]
    )
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise ValueError(f"{name!r}: a sequence name is lower-case letters, digits and '-'")
    if not emails or [e.number for e in emails] != sorted({e.number for e in emails}):
        raise ValueError(f"{name}: email numbers must be unique and in order")
    outside = [e.number for e in emails if e.number not in LEDGER_NUMBERS]
    if outside:
        raise ValueError(f"{name}: email {outside[0]} is past the ledger, which keeps emails 1 to {LEDGER_SIZE}")
    if any(later.delay < earlier.delay for earlier, later in pairwise(emails)):
        raise ValueError(f"{name}: delays must not decrease")
    if raw["anchor"] not in ANCHORS:
        raise ValueError(f"{name}: anchor must be one of {', '.join(ANCHORS)}")
    gap = raw["catch_up_gap"]
    return SequenceDef(
        name,
        CampaignStatus(raw["contact_status"]),
        raw["anchor"],
        parse_duration(gap["production"]),
        parse_duration(gap["testing"]),
        emails,
    )


