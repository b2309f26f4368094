"""Text that cannot spoof, and errors that name what the sender sent (issue 26): bidirectional and control characters
are refused in what reaches an email (a name, a business) and removed from a reply's subject (forwarded, never
lost); each error names the field by its path in the sender's body."""

from __future__ import annotations

import json
from typing import Any

import pytest

from christmas_tasks.domain.errors import InvalidInput
from christmas_tasks.domain.fields import NOTE_MAX
from christmas_tasks.entrypoints.inbound import read_event
from tests.conftest import EXAMPLES, NOW


def sample(name: str, **changes: Any) -> dict[str, Any]:
    return {**json.loads((EXAMPLES / name).read_text()), **changes}


def problems(kind: str, body: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        read_event(kind, body, NOW)
    return {problem.field: problem.message for problem in caught.value.problems}


@pytest.mark.parametrize(
    ("text", "code"),
    [("Jane\u202egpj.exe", "U+202E"), ("Ja\u0000ne", "U+0000"), ("Jane\u2066x", "U+2066"), ("Jane\u200f", "U+200F"),
     ("Jane\nDoe", "U+000A"), ("Jane\x85", "U+0085")],
)
def test_bidirectional_and_control_characters_in_a_name_are_refused_by_name(text: str, code: str) -> None:
    found = problems("signup", sample("signup.json", first_name=text, business_name=text))
    assert set(found) == {"first_name", "business_name"}, found
    assert code in found["first_name"]


def test_a_calendly_name_is_named_by_its_path() -> None:
    body = sample("booking-calendly.json")
    body["payload"]["first_name"] = "\u202eJane"
    assert list(problems("booking", body)) == ["payload.first_name"]


def test_a_note_keeps_its_lines_but_not_an_override() -> None:
    event = read_event("postcall", sample("postcall.json", call_notes="line one\nline two\ttabbed"), NOW)
    assert event.call_notes == "line one\nline two\ttabbed"  # type: ignore[attr-defined]
    assert list(problems("postcall", sample("postcall.json", call_notes="fine \u202e evil"))) == ["call_notes"]


def test_a_replys_subject_loses_its_controls_and_is_never_refused() -> None:
    event = read_event("reply", sample("reply.json", subject="Re: \u202egpj.exe\u0000 offer\r\n"), NOW)
    assert event.subject == "Re: gpj.exe offer"  # type: ignore[attr-defined]


def test_resends_long_bounce_message_is_named_where_resend_put_it() -> None:
    body = sample("email-bounced.json")
    body["data"]["bounce"]["message"] = "x" * (NOTE_MAX + 1)
    assert list(problems("email-status", body)) == ["data.bounce.message"]


def test_counts_that_add_up_past_eight_name_the_counts() -> None:
    found = problems("assessment", sample("assessment.json", red_systems=3, orange_systems=3, yellow_systems=3,
                                          green_systems=0))
    assert list(found) == ["red_systems + orange_systems + yellow_systems + green_systems"], found
    assert "add up to 9" in next(iter(found.values()))
