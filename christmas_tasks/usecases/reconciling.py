"""Reconciling the ledger with Kestra's schedule (SPEC §6): every email of a running sequence whose send was lost with
Kestra's state is planned again, for the caller to schedule (the `campaign` flow hands the plan to `schedule-plan`).

Two actions (christmas_tasks/domain/reconciling.py has the rule):
- `reconcile`, hourly (the `reconcile` flow): the emails whose planned time passed by more than the grace period with
  nothing recorded, placed from now at most SEND_CAP an hour; those that would fall past the next hour wait for it.
- `reschedule`, by hand once Kestra's state is known lost: those, all of them, the emails a resume planned and that
  are still held, and every later email of every running sequence at its own time, so nothing waits until it is
  overdue.

Nothing is planned while the campaign is paused (a send would only hold it) nor for a contact suppressed now (a send
would skip it). A duplicate plan cannot send twice: every send reads the ledger first and reuses its idempotency key.
What was planned again is logged, one line per email, and alerted.

Reads: the campaign's state, its sequence records and the contacts (Notion: 1 request per 100 records, 1 per 100
contacts), nothing else; writes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from christmas_tasks.domain.errors import InvalidInput, Problem
from christmas_tasks.domain.planning import iso_utc, require_aware
from christmas_tasks.domain.reconciling import DEFAULT_GRACE, TESTING_GRACE, Unsent, replan, reschedule, unsent
from christmas_tasks.usecases.outcomes import ReconcileAction, ReconcileOutcome, ScheduledEmail

if TYPE_CHECKING:
    from christmas_tasks.usecases.funnel import Funnel

log = logging.getLogger(__name__)
MAX_GRACE = timedelta(days=7)


def default_grace(testing: bool) -> timedelta:
    return TESTING_GRACE if testing else DEFAULT_GRACE


def check_grace(grace: timedelta) -> timedelta:
    if not timedelta(0) < grace <= MAX_GRACE:
        raise InvalidInput("reconcile", [Problem("grace", f"must be more than 0 and at most {MAX_GRACE.days} days")])
    return grace


def reconcile(
    funnel: Funnel, now: datetime, *, everything: bool = False, grace: timedelta | None = None
) -> ReconcileOutcome:
    """Plan again what Kestra lost: `everything` False, the overdue emails that fit before the next hourly run;
    True, every unsent email of every running sequence (the module's docstring)."""
    now = require_aware(now, "now")
    grace = check_grace(grace) if grace is not None else default_grace(funnel.testing)
    action = ReconcileAction.RESCHEDULE if everything else ReconcileAction.RECONCILE
    state = funnel.ledger.campaigns.state(funnel.campaign.name)
    if state.paused:
        return ReconcileOutcome(
            action, now, grace, "the campaign is paused: nothing is planned (a resume plans what falls due meanwhile)",
            paused=True,
        )
    found = _unsent(funnel, held=everything)
    window = funnel.send_window
    if everything:
        placed, waiting = reschedule(found.emails, now, grace, cap=funnel.send_cap, window=window), 0
    else:
        placed, waiting = replan([i for i in found.emails if i.lost(now, grace)], now, cap=funnel.send_cap,
                                 window=window)
    lost = sum(1 for item in found.emails if item.lost(now, grace))
    plan = tuple(ScheduledEmail(item.sequence_key, item.email_number, item.template, at) for item, at in placed)
    for item, at in placed:
        if item.lost(now, grace):
            log.warning("%s: email %d of %s, planned for %s, was not sent: planned again for %s", action.value,
                        item.email_number, item.sequence_key, iso_utc(item.planned_at), iso_utc(at))
        else:
            log.info("%s: email %d of %s planned again for %s", action.value, item.email_number, item.sequence_key,
                     iso_utc(at))
    text = _text(action, lost, plan, waiting, found, grace)
    alert = funnel.alert(f"{funnel.campaign.name}: {text}") if lost else None
    return ReconcileOutcome(
        action, now, grace, text, running=found.running, unsent=len(found.emails), lost=lost, waiting=waiting,
        suppressed=found.suppressed, plan=plan, alert=alert,
    )


class _Found:
    def __init__(self) -> None:
        self.running = 0  # running sequence records of the campaign
        self.suppressed = 0  # of them, whose contact is suppressed now
        self.emails: list[Unsent] = []


def _unsent(funnel: Funnel, *, held: bool) -> _Found:
    """Every unsent email of the campaign's running records, but a suppressed contact's, and, with `held`, those held
    (the campaign is running: a resume planned them) (2 reads)."""
    catalogue = funnel.catalogue
    found = _Found()
    records = [r for r in funnel.ledger.sequences.campaign_sequences(funnel.campaign.name) if r.running]
    found.running = len(records)
    if not records:
        return found
    contacts = {contact.email: contact for contact in funnel.ledger.contacts.all_contacts()}
    for record in records:
        contact = contacts.get(record.email)
        if contact is not None and contact.suppressed:
            found.suppressed += 1
            continue
        definition = catalogue.sequences.get(record.sequence)
        if definition is None:  # a sequence the catalogue no longer has: its sends fail by name; nothing to plan
            continue
        zone = contact.timezone if contact is not None else None
        found.emails += unsent(record, definition, testing=funnel.testing, window=funnel.send_window, zone=zone,
                               held=held)
    return found


def _text(
    action: ReconcileAction, lost: int, plan: tuple[ScheduledEmail, ...], waiting: int, found: _Found,
    grace: timedelta,
) -> str:
    span = f", from {iso_utc(plan[0].send_at)} to {iso_utc(plan[-1].send_at)}" if len(plan) > 1 else (
        f", at {iso_utc(plan[0].send_at)}" if plan else "")
    seconds = int(grace.total_seconds())
    late = next(f"{seconds // size} {unit}(s)" for size, unit in ((3600, "hour"), (60, "minute"), (1, "second"))
                if seconds % size == 0)
    head = (
        f"{lost} email(s) of running sequences had nothing sent more than {late} after their time "
        "(their schedule was lost)"
        if lost else f"no email of the {found.running} running sequence(s) is overdue"
        if found.running else "no sequence of the campaign is running"
    )
    if action is ReconcileAction.RESCHEDULE:
        return f"{head}; {len(plan)} unsent email(s) planned again{span}"
    later = f"; {waiting} more wait for the next reconciliation (at most the send cap an hour)" if waiting else ""
    return f"{head}; {len(plan)} planned again{span}{later}" if lost else head
