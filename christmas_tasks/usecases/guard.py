"""The deliverability guard (SPEC §11): the campaign pauses itself when its complaint or bounce rate over the last
emails sent crosses a critical mark (the rule: christmas_tasks/domain/deliverability.py), says why (`campaign
status`), and alerts; a person resumes.

Where it runs: after an email-status event that suppressed an address as bounced (a permanent bounce) or complained,
in its handler: those are the only events that change either rate (a send adds to the window, but cannot raise it).
It reads the campaign's records (their sends, and the contacts' statuses that Notion's rollups bring with them; the
contacts when a record has none), so it costs a bounce or a complaint 1 query per 100 records, and nothing else.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from christmas_tasks.domain.deliverability import Verdict, judge
from christmas_tasks.domain.records import SequenceRecord
from christmas_tasks.domain.vocabulary import EmailStatus
from christmas_tasks.usecases.campaign import pause
from christmas_tasks.usecases.outcomes import CampaignAction, Handled

if TYPE_CHECKING:
    from christmas_tasks.usecases.funnel import Funnel

log = logging.getLogger(__name__)

GUARD = "the deliverability guard"
WATCHED = (EmailStatus.BOUNCED, EmailStatus.COMPLAINED)


def verdict(funnel: Funnel, records: list[SequenceRecord] | None = None) -> Verdict:
    """The guard's view of the last emails sent (`records`: the campaign's, when the caller has read them)."""
    if records is None:
        records = funnel.ledger.sequences.campaign_sequences(funnel.campaign.name)
    sends = [(entry.sent_at, r.email) for r in records for entry in r.emails.values() if entry.sent_at is not None]
    status_of = {r.email: r.contact.email_status for r in records if r.contact is not None}
    recent = {address for _, address in sorted(sends, reverse=True)[: funnel.guard.window]}
    if recent - set(status_of):  # a record without its contact's status: read the contacts
        status_of.update({contact.email: contact.email_status for contact in funnel.ledger.contacts.all_contacts()})
    return judge(funnel.guard, sends, status_of)


def check(funnel: Funnel, handled: Handled, status: EmailStatus, now: datetime) -> Handled:
    """After an address was suppressed as `status`: pause the campaign when a rate is past its critical mark (unless
    it is paused already), and alert. The handled event says so (`campaign_paused`)."""
    if status not in WATCHED:
        return handled
    why = verdict(funnel).critical
    if why is None:
        return handled
    outcome = pause(funnel, now, why, GUARD)
    if outcome.action is not CampaignAction.PAUSED:
        return handled  # a person (or the guard) paused it already: its reason stands, no second alert
    log.warning("%s: the deliverability guard paused the campaign: %s", funnel.campaign.name, why)
    text = (
        f"{funnel.campaign.name}: the deliverability guard paused the campaign: {why}. Nothing is sent until a person "
        "resumes it (christmas-tasks campaign status; the campaign flow, action resume)."
    )
    return replace(handled, campaign_paused=why, alert=funnel.alert(text))

