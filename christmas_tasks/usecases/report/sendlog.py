"""The send log read for the report (christmas_tasks/usecases/report/counts.py): each email's outcome from its
logged attempts (skipped, failed, a duplicate the ledger stopped), and the replies the reply handler recorded there
(statuses replied and auto-replied): pure, no I/O."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from christmas_tasks.domain.records import AnalyticsEntry, SequenceRecord
from christmas_tasks.domain.vocabulary import ReplyStatus

UNKNOWN_SEQUENCE = "(unknown)"  # an attempt whose template the catalogue does not name
REPLIES = frozenset(str(status) for status in ReplyStatus)  # a reply's statuses in the send log


def attempt_outcomes(
    attempts: Iterable[AnalyticsEntry],
    campaign: str,
    start: datetime | None,
    templates: dict[str, tuple[str, int]],
    ever_sent: set[tuple[str, str, int]],
    notes: list[str],
) -> tuple[dict[tuple[str, str, int], tuple[str, str]], int]:
    """Each email not in the ledger as sent, with its last skip or hold (and why) or else its failure; and how many
    skips were of emails already sent (duplicates the ledger stopped)."""
    outcome: dict[tuple[str, str, int], tuple[str, str]] = {}
    duplicates = 0
    unnamed: set[str] = set()
    malformed = unknown_status = 0
    for entry in attempts:
        if entry.campaign != campaign or (start is not None and entry.at < start):
            continue
        if entry.status in REPLIES:
            continue  # a reply, not a send attempt: counted by count_replies
        if not entry.template or entry.email_number <= 0 or not entry.email:
            malformed += 1
            continue
        sequence, number = templates.get(entry.template, (UNKNOWN_SEQUENCE, entry.email_number))
        if sequence == UNKNOWN_SEQUENCE:
            unnamed.add(entry.template)
        key = (entry.email, sequence, number)
        if entry.status == "sent":
            continue  # the ledger is the record of sends
        if entry.status not in ("skipped", "held", "failed"):
            unknown_status += 1
            continue
        if key in ever_sent:
            duplicates += entry.status == "skipped"
            continue
        if entry.status in ("skipped", "held"):  # the later decides: held, then skipped when planned again
            outcome[key] = (entry.status, entry.error or "no reason recorded")
        elif outcome.get(key, ("failed", ""))[0] == "failed":
            outcome[key] = ("failed", entry.error or "")
    if unnamed:
        notes.append(f"attempts of templates the catalogue does not name: {', '.join(sorted(unnamed))}")
    if malformed:
        notes.append(f"{malformed} send attempt(s) without an address, template or email number were left out")
    if unknown_status:
        notes.append(
            f"{unknown_status} send attempt(s) with a status other than sent, skipped, held or failed were left out"
        )
    return outcome, duplicates


@dataclass(frozen=True)
class Replies:
    people: int
    automatic: int
    to_no_email: int
    by_email: Counter[tuple[str, int]]  # a person's replies, by the (sequence, number) of the email answered


def count_replies(
    attempts: Iterable[AnalyticsEntry], campaign: str, start: datetime | None, records: list[SequenceRecord]
) -> Replies:
    """The campaign's replies in the period, each once; a person's counted for the last email sent to its sender
    before it (the ledger's sends, whenever they were), else as a reply to no email."""
    sends: dict[str, list[tuple[datetime, str, int]]] = defaultdict(list)
    for record in records:
        for number, email in record.emails.items():
            if email.sent_at is not None:
                sends[record.email].append((email.sent_at, record.sequence, number))
    seen: set[tuple[str, str, str]] = set()
    people = automatic = to_no_email = 0
    by_email: Counter[tuple[str, int]] = Counter()
    for entry in attempts:
        if entry.status not in REPLIES or entry.campaign != campaign or (start is not None and entry.at < start):
            continue
        key = (entry.status, entry.email, entry.resend_id or entry.at.isoformat())
        if key in seen:
            continue  # the same reply recorded again (a redelivered webhook, a retried step)
        seen.add(key)
        if entry.status == ReplyStatus.AUTO_REPLIED:
            automatic += 1
            continue
        people += 1
        before = [send for send in sends.get(entry.email, []) if send[0] <= entry.at]
        if before:
            _, sequence, number = max(before)
            by_email[(sequence, number)] += 1
        else:
            to_no_email += 1
    return Replies(people, automatic, to_no_email, by_email)
