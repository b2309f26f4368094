"""Kestra's HTTP API as the end-to-end suites drive it: the package's KestraClient (which only loads flows) plus
posting webhooks, starting and following executions, reading their logs, and the live cleanup's kill. Kept here,
out of the wheel: only the tests need it.

  POST executions/webhook/{namespace}/{id}/{key}       a webhook (public: its key is the authentication)
  POST executions/{namespace}/{id}   (multipart)       start an execution with inputs
  GET  executions/{id}, GET executions?namespace=&flowId=&page=&size=, GET logs/{executionId}
  DELETE executions/{id}/kill
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from christmas_tasks.adapters.kestra_api import KestraClient, KestraError

TERMINAL_STATES = frozenset(
    {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "RETRIED", "SKIPPED", "RESUBMITTED"}
)


class E2eKestraClient(KestraClient):
    """KestraClient plus executions: what the end-to-end suites and the live cleanup need."""

    def webhook_url(self, namespace: str, flow_id: str, key: str) -> str:
        return f"{self.base_url}{self._path(f'executions/webhook/{namespace}/{flow_id}/{key}')}"

    def post_webhook(
        self,
        namespace: str,
        flow_id: str,
        key: str,
        body: Any = None,
        *,
        content: bytes | str | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """Post a webhook (JSON `body`, or raw `content`); returns Kestra's answer (the new execution)."""
        payload = content if content is not None else json.dumps(body).encode()
        response = self._request(
            "POST",
            f"executions/webhook/{namespace}/{flow_id}/{key}",
            content=payload,
            headers={"Content-Type": content_type},
        )
        return dict(response.json())

    def start_execution(self, namespace: str, flow_id: str, inputs: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Start an execution of a flow with inputs (sent as multipart form fields)."""
        files = {name: (None, str(value)) for name, value in (inputs or {}).items()}
        # without inputs, no body at all (as Kestra's own documented `curl -X POST` does)
        path = f"executions/{namespace}/{flow_id}"
        response = self._request("POST", path, files=files) if files else self._request("POST", path)
        return dict(response.json())

    def get_execution(self, execution_id: str) -> dict[str, Any]:
        return dict(self._request("GET", f"executions/{execution_id}").json())

    def list_executions(self, namespace: str, flow_id: str, size: int = 100) -> list[dict[str, Any]]:
        """Every execution of one flow (newest first, as Kestra pages them)."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            data = self._request(
                "GET", "executions", params={"namespace": namespace, "flowId": flow_id, "page": page, "size": size}
            ).json()
            results = list(data.get("results") or [])
            found += results
            if not results or len(found) >= int(data.get("total") or 0):
                return found
            page += 1

    def execution_logs(self, execution_id: str) -> list[dict[str, Any]]:
        return list(self._request("GET", f"logs/{execution_id}").json() or [])

    def wait_for_execution(
        self,
        execution_id: str,
        timeout: float = 120.0,
        poll: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> dict[str, Any]:
        """Poll an execution until it ends; returns it. KestraError if it has not ended in `timeout` s."""
        deadline = clock() + timeout
        while True:
            execution = self.get_execution(execution_id)
            if state_of(execution) in TERMINAL_STATES:
                return execution
            if clock() >= deadline:
                raise KestraError(f"execution {execution_id} still {state_of(execution)} after {timeout:g}s")
            sleep(poll)

    def kill_execution(self, execution_id: str) -> None:
        """Kill an execution (a scheduled send-email that must not send); one already ended is left alone."""
        self._request("DELETE", f"executions/{execution_id}/kill", expect=(200, 202, 204, 404, 409, 422))


def state_of(execution: Mapping[str, Any]) -> str:
    state = execution.get("state")
    return str(state.get("current")) if isinstance(state, Mapping) else str(state)
