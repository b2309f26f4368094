"""Dates a funnel can use (issue 26): an email's send time (a sequence's anchor) no later than a few minutes past the
clock and no older than the sequence allows, a call at most a year ahead; each refused by the field's name (its path
in the sender's body), nothing written, so the corrected re-post is handled as a first one."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from christmas_tasks.domain.errors import InvalidInput
from christmas_tasks.domain.fields import CLOCK_SKEW, FARTHEST_CALL, OLDEST_ANCHOR
from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.inbound import read_event
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings
from christmas_tasks.usecases.outcomes import Action
from tests.conftest import EXAMPLES, NOW
from tests.fakes.memory import InMemoryLedger, InMemoryMailer, handle


def sample(name: str, **changes: Any) -> dict[str, Any]:
    return {**json.loads((EXAMPLES / name).read_text()), **changes}


def iso(delta: timedelta) -> str:
    return (NOW + delta).isoformat().replace("+00:00", "Z")


def refused(kind: str, body: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        read_event(kind, body, NOW)
    return {problem.field: problem.message for problem in caught.value.problems}


@pytest.mark.parametrize(
    ("sent", "why"),
    [
        (timedelta(days=365 * 4), "days ahead of the clock"),  # 2030: the issue's
        (CLOCK_SKEW + timedelta(seconds=1), "hours ahead of the clock"),
        (-OLDEST_ANCHOR - timedelta(hours=1), "days ago"),
    ],
)
def test_an_email_1_sent_at_the_funnel_cannot_use_is_refused_by_name(sent: timedelta, why: str) -> None:
    problems = refused("assessment", sample("assessment.json", email_1_sent_at=iso(sent)))
    assert list(problems) == ["email_1_sent_at"] and why in problems["email_1_sent_at"], problems


@pytest.mark.parametrize("sent", [CLOCK_SKEW, timedelta(0), -OLDEST_ANCHOR + timedelta(minutes=1)])
def test_a_little_clock_skew_and_a_late_event_within_the_limit_are_taken(sent: timedelta) -> None:
    event = read_event("assessment", sample("assessment.json", email_1_sent_at=iso(sent)), NOW)
    assert event.email_1_sent_at == NOW + sent  # type: ignore[attr-defined]


def test_a_call_more_than_a_year_ahead_is_refused_by_its_path_in_calendlys_body() -> None:
    body = sample("booking-calendly.json")
    body["payload"]["scheduled_event"]["start_time"] = iso(FARTHEST_CALL + timedelta(days=1))
    problems = refused("booking", body)
    assert list(problems) == ["payload.scheduled_event.start_time"], problems
    no_show = sample("noshow.json", scheduled_time=iso(timedelta(days=-200)))
    assert read_event("noshow", no_show, NOW).scheduled_time == NOW - timedelta(days=200)  # type: ignore[attr-defined]


def test_the_corrected_re_post_of_a_refused_event_is_handled_as_a_first_one() -> None:
    ledger = InMemoryLedger(SAMPLE_TEMPLATES)
    funnel = build_funnel(Settings.from_env({"TESTING_MODE": "true"}), ledger=ledger, mailer=InMemoryMailer())
    with pytest.raises(InvalidInput):
        handle(funnel, "assessment", sample("assessment.json", email_1_sent_at="2030-01-01T09:00:00Z"), NOW)
    assert ledger.contacts.all_contacts() == [] and ledger.sequences.records == {}
    corrected = handle(funnel, "assessment", sample("assessment.json", email_1_sent_at=iso(-timedelta(hours=1))), NOW)
    assert corrected.action is Action.SEQUENCE_STARTED and len(corrected.plan) == 4
