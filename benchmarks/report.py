"""The campaign report read from Notion: requests and time, for campaigns of growing size.

    .venv/bin/python benchmarks/report.py [--contacts 100 1000 3000]

Each size seeds the in-process fake of Notion's API (tests/fakes/fake_notion.py) through the adapter's own writes:
N contacts, one nurture record each with emails 1 to 3 sent, and four logged attempts each (two sent, one skipped,
one failed). The report then reads it in a fresh NotionLedger, paced as in production (one request every 0.34 s at
most: Notion's three a second), on a simulated clock, so the printed "paced" time is what the requests cost against
Notion's limit, and "compute" is the real time of everything else (paging, decoding, counting, rendering HTML).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from christmas_tasks.domain.catalogue import load_catalogue  # noqa: E402
from christmas_tasks.domain.records import AnalyticsEntry, ContactUpdate, EmailLedger, SentMark, SequenceRecord  # noqa: E402
from christmas_tasks.entrypoints.app import NOTION_REPORT_INTERVAL  # noqa: E402
from christmas_tasks.usecases.report import read_report, render_html  # noqa: E402
from tests.fakes.fake_notion import FakeNotion, ledger_on_fake  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, nargs="+", default=[100, 1000, 3000])
    for contacts in parser.parse_args().contacts:
        measure(contacts)


if __name__ == "__main__":
    main()
