"""The throughput the providers' rate limits allow, from the measured call counts (issue 7).

Notion allows about 3 requests/s per integration and Resend about 2 requests/s per team; each sent
email costs its Notion calls (measured by benchmarks/notion_calls.py, warm cache, analytics off and on)
and one Resend call. The slower of the two bounds the rate, whatever Kestra's concurrency.

Run: .venv/bin/python benchmarks/throughput.py [--contacts 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from notion_calls import measure

NOTION_PER_SECOND = 3.0
RESEND_PER_SECOND = 2.0
EARLIER_PER_EMAIL = 4  # the earlier system: about 4 Notion calls per email


def bound(notion_calls_per_email: float) -> tuple[float, str]:
    notion = NOTION_PER_SECOND / notion_calls_per_email
    resend = RESEND_PER_SECOND / 1
    return (notion, "Notion") if notion < resend else (resend, "Resend")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1000, help="emails in one day's batch (one per contact)")
    contacts = parser.parse_args().contacts
    rows = [("earlier system", float(EARLIER_PER_EMAIL))]
    for label, analytics in (("this system, analytics off", False), ("this system, analytics on", True)):
        emails = measure(analytics, cached=True)["emails"]
        rows.append((label, statistics.mean(row["calls"] for row in emails.values())))
    print(
        f"Limits: Notion {NOTION_PER_SECOND:g} req/s, Resend {RESEND_PER_SECOND:g} req/s; batch of {contacts} emails\n"
    )
    print(f"{'':<30}{'Notion calls/email':>20}{'emails/s':>10}{'bound by':>10}{'batch time':>12}")
    for label, calls in rows:
        rate, by = bound(calls)
        minutes = contacts / rate / 60
        print(f"{label:<30}{calls:>20.1f}{rate:>10.2f}{by:>10}{minutes:>10.1f} min")


if __name__ == "__main__":
    main()
