"""A contact's story, its export and its erasure (SPEC §11) on the in-memory ports and the local SQLite ledger, with an
exact clock: each email's status and where it comes from (the ledger, the send log, the planner, the record), the
story's two forms, what forgetting removes and keeps, and a forgotten address that starts nothing until the person
signs up or takes the assessment again."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from christmas_tasks.adapters.sqlite import SqliteLedger
from christmas_tasks.domain.holdings import MARK_PREFIX, forget_mark
from christmas_tasks.domain.records import AnalyticsEntry
from christmas_tasks.domain.variables import unsubscribe_token
from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings
from christmas_tasks.usecases.erasure import export, forget
from christmas_tasks.usecases.funnel import Funnel
from christmas_tasks.usecases.outcomes import Action
from christmas_tasks.usecases.ports import Ledger
from christmas_tasks.usecases.story import ContactStory, render_text, tell
from tests.conftest import EXAMPLES, NOW
from tests.fakes.memory import InMemoryLedger, InMemoryMailer, handle

M = timedelta(minutes=1)
JANE = "jane.doe@example.com"
SECRET = "local-unsubscribe-secret"  # UNSUBSCRIBE_SECRET's local default: the funnel below runs with it


def body(name: str, **changes: Any) -> dict[str, Any]:
    return {**json.loads((EXAMPLES / name).read_text()), **changes}


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Ledger:
    if request.param == "sqlite":
        return SqliteLedger(tmp_path / "crm.sqlite3", SAMPLE_TEMPLATES)
    return InMemoryLedger(SAMPLE_TEMPLATES)


@pytest.fixture
def funnel(ledger: Ledger) -> Funnel:
    return build_funnel(Settings.from_env({"TESTING_MODE": "true"}), ledger=ledger, mailer=InMemoryMailer())


def story_of(funnel: Funnel, at: Any, email: str = JANE) -> ContactStory:
    held = funnel.ledger.people.held(email, forget_mark(SECRET, email))
    return tell(held, funnel.catalogue, at, source="a test ledger", testing=True)


def statuses(story: ContactStory, sequence: str) -> list[tuple[int, str, str]]:
    (line,) = [s for s in story.sequences if s.record.sequence == sequence]
    return [(e.number, e.status, e.source) for e in line.emails]


# ---------------------------------------------------------------------- the story


def test_each_email_is_sent_skipped_failed_or_scheduled_and_says_where_that_comes_from(funnel: Funnel) -> None:
    plan = handle(funnel, "assessment", body("assessment.json"), NOW).plan
    first = plan[0]
    assert funnel.send(first.sequence_key, first.email_number, first.send_at, first.send_at).status == "sent"
    funnel.ledger.sends.log_attempt(AnalyticsEntry(JANE, "5-Day E3", 3, "failed", NOW + 2 * M, "Christmas 2025",
                                                   error="Resend answered 500"))
    told = story_of(funnel, NOW + 150 * 1000 * M)
    assert statuses(told, "5day") == [
        (1, "sent", "ledger"), (2, "sent", "ledger"), (3, "failed", "send log"), (4, "scheduled", "planner"),
        (5, "scheduled", "planner"),
    ]
    (nurture,) = told.sequences
    by_number = {e.number: e for e in nurture.emails}
    assert by_number[1].template == "(sent by the website)" and by_number[1].why == "sent by the website"
    assert by_number[2].resend_id and by_number[2].at == first.send_at
    assert by_number[3].why == "Resend answered 500" and by_number[3].at == NOW + 2 * M
    # the planner's times are the plan the event got (testing delays: 3 and 4 minutes after email 1)
    assert (by_number[4].at, by_number[5].at) == (plan[2].send_at, plan[3].send_at)
    assert by_number[4].why.startswith("was due"), "past due, nothing recorded: said so"
    assert story_of(funnel, NOW).sequences[0].emails[3].why == "planned"


def test_a_stopped_sequence_says_why_and_its_unsent_emails_are_skipped(funnel: Funnel) -> None:
    handle(funnel, "assessment", body("assessment.json"), NOW)
    handle(funnel, "booking", body("booking-calendly.json"), NOW + M)
    told = story_of(funnel, NOW + 2 * M)
    (nurture,) = told.sequences
    assert (nurture.state, nurture.record.stopped_reason) == ("stopped", "booked")
    assert statuses(told, "5day")[1:] == [(n, "skipped", "record") for n in (2, 3, 4, 5)]
    assert {e.why for e in nurture.emails[1:]} == {"sequence stopped: booked"}
    assert told.contact is not None and told.contact.booking_status == "Booked"


def test_the_story_as_json_and_as_text(funnel: Funnel) -> None:
    handle(funnel, "assessment", body("assessment.json"), NOW)
    handle(funnel, "reply", body("reply.json", received_at="2025-12-01T10:05:00Z"), NOW + 5 * M)
    told = story_of(funnel, NOW + 6 * M)
    data = told.as_json()
    assert json.loads(json.dumps(data)) == data, "plain JSON"
    assert set(data) == {"email", "read_at", "source", "requests", "forgotten", "contact", "duplicate_contact_pages",
                         "sequences", "replies", "send_log_kept", "notes"}
    assert data["contact"] == {
        "first_name": "Jane", "business_name": "Jane's Salon", "campaign_status": "Nurture Sequence",
        "booking_status": None, "email_status": "ok", "segment": "CRITICAL", "timezone": "America/Toronto",
        "assessment_score": 42.0,
    }
    (nurture,) = data["sequences"]
    assert (nurture["sequence"], nurture["state"], nurture["stop_reason"]) == ("5day", "stopped", "replied")
    assert nurture["emails"][0] == {"number": 1, "template": "(sent by the website)", "status": "sent",
                                    "at": "2025-12-01T10:00:00Z", "why": "sent by the website", "source": "ledger",
                                    "resend_id": None}
    assert [r["status"] for r in data["replies"]] == ["replied"]
    text = render_text(told)
    assert text.startswith(f"Contact: {JANE}\n  Jane (Jane's Salon)\n")
    assert "5day (Christmas 2025, assessment), started 2025-12-01 10:00 UTC: stopped (replied)" in text
    assert "  #2  5-Day E2" in text and "sequence stopped: replied" in text
    assert "Replies: 2025-12-01 10:05 UTC (replied)" in text


def test_an_address_the_ledger_does_not_know_has_an_empty_story(funnel: Funnel) -> None:
    told = story_of(funnel, NOW, "nobody@example.com")
    assert told.contact is None and told.sequences == () and told.notes == ("the ledger holds nothing about this "
                                                                             "address",)
    assert "  no contact record" in render_text(told)


# ---------------------------------------------------------------------- export and forget


def test_the_export_holds_everything_and_is_json(funnel: Funnel) -> None:
    handle(funnel, "assessment", body("assessment.json"), NOW)
    handle(funnel, "noshow", body("noshow.json"), NOW + M)
    held = funnel.ledger.people.held(JANE, forget_mark(SECRET, JANE))
    document = export(held, NOW + 2 * M, "a test ledger", outbox=[])
    assert json.loads(json.dumps(document)) == document
    assert document["address"] == JANE and document["exported_at"] == "2025-12-01T10:02:00Z"
    assert [s["sequence"] for s in document["sequences"]] == ["5day", "noshow"]
    assert document["sequences"][0]["emails"]["1"]["sent_by"] == "website"
    assert document["contacts"][0]["first_name"] == "Jane" and document["send_log"] == []
    assert {item["store"] for item in document["stored"]} == {"contacts", "sequences"}


def test_forgetting_removes_everything_but_the_mark_and_is_idempotent(funnel: Funnel) -> None:
    plan = handle(funnel, "assessment", body("assessment.json"), NOW).plan
    funnel.send(plan[0].sequence_key, plan[0].email_number, plan[0].send_at, plan[0].send_at)
    handle(funnel, "signup", {"email": "bob@example.com", "first_name": "Bob"}, NOW)
    done = forget(funnel.ledger.people, SECRET, JANE, NOW + M)
    assert done.removed == {"contacts": 1, "sequences": 1, "ledger_emails": 2, "send_log": 1} and not done.before
    held = funnel.ledger.people.held(JANE, forget_mark(SECRET, JANE))
    assert held.empty and held.forgotten
    assert [c.email for c in funnel.ledger.contacts.all_contacts()] == ["bob@example.com"]
    again = forget(funnel.ledger.people, SECRET, JANE, NOW + 2 * M)
    assert again.before and set(again.removed.values()) == {0}
    assert story_of(funnel, NOW + 3 * M).forgotten is True


def test_the_mark_is_a_keyed_hash_that_reveals_nothing() -> None:
    mark = forget_mark(SECRET, JANE)
    assert mark.startswith(MARK_PREFIX) and len(mark) == len(MARK_PREFIX) + 64
    assert forget_mark(SECRET, "  Jane.Doe@Example.com ") == mark, "the address as the funnel normalises it"
    assert forget_mark("another secret", JANE) != mark, "the secret is the salt: guessed addresses cannot be checked"
    assert JANE not in mark and unsubscribe_token(SECRET, JANE) not in mark, "never an unsubscribe token"
    with pytest.raises(ValueError, match="UNSUBSCRIBE_SECRET"):
        forget_mark("", JANE)


# ---------------------------------------------------------------------- a forgotten address starts nothing


@pytest.mark.parametrize(("kind", "sample"), [
    ("booking", "booking-calendly.json"), ("noshow", "noshow.json"), ("postcall", "postcall.json"),
    ("onboarding", "onboarding.json"), ("unsubscribe", "unsubscribe.json"), ("email-status", "email-bounced.json"),
    ("reply", "reply.json"), ("cancellation", "cancellation-calendly.json"),
])
def test_an_event_from_a_forgotten_address_writes_and_sends_nothing(funnel: Funnel, kind: str, sample: str) -> None:
    forget(funnel.ledger.people, SECRET, JANE, NOW)
    handled = handle(funnel, kind, body(sample), NOW + M)
    assert (handled.action, handled.plan, handled.stopped) == (Action.FORGOTTEN, (), ())
    assert "until it signs up or takes the assessment again" in handled.reason
    held = funnel.ledger.people.held(JANE, forget_mark(SECRET, JANE))
    assert held.empty and held.forgotten
    assert funnel.mailer.messages() == [], "nothing sent, nothing forwarded"  # type: ignore[attr-defined]


def test_an_unsubscribe_link_of_a_forgotten_address_changes_nothing(funnel: Funnel) -> None:
    forget(funnel.ledger.people, SECRET, JANE, NOW)
    link = {"parameters": {"email": JANE, "token": unsubscribe_token(SECRET, JANE)}}
    assert handle(funnel, "unsubscribe-link", link, NOW).action is Action.FORGOTTEN
    assert funnel.ledger.people.held(JANE, forget_mark(SECRET, JANE)).empty


@pytest.mark.parametrize(("kind", "sample", "action"), [
    ("signup", "signup.json", Action.CONTACT_RECORDED), ("assessment", "assessment.json", Action.SEQUENCE_STARTED),
])
def test_a_signup_or_an_assessment_clears_the_mark(funnel: Funnel, kind: str, sample: str, action: Action) -> None:
    forget(funnel.ledger.people, SECRET, JANE, NOW)
    assert handle(funnel, kind, body(sample), NOW + M).action is action
    assert not funnel.ledger.people.is_forgotten(forget_mark(SECRET, JANE))
    assert handle(funnel, "booking", body("booking-calendly.json"), NOW + 2 * M).action is Action.BOOKING_RECORDED
