"""Ports: what the use cases need from the world, and the plain records that cross them.

`Crm` is Notion in production (`NotionCrm`) and a SQLite file locally (`SqliteCrm`); `Mailer` is
Resend (`ResendMailer`) or an outbox folder (`OutboxMailer`). One contract test suite runs against
every implementation (tests/contract/), so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from christmas_tasks.rendering import Template
from christmas_tasks.vocabulary import EmailStatus


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

    @property
    def running(self) -> bool:
        return not self.completed and self.stopped_reason is None

    def sent_numbers(self) -> set[int]:
        return {n for n, e in self.emails.items() if e.sent_at is not None}


@dataclass(frozen=True)
class SentMark:
    number: int
    sent_at: datetime
    resend_id: str
    status: str = "sent"
    sent_by: str = "kestra"
    completes: bool = False  # the last email of the sequence also sets Sequence Completed


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


class Crm(Protocol):
    def get_contact(self, email: str) -> Contact | None: ...

    def upsert_contact(self, update: ContactUpdate) -> Contact: ...

    def find_sequence(self, email: str, campaign: str, sequence: str, key: str) -> SequenceRecord | None:
        """The record with this key, looked up by email, campaign and sequence type too; with `contact`, the
        contact's status as it is now, when the backend reads it in the same request."""
        ...

    def create_sequence(self, record: SequenceRecord, *, absent: bool = False) -> tuple[SequenceRecord, bool]:
        """Create the record unless its key exists; returns (the stored record, created?). `absent`: the caller
        has just listed this contact's records (`sequences_for`) and the key was not among them, so the backend
        may skip its own look-up (the funnel queues every event, so nothing can create it in between)."""
        ...

    def sequences_for(self, email: str, campaign: str, sequence: str | tuple[str, ...]) -> list[SequenceRecord]:
        """One contact's records of the given sequence type(s) in one campaign, oldest first."""
        ...

    def mark_sent(self, record: SequenceRecord, mark: SentMark) -> SequenceRecord: ...

    def stop_sequence(self, record: SequenceRecord, reason: str) -> SequenceRecord: ...

    def get_template(self, name: str) -> Template:
        """The named template; a missing or inactive one raises TemplateError (no fallback)."""
        ...

    def list_templates(self) -> list[Template]: ...

    def put_template(self, template: Template) -> str:
        """Create or update a template by name; returns "created", "updated" or "unchanged"."""
        ...

    def log_analytics(self, entry: AnalyticsEntry) -> None:
        """Record one send attempt when an analytics store is configured; otherwise nothing."""
        ...


@runtime_checkable
class LedgerReader(Protocol):
    """What the campaign report reads (SPEC §9): the whole ledger of one campaign, on either backend. Each
    method reads every matching record (the Notion backend pages through its data source)."""

    def all_contacts(self) -> list[Contact]:
        """Every contact (the contacts database is not per campaign)."""
        ...

    def campaign_sequences(self, campaign: str) -> list[SequenceRecord]:
        """Every sequence record of the campaign, oldest first."""
        ...

    def send_attempts(self, campaign: str, since: datetime | None = None) -> list[AnalyticsEntry] | None:
        """The campaign's logged send attempts (at or after `since`), oldest first; None when no analytics store
        is configured (then skips and failures are not known)."""
        ...


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


# How long a Mailer is trusted to remember an idempotency key: Resend keeps them 24 hours (the outbox, forever).
# Past that only the ledger stops a second send, so a send whose ledger write failed must be retried within it.
IDEMPOTENCY_WINDOW = timedelta(hours=24)


class Mailer(Protocol):
    def send(self, message: OutgoingEmail) -> SendResult:
        """Send once per `message.idempotency_key` within IDEMPOTENCY_WINDOW of its first send."""
        ...


class Alerter(Protocol):
    def alert(self, text: str) -> bool:
        """Post an alert; True when delivered. Never raises: an alert never fails the funnel."""
        ...
