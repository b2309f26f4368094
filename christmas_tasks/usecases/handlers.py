"""Handling one event (SPEC §2): one handler per event class, looked up along the model's classes (`handler_for`),
so a kind that only starts its sequence is served by StartsSequence's handler and needs none of its own. What a
handler does with a kind (what it starts, stops, and writes on the contact) is the kind's own description
(christmas_tasks/domain/events/): nothing here names a kind's sequence or status.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from christmas_tasks.domain.errors import ConfigError, InvalidInput, Problem
from christmas_tasks.domain.events import (
    BookingEvent,
    CancellationEvent,
    EmailStatusEvent,
    Event,
    ReplyEvent,
    SignupEvent,
    StartsSequence,
    UnsubscribeEvent,
    UnsubscribeLinkEvent,
)
from christmas_tasks.domain.keys import sequence_key
from christmas_tasks.domain.planning import plan
from christmas_tasks.domain.records import ContactUpdate, SequenceRecord
from christmas_tasks.domain.vocabulary import SUPPRESSION_STOPS, CampaignStatus, EmailStatus
from christmas_tasks.usecases import engagement, guard, replies
from christmas_tasks.usecases.outcomes import Action, Handled, ScheduledEmail

if TYPE_CHECKING:
    from christmas_tasks.usecases.funnel import Funnel

log = logging.getLogger(__name__)

Handler = Callable[["Funnel", Any, datetime, "str | None"], Handled]


def record_signup(funnel: Funnel, event: SignupEvent, now: datetime, run_id: str | None) -> Handled:
    contact = funnel.ledger.contacts.upsert_contact(
        ContactUpdate(
            email=event.email,
            first_name=event.first_name,
            business_name=event.business_name,
            # never move a contact already further down the funnel back to "Signed Up"
            initial_campaign_status=CampaignStatus.SIGNED_UP,
        )
    )
    return Handled(
        event.kind,
        event.email,
        Action.CONTACT_RECORDED,
        "the contact is recorded; nothing is sent",
        campaign_status=contact.campaign_status,
    )


def record_booking(funnel: Funnel, event: BookingEvent, now: datetime, run_id: str | None) -> Handled:
    funnel.ledger.contacts.upsert_contact(
        ContactUpdate(
            email=event.email,
            first_name=event.first_name,
            business_name=event.business_name,
            campaign_status=CampaignStatus.PRE_CALL,
            booking_status=event.booking_status,
            timezone=event.contact_timezone(),
            booked_call=event.calendly_event_uri,
            booked_at=now,  # the report attributes the booking to the email that brought it (SPEC §9)
        )
    )
    stopped = _stop(funnel, event, funnel.records(event.email, _stopped_by(event)))
    return Handled(
        event.kind, event.email, Action.BOOKING_RECORDED, "the booking is recorded; the nurture stops", stopped=stopped
    )


def start_sequence(funnel: Funnel, event: StartsSequence, now: datetime, run_id: str | None) -> Handled:
    declined = event.declined()
    if declined is not None:
        return Handled(event.kind, event.email, Action.NOTHING_TO_START, declined)
    sequence = event.starts
    definition = funnel.catalogue.get(sequence)
    # One query of this contact's records serves both the stops and the look-up of this event's record.
    records = funnel.records(event.email)
    stopped = _stop(funnel, event, records)
    contact = funnel.ledger.contacts.upsert_contact(event.contact_update(definition.contact_status))
    anchor = event.anchor(definition.anchor, now)
    key = sequence_key(funnel.campaign.name, sequence, event.email, event.occurrence())
    routed = event.route
    existing = next((r for r in records if r.key == key), None)
    record, created = (
        (existing, False)
        if existing is not None
        else funnel.ledger.sequences.create_sequence(
            SequenceRecord(
                key=key,
                email=event.email,
                campaign=funnel.campaign.name,
                sequence=sequence,
                event_id=event.occurrence(),
                first_name=event.first_name,
                anchor=anchor,
                created_at=now,
                business_name=event.business_name,
                segment=routed.segment.value if routed else None,
                variables=event.variables(),
                emails=event.sent_before(),
                created_by=run_id,
                contact_ref=contact.ref,
            ),
            absent=True,
        )
    )

    def handled(action: Action, reason: str, **more: Any) -> Handled:
        more.setdefault("stopped", stopped)
        return Handled(
            event.kind, event.email, action, reason, sequence=sequence, sequence_key=key, created=created,
            route=routed, **more,
        )

    retry = not created and run_id is not None and record.created_by == run_id
    if not created and not retry:
        return handled(Action.ALREADY_HANDLED, "this event was handled before: nothing is planned again")
    if contact.suppressed:
        known = contact.email_status in SUPPRESSION_STOPS
        stop = SUPPRESSION_STOPS[EmailStatus(contact.email_status)] if known else contact.email_status
        stopped_record = funnel.ledger.sequences.stop_sequence(record, stop)
        return handled(
            Action.NOT_SCHEDULED,
            f"the contact is {contact.email_status}: nothing is scheduled",
            stopped=(*stopped, stopped_record.key),
        )
    # the send window applies in the lead's zone: this event's, else the one an earlier event left on the contact
    planned = plan(
        definition, anchor, now, testing=funnel.testing, already_sent=record.sent_numbers(), window=funnel.window,
        contact_timezone=event.contact_timezone() or contact.timezone,
    )
    schedule = tuple(ScheduledEmail(key, item.email_number, item.template, item.send_at) for item in planned)
    text = event.alert(key) if created else None
    alert = funnel.alert(text) if text else None
    action, reason = (
        (Action.SEQUENCE_STARTED, f"the {sequence} sequence starts")
        if created
        else (Action.REPLANNED, "a retry of the run that started it: its unsent emails are planned again")
    )
    return handled(action, reason, plan=schedule if record.running else (), alert=alert)


def record_cancellation(funnel: Funnel, event: CancellationEvent, now: datetime, run_id: str | None) -> Handled:
    """A cancelled call starts the rebook sequence, unless the contact as it is now says otherwise (the event's own
    rule): then nothing is written, and the result says why."""
    if event.declined() is None:
        why = event.declined_for(funnel.ledger.contacts.get_contact(event.email))
        if why is not None:
            return Handled(event.kind, event.email, Action.NOTHING_TO_START, why)
    return start_sequence(funnel, event, now, run_id)


def unsubscribe(funnel: Funnel, event: UnsubscribeEvent, now: datetime, run_id: str | None) -> Handled:
    # a link's token must be the right one: an unsubscribe link cannot be forged for another address
    if event.token is not None:
        _check_token(funnel, event.email, event.token, "unsubscribe event")
    return suppress(funnel, event, EmailStatus.UNSUBSCRIBED)


def unsubscribe_by_link(funnel: Funnel, event: UnsubscribeLinkEvent, now: datetime, run_id: str | None) -> Handled:
    # The link's webhook key is in every email: the token alone authorises it. A repeat finds the address already
    # unsubscribed and nothing left running: it changes nothing.
    _check_token(funnel, event.email, event.token, "unsubscribe link")
    return suppress(funnel, event, EmailStatus.UNSUBSCRIBED)


def record_mail_event(funnel: Funnel, event: EmailStatusEvent, now: datetime, run_id: str | None) -> Handled:
    if event.only_recorded:  # delivered, delayed, opened, clicked, unknown: usecases/engagement.py
        return engagement.record(funnel, event, now)
    reported: dict[str, Any] = {
        "mail_event": event.type, "bounce": event.bounce, "provider_id": event.email_id, "detail": event.detail
    }
    status = event.suppression
    if status is not None:  # a bounce or a complaint may pause the campaign (the deliverability guard)
        return guard.check(funnel, replace(suppress(funnel, event, status), **reported), status, now)
    what = f"{event.type} ({event.bounce} bounce)" if event.bounce else str(event.type)
    # a transient bounce, a failure: worth a look, not a suppression
    log.warning("%s for %s (provider id %s): recorded, not suppressed: %s", what, event.email, event.email_id,
                event.detail or "no detail")
    return Handled(event.kind, event.email, Action.RECORDED, f"{what}: the address is not suppressed", **reported)


def forward_reply(funnel: Funnel, event: ReplyEvent, now: datetime, run_id: str | None) -> Handled:
    """A reply (SPEC §2): christmas_tasks/usecases/replies.py; its alert raised as every alert is (never failing)."""
    return replies.forward(funnel, event, now, funnel.alert)


def suppress(funnel: Funnel, event: Event, status: EmailStatus) -> Handled:
    """The address gets no more email: its status is written, and every running sequence of it stops."""
    funnel.ledger.contacts.upsert_contact(
        ContactUpdate(
            email=event.email,
            email_status=status,
            campaign_status=CampaignStatus.UNSUBSCRIBED if status is EmailStatus.UNSUBSCRIBED else None,
        )
    )
    reason = SUPPRESSION_STOPS[status]
    sequences = funnel.ledger.sequences
    stopped = tuple(sequences.stop_sequence(r, reason).key for r in funnel.records(event.email) if r.running)
    return Handled(
        event.kind, event.email, Action.SUPPRESSED, f"the address is {status}: no more email", stopped=stopped,
        email_status=status,
    )


def _check_token(funnel: Funnel, email: str, token: str, what: str) -> None:
    if not hmac.compare_digest(token.encode(), funnel.campaign.unsubscribe_token(email).encode()):
        raise InvalidInput(what, [Problem("token", "does not match this email address")])


def _stopped_by(event: Event) -> tuple[str, ...]:
    """Every sequence an event of this kind may stop."""
    return tuple(sorted({sequence for stop in event.stops for sequence in stop.sequences}))


def _stop(funnel: Funnel, event: Event, records: list[SequenceRecord]) -> tuple[str, ...]:
    """Stop, among `records`, what this kind of event stops (its `stops`); the keys stopped."""
    stopped = []
    for stop in event.stops:
        for record in records:
            if record.sequence in stop.sequences and record.running:
                stopped.append(funnel.ledger.sequences.stop_sequence(record, stop.reason).key)
    return tuple(stopped)



# One handler per event class; a kind is served by the handler of its nearest class here.
HANDLERS: dict[type, Handler] = {
    SignupEvent: record_signup,
    BookingEvent: record_booking,
    CancellationEvent: record_cancellation,
    StartsSequence: start_sequence,
    UnsubscribeEvent: unsubscribe,
    UnsubscribeLinkEvent: unsubscribe_by_link,
    EmailStatusEvent: record_mail_event,
    ReplyEvent: forward_reply,
}


def handler_for(model: type[Event]) -> Handler:
    """The handler of an event kind's model; a kind with none is an error naming it (never a default)."""
    for cls in model.__mro__:
        if cls in HANDLERS:
            return HANDLERS[cls]
    raise ConfigError(f"no handler for the event kind {getattr(model, 'kind', '?')!r} ({model.__name__})")
