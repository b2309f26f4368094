"""In-memory implementations of the ports (Cosmic Python's fakes): the four stores of a ledger and a Mailer, in
dicts, for use-case tests that are pure and fast. They run through the same contract suites as the SQLite and
Notion stores, OutboxMailer and ResendMailer (tests/contract/), so they cannot drift from them.

`handle` is the tests' shorthand for what an entry point does: read a webhook body into an event, then handle it;
`in_testing_mode`, the funnel on these ports in testing mode; `InMemoryAlerter`, the Alerter keeping what it was given.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from christmas_tasks.adapters.template_files import load_templates
from christmas_tasks.domain.errors import InvalidInput, NotFound, Problem, ProviderError, TemplateError
from christmas_tasks.domain.holdings import Holdings, Stored
from christmas_tasks.domain.planning import require_aware
from christmas_tasks.domain.records import (
    AnalyticsEntry,
    CampaignState,
    Contact,
    ContactStatus,
    ContactUpdate,
    EmailLedger,
    EngagementMark,
    OutgoingEmail,
    SendResult,
    SentMark,
    SequenceRecord,
    check_ledger_number,
)
from christmas_tasks.domain.rendering import Template
from christmas_tasks.domain.vocabulary import Engagement
from christmas_tasks.entrypoints.inbound import read_event
from christmas_tasks.usecases.funnel import Funnel
from christmas_tasks.usecases.outcomes import Handled


def handle(funnel: Funnel, kind: str, body: Any, now: datetime, run_id: str | None = None) -> Handled:
    """One webhook body of `kind` read as the edge reads it, then handled: what `christmas-tasks handle` does."""
    return funnel.handle(read_event(kind, body, now), now, run_id)


class InMemoryContacts:
    def __init__(self) -> None:
        self.contacts: dict[str, Contact] = {}

    def get_contact(self, email: str) -> Contact | None:
        return self.contacts.get(email)

    def upsert_contact(self, update: ContactUpdate) -> Contact:
        current = self.contacts.get(update.email) or Contact(update.email, ref=update.email)
        changes: dict[str, object] = {}
        for name in ("first_name", "campaign_status", "booking_status", "email_status", "assessment_score",
                     "booked_at"):
            value = getattr(update, name)
            if value is not None:
                changes[name] = value
        # empty text is stored as absent, as Notion does
        for name in ("business_name", "segment", "timezone", "booked_call"):
            value = getattr(update, name)
            if value is not None:
                changes[name] = value or None
        if update.initial_campaign_status and update.campaign_status is None and not current.campaign_status:
            changes["campaign_status"] = update.initial_campaign_status
        contact = replace(current, **changes)  # type: ignore[arg-type]
        self.contacts[update.email] = contact
        return contact

    def all_contacts(self) -> list[Contact]:
        return [self.contacts[email] for email in sorted(self.contacts)]


class InMemoryCampaigns:
    def __init__(self) -> None:
        self.states: dict[str, CampaignState] = {}

    def state(self, campaign: str) -> CampaignState:
        return self.states.get(campaign) or CampaignState(campaign)

    def set_state(self, state: CampaignState) -> CampaignState:
        if state.changed_at is not None:
            require_aware(state.changed_at, "changed_at")
        self.states[state.campaign] = state
        return state


class InMemorySequences:
    """The records, with the contact's status and the campaign's state read as the backends read them with a
    record."""

    def __init__(self, contacts: InMemoryContacts, campaigns: InMemoryCampaigns | None = None) -> None:
        self.contacts = contacts
        self.campaigns = campaigns or InMemoryCampaigns()
        self.records: dict[str, SequenceRecord] = {}
        self._created = 0

    def find_sequence(self, email: str, campaign: str, sequence: str, key: str) -> SequenceRecord | None:
        record = self.records.get(key)
        if record is None or (record.email, record.campaign, record.sequence) != (email, campaign, sequence):
            return None
        contact = self.contacts.get_contact(email)
        status = ContactStatus(contact.email_status, contact.booking_status) if contact is not None else None
        return replace(record, contact=status, campaign_state=self.campaigns.state(campaign))

    def create_sequence(self, record: SequenceRecord, *, absent: bool = False) -> tuple[SequenceRecord, bool]:
        require_aware(record.anchor, "anchor")
        require_aware(record.created_at, "created_at")
        for number, entry in record.emails.items():
            check_ledger_number(number)
            if entry.sent_at is not None:
                require_aware(entry.sent_at, "sent_at")
        existing = self.records.get(record.key)
        if existing is not None:
            if (existing.email, existing.campaign, existing.sequence) != (record.email, record.campaign,
                                                                            record.sequence):
                problem = f"{record.key!r} is already used by another email, campaign or sequence type"
                raise InvalidInput("sequence record", [Problem("key", problem)])
            return existing, False
        self._created += 1
        stored = replace(record, ref=f"memory-{self._created}", emails=dict(sorted(record.emails.items())))
        self.records[record.key] = stored
        return stored, True

    def sequences_for(self, email: str, campaign: str, sequence: str | tuple[str, ...]) -> list[SequenceRecord]:
        types = (sequence,) if isinstance(sequence, str) else tuple(sequence)
        found = [r for r in self.records.values() if r.email == email and r.campaign == campaign
                 and r.sequence in types]
        return sorted(found, key=lambda r: (r.created_at, r.key))

    def _require(self, record: SequenceRecord) -> SequenceRecord:
        stored = self.find_sequence(record.email, record.campaign, record.sequence, record.key)
        if stored is None:
            raise NotFound(f"no sequence record with key {record.key!r}")
        return stored

    def mark_sent(self, record: SequenceRecord, mark: SentMark) -> SequenceRecord:
        check_ledger_number(mark.number)
        require_aware(mark.sent_at, "sent_at")
        stored = self._require(record)
        current = stored.emails.get(mark.number, EmailLedger(mark.number))
        emails = {**stored.emails, mark.number: replace(current, sent_at=mark.sent_at, status=mark.status,
                                                        resend_id=mark.resend_id, sent_by=mark.sent_by)}
        updated = replace(stored, emails=dict(sorted(emails.items())), completed=stored.completed or mark.completes)
        self.records[record.key] = updated
        return updated

    def mark_status(self, record: SequenceRecord, number: int, status: str) -> SequenceRecord:
        check_ledger_number(number)
        stored = self._require(record)
        current = stored.emails.get(number, EmailLedger(number))
        if current.sent_at is None:  # a sent email keeps its status
            emails = {**stored.emails, number: replace(current, status=status)}
            stored = replace(stored, emails=dict(sorted(emails.items())))
            self.records[record.key] = stored
        return stored

    def mark_engagement(self, record: SequenceRecord, mark: EngagementMark) -> SequenceRecord:
        check_ledger_number(mark.number)
        require_aware(mark.at, "at")
        stored = self._require(record)
        current = stored.emails.get(mark.number, EmailLedger(mark.number))
        if current.engaged_at(mark.kind) is not None:  # the first keeps its time (and a click its link)
            return stored
        link = mark.link if mark.kind is Engagement.CLICKED else current.clicked_link
        updated = replace(current, engaged={**current.engaged, mark.kind: mark.at}, clicked_link=link)
        stored = replace(stored, emails=dict(sorted({**stored.emails, mark.number: updated}.items())))
        self.records[record.key] = stored
        return stored

    def stop_sequence(self, record: SequenceRecord, reason: str) -> SequenceRecord:
        stored = self._require(record)
        if stored.stopped_reason is None:  # a sequence already stopped keeps its first reason
            stored = replace(stored, stopped_reason=reason)
            self.records[record.key] = stored
        return stored

    def campaign_sequences(self, campaign: str) -> list[SequenceRecord]:
        found = [r for r in self.records.values() if r.campaign == campaign]
        return sorted(found, key=lambda r: (r.created_at, r.key))


class InMemoryTemplates:
    def __init__(self, templates_dir: Path | None = None) -> None:
        self.templates: dict[str, Template] = dict(load_templates(templates_dir)) if templates_dir else {}

    def get_template(self, name: str) -> Template:
        template = self.templates.get(name)
        if template is None:
            raise TemplateError(f"template {name!r} not found in the in-memory template store")
        if not template.active:
            raise TemplateError(f"template {name!r} is Inactive")
        return template

    def list_templates(self) -> list[Template]:
        return [self.templates[name] for name in sorted(self.templates)]

    def put_template(self, template: Template) -> str:
        current = self.templates.get(template.name)
        self.templates[template.name] = template
        if current is None:
            return "created"
        return "unchanged" if current == template else "updated"


class InMemorySendLog:
    def __init__(self) -> None:
        self.entries: list[AnalyticsEntry] = []

    def log_attempt(self, entry: AnalyticsEntry) -> None:
        require_aware(entry.at, "at")
        self.entries.append(entry)

    def send_attempts(self, campaign: str, since: datetime | None = None) -> list[AnalyticsEntry] | None:
        start = require_aware(since, "since") if since is not None else None
        found = [e for e in self.entries if e.campaign == campaign and (start is None or e.at >= start)]
        return sorted(found, key=lambda e: e.at)  # stable: equal times keep the order they were logged in


class InMemoryPeople:
    """What the other stores hold about one address, its erasure, and the forgotten marks (a dict)."""

    def __init__(self, contacts: InMemoryContacts, sequences: InMemorySequences, sends: InMemorySendLog) -> None:
        self.contacts, self.sequences, self.sends = contacts, sequences, sends
        self.marks: dict[str, datetime] = {}

    def held(self, email: str, mark: str) -> Holdings:
        contact = self.contacts.contacts.get(email)
        records = sorted((r for r in self.sequences.records.values() if r.email == email),
                         key=lambda r: (r.created_at, r.key))
        attempts = [e for e in self.sends.entries if e.email == email]
        stored = [Stored("contacts", email, _plain(contact))] if contact else []
        stored += [Stored("sequences", r.key, _plain(r)) for r in records]
        stored += [Stored("send_log", str(n), _plain(e)) for n, e in enumerate(self.sends.entries) if e.email == email]
        return Holdings(email, (contact,) if contact else (), tuple(records), tuple(attempts), tuple(stored),
                        forgotten=mark in self.marks)

    def erase(self, held: Holdings, mark: str, at: datetime) -> dict[str, int]:
        self.marks.setdefault(mark, require_aware(at, "at"))
        email = held.email
        records = [key for key, r in self.sequences.records.items() if r.email == email]
        removed = {
            "contacts": int(self.contacts.contacts.pop(email, None) is not None),
            "sequences": len(records),
            "ledger_emails": sum(len(self.sequences.records[key].emails) for key in records),
            "send_log": sum(e.email == email for e in self.sends.entries),
        }
        for key in records:
            del self.sequences.records[key]
        self.sends.entries = [e for e in self.sends.entries if e.email != email]
        return removed

    def is_forgotten(self, mark: str) -> bool:
        return mark in self.marks

    def clear_forgotten(self, mark: str) -> bool:
        return self.marks.pop(mark, None) is not None


def _plain(item: Any) -> dict[str, Any]:
    plain: dict[str, Any] = json.loads(json.dumps(asdict(item), default=str))
    return plain


class InMemoryLedger:
    """The stores in memory, and what they hold about one address. With `templates_dir`, that folder seeds the
    template store."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        self.contacts = InMemoryContacts()
        self.campaigns = InMemoryCampaigns()
        self.sequences = InMemorySequences(self.contacts, self.campaigns)
        self.templates = InMemoryTemplates(templates_dir)
        self.sends = InMemorySendLog()
        self.people = InMemoryPeople(self.contacts, self.sequences, self.sends)


def in_testing_mode(ledger: Any, mailer: Any, **env: str) -> Funnel:
    """The funnel on `ledger` and `mailer` as the settings build it, in testing mode, with `env`'s settings more."""
    from christmas_tasks.entrypoints.app import build_funnel
    from christmas_tasks.entrypoints.settings import Settings

    return build_funnel(Settings.from_env({"TESTING_MODE": "true", **env}), ledger=ledger, mailer=mailer)


class InMemoryAlerter:
    """The Alerter port in memory: every text it was given; `works` False, it raises as a Discord outage would."""

    def __init__(self, works: bool = True) -> None:
        self.works = works
        self.texts: list[str] = []

    def alert(self, text: str) -> bool:
        self.texts.append(text)
        if not self.works:
            raise RuntimeError("discord is down")
        return True


class InMemoryMailer:
    """The Mailer port in memory: one message per idempotency key, another payload for a known key refused."""

    def __init__(self) -> None:
        self.sent: dict[str, tuple[OutgoingEmail, str]] = {}  # idempotency key -> (message, id)

    def send(self, message: OutgoingEmail) -> SendResult:
        known = self.sent.get(message.idempotency_key)
        if known is not None:
            if known[0] != message:
                raise ProviderError("memory", 409, "the idempotency key was already used with another payload")
            return SendResult(known[1], duplicate=True)
        message_id = "memory-" + hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:16]
        self.sent[message.idempotency_key] = (message, message_id)
        return SendResult(message_id)

    def messages(self) -> list[OutgoingEmail]:
        return [message for message, _ in self.sent.values()]
