"""A contact's story (SPEC §11): the contact, each of its sequences (state, stop reason) and each email of them (sent,
skipped, held, failed or scheduled; when; template; why), told from what the ledger holds (`Holdings`). Pure: the
clock and the settings are arguments.

Where each email's status comes from, in order (`source` says which):
- the ledger: an email marked sent (`Email n Sent`), or held;
- the send log: the last attempt logged for it (skipped, failed, held; sent where the ledger's mark is missing);
- the planner: an email of a running sequence with neither is `scheduled`, at the time the planner gives the record
  as it planned it when its event was handled (its anchor, the catalogue's delays, the catch-up rule, the send window
  and blackout days as configured now). Kestra holds the real schedule: a `send-email` execution per email, labelled;
- the record: an email of a stopped or completed sequence with neither is `skipped` (its run skips it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from christmas_tasks.domain.catalogue import Catalogue
from christmas_tasks.domain.holdings import Holdings
from christmas_tasks.domain.planning import SendWindow, iso_utc
from christmas_tasks.domain.reconciling import as_planned
from christmas_tasks.domain.records import AnalyticsEntry, Contact, SequenceRecord
from christmas_tasks.domain.vocabulary import ReplyStatus

REPLIES = frozenset(str(status) for status in ReplyStatus)
BY_WEBSITE = "(sent by the website)"


@dataclass(frozen=True)
class EmailLine:
    number: int
    template: str
    status: str  # sent, skipped, held, failed, scheduled
    at: datetime | None
    why: str
    source: str  # ledger, send log, planner, record
    resend_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number, "template": self.template, "status": self.status,
            "at": iso_utc(self.at) if self.at else None, "why": self.why, "source": self.source,
            "resend_id": self.resend_id,
        }


@dataclass(frozen=True)
class SequenceLine:
    record: SequenceRecord
    emails: tuple[EmailLine, ...]

    @property
    def state(self) -> str:
        return "stopped" if self.record.stopped_reason else "completed" if self.record.completed else "running"

    def as_json(self) -> dict[str, Any]:
        r = self.record
        return {
            "sequence": r.sequence, "campaign": r.campaign, "key": r.key, "event": r.event_id,
            "started_at": iso_utc(r.created_at), "anchor": iso_utc(r.anchor), "state": self.state,
            "stop_reason": r.stopped_reason, "emails": [email.as_json() for email in self.emails],
        }


@dataclass(frozen=True)
class ContactStory:
    email: str
    read_at: datetime
    source: str
    contact: Contact | None
    duplicates: int  # contact pages beyond the first (Notion cannot refuse a second page; the next event merges them)
    forgotten: bool
    sequences: tuple[SequenceLine, ...]
    replies: tuple[AnalyticsEntry, ...]
    send_log_kept: bool
    notes: tuple[str, ...] = ()
    requests: int | None = None  # Notion requests the read cost

    def as_json(self) -> dict[str, Any]:
        c = self.contact
        contact = None if c is None else {
            "first_name": c.first_name or None, "business_name": c.business_name, "campaign_status": c.campaign_status,
            "booking_status": c.booking_status, "email_status": c.email_status, "segment": c.segment,
            "timezone": c.timezone, "assessment_score": c.assessment_score,
        }
        return {
            "email": self.email, "read_at": iso_utc(self.read_at), "source": self.source, "requests": self.requests,
            "forgotten": self.forgotten, "contact": contact, "duplicate_contact_pages": self.duplicates,
            "sequences": [line.as_json() for line in self.sequences],
            "replies": [{"at": iso_utc(r.at), "status": r.status, "resend_id": r.resend_id} for r in self.replies],
            "send_log_kept": self.send_log_kept, "notes": list(self.notes),
        }


def tell(
    held: Holdings,
    catalogue: Catalogue,
    now: datetime,
    *,
    source: str,
    testing: bool = False,
    window: SendWindow | None = None,
    requests: int | None = None,
) -> ContactStory:
    """The story of `held.email` as of `now`."""
    contact = held.contacts[0] if held.contacts else None
    attempts = [a for a in held.attempts or () if a.status not in REPLIES]
    notes: list[str] = []
    if held.attempts is None:
        notes.append("no send log is kept (no analytics database): skips and failures are not known, so an email "
                     "not sent shows as scheduled")
    templates = {e.template: (s.name, e.number) for s in catalogue.sequences.values() for e in s.emails}
    by_email = _attempts_by_email(held.sequences, attempts, templates, notes)
    zone = contact.timezone if contact else None
    lines = tuple(
        SequenceLine(r, _emails(r, catalogue, by_email, now, testing=testing, window=window, zone=zone))
        for r in held.sequences
    )
    if not held.contacts and not held.sequences and not held.forgotten:
        notes.append("the ledger holds nothing about this address")
    replies = tuple(a for a in held.attempts or () if a.status in REPLIES)
    return ContactStory(held.email, now, source, contact, max(len(held.contacts) - 1, 0), held.forgotten, lines,
                        replies, held.attempts is not None, tuple(notes), requests)


def _attempts_by_email(
    records: Iterable[SequenceRecord],
    attempts: list[AnalyticsEntry],
    templates: dict[str, tuple[str, int]],
    notes: list[str],
) -> dict[tuple[str, int], AnalyticsEntry]:
    """The last attempt of each (record key, email number). The send log names a template, not a record: an attempt
    belongs to the newest record of its sequence and campaign started at or before it (else the oldest)."""
    last: dict[tuple[str, int], AnalyticsEntry] = {}
    unknown: set[str] = set()
    records = list(records)
    for attempt in sorted(attempts, key=lambda a: a.at):
        if attempt.template not in templates:
            unknown.add(attempt.template or "(none)")
            continue
        sequence, number = templates[attempt.template]
        mine = [r for r in records if r.sequence == sequence and r.campaign == attempt.campaign]
        if not mine:
            continue
        before = [r for r in mine if r.created_at <= attempt.at]
        record = before[-1] if before else mine[0]
        last[(record.key, number)] = attempt
    if unknown:
        notes.append(f"send attempts of templates the catalogue does not name: {', '.join(sorted(unknown))}")
    return last


def _emails(
    record: SequenceRecord,
    catalogue: Catalogue,
    attempts: dict[tuple[str, int], AnalyticsEntry],
    now: datetime,
    *,
    testing: bool,
    window: SendWindow | None,
    zone: str | None,
) -> tuple[EmailLine, ...]:
    definition = catalogue.sequences.get(record.sequence)
    templates = {e.number: e.template for e in definition.emails} if definition else {}
    planned = as_planned(record, definition, testing=testing, window=window, zone=zone) if definition else {}
    lines = []
    for number in sorted({*templates, *record.emails}):
        entry = record.emails.get(number)
        template = templates.get(number) or (BY_WEBSITE if entry and entry.sent_by == "website" else "-")
        attempt = attempts.get((record.key, number))
        if entry is not None and entry.sent_at is not None:
            by = "the website" if entry.sent_by == "website" else entry.sent_by or "kestra"
            line = EmailLine(number, template, "sent", entry.sent_at, f"sent by {by}", "ledger", entry.resend_id)
        elif entry is not None and entry.status == "held":
            line = EmailLine(number, template, "held", None, "held while the campaign is paused", "ledger")
        elif attempt is not None:
            line = _from_attempt(number, template, attempt)
        elif number in planned:
            at = planned[number]
            why = "planned" if at > now else "was due; no attempt is recorded yet (queued, running, or not logged)"
            line = EmailLine(number, template, "scheduled", at, why, "planner")
        else:
            why = f"sequence stopped: {record.stopped_reason}" if record.stopped_reason else "sequence completed"
            line = EmailLine(number, template, "skipped", None, why, "record")
        lines.append(line)
    return tuple(lines)


def _from_attempt(number: int, template: str, attempt: AnalyticsEntry) -> EmailLine:
    words = {
        "sent": "the send log says sent; the ledger has no mark (its write failed)",
        "held": "held while the campaign is paused",
        "failed": "failed",
        "skipped": "skipped",
    }
    why = attempt.error or words.get(attempt.status, attempt.status)
    return EmailLine(number, template, attempt.status, attempt.at, why, "send log", attempt.resend_id)


def render_text(story: ContactStory) -> str:
    """The story for a person: the contact, then each sequence with its emails, one line each."""
    out = [f"Contact: {story.email}"]
    c = story.contact
    if story.forgotten and c is None:
        out.append("  forgotten: only a salted hash of the address is kept")
    elif c is None:
        out.append("  no contact record")
    else:
        name = " ".join(x for x in (c.first_name, f"({c.business_name})" if c.business_name else "") if x) or "-"
        out.append(f"  {name}")
        out.append(f"  campaign status {c.campaign_status or '-'} · booking {c.booking_status or '-'} · email status "
                   f"{c.email_status} · segment {c.segment or '-'} · time zone {c.timezone or '-'}")
        if story.duplicates:
            out.append(f"  {story.duplicates} more contact page(s) for this address (merged at its next event)")
    cost = f"; {story.requests} Notion requests" if story.requests is not None else ""
    out.append(f"Read from {story.source}, {_when(story.read_at)}{cost}.")
    for line in story.sequences:
        r = line.record
        state = f"stopped ({r.stopped_reason})" if r.stopped_reason else line.state
        out.append("")
        out.append(f"{r.sequence} ({r.campaign}, {r.event_id}), started {_when(r.created_at)}: {state}")
        for e in line.emails:
            at = _when(e.at) if e.at else "-"
            out.append(f"  #{e.number}  {e.template:<27}  {e.status:<9}  {at:<20}  {e.why}")
    if story.replies:
        out.append("")
        out.append("Replies: " + ", ".join(f"{_when(r.at)} ({r.status})" for r in story.replies))
    for note in story.notes:
        out.append(f"Note: {note}")
    return "\n".join(out) + "\n"


def _when(moment: datetime) -> str:
    return iso_utc(moment).replace("T", " ").removesuffix("Z")[:16] + " UTC"
