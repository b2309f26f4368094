"""Webhook events (SPEC §2): validation and normalisation, before anything is written.

`parse_event(kind, body, now)` is the one entry point. It returns a validated model or raises
`InvalidInput` with one `Problem` per bad field, named by its path in the body.
The models ignore unknown fields; the caller keeps the raw body for the record.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from christmas_tasks.errors import InvalidInput, Problem
from christmas_tasks.notion_schema import EMAIL_LIMIT
from christmas_tasks.planning import parse_timestamp as _aware_utc

NAME_MAX = 200
NOTE_MAX = 2000
URL_MAX = 1000


def _normalise_email(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    email = value.strip().lower()
    if not email:
        raise ValueError("must not be empty")
    if len(email) > EMAIL_LIMIT:  # RFC 5321 allows 254; Notion's email property holds 200
        raise ValueError(f"is longer than {EMAIL_LIMIT} characters (what Notion's email property holds)")
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"is not a valid email address ({exc})") from None
    return email


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date_or_timestamp(value: Any) -> str:
    """A calendar date (`2025-12-03`) or an aware timestamp; kept as a normalised ISO string."""
    if isinstance(value, str) and _DATE_ONLY.match(value.strip()):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise ValueError("is not a valid date") from None
    return _aware_utc(value).isoformat().replace("+00:00", "Z")


def _no_bool(value: Any) -> Any:
    # pydantic would read True as 1; a flag in a number field is a sender's mistake, so say so.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


Email = Annotated[str, BeforeValidator(_normalise_email)]


def _no_comma(value: str) -> str:
    if "," in value:
        raise ValueError("must not contain a comma (it is a Notion select option, which cannot)")
    return value


# A value stored as a Notion select option (the ledger's email status): short, and without a comma.
SelectOption = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), AfterValidator(_no_comma)
]
Timestamp = Annotated[datetime, BeforeValidator(_aware_utc)]
DateOrTimestamp = Annotated[str, BeforeValidator(_date_or_timestamp)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=NAME_MAX)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=NOTE_MAX)]
Url = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=URL_MAX, pattern=r"^https?://\S+$")
]
SystemCount = Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=8)]
Score = Annotated[float, BeforeValidator(_no_bool), Field(ge=0, le=100)]
Amount = Annotated[float, BeforeValidator(_no_bool), Field(ge=0, le=10_000_000)]


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


OptionalShortText = Annotated[ShortText | None, BeforeValidator(_blank_to_none)]


class Event(BaseModel):
    """Fields every event shares. Unknown fields are ignored here (the raw body keeps them)."""

    # defer_build: a model is built on first use, so a command that never validates one pays nothing
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True, defer_build=True)

    kind: ClassVar[str] = ""
    email: Email

    def variables(self) -> dict[str, str]:
        """The event's own fields as template variables (strings, empty when absent)."""
        out: dict[str, str] = {}
        for name, value in self.model_dump(mode="json", exclude={"email"}).items():
            if value is None:
                continue
            if isinstance(value, list):
                out[name] = ", ".join(str(v) for v in value)
            elif isinstance(value, float) and value.is_integer():
                out[name] = str(int(value))
            else:
                out[name] = str(value)
        return out


class SignupEvent(Event):
    kind: ClassVar[str] = "signup"
    first_name: Name
    business_name: OptionalShortText = None
    source: ShortText = "website"


class AssessmentEvent(Event):
    kind: ClassVar[str] = "assessment"
    first_name: Name
    business_name: OptionalShortText = None
    red_systems: SystemCount
    orange_systems: SystemCount
    yellow_systems: SystemCount = 0
    green_systems: SystemCount = 0
    assessment_score: Score | None = None
    gps_score: Score | None = None
    money_score: Score | None = None
    weakest_system_1: OptionalShortText = None
    weakest_system_2: OptionalShortText = None
    strongest_system: OptionalShortText = None
    revenue_leak_total: Amount | None = None
    # Defaults to the event's arrival; `parse_event` fills it from the clock it is given.
    email_1_sent_at: Timestamp | None = None
    email_1_status: SelectOption = "sent"

    @model_validator(mode="after")
    def _counts_fit(self) -> AssessmentEvent:
        total = self.red_systems + self.orange_systems + self.yellow_systems + self.green_systems
        if total > 8:
            raise ValueError(f"red, orange, yellow and green systems add up to {total}; at most 8")
        return self


class NoShowEvent(Event):
    kind: ClassVar[str] = "noshow"
    first_name: Name
    calendly_event_uri: Url
    scheduled_time: Timestamp
    business_name: OptionalShortText = None
    event_type: OptionalShortText = None
    reschedule_url: Url | None = None


class BookingEvent(Event):
    """A call was booked (our shape or Calendly's `invitee.created`): stops the 5-day nurture."""

    kind: ClassVar[str] = "booking"
    first_name: Name
    calendly_event_uri: Url
    scheduled_time: Timestamp
    business_name: OptionalShortText = None
    event_type: OptionalShortText = None


class PostCallEvent(Event):
    kind: ClassVar[str] = "postcall"
    first_name: Name
    call_date: DateOrTimestamp
    business_name: OptionalShortText = None
    call_outcome: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] = "Maybe"
    call_notes: Note | None = None
    objections: Annotated[list[ShortText], Field(max_length=20)] = []
    follow_up_priority: Literal["High", "Medium", "Low"] = "Medium"


class OnboardingEvent(Event):
    kind: ClassVar[str] = "onboarding"
    first_name: Name
    payment_confirmed: bool
    payment_amount: Amount
    payment_date: DateOrTimestamp
    business_name: OptionalShortText = None
    docusign_completed: bool = True
    package_type: OptionalShortText = None
    salon_address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    observation_dates: Annotated[list[DateOrTimestamp], Field(max_length=20)] = []
    start_date: DateOrTimestamp | None = None


class UnsubscribeEvent(Event):
    kind: ClassVar[str] = "unsubscribe"
    reason: Note | None = None


EmailStatusType = Literal["email.bounced", "email.complained", "email.suppressed", "email.failed", "email.delivered"]
# Resend's bounce types (data.bounce.type, as Amazon SES classifies them). Only a permanent bounce means the
# address cannot receive mail; a transient one (a full mailbox, a busy server) or an undetermined one does not.
BounceType = Literal["Permanent", "Transient", "Undetermined"]


class EmailStatusEvent(Event):
    """Resend's webhook, flattened: the recipient, what happened and Resend's message id.

    What each type means, as Resend documents it: `email.bounced` the recipient's server rejected the email
    (`bounce.type` Permanent, Transient or Undetermined); `email.complained` marked as spam; `email.suppressed`
    Resend did not send, the address being on its suppression list (a previous hard bounce or complaint);
    `email.failed` Resend could not send it (an invalid recipient, the API key, the domain, the quota);
    `email.delivered` accepted by the recipient's server.
    """

    kind: ClassVar[str] = "email-status"
    type: EmailStatusType
    email_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    occurred_at: Timestamp
    bounce_type: BounceType | None = None
    detail: Note | None = None

    @property
    def suppression(self) -> str | None:
        """The email status this event gives the address, or None when it only gets recorded. A bounce without
        a type is taken as permanent: that is what Resend's email.bounced means, and it never sends unwanted mail."""
        if self.type == "email.bounced":
            return "bounced" if self.bounce_type in (None, "Permanent") else None
        return {"email.complained": "complained", "email.suppressed": "suppressed"}.get(self.type)


# --------------------------------------------------------------------------------------------------
# Foreign bodies mapped onto our shapes. Paths in errors stay those of the sender's body.


def _from_calendly(body: dict[str, Any], expected: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Calendly's webhook (`{"event": ..., "payload": {invitee...}}`) as our flat shape."""
    if body.get("event") != expected:
        raise InvalidInput("event", [Problem("event", f"is {body.get('event')!r}; expected {expected!r}")])
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise InvalidInput("event", [Problem("payload", "must be an object")])
    raw_scheduled = payload.get("scheduled_event")
    scheduled: dict[str, Any] = raw_scheduled if isinstance(raw_scheduled, dict) else {}
    first_name = payload.get("first_name") or str(payload.get("name") or "").strip().split(" ")[0] or None
    mapped = {
        "email": payload.get("email"),
        "first_name": first_name,
        "calendly_event_uri": scheduled.get("uri") or payload.get("event"),
        "scheduled_time": scheduled.get("start_time"),
        "event_type": scheduled.get("name"),
        "reschedule_url": payload.get("reschedule_url"),
    }
    paths = {
        "email": "payload.email",
        "first_name": "payload.first_name",
        "calendly_event_uri": "payload.scheduled_event.uri",
        "scheduled_time": "payload.scheduled_event.start_time",
        "event_type": "payload.scheduled_event.name",
        "reschedule_url": "payload.reschedule_url",
    }
    return {k: v for k, v in mapped.items() if v is not None}, paths


def _from_resend(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    data = body.get("data")
    if not isinstance(data, dict):
        raise InvalidInput("email-status event", [Problem("data", "must be an object")])
    to = data.get("to")
    recipient = to[0] if isinstance(to, list) and to else to

    def part(name: str) -> dict[str, Any]:
        value = data.get(name)
        return value if isinstance(value, dict) else {}

    bounce, suppressed, failed = part("bounce"), part("suppressed"), part("failed")
    detail = bounce.get("message") or suppressed.get("message") or failed.get("reason")
    mapped = {
        "email": recipient,
        "type": body.get("type"),
        "email_id": data.get("email_id"),
        "occurred_at": body.get("created_at") or data.get("created_at"),
        "bounce_type": bounce.get("type") if body.get("type") == "email.bounced" else None,
        "detail": " / ".join(str(x) for x in (detail, bounce.get("subType") or suppressed.get("type")) if x) or None,
    }
    paths = {
        "email": "data.to",
        "type": "type",
        "email_id": "data.email_id",
        "occurred_at": "created_at",
        "bounce_type": "data.bounce.type",
    }
    return {k: v for k, v in mapped.items() if v is not None}, paths


# --------------------------------------------------------------------------------------------------

EVENT_MODELS: dict[str, type[Event]] = {
    "signup": SignupEvent,
    "assessment": AssessmentEvent,
    "booking": BookingEvent,
    "noshow": NoShowEvent,
    "postcall": PostCallEvent,
    "onboarding": OnboardingEvent,
    "unsubscribe": UnsubscribeEvent,
    "email-status": EmailStatusEvent,
}
EVENT_ALIASES = {"no-show": "noshow", "post-call": "postcall", "email_status": "email-status"}


def event_kind(name: str) -> str:
    kind = EVENT_ALIASES.get(name, name)
    if kind not in EVENT_MODELS:
        raise InvalidInput("event kind", [Problem("event", f"unknown event {name!r}; one of {sorted(EVENT_MODELS)}")])
    return kind


def _problems(error: ValidationError, paths: dict[str, str]) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = [str(part) for part in item["loc"]]
        field = ".".join(loc) if loc else "body"
        if loc and loc[0] in paths:
            field = ".".join([paths[loc[0]], *loc[1:]])
        message = item["msg"]
        if item["type"] == "missing":
            message = "is required"
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        problems.append(Problem(field, message))
    return problems


def parse_event(name: str, body: Any, now: datetime) -> Event:
    """Validate one webhook body. `now` (aware UTC) fills the defaults that mean "on arrival"."""
    kind = event_kind(name)
    if not isinstance(body, dict):
        raise InvalidInput(f"{kind} event", [Problem("body", "must be a JSON object")])
    paths: dict[str, str] = {}
    data: dict[str, Any] = dict(body)
    if kind in ("noshow", "booking") and "payload" in body and "event" in body:
        expected = "invitee_no_show.created" if kind == "noshow" else "invitee.created"
        data, paths = _from_calendly(body, expected)
    elif kind == "email-status":
        data, paths = _from_resend(body)
    try:
        event = EVENT_MODELS[kind].model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"{kind} event", _problems(exc, paths)) from None
    if isinstance(event, AssessmentEvent) and event.email_1_sent_at is None:
        event = event.model_copy(update={"email_1_sent_at": now.astimezone(UTC)})
    return event
