"""Reconciling the ledger with Kestra's schedule (issue 26; christmas_tasks/usecases/reconciling.py), on the in-memory
ports with an exact clock. "Kestra lost its state" is a plan nobody runs: the emails it held are never sent, and the
reconciliation finds them in the ledger once their time passed by more than the grace period, plans them again, and
each goes out exactly once, however many times it is planned."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from christmas_tasks.domain.errors import InvalidInput, ProviderError
from christmas_tasks.domain.reconciling import TESTING_GRACE
from christmas_tasks.domain.records import ContactUpdate, OutgoingEmail, SendResult
from christmas_tasks.entrypoints import kestra_step
from christmas_tasks.usecases.funnel import Funnel
from christmas_tasks.usecases.outcomes import AlertStatus, ReconcileAction, ScheduledEmail, SendStatus, SkipReason
from tests.conftest import EXAMPLES, NOW
from tests.fakes.memory import InMemoryAlerter, InMemoryLedger, InMemoryMailer, handle, in_testing_mode

S = timedelta(seconds=1)
M = timedelta(minutes=1)
H = timedelta(hours=1)
BY = "the command line"


def body(email: str, **changes: Any) -> dict[str, Any]:
    return {**json.loads((EXAMPLES / "assessment.json").read_text()), "email": email, **changes}


def run(funnel: Funnel, plan: tuple[ScheduledEmail, ...], late: timedelta = timedelta(0)) -> list[SendStatus]:
    """What the send-email executions of a plan do, each at its time."""
    return [funnel.send(i.sequence_key, i.email_number, i.send_at + late, i.send_at).status for i in plan]


def sent(mailer: InMemoryMailer) -> list[tuple[str, str]]:
    return sorted((m.to, m.tags["email_number"]) for m in mailer.messages())


def test_nothing_is_lost_while_every_email_is_within_its_time_and_grace(funnel: Funnel) -> None:
    plan = handle(funnel, "assessment", body("jane@example.com"), NOW).plan
    found = funnel.reconcile(plan[0].send_at + TESTING_GRACE - S)
    assert (found.action, found.running, found.unsent, found.lost, found.plan) == (
        ReconcileAction.RECONCILE, 1, 4, 0, ())
    assert found.reason == "no email of the 1 running sequence(s) is overdue"


def test_a_lost_schedule_is_planned_again_and_each_email_goes_out_once_however_often_it_is_planned(
    ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    funnel = in_testing_mode(ledger, mailer)
    lost = handle(funnel, "assessment", body("jane@example.com"), NOW).plan  # Kestra lost these: never run
    funnel.alerter = alerts = InMemoryAlerter()
    later = lost[-1].send_at + TESTING_GRACE
    found = funnel.reconcile(later)
    assert (found.lost, found.waiting, found.alert) == (4, 0, AlertStatus.SENT)
    assert [(i.email_number, i.template) for i in found.plan] == [(i.email_number, i.template) for i in lost]
    # from now, the catch-up gap apart (testing: a minute), as a late event's catch-up would place them
    assert [i.send_at for i in found.plan] == [later + n * M for n in range(4)]
    assert alerts.texts == [f"Christmas 2025: {found.reason}"]
    assert "4 email(s) of running sequences had nothing sent more than 10 minute(s) after their time" in found.reason
    again = funnel.reconcile(later + S)  # the next run, before the first plan's sends: planned a second time
    assert [i.email_number for i in again.plan] == [2, 3, 4, 5]
    assert run(funnel, found.plan) == [SendStatus.SENT] * 4
    assert run(funnel, again.plan, late=2 * S) == [SendStatus.SKIPPED] * 4  # the ledger stops every duplicate
    assert sent(mailer) == [("jane@example.com", str(n)) for n in range(2, 6)]
    assert funnel.reconcile(later + H).plan == ()  # nothing left to plan


def test_an_email_lost_after_others_were_sent_keeps_the_catch_up_gap_after_the_last_one(funnel: Funnel) -> None:
    plan = handle(funnel, "assessment", body("jane@example.com"), NOW).plan
    run(funnel, plan[:1], late=12 * M)  # email 2 went out twelve minutes late (a queue); 3 and 4 were lost
    found = funnel.reconcile(plan[0].send_at + 12 * M + 30 * S)
    assert [(i.email_number, i.send_at) for i in found.plan] == [
        (3, plan[0].send_at + 13 * M), (4, plan[0].send_at + 14 * M)]  # the gap (a minute) after email 2's send


def test_reschedule_plans_every_unsent_email_at_the_time_its_event_planned_it(funnel: Funnel) -> None:
    plan = handle(funnel, "assessment", body("jane@example.com"), NOW).plan
    run(funnel, plan[:1])
    found = funnel.reconcile(plan[0].send_at + S, everything=True)
    assert (found.action, found.lost) == (ReconcileAction.RESCHEDULE, 0)
    assert found.plan == plan[1:]
    assert funnel.reconcile(plan[0].send_at + S).plan == ()  # the hourly one plans none of them: none is overdue


def test_reschedule_places_the_lost_ones_from_now_and_the_rest_after_them(funnel: Funnel) -> None:
    plan = handle(funnel, "assessment", body("jane@example.com"), NOW).plan
    now = plan[1].send_at + TESTING_GRACE  # emails 2 and 3 lost, 4 and 5 to come
    found = funnel.reconcile(now, everything=True)
    assert found.lost == 2
    assert [(i.email_number, i.send_at) for i in found.plan] == [
        (2, now), (3, now + M), (4, max(plan[2].send_at, now + 2 * M)), (5, max(plan[3].send_at, now + 3 * M))]


def test_the_send_cap_spreads_the_lost_emails_and_what_falls_past_the_hour_waits_for_the_next_run(
    ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    funnel = in_testing_mode(ledger, mailer, SEND_CAP="2")
    plans = [handle(funnel, "assessment", body(f"lead{n}@example.com"), NOW).plan for n in range(3)]
    now = plans[0][-1].send_at + TESTING_GRACE
    first = funnel.reconcile(now)
    assert (first.lost, len(first.plan), first.waiting) == (12, 2, 10)  # two an hour: one every 30 minutes
    assert [i.send_at for i in first.plan] == [now, now + 30 * M]
    assert "10 more wait for the next reconciliation" in first.reason
    run(funnel, first.plan)
    second = funnel.reconcile(now + H)
    assert (second.lost, len(second.plan), second.waiting) == (10, 2, 8)
    assert not {(i.sequence_key, i.email_number) for i in first.plan} & {
        (i.sequence_key, i.email_number) for i in second.plan}


def test_a_paused_campaign_held_emails_suppressed_contacts_and_ended_sequences_get_nothing(
    funnel: Funnel, ledger: InMemoryLedger
) -> None:
    jane = handle(funnel, "assessment", body("jane@example.com"), NOW).plan
    handle(funnel, "assessment", body("kim@example.com"), NOW)
    handle(funnel, "assessment", body("lee@example.com"), NOW)
    ledger.contacts.upsert_contact(ContactUpdate("kim@example.com", email_status="do not email"))  # typed in Notion
    handle(funnel, "unsubscribe", {"email": "lee@example.com"}, NOW)
    later = jane[-1].send_at + TESTING_GRACE
    funnel.pause(NOW, "complaints to look at", BY)
    run(funnel, jane[:2])  # held: they ran, and a resume plans them
    paused = funnel.reconcile(later)
    assert (paused.paused, paused.plan) == (True, ())
    assert paused.reason.startswith("the campaign is paused")
    funnel.resume(later, BY)  # its plan is scheduled by the campaign flow (not run here)
    found = funnel.reconcile(later)
    assert (found.running, found.suppressed) == (2, 1)  # Lee's sequence stopped; Kim is suppressed by hand
    assert [("jane@example.com" in i.sequence_key, i.email_number) for i in found.plan] == [
        (True, 4), (True, 5)]
    # the resume's plan lost too (Kestra's state gone since): a reschedule plans the held ones with the rest
    everything = funnel.reconcile(later, everything=True)
    assert [i.email_number for i in everything.plan] == [2, 3, 4, 5]


def test_outside_the_send_window_a_lost_email_waits_for_it(ledger: InMemoryLedger, mailer: InMemoryMailer) -> None:
    funnel = in_testing_mode(ledger, mailer, TESTING_MODE="false", SEND_WINDOW="mon-fri 09:00-17:00",
                       CAMPAIGN_TIMEZONE="UTC")
    # Monday 1 December 2025, 10:00 UTC; Jane is in Toronto (UTC-5), where the window applies
    plan = handle(funnel, "assessment", body("jane@example.com"), NOW).plan
    saturday = datetime(2025, 12, 13, 12, 0, tzinfo=NOW.tzinfo)
    assert plan[-1].send_at < saturday
    weekend = funnel.reconcile(saturday)
    assert (weekend.lost, weekend.plan, weekend.waiting) == (4, (), 4)  # Monday 09:00 in Toronto is past the hour
    monday = funnel.reconcile(datetime(2025, 12, 15, 14, 0, tzinfo=NOW.tzinfo))
    assert [(i.email_number, i.send_at) for i in monday.plan] == [(2, datetime(2025, 12, 15, 14, 0, tzinfo=NOW.tzinfo))]
    assert monday.waiting == 3  # the others 12 hours (the catch-up gap) apart: one at a time, hour by hour


def test_a_grace_period_that_is_not_one_is_refused_by_name(funnel: Funnel) -> None:
    for grace in (timedelta(0), timedelta(days=8)):
        with pytest.raises(InvalidInput) as caught:
            funnel.reconcile(NOW, grace=grace)
        assert caught.value.problems[0].field == "grace"


def test_the_step_reconciles_for_the_campaign_flow_and_names_a_bad_grace(tmp_path: Any) -> None:
    values = {"CHRISTMAS_BACKEND": "local", "CHRISTMAS_LOCAL_DIR": str(tmp_path), "TESTING_MODE": "true"}
    assessment = {"command": "handle", "event": "assessment", "payload": body("jane@example.com"), "run_id": "r1"}
    plan = kestra_step.run(assessment, values, NOW)["result"]["plan"]
    later = NOW + timedelta(hours=2)
    request = {"command": "campaign", "payload": {"action": "reconcile", "grace": "10m"}}
    outputs = kestra_step.run(request, values, later)
    assert outputs["planned"] == 4 and outputs["result"]["grace_seconds"] == 600
    assert [i["email_number"] for i in outputs["result"]["plan"]] == [i["email_number"] for i in plan]
    assert outputs["result"]["plan"][0]["send_at"] == "2025-12-01T12:00:00Z"
    bad = {"command": "campaign", "payload": {"action": "reconcile", "grace": "soon"}}
    with pytest.raises(InvalidInput) as caught:
        kestra_step.run(bad, values, later)
    assert caught.value.problems[0].field == "payload.grace"


def test_two_executions_of_one_email_on_different_days_racing_send_it_once_and_neither_fails(
    ledger: InMemoryLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reconcile's plan of an email whose first execution was alive after all, the two running at once: both read
    the ledger before either's mark. The second's dates are another day's (its planned time), so the mailer refuses
    its payload under the email's key (Resend's invalid_idempotent_request): the ledger, read again, says sent, and
    it is skipped, not failed."""

    class Refusing(InMemoryMailer):  # every template's dates differ by a day: another payload under the same key
        def send(self, message: OutgoingEmail) -> SendResult:
            if message.idempotency_key in self.sent:
                raise ProviderError("resend", 409, "invalid_idempotent_request: another payload")
            return super().send(message)

    mailer = Refusing()
    funnel = in_testing_mode(ledger, mailer)
    (first, *_) = handle(funnel, "assessment", body("jane@example.com"), NOW).plan
    stale = ledger.sequences.find_sequence("jane@example.com", "Christmas 2025", "5day", first.sequence_key)
    assert run(funnel, (first,)) == [SendStatus.SENT]
    reads = iter([stale])  # the twin's first read: the record as it was before the first's mark
    real = ledger.sequences.find_sequence
    monkeypatch.setattr(ledger.sequences, "find_sequence", lambda *a: next(reads, None) or real(*a))
    twin = funnel.send(first.sequence_key, 2, first.send_at + 2 * H, first.send_at + timedelta(days=1))
    assert (twin.status, twin.skip) == (SendStatus.SKIPPED, SkipReason.ALREADY_SENT)
    assert sent(mailer) == [("jane@example.com", "2")]
    monkeypatch.setattr(ledger.sequences, "find_sequence", lambda *a: stale)  # never marked: the refusal stands
    with pytest.raises(ProviderError):
        funnel.send(first.sequence_key, 2, first.send_at + 2 * H, first.send_at + timedelta(days=1))
