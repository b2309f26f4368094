"""The deliverability guard (christmas_tasks/usecases/guard.py) on a ledger built through the use cases, as
tests/report/ledger.py builds one: real assessments, their second emails sent, then Resend's complaints and bounces
handled as the email-status flow hands them over. Past a critical mark the campaign pauses itself, says why and
alerts once; a person resumes."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings
from christmas_tasks.usecases.funnel import Funnel
from christmas_tasks.usecases.outcomes import AlertStatus, SendStatus
from tests.conftest import EXAMPLES, NOW
from tests.fakes.memory import InMemoryAlerter, InMemoryLedger, InMemoryMailer, handle

M = timedelta(minutes=1)
H = timedelta(hours=1)
LATER = NOW + timedelta(days=1)


def status_event(kind: str, email: str, **changes: Any) -> dict[str, Any]:
    """Resend's email.complained or email.bounced (permanent unless `bounce` says otherwise) for `email`."""
    raw = json.loads((EXAMPLES / "email-bounced.json").read_text())
    raw["data"]["to"] = [email]
    raw["type"] = f"email.{kind}"
    if kind != "bounced":
        del raw["data"]["bounce"]
    raw["data"].update(changes)
    return raw


def campaign(contacts: int, alerts: InMemoryAlerter | None = None, **env: str) -> tuple[Funnel, list[Any]]:
    """`contacts` assessments a minute apart (each with the website's email 1 in the ledger) and each one's email 2
    sent: two emails per address, lead0's the oldest."""
    funnel = build_funnel(Settings.from_env({"TESTING_MODE": "true", **env}), ledger=InMemoryLedger(SAMPLE_TEMPLATES),
                          mailer=InMemoryMailer())
    plans = []
    for n in range(contacts):
        first = NOW + n * M
        raw = {**json.loads((EXAMPLES / "assessment.json").read_text()), "email": f"lead{n}@example.com",
               "email_1_sent_at": first.isoformat()}
        plan = handle(funnel, "assessment", raw, first).plan
        assert funnel.send(plan[0].sequence_key, 2, plan[0].send_at, plan[0].send_at).status is SendStatus.SENT
        plans.append(plan)
    funnel.alerter = alerts  # from here on: the leads' own alerts (CRITICAL segment) are not the guard's
    return funnel, plans


def test_a_complaint_past_the_critical_mark_pauses_the_campaign_says_why_and_alerts_once() -> None:
    alerts = InMemoryAlerter()
    funnel, plans = campaign(30, alerts)  # 60 emails sent
    handled = handle(funnel, "email-status", status_event("complained", "lead3@example.com"), LATER)
    why = "complaint rate 1.67% (1 of the last 60 emails) is at or over 0.3%"
    assert (handled.campaign_paused, handled.alert) == (why, AlertStatus.SENT)
    assert handled.as_json()["campaign_paused"] == why and handled.stopped == (plans[3][0].sequence_key,)
    (text,) = alerts.texts
    assert text == (f"Christmas 2025: the deliverability guard paused the campaign: {why}. Nothing is sent until a "
                    "person resumes it (christmas-tasks campaign status; the campaign flow, action resume).")
    status = funnel.status(LATER)
    assert (status.state.paused, status.state.reason) == (True, why)
    assert status.state.changed_by == "the deliverability guard"
    assert status.deliverability is not None and status.deliverability.as_json()["complaint_mark"] == "critical"
    item = plans[0][1]
    assert funnel.send(item.sequence_key, 3, item.send_at, item.send_at).status is SendStatus.HELD
    again = handle(funnel, "email-status", status_event("complained", "lead4@example.com"), LATER + H)
    assert again.campaign_paused is None and len(alerts.texts) == 1, "paused already: its reason stands, one alert"
    resumed = funnel.resume(LATER + H, "the command line", "complaints reviewed")
    assert not resumed.state.paused and [i.email_number for i in resumed.plan] == [3], "a person resumes"


def test_fewer_than_50_emails_sent_are_no_rate_to_judge() -> None:
    funnel, _ = campaign(20)  # 40 emails
    handled = handle(funnel, "email-status", status_event("complained", "lead1@example.com"), LATER)
    assert handled.campaign_paused is None and not funnel.status(LATER).state.paused


def test_a_complaint_rate_under_the_critical_mark_is_a_warning_and_pauses_nothing() -> None:
    funnel, _ = campaign(200, GUARD_WINDOW="1000")  # 400 emails: one complaint is 0.25 %
    handled = handle(funnel, "email-status", status_event("complained", "lead7@example.com"), LATER)
    assert handled.campaign_paused is None
    status = funnel.status(LATER)
    assert not status.state.paused and status.deliverability is not None
    assert status.deliverability.as_json() == {
        "window": 1000, "sent": 400, "judged": True, "complaints": 1, "complaint_rate": 0.0025,
        "complaint_mark": "warning", "bounces": 0, "bounce_rate": 0.0, "bounce_mark": None,
    }


def test_bounces_pause_the_campaign_over_4_percent_not_at_it() -> None:
    funnel, _ = campaign(50)  # 100 emails
    for n in range(4):
        handled = handle(funnel, "email-status", status_event("bounced", f"lead{n}@example.com"), LATER)
        assert handled.campaign_paused is None, f"{n + 1} bounces in 100"
    handled = handle(funnel, "email-status", status_event("bounced", "lead4@example.com"), LATER)
    assert handled.campaign_paused == (
        "bounce rate 5.00% (5 of the last 100 emails) is over 4.0%"
    )


def test_a_transient_bounce_a_failure_or_an_unsubscribe_never_pauses() -> None:
    funnel, _ = campaign(30)
    for n in range(10):
        transient = status_event("bounced", f"lead{n}@example.com")
        transient["data"]["bounce"]["type"] = "Transient"
        assert handle(funnel, "email-status", transient, LATER).campaign_paused is None
        unsubscribe = {**json.loads((EXAMPLES / "unsubscribe.json").read_text()), "email": f"lead{n}@example.com"}
        assert handle(funnel, "unsubscribe", unsubscribe, LATER).campaign_paused is None
    assert not funnel.status(LATER).state.paused


def test_only_the_last_window_of_emails_counts() -> None:
    funnel, _ = campaign(30, GUARD_WINDOW="50")  # 60 emails; lead0's two are the oldest
    handled = handle(funnel, "email-status", status_event("complained", "lead0@example.com"), LATER)
    assert handled.campaign_paused is None, "lead0's emails are not among the last 50"
    handled = handle(funnel, "email-status", status_event("complained", "lead29@example.com"), LATER)
    assert handled.campaign_paused is not None and "(1 of the last 50 emails)" in handled.campaign_paused
