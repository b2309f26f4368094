"""Sending one scheduled email (SPEC §6), every check in order: the record, the reasons not to send (recorded), the
campaign's pause (the email held: christmas_tasks/usecases/campaign.py), the template, the send with its idempotency
key, the ledger, the send log."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from christmas_tasks.domain.errors import InvalidInput, NotFound, Problem, ProviderError, TemplateError
from christmas_tasks.domain.events import stopped_by_booking
from christmas_tasks.domain.keys import campaign_slug, idempotency_key, parse_sequence_key
from christmas_tasks.domain.planning import require_aware
from christmas_tasks.domain.records import AnalyticsEntry, OutgoingEmail, SentMark, SequenceRecord
from christmas_tasks.domain.rendering import check_template, render
from christmas_tasks.domain.variables import build_variables, sequence_variables, stored_values
from christmas_tasks.domain.vocabulary import SUPPRESSION_STOPS, BookingStatus, EmailStatus, LedgerStatus, StopReason
from christmas_tasks.usecases.outcomes import EmailOutcome, SendStatus, SkipReason
from christmas_tasks.usecases.ports import IDEMPOTENCY_WINDOW

if TYPE_CHECKING:
    from christmas_tasks.usecases.funnel import Funnel

log = logging.getLogger(__name__)


def send_email(
    funnel: Funnel, key: str, number: int, now: datetime, scheduled_for: datetime | None = None
) -> EmailOutcome:
    """Send email `number` of the sequence `key`; `scheduled_for`, its planned time, keeps a retry's payload."""
    now = require_aware(now, "now")
    at = require_aware(scheduled_for, "scheduled_for") if scheduled_for else now
    slug, sequence, email = parse_sequence_key(key)
    if slug != campaign_slug(funnel.campaign.name):
        raise InvalidInput("sequence key", [Problem("sequence_key", f"belongs to campaign {slug!r}, not this one")])
    definition = funnel.catalogue.get(sequence)
    item = definition.email(number)
    ledger = funnel.ledger
    # 1. the record
    record = ledger.sequences.find_sequence(email, funnel.campaign.name, sequence, key)
    if record is None:
        raise NotFound(f"no sequence record with key {key!r}")
    # 2. reasons not to send, recorded
    skipped = _skip(funnel, record, number, key, item.template)
    if skipped is not None:
        stop = _stop_reason_of(skipped)
        if stop is not None and record.running:
            ledger.sequences.stop_sequence(record, stop)
        if _held(record, number):  # held while paused and planned again: it waits no more
            ledger.sequences.mark_status(record, number, LedgerStatus.SKIPPED)
        _log(funnel, record, item.template, number, "skipped", now, error=skipped.reason)
        return skipped
    # ... and the campaign paused: the email is held, for the resume to plan again
    held = _hold(funnel, record, number, key, item.template, now)
    if held is not None:
        return held
    # 3. render (a missing/inactive template, an unknown placeholder, or one with neither a value nor a
    # fallback stops here, before sending)
    try:
        template = ledger.templates.get_template(item.template)
        values = build_variables(funnel.campaign, record.email, stored_values(record), at)
        check_template(template, sequence_variables(sequence))  # a fallback for every value it may lack
        rendered = render(template, values)
    except TemplateError as exc:
        _log(funnel, record, item.template, number, "failed", now, error=str(exc))
        raise
    # 4. send, idempotently
    unsubscribe = values["unsubscribe_url"]
    message = OutgoingEmail(
        sender=funnel.email_from,
        to=record.email,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        idempotency_key=idempotency_key(record, number),
        reply_to=funnel.reply_to,
        headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        tags={"campaign": campaign_slug(funnel.campaign.name), "sequence": sequence, "email_number": str(number)},
    )
    try:
        result = funnel.mailer.send(message)
    except ProviderError as exc:
        if exc.status == 409 and _sent_meanwhile(funnel, record, number):
            # a twin execution of this email (a reconcile's plan of it, beside its first) read the ledger before the
            # other's mark and sent first, with another day's dates: another payload under the key, which the mailer
            # refuses. It went out once: skipped, as a later twin would be.
            log.info("email %d of %s: sent meanwhile by another execution; skipped", number, key)
            outcome = EmailOutcome(key, number, item.template, SendStatus.SKIPPED, skip=SkipReason.ALREADY_SENT)
            _log(funnel, record, item.template, number, "skipped", now, error=outcome.reason)
            return outcome
        _log(funnel, record, item.template, number, "failed", now, error=str(exc))
        raise
    except Exception as exc:
        _log(funnel, record, item.template, number, "failed", now, error=str(exc))
        raise
    # 5. the ledger; the last email to go out completes the sequence, whatever its number: under a queue's load an
    # email can run before an earlier one, which a completed sequence would then skip
    numbers = {email.number for email in definition.emails}
    completes = numbers - {number} <= record.sent_numbers()
    mark = SentMark(number, now, result.message_id, "sent", funnel.sent_by, completes=completes)
    try:
        marked = ledger.sequences.mark_sent(record, mark)
        if not completes and not marked.completed and numbers <= marked.sent_numbers():
            # another email of this record went out at the same time, each seeing the other unsent: this one completes
            ledger.sequences.mark_sent(marked, replace(mark, completes=True))
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
    # 6. the send log (where one is kept)
    _log(funnel, record, item.template, number, "sent", now, resend_id=result.message_id)
    return EmailOutcome(
        key, number, item.template, SendStatus.SENT, resend_id=result.message_id, duplicate=result.duplicate,
        sent_at=now,
    )


def _skip(funnel: Funnel, record: SequenceRecord, number: int, key: str, template: str) -> EmailOutcome | None:
    """Why this email must not go out, in SPEC §6's order; None when it may."""

    def skip(reason: SkipReason, detail: str | None = None) -> EmailOutcome:
        return EmailOutcome(key, number, template, SendStatus.SKIPPED, skip=reason, detail=detail)

    if number in record.sent_numbers():
        return skip(SkipReason.ALREADY_SENT)
    # the contact as it is now: read with the record where the backend can (a Notion rollup), else read here
    contact = record.contact if record.contact is not None else funnel.ledger.contacts.get_contact(record.email)
    if contact is not None and contact.suppressed:
        return skip(SkipReason.SUPPRESSED, contact.email_status)
    if record.stopped_reason:
        return skip(SkipReason.STOPPED, record.stopped_reason)
    # a booking set by hand in Notion stops what a booking event stops
    unbooked = (None, "", BookingStatus.NOT_BOOKED, BookingStatus.CANCELLED)
    booked = contact is not None and contact.booking_status not in unbooked
    if booked and record.sequence in stopped_by_booking():
        return skip(SkipReason.BOOKED)
    if record.completed:
        return skip(SkipReason.COMPLETED)
    return None


def _sent_meanwhile(funnel: Funnel, record: SequenceRecord, number: int) -> bool:
    """Whether the ledger marks the email sent now (read again; a failed read says no, and the send fails as it was)."""
    try:
        again = funnel.ledger.sequences.find_sequence(record.email, record.campaign, record.sequence, record.key)
    except Exception:
        log.warning("the ledger could not be read again after the mailer's refusal", exc_info=True)
        return False
    return again is not None and number in again.sent_numbers()


def _held(record: SequenceRecord, number: int) -> bool:
    entry = record.emails.get(number)
    return entry is not None and entry.sent_at is None and entry.status == LedgerStatus.HELD


def _hold(
    funnel: Funnel, record: SequenceRecord, number: int, key: str, template: str, now: datetime
) -> EmailOutcome | None:
    """While the campaign is paused: the email marked held in the ledger (where a resume finds it) and logged as
    held; None when the campaign runs. The state comes with the record where the backend reads it so (Notion: in the
    same query); after the mark it is read again, and a resume in between lets the email go now."""
    campaigns = funnel.ledger.campaigns
    state = record.campaign_state or campaigns.state(funnel.campaign.name)
    if not state.paused:
        return None
    if not _held(record, number):
        funnel.ledger.sequences.mark_status(record, number, LedgerStatus.HELD)
    state = campaigns.state(funnel.campaign.name)
    if not state.paused:
        log.info("email %d of %s: the campaign was resumed as it was held; it is sent now", number, key)
        return None
    outcome = EmailOutcome(key, number, template, SendStatus.HELD, detail=state.reason)
    _log(funnel, record, template, number, "held", now, error=outcome.reason)
    return outcome


def _stop_reason_of(skipped: EmailOutcome) -> StopReason | None:
    """The reason to stop the whole sequence a skip gives: a suppression of a known kind, or a booking."""
    if skipped.skip is SkipReason.BOOKED:
        return StopReason.BOOKED
    if skipped.skip is SkipReason.SUPPRESSED and skipped.detail in SUPPRESSION_STOPS:
        return SUPPRESSION_STOPS[EmailStatus(skipped.detail)]
    return None


def _log(
    funnel: Funnel,
    record: SequenceRecord,
    template: str,
    number: int,
    status: str,
    now: datetime,
    resend_id: str | None = None,
    error: str | None = None,
) -> None:
    try:
        funnel.ledger.sends.log_attempt(
            AnalyticsEntry(record.email, template, number, status, now, record.campaign, resend_id, error)
        )
    except Exception:  # the send log is best effort: the ledger is the record of truth
        log.warning("analytics write failed; ignored", exc_info=True)
