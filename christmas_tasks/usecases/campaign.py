"""Pausing and resuming the campaign (SPEC §11), and its status.

While the campaign is paused, events are handled as ever and nothing is sent: a send that falls due marks its email
held in the ledger (`Email {n} Status` held, never `Sent`), logs it as held, and ends (christmas_tasks/usecases/
sending.py). A resume switches the campaign back on, then plans every email still held again, spread by the send
window and the send cap (christmas_tasks/domain/resuming.py); the caller schedules that plan (the `campaign` flow
hands it to `schedule-plan`, as `handle-event` does a handler's).

Exactly once: a held email was never sent (no `Email {n} Sent`), and its held execution has ended. Its planned send
makes every check again: the ledger (already sent: skipped), the contact and the sequence (stopped meanwhile:
skipped, with the reason), the pause (paused again: held again); then it sends with the same idempotency key as any
other send of that email, so a second plan of it (a resume run twice, a retried step) sends nothing more.

The order closes the one gap between the two: a resume writes "running" first and reads the held emails after; a
send that read "paused" marks its email held first and reads the state again after, and sends when it is running.
So an email is either marked before the resume looked (and planned by it) or sees the resume (and is sent).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from christmas_tasks.domain.errors import InvalidInput, Problem
from christmas_tasks.domain.planning import iso_utc, require_aware
from christmas_tasks.domain.records import CampaignState, SequenceRecord
from christmas_tasks.domain.resuming import HeldEmail, spread
from christmas_tasks.domain.vocabulary import LedgerStatus
from christmas_tasks.usecases.outcomes import CampaignAction, CampaignOutcome, ScheduledEmail

if TYPE_CHECKING:
    from christmas_tasks.usecases.funnel import Funnel

REASON_MAX = 200  # a reason is one line: campaign status, the Notion page's title and Discord show it
COMMAND_LINE = "the command line"


def _reason(text: str | None, what: str, *, required: bool) -> str | None:
    value = (text or "").strip()
    if not value:
        if required:
            raise InvalidInput(what, [Problem("reason", "is required: say why (campaign status shows it)")])
        return None
    if len(value) > REASON_MAX or "\n" in value or "\r" in value:
        raise InvalidInput(what, [Problem("reason", f"must be one line of at most {REASON_MAX} characters")])
    return value


def _since(state: CampaignState) -> str:
    when = f" since {iso_utc(state.changed_at)}" if state.changed_at else ""
    return when + (f" ({state.changed_by})" if state.changed_by else "")


def pause(funnel: Funnel, now: datetime, reason: str | None, by: str) -> CampaignOutcome:
    """Pause the campaign: from now on nothing is sent, and each email that falls due is held. A paused campaign
    stays as it was (its first reason stands)."""
    now = require_aware(now, "now")
    why = _reason(reason, "campaign pause", required=True)
    campaigns = funnel.ledger.campaigns
    state = campaigns.state(funnel.campaign.name)
    if state.paused:
        return CampaignOutcome(
            CampaignAction.ALREADY_PAUSED, state, f"the campaign was already paused{_since(state)}: {state.reason}"
        )
    state = campaigns.set_state(CampaignState(funnel.campaign.name, True, why, now, by))
    return CampaignOutcome(
        CampaignAction.PAUSED, state,
        "the campaign is paused: nothing is sent, events are still handled, and each email that falls due is held "
        "until a resume plans it again",
    )


def resume(funnel: Funnel, now: datetime, by: str, reason: str | None = None) -> CampaignOutcome:
    """Run the campaign again, then plan every email still held (whether or not it was paused: a resume run twice,
    or after one whose plan was never scheduled, plans what is still held)."""
    now = require_aware(now, "now")
    why = _reason(reason, "campaign resume", required=False)
    campaigns = funnel.ledger.campaigns
    state = campaigns.state(funnel.campaign.name)
    action = CampaignAction.REPLANNED
    if state.paused:
        state = campaigns.set_state(CampaignState(funnel.campaign.name, False, why, now, by))
        action = CampaignAction.RESUMED
    held = held_emails(funnel)  # after the state is written (the module's docstring says why)
    plan = tuple(
        ScheduledEmail(item.sequence_key, item.email_number, item.template, at)
        for item, at in spread(held, now, cap=funnel.send_cap, window=funnel.send_window)
    )
    spread_over = f", from {iso_utc(plan[0].send_at)} to {iso_utc(plan[-1].send_at)}" if plan else ""
    done = "the campaign runs again" if action is CampaignAction.RESUMED else "the campaign was running"
    return CampaignOutcome(
        action, state, f"{done}; {len(plan)} held email(s) planned again, at most {funnel.send_cap} an hour"
        f"{spread_over}", held=len(held), plan=plan,
    )


def status(funnel: Funnel, now: datetime) -> CampaignOutcome:
    """The state, the emails held, and the deliverability guard's view of the last emails sent."""
    from christmas_tasks.usecases.guard import verdict

    require_aware(now, "now")
    state = funnel.ledger.campaigns.state(funnel.campaign.name)
    records = funnel.ledger.sequences.campaign_sequences(funnel.campaign.name)
    held = sum(1 for record in records for _ in _held_numbers(record))
    found = verdict(funnel, records)
    if state.paused:
        text = f"the campaign is paused{_since(state)}: {state.reason}; {held} email(s) held, planned again at a resume"
    else:
        text = f"the campaign is running{_since(state)}"
        # planned by a resume and waiting for their time, or never planned (the command line's resume schedules none)
        text += f"; {held} email(s) still held, waiting for their planned time or for a resume" if held else ""
    return CampaignOutcome(CampaignAction.STATUS, state, text, held=held, deliverability=found)


def _held_numbers(record: SequenceRecord) -> list[int]:
    """The record's emails held and not sent since."""
    return [n for n, e in sorted(record.emails.items()) if e.sent_at is None and e.status == LedgerStatus.HELD]


def held_emails(funnel: Funnel) -> list[HeldEmail]:
    """Every email of the campaign held and not sent since (1 read of the campaign's records; with a send window,
    1 read of the contacts for their time zones). An email the catalogue no longer has is left out."""
    catalogue = funnel.catalogue
    held: list[tuple[SequenceRecord, int]] = [
        (record, number)
        for record in funnel.ledger.sequences.campaign_sequences(funnel.campaign.name)
        for number in _held_numbers(record)
        if record.sequence in catalogue.sequences
        and number in {item.number for item in catalogue.sequences[record.sequence].emails}
    ]
    zones: dict[str, str | None] = {}
    if held and funnel.send_window is not None:
        zones = {contact.email: contact.timezone for contact in funnel.ledger.contacts.all_contacts()}
    found = []
    for record, number in held:
        definition = catalogue.sequences[record.sequence]
        item = definition.email(number)
        delay, gap = (
            (item.testing_delay, definition.testing_catch_up_gap) if funnel.testing else
            (item.delay, definition.catch_up_gap)
        )
        found.append(HeldEmail(record.key, number, item.template, record.anchor + delay, gap, zones.get(record.email)))
    return found
