"""A campaign ledger built the way production builds it: real events through the use cases, real sequences sent
(on the in-memory ports, with an exact clock). Its contents are what the report tests count."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from christmas_tasks.domain.errors import ProviderError
from christmas_tasks.domain.records import ContactUpdate, OutgoingEmail, SendResult
from christmas_tasks.domain.vocabulary import BookingStatus
from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings
from christmas_tasks.usecases.funnel import Funnel
from christmas_tasks.usecases.ports import Ledger
from tests.conftest import EXAMPLES, NOW
from tests.fakes.memory import InMemoryLedger, InMemoryMailer, handle

H = timedelta(hours=1)
DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)
CAMPAIGN = "Christmas 2025"
NURTURE = "5day"


def body(name: str, email: str, **changes: Any) -> dict[str, Any]:
    raw = json.loads((EXAMPLES / name).read_text())
    if "data" in raw:  # a Resend event: the address is the recipient
        raw["data"]["to"] = [email]
    elif "payload" in raw:  # a Calendly event
        raw["payload"]["email"] = email
    else:
        raw["email"] = email
    return {**raw, **changes}


def key_of(funnel: Funnel, kind: str, name: str, email: str) -> str:
    handled = handle(funnel, kind, body(name, email), NOW)
    assert handled.sequence_key is not None
    return handled.sequence_key


class MailerWithOutages(InMemoryMailer):
    """The in-memory mailer, made to fail as Resend does in an outage while `down`."""

    down = False

    def send(self, message: OutgoingEmail) -> SendResult:
        if self.down:
            raise ProviderError("Resend", 503, "service unavailable", retryable=True)
        return super().send(message)


def build_ledger(ledger: Ledger | None = None) -> Ledger:
    """Eight contacts over three days (NOW, NOW + 1 day, NOW + 2 days):

    - ann: nurture emails 2 and 3 sent on day 0; she books a call; email 4 is skipped (stopped: booked); email 2
      is sent again by a duplicate execution on day 1 and refused by the ledger (already sent);
    - bob: email 2 sent on day 0; his out-of-office answers it (an automatic reply: counted apart, stops nothing);
      he unsubscribes; email 3 is skipped on day 1 (unsubscribed);
    - cat: email 2 sent on day 0; it bounces; email 3 is skipped on day 1 (bounced);
    - dan: email 2 fails on day 1 (Resend down) and is not retried (failed);
    - eve: email 2 fails on day 1, then its retry is sent (sent, not failed); she replies to it on day 2 (her nurture
      stops: replied), and the reply's webhook is delivered twice (counted once);
    - fay: no-show email 1 sent on day 0; she pays (onboarding); no-show email 2 is skipped on day 2 (stopped: paid);
    - gus: email 2 sent on day 0; he marks it as spam; email 3 is skipped on day 1 (complained);
    - hal: a person sets his Booking Status to Booked in Notion; email 2 is skipped on day 1 (booked);
    - zed, no contact, replies on day 2 (a colleague the email was forwarded to: a reply to no email).
    """
    ledger = ledger if ledger is not None else InMemoryLedger(SAMPLE_TEMPLATES)
    mailer = MailerWithOutages()
    funnel = build_funnel(Settings.from_env({"TESTING_MODE": "true"}), ledger=ledger, mailer=mailer)
    nurture = {
        name: key_of(funnel, "assessment", "assessment.json", f"{name}@example.com")
        for name in ("ann", "bob", "cat", "dan", "eve", "gus", "hal")
    }
    noshow = key_of(funnel, "noshow", "noshow.json", "fay@example.com")

    funnel.send(nurture["ann"], 2, NOW + H)
    funnel.send(nurture["ann"], 3, NOW + 2 * H)
    funnel.send(nurture["bob"], 2, NOW + H)
    funnel.send(nurture["cat"], 2, NOW + H)
    funnel.send(noshow, 1, NOW + H)
    funnel.send(nurture["gus"], 2, NOW + H)
    reply(funnel, "bob@example.com", NOW + 2 * H, auto_submitted="auto-replied")
    handle(funnel, "booking", body("booking-calendly.json", "ann@example.com"), NOW + 3 * H)
    handle(funnel, "unsubscribe", body("unsubscribe.json", "bob@example.com"), NOW + 3 * H)
    handle(funnel, "email-status", body("email-bounced.json", "cat@example.com"), NOW + 3 * H)
    handle(funnel, "onboarding", body("onboarding.json", "fay@example.com"), NOW + 3 * H)
    complaint = body("email-bounced.json", "gus@example.com", type="email.complained")
    del complaint["data"]["bounce"]
    handle(funnel, "email-status", complaint, NOW + 3 * H)
    # by hand, in Notion
    ledger.contacts.upsert_contact(ContactUpdate("hal@example.com", booking_status=BookingStatus.BOOKED))

    funnel.send(nurture["ann"], 4, NOW + DAY)
    funnel.send(nurture["ann"], 2, NOW + DAY)
    funnel.send(nurture["bob"], 3, NOW + DAY)
    funnel.send(nurture["cat"], 3, NOW + DAY)
    funnel.send(nurture["gus"], 3, NOW + DAY)
    funnel.send(nurture["hal"], 2, NOW + DAY)
    mailer.down = True
    for name in ("dan", "eve"):
        try:
            funnel.send(nurture[name], 2, NOW + DAY)
        except ProviderError:
            pass
    mailer.down = False
    funnel.send(nurture["eve"], 2, NOW + DAY + H)
    funnel.send(noshow, 2, NOW + 2 * DAY)
    for _ in range(2):  # the same reply delivered twice
        reply(funnel, "eve@example.com", NOW + 2 * DAY + H)
    reply(funnel, "zed@example.com", NOW + 2 * DAY + H)
    return ledger


def engage(funnel: Funnel, email: str, sequence: str, number: int, kind: str, at: datetime) -> None:
    """Resend's webhook `email.<kind>` (delivered, delivery_delayed, opened, clicked) about email `number` of the
    contact's `sequence`, handled at `at`: found by the id the ledger kept, else (the website's email 1, sent without
    one) by the tags it was sent with."""
    record = next(r for r in funnel.records(email) if r.sequence == sequence)
    event = body("email-bounced.json", email, type=f"email.{kind}", created_at=at.isoformat())
    del event["data"]["bounce"]
    resend_id = record.emails[number].resend_id
    if resend_id:
        event["data"]["email_id"] = resend_id
    else:
        event["data"]["tags"] = {"sequence": sequence, "email_number": str(number)}
    if kind == "clicked":
        event["data"]["click"] = {"link": "https://example.com/book", "timestamp": at.isoformat()}
    handle(funnel, "email-status", event, at)


def build_engaged_ledger(ledger: Ledger | None = None) -> Ledger:
    """build_ledger's campaign, with what people did with its emails (what the report credits bookings with):

    - every email sent was delivered a minute later, but cat's (bounced); gus's took a delay first;
    - ann opened email 2 and clicked it, then opened email 3 (sent later) without a click: her booking counts for
      email 2, the one she clicked;
    - bob and gus opened email 2 (Apple Mail opens whatever arrives): no booking, and an open credits nothing;
    - fay's payment (day 0) counts for no-show email 1, the last sent to her;
    - eve clicked email 2, replied, and books on day 2: email 2's booking of the last 24 hours;
    - dan (his email 2 failed) books on day 2 too: for the website's email 1, the only one he got; so the best email
      of the day is a tie of one booking each, won by email 2's click rate;
    - hal (booked by hand in Notion) has no booking time: booked, not attributed.
    """
    ledger = build_ledger(ledger)
    funnel = build_funnel(Settings.from_env({"TESTING_MODE": "true"}), ledger=ledger, mailer=InMemoryMailer())
    for record in ledger.sequences.campaign_sequences(CAMPAIGN):
        for number, entry in record.emails.items():
            if entry.sent_at is None or record.email == "cat@example.com":
                continue
            if record.email == "gus@example.com" and number == 2:
                engage(funnel, record.email, record.sequence, number, "delivery_delayed", entry.sent_at + MINUTE)
            engage(funnel, record.email, record.sequence, number, "delivered", entry.sent_at + MINUTE)
    engage(funnel, "ann@example.com", NURTURE, 2, "opened", NOW + H + 5 * MINUTE)
    engage(funnel, "ann@example.com", NURTURE, 2, "clicked", NOW + H + 6 * MINUTE)
    engage(funnel, "ann@example.com", NURTURE, 2, "opened", NOW + H + 30 * MINUTE)  # again: counted once
    engage(funnel, "ann@example.com", NURTURE, 3, "opened", NOW + 2 * H + 5 * MINUTE)
    for name in ("bob", "gus"):
        engage(funnel, f"{name}@example.com", NURTURE, 2, "opened", NOW + H + MINUTE)
    engage(funnel, "eve@example.com", NURTURE, 2, "clicked", NOW + DAY + 2 * H)
    handle(funnel, "booking", body("booking-calendly.json", "eve@example.com"), NOW + 2 * DAY + 4 * H)
    handle(funnel, "booking", body("booking-calendly.json", "dan@example.com"), NOW + 2 * DAY + 6 * H)
    return ledger


def reply(funnel: Funnel, email: str, at: datetime, **changes: Any) -> None:
    """`email` answers the last email it got (the reply's id is its sender's, so each sender's is another reply)."""
    received = {"received_at": at.isoformat(), "email_id": f"reply-of-{email.split('@')[0]}", **changes}
    handle(funnel, "reply", body("reply.json", email, **received), at)
