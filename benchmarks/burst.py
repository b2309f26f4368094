"""A send window's opening, on Kestra's engine: many emails due at one instant, against Notion's rate limit.

    .venv/bin/python benchmarks/burst.py [--emails 200] [--limit N]

Kestra's engine (scripts/engine run, flows/ as they are, or with send-email's concurrency limit set to --limit)
runs the live backends against fakes of Notion and Resend served on loopback (tests/fakes, Notion's and Resend's
published shapes), each behind a token bucket that answers 429 with Retry-After past its provider's rate: Notion
3 requests/s, Resend 2 requests/s. --emails contacts are seeded straight into the fake (their no-show sequences,
email 1 not sent), then one send-email execution per email is scheduled for the same instant, as a send window's
opening makes them due. Printed: the executions' end states, the emails sent (each idempotency key once), the
Notion calls served and refused, and the burst's time against the time Notion's rate allows for those calls
(served calls / 3 s): the goal is zero failed executions, each email once, within 20 % of that bound.

    .venv/bin/python benchmarks/burst.py --emails 200 --opens 1000

With --opens, as many more contacts are seeded with an email already sent (its Resend id in the ledger), and while
the sends fall due their `email.opened` webhooks are posted to Kestra's email-status webhook, spread over the ten
seconds around the due instant (a campaign's emails being opened as the next wave goes out). Printed beside the
burst: each send's lateness (its end after the due instant: median, 95th percentile, max), the opens recorded and
their Notion calls. Run it with --opens 0 and --opens 1000 to compare: engagement must delay no send (SPEC §9).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from christmas_tasks.adapters.outbox import OutboxMailer  # noqa: E402
from christmas_tasks.entrypoints.app import build_funnel, push_templates  # noqa: E402
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings  # noqa: E402
from tests.engine.process import engine, fakes_credentials, live_settings  # noqa: E402
from tests.fakes.fake_notion import FakeNotion, ledger_on_fake  # noqa: E402
from tests.fakes.fake_resend import FakeResend  # noqa: E402
from tests.fakes.memory import handle  # noqa: E402
from tests.fakes.served import served  # noqa: E402

TERMINAL = {"SUCCESS", "FAILED", "KILLED", "WARNING", "CANCELLED"}
CAMPAIGN = Settings.from_env({}).campaign.name
NOTION_RATE, RESEND_RATE = 3.0, 2.0


class RateLimited:
    """A provider's rate limit in front of a WSGI app: a token bucket; past it, 429 with Retry-After (seconds)."""

    def __init__(self, app: Callable[..., Iterable[bytes]], rate: float, body: dict[str, Any]) -> None:
        self.app, self.rate, self.body = app, rate, json.dumps(body).encode()
        self.tokens, self.last = rate, time.monotonic()
        self.served = self.refused = 0
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens < 1:
                self.refused += 1
                wait = math.ceil((1 - self.tokens) / self.rate)
                start_response(
                    "429 Too Many Requests", [("Content-Type", "application/json"), ("Retry-After", str(wait))]
                )
                return [self.body]
            self.tokens -= 1
            self.served += 1
        return self.app(environ, start_response)


def seed(fake: FakeNotion, count: int, work: Path) -> list[str]:
    """`count` contacts with a no-show sequence each, straight into the fake; their email-1 sequence keys."""
    settings = Settings.from_env({"CHRISTMAS_TEMPLATES_DIR": str(SAMPLE_TEMPLATES)})
    push_templates(ledger_on_fake(fake).templates, SAMPLE_TEMPLATES)
    sample = json.loads((ROOT / "examples/events/noshow.json").read_text(encoding="utf-8"))
    funnel = build_funnel(settings, ledger=ledger_on_fake(fake), mailer=OutboxMailer(work / "unused-outbox"))
    keys = []
    for n in range(count):
        body = {
            **sample,
            "email": f"burst-{n}@example.com",
            "calendly_event_uri": f"{sample['calendly_event_uri']}-{n}",
        }
        plan = handle(funnel, "noshow", body, datetime.now(UTC)).plan
        keys.append(next(item.sequence_key for item in plan if item.email_number == 1))
    return keys


def seed_opened(fake: FakeNotion, count: int, work: Path) -> list[tuple[str, str]]:
    """`count` contacts whose no-show email 1 was sent, straight into the fake: (address, its Resend id)."""
    from christmas_tasks.domain.records import SentMark

    ledger = ledger_on_fake(fake)
    settings = Settings.from_env({"CHRISTMAS_TEMPLATES_DIR": str(SAMPLE_TEMPLATES)})
    funnel = build_funnel(settings, ledger=ledger, mailer=OutboxMailer(work / "unused-outbox"))
    sample = json.loads((ROOT / "examples/events/noshow.json").read_text(encoding="utf-8"))
    opened = []
    for n in range(count):
        address = f"opened-{n}@example.com"
        body = {**sample, "email": address, "calendly_event_uri": f"{sample['calendly_event_uri']}-opened-{n}"}
        handled = handle(funnel, "noshow", body, datetime.now(UTC))
        record = ledger.sequences.find_sequence(address, funnel.campaign.name, "noshow", str(handled.sequence_key))
        assert record is not None
        resend_id = f"4ef9a417-0000-4000-8000-{n:012d}"
        ledger.sequences.mark_sent(record, SentMark(1, datetime.now(UTC), resend_id))
        opened.append((address, resend_id))
    return opened


def opened_body(address: str, resend_id: str, at: datetime) -> dict[str, Any]:
    """Resend's `email.opened` webhook body about that email."""
    return {
        "type": "email.opened",
        "created_at": at.isoformat().replace("+00:00", "Z"),
        "data": {"created_at": at.isoformat(), "email_id": resend_id, "from": "Christmas Campaign <hello@example.com>",
                 "to": [address], "subject": "Your call", "tags": {"sequence": "noshow", "email_number": "1"}},
    }


def post_opens(url: str, opened: list[tuple[str, str]], start: float, spread: float, posted: list[str]) -> None:
    """Post every open to Kestra's email-status webhook, evenly from `start` (monotonic) over `spread` seconds."""
    with httpx.Client(timeout=60) as http:
        for n, (address, resend_id) in enumerate(opened):
            wait = start + spread * n / max(1, len(opened)) - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            answer = http.post(url, json=opened_body(address, resend_id, datetime.now(UTC)))
            answer.raise_for_status()
            posted.append(answer.json()["id"])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def flows_with_limit(work: Path, limit: int | None) -> Path:
    folder = work / "flows"
    shutil.copytree(ROOT / "flows", folder)
    if limit is not None:
        path = folder / "send-email.yml"
        text, changed = re.subn(r"(?m)^(concurrency:\n  limit: )\d+$", rf"\g<1>{limit}", path.read_text())
        assert changed == 1, "send-email.yml has no concurrency limit to change"
        path.write_text(text)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emails", type=int, default=200)
    parser.add_argument("--limit", type=int, help="send-email's concurrency limit (default: the flow's own)")
    parser.add_argument("--opens", type=int, default=0, help="email.opened webhooks posted while the sends fall due")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="burst-"))
    notion = FakeNotion()
    resend = FakeResend()
    keys = seed(notion, args.emails, work)
    opened = seed_opened(notion, args.opens, work)
    notion_limit = RateLimited(
        notion,
        NOTION_RATE,
        {
            "object": "error",
            "status": 429,
            "code": "rate_limited",
            "message": "You have been rate limited. Please try again later.",
        },
    )
    resend_limit = RateLimited(
        resend, RESEND_RATE, {"statusCode": 429, "name": "rate_limit_exceeded", "message": "Too many requests."}
    )
    flows = flows_with_limit(work, args.limit)
    limit = re.search(r"(?m)^concurrency:\n  limit: (\d+)$", (flows / "send-email.yml").read_text())
    secret_values = fakes_credentials()
    with served(notion_limit) as notion_url, served(resend_limit) as resend_url:
        settings = {**live_settings(notion_url, resend_url, secret_values), "ENV_CAMPAIGN_DEADLINE": "2025-12-20"}
        (work / "engine").mkdir()
        with engine(work / "engine", settings, flows=flows) as kestra, httpx.Client(timeout=60) as http:
            due = (datetime.now(UTC) + timedelta(seconds=20)).replace(microsecond=0)
            calls_before, refused_before = notion_limit.served, notion_limit.refused
            ids = []
            for key in keys:
                answer = http.post(
                    f"{kestra.api}/executions/christmas/send-email",
                    params={"scheduleDate": due.isoformat()},
                    files={
                        "sequence_key": (None, key),
                        "email_number": (None, "1"),
                        "scheduled_for": (None, due.isoformat()),
                    },
                )
                answer.raise_for_status()
                ids.append(answer.json()["id"])
            print(
                f"{len(ids)} send-email executions scheduled for {due.isoformat()} "
                f"(send-email concurrency limit {limit.group(1) if limit else 'none'})"
            )
            posted: list[str] = []
            opens = threading.Thread(
                target=post_opens,
                args=(kestra.webhook("email-status"), opened,
                      time.monotonic() + (due - datetime.now(UTC)).total_seconds() - 5, 10.0, posted),
                daemon=True,
            )
            opens.start()

            ended: dict[str, dict[str, Any]] = {}
            deadline = time.monotonic() + 1800
            while len(ended) < len(ids):
                if time.monotonic() > deadline:
                    raise SystemExit(f"only {len(ended)}/{len(ids)} sends ended after 30 minutes")
                time.sleep(2)
                for execution_id in ids:
                    if execution_id not in ended:
                        execution = http.get(f"{kestra.api}/executions/{execution_id}").json()
                        if execution["state"]["current"] in TERMINAL:
                            ended[execution_id] = execution
            sends_done = time.monotonic()
            opens.join()
            opens_ended = wait_for(http, kestra.api, posted, deadline)
            opens_took = time.monotonic() - sends_done

    states = Counter(e["state"]["current"] for e in ended.values())
    last = max(datetime.fromisoformat(e["state"]["endDate"].replace("Z", "+00:00")) for e in ended.values())
    took = (last - due).total_seconds()
    calls = notion_limit.served - calls_before
    refused = notion_limit.refused - refused_before
    bound = calls / NOTION_RATE
    sent_to = Counter(body["to"][0] if isinstance(body["to"], list) else body["to"] for body in resend.emails.values())
    print(f"executions: {dict(states)}")
    print(
        f"emails sent: {len(resend.emails)} to {len(sent_to)} addresses, {sum(c > 1 for c in sent_to.values())} "
        f"sent more than once; Resend refused {resend_limit.refused} requests with 429"
    )
    print(f"Notion: {calls} calls served ({calls / len(ids):.1f} per email), {refused} refused with 429")
    lateness = [
        (datetime.fromisoformat(e["state"]["endDate"].replace("Z", "+00:00")) - due).total_seconds()
        for e in ended.values()
    ]
    print(
        f"burst time: {took:.0f} s from the due instant to the last send's end; Notion's rate allows "
        f"{bound:.0f} s for those calls; ratio {took / bound:.2f} (goal: within 20 %, 1.20)"
    )
    print(
        f"each send's end after the due instant: median {percentile(lateness, 0.5):.0f} s, "
        f"p95 {percentile(lateness, 0.95):.0f} s, max {max(lateness):.0f} s"
    )
    if opened:
        recorded = sum(
            1 for record in ledger_on_fake(notion).sequences.campaign_sequences(CAMPAIGN)
            if record.email.startswith("opened-") and record.emails[1].engaged
        )
        open_states = Counter(e["state"]["current"] for e in opens_ended.values())
        print(
            f"opens: {len(posted)} posted, executions {dict(open_states)}, {recorded} recorded in the ledger; the "
            f"last ended {opens_took:.0f} s after the last send"
        )
    shutil.rmtree(work, ignore_errors=True)
    return 0 if states == Counter({"SUCCESS": len(ids)}) and len(sent_to) == len(ids) else 1


def wait_for(http: httpx.Client, api: str, ids: list[str], deadline: float) -> dict[str, dict[str, Any]]:
    """Each execution of `ids` once it ended (polled every 2 s, until `deadline`)."""
    ended: dict[str, dict[str, Any]] = {}
    while len(ended) < len(ids) and time.monotonic() < deadline:
        for execution_id in ids:
            if execution_id not in ended:
                execution = http.get(f"{api}/executions/{execution_id}").json()
                if execution["state"]["current"] in TERMINAL:
                    ended[execution_id] = execution
        if len(ended) < len(ids):
            time.sleep(2)
    return ended


if __name__ == "__main__":
    sys.exit(main())
