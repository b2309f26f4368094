"""The report's engagement, attribution and conversion, on the sample campaign with what people did with its emails
(tests/report/ledger.py, build_engaged_ledger): per email delivered, delayed, opened (a weak signal), clicked, the
click rate, replies, the bookings and payments credited; conversion per segment; the JSON's keys; the HTML's table
and chart; the same on SQLite."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from christmas_tasks.adapters.sqlite import SqliteLedger
from christmas_tasks.domain.catalogue import load_catalogue
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES
from christmas_tasks.usecases.ports import Ledger
from christmas_tasks.usecases.report import CampaignReport, read_report, render, render_summary
from tests.conftest import NOW
from tests.fakes.memory import InMemoryLedger
from tests.report.ledger import CAMPAIGN, DAY, build_engaged_ledger

LATER = NOW + 3 * DAY
COLUMNS = ("sent", "delivered", "delivery_delayed", "opened", "clicked", "click_rate", "replied", "bookings",
           "payments")


def report_of(reader: Ledger, since: date | None = None) -> CampaignReport:
    return read_report(reader, campaign=CAMPAIGN, catalogue=load_catalogue(), now=LATER, since=since, source="memory")


def table(report: CampaignReport) -> dict[str, tuple[Any, ...]]:
    """The emails sent or credited, with COLUMNS."""
    return {
        f"{row.sequence} #{row.number}": tuple(getattr(row, column) for column in COLUMNS)
        for row in report.emails
        if row.sent or row.bookings or row.payments
    }


@pytest.fixture(scope="module")
def ledger() -> InMemoryLedger:
    ledger = build_engaged_ledger()
    assert isinstance(ledger, InMemoryLedger)
    return ledger


def test_each_email_with_what_people_did_and_the_bookings_it_brought(ledger: InMemoryLedger) -> None:
    report = report_of(ledger)
    assert table(report) == {
        # cat's bounced; no open of the website's email was reported; dan's booking (day 2) is its
        "5day #1": (7, 6, 0, 0, 0, 0.0, 0, 1, 0),
        # cat's bounced; gus's was delayed, then delivered; ann, bob and gus opened (ann twice: once);
        # ann and eve clicked; eve replied; ann's and eve's bookings
        "5day #2": (5, 4, 1, 3, 2, 0.4, 1, 2, 0),
        "5day #3": (1, 1, 0, 1, 0, 0.0, 0, 0, 0),  # ann opened it after her click on email 2: her booking is email 2's
        "noshow #1": (1, 1, 0, 0, 0, 0.0, 0, 0, 1),  # fay's payment
    }
    assert row_of(report, "5day #4").click_rate is None, "none sent: no rate"
    assert {column: report.total(column) for column in ("delivered", "delivery_delayed", "opened", "clicked")} == {
        "delivered": 12, "delivery_delayed": 1, "opened": 4, "clicked": 2
    }
    assert report.click_rate == pytest.approx(2 / 14)
    outcomes = report.outcomes
    assert (outcomes.bookings, outcomes.bookings_attributed, outcomes.bookings_to_no_email) == (3, 3, 0)
    assert (outcomes.payments, outcomes.payments_attributed, outcomes.undated_bookings) == (1, 1, 2)  # hal, fay
    assert outcomes.bookings_last_24_hours == 2  # eve's and dan's
    best = outcomes.best_email
    assert best is not None and (best.sequence, best.number, best.bookings, best.click_rate) == ("5day", 2, 1, 0.4)


def row_of(report: CampaignReport, name: str) -> Any:
    return next(row for row in report.emails if f"{row.sequence} #{row.number}" == name)


def test_since_counts_the_engagement_of_the_emails_sent_and_the_bookings_made_from_that_day(
    ledger: InMemoryLedger,
) -> None:
    report = report_of(ledger, since=date(2025, 12, 2))
    assert table(report) == {
        "5day #1": (0, 0, 0, 0, 0, None, 0, 1, 0),  # dan's booking, for an email sent before the period
        "5day #2": (1, 1, 0, 0, 1, 1.0, 1, 1, 0),  # eve's: sent, delivered and clicked on 2 December; her booking
    }
    outcomes = report.outcomes
    assert (outcomes.bookings, outcomes.payments) == (2, 0), "ann's booking and fay's payment were on 1 December"


def test_conversion_per_segment(ledger: InMemoryLedger) -> None:
    conversion = {row.segment: (row.assessed, row.booked, row.paid, row.booked_rate) for row in
                  report_of(ledger).conversion}
    assert conversion == {
        "CRITICAL": (7, 4, 0, pytest.approx(4 / 7)),  # ann, hal (by hand), eve, dan
        "URGENT": (0, 0, 0, None),  # every segment has its row
        "OPTIMIZE": (0, 0, 0, None),
        "(none)": (1, 1, 1, 1.0),  # fay, a no-show who paid, never assessed
    }


def test_the_same_ledger_on_sqlite_gives_the_same_report(ledger: InMemoryLedger, tmp_path: Path) -> None:
    sqlite = build_engaged_ledger(SqliteLedger(tmp_path / "crm.sqlite3", SAMPLE_TEMPLATES))
    for since in (None, date(2025, 12, 2)):
        assert report_of(sqlite, since).as_json() == report_of(ledger, since).as_json()


def test_the_json_keys_are_stable(ledger: InMemoryLedger) -> None:
    data: dict[str, Any] = json.loads(render(report_of(ledger), "json"))
    assert list(data) == ["campaign", "generated_at", "since", "source", "requests", "contacts", "sequences",
                          "emails", "engagement", "attribution", "conversion", "deliverability", "notes"]
    assert list(data["emails"]["by_email"][0]) == [
        "sequence", "email_number", "template", "sent", "skipped", "held", "failed", "replied", "delivered",
        "delivery_delayed", "opened", "clicked", "click_rate", "bookings_attributed", "payments_attributed",
    ]
    assert data["emails"]["by_email"][1] == {
        "sequence": "5day", "email_number": 2, "template": "5-Day E2", "sent": 5, "skipped": 1, "held": 0,
        "failed": 1, "replied": 1, "delivered": 4, "delivery_delayed": 1, "opened": 3, "clicked": 2,
        "click_rate": 0.4, "bookings_attributed": 2, "payments_attributed": 0,
    }
    assert data["engagement"] == {"delivered": 12, "delivery_delayed": 1, "opened": 4, "clicked": 2,
                                  "click_rate": 0.1429}
    assert data["attribution"] == {
        "window_days": 7,
        "bookings": 3,
        "bookings_attributed": 3,
        "bookings_to_no_email": 0,
        "undated_bookings": 2,
        "payments": 1,
        "payments_attributed": 1,
        "payments_to_no_email": 0,
        "last_24_hours": {
            "bookings": 2,
            "best_email": {"sequence": "5day", "email_number": 2, "template": "5-Day E2", "bookings_attributed": 1,
                           "click_rate": 0.4},
        },
    }
    assert data["conversion"][0] == {"segment": "CRITICAL", "assessed": 7, "booked": 4, "booked_rate": 0.5714,
                                     "paid": 0, "paid_rate": 0.0}
    assert [row["segment"] for row in data["conversion"]] == ["CRITICAL", "URGENT", "OPTIMIZE", "(none)"]


def test_an_empty_ledger_has_every_key_with_nothing_to_credit() -> None:
    data = report_of(InMemoryLedger()).as_json()
    assert data["attribution"]["last_24_hours"] == {"bookings": 0, "best_email": None}
    assert data["engagement"] == {"delivered": 0, "delivery_delayed": 0, "opened": 0, "clicked": 0, "click_rate": None}
    assert [row["assessed"] for row in data["conversion"]] == [0, 0, 0]


def test_the_text_report_and_the_summary(ledger: InMemoryLedger) -> None:
    report = report_of(ledger)
    lines = render(report, "text").splitlines()
    header = ("  Engagement       sent  delivered  delayed  opened*  clicked  click rate  replied  bookings  "
              "payments")
    at = lines.index(header)
    assert lines[at + 1:at + 7] == [
        "  5day #1             7          6        0        0        0        0.0%        0         1         0",
        "  5day #2             5          4        1        3        2       40.0%        1         2         0",
        "  5day #3             1          1        0        1        0        0.0%        0         0         0",
        "  noshow #1           1          1        0        0        0        0.0%        0         0         1",
        "  total              14         12        1        4        2       14.3%        1         3         1",
        "  * opened: a weak signal: Apple Mail Privacy Protection opens every message it receives.",
    ]
    assert ("  Bookings in all: 3, 3 after an email, 0 with no email in the 7 days before; 2 more booked by status "
            "alone (no booking time: not attributed)") in lines
    assert "  CRITICAL         7        4 (57.1%)         0 (0.0%)" in lines
    summary = render_summary(report)
    assert summary.splitlines()[-2:] == [
        "Bookings in all: 3 (3 after an email) · payments 1 (1 after an email)",
        "Best email of the day: 5day #2 (5-Day E2), 1 booking of the 2 in the last 24 hours, click rate 40.0%",
    ]


def test_the_html_has_the_engagement_table_and_the_bookings_chart_escaped(ledger: InMemoryLedger) -> None:
    html = render(report_of(ledger), "html")
    assert '<svg id="bookings-chart" role="img" aria-label="Bookings by email"' in html
    assert 'data-label="5day #2" data-count="2"' in html and 'data-label="5day #1" data-count="1"' in html
    assert '<table id="engagement">' in html and '<table id="conversion">' in html
    assert "<th class=\"number\">opened (weak signal)</th>" in html and "Apple Mail Privacy Protection" in html
    assert "Best email of the day: 5day #2 (5-Day E2)" in html
    assert "<script" not in html

    # a sequence type typed by hand in Notion, credited with dan's booking: its name is escaped wherever shown
    odd = InMemoryLedger()
    odd.contacts.contacts = dict(ledger.contacts.contacts)
    odd.sequences.records = {
        key: replace(record, sequence='<img src=x onerror="alert(1)">')
        if record.email == "dan@example.com" else record
        for key, record in ledger.sequences.records.items()
    }
    odd.sends.entries = list(ledger.sends.entries)
    html = render(report_of(odd), "html")
    assert "<img" not in html
    assert 'data-label="&lt;img src=x onerror=&quot;alert(1)&quot;&gt; #1" data-count="1"' in html


def test_without_a_booking_the_chart_says_so() -> None:
    html = render(report_of(InMemoryLedger()), "html")
    assert 'id="bookings-chart-empty"' in html and 'id="bookings-chart"' not in html
    assert "Best email of the day: none (no booking in the last 24 hours)" in html
