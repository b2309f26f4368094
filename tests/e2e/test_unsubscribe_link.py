"""The unsubscribe link of a sent email, followed on the stack: Kestra's own `unsubscribe-link` flow (no website
code needed). Read from the email itself (its List-Unsubscribe header, its body link), so these run on the local
target, which keeps an outbox: a mailbox provider's one-click POST (RFC 8058) and a reader's click in Chromium each
unsubscribe at once, answer one line, and the emails still to come are skipped with the reason in the ledger."""

from __future__ import annotations

import json
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest

pytest.importorskip("pytest_playwright", reason="the e2e extra is not installed (pip install -e '.[e2e]')")

from playwright.sync_api import Page, expect

from tests.e2e.harness import handle_outputs, sample, step_result
from tests.e2e.pages import EmailView
from tests.e2e.stack import Stack, wait_until

pytestmark = pytest.mark.e2e
CONFIRMATION = "You are unsubscribed: Example Consulting will send no more email to {email}."


def first_email(e2e: Stack, email: str) -> EmailMessage:
    if e2e.config.live:
        pytest.skip("the link is read from the email in the outbox, which only the local target keeps")
    entry = wait_until(f"an email to {email} in the outbox", lambda: next(iter(e2e.outbox(email)), None), 90)
    path = Path(e2e.kestra.local_dir) / "outbox" / entry["file"]
    parsed = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def started_nurture(e2e: Stack, tag: str) -> tuple[str, str]:
    """An assessment for a fresh address, handled; (the address, its sequence key)."""
    email = e2e.new_address(tag)
    execution = e2e.handle("assessment", sample("assessment.json", email))
    return email, str(handle_outputs(execution)["result"]["sequence_key"])


def assert_unsubscribed_and_the_rest_skipped(e2e: Stack, email: str, key: str) -> None:
    contact = e2e.contact(email)
    assert contact is not None and contact.email_status == "unsubscribed"
    assert e2e.sequence(email, key).stopped_reason == "unsubscribed"
    sends = e2e.kestra.wait_for_sends(key, 4, timeout=180)
    skipped = [s for s in sends if step_result(s, "send")["status"] == "skipped"]
    assert len(skipped) == 3, "emails 3 to 5"
    assert [m["tags"]["email_number"] for m in e2e.outbox(email)] == ["2"]


def test_a_one_click_post_to_a_sent_emails_link_unsubscribes_at_once(e2e: Stack) -> None:
    e2e.require_key("unsubscribe-link")
    email, key = started_nurture(e2e, "one-click")
    link = str(first_email(e2e, email)["List-Unsubscribe"]).strip("<>")
    assert link.startswith(f"{e2e.base_url}/api/v1/main/executions/webhook/christmas/unsubscribe-link/")
    answer = httpx.post(
        link,
        content=b"List-Unsubscribe=One-Click",
        timeout=120,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    assert json.loads(answer.text) == {"response": CONFIRMATION.format(email=email)}
    assert_unsubscribed_and_the_rest_skipped(e2e, email, key)


def test_a_reader_clicks_the_emails_unsubscribe_link_in_chromium_and_reads_the_confirmation(
    e2e: Stack, page: Page
) -> None:
    e2e.require_key("unsubscribe-link")
    email, key = started_nurture(e2e, "click")
    html = first_email(e2e, email).get_body(("html",))
    assert html is not None
    view = EmailView(page, reachable=e2e.base_url)
    view.open(html.get_content())
    view.follow(view.unsubscribe_link())
    expect(page.locator("body")).to_contain_text(CONFIRMATION.format(email=email), timeout=120_000)
    assert_unsubscribed_and_the_rest_skipped(e2e, email, key)
