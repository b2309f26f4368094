"""Static checks of flows/ and kestra/: the rules a careless edit could break, checked in a second.

What the flows do is proven on Kestra's engine (kestra/engine, the engine suite); these guard the shape: one flow
per event kind, each of one shape, derived from the kinds (christmas_tasks/domain/events/); one Python step in one
flow (`step`), which alone fails on a rejection and logs failures, called as a Subflow by `handle-event` (every
handler's one queue), `send-email`, `health-check`, `report` and `campaign`; one place that schedules a plan,
whatever its length (`schedule-plan`, a loop); every setting of the settings table wired in `step`; values from
outside only in files, never in `env` (which Kestra renders twice); secrets through secret(); nothing Kestra 2.0
removes; no block repeated, flows/ under 500 lines; one pinned version everywhere.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from christmas_tasks.domain.catalogue import load_catalogue
from christmas_tasks.domain.events import KINDS
from christmas_tasks.entrypoints.settings import SETTINGS, STEP_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "flows"
KESTRA = ROOT / "kestra"
NAMESPACE = "christmas"
PYTHON = "io.kestra.plugin.scripts.python.Commands"
SUBFLOW = "io.kestra.plugin.core.flow.Subflow"
PROCESS = "io.kestra.plugin.core.runner.Process"
WEBHOOK = "io.kestra.plugin.core.trigger.Webhook"
# The one variable that may stand for a runner-specific path: the image can set ENV_CHRISTMAS_CLI.
CLI = "{{ envs.christmas_cli ?? 'christmas-tasks' }}"
FAIL = "io.kestra.plugin.core.execution.Fail"
# One handler flow per event kind, named after it (the kinds are the list).
HANDLERS = {kind: kind for kind in KINDS}
# The kinds applied at once, never behind handle-event's queue (a person's unsubscribe): their flows run the step.
UNQUEUED = {kind for kind, model in KINDS.items() if not model.queued}
SHARED = {"handle-event", "schedule-plan", "send-email", "health-check", "report", "campaign", "reconcile", "contact",
          "step", "failure-alert"}
# Values that must only ever come from secret(): credentials and the workspace's identifiers.
SECRET_SETTINGS = {setting.name for setting in SETTINGS if setting.secret and setting.kestra is None}
# Removed in Kestra 2.0: a flow using one would break on the version bump.
REMOVED_TASK_TYPES = re.compile(r"\.(ForEach|ForEachItem|EachSequential|EachParallel|Template)$")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: not a YAML mapping"
    return data


FLOW_FILES = sorted(FLOWS.glob("*.yml"))
ALL = {path.stem: load(path) for path in FLOW_FILES}


def tasks_of(flow: dict[str, Any]) -> list[dict[str, Any]]:
    """Every task of a flow, nested ones and the errors branch included."""
    found: list[dict[str, Any]] = []

    def walk(items: Any) -> None:
        for task in items or []:
            found.append(task)
            for key in ("tasks", "then", "else", "errors", "finally"):
                walk(task.get(key))

    for section in ("tasks", "errors", "finally", "afterExecution"):
        walk(flow.get(section))
    return found


def python_tasks(flow: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in tasks_of(flow) if t.get("type") == PYTHON]


def strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return []


def test_the_flow_set_is_complete() -> None:
    assert FLOW_FILES, "flows/ has no *.yml"
    assert not list(FLOWS.glob("*.yaml")), "use the .yml extension only"
    missing = sorted({*HANDLERS, *SHARED} - set(ALL))
    assert missing == [], f"an event kind or a shared flow without its flows/<name>.yml: {missing}"
    assert sorted(set(ALL) - {*HANDLERS, *SHARED}) == [], "a flow of no event kind (christmas-tasks events lists them)"


# The funnel's own wiring (every event and every email goes through it): a budget for logic creeping in.
FUNNEL_WIRING = ("handle-event", "schedule-plan", "send-email", "step", "unsubscribe-link")
OPERATOR_FLOW_LINES = 60  # a flow an operator starts or a trigger runs: one or two step calls and their outputs


def test_flows_are_wiring_within_their_budgets_with_no_block_repeated() -> None:
    # A handler flow of one shape is the same sixteen lines with its kind's names (checked below), and each flow for
    # operators (the report, the health check, an alert, a contact's story) has its own small budget: neither spends
    # the funnel's, which is for logic creeping into the shared wiring. All together: 594 lines with 10 kinds.
    sizes = {path.stem: len(path.read_text(encoding="utf-8").splitlines()) for path in FLOW_FILES}
    wiring = sum(sizes[name] for name in FUNNEL_WIRING)
    assert wiring < 300, f"the funnel's wiring ({', '.join(FUNNEL_WIRING)}) is {wiring} lines"
    operators = {name: n for name, n in sizes.items() if name not in HANDLERS and name not in FUNNEL_WIRING}
    too_long = {name: n for name, n in operators.items() if n > OPERATOR_FLOW_LINES}
    assert too_long == {}, f"operator flows over {OPERATOR_FLOW_LINES} lines: {too_long}"
    seen: dict[str, str] = {}
    for name, flow in ALL.items():
        for task in tasks_of(flow):
            # a handler's one call, with its own kind's name taken out, is the shape every handler shares; an
            # unqueued handler's call and labels, the shape the unqueued ones share (each checked below)
            shape = json.dumps(task, sort_keys=True).replace(json.dumps(name), '"<kind>"')
            shared = ("apply", "labels") if name in UNQUEUED else ("handle",)
            if name in HANDLERS and task["id"] in shared:
                continue
            assert shape not in seen, f"{name}: task {task['id']} repeats {seen.get(shape)}'s"
            seen[shape] = f"{name}.{task['id']}"
    assert [name for name, flow in ALL.items() if "errors" in flow] == ["step"], "one errors branch: step's"


@pytest.mark.parametrize("name", sorted(ALL))
def test_flow_parses_with_id_namespace_and_tasks(name: str) -> None:
    flow = ALL[name]
    assert flow.get("id") == name, "the flow id is the file name"
    assert flow.get("namespace") == NAMESPACE
    assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9._-]*", flow["id"])
    assert flow.get("tasks"), "a flow needs tasks"
    ids = [t["id"] for t in tasks_of(flow)]
    assert len(ids) == len(set(ids)), f"duplicate task ids in {name}: {ids}"
    for task_id in ids:
        assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_-]*", task_id), task_id


def test_flow_ids_are_unique() -> None:
    ids = [load(path)["id"] for path in FLOW_FILES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name", sorted(ALL))
def test_nothing_kestra_2_removed(name: str) -> None:
    flow = ALL[name]
    for key in ("pluginDefaults", "taskDefaults", "listeners", "template"):
        assert key not in flow, f"{name}: flow-level `{key}`"
    for task in tasks_of(flow):
        assert not REMOVED_TASK_TYPES.search(task["type"]), f"{name}: {task['type']}"
    for trigger in flow.get("triggers") or []:
        assert "conditions" not in trigger, f"{name}: trigger `conditions` (use `preconditions`/`when` instead)"


# --- the one Python step ------------------------------------------------------------------------------------

STEP = ALL["step"]


def test_the_step_flow_holds_the_only_python_step() -> None:
    assert [name for name, flow in ALL.items() if python_tasks(flow)] == ["step"]
    (run,) = python_tasks(STEP)
    assert run["id"] == "run" and STEP["tasks"][0] == run and len(STEP["tasks"]) == 3
    assert run.get("taskRunner") == {"type": PROCESS}
    # no dependency resolution at run time: uv (the plugin's default) would be downloaded when missing
    assert run.get("packageManager") == "PIP" and run.get("uvAutoInstallEnabled") is False
    for forbidden in ("dependencies", "pythonVersion", "beforeCommands", "script", "containerImage", "docker",
                      "runner", "interpreter"):
        assert forbidden not in run, f"step: `{forbidden}`"
    assert [(i["id"], i["type"]) for i in STEP["inputs"]] == [
        ("command", "SELECT"), ("event", "STRING"), ("payload", "JSON"), ("run_id", "STRING"), ("timeout", "DURATION"),
    ]
    assert run["timeout"] == "{{ inputs.timeout }}"
    described = {o["id"]: o["description"] for o in STEP["outputs"]}
    assert STEP["outputs"] == [
        {"id": "result", "type": "JSON", "description": described["result"],
         "value": "{{ (outputs.run.vars ?? {}) | toJson }}"},
        {"id": "files", "type": "JSON", "description": described["files"],
         "value": "{{ (outputs.run.outputFiles ?? {}) | toJson }}"},
    ]


def test_the_step_starts_the_package_with_none_of_the_servers_environment() -> None:
    (run,) = python_tasks(STEP)
    (command,) = run["commands"]
    assert command == (
        'exec env -i PATH="$PATH" HOME="${HOME:-/tmp}" LANG=C.UTF-8 TZ=UTC ' + CLI + " step request.json settings.json"
    )
    assert not any("env" in task for flow in ALL.values() for task in tasks_of(flow)), (
        "no task has `env`: Kestra renders it twice, and the step's command clears it anyway"
    )


def test_values_from_outside_reach_the_step_as_files_only() -> None:
    (run,) = python_tasks(STEP)
    assert set(run["inputFiles"]) == {"request.json", "settings.json"}
    request = " ".join(run["inputFiles"]["request.json"].split())
    assert request == (
        '{{ {"command": inputs.command, "event": inputs.event ?? null, "payload": inputs.payload ?? null, '
        '"run_id": inputs.run_id ?? null} | toJson }}'
    )
    outside = [s for s in strings({k: v for k, v in run.items() if k != "inputFiles"}) if "inputs." in s]
    assert outside == ["{{ inputs.timeout }}"], "only the timeout (the caller's constant) is read elsewhere"


def settings_map() -> dict[str, str]:
    (run,) = python_tasks(STEP)
    text = run["inputFiles"]["settings.json"]
    pairs = re.findall(r'"([A-Z_]+)": ([^,\n]+?)(?:,|\s*\} \| toJson)', text)
    return {name: value.strip() for name, value in pairs}


def test_the_step_passes_every_setting_and_secret_the_package_reads() -> None:
    """The settings table (christmas_tasks/entrypoints/settings_table.py) is what step.yml writes, both ways: a
    setting the package's commands read can be set on Kestra, and step.yml sets nothing they do not read (the public
    edge's own settings, read from its environment, never reach Kestra: tests/edge checks the edge reads exactly
    those)."""
    settings = settings_map()
    table = set(STEP_SETTINGS)
    edge_only = {setting.name for setting in SETTINGS} - table
    assert sorted(table - set(settings)) == [], "in the settings table, not written by flows/step.yml"
    assert sorted(set(settings) - table) == [], "written by flows/step.yml, not read by the step (settings table)"
    assert edge_only and not edge_only & set(settings), "the edge's own settings are not Kestra's"
    assert {"CHRISTMAS_CACHE_DIR", "CHRISTMAS_TEMPLATE_CACHE_SECONDS"} <= set(settings), "once unreachable on Kestra"
    # Two read from elsewhere: Kestra's own public URL, and the unsubscribe link's webhook key (links are built of both)
    assert settings.pop("KESTRA_PUBLIC_URL") == "kestra.url ?? null"
    assert settings.pop("UNSUBSCRIBE_LINK_KEY") == "secret('WEBHOOK_KEY_UNSUBSCRIBE_LINK')"
    for name, value in settings.items():
        if name in SECRET_SETTINGS:
            assert value == f"secret('{name}')", f"{name} must come from secret('{name}')"
        else:
            assert "secret(" not in value, f"{name}: a secret under another name ({value})"
            assert value.startswith(f"envs.{name.lower()}"), f"{name}: from ENV_{name}"
    # no fallback: a server without the backend setting fails loudly instead of defaulting to local
    assert settings["CHRISTMAS_BACKEND"] == "envs.christmas_backend"


def test_the_step_retries_outages_fails_once_on_a_rejection_or_a_bug_and_logs_failures() -> None:
    (run,) = python_tasks(STEP)
    retry = run["retry"]
    assert retry["type"] == "exponential" and int(retry["maxAttempts"]) >= 2
    assert retry.get("interval") and retry.get("maxInterval")
    # the package reports a rejection (`rejected`) and what no retry can fix (`failed`: a bug, a provider's 4xx) and
    # exits 0; each fails the execution at once, right after the call, with the package's message
    for fail, flag in zip(STEP["tasks"][1:], ("rejected", "failed"), strict=True):
        assert fail["id"] == flag and fail["type"] == FAIL and "retry" not in fail
        assert fail["runIf"] == f"{{{{ outputs.run.vars.{flag} ?? false }}}}"
        assert fail["errorMessage"] == "{{ outputs.run.vars.message }}"
    (log,) = STEP["errors"]
    assert log["type"] == "io.kestra.plugin.core.log.Log" and "errorLogs()" in log["message"]
    assert "{{ execution.id }}" in log["message"]
    assert "triggers" not in STEP and "concurrency" not in STEP, "it runs for its callers, under their limits"


def test_no_secret_value_is_committed() -> None:
    for path in FLOW_FILES:
        text = path.read_text(encoding="utf-8")
        for pattern in (r"secret_[A-Za-z0-9]{20,}", r"re_[A-Za-z0-9]{16,}", r"ntn_[A-Za-z0-9]{20,}",
                        r"https://discord(app)?\.com/api/webhooks/\d+"):
            assert not re.search(pattern, text), f"{path.name}: {pattern}"


# --- the callers --------------------------------------------------------------------------------------------

# The flows whose Python work is a `step` Subflow, with that task's id and the command it runs.
STEP_CALLERS = {
    "handle-event": ("handle", "handle"), "send-email": ("send", "send"), "health-check": ("health", "health"),
    "report": ("report", "report"), "campaign": ("campaign", "campaign"), "contact": ("contact", "contact"),
    "failure-alert": ("alert", "alert-failure"),
    **{kind: ("apply", "handle") for kind in UNQUEUED},
}
# The flows a person (or a webhook) starts: each fails once, with the package's message, on a rejection.
ENTRY_FLOWS = {
    **{name: "handle" for name in HANDLERS}, "send-email": "send", "health-check": "health", "report": "report",
    "contact": "contact",
    "campaign": "campaign",
}


def call_in(name: str, task_id: str) -> dict[str, Any]:
    (call,) = [t for t in ALL[name]["tasks"] if t["id"] == task_id]
    return call


def step_call(name: str) -> dict[str, Any]:
    return call_in(name, STEP_CALLERS[name][0])


@pytest.mark.parametrize("name", sorted(STEP_CALLERS))
def test_every_step_caller_runs_it_with_a_timeout_and_no_retry_of_its_own(name: str) -> None:
    call = step_call(name)
    assert call["type"] == SUBFLOW and call["namespace"] == NAMESPACE and call["flowId"] == "step"
    assert call.get("wait", True) is True and call.get("transmitFailed", True) is True
    assert call["inputs"]["command"] == STEP_CALLERS[name][1]
    assert re.fullmatch(r"PT\d+[MS]", call["inputs"]["timeout"]), "a timeout that fits the work"
    assert "retry" not in call, "Kestra 1.3.31 never ends a caller whose Subflow task retries: the step retries"


@pytest.mark.parametrize("name", sorted(ENTRY_FLOWS))
def test_every_entry_flow_fails_with_its_call_and_repeats_no_rejection_of_its_own(name: str) -> None:
    """The step fails once on a rejection and logs it (above); each flow a person or a webhook starts passes that
    failure up as its own (a Subflow that waits and transmits it), with no Fail, no retry, no errors branch beside."""
    flow = ALL[name]
    call = call_in(name, "apply" if name in UNQUEUED else ENTRY_FLOWS[name])
    assert call["type"] == SUBFLOW
    assert call["flowId"] == ("handle-event" if name in HANDLERS and name not in UNQUEUED else "step")
    assert call.get("wait", True) is True and call.get("transmitFailed", True) is True and "retry" not in call
    assert flow["tasks"].index(call) == 0, "the call comes first: nothing runs before a rejection"
    assert not [t for t in tasks_of(flow) if t["type"] == FAIL] and "errors" not in flow


# What each handler passes on as the payload: the body as it came; the link's query too (the address and token).
PAYLOADS = {name: "{{ (trigger.body ?? null) | toJson }}" for name in HANDLERS}
PAYLOADS["unsubscribe-link"] = "{{ {'parameters': trigger.parameters ?? {}, 'body': trigger.body ?? null} | toJson }}"


@pytest.mark.parametrize("name", sorted(set(HANDLERS) - UNQUEUED))
def test_handler_passes_the_webhook_body_as_data_to_the_queue(name: str) -> None:
    call = call_in(name, "handle")
    assert call["inputs"] == {"event": HANDLERS[name], "payload": PAYLOADS[name], "run_id": "{{ execution.id }}"}
    assert ALL[name]["tasks"] == [call], "a handler is wiring: its webhook, then the queue"


@pytest.mark.parametrize("name", sorted(UNQUEUED))
def test_an_unqueued_handler_runs_the_step_at_once_and_labels_its_execution(name: str) -> None:
    """A suppression (a person's unsubscribe, a bounce, a complaint) takes effect before the next send whatever is
    queued (SPEC §5): its flow runs the step itself, never behind handle-event's queue; the lock per address keeps it
    apart from the same address's events."""
    call, labels = ALL[name]["tasks"]
    assert call["id"] == "apply" and call["inputs"] == {
        "command": "handle", "event": name, "payload": PAYLOADS[name], "run_id": "{{ execution.id }}",
        "timeout": "PT1M"}
    assert labels["id"] == "labels" and "outputs.apply.outputs.result.labels" in labels["labels"]
    assert {"unsubscribe", "unsubscribe-link", "email-suppression"} == UNQUEUED


@pytest.mark.parametrize("name", sorted(set(HANDLERS) - UNQUEUED))
def test_handler_flows_that_differ_only_in_names_share_one_shape(name: str) -> None:
    """Every handler but the unsubscribe link (which answers its caller) is the same flow with its kind's name and
    webhook key in it: the description, the one call and the trigger."""
    expected = {
        "id": name,
        "namespace": NAMESPACE,
        "description": f"The `{name}` event's webhook (`christmas-tasks events` says what it does); `handle-event`"
                       " applies it.",
        "tasks": [{"id": "handle", "type": SUBFLOW, "namespace": NAMESPACE, "flowId": "handle-event",
                   "inputs": {"event": name, "payload": PAYLOADS[name], "run_id": "{{ execution.id }}"}}],
        "triggers": [{"id": "webhook", "type": WEBHOOK, "key": f"{{{{ secret('{KINDS[name].webhook_key}') }}}}"}],
    }
    assert ALL[name] == expected


def test_handle_event_runs_a_few_events_at_once_and_passes_the_event_on_as_data() -> None:
    """Two events for one address are kept apart by the package's lock per address (adapters/address_locks.py), not
    by this queue: it only bounds how many Python steps run at once (a queue, so none is dropped)."""
    flow = ALL["handle-event"]
    concurrency = flow["concurrency"]
    assert concurrency["behavior"] == "QUEUE" and 2 <= int(concurrency["limit"]) <= 8
    assert "triggers" not in flow, "it runs only for the handlers"
    assert [(i["id"], i["type"]) for i in flow["inputs"]] == [("event", "STRING"), ("payload", "JSON"),
                                                              ("run_id", "STRING")]
    assert step_call("handle-event")["inputs"] == {
        "command": "handle", "event": "{{ inputs.event }}", "payload": "{{ (inputs.payload ?? null) | toJson }}",
        "run_id": "{{ inputs.run_id }}", "timeout": step_call("handle-event")["inputs"]["timeout"],
    }
    assert [o["id"] for o in flow["outputs"]] == ["result"]
    assert flow["outputs"][0]["value"] == "{{ (outputs.handle.outputs.result ?? {}) | toJson }}"
    schedule = call_in("handle-event", "schedule")
    assert schedule["flowId"] == "schedule-plan" and schedule["wait"] is False, "the queue's slot is freed at once"
    assert schedule["inputs"] == {"plan": "{{ outputs.handle.outputs.result.result.plan | toJson }}"}, "as data, once"
    assert schedule["runIf"] == "{{ (outputs.handle.outputs.result.result.plan ?? []) | length > 0 }}"


def test_send_email_passes_its_inputs_as_data_and_is_capped() -> None:
    flow = ALL["send-email"]
    assert [(i["id"], i["type"]) for i in flow["inputs"]] == [
        ("sequence_key", "STRING"), ("email_number", "INT"), ("scheduled_for", "STRING"),
    ]
    assert step_call("send-email")["inputs"]["payload"] == "{{ inputs | toJson }}"
    assert "triggers" not in flow, "send-email runs only when a handler schedules it"
    concurrency = flow["concurrency"]
    assert concurrency["behavior"] == "QUEUE" and 1 <= int(concurrency["limit"]) <= 3, "Notion allows ~3 requests/s"


LABELS = "io.kestra.plugin.core.execution.Labels"
# The flows whose executions carry a contact's labels, and the step call whose outputs they come from.
LABELLED = {"handle-event": "handle", "send-email": "send", "contact": "contact", **dict.fromkeys(UNQUEUED, "apply")}


@pytest.mark.parametrize("name", sorted(LABELLED))
def test_labels_come_from_the_steps_outputs_rendered_once_after_it(name: str) -> None:
    """The contact's address, the event, the sequence and the email number label each execution about a contact, so
    Kestra's UI filters them (and `contact forget` finds them): set by Kestra's Labels task from what the package
    reported, rendered once as JSON (a map's values, from outside, are never rendered as a template again)."""
    tasks = ALL[name]["tasks"]
    (labels,) = [t for t in tasks if t["type"] == LABELS]
    call = LABELLED[name]
    assert labels == {"id": "labels", "type": LABELS,
                      "labels": f"{{{{ (outputs.{call}.outputs.result.labels ?? {{}}) | toJson }}}}"}
    assert tasks.index(labels) > tasks.index(call_in(name, call)), "after the step that reports them"
    assert {name for name, flow in ALL.items() if any(t["type"] == LABELS for t in tasks_of(flow))} == set(LABELLED)


def test_a_contacts_flow_passes_the_address_on_as_data() -> None:
    flow = ALL["contact"]
    assert [(i["id"], i["type"]) for i in flow["inputs"]] == [("email", "STRING"), ("action", "SELECT")]
    (action,) = [i for i in flow["inputs"] if i["id"] == "action"]
    assert action["values"] == ["story", "forget"] and action["defaults"] == "story", "a story unless forget is chosen"
    payload = "{{ {'email': inputs.email, 'action': inputs.action} | toJson }}"
    assert step_call("contact")["inputs"]["payload"] == payload
    assert "triggers" not in flow, "a person runs it from Kestra's UI"
    assert "contact" in STEP["inputs"][0]["values"]


def test_the_campaign_flow_runs_the_package_and_hands_a_resumes_plan_to_schedule_plan() -> None:
    """Pause, resume, status, reconcile and reschedule from Kestra's UI: the step's `campaign` command with the action,
    the reason and the grace period as data, one at a time; a plan (a resume's held emails, a reconciliation's lost
    ones) scheduled as a handler's is, by schedule-plan, fire and forget."""
    from christmas_tasks.entrypoints.kestra_step import CAMPAIGN_ACTIONS, COMMANDS

    (command,) = [i for i in STEP["inputs"] if i["id"] == "command"]
    assert command["values"] == list(COMMANDS), "the step offers every command the package's step runs"
    flow = ALL["campaign"]
    assert flow["concurrency"] == {"limit": 1, "behavior": "QUEUE"}, "two resumes at once would plan twice"
    assert "triggers" not in flow, "a person starts it (and the reconcile flow, hourly)"
    assert [(i["id"], i["type"]) for i in flow["inputs"]] == [("action", "SELECT"), ("reason", "STRING"),
                                                              ("grace", "STRING")]
    assert flow["inputs"][0]["values"] == list(CAMPAIGN_ACTIONS)
    assert [i.get("required") for i in flow["inputs"]] == [None, False, False]
    payload = "{{ {'action': inputs.action, 'reason': inputs.reason ?? null, 'grace': inputs.grace ?? null} | toJson }}"
    assert step_call("campaign")["inputs"] == {
        "command": "campaign", "payload": payload,
        "run_id": "{{ execution.id }}", "timeout": step_call("campaign")["inputs"]["timeout"],
    }
    schedule = call_in("campaign", "schedule")
    assert (schedule["type"], schedule["flowId"], schedule["wait"]) == (SUBFLOW, "schedule-plan", False)
    assert schedule["transmitFailed"] is False
    assert schedule["inputs"] == {"plan": "{{ outputs.campaign.outputs.result.result.plan | toJson }}"}, "as data, once"
    assert schedule["runIf"] == "{{ (outputs.campaign.outputs.result.result.plan ?? []) | length > 0 }}"
    assert [t["id"] for t in flow["tasks"]] == ["campaign", "schedule"]
    assert flow["outputs"] == [{"id": "result", "type": "JSON", "description": flow["outputs"][0]["description"],
                                "value": "{{ outputs.campaign.outputs.result.result | toJson }}"}]


def test_the_reconcile_flow_runs_the_campaigns_reconcile_every_hour_and_never_catches_up() -> None:
    """Issue 26: the hourly reconciliation goes through the campaign flow, so it never runs beside a pause or a
    resume (one control at a time) and its plan is scheduled by the same task as a resume's."""
    flow = ALL["reconcile"]
    (trigger,) = flow["triggers"]
    assert trigger["type"] == "io.kestra.plugin.core.trigger.Schedule"
    assert re.fullmatch(r"\d{1,2} \* \* \* \*", trigger["cron"]), "once an hour"
    assert trigger["recoverMissedSchedules"] == "NONE", "a missed hour's work is the next hour's"
    (call,) = flow["tasks"]
    assert (call["type"], call["flowId"], call["inputs"]) == (SUBFLOW, "campaign", {"action": "reconcile"})
    assert call.get("wait", True) and call.get("transmitFailed", True), "a failed reconciliation fails (and alerts)"
    assert flow["outputs"][0]["value"] == "{{ outputs.reconcile.outputs.result | toJson }}"
    from christmas_tasks.domain.reconciling import HORIZON

    assert HORIZON == timedelta(hours=1), "the plan's horizon is the flow's period"


def test_the_health_check_does_not_catch_up_missed_hours() -> None:
    (trigger,) = ALL["health-check"]["triggers"]
    assert trigger["type"] == "io.kestra.plugin.core.trigger.Schedule"
    assert trigger["recoverMissedSchedules"] == "NONE"


def test_the_report_runs_every_morning_without_catch_up_and_keeps_the_html_as_its_output_file() -> None:
    flow = ALL["report"]
    (trigger,) = flow["triggers"]
    assert trigger["type"] == "io.kestra.plugin.core.trigger.Schedule" and trigger["recoverMissedSchedules"] == "NONE"
    minute, hour, *every_day = trigger["cron"].split()
    assert every_day == ["*", "*", "*"] and minute.isdigit() and hour.isdigit(), "once a day"
    assert step_call("report")["inputs"]["payload"] == "{{ {'since': inputs.since ?? null} | toJson }}"
    assert flow["concurrency"] == {"limit": 1, "behavior": "QUEUE"}, "each report reads at Notion's whole rate"
    outputs = {o["id"]: o for o in flow["outputs"]}
    assert outputs["report"]["type"] == "FILE"
    assert outputs["report"]["value"] == "{{ outputs.report.outputs.files['report.html'] }}"
    (run,) = python_tasks(STEP)
    assert run["outputFiles"] == ["report.html"], "the step keeps the file the report command writes"
    assert {o["id"]: o["type"] for o in STEP["outputs"]}["files"] == "JSON"


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_handler_has_a_secret_webhook_key_and_queues_at_handle_event(name: str) -> None:
    flow = ALL[name]
    (trigger,) = flow["triggers"]
    assert trigger["type"] == WEBHOOK
    assert trigger["key"] == f"{{{{ secret('{KINDS[name].webhook_key}') }}}}", "the kind's own webhook key"
    assert "concurrency" not in flow, "the queue is handle-event's, one for every handler: a second would only nest"


def test_the_unsubscribe_link_waits_and_answers_its_caller_a_line() -> None:
    flow = ALL["unsubscribe-link"]
    (trigger,) = flow["triggers"]
    assert (trigger["wait"], trigger["returnOutputs"], trigger["responseContentType"]) == (True, True, "text/plain")
    assert trigger["responseCode"] == "{{ outputs.apply.outputs.result.response_code ?? 503 }}"
    (response,) = flow["outputs"]
    assert response["id"] == "response" and "outputs.apply.outputs.result.response_text ??" in response["value"]


def schedules(flow: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in tasks_of(flow) if t.get("type") == SUBFLOW and t.get("flowId") == "send-email"]


def test_one_place_schedules_a_plan_whatever_its_length() -> None:
    """Only schedule-plan creates send-email executions: a loop (LoopUntil, which Kestra 2.0 keeps) schedules one
    email of the plan per turn, fire and forget, until every one is. No flow names an email number, so the catalogue
    alone says how many emails a sequence has. (Kestra refuses a flow that calls itself as a Subflow.)"""
    assert {name for name, flow in ALL.items() if schedules(flow)} == {"schedule-plan"}
    flow = ALL["schedule-plan"]
    assert [(i["id"], i["type"]) for i in flow["inputs"]] == [("plan", "JSON")]
    (loop,) = flow["tasks"]
    assert loop["type"] == "io.kestra.plugin.core.flow.LoopUntil" and loop["failOnMaxReached"] is True
    assert loop["condition"] == "{{ outputs.each.iterationCount > (inputs.plan | length) }}"
    assert loop["checkFrequency"]["interval"] == "PT0S" and loop["checkFrequency"]["maxDuration"]
    (send,) = loop["tasks"]
    assert send == schedules(flow)[0]
    this = "inputs.plan[outputs.each.iterationCount - 1]"
    assert send["namespace"] == NAMESPACE and send["wait"] is False and send["transmitFailed"] is False
    assert send["scheduleDate"] == f"{{{{ {this}.send_at }}}}"
    assert send["inputs"] == {
        "sequence_key": f"{{{{ {this}.sequence_key }}}}",
        "email_number": f"{{{{ {this}.email_number }}}}",
        "scheduled_for": f"{{{{ {this}.send_at }}}}",
    }
    assert set(send["inputs"]) == {i["id"] for i in ALL["send-email"]["inputs"]}
    for path in FLOW_FILES:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"email_\d|schedule_email", text), f"{path.name} names an email of a sequence"


def test_every_catalogue_fits_the_ledger_and_the_kinds() -> None:
    """The packaged catalogue and the tests' fast one load (their email numbers within the ledger's columns, checked
    at load) and agree with the event kinds: each sequence started by one kind."""
    from christmas_tasks.domain.events import catalogue_problems

    for path in (None, ROOT / "examples" / "fast-catalogue.json"):
        assert catalogue_problems(load_catalogue(path).sequences) == [], path


def versions() -> dict[str, str]:
    pairs = {}
    for line in (KESTRA / "versions.env").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key] = value
    return pairs


def test_versions_are_pinned_in_one_file() -> None:
    pinned = versions()
    assert set(pinned) == {"KESTRA_VERSION", "KESTRA_PYTHON_PLUGIN_VERSION"}
    assert re.fullmatch(r"1\.3\.\d+", pinned["KESTRA_VERSION"]), "a Kestra 1.3 patch release"
    assert re.fullmatch(r"1\.9\.\d+", pinned["KESTRA_PYTHON_PLUGIN_VERSION"]), "the 1.9.x plugin line (Kestra 1.3)"
    assert tuple(map(int, pinned["KESTRA_PYTHON_PLUGIN_VERSION"].split("."))) >= (1, 9, 3), "uvAutoInstallEnabled"


def test_the_engine_tests_run_the_pinned_kestra_version() -> None:
    pom = (KESTRA / "engine" / "pom.xml").read_text(encoding="utf-8")
    (version,) = re.findall(r"<kestra\.version>([^<]+)</kestra\.version>", pom)
    assert version == versions()["KESTRA_VERSION"], "kestra/engine/pom.xml runs another Kestra than versions.env"
    assert "<version>${kestra.version}</version>" in pom and "<artifactId>platform</artifactId>" in pom


DOCS = [ROOT / "README.md", KESTRA / "README.md", KESTRA / "engine" / "README.md",
        *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_docs_name_only_the_pinned_kestra_version(doc: Path) -> None:
    pinned = versions()
    text = doc.read_text(encoding="utf-8")
    kestra = set(re.findall(r"(?<![\d.])1\.3\.\d+(?![\d.])", text))
    assert kestra <= {pinned["KESTRA_VERSION"]}, f"{doc.name} names Kestra {sorted(kestra)}"
    plugin = set(re.findall(r"(?<![\d.])1\.9\.\d+(?![\d.])", text))
    assert plugin <= {pinned["KESTRA_PYTHON_PLUGIN_VERSION"]}, f"{doc.name} names plugin-script-python {sorted(plugin)}"


def test_the_image_uses_the_tested_kestra_version() -> None:
    dockerfile = ROOT / "docker" / "Dockerfile"
    if not dockerfile.exists():
        pytest.skip("docker/Dockerfile does not exist yet")
    text = dockerfile.read_text(encoding="utf-8")
    pinned = versions()
    tags = re.findall(r"^FROM\s+\S*kestra/kestra:(\S+)", text, flags=re.MULTILINE | re.IGNORECASE)
    args = dict(re.findall(r"^ARG\s+(KESTRA_VERSION|KESTRA_PYTHON_PLUGIN_VERSION)=(\S+)", text, flags=re.MULTILINE))
    literal = [t for t in tags if "$" not in t]
    assert literal or "KESTRA_VERSION" in args or "versions.env" in text, "the image names its Kestra version"
    for tag in literal:
        assert tag.split("-")[0] == pinned["KESTRA_VERSION"], f"FROM kestra/kestra:{tag}"
    for name, value in args.items():
        assert value.strip("\"'") == pinned[name], f"ARG {name}={value}"


# --- failure alerts -----------------------------------------------------------------------------------------

FLOW_TRIGGER = "io.kestra.plugin.core.trigger.Flow"


def test_every_step_call_names_a_command_the_step_accepts() -> None:
    (command,) = [i for i in STEP["inputs"] if i["id"] == "command"]
    calls = [t for flow in ALL.values() for t in tasks_of(flow) if t.get("type") == SUBFLOW and t["flowId"] == "step"]
    assert {t["inputs"]["command"] for t in calls} == set(command["values"])
    from christmas_tasks.entrypoints.kestra_step import COMMANDS

    assert set(command["values"]) == set(COMMANDS), "the package runs every command the step offers"


def test_failure_alert_reacts_to_failed_executions_through_preconditions_never_its_own() -> None:
    """Kestra 1.3.31's Flow trigger: `states`, then `preconditions` (a MultipleCondition: each `where` set is met on
    its own and remembered for the window, so all of them must sit in one set for one execution to meet them), no
    trigger `conditions` (Kestra 2.0 removes them). Its own executions are excluded (Kestra refuses a flow its own
    trigger anyway: FlowService.removeUnwanted), and so are the step executions it ran, whose trigger (a Subflow's)
    names it: an alert that fails cannot start another."""
    flow = ALL["failure-alert"]
    (trigger,) = flow["triggers"]
    assert trigger["type"] == FLOW_TRIGGER and trigger["states"] == ["FAILED"]
    assert "conditions" not in trigger and set(trigger) == {"id", "type", "states", "preconditions"}
    preconditions = trigger["preconditions"]
    assert set(preconditions) == {"id", "where"}, "no upstream `flows` list: any flow of the namespace"
    (where,) = preconditions["where"]
    assert where.get("operand", "AND") == "AND"
    assert where["filters"] == [
        {"field": "NAMESPACE", "type": "EQUAL_TO", "value": NAMESPACE},
        {"field": "FLOW_ID", "type": "NOT_EQUAL_TO", "value": "failure-alert"},
        {"field": "EXPRESSION", "type": "IS_FALSE", "value": "{{ (trigger.flowId ?? '') == 'failure-alert' }}"},
    ]
    assert flow["concurrency"] == {"limit": 1, "behavior": "QUEUE"}, "the record of recent alerts, in order"
    assert "errors" not in flow and not [t for t in tasks_of(flow) if t["type"] == FAIL]


def test_failure_alert_passes_the_failed_execution_as_data_and_schedules_a_windows_summary() -> None:
    flow = ALL["failure-alert"]
    alert, summary = flow["tasks"]
    assert alert == step_call("failure-alert")
    # the trigger's object whole (ids, state, the failed execution's outputs), rendered once into JSON, never again
    assert alert["inputs"]["payload"] == (
        "{{ {'failed': trigger, 'correlation': labels.system.correlationId ?? null} | toJson }}"
    )
    assert summary["type"] == SUBFLOW and summary["flowId"] == "step" and summary["namespace"] == NAMESPACE
    assert (summary["wait"], summary["transmitFailed"]) == (False, False), "the alert ends now; the summary later"
    assert summary["runIf"] == "{{ outputs.alert.outputs.result.summary_at ?? false }}"
    assert summary["scheduleDate"] == "{{ outputs.alert.outputs.result.summary_at }}"
    assert summary["inputs"]["command"] == "alert-summary" and "retry" not in summary
    assert summary["inputs"]["payload"] == "{{ {'window': outputs.alert.outputs.result.window} | toJson }}"
    for text in strings(flow):
        assert "render(" not in text, "nothing of a failed execution is rendered a second time"
    others = [name for name, f in ALL.items() if any(t["type"] == FLOW_TRIGGER for t in f.get("triggers") or [])]
    assert others == ["failure-alert"]
