"""Calendly's and Resend's own bodies through the webhooks, on Kestra's engine, with the live backends (NotionLedger,
ResendMailer, Resend's received-email API) against the fakes served on loopback: the flows, the step and the package
as in production, only the providers stand in.

- Calendly's `invitee.canceled` reaches the cancellation flow: the contact's booking is Cancelled, its time zone
  Calendly's, and the rebook sequence is in Notion.
- Resend's `email.received` reaches the reply flow: the package reads the reply's text through Resend's API, stops
  the lead's running nurture (`replied`) and forwards the reply to REPLY_INBOX with the lead as Reply-To, once.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import EXAMPLES
from tests.engine.process import engine, fakes_credentials, live_settings
from tests.fakes.fake_notion import FakeNotion, ledger_on_fake
from tests.fakes.fake_resend import FakeResend
from tests.fakes.served import served

JANE = "jane.doe@example.com"
INBOX = "inbox@business.example"
TERMINAL = {"SUCCESS", "FAILED", "KILLED", "WARNING", "CANCELLED"}


def sample(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def _handled(http: httpx.Client, kestra: Any, flow: str, body: dict[str, Any], timeout: float = 180) -> dict[str, Any]:
    """Post `body` to `flow`'s webhook; its execution once ended."""
    answer = http.post(kestra.webhook(flow), json=body)
    answer.raise_for_status()
    execution_id = answer.json()["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution: dict[str, Any] = http.get(f"{kestra.api}/executions/{execution_id}").json()
        if execution["state"]["current"] in TERMINAL:
            assert execution["state"]["current"] == "SUCCESS", execution
            return execution
        time.sleep(0.25)
    raise AssertionError(f"{flow} execution {execution_id} did not end within {timeout} s")


def test_calendlys_cancellation_and_resends_reply_through_the_webhooks(tmp_path: Path) -> None:
    notion, resend = FakeNotion(), FakeResend()
    # emails planned days ahead: none is due while the test runs
    deadline = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()
    with served(notion) as notion_url, served(resend) as resend_url:
        settings = {
            **live_settings(notion_url, resend_url, fakes_credentials()),
            "ENV_CAMPAIGN_DEADLINE": deadline,
            "ENV_REPLY_INBOX": INBOX,
        }
        with engine(tmp_path, settings) as kestra, httpx.Client(timeout=30) as http:
            ledger = ledger_on_fake(notion)

            _handled(http, kestra, "cancellation", sample("cancellation-calendly.json"))
            contact = ledger.contacts.get_contact(JANE)
            assert contact is not None
            assert (contact.booking_status, contact.campaign_status) == ("Cancelled", "Rebook Follow-Up")
            assert contact.timezone == "America/Vancouver"
            [rebook] = ledger.sequences.sequences_for(JANE, "Christmas 2025", ("rebook",))
            assert rebook.running

            received = resend.receive(text="Thursday works for me.", html="<p>Thursday works for me.</p>")
            body = sample("reply-resend.json")
            body["data"] = {**body["data"], "email_id": received}
            _handled(http, kestra, "reply", body)
            _handled(http, kestra, "reply", body)  # Resend delivers a webhook at least once

            [rebook] = ledger.sequences.sequences_for(JANE, "Christmas 2025", ("rebook",))
            assert rebook.stopped_reason == "replied"
            forwards = [email for email in resend.emails.values() if email["to"] in (INBOX, [INBOX])]
            assert len(forwards) == 1, forwards
            forward = forwards[0]
            assert JANE in str(forward.get("reply_to")), forward
            assert "Thursday works for me." in str(forward.get("text")), forward
