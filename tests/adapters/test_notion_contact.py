"""A contact's story, access and erasure on Notion (SPEC §11): the requests each costs, counted from the cassettes; the
forgotten mark as a contacts page no look-up by address finds; an event from a forgotten address on Notion; what an
email's engagement event costs (SPEC §9).

Cassettes: cassettes/notion/notion-<test>.yaml, written against tests/fakes/fake_notion.py; re-record with
`python -m tests.fakes.fake_notion record` (docs/recording.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from christmas_tasks.adapters.notion import NotionLedger
from christmas_tasks.adapters.notion.encoding import text_of as prop
from christmas_tasks.domain.catalogue import load_catalogue
from christmas_tasks.domain.holdings import forget_mark
from christmas_tasks.domain.records import AnalyticsEntry, ContactUpdate, EmailLedger, SentMark, SequenceRecord
from christmas_tasks.domain.vocabulary import Engagement
from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.settings import Settings
from christmas_tasks.usecases.erasure import forget
from christmas_tasks.usecases.outcomes import Action
from christmas_tasks.usecases.story import tell
from tests.fakes.cassettes import cassette_fixtures
from tests.fakes.fake_notion import CASSETTE_DIR, FakeNotion, http_calls, interactions, notion_ledger
from tests.fakes.fake_notion import vcr_config as notion_vcr_config
from tests.fakes.memory import InMemoryMailer, handle

T0 = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)
JANE = "jane@example.com"
CAMPAIGN = "Christmas 2025"
SECRET = "local-unsubscribe-secret"  # the local default of UNSUBSCRIBE_SECRET, as the funnel below has it
MARK = forget_mark(SECRET, JANE)


vcr_cassette_dir, vcr_config, default_cassette_name = cassette_fixtures(CASSETTE_DIR, notion_vcr_config, "notion-")


def resolved(ledger: NotionLedger) -> NotionLedger:
    for kind in ("contacts", "sequences", "templates", "analytics"):
        ledger.api.data_source_id(kind)
    return ledger


def jane_in(ledger: NotionLedger) -> SequenceRecord:
    ledger.contacts.upsert_contact(ContactUpdate(JANE, first_name="Jane", campaign_status="Nurture Sequence",
                                                 segment="CRITICAL", timezone="America/Toronto"))
    record, _ = ledger.sequences.create_sequence(SequenceRecord(
        key=f"christmas-2025|5day|{JANE}|assessment", email=JANE, campaign=CAMPAIGN, sequence="5day",
        event_id="assessment", first_name="Jane", anchor=T0, created_at=T0, segment="CRITICAL",
        variables={"red_systems": "2", "orange_systems": "1"}, emails={1: EmailLedger(1, T0, "sent", None, "website")},
    ))
    record = ledger.sequences.mark_sent(record, SentMark(2, T0 + 24 * H, "re_2"))
    ledger.sends.log_attempt(AnalyticsEntry(JANE, "5-Day E2", 2, "sent", T0 + 24 * H, CAMPAIGN, "re_2"))
    ledger.sends.log_attempt(AnalyticsEntry(JANE, "5-Day E3", 3, "skipped", T0 + 72 * H, CAMPAIGN, error="booked"))
    return record


@pytest.mark.vcr
def test_a_contacts_story_costs_three_requests(fake: FakeNotion, request: Any, vcr: Any) -> None:
    """The contact (by address, or its mark), its sequences in every campaign, its send log: 3 queries, once the data
    sources are resolved (one databases.retrieve each, on first use; a Kestra step finds them in its disk cache)."""
    ledger = resolved(notion_ledger(fake, request))
    jane_in(ledger)
    before = http_calls(vcr)
    held = ledger.people.held(JANE, MARK)
    assert http_calls(vcr) - before == 3
    asked = [r.uri.rsplit("/", 2)[-2] for r, _ in interactions(vcr)[before:]]
    assert asked == [ledger.api.data_source_id(k) for k in ("contacts", "sequences", "analytics")]
    story = tell(held, load_catalogue(), T0 + 80 * H, source="Notion", requests=http_calls(vcr) - before)
    (nurture,) = story.sequences
    assert [(e.number, e.status, e.source) for e in nurture.emails] == [
        (1, "sent", "ledger"), (2, "sent", "ledger"), (3, "skipped", "send log"), (4, "scheduled", "planner"),
        (5, "scheduled", "planner"),
    ]
    assert story.as_json()["requests"] == 3 and story.contact is not None and story.contact.segment == "CRITICAL"


@pytest.mark.vcr
def test_without_an_analytics_database_the_story_costs_two(fake: FakeNotion, request: Any, vcr: Any) -> None:
    ledger = notion_ledger(fake, request, analytics=False)
    for kind in ("contacts", "sequences"):
        ledger.api.data_source_id(kind)
    ledger.contacts.upsert_contact(ContactUpdate(JANE, first_name="Jane"))
    before = http_calls(vcr)
    held = ledger.people.held(JANE, MARK)
    assert http_calls(vcr) - before == 2 and held.attempts is None
    assert "no send log is kept" in tell(held, load_catalogue(), T0, source="Notion").notes[0]


@pytest.mark.vcr
def test_forgetting_trashes_every_page_and_keeps_one_mark(fake: FakeNotion, request: Any, vcr: Any) -> None:
    """1 pages.create (the mark), then 1 pages.update per page (to Notion's trash): the contact, the sequence record,
    two analytics rows. Again: 3 queries, nothing more to remove, no second mark."""
    ledger = resolved(notion_ledger(fake, request))
    jane_in(ledger)
    ledger.contacts.upsert_contact(ContactUpdate("bob@example.com", first_name="Bob"))
    before = http_calls(vcr)
    done = forget(ledger.people, SECRET, JANE, T0 + 96 * H)
    assert done.removed == {"contacts": 1, "sequences": 1, "ledger_emails": 2, "send_log": 2} and not done.before
    assert http_calls(vcr) - before == 3 + 1 + 4
    pages = [p for kind in ("contacts", "sequences", "analytics") for p in ledger.api.query_all(kind, "read", None)]
    assert [p for p in pages if JANE in str(p["properties"])] == [], "no page out of the trash holds the address"
    (mark,) = [p for p in pages if prop(p, "first_name") == MARK]
    assert prop(mark, "email") == "", "the mark: a contacts page with no address"
    assert [c.email for c in ledger.contacts.all_contacts()] == ["bob@example.com"], "the report counts no mark"
    before = http_calls(vcr)
    again = forget(ledger.people, SECRET, JANE, T0 + 97 * H)
    assert again.before and set(again.removed.values()) == {0} and http_calls(vcr) - before == 3


@pytest.mark.vcr
def test_an_event_from_a_forgotten_address_costs_one_query_and_writes_nothing(
    fake: FakeNotion, request: Any, vcr: Any
) -> None:
    ledger = resolved(notion_ledger(fake, request))
    funnel = build_funnel(Settings.from_env({"TESTING_MODE": "true"}), ledger=ledger, mailer=InMemoryMailer())
    forget(ledger.people, SECRET, JANE, T0)
    before = http_calls(vcr)
    booking = {"email": JANE, "first_name": "Jane", "calendly_event_uri": "https://api.calendly.com/e/1",
               "scheduled_time": "2025-12-03T15:00:00Z"}
    handled = handle(funnel, "booking", booking, T0 + H)
    assert handled.action is Action.FORGOTTEN and http_calls(vcr) - before == 1
    assert [r.method for r, _ in interactions(vcr)[before:]] == ["POST"], "one query: nothing written"
    signup = handle(funnel, "signup", {"email": JANE, "first_name": "Jane"}, T0 + 2 * H)
    assert signup.action is Action.CONTACT_RECORDED, "a signup clears the mark"
    assert not ledger.people.is_forgotten(MARK)
    assert ledger.contacts.get_contact(JANE) is not None


@pytest.mark.vcr
def test_an_engagement_event_costs_one_query_and_one_write(fake: FakeNotion, request: Any, vcr: Any) -> None:
    """Resend's email.opened for an email the ledger sent: the contact's records of the campaign (1 query, the email
    found by its Resend id) and 1 pages.update; a second open the query alone; no forgotten-address look-up."""
    ledger = resolved(notion_ledger(fake, request))
    record = jane_in(ledger)
    funnel = build_funnel(Settings.from_env({"TESTING_MODE": "true"}), ledger=ledger, mailer=InMemoryMailer())
    opened = {"type": "email.opened", "created_at": "2025-12-02T11:00:00.000Z",
              "data": {"email_id": "re_2", "to": [JANE], "subject": "Jane, your assessment"}}
    before = http_calls(vcr)
    first = handle(funnel, "email-status", opened, T0 + 25 * H)
    assert first.action is Action.RECORDED and first.reason == "opened of email 2 of 5day recorded"
    assert [r.method for r, _ in interactions(vcr)[before:]] == ["POST", "PATCH"]
    again = handle(funnel, "email-status", {**opened, "created_at": "2025-12-02T12:00:00.000Z"}, T0 + 26 * H)
    assert "recorded already" in again.reason
    assert [r.method for r, _ in interactions(vcr)[before:]] == ["POST", "PATCH", "POST"], "the query alone"
    found = ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", record.key)
    assert found is not None and found.emails[2].engaged == {Engagement.OPENED: T0 + 25 * H}
    assert found.emails[2].sent_at == record.emails[2].sent_at and found.emails[1] == record.emails[1]


@pytest.fixture
def fake() -> FakeNotion:
    return FakeNotion()
