"""The campaign report's HTML file opened in Chromium, as the people running the campaign open it from Kestra's
Outputs tab: the funnel, sends-per-day and bookings-by-email charts are drawn with the ledger's numbers, the tables
and tiles show them (engagement and conversion included), and the file makes no request (no CDN, no font, nothing
at view time). Needs no server. A failed test keeps its screenshot under test-results/playwright/."""

from __future__ import annotations

from datetime import timedelta

import pytest

pytest.importorskip("pytest_playwright", reason="the e2e extra is not installed (pip install -e '.[e2e]')")

from playwright.sync_api import Page, expect

from christmas_tasks.domain.catalogue import load_catalogue
from christmas_tasks.domain.vocabulary import CampaignStatus
from christmas_tasks.usecases.report import read_report, render_html
from tests.conftest import NOW
from tests.e2e.pages import ReportView
from tests.fakes.memory import InMemoryLedger
from tests.report.ledger import build_engaged_ledger, build_ledger

pytestmark = pytest.mark.e2e

FUNNEL = "Contacts by campaign status"
SENDS = "Emails sent per day"
BOOKINGS = "Bookings by email"


def open_report(page: Page, ledger: InMemoryLedger) -> ReportView:
    report = read_report(
        ledger,
        campaign="Christmas 2025",
        catalogue=load_catalogue(),
        now=NOW + timedelta(days=3),
        source="the local SQLite ledger",
    )
    view = ReportView(page)
    view.open(render_html(report))
    return view


def test_the_charts_and_numbers_of_a_real_ledger(page: Page) -> None:
    ledger = build_ledger()
    assert isinstance(ledger, InMemoryLedger)
    view = open_report(page, ledger)

    expect(view.chart(FUNNEL)).to_be_visible()
    expect(view.bars(FUNNEL)).to_have_count(len(CampaignStatus))  # every stage of the funnel, empty ones included
    nurture, pre_call = view.bar(FUNNEL, "Nurture Sequence"), view.bar(FUNNEL, "Pre-Call Prep")
    expect(nurture).to_have_attribute("data-count", "5")
    expect(pre_call).to_have_attribute("data-count", "1")
    nurture_box, pre_call_box = nurture.bounding_box(), pre_call.bounding_box()
    assert nurture_box and pre_call_box and pre_call_box["width"] == pytest.approx(nurture_box["width"] / 5, abs=1)
    expect(view.bar(FUNNEL, "Signed Up")).to_have_attribute("width", "0")

    expect(view.chart(SENDS)).to_be_visible()
    expect(view.bars(SENDS)).to_have_count(4)  # 1 to 4 December
    expect(view.bar(SENDS, "2025-12-01")).to_have_attribute("data-count", "13")
    tall, short = view.bar(SENDS, "2025-12-01").bounding_box(), view.bar(SENDS, "2025-12-02").bounding_box()
    assert tall and short and short["height"] == pytest.approx(tall["height"] / 13, abs=1)

    tiles = {
        name: view.tile(name).inner_text()
        for name in ("contacts", "emails sent", "skipped", "failed", "replies", "bounce rate", "unsubscribe rate")
    }
    assert tiles == {
        "contacts": "8",
        "emails sent": "14",
        "skipped": "6",
        "failed": "1",
        "replies": "2",
        "bounce rate": "12.5%",
        "unsubscribe rate": "12.5%",
    }
    assert view.table_row("emails", "5day #2") == ["5day #2", "5-Day E2", "5", "1", "0", "1", "1"]  # held 0
    stopped = "booked 2, bounced 1, complained 1, replied 1, unsubscribed 1"
    assert view.table_row("sequences", "5day") == ["5day", "7", "1", "0", stopped]
    expect(page.get_by_text("Duplicate sends stopped by the ledger: 1")).to_be_visible()
    assert view.requested == [], f"the report fetched {view.requested}"


def test_engagement_bookings_by_email_and_conversion(page: Page) -> None:
    ledger = build_engaged_ledger()
    assert isinstance(ledger, InMemoryLedger)
    view = open_report(page, ledger)

    expect(view.chart(BOOKINGS)).to_be_visible()
    expect(view.bars(BOOKINGS)).to_have_count(2)  # the emails credited with a booking: the website's 1, and 2
    two, one = view.bar(BOOKINGS, "5day #2"), view.bar(BOOKINGS, "5day #1")
    expect(two).to_have_attribute("data-count", "2")
    expect(one).to_have_attribute("data-count", "1")
    two_box, one_box = two.bounding_box(), one.bounding_box()
    assert two_box and one_box and one_box["width"] == pytest.approx(two_box["width"] / 2, abs=1)

    expect(page.locator("table#engagement th", has_text="opened (weak signal)")).to_be_visible()
    expect(page.get_by_text("Apple Mail Privacy Protection opens every message it receives")).to_be_visible()
    # sent, delivered, delayed, opened, clicked, click rate, replied, bookings, payments
    assert view.table_row("engagement", "5day #2") == [
        "5day #2", "5-Day E2", "5", "4", "1", "3", "2", "40.0%", "1", "2", "0"
    ]
    assert view.table_row("engagement", "noshow #1")[-1] == "1", "fay's payment"
    assert view.table_row("conversion", "CRITICAL") == ["CRITICAL", "7", "4", "57.1%", "0", "0.0%"]
    expect(page.locator("#best-email")).to_have_text(
        "Best email of the day: 5day #2 (5-Day E2), 1 booking of the 2 in the last 24 hours, click rate 40.0%."
    )
    assert (view.tile("click rate").inner_text(), view.tile("bookings").inner_text()) == ("14.3%", "3")
    assert view.requested == [], f"the report fetched {view.requested}"


def test_an_empty_ledger_draws_an_empty_funnel_and_says_nothing_was_sent(page: Page) -> None:
    view = open_report(page, InMemoryLedger())
    expect(view.bars(FUNNEL)).to_have_count(len(CampaignStatus))
    expect(page.get_by_text("No email has been sent in this period.")).to_be_visible()
    expect(page.get_by_text("the ledger is empty")).to_be_visible()
    expect(page.get_by_text("No booking in this period is attributed to an email.")).to_be_visible()
    assert view.requested == []
