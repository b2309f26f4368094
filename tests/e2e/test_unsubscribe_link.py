"""The unsubscribe link of a sent email, followed on the stack: the public edge's page (SPEC §10), in front of Kestra's
own `unsubscribe-link` flow. Read from the email itself (its List-Unsubscribe header, its body link), so these run on
the local target, which keeps an outbox and runs the edge: a GET or a HEAD (a link scanner's) changes nothing; a
reader in Chromium sees the page, presses its one button and reads the confirmation; a mailbox provider's one-click
POST (RFC 8058), form-urlencoded or multipart, unsubscribes at once; the emails still to come are then skipped with
the reason in the ledger."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest

pytest.importorskip("pytest_playwright", reason="the e2e extra is not installed (pip install -e '.[e2e]')")

from playwright.sync_api import Page, expect

from tests.e2e.harness import NAMESPACE, handle_outputs, sample, step_result
from tests.e2e.pages import EmailView
from tests.e2e.stack import Stack, wait_until

pytestmark = pytest.mark.e2e
CONFIRMATION = "You are unsubscribed"


def first_email(e2e: Stack, email: str) -> EmailMessage:
    if e2e.config.live or not e2e.kestra.edge_url:
        pytest.skip("the link is read from the email in the outbox, which only the local target (with its edge) keeps")
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


def the_link(e2e: Stack, email: str) -> str:
    link = str(first_email(e2e, email)["List-Unsubscribe"]).strip("<>")
    assert link.startswith(f"{e2e.kestra.edge_url}/unsubscribe?"), link
    return link


def assert_unsubscribed_and_the_rest_skipped(e2e: Stack, email: str, key: str) -> None:
    # the page answers once Kestra has taken the event (not after the events queued before it): recorded a moment
    # on, the contact's status first, then its sequences stopped, in the same step
    wait_until(f"{email}'s sequence stopped", lambda: e2e.sequence(email, key).stopped_reason or None, 60)
    contact = e2e.contact(email)
    assert contact is not None and contact.email_status == "unsubscribed"
    assert e2e.sequence(email, key).stopped_reason == "unsubscribed"
    sends = e2e.kestra.wait_for_sends(key, 4, timeout=180)
    skipped = [s for s in sends if step_result(s, "send")["status"] == "skipped"]
    assert len(skipped) == 3, "emails 3 to 5"
    assert [m["tags"]["email_number"] for m in e2e.outbox(email)] == ["2"]


@pytest.mark.parametrize("encoding", ["form-urlencoded", "multipart"])
def test_a_one_click_post_to_a_sent_emails_link_unsubscribes_at_once(e2e: Stack, encoding: str) -> None:
    email, key = started_nurture(e2e, f"one-click-{encoding}")
    link = the_link(e2e, email)
    one_click = (
        {"content": b"List-Unsubscribe=One-Click", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}
        if encoding == "form-urlencoded"
        else {"files": {"List-Unsubscribe": (None, "One-Click")}}
    )
    answer = httpx.post(link, timeout=120, **one_click)  # type: ignore[arg-type]
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html"), answer.text
    assert CONFIRMATION in answer.text and email in answer.text
    assert_unsubscribed_and_the_rest_skipped(e2e, email, key)


def test_a_get_or_a_head_of_the_link_changes_nothing(e2e: Stack) -> None:
    """What a mail gateway's link scanner does: fetch every link. The contact is untouched; the page only asks."""
    email, key = started_nurture(e2e, "scanner")
    link = the_link(e2e, email)
    before = len(e2e.client.list_executions(NAMESPACE, "unsubscribe-link"))
    with httpx.Client(timeout=30) as http:
        assert http.head(link).status_code == 200
        page = http.get(link)
    assert page.status_code == 200 and "<form" in page.text and "Unsubscribe?" in page.text
    assert e2e.contact(email).email_status == "ok"  # type: ignore[union-attr]
    assert e2e.sequence(email, key).stopped_reason is None
    assert len(e2e.client.list_executions(NAMESPACE, "unsubscribe-link")) == before, "nothing reached the flow"


def test_a_reader_opens_the_link_in_chromium_presses_the_button_and_reads_the_confirmation(
    e2e: Stack, page: Page
) -> None:
    email, key = started_nurture(e2e, "click")
    html = first_email(e2e, email).get_body(("html",))
    assert html is not None
    view = EmailView(page, reachable=e2e.kestra.edge_url)
    view.open(html.get_content())
    view.follow(view.unsubscribe_link())
    expect(page.get_by_role("heading", name="Unsubscribe?")).to_be_visible()
    expect(page.get_by_text(email)).to_be_visible()
    assert e2e.contact(email).email_status == "ok", "opening the page alone unsubscribes nobody"  # type: ignore[union-attr]
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name=CONFIRMATION)).to_be_visible(timeout=120_000)
    assert page.evaluate("document.scripts.length") == 0, "the pages run no script"
    assert_unsubscribed_and_the_rest_skipped(e2e, email, key)
