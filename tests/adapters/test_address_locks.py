"""The lock per address (christmas_tasks/adapters/address_locks.py) that keeps two events for one address apart while
`handle-event` runs several at once: a second holder of the same address waits, another address does not; a lock
is released however its holder ends; and the funnel holds it while it handles an event."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from christmas_tasks.adapters.address_locks import STRIPES, AddressLockFiles
from christmas_tasks.domain.errors import ConfigError
from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings
from tests.conftest import EXAMPLES, NOW
from tests.fakes.memory import InMemoryLedger, InMemoryMailer, handle

JANE, SAM = "jane.doe@example.com", "sam@example.com"


def other_address(locks: AddressLockFiles, email: str) -> str:
    """An address whose stripe is not `email`'s (a shared stripe would make them wait, rarely)."""
    return next(a for n in range(100) if locks.path(a := f"sam{n}@example.com") != locks.path(email))


def test_a_second_holder_of_the_same_address_waits_another_address_does_not(tmp_path: Path) -> None:
    locks = AddressLockFiles(tmp_path / "locks")
    order: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with locks.hold(JANE):
            order.append("jane 1 in")
            first_in.set()
            time.sleep(0.3)
            order.append("jane 1 out")

    def second(email: str, name: str) -> None:
        first_in.wait()
        with locks.hold(email):
            order.append(f"{name} in")

    threads = [threading.Thread(target=first), threading.Thread(target=second, args=(JANE, "jane 2")),
               threading.Thread(target=second, args=(other_address(locks, JANE), "sam"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert order.index("sam in") < order.index("jane 1 out"), "another address waited"
    assert order.index("jane 2 in") > order.index("jane 1 out"), "the same address ran twice at once"


def _hold_and_die(folder: str, email: str, held: multiprocessing.synchronize.Event) -> None:
    locks = AddressLockFiles(Path(folder))
    with locks.hold(email):
        held.set()
        time.sleep(60)  # killed long before


def test_a_step_killed_while_it_holds_an_address_holds_nothing(tmp_path: Path) -> None:
    held = multiprocessing.get_context("spawn").Event()
    step = multiprocessing.get_context("spawn").Process(target=_hold_and_die, args=(str(tmp_path), JANE, held))
    step.start()
    assert held.wait(30)
    step.kill()  # as Kestra kills a step at its timeout
    step.join(10)
    started = time.monotonic()
    with AddressLockFiles(tmp_path).hold(JANE):
        pass
    assert time.monotonic() - started < 2


def test_the_lock_files_are_bounded_and_name_no_address(tmp_path: Path) -> None:
    locks = AddressLockFiles(tmp_path)
    for n in range(50):
        with locks.hold(f"person{n}@example.com"):
            pass
    names = [path.name for path in tmp_path.iterdir()]
    assert all(name.endswith(".lock") and "@" not in name and int(name[:-5]) < STRIPES for name in names)


def test_a_folder_it_cannot_make_is_refused_naming_the_setting(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    locks = AddressLockFiles(tmp_path / "a-file" / "x")
    with pytest.raises(ConfigError, match="CHRISTMAS_CACHE_DIR"), locks.hold(JANE):
        pass


def test_the_funnel_holds_the_address_while_it_handles_an_event(tmp_path: Path) -> None:
    settings = Settings.from_env({"TESTING_MODE": "true", "CHRISTMAS_CACHE_DIR": str(tmp_path)})
    funnel = build_funnel(settings, ledger=InMemoryLedger(SAMPLE_TEMPLATES), mailer=InMemoryMailer())
    assert isinstance(funnel.locks, AddressLockFiles) and funnel.locks.folder.is_relative_to(tmp_path)
    body = json.loads((EXAMPLES / "signup.json").read_text())
    result: list[str] = []
    with funnel.locks.hold(JANE):
        worker = threading.Thread(target=lambda: result.append(handle(funnel, "signup", body, NOW).action))
        worker.start()
        worker.join(0.5)
        assert worker.is_alive() and result == [], "the event for the held address was handled"
    worker.join(5)
    assert result == ["contact_recorded"]
