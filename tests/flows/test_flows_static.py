"""Static checks of flows/ and kestra/: what can be proven without a Kestra server.

Each check guards a rule of DESIGN "Kestra" or of the issue that a careless edit could break: one
`christmas-tasks` call per Python step, bodies as files, secrets through secret(), nothing Kestra 2.0
removed, queued handlers, one guarded Subflow per email the catalogue can plan, retries, one pinned
version everywhere.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from christmas_tasks.settings import LIVE_REQUIRED, LIVE_SECRETS
from christmas_tasks.variables import SEQUENCE_EVENT

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "flows"
KESTRA = ROOT / "kestra"
NAMESPACE = "christmas"
PYTHON = "io.kestra.plugin.scripts.python.Commands"
SUBFLOW = "io.kestra.plugin.core.flow.Subflow"
PROCESS = "io.kestra.plugin.core.runner.Process"
WEBHOOK = "io.kestra.plugin.core.trigger.Webhook"
# The one variable that may stand for a runner-specific path: the image can set KESTRA_CHRISTMAS_CLI.
CLI = "{{ envs.christmas_cli ?? 'christmas-tasks' }}"
HANDLERS = {
    "assessment": "assessment", "signup": "signup", "booking": "booking", "noshow": "noshow",
    "postcall": "postcall", "onboarding": "onboarding", "unsubscribe": "unsubscribe", "email-status": "email-status",
}
# Values that must only ever come from secret(): credentials and the workspace's identifiers.
SECRET_SETTINGS = {
    "NOTION_TOKEN", "NOTION_CONTACTS_DB_ID", "NOTION_EMAIL_SEQUENCE_DB_ID", "NOTION_EMAIL_TEMPLATES_DB_ID",
    "NOTION_EMAIL_ANALYTICS_DB_ID", "RESEND_API_KEY", "UNSUBSCRIBE_SECRET", "DISCORD_WEBHOOK_URL",
}
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
    assert set(ALL) == {*HANDLERS, "send-email", "health-check"}
    assert not list(FLOWS.glob("*.yaml")), "use the .yml extension only"


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


@pytest.mark.parametrize("name", sorted(ALL))
def test_each_python_step_is_one_christmas_tasks_call_on_the_process_runner(name: str) -> None:
    steps = python_tasks(ALL[name])
    assert steps, f"{name} has no Python step"
    for task in steps:
        commands = task.get("commands")
        assert isinstance(commands, list) and len(commands) == 1, f"{task['id']}: exactly one command"
        assert "beforeCommands" not in task and "script" not in task
        command = commands[0]
        assert command.startswith(CLI + " "), f"{task['id']}: the command starts with the CLI variable"
        rest = command[len(CLI):]
        assert "{{" not in rest and "{%" not in rest, f"{task['id']}: nothing rendered into the command text"
        assert not re.search(r"[;&|`<>]|\$\(", rest), f"{task['id']}: one command, no chaining or substitution"
        assert "christmas-tasks" not in rest and "python" not in rest
        assert task.get("taskRunner") == {"type": PROCESS}
        # no dependency resolution at run time: uv (the plugin's default) would be downloaded when missing
        assert task.get("packageManager") == "PIP" and task.get("uvAutoInstallEnabled") is False
        assert "dependencies" not in task and "pythonVersion" not in task
        for forbidden in ("containerImage", "docker", "runner", "interpreter"):
            assert forbidden not in task, f"{task['id']}: runner-specific `{forbidden}`"


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_handler_passes_the_webhook_body_as_an_input_file(name: str) -> None:
    flow = ALL[name]
    (handle,) = python_tasks(flow)
    assert handle["id"] == "handle"
    assert handle["inputFiles"] == {"body.json": "{{ (trigger.body ?? null) | toJson }}"}
    assert handle["commands"] == [f"{CLI} handle {HANDLERS[name]} body.json"]
    assert handle["env"]["CHRISTMAS_KESTRA_OUTPUTS"] == "1"
    outside_input_files = {k: v for k, v in flow.items() if k != "tasks"}, [
        {k: v for k, v in t.items() if k != "inputFiles"} for t in flow["tasks"]
    ]
    assert not any("trigger." in s for s in strings(outside_input_files)), "the body is read only through the file"


def test_send_email_gets_its_inputs_through_the_environment_not_the_command() -> None:
    flow = ALL["send-email"]
    assert [(i["id"], i["type"]) for i in flow["inputs"]] == [
        ("sequence_key", "STRING"), ("email_number", "INT"), ("scheduled_for", "STRING"),
    ]
    (send,) = python_tasks(flow)
    assert send["commands"] == [
        f'{CLI} send --sequence-key "$SEQUENCE_KEY" --email-number "$EMAIL_NUMBER" --scheduled-for "$SCHEDULED_FOR"'
    ]
    assert send["env"]["SEQUENCE_KEY"] == "{{ inputs.sequence_key }}"
    assert send["env"]["EMAIL_NUMBER"] == "{{ inputs.email_number }}"
    assert send["env"]["SCHEDULED_FOR"] == "{{ inputs.scheduled_for }}"
    assert "triggers" not in flow, "send-email runs only when a handler schedules it"


@pytest.mark.parametrize("name", sorted(ALL))
def test_settings_and_secrets_reach_every_python_step(name: str) -> None:
    for task in python_tasks(ALL[name]):
        env = task["env"]
        needed = {*LIVE_SECRETS, *LIVE_REQUIRED, *SECRET_SETTINGS, "CHRISTMAS_BACKEND", "TESTING_MODE"}
        assert needed <= set(env), f"{task['id']}: missing {sorted(needed - set(env))}"
        for key, value in env.items():
            if key in SECRET_SETTINGS:
                assert value == f"{{{{ secret('{key}') }}}}", f"{key} must come from secret('{key}')"
            elif "secret(" in value:
                pytest.fail(f"{key}: a secret under another name ({value})")
        # no fallback: a server without the backend setting fails loudly instead of defaulting to local
        if name != "health-check":
            assert env["CHRISTMAS_BACKEND"] == "{{ envs.christmas_backend }}"


def test_every_python_step_gets_the_same_settings() -> None:
    per_task = {
        f"{name}.{t['id']}": {k: v for k, v in t["env"].items() if k not in
                              ("SEQUENCE_KEY", "EMAIL_NUMBER", "SCHEDULED_FOR", "CHRISTMAS_KESTRA_OUTPUTS",
                               "CHRISTMAS_BACKEND", "CHRISTMAS_RUN_ID")}
        for name, flow in ALL.items() for t in python_tasks(flow)
    }
    reference = per_task["send-email.send"]
    for where, env in per_task.items():
        assert env == reference, f"{where}: its settings differ from send-email's"


def test_handlers_pass_their_execution_id_as_the_run_id() -> None:
    for name, flow in ALL.items():
        for task in python_tasks(flow):
            if " handle " in " ".join(task["commands"]):
                assert task["env"].get("CHRISTMAS_RUN_ID") == "{{ execution.id }}", f"{name}.{task['id']}"


def test_no_secret_value_is_committed() -> None:
    for path in FLOW_FILES:
        text = path.read_text(encoding="utf-8")
        for pattern in (r"secret_[A-Za-z0-9]{20,}", r"re_[A-Za-z0-9]{16,}", r"ntn_[A-Za-z0-9]{20,}",
                        r"https://discord(app)?\.com/api/webhooks/\d+"):
            assert not re.search(pattern, text), f"{path.name}: {pattern}"


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_handler_has_a_secret_webhook_key_and_is_queued(name: str) -> None:
    flow = ALL[name]
    (trigger,) = flow["triggers"]
    assert trigger["type"] == WEBHOOK
    secret_name = "WEBHOOK_KEY_" + name.upper().replace("-", "_")
    assert trigger["key"] == f"{{{{ secret('{secret_name}') }}}}"
    assert flow.get("concurrency") == {"limit": 1, "behavior": "QUEUE"}


def subflows(flow: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in tasks_of(flow) if t.get("type") == SUBFLOW]


@pytest.mark.parametrize("name", sorted(ALL))
def test_subflows_are_scheduled_fire_and_forget_and_guarded(name: str) -> None:
    send_inputs = {i["id"] for i in ALL["send-email"]["inputs"]}
    for task in subflows(ALL[name]):
        match = re.fullmatch(r"schedule_email_(\d+)", task["id"])
        assert match, task["id"]
        var = f"outputs.handle.vars.email_{match.group(1)}"
        assert task["namespace"] == NAMESPACE and task["flowId"] == "send-email"
        assert task["wait"] is False
        assert task["scheduleDate"] == f"{{{{ {var}.send_at }}}}"
        assert task["runIf"] == f"{{{{ {var} is defined }}}}"
        assert task["inputs"] == {
            "sequence_key": f"{{{{ {var}.sequence_key }}}}",
            "email_number": f"{{{{ {var}.email_number }}}}",
            "scheduled_for": f"{{{{ {var}.send_at }}}}",
        }
        assert set(task["inputs"]) == send_inputs


CATALOGUES = [
    ROOT / "christmas_tasks" / "catalogue.json",
    *sorted((ROOT / "tests" / "kestra").glob("*catalogue*.json")),
]


@pytest.mark.parametrize("catalogue", CATALOGUES, ids=lambda p: p.name)
def test_every_email_a_sequence_can_plan_has_a_guarded_subflow(catalogue: Path) -> None:
    raw = json.loads(catalogue.read_text(encoding="utf-8"))
    for sequence, event in SEQUENCE_EVENT.items():
        numbers = {int(e["number"]) for e in raw[sequence]["emails"]}
        guarded = {int(t["id"].rsplit("_", 1)[1]) for t in subflows(ALL[event])}
        assert numbers == guarded, (
            f"{sequence}: the catalogue plans {sorted(numbers)}, {event}.yml schedules {sorted(guarded)}"
        )
    for name in set(HANDLERS) - set(SEQUENCE_EVENT.values()):
        assert not subflows(ALL[name]), f"{name} plans no email"


@pytest.mark.parametrize("name", sorted(ALL))
def test_python_steps_retry_with_backoff_and_failures_are_logged(name: str) -> None:
    flow = ALL[name]
    for task in python_tasks(flow):
        retry = task.get("retry") or {}
        assert retry.get("type") == "exponential", f"{task['id']}: exponential retry"
        assert int(retry.get("maxAttempts", 0)) >= 2
        assert retry.get("interval") and retry.get("maxInterval")
    (log,) = flow.get("errors") or [None]
    assert log is not None and log["type"] == "io.kestra.plugin.core.log.Log"
    assert "{{ execution.id }}" in log["message"] and "errorLogs()" in log["message"]


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
