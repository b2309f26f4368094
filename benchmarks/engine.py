"""Kestra's engine with the real flows, measured (the README's performance section quotes this script's output).

    .venv/bin/python benchmarks/engine.py [--events 20] [--suite]

Starts the engine as scripts/run does (scripts/engine run: the launcher, flows/ loaded, the local backends in a
temporary folder, testing mode) with the engine tests' fast catalogue, then prints:

- engine start to ready: from the process start to its "execution API" line (JVM start, H2 migrations, the
  services, the flows validated and loaded);
- webhook post to handler success: `--events` assessments posted one after the other, each timed from the POST
  to the moment GET /executions/<id> first reports SUCCESS (polled every 20 ms), median and p95;
- scheduled send start delay: for each send-email execution those assessments scheduled (4 each), the time from
  its scheduleDate to its first RUNNING state, in Kestra's own state history;
- with --suite, the engine suite's wall time (`scripts/engine test`).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
FLOWS = ("ASSESSMENT", "SIGNUP", "BOOKING", "NOSHOW", "POSTCALL", "ONBOARDING", "UNSUBSCRIBE", "EMAIL_STATUS")
SECRETS = (
    "NOTION_TOKEN",
    "NOTION_CONTACTS_DB_ID",
    "NOTION_EMAIL_SEQUENCE_DB_ID",
    "NOTION_EMAIL_TEMPLATES_DB_ID",
    "NOTION_EMAIL_ANALYTICS_DB_ID",
    "RESEND_API_KEY",
    "DISCORD_WEBHOOK_URL",
)
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_engine(base: Path, port: int) -> tuple[subprocess.Popen[str], float, dict[str, str]]:
    keys = {flow: secrets.token_urlsafe(32) for flow in FLOWS}
    env = {
        **os.environ,
        **{f"SECRET_{name}": "" for name in SECRETS},
        **{f"SECRET_WEBHOOK_KEY_{flow}": base64.b64encode(key.encode()).decode() for flow, key in keys.items()},
        "SECRET_UNSUBSCRIBE_SECRET": base64.b64encode(b"benchmark").decode(),
        "ENV_CHRISTMAS_BACKEND": "local",
        "ENV_TESTING_MODE": "true",
        "ENV_CHRISTMAS_LOCAL_DIR": str(base / "christmas"),
        "ENV_CHRISTMAS_CATALOGUE": str(ROOT / "kestra/engine/src/test/resources/fast-catalogue.json"),
        "ENV_CHRISTMAS_CLI": str(Path(sys.prefix) / "bin" / "christmas-tasks"),
    }
    subprocess.run([str(ROOT / "scripts/engine"), "build"], check=True)  # not part of the start time
    started = time.monotonic()
    process = subprocess.Popen(
        [
            str(ROOT / "scripts/engine"),
            "run",
            "--flows",
            str(ROOT / "flows"),
            "--home",
            str(base / "kestra"),
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    for text in process.stdout:
        if text.startswith("execution API:"):
            return process, time.monotonic() - started, {f.lower().replace("_", "-"): k for f, k in keys.items()}
    raise SystemExit(f"the engine stopped before it was ready (exit {process.wait()})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--suite", action="store_true", help="also time the engine suite (scripts/engine test)")
    args = parser.parse_args()

    port = free_port()
    base_url = f"http://127.0.0.1:{port}/api/v1/main"
    sample = json.loads((ROOT / "examples/events/assessment.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as folder:
        process, ready, keys = start_engine(Path(folder), port)
        try:
            print(f"engine start to ready: {ready:.1f} s")
            handler_seconds: list[float] = []
            handler_ids: list[str] = []
            with httpx.Client(timeout=30) as http:
                for n in range(args.events):
                    body = {**sample, "email": f"bench-{n}-{secrets.token_hex(4)}@example.com"}
                    posted = time.monotonic()
                    webhook = f"{base_url}/executions/webhook/christmas/assessment/{keys['assessment']}"
                    answer = http.post(webhook, json=body)
                    answer.raise_for_status()
                    execution_id = answer.json()["id"]
                    while (
                        state := http.get(f"{base_url}/executions/{execution_id}").json()["state"]["current"]
                    ) not in TERMINAL:
                        time.sleep(0.02)
                    if state != "SUCCESS":
                        raise SystemExit(f"handler {execution_id} ended {state}")
                    handler_seconds.append(time.monotonic() - posted)
                    handler_ids.append(execution_id)
                print(line("webhook post to handler success", handler_seconds))

                sends = scheduled_sends(http, base_url, handler_ids)
                delays = []
                for execution in sends:
                    running = next(h["date"] for h in execution["state"]["histories"] if h["state"] == "RUNNING")
                    delays.append((parse_date(running) - parse_date(execution["scheduleDate"])).total_seconds())
                print(line("scheduled send start delay after its time", delays))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)

    if args.suite:
        started = time.monotonic()
        status = subprocess.run([str(ROOT / "scripts/engine"), "test"], stdout=subprocess.DEVNULL).returncode
        print(f"engine suite (scripts/engine test): {time.monotonic() - started:.0f} s wall, exit {status}")
    return 0


def scheduled_sends(http: httpx.Client, base_url: str, handler_ids: list[str]) -> list[dict[str, Any]]:
    """Every send-email execution the handlers scheduled, once it has ended."""
    ids = []
    for handler_id in handler_ids:
        handler = http.get(f"{base_url}/executions/{handler_id}").json()
        ids += [
            run["outputs"]["executionId"]
            for run in handler["taskRunList"]
            if run["taskId"].startswith("schedule_email_") and (run.get("outputs") or {}).get("executionId")
        ]
    ended = []
    deadline = time.monotonic() + 300
    for execution_id in ids:
        while (execution := http.get(f"{base_url}/executions/{execution_id}").json())["state"][
            "current"
        ] not in TERMINAL:
            if time.monotonic() > deadline:
                raise SystemExit(f"send {execution_id} has not ended after 300 s")
            time.sleep(0.5)
        ended.append(execution)
    return ended


if __name__ == "__main__":
    sys.exit(main())
