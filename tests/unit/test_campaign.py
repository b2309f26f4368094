"""Pause and resume (SPEC §11) on the in-memory ports, with an exact clock: while paused nothing is sent and each
email that falls due is held (recorded, its execution ended); events are handled as ever; a resume plans every held
email again, spread by the send window and SEND_CAP, and each goes out exactly once (christmas_tasks/usecases/
campaign.py says why). The same on the local SQLite ledger at the end."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from christmas_tasks.adapters.sqlite import SqliteLedger
from christmas_tasks.domain.errors import InvalidInput
from christmas_tasks.domain.records import CampaignState, SequenceRecord
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES
from christmas_tasks.usecases.funnel import Funnel
from christmas_tasks.usecases.outcomes import CampaignAction, EmailOutcome, ScheduledEmail, SendStatus, SkipReason
from christmas_tasks.usecases.ports import Ledger
from tests.conftest import EXAMPLES, NOW
from tests.fakes.memory import InMemoryLedger, InMemoryMailer, handle, in_testing_mode

M = timedelta(minutes=1)
H = timedelta(hours=1)
CAMPAIGN = "Christmas 2025"
BY = "the command line"


def body(name: str, email: str, **changes: Any) -> dict[str, Any]:
    raw = json.loads((EXAMPLES / name).read_text())
    if "payload" in raw:  # a Calendly body
        raw["payload"]["email"] = email
    else:
        raw["email"] = email
    return {**raw, **changes}


def send(funnel: Funnel, item: ScheduledEmail, late: timedelta = timedelta(0)) -> EmailOutcome:
    """What one send-email execution does at its time (its `scheduled_for`, the plan's time)."""
    return funnel.send(item.sequence_key, item.email_number, item.send_at + late, item.send_at)


def record_of(ledger: Ledger, key: str) -> SequenceRecord:
    (found,) = [r for r in ledger.sequences.campaign_sequences(CAMPAIGN) if r.key == key]
    return found


def test_while_paused_a_due_email_is_held_recorded_and_sent_once_after_the_resume(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    plan = handle(funnel, "assessment", body("assessment.json", "jane@example.com"), NOW).plan
    paused = funnel.pause(NOW, "complaints to look at", BY)
    assert (paused.action, paused.state) == (CampaignAction.PAUSED, CampaignState(CAMPAIGN, True,
                                                                                 "complaints to look at", NOW, BY))
    held = send(funnel, plan[0])
    assert (held.status, held.reason) == (SendStatus.HELD, "campaign paused: complaints to look at")
    assert held.as_json() == {
        "sequence_key": plan[0].sequence_key, "email_number": 2, "template": "5-Day E2", "status": "held",
        "reason": "campaign paused: complaints to look at",
    }
    assert send(funnel, plan[0]).status is SendStatus.HELD, "a duplicate execution is held too"
    assert mailer.sent == {}
    entry = record_of(ledger, plan[0].sequence_key).emails[2]
    assert (entry.sent_at, entry.status) == (None, "held"), "held is in the ledger, never as sent"
    logged = ledger.sends.entries[-1]
    assert (logged.status, logged.email_number, logged.error) == ("held", 2, "campaign paused: complaints to look at")

    resumed = funnel.resume(plan[0].send_at + H, BY, "looked at")
    assert resumed.action is CampaignAction.RESUMED and not resumed.state.paused and resumed.held == 1
    (again,) = resumed.plan
    assert (again.sequence_key, again.email_number, again.send_at) == (plan[0].sequence_key, 2, plan[0].send_at + H)
    assert send(funnel, again).status is SendStatus.SENT
    assert send(funnel, again).skip is SkipReason.ALREADY_SENT
    assert send(funnel, plan[1]).status is SendStatus.SENT, "the later emails go at their own time"
    assert len(mailer.sent) == 2
    assert funnel.resume(NOW + 2 * H, BY).plan == (), "nothing is held any more"


def test_events_are_handled_while_paused_and_a_held_email_whose_sequence_stopped_is_skipped_with_its_reason(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    plan = handle(funnel, "assessment", body("assessment.json", "jane@example.com"), NOW).plan
    funnel.pause(NOW, "a pause", BY)
    assert [send(funnel, item).status for item in plan[:2]] == [SendStatus.HELD] * 2
    booked = handle(funnel, "booking", body("booking-calendly.json", "jane@example.com"), NOW + 5 * M)
    assert booked.stopped == (plan[0].sequence_key,), "the event is handled as ever"
    resumed = funnel.resume(NOW + 10 * M, BY)
    assert [(item.email_number) for item in resumed.plan] == [2, 3], "every held email, once"
    outcomes = [send(funnel, item) for item in resumed.plan]
    assert [(o.status, o.reason) for o in outcomes] == [(SendStatus.SKIPPED, "sequence stopped: booked")] * 2
    assert mailer.sent == {}
    record = record_of(ledger, plan[0].sequence_key)
    assert [record.emails[n].status for n in (2, 3)] == ["skipped", "skipped"], "held no more"
    assert funnel.resume(NOW + H, BY).plan == ()


def test_each_held_email_goes_out_once_however_often_it_is_planned(
    funnel: Funnel, mailer: InMemoryMailer
) -> None:
    plan = handle(funnel, "noshow", body("noshow.json", "jane@example.com"), NOW).plan
    funnel.pause(NOW, "a pause", BY)
    assert [send(funnel, item).status for item in plan] == [SendStatus.HELD] * 3
    first = funnel.resume(NOW + H, BY)
    second = funnel.resume(NOW + H + M, BY)  # run again (a retried step, a second click): the campaign already runs
    assert (first.action, second.action) == (CampaignAction.RESUMED, CampaignAction.REPLANNED)
    assert [i.email_number for i in first.plan] == [i.email_number for i in second.plan] == [1, 2, 3]
    outcomes = [send(funnel, item) for item in (*first.plan, *second.plan)]
    assert [o.status for o in outcomes] == [SendStatus.SENT] * 3 + [SendStatus.SKIPPED] * 3
    assert {o.skip for o in outcomes[3:]} == {SkipReason.ALREADY_SENT}
    assert len(mailer.sent) == 3


def test_a_resume_between_the_hold_and_its_second_read_lets_the_email_go(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    """The one race: a send read "paused", then the resume wrote "running" and read the held emails, then the send
    marked its email held. The send reads the state again after its mark, and sends; the resume's plan, if it saw
    the mark, finds the email sent."""
    plan = handle(funnel, "noshow", body("noshow.json", "jane@example.com"), NOW).plan
    funnel.pause(NOW, "a pause", BY)
    plans: list[tuple[ScheduledEmail, ...]] = []
    mark = ledger.sequences.mark_status

    def mark_then_resume(record: SequenceRecord, number: int, status: str) -> SequenceRecord:
        marked = mark(record, number, status)
        plans.append(funnel.resume(NOW + M, BY).plan)  # the resume comes right after the mark
        return marked

    ledger.sequences.mark_status = mark_then_resume  # type: ignore[method-assign]
    outcome = send(funnel, plan[0])
    ledger.sequences.mark_status = mark  # type: ignore[method-assign]
    assert outcome.status is SendStatus.SENT
    (replanned,) = plans[0]
    assert send(funnel, replanned).skip is SkipReason.ALREADY_SENT
    assert len(mailer.sent) == 1


@pytest.mark.parametrize(
    ("reason", "problem"),
    [
        (None, "reason: is required: say why (campaign status shows it)"),
        ("  ", "reason: is required: say why (campaign status shows it)"),
        ("x" * 201, "reason: must be one line of at most 200 characters"),
        ("two\nlines", "reason: must be one line of at most 200 characters"),
    ],
)
def test_a_pause_needs_a_reason_of_one_line_and_a_bad_one_writes_nothing(
    funnel: Funnel, ledger: InMemoryLedger, reason: str | None, problem: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        funnel.pause(NOW, reason, BY)
    assert caught.value.what == "campaign pause" and [str(p) for p in caught.value.problems] == [problem]
    assert ledger.campaigns.states == {}


def test_a_second_pause_keeps_the_first_reason_and_a_resume_of_a_running_campaign_changes_nothing(
    funnel: Funnel, ledger: InMemoryLedger
) -> None:
    funnel.pause(NOW, "the first", BY)
    again = funnel.pause(NOW + H, "the second", "Kestra execution 2")
    assert again.action is CampaignAction.ALREADY_PAUSED and again.state.reason == "the first"
    assert again.reason == "the campaign was already paused since 2025-12-01T10:00:00Z (the command line): the first"
    funnel.resume(NOW + 2 * H, BY)
    running = ledger.campaigns.state(CAMPAIGN)
    assert funnel.resume(NOW + 3 * H, "Kestra execution 3").action is CampaignAction.REPLANNED
    assert ledger.campaigns.state(CAMPAIGN) == running, "the last change stands"


def test_the_resume_spreads_the_held_emails_by_the_send_cap_and_the_send_window(
    ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    """Production delays, a window (09:00-17:00 in Toronto), at most 2 emails an hour: five held no-show emails,
    resumed at 16:30 Toronto time, go at 16:30, then from 09:00 the next day, 30 minutes apart."""
    funnel = in_testing_mode(ledger, mailer, TESTING_MODE="false", SEND_WINDOW="mon-fri 09:00-17:00", SEND_CAP="2",
                       SEND_BLACKOUT="none")
    plans = [handle(funnel, "noshow", body("noshow.json", f"lead{n}@example.com"), NOW).plan for n in range(5)]
    funnel.pause(NOW, "a pause", BY)
    assert [send(funnel, plan[0]).status for plan in plans] == [SendStatus.HELD] * 5
    resumed = funnel.resume(datetime(2025, 12, 1, 21, 30, tzinfo=UTC), BY)  # 16:30 in Toronto, a Monday
    assert [item.send_at.isoformat() for item in resumed.plan] == [
        "2025-12-01T21:30:00+00:00",
        "2025-12-02T14:00:00+00:00",  # 17:00 is closed: 09:00 the next day
        "2025-12-02T14:30:00+00:00",
        "2025-12-02T15:00:00+00:00",
        "2025-12-02T15:30:00+00:00",
    ]
    assert sorted(item.sequence_key for item in resumed.plan) == sorted(plan[0].sequence_key for plan in plans)
    assert resumed.reason == (
        "the campaign runs again; 5 held email(s) planned again, at most 2 an hour, from 2025-12-01T21:30:00Z to "
        "2025-12-02T15:30:00Z"
    )


def test_two_held_emails_of_one_sequence_keep_its_catch_up_gap(
    funnel: Funnel, mailer: InMemoryMailer
) -> None:
    plan = handle(funnel, "noshow", body("noshow.json", "jane@example.com"), NOW).plan
    funnel.pause(NOW, "a pause", BY)
    for item in plan[:2]:
        send(funnel, item)
    resumed = funnel.resume(NOW + H, BY)
    first, second = resumed.plan
    assert second.send_at - first.send_at == M, "the testing catch-up gap (one minute), more than the cap's 36 s"


def test_status_says_why_the_campaign_is_paused_and_how_many_emails_are_held(funnel: Funnel) -> None:
    plan = handle(funnel, "noshow", body("noshow.json", "jane@example.com"), NOW).plan
    assert funnel.status(NOW).as_json() == {
        "campaign": CAMPAIGN, "action": "status", "paused": False,
        "state": {"paused": False, "reason": None, "since": None, "by": None},
        "held": 0, "plan": [],
        "deliverability": {"window": 200, "sent": 0, "judged": False, "complaints": 0, "complaint_rate": None,
                           "complaint_mark": None, "bounces": 0, "bounce_rate": None, "bounce_mark": None},
        "reason": "the campaign is running",
    }
    funnel.pause(NOW, "a pause", BY)
    send(funnel, plan[0])
    status = funnel.status(NOW + H)
    assert (status.state.paused, status.held) == (True, 1)
    assert status.reason == (
        "the campaign is paused since 2025-12-01T10:00:00Z (the command line): a pause; 1 email(s) held, planned "
        "again at a resume"
    )


def test_the_same_on_the_local_sqlite_ledger(tmp_path: Path, mailer: InMemoryMailer) -> None:
    ledger = SqliteLedger(tmp_path / "crm.sqlite3", SAMPLE_TEMPLATES)
    funnel = in_testing_mode(ledger, mailer)
    plan = handle(funnel, "noshow", body("noshow.json", "jane@example.com"), NOW).plan
    funnel.pause(NOW, "a pause", BY)
    assert [send(funnel, item).status for item in plan] == [SendStatus.HELD] * 3
    again = in_testing_mode(SqliteLedger(tmp_path / "crm.sqlite3", SAMPLE_TEMPLATES), mailer)  # a new process
    assert again.status(NOW + H).held == 3
    resumed = again.resume(NOW + H, BY)
    assert [send(again, item).status for item in resumed.plan] == [SendStatus.SENT] * 3
    assert [send(again, item).skip for item in resumed.plan] == [SkipReason.ALREADY_SENT] * 3
    assert len(mailer.sent) == 3 and again.status(NOW + 2 * H).held == 0
