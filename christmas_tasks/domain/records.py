"""The records that cross the ports: a contact, a sequence record with the ledger of its emails, a logged send
attempt, an email to send. Plain frozen dataclasses; every time in them is timezone-aware UTC.

The ledger keeps LEDGER_SIZE emails per sequence record (Notion has a column set per email: `Email {n} Sent`, ...);
the catalogue's email numbers are checked against it when it is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from christmas_tasks.domain.errors import InvalidInput, Problem
from christmas_tasks.domain.vocabulary import EmailStatus, Engagement

LEDGER_SIZE = 5
LEDGER_NUMBERS = range(1, LEDGER_SIZE + 1)  # the ledger's emails: 1 to 5
# What the ledger holds (Notion's limits): an address of 200 characters; a select option of 100, with no comma.
EMAIL_MAX = 200
OPTION_MAX = 100


def check_ledger_number(number: int) -> None:
    """An email number the ledger has columns for; anything else is refused naming it."""
    if number not in LEDGER_NUMBERS:
        problem = Problem("number", f"{number} is not 1 to {LEDGER_SIZE} (the ledger's columns)")
        raise InvalidInput("email number", [problem])


@dataclass(frozen=True)
class Contact:
    email: str
    first_name: str = ""
    business_name: str | None = None
    campaign_status: str | None = None
    booking_status: str | None = None
    email_status: str = EmailStatus.OK  # a value a person typed in Notion is kept as it is: anything but ok suppresses
    segment: str | None = None
    assessment_score: float | None = None
    timezone: str | None = None  # the contact's own IANA zone, from its events: the send window applies in it
    booked_call: str | None = None  # the Calendly event of the call booked last: a later cancellation of another
    booked_at: datetime | None = None  # when the call booked last was booked: the report attributes it to an email
    ref: str | None = None  # the backend's own id (a Notion page id, a row id)

    @property
    def suppressed(self) -> bool:
        return self.email_status != EmailStatus.OK


@dataclass(frozen=True)
class ContactUpdate:
    """Fields to write on a contact; None leaves a field as it is."""

    email: str
    first_name: str | None = None
    business_name: str | None = None
    campaign_status: str | None = None
    booking_status: str | None = None
    email_status: str | None = None
    segment: str | None = None
    assessment_score: float | None = None
    timezone: str | None = None
    booked_call: str | None = None
    booked_at: datetime | None = None
    # Written only when the contact has no campaign status yet (a signup never moves a contact back).
    initial_campaign_status: str | None = None


@dataclass(frozen=True)
class EmailLedger:
    """What the ledger knows of one email of a sequence."""

    number: int
    sent_at: datetime | None = None
    status: str | None = None
    resend_id: str | None = None
    sent_by: str | None = None  # "kestra" or "website"
    # What happened to it after it left (SPEC §9): the first time of each engagement kind, and the first link clicked
    engaged: dict[Engagement, datetime] = field(default_factory=dict)
    clicked_link: str | None = None

    def engaged_at(self, kind: Engagement) -> datetime | None:
        return self.engaged.get(kind)


@dataclass(frozen=True)
class ContactStatus:
    """What sending needs of a contact, as it is now: read with the sequence record, in the same request."""

    email_status: str
    booking_status: str | None = None

    @property
    def suppressed(self) -> bool:
        return self.email_status != EmailStatus.OK


@dataclass(frozen=True)
class SequenceRecord:
    """One contact's run of one sequence for one event, with its ledger."""

    key: str
    email: str
    campaign: str
    sequence: str
    event_id: str
    first_name: str
    anchor: datetime
    created_at: datetime
    business_name: str | None = None
    segment: str | None = None
    variables: dict[str, str] = field(default_factory=dict)  # the event's fields, for rendering
    emails: dict[int, EmailLedger] = field(default_factory=dict)
    completed: bool = False
    stopped_reason: str | None = None
    ref: str | None = None
    # The run (Kestra execution) that created the record: its own retry may plan again, a duplicate may not.
    created_by: str | None = None
    # The contact's record (Contact.ref), linked from the sequence record where the backend keeps links.
    contact_ref: str | None = None
    # The contact's status as of the read, where the backend reads it with the record (None: read the contact).
    contact: ContactStatus | None = None
    # The campaign's state as of the read, where the backend reads it with the record (Notion: in the same query);
    # None: read it from the campaign store. Not part of the record: two reads of one record compare equal.
    campaign_state: CampaignState | None = field(default=None, compare=False)

    @property
    def running(self) -> bool:
        return not self.completed and self.stopped_reason is None

    def sent_numbers(self) -> set[int]:
        return {n for n, e in self.emails.items() if e.sent_at is not None}


@dataclass(frozen=True)
class CampaignState:
    """Whether the campaign sends (SPEC §11): paused or running, and the last change: why, when and by whom. A
    campaign never paused is running (`changed_at` None)."""

    campaign: str
    paused: bool = False
    reason: str | None = None
    changed_at: datetime | None = None
    changed_by: str | None = None  # "the command line", "Kestra execution <id>", "the deliverability guard"


@dataclass(frozen=True)
class SentMark:
    number: int
    sent_at: datetime
    resend_id: str
    status: str = "sent"
    sent_by: str = "kestra"
    completes: bool = False  # the last email of the sequence to go out also sets Sequence Completed


@dataclass(frozen=True)
class EngagementMark:
    """One engagement of email `number` of a record, to record when its kind is not recorded yet (the first)."""

    number: int
    kind: Engagement
    at: datetime
    link: str | None = None  # a click's link


@dataclass(frozen=True)
class AnalyticsEntry:
    email: str
    template: str
    email_number: int
    status: str  # sent, failed, skipped
    at: datetime
    campaign: str
    resend_id: str | None = None
    error: str | None = None



@dataclass(frozen=True)
class OutgoingEmail:
    sender: str
    to: str
    subject: str
    html: str
    text: str
    idempotency_key: str
    reply_to: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    message_id: str
    duplicate: bool = False  # the idempotency key had been used: nothing new went out


