"""The report samples of the README and docs/operating.md, from the test ledger with what people did with its
emails (tests/report/ledger.py, build_engaged_ledger): the text report on standard output, and a screenshot of the
HTML one taken in Chromium.

    .venv/bin/python -m tests.report.sample docs/images/report.png
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import sync_playwright

from christmas_tasks.domain.catalogue import load_catalogue
from christmas_tasks.usecases.report import CampaignReport, read_report, render_html, render_text
from tests.conftest import NOW
from tests.e2e.config import CHROMIUM, CHROMIUM_ARGS
from tests.report.ledger import build_engaged_ledger


def sample_report() -> CampaignReport:
    ledger = build_engaged_ledger()
    return read_report(
        ledger,
        campaign="Christmas 2025",
        catalogue=load_catalogue(),
        now=NOW + timedelta(days=3),
        source="the local SQLite ledger",
    )


def main(screenshot: Path) -> None:
    report = sample_report()
    sys.stdout.write(render_text(report))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.set_content(render_html(report), wait_until="load")
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    print(f"screenshot: {screenshot}", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "report.png"))
