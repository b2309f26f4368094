"""The event queue under a burst (issue 25), on Kestra's engine with the real flows.

    .venv/bin/python benchmarks/event_queue.py [--events 100] [--live] [--unsubscribes 20]

`--events` distinct assessments are posted within ten seconds to the assessment webhook (the engine as scripts/run
starts it, testing mode, the fast catalogue: every email of a sequence due within minutes). Printed: the time from
the first post until every handler execution succeeded, the emails sent once all sends ended (each address's four
once, none twice), and, with --unsubscribes, while the burst is queued, that many people's unsubscribe clicks on
the public edge (`christmas-tasks serve`, POST /unsubscribe with a valid token): the time until each is answered
(median, p95). With --live, the live backends against the fakes of Notion (limited to its ~3 requests/s) and
Resend; the figure to compare is the burst's Notion calls divided by 3.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.burst import NOTION_RATE, RESEND_RATE, RateLimited, percentile  # noqa: E402
from christmas_tasks.adapters.outbox import OutboxMailer  # noqa: E402
from christmas_tasks.domain.variables import unsubscribe_token  # noqa: E402
from christmas_tasks.entrypoints.app import push_templates  # noqa: E402
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES  # noqa: E402
from tests.engine.process import (  # noqa: E402
    FLOW_SECRETS,
    RunningEngine,
    edge,
    engine,
    fakes_credentials,
    free_port,
    live_settings,
    secret_variables,
)
from tests.fakes.fake_notion import FakeNotion, ledger_on_fake  # noqa: E402
from tests.fakes.fake_resend import FakeResend  # noqa: E402
from tests.fakes.served import served  # noqa: E402

TERMINAL = {"SUCCESS", "FAILED", "KILLED", "WARNING", "CANCELLED"}
SECRET = "benchmark-unsubscribe-secret"


def ended_at(execution: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(execution["state"]["endDate"].replace("Z", "+00:00"))


def run(args: argparse.Namespace, work: Path, settings: dict[str, str], sent: Any) -> int:
    sample = json.loads((ROOT / "examples/events/assessment.json").read_text(encoding="utf-8"))
    edge_port = free_port()
    settings = {**settings, "ENV_EDGE_PUBLIC_URL": f"http://127.0.0.1:{edge_port}"}
    with (
        engine(work, settings) as kestra,
        edge(work, kestra, port=edge_port, unsubscribe_secret=SECRET) as front,
        httpx.Client(timeout=120) as http,
    ):
        url = kestra.webhook("assessment")
        posted: list[str] = []
        started = time.monotonic()
        first_post = datetime.now(UTC)
        answers: list[float] = []

        def unsubscribe(n: int) -> None:
            email = f"queue-{n}@example.com"
            with httpx.Client(timeout=120) as own:
                began = time.monotonic()
                answer = own.post(f"{front.url}/unsubscribe", params={
                    "email": email, "token": unsubscribe_token(SECRET, email)})
                answers.append(time.monotonic() - began)
                assert answer.status_code == 200, answer.text

        clicks = []
        for n in range(args.events):
            wait = started + 10 * n / args.events - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            body = {**sample, "email": f"queue-{n}@example.com"}
            answer = http.post(url, json=body)
            answer.raise_for_status()
            posted.append(answer.json()["id"])
            if args.unsubscribes and n == args.events // 2:  # the queue is full: people click meanwhile
                for k in range(args.unsubscribes):
                    click = threading.Thread(target=unsubscribe, args=(args.events - 1 - k,))
                    click.start()
                    clicks.append(click)
        posted_in = time.monotonic() - started
        deadline = time.monotonic() + 3600
        while True:
            handlers = {e["id"]: e for e in kestra.executions(http, "assessment")}
            done = [handlers[i] for i in posted if i in handlers and handlers[i]["state"]["current"] in TERMINAL]
            if len(done) == len(posted) or time.monotonic() > deadline:
                break
            time.sleep(1)
        handlers_took = time.monotonic() - started
        for click in clicks:
            click.join()
        while time.monotonic() < deadline:  # every send that was scheduled has ended
            sends = kestra.executions(http, "send-email")
            if all(e["state"]["current"] in TERMINAL for e in sends) and len(sends) >= 4 * len(posted) - 4 * len(
                clicks
            ):
                break
            time.sleep(2)
        sends_took = max((ended_at(e) for e in sends if e["state"].get("endDate")), default=None)
        states = Counter(e["state"]["current"] for e in done)
        breakdown(http, kestra)
        emails = sent()
        per_address = Counter(emails)
        print(f"{len(posted)} assessments posted in {posted_in:.1f} s; handlers: {dict(states)}")
        print(f"every handler succeeded {handlers_took:.0f} s after the first post "
              f"({handlers_took / len(posted):.2f} s an event)")
        if sends_took is not None:
            print(f"every send ended {(sends_took - first_post).total_seconds():.0f} s after the first post")
        print(f"emails sent: {len(emails)} to {len(per_address)} addresses, "
              f"{sum(c > 4 for c in per_address.values())} addresses sent one twice")
        if answers:
            print(f"unsubscribe clicks answered: median {statistics.median(answers):.2f} s, "
                  f"p95 {percentile(answers, 0.95):.2f} s, max {max(answers):.2f} s (n={len(answers)})")
        return 0 if states == Counter({"SUCCESS": len(posted)}) else 1


def duration(execution: dict[str, Any]) -> float:
    state = execution["state"]
    return (ended_at(execution) - datetime.fromisoformat(state["startDate"].replace("Z", "+00:00"))).total_seconds()


def breakdown(http: httpx.Client, kestra: RunningEngine) -> None:
    """Where an event's time goes: each execution it creates (the handler's, handle-event's, the step's), and in the
    step the Python process (`run`: the interpreter's start, the package's imports and its work), as Kestra's
    histories say; medians over the burst's executions, each from its creation (Kestra's start date), so a queued
    execution's wait is in it."""
    def median(values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")

    handler = [duration(e) for e in kestra.executions(http, "assessment") if e["state"].get("endDate")]
    handle = [duration(e) for e in kestra.executions(http, "handle-event") if e["state"].get("endDate")]
    steps = [e for e in kestra.executions(http, "step")
             if e["state"].get("endDate") and (e.get("inputs") or {}).get("command") == "handle"]
    runs = []
    for step in steps[:50]:
        full = http.get(f"{kestra.api}/executions/{step['id']}").json()
        for task in full.get("taskRunList") or []:
            if task["taskId"] == "run" and task["state"].get("endDate"):
                runs.append(duration(task))
    print(f"median durations: the handler's execution {median(handler):.2f} s, handle-event's {median(handle):.2f} s, "
          f"the step's {median([duration(e) for e in steps]):.2f} s, its Python process {median(runs):.2f} s "
          f"(each from its creation: a queued execution's wait is in it)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--unsubscribes", type=int, default=0)
    parser.add_argument("--live", action="store_true")
    args = parser.parse_args()
    subprocess.run([str(ROOT / "scripts/engine"), "build"], check=True)
    base = {"ENV_TESTING_MODE": "true", "ENV_CHRISTMAS_CATALOGUE": str(ROOT / "examples/fast-catalogue.json")}
    with tempfile.TemporaryDirectory(prefix="queue-bench-") as folder:
        work = Path(folder)
        if not args.live:
            local = work / "christmas"
            settings = {
                **secret_variables({**dict.fromkeys(FLOW_SECRETS, ""), "UNSUBSCRIBE_SECRET": SECRET}),
                **base, "ENV_CHRISTMAS_BACKEND": "local", "ENV_CHRISTMAS_LOCAL_DIR": str(local),
            }

            def sent_local() -> list[str]:
                return [message["to"] for message in OutboxMailer(local / "outbox").messages()]

            return run(args, work, settings, sent_local)
        notion, resend = FakeNotion(), FakeResend()
        push_templates(ledger_on_fake(notion).templates, SAMPLE_TEMPLATES)  # the workspace's templates, as set up
        limited = RateLimited(notion, NOTION_RATE, {"object": "error", "status": 429, "code": "rate_limited",
                                                    "message": "rate limited"})
        resend_limited = RateLimited(resend, RESEND_RATE, {"statusCode": 429, "name": "rate_limit_exceeded",
                                                           "message": "Too many requests."})
        credentials = {**fakes_credentials(), "UNSUBSCRIBE_SECRET": SECRET}
        with served(limited) as notion_url, served(resend_limited) as resend_url:
            deadline = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()
            settings = {**live_settings(notion_url, resend_url, credentials), **base,
                        "ENV_CAMPAIGN_DEADLINE": deadline}
            before = limited.served

            def sent_live() -> list[str]:
                return [body["to"][0] if isinstance(body["to"], list) else body["to"]
                        for body in resend.emails.values()]

            code = run(args, work, settings, sent_live)
            calls = limited.served - before
            print(f"Notion: {calls} calls served, {limited.refused} refused with 429; its rate allows "
                  f"{calls / NOTION_RATE:.0f} s for them")
            return code


if __name__ == "__main__":
    sys.exit(main())
