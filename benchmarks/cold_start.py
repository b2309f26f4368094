"""Cold start of one `christmas-tasks` process: every Kestra Python task is a new process.

Run: .venv/bin/python benchmarks/cold_start.py [--runs 20]
Prints the median and p95 wall time of each command, each run a fresh interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "christmas-tasks"


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "CHRISTMAS_BACKEND": "local",
            "CHRISTMAS_LOCAL_DIR": tmp,
            "CHRISTMAS_TEMPLATES_DIR": str(SAMPLE_TEMPLATES),
            "TESTING_MODE": "true",
        }
        event = ROOT / "examples" / "events" / "assessment.json"
        body = json.loads(event.read_text())
        commands = {
            "--help": [str(SCRIPT), "--help"],
            "validate assessment": [str(SCRIPT), "validate", "assessment", str(event)],
            "plan 5day": [str(SCRIPT), "plan", "5day", "--from", "2025-12-01T09:00:00Z"],
        }
        print(f"{'command':<34} {'median':>8} {'p95':>8}   ({runs} cold runs each)")
        for name, argv in commands.items():
            times = [timed(argv, env) for _ in range(runs)]
            print(f"{name:<34} {statistics.median(times):>7.3f}s {percentile(times, 0.95):>7.3f}s")
        # handle: a new contact each run, so every run does the full work on the local backends.
        times = []
        for i in range(runs):
            path = Path(tmp) / f"event-{i}.json"
            path.write_text(json.dumps({**body, "email": f"bench{i}@example.com"}))
            times.append(timed([str(SCRIPT), "handle", "assessment", str(path)], env))
        print(f"{'handle assessment (local)':<34} {statistics.median(times):>7.3f}s {percentile(times, 0.95):>7.3f}s")


if __name__ == "__main__":
    main()
