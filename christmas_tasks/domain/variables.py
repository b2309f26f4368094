"""Template variables (SPEC §5): campaign facts, the contact's stored fields, and derived values.

Pure: the campaign facts come from settings, the moment from the caller.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from christmas_tasks.domain.errors import ConfigError
from christmas_tasks.domain.planning import zone

if TYPE_CHECKING:
    from collections.abc import Iterable

    from christmas_tasks.domain.events import StartsSequence
    from christmas_tasks.domain.records import SequenceRecord

# Every variable a template may use whatever its sequence (SPEC §5).
BASE_VARIABLES = (
    "first_name",
    "business_name",
    "email",
    "segment",
    "readiness_zone",
    "assessment_score",
    "red_systems",
    "orange_systems",
    "yellow_systems",
    "green_systems",
    "weakest_system_1",
    "weakest_system_2",
    "strongest_system",
    "revenue_leak_total",
    "personalized_tip_1",
    "personalized_tip_2",
    "personalized_tip_3",
    "deadline_date",
    "days_to_deadline",
    "calendly_link",
    "unsubscribe_url",
    "campaign_name",
    "sender_name",
    "sender_address",
)
DEFAULTS = {"first_name": "there", "business_name": "your business"}
# Variables that, when missing, take a campaign fact's value: a link cannot take a text fallback, and a missed call's
# own reschedule link (Calendly's) and the campaign's booking link both let the contact pick a new time.
FACT_DEFAULTS = {"reschedule_url": "calendly_link"}
# A template must carry these (CASL, Gmail/Yahoo bulk-sender rules): an unsubscribe link, the sender footer.
REQUIRED_PLACEHOLDERS = ("unsubscribe_url", "sender_address")


@dataclass(frozen=True)
class Campaign:
    """Campaign facts: configuration, not code."""

    name: str
    deadline: date
    calendly_link: str
    sender_name: str
    sender_address: str  # the postal mailing address every commercial email must show
    unsubscribe_url: str  # the page that unsubscribes; the contact's email and a token are appended
    unsubscribe_secret: str = field(repr=False)  # signs the token so a link cannot unsubscribe someone else
    timezone: str = "America/Toronto"

    def unsubscribe_link(self, email: str) -> str:
        sep = "&" if "?" in self.unsubscribe_url else "?"
        return f"{self.unsubscribe_url}{sep}{urlencode({'email': email, 'token': self.unsubscribe_token(email)})}"

    def unsubscribe_token(self, email: str) -> str:
        return unsubscribe_token(self.unsubscribe_secret, email)


def unsubscribe_token(secret: str, email: str) -> str:
    """The unsubscribe link's token for an address: an HMAC-SHA256 of it with UNSUBSCRIBE_SECRET (128 bits, hex), so
    a link unsubscribes only the address it was made for. The campaign's links and the public edge's check share it."""
    return hmac.new(secret.encode(), email.encode(), hashlib.sha256).hexdigest()[:32]


def _starter(sequence: str) -> type[StartsSequence]:
    from christmas_tasks.domain.events import sequence_starters  # pydantic: imported only by the commands that need it

    starter = sequence_starters().get(sequence)
    if starter is None:
        raise ConfigError(f"no event kind starts the sequence {sequence!r} (an event's `starts` names it)")
    return starter


def variable_names(sequence: str) -> frozenset[str]:
    """The variable set a template of `sequence` is checked against: the base set, and the fields (and computed
    fields) of the event that starts the sequence."""
    starter = _starter(sequence)
    fields = {*starter.model_fields, *starter.model_computed_fields}
    return frozenset(BASE_VARIABLES) | frozenset(name for name in fields if name != "email")


@dataclass(frozen=True)
class SequenceVariables:
    """A sequence's variables, and those every email of it has whatever its contact's event held."""

    sequence: str
    names: frozenset[str]
    always: frozenset[str]

    @property
    def may_lack(self) -> frozenset[str]:
        """The variables an email of the sequence may be without: a placeholder for one needs a fallback."""
        return self.names - self.always


# Only for asking build_variables what it fills on its own: every campaign fact set, nothing stored.
_PROBE_CAMPAIGN = Campaign("probe", date(2000, 1, 1), "https://probe.invalid", "probe", "probe",
                           "https://probe.invalid", "probe")
_PROBE_AT = datetime(2000, 1, 1, tzinfo=UTC)


def filled_whatever_is_stored() -> frozenset[str]:
    """The variables build_variables fills with nothing stored: the campaign facts, the defaults, the tips. Asked of
    build_variables itself, so a value given a default there is counted without a second list."""
    probe = build_variables(_PROBE_CAMPAIGN, "probe@example.invalid", {}, _PROBE_AT)
    return frozenset(name for name, value in probe.items() if value.strip())


def sequence_variables(sequence: str) -> SequenceVariables:
    """`sequence`'s variables, and which of them every email has: what build_variables fills whatever is stored,
    and what the starting event always gives (its sequence record stores that event's `variables()`, which
    `send` hands to build_variables). Everything else, an email may lack: a placeholder for it needs a fallback
    (for the no-show, post-call and onboarding sequences, the assessment's values among them: such a contact
    may never have taken the assessment)."""
    names = variable_names(sequence)
    always = (filled_whatever_is_stored() | _starter(sequence).always_given()) & names
    return SequenceVariables(sequence, names, always)


def all_variable_names(sequences: Iterable[str] | None = None) -> frozenset[str]:
    """Every variable of those sequences (default: every sequence an event starts)."""
    from christmas_tasks.domain.events import sequence_starters

    names = sequence_starters() if sequences is None else sequences
    return frozenset().union(*(variable_names(s) for s in names))


_TIPS = {
    "CRITICAL": "Book the free diagnostic call this week: two red systems rarely fix themselves in the busy season.",
    "URGENT": "Pick one warning sign from your results and give it thirty minutes this week.",
    "OPTIMIZE": "Your foundations hold; write down the one change that would free the most hours in January.",
}


def personalised_tips(stored: dict[str, str]) -> dict[str, str]:
    """Three short tips from the assessment: the two weakest systems, then one for the segment."""
    tips = {}
    for n, key in ((1, "weakest_system_1"), (2, "weakest_system_2")):
        system = stored.get(key, "").strip()
        tips[f"personalized_tip_{n}"] = (
            f"Start with your {system} system: list what breaks in it most often, and fix the first item."
            if system
            else "List the three tasks that ate most of your week, and pick one to hand off."
        )
    tips["personalized_tip_3"] = _TIPS.get(stored.get("segment", ""), _TIPS["OPTIMIZE"])
    return tips


def stored_values(record: SequenceRecord) -> dict[str, str]:
    """What a sequence record gives build_variables: the starting event's `variables()`, stored with the record
    when the sequence started, and the record's name fields."""
    return {**record.variables, "first_name": record.first_name, "business_name": record.business_name or ""}


def build_variables(campaign: Campaign, email: str, stored: dict[str, str], at: datetime) -> dict[str, str]:
    """Every variable for one email to `email`, as of `at` (the email's planned send time).

    Using the planned time, not the clock, keeps a retried send's payload identical (SPEC §6).
    """
    today = at.astimezone(zone(campaign.timezone)).date()
    values = {name: "" for name in all_variable_names()}
    values.update(DEFAULTS)
    values.update({k: v for k, v in stored.items() if v not in (None, "")})
    values.update(personalised_tips(values))
    values.update(
        email=email,
        campaign_name=campaign.name,
        deadline_date=f"{campaign.deadline:%B} {campaign.deadline.day}, {campaign.deadline.year}",
        days_to_deadline=str(max(0, (campaign.deadline - today).days)),
        calendly_link=campaign.calendly_link,
        sender_name=campaign.sender_name,
        sender_address=campaign.sender_address,
        unsubscribe_url=campaign.unsubscribe_link(email),
    )
    for name, fact in FACT_DEFAULTS.items():
        if not values.get(name):
            values[name] = values[fact]
    return values

