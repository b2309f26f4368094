from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from christmas_tasks.domain.catalogue import Catalogue, load_catalogue, parse_duration
from christmas_tasks.domain.errors import ConfigError, InvalidInput
from christmas_tasks.domain.planning import SendWindow, plan

CATALOGUE = load_catalogue()
T0 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)
M = timedelta(minutes=1)


def times(sequence: str, anchor: datetime, now: datetime, **kw: object) -> list[tuple[int, datetime]]:
    return [(p.email_number, p.send_at) for p in plan(CATALOGUE.get(sequence), anchor, now, **kw)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sequence", "numbers", "production", "testing"),
    [
        ("5day", [2, 3, 4, 5], [24 * H, 72 * H, 96 * H, 120 * H], [M, 2 * M, 3 * M, 4 * M]),
        ("noshow", [1, 2, 3], [5 * M, 24 * H, 48 * H], [M, 2 * M, 3 * M]),
        ("postcall", [1, 2, 3], [H, 72 * H, 168 * H], [M, 2 * M, 3 * M]),
        ("onboarding", [1, 2, 3], [H, 24 * H, 72 * H], [M, 2 * M, 3 * M]),
    ],
)
def test_catalogue_delays(
    sequence: str, numbers: list[int], production: list[timedelta], testing: list[timedelta]
) -> None:
    assert times(sequence, T0, T0, testing=False) == [(n, T0 + d) for n, d in zip(numbers, production, strict=True)]
    assert times(sequence, T0, T0, testing=True) == [(n, T0 + d) for n, d in zip(numbers, testing, strict=True)]


def test_templates_follow_the_spec_names() -> None:
    names = CATALOGUE.template_names()
    assert names[:4] == ["5-Day E2", "5-Day E3", "5-Day E4", "5-Day E5"]
    assert "noshow_recovery_email_3" in names and "postcall_maybe_email_1" in names
    assert "onboarding_phase1_email_2" in names


def test_late_event_is_caught_up_one_by_one_never_in_a_burst() -> None:
    # The assessment arrives 73 h late: E2 and E3 are past due. E2 goes now, E3 one gap (12 h)
    # later; E4 (due at 96 h) is pushed to one gap after E3; E5 keeps its own time.
    now = T0 + 73 * H
    gap = CATALOGUE.get("5day").catch_up_gap
    assert gap == 12 * H
    planned = times("5day", T0, now, testing=False)
    assert planned == [(2, now), (3, now + gap), (4, now + 2 * gap), (5, T0 + 120 * H)]


def test_catch_up_pushes_later_emails_only_when_it_reaches_them() -> None:
    now = T0 + 119 * H  # everything but E5 past due; E5 due in an hour but the catch-up needs 3 gaps
    planned = times("5day", T0, now, testing=False)
    gap = CATALOGUE.get("5day").catch_up_gap
    assert [t for _, t in planned] == [now, now + gap, now + 2 * gap, now + 3 * gap]


def test_catch_up_in_testing_mode_uses_the_testing_gap() -> None:
    now = T0 + 10 * M
    assert [t for _, t in times("noshow", T0, now, testing=True)] == [now, now + M, now + 2 * M]


def test_already_sent_emails_are_never_planned() -> None:
    planned = times("5day", T0, T0 + 200 * H, testing=False, already_sent=[2, 3, 4])
    assert planned == [(5, T0 + 200 * H)]
    assert times("5day", T0, T0, testing=False, already_sent=[2, 3, 4, 5]) == []


def test_naive_times_are_refused() -> None:
    with pytest.raises(InvalidInput):
        plan(CATALOGUE.get("5day"), datetime(2025, 12, 1, 9), T0, testing=False)
    with pytest.raises(InvalidInput):
        plan(CATALOGUE.get("5day"), T0, datetime(2025, 12, 1, 9), testing=False)


def test_send_times_are_utc() -> None:
    anchor = datetime(2025, 12, 1, 4, 0, tzinfo=UTC).astimezone()
    assert all(p.send_at.tzinfo is UTC for p in plan(CATALOGUE.get("noshow"), anchor, anchor, testing=False))


WINDOW = SendWindow.parse("mon-fri 09:00-17:00", "America/Toronto")


def test_window_moves_a_closed_time_to_the_next_open_slot_and_keeps_spacing() -> None:
    # Friday 16:00 Toronto (21:00 UTC): E1 at 16:05 is open; E2 (Saturday) moves to Monday 09:00;
    # E3 keeps its 24 h spacing after E2.
    friday = datetime(2025, 12, 5, 21, 0, tzinfo=UTC)
    planned = times("noshow", friday, friday, testing=False, window=WINDOW)
    monday_9_toronto = datetime(2025, 12, 8, 14, 0, tzinfo=UTC)
    assert planned == [(1, friday + 5 * M), (2, monday_9_toronto), (3, monday_9_toronto + 24 * H)]


def test_window_uses_the_contacts_time_zone_when_known() -> None:
    # 09:30 UTC is 10:30 in Paris (open) but 04:30 in Toronto (closed).
    at = datetime(2025, 12, 2, 9, 25, tzinfo=UTC)
    paris = times("noshow", at, at, testing=False, window=WINDOW, contact_timezone="Europe/Paris")
    toronto = times("noshow", at, at, testing=False, window=WINDOW)
    assert paris[0][1] == at + 5 * M
    assert toronto[0][1] == datetime(2025, 12, 2, 14, 0, tzinfo=UTC)


def test_window_handles_daylight_saving_changes() -> None:
    window = SendWindow.parse("sun 09:00-10:00", "America/Toronto")
    # Saturday 2025-11-01 evening; the clocks go back on Sunday 2025-11-02 (EDT -> EST).
    at = datetime(2025, 11, 1, 23, 0, tzinfo=UTC)
    assert window.next_open(at) == datetime(2025, 11, 2, 14, 0, tzinfo=UTC)


def test_testing_mode_ignores_the_window() -> None:
    saturday = datetime(2025, 12, 6, 12, 0, tzinfo=UTC)
    assert times("noshow", saturday, saturday, testing=True, window=WINDOW)[0][1] == saturday + M


@pytest.mark.parametrize("spec", ["weekdays 9-5", "mon-fri 18:00-09:00", "xyz-fri 09:00-10:00", "mon-fri 25:00-26:00"])
def test_bad_window_is_named(spec: str) -> None:
    with pytest.raises(ConfigError, match="SEND_WINDOW"):
        SendWindow.parse(spec, "America/Toronto")


def test_window_with_unknown_time_zone() -> None:
    with pytest.raises(InvalidInput):
        SendWindow.parse("mon-fri 09:00-17:00", "Mars/Olympus")


def test_window_wrapping_day_range() -> None:
    assert SendWindow.parse("fri-mon 09:00-17:00", "UTC").days == frozenset({4, 5, 6, 0})


@given(
    sequence=st.sampled_from(["5day", "noshow", "postcall", "onboarding"]),
    late=st.integers(0, 60 * 24 * 30),
    testing=st.booleans(),
    windowed=st.booleans(),
)
def test_plan_properties(sequence: str, late: int, testing: bool, windowed: bool) -> None:
    """Never before now, in order, and never two emails closer than the catch-up gap."""
    now = T0 + timedelta(minutes=late)
    definition = CATALOGUE.get(sequence)
    planned = plan(definition, T0, now, testing=testing, window=WINDOW if windowed else None)
    gap = definition.testing_catch_up_gap if testing else definition.catch_up_gap
    assert [p.email_number for p in planned] == [e.number for e in definition.emails]
    assert all(p.send_at >= now for p in planned)
    assert all(b.send_at - a.send_at >= min(gap, M) for a, b in pairwise(planned))


def test_durations() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("2d") == timedelta(days=2)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("1.5h")
    assert parse_duration("366d") == timedelta(days=366)
    # past a year is a typo; past timedelta's range (999999999 days) it was an OverflowError at load
    for text in ("367d", "9000h", "99999999999999d"):
        with pytest.raises(ValueError, match="longer than 366 days"):
            parse_duration(text)


@pytest.mark.parametrize(
    ("anchor", "field"),
    [
        (datetime(9999, 12, 31, 23, 0, tzinfo=UTC), "email_1_sent_at"),
        (datetime(1, 1, 1, 5, 0, tzinfo=UTC), "email_1_sent_at"),
        (datetime(1999, 12, 31, 23, 59, tzinfo=UTC), "email_1_sent_at"),
        (datetime(2100, 1, 1, tzinfo=UTC), "email_1_sent_at"),
    ],
)
def test_an_anchor_the_planner_cannot_place_is_refused_by_name(anchor: datetime, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        plan(CATALOGUE.get("5day"), anchor, T0, testing=False, window=SendWindow.parse("mon-fri 09:00-18:00", "UTC"))
    assert [problem.field for problem in refused.value.problems] == [field]
    assert f"in the year {anchor.year}" in str(refused.value)


def test_catalogue_file_errors_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_catalogue(tmp_path / "missing.json")
    bad = json.loads(
        json.dumps({k: v for k, v in json.loads(Path("christmas_tasks/catalogue.json").read_text()).items()})
    )
    bad["noshow"]["emails"][1]["delay"] = "soon"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ConfigError, match="malformed"):
        load_catalogue(path)


def test_fast_catalogue_for_tests_loads() -> None:
    fast = load_catalogue(Path("examples/fast-catalogue.json"))
    assert fast.get("5day").emails[0].delay == timedelta(seconds=2)


def test_fast_catalogue_has_the_catalogues_sequences_and_emails() -> None:
    """The tests' delay table stands for the catalogue: the same sequences, email numbers and templates, only the
    delays differ; a sequence added to one and not the other is named."""

    def emails(catalogue: Catalogue) -> dict[str, list[tuple[int, str]]]:
        return {name: [(e.number, e.template) for e in catalogue.get(name).emails] for name in catalogue.sequences}

    assert emails(load_catalogue(Path("examples/fast-catalogue.json"))) == emails(CATALOGUE)


def test_unknown_sequence_and_email_number_are_named() -> None:
    with pytest.raises(InvalidInput, match="unknown sequence"):
        CATALOGUE.get("weekly")
    with pytest.raises(InvalidInput, match="has emails 2, 3, 4, 5, not 1"):
        CATALOGUE.get("5day").email(1)
