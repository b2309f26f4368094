"""The resume's plan (christmas_tasks/domain/resuming.py) and the deliverability guard's rule
(christmas_tasks/domain/deliverability.py): pure, with hypothesis for the spread's promises."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from christmas_tasks.domain.deliverability import Mark, Thresholds, judge
from christmas_tasks.domain.errors import ConfigError
from christmas_tasks.domain.planning import SendWindow
from christmas_tasks.domain.resuming import DEFAULT_SEND_CAP, HeldEmail, parse_send_cap, spread

NOW = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)  # a Monday
WINDOW = SendWindow.from_settings("mon-fri 09:00-17:00", "", "America/Toronto")
ZONES = (None, "Europe/Paris", "America/Vancouver")

held_emails = st.lists(
    st.builds(
        HeldEmail,
        sequence_key=st.sampled_from(["a", "b", "c", "d"]),
        email_number=st.integers(1, 5),
        template=st.just("t"),
        due=st.integers(-3000, 0).map(lambda minutes: NOW + timedelta(minutes=minutes)),
        gap=st.sampled_from([timedelta(minutes=1), timedelta(hours=4)]),
        timezone=st.sampled_from(ZONES),
    ),
    max_size=30,
    unique_by=lambda h: (h.sequence_key, h.email_number),
).map(lambda items: [HeldEmail(h.sequence_key, h.email_number, h.template, h.due, gap_of(h.sequence_key),
                               zone_of(h.sequence_key)) for h in items])


def gap_of(key: str) -> timedelta:
    return timedelta(hours=4) if key in ("a", "c") else timedelta(minutes=1)


def zone_of(key: str) -> str | None:
    return ZONES["abcd".index(key) % 3]


@settings(max_examples=150, deadline=None)
@given(held=held_emails, cap=st.sampled_from([1, 7, 100, 3600]), windowed=st.booleans())
def test_the_spread_keeps_the_cap_the_gap_the_window_and_every_email_once(
    held: list[HeldEmail], cap: int, windowed: bool
) -> None:
    window = WINDOW if windowed else None
    planned = spread(held, NOW, cap=cap, window=window)
    assert sorted((h.sequence_key, h.email_number) for h, _ in planned) == sorted(
        (h.sequence_key, h.email_number) for h in held
    ), "every held email, once"
    times = sorted(at for _, at in planned)
    assert all(at >= NOW for at in times)
    step = timedelta(hours=1) / cap
    assert all(later - earlier >= step for earlier, later in itertools.pairwise(times)), "the cap"
    for key in "abcd":
        mine = sorted((h.due, h.email_number, at) for h, at in planned if h.sequence_key == key)
        assert all(b[2] - a[2] >= gap_of(key) for a, b in itertools.pairwise(mine)), "order and the gap"
    if window is not None:
        assert all(window.next_open(at, h.timezone) == at for h, at in planned), "inside the window"


def test_the_first_held_email_goes_at_the_resume_and_the_rest_a_step_apart() -> None:
    held = [HeldEmail(f"k{n}", 1, "t", NOW - timedelta(hours=n), timedelta(hours=4)) for n in range(3)]
    planned = spread(held, NOW, cap=60)
    assert [(h.sequence_key, at - NOW) for h, at in planned] == [
        ("k2", timedelta(0)), ("k1", timedelta(minutes=1)), ("k0", timedelta(minutes=2))
    ], "the one that fell due first goes first"


@pytest.mark.parametrize(("raw", "cap"), [("", DEFAULT_SEND_CAP), (" 60 ", 60), ("3600", 3600)])
def test_send_cap_is_a_whole_number_of_emails_an_hour(raw: str, cap: int) -> None:
    assert parse_send_cap(raw) == cap


@pytest.mark.parametrize("raw", ["0", "-1", "1.5", "lots", "3601"])
def test_a_bad_send_cap_is_named(raw: str) -> None:
    with pytest.raises(ConfigError, match="SEND_CAP must be a whole number of emails an hour, 1 to 3600"):
        parse_send_cap(raw)


def test_the_thresholds_default_to_the_guidelines_and_read_percentages() -> None:
    assert Thresholds.from_settings({}) == Thresholds(0.001, 0.003, 0.04, 200)
    read = Thresholds.from_settings({"GUARD_COMPLAINT_WARNING": "0.05%", "GUARD_COMPLAINT_CRITICAL": "0.2",
                                     "GUARD_BOUNCE_CRITICAL": "2", "GUARD_WINDOW": "500"})
    assert read == Thresholds(0.0005, 0.002, 0.02, 500)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"GUARD_COMPLAINT_CRITICAL": "0"}, "GUARD_COMPLAINT_CRITICAL must be a percentage above 0 and at most 100"),
        ({"GUARD_BOUNCE_CRITICAL": "four"}, "GUARD_BOUNCE_CRITICAL must be a percentage"),
        ({"GUARD_COMPLAINT_WARNING": "0.5"}, "GUARD_COMPLAINT_WARNING must not be above GUARD_COMPLAINT_CRITICAL"),
        ({"GUARD_WINDOW": "49"}, "GUARD_WINDOW must be a whole number of emails, at least 50"),
        ({"GUARD_WINDOW": "a lot"}, "GUARD_WINDOW must be a whole number of emails, at least 50"),
    ],
)
def test_a_bad_threshold_is_named(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Thresholds.from_settings(values)


def test_the_marks_a_complaint_at_the_warning_and_critical_rates_and_a_bounce_only_over_4_percent() -> None:
    marks = Thresholds()
    assert [marks.complaint_mark(rate) for rate in (0.0009, 0.001, 0.0029, 0.003, None)] == [
        None, Mark.WARNING, Mark.WARNING, Mark.CRITICAL, None
    ]
    assert [marks.bounce_mark(rate) for rate in (0.04, 0.0401)] == [None, Mark.CRITICAL]
    assert marks.why("complained", Mark.WARNING) == "warning: at or over 0.1%"
    assert marks.why("bounced", Mark.CRITICAL) == "critical: over 4.0%"


def test_the_verdict_counts_each_complaining_or_bouncing_address_once_over_the_last_window() -> None:
    sends = [(NOW + timedelta(minutes=n), f"lead{n % 60}@example.com") for n in range(120)]  # two each
    statuses = {"lead0@example.com": "complained", "lead1@example.com": "bounced", "lead59@example.com": "complained"}
    found = judge(Thresholds(window=60), sends, statuses)
    assert (found.sent, found.complaints, found.bounces, found.judged) == (60, 2, 1, True)
    assert found.critical == (
        "complaint rate 3.33% (2 of the last 60 emails) is at or over 0.3%"
    ), "one bounce in 60 (1.7%) is under 4%"
    assert judge(Thresholds(), sends[:49], statuses).critical is None, "fewer than 50 emails: no rate to judge"
