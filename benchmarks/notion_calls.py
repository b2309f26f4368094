"""Notion API calls per handled event and per sent email, for each sequence (issue 7), and while the campaign is
paused: a held email, pause, status and resume (issue 23), and per engagement event: an email's delivery, open and
click, each the first time and again, another sender's email and a type this project does not read (issue 24), and
per reconciliation of the ledger with Kestra's schedule, at 10, 250 and 1,000 running sequences (issue 26).

Each operation runs in a fresh NotionLedger, as each Kestra task is a new process, against the in-process
fake of the Notion API (tests/fakes/fake_notion.py, Notion's published 2025-09-03 shapes), which counts
every request. The earlier system cost about 4 calls per handled event and 4 per email.

Run: .venv/bin/python benchmarks/notion_calls.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from christmas_tasks.adapters.cache import DiskCache  # noqa: E402
from christmas_tasks.adapters.notion import NotionLedger  # noqa: E402
from christmas_tasks.adapters.outbox import OutboxMailer  # noqa: E402
from christmas_tasks.entrypoints.app import build_funnel, push_templates  # noqa: E402
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings  # noqa: E402
from tests.fakes.fake_notion import FakeNotion, ledger_on_fake  # noqa: E402
from tests.fakes.memory import handle  # noqa: E402

EVENTS = ROOT / "examples" / "events"
NOW = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
EVENT_FILES = {
    "signup": "signup.json",
    "assessment": "assessment.json",
    "booking": "booking-calendly.json",
    "noshow": "noshow.json",
    "postcall": "postcall.json",
    "onboarding": "onboarding.json",
    "unsubscribe": "unsubscribe.json",
    "email-status": "email-bounced.json",
}


class Counted:
    """One fresh NotionLedger per operation, and the requests it made."""

    def __init__(self, analytics: bool, cache: DiskCache | None) -> None:
        self.fake = FakeNotion()
        self.analytics = analytics
        self.cache = cache

    def ledger(self) -> NotionLedger:
        ttl = 300 if self.cache else 0
        return ledger_on_fake(self.fake, analytics=self.analytics, cache=self.cache, template_ttl=ttl)

    def count(self, operation: Any) -> tuple[Any, int, Counter[str]]:
        before = len(self.fake.requests)
        result = operation(self.ledger())
        made = self.fake.requests[before:]
        return result, len(made), Counter(f"{m} {_shape(p)}" for m, p in made)


def _shape(path: str) -> str:
    parts = path.strip("/").split("/")
    return "/".join(p if not any(c.isdigit() for c in p) or p == "v1" else "{id}" for p in parts)


def measure(analytics: bool, cached: bool) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp())
    counted = Counted(analytics, DiskCache(work / "cache") if cached else None)
    settings = Settings.from_env({"CHRISTMAS_TEMPLATES_DIR": str(SAMPLE_TEMPLATES)})
    mailer = OutboxMailer(work / "outbox")
    push_templates(counted.ledger().templates, SAMPLE_TEMPLATES)
    if cached:  # a worker that has run before: data sources resolved, templates read within the TTL
        warm = counted.ledger()
        for kind in ("contacts", "sequences", "templates", *(("analytics",) if analytics else ())):
            warm.api.data_source_id(kind)
        for template in warm.templates.list_templates():
            warm.templates.get_template(template.name)

    def funnel(ledger: NotionLedger) -> Any:
        return build_funnel(settings, ledger=ledger, mailer=mailer)

    events: dict[str, dict[str, Any]] = {}
    plans: dict[str, Any] = {}
    for n, (kind, name) in enumerate(EVENT_FILES.items()):
        body = json.loads((EVENTS / name).read_text())
        if kind not in ("unsubscribe", "email-status", "booking"):
            body = {**body, "email": f"bench{n}@example.com"}
        if kind == "booking":
            body["payload"]["email"] = "booked@example.com"
        result, calls, detail = counted.count(lambda ledger, k=kind, b=body: handle(funnel(ledger), k, b, NOW))
        events[kind] = {"calls": calls, "requests": dict(detail)}
        if result.plan:
            plans[str(result.sequence)] = result.plan
    emails: dict[str, dict[str, Any]] = {}
    at = NOW + timedelta(minutes=5)
    sent: tuple[str | None, Any] | None = None
    for sequence, plan in plans.items():
        result, calls, detail = counted.count(
            lambda ledger, i=plan[0]: funnel(ledger).send(i.sequence_key, i.email_number, at, at)
        )
        emails[sequence] = {"calls": calls, "status": str(result.status), "requests": dict(detail)}
        sent = sent or (result.resend_id, plan[0])
    engagement: dict[str, dict[str, Any]] = {}
    if sent is not None:  # what one email's engagement costs (issue 24): each kind's first, a repeat, the rest
        resend_id, item = sent
        address = item.sequence_key.split("|")[2]
        for name, kind, email_id, extra in (
            ("delivered", "delivered", resend_id, {}),
            ("opened", "opened", resend_id, {}),
            ("opened again", "opened", resend_id, {}),
            ("clicked", "clicked", resend_id, {"click": {"link": "https://cal.example/book"}}),
            ("clicked again", "clicked", resend_id, {"click": {"link": "https://example.com/other"}}),
            ("another's email", "opened", "not-an-email-of-ours", {}),
            ("unknown type", "sent", resend_id, {}),
        ):
            body = {"type": f"email.{kind}", "created_at": at.isoformat(),
                    "data": {"email_id": email_id, "to": [address], **extra}}
            result, calls, detail = counted.count(
                lambda ledger, b=body: handle(funnel(ledger), "email-status", b, at)
            )
            engagement[name] = {"calls": calls, "requests": dict(detail)}
    paused: dict[str, dict[str, Any]] = {}

    def campaign(name: str, operation: Any) -> None:
        result, calls, detail = counted.count(operation)
        paused[name] = {"calls": calls, "status": str(getattr(result, "status", "")), "requests": dict(detail)}

    campaign("campaign pause", lambda ledger: funnel(ledger).pause(at, "benchmark", "benchmark"))
    for sequence, plan in plans.items():
        item = plan[1]
        campaign(f"held {sequence}", lambda ledger, i=item: funnel(ledger).send(i.sequence_key, i.email_number, at, at))
    campaign("campaign status", lambda ledger: funnel(ledger).status(at))
    campaign(f"resume ({len(plans)} held)", lambda ledger: funnel(ledger).resume(at, "benchmark"))
    campaign("reconcile", lambda ledger: funnel(ledger).reconcile(at + timedelta(days=30)))
    campaign("reschedule", lambda ledger: funnel(ledger).reconcile(at + timedelta(days=30), everything=True))
    return {"events": events, "emails": emails, "engagement": engagement, "paused": paused}


def reconciliation(sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    """The hourly reconcile's requests with `n` running nurture sequences (each lead a contact and a record), every
    one of their emails lost: what one run reads, and per running sequence."""
    rows = []
    settings = Settings.from_env({"CHRISTMAS_TEMPLATES_DIR": str(SAMPLE_TEMPLATES)})
    body = json.loads((EVENTS / "assessment.json").read_text())
    for n in sizes:
        work = Path(tempfile.mkdtemp())
        counted = Counted(False, DiskCache(work / "cache"))
        ledger = counted.ledger()
        funnel = build_funnel(settings, ledger=ledger, mailer=OutboxMailer(work / "outbox"))
        for lead in range(n):
            handle(funnel, "assessment", {**body, "email": f"lead{lead}@example.com"}, NOW)
        later, outbox = NOW + timedelta(days=30), OutboxMailer(work / "outbox")
        result, calls, detail = counted.count(
            lambda ledger, at=later, mailer=outbox: build_funnel(settings, ledger=ledger, mailer=mailer).reconcile(at)
        )
        rows.append({"running": n, "lost": result.lost, "planned": len(result.plan), "calls": calls,
                     "per_sequence": round(calls / n, 3), "requests": dict(detail)})
    return rows


def _requests(row: dict[str, Any]) -> str:
    return ", ".join(f"{count}x {request}" for request, count in row["requests"].items())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = {
        "analytics off, cold process (no disk cache)": measure(False, cached=False),
        "analytics off, warm disk cache": measure(False, cached=True),
        "analytics on, warm disk cache": measure(True, cached=True),
    }
    scaling = reconciliation((10, 250, 1000))
    if args.json:
        print(json.dumps({**report, "reconcile": scaling}, indent=2))
        return
    print("Notion API calls, each operation in a fresh process (earlier system: ~4 per event, ~4 per email)\n")
    sections = (("events", "handled event"), ("emails", "sent email"), ("engagement", "engagement"),
                ("paused", "campaign paused"))
    for mode, data in report.items():
        print(f"== {mode}")
        for section, title in sections:
            print(f"{title:<16}{'calls':>6}   requests")
            for name, row in data[section].items():
                print(f"{name:<16}{row['calls']:>6}   {_requests(row)}")
        print()
    print("== reconcile (hourly), every email of every running sequence lost, warm disk cache")
    print(f"{'running':>8}{'lost':>7}{'planned':>9}{'calls':>7}{'per sequence':>14}   requests")
    for row in scaling:
        print(f"{row['running']:>8}{row['lost']:>7}{row['planned']:>9}{row['calls']:>7}{row['per_sequence']:>14}   "
              f"{_requests(row)}")


if __name__ == "__main__":
    main()
