"""Failure alerts (SPEC §11): one Discord message per failed execution, a burst summarised, never a flood.

Kestra's `failure-alert` flow hands every failed execution of the namespace to `alert_failure`; this module decides
what reaches Discord, from a small record of the recent alerts (`AlertLog`: every step is a new process, so it
persists between them). The rule, for a failure at `now` (WINDOW is 10 minutes, THRESHOLD 3):

1. **Folded**: a failure of the same correlation (Kestra's `system.correlationId`: an execution and the subflows it
   ran) already counted within WINDOW, with no error line of its own or the same one, is that failure seen again
   from its caller (a `step` fails, then the `handle-event` and the handler that waited for it): nothing is posted.
2. **Held**: while a summary window is open (it opened at `start`, it closes WINDOW later), the failure waits there.
3. **Posted**: fewer than THRESHOLD failures posted within WINDOW, and no window closed within WINDOW: one message.
   The THRESHOLD-th says that what follows is summarised.
4. **Held**, opening a window: otherwise. The caller schedules `alert_summary` at the window's end, which posts the
   window's held failures in one message. A failure after a window closed but within WINDOW of it opens the next
   one at once: a storm that goes on gets one summary per WINDOW, no single messages between them.

Posting is the Alerter's: a failed post (Discord down) returns False, is logged by the Alerter, and still counts as
the failure's alert (a retry could only post it twice). Nothing here raises because Discord failed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from christmas_tasks.domain.planning import iso_utc, parse_timestamp
from christmas_tasks.usecases.outcomes import AlertStatus
from christmas_tasks.usecases.ports import Alerter, AlertLog

WINDOW = timedelta(minutes=10)
THRESHOLD = 3  # messages posted one by one within WINDOW; past them, one summary per window
KEEP = timedelta(days=1)  # how long an alert stays in the record (a late summary still finds its window)
LISTED = 5  # executions linked in a summary
ERRORS_LISTED = 3  # distinct first error lines quoted in a summary


class Outcome(StrEnum):
    POSTED = "posted"
    HELD = "held"
    FOLDED = "folded"
    REPORTED = "reported"  # no Discord configured: the message is only the step's output, and nothing is recorded


@dataclass(frozen=True)
class Failure:
    """A failed execution, as the package needs it: where it ran, its first error line (None: it reported none)."""

    namespace: str
    flow: str
    execution: str
    state: str = "FAILED"
    error: str | None = None
    correlation: str | None = None
    link: str | None = None  # the execution in Kestra's UI (None: Kestra's URL is unknown)
    call: str | None = None  # what the package was asked to do there (a step's command: "handle signup")

    @property
    def name(self) -> str:
        return f"{self.namespace}.{self.flow}"


@dataclass(frozen=True)
class Alerted:
    """One failure in the record: when it was seen, and what became of it."""

    at: datetime
    failure: Failure
    outcome: Outcome
    window: datetime | None = None  # held: the start of the window it is summarised in

    def as_json(self) -> dict[str, Any]:
        f = self.failure
        return {
            "at": iso_utc(self.at), "outcome": self.outcome.value,
            "window": iso_utc(self.window) if self.window else None,
            "namespace": f.namespace, "flow": f.flow, "execution": f.execution, "state": f.state, "error": f.error,
            "correlation": f.correlation, "link": f.link, "call": f.call,
        }

    @classmethod
    def from_json(cls, data: Any) -> Alerted | None:
        """An entry of the record, or None when it is not one (a hand-edited or older file: skipped, not fatal)."""
        try:
            window = data.get("window")
            failure = Failure(
                namespace=str(data["namespace"]), flow=str(data["flow"]), execution=str(data["execution"]),
                state=str(data.get("state") or "FAILED"), error=_text(data.get("error")),
                correlation=_text(data.get("correlation")), link=_text(data.get("link")), call=_text(data.get("call")),
            )
            return cls(parse_timestamp(str(data["at"])), failure, Outcome(data["outcome"]),
                       parse_timestamp(str(window)) if window else None)
        except (AttributeError, KeyError, TypeError, ValueError):
            return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    text: str | None = None  # the message to post (POSTED only)
    window: datetime | None = None  # HELD: its window's start
    summary_at: datetime | None = None  # HELD in a window it opened: when to post the summary
    folded_into: str | None = None  # FOLDED: the execution whose alert counts for it


@dataclass
class Record:
    """The record of recent alerts: every failure seen within KEEP, and the windows already summarised."""

    alerts: list[Alerted] = field(default_factory=list)
    summarised: set[datetime] = field(default_factory=set)

    @classmethod
    def from_json(cls, data: Any) -> Record:
        if not isinstance(data, dict):
            return cls()
        alerts = [a for a in (Alerted.from_json(item) for item in data.get("alerts") or []) if a is not None]
        summarised = set()
        for item in data.get("summarised") or []:
            try:
                summarised.add(parse_timestamp(str(item)))
            except ValueError:
                continue
        return cls(alerts, summarised)

    def as_json(self) -> dict[str, Any]:
        return {"alerts": [a.as_json() for a in self.alerts], "summarised": sorted(iso_utc(w) for w in self.summarised)}

    def pruned(self, now: datetime) -> Record:
        alerts = [a for a in self.alerts if a.at > now - KEEP]
        return Record(alerts, {w for w in self.summarised if w > now - KEEP})

    def windows(self) -> set[datetime]:
        return {a.window for a in self.alerts if a.outcome is Outcome.HELD and a.window is not None}


def decide(record: Record, failure: Failure, now: datetime) -> Decision:
    """What to do with `failure` at `now`, given the record (the rule of the module's docstring). Pure."""
    recent = [a for a in record.alerts if a.at > now - WINDOW and a.outcome is not Outcome.FOLDED]
    if failure.correlation is not None:
        for seen in recent:
            if seen.failure.correlation == failure.correlation and failure.error in (None, seen.failure.error):
                return Decision(Outcome.FOLDED, folded_into=seen.failure.execution)
    windows = record.windows()
    for start in sorted(windows):
        if start <= now < start + WINDOW:
            return Decision(Outcome.HELD, window=start)
    posted = sum(1 for a in recent if a.outcome is Outcome.POSTED)
    closed_lately = any(now - WINDOW < start + WINDOW <= now for start in windows)
    if posted < THRESHOLD and not closed_lately:
        return Decision(Outcome.POSTED, text=failure_text(failure, last=posted + 1 == THRESHOLD))
    return Decision(Outcome.HELD, window=now, summary_at=now + WINDOW)


def apply(record: Record, failure: Failure, decision: Decision, now: datetime) -> Record:
    """The record with `failure` added as `decision` says."""
    kept = record.pruned(now)
    kept.alerts.append(Alerted(now, failure, decision.outcome, decision.window))
    return kept


def failure_text(failure: Failure, last: bool = False) -> str:
    """The Discord message of one failure: its flow, its execution, its first error line and its link."""
    what = "failed" if failure.state == "FAILED" else f"ended {failure.state}"
    call = f" ({failure.call})" if failure.call else ""
    lines = [
        f"Kestra: {failure.name} {what}{call}",
        f"Execution: {failure.execution}",
        f"First error: {failure.error or 'none reported by the execution (see its logs)'}",
        failure.link or "(no link: Kestra's URL, kestra.url, is not set)",
    ]
    if last:
        lines.append(
            f"{THRESHOLD} alerts in {_minutes(WINDOW)}: a failure within {_minutes(WINDOW)} of them is held, and the "
            f"held ones are summarised in one message per {_minutes(WINDOW)}."
        )
    return "\n".join(lines)


def summary_text(held: list[Alerted], start: datetime) -> str:
    """The one message of a window's held failures: how many, of which flows, their first error lines, links."""
    end = start + WINDOW
    flows = Counter(a.failure.name for a in held)
    errors = Counter(a.failure.error for a in held if a.failure.error)
    lines = [
        f"Kestra: {len(held)} more failed execution{'s' if len(held) != 1 else ''} from {_clock(start)} to "
        f"{_clock(end)} UTC, held past {THRESHOLD} alerts in {_minutes(WINDOW)}.",
        "By flow: " + ", ".join(f"{name} {count}" for name, count in _most_common(flows)),
    ]
    for error, count in _most_common(errors)[:ERRORS_LISTED]:
        lines.append(f"First error ({count}): {error}")
    if len(errors) > ERRORS_LISTED:
        lines.append(f"... and {len(errors) - ERRORS_LISTED} other error lines")
    for alerted in held[:LISTED]:
        lines.append(alerted.failure.link or f"{alerted.failure.name} {alerted.failure.execution}")
    if len(held) > LISTED:
        lines.append(f"... and {len(held) - LISTED} more (Kestra's Executions page, state FAILED)")
    return "\n".join(lines)


def _most_common(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _clock(moment: datetime) -> str:
    return iso_utc(moment)[11:16]


def _minutes(span: timedelta) -> str:
    return f"{int(span.total_seconds() // 60)} minutes"


# ------------------------------------------------------------------------------------------ the use cases


@dataclass(frozen=True)
class FailureAlert:
    """What alerting one failure did: the decision, the text posted (or that would be), and Discord's answer."""

    failure: Failure
    decision: Decision
    discord: AlertStatus | None  # None: nothing to post (held or folded)

    def as_json(self) -> dict[str, Any]:
        d = self.decision
        return {
            "outcome": d.outcome.value,
            "discord": self.discord.value if self.discord else None,
            "message": d.text,
            "folded_into": d.folded_into,
            "window": iso_utc(d.window) if d.window else None,
            "summary_at": iso_utc(d.summary_at) if d.summary_at else None,
            "failure": {"flow": self.failure.name, "execution": self.failure.execution, "error": self.failure.error},
        }


def alert_failure(log: AlertLog, alerter: Alerter | None, failure: Failure, now: datetime) -> FailureAlert:
    """Decide, post when the rule says so, and record it, all while the record is held (a summary posted at the same
    moment waits). Without an Alerter (no Discord configured) nothing is recorded: the message is only reported."""
    if alerter is None:
        return FailureAlert(failure, Decision(Outcome.REPORTED, text=failure_text(failure)), AlertStatus.NOT_CONFIGURED)
    now = now.replace(microsecond=0)  # the record keeps whole seconds: a window is found again by its start
    with log.locked() as data:
        record = Record.from_json(data)
        decision = decide(record, failure, now)
        status = None
        if decision.text is not None:
            status = AlertStatus.SENT if alerter.alert(decision.text) else AlertStatus.FAILED
        _replace(data, apply(record, failure, decision, now).as_json())
    return FailureAlert(failure, decision, status)


@dataclass(frozen=True)
class SummaryAlert:
    window: datetime
    held: int
    text: str | None  # None: nothing held, or already summarised
    discord: AlertStatus | None

    def as_json(self) -> dict[str, Any]:
        return {"window": iso_utc(self.window), "held": self.held, "message": self.text,
                "discord": self.discord.value if self.discord else None}


def alert_summary(log: AlertLog, alerter: Alerter | None, window: datetime, now: datetime) -> SummaryAlert:
    """Post the summary of the window that opened at `window`, once (a second call for it posts nothing)."""
    if alerter is None:
        return SummaryAlert(window, 0, None, AlertStatus.NOT_CONFIGURED)
    window, now = window.replace(microsecond=0), now.replace(microsecond=0)
    with log.locked() as data:
        record = Record.from_json(data)
        held = [a for a in record.alerts if a.outcome is Outcome.HELD and a.window == window]
        if not held or window in record.summarised:
            return SummaryAlert(window, len(held), None, None)
        text = summary_text(held, window)
        status = AlertStatus.SENT if alerter.alert(text) else AlertStatus.FAILED
        kept = record.pruned(now)
        kept.summarised.add(window)
        _replace(data, kept.as_json())
    return SummaryAlert(window, len(held), text, status)


def _replace(data: dict[str, Any], new: dict[str, Any]) -> None:
    data.clear()
    data.update(new)

