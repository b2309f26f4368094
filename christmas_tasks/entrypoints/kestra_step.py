"""One Kestra step (`christmas-tasks step REQUEST SETTINGS`), the only command the flows call.

Kestra's `step` flow writes two files and runs this with nothing else of the server's environment:

- REQUEST: `{"command": "handle"|"send"|"health"|"report"|"campaign"|"contact"|"alert-failure"|"alert-summary",
  "event": ..., "payload": ..., "run_id": ...}`, where the payload is the webhook body (handle), the send-email inputs
  (send), `{"backend": ...}` (health), `{"since": "YYYY-MM-DD"}` (report, optional: it writes REPORT_FILE and posts
  its summary to Discord), `{"action": "status"|"pause"|"resume"|"reconcile"|"reschedule", "reason": ...,
  "grace": "1h"}` (campaign; grace: reconcile and reschedule only), `{"email": ..., "action": "story"|"forget"}`
  (contact: christmas_tasks/entrypoints/contact.py), or a failed execution and a
  summary's window (the failure-alert flow: failure_alert.py). Values from outside arrive here as data in a file,
  never in a place Kestra renders as a template.
- SETTINGS: the package's settings and secrets, `{"NAME": "value"}`, as the environment would hold them.

The result goes to Kestra as outputs. A request that cannot succeed as it is (a rejected event, a missing
setting, an unknown sequence record, an unusable template) is reported, not raised: `rejected: true` and the
package's message, which the step flow's Fail task logs as it fails, once, at once, instead of retrying it. So is a
failure no retry can fix (a bug, a provider's 4xx): `failed: true`, its first error line and its traceback in the log.
Only what a later try may fix (`is_transient`: an outage, 429 or 5xx, a timeout, a lost connection) exits non-zero,
for Kestra's retries; its outputs carry its first error line too (`error`: Kestra keeps a failed task's outputs, and
failure-alert reads them). A handled event's plan is
`result.plan`, which handle-event hands to schedule-plan whole; so is a resume's and a reconcile's, which the campaign
flow hands on the same way; `labels` (handle, send, contact) is what the calling flow's Labels task sets on its
execution: the contact's address, the event, the sequence, the email number.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from christmas_tasks.domain.errors import ChristmasError, InvalidInput, Problem, ProviderError

if TYPE_CHECKING:
    from christmas_tasks.entrypoints.settings import Settings

COMMANDS = ("handle", "send", "health", "report", "campaign", "contact", "alert-failure", "alert-summary")
CAMPAIGN_ACTIONS = ("status", "pause", "resume", "reconcile", "reschedule")
REPORT_FILE = "report.html"  # what the report command writes in the working folder (the step's output file)


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput("step request", [Problem(field, message)])


def settings_values(raw: Any) -> dict[str, str]:
    """The SETTINGS file's object, every value a string (null and absent mean unset)."""
    if not isinstance(raw, dict):
        raise _invalid("settings", "must be a JSON object of setting names to values")
    values = {}
    for name, value in raw.items():
        if value is None:
            continue
        if not isinstance(value, str | int | float | bool):
            raise _invalid(f"settings.{name}", "must be a string")
        values[str(name)] = str(value).lower() if isinstance(value, bool) else str(value)
    return values


def scrub(value: Any, values: Mapping[str, str]) -> Any:
    """`value` with every credential of the settings replaced by `***` (a last line of defence for the outputs)."""
    from christmas_tasks.entrypoints.settings import CREDENTIALS

    secrets = [values[name] for name in CREDENTIALS if len(values.get(name, "")) >= 8]
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "***")
        return value
    if isinstance(value, dict):
        return {key: scrub(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, values) for item in value]
    return value


def rejection_lines(error: ChristmasError) -> list[str]:
    """The package's message, one `error:` line per problem, as the command line prints it."""
    if isinstance(error, InvalidInput):
        return [f"error: {error.what}: {problem}" for problem in error.problems]
    return [f"error: {error}"]


def rejection_outputs(error: ChristmasError, lines: list[str]) -> dict[str, Any]:
    """The step's outputs for a request it refuses: the package's message, and what a webhook caller waiting on
    the flow is answered (the unsubscribe link's): 400 and one line saying nothing was changed."""
    first = lines[0].removeprefix("error: ") if lines else str(error)
    return {
        "rejected": True,
        "message": "\n".join(lines),
        "response_code": 400,
        "response_text": f"Nothing was changed: {first}.",
    }


def call_of(request: Any) -> dict[str, str]:
    """What the step was asked to do (its command, and the event kind), for the outputs of a step that failed."""
    if not isinstance(request, dict):
        return {}
    return {key: value for key in ("command", "event") if isinstance(value := request.get(key), str) and value}


def crash_outputs(error: BaseException, request: Any, values: Mapping[str, str]) -> dict[str, Any]:
    """The outputs of a step that fails (a provider outage, a crash): its first error line, as the command line prints
    it, scrubbed of every credential, and what it was asked to do."""
    text = str(error) if isinstance(error, ChristmasError) else f"{type(error).__name__}: {error}"
    line = next((part.strip() for part in text.splitlines() if part.strip()), type(error).__name__)
    outputs: dict[str, Any] = scrub({"rejected": False, "error": line[:300], **call_of(request)}, values)
    return outputs


def is_rejection(error: ChristmasError) -> bool:
    """Everything deliberate but a provider's failure: retrying the same request cannot change the answer."""
    return not isinstance(error, ProviderError)


def is_transient(error: BaseException) -> bool:
    """What a later try of the same request may fix, so Kestra's retries take it: a provider's outage, 429 or 5xx, a
    timeout or a lost connection (the adapters mark them `retryable` once their own retries are spent), the same met
    outside an adapter, or the local ledger busy. Anything else (a provider's 4xx, a bug) would fail the same way
    again while the caller holds its queue's slot: it fails once, at once."""
    import sqlite3

    if isinstance(error, ProviderError):
        return error.retryable
    if isinstance(error, sqlite3.OperationalError):
        return any(word in str(error).lower() for word in ("locked", "busy"))
    return isinstance(error, TimeoutError | ConnectionError)


def failure_outputs(error: BaseException, request: Any, values: Mapping[str, str]) -> dict[str, Any]:
    """The outputs of a step that failed on what no retry can fix: the crash's outputs, `failed`, and the message the
    step flow's Fail task logs as it fails the execution once, at once (the traceback is in the task's own log)."""
    outputs = crash_outputs(error, request, values)
    why = "a bug" if not isinstance(error, ChristmasError) else "a provider's refusal"
    message = f"error: {outputs['error']} ({why}, not retried: the same request fails the same way; the traceback is " \
        "in the run task's log)"
    return {**outputs, "failed": True, "message": message}


def run(request: Any, values: Mapping[str, str], now: datetime) -> dict[str, Any]:
    """The step's outputs; raises ChristmasError for a request that cannot succeed (see the module's docstring)."""
    from christmas_tasks.entrypoints.settings import Settings

    if not isinstance(request, dict):
        raise _invalid("request", "must be a JSON object")
    command = request.get("command")
    if command not in COMMANDS:
        raise _invalid("command", f"must be one of {', '.join(COMMANDS)}, not {command!r}")
    payload = request.get("payload")
    if command == "health":
        backend = payload.get("backend") if isinstance(payload, dict) else None
        settings = Settings.from_env({**values, **({"CHRISTMAS_BACKEND": backend} if backend else {})})
        from christmas_tasks.entrypoints.app import check_health

        # names only, never values: what reached the step, so an operator can see nothing else does
        return {**check_health(settings), "environment": sorted(os.environ)}

    if command == "report":
        return _report(Settings.from_env(values), payload, now)

    if command in ("alert-failure", "alert-summary"):  # only what alerting needs: a broken setting must not stop it
        from christmas_tasks.entrypoints import failure_alert
        from christmas_tasks.entrypoints.settings import SettingValues

        alert = failure_alert.run_alert_failure if command == "alert-failure" else failure_alert.run_alert_summary
        return alert(SettingValues(values), payload, now)

    from christmas_tasks.entrypoints import contact

    if command == "contact":
        return contact.step(Settings.from_env(values), payload, now)

    from christmas_tasks.entrypoints.app import build_funnel

    settings = Settings.from_env(values)
    if command == "campaign":
        return _campaign(payload, request.get("run_id"), settings, now)
    if command == "handle":
        event = request.get("event")
        if not isinstance(event, str):
            raise _invalid("event", "is required to handle an event")
        from christmas_tasks.domain.events import UnsubscribeLinkEvent
        from christmas_tasks.entrypoints.app import build_received_emails
        from christmas_tasks.entrypoints.inbound import read_event

        run_id = request.get("run_id")
        read = read_event(event, payload, now, build_received_emails(settings))
        # an email's engagement yields Notion's budget to sends (SPEC §9)
        funnel = build_funnel(settings, background=read.yields_to_sends)
        handled = funnel.handle(read, now, run_id if isinstance(run_id, str) and run_id else None)
        # `result.plan` is what handle-event hands to schedule-plan: one send-email execution per planned email;
        # `labels`, what its Labels task sets on the execution (Kestra's UI filters a contact's executions by them)
        outputs: dict[str, Any] = {
            "result": handled.as_json(), "planned": len(handled.plan),
            "labels": contact.labels(contact=handled.email, event=handled.event, sequence=handled.sequence),
        }
        if handled.event == UnsubscribeLinkEvent.kind:  # what the person, or the mailbox provider, is answered
            sender = funnel.campaign.sender_name
            outputs.update(
                response_code=200,
                response_text=f"You are unsubscribed: {sender} will send no more email to {handled.email}.",
            )
        return outputs

    funnel = build_funnel(settings)
    if not isinstance(payload, dict):
        raise _invalid("payload", "must hold sequence_key, email_number and scheduled_for to send")
    key, number, scheduled = payload.get("sequence_key"), payload.get("email_number"), payload.get("scheduled_for")
    if not isinstance(key, str) or not key:
        raise _invalid("payload.sequence_key", "is required")
    if isinstance(number, bool) or not isinstance(number, int | str) or not str(number).isdigit():
        raise _invalid("payload.email_number", "must be a whole number")
    from christmas_tasks.domain.keys import parse_sequence_key

    scheduled_for = None
    if scheduled:
        from christmas_tasks.domain.planning import parse_timestamp

        try:
            scheduled_for = parse_timestamp(str(scheduled))
        except ValueError as exc:
            raise _invalid("payload.scheduled_for", str(exc)) from None
    outcome = funnel.send(key, int(number), now, scheduled_for)
    _, sequence, email = parse_sequence_key(key)
    return {
        "result": outcome.as_json(), "status": outcome.status.value,
        "labels": contact.labels(contact=email, sequence=sequence, email_number=outcome.email_number),
    }


def _campaign(payload: Any, run_id: Any, settings: Settings, now: datetime) -> dict[str, Any]:
    """Pause, resume or show the campaign (the `campaign` flow); a resume's plan is `result.plan`, for schedule-plan."""
    action = payload.get("action") if isinstance(payload, dict) else None
    if action not in CAMPAIGN_ACTIONS:
        raise _invalid("payload.action", f"must be one of {', '.join(CAMPAIGN_ACTIONS)}, not {action!r}")
    reason = payload.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise _invalid("payload.reason", "must be text")
    from christmas_tasks.entrypoints.app import build_funnel

    funnel = build_funnel(settings)
    if action in ("reconcile", "reschedule"):  # the emails Kestra lost, planned again (usecases/reconciling.py)
        grace = grace_of(payload.get("grace"), "payload.grace")
        found = funnel.reconcile(now, everything=action == "reschedule", grace=grace)
        return {"result": found.as_json(), "planned": len(found.plan),
                "requests": getattr(funnel.ledger, "requests", None)}
    by = f"Kestra execution {run_id}" if isinstance(run_id, str) and run_id else "Kestra"
    if action == "pause":
        outcome = funnel.pause(now, reason, by)
    elif action == "resume":
        outcome = funnel.resume(now, by, reason)
    else:
        outcome = funnel.status(now)
    return {"result": outcome.as_json(), "planned": len(outcome.plan)}


def grace_of(raw: Any, field: str) -> timedelta | None:
    """A reconciliation's grace period: a duration such as `90s`, `10m` or `1h`; empty or absent, the default."""
    if raw is None or raw == "":
        return None
    from christmas_tasks.domain.catalogue import parse_duration

    if not isinstance(raw, str):
        raise InvalidInput("reconcile", [Problem(field, "must be a duration such as '90s', '10m' or '1h'")])
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise InvalidInput("reconcile", [Problem(field, str(exc))]) from None


def _report(settings: Settings, payload: Any, now: datetime) -> dict[str, Any]:
    """Write the HTML report to REPORT_FILE (the flow keeps it as its output file) and post the summary to the
    Discord webhook when one is configured; the outputs say what was done."""
    from pathlib import Path

    from christmas_tasks.adapters.files import write_atomically
    from christmas_tasks.entrypoints.app import build_alerter, campaign_report
    from christmas_tasks.usecases.outcomes import AlertStatus
    from christmas_tasks.usecases.report import parse_since, render_html, render_summary

    since_text = payload.get("since") if isinstance(payload, dict) else None
    if since_text is not None and not isinstance(since_text, str):
        raise _invalid("payload.since", "must be a date such as 2026-12-01")
    since = parse_since(since_text, now, "payload.since") if since_text else None
    report = campaign_report(settings, now, since)
    write_atomically(Path(REPORT_FILE), render_html(report).encode("utf-8"))
    summary = render_summary(report)
    alerter = build_alerter(settings)
    posted = AlertStatus.NOT_CONFIGURED
    if alerter is not None:
        posted = AlertStatus.SENT if alerter.alert(summary) else AlertStatus.FAILED
    return {
        "summary": summary,
        "discord": posted.value,
        "report_file": REPORT_FILE,
        "contacts": report.contacts,
        "sent": report.sent,
        "skipped": report.skipped,
        "failed": report.failed,
        "requests": report.requests,
    }
