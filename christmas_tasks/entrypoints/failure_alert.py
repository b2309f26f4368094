"""The step commands of the `failure-alert` flow: `alert-failure` and `alert-summary` (usecases/failure_alerts.py).

What Kestra gives, read here (Kestra's words stay at the edge). `failure-alert`'s Flow trigger hands over the failed
execution as `trigger` (Kestra 1.3.31, `io.kestra.plugin.core.trigger.Flow.Output`): `executionId`, `namespace`,
`flowId`, `state`, `executionLabels` and `outputs`, the failed execution's flow outputs, which Kestra renders at the
end of every execution, failed ones included. The flow passes that object whole, as data, with the execution's
`system.correlationId` label (Kestra copies it onto the alert's execution).

The first error line is the package's own: a `step` that failed reported it in its `result` output, as `message`
for a request it refused (the Fail task's message) and as `error` for a crash (`cli.cmd_step` writes its outputs
before it exits non-zero, and Kestra keeps a failed script task's outputs). A caller that waited for that step
carries the same `result` (`handle-event`), or nothing (a handler, `send-email`): the rule folds it into the step's
alert. A step killed by its timeout reported nothing: the message says so and links to its logs.

These commands read only what they need (the Discord webhook, the cache folder, Kestra's URL), not the whole
settings: an alert must go out even when the failure is a missing setting.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from christmas_tasks.domain.errors import InvalidInput, Problem
from christmas_tasks.usecases.failure_alerts import Failure, alert_failure, alert_summary
from christmas_tasks.usecases.ports import Alerter, AlertLog

TENANT = "main"  # Kestra open source's one tenant
ERROR_LENGTH = 300  # a first error line longer than this is cut


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput("failure alert", [Problem(field, message)])


def execution_link(kestra_url: str | None, namespace: str, flow: str, execution: str) -> str | None:
    """The execution's page in Kestra's UI, as Kestra 1.3.31 builds it (`io.kestra.core.utils.UriProvider
    .executionUrl`): `kestra.url` without its trailing slash, then `/ui/{tenant}/executions/{namespace}/{flowId}/{id}`.
    """
    if not kestra_url or not kestra_url.strip():
        return None
    parts = (TENANT, "executions", namespace, flow, execution)
    return kestra_url.strip().rstrip("/") + "/ui/" + "/".join(quote(part, safe="") for part in parts)


def _result(outputs: Any) -> dict[str, Any]:
    """The `result` output a step (or a caller that waited for it) reported; {} when there is none."""
    result = outputs.get("result") if isinstance(outputs, dict) else None
    if isinstance(result, str):  # a JSON output may arrive as its text
        try:
            result = json.loads(result)
        except ValueError:
            return {}
    return result if isinstance(result, dict) else {}


def first_error_line(outputs: Any) -> str | None:
    """The failure's first error line, from the execution's outputs: a crash's `error`, else a refusal's `message`
    (without its `error: ` prefix); None when it reported neither."""
    result = _result(outputs)
    for key in ("error", "message"):
        text = result.get(key)
        if isinstance(text, str):
            for line in text.splitlines():
                line = line.strip().removeprefix("error: ").strip()
                if line:
                    return line if len(line) <= ERROR_LENGTH else line[: ERROR_LENGTH - 1] + "…"
    return None


def _call(outputs: Any) -> str | None:
    result = _result(outputs)
    words = [result.get(key) for key in ("command", "event")]
    return " ".join(w for w in words if isinstance(w, str) and w) or None


def read_failure(payload: Any, kestra_url: str | None) -> Failure:
    """The failure of `alert-failure`'s payload: `{"failed": <the Flow trigger's object>, "correlation": ...}`."""
    failed = payload.get("failed") if isinstance(payload, dict) else None
    if not isinstance(failed, dict):
        raise _invalid("payload.failed", "must be the failed execution, as the Flow trigger gives it")
    names = {}
    for key in ("namespace", "flowId", "executionId"):
        value = failed.get(key)
        if not isinstance(value, str) or not value:
            raise _invalid(f"payload.failed.{key}", "is required")
        names[key] = value
    state = failed.get("state")
    correlation = payload.get("correlation")
    outputs = failed.get("outputs")
    return Failure(
        namespace=names["namespace"],
        flow=names["flowId"],
        execution=names["executionId"],
        state=state if isinstance(state, str) and state else "FAILED",
        error=first_error_line(outputs),
        correlation=correlation if isinstance(correlation, str) and correlation else None,
        link=execution_link(kestra_url, names["namespace"], names["flowId"], names["executionId"]),
        call=_call(outputs),
    )


def cache_dir(values: Mapping[str, str]) -> Path:
    """CHRISTMAS_CACHE_DIR, with Settings' default (the system's temporary folder)."""
    folder = values.get("CHRISTMAS_CACHE_DIR", "").strip()
    return Path(folder) if folder else Path(tempfile.gettempdir()) / "christmas-tasks-cache"


def _alerter(values: Mapping[str, str]) -> Alerter | None:
    url = values.get("DISCORD_WEBHOOK_URL", "").strip()
    if not url:
        return None
    from christmas_tasks.adapters.discord import DiscordAlerter
    from christmas_tasks.adapters.secret import Secret

    return DiscordAlerter(Secret(url))


def _log(values: Mapping[str, str]) -> AlertLog:
    from christmas_tasks.adapters.alert_log import AlertLogFile

    return AlertLogFile(cache_dir(values))


def run_alert_failure(values: Mapping[str, str], payload: Any, now: datetime) -> dict[str, Any]:
    failure = read_failure(payload, values.get("KESTRA_PUBLIC_URL"))
    return alert_failure(_log(values), _alerter(values), failure, now).as_json()


def run_alert_summary(values: Mapping[str, str], payload: Any, now: datetime) -> dict[str, Any]:
    from christmas_tasks.domain.planning import parse_timestamp

    window = payload.get("window") if isinstance(payload, dict) else None
    try:
        start = parse_timestamp(window)
    except ValueError as exc:
        raise _invalid("payload.window", f"{window!r} {exc}") from None
    return alert_summary(_log(values), _alerter(values), start, now).as_json()
