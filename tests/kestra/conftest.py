"""A real Kestra server for tests/kestra, started once per session by scripts/kestra.

The server runs the pinned version (kestra/versions.env) with the local backends (a SQLite ledger and
an outbox folder in a temporary folder), testing mode, and tests/kestra/fast-catalogue.json (seconds
instead of hours). The flows are loaded through kestra_api, as `christmas-tasks deploy` does.

When the server cannot be obtained or started, every test here is skipped with the exact error of
`scripts/kestra fetch` / `start` as the reason (CHRISTMAS_REQUIRE_KESTRA=1 turns that into a failure,
for a machine where Kestra must run). Timings (server startup, webhook to handler success) are written
to test-results/kestra-timings.json for the README's performance section.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from christmas_tasks.kestra_api import TERMINAL_STATES, KestraClient, KestraError, state_of

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCRIPT = ROOT / "scripts" / "kestra"
FLOWS = ROOT / "flows"
EVENTS = ROOT / "examples" / "events"
NAMESPACE = "christmas"
HANDLERS = ("assessment", "signup", "booking", "noshow", "postcall", "onboarding", "unsubscribe", "email-status")
PORT, MANAGEMENT_PORT = 18090, 18091  # fixed, and apart from scripts/run's 18080/18081
USERNAME = "tests@example.com"


def _unavailable(reason: str) -> None:
    if os.environ.get("CHRISTMAS_REQUIRE_KESTRA", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _errors(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    picked = [line for line in lines if line.startswith("error:")] or lines[-15:]
    return " | ".join(picked) or f"exit status {result.returncode}"


@dataclass
class Harness:
    client: KestraClient
    keys: dict[str, str]
    local_dir: Path
    deploy_report: list[dict[str, Any]]
    startup_seconds: float | None
    handler_seconds: list[float] = field(default_factory=list)

    # ------------------------------------------------------------------ webhooks and executions

    def post(self, flow: str, body: Any = None, *, content: bytes | None = None) -> str:
        answer = self.client.post_webhook(NAMESPACE, flow, self.keys[flow], body, content=content)
        return str(answer["id"])

    def wait(self, execution_id: str, timeout: float = 120.0) -> dict[str, Any]:
        return self.client.wait_for_execution(execution_id, timeout=timeout, poll=0.25)

    def handle(self, flow: str, body: Any) -> dict[str, Any]:
        """Post a webhook and wait for its handler; records the time from the post to the end."""
        started = time.monotonic()
        execution = self.wait(self.post(flow, body))
        if state_of(execution) == "SUCCESS":
            self.handler_seconds.append(time.monotonic() - started)
        return execution

    def logs(self, execution_id: str) -> list[str]:
        return [str(entry.get("message", "")) for entry in self.client.execution_logs(execution_id)]

    def sends_for(self, sequence_key: str) -> list[dict[str, Any]]:
        """Every send-email execution created for one sequence (full executions, with inputs)."""
        found = []
        for light in self.client.list_executions(NAMESPACE, "send-email"):
            execution = self.client.get_execution(str(light["id"]))
            if (execution.get("inputs") or {}).get("sequence_key") == sequence_key:
                found.append(execution)
        return found

    def wait_for_sends(self, sequence_key: str, count: int, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Wait until `count` send-email executions of the sequence exist and have all ended."""
        deadline = time.monotonic() + timeout
        while True:
            sends = self.sends_for(sequence_key)
            if len(sends) >= count and all(state_of(e) in TERMINAL_STATES for e in sends):
                return sends
            if time.monotonic() > deadline:
                states = sorted(state_of(e) for e in sends)
                raise AssertionError(f"{sequence_key}: {len(sends)}/{count} send-email executions, states {states}")
            time.sleep(1)

    # ------------------------------------------------------------------ the local backends

    def outbox(self, email: str) -> list[dict[str, Any]]:
        """The outbox index entries of the messages sent to `email`."""
        index = self.local_dir / "outbox" / "index.jsonl"
        if not index.exists():
            return []
        entries = [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [e for e in entries if email in json.dumps(e)]

    def wait_for_outbox(self, email: str, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(found := self.outbox(email)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{email}: {len(found)}/{count} messages in the outbox after {timeout:g}s")
            time.sleep(0.5)
        return found

    def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        path = self.local_dir / "crm.sqlite3"
        if not path.exists():
            return []
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute(sql, params)]

    def contact(self, email: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM contacts WHERE email = ?", email)
        return rows[0] if rows else None

    def sequences(self, email: str) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM sequences WHERE email = ? ORDER BY id", email)

    def sent_numbers(self, sequence_key: str) -> dict[int, dict[str, Any]]:
        rows = self.query(
            "SELECT e.* FROM sequence_emails e JOIN sequences s ON s.id = e.sequence_id "
            "WHERE s.key = ? AND e.sent_at IS NOT NULL ORDER BY e.number",
            sequence_key,
        )
        return {int(row["number"]): row for row in rows}


def handle_outputs(execution: dict[str, Any]) -> dict[str, Any]:
    """The `handle` task's Kestra outputs (the `vars` the package emitted)."""
    for run in execution.get("taskRunList") or []:
        if run.get("taskId") == "handle" and (run.get("outputs") or {}).get("vars") is not None:
            return dict(run["outputs"]["vars"])
    raise AssertionError(f"execution {execution.get('id')} has no outputs from the handle task")


def new_email(tag: str) -> str:
    return f"kestra-{tag}-{uuid.uuid4().hex[:10]}@example.com"


def sample(name: str, email: str) -> Any:
    """A sample webhook body of examples/events/, for another contact."""
    text = (EVENTS / name).read_text(encoding="utf-8")
    return json.loads(re.sub(r"(?i)jane\.doe@example\.com", email, text))


@contextmanager
def running_kestra(
    base: Path,
    *,
    port: int = PORT,
    management_port: int = MANAGEMENT_PORT,
    username: str = USERNAME,
    catalogue: Path = HERE / "fast-catalogue.json",
    client_class: type[KestraClient] = KestraClient,
) -> Iterator[tuple[Harness, str]]:
    """A private Kestra (scripts/kestra) with the local backends in `base`, testing mode and the fast
    catalogue, flows loaded; (its harness, its password). Skips with the exact scripts/kestra error as
    the reason when the server cannot be obtained or started. Shared by tests/kestra and tests/e2e."""
    local_dir = base / "christmas"
    keys = {flow: secrets.token_urlsafe(32) for flow in HANDLERS}
    password = "Tests" + secrets.token_hex(8) + "a9"
    env = {
        # a clean environment: nothing of the developer's settings or secrets leaks into the server
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(base)),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "VIRTUAL_ENV": sys.prefix,
        "CHRISTMAS_KESTRA_STATE": str(base / "state.env"),
        "CHRISTMAS_KESTRA_HOME": str(base / "server"),
        "CHRISTMAS_KESTRA_PORT": str(port),
        "CHRISTMAS_KESTRA_MANAGEMENT_PORT": str(management_port),
        "CHRISTMAS_KESTRA_USERNAME": username,
        "CHRISTMAS_KESTRA_PASSWORD": password,
        "CHRISTMAS_BACKEND": "local",
        "TESTING_MODE": "true",
        "CHRISTMAS_LOCAL_DIR": str(local_dir),
        "CHRISTMAS_TEMPLATES_DIR": str(ROOT / "templates"),
        "CHRISTMAS_CATALOGUE": str(catalogue),
        **{"WEBHOOK_KEY_" + flow.upper().replace("-", "_"): key for flow, key in keys.items()},
    }
    for name in ("JAVA", "JAVA_HOME", "MAVEN_REPOSITORY", "TMPDIR"):
        if os.environ.get(name):
            env[name] = os.environ[name]

    fetch = subprocess.run([str(SCRIPT), "fetch"], env=env, capture_output=True, text=True, timeout=900)
    if fetch.returncode != 0:
        _unavailable(f"Kestra cannot be obtained (scripts/kestra fetch): {_errors(fetch)}")
    start = subprocess.run([str(SCRIPT), "start", "--no-flows"], env=env, capture_output=True, text=True, timeout=600)
    if start.returncode != 0:
        _unavailable(f"Kestra cannot be started (scripts/kestra start): {_errors(start)}")

    client = client_class(f"http://127.0.0.1:{port}", username, password)
    try:
        state = dict(
            line.split("=", 1) for line in (base / "state.env").read_text().splitlines() if "=" in line
        )
        startup = float(state["STATE_STARTUP_SECONDS"]) if "STATE_STARTUP_SECONDS" in state else None
        report = client.deploy_flows(FLOWS)
        yield Harness(client, keys, local_dir, report, startup), password
    finally:
        client.close()
        subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def kestra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_kestra(tmp_path_factory.mktemp("kestra")) as (harness, _password):
        yield harness
        _write_timings(harness)


def _write_timings(harness: Harness) -> None:
    seconds = sorted(harness.handler_seconds)
    if not seconds:
        return
    out = ROOT / "test-results" / "kestra-timings.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "kestra_startup_seconds": harness.startup_seconds,
        "webhook_to_handler_success_seconds": {
            "count": len(seconds), "min": round(seconds[0], 2), "median": round(seconds[len(seconds) // 2], 2),
            "max": round(seconds[-1], 2),
        },
    }, indent=2) + "\n")


__all__ = ["Harness", "KestraError", "handle_outputs", "new_email", "running_kestra", "sample"]
