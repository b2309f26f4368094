"""The machine's shared Notion request budget (christmas_tasks/adapters/notion/budget.py): a token bucket in one file
that every step process takes from; an engagement's (background) request waits while sends use the budget, and never
longer than its patience. Exact: a fake clock, and a sleep that advances it."""

from __future__ import annotations

from pathlib import Path

import pytest

from christmas_tasks.adapters.notion.budget import RequestBudget


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def budgets(path: Path, clock: Clock, count: int = 2, **kw: float) -> list[RequestBudget]:
    """Several processes' budgets on one file."""
    return [RequestBudget(path, clock=clock, sleep=clock.sleep, **kw) for _ in range(count)]


def test_requests_go_at_once_up_to_the_rate_then_wait_for_the_refill(tmp_path: Path) -> None:
    clock = Clock()
    send, other = budgets(tmp_path / "budget.json", clock)
    for budget in (send, other, send):  # a full bucket: three at once, whoever takes them
        budget.take()
    assert clock.slept == []
    other.take()
    assert clock.slept == [pytest.approx(1 / 3)], "the fourth waits a third of a second: 3 a second"


def test_a_background_request_waits_while_the_others_use_the_budget(tmp_path: Path) -> None:
    clock = Clock()
    send, opens = budgets(tmp_path / "budget.json", clock)
    send.take()  # a send took one: two left, the reserve; an open waits for a full bucket
    opens.take(background=True)
    assert clock.slept == [pytest.approx(1 / 3)]
    clock.slept.clear()
    send.take()
    send.take()  # the sends still find theirs at once: the open left the reserve
    assert clock.slept == []


def test_a_background_request_goes_ahead_after_its_patience(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "budget.json"
    # sends that keep the bucket empty: the open's wait would never end
    (send,) = budgets(path, clock, 1)
    (opens,) = budgets(path, clock, 1, patience=5.0)
    real_sleep = clock.sleep

    def busy_sleep(seconds: float) -> None:
        real_sleep(seconds)
        for _ in range(3):  # sends take whatever passes two tokens: never the full bucket an open waits for
            send._try(2.0)

    opens._sleep = busy_sleep
    for _ in range(3):
        send.take()
    opens.take(background=True)
    assert 4.0 <= sum(clock.slept) <= 6.0, clock.slept


def test_a_bucket_it_cannot_write_is_no_bucket(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    clock = Clock()
    (budget,) = budgets(tmp_path / "a-file" / "budget.json", clock, 1)  # its folder cannot be made
    for _ in range(10):
        budget.take()
    assert clock.slept == [], "requests go at once, and Notion's 429 paces them as before"


def test_an_unreadable_bucket_is_a_full_one(tmp_path: Path) -> None:
    path = tmp_path / "budget.json"
    path.write_text("not json")
    clock = Clock()
    (budget,) = budgets(path, clock, 1)
    for _ in range(3):
        budget.take()
    assert clock.slept == []
