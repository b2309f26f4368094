"""The campaign report read from Notion: requests and time, for campaigns of growing size; and the report of a
campaign with engagement (deliveries, opens, clicks, bookings, payments) on the local SQLite ledger and in memory.

    .venv/bin/python benchmarks/report.py [--contacts 100 1000 3000] [--engaged 1000 3000] [--skip-notion]

Each size seeds the in-process fake of Notion's API (tests/fakes/fake_notion.py) through the adapter's own writes:
N contacts, one nurture record each with emails 1 to 3 sent, and four logged attempts each (two sent, one skipped,
one failed). The report then reads it in a fresh NotionLedger, paced as in production (one request every 0.34 s at
most: Notion's three a second), on a simulated clock, so the printed "paced" time is what the requests cost against
Notion's limit, and "compute" is the real time of everything else (paging, decoding, counting, rendering HTML).

With engagement (`--engaged`), each size seeds a SQLite file (and the same records in memory) through the stores'
own writes: N contacts in three segments, one nurture record each with emails 1 to 3 sent, the logged attempts as
above; every sent email delivered (1 in 20 delayed first), 3 in 5 opened, 1 in 10 clicked; 1 contact in 5 booked
(half of them in the report's last 24 hours), 1 in 20 paid (an onboarding record). The report is then read, counted
and rendered (text, HTML, JSON), best of five runs. The Notion store keeps no engagement yet, so these sizes are
not read from the Notion fake.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from christmas_tasks.adapters.sqlite import SqliteLedger  # noqa: E402
from christmas_tasks.domain.catalogue import load_catalogue  # noqa: E402
from christmas_tasks.domain.records import (  # noqa: E402
    AnalyticsEntry,
    ContactUpdate,
    EmailLedger,
    EngagementMark,
    SentMark,
    SequenceRecord,
)
from christmas_tasks.domain.vocabulary import BookingStatus, Engagement  # noqa: E402
from christmas_tasks.entrypoints.app import NOTION_REPORT_INTERVAL  # noqa: E402
from christmas_tasks.usecases.ports import Ledger  # noqa: E402
from christmas_tasks.usecases.report import read_report, render, render_html, render_summary  # noqa: E402
from tests.fakes.fake_notion import FakeNotion, ledger_on_fake  # noqa: E402
from tests.fakes.memory import InMemoryLedger  # noqa: E402

CAMPAIGN = "Christmas 2025"
T0 = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)


def seed(contacts: int) -> FakeNotion:
    fake = FakeNotion()
    writer = ledger_on_fake(fake, analytics=True)
    for n in range(contacts):
        email = f"c{n:05d}@example.com"
        writer.contacts.upsert_contact(ContactUpdate(email, first_name=f"C{n}", campaign_status="Nurture Sequence"))
        record, _ = writer.sequences.create_sequence(
            SequenceRecord(
                key=f"christmas-2025|5day|{email}|assessment",
                email=email,
                campaign=CAMPAIGN,
                sequence="5day",
                event_id="assessment",
                first_name=f"C{n}",
                anchor=T0,
                created_at=T0,
                emails={1: EmailLedger(1, T0, "sent", None, "website")},
            ),
            absent=True,
        )
        for number in (2, 3):
            at = T0 + timedelta(days=number - 1)
            writer.sequences.mark_sent(record, SentMark(number, at, f"re_{n}_{number}"))
            writer.sends.log_attempt(AnalyticsEntry(email, f"5-Day E{number}", number, "sent", at, CAMPAIGN, f"re_{n}"))
        writer.sends.log_attempt(
            AnalyticsEntry(email, "5-Day E4", 4, "skipped", T0 + timedelta(days=3), CAMPAIGN, error="booked")
        )
        writer.sends.log_attempt(
            AnalyticsEntry(
                email, "5-Day E5", 5, "failed", T0 + timedelta(days=4), CAMPAIGN, error="Resend answered 503"
            )
        )
    return fake


def measure(contacts: int) -> None:
    started = time.perf_counter()
    fake = seed(contacts)
    seeded = time.perf_counter() - started
    paced = [0.0]

    def sleep(seconds: float) -> None:
        paced[0] += seconds

    reader = ledger_on_fake(
        fake,
        analytics=True,
        min_interval=NOTION_REPORT_INTERVAL,
        sleep=sleep,
        clock=lambda: paced[0] + time.perf_counter(),
    )
    started = time.perf_counter()
    report = read_report(
        reader, campaign=CAMPAIGN, catalogue=load_catalogue(), now=T0 + timedelta(days=6), source="Notion"
    )
    html = render_html(report)
    compute = time.perf_counter() - started
    records = contacts * 2 + contacts * 4
    print(
        f"{contacts:>6} contacts ({records:>6} pages): {report.requests:>4} requests, paced {paced[0]:6.1f} s "
        f"+ compute {compute:5.2f} s; {report.sent} sent, {report.skipped} skipped, {report.failed} failed; "
        f"HTML {len(html) / 1024:.0f} KB (seeding {seeded:.0f} s)"
    )


SEGMENTS = ("CRITICAL", "URGENT", "OPTIMIZE")
REPORT_AT = T0 + timedelta(days=6)
RUNS = 5  # the best of five: the report takes milliseconds, a timer's noise as much


def seed_engaged(ledger: Ledger, contacts: int) -> None:
    """`contacts` contacts with engagement, bookings and payments (the module's docstring says which)."""
    H = timedelta(hours=1)
    for n in range(contacts):
        email = f"c{n:05d}@example.com"
        booked_at = None
        if n % 5 == 0:  # half of the bookings in the report's last 24 hours
            booked_at = REPORT_AT - (12 * H if n % 10 == 0 else timedelta(days=3))
        ledger.contacts.upsert_contact(
            ContactUpdate(
                email, first_name=f"C{n}", campaign_status="Pre-Call Prep" if booked_at else "Nurture Sequence",
                segment=SEGMENTS[n % 3], booking_status=BookingStatus.BOOKED if booked_at else None,
                booked_at=booked_at,
            )
        )
        record, _ = ledger.sequences.create_sequence(
            SequenceRecord(
                key=f"christmas-2025|5day|{email}|assessment", email=email, campaign=CAMPAIGN, sequence="5day",
                event_id="assessment", first_name=f"C{n}", anchor=T0, created_at=T0, segment=SEGMENTS[n % 3],
                emails={1: EmailLedger(1, T0, "sent", None, "website")},
            ),
            absent=True,
        )
        for number in (2, 3):
            at = T0 + timedelta(days=number - 1)
            record = ledger.sequences.mark_sent(record, SentMark(number, at, f"re_{n}_{number}"))
            ledger.sends.log_attempt(AnalyticsEntry(email, f"5-Day E{number}", number, "sent", at, CAMPAIGN, f"re_{n}"))
        ledger.sends.log_attempt(
            AnalyticsEntry(email, "5-Day E4", 4, "skipped", T0 + timedelta(days=3), CAMPAIGN, error="booked")
        )
        failed = AnalyticsEntry(
            email, "5-Day E5", 5, "failed", T0 + timedelta(days=4), CAMPAIGN, error="Resend answered 503"
        )
        ledger.sends.log_attempt(failed)
        for number in (1, 2, 3):
            sent = T0 + timedelta(days=number - 1)
            marks = []
            if (n + number) % 20 == 0:
                marks.append(EngagementMark(number, Engagement.DELIVERY_DELAYED, sent + H / 60))
            marks.append(EngagementMark(number, Engagement.DELIVERED, sent + H / 30))
            if (n + number) % 5 < 3:
                marks.append(EngagementMark(number, Engagement.OPENED, sent + H))
            if (n + number) % 10 == 0:
                marks.append(EngagementMark(number, Engagement.CLICKED, sent + 2 * H, "https://example.com/book"))
            for mark in marks:
                record = ledger.sequences.mark_engagement(record, mark)
        if n % 20 == 1:  # paid: the onboarding event's record
            ledger.sequences.create_sequence(
                SequenceRecord(
                    key=f"christmas-2025|onboarding|{email}|payment", email=email, campaign=CAMPAIGN,
                    sequence="onboarding", event_id="payment", first_name=f"C{n}", anchor=T0 + timedelta(days=4),
                    created_at=T0 + timedelta(days=4),
                ),
                absent=True,
            )


def measure_engaged(contacts: int, ledger: Ledger, name: str) -> None:
    catalogue = load_catalogue()
    started = time.perf_counter()
    seed_engaged(ledger, contacts)
    seeded = time.perf_counter() - started
    best: dict[str, float] = {}
    for _ in range(RUNS):
        started = time.perf_counter()
        report = read_report(ledger, campaign=CAMPAIGN, catalogue=catalogue, now=REPORT_AT, source=name)
        counted = time.perf_counter()
        html = render_html(report)
        rendered = time.perf_counter()
        render(report, "text"), render(report, "json"), render_summary(report)
        done = time.perf_counter()
        for part, seconds in (("report", counted - started), ("html", rendered - counted), ("rest", done - rendered),
                              ("total", done - started)):
            best[part] = min(best.get(part, seconds), seconds)
    outcomes = getattr(report, "outcomes", None)  # None: a report before attribution (the 'before' figure)
    credited = (f"{outcomes.bookings} bookings ({outcomes.bookings_attributed} credited), {outcomes.payments} payments"
                if outcomes is not None else "no attribution")
    ms = {part: f"{seconds * 1000:.0f} ms" for part, seconds in best.items()}
    print(
        f"{contacts:>6} contacts, engaged, {name:<6}: {ms['total']:>7} (read + count {ms['report']}, HTML "
        f"{ms['html']}, text + JSON + summary {ms['rest']}); {report.sent} sent, {credited}; "
        f"HTML {len(html) / 1024:.0f} KB (seeding {seeded:.0f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, nargs="+", default=[100, 1000, 3000])
    parser.add_argument("--engaged", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--skip-notion", action="store_true", help="only the sizes with engagement")
    args = parser.parse_args()
    if not args.skip_notion:
        for contacts in args.contacts:
            measure(contacts)
    for contacts in args.engaged:
        with tempfile.TemporaryDirectory() as folder:
            measure_engaged(contacts, SqliteLedger(Path(folder) / "crm.sqlite3"), "SQLite")
        measure_engaged(contacts, InMemoryLedger(), "memory")


if __name__ == "__main__":
    main()
