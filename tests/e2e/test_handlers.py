"""Every handler end to end through Kestra's HTTP API: post the webhook as its sender would, then check
the execution and what the funnel recorded: the SQLite ledger and the outbox on the local target, the
Notion records on the live one (cleaned up after each test).

The first email of each sequence is awaited for up to E2E_SEND_TIMEOUT seconds (0: not awaited); on the
suite's own engine (the fast catalogue) it is due 2 s after its event. Following every sequence to its last
email is the engine suite's work (kestra/engine).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from christmas_tasks.adapters.kestra_api import KestraError
from tests.e2e.harness import NAMESPACE, handle_outputs, sample, step_result
from tests.e2e.kestra import state_of
from tests.e2e.stack import Stack, wait_until
from tests.engine.process import FLOWS

pytestmark = pytest.mark.e2e

# flow -> (sample body, the email numbers it plans, the contact's campaign status, the sequence type)
SEQUENCES = {
    "assessment": ("assessment.json", [2, 3, 4, 5], "Nurture Sequence", "5day"),
    "noshow": ("noshow.json", [1, 2, 3], "No-Show Recovery", "noshow"),
    "postcall": ("postcall.json", [1, 2, 3], "Post-Call Follow-Up", "postcall"),
    "onboarding": ("onboarding.json", [1, 2, 3], "Onboarding", "onboarding"),
    "cancellation": ("cancellation-calendly.json", [1, 2], "Rebook Follow-Up", "rebook"),  # Calendly's own body
}


def send_result(execution: dict[str, Any]) -> dict[str, Any]:
    """The `send` step's outputs (status sent/skipped, ...) of a send-email execution."""
    return step_result(execution, "send")


def planned_numbers(outputs: dict[str, Any]) -> list[int]:
    """The email numbers of the plan handle-event handed to schedule-plan."""
    return sorted(int(item["email_number"]) for item in outputs["result"].get("plan", []))


def assert_success(e2e: Stack, execution: dict[str, Any]) -> None:
    assert state_of(execution) == "SUCCESS", e2e.kestra.logs(str(execution["id"]))


def test_every_christmas_flow_is_deployed(e2e: Stack) -> None:
    missing = [p.stem for p in sorted(FLOWS.glob("*.yml")) if e2e.client.get_flow_source(NAMESPACE, p.stem) is None]
    assert missing == [], f"flows not on {e2e.base_url}: {missing}"


@pytest.mark.parametrize("flow", sorted(SEQUENCES))
def test_a_sequence_handler_end_to_end(e2e: Stack, flow: str) -> None:
    body_file, numbers, status, sequence_type = SEQUENCES[flow]
    email = e2e.new_address(flow)
    execution = e2e.handle(flow, sample(body_file, email))
    assert_success(e2e, execution)
    outputs = handle_outputs(execution)
    key = outputs["result"]["sequence_key"]
    assert planned_numbers(outputs) == numbers

    contact = e2e.contact(email)
    assert contact is not None and contact.campaign_status == status
    record = e2e.sequence(email, key)
    assert record.sequence == sequence_type and record.stopped_reason is None
    if flow == "assessment":
        assert contact.segment == "CRITICAL" and record.segment == "CRITICAL"  # the sample has 2 red systems
        assert record.emails[1].sent_by == "website", "email 1 is the website's"

    # one scheduled send-email execution per planned email, created by the handler
    sends = wait_until(
        f"{len(numbers)} send-email executions of {key}",
        lambda: found if len(found := e2e.kestra.sends_for(key)) >= len(numbers) else None, timeout=60,
    )
    assert sorted(int(s["inputs"]["email_number"]) for s in sends) == numbers

    if e2e.config.send_timeout > 0:  # the first email, at its testing-mode time
        first = numbers[0]
        (send,) = [s for s in sends if int(s["inputs"]["email_number"]) == first]
        ended = e2e.kestra.wait(str(send["id"]), timeout=e2e.config.send_timeout)
        assert_success(e2e, ended)
        assert send_result(ended).get("status") == "sent"
        entry = e2e.sequence(email, key).emails[first]
        assert entry.sent_at is not None and entry.sent_by == "kestra" and entry.resend_id
        if not e2e.config.live:
            assert first in [int(m["tags"]["email_number"]) for m in e2e.outbox(email)]


@pytest.mark.parametrize(
    ("flow", "body_file", "expected"),
    [
        ("signup", "signup.json", {"campaign_status": "Signed Up", "email_status": "ok"}),
        ("booking", "booking-calendly.json", {"campaign_status": "Pre-Call Prep", "booking_status": "Booked"}),
        ("unsubscribe", "unsubscribe.json", {"campaign_status": "Unsubscribed", "email_status": "unsubscribed"}),
        ("email-status", "email-bounced.json", {"email_status": "bounced"}),
        ("email-status", "email-suppressed.json", {"email_status": "suppressed"}),
    ],
)
def test_a_tracking_handler_records_and_sends_nothing(
    e2e: Stack, flow: str, body_file: str, expected: dict[str, str]
) -> None:
    email = e2e.new_address(flow)
    execution = e2e.handle(flow, sample(body_file, email))
    assert_success(e2e, execution)
    outputs = handle_outputs(execution)
    assert outputs["planned"] == 0 and planned_numbers(outputs) == []
    contact = e2e.contact(email)
    assert contact is not None
    assert {name: getattr(contact, name) for name in expected} == expected
    assert e2e.sequences(email) == []
    assert e2e.sends_for_email(email) == [], "no email from this system"
    assert e2e.outbox(email) == []


@pytest.mark.parametrize(
    ("flow", "body_file", "reason"),
    [("unsubscribe", "unsubscribe.json", "unsubscribed"), ("booking", "booking-calendly.json", "booked")],
)
def test_a_stop_event_stops_the_running_nurture(e2e: Stack, flow: str, body_file: str, reason: str) -> None:
    e2e.require_key(flow)
    email = e2e.new_address(f"stop-{flow}")
    started = e2e.handle("assessment", sample("assessment.json", email))
    assert_success(e2e, started)
    key = handle_outputs(started)["result"]["sequence_key"]
    stop = e2e.handle(flow, sample(body_file, email))
    assert_success(e2e, stop)
    assert e2e.sequence(email, key).stopped_reason == reason


@pytest.mark.parametrize("body_file", ["email-bounced-transient.json", "email-failed.json"])
def test_a_transient_bounce_or_a_failure_is_recorded_and_the_nurture_goes_on(e2e: Stack, body_file: str) -> None:
    e2e.require_key("email-status")
    email = e2e.new_address("recorded")
    started = e2e.handle("assessment", sample("assessment.json", email))
    assert_success(e2e, started)
    key = handle_outputs(started)["result"]["sequence_key"]
    status = e2e.handle("email-status", sample(body_file, email))
    assert_success(e2e, status)
    assert handle_outputs(status)["result"]["action"] == "recorded"
    contact = e2e.contact(email)
    assert contact is not None and contact.email_status == "ok"
    assert e2e.sequence(email, key).stopped_reason is None


def test_a_rejected_event_fails_its_execution_and_writes_nothing(e2e: Stack) -> None:
    email = e2e.new_address("rejected")
    body = {"email": email, "first_name": "Rejected", "red_systems": 9, "orange_systems": 0}
    e2e.require_key("assessment")
    try:
        execution_id = e2e.kestra.post("assessment", content=json.dumps(body).encode())
    except KestraError as exc:  # refused at the door is also "nothing written"
        assert "HTTP 4" in str(exc)
    else:
        execution = e2e.kestra.wait(execution_id)
        assert state_of(execution) == "FAILED"
        # logged by the step under it (assessment -> handle-event -> step), which failed on the rejection
        rejections = [line for line in e2e.kestra.logs_under(execution_id) if line.startswith("error:")]
        assert any("red_systems" in line for line in rejections), rejections
    assert e2e.contact(email) is None
    assert e2e.sequences(email) == []
