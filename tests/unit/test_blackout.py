"""Blackout days (SPEC §3, SEND_BLACKOUT): closed all day in the contact's zone, composed with the send window's
days and hours in one rule (christmas_tasks/domain/planning.py, SendWindow), the setting read and checked, and the
`plan` command showing what moved and why. Exact clocks, no real time."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from christmas_tasks.domain.catalogue import load_catalogue
from christmas_tasks.domain.errors import ConfigError
from christmas_tasks.domain.planning import DEFAULT_BLACKOUT, END_OF_DAY, Blackout, SendWindow, plan
from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.cli import main
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings
from tests.conftest import EXAMPLES
from tests.fakes.memory import InMemoryLedger, InMemoryMailer, handle

CATALOGUE = load_catalogue()
TORONTO = "America/Toronto"
H = timedelta(hours=1)
M = timedelta(minutes=1)
DEFAULT = Blackout.parse("")
ANY_TIME = SendWindow.from_settings("", "", TORONTO)  # the default blackout days alone
WEEKDAYS = SendWindow.from_settings("mon-fri 09:00-17:00", "", TORONTO)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def toronto(text: str) -> datetime:
    """A Toronto wall time (fold 0), in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(TORONTO)).astimezone(UTC)


# --------------------------------------------------------------------------------------------- the setting


def test_the_default_closes_christmas_eve_christmas_boxing_day_and_new_years_day_every_year() -> None:
    assert DEFAULT == Blackout.parse(DEFAULT_BLACKOUT) == Blackout.parse("  ")
    for year in (2025, 2026, 2030):
        assert [DEFAULT.closed(date(year, 12, d)) is not None for d in (23, 24, 25, 26, 27)] == [
            False, True, True, True, False
        ]
        assert DEFAULT.closed(date(year, 1, 1)) == "01-01, every year"
        assert DEFAULT.closed(date(year, 1, 2)) is None


def test_the_format_month_days_dates_and_one_country_with_commas_or_spaces() -> None:
    blackout = Blackout.parse("12-24, 12-31 2025-12-29,ca-on")
    assert blackout.yearly == {(12, 24), (12, 31)}
    assert blackout.dates == {date(2025, 12, 29)}
    assert (blackout.country, blackout.subdivision) == ("CA", "ON")
    assert blackout.closed(date(2025, 12, 29)) == "this date only"
    assert blackout.closed(date(2026, 12, 29)) is None  # one date, not every year
    assert blackout.closed(date(2026, 12, 31)) == "12-31, every year"
    # 02-29 is a day: closed in leap years, and no error in the others
    assert Blackout.parse("02-29").closed(date(2028, 2, 29)) is not None


def test_none_turns_every_blackout_day_off_and_an_empty_setting_is_the_default() -> None:
    assert not Blackout.parse("none") and not Blackout.parse(" NONE ")
    assert Settings.from_env({"SEND_BLACKOUT": "none"}).send_window is None
    # Kestra's step passes an unset setting as absent (null) or empty: both are the default
    for env in ({}, {"SEND_BLACKOUT": ""}):
        window = Settings.from_env(env).send_window
        assert window is not None and window.blackout == DEFAULT and window.days == frozenset(range(7))
    window = Settings.from_env({"SEND_WINDOW": "mon-fri 09:00-17:00", "SEND_BLACKOUT": "12-31"}).send_window
    assert window is not None and window.blackout == Blackout.parse("12-31") and window.days == set(range(5))


@pytest.mark.parametrize(
    ("spec", "part"),
    [
        ("12-24,12-32", "12-32"),
        ("2025-02-30", "2025-02-30"),
        ("13-01", "13-01"),
        ("12-25 XX", "XX"),
        ("CA-ZZ", "CA-ZZ"),
        ("12-25 CA US", "US"),
        ("none,12-25", "none"),
        ("Dec-25", "Dec-25"),
        ("1-1", "1-1"),
        ("2025/12/29", "2025/12/29"),
    ],
)
def test_every_bad_part_fails_at_once_naming_the_setting_and_the_part(spec: str, part: str) -> None:
    for read in (Blackout.parse, lambda s: Settings.from_env({"SEND_BLACKOUT": s})):
        with pytest.raises(ConfigError, match=rf"^SEND_BLACKOUT: '{re.escape(part)}'"):
            read(spec)


def test_an_unknown_subdivision_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"CA has no subdivision 'ZZ' \(it has AB, BC, .*ON.*\)"):
        Blackout.parse("CA-ZZ")


def test_a_countrys_public_holidays_are_closed_too() -> None:
    canada = Blackout.parse("12-24,12-25,12-26,01-01 CA")
    closed = canada.closed(date(2025, 7, 1))
    assert closed is not None and "Canada Day" in closed and closed.endswith("a public holiday in CA")
    assert canada.closed(date(2025, 7, 2)) is None
    assert DEFAULT.closed(date(2025, 7, 1)) is None  # no country, no holiday
    # a subdivision adds its own: Quebec's Fête nationale (June 24) is no holiday in Canada as a whole
    assert canada.closed(date(2025, 6, 24)) is None
    quebec = Blackout.parse("CA-QC").closed(date(2025, 6, 24))
    assert quebec is not None and quebec.endswith("a public holiday in CA-QC")


def test_a_country_plans_around_canada_day() -> None:
    window = SendWindow.from_settings("", "CA", TORONTO)
    due = toronto("2025-07-01T10:00")
    assert window is not None and window.next_open(due) == toronto("2025-07-02T00:00")


# --------------------------------------------------------------------------------------------- the rule


def test_a_due_time_on_a_blackout_day_moves_to_the_next_open_day_and_later_emails_keep_their_spacing() -> None:
    # The no-show arrives on Christmas Eve, 10:00 in Toronto: with no window the next open time is the start of
    # December 27 there; email 2 (24 h after email 1) and 3 keep their spacing after it.
    arrival = toronto("2025-12-24T10:00")
    planned = plan(CATALOGUE.get("noshow"), arrival, arrival, testing=False, window=ANY_TIME)
    opens = toronto("2025-12-27T00:00")
    assert [p.send_at for p in planned] == [opens, opens + 24 * H - 5 * M, opens + 48 * H - 5 * M]
    first = planned[0]
    assert first.moved_from == arrival + 5 * M
    assert first.why == (
        "2025-12-24 is a blackout day (12-24, every year)",
        "2025-12-25 is a blackout day (12-25, every year)",
        "2025-12-26 is a blackout day (12-26, every year)",
    )
    assert planned[1].why == ("keeps its spacing after an earlier email moved",)


def test_a_blackout_day_then_a_weekend_with_a_weekday_window() -> None:
    # Christmas Eve 2025 is a Wednesday: 24, 25, 26 closed, then Saturday and Sunday outside mon-fri,
    # so Monday 29 at 09:00 in Toronto.
    assert WEEKDAYS is not None
    monday = toronto("2025-12-29T09:00")
    opened, why = WEEKDAYS.move(toronto("2025-12-24T10:00"))
    assert opened == monday
    assert why[-1] == "outside the send window mon-fri 09:00-17:00 (America/Toronto)"
    assert len(why) == 4  # three blackout days, and the window once


def test_a_time_moved_by_the_window_lands_on_no_blackout_day() -> None:
    # After hours on the 23rd: the window would open on the 24th at 09:00, a blackout day.
    assert WEEKDAYS is not None
    assert WEEKDAYS.next_open(toronto("2025-12-23T18:30")) == toronto("2025-12-29T09:00")
    # New Year's Eve after hours: January 1 is closed, Friday the 2nd opens at 09:00.
    assert WEEKDAYS.next_open(toronto("2025-12-31T17:00")) == toronto("2026-01-02T09:00")
    # An open time stays where it is.
    assert WEEKDAYS.next_open(toronto("2025-12-23T16:59")) == toronto("2025-12-23T16:59")


def test_the_blackout_day_is_the_contacts_day() -> None:
    window = SendWindow.from_settings("", "12-25", TORONTO)
    assert window is not None
    at = utc("2025-12-25T02:00:00+00:00")  # 21:00 on the 24th in Toronto, 03:00 on the 25th in Paris
    assert window.next_open(at) == at
    assert window.next_open(at, "Europe/Paris") == utc("2025-12-25T23:00:00+00:00")  # the 26th at 00:00 in Paris
    assert window.next_open(utc("2025-12-25T05:00:00+00:00")) == toronto("2025-12-26T00:00")


def test_daylight_saving_days_in_toronto() -> None:
    # 2025-11-02 has 25 hours in Toronto (EDT -> EST), 2025-03-09 has 23 (EST -> EDT).
    fall = SendWindow.from_settings("", "2025-11-02", TORONTO)
    spring = SendWindow.from_settings("", "2025-03-09", TORONTO)
    assert fall is not None and spring is not None
    assert fall.next_open(utc("2025-11-02T03:59:00+00:00")) == utc("2025-11-02T03:59:00+00:00")  # 23:59 EDT, the 1st
    for inside in ("2025-11-02T04:00:00+00:00", "2025-11-02T05:30:00+00:00", "2025-11-02T06:30:00+00:00",
                   "2025-11-03T04:59:00+00:00"):  # 00:00 EDT, 01:30 EDT, 01:30 EST (the hour twice), 23:59 EST
        assert fall.next_open(utc(inside)) == utc("2025-11-03T05:00:00+00:00"), inside  # the 3rd, 00:00 EST
    assert spring.next_open(utc("2025-03-09T05:00:00+00:00")) == utc("2025-03-10T04:00:00+00:00")  # 00:00 EDT
    assert spring.next_open(utc("2025-03-10T03:59:00+00:00")) == utc("2025-03-10T04:00:00+00:00")  # 23:59 EDT

    # With a weekday window: a weekend crossing the change, then a blackout Monday, opens on Tuesday at 09:00.
    fall_monday = SendWindow.from_settings("mon-fri 09:00-17:00", "2025-11-03", TORONTO)
    spring_monday = SendWindow.from_settings("mon-fri 09:00-17:00", "2025-03-10", TORONTO)
    assert fall_monday is not None and spring_monday is not None
    assert fall_monday.next_open(toronto("2025-10-31T18:00")) == utc("2025-11-04T14:00:00+00:00")  # 09:00 EST
    assert spring_monday.next_open(toronto("2025-03-07T18:00")) == utc("2025-03-11T13:00:00+00:00")  # 09:00 EDT


def test_testing_mode_ignores_blackout_days() -> None:
    christmas = toronto("2025-12-25T10:00")
    for window in (ANY_TIME, WEEKDAYS):
        planned = plan(CATALOGUE.get("noshow"), christmas, christmas, testing=True, window=window)
        assert [p.send_at for p in planned] == [christmas + M, christmas + 2 * M, christmas + 3 * M]
        assert all(p.moved_from is None for p in planned)


def test_a_rule_that_never_opens_fails_naming_both_settings() -> None:
    window = SendWindow.parse("sat 09:00-10:00", TORONTO, Blackout.parse(",".join(
        f"{d:%Y-%m-%d}" for d in (date(2025, 12, 6) + timedelta(weeks=w) for w in range(60))
    )))
    with pytest.raises(ConfigError, match="SEND_WINDOW and SEND_BLACKOUT leave no open time"):
        window.next_open(toronto("2025-12-01T10:00"))


ZONES = ("America/Toronto", "America/Vancouver", "America/St_Johns", "Europe/Paris", "Asia/Kolkata", "Pacific/Auckland")
WINDOWS = ("", "mon-fri 09:00-17:00", "tue,thu 10:30-11:00", "sat-sun 00:00-24:00")
BLACKOUTS = ("", "12-24,12-25,12-26,01-01 CA", "12-20,12-21,12-22,12-23 2025-12-27 2026-01-02", "none")


@settings(max_examples=300, deadline=None)
@given(
    sequence=st.sampled_from(sorted(CATALOGUE.sequences)),
    start=st.integers(0, 60 * 24 * 30),  # minutes after 2025-12-10 00:00 UTC: across the holidays
    late=st.integers(0, 60 * 24 * 10),
    window_spec=st.sampled_from(WINDOWS),
    blackout_spec=st.sampled_from(BLACKOUTS),
    contact=st.sampled_from((None, *ZONES)),
)
def test_no_planned_time_is_closed_and_the_spacing_is_kept(
    sequence: str, start: int, late: int, window_spec: str, blackout_spec: str, contact: str | None
) -> None:
    anchor = datetime(2025, 12, 10, tzinfo=UTC) + timedelta(minutes=start)
    now = anchor + timedelta(minutes=late)
    definition = CATALOGUE.get(sequence)
    window = SendWindow.from_settings(window_spec, blackout_spec, TORONTO)
    planned = plan(definition, anchor, now, testing=False, window=window, contact_timezone=contact)
    free = plan(definition, anchor, now, testing=False)
    assert [p.email_number for p in planned] == [p.email_number for p in free]
    tz = ZoneInfo(contact or TORONTO)
    for item, unmoved in zip(planned, free, strict=True):
        assert item.send_at >= unmoved.send_at
        assert item.moved_from == (unmoved.send_at if item.send_at != unmoved.send_at else None)
        if window is not None:
            local = item.send_at.astimezone(tz)
            assert window.blackout.closed(local.date()) is None, (item, local)
            assert local.weekday() in window.days and window.start <= local.time()
            assert local.time() < window.end or window.end == END_OF_DAY
    # later emails keep their spacing: a move pushes every later email, never pulls one closer
    for (a, b), (a0, b0) in zip(pairwise(planned), pairwise(free), strict=True):
        assert b.send_at - a.send_at >= b0.send_at - a0.send_at
        if b.why == ():  # b did not move: a did not either
            assert a.send_at == a0.send_at


# --------------------------------------------------------------------------------------------- the handler


def test_the_funnel_plans_around_christmas_in_production_and_not_in_testing_mode() -> None:
    """The handler gets the rule from the settings (build_funnel), as the flows run it."""
    body = json.loads((EXAMPLES / "noshow.json").read_text())
    christmas = toronto("2025-12-25T10:00")
    for testing, first in (("false", toronto("2025-12-27T00:00")), ("true", christmas + M)):
        funnel = build_funnel(
            Settings.from_env({"TESTING_MODE": testing}), ledger=InMemoryLedger(SAMPLE_TEMPLATES),
            mailer=InMemoryMailer(),
        )
        assert handle(funnel, "noshow", body, christmas).plan[0].send_at == first


# --------------------------------------------------------------------------------------------- the plan command


def test_plan_shows_which_emails_moved_and_why(
    capsys: pytest.CaptureFixture[str], local_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["plan", "noshow", "--from", "2025-12-24T15:00:00Z", "--now", "2025-12-24T15:00:00Z"]
    assert main(args) == 0
    planned = json.loads(capsys.readouterr().out)
    assert planned[0] == {
        "email_number": 1,
        "template": "noshow_recovery_email_1",
        "send_at": "2025-12-27T05:00:00Z",
        "moved_from": "2025-12-24T15:05:00Z",
        "why": "2025-12-24 is a blackout day (12-24, every year); 2025-12-25 is a blackout day (12-25, every year); "
        "2025-12-26 is a blackout day (12-26, every year)",
    }
    assert planned[2]["why"] == "keeps its spacing after an earlier email moved"
    # the contact's zone: Paris opens six hours earlier
    assert main([*args, "--timezone", "Europe/Paris"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["send_at"] == "2025-12-26T23:00:00Z"
    # with the window: Monday 29 at 09:00 in Toronto
    monkeypatch.setenv("SEND_WINDOW", "mon-fri 09:00-17:00")
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)[0]["send_at"] == "2025-12-29T14:00:00Z"
    # off, and in testing mode: nothing moves, and the output is as before
    monkeypatch.setenv("SEND_BLACKOUT", "none")
    monkeypatch.delenv("SEND_WINDOW")
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)[0] == {
        "email_number": 1, "template": "noshow_recovery_email_1", "send_at": "2025-12-24T15:05:00Z"
    }
    monkeypatch.setenv("SEND_BLACKOUT", "")
    assert main([*args, "--testing"]) == 0
    assert "moved_from" not in capsys.readouterr().out


def test_plan_names_a_bad_blackout_setting(
    capsys: pytest.CaptureFixture[str], local_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEND_BLACKOUT", "12-24,12-32")
    assert main(["plan", "noshow", "--from", "2025-12-24T15:00:00Z"]) == 2
    assert capsys.readouterr().err == "error: SEND_BLACKOUT: '12-32' is not a date (day is out of range for month)\n"


def test_plan_and_help_do_not_import_the_holidays_library_unless_a_country_is_set() -> None:
    """It takes a few hundred milliseconds: `plan` (and `--help`) stay within their cold-start budget."""
    code = (
        "import os, sys; from christmas_tasks.entrypoints.cli import main\n"
        "main(['plan', 'noshow', '--from', '2025-07-01T14:00:00Z', '--now', '2025-07-01T14:00:00Z'])\n"
        "print('holidays' in sys.modules, file=sys.stderr)"
    )
    for blackout, imported in (("", "False"), ("none", "False"), ("12-24 2025-07-01", "False"), ("CA", "True")):
        env = {"PATH": "/usr/bin:/bin", "SEND_BLACKOUT": blackout}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
        assert done.stderr.strip() == imported, blackout
