"""Which email brought a booking or a payment (SPEC §9): pure, no I/O, the clock passed in.

The rule: of the emails of the campaign sent to the contact at or before the booking (or payment), the one whose
click came last in the WINDOW (7 days) before it; else, with no click in that window, the one sent last in it; else
none ("no email before it"). An open counts for nothing here: Apple Mail Privacy Protection opens every message it
receives, so an open says little about a person.

- a booking is the contact's `booked_at`: when its last booked call was booked (the booking handler's clock). A
  contact marked booked by hand in Notion, or booked before the time was recorded, has none, and is counted apart
  (`undated_bookings`): it cannot be placed against the emails;
- a payment is an `onboarding` sequence record (the onboarding event starts it, one per payment): its `created_at`
  is when the payment arrived;
- the ledger keeps each email's first click only, so a second click of an older email does not make it the last.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from christmas_tasks.domain.events import OnboardingEvent
from christmas_tasks.domain.records import Contact, SequenceRecord
from christmas_tasks.domain.vocabulary import BookingStatus, Engagement
from christmas_tasks.usecases.report.model import WINDOW_DAYS, BestEmail, EmailCounts, Outcomes

WINDOW = timedelta(days=WINDOW_DAYS)  # a booking within 7 days of an email counts for it
DAY = timedelta(hours=24)  # "of the day": the report's best email, among the bookings of the 24 hours before now
PAYMENT_SEQUENCE = OnboardingEvent.starts  # a payment starts the onboarding sequence
BOOKING, PAYMENT = "booking", "payment"
# A booking status that says a call was booked (one a person set by hand in Notion included); not booked and
# cancelled say none is
BOOKED = frozenset({BookingStatus.BOOKED, BookingStatus.NO_SHOW, BookingStatus.CALL_HELD, BookingStatus.CLIENT})


@dataclass(frozen=True)
class Touch:
    """One email of the campaign sent to a contact, as the ledger keeps it."""

    sequence: str
    number: int
    sent_at: datetime
    clicked_at: datetime | None = None


@dataclass(frozen=True)
class Credit:
    """A booking or a payment, and the email it is credited to (None: no email in the window before it)."""

    contact: str
    outcome: str  # BOOKING or PAYMENT
    at: datetime
    email: tuple[str, int] | None  # (sequence, email number)
    by: str | None = None  # "click" or "send": what earned the credit


def touches(records: Iterable[SequenceRecord]) -> dict[str, list[Touch]]:
    """Every sent email of `records`, by the contact's address."""
    found: dict[str, list[Touch]] = defaultdict(list)
    for record in records:
        for number, entry in record.emails.items():
            if entry.sent_at is not None:
                clicked = entry.engaged_at(Engagement.CLICKED)
                found[record.email].append(Touch(record.sequence, number, entry.sent_at, clicked))
    return found


def credited(at: datetime, sent: Iterable[Touch], window: timedelta = WINDOW) -> tuple[tuple[str, int], str] | None:
    """The email an outcome at `at` is credited to, and why ("click" or "send"); None when no email of `sent` was
    clicked or sent in the `window` before it. Ties (one instant) go to the later sequence name and number, so the
    answer never depends on the order the ledger returned its records in."""
    start = at - window
    before = [t for t in sent if t.sent_at <= at]
    clicks = [(t.clicked_at, t.sequence, t.number) for t in before if t.clicked_at and start <= t.clicked_at <= at]
    if clicks:
        _, sequence, number = max(clicks)
        return (sequence, number), "click"
    sends = [(t.sent_at, t.sequence, t.number) for t in before if start <= t.sent_at]
    if sends:
        _, sequence, number = max(sends)
        return (sequence, number), "send"
    return None


def attribute(contacts: Iterable[Contact], records: Iterable[SequenceRecord], now: datetime) -> tuple[Credit, ...]:
    """Every dated booking and every payment up to `now`, oldest first, each with the email it is credited to.
    `records`: the campaign's sequence records (its emails and its payments)."""
    records = list(records)
    sent = touches(records)
    outcomes = [(c.booked_at, c.email, BOOKING) for c in contacts if c.booked_at is not None]
    outcomes += [(r.created_at, r.email, PAYMENT) for r in records if r.sequence == PAYMENT_SEQUENCE]
    credits = []
    for at, contact, outcome in sorted(outcomes):
        if at > now:
            continue  # a clock ahead of the report's: not yet
        found = credited(at, sent.get(contact, ()))
        email, by = found if found else (None, None)
        credits.append(Credit(contact, outcome, at, email, by))
    return tuple(credits)


def booked(contact: Contact) -> bool:
    """Whether the contact booked a call: a booking time recorded, or a booking status that says so."""
    return contact.booked_at is not None or contact.booking_status in BOOKED


def undated_bookings(contacts: Iterable[Contact]) -> int:
    """Contacts booked by their status alone (set by hand, or before booking times were recorded): not attributed."""
    return sum(1 for c in contacts if c.booked_at is None and c.booking_status in BOOKED)


def tally(credits: Iterable[Credit], outcome: str) -> Counter[tuple[str, int]]:
    """How many outcomes of one kind each email is credited with."""
    return Counter(c.email for c in credits if c.outcome == outcome and c.email is not None)


def summarise(
    credits: Sequence[Credit], start: datetime | None, now: datetime, rows: Sequence[EmailCounts], undated: int
) -> Outcomes:
    """The period's bookings and payments (from `start`), how many were credited to an email, and the best email of
    the 24 hours before `now`. `rows`: the report's emails, for the best one's template and click rate."""
    period = [c for c in credits if start is None or c.at >= start]
    bookings = [c for c in period if c.outcome == BOOKING]
    payments = [c for c in period if c.outcome == PAYMENT]
    day = [c for c in credits if c.outcome == BOOKING and now - DAY < c.at <= now]
    return Outcomes(
        bookings=len(bookings),
        bookings_attributed=sum(1 for c in bookings if c.email is not None),
        payments=len(payments),
        payments_attributed=sum(1 for c in payments if c.email is not None),
        undated_bookings=undated,
        bookings_last_24_hours=len(day),
        best_email=best_email(day, rows),
    )


def best_email(bookings: Iterable[Credit], rows: Sequence[EmailCounts]) -> BestEmail | None:
    """Of `bookings`, the email credited with the most; a tie goes to the higher click rate, then to the earlier
    email (the report's order: the catalogue's sequences, then the email number). None: none was credited."""
    counts = tally(bookings, BOOKING)
    if not counts:
        return None
    position = {(row.sequence, row.number): n for n, row in enumerate(rows)}
    found = {(row.sequence, row.number): row for row in rows}

    def rank(key: tuple[str, int]) -> tuple[int, float, int, tuple[str, int]]:
        row = found.get(key)
        clicks = row.click_rate if row is not None and row.click_rate is not None else -1.0
        return (-counts[key], -clicks, position.get(key, len(position)), key)

    sequence, number = min(counts, key=rank)
    row = found.get((sequence, number))
    return BestEmail(
        sequence, number, row.template if row else "?", counts[(sequence, number)], row.click_rate if row else None
    )
