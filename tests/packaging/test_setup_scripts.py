"""The set-up scripts' failures are bounded and say what failed (scripts/setup-browser, scripts/setup-venv), and
scripts/test-lowest really runs on the lower bounds."""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = Path("/var/lib/dpkg/lock-frontend")


@pytest.mark.skipif(os.geteuid() != 0 or not LOCK.exists(), reason="apt's locks are root's, on Debian")
def test_setup_browser_waits_for_a_busy_apt_with_a_bound_and_names_the_lock(tmp_path: Path) -> None:
    with LOCK.open("a") as held:
        fcntl.lockf(held, fcntl.LOCK_EX)  # as a running apt holds it
        started = time.monotonic()
        result = subprocess.run(
            [str(ROOT / "scripts" / "setup-browser")],
            env={**os.environ, "CHRISTMAS_CHROMIUM": str(tmp_path / "no-chromium"), "CHRISTMAS_APT_LOCK_WAIT": "6"},
            capture_output=True, text=True, timeout=60,
        )
        took = time.monotonic() - started
    assert result.returncode == 1
    assert f"waiting for apt's lock {LOCK} (up to 6s)" in result.stderr
    assert f"apt's lock {LOCK} is still held after 6s" in result.stderr, result.stderr
    assert "apt-get install -y chromium" in result.stderr, "it says what to run"
    assert 5 <= took < 30, "bounded"


def test_setup_venv_is_quiet_when_the_venv_is_up_to_date(tmp_path: Path) -> None:
    result = subprocess.run(["bash", "-c", "source scripts/setup-venv && echo ready"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ready\n" and result.stderr == ""


def lower_bound(requirement: str) -> str:
    """The `>=` bound of one of pyproject's runtime dependencies."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        dependencies = tomllib.load(file)["project"]["dependencies"]
    (spec,) = [d for d in dependencies if re.match(rf"{re.escape(requirement)}\s*>=", d)]
    return re.search(r">=\s*([\d.]+)", spec).group(1)  # type: ignore[union-attr]


def test_test_lowest_runs_on_the_lower_bounds_and_fails_when_it_collects_nothing() -> None:
    result = subprocess.run([str(ROOT / "scripts" / "test-lowest"), "tests/unit/test_duplicates.py", "-k", "no_such"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, "pytest's exit 5 (nothing collected) must not pass"
    assert "collected no tests: failing on purpose" in result.stderr
    versions = dict(pin.split("==") for pin in result.stdout.splitlines()[0].split("versions: ", 1)[1].split())
    for requirement in ("notion-client", "resend", "pydantic", "httpx"):
        assert versions[requirement].startswith(lower_bound(requirement)), (requirement, versions)
