"""`christmas-tasks step REQUEST SETTINGS`, the one command the flows call (flows/step.yml), on the local backend.

Its contract with the flows: settings come from the file, not the environment; values from outside arrive as data
and stay as they are; Kestra outputs always carry `rejected`; a request that cannot succeed is reported with the
package's message and exit 0 (the caller fails once), and so is a bug or a provider's refusal (`failed`); only what a
later try may fix (an outage, a timeout) exits 1, for Kestra's retries.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pytest_mock import MockerFixture

from christmas_tasks.domain.errors import ProviderError
from christmas_tasks.entrypoints import kestra_step
from christmas_tasks.entrypoints.cli import main
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES
from tests.conftest import EXAMPLES

ACTIONS = ", ".join(kestra_step.CAMPAIGN_ACTIONS)


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A settings file for the local backend, and nothing of it in the environment (the flow clears that)."""
    for name in ("CHRISTMAS_BACKEND", "CHRISTMAS_LOCAL_DIR", "CHRISTMAS_TEMPLATES_DIR", "TESTING_MODE"):
        monkeypatch.delenv(name, raising=False)
    settings = {
        "CHRISTMAS_BACKEND": "local",
        "TESTING_MODE": "true",
        "CHRISTMAS_LOCAL_DIR": str(tmp_path / "local"),
        "CHRISTMAS_TEMPLATES_DIR": str(SAMPLE_TEMPLATES),
        "NOTION_TOKEN": "",
        "DISCORD_WEBHOOK_URL": None,
    }
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    return {"dir": tmp_path, "settings": settings}


def step(capsys: pytest.CaptureFixture[str], files: dict[str, Any], request: Any) -> tuple[int, dict[str, Any], str]:
    path = files["dir"] / "request.json"
    path.write_text(json.dumps(request))
    code = main(["step", str(path), str(files["dir"] / "settings.json")])
    out, err = capsys.readouterr()
    line = out.splitlines()[0]
    assert line.startswith("::") and line.endswith("::"), out
    return code, json.loads(line[2:-2])["outputs"], err


def body(name: str, **changes: Any) -> dict[str, Any]:
    return {**json.loads((EXAMPLES / name).read_text()), **changes}


def test_handle_then_send_with_settings_from_the_file(
    capsys: pytest.CaptureFixture[str], files: dict[str, Any]
) -> None:
    email = "{{7*7}}-step@example.com"  # template syntax from outside is data here
    code, outputs, _ = step(
        capsys,
        files,
        {
            "command": "handle",
            "event": "assessment",
            "payload": body("assessment.json", email=email),
            "run_id": "run-1",
        },
    )
    assert code == 0 and outputs["rejected"] is False
    assert outputs["planned"] == 4 and outputs["result"]["email"] == email
    first = outputs["result"]["plan"][0]  # what handle-event hands to schedule-plan
    assert first["sequence_key"] == f"christmas-2025|5day|{email}|assessment" and first["email_number"] == 2
    assert "email_2" not in outputs, "the plan is one list, whatever its length"
    payload = {"sequence_key": first["sequence_key"], "email_number": 2, "scheduled_for": first["send_at"]}
    code, sent, _ = step(capsys, files, {"command": "send", "payload": payload})
    assert code == 0 and sent["rejected"] is False and sent["status"] == "sent"
    index = Path(files["settings"]["CHRISTMAS_LOCAL_DIR"]) / "outbox" / "index.jsonl"
    assert email in index.read_text()


@pytest.mark.parametrize(
    ("request_", "named"),
    [
        (
            {"command": "handle", "event": "assessment", "payload": {"email": "x", "red_systems": 9}},
            ["assessment event: email:", "red_systems", "first_name: is required"],
        ),
        ({"command": "handle", "event": "noshow", "payload": "this is not json {"}, ["noshow event: body:"]),
        ({"command": "handle", "event": "party", "payload": {}}, ["party"]),
        ({"command": "send", "payload": {"sequence_key": "nope", "email_number": 2}}, ["sequence_key: 'nope' is not"]),
        (
            {
                "command": "send",
                "payload": {"sequence_key": "christmas-2025|5day|nobody@example.com|assessment", "email_number": 2},
            },
            ["no sequence record"],
        ),
        ({"command": "send", "payload": {"sequence_key": "k", "email_number": "two"}}, ["payload.email_number"]),
        ({"command": "dance"}, ["command: must be one of handle, send, health"]),
        ("not an object", ["request: must be a JSON object"]),
    ],
)
def test_a_request_that_cannot_succeed_is_reported_not_raised(
    capsys: pytest.CaptureFixture[str], files: dict[str, Any], request_: Any, named: list[str]
) -> None:
    code, outputs, err = step(capsys, files, request_)
    assert code == 0, "exit 0: the caller fails once, on `rejected`, instead of Kestra retrying"
    assert outputs["rejected"] is True
    lines = outputs["message"].splitlines()
    assert lines and all(line.startswith("error: ") for line in lines)
    for part in named:
        assert part in outputs["message"], (part, outputs["message"])
    # the step flow's Fail task logs `message`, once (the engine suite reads that log): nothing printed twice
    assert err == "", "the lines go to the step's log through its Fail task, not printed beside it"


def test_health_names_the_missing_live_settings_and_lists_the_environment(
    capsys: pytest.CaptureFixture[str], files: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, outputs, _ = step(capsys, files, {"command": "health"})
    assert code == 0 and outputs["rejected"] is False and outputs["backend"] == "local"
    monkeypatch.setenv("SOME_SERVER_PASSWORD", "hunter2hunter2")
    _, outputs, _ = step(capsys, files, {"command": "health"})
    assert "SOME_SERVER_PASSWORD" in outputs["environment"], "names only, so an operator sees what reached the step"
    assert "hunter2hunter2" not in json.dumps(outputs)

    code, outputs, _ = step(capsys, files, {"command": "health", "payload": {"backend": "live"}})
    assert code == 0 and outputs["rejected"] is True
    for name in ("NOTION_TOKEN", "RESEND_API_KEY", "NOTION_CONTACTS_DB_ID", "EMAIL_FROM", "CAMPAIGN_DEADLINE"):
        assert name in outputs["message"]


def test_a_settings_file_that_is_not_an_object_of_strings_is_rejected(
    capsys: pytest.CaptureFixture[str], files: dict[str, Any]
) -> None:
    (files["dir"] / "settings.json").write_text(json.dumps({"CHRISTMAS_BACKEND": {"nested": 1}}))
    code, outputs, _ = step(capsys, files, {"command": "health"})
    assert code == 0 and outputs["rejected"] is True
    assert outputs["message"] == "error: step request: settings.CHRISTMAS_BACKEND: must be a string"


def test_a_provider_failure_exits_1_for_kestra_to_retry(
    capsys: pytest.CaptureFixture[str], files: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def outage(*_: Any, **__: Any) -> dict[str, Any]:
        raise ProviderError("notion", 503, "service unavailable", retryable=True)

    monkeypatch.setattr(kestra_step, "run", outage)
    (files["dir"] / "request.json").write_text(json.dumps({"command": "health"}))
    assert main(["step", str(files["dir"] / "request.json"), str(files["dir"] / "settings.json")]) == 1
    out, err = capsys.readouterr()
    assert err == "error: notion answered 503: service unavailable\n"
    # the failed step still says what failed: Kestra keeps a failed task's outputs, and failure-alert reads them
    (line,) = out.splitlines()
    assert json.loads(line[2:-2])["outputs"] == {
        "rejected": False, "error": "notion answered 503: service unavailable", "command": "health",
    }


def test_a_crash_fails_once_at_once_with_its_first_line_and_traceback_scrubbed(
    capsys: pytest.CaptureFixture[str], files: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug fails the same way on every try: exit 0 with `failed` (the step flow's Fail task fails the execution
    once, freeing the caller's queue), its first line for failure-alert, its traceback in the task's log."""
    token = "ntn_crash_token_0123456789"

    def crash(*_: Any, **__: Any) -> dict[str, Any]:
        raise RuntimeError(f"no such key: {token}\nsecond line")

    monkeypatch.setattr(kestra_step, "run", crash)
    (files["dir"] / "settings.json").write_text(json.dumps({**files["settings"], "NOTION_TOKEN": token}))
    request = {"command": "handle", "event": "signup", "payload": {}}
    (files["dir"] / "request.json").write_text(json.dumps(request))
    assert main(["step", str(files["dir"] / "request.json"), str(files["dir"] / "settings.json")]) == 0
    out, err = capsys.readouterr()
    (line,) = out.splitlines()
    outputs = json.loads(line[2:-2])["outputs"]
    assert outputs == {
        "rejected": False, "failed": True, "error": "RuntimeError: no such key: ***", "command": "handle",
        "event": "signup",
        "message": "error: RuntimeError: no such key: *** (a bug, not retried: the same request fails the same way; "
        "the traceback is in the run task's log)",
    }
    assert err.startswith("Traceback (most recent call last):") and "in crash" in err, err
    assert token not in err and "RuntimeError: no such key: ***" in err


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ProviderError("notion", 503, "unavailable", retryable=True), True),
        (ProviderError("notion", 429, "rate limited", retryable=True), True),
        (ProviderError("notion", None, "the connection failed", retryable=True), True),
        (ProviderError("notion", 400, "validation_error"), False),
        (ProviderError("resend", 403, "the domain is not verified"), False),
        (TimeoutError("timed out"), True),
        (ConnectionResetError("reset by peer"), True),
        (sqlite3.OperationalError("database is locked"), True),
        (sqlite3.OperationalError("no such table: contacts"), False),
        (OverflowError("date value out of range"), False),
        (KeyError("segment"), False),
    ],
)
def test_only_what_a_later_try_may_fix_is_retried(error: BaseException, transient: bool) -> None:
    assert kestra_step.is_transient(error) is transient


def test_a_providers_refusal_fails_once_naming_it(
    capsys: pytest.CaptureFixture[str], files: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*_: Any, **__: Any) -> dict[str, Any]:
        raise ProviderError("notion", 400, "body.properties.Segment: not a select option")

    monkeypatch.setattr(kestra_step, "run", refused)
    (files["dir"] / "request.json").write_text(json.dumps({"command": "send", "payload": {}}))
    assert main(["step", str(files["dir"] / "request.json"), str(files["dir"] / "settings.json")]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    outputs = json.loads(line[2:-2])["outputs"]
    assert outputs["failed"] is True and outputs["command"] == "send"
    assert outputs["message"].startswith(
        "error: notion answered 400: body.properties.Segment: not a select option (a provider's refusal, not retried"
    )


def test_secrets_of_the_settings_never_reach_the_outputs() -> None:
    values = {"NOTION_TOKEN": "ntn_secret_value_123", "RESEND_API_KEY": "short"}
    scrubbed = kestra_step.scrub({"a": ["x ntn_secret_value_123 y"], "b": "short"}, values)
    assert scrubbed == {"a": ["x *** y"], "b": "short"}, "values under 8 characters are not secrets to scrub"


def test_the_unsubscribe_link_answers_a_line_for_the_person_or_400(
    capsys: pytest.CaptureFixture[str], files: dict[str, Any]
) -> None:
    from christmas_tasks.entrypoints.settings import Settings

    token = Settings.from_env(files["settings"]).campaign.unsubscribe_token("jane.doe@example.com")
    query = {"email": ["jane.doe@example.com"], "token": [token]}
    request = {"command": "handle", "event": "unsubscribe-link", "payload": {"parameters": query, "body": None}}
    code, outputs, _ = step(capsys, files, request)
    assert code == 0 and outputs["rejected"] is False and outputs["response_code"] == 200
    assert outputs["response_text"] == (
        "You are unsubscribed: Example Consulting will send no more email to jane.doe@example.com."
    )
    forged = {**request, "payload": {"parameters": {**query, "token": ["0" * 32]}, "body": None}}
    code, outputs, _ = step(capsys, files, forged)
    assert code == 0 and outputs["rejected"] is True and outputs["response_code"] == 400
    assert outputs["response_text"] == (
        "Nothing was changed: unsubscribe link: token: does not match this email address."
    )


def test_report_writes_the_html_file_and_posts_the_summary_when_discord_is_configured(
    capsys: pytest.CaptureFixture[str], files: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
    mocker: MockerFixture,
) -> None:
    monkeypatch.chdir(files["dir"])  # Kestra runs the step in its working folder and keeps report.html from there
    assessment = {"command": "handle", "event": "assessment", "payload": body("assessment.json")}
    code, outputs, _ = step(capsys, files, assessment)
    assert code == 0 and outputs["rejected"] is False

    code, outputs, _ = step(capsys, files, {"command": "report", "payload": {}})
    assert code == 0 and outputs["rejected"] is False
    assert (outputs["discord"], outputs["contacts"], outputs["sent"], outputs["requests"]) == (
        "not configured", 1, 1, None,  # the website's first email of the nurture
    )
    html = (files["dir"] / kestra_step.REPORT_FILE).read_text()
    assert html.startswith("<!DOCTYPE html>") and '<svg id="funnel-chart"' in html
    assert outputs["summary"].startswith("Christmas 2025: daily report, ")

    posted: list[str] = []
    alerter = mocker.Mock(alert=mocker.Mock(side_effect=lambda text: posted.append(text) or True))
    mocker.patch("christmas_tasks.entrypoints.app.build_alerter", return_value=alerter)
    code, outputs, _ = step(capsys, files, {"command": "report", "payload": {"since": "2025-12-01"}})
    assert code == 0 and outputs["discord"] == "sent" and posted == [outputs["summary"]]
    assert "Emails since 2025-12-01: " in posted[0]


@pytest.mark.parametrize("since", ["yesterday", 20251201])
def test_report_with_a_bad_since_is_rejected_naming_it(
    capsys: pytest.CaptureFixture[str], files: dict[str, Any], since: object
) -> None:
    code, outputs, _ = step(capsys, files, {"command": "report", "payload": {"since": since}})
    assert code == 0 and outputs["rejected"] is True
    assert outputs["message"].startswith("error: ") and "payload.since" in outputs["message"]


def test_the_campaign_command_pauses_holds_and_resumes_with_a_plan_for_schedule_plan(
    capsys: pytest.CaptureFixture[str], files: dict[str, Any]
) -> None:
    _, outputs, _ = step(capsys, files, {"command": "handle", "event": "noshow", "payload": body("noshow.json"),
                                         "run_id": "run-1"})
    first = outputs["result"]["plan"][0]
    _, outputs, _ = step(capsys, files, {"command": "campaign", "payload": {"action": "pause", "reason": "a pause"},
                                         "run_id": "exec-9"})
    assert outputs["rejected"] is False and outputs["planned"] == 0
    assert outputs["result"]["action"] == "paused" and outputs["result"]["state"]["by"] == "Kestra execution exec-9"
    send = {"sequence_key": first["sequence_key"], "email_number": 1, "scheduled_for": first["send_at"]}
    _, outputs, _ = step(capsys, files, {"command": "send", "payload": send})
    assert outputs["status"] == "held" and outputs["result"]["reason"] == "campaign paused: a pause"
    _, outputs, _ = step(capsys, files, {"command": "campaign", "payload": {"action": "status"}})
    assert (outputs["result"]["paused"], outputs["result"]["held"]) == (True, 1)
    _, outputs, _ = step(capsys, files, {"command": "campaign", "payload": {"action": "resume"}, "run_id": "exec-10"})
    assert outputs["result"]["action"] == "resumed" and outputs["planned"] == 1
    (again,) = outputs["result"]["plan"]  # what the campaign flow hands to schedule-plan
    assert (again["sequence_key"], again["email_number"]) == (first["sequence_key"], 1) and again["send_at"]
    send = {"sequence_key": again["sequence_key"], "email_number": 1, "scheduled_for": again["send_at"]}
    _, outputs, _ = step(capsys, files, {"command": "send", "payload": send})
    assert outputs["status"] == "sent"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"action": "stop"}, f"error: step request: payload.action: must be one of {ACTIONS}, not 'stop'"),
        (None, f"error: step request: payload.action: must be one of {ACTIONS}, not None"),
        ({"action": "pause"}, "error: campaign pause: reason: is required: say why (campaign status shows it)"),
        ({"action": "pause", "reason": 7}, "error: step request: payload.reason: must be text"),
    ],
)
def test_a_campaign_request_that_cannot_succeed_names_why_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], files: dict[str, Any], payload: Any, message: str
) -> None:
    code, outputs, _ = step(capsys, files, {"command": "campaign", "payload": payload})
    assert code == 0 and outputs["rejected"] is True and outputs["message"] == message
    _, outputs, _ = step(capsys, files, {"command": "campaign", "payload": {"action": "status"}})
    assert outputs["result"]["paused"] is False and outputs["result"]["state"]["since"] is None, "nothing written"


def test_a_campaign_command_on_the_live_backend_names_each_missing_setting_first(
    capsys: pytest.CaptureFixture[str], files: dict[str, Any]
) -> None:
    (files["dir"] / "settings.json").write_text(json.dumps({**files["settings"], "CHRISTMAS_BACKEND": "live"}))
    code, outputs, _ = step(capsys, files, {"command": "campaign", "payload": {"action": "pause", "reason": "x"}})
    assert code == 0 and outputs["rejected"] is True
    assert outputs["message"].startswith("error: live backend: missing setting(s) CAMPAIGN_DEADLINE, EMAIL_FROM")
