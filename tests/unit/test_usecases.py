"""The use cases on the in-memory ports (tests/fakes/memory.py, run through the same contract suites as the real
backends), with an exact clock: pure and fast. The results are typed (christmas_tasks/outcomes.py): the tests
assert on their fields, never on prose. Two tests at the end run on the local backends, for what only they do
(the template folder edited between two steps, the .eml on disk)."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_mock import MockerFixture

from christmas_tasks.adapters.outbox import OutboxMailer
from christmas_tasks.adapters.sqlite import SqliteLedger
from christmas_tasks.domain.errors import ConfigError, InvalidInput, NotFound, TemplateError
from christmas_tasks.domain.records import ContactUpdate
from christmas_tasks.domain.rendering import Template
from christmas_tasks.domain.vocabulary import (
    BookingStatus,
    CampaignStatus,
    EmailStatus,
    MailEvent,
    StopReason,
)
from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings
from christmas_tasks.usecases.funnel import Funnel
from christmas_tasks.usecases.outcomes import Action, AlertStatus, EmailOutcome, ScheduledEmail, SendStatus, SkipReason
from tests.conftest import EXAMPLES, NOW
from tests.fakes.memory import InMemoryAlerter, InMemoryLedger, InMemoryMailer, handle

M = timedelta(minutes=1)
JANE = "jane.doe@example.com"
CAMPAIGN = "Christmas 2025"


def body(name: str, **changes: Any) -> dict[str, Any]:
    return {**json.loads((EXAMPLES / name).read_text()), **changes}


def send_all(funnel: Funnel, plan: tuple[ScheduledEmail, ...]) -> list[EmailOutcome]:
    return [funnel.send(item.sequence_key, item.email_number, item.send_at, item.send_at) for item in plan]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_assessment_then_each_planned_email_exactly_once(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    handled = handle(funnel, "assessment", body("assessment.json"), NOW)
    assert handled.action is Action.SEQUENCE_STARTED and handled.created is True
    assert handled.sequence == "5day"
    assert handled.route is not None and (handled.route.segment, handled.route.priority) == ("CRITICAL", 1)
    assert [(p.email_number, p.send_at) for p in handled.plan] == [
        (2, at("2025-12-01T10:01:00+00:00")),
        (3, at("2025-12-01T10:02:00+00:00")),
        (4, at("2025-12-01T10:03:00+00:00")),
        (5, at("2025-12-01T10:04:00+00:00")),
    ]
    contact = ledger.contacts.get_contact(JANE)
    assert contact is not None and contact.campaign_status == CampaignStatus.NURTURE and contact.segment == "CRITICAL"

    sent = send_all(funnel, handled.plan)
    assert [s.status for s in sent] == [SendStatus.SENT] * 4
    assert len(mailer.messages()) == 4
    assert mailer.messages()[0].subject == "Jane, what your assessment says about Booking"

    record = ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", str(handled.sequence_key))
    assert record is not None and record.completed
    assert record.emails[1].sent_by == "website" and record.emails[1].sent_at == NOW
    assert record.emails[5].sent_by == "kestra" and record.emails[5].resend_id == sent[-1].resend_id

    # Running both again changes nothing.
    again = handle(funnel, "assessment", body("assessment.json"), NOW + 10 * M)
    assert again.created is False and again.plan == () and again.action is Action.ALREADY_HANDLED
    assert [s.skip for s in send_all(funnel, handled.plan)] == [SkipReason.ALREADY_SENT] * 4
    assert len(mailer.messages()) == 4


def test_the_message_has_unsubscribe_headers_tags_and_both_parts(funnel: Funnel, mailer: InMemoryMailer) -> None:
    send_all(funnel, handle(funnel, "noshow", body("noshow.json"), NOW).plan[:1])
    (message,) = mailer.messages()
    assert message.tags == {"campaign": "christmas-2025", "sequence": "noshow", "email_number": "1"}
    assert message.headers["List-Unsubscribe"].startswith(
        "<http://localhost:8080/unsubscribe?email=jane.doe%40example.com&token="
    )
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.html and message.text


def test_a_crash_between_send_and_ledger_write_sends_nothing_new(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer, mocker: MockerFixture
) -> None:
    plan = handle(funnel, "postcall", body("postcall.json"), NOW).plan
    crash = OSError("the process died before the ledger write")
    dying = mocker.patch.object(ledger.sequences, "mark_sent", side_effect=crash)
    with pytest.raises(OSError, match="died"):
        send_all(funnel, plan[:1])
    assert dying.call_count == 1 and len(mailer.messages()) == 1  # sent, not recorded
    mocker.stopall()  # the next process writes the ledger
    (retry,) = send_all(funnel, plan[:1])
    assert retry.status is SendStatus.SENT and retry.duplicate is True
    assert len(mailer.messages()) == 1


def test_unsubscribe_between_two_emails_stops_the_rest(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    plan = handle(funnel, "assessment", body("assessment.json"), NOW).plan
    send_all(funnel, plan[:1])
    handled = handle(funnel, "unsubscribe", body("unsubscribe.json"), NOW + 90 * timedelta(seconds=1))
    assert handled.action is Action.SUPPRESSED and handled.email_status is EmailStatus.UNSUBSCRIBED
    assert len(handled.stopped) == 1
    skipped = send_all(funnel, plan[1:])
    assert [(s.skip, s.detail) for s in skipped] == [(SkipReason.SUPPRESSED, EmailStatus.UNSUBSCRIBED)] * 3
    assert len(mailer.messages()) == 1
    contact = ledger.contacts.get_contact(JANE)
    assert contact is not None and contact.email_status == EmailStatus.UNSUBSCRIBED
    assert contact.campaign_status == CampaignStatus.UNSUBSCRIBED
    assert ledger.sends.entries[-1].error == "unsubscribed"  # the skip, in words, in the analytics log


def test_unsubscribe_token_must_match_when_given(funnel: Funnel, ledger: InMemoryLedger) -> None:
    with pytest.raises(InvalidInput, match="token"):
        handle(funnel, "unsubscribe", {"email": JANE, "token": "forged"}, NOW)
    assert ledger.contacts.get_contact(JANE) is None
    token = funnel.campaign.unsubscribe_token(JANE)
    assert handle(funnel, "unsubscribe", {"email": JANE, "token": token}, NOW).action is Action.SUPPRESSED


def test_a_booking_stops_the_5_day_nurture(funnel: Funnel, mailer: InMemoryMailer) -> None:
    plan = handle(funnel, "assessment", body("assessment.json"), NOW).plan
    handled = handle(funnel, "booking", body("booking-calendly.json"), NOW + 30 * timedelta(seconds=1))
    assert handled.action is Action.BOOKING_RECORDED and handled.stopped == (plan[0].sequence_key,)
    sent = send_all(funnel, plan)
    assert {s.status for s in sent} == {SendStatus.SKIPPED}
    assert (sent[0].skip, sent[0].detail, sent[0].reason) == (
        SkipReason.STOPPED,
        StopReason.BOOKED,
        "sequence stopped: booked",
    )
    assert mailer.messages() == []


def test_booking_status_set_in_the_crm_stops_the_nurture_at_send_time(funnel: Funnel, ledger: InMemoryLedger) -> None:
    plan = handle(funnel, "assessment", body("assessment.json"), NOW).plan
    ledger.contacts.upsert_contact(ContactUpdate(email=JANE, booking_status=BookingStatus.BOOKED))
    assert send_all(funnel, plan[:1])[0].skip is SkipReason.BOOKED
    record = ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", plan[0].sequence_key)
    assert record is not None and record.stopped_reason == StopReason.BOOKED


def test_payment_stops_noshow_and_postcall(funnel: Funnel) -> None:
    noshow = handle(funnel, "noshow", body("noshow.json"), NOW)
    postcall = handle(funnel, "postcall", body("postcall.json"), NOW)
    onboarding = handle(funnel, "onboarding", body("onboarding.json"), NOW + M)
    assert sorted(onboarding.stopped) == sorted([noshow.sequence_key, postcall.sequence_key])
    assert onboarding.action is Action.SEQUENCE_STARTED and len(onboarding.plan) == 3
    skipped = send_all(funnel, noshow.plan[:1])[0]
    assert (skipped.skip, skipped.detail) == (SkipReason.STOPPED, StopReason.PAID)


def test_unpaid_onboarding_starts_nothing_and_writes_nothing(funnel: Funnel, ledger: InMemoryLedger) -> None:
    handled = handle(funnel, "onboarding", body("onboarding.json", payment_confirmed=False), NOW)
    assert handled.action is Action.NOTHING_TO_START and handled.plan == ()
    assert "payment_confirmed" in handled.reason
    assert ledger.contacts.get_contact(JANE) is None


@pytest.mark.parametrize(
    ("sample", "kind", "status"),
    [
        ("email-bounced.json", "email.bounced", EmailStatus.BOUNCED),
        ("email-bounced.json", "email.complained", EmailStatus.COMPLAINED),
        ("email-suppressed.json", "email.suppressed", EmailStatus.SUPPRESSED),
    ],
)
def test_permanent_bounce_complaint_and_suppression_suppress(
    funnel: Funnel, sample: str, kind: str, status: EmailStatus
) -> None:
    plan = handle(funnel, "noshow", body("noshow.json"), NOW).plan
    handled = handle(funnel, "email-status", body(sample, type=kind), NOW)
    assert handled.action is Action.SUPPRESSED and handled.email_status is status and handled.provider_id
    assert (send_all(funnel, plan[:1])[0].skip, send_all(funnel, plan[:1])[0].detail) == (SkipReason.SUPPRESSED, status)
    # A later event for the suppressed address schedules nothing.
    later = handle(funnel, "postcall", body("postcall.json"), NOW + M)
    assert later.plan == () and later.action is Action.NOT_SCHEDULED


@pytest.mark.parametrize(
    ("sample", "kind", "mail_event"),
    [
        ("email-bounced.json", "email.delivered", MailEvent.DELIVERED),
        ("email-bounced-transient.json", "email.bounced", MailEvent.BOUNCED),
        ("email-failed.json", "email.failed", MailEvent.FAILED),
    ],
)
def test_delivery_a_transient_bounce_and_a_failure_are_recorded_not_suppressed(
    funnel: Funnel, ledger: InMemoryLedger, sample: str, kind: str, mail_event: MailEvent
) -> None:
    plan = handle(funnel, "noshow", body("noshow.json"), NOW).plan
    handled = handle(funnel, "email-status", body(sample, type=kind), NOW)
    assert handled.action is Action.RECORDED and handled.mail_event is mail_event and handled.provider_id
    contact = ledger.contacts.get_contact(JANE)
    assert contact is not None and contact.email_status == EmailStatus.OK
    assert send_all(funnel, plan[:1])[0].status is SendStatus.SENT  # the sequence goes on


def test_a_rejected_event_writes_nothing(funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer) -> None:
    with pytest.raises(InvalidInput) as caught:
        handle(funnel, "assessment", body("assessment.json", red_systems=5, orange_systems=5), NOW)
    assert "add up to" in str(caught.value)
    assert ledger.contacts.get_contact(JANE) is None and ledger.sequences.records == {} and mailer.messages() == []


def test_signup_records_the_contact_without_moving_it_back(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    signup = handle(funnel, "signup", body("signup.json"), NOW)
    assert signup.action is Action.CONTACT_RECORDED and signup.campaign_status == CampaignStatus.SIGNED_UP
    handle(funnel, "assessment", body("assessment.json"), NOW)
    handle(funnel, "signup", body("signup.json"), NOW + M)
    contact = ledger.contacts.get_contact(JANE)
    assert contact is not None and contact.campaign_status == CampaignStatus.NURTURE
    assert mailer.messages() == []


def test_critical_lead_alert_once_and_never_fatal(funnel: Funnel) -> None:
    broken = InMemoryAlerter(works=False)
    funnel = replace(funnel, alerter=broken)
    handled = handle(funnel, "assessment", body("assessment.json"), NOW)
    assert handled.alert is AlertStatus.FAILED and handled.action is Action.SEQUENCE_STARTED
    assert "CRITICAL lead: Jane" in broken.texts[0]
    handle(funnel, "assessment", body("assessment.json"), NOW)
    assert len(broken.texts) == 1  # a duplicate raises no second alert
    working = InMemoryAlerter()
    funnel = replace(funnel, alerter=working)
    calm = handle(funnel, "assessment", body("assessment.json", email="calm@example.com", red_systems=0), NOW)
    assert calm.alert is None and working.texts == []


def test_missing_or_inactive_template_stops_the_email(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    plan = handle(funnel, "noshow", body("noshow.json"), NOW).plan
    footer = "<p>{{sender_address}}{{unsubscribe_url}}</p>"
    ledger.templates.put_template(Template("noshow_recovery_email_1", "S", footer, active=False))
    with pytest.raises(TemplateError, match="noshow_recovery_email_1"):
        send_all(funnel, plan[:1])
    ledger.templates.put_template(Template("noshow_recovery_email_1", "S {{nope}}", footer))
    with pytest.raises(TemplateError, match="nope"):
        send_all(funnel, plan[:1])
    assert mailer.messages() == []
    assert [entry.status for entry in ledger.sends.entries] == ["failed", "failed"]


def test_a_template_without_a_fallback_it_needs_is_refused_even_for_a_contact_with_the_value(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    plan = handle(funnel, "assessment", body("assessment.json"), NOW).plan  # it has a weakest system
    good = ledger.templates.get_template("5-Day E2")
    ledger.templates.put_template(replace(good, subject="About {{weakest_system_1}}"))
    with pytest.raises(TemplateError, match=r"'5-Day E2': subject: \{\{weakest_system_1\}\} has no fallback"):
        send_all(funnel, plan[:1])
    assert mailer.messages() == []
    assert [entry.status for entry in ledger.sends.entries] == ["failed"]
    ledger.templates.put_template(good)
    assert [s.status for s in send_all(funnel, plan[:1])] == [SendStatus.SENT]


def test_a_stored_record_lacking_a_value_is_refused_never_sent_with_a_gap(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    """A record whose stored event lacks what its kind requires (a Notion page's Event Data edited by hand): the
    template passes the check, and rendering refuses the gap."""
    plan = handle(funnel, "noshow", body("noshow.json"), NOW).plan
    record = ledger.sequences.records[plan[0].sequence_key]
    variables = {k: v for k, v in record.variables.items() if k != "scheduled_time"}
    ledger.sequences.records[record.key] = replace(record, variables=variables)
    with pytest.raises(TemplateError, match=r"'noshow_recovery_email_1': no value and no fallback for "
                                            r"\{\{scheduled_time\}\}"):
        send_all(funnel, plan[:1])
    assert mailer.messages() == []
    assert [entry.status for entry in ledger.sends.entries] == ["failed"]


def test_a_retried_send_with_fallbacks_renders_the_identical_payload(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    lean = {k: v for k, v in body("assessment.json").items() if k not in ("assessment_score", "weakest_system_1")}
    plan = handle(funnel, "assessment", lean, NOW).plan
    first = plan[0]
    assert funnel.send(first.sequence_key, 2, first.send_at + M, first.send_at).status is SendStatus.SENT
    record = ledger.sequences.records[first.sequence_key]  # the ledger write is lost: the send is retried
    ledger.sequences.records[record.key] = replace(record, emails={k: v for k, v in record.emails.items() if k != 2})
    again = funnel.send(first.sequence_key, 2, first.send_at + 90 * M, first.send_at)  # later, same planned time
    assert again.duplicate is True  # the same key with the same payload (another payload: a 409)
    (message,) = mailer.messages()
    assert message.subject == "Jane, what your assessment says about your systems"
    assert "Your overall score is one we can go through together on a short call." in message.text


def test_send_for_an_unknown_key_fails_clearly(funnel: Funnel) -> None:
    with pytest.raises(NotFound, match="no sequence record"):
        funnel.send("christmas-2025|5day|nobody@example.com|assessment", 2, NOW)
    with pytest.raises(InvalidInput, match="sequence_key"):
        funnel.send("garbage", 2, NOW)
    with pytest.raises(InvalidInput, match="has emails 2, 3, 4, 5"):
        funnel.send("christmas-2025|5day|nobody@example.com|assessment", 1, NOW)


def test_a_retried_send_renders_the_same_payload(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    """The planned time, not the clock, feeds date variables, so a retry a day later is identical."""
    item = handle(funnel, "assessment", body("assessment.json"), NOW).plan[2]  # 5-Day E4: days_to_deadline
    first = funnel.send(item.sequence_key, 4, item.send_at, item.send_at)
    # The ledger entry is lost (as if its write failed), and the send is retried the next day.
    record = ledger.sequences.records[item.sequence_key]
    without_4 = {k: v for k, v in record.emails.items() if k != 4}
    ledger.sequences.records[item.sequence_key] = replace(record, emails=without_4)
    retry = funnel.send(item.sequence_key, 4, item.send_at + timedelta(days=1), item.send_at)
    assert retry.resend_id == first.resend_id and retry.duplicate is True
    assert len(mailer.messages()) == 1  # the same payload under the same key: no 409, one email


def test_a_retry_of_the_run_that_created_the_sequence_plans_its_unsent_emails(
    funnel: Funnel, mailer: InMemoryMailer
) -> None:
    """The handler may die after creating the record and before its plan is scheduled: its own retry
    plans the unsent emails again; a duplicate webhook (another run) still plans nothing."""
    first = handle(funnel, "assessment", body("assessment.json"), NOW, run_id="exec-1")
    send_all(funnel, first.plan[:1])
    duplicate = handle(funnel, "assessment", body("assessment.json"), NOW + M, run_id="exec-2")
    assert duplicate.plan == () and duplicate.action is Action.ALREADY_HANDLED
    retry = handle(funnel, "assessment", body("assessment.json"), NOW + M, run_id="exec-1")
    assert retry.action is Action.REPLANNED and [p.email_number for p in retry.plan] == [3, 4, 5]
    assert retry.alert is None
    send_all(funnel, first.plan)  # even if every email is scheduled again, each goes out once
    assert len(mailer.messages()) == 4


def test_every_event_kind_has_a_handler_and_a_kind_without_one_is_named() -> None:
    from christmas_tasks.domain.events import KINDS, Event, StartsSequence
    from christmas_tasks.usecases.handlers import HANDLERS, handler_for, start_sequence

    # SPEC §2's kinds, and the two the edge adds (a booking, the unsubscribe link), registered by their models alone
    spec = {"signup", "assessment", "noshow", "postcall", "onboarding", "unsubscribe", "email-status"}
    assert spec | {"booking", "unsubscribe-link"} <= set(KINDS)
    for kind, model in KINDS.items():
        assert handler_for(model) in HANDLERS.values(), kind
        if model not in HANDLERS:  # a kind with no handler of its own: StartsSequence's when it starts a sequence
            assert (handler_for(model) is start_sequence) == issubclass(model, StartsSequence), kind

    class Unhandled(Event):  # a model no handler serves: an error naming it, never a default
        def occurrence(self) -> str:
            return "x"

    with pytest.raises(ConfigError, match="Unhandled"):
        handler_for(Unhandled)


def test_the_results_become_the_json_the_flows_read(funnel: Funnel) -> None:
    handled = handle(funnel, "assessment", body("assessment.json"), NOW).as_json()
    assert handled["action"] == "sequence_started" and handled["sequence_key"].startswith("christmas-2025|5day|")
    assert handled["plan"][0] == {
        "sequence_key": handled["sequence_key"],
        "email_number": 2,
        "template": "5-Day E2",
        "send_at": "2025-12-01T10:01:00Z",
    }
    assert (handled["segment"], handled["priority"], handled["readiness_zone"]) == ("CRITICAL", 1, "Crisis Zone")
    first = handled["plan"][0]
    sent = funnel.send(first["sequence_key"], 2, NOW + M, NOW + M).as_json()
    assert sent["status"] == "sent" and sent["sent_at"] == "2025-12-01T10:01:00Z" and sent["resend_id"]
    skipped = funnel.send(first["sequence_key"], 2, NOW + 2 * M, NOW + M).as_json()
    assert (skipped["status"], skipped["skip"], skipped["reason"]) == ("skipped", "already_sent", "already sent")


# ---------------------------------------------------------------------- on the local backends


def test_a_template_edited_between_two_sends_is_the_one_sent(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(SAMPLE_TEMPLATES, folder)
    outbox = OutboxMailer(tmp_path / "outbox")
    settings = Settings.from_env({"TESTING_MODE": "true"})

    def step() -> Funnel:  # each Kestra step is a new process, with a new SqliteLedger
        return build_funnel(settings, ledger=SqliteLedger(tmp_path / "crm.sqlite3", folder), mailer=outbox)

    plan = handle(step(), "assessment", body("assessment.json"), NOW).plan
    send_all(step(), plan[:1])
    e3 = folder / "five_day_e3.html"
    e3.write_text(re.sub(r"(?m)^subject: .*$", "subject: {{first_name}}, the edited subject", e3.read_text()))
    send_all(step(), plan[1:2])
    subjects = [m["subject"] for m in outbox.messages()]
    assert subjects[1] == "Jane, the edited subject", subjects


def test_the_outbox_eml_carries_the_one_click_headers(tmp_path: Path) -> None:
    outbox = OutboxMailer(tmp_path / "outbox")
    funnel = build_funnel(
        Settings.from_env({"TESTING_MODE": "true"}),
        ledger=SqliteLedger(tmp_path / "crm.sqlite3", SAMPLE_TEMPLATES),
        mailer=outbox,
    )
    send_all(funnel, handle(funnel, "noshow", body("noshow.json"), NOW).plan[:1])
    (message,) = outbox.messages()
    eml = (Path(outbox.folder) / message["file"]).read_text()
    assert "List-Unsubscribe: <http://localhost:8080/unsubscribe?email=jane.doe%40example.com&token=" in eml
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in eml
    assert "text/plain" in eml and "text/html" in eml


# ---------------------------------------------------------------------- the unsubscribe link


def link_request(email: str, token: str | None, *, one_click: bool = True) -> dict[str, Any]:
    """What the unsubscribe-link flow passes on: Kestra's query parameters (lists) and the body."""
    parameters: dict[str, list[str]] = {"email": [email]}
    if token is not None:
        parameters["token"] = [token]
    return {"parameters": parameters, "body": "List-Unsubscribe=One-Click" if one_click else None}


def test_the_unsubscribe_link_unsubscribes_and_stops_everything_at_once(funnel: Funnel, ledger: InMemoryLedger) -> None:
    plan = handle(funnel, "assessment", body("assessment.json"), NOW).plan
    token = funnel.campaign.unsubscribe_token(JANE)
    handled = handle(funnel, "unsubscribe-link", link_request(JANE, token), NOW + M)
    assert handled.action is Action.SUPPRESSED and handled.email_status is EmailStatus.UNSUBSCRIBED
    assert handled.stopped == (plan[0].sequence_key,)
    assert send_all(funnel, plan[1:2])[0].skip is SkipReason.SUPPRESSED
    again = handle(funnel, "unsubscribe-link", link_request(JANE, token, one_click=False), NOW + 2 * M)  # a GET
    assert again.action is Action.SUPPRESSED and again.stopped == ()  # a repeat changes nothing


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("another", "token: does not match this email address"),
        ("truncated", "token: does not match this email address"),
        (None, "query.token: is required"),
        ("é" * 5, "token: does not match this email address"),
    ],
)
def test_a_forged_or_missing_token_changes_nothing(
    funnel: Funnel, ledger: InMemoryLedger, token: str | None, problem: str
) -> None:
    plan = handle(funnel, "noshow", body("noshow.json"), NOW).plan
    real = funnel.campaign.unsubscribe_token(JANE)
    given = {"another": funnel.campaign.unsubscribe_token("john@example.com"), "truncated": real[:-1]}.get(
        str(token), token
    )
    with pytest.raises(InvalidInput) as caught:
        handle(funnel, "unsubscribe-link", link_request(JANE, given), NOW + M)
    assert problem in str(caught.value)
    contact = ledger.contacts.get_contact(JANE)
    assert contact is not None and contact.email_status == EmailStatus.OK
    assert all(record.running for record in ledger.sequences.records.values())
    assert send_all(funnel, plan[:1])[0].status is SendStatus.SENT


def test_an_email_that_runs_before_an_earlier_one_leaves_it_to_be_sent_and_the_last_to_go_completes(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    """Under a queue's load, a sequence's email 2 can run before its email 1: email 1 is still sent (not skipped as
    "sequence completed"), and the sequence completes with the last email to go out."""
    first, second, third = handle(funnel, "noshow", body("noshow.json"), NOW).plan
    key = first.sequence_key
    for item in (third, second):
        assert funnel.send(key, item.email_number, item.send_at, item.send_at).status is SendStatus.SENT
    assert not ledger.sequences.campaign_sequences("Christmas 2025")[0].completed
    assert funnel.send(key, 1, first.send_at + M, first.send_at).status is SendStatus.SENT
    assert ledger.sequences.campaign_sequences("Christmas 2025")[0].completed
    assert sorted(m.tags["email_number"] for m in mailer.messages()) == ["1", "2", "3"]


def test_two_emails_of_a_sequence_going_out_at_once_still_complete_it(
    funnel: Funnel, ledger: InMemoryLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its last two emails sent at the same moment, each reading the record before the other's mark: the one that
    finds both marked after its own completes the sequence."""
    plan = handle(funnel, "noshow", body("noshow.json"), NOW).plan
    key = plan[0].sequence_key
    funnel.send(key, 1, plan[0].send_at, plan[0].send_at)
    stale = ledger.sequences.find_sequence("jane.doe@example.com", "Christmas 2025", "noshow", key)
    funnel.send(key, 2, plan[1].send_at, plan[1].send_at)  # sent, leaving email 3: not complete
    reads, real = iter([stale]), ledger.sequences.find_sequence  # email 3's send reads the record before 2's mark
    monkeypatch.setattr(ledger.sequences, "find_sequence", lambda *a: next(reads, None) or real(*a))
    assert funnel.send(key, 3, plan[2].send_at, plan[2].send_at).status is SendStatus.SENT
    assert ledger.sequences.campaign_sequences("Christmas 2025")[0].completed
