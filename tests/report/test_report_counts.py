"""The report's numbers, on a ledger built by running real sequences through the use cases (tests/report/ledger.py):
sent, skipped for each reason, failed, a retried failure, a duplicate the ledger refused, a bounce, an
unsubscribe. The same ledger on SQLite gives the same report."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from christmas_tasks.adapters.sqlite import SqliteLedger
from christmas_tasks.domain.catalogue import load_catalogue
from christmas_tasks.domain.errors import InvalidInput
from christmas_tasks.domain.records import AnalyticsEntry, Contact
from christmas_tasks.domain.vocabulary import CampaignStatus
from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings
from christmas_tasks.usecases.ports import Ledger
from christmas_tasks.usecases.report import (
    CampaignReport,
    build_report,
    parse_since,
    read_report,
    render,
    render_summary,
)
from christmas_tasks.usecases.report.model import EmailCounts
from tests.conftest import NOW
from tests.fakes.memory import InMemoryLedger, InMemoryMailer, handle
from tests.report.ledger import DAY, body, build_ledger

CAMPAIGN = "Christmas 2025"
LATER = NOW + 3 * DAY
CATALOGUE = load_catalogue()


def report_of(reader: Ledger, since: date | None = None) -> CampaignReport:
    return read_report(reader, campaign=CAMPAIGN, catalogue=CATALOGUE, now=LATER, since=since, source="memory")


def by_email(report: CampaignReport) -> dict[str, tuple[int, int | None, int | None]]:
    return {f"{row.sequence} #{row.number}": (row.sent, row.skipped, row.failed) for row in report.emails}


@pytest.fixture
def ledger() -> InMemoryLedger:
    ledger = build_ledger()
    assert isinstance(ledger, InMemoryLedger)
    return ledger


def test_every_count_of_a_ledger_built_through_the_use_cases(ledger: InMemoryLedger) -> None:
    report = report_of(ledger)
    assert report.contacts == 8
    assert report.by_campaign_status == {
        **{str(status): 0 for status in CampaignStatus},  # every status has its row, reached or not
        "Signed Up": 0,
        "Nurture Sequence": 5,
        "Pre-Call Prep": 1,
        "No-Show Recovery": 0,
        "Post-Call Follow-Up": 0,
        "Onboarding": 1,
        "Unsubscribed": 1,
    }
    assert report.by_segment == {"CRITICAL": 7, "(none)": 1}
    assert report.by_email_status == {"ok": 5, "unsubscribed": 1, "bounced": 1, "complained": 1, "suppressed": 0}
    sequences = {row.sequence: (row.started, row.running, row.completed, row.stopped) for row in report.sequences}
    every_sequence = {name: (0, 0, 0, {}) for name in load_catalogue().sequences}  # each has its row, started or not
    assert sequences == {
        **every_sequence,
        "5day": (7, 1, 0, {"booked": 2, "bounced": 1, "complained": 1, "replied": 1, "unsubscribed": 1}),
        "noshow": (1, 0, 0, {"paid": 1}),
        "postcall": (0, 0, 0, {}),
        "onboarding": (1, 1, 0, {}),
    }
    emails = by_email(report)
    assert emails["5day #1"] == (7, 0, 0)  # the website's first email, in the ledger
    # dan failed; eve failed, then her retry was sent; ann's duplicate refused; hal booked (by hand in Notion)
    assert emails["5day #2"] == (5, 1, 1)
    assert emails["5day #3"] == (1, 3, 0)  # ann sent; bob unsubscribed, cat bounced, gus complained
    assert emails["5day #4"] == (0, 1, 0)  # ann booked
    assert emails["noshow #1"] == (1, 0, 0)
    assert emails["noshow #2"] == (0, 1, 0)  # fay paid
    assert all(counts == (0, 0, 0) for name, counts in emails.items() if name.startswith(("postcall", "onboarding")))
    assert (report.sent, report.skipped, report.failed) == (14, 6, 1)
    assert report.skip_reasons == {
        "booked": 1,
        "bounced": 1,
        "complained": 1,
        "sequence stopped: booked": 1,
        "sequence stopped: paid": 1,
        "unsubscribed": 1,
    }
    assert report.duplicates_stopped == 1
    # eve answered email 2 (her reply delivered twice, counted once); zed, no contact, answered none; bob's
    # out-of-office is counted apart
    assert (report.replies, report.auto_replies, report.replies_to_no_email) == (2, 1, 1)
    assert {name: row.replied for name, row in rows_of(report).items() if row.replied} == {"5day #2": 1}
    assert report.emailed == 8
    assert (report.bounced.count, report.complained.count, report.unsubscribed.count) == (1, 1, 1)
    assert report.bounced.rate == pytest.approx(1 / 8) and report.complained.rate == pytest.approx(1 / 8)
    assert report.sends_per_day == (
        (date(2025, 12, 1), 13),
        (date(2025, 12, 2), 1),
        (date(2025, 12, 3), 0),
        (date(2025, 12, 4), 0),
    )
    assert report.notes == ()


def rows_of(report: CampaignReport) -> dict[str, EmailCounts]:
    return {f"{row.sequence} #{row.number}": row for row in report.emails}


def test_since_counts_what_started_and_was_attempted_from_that_day(ledger: InMemoryLedger) -> None:
    report = report_of(ledger, since=date(2025, 12, 2))
    assert (report.replies, report.auto_replies) == (2, 0), "bob's out-of-office came on 1 December"
    assert report.contacts == 8, "contacts are as they are now"
    assert all(row.started == 0 for row in report.sequences), "every sequence started on 1 December"
    assert (report.sent, report.skipped, report.failed) == (1, 6, 1)
    assert by_email(report)["5day #2"] == (1, 1, 1)
    assert report.duplicates_stopped == 1
    assert report.emailed == 1 and report.bounced.rate == 0, "only eve was emailed from 2 December"
    assert report.sends_per_day[0] == (date(2025, 12, 2), 1)


def test_the_same_ledger_on_sqlite_gives_the_same_report(ledger: InMemoryLedger, tmp_path: Path) -> None:
    sqlite = build_ledger(SqliteLedger(tmp_path / "crm.sqlite3", SAMPLE_TEMPLATES))
    assert isinstance(sqlite, SqliteLedger)
    assert report_of(sqlite).as_json() == report_of(ledger).as_json()


def test_an_empty_ledger_gives_a_report_of_zeros() -> None:
    report = report_of(InMemoryLedger())
    assert report.contacts == 0 and report.sent == 0 and report.skipped == 0 and report.failed == 0
    assert report.emailed == 0 and report.bounced.rate is None and report.sends_per_day == ()
    assert report.notes == ("the ledger is empty: no contact and no sequence yet",)
    for form in ("text", "json", "html"):
        assert render(report, form)
    assert "0 sent" in render_summary(report)


def test_a_day_with_only_failures(ledger: InMemoryLedger) -> None:
    day = date(2025, 12, 2)
    only_failures = InMemoryLedger()
    only_failures.contacts.contacts = dict(ledger.contacts.contacts)
    only_failures.sequences.records = dict(ledger.sequences.records)
    only_failures.sends.entries = [e for e in ledger.sends.entries if e.status == "failed"]
    report = read_report(only_failures, campaign=CAMPAIGN, catalogue=CATALOGUE, now=LATER, since=day, source="memory")
    assert (report.skipped, report.failed) == (0, 1), "eve's failure was retried and sent: only dan's counts"
    assert report.skip_reasons == {}
    assert "1 failed" in render_summary(report)


def test_a_partial_ledger_is_counted_with_notes_not_an_error(ledger: InMemoryLedger) -> None:
    second_page = replace(ledger.contacts.contacts["ann@example.com"], ref="a second page")
    contacts = [*ledger.contacts.all_contacts(), second_page]
    sequences = ledger.sequences.campaign_sequences(CAMPAIGN)
    sequences.append(replace(sequences[0], key="typed by hand", sequence="webinar", emails={}))
    odd = [
        AnalyticsEntry("gus@example.com", "Old template", 1, "skipped", NOW, CAMPAIGN, error="booked"),
        AnalyticsEntry("gus@example.com", "", 0, "failed", NOW, CAMPAIGN),
        AnalyticsEntry("gus@example.com", "5-Day E2", 2, "bounced?", NOW, CAMPAIGN),
    ]
    report = build_report(
        campaign=CAMPAIGN,
        catalogue=CATALOGUE,
        contacts=contacts,
        sequences=sequences,
        attempts=[*ledger.sends.entries, *odd],
        now=LATER,
    )
    assert report.contacts == 8
    assert [row.sequence for row in report.sequences][-1] == "webinar"
    assert by_email(report)["(unknown) #1"] == (0, 1, 0)
    assert report.notes == (
        "1 duplicate contact page(s) counted once (merged at the address's next event)",
        "attempts of templates the catalogue does not name: Old template",
        "1 send attempt(s) without an address, template or email number were left out",
        "1 send attempt(s) with a status other than sent, skipped, held or failed were left out",
    )


def test_without_an_analytics_store_skips_and_failures_say_not_recorded(ledger: InMemoryLedger) -> None:
    report = build_report(
        campaign=CAMPAIGN,
        catalogue=CATALOGUE,
        contacts=ledger.contacts.all_contacts(),
        sequences=ledger.sequences.campaign_sequences(CAMPAIGN),
        attempts=None,
        now=LATER,
    )
    assert report.sent == 14 and report.skipped is None and report.failed is None
    assert report.replies is None and rows_of(report)["5day #2"].replied is None
    assert "Replies" not in render(report, "text") and 'data-tile="replies"><b>-</b>' in render(report, "html")
    assert by_email(report)["5day #2"] == (5, None, None)
    assert report.notes[0].startswith("skipped and failed emails are not recorded")
    data = report.as_json()
    assert data["emails"]["skipped"] is None and data["emails"]["attempts_recorded"] is False
    assert "skipped and failed not recorded" in render_summary(report)


def test_the_json_is_stable_for_machines(ledger: InMemoryLedger) -> None:
    data: dict[str, Any] = json.loads(render(report_of(ledger), "json"))
    assert list(data) == [
        "campaign",
        "generated_at",
        "since",
        "source",
        "requests",
        "contacts",
        "sequences",
        "emails",
        "engagement",
        "attribution",
        "conversion",
        "deliverability",
        "notes",
    ]
    assert data["generated_at"] == "2025-12-04T10:00:00Z"
    assert list(data["emails"]) == [
        "attempts_recorded",
        "sent",
        "skipped",
        "held",
        "failed",
        "replied",
        "auto_replied",
        "replies_to_no_email",
        "skip_reasons",
        "duplicates_stopped",
        "by_email",
        "sends_per_day",
    ]
    assert data["deliverability"] == {
        "emailed": 8,
        "bounced": {"count": 1, "rate": 0.125, "mark": "critical"},
        "complained": {"count": 1, "rate": 0.125, "mark": "critical"},
        "unsubscribed": {"count": 1, "rate": 0.125, "mark": None},
    }
    assert data["emails"]["by_email"][1] == {
        "sequence": "5day",
        "email_number": 2,
        "template": "5-Day E2",
        "sent": 5,
        "skipped": 1,
        "held": 0,
        "failed": 1,
        "replied": 1,
        "delivered": 0,  # no engagement in this ledger (tests/report/test_report_engagement.py has some)
        "delivery_delayed": 0,
        "opened": 0,
        "clicked": 0,
        "click_rate": 0.0,
        "bookings_attributed": 0,  # ann's booking counts for email 3, the last sent to her (no click)
        "payments_attributed": 0,
    }
    assert (data["emails"]["replied"], data["emails"]["auto_replied"], data["emails"]["replies_to_no_email"]) == (
        2, 1, 1
    )


def test_the_text_report_is_a_readable_table(ledger: InMemoryLedger) -> None:
    text = render(report_of(ledger), "text")
    lines = text.splitlines()
    assert lines[0] == "Christmas 2025: campaign report, 2025-12-04 10:00 UTC (since the start)"
    assert (
        "  5day               7        1          0        6  (booked 2 · bounced 1 · complained 1 · replied 1 · "
        "unsubscribed 1)" in lines
    )
    assert "  5day #2        5-Day E2                        5        1     0       1        1" in lines
    assert "  Replies: 2 from people (1 to no email of this campaign); 1 automatic, counted apart" in lines
    assert "  bounced          1   12.5%  critical: over 4.0%" in lines
    assert "  complained       1   12.5%  critical: at or over 0.3%" in lines
    assert "  unsubscribed     1   12.5%" in lines
    summary = render_summary(report_of(ledger))
    assert "Emails in all: 14 sent · 6 skipped · 0 held · 1 failed · 2 replied" in summary and len(summary) < 2000
    assert "complained 1 (12.5%, critical: at or over 0.3%)" in summary


def test_held_emails_are_counted_until_they_are_sent_or_skipped() -> None:
    """While the campaign is paused a due email is held (the send log says so); once planned again and run it counts
    as what it became: sent, or skipped (its sequence stopped meanwhile)."""
    ledger = InMemoryLedger(SAMPLE_TEMPLATES)
    funnel = build_funnel(Settings.from_env({"TESTING_MODE": "true"}), ledger=ledger, mailer=InMemoryMailer())
    plans = [handle(funnel, "assessment", body("assessment.json", f"{name}@example.com"), NOW).plan
             for name in ("ann", "bob")]
    funnel.pause(NOW, "a pause", "the command line")
    for plan in plans:
        funnel.send(plan[0].sequence_key, 2, plan[0].send_at, plan[0].send_at)
    report = report_of(ledger)
    assert (rows_of(report)["5day #2"].held, report.held, by_email(report)["5day #2"]) == (2, 2, (0, 0, 0))
    text = render(report, "text")
    assert "  5day #2        5-Day E2                        0        0     2       0        0" in text
    assert report.as_json()["emails"]["held"] == 2 and "2 held" in render_summary(report)
    handle(funnel, "booking", body("booking-calendly.json", "bob@example.com"), NOW + DAY)
    for item in funnel.resume(NOW + DAY, "the command line").plan:
        funnel.send(item.sequence_key, item.email_number, item.send_at, item.send_at)
    report = report_of(ledger)
    assert (rows_of(report)["5day #2"].held, by_email(report)["5day #2"]) == (0, (1, 1, 0))
    assert report.skip_reasons == {"sequence stopped: booked": 1} and report.duplicates_stopped == 0


def test_contact_values_are_escaped_in_the_html(ledger: InMemoryLedger) -> None:
    ledger.contacts.contacts["x@example.com"] = Contact("x@example.com", campaign_status="<script>alert(1)</script>")
    html = render(report_of(ledger), "html")
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("yesterday", "'yesterday' is not a date such as 2026-12-01"),
        ("2025-12-05", "2025-12-05 is after today (UTC)"),
    ],
)
def test_since_must_be_a_day_not_after_today(value: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_since(value, datetime(2025, 12, 4, 23, 0, tzinfo=UTC))
    assert [str(p) for p in caught.value.problems] == [f"since: {problem}"]
