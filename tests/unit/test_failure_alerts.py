"""Failure alerts (SPEC §11): the throttle rule, exact, on a clock the test passes in; the messages; Discord failing.

Each alert is a new process on Kestra, so every call here opens the record afresh from its file (AlertLogFile), as a
step does: what the rule remembers is what the file kept.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from christmas_tasks.adapters.alert_log import RECORD, AlertLogFile
from christmas_tasks.adapters.discord import DiscordAlerter
from christmas_tasks.adapters.secret import Secret
from christmas_tasks.usecases.failure_alerts import (
    THRESHOLD,
    WINDOW,
    Failure,
    FailureAlert,
    Outcome,
    alert_failure,
    alert_summary,
    failure_text,
)
from christmas_tasks.usecases.outcomes import AlertStatus

T0 = datetime(2025, 12, 4, 10, 0, tzinfo=UTC)
URL = "https://kestra.example.com/ui/main/executions/christmas"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def failure(n: int, *, flow: str = "step", error: str | None = "Resend answered 503: unavailable",
            correlation: str | None = None) -> Failure:
    execution = f"exec{n:02d}"
    return Failure("christmas", flow, execution, error=error, correlation=correlation or f"corr{n:02d}",
                   link=f"{URL}/{flow}/{execution}", call="send")


class Discord:
    """A stand-in Alerter: what was posted, and whether Discord is up."""

    def __init__(self) -> None:
        self.posted: list[str] = []
        self.up = True

    def alert(self, text: str) -> bool:
        self.posted.append(text)
        return self.up


@pytest.fixture
def discord() -> Discord:
    return Discord()


@pytest.fixture
def alert(tmp_path: Path, discord: Discord) -> Callable[[Failure, datetime], FailureAlert]:
    def run(item: Failure, now: datetime) -> FailureAlert:
        return alert_failure(AlertLogFile(tmp_path), discord, item, now)  # a new process: the record from its file

    return run


def test_three_failures_in_ten_minutes_are_posted_then_the_rest_held_for_one_summary(
    alert: Callable[[Failure, datetime], FailureAlert], discord: Discord, tmp_path: Path
) -> None:
    assert THRESHOLD == 3 and WINDOW == timedelta(minutes=10)
    outcomes = [alert(failure(n), at(n)) for n in range(10)]  # ten failures in ten minutes, a minute apart
    assert [o.decision.outcome for o in outcomes] == [Outcome.POSTED] * 3 + [Outcome.HELD] * 7
    assert len(discord.posted) == 3, "three messages, not ten"
    assert "summarised in one message per 10 minutes" in discord.posted[2]
    assert all("summarised" not in text for text in discord.posted[:2])
    opened = outcomes[3].decision
    assert (opened.window, opened.summary_at) == (at(3), at(13)), "the fourth opens a window; its summary at its end"
    assert all(o.decision.window == at(3) and o.decision.summary_at is None for o in outcomes[4:]), "scheduled once"
    assert [o.as_json()["summary_at"] for o in outcomes[3:5]] == ["2025-12-04T10:13:00Z", None]

    summary = alert_summary(AlertLogFile(tmp_path), discord, at(3), at(13))
    assert (summary.held, summary.discord) == (7, AlertStatus.SENT) and discord.posted[-1] == summary.text
    assert summary.text is not None and summary.text.startswith(
        "Kestra: 7 more failed executions from 10:03 to 10:13 UTC, held past 3 alerts in 10 minutes."
    )
    again = alert_summary(AlertLogFile(tmp_path), discord, at(3), at(13.5))
    assert (again.text, again.discord, len(discord.posted)) == (None, None, 4), "a window is summarised once"


def test_the_window_counts_the_last_ten_minutes_exactly(
    alert: Callable[[Failure, datetime], FailureAlert], discord: Discord
) -> None:
    for n in range(3):
        assert alert(failure(n), at(n)).decision.outcome is Outcome.POSTED
    # 10:09:59.999: the three posted at 10:00, 10:01, 10:02 are within the last ten minutes
    assert alert(failure(3), at(10) - timedelta(microseconds=1)).decision.outcome is Outcome.HELD


def test_ten_minutes_after_the_first_post_one_more_may_go(tmp_path: Path, discord: Discord) -> None:
    for n in range(3):
        alert_failure(AlertLogFile(tmp_path), discord, failure(n), at(n))
    # at 10:10 the post of 10:00 is ten minutes old: two remain in the last ten minutes
    late = alert_failure(AlertLogFile(tmp_path), discord, failure(3), at(10))
    assert late.decision.outcome is Outcome.POSTED and "summarised" in (late.decision.text or "")


def test_a_storm_that_goes_on_gets_one_summary_per_window_and_quiet_brings_single_alerts_back(
    alert: Callable[[Failure, datetime], FailureAlert], discord: Discord, tmp_path: Path
) -> None:
    seen = {n: alert(failure(n), at(n)).decision for n in range(25)}  # one a minute for 25 minutes
    assert [n for n, d in seen.items() if d.outcome is Outcome.POSTED] == [0, 1, 2]
    assert [(n, d.summary_at) for n, d in seen.items() if d.summary_at] == [(3, at(13)), (13, at(23)), (23, at(33))]
    assert {d.window for n, d in seen.items() if n >= 13} == {at(13), at(23)}, "no single message between windows"
    for start in (at(3), at(13)):
        assert alert_summary(AlertLogFile(tmp_path), discord, start, start + WINDOW).held == 10
    # the last window closed at 10:33 and held 23 and 24; the next failure comes at 10:44, eleven minutes later
    assert alert_summary(AlertLogFile(tmp_path), discord, at(23), at(33)).held == 2
    assert alert(failure(30), at(44)).decision.outcome is Outcome.POSTED
    assert len(discord.posted) == 3 + 3 + 1


def test_a_failure_seen_again_from_its_callers_is_folded_into_its_alert(
    alert: Callable[[Failure, datetime], FailureAlert], discord: Discord
) -> None:
    # a rejected signup: its step fails (the message), then handle-event (the same result), then signup (no output)
    step = alert(failure(1, flow="step", error="signup event: email: not an address", correlation="sig1"), at(0))
    handle_event = alert(failure(2, flow="handle-event", error="signup event: email: not an address",
                                 correlation="sig1"), at(0.01))
    handler = alert(failure(3, flow="signup", error=None, correlation="sig1"), at(0.02))
    assert step.decision.outcome is Outcome.POSTED
    assert [d.decision.outcome for d in (handle_event, handler)] == [Outcome.FOLDED, Outcome.FOLDED]
    assert handler.decision.folded_into == "exec01" and len(discord.posted) == 1
    # folded ones are not counted: two more distinct failures are still posted
    assert alert(failure(4), at(1)).decision.outcome is Outcome.POSTED
    assert alert(failure(5), at(2)).decision.outcome is Outcome.POSTED
    # the same correlation with another error line is another failure (held: three were posted at 10:00-10:02)
    other = alert(failure(6, error="Notion answered 502", correlation="sig1"), at(3))
    assert other.decision.outcome is Outcome.HELD and other.decision.summary_at == at(13)
    # more than ten minutes after its last alert, the same correlation is a new failure (and its window has closed)
    assert alert(failure(7, error=None, correlation="sig1"), at(24)).decision.outcome is Outcome.POSTED


def test_the_message_names_the_flow_the_execution_its_first_error_and_its_link() -> None:
    assert failure_text(failure(7)) == (
        "Kestra: christmas.step failed (send)\n"
        "Execution: exec07\n"
        "First error: Resend answered 503: unavailable\n"
        "https://kestra.example.com/ui/main/executions/christmas/step/exec07"
    )
    bare = Failure("christmas", "signup", "abc", state="KILLED")
    assert failure_text(bare) == (
        "Kestra: christmas.signup ended KILLED\n"
        "Execution: abc\n"
        "First error: none reported by the execution (see its logs)\n"
        "(no link: Kestra's URL, kestra.url, is not set)"
    )


def test_the_summary_counts_by_flow_quotes_the_first_errors_and_links_the_first_executions(
    tmp_path: Path, discord: Discord
) -> None:
    log = AlertLogFile(tmp_path)
    for n in range(3):
        alert_failure(log, discord, failure(n), at(0))
    held = [failure(n, flow="send-email" if n % 2 else "signup", error=f"error {n % 4}") for n in range(3, 11)]
    for item in held:
        alert_failure(log, discord, item, at(1))
    summary = alert_summary(log, discord, at(1), at(11))
    assert summary.text == "\n".join([
        "Kestra: 8 more failed executions from 10:01 to 10:11 UTC, held past 3 alerts in 10 minutes.",
        "By flow: christmas.send-email 4, christmas.signup 4",
        "First error (2): error 0",
        "First error (2): error 1",
        "First error (2): error 2",
        "... and 1 other error lines",
        *(f"{URL}/{item.flow}/{item.execution}" for item in held[:5]),
        "... and 3 more (Kestra's Executions page, state FAILED)",
    ])


def test_discord_down_is_reported_and_counted_and_never_raises(tmp_path: Path, discord: Discord) -> None:
    discord.up = False
    first = alert_failure(AlertLogFile(tmp_path), discord, failure(1), at(0))
    assert (first.decision.outcome, first.discord) == (Outcome.POSTED, AlertStatus.FAILED)
    assert first.as_json()["discord"] == "failed"
    # it counts as the failure's alert: a retry would only post it twice; two more, then held
    discord.up = True
    outcomes = [alert_failure(AlertLogFile(tmp_path), discord, failure(n), at(n)).decision.outcome for n in (2, 3, 4)]
    assert outcomes == [Outcome.POSTED, Outcome.POSTED, Outcome.HELD]


@pytest.mark.parametrize("answer", [
    lambda request: httpx.Response(503, json={"message": "down"}),
    lambda request: httpx.Response(429, json={"retry_after": 5}),
    lambda request: (_ for _ in ()).throw(httpx.ConnectError("refused", request=request)),
])
def test_the_real_alerter_failing_fails_nothing(
    tmp_path: Path, answer: Callable[[httpx.Request], httpx.Response], caplog: pytest.LogCaptureFixture
) -> None:
    http = httpx.Client(transport=httpx.MockTransport(answer))
    alerter = DiscordAlerter(Secret("https://discord.com/api/webhooks/1/secret-token"), client=http)
    result = alert_failure(AlertLogFile(tmp_path), alerter, failure(1), at(0))
    assert result.discord is AlertStatus.FAILED and "secret-token" not in caplog.text
    assert any("Discord alert not sent" in r.getMessage() for r in caplog.records), "logged, once"
    summary = alert_summary(AlertLogFile(tmp_path), alerter, at(0), at(10))
    assert summary.text is None, "nothing held"


def test_without_discord_the_message_is_reported_and_nothing_recorded(tmp_path: Path) -> None:
    result = alert_failure(AlertLogFile(tmp_path), None, failure(1), at(0))
    assert (result.decision.outcome, result.discord) == (Outcome.REPORTED, AlertStatus.NOT_CONFIGURED)
    assert result.as_json()["message"] == failure_text(failure(1))
    assert not (tmp_path / RECORD).exists()
    assert alert_summary(AlertLogFile(tmp_path), None, at(0), at(10)).discord is AlertStatus.NOT_CONFIGURED


def test_an_unreadable_record_is_an_empty_one_and_old_entries_are_dropped(tmp_path: Path, discord: Discord) -> None:
    (tmp_path / RECORD).write_text("{not json")
    assert alert_failure(AlertLogFile(tmp_path), discord, failure(1), at(0)).decision.outcome is Outcome.POSTED
    data = json.loads((tmp_path / RECORD).read_text())
    assert [a["execution"] for a in data["alerts"]] == ["exec01"] and data["alerts"][0]["at"] == "2025-12-04T10:00:00Z"
    data["alerts"].append({"at": "garbage"})
    (tmp_path / RECORD).write_text(json.dumps(data))
    alert_failure(AlertLogFile(tmp_path), discord, failure(2), at(60 * 24 + 1))  # a day later
    assert [a["execution"] for a in json.loads((tmp_path / RECORD).read_text())["alerts"]] == ["exec02"]


def test_the_record_is_held_by_one_step_at_a_time(tmp_path: Path) -> None:
    """An alert and a summary at the same moment: the second waits for the first's write, so neither entry is lost."""
    entered, release = threading.Event(), threading.Event()
    log = AlertLogFile(tmp_path)

    def first() -> None:
        with log.locked() as data:
            entered.set()
            release.wait(5)
            data["a"] = 1

    def second(seen: list[Any]) -> None:
        with AlertLogFile(tmp_path).locked() as data:
            seen.append(dict(data))
            data["b"] = 2

    seen: list[Any] = []
    one = threading.Thread(target=first)
    one.start()
    entered.wait(5)
    two = threading.Thread(target=second, args=(seen,))
    two.start()
    two.join(0.3)
    assert two.is_alive(), "the second waits while the first holds the record"
    release.set()
    one.join(5)
    two.join(5)
    assert seen == [{"a": 1}] and json.loads((tmp_path / RECORD).read_text()) == {"a": 1, "b": 2}
