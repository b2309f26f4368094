"""The use cases on the embedded local backends (SqliteCrm + OutboxMailer), with an exact clock."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from christmas_tasks.adapters.outbox import OutboxMailer
from christmas_tasks.adapters.sqlite_crm import SqliteCrm
from christmas_tasks.app import build_funnel
from christmas_tasks.errors import InvalidInput, NotFound, TemplateError
from christmas_tasks.planning import parse_timestamp
from christmas_tasks.ports import SentMark, SequenceRecord
from christmas_tasks.rendering import Template
from christmas_tasks.settings import SAMPLE_TEMPLATES, Settings
from christmas_tasks.usecases import Funnel
from tests.conftest import EXAMPLES, NOW

M = timedelta(minutes=1)


def body(name: str, **changes: Any) -> dict[str, Any]:
    return {**json.loads((EXAMPLES / name).read_text()), **changes}


class Alerts:
    def __init__(self, works: bool = True) -> None:
        self.works = works
        self.texts: list[str] = []

    def alert(self, text: str) -> bool:
        self.texts.append(text)
        if not self.works:
            raise RuntimeError("discord is down")
        return True


@pytest.fixture
def crm(tmp_path: Path) -> SqliteCrm:
    return SqliteCrm(tmp_path / "crm.sqlite3", SAMPLE_TEMPLATES)


@pytest.fixture
def outbox(tmp_path: Path) -> OutboxMailer:
    return OutboxMailer(tmp_path / "outbox")


@pytest.fixture
def funnel(crm: SqliteCrm, outbox: OutboxMailer) -> Funnel:
    settings = Settings.from_env({"TESTING_MODE": "true"})
    return build_funnel(settings, crm=crm, mailer=outbox)


def send_all(funnel: Funnel, plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        funnel.send(
            item["sequence_key"],
            item["email_number"],
            parse_timestamp(item["send_at"]),
            parse_timestamp(item["send_at"]),
        )
        for item in plan
    ]


def test_assessment_then_each_planned_email_exactly_once(funnel: Funnel, crm: SqliteCrm, outbox: OutboxMailer) -> None:
    result = funnel.handle("assessment", body("assessment.json"), NOW)
    assert result["action"] == "sequence started" and result["created"] is True
    assert result["segment"] == "CRITICAL" and result["priority"] == 1
    assert [(p["email_number"], p["send_at"]) for p in result["plan"]] == [
        (2, "2025-12-01T10:01:00Z"),
        (3, "2025-12-01T10:02:00Z"),
        (4, "2025-12-01T10:03:00Z"),
        (5, "2025-12-01T10:04:00Z"),
    ]
    contact = crm.get_contact("jane.doe@example.com")
    assert contact is not None and contact.campaign_status == "Nurture Sequence" and contact.segment == "CRITICAL"

    sent = send_all(funnel, result["plan"])
    assert [s["status"] for s in sent] == ["sent"] * 4
    messages = outbox.messages()
    assert len(messages) == 4
    assert messages[0]["subject"] == "Jane, what your assessment says about Booking"

    key = result["sequence_key"]
    record = crm.find_sequence("jane.doe@example.com", "Christmas 2025", "5day", key)
    assert record is not None and record.completed
    assert record.emails[1].sent_by == "website" and record.emails[1].sent_at == NOW
    assert record.emails[5].sent_by == "kestra" and record.emails[5].resend_id == sent[-1]["resend_id"]

    # Running both again changes nothing.
    again = funnel.handle("assessment", body("assessment.json"), NOW + 10 * M)
    assert again["created"] is False and again["plan"] == [] and again["action"] == "already handled"
    assert [s["status"] for s in send_all(funnel, result["plan"])] == ["skipped"] * 4
    assert len(outbox.messages()) == 4


def test_message_has_unsubscribe_headers_tags_and_parts(funnel: Funnel, outbox: OutboxMailer) -> None:
    plan = funnel.handle("noshow", body("noshow.json"), NOW)["plan"]
    send_all(funnel, plan[:1])
    (message,) = outbox.messages()
    assert message["tags"] == {"campaign": "christmas-2025", "sequence": "noshow", "email_number": "1"}
    eml = (Path(outbox.folder) / message["file"]).read_text()
    assert "List-Unsubscribe: <http://localhost:8080/unsubscribe?email=jane.doe%40example.com&token=" in eml
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in eml
    assert "text/plain" in eml and "text/html" in eml


def test_a_crash_between_send_and_ledger_write_sends_nothing_new(
    funnel: Funnel, crm: SqliteCrm, outbox: OutboxMailer
) -> None:
    plan = funnel.handle("postcall", body("postcall.json"), NOW)["plan"]
    real_mark = crm.mark_sent
    calls = {"n": 0}

    def crash_once(record: SequenceRecord, mark: SentMark) -> SequenceRecord:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("the process died before the ledger write")
        return real_mark(record, mark)

    crm.mark_sent = crash_once  # type: ignore[method-assign]
    with pytest.raises(OSError):
        send_all(funnel, plan[:1])
    retry = send_all(funnel, plan[:1])[0]
    assert retry["status"] == "sent" and retry["duplicate"] is True
    assert len(outbox.messages()) == 1


def test_unsubscribe_between_two_emails_stops_the_rest(funnel: Funnel, crm: SqliteCrm, outbox: OutboxMailer) -> None:
    plan = funnel.handle("assessment", body("assessment.json"), NOW)["plan"]
    send_all(funnel, plan[:1])
    result = funnel.handle("unsubscribe", body("unsubscribe.json"), NOW + 90 * timedelta(seconds=1))
    assert result["action"] == "contact unsubscribed" and len(result["stopped"]) == 1
    assert [s["status"] for s in send_all(funnel, plan[1:])] == ["skipped"] * 3
    assert send_all(funnel, plan[1:2])[0]["reason"] == "unsubscribed"
    assert len(outbox.messages()) == 1
    contact = crm.get_contact("jane.doe@example.com")
    assert contact is not None and contact.email_status == "unsubscribed" and contact.campaign_status == "Unsubscribed"


def test_unsubscribe_token_must_match_when_given(funnel: Funnel, crm: SqliteCrm) -> None:
    with pytest.raises(InvalidInput, match="token"):
        funnel.handle("unsubscribe", {"email": "jane.doe@example.com", "token": "forged"}, NOW)
    assert crm.get_contact("jane.doe@example.com") is None
    token = funnel.campaign.unsubscribe_token("jane.doe@example.com")
    assert (
        funnel.handle("unsubscribe", {"email": "jane.doe@example.com", "token": token}, NOW)["action"]
        == "contact unsubscribed"
    )


def test_a_booking_stops_the_5_day_nurture(funnel: Funnel, crm: SqliteCrm, outbox: OutboxMailer) -> None:
    plan = funnel.handle("assessment", body("assessment.json"), NOW)["plan"]
    result = funnel.handle("booking", body("booking-calendly.json"), NOW + 30 * timedelta(seconds=1))
    assert result["stopped"] == [plan[0]["sequence_key"]]
    sent = send_all(funnel, plan)
    assert {s["status"] for s in sent} == {"skipped"} and sent[0]["reason"] == "sequence stopped: booked"
    assert outbox.messages() == []


def test_booking_status_set_in_the_crm_stops_the_nurture_at_send_time(funnel: Funnel, crm: SqliteCrm) -> None:
    from christmas_tasks.ports import ContactUpdate

    plan = funnel.handle("assessment", body("assessment.json"), NOW)["plan"]
    crm.upsert_contact(ContactUpdate(email="jane.doe@example.com", booking_status="Booked"))
    assert send_all(funnel, plan[:1])[0]["reason"] == "booked"
    record = crm.find_sequence("jane.doe@example.com", "Christmas 2025", "5day", plan[0]["sequence_key"])
    assert record is not None and record.stopped_reason == "booked"


def test_payment_stops_noshow_and_postcall(funnel: Funnel, crm: SqliteCrm) -> None:
    noshow = funnel.handle("noshow", body("noshow.json"), NOW)
    postcall = funnel.handle("postcall", body("postcall.json"), NOW)
    onboarding = funnel.handle("onboarding", body("onboarding.json"), NOW + M)
    assert sorted(onboarding["stopped"]) == sorted([noshow["sequence_key"], postcall["sequence_key"]])
    assert onboarding["action"] == "sequence started" and len(onboarding["plan"]) == 3
    assert send_all(funnel, noshow["plan"][:1])[0]["reason"] == "sequence stopped: paid"


def test_unpaid_onboarding_starts_nothing_and_writes_nothing(funnel: Funnel, crm: SqliteCrm) -> None:
    result = funnel.handle("onboarding", body("onboarding.json", payment_confirmed=False), NOW)
    assert result["action"] == "nothing to start" and "payment_confirmed" in result["reason"] and result["plan"] == []
    assert crm.get_contact("jane.doe@example.com") is None


@pytest.mark.parametrize(
    ("sample", "kind", "status"),
    [
        ("email-bounced.json", "email.bounced", "bounced"),
        ("email-bounced.json", "email.complained", "complained"),
        ("email-suppressed.json", "email.suppressed", "suppressed"),
    ],
)
def test_permanent_bounce_complaint_and_suppression_suppress(
    funnel: Funnel, crm: SqliteCrm, sample: str, kind: str, status: str
) -> None:
    plan = funnel.handle("noshow", body("noshow.json"), NOW)["plan"]
    result = funnel.handle("email-status", body(sample, type=kind), NOW)
    assert result["action"] == f"contact {status}"
    assert send_all(funnel, plan[:1])[0]["reason"] == status
    # A later event for the suppressed address schedules nothing.
    later = funnel.handle("postcall", body("postcall.json"), NOW + M)
    assert later["plan"] == [] and "nothing scheduled" in later["action"]


@pytest.mark.parametrize(
    ("sample", "kind", "reason"),
    [
        ("email-bounced.json", "email.delivered", "email.delivered: the address is not suppressed"),
        ("email-bounced-transient.json", "email.bounced", "email.bounced (Transient bounce): the address is not"),
        ("email-failed.json", "email.failed", "email.failed: the address is not suppressed"),
    ],
)
def test_delivery_a_transient_bounce_and_a_failure_are_recorded_not_suppressed(
    funnel: Funnel, crm: SqliteCrm, sample: str, kind: str, reason: str
) -> None:
    plan = funnel.handle("noshow", body("noshow.json"), NOW)["plan"]
    result = funnel.handle("email-status", body(sample, type=kind), NOW)
    assert result["action"] == "recorded" and result["reason"].startswith(reason) and result["resend_id"]
    contact = crm.get_contact("jane.doe@example.com")
    assert contact is not None and contact.email_status == "ok"
    assert send_all(funnel, plan[:1])[0]["status"] == "sent"  # the sequence goes on


def test_a_rejected_event_writes_nothing(funnel: Funnel, crm: SqliteCrm, outbox: OutboxMailer) -> None:
    with pytest.raises(InvalidInput) as caught:
        funnel.handle("assessment", body("assessment.json", red_systems=5, orange_systems=5), NOW)
    assert "add up to" in str(caught.value)
    assert crm.get_contact("jane.doe@example.com") is None and outbox.messages() == []


def test_signup_records_the_contact_without_moving_it_back(
    funnel: Funnel, crm: SqliteCrm, outbox: OutboxMailer
) -> None:
    assert funnel.handle("signup", body("signup.json"), NOW)["campaign_status"] == "Signed Up"
    contact = crm.get_contact("jane.doe@example.com")
    assert contact is not None and contact.campaign_status == "Signed Up"
    funnel.handle("assessment", body("assessment.json"), NOW)
    funnel.handle("signup", body("signup.json"), NOW + M)
    contact = crm.get_contact("jane.doe@example.com")
    assert contact is not None and contact.campaign_status == "Nurture Sequence"
    assert outbox.messages() == []


def test_critical_lead_alert_once_and_never_fatal(crm: SqliteCrm, outbox: OutboxMailer) -> None:
    settings = Settings.from_env({"TESTING_MODE": "true"})
    broken = Alerts(works=False)
    funnel = replace(build_funnel(settings, crm=crm, mailer=outbox), alerter=broken)
    result = funnel.handle("assessment", body("assessment.json"), NOW)
    assert result["alert"] == "failed" and result["action"] == "sequence started"
    assert "CRITICAL lead: Jane" in broken.texts[0]
    funnel.handle("assessment", body("assessment.json"), NOW)
    assert len(broken.texts) == 1  # a duplicate raises no second alert
    working = Alerts()
    funnel = replace(funnel, alerter=working)
    calm = funnel.handle("assessment", body("assessment.json", email="calm@example.com", red_systems=0), NOW)
    assert "alert" not in calm and working.texts == []


def test_missing_or_inactive_template_stops_the_email(funnel: Funnel, crm: SqliteCrm, outbox: OutboxMailer) -> None:
    plan = funnel.handle("noshow", body("noshow.json"), NOW)["plan"]
    crm.put_template(
        Template("noshow_recovery_email_1", "S", "<p>{{sender_address}}{{unsubscribe_url}}</p>", active=False)
    )
    with pytest.raises(TemplateError, match="noshow_recovery_email_1"):
        send_all(funnel, plan[:1])
    crm.put_template(Template("noshow_recovery_email_1", "S {{nope}}", "<p>{{sender_address}}{{unsubscribe_url}}</p>"))
    with pytest.raises(TemplateError, match="nope"):
        send_all(funnel, plan[:1])
    assert outbox.messages() == []


def test_send_for_an_unknown_key_fails_clearly(funnel: Funnel) -> None:
    with pytest.raises(NotFound, match="no sequence record"):
        funnel.send("christmas-2025|5day|nobody@example.com|assessment", 2, NOW)
    with pytest.raises(InvalidInput, match="sequence_key"):
        funnel.send("garbage", 2, NOW)
    with pytest.raises(InvalidInput, match="has emails 2, 3, 4, 5"):
        funnel.send("christmas-2025|5day|nobody@example.com|assessment", 1, NOW)


def test_retried_send_renders_the_same_payload(funnel: Funnel, outbox: OutboxMailer, crm: SqliteCrm) -> None:
    """The planned time, not the clock, feeds date variables, so a retry a day later is identical."""
    plan = funnel.handle("assessment", body("assessment.json"), NOW)["plan"]
    item = plan[2]  # 5-Day E4 uses days_to_deadline in its subject
    due = parse_timestamp(item["send_at"])
    first = funnel.send(item["sequence_key"], 4, due, due)
    record = crm.find_sequence("jane.doe@example.com", "Christmas 2025", "5day", item["sequence_key"])
    assert record is not None
    # Forget the ledger entry (as if the ledger write was lost) and retry the next day.
    crm_record = replace(record, emails={k: v for k, v in record.emails.items() if k != 4})
    crm.find_sequence = lambda *a, **k: crm_record  # type: ignore[method-assign]
    retry = funnel.send(item["sequence_key"], 4, due + timedelta(days=1), due)
    assert retry["resend_id"] == first["resend_id"] and retry["duplicate"] is True


def test_a_retry_of_the_run_that_created_the_sequence_plans_its_unsent_emails(
    funnel: Funnel, outbox: OutboxMailer
) -> None:
    """The handler may die after creating the record and before its plan is scheduled: its own retry
    plans the unsent emails again; a duplicate webhook (another run) still plans nothing."""
    first = funnel.handle("assessment", body("assessment.json"), NOW, run_id="exec-1")
    send_all(funnel, first["plan"][:1])
    duplicate = funnel.handle("assessment", body("assessment.json"), NOW + M, run_id="exec-2")
    assert duplicate["plan"] == [] and duplicate["action"] == "already handled"
    retry = funnel.handle("assessment", body("assessment.json"), NOW + M, run_id="exec-1")
    assert [p["email_number"] for p in retry["plan"]] == [3, 4, 5]
    assert "alert" not in retry
    send_all(funnel, first["plan"])  # even if every email is scheduled again, each goes out once
    assert len(outbox.messages()) == 4


def test_a_template_edited_between_two_sends_is_the_one_sent(tmp_path: Path, outbox: OutboxMailer) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(SAMPLE_TEMPLATES, folder)
    settings = Settings.from_env({"TESTING_MODE": "true"})

    def step() -> Funnel:  # each Kestra step is a new process, with a new SqliteCrm
        return build_funnel(settings, crm=SqliteCrm(tmp_path / "crm.sqlite3", folder), mailer=outbox)

    plan = step().handle("assessment", body("assessment.json"), NOW)["plan"]
    send_all(step(), plan[:1])
    e3 = folder / "five_day_e3.html"
    e3.write_text(re.sub(r"(?m)^subject: .*$", "subject: {{first_name}}, the edited subject", e3.read_text()))
    send_all(step(), plan[1:2])
    subjects = [m["subject"] for m in outbox.messages()]
    assert subjects[1] == "Jane, the edited subject", subjects
