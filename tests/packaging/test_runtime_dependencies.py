"""The package as a user installs it: `pip install christmas-tasks` and nothing else, used from any folder.

Its runtime dependencies are exactly what it imports (no missing one, which the image would lack: it installs
the runtime dependencies only; no unused one), and in a venv holding those alone every command starts and the
local funnel runs from a folder that is not the repository.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
import venv
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "christmas_tasks"


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {normalise(re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0]) for spec in project["dependencies"]}


def imported_distributions() -> set[str]:
    modules = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    third_party = {m for m in modules if m not in sys.stdlib_module_names and m != "christmas_tasks"}
    owners = packages_distributions()
    missing = sorted(m for m in third_party if m not in owners)
    assert not missing, f"imported but not installed: {missing}"
    return {normalise(dist) for module in third_party for dist in owners[module]}


def test_runtime_dependencies_are_exactly_what_the_package_imports() -> None:
    assert imported_distributions() == declared()


COMMANDS = ("validate", "plan", "preview", "handle", "send", "step", "health", "report", "templates", "notion",
            "secrets", "deploy", "demo", "serve")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the package (not editable) and its runtime dependencies alone; its bin folder."""
    where = tmp_path_factory.mktemp("runtime-venv")
    venv.create(where / "venv", with_pip=True)
    pip = subprocess.run(
        [str(where / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         str(ROOT)],
        capture_output=True, text=True, timeout=900,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return where / "venv" / "bin"


def run(bin_dir: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(cwd), "LANG": "C.UTF-8", **env}
    return subprocess.run([str(bin_dir / "christmas-tasks"), *args], cwd=cwd, env=clean, capture_output=True,
                          text=True, timeout=120)


def test_every_command_starts_in_a_venv_with_the_runtime_dependencies_alone(installed: Path, tmp_path: Path) -> None:
    listed = run(installed, tmp_path, "--help")
    assert listed.returncode == 0, listed.stderr
    for command in COMMANDS:
        assert command in listed.stdout
        result = run(installed, tmp_path, command, "--help")
        assert result.returncode == 0, (command, result.stderr)
    # deploy reads its settings before anything else: a missing one is named, not a missing module
    deploy = run(installed, tmp_path, "deploy")
    assert deploy.returncode == 2 and "deploy: missing setting(s) KESTRA_URL" in deploy.stderr, deploy.stderr


def test_the_local_funnel_runs_from_any_folder(installed: Path, tmp_path: Path) -> None:
    events = ROOT / "examples" / "events"
    local = {"CHRISTMAS_LOCAL_DIR": str(tmp_path / "local"), "TESTING_MODE": "true"}
    preview = run(installed, tmp_path, "preview", "5-Day E2", "--event", str(events / "assessment.json"))
    assert preview.returncode == 0 and preview.stdout.startswith("Subject: "), preview.stderr
    check = run(installed, tmp_path, "templates", "check", **local)
    assert check.returncode == 0 and json.loads(check.stdout)["ok"] is True, check.stderr
    handled = run(installed, tmp_path, "handle", "assessment", str(events / "assessment.json"), **local)
    assert handled.returncode == 0, handled.stderr
    first = json.loads(handled.stdout)["plan"][0]
    sent = run(installed, tmp_path, "send", "--sequence-key", first["sequence_key"], "--email-number", "2", **local)
    assert sent.returncode == 0 and json.loads(sent.stdout)["status"] == "sent", sent.stderr
    assert len((tmp_path / "local" / "outbox" / "index.jsonl").read_text().splitlines()) == 1
    report = run(installed, tmp_path, "report", "--format", "json", **local)
    assert report.returncode == 0, report.stderr
    by_email = {(row["sequence"], row["email_number"]): row for row in json.loads(report.stdout)["emails"]["by_email"]}
    assert by_email[("5day", 2)]["sent"] == 1
    html = run(installed, tmp_path, "report", "--format", "html", "--output", "report.html", **local)
    assert html.returncode == 0 and "<svg" in (tmp_path / "report.html").read_text(), html.stderr
    assert not (Path(os.getcwd()) / "local").exists()
