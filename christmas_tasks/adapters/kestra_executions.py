"""Kestra's executions through its HTTP API, as `contact forget` needs them: the executions of a contact, found by
the label its flows set and by Kestra's correlation id, killed when still running or waiting, and deleted with their
logs, metrics and files. `ExecutionsApi` is part of `KestraClient` (christmas_tasks/adapters/kestra_api.py), which
gives it its authenticated `_request`.

Endpoints (Kestra 1.3, `/api/v1/{tenant}/executions/...`, as its webserver's ExecutionController has them):
  GET    search?filters[labels][EQUALS][<key>]=<value>&filters[namespace][EQUALS]=<ns>&page=&size=
           a page of executions: {"results": [...], "total": n}
  DELETE {id}/kill?isOnKillCascade=false
           kill one: 202; 409 once it has ended; 404 when gone
  DELETE by-ids?deleteLogs=true&deleteMetrics=true&deleteStorage=true    (the body: a JSON list of ids)
           delete ended executions with their logs, metrics and files: {"count": n}; one id missing or not ended
           refuses the whole list (400 "invalid bulk delete"), so the ids are then deleted one by one
  DELETE {id}?deleteLogs=true&deleteMetrics=true&deleteStorage=true
           delete one: 204; 404 when gone
`system.correlationId` is the label Kestra gives an execution (its own id, or its trigger's: a webhook's execution) and
every subflow execution it starts (core 1.3.31: Label, ExecutableUtils, WebhookService). Kestra 1.3's own
PurgeExecutions task filters by namespace, flow, dates and states, not by label: a flow cannot do this part.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from christmas_tasks.domain.errors import ConfigError

if TYPE_CHECKING:
    from christmas_tasks.adapters.kestra_api import KestraClient

CORRELATION = "system.correlationId"  # Kestra's label on an execution and on every subflow execution it starts
# An execution's states once it has ended (core's State.Type.isTerminated): only those can be deleted.
ENDED = frozenset({"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "RETRIED", "SKIPPED", "RESUBMITTED"})
PURGE = {"deleteLogs": "true", "deleteMetrics": "true", "deleteStorage": "true"}


class ExecutionsApi:
    """The execution endpoints; mixed into KestraClient, whose `_request` they call."""

    def _request(self, method: str, path: str, *, expect: tuple[int, ...] = (200,), **kwargs: Any) -> httpx.Response:
        raise NotImplementedError  # KestraClient's

    def search_executions(self, filters: Mapping[str, str], *, size: int = 100) -> list[dict[str, Any]]:
        """Every execution matching `filters` (`{"filters[labels][EQUALS][contact]": "a@b.c", ...}`), page by page."""
        found: list[dict[str, Any]] = []
        for page in range(1, 10_000):
            answer = self._request("GET", "executions/search", params={**filters, "page": page, "size": size}).json()
            results = [r for r in answer.get("results") or () if isinstance(r, dict)]
            found.extend(results)
            if not results or len(found) >= int(answer.get("total") or 0):
                break
        return found

    def correlated_executions(self, key: str, value: str, namespace: str = "christmas") -> list[dict[str, Any]]:
        """The executions of `namespace` labelled `key: value`, and every execution of their correlation groups (a
        labelled send's webhook, handler, steps and schedule-plan carry none of its labels, but its correlation id)."""
        space = {"filters[namespace][EQUALS]": namespace}
        found = {e["id"]: e for e in self.search_executions({f"filters[labels][EQUALS][{key}]": value, **space})}
        groups = {str(e["id"]) for e in found.values()}
        groups |= {str(label.get("value")) for e in found.values() for label in e.get("labels") or ()
                   if isinstance(label, dict) and label.get("key") == CORRELATION}
        for group in sorted(groups):
            for execution in self.search_executions({f"filters[labels][EQUALS][{CORRELATION}]": group, **space}):
                found.setdefault(execution["id"], execution)
        return list(found.values())

    def forget_executions(
        self,
        key: str,
        value: str,
        namespace: str = "christmas",
        *,
        sleep: Callable[[float], None] = time.sleep,
        wait: float = 30.0,
    ) -> dict[str, Any]:
        """Delete, with their logs, metrics and files, the executions `correlated_executions` finds; one still running
        or scheduled (a send-email waiting for its time) is killed first, and deleted once it has ended (within
        `wait` seconds; else it is left, and named)."""
        executions = self.correlated_executions(key, value, namespace)
        live = [str(e["id"]) for e in executions if _state(e) not in ENDED]
        for execution_id in live:
            self._request("DELETE", f"executions/{execution_id}/kill", params={"isOnKillCascade": "false"},
                          expect=(202, 404, 409))
        states = {str(e["id"]): _state(e) for e in executions}
        deadline = wait
        while any(states[i] not in ENDED for i in live) and deadline > 0:
            sleep(1.0)
            deadline -= 1.0
            for execution_id in [i for i in live if states[i] not in ENDED]:
                answer = self._request("GET", f"executions/{execution_id}", expect=(200, 404))
                states[execution_id] = "GONE" if answer.status_code == 404 else _state(answer.json())
        ended = [i for i, state in states.items() if state in ENDED]
        left = [{"id": e["id"], "flow": e.get("flowId"), "state": states[str(e["id"])]} for e in executions
                if states[str(e["id"])] not in ENDED | {"GONE"}]
        return {"found": len(executions), "killed": len(live), "deleted": self.delete_executions(ended), "left": left}

    def delete_executions(self, ids: Iterable[str]) -> int:
        """Delete ended executions with their logs, metrics and files: one request for all, or, when Kestra refuses
        the list (one was deleted meanwhile), one each. How many were deleted."""
        wanted = sorted(set(ids))
        if not wanted:
            return 0
        bulk = self._request("DELETE", "executions/by-ids", params=PURGE, json=wanted, expect=(200, 400))
        if bulk.status_code == 200:
            return int(bulk.json().get("count") or len(wanted))
        gone = [self._request("DELETE", f"executions/{i}", params=PURGE, expect=(204, 404)) for i in wanted]
        return sum(answer.status_code == 204 for answer in gone)


def _state(execution: Mapping[str, Any]) -> str:
    state = execution.get("state")
    return str(state.get("current")) if isinstance(state, Mapping) else ""


def client_from_env(env: Mapping[str, str], what: str) -> KestraClient:
    """A client from KESTRA_URL, KESTRA_USERNAME, KESTRA_PASSWORD (and KESTRA_CA_BUNDLE), as `deploy` reads them;
    a missing one fails naming it."""
    from christmas_tasks.adapters.kestra_api import REQUIRED_SETTINGS, KestraClient

    missing = [name for name in REQUIRED_SETTINGS if not env.get(name, "").strip()]
    if missing:
        raise ConfigError(f"{what}: missing setting(s) " + ", ".join(missing))
    ca_bundle = env.get("KESTRA_CA_BUNDLE", "").strip()
    return KestraClient(
        env["KESTRA_URL"].strip(), env["KESTRA_USERNAME"].strip(), env["KESTRA_PASSWORD"], verify=ca_bundle or True
    )
