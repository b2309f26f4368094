"""A lead's reply (SPEC §2, the `reply` row): the handler of the reply kind (registered in
christmas_tasks/usecases/handlers.py, `HANDLERS`), its record in the send log, and the forward to the business's
inbox (REPLY_INBOX) through the Mailer port."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from christmas_tasks.domain.errors import ConfigError
from christmas_tasks.domain.events import ReplyEvent
from christmas_tasks.domain.keys import campaign_slug, forward_key
from christmas_tasks.domain.planning import iso_utc
from christmas_tasks.domain.records import AnalyticsEntry, Contact, OutgoingEmail, SequenceRecord
from christmas_tasks.domain.rendering import html_to_text
from christmas_tasks.domain.vocabulary import ReplyStatus, StopReason
from christmas_tasks.usecases.outcomes import Action, AlertStatus, Handled

if TYPE_CHECKING:
    from christmas_tasks.usecases.funnel import Funnel

log = logging.getLogger(__name__)


def forward(funnel: Funnel, event: ReplyEvent, now: datetime, alert: Callable[[str], AlertStatus]) -> Handled:
    """A reply (SPEC §2): a person's stops every running sequence of the contact, is recorded, forwarded to the
    business's inbox (REPLY_INBOX) and alerted; an automatic one, or one from an address that is no contact, is
    recorded and forwarded only.

    Safe to run again on the same reply (a retried step, a redelivered webhook): a stopped sequence stays stopped
    with its first reason, the forward's idempotency key (the received email's) sends it once, and the report counts
    a reply once by its reference. The record is written before the forward and a failure of either fails the run
    after both were tried, so a reply whose forward fails for good is still in the ledger, and one whose record fails
    still reaches the inbox; the step's retries then finish what failed."""
    inbox = funnel.reply_inbox
    if not inbox:
        raise ConfigError(
            "REPLY_INBOX is not set: a reply is forwarded there, so it cannot be handled (nothing was written)"
        )
    automatic = event.automatic
    contact = funnel.ledger.contacts.get_contact(event.email)
    records = funnel.records(event.email)
    last = _last_email(funnel, records)
    stopped: tuple[str, ...] = ()
    if automatic is None:
        sequences = funnel.ledger.sequences
        stopped = tuple(sequences.stop_sequence(r, StopReason.REPLIED).key for r in records if r.running)
    record_failure = _record_reply(funnel, event, last, now)
    forwarded = funnel.mailer.send(_forward(funnel, event, inbox))
    alerted = None
    if automatic is None and contact is not None:
        alerted = alert(_reply_alert(event, contact, last, stopped, inbox))
    if record_failure is not None:
        raise record_failure
    if automatic is not None:
        action, reason = Action.AUTO_REPLY_FORWARDED, f"an automatic reply ({automatic}): forwarded, nothing stopped"
    elif contact is None:
        action, reason = Action.REPLY_FORWARDED, "a reply from an address that is no contact: forwarded"
    else:
        action, reason = Action.REPLY_FORWARDED, f"a reply: {len(stopped)} running sequence(s) stopped; forwarded"
    return Handled(
        event.kind, event.email, action, reason, stopped=stopped, alert=alerted, provider_id=event.email_id,
        automatic=automatic, last_email=last.name if last else None, forwarded_to=inbox,
        forward_id=forwarded.message_id,
    )


@dataclass(frozen=True)
class _LastEmail:
    """The last email the funnel (or the website) sent a contact in this campaign."""

    sequence: str
    number: int
    template: str | None  # None: an email the catalogue does not schedule (the nurture's first, the website's)
    sent_at: datetime

    @property
    def name(self) -> str:
        return f"{self.sequence} #{self.number}"


def _last_email(funnel: Funnel, records: list[SequenceRecord]) -> _LastEmail | None:
    sent = [(e.sent_at, r.sequence, n) for r in records for n, e in r.emails.items() if e.sent_at is not None]
    if not sent:
        return None
    sent_at, sequence, number = max(sent)
    template = next((e.template for e in funnel.catalogue.get(sequence).emails if e.number == number), None)
    return _LastEmail(sequence, number, template, sent_at)


def _record_reply(funnel: Funnel, event: ReplyEvent, last: _LastEmail | None, now: datetime) -> Exception | None:
    """The reply in the send log, where the report counts it; the failure, if any, to raise once it is forwarded."""
    status = ReplyStatus.REPLIED if event.automatic is None else ReplyStatus.AUTO_REPLIED
    entry = AnalyticsEntry(
        event.email,
        (last.template or "") if last else "",
        last.number if last else 0,
        status,
        event.received_at or now,
        funnel.campaign.name,
        resend_id=event.reference(),
        error=event.automatic,
    )
    try:
        funnel.ledger.sends.log_attempt(entry)
    except Exception as exc:
        log.error("the reply of %s (%s) could not be recorded; forwarding it anyway", event.email, event.reference())
        return exc
    return None


_MESSAGE_ID = re.compile(r"^<[^<>\s]+>$")


def _forward(funnel: Funnel, event: ReplyEvent, inbox: str) -> OutgoingEmail:
    """The reply as it reaches the business's inbox: from the campaign's sender (the only address it may send from),
    Reply-To the lead, with the lead's own subject, text and HTML. It threads with the lead's message when its
    Message-ID is well formed, and says it was sent automatically (RFC 3834), so the inbox's own out-of-office does
    not answer the lead."""
    text = event.text or (html_to_text(event.html) if event.html else "") or "(the reply has no text)"
    body = event.html or f'<pre style="white-space: pre-wrap">{html.escape(text)}</pre>'
    headers = {"Auto-Submitted": "auto-generated"}
    if event.message_id and _MESSAGE_ID.match(event.message_id):
        headers.update({"In-Reply-To": event.message_id, "References": event.message_id})
    return OutgoingEmail(
        sender=funnel.email_from,
        to=inbox,
        subject=event.subject or "(no subject)",
        html=body,
        text=text,
        idempotency_key=forward_key(event.email, event.reference()),
        reply_to=event.email,
        headers=headers,
        tags={"campaign": campaign_slug(funnel.campaign.name), "forward": "reply"},
    )


def _reply_alert(
    event: ReplyEvent, contact: Contact, last: _LastEmail | None, stopped: tuple[str, ...], inbox: str
) -> str:
    who = contact.first_name or "A contact"
    business = f" ({contact.business_name})" if contact.business_name else ""
    if last is None:
        after = "No email of this campaign was sent to them yet."
    else:
        template = f" ({last.template})" if last.template else " (sent by the website)"
        after = f"The last email they were sent: {last.name}{template}, {iso_utc(last.sent_at)}."
    return (
        f"Reply from {who}{business} <{event.email}>: \"{event.subject or '(no subject)'}\". {after} "
        f"{len(stopped)} sequence(s) stopped; forwarded to {inbox}."
    )
