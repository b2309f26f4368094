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
from christmas_tasks.routing import Route, route
from christmas_tasks.vocabulary import Bounce, EmailStatus, EventKind, MailEvent

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

    kind: ClassVar[EventKind]
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
    kind: ClassVar[EventKind] = EventKind.SIGNUP
    first_name: Name
    business_name: OptionalShortText = None
    source: ShortText = "website"


class AssessmentEvent(Event):
    kind: ClassVar[EventKind] = EventKind.ASSESSMENT
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

    @property
    def route(self) -> Route:
        """The segment, priority and readiness zone these counts route to (SPEC §4): the one place it is worked out."""
        return route(self.red_systems, self.orange_systems)

    @model_validator(mode="after")
    def _counts_fit(self) -> AssessmentEvent:
        total = self.red_systems + self.orange_systems + self.yellow_systems + self.green_systems
        if total > 8:
            raise ValueError(f"red, orange, yellow and green systems add up to {total}; at most 8")
        return self


class NoShowEvent(Event):
    kind: ClassVar[EventKind] = EventKind.NOSHOW
    first_name: Name
    calendly_event_uri: Url
    scheduled_time: Timestamp
    business_name: OptionalShortText = None
    event_type: OptionalShortText = None
    reschedule_url: Url | None = None


class BookingEvent(Event):
    """A call was booked (our shape or Calendly's `invitee.created`): stops the 5-day nurture."""

    kind: ClassVar[EventKind] = EventKind.BOOKING
    first_name: Name
    calendly_event_uri: Url
    scheduled_time: Timestamp
    business_name: OptionalShortText = None
    event_type: OptionalShortText = None


class PostCallEvent(Event):
    kind: ClassVar[EventKind] = EventKind.POSTCALL
    first_name: Name
    call_date: DateOrTimestamp
    business_name: OptionalShortText = None
    call_outcome: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] = "Maybe"
    call_notes: Note | None = None
    objections: Annotated[list[ShortText], Field(max_length=20)] = []
    follow_up_priority: Literal["High", "Medium", "Low"] = "Medium"


class OnboardingEvent(Event):
    kind: ClassVar[EventKind] = EventKind.ONBOARDING
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
    kind: ClassVar[EventKind] = EventKind.UNSUBSCRIBE
    reason: Note | None = None
    # The unsubscribe link's token (it signs the address): when given it must be the right one.
    token: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None


class UnsubscribeLinkEvent(Event):
    """The unsubscribe link opened or one-click POSTed (christmas_tasks/unsubscribe_link.py): the token is required,
    and it is what authorises the request."""

    kind: ClassVar[EventKind] = EventKind.UNSUBSCRIBE_LINK
    token: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    one_click: bool = False  # RFC 8058's POST, from a mailbox provider (else a person's GET)


class EmailStatusEvent(Event):
    """What the mail provider reports about an email it sent (read from Resend's webhook by
    adapters/resend/webhooks.py): the recipient, what happened, the provider's message id.

    `bounced`: the recipient's server rejected the email, permanently or not (`bounce`); `complained`: marked as
    spam; `suppressed`: not sent, the address being on the provider's suppression list (a previous hard bounce or
    complaint); `failed`: the provider could not send it (an invalid recipient, the key, the domain, the quota);
    `delivered`: accepted by the recipient's server.
    """

    kind: ClassVar[EventKind] = EventKind.EMAIL_STATUS
    type: MailEvent
    email_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    occurred_at: Timestamp
    bounce: Bounce | None = None
    detail: Note | None = None

    @property
    def suppression(self) -> EmailStatus | None:
        """The email status this event gives the address, or None when it is only recorded. A bounce of no
        known kind is taken as permanent: that is what Resend's email.bounced means, and it sends nothing unwanted."""
        if self.type is MailEvent.BOUNCED:
            return EmailStatus.BOUNCED if self.bounce in (None, Bounce.PERMANENT) else None
        return {MailEvent.COMPLAINED: EmailStatus.COMPLAINED, MailEvent.SUPPRESSED: EmailStatus.SUPPRESSED}.get(
            self.type
        )


# --------------------------------------------------------------------------------------------------

EVENT_MODELS: dict[EventKind, type[Event]] = {
    model.kind: model
    for model in (
        SignupEvent,
        AssessmentEvent,
        BookingEvent,
        NoShowEvent,
        PostCallEvent,
        OnboardingEvent,
        UnsubscribeEvent,
        EmailStatusEvent,
        UnsubscribeLinkEvent,
    )
}


def event_kind(name: str) -> EventKind:
    try:
        return EventKind(name)
    except ValueError:
        known = ", ".join(kind.value for kind in EventKind)
        raise InvalidInput("event kind", [Problem("event", f"unknown event {name!r}; one of {known}")]) from None


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
    """Validate one webhook body, ours or its sender's (Calendly's, Resend's: read by their adapter modules,
    which map their words to ours). `now` (aware UTC) fills the defaults that mean "on arrival"."""
    kind = event_kind(name)
    if not isinstance(body, dict):
        raise InvalidInput(f"{kind} event", [Problem("body", "must be a JSON object")])
    paths: dict[str, str] = {}
    data: dict[str, Any] = dict(body)
    if kind in (EventKind.NOSHOW, EventKind.BOOKING):
        from christmas_tasks.adapters import calendly

        if calendly.is_calendly(body):
            data, paths = calendly.read(kind, body)
    elif kind is EventKind.EMAIL_STATUS:
        from christmas_tasks.adapters.resend import webhooks

        data, paths = webhooks.read(body)
    elif kind is EventKind.UNSUBSCRIBE_LINK:
        from christmas_tasks import unsubscribe_link

        data, paths = unsubscribe_link.read(body)
    try:
        event = EVENT_MODELS[kind].model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"{kind} event", _problems(exc, paths)) from None
    if isinstance(event, AssessmentEvent) and event.email_1_sent_at is None:
        event = event.model_copy(update={"email_1_sent_at": now.astimezone(UTC)})
    return event
