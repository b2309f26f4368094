"""What people did with the campaign's emails, for the report (SPEC §9): pure, no I/O.

- per email: of the emails sent in the period, how many the ledger shows delivered, delayed, opened and clicked
  (usecases/engagement.py records each kind once per email, the first time: so a click count is unique clicks).
  They come with the sequence records the report reads anyway: no extra read. An open is a weak signal: Apple Mail
  Privacy Protection opens every message it receives, so it is shown, never used to credit a booking;
- per segment: the contacts as they are now, assessed (with that segment), booked (attribution.booked) and paid (an
  onboarding record of the campaign: the payment starts it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from christmas_tasks.domain.records import Contact, SequenceRecord
from christmas_tasks.domain.routing import Segment
from christmas_tasks.domain.vocabulary import Engagement
from christmas_tasks.usecases.report.attribution import PAYMENT_SEQUENCE, booked
from christmas_tasks.usecases.report.model import ENGAGEMENT, NONE, Conversion

COLUMNS = {column: Engagement(column) for column in ENGAGEMENT}  # each EmailCounts column is its kind's name


def count_engagement(records: Iterable[SequenceRecord], start: datetime | None) -> dict[str, Counter[tuple[str, int]]]:
    """Per engagement column, how many emails of each (sequence, number) sent in the period show it."""
    counts: dict[str, Counter[tuple[str, int]]] = {column: Counter() for column in COLUMNS}
    for record in records:
        for number, entry in record.emails.items():
            if entry.sent_at is None or (start is not None and entry.sent_at < start):
                continue
            for column, kind in COLUMNS.items():
                if entry.engaged_at(kind) is not None:
                    counts[column][(record.sequence, number)] += 1
    return counts


def conversion(contacts: Iterable[Contact], records: Iterable[SequenceRecord]) -> tuple[Conversion, ...]:
    """A row per segment: the known ones in their order (zeros included), then any other by name, then NONE (the
    contacts never assessed) when there are any."""
    paid = {r.email for r in records if r.sequence == PAYMENT_SEQUENCE}
    assessed: Counter[str] = Counter()
    booked_calls: Counter[str] = Counter()
    paying: Counter[str] = Counter()
    for contact in contacts:
        segment = contact.segment or NONE
        assessed[segment] += 1
        booked_calls[segment] += booked(contact)
        paying[segment] += contact.email in paid
    known = [str(s) for s in Segment]
    names = known + sorted(s for s in assessed if s not in known and s != NONE) + ([NONE] if assessed[NONE] else [])
    return tuple(Conversion(name, assessed[name], booked_calls[name], paying[name]) for name in names)
