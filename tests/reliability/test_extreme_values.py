"""Every date and number a sender can send, driven to its extremes through `handle` (issue 25): the event is refused
by name (InvalidInput, each problem naming a field, nothing written) or handled; never a crash. A crash is what
held the handlers' one queue for minutes while Kestra retried it (a year 9999, an offset before year 1, a delay
past the range of datetimes).

The dates and numbers are found in each kind's own sample body, whatever its sender's shape (Calendly's nested
`payload.scheduled_event.start_time` as well as the website's flat `email_1_sent_at`), so a new kind or field is
covered without an edit here. Production delays, the send window and blackout days are on, so the planner's
arithmetic runs in full.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from christmas_tasks.adapters.outbox import OutboxMailer
from christmas_tasks.adapters.sqlite import SqliteLedger
from christmas_tasks.domain.errors import InvalidInput
from christmas_tasks.domain.events import KINDS
from christmas_tasks.domain.planning import parse_timestamp
from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings
from tests.conftest import EXAMPLES, NOW
from tests.fakes.memory import handle
from tests.reliability.world import ledger_rows

Path_ = tuple[str | int, ...]
SAMPLES = {kind: json.loads((EXAMPLES / model.sample).read_text()) for kind, model in KINDS.items() if model.sample}


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value) if len(value) == 10 else parse_timestamp(value)
    except ValueError:
        return False
    return True


def leaves(body: Any, path: Path_ = ()) -> Iterator[tuple[Path_, str]]:
    """Every date (`date`) and number (`number`) in a body, by its path."""
    if isinstance(body, dict):
        for key, value in body.items():
            yield from leaves(value, (*path, key))
    elif isinstance(body, list):
        for index, value in enumerate(body):
            yield from leaves(value, (*path, index))
    elif isinstance(body, bool):
        return
    elif isinstance(body, int | float):
        yield path, "number"
    elif isinstance(body, str) and _is_date(body):
        yield path, "date"


TARGETS = {kind: dict(leaves(body)) for kind, body in SAMPLES.items()}

# Offsets up to a day either way: 0001-01-01T00:00+05:00 is before the first instant UTC can hold.
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda minutes: timezone(timedelta(minutes=minutes)))
extreme_dates = (
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59), timezones=offsets)
    .map(lambda moment: moment.isoformat())
    | st.dates().map(date.isoformat)
    | st.sampled_from([
        "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00Z",
        "2099-12-31T23:59:59Z", "2000-01-01T00:00:00+14:00", "9999-12-31", "0001-01-01", "1999-12-31",
    ])
)
extreme_numbers = (
    st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, -1, 8, 9, 100, 100.0001, 10**7, 10**7 + 1, 2**63, -(2**63), 1e308, -0.0])
)


@st.composite
def extremes(draw: st.DrawFn) -> tuple[str, dict[str, Any], dict[Path_, Any]]:
    """A kind's sample body with some of its dates and numbers replaced by extremes."""
    kind = draw(st.sampled_from(sorted(k for k, targets in TARGETS.items() if targets)))
    targets = TARGETS[kind]
    chosen = draw(st.lists(st.sampled_from(sorted(targets, key=str)), min_size=1, max_size=3, unique=True))
    body = copy.deepcopy(SAMPLES[kind])
    changed: dict[Path_, Any] = {}
    for path in chosen:
        value = draw(extreme_dates if targets[path] == "date" else extreme_numbers)
        *parents, last = path
        holder = body
        for step in parents:
            holder = holder[step]
        holder[last] = changed[path] = value
    return kind, body, changed


def test_every_kind_has_a_date_or_a_number_to_drive() -> None:
    """The search finds the fields the issue names, in the senders' own shapes."""
    assert ("email_1_sent_at",) not in TARGETS["assessment"]  # filled on arrival: the sample leaves it out
    assert ("red_systems",) in TARGETS["assessment"]
    assert ("payload", "scheduled_event", "start_time") in TARGETS["booking"]
    assert ("scheduled_time",) in TARGETS["noshow"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=extremes())
@example(case=("assessment", {**SAMPLES["assessment"], "email_1_sent_at": "9999-12-31T23:59:59Z"}, {}))
@example(case=("assessment", {**SAMPLES["assessment"], "email_1_sent_at": "0001-01-01T00:00:00+05:00"}, {}))
@example(case=("noshow", {**SAMPLES["noshow"], "scheduled_time": "9999-12-31T23:00:00Z"}, {}))
def test_extreme_dates_and_numbers_are_refused_by_name_or_handled_never_a_crash(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[str, dict[str, Any], dict[Path_, Any]]
) -> None:
    kind, body, _ = case
    folder = tmp_path_factory.mktemp("extreme")
    funnel = build_funnel(
        Settings.from_env({"TESTING_MODE": "false", "SEND_WINDOW": "mon-fri 09:00-18:00", "SEND_BLACKOUT": "CA-ON"}),
        ledger=SqliteLedger(folder / "crm.sqlite3", SAMPLE_TEMPLATES),
        mailer=OutboxMailer(folder / "outbox"),
    )
    before = ledger_rows(folder / "crm.sqlite3")
    try:
        result = handle(funnel, kind, body, NOW)
    except InvalidInput as error:
        assert error.problems and all(problem.field for problem in error.problems), error
        assert ledger_rows(folder / "crm.sqlite3") == before, "a refused event wrote something"
        return
    for item in result.plan:  # whatever is planned is a time a send can be scheduled at
        assert item.send_at.tzinfo is UTC or item.send_at.utcoffset() == timedelta(0)
        assert NOW <= item.send_at < datetime(2101, 1, 1, tzinfo=UTC)
