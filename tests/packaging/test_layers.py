"""The layers hold (docs/architecture.md): the import contract of pyproject.toml ([tool.importlinter]) is kept, and it
does catch a forbidden import; no module is over 400 lines; no use case branches on an event's type."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "christmas_tasks"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(where: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=where, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(where)},
    )


def test_the_import_contract_is_kept() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 3 kept, 0 broken." in done.stdout


def test_the_import_contract_catches_each_forbidden_import(tmp_path: Path) -> None:
    copy = tmp_path / "christmas_tasks"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for module, line in [
        ("domain/keys.py", "import sqlite3  # I/O in the domain"),
        ("usecases/sending.py", "from christmas_tasks.adapters import files  # an adapter in a use case"),
        ("adapters/outbox.py", "from christmas_tasks.usecases import ports  # a use case in an adapter"),
    ]:
        path = copy / module
        path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    done = lint_imports(tmp_path)
    assert done.returncode != 0
    assert "Contracts: 0 kept, 3 broken." in done.stdout, done.stdout
    for forbidden in (
        "christmas_tasks.domain.keys -> sqlite3",
        "christmas_tasks.usecases.sending -> christmas_tasks.adapters.files",
        "christmas_tasks.adapters.outbox -> christmas_tasks.usecases.ports",
    ):
        assert forbidden in done.stdout, forbidden


def test_no_module_is_over_400_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


def test_no_use_case_branches_on_an_events_type() -> None:
    """What a kind does is the kind's description (christmas_tasks/domain/events/) and the handler of its class
    (`handler_for`), never an `isinstance(event, SomeEvent)` in a use case."""
    from christmas_tasks.domain.events import KINDS, Event, StartsSequence

    models = {model.__name__ for model in (*KINDS.values(), Event, StartsSequence)}
    found = []
    for path in (PACKAGE / "usecases").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance" and len(node.args) == 2:
                names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                if names & models:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
