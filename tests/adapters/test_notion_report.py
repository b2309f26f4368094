"""The report read from Notion (tests/fakes/fake_notion.py, reached straight through its WSGI transport: these
tests count requests and time them, which a cassette cannot): the same ledger as on the in-memory ports gives the
same report; every data source is paged through; the requests are paced under Notion's three a second and
counted."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import pytest

from christmas_tasks.adapters.notion.api import NotionApiError
from christmas_tasks.adapters.notion.schema import Analytics, Contacts
from christmas_tasks.adapters.template_files import load_templates
from christmas_tasks.domain.catalogue import load_catalogue
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES
from christmas_tasks.usecases.ports import Ledger
from christmas_tasks.usecases.report import CampaignReport, read_report
from tests.conftest import NOW
from tests.fakes.fake_notion import FakeNotion, ledger_on_fake
from tests.report.ledger import DAY, build_engaged_ledger

CAMPAIGN = "Christmas 2025"
LATER = NOW + 3 * DAY


def report_of(reader: Ledger, since: date | None = None) -> CampaignReport:
    return read_report(reader, campaign=CAMPAIGN, catalogue=load_catalogue(), now=LATER, since=since, source="x")


def comparable(report: CampaignReport) -> dict[str, object]:
    return {**report.as_json(), "requests": None}


def test_the_same_ledger_on_notion_gives_the_same_report() -> None:
    fake = FakeNotion()
    writer = ledger_on_fake(fake, analytics=True)
    for template in load_templates(SAMPLE_TEMPLATES).values():
        writer.templates.put_template(template)
    build_engaged_ledger(writer)  # engagement and bookings too: what the report credits, as Notion keeps it
    memory = build_engaged_ledger()
    for since in (None, date(2025, 12, 2)):
        reader = ledger_on_fake(fake, analytics=True)
        before = len(fake.requests)
        report = report_of(reader, since)
        assert comparable(report) == comparable(report_of(memory, since))
        # 3 databases.retrieve (each data source resolved once: contacts, sequences, analytics) + 1 query each
        assert report.requests == len(fake.requests) - before == 6


def test_without_an_analytics_database_no_attempt_is_read() -> None:
    fake = FakeNotion()
    report = report_of(ledger_on_fake(fake, analytics=False))
    assert report.attempts_recorded is False and report.requests == 4
    assert not any("analytics" in path for _, path in fake.requests)


def test_every_page_is_read_paced_under_three_requests_a_second() -> None:
    fake = FakeNotion()
    for n in range(250):
        fake.seed("contacts", {Contacts.EMAIL: f"c{n:03d}@example.com", Contacts.FIRST_NAME: f"C{n}"})
    for n in range(120):
        fake.seed(
            "analytics",
            {
                Analytics.EMAIL: f"c{n:03d}@example.com",
                Analytics.TEMPLATE: "5-Day E2",
                Analytics.EMAIL_NUMBER: 2,
                Analytics.STATUS: "failed",
                Analytics.SENT_DATE: NOW,
                Analytics.CAMPAIGN: CAMPAIGN,
            },
        )
    now = [0.0]
    starts: list[float] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    def clock() -> float:
        return now[0]

    reader = ledger_on_fake(fake, analytics=True, min_interval=0.34, sleep=sleep, clock=clock)
    original = reader.api.raw

    def timed(what, request):  # type: ignore[no-untyped-def]
        result = original(what, request)
        starts.append(now[0])
        now[0] += 0.05  # each request takes 50 ms
        return result

    reader.api.raw = timed  # type: ignore[method-assign]
    report = report_of(reader)
    assert report.contacts == 250 and report.failed == 120
    queries = [path for method, path in fake.requests if path.endswith("/query")]
    assert len(queries) == 3 + 1 + 2, "contacts: 3 pages of 100; sequences: 1; analytics: 2"
    assert report.requests == len(starts) == 3 + 6
    assert all(later - earlier >= 0.34 - 1e-9 for earlier, later in pairwise(starts))


def test_a_data_source_past_notions_result_limit_is_read_whole_from_the_last_creation_time() -> None:
    fake = FakeNotion()
    fake.query_result_limit = 150  # Notion's is 10,000: the same rule, without 10,000 pages
    for n in range(400):
        fake.seed("contacts", {Contacts.EMAIL: f"c{n:03d}@example.com", Contacts.FIRST_NAME: f"C{n}"})
    reader = ledger_on_fake(fake)
    contacts = reader.contacts.all_contacts()
    assert sorted(c.email for c in contacts) == [f"c{n:03d}@example.com" for n in range(400)], "each once"
    queries = [path for _, path in fake.requests if path.endswith("/query")]
    # 150 + 150 + 100 new pages: each window is read whole (2 pages of up to 100), then restarted from the minute of
    # the last page read (that page read twice, skipped the second time)
    assert len(queries) == 2 + 2 + 2


def test_more_pages_in_one_minute_than_notion_returns_is_an_error_naming_it() -> None:
    fake = FakeNotion()
    fake.query_result_limit = 150
    for n in range(200):
        fake.seed("contacts", {Contacts.EMAIL: f"c{n:03d}@example.com"})
    for page in fake.pages_of("contacts"):
        page["created_time"] = "2025-12-01T10:00:00.000Z"  # a bulk import: one minute for every page
    with pytest.raises(NotionApiError) as caught:
        ledger_on_fake(fake).contacts.all_contacts()
    assert "read every contact: more than 10,000 pages were created in the same minute" in str(caught.value)
