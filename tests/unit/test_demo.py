from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from christmas_tasks.entrypoints.demo import run_demo
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings
from tests.conftest import EXAMPLES, NOW


def test_demo_sends_each_planned_email_at_its_time(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "TESTING_MODE": "true",
            "CHRISTMAS_LOCAL_DIR": str(tmp_path),
            "CHRISTMAS_TEMPLATES_DIR": str(SAMPLE_TEMPLATES),
        }
    )
    clock = [NOW]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += timedelta(seconds=seconds * 10)  # speedup 10: each wait stands for ten times as long

    def now() -> datetime:
        return clock[0]

    lines: list[str] = []
    assert run_demo(settings, EXAMPLES / "assessment.json", speedup=10, clock=now, sleep=sleep, say=lines.append) == 0
    assert waits == [6.0, 6.0, 6.0, 6.0]  # one testing-mode minute between emails, divided by 10
    index = [json.loads(line) for line in (tmp_path / "outbox" / "index.jsonl").read_text().splitlines()]
    assert len(index) == 4
    assert lines[-1].startswith("outbox: ")
    # A second run with the same address sends nothing and says why.
    lines.clear()
    run_demo(settings, EXAMPLES / "assessment.json", clock=now, sleep=sleep, say=lines.append)
    assert any("handled before" in line for line in lines)
    assert len((tmp_path / "outbox" / "index.jsonl").read_text().splitlines()) == 4
