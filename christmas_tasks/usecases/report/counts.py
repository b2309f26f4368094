"""The campaign report's numbers (SPEC §9), counted from the ledger: pure, no I/O, the clock passed in.

Where each number comes from:
- contacts (by campaign status, segment, email status): the contacts as they are now;
- sequences (running, completed, stopped by reason): the campaign's sequence records, started since `since`;
- sent: the ledger (`Email {n} Sent`), the record of truth; skipped, held and failed: the send log of attempts,
  which the Notion backend keeps only when an analytics database is configured (else they are "not recorded");
- bounce, complaint and unsubscribe rates: of the addresses emailed (sent at least one email) since `since`, the
  share whose email status is now that, marked against the deliverability guard's thresholds (a warning, critical);
- replies: the send log's replies (status replied, or auto-replied for an out-of-office), each counted once (by its
  sender and reference: a redelivered or retried reply is recorded again). A person's reply counts for the last
  email the ledger shows sent to its sender before it; one from an address sent none is counted apart;
- delivered, delayed, opened, clicked: of the emails sent in the period, those whose sequence record shows that
  engagement (engagement.py; read with the records, no other read);
- bookings and payments: those made in the period, each credited to the email that brought it (attribution.py);
  conversion per segment: the contacts as they are now (engagement.py).

One email (an address, a sequence, an email number) counts once: sent when the ledger says so (then its failed
attempts were retried, and its "already sent" skips are duplicates the ledger stopped), else skipped or held as its
last attempt was (held while paused, then skipped when planned again: skipped), else failed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from christmas_tasks.domain.catalogue import Catalogue
from christmas_tasks.domain.deliverability import Thresholds
from christmas_tasks.domain.planning import require_aware
from christmas_tasks.domain.records import AnalyticsEntry, Contact, SequenceRecord
from christmas_tasks.domain.vocabulary import CampaignStatus, EmailStatus
from christmas_tasks.usecases.report.attribution import (
    BOOKING,
    DAY,
    PAYMENT,
    attribute,
    summarise,
    tally,
    undated_bookings,
)
from christmas_tasks.usecases.report.engagement import conversion, count_engagement
from christmas_tasks.usecases.report.model import NONE, CampaignReport, EmailCounts, SequenceCounts, Share, start_of
from christmas_tasks.usecases.report.sendlog import Replies, attempt_outcomes, count_replies

WEBSITE = "(sent by the website)"  # a ledger email the catalogue does not schedule (the nurture's first)
ALREADY_SENT = "already sent"  # the skip the ledger records for a duplicate send (EmailOutcome.reason)


def build_report(
    *,
    campaign: str,
    catalogue: Catalogue,
    contacts: Iterable[Contact],
    sequences: Iterable[SequenceRecord],
    attempts: Iterable[AnalyticsEntry] | None,
    now: datetime,
    since: date | None = None,
    source: str = "the ledger",
    requests: int | None = None,
    thresholds: Thresholds | None = None,
) -> CampaignReport:
    """The report of one campaign's ledger. `since`: sequences started and emails attempted on or after that UTC
    day (the contacts are always as they are now). `thresholds`: the deliverability marks (default: the guard's)."""
    now = require_aware(now, "now")
    start = start_of(since)
    notes: list[str] = []

    people = _unique_contacts(contacts, notes)
    records = [r for r in sequences if r.campaign == campaign]
    started = [r for r in records if start is None or r.created_at >= start]

    # the ledger's sends: every one (to tell a retried failure from a real one), and those in the period
    ever_sent: set[tuple[str, str, int]] = set()
    sent: Counter[tuple[str, int]] = Counter()
    per_day: Counter[date] = Counter()
    emailed: set[str] = set()
    for record in records:
        for number, entry in record.emails.items():
            if entry.sent_at is None:
                continue
            ever_sent.add((record.email, record.sequence, number))
            if start is None or entry.sent_at >= start:
                sent[(record.sequence, number)] += 1
                per_day[entry.sent_at.astimezone(UTC).date()] += 1
                emailed.add(record.email)

    templates = {e.template: (str(s.name), e.number) for s in catalogue.sequences.values() for e in s.emails}
    skipped: Counter[tuple[str, int]] = Counter()
    held: Counter[tuple[str, int]] = Counter()
    failed: Counter[tuple[str, int]] = Counter()
    reasons: Counter[str] = Counter()
    duplicates = 0
    if attempts is not None:
        outcome, duplicates = attempt_outcomes(attempts, campaign, start, templates, ever_sent, notes)
        for (_, sequence, number), (status, reason) in outcome.items():
            if status == "skipped":
                skipped[(sequence, number)] += 1
                reasons[reason] += 1
            elif status == "held":
                held[(sequence, number)] += 1
            else:
                failed[(sequence, number)] += 1
    else:
        notes.append(
            "skipped and failed emails are not recorded: no analytics database is configured "
            "(NOTION_EMAIL_ANALYTICS_DB_ID)"
        )

    replies = count_replies(attempts, campaign, start, records) if attempts is not None else None
    # what people did: engagement of the emails sent in the period, and the bookings and payments credited to them
    credits = attribute(people, records, now)
    in_period = [c for c in credits if start is None or c.at >= start]
    more = {**count_engagement(records, start), "bookings": tally(in_period, BOOKING),
            "payments": tally(in_period, PAYMENT)}
    # a row for each email credited in the period or the last 24 hours (the best email of the day's)
    shown = [c for c in credits if start is None or c.at >= start or c.at > now - DAY]
    credited = {c.email for c in shown if c.email is not None}
    rows = _email_rows(catalogue, templates, sent, skipped, failed, attempts is not None, replies, held, more, credited)
    status_of = {c.email: c.email_status for c in people}

    marks = thresholds or Thresholds()

    def share(status: EmailStatus) -> Share:
        count = sum(1 for address in emailed if status_of.get(address) == status)
        rate = count / len(emailed) if emailed else None
        mark = marks.mark(status, rate)
        return Share(count, rate, mark, marks.why(status, mark) if mark else None)

    if not people and not records:
        notes.append("the ledger is empty: no contact and no sequence yet")
    return CampaignReport(
        campaign=campaign,
        generated_at=now,
        since=since,
        source=source,
        requests=requests,
        contacts=len(people),
        by_campaign_status=_ordered(
            Counter(c.campaign_status or NONE for c in people), [str(s) for s in CampaignStatus]
        ),
        by_segment=_ordered(Counter(c.segment or NONE for c in people), []),
        by_email_status=_ordered(Counter(c.email_status for c in people), [str(s) for s in EmailStatus]),
        sequences=_sequence_rows(catalogue, started),
        emails=rows,
        attempts_recorded=attempts is not None,
        skip_reasons=dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))),
        duplicates_stopped=duplicates,
        emailed=len(emailed),
        bounced=share(EmailStatus.BOUNCED),
        complained=share(EmailStatus.COMPLAINED),
        unsubscribed=share(EmailStatus.UNSUBSCRIBED),
        sends_per_day=_days(per_day, since, now.date()),
        notes=tuple(notes),
        replies=replies.people if replies is not None else None,
        auto_replies=replies.automatic if replies is not None else None,
        replies_to_no_email=replies.to_no_email if replies is not None else None,
        outcomes=summarise(credits, start, now, rows, undated_bookings(people)),
        conversion=conversion(people, records),
    )


def _unique_contacts(contacts: Iterable[Contact], notes: list[str]) -> list[Contact]:
    """One contact per address: Notion may hold two pages for one address until its next event merges them."""
    seen: dict[str, Contact] = {}
    extra = 0
    for contact in contacts:
        if contact.email in seen:
            extra += 1
            continue
        seen[contact.email] = contact
    if extra:
        notes.append(f"{extra} duplicate contact page(s) counted once (merged at the address's next event)")
    return list(seen.values())


def _email_rows(
    catalogue: Catalogue,
    templates: dict[str, tuple[str, int]],
    sent: Counter[tuple[str, int]],
    skipped: Counter[tuple[str, int]],
    failed: Counter[tuple[str, int]],
    recorded: bool,
    replies: Replies | None,
    held: Counter[tuple[str, int]],
    more: dict[str, Counter[tuple[str, int]]],
    credited: set[tuple[str, int]],
) -> tuple[EmailCounts, ...]:
    """A row per catalogue email (zeros included, so the table keeps its shape), then any other email seen or
    credited with a booking or payment. `more`: the other columns of EmailCounts (engagement, attribution)."""
    names = {(sequence, number): template for template, (sequence, number) in templates.items()}
    order = list(catalogue.sequences)
    replied = replies.by_email if replies is not None else Counter()
    seen = set(names) | set(sent) | set(skipped) | set(failed) | set(replied) | set(held) | credited
    for column in more.values():
        seen |= set(column)

    def position(key: tuple[str, int]) -> tuple[int, str, int]:
        sequence, number = key
        return (order.index(sequence) if sequence in order else len(order), sequence, number)

    return tuple(
        EmailCounts(
            sequence=key[0],
            number=key[1],
            template=names.get(key, WEBSITE if key[0] in order else "?"),
            sent=sent[key],
            skipped=skipped[key] if recorded else None,
            failed=failed[key] if recorded else None,
            replied=replied[key] if recorded else None,
            held=held[key] if recorded else None,
            **{name: column[key] for name, column in more.items()},
        )
        for key in sorted(seen, key=position)
    )


def _sequence_rows(catalogue: Catalogue, records: list[SequenceRecord]) -> tuple[SequenceCounts, ...]:
    """A row per sequence type of the catalogue (zeros included), then any other type found in the ledger."""
    states: dict[str, Counter[str]] = defaultdict(Counter)
    stopped: dict[str, Counter[str]] = defaultdict(Counter)
    for record in records:
        if record.stopped_reason:
            stopped[record.sequence][record.stopped_reason] += 1
        elif record.completed:
            states[record.sequence]["completed"] += 1
        else:
            states[record.sequence]["running"] += 1
    names = list(catalogue.sequences)
    names += sorted((set(states) | set(stopped)) - set(names))
    return tuple(
        SequenceCounts(
            sequence=name,
            running=states[name]["running"],
            completed=states[name]["completed"],
            stopped=dict(sorted(stopped[name].items(), key=lambda item: (-item[1], item[0]))),
        )
        for name in names
    )


def _ordered(counts: Counter[str], known: list[str]) -> dict[str, int]:
    """The known values in their order (zeros included), then the others by name, then NONE."""
    out = {value: counts.get(value, 0) for value in known}
    for value in sorted(v for v in counts if v not in out and v != NONE):
        out[value] = counts[value]
    if counts.get(NONE):
        out[NONE] = counts[NONE]
    return out


def _days(per_day: Counter[date], since: date | None, today: date) -> tuple[tuple[date, int], ...]:
    if not per_day:
        return ()
    first = max(min(per_day), since) if since else min(per_day)
    last = max(max(per_day), today)
    return tuple(
        (first + timedelta(days=n), per_day[first + timedelta(days=n)]) for n in range((last - first).days + 1)
    )
