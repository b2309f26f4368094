"""The commands that run on the configured backend (here the local one), as the flows call them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from christmas_tasks.entrypoints.cli import main
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES
from tests.conftest import EXAMPLES


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def result_of(out: str) -> dict:  # type: ignore[type-arg]
    """The JSON result (the last top-level object printed), after any Kestra output line."""
    return json.loads(out[out.index("\n{") + 1 :] if out.startswith("::") else out)


def test_handle_then_send(capsys: pytest.CaptureFixture[str], local_env: dict[str, str]) -> None:
    code, out, _ = run(capsys, "handle", "assessment", str(EXAMPLES / "assessment.json"))
    assert code == 0
    plan = result_of(out)["plan"]
    assert [item["email_number"] for item in plan] == [2, 3, 4, 5]
    first = plan[0]
    code, out, _ = run(
        capsys, "send", "--sequence-key", first["sequence_key"], "--email-number", "2", "--scheduled-for",
        first["send_at"],
    )
    assert code == 0 and result_of(out)["status"] == "sent"
    index = Path(local_env["CHRISTMAS_LOCAL_DIR"]) / "outbox" / "index.jsonl"
    assert len(index.read_text().splitlines()) == 1


def test_handle_a_rejected_event_exits_2_naming_the_fields(
    capsys: pytest.CaptureFixture[str], local_env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"email": "jane@example.com", "first_name": "Jane", "red_systems": 9}))
    code, out, err = run(capsys, "handle", "assessment", str(bad))
    assert code == 2 and out == ""
    assert "red_systems" in err and "orange_systems" in err
    assert not (Path(local_env["CHRISTMAS_LOCAL_DIR"]) / "outbox" / "index.jsonl").exists()


def test_send_for_a_missing_record_fails_clearly(capsys: pytest.CaptureFixture[str], local_env: dict[str, str]) -> None:
    code, _, err = run(
        capsys, "send", "--sequence-key", "christmas-2025|5day|x@example.com|assessment", "--email-number", "2"
    )
    assert code == 1 and "no sequence record with key" in err


def test_health_local_and_live(
    capsys: pytest.CaptureFixture[str], local_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, "health")
    assert code == 0 and json.loads(out)["backend"] == "local"
    monkeypatch.setenv("CHRISTMAS_BACKEND", "live")
    code, _, err = run(capsys, "health")
    assert code == 2 and "NOTION_TOKEN" in err and "RESEND_API_KEY" in err


def test_templates_check_local(
    capsys: pytest.CaptureFixture[str], local_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, "templates", "check")
    assert code == 0 and json.loads(out)["ok"] is True
    broken = tmp_path / "templates"
    shutil.copytree(SAMPLE_TEMPLATES, broken)
    path = broken / "five_day_e3.html"
    path.write_text(path.read_text().replace("{{unsubscribe_url}}", "{{unsubscribe_link}}"))
    (broken / "noshow_recovery_email_3.html").unlink()
    monkeypatch.setenv("CHRISTMAS_TEMPLATES_DIR", str(broken))
    code, out, _ = run(capsys, "templates", "check")
    report = json.loads(out)["templates"]
    assert code == 1
    assert report["noshow_recovery_email_3"] == ["missing"]
    assert any("unsubscribe_link" in p for p in report["5-Day E3"])
    assert any("{{unsubscribe_url}}" in p for p in report["5-Day E3"])


def test_templates_check_names_a_template_whose_placeholder_needs_a_fallback(
    capsys: pytest.CaptureFixture[str], local_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(SAMPLE_TEMPLATES, folder)
    path = folder / "five_day_e5.html"
    path.write_text(path.read_text().replace("{{strongest_system|the one that already runs without you}}",
                                             "{{strongest_system}}"))
    monkeypatch.setenv("CHRISTMAS_TEMPLATES_DIR", str(folder))
    for source in ("local", "crm"):  # the folder, and the ledger's template store (here SQLite mirrors the folder)
        code, out, _ = run(capsys, "templates", "check", "--source", source)
        report = json.loads(out)
        assert code == 1 and report["ok"] is False, source
        assert report["templates"]["5-Day E5"] == [
            "body: {{strongest_system}} has no fallback, and an email of the 5day sequence may lack strongest_system "
            "(write {{strongest_system|text used when it is missing}})"
        ]
        assert [name for name, problems in report["templates"].items() if problems] == ["5-Day E5"]


def test_templates_push_is_idempotent(capsys: pytest.CaptureFixture[str], local_env: dict[str, str]) -> None:
    code, out, _ = run(capsys, "templates", "push")
    assert code == 0 and set(json.loads(out)["templates"].values()) <= {"created", "unchanged"}
    code, out, _ = run(capsys, "templates", "push")
    assert set(json.loads(out)["templates"].values()) == {"unchanged"}


def test_notion_check_needs_the_live_backend(capsys: pytest.CaptureFixture[str], local_env: dict[str, str]) -> None:
    code, _, err = run(capsys, "notion", "check")
    assert code == 2 and "CHRISTMAS_BACKEND=live" in err
