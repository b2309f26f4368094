"""The website's funnels in Chromium, followed into Kestra and the records (opt-in: E2E_WEBSITE_URL).

The website (seed note: /en/flows/businessX/dfu/xmas-a01) sends the signup confirmation and email 1
itself and posts the `signup` and `assessment` events to Kestra; so these tests need the Kestra the
website posts to (E2E_KESTRA_URL and its credentials). Selectors: tests/e2e/pages.py (FunnelSite).

- assessment funnel: answers that make a CRITICAL lead, then its Kestra execution and its records
  (segment CRITICAL, email 1 marked as the website's, emails 2-5 scheduled);
- signup funnel: tracking only: the contact is "Signed Up", and this system schedules no email;
- secondary funnels: the results offer the booking call; the events that follow a booking (Calendly's
  booking, then a no-show, a post-call "maybe" or an onboarding) stop the nurture the website started
  and start their own sequence for the same contact.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pytest_playwright", reason="the e2e extra is not installed (pip install -e '.[e2e]')")

from playwright.sync_api import Page, expect

from tests.e2e.harness import handle_outputs, sample
from tests.e2e.kestra import state_of
from tests.e2e.pages import FunnelSite
from tests.e2e.stack import Stack, wait_until

pytestmark = pytest.mark.e2e
# `website` comes first in each test: without one, the tests skip before the stack starts (both are session-wide)

FIRST_NAME = "E2E Tester"
BUSINESS = "E2E Test Salon"
SECONDARY = {  # flow -> (sample body, sequence type, contact status)
    "noshow": ("noshow.json", "noshow", "No-Show Recovery"),
    "postcall": ("postcall.json", "postcall", "Post-Call Follow-Up"),
    "onboarding": ("onboarding.json", "onboarding", "Onboarding"),
}


def take_the_assessment(e2e: Stack, page: Page, website: str, tag: str) -> tuple[FunnelSite, str]:
    """Go through the assessment funnel as a CRITICAL lead; returns the site and the address used."""
    email = e2e.new_address(tag)
    site = FunnelSite(page, website)
    site.open()
    site.sign_up(FIRST_NAME, email, BUSINESS)
    site.answer_as_critical()
    expect(site.critical_result()).to_be_visible()
    return site, email


def nurture_of(e2e: Stack, email: str) -> str:
    """The 5-day sequence key of the assessment execution the website started for `email`."""
    execution = e2e.wait_for_execution_of("assessment", email)
    assert state_of(execution) == "SUCCESS", e2e.kestra.logs(str(execution["id"]))
    return str(handle_outputs(execution)["result"]["sequence_key"])


def test_the_assessment_funnel_makes_a_critical_lead(website: str, e2e: Stack, page: Page) -> None:
    _, email = take_the_assessment(e2e, page, website, "site-assessment")
    key = nurture_of(e2e, email)
    contact = e2e.contact(email)
    assert contact is not None
    assert contact.segment == "CRITICAL" and contact.campaign_status == "Nurture Sequence"
    record = e2e.sequence(email, key)
    assert record.segment == "CRITICAL" and record.first_name == FIRST_NAME
    assert record.emails[1].sent_by == "website", "the website sends email 1 and says so"
    sends = wait_until("the 4 send-email executions of the nurture",
                       lambda: found if len(found := e2e.kestra.sends_for(key)) >= 4 else None, timeout=60)
    assert sorted(int(s["inputs"]["email_number"]) for s in sends) == [2, 3, 4, 5]


def test_the_signup_funnel_is_tracking_only(website: str, e2e: Stack, page: Page) -> None:
    email = e2e.new_address("site-signup")
    site = FunnelSite(page, website)
    site.open()
    site.sign_up(FIRST_NAME, email, BUSINESS)
    expect(site.signed_up()).to_be_visible()
    execution = e2e.wait_for_execution_of("signup", email)
    assert state_of(execution) == "SUCCESS", e2e.kestra.logs(str(execution["id"]))
    assert handle_outputs(execution)["planned"] == 0
    contact = e2e.contact(email)
    assert contact is not None and contact.campaign_status == "Signed Up"
    assert e2e.sequences(email) == []
    assert e2e.sends_for_email(email) == [], "the signup confirmation is the website's: no email from this system"
    assert e2e.outbox(email) == []


@pytest.mark.parametrize("flow", sorted(SECONDARY))
def test_a_secondary_funnel_follows_the_booking(website: str, e2e: Stack, page: Page, flow: str) -> None:
    e2e.require_key("booking")
    e2e.require_key(flow)
    site, email = take_the_assessment(e2e, page, website, f"site-{flow}")
    booking = site.booking_call()
    expect(booking).to_be_visible()
    href = booking.get_attribute("href")
    assert href is None or href.startswith(("https://", "http://")), href
    nurture = nurture_of(e2e, email)

    booked = e2e.handle("booking", sample("booking-calendly.json", email))  # Calendly's invitee.created
    assert state_of(booked) == "SUCCESS", e2e.kestra.logs(str(booked["id"]))
    assert e2e.sequence(email, nurture).stopped_reason == "booked"

    body_file, sequence_type, status = SECONDARY[flow]
    execution = e2e.handle(flow, sample(body_file, email))
    assert state_of(execution) == "SUCCESS", e2e.kestra.logs(str(execution["id"]))
    key = handle_outputs(execution)["result"]["sequence_key"]
    record = e2e.sequence(email, key)
    assert record.sequence == sequence_type and record.running
    contact = e2e.contact(email)
    assert contact is not None and contact.campaign_status == status and contact.segment == "CRITICAL"
