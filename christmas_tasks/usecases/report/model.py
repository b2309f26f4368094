"""The campaign report's shape (SPEC §9): what `counts` counts and `text`, `html` and the JSON show, the JSON's
stable keys included (`CampaignReport.as_json`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from christmas_tasks.domain.deliverability import Mark
from christmas_tasks.domain.planning import iso_utc


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


@dataclass(frozen=True)
class EmailCounts:
    """One email of a sequence: how many were sent, skipped and failed, and how many people answered it (None: not
    recorded)."""

    sequence: str
    number: int
    template: str
    sent: int
    skipped: int | None
    failed: int | None
    replied: int | None = None
    held: int | None = None  # held while the campaign is paused, not sent or skipped since


@dataclass(frozen=True)
class Share:
    count: int
    rate: float | None  # of the addresses emailed; None when none were
    mark: Mark | None = None  # against the deliverability guard's thresholds
    why: str | None = None  # the mark in words: "critical: at or over 0.3%"

    @property
    def percent(self) -> str:
        """The rate as people read it ("12.5%"), or "-" when no address was emailed."""
        return "-" if self.rate is None else f"{self.rate:.1%}"


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

    @property
    def sent(self) -> int:
        return sum(row.sent for row in self.emails)

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
            rate = None if value.rate is None else round(value.rate, 4)
            return {"count": value.count, "rate": rate, "mark": str(value.mark) if value.mark else None}

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
                    }
                    for row in self.emails
                ],
                "sends_per_day": [{"date": day.isoformat(), "sent": count} for day, count in self.sends_per_day],
            },
            "deliverability": {
                "emailed": self.emailed,
                "bounced": share(self.bounced),
                "complained": share(self.complained),
                "unsubscribed": share(self.unsubscribed),
            },
            "notes": list(self.notes),
        }
