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


def reply(funnel: Funnel, email: str, at: datetime, **changes: Any) -> None:
    """`email` answers the last email it got (the reply's id is its sender's, so each sender's is another reply)."""
    received = {"received_at": at.isoformat(), "email_id": f"reply-of-{email.split('@')[0]}", **changes}
    handle(funnel, "reply", body("reply.json", email, **received), at)
