"""Ports: what the use cases need from the world, one narrow store per concern (Cosmic Python's repositories).

The ledger is five stores: contacts, sequences (each record with the ledger of its emails), templates, the send log
(every attempt, for the report), and the campaign's state (paused or running). Notion implements them in production
(christmas_tasks/adapters/notion/), a SQLite file locally (christmas_tasks/adapters/sqlite/), dicts in the tests
(tests/fakes/memory.py); `Mailer` is Resend or an outbox folder. One contract suite per port runs against every
implementation (tests/contract/), so they cannot drift apart. The records that cross them are the domain's
(christmas_tasks/domain/records.py). `PersonalData` is what a backend holds about one person across its stores
(SPEC §11: a story, an export, erasure).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from christmas_tasks.domain.holdings import Holdings
from christmas_tasks.domain.records import (
    AnalyticsEntry,
    CampaignState,
    Contact,
    ContactUpdate,
    EngagementMark,
    OutgoingEmail,
    SendResult,
    SentMark,
    SequenceRecord,
)
from christmas_tasks.domain.rendering import Template


@runtime_checkable
class ContactStore(Protocol):
    def get_contact(self, email: str) -> Contact | None: ...

    def upsert_contact(self, update: ContactUpdate) -> Contact: ...

    def all_contacts(self) -> list[Contact]:
        """Every contact (the contacts database is not per campaign): the report's read."""
        ...


@runtime_checkable
class SequenceStore(Protocol):
    def find_sequence(self, email: str, campaign: str, sequence: str, key: str) -> SequenceRecord | None:
        """The record with this key, looked up by email, campaign and sequence too; with `contact`, the contact's
        status as it is now, where the backend reads it in the same request."""
        ...

    def create_sequence(self, record: SequenceRecord, *, absent: bool = False) -> tuple[SequenceRecord, bool]:
        """Create the record unless its key exists; returns (the stored record, created?). `absent`: the caller
        has just listed this contact's records (`sequences_for`) and the key was not among them, so the backend
        may skip its own look-up (the funnel queues every event, so nothing can create it in between)."""
        ...

    def sequences_for(self, email: str, campaign: str, sequence: str | tuple[str, ...]) -> list[SequenceRecord]:
        """One contact's records of the given sequence(s) in one campaign, oldest first."""
        ...

    def mark_sent(self, record: SequenceRecord, mark: SentMark) -> SequenceRecord: ...

    def stop_sequence(self, record: SequenceRecord, reason: str) -> SequenceRecord: ...

    def mark_status(self, record: SequenceRecord, number: int, status: str) -> SequenceRecord:
        """Email `number`'s status alone (`Email {n} Status`), for an email not sent: held while the campaign is
        paused, skipped when a held one ran and was not sent. A sent email's status is never changed."""
        ...

    def mark_engagement(self, record: SequenceRecord, mark: EngagementMark) -> SequenceRecord:
        """Record the first engagement of its kind with email `mark.number` (its time, and a click's link): one
        write, touching that email's engagement only (a send may be writing the record at the same time). The
        caller checks the record first: a kind recorded already is never written again."""
        ...

    def campaign_sequences(self, campaign: str) -> list[SequenceRecord]:
        """Every record of the campaign, oldest first: the report's read."""
        ...


@runtime_checkable
class TemplateStore(Protocol):
    def get_template(self, name: str) -> Template:
        """The named template; a missing or inactive one raises TemplateError (no fallback)."""
        ...

    def list_templates(self) -> list[Template]: ...

    def put_template(self, template: Template) -> str:
        """Create or update a template by name; returns "created", "updated" or "unchanged"."""
        ...


@runtime_checkable
class SendLog(Protocol):
    def log_attempt(self, entry: AnalyticsEntry) -> None:
        """Record one send attempt where the backend keeps a log (Notion: when an analytics database is
        configured); otherwise nothing."""
        ...

    def send_attempts(self, campaign: str, since: datetime | None = None) -> list[AnalyticsEntry] | None:
        """The campaign's logged attempts (at or after `since`), oldest first; None when no log is kept (then
        skips and failures are not known): the report's read."""
        ...


@runtime_checkable
class PersonalData(Protocol):
    """Everything a backend holds about one address, its erasure, and the mark a forgotten address leaves (SPEC §11:
    a contact's story, access and erasure). `mark` is `domain.holdings.forget_mark`'s: the backend never sees a key."""

    def held(self, email: str, mark: str) -> Holdings:
        """The address's contact, sequence records (every campaign) and send-log entries, each also as stored, and
        whether its mark is kept; read only."""
        ...

    def erase(self, held: Holdings, mark: str, at: datetime) -> dict[str, int]:
        """Keep the mark (first), then remove what `held` lists (Notion: to its trash); what was removed, per store.
        Idempotent: what is gone already is not counted again."""
        ...

    def is_forgotten(self, mark: str) -> bool: ...

    def clear_forgotten(self, mark: str) -> bool:
        """Remove the mark (the person signed up or took the assessment again); True when there was one."""
        ...


@runtime_checkable
class CampaignStore(Protocol):
    """The campaign's state (SPEC §11: paused or running), kept in the ledger beside its records."""

    def state(self, campaign: str) -> CampaignState:
        """As it is now; a campaign never paused is running."""
        ...

    def set_state(self, state: CampaignState) -> CampaignState: ...


@runtime_checkable
class Ledger(Protocol):
    """One backend's stores: what the funnel and the report read and write."""

    @property
    def contacts(self) -> ContactStore: ...

    @property
    def sequences(self) -> SequenceStore: ...

    @property
    def templates(self) -> TemplateStore: ...

    @property
    def sends(self) -> SendLog: ...

    @property
    def people(self) -> PersonalData: ...

    @property
    def campaigns(self) -> CampaignStore: ...


# How long a Mailer is trusted to remember an idempotency key: Resend keeps them 24 hours (the outbox, forever).
# Past that only the ledger stops a second send, so a send whose ledger write failed must be retried within it.
IDEMPOTENCY_WINDOW = timedelta(hours=24)


class Mailer(Protocol):
    def send(self, message: OutgoingEmail) -> SendResult:
        """Send once per `message.idempotency_key` within IDEMPOTENCY_WINDOW of its first send."""
        ...


class AddressLocks(Protocol):
    def hold(self, email: str) -> AbstractContextManager[None]:
        """Held while one event for `email` is handled: another event for the same address waits for it, one for
        another address does not (SPEC §2: two events for one address never both create its contact)."""
        ...


class Alerter(Protocol):
    def alert(self, text: str) -> bool:
        """Post an alert; True when delivered. Never raises: an alert never fails the funnel."""
        ...


class AlertLog(Protocol):
    def locked(self) -> AbstractContextManager[dict[str, Any]]:
        """The record of recent failure alerts (a JSON object), held against every other step until the block ends;
        the object as the block leaves it is saved. An unreadable record is an empty one: alerts never fail on it."""
        ...
