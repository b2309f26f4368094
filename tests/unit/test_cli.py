from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from christmas_tasks.cli import main
from tests.conftest import EXAMPLES


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_the_commands_and_stays_light() -> None:
    # A fresh interpreter: --help must not import pydantic, notion-client, resend or kestra.
    code = (
        "import sys; from christmas_tasks.cli import build_parser\n"
        "try:\n    build_parser().parse_args(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('pydantic', 'notion_client', 'resend', 'kestra', 'httpx', 'requests')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print(heavy, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    for command in ("validate", "plan", "preview", "handle", "send", "report", "templates", "notion", "secrets",
                    "deploy"):
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


def test_preview_unknown_template(capsys: pytest.CaptureFixture[str], local_env: dict[str, str]) -> None:
    code, _, err = run(capsys, "preview", "5-Day E9", "--event", str(EXAMPLES / "assessment.json"))
    assert code == 2 and "no local template named '5-Day E9'" in err


def test_plan_needs_no_pydantic() -> None:
    """`plan` (like every command that validates no event) does not pay for pydantic's import."""
    code = (
        "import sys; from christmas_tasks.cli import main\n"
        "main(['plan', '5day', '--from', '2025-12-01T09:00:00Z', '--now', '2025-12-01T09:00:00Z'])\n"
        "print('pydantic' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.strip() == "False"


def test_the_commands_word_lists_are_the_vocabulary() -> None:
    """cli.py spells the events and sequences out so that --help imports nothing; they must stay the vocabulary's,
    and so must scripts/post-sample's list of events (all but the unsubscribe link, which is opened from an email,
    not posted as a sample)."""
    from christmas_tasks import cli
    from christmas_tasks.vocabulary import EventKind, SequenceType

    assert cli.EVENTS == tuple(EventKind) and cli.SEQUENCES == tuple(SequenceType)
    script = (Path(__file__).resolve().parents[2] / "scripts" / "post-sample").read_text(encoding="utf-8")
    usage = re.search(r"EVENT: (.+?)\n#\s+(.+?)\n", script)
    assert usage is not None
    listed = re.findall(r"[a-z-]+", (usage.group(1) + " " + usage.group(2)).replace("(default)", ""))
    assert sorted(listed) == sorted(set(EventKind) - {EventKind.UNSUBSCRIBE_LINK})
