"""The campaign report's shape (SPEC §9): what `counts` counts and `text`, `html` and the JSON show, the JSON's
stable keys included (`CampaignReport.as_json`, listed in docs/operating.md, "The campaign report").

The JSON's sections, always present: campaign, generated_at, since, source, requests; contacts; sequences; emails
(each email's row in `by_email`: sequence, email_number, template, sent, skipped, held, failed, replied,
delivered, delivery_delayed, opened, clicked, click_rate, bookings_attributed, payments_attributed); engagement
(the emails' totals); attribution (the bookings and payments of the period, and the best email of the last 24 hours);
conversion (per segment: assessed, booked, booked_rate, paid, paid_rate); deliverability; notes. Counts are
integers, rates fractions of 1 rounded to 4 places (None when there is nothing to divide by), times ISO 8601 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from christmas_tasks.domain.deliverability import Mark
from christmas_tasks.domain.planning import iso_utc

NONE = "(none)"  # a contact with no campaign status or segment
WINDOW_DAYS = 7  # the attribution window (attribution.py)
ENGAGEMENT = ("delivered", "delivery_delayed", "opened", "clicked")  # EmailCounts' engagement columns, in order


@dataclass(frozen=True)
class SequenceCounts:
    """One sequence type's records started in the period, by state."""

    sequence: str
    running: int
    completed: int
    stopped: dict[str, int]  # by stop reason

    @property
    def started(self) -> int:
        return self.running + self.completed + sum(self.stopped.values())


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def percent(value: float | None) -> str:
    """A rate as people read it ("12.5%"), or "-" when there was nothing to divide by."""
    return "-" if value is None else f"{value:.1%}"


def fraction(value: float | None) -> float | None:
    """A rate as the JSON gives it: a fraction of 1, to 4 places."""
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class EmailCounts:
    """One email of a sequence: how many were sent, skipped and failed, and how many people answered it (None: not
    recorded); what happened to those sent in the period (each kind counted once per email); and the bookings and
    payments of the period credited to it (attribution.py)."""

    sequence: str
    number: int
    template: str
    sent: int
    skipped: int | None
    failed: int | None
    replied: int | None = None
    held: int | None = None  # held while the campaign is paused, not sent or skipped since
    delivered: int = 0
    delivery_delayed: int = 0
    opened: int = 0  # a weak signal: Apple Mail Privacy Protection opens every message it receives
    clicked: int = 0  # unique: emails with a click
    bookings: int = 0  # bookings attributed to it
    payments: int = 0  # payments attributed to it

    @property
    def click_rate(self) -> float | None:
        """Of the emails sent, the share clicked; None when none was sent."""
        return rate(self.clicked, self.sent)


@dataclass(frozen=True)
class BestEmail:
    """The email with the most bookings attributed among the bookings of the 24 hours before the report."""

    sequence: str
    number: int
    template: str
    bookings: int
    click_rate: float | None


@dataclass(frozen=True)
class Outcomes:
    """The bookings and payments of the period (those the ledger has a time for), and how many were credited to an
    email (attribution.py); the bookings of the 24 hours before the report and their best email."""

    bookings: int = 0
    bookings_attributed: int = 0
    payments: int = 0
    payments_attributed: int = 0
    undated_bookings: int = 0  # contacts booked by status alone (by hand, or before times were kept): no time
    bookings_last_24_hours: int = 0
    best_email: BestEmail | None = None

    @property
    def bookings_to_no_email(self) -> int:
        return self.bookings - self.bookings_attributed

    @property
    def payments_to_no_email(self) -> int:
        return self.payments - self.payments_attributed


@dataclass(frozen=True)
class Conversion:
    """One segment's contacts (as they are now): assessed (in the segment; for NONE, never assessed), those who
    booked a call, those who paid."""

    segment: str
    assessed: int
    booked: int
    paid: int

    @property
    def booked_rate(self) -> float | None:
        return rate(self.booked, self.assessed)

    @property
    def paid_rate(self) -> float | None:
        return rate(self.paid, self.assessed)


@dataclass(frozen=True)
class Share:
    count: int
    rate: float | None  # of the addresses emailed; None when none were
    mark: Mark | None = None  # against the deliverability guard's thresholds
    why: str | None = None  # the mark in words: "critical: at or over 0.3%"

    @property
    def percent(self) -> str:
        """The rate as people read it ("12.5%"), or "-" when no address was emailed."""
        return percent(self.rate)


def shown(count: int | None) -> str:
    """A count as people read it: "-" when it is not recorded."""
    return "-" if count is None else str(count)


def start_of(since: date | None) -> datetime | None:
    """The first moment of the `since` UTC day."""
    return datetime.combine(since, time(0), UTC) if since else None


@dataclass(frozen=True)
class CampaignReport:
    campaign: str
    generated_at: datetime
    since: date | None
    source: str  # where the ledger was read ("Notion", "the local SQLite ledger")
    requests: int | None  # the provider requests reading it took (None: a local file)
    contacts: int
    by_campaign_status: dict[str, int]  # the funnel's order, then any other value, then NONE
    by_segment: dict[str, int]
    by_email_status: dict[str, int]
    sequences: tuple[SequenceCounts, ...]
    emails: tuple[EmailCounts, ...]
    attempts_recorded: bool  # False: no analytics store, so skipped and failed are unknown
    skip_reasons: dict[str, int]
    duplicates_stopped: int  # sends the ledger refused because the email had gone out already
    emailed: int  # addresses sent at least one email in the period
    bounced: Share
    complained: Share
    unsubscribed: Share
    sends_per_day: tuple[tuple[date, int], ...]  # every UTC day from the first send in the period to today
    notes: tuple[str, ...]
    replies: int | None = None  # people's replies in the period (None: not recorded)
    auto_replies: int | None = None  # out-of-office and other automatic replies, apart
    replies_to_no_email: int | None = None  # of `replies`, from an address the ledger shows sent no email before
    outcomes: Outcomes = Outcomes()
    conversion: tuple[Conversion, ...] = ()  # per segment: the known ones in order (zeros included), others, NONE

    @property
    def sent(self) -> int:
        return sum(row.sent for row in self.emails)

    def total(self, column: str) -> int:
        """An engagement column's total over the emails: delivered, delivery_delayed, opened, clicked."""
        return sum(getattr(row, column) for row in self.emails)

    @property
    def click_rate(self) -> float | None:
        return rate(self.total("clicked"), self.sent)

    @property
    def deliverability(self) -> tuple[tuple[str, Share], ...]:
        return (("bounced", self.bounced), ("complained", self.complained), ("unsubscribed", self.unsubscribed))

    @property
    def skipped(self) -> int | None:
        return sum(row.skipped or 0 for row in self.emails) if self.attempts_recorded else None

    @property
    def held(self) -> int | None:
        return sum(row.held or 0 for row in self.emails) if self.attempts_recorded else None

    @property
    def failed(self) -> int | None:
        return sum(row.failed or 0 for row in self.emails) if self.attempts_recorded else None

    @property
    def replied_emails(self) -> int | None:
        """People's replies counted against an email (the email table's column; `replies` has those to none too)."""
        return sum(row.replied or 0 for row in self.emails) if self.attempts_recorded else None

    def as_json(self) -> dict[str, Any]:
        """Stable keys for machines: every section always present, counts as integers, rates as fractions."""

        def share(value: Share) -> dict[str, Any]:
            return {"count": value.count, "rate": fraction(value.rate), "mark": str(value.mark) if value.mark else None}

        outcomes, best = self.outcomes, self.outcomes.best_email

        return {
            "campaign": self.campaign,
            "generated_at": iso_utc(self.generated_at),
            "since": self.since.isoformat() if self.since else None,
            "source": self.source,
            "requests": self.requests,
            "contacts": {
                "total": self.contacts,
                "by_campaign_status": self.by_campaign_status,
                "by_segment": self.by_segment,
                "by_email_status": self.by_email_status,
            },
            "sequences": [
                {
                    "sequence": row.sequence,
                    "started": row.started,
                    "running": row.running,
                    "completed": row.completed,
                    "stopped": row.stopped,
                }
                for row in self.sequences
            ],
            "emails": {
                "attempts_recorded": self.attempts_recorded,
                "sent": self.sent,
                "skipped": self.skipped,
                "held": self.held,
                "failed": self.failed,
                "replied": self.replies,
                "auto_replied": self.auto_replies,
                "replies_to_no_email": self.replies_to_no_email,
                "skip_reasons": self.skip_reasons,
                "duplicates_stopped": self.duplicates_stopped,
                "by_email": [
                    {
                        "sequence": row.sequence,
                        "email_number": row.number,
                        "template": row.template,
                        "sent": row.sent,
                        "skipped": row.skipped,
                        "held": row.held,
                        "failed": row.failed,
                        "replied": row.replied,
                        **{column: getattr(row, column) for column in ENGAGEMENT},
                        "click_rate": fraction(row.click_rate),
                        "bookings_attributed": row.bookings,
                        "payments_attributed": row.payments,
                    }
                    for row in self.emails
                ],
                "sends_per_day": [{"date": day.isoformat(), "sent": count} for day, count in self.sends_per_day],
            },
            "engagement": {
                **{column: self.total(column) for column in ENGAGEMENT},
                "click_rate": fraction(self.click_rate),
            },
            "attribution": {
                "window_days": WINDOW_DAYS,
                "bookings": outcomes.bookings,
                "bookings_attributed": outcomes.bookings_attributed,
                "bookings_to_no_email": outcomes.bookings_to_no_email,
                "undated_bookings": outcomes.undated_bookings,
                "payments": outcomes.payments,
                "payments_attributed": outcomes.payments_attributed,
                "payments_to_no_email": outcomes.payments_to_no_email,
                "last_24_hours": {
                    "bookings": outcomes.bookings_last_24_hours,
                    "best_email": None if best is None else {
                        "sequence": best.sequence,
                        "email_number": best.number,
                        "template": best.template,
                        "bookings_attributed": best.bookings,
                        "click_rate": fraction(best.click_rate),
                    },
                },
            },
            "conversion": [
                {
                    "segment": row.segment,
                    "assessed": row.assessed,
                    "booked": row.booked,
                    "booked_rate": fraction(row.booked_rate),
                    "paid": row.paid,
                    "paid_rate": fraction(row.paid_rate),
                }
                for row in self.conversion
            ],
            "deliverability": {
                "emailed": self.emailed,
                "bounced": share(self.bounced),
                "complained": share(self.complained),
                "unsubscribed": share(self.unsubscribed),
            },
            "notes": list(self.notes),
        }
