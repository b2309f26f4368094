"""What happened to a sent email after it left (SPEC §9): delivered, delayed, opened, clicked, each recorded against
its email at most once, the first time (a click with its link). The report reads them from the sequence records it
reads anyway, so engagement costs the report nothing; and it costs an event at most one query and one write, so a
burst of opens never eats the Notion requests that sends need:

- the email is found among the contact's records of this campaign (1 query), by the Resend id the ledger keeps for
  every email it sent, else by the tags it was sent with (its sequence and number);
- a kind already recorded for that email writes nothing (a redelivery, a second open);
- otherwise one write, touching that email's engagement only.

An event about no email of this campaign (another sender's, a forwarded reply, a forgotten address) and a type this
project does not know are recorded in the execution's outputs and the log, and write nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from christmas_tasks.domain.events import EmailStatusEvent
from christmas_tasks.domain.records import EngagementMark, SequenceRecord
from christmas_tasks.domain.vocabulary import Engagement
from christmas_tasks.usecases.outcomes import Action, Handled

if TYPE_CHECKING:
    from christmas_tasks.usecases.funnel import Funnel

log = logging.getLogger(__name__)


def record(funnel: Funnel, event: EmailStatusEvent, now: datetime) -> Handled:
    """Record `event`'s engagement (EmailStatusEvent.engagement), or an unknown type, against its email."""
    reported: dict[str, Any] = {"mail_event": event.type, "provider_id": event.email_id}

    def recorded(reason: str, **more: Any) -> Handled:
        return Handled(event.kind, event.email, Action.RECORDED, reason, **reported, **more)

    kind = event.engagement
    if kind is None:
        what = event.provider_type or str(event.type)
        log.info("%s for %s (provider id %s): a type this project does not read; recorded", what, event.email,
                 event.email_id)
        return recorded(f"{what}: a type this project does not read; recorded here, nothing written",
                        detail=event.provider_type)
    found = _find(funnel.records(event.email), event)
    if found is None:
        return recorded(f"{kind}: no email of campaign {funnel.campaign.name} to this address has the provider id "
                        f"{event.email_id}; nothing written")
    sequence, number = found
    ledger = sequence.emails[number]
    first = ledger.engaged_at(kind)
    where = {"sequence": sequence.sequence, "sequence_key": sequence.key}
    if first is not None:
        return recorded(f"{kind} of email {number} was recorded already (first at {first.isoformat()}); nothing "
                        "written", **where)
    funnel.ledger.sequences.mark_engagement(
        sequence, EngagementMark(number, kind, event.occurred_at, event.link if kind is Engagement.CLICKED else None)
    )
    return recorded(f"{kind} of email {number} of {sequence.sequence} recorded", **where)


def _find(records: list[SequenceRecord], event: EmailStatusEvent) -> tuple[SequenceRecord, int] | None:
    """The record and number of the email the event is about: by the provider's id, else by its tags (the newest
    record of the tagged sequence whose tagged email was sent without an id kept)."""
    for candidate in records:
        for number, ledger in candidate.emails.items():
            if ledger.resend_id == event.email_id:
                return candidate, number
    if event.sequence_tag and event.number_tag:
        for candidate in reversed(records):
            tagged = candidate.emails.get(event.number_tag)
            if candidate.sequence == event.sequence_tag and tagged and tagged.sent_at and not tagged.resend_id:
                return candidate, event.number_tag
    return None

