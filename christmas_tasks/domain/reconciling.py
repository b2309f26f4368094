"""Reconciling the ledger with Kestra's schedule (SPEC §6), pure: which emails of running sequences were lost, and
when each goes out now.

Kestra holds the schedule (a `send-email` execution per planned email); the ledger holds what was sent. Kestra's
state can be lost (its database deleted, restored from an older backup, executions purged) while the ledger says the
sequences still run, and a re-posted event is `already_handled`. The step has no view of Kestra's executions, so the
ledger decides: an email's planned time is the one the planner gives its record as it was planned when its event was
handled (`as_planned`: its anchor, the catalogue's delays, the catch-up rule, the send window in the contact's zone).
A live execution sends at that time, or a little later behind the send queue; so an unsent email whose planned time
passed by more than a grace period has none, and is lost. An email held while the campaign was paused, or skipped,
ran: it is not lost (a resume plans the held ones).

`replan` places the lost emails as a resume places held ones (domain/resuming.py: from now, in the order they fell
due, at most SEND_CAP an hour, a record's emails its catch-up gap apart, each inside the send window), and keeps only
those that fall before the next reconciliation (`horizon`): the rest wait for it, so no email is planned twice by two
reconciliations. Every send checks the ledger and reuses its idempotency key, so an email planned again while its
first execution was alive after all is still sent once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from christmas_tasks.domain.catalogue import SequenceDef
from christmas_tasks.domain.planning import SendWindow, plan
from christmas_tasks.domain.records import SequenceRecord
from christmas_tasks.domain.resuming import HeldEmail, spread
from christmas_tasks.domain.vocabulary import LedgerStatus

DEFAULT_GRACE = timedelta(hours=1)  # past its time, an unsent email is lost: longer than any queue's wait
TESTING_GRACE = timedelta(minutes=10)  # testing mode: its delays are minutes; a busy test run lags more
HORIZON = timedelta(hours=1)  # the reconcile flow's period: what falls later waits for the next reconciliation


def as_planned(
    record: SequenceRecord,
    definition: SequenceDef,
    *,
    testing: bool,
    window: SendWindow | None,
    zone: str | None,
) -> dict[int, datetime]:
    """Each email of a running record not sent when its event was handled, with the time the planner gave it then:
    the record's anchor, created at its creation, with the emails the website had sent; the window and the blackout
    days as configured now, in the contact's zone (`zone`, else the window's). Empty for a record that has ended."""
    if not record.running:
        return {}
    before = {n for n, e in record.emails.items() if e.sent_at is not None and e.sent_at <= record.created_at}
    planned = plan(definition, record.anchor, record.created_at, testing=testing, already_sent=before,
                   window=window, contact_timezone=zone)
    return {item.email_number: item.send_at for item in planned}


@dataclass(frozen=True)
class Unsent:
    """An email of a running sequence the ledger has not seen go out, with the time it was planned for."""

    sequence_key: str
    email_number: int
    template: str
    planned_at: datetime
    gap: timedelta  # its sequence's catch-up gap
    timezone: str | None = None
    not_before: datetime | None = None  # the record's last email sent plus the gap: the catch-up rule's floor

    def lost(self, now: datetime, grace: timedelta) -> bool:
        return self.planned_at + grace <= now


def unsent(
    record: SequenceRecord,
    definition: SequenceDef,
    *,
    testing: bool,
    window: SendWindow | None,
    zone: str | None,
    held: bool = False,
) -> list[Unsent]:
    """The record's emails that have neither gone out nor run (skipped; held, unless `held`: a resume planned those,
    and Kestra may have lost them too), in their planned order."""
    gap = definition.testing_catch_up_gap if testing else definition.catch_up_gap
    ran_statuses = {LedgerStatus.SKIPPED, LedgerStatus.SENT, *(() if held else (LedgerStatus.HELD,))}
    ran = {n for n, e in record.emails.items() if e.sent_at is not None or e.status in ran_statuses}
    sent = [e.sent_at for e in record.emails.values() if e.sent_at is not None]
    floor = max(sent) + gap if sent else None
    return [
        Unsent(record.key, number, definition.email(number).template, at, gap, zone, floor)
        for number, at in sorted(as_planned(record, definition, testing=testing, window=window, zone=zone).items())
        if number not in ran
    ]


def replan(
    lost: Iterable[Unsent],
    now: datetime,
    *,
    cap: int,
    window: SendWindow | None,
    horizon: timedelta | None = HORIZON,
) -> tuple[list[tuple[Unsent, datetime]], int]:
    """The lost emails with their new times, in the order they go out, and how many wait for the next
    reconciliation (their time would fall past `horizon`; None: keep them all)."""
    by_key = {(item.sequence_key, item.email_number): item for item in lost}
    held = [HeldEmail(i.sequence_key, i.email_number, i.template, i.planned_at, i.gap, i.timezone, i.not_before)
            for i in by_key.values()]
    placed = [(by_key[(h.sequence_key, h.email_number)], at) for h, at in spread(held, now, cap=cap, window=window)]
    if horizon is None:
        return placed, 0
    kept = [(item, at) for item, at in placed if at < now + horizon]
    return kept, len(placed) - len(kept)


def reschedule(
    unsent_emails: Iterable[Unsent],
    now: datetime,
    grace: timedelta,
    *,
    cap: int,
    window: SendWindow | None,
) -> list[tuple[Unsent, datetime]]:
    """Every unsent email with a time, for when Kestra's state is known to be lost: the lost ones as `replan` places
    them, all of them (no horizon); the others at their planned time, never before now nor less than their catch-up
    gap after the record's previous email (the window moves one it closes on, as the planner does)."""
    items = list(unsent_emails)
    placed, _ = replan([i for i in items if i.lost(now, grace)], now, cap=cap, window=window, horizon=None)
    previous: dict[str, datetime] = {}
    for item, at in placed:
        previous[item.sequence_key] = max(at, previous.get(item.sequence_key, at))
    for item in sorted((i for i in items if not i.lost(now, grace)), key=lambda i: (i.planned_at, i.email_number)):
        at = max(item.planned_at, now, item.not_before or now)
        if item.sequence_key in previous:
            at = max(at, previous[item.sequence_key] + item.gap)
        if window is not None and at != item.planned_at:
            at = window.next_open(at, item.timezone)
        previous[item.sequence_key] = at
        placed.append((item, at))
    return sorted(placed, key=lambda pair: (pair[1], pair[0].sequence_key, pair[0].email_number))
