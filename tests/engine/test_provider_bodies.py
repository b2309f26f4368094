"""The senders' own bodies, signed as each signs them, through the public edge (`christmas-tasks serve`) to Kestra's
engine, with the live backends (NotionLedger, ResendMailer, Resend's received-email API) against the fakes served on
loopback: the edge, the flows, the step and the package as in production; only Notion and Resend stand in.

- Calendly's one subscription: its `invitee.created`, `invitee.canceled` and `invitee_no_show.created` bodies, signed
  with the subscription's key, reach the booking, cancellation and no-show flows; a wrong signature, a stale one and
  a captured request replayed later are refused (401) and nothing is written.
- Resend, signed the Svix way: `email.bounced` reaches email-status (the address suppressed); an email's delivery,
  open and click are recorded against it once each, a type this project does not read is accepted, and a domain's
  event is answered 200 and not forwarded; `email.received` the
  reply flow, whose step reads the reply through Resend's API, stops the lead's rebook sequence (`replied`) and
  forwards it to REPLY_INBOX once, though Resend delivered the webhook twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from christmas_tasks.domain.records import SentMark
from tests.conftest import EXAMPLES
from tests.engine.process import RunningEdge, RunningEngine, edge, engine, fakes_credentials, free_port, live_settings
from tests.fakes.fake_notion import FakeNotion, ledger_on_fake
from tests.fakes.fake_resend import FakeResend
from tests.fakes.served import served

JANE = "jane.doe@example.com"
INBOX = "inbox@business.example"
TERMINAL = {"SUCCESS", "FAILED", "KILLED", "WARNING", "CANCELLED"}


def sample(name: str, email: str = JANE) -> bytes:
    return (EXAMPLES / name).read_text(encoding="utf-8").replace(JANE, email).encode()


def calendly_signed(body: bytes, key: str, at: float | None = None) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    digest = hmac.new(key.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"Calendly-Webhook-Signature": f"t={stamp},v1={digest}", "Content-Type": "application/json"}


def svix_signed(body: bytes, secret: str, message_id: str) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "svix-id": message_id,
        "svix-timestamp": str(int(now.timestamp())),
        "svix-signature": Webhook(secret).sign(message_id, now, body),
        "Content-Type": "application/json",
    }


def ended(http: httpx.Client, kestra: RunningEngine, execution_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution: dict[str, Any] = http.get(f"{kestra.api}/executions/{execution_id}").json()
        if execution["state"]["current"] in TERMINAL:
            assert execution["state"]["current"] == "SUCCESS", execution
            return execution
        time.sleep(0.25)
    raise AssertionError(f"execution {execution_id} did not end within {timeout} s")


def through_the_edge(
    http: httpx.Client, kestra: RunningEngine, front: RunningEdge, route: str, body: bytes, headers: dict[str, str],
    flow: str,
) -> dict[str, Any]:
    answer = http.post(f"{front.url}{route}", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    assert answer.json()["forwarded"] == flow
    return ended(http, kestra, answer.json()["execution_id"])


def test_calendlys_and_resends_signed_bodies_reach_their_flows_through_the_edge(tmp_path: Path) -> None:
    notion, resend = FakeNotion(), FakeResend()
    deadline = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()  # no email falls due during the test
    edge_port = free_port()
    credentials = fakes_credentials()
    with served(notion) as notion_url, served(resend) as resend_url:
        settings = {
            **live_settings(notion_url, resend_url, credentials),
            "ENV_UNSUBSCRIBE_URL": "",
            "ENV_EDGE_PUBLIC_URL": f"http://127.0.0.1:{edge_port}",
            "ENV_CAMPAIGN_DEADLINE": deadline,
            "ENV_REPLY_INBOX": INBOX,
        }
        with (
            engine(tmp_path, settings) as kestra,
            edge(tmp_path, kestra, port=edge_port, unsubscribe_secret=credentials["UNSUBSCRIBE_SECRET"]) as front,
            httpx.Client(timeout=30) as http,
        ):
            ledger = ledger_on_fake(notion)

            # Calendly: one route, three flows, by the event's type
            key = front.calendly_key
            booking = sample("booking-calendly.json")
            through_the_edge(http, kestra, front, "/hooks/calendly", booking, calendly_signed(booking, key), "booking")
            assert ledger.contacts.get_contact(JANE).booking_status == "Booked"  # type: ignore[union-attr]
            cancelled = sample("cancellation-calendly.json")
            through_the_edge(http, kestra, front, "/hooks/calendly", cancelled, calendly_signed(cancelled, key),
                             "cancellation")
            contact = ledger.contacts.get_contact(JANE)
            assert contact is not None
            assert (contact.booking_status, contact.timezone) == ("Cancelled", "America/Vancouver")
            [rebook] = ledger.sequences.sequences_for(JANE, "Christmas 2025", ("rebook",))
            assert rebook.running
            missed = sample("noshow-calendly.json", "sam@example.com")
            through_the_edge(http, kestra, front, "/hooks/calendly", missed, calendly_signed(missed, key), "noshow")
            assert ledger.contacts.get_contact("sam@example.com").booking_status == "No-Show"  # type: ignore[union-attr]

            # refused at the edge, nothing forwarded: a wrong key, no signature, and a request captured ten minutes ago
            # and replayed now (its signature, stale past Calendly's three minutes)
            stranger = sample("booking-calendly.json", "stranger@example.com")
            refused = [
                calendly_signed(stranger, "not-the-subscriptions-key"),
                {"Content-Type": "application/json"},
                calendly_signed(stranger, key, at=time.time() - 600),
            ]
            for headers in refused:
                answer = http.post(f"{front.url}/hooks/calendly", content=stranger, headers=headers)
                assert answer.status_code == 401, answer.text
            assert ledger.contacts.get_contact("stranger@example.com") is None

            # Resend, signed the Svix way: a bounce to email-suppression (applied at once, never queued)
            bounced = sample("email-bounced.json", "sam@example.com")
            through_the_edge(http, kestra, front, "/hooks/resend", bounced,
                             svix_signed(bounced, front.resend_secret, "msg_bounce"), "email-suppression")
            assert ledger.contacts.get_contact("sam@example.com").email_status == "bounced"  # type: ignore[union-attr]

            # an email's engagement (issue 24): Jane's first rebook email went out; Resend reports its delivery, open
            # and click, a type this project does not read, and a domain's event, which is never an email's
            [rebook] = ledger.sequences.sequences_for(JANE, "Christmas 2025", ("rebook",))
            sent_at = datetime.now(UTC).replace(microsecond=0)
            ledger.sequences.mark_sent(rebook, SentMark(1, sent_at, "0b5c3e9a-1111-4222-8333-444455556666"))
            for n, (kind, more) in enumerate((("delivered", {}), ("opened", {}), ("opened", {}),
                                               ("clicked", {"click": {"link": "https://cal.example/rebook"}}),
                                               ("sent", {}))):
                event = json.loads(sample("email-bounced.json"))
                event["type"] = f"email.{kind}"
                event["data"] = {key: value for key, value in event["data"].items() if key != "bounce"}
                event["data"].update(email_id="0b5c3e9a-1111-4222-8333-444455556666", **more)
                body = json.dumps(event).encode()
                through_the_edge(http, kestra, front, "/hooks/resend", body,
                                 svix_signed(body, front.resend_secret, f"msg_engagement_{n}"), "email-status")
            [rebook] = ledger.sequences.sequences_for(JANE, "Christmas 2025", ("rebook",))
            assert sorted(rebook.emails[1].engaged) == ["clicked", "delivered", "opened"]
            assert rebook.emails[1].clicked_link == "https://cal.example/rebook"
            domain = json.dumps({"type": "domain.updated", "created_at": "2025-12-02T09:00:00Z",
                                 "data": {"id": "d91cd9bd", "name": "example.com"}}).encode()
            answer = http.post(f"{front.url}/hooks/resend", content=domain,
                               headers=svix_signed(domain, front.resend_secret, "msg_domain"))
            assert answer.status_code == 200 and answer.json()["forwarded"] is False, answer.text

            # and a lead's reply, delivered twice: read through Resend's API, rebook stopped, forwarded once
            received = resend.receive(text="Thursday works for me.", html="<p>Thursday works for me.</p>")
            reply = json.loads(sample("reply-resend.json"))
            reply["data"] = {**reply["data"], "email_id": received}
            body = json.dumps(reply).encode()
            headers = svix_signed(body, front.resend_secret, "msg_reply")
            through_the_edge(http, kestra, front, "/hooks/resend", body, headers, "reply")
            again = http.post(f"{front.url}/hooks/resend", content=body, headers=headers)
            assert again.status_code == 200 and again.json().get("duplicate") is True, again.text

            [rebook] = ledger.sequences.sequences_for(JANE, "Christmas 2025", ("rebook",))
            assert rebook.stopped_reason == "replied"
            forwards = [email for email in resend.emails.values() if email["to"] in (INBOX, [INBOX])]
            assert len(forwards) == 1, forwards
            assert JANE in str(forwards[0].get("reply_to")) and "Thursday works for me." in str(forwards[0]["text"])
