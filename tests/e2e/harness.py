"""Kestra as the end-to-end suites drive it, over its HTTP API only: post a webhook, wait for executions, find a
sequence's send-email executions; and the outbox index of the local backends."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.kestra import TERMINAL_STATES, E2eKestraClient, state_of

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "examples" / "events"
NAMESPACE = "christmas"


@dataclass
class Harness:
    client: E2eKestraClient
    keys: dict[str, str]
    local_dir: Path
    edge_url: str | None = None  # the public edge in front (its /unsubscribe is every email's link), when one runs

    def post(self, flow: str, body: Any = None, *, content: bytes | None = None) -> str:
        answer = self.client.post_webhook(NAMESPACE, flow, self.keys[flow], body, content=content)
        return str(answer["id"])

    def wait(self, execution_id: str, timeout: float = 120.0) -> dict[str, Any]:
        return self.client.wait_for_execution(execution_id, timeout=timeout, poll=0.25)

    def logs(self, execution_id: str) -> list[str]:
        return [str(entry.get("message", "")) for entry in self.client.execution_logs(execution_id)]

    def logs_under(self, execution_id: str) -> list[str]:
        """The logs of an execution and of every execution its Subflow tasks ran (a step logs its own failure)."""
        lines = self.logs(execution_id)
        for run in self.client.get_execution(execution_id).get("taskRunList") or []:
            child = (run.get("outputs") or {}).get("executionId")
            if child and self.client.get_execution(str(child)).get("flowId") not in ("schedule-plan", "send-email"):
                lines += self.logs_under(str(self.wait(str(child))["id"]))
        return lines

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

    def outbox(self, email: str) -> list[dict[str, Any]]:
        """The outbox index entries of the messages sent to `email` (the local backends)."""
        index = self.local_dir / "outbox" / "index.jsonl"
        if not index.exists():
            return []
        entries = [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [e for e in entries if email in json.dumps(e)]


def step_result(execution: dict[str, Any], task_id: str) -> dict[str, Any]:
    """What the package reported for one of a flow's steps: the `result` output of the `step` subflow the task ran."""
    for run in execution.get("taskRunList") or []:
        result = ((run.get("outputs") or {}).get("outputs") or {}).get("result")
        if run.get("taskId") == task_id and isinstance(result, dict):
            return dict(result)
    raise AssertionError(f"execution {execution.get('id')} has no result from its {task_id} step")


def handle_outputs(execution: dict[str, Any]) -> dict[str, Any]:
    """The package's outputs for a handler's step: its `handle` call (through handle-event), or `apply` for a kind
    that is never queued (a person's unsubscribe runs the step itself)."""
    tasks = {run.get("taskId") for run in execution.get("taskRunList") or []}
    return step_result(execution, "apply" if "apply" in tasks else "handle")


def sample(name: str, email: str) -> Any:
    """A sample webhook body of examples/events/, for another contact."""
    text = (EVENTS / name).read_text(encoding="utf-8")
    return json.loads(re.sub(r"(?i)jane\.doe@example\.com", email, text))
