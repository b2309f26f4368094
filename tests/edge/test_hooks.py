"""The senders' routes: each check on the raw body (Calendly's HMAC, Svix's and Standard Webhooks' signatures made by
the library itself, the per-sender keys), what is forwarded where and answered how, and what is refused: 401 with one
log line naming the sender and the reason (never the secret, never the body), nothing forwarded."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest

from christmas_tasks.domain.events import KINDS as KINDS_BY_NAME
from christmas_tasks.entrypoints.edge.config import REPLY, posted_kinds
from tests.conftest import EXAMPLES
from tests.edge.conftest import (
    CALENDLY_KEY,
    KEYS,
    NOW,
    RESEND_SECRET,
    WEBSITE_SECRET,
    World,
    body_of,
    calendly_headers,
    standard_headers,
)

# Calendly's invitee as its invitee.created sends it (examples/events): a body the package's model accepts
INVITEE = json.loads((EXAMPLES / "booking-calendly.json").read_text())["payload"]
CALENDLY_SAMPLES = {"booking": "booking-calendly.json", "cancellation": "cancellation-calendly.json",
                    "noshow": "noshow-calendly.json"}


def sample_body(kind: str) -> bytes:
    """A body of `kind` the package's model accepts: its own sample (a posted kind's, in our shape)."""
    model = KINDS_BY_NAME[kind]
    return body_of(json.loads((EXAMPLES / str(model.sample)).read_text()))


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "christmas_tasks.edge" and "refused" in r.getMessage()]


# --- Calendly ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "flow"),
    [("invitee.created", "booking"), ("invitee.canceled", "cancellation"), ("invitee_no_show.created", "noshow")],
)
def test_calendly_is_forwarded_by_its_event_type_with_the_raw_body(world: World, event: str, flow: str) -> None:
    body = body_of(json.loads((EXAMPLES / CALENDLY_SAMPLES[flow]).read_text()))
    assert json.loads(body)["event"] == event
    answer = world.client.post("/hooks/calendly", content=body, headers=calendly_headers(body))
    assert answer.status_code == 202
    assert answer.json() == {"forwarded": flow, "execution_id": "exec-1"}
    (forward,) = world.kestra.forwards
    assert forward.url.path == f"/api/v1/main/executions/webhook/christmas/{flow}/{KEYS[flow]}"
    assert str(forward.url).startswith("http://kestra:8080/")
    assert forward.content == body, "the bytes the sender signed, not a re-serialisation"
    assert forward.headers["content-type"] == "application/json"


def test_a_calendly_event_type_the_funnel_does_not_handle_is_accepted_and_not_forwarded(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "christmas_tasks.edge")
    body = body_of({"event": "routing_form_submission.created", "payload": {}})
    answer = world.client.post("/hooks/calendly", content=body, headers=calendly_headers(body))
    assert answer.status_code == 200 and answer.json()["forwarded"] is False
    assert world.kestra.forwards == []
    assert any("routing_form_submission.created" in r.getMessage() for r in caplog.records)


def _calendly_header(body: bytes, value: str) -> dict[str, str]:
    return {"Calendly-Webhook-Signature": value, "Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (lambda b: calendly_headers(b, key="not-the-key"), "bad Calendly signature"),
        (lambda b: calendly_headers(b, t=NOW - 181), "stale Calendly signature (181 s old; at most 180)"),
        (lambda b: calendly_headers(b, t=NOW + 600), "Calendly signature from the future"),
        (lambda b: {"Content-Type": "application/json"}, "no Calendly-Webhook-Signature header"),
        (lambda b: _calendly_header(b, "v1=abc"), "malformed Calendly-Webhook-Signature header"),
        (lambda b: _calendly_header(b, "t=abc,v1=abc"), "malformed Calendly-Webhook-Signature header (t is not"),
        (lambda b: _calendly_header(b, "t=1,t=2,v1=abc"), "malformed Calendly-Webhook-Signature header"),
        (lambda b: _calendly_header(b, "garbage"), "malformed Calendly-Webhook-Signature header"),
        (lambda b: _calendly_header(b, f"t={int(NOW)}"), "malformed Calendly-Webhook-Signature header"),
    ],
    ids=["bad", "stale", "future", "missing", "no-t", "t-not-a-time", "two-t", "garbage", "no-v1"],
)
def test_calendly_refusals_are_401_forward_nothing_and_log_one_line(
    world: World, caplog: pytest.LogCaptureFixture, headers: Callable[[bytes], dict[str, str]], reason: str
) -> None:
    body = body_of({"event": "invitee.created", "payload": INVITEE})
    answer = world.client.post("/hooks/calendly", content=body, headers=headers(body))
    assert answer.status_code == 401 and answer.json() == {"error": "unauthorized"}
    assert world.kestra.forwards == []
    (line,) = refusals(caplog)
    assert line.startswith("edge: refused calendly: ") and reason in line, line
    assert CALENDLY_KEY not in line and "jane.doe@example.com" not in line


def test_calendly_signature_within_three_minutes_passes_and_the_clock_is_the_edges(world: World) -> None:
    body = body_of({"event": "invitee.created", "payload": INVITEE})
    signed = calendly_headers(body, t=NOW - 179)
    assert world.client.post("/hooks/calendly", content=body, headers=signed).status_code == 202
    world.clock.now = NOW + 60  # the same signed request, a minute later: 239 s old
    assert world.client.post("/hooks/calendly", content=body, headers=signed).status_code == 401
    assert len(world.kestra.forwards) == 1


def test_a_replayed_calendly_body_with_its_old_t_is_stale_and_a_new_t_breaks_the_signature(world: World) -> None:
    body = body_of({"event": "invitee.created", "payload": INVITEE})
    old = calendly_headers(body, t=NOW - 3600)
    assert world.client.post("/hooks/calendly", content=body, headers=old).status_code == 401
    old_signature = old["Calendly-Webhook-Signature"].split(",")[1]
    retimed = {**old, "Calendly-Webhook-Signature": f"t={int(NOW)},{old_signature}"}
    assert world.client.post("/hooks/calendly", content=body, headers=retimed).status_code == 401
    tampered = body.replace(b"jane.doe@", b"john.doe@")
    assert tampered != body
    fresh = calendly_headers(body)
    assert world.client.post("/hooks/calendly", content=tampered, headers=fresh).status_code == 401
    assert world.kestra.forwards == []


def test_calendly_without_a_signing_key_configured_is_refused(make_world: Callable[..., World]) -> None:
    world = make_world(CALENDLY_SIGNING_KEY="")
    body = body_of({"event": "invitee.created", "payload": INVITEE})
    assert world.client.post("/hooks/calendly", content=body, headers=calendly_headers(body)).status_code == 401
    assert world.kestra.forwards == []


def test_a_signed_body_that_is_not_a_json_object_is_400_and_not_forwarded(world: World) -> None:
    for body in (b"not json", b"[1, 2]", b"\xff\xfe", b"[" * 100_000):
        answer = world.client.post("/hooks/calendly", content=body, headers=calendly_headers(body))
        assert answer.status_code == 400, body[:10]
    assert world.kestra.forwards == []


# --- Resend (Svix) ------------------------------------------------------------------------------------------------


def test_resend_email_received_goes_to_the_reply_flow_suppressions_to_theirs_and_every_other_type_to_email_status(
    world: World
) -> None:
    """A bounce, a complaint or a suppression goes to the flow that applies it at once (never queued: SPEC §5)."""
    received = body_of({"type": "email.received", "data": {"email_id": "in_1", "from": "jane@example.com"}})
    suppressions = [body_of({"type": f"email.{kind}", "data": {"email_id": f"out_{kind}", "to": ["j@example.com"]}})
                    for kind in ("bounced", "complained", "suppressed")]
    others = [body_of({"type": f"email.{kind}", "data": {"email_id": f"out_{kind}"}})
              for kind in ("delivered", "opened", "clicked", "failed", "scheduled")]
    bodies = [received, *suppressions, *others]
    for n, body in enumerate(bodies):
        answer = world.client.post("/hooks/resend", content=body, headers=standard_headers(body, f"msg_{n}"))
        assert answer.status_code == 202, answer.text
    assert world.kestra.flows() == [REPLY, *["email-suppression"] * 3, *["email-status"] * 5]
    assert [forward.content for forward in world.kestra.forwards] == bodies


def test_a_redelivered_svix_id_is_forwarded_once(world: World) -> None:
    body = body_of({"type": "email.delivered", "data": {"email_id": "out_1"}})
    first = world.client.post("/hooks/resend", content=body, headers=standard_headers(body, "msg_same"))
    world.clock.now = NOW + 3600  # Svix retries later, signing again with a new timestamp
    again = world.client.post("/hooks/resend", content=body, headers=standard_headers(body, "msg_same", t=NOW + 3600))
    assert first.status_code == 202 and again.status_code == 200
    assert again.json() == {"forwarded": False, "duplicate": True}
    assert len(world.kestra.forwards) == 1
    other = world.client.post("/hooks/resend", content=body, headers=standard_headers(body, "msg_other", t=NOW + 3600))
    assert other.status_code == 202 and len(world.kestra.forwards) == 2


def test_a_redelivery_after_a_failed_forward_goes_through(world: World) -> None:
    body = body_of({"type": "email.delivered", "data": {"email_id": "out_1"}})
    world.kestra.down = True
    assert world.client.post("/hooks/resend", content=body, headers=standard_headers(body, "msg_x")).status_code == 503
    world.kestra.down = False
    assert world.client.post("/hooks/resend", content=body, headers=standard_headers(body, "msg_x")).status_code == 202
    assert len(world.kestra.forwards) == 1


def test_the_forwarded_ids_are_shared_by_every_worker(make_world: Callable[..., World]) -> None:
    """Two apps on one data folder (as uvicorn's workers are): a redelivery reaching the other is not forwarded."""
    one = make_world()
    body = body_of({"type": "email.delivered", "data": {"email_id": "out_1"}})
    assert one.client.post("/hooks/resend", content=body, headers=standard_headers(body, "msg_w")).status_code == 202
    two = make_world(EDGE_DATA_DIR=str(one.data))
    assert two.client.post("/hooks/resend", content=body, headers=standard_headers(body, "msg_w")).status_code == 200
    assert two.kestra.forwards == []


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (lambda b: standard_headers(b, secret="whsec_" + "YW5vdGhlci1zZWNyZXQtZW50aXJlbHk="), "bad svix signature"),
        (lambda b: standard_headers(b, t=NOW - 301), "stale svix signature (301 s old; at most 300)"),
        (lambda b: standard_headers(b, t=NOW + 301), "svix signature from the future"),
        (lambda b: {"Content-Type": "application/json"}, "no svix-id, svix-timestamp, svix-signature header"),
        (lambda b: {**standard_headers(b), "svix-timestamp": "soon"}, "malformed svix-timestamp header"),
        (lambda b: {**standard_headers(b), "svix-signature": "v1,AAAA v1,BBBB"}, "bad svix signature"),
        (lambda b: {**standard_headers(b), "svix-id": "msg_other"}, "bad svix signature"),
    ],
    ids=["bad", "stale", "future", "missing", "malformed-timestamp", "wrong-signatures", "another-id"],
)
def test_resend_refusals_are_401_forward_nothing_and_log_one_line(
    world: World, caplog: pytest.LogCaptureFixture, headers: Callable[[bytes], dict[str, str]], reason: str
) -> None:
    body = body_of({"type": "email.bounced", "data": {"email_id": "out_1", "to": ["jane@example.com"]}})
    answer = world.client.post("/hooks/resend", content=body, headers=headers(body))
    assert answer.status_code == 401 and answer.json() == {"error": "unauthorized"}
    assert world.kestra.forwards == []
    (line,) = refusals(caplog)
    assert line.startswith("edge: refused resend: ") and reason in line, line
    assert RESEND_SECRET not in line and "jane@example.com" not in line


def test_a_rotated_resend_secret_passes_with_either_signature(world: World) -> None:
    body = body_of({"type": "email.delivered", "data": {"email_id": "out_1"}})
    signed = standard_headers(body)
    old = standard_headers(body, secret="whsec_" + "b2xkLXNlY3JldC1iZWZvcmUtcm90YXRpb24=")
    both = {**signed, "svix-signature": f"{old['svix-signature']} {signed['svix-signature']}"}
    assert world.client.post("/hooks/resend", content=body, headers=both).status_code == 202


# --- the website and the CRM ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", posted_kinds())
def test_every_posted_kind_is_forwarded_with_its_key_in_the_header_or_the_path(world: World, kind: str) -> None:
    body = sample_body(kind)
    by_header = world.client.post(f"/hooks/{kind}", content=body, headers={"X-Webhook-Key": KEYS[kind]})
    by_path = world.client.post(f"/hooks/{kind}/{KEYS[kind]}", content=body)
    assert (by_header.status_code, by_path.status_code) == (202, 202)
    assert world.kestra.flows() == [kind, kind]
    assert all(forward.content == body for forward in world.kestra.forwards)


def test_the_kinds_only_providers_send_are_not_posted_here(world: World) -> None:
    assert {"cancellation", "email-status", "unsubscribe-link"}.isdisjoint(posted_kinds())
    assert {"signup", "assessment", "booking", "noshow", "postcall", "onboarding", "unsubscribe"} <= set(posted_kinds())
    for kind in ("cancellation", "email-status", "unsubscribe-link", "no-such-kind"):
        answer = world.client.post(f"/hooks/{kind}", content=b"{}", headers={"X-Webhook-Key": KEYS.get(kind, "x")})
        assert answer.status_code == 404
    assert world.kestra.forwards == []


@pytest.mark.parametrize(
    ("path", "headers", "reason"),
    [
        ("/hooks/signup", {}, "no key"),
        ("/hooks/signup", {"X-Webhook-Key": KEYS["assessment"]}, "wrong key"),
        ("/hooks/signup", {"X-Webhook-Key": KEYS["signup"][:-1]}, "wrong key"),
        ("/hooks/signup/" + KEYS["assessment"], {}, "wrong key"),
        ("/hooks/signup/short", {"X-Webhook-Key": KEYS["signup"]}, "wrong key"),  # the path's key is the one checked
    ],
    ids=["none", "another-kinds", "truncated", "another-kinds-in-path", "wrong-path-right-header"],
)
def test_a_wrong_or_missing_key_is_401_and_logged_without_the_key(
    world: World, caplog: pytest.LogCaptureFixture, path: str, headers: dict[str, str], reason: str
) -> None:
    answer = world.client.post(path, content=b'{"email": "jane@example.com"}', headers=headers)
    assert answer.status_code == 401 and world.kestra.forwards == []
    (line,) = refusals(caplog)
    assert line.startswith("edge: refused /hooks/signup: ") and reason in line, line
    assert not any(key in line for key in KEYS.values())


def test_a_kind_without_a_key_configured_refuses_every_post(make_world: Callable[..., World]) -> None:
    world = make_world(WEBHOOK_KEY_SIGNUP="")
    assert world.client.post("/hooks/signup", content=b"{}", headers={"X-Webhook-Key": ""}).status_code == 401
    assert world.client.post("/hooks/signup/anything", content=b"{}").status_code == 401
    assert world.kestra.forwards == []


def test_a_sender_with_a_signing_secret_must_sign_and_a_redelivery_is_forwarded_once(
    make_world: Callable[..., World],
) -> None:
    world = make_world(WEBHOOK_SECRET_ASSESSMENT=WEBSITE_SECRET)
    body = body_of({"email": "jane@example.com", "first_name": "Jane", "red_systems": 2, "orange_systems": 1})

    def signed(message_id: str) -> dict[str, str]:
        return standard_headers(body, message_id, secret=WEBSITE_SECRET, prefix="webhook")

    assert world.client.post("/hooks/assessment", content=body, headers=signed("wh_1")).status_code == 202
    assert world.client.post("/hooks/assessment", content=body, headers=signed("wh_1")).status_code == 200
    # the key alone no longer does, nor Svix's header names, nor another secret's signature
    key = {"X-Webhook-Key": KEYS["assessment"]}
    assert world.client.post("/hooks/assessment", content=body, headers=key).status_code == 401
    svix = standard_headers(body, "wh_2", secret=WEBSITE_SECRET)
    assert world.client.post("/hooks/assessment", content=body, headers=svix).status_code == 401
    other = standard_headers(body, "wh_3", secret=RESEND_SECRET, prefix="webhook")
    assert world.client.post("/hooks/assessment", content=body, headers=other).status_code == 401
    assert world.kestra.flows() == ["assessment"]
    # a kind without a secret keeps its key
    signup = world.client.post("/hooks/signup", content=body, headers={"X-Webhook-Key": KEYS["signup"]})
    assert signup.status_code == 202


# --- Kestra's answer -------------------------------------------------------------------------------------------


def test_kestra_down_or_failing_is_503_with_retry_after_so_the_sender_retries(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    body = body_of({"email": "jane@example.com", "first_name": "Jane"})
    key = {"X-Webhook-Key": KEYS["signup"]}
    world.kestra.down = True
    down = world.client.post("/hooks/signup", content=body, headers=key)
    assert down.status_code == 503 and down.headers["retry-after"] == "60"
    world.kestra.down = False
    for status in (500, 502, 404):  # a 404: the edge's key is not Kestra's (a deploy to fix, then the retry passes)
        world.kestra.status = status
        assert world.client.post("/hooks/signup", content=body, headers=key).status_code == 503
    messages = [r.getMessage() for r in caplog.records if r.name == "christmas_tasks.edge"]
    assert any("Kestra cannot be reached" in m for m in messages)
    assert any("Kestra answered 502" in m for m in messages)
    assert not any(KEYS["signup"] in m for m in messages)


def test_a_flow_without_its_key_at_the_edge_is_503_not_a_guess(make_world: Callable[..., World]) -> None:
    world = make_world(WEBHOOK_KEY_BOOKING="")
    body = body_of({"event": "invitee.created", "payload": INVITEE})
    assert world.client.post("/hooks/calendly", content=body, headers=calendly_headers(body)).status_code == 503
    assert world.kestra.forwards == []


def test_the_answer_carries_kestras_execution_id(world: World) -> None:
    body = body_of({"email": "jane@example.com", "first_name": "Jane"})
    for n in (1, 2):
        answer = world.client.post("/hooks/signup", content=body, headers={"X-Webhook-Key": KEYS["signup"]})
        assert answer.status_code == 202 and json.loads(answer.text)["execution_id"] == f"exec-{n}"


# --- the package's own check, where the request lands -------------------------------------------------------------


def test_a_body_the_package_refuses_is_422_naming_each_field_and_nothing_is_forwarded(world: World) -> None:
    """The website hears "no" (SPEC §10, issue 26): one line per field, by its path in the body it sent."""
    body = body_of({"email": "not-an-address", "red_systems": 9, "orange_systems": 0})
    answer = world.client.post("/hooks/assessment", content=body, headers={"X-Webhook-Key": KEYS["assessment"]})
    assert answer.status_code == 422, answer.text
    problems = answer.json()["problems"]
    assert [line.split(":")[0] for line in problems] == ["email", "first_name", "red_systems"], problems
    assert answer.json()["error"] == "invalid assessment event: nothing was forwarded"
    assert world.kestra.forwards == []


def test_a_calendly_body_the_package_refuses_names_calendlys_path(world: World) -> None:
    event = json.loads((EXAMPLES / "booking-calendly.json").read_text())
    event["payload"]["email"] = "nobody"
    body = body_of(event)
    answer = world.client.post("/hooks/calendly", content=body, headers=calendly_headers(body))
    assert answer.status_code == 422 and [p.split(":")[0] for p in answer.json()["problems"]] == ["payload.email"]
    assert world.kestra.forwards == []


def test_resends_bodies_are_not_refused_here(world: World) -> None:
    """A refusal makes Resend retry for days: what the step cannot read, it records (and an operator is alerted)."""
    body = body_of({"type": "email.bounced", "data": {"email_id": "out_1"}})  # no recipient
    assert world.client.post("/hooks/resend", content=body, headers=standard_headers(body, "msg_x")).status_code == 202


def test_a_check_that_fails_in_the_package_forwards_and_logs_no_body(
    world: World, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The package's own failure is not the sender's: the body goes on to Kestra's check, and the log line names the
    failure's type only (its message could quote the body)."""
    from christmas_tasks.entrypoints import inbound

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("jane.doe@example.com in a message")

    monkeypatch.setattr(inbound, "read_event", broken)
    body = sample_body("signup")
    answer = world.client.post("/hooks/signup", content=body, headers={"X-Webhook-Key": KEYS["signup"]})
    assert answer.status_code == 202 and world.kestra.flows() == ["signup"]
    lines = [r.getMessage() for r in caplog.records if r.name == "christmas_tasks.edge"]
    assert any("could not be checked here (RuntimeError)" in line for line in lines), lines
    assert not any("jane.doe" in line for line in lines)
