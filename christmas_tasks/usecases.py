"""Use cases: handle one webhook event; send one scheduled email (SPEC §2, §6).

They take the ports as arguments and return plain results; the clock is an argument too.
"""

from __future__ import annotations

import hashlib
import logging
import re
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
    parse_event,
)
from christmas_tasks.planning import Catalogue, SendWindow, iso_utc, plan, require_aware
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
from christmas_tasks.routing import route
from christmas_tasks.variables import Campaign, build_variables, stored_variables, variable_names

log = logging.getLogger(__name__)

# Which sequences an event stops, and why (SPEC §6: booking stops the nurture; paying stops
# no-show and post-call). Any call-related event means the contact booked a call.
_BOOKED = ("5day",)
_PAID = ("noshow", "postcall")
_ALL = ("5day", "noshow", "postcall", "onboarding")
_SEQUENCE_OF = {
    AssessmentEvent: "5day",
    NoShowEvent: "noshow",
    PostCallEvent: "postcall",
    OnboardingEvent: "onboarding",
}
_BOOKING_STATUS = {
    BookingEvent: "Booked",
    NoShowEvent: "No-Show",
    PostCallEvent: "Call Held",
    OnboardingEvent: "Client",
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

    def handle(self, kind: str, body: Any, now: datetime, run_id: str | None = None) -> dict[str, Any]:
        """Validate, then apply one event. A rejected event raises InvalidInput and writes nothing.

        `run_id` names the run (the Kestra execution) handling it. The same event handled again plans
        nothing, except by the run that created its sequence: that is a retry of a run that may have
        died before its plan was scheduled, so it gets the unsent emails again (sending checks the
        ledger and reuses the idempotency key, so nothing goes out twice).
        """
        now = require_aware(now, "now")
        event = parse_event(kind, body, now)
        result: dict[str, Any] = {"event": event.kind, "email": event.email, "plan": []}
        if isinstance(event, OnboardingEvent) and not event.payment_confirmed:
            result.update(action="nothing to start", reason="payment_confirmed is false: no onboarding starts")
            return result
        if isinstance(event, UnsubscribeEvent):
            self._token_matches(event, body)
            return {**result, **self._suppress(event.email, "unsubscribed")}
        if isinstance(event, EmailStatusEvent):
            status = event.suppression
            if status is None:
                what = f"{event.type} ({event.bounce_type} bounce)" if event.bounce_type else event.type
                if event.type != "email.delivered":
                    log.warning(
                        "%s for %s (Resend id %s): recorded, not suppressed: %s",
                        what,
                        event.email,
                        event.email_id,
                        event.detail or "no detail",
                    )
                return {
                    **result,
                    "action": "recorded",
                    "reason": f"{what}: the address is not suppressed",
                    "resend_id": event.email_id,
                    "detail": event.detail,
                }
            return {
                **result,
                **self._suppress(event.email, status),
                "resend_id": event.email_id,
                "detail": event.detail,
            }
        if isinstance(event, SignupEvent):
            contact = self.crm.upsert_contact(
                ContactUpdate(
                    email=event.email,
                    first_name=event.first_name,
                    business_name=event.business_name,
                    # never move a contact already further down the funnel back to "Signed Up"
                    initial_campaign_status="Signed Up",
                )
            )
            return {**result, "action": "contact recorded", "campaign_status": contact.campaign_status}
        if isinstance(event, BookingEvent):
            self.crm.upsert_contact(
                ContactUpdate(
                    email=event.email,
                    first_name=event.first_name,
                    business_name=event.business_name,
                    campaign_status="Pre-Call Prep",
                    booking_status="Booked",
                )
            )
            stopped = self._stop(event.email, _BOOKED, "booked")
            return {**result, "action": "booking recorded", "stopped": stopped}
        return {**result, **self._start_sequence(event, now, run_id)}

    def _start_sequence(self, event: Event, now: datetime, run_id: str | None) -> dict[str, Any]:
        sequence = _SEQUENCE_OF[type(event)]
        definition = self.catalogue.get(sequence)
        first_name = str(getattr(event, "first_name", ""))
        business_name = getattr(event, "business_name", None)
        routed = route(event.red_systems, event.orange_systems) if isinstance(event, AssessmentEvent) else None
        segment = routed.segment.value if routed else None
        score = event.assessment_score if isinstance(event, AssessmentEvent) else None
        stopped: list[str] = []
        if type(event) in _BOOKING_STATUS:
            stopped += self._stop(event.email, _BOOKED, "booked")
        if isinstance(event, OnboardingEvent):
            stopped += self._stop(event.email, _PAID, "paid")
        contact = self.crm.upsert_contact(
            ContactUpdate(
                email=event.email,
                first_name=first_name,
                business_name=business_name,
                campaign_status=definition.contact_status,
                booking_status=_BOOKING_STATUS.get(type(event)),
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
        record, created = self.crm.create_sequence(
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
            )
        )
        out: dict[str, Any] = {"sequence": sequence, "sequence_key": key, "created": created, "stopped": stopped}
        if routed:
            out.update(segment=segment, priority=routed.priority, readiness_zone=routed.readiness_zone)
        retry = not created and run_id is not None and record.created_by == run_id
        if not created and not retry:
            out.update(action="already handled", plan=[])
            return out
        if contact.suppressed:
            stopped_record = self.crm.stop_sequence(record, contact.email_status)
            out.update(action=f"contact is {contact.email_status}: nothing scheduled", plan=[])
            out["stopped"] = [*stopped, stopped_record.key]
            return out
        planned = plan(
            definition,
            anchor,
            now,
            testing=self.testing,
            already_sent=record.sent_numbers(),
            window=self.window,
        )
        out.update(
            action="sequence started" if created else "retry of the run that started it: unsent emails planned again",
            plan=[{"sequence_key": key, **item.as_json()} for item in planned] if record.running else [],
        )
        if routed and routed.alert and created:
            out["alert"] = self._alert(event, key)
        return out

    def _alert(self, event: Event, key: str) -> str:
        if self.alerter is None:
            return "not configured"
        name = getattr(event, "first_name", "")
        business = getattr(event, "business_name", None) or "no business name"
        text = f"CRITICAL lead: {name} ({business}) <{event.email}> finished the assessment. Sequence {key}."
        try:
            return "sent" if self.alerter.alert(text) else "failed"
        except Exception:  # an alert never fails the funnel
            log.warning("the CRITICAL-lead alert raised; ignored", exc_info=True)
            return "failed"

    def _token_matches(self, event: UnsubscribeEvent, body: Any) -> None:
        """An unsubscribe carrying the link's token must carry the right one (links can't be forged)."""
        token = body.get("token") if isinstance(body, dict) else None
        if token is not None and str(token) != self.campaign.unsubscribe_token(event.email):
            raise InvalidInput("unsubscribe event", [Problem("token", "does not match this email address")])

    def _suppress(self, email: str, status: str) -> dict[str, Any]:
        self.crm.upsert_contact(
            ContactUpdate(
                email=email,
                email_status=status,
                campaign_status="Unsubscribed" if status == "unsubscribed" else None,
            )
        )
        stopped = self._stop(email, _ALL, status)
        return {"action": f"contact {status}", "stopped": stopped}

    def _stop(self, email: str, sequences: tuple[str, ...], reason: str) -> list[str]:
        records = self.crm.sequences_for(email, self.campaign.name, sequences)
        return [self.crm.stop_sequence(record, reason).key for record in records if record.running]

    # ------------------------------------------------------------------ sending

    def send(self, key: str, number: int, now: datetime, scheduled_for: datetime | None = None) -> dict[str, Any]:
        """Send email `number` of the sequence `key`, with every check of SPEC §6, in order."""
        now = require_aware(now, "now")
        at = require_aware(scheduled_for, "scheduled_for") if scheduled_for else now
        slug, sequence, email = parse_sequence_key(key)
        if slug != campaign_slug(self.campaign.name):
            raise InvalidInput("sequence key", [Problem("sequence_key", f"belongs to campaign {slug!r}, not this one")])
        definition = self.catalogue.get(sequence)
        item = definition.email(number)
        out: dict[str, Any] = {"sequence_key": key, "email_number": number, "template": item.template}
        # 1. the record
        record = self.crm.find_sequence(email, self.campaign.name, sequence, key)
        if record is None:
            raise NotFound(f"no sequence record with key {key!r}")
        # 2. reasons not to send, recorded
        reason = self._skip_reason(record, number)
        if reason:
            if reason in ("unsubscribed", "bounced", "complained", "suppressed", "booked") and record.running:
                self.crm.stop_sequence(record, reason)
            self._log(record, item.template, number, "skipped", now, error=reason)
            return {**out, "status": "skipped", "reason": reason}
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
                iso_utc(now + IDEMPOTENCY_WINDOW),
                number,
            )
            raise
        # 6. analytics (when configured)
        self._log(record, item.template, number, "sent", now, resend_id=result.message_id)
        return {
            **out,
            "status": "sent",
            "resend_id": result.message_id,
            "duplicate": result.duplicate,
            "sent_at": iso_utc(now),
        }

    def _skip_reason(self, record: SequenceRecord, number: int) -> str | None:
        if number in record.sent_numbers():
            return "already sent"
        contact = self.crm.get_contact(record.email)
        if contact is not None and contact.suppressed:
            return contact.email_status
        if record.stopped_reason:
            return f"sequence stopped: {record.stopped_reason}"
        if record.sequence == "5day" and contact is not None and contact.booking_status not in (None, "", "Not Booked"):
            return "booked"
        if record.completed:
            return "sequence completed"
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
