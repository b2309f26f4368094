"""The flows on a real Kestra server (see conftest.py): driven only through its HTTP API, checked in the
outbox index and the SQLite ledger the local backends write."""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from christmas_tasks.kestra_api import KestraError, state_of

from .conftest import FLOWS, NAMESPACE, Harness, handle_outputs, new_email, sample

pytestmark = pytest.mark.kestra

# flow -> (sample body, the email numbers it schedules, the contact's campaign status)
SEQUENCES = {
    "assessment": ("assessment.json", [2, 3, 4, 5], "Nurture Sequence"),
    "noshow": ("noshow.json", [1, 2, 3], "No-Show Recovery"),
    "postcall": ("postcall.json", [1, 2, 3], "Post-Call Follow-Up"),
    "onboarding": ("onboarding.json", [1, 2, 3], "Onboarding"),
}


def task_states(execution: dict[str, Any]) -> dict[str, str]:
    return {run["taskId"]: run["state"]["current"] for run in execution.get("taskRunList") or []}


def send_vars(execution: dict[str, Any]) -> dict[str, Any]:
    for run in execution.get("taskRunList") or []:
        if run.get("taskId") == "send":
            return dict((run.get("outputs") or {}).get("vars") or {})
    return {}


def numbers_in(messages: list[dict[str, Any]]) -> list[int]:
    return sorted(int(m["tags"]["email_number"]) for m in messages)


def test_the_flows_were_loaded_into_the_fresh_server(kestra: Harness) -> None:
    assert {row["id"] for row in kestra.deploy_report} == {p.stem for p in FLOWS.glob("*.yml")}
    assert {row["status"] for row in kestra.deploy_report} == {"created"}


@pytest.mark.parametrize("flow", sorted(SEQUENCES))
def test_a_sequence_handler_end_to_end(kestra: Harness, flow: str) -> None:
    body_file, numbers, status = SEQUENCES[flow]
    email = new_email(flow)
    execution = kestra.handle(flow, sample(body_file, email))
    assert state_of(execution) == "SUCCESS", kestra.logs(execution["id"])

    outputs = handle_outputs(execution)
    key = outputs["result"]["sequence_key"]
    assert outputs["planned"] == len(numbers)
    assert {n for n in range(1, 6) if f"email_{n}" in outputs} == set(numbers)
    states = task_states(execution)
    assert {t: s for t, s in states.items() if t.startswith("schedule_email_")} == {
        f"schedule_email_{n}": "SUCCESS" for n in numbers
    }

    sends = kestra.wait_for_sends(key, len(numbers))
    assert sorted(int(e["inputs"]["email_number"]) for e in sends) == numbers
    assert {state_of(e) for e in sends} == {"SUCCESS"}
    assert {send_vars(e).get("status") for e in sends} == {"sent"}

    messages = kestra.wait_for_outbox(email, len(numbers))
    assert numbers_in(messages) == numbers
    ledger = kestra.sent_numbers(key)
    assert sorted(n for n, row in ledger.items() if row["sent_by"] == "kestra") == numbers
    if flow == "assessment":
        assert ledger[1]["sent_by"] == "website", "email 1 went out from the website"
    (sequence,) = kestra.sequences(email)
    assert sequence["completed"] == 1 and sequence["stopped_reason"] is None
    contact = kestra.contact(email)
    assert contact is not None and contact["campaign_status"] == status


@pytest.mark.parametrize(
    ("flow", "body_file", "expected"),
    [
        ("signup", "signup.json", {"campaign_status": "Signed Up", "email_status": "ok"}),
        ("booking", "booking-calendly.json", {"campaign_status": "Pre-Call Prep", "booking_status": "Booked"}),
        ("unsubscribe", "unsubscribe.json", {"campaign_status": "Unsubscribed", "email_status": "unsubscribed"}),
        ("email-status", "email-bounced.json", {"email_status": "bounced"}),
    ],
)
def test_a_tracking_handler_end_to_end(kestra: Harness, flow: str, body_file: str, expected: dict[str, str]) -> None:
    email = new_email(flow)
    execution = kestra.handle(flow, sample(body_file, email))
    assert state_of(execution) == "SUCCESS", kestra.logs(execution["id"])
    outputs = handle_outputs(execution)
    assert outputs["planned"] == 0 and not [k for k in outputs if k.startswith("email_")]
    contact = kestra.contact(email)
    assert contact is not None
    assert {k: contact[k] for k in expected} == expected
    assert kestra.sequences(email) == []
    assert kestra.outbox(email) == []


def test_the_same_webhook_posted_twice_at_once_sends_each_email_once(kestra: Harness) -> None:
    email = new_email("twice")
    body = sample("noshow.json", email)
    with ThreadPoolExecutor(max_workers=2) as pool:
        ids = list(pool.map(lambda _: kestra.post("noshow", body), range(2)))
    executions = [kestra.wait(execution_id) for execution_id in ids]
    assert [state_of(e) for e in executions] == ["SUCCESS", "SUCCESS"]
    outputs = [handle_outputs(e) for e in executions]
    assert sorted(o["planned"] for o in outputs) == [0, 3], "the second one finds the sequence already handled"
    key = next(o["result"]["sequence_key"] for o in outputs if o["planned"])

    kestra.wait_for_sends(key, 3)
    kestra.wait_for_outbox(email, 3)
    time.sleep(3)  # anything duplicated would have shown up by now
    assert len(kestra.sends_for(key)) == 3
    assert numbers_in(kestra.outbox(email)) == [1, 2, 3]
    assert sorted(kestra.sent_numbers(key)) == [1, 2, 3]


def _counts(kestra: Harness) -> tuple[int, int]:
    contacts = kestra.query("SELECT COUNT(*) AS n FROM contacts")
    sequences = kestra.query("SELECT COUNT(*) AS n FROM sequences")
    return (contacts[0]["n"] if contacts else 0, sequences[0]["n"] if sequences else 0)


@pytest.mark.parametrize(
    ("flow", "content", "named"),
    [
        ("assessment", json.dumps({"email": "not-an-email", "first_name": "X", "red_systems": 9,
                                   "orange_systems": 0}).encode(), ["email", "red_systems"]),
        ("noshow", b"this is not json {", ["object"]),
    ],
    ids=["bad-fields", "not-json"],
)
def test_a_malformed_body_fails_the_execution_and_writes_nothing(
    kestra: Harness, flow: str, content: bytes, named: list[str]
) -> None:
    before = _counts(kestra)
    try:
        execution_id = kestra.post(flow, content=content)
    except KestraError as exc:  # refused at the door is also "nothing written"
        assert "HTTP 4" in str(exc)
        assert _counts(kestra) == before
        return
    execution = kestra.wait(execution_id)
    assert state_of(execution) == "FAILED"
    states = task_states(execution)
    assert states["handle"] == "FAILED"
    assert not [t for t, s in states.items() if t.startswith("schedule_email_") and s != "SKIPPED"]
    logs = kestra.logs(execution_id)
    rejections = [line for line in logs if line.startswith("error:")]
    assert rejections, logs
    for field in named:
        assert any(field in line for line in rejections), (field, rejections)
    assert any(execution_id in line and "failed:" in line for line in logs), "the errors branch logs the reason"
    assert _counts(kestra) == before


def _interrupted_nurture(kestra: Harness, tag: str, stop_flow: str, stop_body: str) -> tuple[str, str]:
    email = new_email(tag)
    execution = kestra.handle("assessment", sample("assessment.json", email))
    assert state_of(execution) == "SUCCESS"
    key = handle_outputs(execution)["result"]["sequence_key"]
    kestra.wait_for_outbox(email, 1, timeout=30)  # email 2, at +2 s; email 3 follows 18 s later
    stop = kestra.handle(stop_flow, sample(stop_body, email))
    assert state_of(stop) == "SUCCESS", kestra.logs(stop["id"])
    sends = kestra.wait_for_sends(key, 4, timeout=90)
    assert {state_of(e) for e in sends} == {"SUCCESS"}, "a skipped email is a successful execution"
    by_number = {int(e["inputs"]["email_number"]): send_vars(e) for e in sends}
    assert by_number[2]["status"] == "sent"
    assert [by_number[n]["status"] for n in (3, 4, 5)] == ["skipped"] * 3
    assert numbers_in(kestra.outbox(email)) == [2]
    assert sorted(kestra.sent_numbers(key)) == [1, 2]
    return email, key


def test_an_unsubscribe_between_two_emails_stops_the_rest(kestra: Harness) -> None:
    email, _ = _interrupted_nurture(kestra, "unsub", "unsubscribe", "unsubscribe.json")
    (sequence,) = kestra.sequences(email)
    assert sequence["stopped_reason"] == "unsubscribed"
    contact = kestra.contact(email)
    assert contact is not None and contact["email_status"] == "unsubscribed"


def test_a_booking_stops_the_5_day_nurture(kestra: Harness) -> None:
    email, _ = _interrupted_nurture(kestra, "booked", "booking", "booking-calendly.json")
    (sequence,) = kestra.sequences(email)
    assert sequence["stopped_reason"] == "booked"
    contact = kestra.contact(email)
    assert contact is not None and contact["booking_status"] == "Booked"


def test_the_deploy_is_idempotent(kestra: Harness) -> None:
    again = kestra.client.deploy_flows(FLOWS)
    assert {row["status"] for row in again} == {"unchanged"}, again


def test_webhook_keys_are_server_secrets_and_can_be_rendered_in_at_upload(kestra: Harness, tmp_path: Path) -> None:
    # Proven on the pinned version: {{ secret('WEBHOOK_KEY_SIGNUP') }} renders from SECRET_WEBHOOK_KEY_SIGNUP
    # (every webhook above used such a key); a wrong key finds nothing.
    with pytest.raises(KestraError, match="HTTP 404"):
        kestra.client.post_webhook(NAMESPACE, "signup", "wrong-" + kestra.keys["signup"], {"email": "x@example.com"})
    # The fallback for a server that cannot read the key as a secret: render it in at upload.
    folder = tmp_path / "flows"
    folder.mkdir()
    shutil.copy(FLOWS / "signup.yml", folder / "signup.yml")
    rendered = kestra.client.deploy_flows(folder, render={"WEBHOOK_KEY_SIGNUP": kestra.keys["signup"]})
    assert rendered == [{"namespace": NAMESPACE, "id": "signup", "file": "signup.yml", "status": "updated"}]
    try:
        execution = kestra.handle("signup", sample("signup.json", new_email("rendered")))
        assert state_of(execution) == "SUCCESS"
    finally:
        restored = {row["id"]: row["status"] for row in kestra.client.deploy_flows(FLOWS)}
    assert restored.pop("signup") == "updated" and set(restored.values()) == {"unchanged"}


def test_the_health_check_fails_naming_each_missing_live_setting(kestra: Harness) -> None:
    local = kestra.wait(kestra.client.start_execution(NAMESPACE, "health-check")["id"])
    assert state_of(local) == "SUCCESS", kestra.logs(local["id"])
    live = kestra.wait(kestra.client.start_execution(NAMESPACE, "health-check", {"backend": "live"})["id"])
    assert state_of(live) == "FAILED"
    logs = "\n".join(kestra.logs(live["id"]))
    for name in ("NOTION_TOKEN", "RESEND_API_KEY", "NOTION_CONTACTS_DB_ID", "EMAIL_FROM", "CAMPAIGN_DEADLINE"):
        assert name in logs, name
