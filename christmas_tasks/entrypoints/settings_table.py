"""The settings table (SPEC §8): every setting the package and the public edge read, described once (`SETTINGS`),
with who reads it, how it reaches a Kestra step, and what the local backends use when it is unset; and the names
derived from it. `flows/step.yml` passes every setting the step reads (tests/flows checks it both ways),
docs/operating.md lists them all in this order (tests/unit checks it), and Settings.from_env
(christmas_tasks/entrypoints/settings.py) and EdgeSettings.from_env read nothing else (SettingValues refuses it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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


# Every setting, in one table: the settings file of flows/step.yml names each one the step reads (tests/flows checks
# it both ways), the docs list them all (docs/operating.md), Settings.from_env reads nothing else, and the edge's
# EdgeSettings.from_env reads exactly those marked EDGE (tests/unit and tests/edge check both).
SETTINGS: tuple[Setting, ...] = (
    Setting("CHRISTMAS_BACKEND", "local (a SQLite ledger and an outbox folder) or live (Notion and Resend)"),
    Setting("TESTING_MODE", "true: the catalogue's testing delays (minutes), no send window, no blackout day"),
    Setting("CHRISTMAS_LOCAL_DIR", "the local backends' folder: the ledger and the outbox (default .christmas)"),
    Setting("CHRISTMAS_TEMPLATES_DIR", "the local template folder (default: the package's sample templates)"),
    Setting("CHRISTMAS_CATALOGUE", "a sequence catalogue of your own (default: the package's catalogue.json)"),
    Setting("CHRISTMAS_CACHE_DIR", "what every step of the machine shares: the lock per address, Notion's request "
            "budget, cached data-source ids and templates, the alert record (one volume for separate workers)"),
    Setting("CHRISTMAS_TEMPLATE_CACHE_SECONDS", "how long a template read from Notion is reused (default 300)"),
    Setting("CAMPAIGN_NAME", "the campaign, as the ledger's Campaign option (default Christmas 2025)"),
    Setting("CAMPAIGN_DEADLINE", "the offer's last day (YYYY-MM-DD), in the emails", live=True, local="2025-12-20"),
    Setting("CAMPAIGN_TIMEZONE", "the campaign's IANA time zone (default America/Toronto)"),
    Setting("SEND_WINDOW", "when emails may go out, in the contact's zone: 'mon-fri 09:00-18:00' (default: any time)"),
    Setting(
        "SEND_BLACKOUT", "days closed all day, in the contact's zone: MM-DD (every year), YYYY-MM-DD, and a country "
        "code for its public holidays (CA, CA-ON); none: no day (default: 12-24,12-25,12-26,01-01)",
    ),
    Setting("SEND_CAP", "at most this many emails an hour a resume or a reconcile plans again (default 100)"),
    Setting("GUARD_WINDOW", "the deliverability guard judges the last N emails sent, at least 50 (default 200)"),
    Setting("GUARD_COMPLAINT_WARNING", "the complaint rate, in percent, the report warns at (default 0.1)"),
    Setting("GUARD_COMPLAINT_CRITICAL", "the complaint rate, in percent, that pauses the campaign (default 0.3)"),
    Setting("GUARD_BOUNCE_CRITICAL", "a bounce rate, in percent, over which the campaign pauses (default 4)"),
    Setting(
        "EMAIL_FROM", "the sender: Name <address>", live=True, local="Christmas Campaign <hello@example.com>",
        read_by=(STEP, EDGE),
    ),
    Setting("EMAIL_REPLY_TO", "the Reply-To of every email when REPLY_ADDRESS is unset (default: none)"),
    Setting(
        "REPLY_ADDRESS", "the Reply-To of every email: an address on a Resend receiving domain, so a reply stops the "
        "lead's sequences (default: EMAIL_REPLY_TO)",
    ),
    Setting(
        "REPLY_INBOX", "where replies are forwarded (required to handle a reply; not on REPLY_ADDRESS's domain)",
        local="replies@example.org",
    ),
    Setting(
        "SENDER_NAME", "the business's name in the emails and the unsubscribe pages (default: EMAIL_FROM's)",
        local="Example Consulting", read_by=(STEP, EDGE),
    ),
    Setting(
        "SENDER_ADDRESS", "the sender's postal address, in every email's footer (CASL)", live=True,
        local="123 Example Street, Toronto, ON M5V 0A1, Canada",
    ),
    Setting("UNSUBSCRIBE_URL", "an unsubscribe page of your own (default: the public edge's, EDGE_PUBLIC_URL)"),
    Setting(
        "EDGE_PUBLIC_URL", "the public edge's URL (christmas-tasks serve): every email's unsubscribe link is its "
        "/unsubscribe page (https; http on loopback only)",
    ),
    Setting(
        "KESTRA_PUBLIC_URL", "Kestra's own URL: the unsubscribe link of a local engine with no edge in front",
        kestra="kestra.url ?? null",
    ),
    Setting("CALENDLY_LINK", "the booking link in the emails", live=True, local="https://calendly.com/example/christmas-call"),
    Setting("NOTION_API_URL", "Notion's API root (default https://api.notion.com; a gateway or a test's fake)"),
    Setting("RESEND_API_URL", "Resend's API root (default https://api.resend.com; a gateway or a test's fake)"),
    Setting("NOTION_TOKEN", "the Notion integration's token", secret=True, credential=True, live=True),
    Setting("NOTION_CONTACTS_DB_ID", "the contacts database", secret=True, live=True),
    Setting("NOTION_EMAIL_SEQUENCE_DB_ID", "the email sequence database", secret=True, live=True),
    Setting("NOTION_EMAIL_TEMPLATES_DB_ID", "the email templates database", secret=True, live=True),
    Setting("NOTION_EMAIL_ANALYTICS_DB_ID", "the email analytics database (empty: none)", secret=True),
    Setting("RESEND_API_KEY", "Resend's API key", secret=True, credential=True, live=True),
    Setting(
        "UNSUBSCRIBE_SECRET", "signs every unsubscribe link's token (the edge checks it first)", secret=True,
        credential=True, live=True, local="local-unsubscribe-secret", generated=True, read_by=(STEP, EDGE),
    ),
    Setting(
        "UNSUBSCRIBE_LINK_KEY", "the unsubscribe-link flow's webhook key (it is in every link)", secret=True,
        kestra="secret('WEBHOOK_KEY_UNSUBSCRIBE_LINK')",
    ),
    Setting("DISCORD_WEBHOOK_URL", "where alerts and the daily summary go (empty: none)", secret=True, credential=True),
    # The public edge's own (christmas_tasks/entrypoints/edge/): its environment, never passed to Kestra.
    Setting(
        "KESTRA_INTERNAL_URL", "where the edge forwards: Kestra on the private network (default http://localhost:8080)",
        read_by=(EDGE,),
    ),
    Setting("EDGE_HOST", "the address the edge listens on (default 127.0.0.1; a container: 0.0.0.0)", read_by=(EDGE,)),
    Setting("EDGE_PORT", "the edge's port (default 8000)", read_by=(EDGE,)),
    Setting(
        "EDGE_DATA_DIR", "the edge's folder: the Svix ids already forwarded (default .christmas-edge)", read_by=(EDGE,)
    ),
    Setting(
        "CALENDLY_SIGNING_KEY", "the signing key of Calendly's webhook subscription (empty: Calendly refused)",
        credential=True, read_by=(EDGE,),
    ),
    Setting(
        "RESEND_WEBHOOK_SECRET", "Resend's webhook signing secret, whsec_... (empty: Resend refused)", credential=True,
        read_by=(EDGE,),
    ),
)
SETTING_NAMES = frozenset(setting.name for setting in SETTINGS)
STEP_SETTINGS = frozenset(setting.name for setting in SETTINGS if STEP in setting.read_by)
EDGE_SETTINGS = frozenset(setting.name for setting in SETTINGS if EDGE in setting.read_by)
LIVE_REQUIRED = tuple(setting.name for setting in SETTINGS if setting.live)
# The step's credentials, scrubbed from its outputs (the edge's never reach it: it logs no value at all).
CREDENTIALS = tuple(setting.name for setting in SETTINGS if setting.credential and STEP in setting.read_by)


def kestra_secrets() -> tuple[str, ...]:
    """Every Kestra secret the flows read: the settings' secrets (flows/step.yml) and each event kind's webhook key
    (its flow's trigger), by name, as `christmas-tasks secrets encode` warns when one is missing."""
    own = [setting.name for setting in SETTINGS if setting.secret and setting.kestra is None]
    return (*own, *webhook_keys())


def webhook_keys() -> tuple[str, ...]:
    """Each event kind's webhook key, by name (random keys: `christmas-tasks secrets init` makes them)."""
    from christmas_tasks.domain.events import KINDS

    return tuple(model.webhook_key for model in KINDS.values())


def generated_secrets() -> tuple[str, ...]:
    """The secrets no person chooses: random keys, made by `christmas-tasks secrets init`."""
    return (*(setting.name for setting in SETTINGS if setting.generated), *webhook_keys())


# Values that let the local backends run with no account; never used by the live backend.
LOCAL_DEFAULTS = {setting.name: setting.local for setting in SETTINGS if setting.local is not None}



class SettingValues(Mapping[str, str]):
    """One run's settings, read by name from the table alone: a name outside SETTINGS, or one its row says this
    reader does not read, is a programming error, refused at once, so every setting the step reads is one
    flows/step.yml writes, and the edge reads only its own (`also`: names derived from the event kinds, the edge's
    webhook keys and signing secrets)."""

    def __init__(self, values: Mapping[str, str], reader: str = STEP, also: frozenset[str] = frozenset()) -> None:
        self._values = dict(values)
        self._reader = reader
        self._allowed = (STEP_SETTINGS if reader == STEP else EDGE_SETTINGS) | also

    def __getitem__(self, name: str) -> str:
        if name not in self._allowed:
            if name in SETTING_NAMES:
                raise ValueError(f"{name} is not read by the {self._reader} (its row in the settings table says who)")
            raise ValueError(f"{name} is not in the settings table (christmas_tasks/entrypoints/settings_table.py)")
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)
