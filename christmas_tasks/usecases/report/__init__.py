"""The campaign report (SPEC §9): what the people running the campaign read every morning.

`counts` turns the ledger into numbers (pure; `sendlog` reads the send log's attempts and replies), in the shape
`model` gives them (with the JSON's stable keys); `text` and `html` render them; `read_report` reads the ledger
through the ledger's stores (its reads: every contact, the campaign's sequences, its send log), the same way on
SQLite and on Notion.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from christmas_tasks.domain.catalogue import Catalogue
from christmas_tasks.domain.deliverability import Thresholds
from christmas_tasks.domain.errors import InvalidInput, Problem
from christmas_tasks.usecases.ports import Ledger
from christmas_tasks.usecases.report.counts import build_report
from christmas_tasks.usecases.report.html import render_html
from christmas_tasks.usecases.report.model import CampaignReport, start_of
from christmas_tasks.usecases.report.text import render_summary, render_text

__all__ = [
    "FORMATS",
    "CampaignReport",
    "build_report",
    "parse_since",
    "read_report",
    "render",
    "render_html",
    "render_summary",
    "render_text",
]

FORMATS = ("text", "json", "html")


def parse_since(value: str, now: datetime, field: str = "since") -> date:
    """A `--since` day: YYYY-MM-DD (a UTC day), not after today."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("report", [Problem(field, f"{value!r} is not a date such as 2026-12-01")]) from None
    if day > now.astimezone(UTC).date():
        raise InvalidInput("report", [Problem(field, f"{day.isoformat()} is after today (UTC)")])
    return day


def render(report: CampaignReport, form: str) -> str:
    """The report as text, JSON or HTML."""
    import json

    if form == "json":
        return json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n"
    if form == "html":
        return render_html(report)
    if form == "text":
        return render_text(report)
    raise InvalidInput("report", [Problem("format", f"must be one of {', '.join(FORMATS)}, not {form!r}")])


def read_report(
    ledger: Ledger,
    *,
    campaign: str,
    catalogue: Catalogue,
    now: datetime,
    since: date | None = None,
    source: str = "the ledger",
    thresholds: Thresholds | None = None,
) -> CampaignReport:
    """Read the campaign's ledger (3 reads: contacts, sequences, attempts) and count it; `thresholds`: the
    deliverability marks (default: the guard's defaults)."""
    start = start_of(since)
    contacts = ledger.contacts.all_contacts()
    sequences = ledger.sequences.campaign_sequences(campaign)
    attempts = ledger.sends.send_attempts(campaign, start)
    requests = getattr(ledger, "requests", None)  # the Notion ledger counts its HTTP requests
    return build_report(
        campaign=campaign,
        catalogue=catalogue,
        contacts=contacts,
        sequences=sequences,
        attempts=attempts,
        now=now,
        since=since,
        source=source,
        requests=requests if isinstance(requests, int) else None,
        thresholds=thresholds,
    )
