"""Use cases: handle one webhook event; send one scheduled email (SPEC §2, §6).

They take the ports as arguments and return typed results (christmas_tasks/outcomes.py); the clock is an
argument too. Events are dispatched through a table, one handler per kind (`HANDLERS`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from christmas_tasks.errors import InvalidInput, NotFound, Problem, TemplateError
from christmas_tasks.events import (
    AssessmentEvent,
    BookingEvent,
    EmailStatusEvent,
    Event,
    NoShowEvent,
    OnboardingEvent,
    PostCallEvent,
    SignupEvent,
    UnsubscribeEvent,
    UnsubscribeLinkEvent,
    parse_event,
)
from christmas_tasks.outcomes import (
    Action,
    AlertStatus,
    EmailOutcome,
    Handled,
    ScheduledEmail,
    SendStatus,
    SkipReason,
)
from christmas_tasks.planning import Catalogue, SendWindow, plan, require_aware
from christmas_tasks.ports import (
    IDEMPOTENCY_WINDOW,
    Alerter,
    AnalyticsEntry,
    ContactUpdate,
    Crm,
    EmailLedger,
    Mailer,
    OutgoingEmail,
    SentMark,
    SequenceRecord,
)
from christmas_tasks.rendering import check_template, render
from christmas_tasks.variables import Campaign, build_variables, stored_variables, variable_names
from christmas_tasks.vocabulary import (
    SEQUENCE_OF,
    BookingStatus,
    CampaignStatus,
    EmailStatus,
    EventKind,
    SequenceType,
    StopReason,
)

log = logging.getLogger(__name__)

# What each event stops, and why (SPEC §6): any call-related event means the contact booked a call, which stops
# the nurture; paying stops the no-show and post-call follow-ups. A suppression stops everything.
_STOPS: dict[EventKind, tuple[tuple[tuple[SequenceType, ...], StopReason], ...]] = {
    EventKind.BOOKING: (((SequenceType.NURTURE,), StopReason.BOOKED),),
    EventKind.NOSHOW: (((SequenceType.NURTURE,), StopReason.BOOKED),),
    EventKind.POSTCALL: (((SequenceType.NURTURE,), StopReason.BOOKED),),
    EventKind.ONBOARDING: (
        ((SequenceType.NURTURE,), StopReason.BOOKED),
        ((SequenceType.NOSHOW, SequenceType.POSTCALL), StopReason.PAID),
    ),
}
_BOOKING_STATUS = {
    EventKind.BOOKING: BookingStatus.BOOKED,
    EventKind.NOSHOW: BookingStatus.NO_SHOW,
    EventKind.POSTCALL: BookingStatus.CALL_HELD,
    EventKind.ONBOARDING: BookingStatus.CLIENT,
}
_STOP_REASON = {  # a suppression's email status, as the reason its sequences stop
    EmailStatus.UNSUBSCRIBED: StopReason.UNSUBSCRIBED,
    EmailStatus.BOUNCED: StopReason.BOUNCED,
    EmailStatus.COMPLAINED: StopReason.COMPLAINED,
    EmailStatus.SUPPRESSED: StopReason.SUPPRESSED,
}


def campaign_slug(campaign: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", campaign.lower()).strip("-")


def event_id(event: Event) -> str:
    """What makes one event of a kind distinct for one contact (part of the sequence key).

    The 5-day nurture runs once per contact and campaign; a no-show is per missed meeting; a
    post-call follow-up per call; onboarding per payment.
    """
    if isinstance(event, NoShowEvent):
        return "call-" + hashlib.sha256(event.calendly_event_uri.encode()).hexdigest()[:16]
    if isinstance(event, PostCallEvent):
        return f"call-{event.call_date}"
    if isinstance(event, OnboardingEvent):
        return f"payment-{event.payment_date}"
    return "assessment"


def sequence_key(campaign: str, sequence: str, email: str, event: str) -> str:
    return f"{campaign_slug(campaign)}|{sequence}|{email}|{event}"


def parse_sequence_key(key: str) -> tuple[str, str, str]:
    """(campaign slug, sequence, email) from a key, so a lookup can filter by each of them."""
    parts = key.split("|")
    if len(parts) != 4 or not all(parts):
        raise InvalidInput("sequence key", [Problem("sequence_key", f"{key!r} is not campaign|sequence|email|event")])
    return parts[0], parts[1], parts[2]


def idempotency_key(record: SequenceRecord, number: int) -> str:
    """Deterministic per (email, campaign, sequence, event, email number): a retry cannot send twice."""
    material = "|".join((record.email, record.campaign, record.sequence, record.event_id, str(number)))
    return "christmas-" + hashlib.sha256(material.encode()).hexdigest()[:48]


@dataclass
class Funnel:
    """The application: ports plus the campaign's configuration."""

    crm: Crm
    mailer: Mailer
    campaign: Campaign
    catalogue: Catalogue
    email_from: str
    reply_to: str | None = None
    testing: bool = False
    window: SendWindow | None = None
    alerter: Alerter | None = None
    sent_by: str = "kestra"

    # ------------------------------------------------------------------ events

    def handle(self, kind: str, body: Any, now: datetime, run_id: str | None = None) -> Handled:
        """Validate, then apply one event. A rejected event raises InvalidInput and writes nothing.

        `run_id` names the run (the Kestra execution) handling it. The same event handled again plans
        nothing, except by the run that created its sequence: that is a retry of a run that may have
        died before its plan was scheduled, so it gets the unsent emails again (sending checks the
        ledger and reuses the idempotency key, so nothing goes out twice).
        """
        now = require_aware(now, "now")
        event = parse_event(kind, body, now)
        return HANDLERS[event.kind](self, event, now, run_id)

    def _signup(self, event: SignupEvent, now: datetime, run_id: str | None) -> Handled:
        contact = self.crm.upsert_contact(
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

    def _booking(self, event: BookingEvent, now: datetime, run_id: str | None) -> Handled:
        self.crm.upsert_contact(
            ContactUpdate(
                email=event.email,
                first_name=event.first_name,
                business_name=event.business_name,
                campaign_status=CampaignStatus.PRE_CALL,
                booking_status=BookingStatus.BOOKED,
            )
        )
        stopped = self._stops(event, self._records(event.email, _stopped_by(event.kind)))
        return Handled(
            event.kind,
            event.email,
            Action.BOOKING_RECORDED,
            "the booking is recorded; the nurture stops",
            stopped=stopped,
        )

    def _unsubscribe(self, event: UnsubscribeEvent, now: datetime, run_id: str | None) -> Handled:
        # a link's token must be the right one: an unsubscribe link cannot be forged for another address
        if event.token is not None:
            self._check_token(event.email, event.token, "unsubscribe event")
        return self._suppress(event, EmailStatus.UNSUBSCRIBED)

    def _unsubscribe_link(self, event: UnsubscribeLinkEvent, now: datetime, run_id: str | None) -> Handled:
        # The link's webhook key is in every email: the token alone authorises it. A repeat finds the address
        # already unsubscribed and nothing left running: it changes nothing.
        self._check_token(event.email, event.token, "unsubscribe link")
        return self._suppress(event, EmailStatus.UNSUBSCRIBED)

    def _check_token(self, email: str, token: str, what: str) -> None:
        if not hmac.compare_digest(token.encode(), self.campaign.unsubscribe_token(email).encode()):
            raise InvalidInput(what, [Problem("token", "does not match this email address")])

    def _mail_event(self, event: EmailStatusEvent, now: datetime, run_id: str | None) -> Handled:
        status = event.suppression
        if status is not None:
            return self._suppress(event, status)
        what = f"{event.type} ({event.bounce} bounce)" if event.bounce else str(event.type)
        if event.type != "delivered":
            log.warning(
                "%s for %s (provider id %s): recorded, not suppressed: %s",
                what,
                event.email,
                event.email_id,
                event.detail or "no detail",
            )
        return Handled(
            event.kind,
            event.email,
            Action.RECORDED,
            f"{what}: the address is not suppressed",
            mail_event=event.type,
            bounce=event.bounce,
            provider_id=event.email_id,
            detail=event.detail,
        )

    def _onboarding(self, event: OnboardingEvent, now: datetime, run_id: str | None) -> Handled:
        if not event.payment_confirmed:
            return Handled(
                event.kind, event.email, Action.NOTHING_TO_START, "payment_confirmed is false: no onboarding starts"
            )
        return self._start_sequence(event, now, run_id)

    def _start_sequence(self, event: Event, now: datetime, run_id: str | None) -> Handled:
        sequence = SEQUENCE_OF[event.kind]
        definition = self.catalogue.get(sequence)
        first_name = str(getattr(event, "first_name", ""))
        business_name = getattr(event, "business_name", None)
        routed = event.route if isinstance(event, AssessmentEvent) else None
        segment = routed.segment.value if routed else None
        score = event.assessment_score if isinstance(event, AssessmentEvent) else None
        # One query of this contact's records serves both the stops and the look-up of this event's record.
        records = self._records(event.email, tuple(SequenceType))
        stopped = self._stops(event, records)
        contact = self.crm.upsert_contact(
            ContactUpdate(
                email=event.email,
                first_name=first_name,
                business_name=business_name,
                campaign_status=definition.contact_status,
                booking_status=_BOOKING_STATUS.get(event.kind),
                segment=segment,
                assessment_score=score,
            )
        )
        anchor = event.email_1_sent_at if isinstance(event, AssessmentEvent) and event.email_1_sent_at else now
        eid = event_id(event)
        key = sequence_key(self.campaign.name, sequence, event.email, eid)
        emails = {}
        if isinstance(event, AssessmentEvent):
            # Email 1 went out from the website; the ledger records it so the sequence is whole.
            emails[1] = EmailLedger(1, anchor, event.email_1_status, None, "website")
        existing = next((r for r in records if r.key == key), None)
        record, created = (
            (existing, False)
            if existing is not None
            else self.crm.create_sequence(
                SequenceRecord(
                    key=key,
                    email=event.email,
                    campaign=self.campaign.name,
                    sequence=sequence,
                    event_id=eid,
                    first_name=first_name,
                    anchor=anchor,
                    created_at=now,
                    business_name=business_name,
                    segment=segment,
                    variables=stored_variables(event),
                    emails=emails,
                    created_by=run_id,
                    contact_ref=contact.ref,
                ),
                absent=True,
            )
        )

        def handled(action: Action, reason: str, **more: Any) -> Handled:
            more.setdefault("stopped", stopped)
            return Handled(
                event.kind,
                event.email,
                action,
                reason,
                sequence=sequence,
                sequence_key=key,
                created=created,
                route=routed,
                **more,
            )

        retry = not created and run_id is not None and record.created_by == run_id
        if not created and not retry:
            return handled(Action.ALREADY_HANDLED, "this event was handled before: nothing is planned again")
        if contact.suppressed:
            recognised = contact.email_status in _STOP_REASON
            stop = _STOP_REASON[EmailStatus(contact.email_status)] if recognised else contact.email_status
            stopped_record = self.crm.stop_sequence(record, stop)
            return handled(
                Action.NOT_SCHEDULED,
                f"the contact is {contact.email_status}: nothing is scheduled",
                stopped=(*stopped, stopped_record.key),
            )
        planned = plan(
            definition,
            anchor,
            now,
            testing=self.testing,
            already_sent=record.sent_numbers(),
            window=self.window,
        )
        schedule = tuple(ScheduledEmail(key, item.email_number, item.template, item.send_at) for item in planned)
        alert = self._alert(event, key) if routed and routed.alert and created else None
        action, reason = (
            (Action.SEQUENCE_STARTED, f"the {sequence} sequence starts")
            if created
            else (Action.REPLANNED, "a retry of the run that started it: its unsent emails are planned again")
        )
        return handled(action, reason, plan=schedule if record.running else (), alert=alert)

    def _alert(self, event: Event, key: str) -> AlertStatus:
        if self.alerter is None:
            return AlertStatus.NOT_CONFIGURED
        name = getattr(event, "first_name", "")
        business = getattr(event, "business_name", None) or "no business name"
        text = f"CRITICAL lead: {name} ({business}) <{event.email}> finished the assessment. Sequence {key}."
        try:
            return AlertStatus.SENT if self.alerter.alert(text) else AlertStatus.FAILED
        except Exception:  # an alert never fails the funnel
            log.warning("the CRITICAL-lead alert raised; ignored", exc_info=True)
            return AlertStatus.FAILED

    def _suppress(self, event: Event, status: EmailStatus) -> Handled:
        self.crm.upsert_contact(
            ContactUpdate(
                email=event.email,
                email_status=status,
                campaign_status=CampaignStatus.UNSUBSCRIBED if status is EmailStatus.UNSUBSCRIBED else None,
            )
        )
        reason = _STOP_REASON[status]
        stopped = tuple(
            self.crm.stop_sequence(r, reason).key for r in self._records(event.email, tuple(SequenceType)) if r.running
        )
        mail = event if isinstance(event, EmailStatusEvent) else None
        return Handled(
            event.kind,
            event.email,
            Action.SUPPRESSED,
            f"the address is {status}: no more email",
            stopped=stopped,
            email_status=status,
            mail_event=mail.type if mail else None,
            bounce=mail.bounce if mail else None,
            provider_id=mail.email_id if mail else None,
            detail=mail.detail if mail else None,
        )

    def _records(self, email: str, sequences: tuple[SequenceType, ...]) -> list[SequenceRecord]:
        """The contact's records of those sequences in this campaign (1 query; none asked for, none made)."""
        return self.crm.sequences_for(email, self.campaign.name, sequences) if sequences else []

    def _stops(self, event: Event, records: list[SequenceRecord]) -> tuple[str, ...]:
        """Stop, among `records`, what this kind of event stops (`_STOPS`); the keys stopped."""
        stopped = []
        for sequences, reason in _STOPS.get(event.kind, ()):
            for record in records:
                if record.sequence in sequences and record.running:
                    stopped.append(self.crm.stop_sequence(record, reason).key)
        return tuple(stopped)

    # ------------------------------------------------------------------ sending

    def send(self, key: str, number: int, now: datetime, scheduled_for: datetime | None = None) -> EmailOutcome:
        """Send email `number` of the sequence `key`, with every check of SPEC §6, in order."""
        now = require_aware(now, "now")
        at = require_aware(scheduled_for, "scheduled_for") if scheduled_for else now
        slug, sequence, email = parse_sequence_key(key)
        if slug != campaign_slug(self.campaign.name):
            raise InvalidInput("sequence key", [Problem("sequence_key", f"belongs to campaign {slug!r}, not this one")])
        definition = self.catalogue.get(sequence)
        item = definition.email(number)
        # 1. the record
        record = self.crm.find_sequence(email, self.campaign.name, sequence, key)
        if record is None:
            raise NotFound(f"no sequence record with key {key!r}")
        # 2. reasons not to send, recorded
        skipped = self._skip(record, number, key, item.template)
        if skipped is not None:
            stop = _stop_reason_of(skipped)
            if stop is not None and record.running:
                self.crm.stop_sequence(record, stop)
            self._log(record, item.template, number, "skipped", now, error=skipped.reason)
            return skipped
        # 3. render (a missing/inactive template or unknown placeholder stops here, before sending)
        try:
            template = self.crm.get_template(item.template)
            values = build_variables(
                self.campaign,
                record.email,
                {**record.variables, "first_name": record.first_name, "business_name": record.business_name or ""},
                at,
            )
            check_template(template, variable_names(sequence))
            rendered = render(template, values)
        except TemplateError as exc:
            self._log(record, item.template, number, "failed", now, error=str(exc))
            raise
        # 4. send, idempotently
        unsubscribe = values["unsubscribe_url"]
        message = OutgoingEmail(
            sender=self.email_from,
            to=record.email,
            subject=rendered.subject,
            html=rendered.html,
            text=rendered.text,
            idempotency_key=idempotency_key(record, number),
            reply_to=self.reply_to,
            headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
            tags={"campaign": campaign_slug(self.campaign.name), "sequence": sequence, "email_number": str(number)},
        )
        try:
            result = self.mailer.send(message)
        except Exception as exc:
            self._log(record, item.template, number, "failed", now, error=str(exc))
            raise
        # 5. the ledger
        try:
            self.crm.mark_sent(
                record,
                SentMark(
                    number, now, result.message_id, "sent", self.sent_by, completes=number == definition.last_number
                ),
            )
        except Exception:
            # The one window the ledger cannot guard: a retry reuses the key, which the mailer honours only for
            # IDEMPOTENCY_WINDOW; after that a replay would send again. Say so where the operator will look.
            log.error(
                "email %d of %s WAS SENT (id %s) but the ledger write failed: a retry before %s sends nothing new "
                "(same idempotency key); after that, do not replay this send: mark email %d sent in the ledger",
                number,
                key,
                result.message_id,
                (now + IDEMPOTENCY_WINDOW).isoformat(),
                number,
            )
            raise
        # 6. analytics (when configured)
        self._log(record, item.template, number, "sent", now, resend_id=result.message_id)
        return EmailOutcome(
            key,
            number,
            item.template,
            SendStatus.SENT,
            resend_id=result.message_id,
            duplicate=result.duplicate,
            sent_at=now,
        )

    def _skip(self, record: SequenceRecord, number: int, key: str, template: str) -> EmailOutcome | None:
        """Why this email must not go out, in SPEC §6's order; None when it may."""

        def skip(reason: SkipReason, detail: str | None = None) -> EmailOutcome:
            return EmailOutcome(key, number, template, SendStatus.SKIPPED, skip=reason, detail=detail)

        if number in record.sent_numbers():
            return skip(SkipReason.ALREADY_SENT)
        # the contact as it is now: read with the record where the backend can (a Notion rollup), else read here
        contact = record.contact if record.contact is not None else self.crm.get_contact(record.email)
        if contact is not None and contact.suppressed:
            return skip(SkipReason.SUPPRESSED, contact.email_status)
        if record.stopped_reason:
            return skip(SkipReason.STOPPED, record.stopped_reason)
        booked = contact is not None and contact.booking_status not in (None, "", BookingStatus.NOT_BOOKED)
        if record.sequence == SequenceType.NURTURE and booked:
            return skip(SkipReason.BOOKED)
        if record.completed:
            return skip(SkipReason.COMPLETED)
        return None

    def _log(
        self,
        record: SequenceRecord,
        template: str,
        number: int,
        status: str,
        now: datetime,
        resend_id: str | None = None,
        error: str | None = None,
    ) -> None:
        try:
            self.crm.log_analytics(
                AnalyticsEntry(record.email, template, number, status, now, record.campaign, resend_id, error)
            )
        except Exception:  # analytics is best effort: the ledger is the record of truth
            log.warning("analytics write failed; ignored", exc_info=True)


def _stopped_by(kind: EventKind) -> tuple[SequenceType, ...]:
    """Every sequence type an event of this kind may stop."""
    return tuple(sorted({sequence for sequences, _ in _STOPS.get(kind, ()) for sequence in sequences}))


def _stop_reason_of(skipped: EmailOutcome) -> StopReason | None:
    """The reason to stop the whole sequence a skip gives: a suppression of a known kind, or a booking."""
    if skipped.skip is SkipReason.BOOKED:
        return StopReason.BOOKED
    if skipped.skip is SkipReason.SUPPRESSED and skipped.detail in _STOP_REASON:
        return _STOP_REASON[EmailStatus(skipped.detail)]
    return None


# One handler per event kind.
HANDLERS: dict[EventKind, Callable[[Funnel, Any, datetime, str | None], Handled]] = {
    EventKind.SIGNUP: Funnel._signup,
    EventKind.BOOKING: Funnel._booking,
    EventKind.UNSUBSCRIBE: Funnel._unsubscribe,
    EventKind.EMAIL_STATUS: Funnel._mail_event,
    EventKind.ASSESSMENT: Funnel._start_sequence,
    EventKind.NOSHOW: Funnel._start_sequence,
    EventKind.POSTCALL: Funnel._start_sequence,
    EventKind.ONBOARDING: Funnel._onboarding,
    EventKind.UNSUBSCRIBE_LINK: Funnel._unsubscribe_link,
}
