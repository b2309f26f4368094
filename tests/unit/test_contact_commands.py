"""`christmas-tasks contact` on the local backends, as a person types it and as the `contact` flow's step runs it: the
story (text, JSON), the export (one JSON file, the outbox's messages in it), forget (refused without --yes, a bad
address or a missing setting named with nothing written; what it removed, per store; idempotent), and the labels the
step reports for the flows' Labels tasks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from christmas_tasks.adapters import kestra_executions
from christmas_tasks.adapters.kestra_api import KestraClient
from christmas_tasks.adapters.outbox import OutboxMailer
from christmas_tasks.domain.records import OutgoingEmail
from christmas_tasks.entrypoints.cli import main
from tests.conftest import EXAMPLES

JANE = "jane.doe@example.com"


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "local"
    for name in ("CHRISTMAS_BACKEND", "KESTRA_URL", "KESTRA_USERNAME", "KESTRA_PASSWORD", "TESTING_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHRISTMAS_LOCAL_DIR", str(folder))
    monkeypatch.setenv("TESTING_MODE", "true")
    return folder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def funnel_for_jane(capsys: pytest.CaptureFixture[str], local: Path) -> None:
    assert run(capsys, "handle", "assessment", str(EXAMPLES / "assessment.json"))[0] == 0
    outbox = OutboxMailer(local / "outbox")
    for to, reply_to in ((JANE, None), ("bob@example.com", None), ("inbox@example.org", JANE)):
        outbox.send(OutgoingEmail("Example <hello@example.com>", to, "Hi", "<p>Hi</p>", "Hi", f"key-{to}",
                                  reply_to=reply_to))


def test_the_story_in_text_and_json(capsys: pytest.CaptureFixture[str], local: Path) -> None:
    funnel_for_jane(capsys, local)
    code, out, _ = run(capsys, "contact", " Jane.Doe@Example.com ")
    assert code == 0 and out.startswith(f"Contact: {JANE}\n  Jane (Jane's Salon)\n")
    assert "Read from the local SQLite ledger, " in out and "  #2  5-Day E2" in out and "scheduled" in out
    code, out, _ = run(capsys, "contact", JANE, "--format", "json")
    story = json.loads(out)
    assert code == 0 and story["email"] == JANE and story["sequences"][0]["state"] == "running"
    assert story["requests"] is None and story["send_log_kept"] is True


@pytest.mark.parametrize("argv", [
    ["contact", "not-an-address"], ["contact", "export", "jane@"], ["contact", "forget", "@x.com", "--yes"],
])
def test_a_bad_address_is_named_and_nothing_is_written(
    capsys: pytest.CaptureFixture[str], local: Path, argv: list[str]
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and "email: " in err and "is not a valid email address" in err
    assert not local.exists(), "nothing written: not even the ledger's folder"


def test_a_missing_setting_is_named_and_nothing_is_written(
    capsys: pytest.CaptureFixture[str], local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHRISTMAS_BACKEND", "live")
    for argv in (["contact", JANE], ["contact", "export", JANE], ["contact", "forget", JANE, "--yes", "--no-kestra"]):
        code, _, err = run(capsys, *argv)
        assert code == 2 and "live backend: missing setting(s) CAMPAIGN_DEADLINE" in err and "NOTION_TOKEN" in err
    monkeypatch.setenv("CHRISTMAS_BACKEND", "local")
    code, _, err = run(capsys, "contact", "forget", JANE, "--yes")
    assert code == 2 and "missing setting(s) KESTRA_URL, KESTRA_USERNAME, KESTRA_PASSWORD" in err
    assert "--no-kestra" in err and not local.exists()


def test_forget_is_refused_without_yes_and_removes_nothing(capsys: pytest.CaptureFixture[str], local: Path) -> None:
    funnel_for_jane(capsys, local)
    code, out, err = run(capsys, "contact", "forget", JANE)
    assert code == 2 and out == ""
    assert err == ("error: contact forget: --yes: is required: forgetting removes everything held about the address, "
                   "for good (nothing was removed)\n")
    assert json.loads(run(capsys, "contact", JANE, "--format", "json")[1])["contact"] is not None
    code, _, err = run(capsys, "contact", JANE, "--yes")
    assert code == 2 and "--yes: is for `contact forget` only" in err


def test_export_writes_one_json_file_with_the_outbox(capsys: pytest.CaptureFixture[str], local: Path,
                                                      tmp_path: Path) -> None:
    funnel_for_jane(capsys, local)
    target = tmp_path / "jane.json"
    code, out, err = run(capsys, "contact", "export", JANE, "--output", str(target))
    assert code == 0 and out == "" and err == f"wrote everything held about {JANE} to {target}\n"
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["address"] == JANE and document["source"] == "the local SQLite ledger"
    assert [s["sequence"] for s in document["sequences"]] == ["5day"] and document["contacts"][0]["email"] == JANE
    assert sorted(m["entry"]["to"] for m in document["outbox"]) == ["inbox@example.org", JANE], "a forward too"
    assert all("Subject: Hi" in m["eml"] for m in document["outbox"])
    printed = json.loads(run(capsys, "contact", "export", JANE)[1])
    assert {**printed, "exported_at": None} == {**document, "exported_at": None}, "without --output: printed"


def test_forget_removes_the_ledger_and_the_outbox_and_is_idempotent(
    capsys: pytest.CaptureFixture[str], local: Path
) -> None:
    funnel_for_jane(capsys, local)
    code, out, _ = run(capsys, "contact", "forget", JANE, "--yes", "--no-kestra")
    assert code == 0
    assert out.splitlines() == [
        f"Forgot {JANE} (the local SQLite ledger):",
        "  contacts        1",
        "  sequences       1 (with 1 emails of their ledger)",
        "  send log        0",
        "  outbox          2 messages (.eml files and index lines)",
        "  Kestra's executions: left as they are (--no-kestra)",
        "Kept: a salted hash of the address, so a later event from it starts nothing until the person signs up or "
        "takes the assessment again.",
    ]
    index = (local / "outbox" / "index.jsonl").read_text(encoding="utf-8")
    assert JANE not in index and "bob@example.com" in index
    assert [p.name for p in (local / "outbox").glob("*.eml") if JANE in p.read_text()] == []
    assert len(list((local / "outbox").glob("*.eml"))) == 1
    code, out, _ = run(capsys, "contact", "forget", JANE, "--yes", "--no-kestra", "--format", "json")
    again = json.loads(out)
    assert code == 0 and again["forgotten_before"] is True
    assert again["removed"] == {"contacts": 0, "sequences": 0, "ledger_emails": 0, "send_log": 0,
                                "outbox_messages": 0}
    story = json.loads(run(capsys, "contact", JANE, "--format", "json")[1])
    assert story["forgotten"] is True and story["contact"] is None


def kestra_left() -> str:
    from christmas_tasks.entrypoints.contact import KESTRA_LEFT

    return KESTRA_LEFT


def test_forget_deletes_kestras_executions_after_the_ledger(
    capsys: pytest.CaptureFixture[str], local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Kestra's credentials: its executions are found before anything is removed, then deleted."""
    funnel_for_jane(capsys, local)
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url.path}")
        if request.url.path.endswith("/executions/search"):
            found = [{"id": "e1", "flowId": "handle-event", "state": {"current": "SUCCESS"},
                      "labels": [{"key": "system.correlationId", "value": "e0"}]}]
            return httpx.Response(200, json={"results": found if request.url.params["page"] == "1" else [],
                                             "total": 1})
        return httpx.Response(200, json={"count": 1})

    client = KestraClient("http://localhost:8080", "admin@example.com", "pw", transport=httpx.MockTransport(answer))
    made: list[dict[str, str]] = []
    monkeypatch.setattr(kestra_executions, "client_from_env", lambda env, what: made.append(dict(env)) or client)
    code, out, _ = run(capsys, "contact", "forget", JANE, "--yes")
    assert code == 0 and "  Kestra          1 execution deleted, with their logs" in out
    assert asked[-1] == "DELETE /api/v1/main/executions/by-ids"
    # the label's search and its two correlation groups' (e1's own, e0): before the ledger, then again to delete
    assert asked.count("GET /api/v1/main/executions/search") == 2 * 3


# ---------------------------------------------------------------------- the contact flow's step, and the labels


@pytest.fixture
def step_files(tmp_path: Path, local: Path) -> Path:
    settings = {"CHRISTMAS_BACKEND": "local", "TESTING_MODE": "true", "CHRISTMAS_LOCAL_DIR": str(local)}
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    return tmp_path


def step(capsys: pytest.CaptureFixture[str], folder: Path, request: dict[str, Any]) -> dict[str, Any]:
    (folder / "request.json").write_text(json.dumps(request))
    assert main(["step", str(folder / "request.json"), str(folder / "settings.json")]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    outputs: dict[str, Any] = json.loads(line[2:-2])["outputs"]
    return outputs


def test_the_step_labels_handled_events_and_sends_then_tells_and_forgets(
    capsys: pytest.CaptureFixture[str], step_files: Path
) -> None:
    assessment = json.loads((EXAMPLES / "assessment.json").read_text())
    handled = step(capsys, step_files, {"command": "handle", "event": "assessment", "payload": assessment,
                                        "run_id": "run-1"})
    assert handled["labels"] == {"contact": JANE, "event": "assessment", "sequence": "5day"}
    first = handled["result"]["plan"][0]
    sent = step(capsys, step_files, {"command": "send", "payload": {
        "sequence_key": first["sequence_key"], "email_number": first["email_number"],
        "scheduled_for": first["send_at"]}})
    assert sent["labels"] == {"contact": JANE, "sequence": "5day", "email_number": "2"}
    signup = step(capsys, step_files, {"command": "handle", "event": "signup",
                                       "payload": {"email": "bob@example.com", "first_name": "Bob"}})
    assert signup["labels"] == {"contact": "bob@example.com", "event": "signup"}, "no empty label (Kestra refuses one)"

    told = step(capsys, step_files, {"command": "contact", "payload": {"email": JANE}})
    assert told["rejected"] is False and told["labels"] == {"contact": JANE}
    assert told["text"].startswith(f"Contact: {JANE}")
    assert told["story"]["sequences"][0]["emails"][1]["status"] == "sent"
    forgot = step(capsys, step_files, {"command": "contact", "payload": {"email": JANE, "action": "forget"}})
    assert forgot["removed"] == {"contacts": 1, "sequences": 1, "ledger_emails": 2, "send_log": 1,
                                 "outbox_messages": 1}
    assert forgot["kestra"] == kestra_left() and forgot["text"].startswith(f"Forgot {JANE}")
    after = step(capsys, step_files, {"command": "handle", "event": "booking",
                                      "payload": json.loads((EXAMPLES / "booking-calendly.json").read_text())})
    assert after["result"]["action"] == "forgotten" and after["labels"]["contact"] == JANE


@pytest.mark.parametrize(("payload", "problem"), [
    ({"email": "nope"}, "payload.email: is not a valid email address"),
    ({"email": JANE, "action": "delete"}, "payload.action: must be story or forget, not 'delete'"),
    (None, "payload: must hold email and action"),
])
def test_the_step_refuses_a_bad_contact_request_by_name(
    capsys: pytest.CaptureFixture[str], step_files: Path, payload: Any, problem: str
) -> None:
    outputs = step(capsys, step_files, {"command": "contact", "payload": payload})
    assert outputs["rejected"] is True and problem in outputs["message"]


def test_the_outbox_forgets_every_message_to_or_about_the_address(tmp_path: Path) -> None:
    """Listed or not (an .eml a crash left before its index line), to the address or naming it in Reply-To (a forwarded
    reply); the index keeps the other messages' lines; a second time removes nothing."""
    outbox = OutboxMailer(tmp_path / "outbox")

    def send(to: str, key: str, reply_to: str | None = None) -> None:
        outbox.send(OutgoingEmail("Example <hello@example.com>", to, "Hi", "<p>Hi</p>", "Hi", key, reply_to=reply_to))

    send(JANE, "k1")
    send("Bob <bob@example.com>", "k2")
    send("inbox@example.org", "k3", reply_to=f"Jane <{JANE.upper()}>")
    index = tmp_path / "outbox" / "index.jsonl"
    lines = index.read_text().splitlines()
    index.write_text("\n".join(lines[1:]) + "\n")  # the first message's line lost, its .eml kept (a crash)
    assert sorted(m["entry"]["to"] if m["entry"] else "(unlisted)" for m in outbox.messages_about(JANE)) == [
        "(unlisted)", "inbox@example.org"]
    assert outbox.forget(JANE) == 2 and outbox.forget(JANE) == 0
    assert [m["to"] for m in outbox.messages()] == ["Bob <bob@example.com>"]
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    assert OutboxMailer(tmp_path / "nothing-here").forget(JANE) == 0
