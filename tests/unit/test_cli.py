from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from christmas_tasks.entrypoints.cli import main
from tests.conftest import EXAMPLES


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_the_commands_and_stays_light() -> None:
    # A fresh interpreter: --help must not import pydantic, notion-client, resend, kestra or holidays.
    code = (
        "import sys; from christmas_tasks.entrypoints.cli import build_parser\n"
        "try:\n    build_parser().parse_args(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('pydantic', 'notion_client', 'resend', 'kestra', 'httpx', 'requests', 'holidays', 'starlette',\n"
        "         'uvicorn', 'standardwebhooks', 'anyio')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print(heavy, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    for command in ("validate", "plan", "preview", "handle", "send", "report", "templates", "notion", "secrets",
                    "deploy", "serve", "campaign"):
        assert command in done.stdout
    assert done.stderr.strip() == "[]"


def test_console_script_help() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "christmas-tasks"), "--help"], capture_output=True, text=True, check=True
    )
    assert "validate" in done.stdout


def test_validate_prints_the_normalised_assessment_with_segment(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", "assessment", str(EXAMPLES / "assessment.json"))
    data = json.loads(out)
    assert code == 0
    assert data["segment"] == "CRITICAL" and data["priority"] == 1 and data["readiness_zone"] == "Crisis Zone"
    assert data["email"] == "jane.doe@example.com"


def test_validate_bad_file_exits_2_with_one_line_per_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"email": "nope", "red_systems": 12, "orange_systems": 0}))
    code, out, err = run(capsys, "validate", "assessment", str(bad))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 3
    assert [line.split(": ")[2] for line in lines] == ["email", "first_name", "red_systems"]


@pytest.mark.parametrize(("content", "fragment"), [("{not json", "not valid JSON"), (None, "cannot be read")])
def test_validate_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, fragment: str
) -> None:
    path = tmp_path / "event.json"
    if content is not None:
        path.write_text(content)
    code, _, err = run(capsys, "validate", "signup", str(path))
    assert code == 2 and fragment in err


def test_plan_prints_json(capsys: pytest.CaptureFixture[str], local_env: dict[str, str]) -> None:
    code, out, _ = run(capsys, "plan", "noshow", "--from", "2025-12-01T09:00:00Z", "--now", "2025-12-01T09:00:00Z")
    assert code == 0
    assert json.loads(out) == [
        {"email_number": 1, "template": "noshow_recovery_email_1", "send_at": "2025-12-01T09:05:00Z"},
        {"email_number": 2, "template": "noshow_recovery_email_2", "send_at": "2025-12-02T09:00:00Z"},
        {"email_number": 3, "template": "noshow_recovery_email_3", "send_at": "2025-12-03T09:00:00Z"},
    ]
    code, out, _ = run(
        capsys, "plan", "5day", "--from", "2025-12-01T09:00:00+01:00", "--now", "2025-12-01T08:00:00Z", "--testing"
    )
    assert [item["send_at"] for item in json.loads(out)] == [
        "2025-12-01T08:01:00Z",
        "2025-12-01T08:02:00Z",
        "2025-12-01T08:03:00Z",
        "2025-12-01T08:04:00Z",
    ]


def test_plan_rejects_a_naive_time() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["plan", "5day", "--from", "2025-12-01T09:00:00"])
    assert caught.value.code == 2


def test_preview_renders_subject_html_and_text(capsys: pytest.CaptureFixture[str], local_env: dict[str, str]) -> None:
    code, out, _ = run(capsys, "preview", "5-Day E3", "--event", str(EXAMPLES / "assessment.json"), "--json")
    data = json.loads(out)
    assert code == 0
    assert data["subject"] == "The quickest fix for Jane's Salon"
    assert "Jane&#x27;s Salon" not in data["subject"]
    assert "Unsubscribe (http://localhost:8080/unsubscribe?email=jane.doe%40example.com" in data["text"]


def test_preview_says_which_placeholders_used_their_fallback(
    capsys: pytest.CaptureFixture[str], local_env: dict[str, str], tmp_path: Path
) -> None:
    lean = tmp_path / "lean.json"  # an assessment with no score and no weakest system
    full = json.loads((EXAMPLES / "assessment.json").read_text())
    lean.write_text(json.dumps({k: v for k, v in full.items() if k not in ("assessment_score", "weakest_system_1")}))
    code, out, _ = run(capsys, "preview", "5-Day E2", "--event", str(lean))
    assert code == 0
    assert out.startswith("Subject: Jane, what your assessment says about your systems\n")
    assert out.endswith(
        "--- Fallbacks used (the event has no value for these placeholders) ---\n"
        '{{weakest_system_1}}: "your systems"\n'
        '{{assessment_score}}: "one we can go through together on a short call"\n'
    )
    code, out, _ = run(capsys, "preview", "5-Day E2", "--event", str(lean), "--json")
    assert json.loads(out)["fallbacks"] == [
        {"placeholder": "weakest_system_1", "fallback": "your systems"},
        {"placeholder": "assessment_score", "fallback": "one we can go through together on a short call"},
    ]
    code, out, _ = run(capsys, "preview", "5-Day E2", "--event", str(EXAMPLES / "assessment.json"))
    assert out.endswith("--- Fallbacks used: none (the event has a value for every placeholder) ---\n")
    assert "Your overall score is 42." in out
    code, out, _ = run(capsys, "preview", "5-Day E2", "--event", str(EXAMPLES / "assessment.json"), "--json")
    assert json.loads(out)["fallbacks"] == []


def test_preview_refuses_a_template_that_needs_a_fallback(
    capsys: pytest.CaptureFixture[str], local_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "e5.html").write_text(
        "<!--\nname: 5-Day E5\nsubject: Hi\nstatus: Active\n-->\n<p>Your strongest system is {{strongest_system}}.</p>"
        '<p>{{sender_address}} <a href="{{unsubscribe_url}}">Unsubscribe</a></p>'
    )
    code, out, err = run(capsys, "preview", "5-Day E5", "--event", str(EXAMPLES / "assessment.json"),
                         "--templates", str(tmp_path))
    assert code != 0 and out == ""
    assert "'5-Day E5'" in err and "{{strongest_system}} has no fallback" in err


def test_preview_unknown_template(capsys: pytest.CaptureFixture[str], local_env: dict[str, str]) -> None:
    code, _, err = run(capsys, "preview", "5-Day E9", "--event", str(EXAMPLES / "assessment.json"))
    assert code == 2 and "no local template named '5-Day E9'" in err


def test_plan_needs_no_pydantic() -> None:
    """`plan` (like every command that validates no event) does not pay for pydantic's import."""
    code = (
        "import sys; from christmas_tasks.entrypoints.cli import main\n"
        "main(['plan', '5day', '--from', '2025-12-01T09:00:00Z', '--now', '2025-12-01T09:00:00Z'])\n"
        "print('pydantic' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.strip() == "False"


def test_the_commands_take_their_words_from_the_event_kinds_and_the_catalogue(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """cli.py and scripts/post-sample list no event kind and no sequence (so `--help` imports nothing, and a new kind
    needs no edit there): every kind is accepted, an unknown one is refused naming the known ones; `events` lists
    each kind with its flow, webhook key and sample; post-sample finds the samples through it."""
    from christmas_tasks.domain.catalogue import load_catalogue
    from christmas_tasks.domain.events import KINDS
    from christmas_tasks.entrypoints import cli

    root = Path(__file__).resolve().parents[2]
    sources = [(root / "christmas_tasks" / "entrypoints" / "cli.py").read_text(encoding="utf-8"),
               (root / "scripts" / "post-sample").read_text(encoding="utf-8")]
    for name in [*KINDS, *load_catalogue().sequences]:
        for source in sources:
            assert not re.search(rf"[\"'(]{re.escape(name)}[\"',)]", source), f"{name!r} is spelled out"
    assert cli.main(["validate", "birthday", str(EXAMPLES / "signup.json")]) == 2
    assert ", ".join(KINDS) in capsys.readouterr().err
    assert cli.main(["events", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [k["kind"] for k in listed] == list(KINDS)
    for kind in listed:
        assert (root / kind["flow"]).is_file() and kind["webhook_key"].startswith("WEBHOOK_KEY_")
        assert kind["sample"] is None or (root / kind["sample"]).is_file(), kind
    done = subprocess.run([str(root / "scripts" / "post-sample"), "birthday"], capture_output=True, text=True,
                          env={**os.environ, "CHRISTMAS_CLI": str(Path(sys.executable).parent / "christmas-tasks")})
    assert done.returncode == 2
    assert "one of " + ", ".join(k["kind"] for k in listed if k["sample"]) in done.stderr


def test_campaign_pause_status_and_resume_on_the_local_backend(
    capsys: pytest.CaptureFixture[str], local_env: dict[str, str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "campaign", "pause")
    assert (code, out) == (2, "")
    assert err == "error: campaign pause: reason: is required: say why (campaign status shows it)\n"
    code, out, _ = run(capsys, "campaign", "status")
    assert code == 0 and json.loads(out)["paused"] is False, "the refused pause wrote nothing"

    code, out, _ = run(capsys, "handle", "noshow", str(EXAMPLES / "noshow.json"))
    first = json.loads(out)["plan"][0]
    code, out, _ = run(capsys, "campaign", "pause", "--reason", "complaints to look at")
    paused = json.loads(out)
    assert code == 0 and (paused["action"], paused["state"]["by"]) == ("paused", "the command line")
    code, out, _ = run(capsys, "send", "--sequence-key", first["sequence_key"], "--email-number", "1")
    assert json.loads(out)["status"] == "held"
    code, out, _ = run(capsys, "campaign", "status")
    status = json.loads(out)
    assert (status["paused"], status["held"], status["state"]["reason"]) == (True, 1, "complaints to look at")

    code, out, err = run(capsys, "campaign", "resume", "--reason", "looked at")
    resumed = json.loads(out)
    assert code == 0 and resumed["action"] == "resumed" and resumed["scheduled"] is False
    assert [item["email_number"] for item in resumed["plan"]] == [1]
    assert err.startswith("note: the command line schedules nothing: the 1 email(s) planned above stay held")
    code, out, _ = run(capsys, "campaign", "status")
    status = json.loads(out)
    assert (status["paused"], status["held"]) == (False, 1), "held until the flow's resume"
    assert status["reason"].endswith("; 1 email(s) still held, waiting for their planned time or for a resume")


def test_campaign_on_the_live_backend_names_each_missing_setting(
    capsys: pytest.CaptureFixture[str], local_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHRISTMAS_BACKEND", "live")
    code, out, err = run(capsys, "campaign", "pause", "--reason", "x")
    assert (code, out) == (2, "") and err.startswith("error: live backend: missing setting(s) CAMPAIGN_DEADLINE")
    assert "NOTION_TOKEN" in err and "RESEND_API_KEY" in err


def test_reconcile_prints_what_it_would_plan_again_and_names_a_bad_grace(
    capsys: pytest.CaptureFixture[str], local_env: dict[str, str]
) -> None:
    run(capsys, "handle", "noshow", str(EXAMPLES / "noshow.json"))
    code, out, err = run(capsys, "reconcile")
    found = json.loads(out)
    assert code == 0 and (found["action"], found["running"], found["lost"], found["plan"]) == ("reconcile", 1, 0, [])
    assert err == "", "nothing planned: no note"
    code, out, err = run(capsys, "reconcile", "--all")
    everything = json.loads(out)
    assert code == 0 and everything["action"] == "reschedule" and everything["scheduled"] is False
    assert [item["email_number"] for item in everything["plan"]] == [1, 2, 3]
    assert "note: the command line schedules nothing: run the campaign flow with action reschedule" in err
    code, out, err = run(capsys, "reconcile", "--grace", "soon")
    assert (code, out) == (2, "") and err.startswith("error: reconcile: --grace: 'soon' is not a duration")
