"""Kestra's engine with the real flows, measured (docs/performance.md quotes this script's output).

    .venv/bin/python benchmarks/engine.py [--events 20] [--suite]

Starts the engine as scripts/run does (scripts/engine run: the launcher, flows/ loaded, the local backends in a
temporary folder, testing mode) with the engine tests' fast catalogue, then prints:

- engine start to ready: from the process start to its webhook URLs file (JVM start, H2 migrations, the
  services, the flows validated and loaded; tests/engine/process.py starts it);
- webhook post to handler success: `--events` assessments posted one after the other, each timed from the POST
  to the moment GET /executions/<id> first reports SUCCESS (polled every 20 ms), median and p95;
- scheduled send start delay: for each send-email execution those assessments scheduled (4 each), the time from
  its scheduleDate to its first RUNNING state, in Kestra's own state history, then by email number (email 2 of each
  assessment falls due alone; emails 3 to 5 of all of them within seconds, so they also wait in send-email's queue);
- with --suite, the engine suite's wall time (`scripts/engine test`).
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.engine.process import FLOW_SECRETS, engine, secret_variables

ROOT = Path(__file__).resolve().parents[1]
TERMINAL = {"SUCCESS", "FAILED", "KILLED", "WARNING", "CANCELLED"}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def line(name: str, values: list[float]) -> str:
    return (
        f"{name}: median {statistics.median(values):.2f} s, p95 {percentile(values, 95):.2f} s, "
        f"max {max(values):.2f} s (n={len(values)})"
    )


def parse_date(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--suite", action="store_true", help="also time the engine suite (scripts/engine test)")
    args = parser.parse_args()

    sample = json.loads((ROOT / "examples/events/assessment.json").read_text(encoding="utf-8"))
    settings = {
        **secret_variables({**dict.fromkeys(FLOW_SECRETS, ""), "UNSUBSCRIBE_SECRET": "benchmark"}),
        "ENV_CHRISTMAS_BACKEND": "local",
        "ENV_TESTING_MODE": "true",
        "ENV_CHRISTMAS_CATALOGUE": str(ROOT / "examples/fast-catalogue.json"),
    }
    subprocess.run([str(ROOT / "scripts/engine"), "build"], check=True)  # not part of the start time
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as folder:
        started = time.monotonic()
        local = {"ENV_CHRISTMAS_LOCAL_DIR": str(Path(folder) / "christmas")}
        with engine(Path(folder), {**settings, **local}) as kestra, httpx.Client(timeout=30) as http:
            print(f"engine start to ready: {time.monotonic() - started:.1f} s")
            handler_seconds: list[float] = []
            handler_ids: list[str] = []
            for n in range(args.events):
                body = {**sample, "email": f"bench-{n}-{secrets.token_hex(4)}@example.com"}
                posted = time.monotonic()
                answer = http.post(kestra.webhook("assessment"), json=body)
                answer.raise_for_status()
                execution_id = answer.json()["id"]
                while (state := http.get(f"{kestra.api}/executions/{execution_id}").json()["state"]["current"]) not in (
                    TERMINAL
                ):
                    time.sleep(0.02)
                if state != "SUCCESS":
                    raise SystemExit(f"handler {execution_id} ended {state}")
                handler_seconds.append(time.monotonic() - posted)
                handler_ids.append(execution_id)
            print(line("webhook post to handler success", handler_seconds))

            sends = scheduled_sends(http, kestra.api, handler_ids)
            delays: list[float] = []
            by_number: dict[str, list[float]] = {}
            for execution in sends:
                running = next(h["date"] for h in execution["state"]["histories"] if h["state"] == "RUNNING")
                delay = (parse_date(running) - parse_date(execution["scheduleDate"])).total_seconds()
                delays.append(delay)
                by_number.setdefault(str(execution["inputs"]["email_number"]), []).append(delay)
            print(line("scheduled send start delay after its time", delays))
            # The fast catalogue's emails fall due together (email 2 of every assessment 2 s after it, 3 to 5
            # within 4 s of each other), and sends run two at a time: the spread by email says how much is queueing.
            for number, values in sorted(by_number.items()):
                print(line(f"  email {number}", values))

    if args.suite:
        started = time.monotonic()
        status = subprocess.run([str(ROOT / "scripts/engine"), "test"], stdout=subprocess.DEVNULL).returncode
        print(f"engine suite (scripts/engine test): {time.monotonic() - started:.0f} s wall, exit {status}")
    return 0


def scheduled_sends(http: httpx.Client, base_url: str, handler_ids: list[str]) -> list[dict[str, Any]]:
    """Every send-email execution the handlers scheduled (schedule-plan made them: 4 per assessment, this engine's
    only ones), once each has ended."""
    expected = 4 * len(handler_ids)
    deadline = time.monotonic() + 300
    while True:
        query = {"namespace": "christmas", "flowId": "send-email", "size": str(expected + 10)}
        listed = http.get(f"{base_url}/executions", params=query).json()
        found = [http.get(f"{base_url}/executions/{light['id']}").json() for light in listed.get("results", listed)]
        if len(found) >= expected and all(e["state"]["current"] in TERMINAL for e in found):
            return found
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(found)} of {expected} sends, not all ended after 300 s")
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
