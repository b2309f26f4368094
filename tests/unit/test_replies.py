"""Replies (SPEC §2, the `reply` row; §8, REPLY_ADDRESS and REPLY_INBOX) on the in-memory ports, with an exact clock:
every email asks for replies at REPLY_ADDRESS; a person's reply stops the contact's sequences, alerts and is
forwarded to REPLY_INBOX; an automatic one, or one from no contact, is forwarded and recorded and stops nothing."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_mock import MockerFixture

from christmas_tasks.adapters.outbox import OutboxMailer
from christmas_tasks.adapters.resend.receiving import ResendReceiving
from christmas_tasks.adapters.secret import Secret
from christmas_tasks.domain.errors import ConfigError, InvalidInput, ProviderError
from christmas_tasks.domain.events import ReplyEvent
from christmas_tasks.domain.keys import forward_key
from christmas_tasks.domain.records import OutgoingEmail, SendResult
from christmas_tasks.domain.vocabulary import ReplyStatus, StopReason
from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.cli import main
from christmas_tasks.entrypoints.inbound import read_event
from christmas_tasks.entrypoints.kestra_step import is_rejection
from christmas_tasks.entrypoints.settings import Settings
from christmas_tasks.usecases.funnel import Funnel
from christmas_tasks.usecases.outcomes import Action, AlertStatus, Handled
from tests.conftest import EXAMPLES, NOW
from tests.fakes.fake_resend import API_KEY, FakeResend
from tests.fakes.memory import InMemoryAlerter, InMemoryLedger, InMemoryMailer, handle

M = timedelta(minutes=1)
JANE = "jane.doe@example.com"
INBOX = "sales@example.com"
REPLY_ADDRESS = "Example Consulting <reply@in.example.com>"


def body(name: str, **changes: Any) -> dict[str, Any]:
    return {**json.loads((EXAMPLES / name).read_text()), **changes}


def funnel_of(ledger: InMemoryLedger, mailer: InMemoryMailer, **env: str) -> Funnel:
    settings = Settings.from_env({"TESTING_MODE": "true", "REPLY_INBOX": INBOX, **env})
    return build_funnel(settings, ledger=ledger, mailer=mailer)


@pytest.mark.parametrize(
    ("env", "reply_to"),
    [
        ({"REPLY_ADDRESS": REPLY_ADDRESS, "EMAIL_REPLY_TO": "hello@example.com"}, REPLY_ADDRESS),
        ({"EMAIL_REPLY_TO": "hello@example.com"}, "hello@example.com"),
        ({}, None),
    ],
)
def test_every_email_sent_asks_for_replies_at_reply_address_else_email_reply_to(
    ledger: InMemoryLedger, mailer: InMemoryMailer, env: dict[str, str], reply_to: str | None
) -> None:
    funnel = funnel_of(ledger, mailer, **env)
    plan = handle(funnel, "noshow", body("noshow.json"), NOW).plan
    funnel.send(plan[0].sequence_key, plan[0].email_number, NOW + M, plan[0].send_at)
    (sent,) = mailer.messages()
    assert sent.reply_to == reply_to


class FlakyMailer(InMemoryMailer):
    """Fails the next `failures` sends as Resend does in an outage (after the adapter's own retries)."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.failures = failures

    def send(self, message: OutgoingEmail) -> SendResult:
        if self.failures:
            self.failures -= 1
            raise ProviderError("resend", 503, "service unavailable", retryable=True)
        return super().send(message)


@pytest.fixture
def alerts() -> InMemoryAlerter:
    return InMemoryAlerter()


@pytest.fixture
def funnel(ledger: InMemoryLedger, mailer: InMemoryMailer, alerts: InMemoryAlerter) -> Funnel:
    funnel = funnel_of(ledger, mailer)
    funnel.alerter = alerts
    return funnel


def nurtured(funnel: Funnel, emails: int = 1) -> list[str]:
    """Jane missed a call and gets `emails` of the no-show recovery; then a call ends in a "maybe": two running
    sequences (a call-related event stops the nurture, so these two are what can run at once). Their keys."""
    noshow = handle(funnel, "noshow", body("noshow.json"), NOW)
    for item in noshow.plan[:emails]:
        assert funnel.send(item.sequence_key, item.email_number, NOW + item.email_number * M).status == "sent"
    postcall = handle(funnel, "postcall", body("postcall.json"), NOW + 10 * M)
    assert noshow.sequence_key is not None and postcall.sequence_key is not None
    return [noshow.sequence_key, postcall.sequence_key]


def forwards(mailer: InMemoryMailer) -> list[OutgoingEmail]:
    """What the mailer sent the business's inbox (the rest went to the leads)."""
    return [message for message in mailer.messages() if message.to == INBOX]


def reply(**changes: Any) -> dict[str, Any]:
    return body("reply.json", **changes)


LATER = NOW + 30 * M


def test_a_persons_reply_stops_every_running_sequence_alerts_and_is_forwarded(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer, alerts: InMemoryAlerter
) -> None:
    keys = nurtured(funnel, emails=2)
    handled = handle(funnel, "reply", reply(), LATER)

    assert handled.action is Action.REPLY_FORWARDED and handled.automatic is None
    assert sorted(handled.stopped) == sorted(keys)
    assert all(ledger.sequences.records[key].stopped_reason == StopReason.REPLIED for key in keys)
    assert handled.last_email == "noshow #2" and handled.forwarded_to == INBOX and handled.alert is AlertStatus.SENT
    (alert,) = alerts.texts
    assert 'Reply from Jane <jane.doe@example.com>: "Re: Jane, what your assessment says about Booking"' in alert
    assert "last email they were sent: noshow #2 (noshow_recovery_email_2)" in alert
    assert "2 sequence(s) stopped" in alert

    (forward,) = forwards(mailer)
    sample = reply()
    assert (forward.to, forward.reply_to, forward.sender) == (INBOX, JANE, funnel.email_from)
    assert (forward.subject, forward.text, forward.html) == (sample["subject"], sample["text"], sample["html"])
    assert forward.headers == {
        "Auto-Submitted": "auto-generated",  # the inbox's own out-of-office must not answer the lead
        "In-Reply-To": sample["message_id"],
        "References": sample["message_id"],
    }
    assert "List-Unsubscribe" not in forward.headers, "not commercial mail: a lead's own words, to the business"
    assert forward.idempotency_key == forward_key(JANE, sample["email_id"])
    assert handled.forward_id == mailer.sent[forward.idempotency_key][1]

    (record,) = [e for e in ledger.sends.entries if e.status == ReplyStatus.REPLIED]
    assert (record.email, record.template, record.email_number) == (JANE, "noshow_recovery_email_2", 2)
    assert (record.at, record.resend_id, record.error) == (datetime(2025, 12, 2, 14, 3, tzinfo=UTC), sample["email_id"],
                                                           None)
    assert handled.as_json()["resend_id"] == sample["email_id"]


def test_after_a_reply_the_next_email_is_skipped_as_stopped_replied(funnel: Funnel) -> None:
    keys = nurtured(funnel)
    handle(funnel, "reply", reply(), LATER)
    outcome = funnel.send(keys[0], 2, LATER + M)
    assert (outcome.status, outcome.reason) == ("skipped", "sequence stopped: replied")


@pytest.mark.parametrize(
    ("headers", "marker"),
    [
        ({"auto_submitted": "auto-replied"}, "Auto-Submitted: auto-replied"),
        ({"auto_submitted": "Auto-Generated; owner-email=\"it@example.com\""}, "Auto-Submitted: Auto-Generated"),
        ({"x_autoreply": "yes"}, "X-Autoreply: yes"),
        ({"x_autorespond": "Out of office"}, "X-Autorespond: Out of office"),
        ({"precedence": "auto_reply"}, "Precedence: auto_reply"),
        ({"precedence": "Bulk"}, "Precedence: Bulk"),
        ({"precedence": "junk"}, "Precedence: junk"),
    ],
)
def test_an_automatic_reply_is_forwarded_and_recorded_and_stops_nothing(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer, alerts: InMemoryAlerter, headers: dict[str, str],
    marker: str,
) -> None:
    keys = nurtured(funnel)
    handled = handle(funnel, "reply", reply(**headers), LATER)
    assert handled.action is Action.AUTO_REPLY_FORWARDED and handled.automatic is not None
    assert handled.automatic.startswith(marker)
    assert handled.stopped == () and all(ledger.sequences.records[k].running for k in keys)
    assert alerts.texts == [] and handled.alert is None
    assert len(forwards(mailer)) == 1
    (record,) = [e for e in ledger.sends.entries if e.status == ReplyStatus.AUTO_REPLIED]
    assert record.error == handled.automatic


@pytest.mark.parametrize("headers", [{"auto_submitted": "no"}, {"auto_submitted": "No (a person)"},
                                     {"precedence": "list"}, {"x_autoreply": ""}])
def test_what_marks_no_machine_is_a_persons_reply(funnel: Funnel, headers: dict[str, str]) -> None:
    nurtured(funnel)
    handled = handle(funnel, "reply", reply(**headers), LATER)
    assert handled.action is Action.REPLY_FORWARDED and handled.automatic is None and len(handled.stopped) == 2


def test_a_reply_from_an_address_that_is_no_contact_is_forwarded_and_recorded(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer, alerts: InMemoryAlerter
) -> None:
    nurtured(funnel)
    handled = handle(funnel, "reply", reply(email="Colleague@Example.com"), LATER)
    assert handled.action is Action.REPLY_FORWARDED and handled.stopped == () and handled.last_email is None
    assert alerts.texts == [] and "no contact" in handled.reason
    (forward,) = forwards(mailer)
    assert forward.reply_to == "colleague@example.com"
    assert ledger.contacts.get_contact("colleague@example.com") is None, "a reply makes no contact"
    (record,) = [e for e in ledger.sends.entries if e.status == ReplyStatus.REPLIED]
    assert (record.email, record.template, record.email_number) == ("colleague@example.com", "", 0)
    assert all(r.running for r in ledger.sequences.records.values())


def test_a_redelivered_reply_is_forwarded_once_and_changes_nothing_more(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    nurtured(funnel)
    first = handle(funnel, "reply", reply(), LATER)
    again = handle(funnel, "reply", reply(), LATER + M)
    assert again.stopped == () and again.forward_id == first.forward_id
    assert len(forwards(mailer)) == 1
    assert {r.stopped_reason for r in ledger.sequences.records.values()} == {StopReason.REPLIED}


def test_a_forward_that_fails_after_the_stop_is_sent_by_the_retry_once(
    ledger: InMemoryLedger, alerts: InMemoryAlerter
) -> None:
    mailer = FlakyMailer()
    funnel = funnel_of(ledger, mailer)
    funnel.alerter = alerts
    keys = nurtured(funnel)
    mailer.failures = 1
    with pytest.raises(ProviderError):
        handle(funnel, "reply", reply(), LATER)  # the sequences stopped, the reply recorded, the forward failed
    assert {ledger.sequences.records[k].stopped_reason for k in keys} == {StopReason.REPLIED}
    assert [e.status for e in ledger.sends.entries].count(ReplyStatus.REPLIED) == 1, "in the ledger even so"
    assert forwards(mailer) == [] and alerts.texts == []

    retried = handle(funnel, "reply", reply(), LATER + M)  # the step's retry, or the webhook redelivered
    assert retried.stopped == () and len(forwards(mailer)) == 1
    assert len(alerts.texts) == 1, "the alert went with the forward"
    handle(funnel, "reply", reply(), LATER + 2 * M)
    assert len(forwards(mailer)) == 1, "forwarded once"


def test_a_record_that_fails_does_not_keep_the_reply_from_the_inbox(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer, mocker: MockerFixture
) -> None:
    nurtured(funnel)
    mocker.patch.object(ledger.sends, "log_attempt", side_effect=ProviderError("notion", 503, "down", retryable=True))
    with pytest.raises(ProviderError, match="notion answered 503"):
        handle(funnel, "reply", reply(), LATER)
    assert len(forwards(mailer)) == 1, "forwarded before the failure is raised: the retry records it"


def test_without_reply_inbox_a_reply_fails_naming_it_and_writes_nothing(
    ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    funnel = funnel_of(ledger, mailer)
    nurtured(funnel)
    before = (dict(ledger.sequences.records), list(ledger.sends.entries), forwards(mailer))
    live_like = replace(funnel, reply_inbox=None)
    with pytest.raises(ConfigError, match="REPLY_INBOX is not set"):
        handle(live_like, "reply", reply(), LATER)
    assert (dict(ledger.sequences.records), list(ledger.sends.entries), forwards(mailer)) == before


def test_a_failed_alert_never_fails_the_reply(ledger: InMemoryLedger, mailer: InMemoryMailer) -> None:
    funnel = funnel_of(ledger, mailer)
    funnel.alerter = InMemoryAlerter(works=False)
    nurtured(funnel)
    handled = handle(funnel, "reply", reply(), LATER)
    assert handled.alert is AlertStatus.FAILED and len(forwards(mailer)) == 1 and len(handled.stopped) == 2


def test_a_reply_to_the_websites_first_email_names_it(funnel: Funnel, alerts: InMemoryAlerter) -> None:
    handle(funnel, "assessment", body("assessment.json"), NOW)
    handled = handle(funnel, "reply", reply(), LATER)
    assert handled.last_email == "5day #1"
    assert "last email they were sent: 5day #1 (sent by the website)" in alerts.texts[-1]


@pytest.mark.parametrize(
    ("changes", "text", "html"),
    [
        ({"html": None}, "Thanks!\nJane", '<pre style="white-space: pre-wrap">Thanks!\nJane</pre>'),
        ({"text": None, "html": "<p>Thanks &amp; see you</p>"}, "Thanks & see you", "<p>Thanks &amp; see you</p>"),
        ({"text": None, "html": None}, "(the reply has no text)",
         '<pre style="white-space: pre-wrap">(the reply has no text)</pre>'),
    ],
)
def test_the_forward_has_a_text_and_an_html_part_whatever_the_reply_had(
    funnel: Funnel, mailer: InMemoryMailer, changes: dict[str, Any], text: str, html: str
) -> None:
    sample = {**reply(text="Thanks!\nJane"), **changes}
    handle(funnel, "reply", {k: v for k, v in sample.items() if v is not None}, LATER)
    (forward,) = forwards(mailer)
    assert (forward.text.strip(), forward.html) == (text, html)


def test_a_reply_without_a_subject_or_a_well_formed_message_id_is_still_forwarded(
    funnel: Funnel, mailer: InMemoryMailer
) -> None:
    sample = {k: v for k, v in reply(message_id="not an id").items() if k != "subject"}
    handle(funnel, "reply", sample, LATER)
    (forward,) = forwards(mailer)
    assert forward.subject == "(no subject)" and forward.headers == {"Auto-Submitted": "auto-generated"}


def test_a_posted_reply_needs_only_the_sender_and_is_forwarded_once_by_what_it_says(
    funnel: Funnel, mailer: InMemoryMailer
) -> None:
    bare = {"email": JANE, "subject": "Re: your plan", "text": "Yes please"}
    first = handle(funnel, "reply", bare, LATER)
    handle(funnel, "reply", bare, LATER + M)  # no received_at: it is the arrival, yet the same reply
    assert len(forwards(mailer)) == 1 and first.forward_id
    handle(funnel, "reply", {**bare, "text": "No thanks"}, LATER + 2 * M)
    assert len(forwards(mailer)) == 2, "another reply"


def test_a_reply_event_is_read_as_a_person_sends_it() -> None:
    event = read_event(
        "reply", {"email": " Jane.Doe@Example.COM ", "subject": "Re:\r\n  your\tplan", "received_at": None}, NOW
    )
    assert isinstance(event, ReplyEvent)
    assert (event.email, event.subject, event.received_at) == (JANE, "Re: your plan", NOW)
    assert event.occurrence().startswith("reply-") and event.reference().startswith("content-")
    assert read_event("reply", {**reply(), "subject": "x" * 5000}, NOW).subject == "x" * 998  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput) as caught:
        read_event("reply", {"subject": "no sender", "text": 3}, NOW)
    assert sorted(p.field for p in caught.value.problems) == ["email", "text"]


# ------------------------------------------------------------------ Resend's email.received, read at the edge

# What Resend's received-email API answers for the sample's email (its documented shape).
RECEIVED = {
    "object": "email",
    "id": "56761188-7520-42d8-8898-ff6fc54ce618",
    "to": ["reply@in.example.com"],
    "from": "Jane Doe <jane.doe@example.com>",
    "created_at": "2025-12-02T14:03:00.894719+00:00",
    "subject": "Re: Jane, what your assessment says about Booking",
    "html": "<p>Could we talk on Thursday?</p>",
    "text": "Could we talk on Thursday?",
    "headers": {"Message-ID": "<CAF7x2Kq9u3jR@mail.example.com>", "MIME-Version": "1.0"},
    "bcc": [],
    "cc": [],
    "reply_to": [],
    "message_id": "<CAF7x2Kq9u3jR@mail.example.com>",
    "attachments": [],
}


class Received:
    """Resend's received emails, as the adapter answers (or fails)."""

    def __init__(self, email: dict[str, Any] | None = None, error: ProviderError | None = None) -> None:
        self.email = email if email is not None else RECEIVED
        self.error = error
        self.asked: list[str] = []

    def get(self, email_id: str) -> dict[str, Any]:
        self.asked.append(email_id)
        if self.error is not None:
            raise self.error
        return dict(self.email)


def resend_reply(**data: Any) -> dict[str, Any]:
    sample = body("reply-resend.json")
    sample["data"] = {k: v for k, v in {**sample["data"], **data}.items() if v is not None}
    return sample


def test_resends_email_received_is_read_with_its_text_html_and_headers_from_resends_api() -> None:
    received = Received()
    event = read_event("reply", resend_reply(), NOW, received)
    assert isinstance(event, ReplyEvent) and received.asked == [RECEIVED["id"]]
    assert (event.email, event.subject, event.message_id) == (JANE, RECEIVED["subject"], RECEIVED["message_id"])
    assert (event.text, event.html, event.email_id) == (RECEIVED["text"], RECEIVED["html"], RECEIVED["id"])
    assert event.received_at == datetime(2025, 12, 2, 14, 3, 0, 894719, tzinfo=UTC) and event.automatic is None


@pytest.mark.parametrize(
    ("headers", "automatic"),
    [
        ({"Auto-Submitted": "auto-replied"}, "Auto-Submitted: auto-replied"),
        ({"auto-submitted": "no"}, None),
        ({"X-Autoreply": "yes"}, "X-Autoreply: yes"),
        ({"X-AutoRespond": "vacation"}, "X-Autorespond: vacation"),
        ({"Precedence": "bulk"}, "Precedence: bulk"),
        ({"precedence": "list"}, None),
    ],
)
def test_the_automatic_reply_headers_are_read_whatever_their_case(
    headers: dict[str, str], automatic: str | None
) -> None:
    email = {**RECEIVED, "headers": {**RECEIVED["headers"], **headers}}
    event = read_event("reply", resend_reply(), NOW, Received(email))
    assert isinstance(event, ReplyEvent) and event.automatic == automatic


def test_resends_reply_through_the_adapter_on_the_fake_resend_is_handled(
    funnel: Funnel, mailer: InMemoryMailer
) -> None:
    fake = FakeResend()
    email_id = fake.receive(headers={"Auto-Submitted": "auto-replied"})
    client = httpx.Client(transport=httpx.WSGITransport(app=fake))
    adapter = ResendReceiving(Secret(API_KEY), client=client, sleep=lambda _: None)
    handled = funnel.handle(read_event("reply", resend_reply(email_id=email_id), NOW, adapter), NOW)
    assert handled.action is Action.AUTO_REPLY_FORWARDED and handled.provider_id == email_id
    (forward,) = forwards(mailer)
    assert (forward.text, forward.reply_to) == ("Could we talk on Thursday?", JANE)
    assert forward.idempotency_key == forward_key(JANE, email_id)


@pytest.mark.parametrize(
    ("body_", "field"),
    [
        (resend_reply(**{"from": None}), "data.from"),  # no sender
        (resend_reply(**{"from": "Jane Doe"}), "data.from"),  # no address
        (resend_reply(**{"from": ["jane.doe@example.com"]}), "data.from"),
        (resend_reply(email_id=None), "data.email_id"),
        (resend_reply(email_id=42), "data.email_id"),
        (resend_reply(created_at="yesterday"), "data.created_at"),
        ({"type": "email.received", "data": "jane.doe@example.com"}, "data"),
        ({**resend_reply(), "type": "email.delivered"}, "type"),
    ],
)
def test_a_bad_email_received_fails_naming_the_field_and_reads_nothing(body_: dict[str, Any], field: str) -> None:
    received = Received()
    with pytest.raises(InvalidInput) as caught:
        read_event("reply", body_, NOW, received)
    assert [p.field for p in caught.value.problems] == [field]
    assert received.asked == [], "a body that cannot be a reply costs no call to Resend"


def test_a_resend_4xx_while_reading_the_reply_fails_once_naming_the_email_id_and_writes_nothing(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    nurtured(funnel)
    before = (dict(ledger.sequences.records), list(ledger.sends.entries), mailer.messages())
    gone = ProviderError("resend", 404, f"received email {RECEIVED['id']}: not_found: Email not found")
    with pytest.raises(InvalidInput) as caught:
        handle_with(funnel, resend_reply(), Received(error=gone))
    (problem,) = caught.value.problems
    assert problem.field == "data.email_id"
    assert "Resend did not give the received email 56761188-7520-42d8-8898-ff6fc54ce618" in problem.message
    assert "404" in problem.message and is_rejection(caught.value), "a rejection: the step fails once, at once"
    assert (dict(ledger.sequences.records), list(ledger.sends.entries), mailer.messages()) == before


def test_a_resend_outage_while_reading_the_reply_is_raised_for_the_steps_retries(funnel: Funnel) -> None:
    down = ProviderError("resend", 503, "received email x: application_error", retryable=True)
    with pytest.raises(ProviderError) as caught:
        handle_with(funnel, resend_reply(), Received(error=down))
    assert not is_rejection(caught.value), "Kestra's retries take a provider outage"


def test_resends_email_received_without_resend_fails_naming_what_it_needs() -> None:
    with pytest.raises(ConfigError, match="RESEND_API_KEY"):
        read_event("reply", resend_reply(), NOW, None)


def test_email_received_posted_to_the_email_status_flow_is_refused_pointing_at_the_reply_flow() -> None:
    with pytest.raises(InvalidInput, match=r"is email\.received: a reply, for the reply webhook \(its own flow\)"):
        read_event("email-status", resend_reply(), NOW)


def handle_with(funnel: Funnel, body_: dict[str, Any], received: Received) -> Handled:
    return funnel.handle(read_event("reply", body_, NOW, received), NOW)


junk = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=20) | st.lists(st.text(max_size=5), max_size=2)


@settings(max_examples=150, deadline=None)
@given(
    drop=st.lists(st.sampled_from(sorted(body("reply-resend.json")["data"])), max_size=3, unique=True),
    replace_with=st.dictionaries(st.sampled_from(sorted(body("reply-resend.json")["data"])), junk, max_size=2),
    headers=st.dictionaries(st.sampled_from(["Auto-Submitted", "Precedence", "X-Autoreply", "Subject"]), junk,
                            max_size=2),
)
def test_a_mangled_email_received_is_read_or_refused_by_field_never_a_crash(
    drop: list[str], replace_with: dict[str, Any], headers: dict[str, Any]
) -> None:
    sample = body("reply-resend.json")
    data = {k: v for k, v in sample["data"].items() if k not in drop}
    sample["data"] = {**data, **replace_with}
    received = Received({**RECEIVED, "headers": headers})
    try:
        event = read_event("reply", sample, NOW, received)
    except InvalidInput as error:
        assert error.problems and all(p.field and p.message for p in error.problems)
    else:
        assert isinstance(event, ReplyEvent) and event.email == event.email.strip().lower()
        assert received.asked == [event.email_id]


# ------------------------------------------------------------------ the Kestra step, as flows/reply.yml runs it


def step(tmp_path: Path, capsys: pytest.CaptureFixture[str], payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """`christmas-tasks step` on the local backends, as handle-event calls it for the reply flow: its outputs."""
    settings = {"CHRISTMAS_BACKEND": "local", "TESTING_MODE": "true", "CHRISTMAS_LOCAL_DIR": str(tmp_path / "local")}
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    request = {"command": "handle", "event": "reply", "payload": payload, "run_id": "execution-1"}
    (tmp_path / "request.json").write_text(json.dumps(request))
    code = main(["step", str(tmp_path / "request.json"), str(tmp_path / "settings.json")])
    line = capsys.readouterr().out.splitlines()[0]
    return code, json.loads(line[2:-2])["outputs"]


def test_the_step_forwards_the_sample_reply_to_the_local_inbox_and_plans_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, outputs = step(tmp_path, capsys, reply())
    assert code == 0 and outputs["rejected"] is False and outputs["planned"] == 0
    result = outputs["result"]
    assert (result["action"], result["forwarded_to"]) == ("reply_forwarded", "replies@example.org")
    assert result["stopped"] == [] and result["resend_id"] == reply()["email_id"]
    (entry,) = OutboxMailer(tmp_path / "local" / "outbox").messages()
    assert entry["to"] == "replies@example.org" and JANE not in json.dumps(entry), (
        "the outbox's index line names the inbox, not the lead (the engine suite finds a lead's emails by address)"
    )


def test_the_step_rejects_resends_email_received_on_the_local_backend_once_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, outputs = step(tmp_path, capsys, resend_reply())
    assert code == 0 and outputs["rejected"] is True and "RESEND_API_KEY" in outputs["message"]
    assert OutboxMailer(tmp_path / "local" / "outbox").messages() == []
