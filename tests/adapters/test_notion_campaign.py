"""The campaign's state on Notion (christmas_tasks/adapters/notion/campaigns.py): one page of the email sequence
database, which no read of records sees, read by a send in the query that finds its record. Against the in-process
fake of Notion's API and the fake Resend (tests/reliability/world.py), counting requests."""

from __future__ import annotations

from datetime import timedelta

import pytest

from christmas_tasks.adapters.notion import AmbiguousRecord
from christmas_tasks.adapters.notion.encoding import join_text
from christmas_tasks.adapters.notion.schema import SCHEMA, CampaignStatePage, Sequences, type_of
from christmas_tasks.domain.records import CampaignState
from christmas_tasks.usecases.outcomes import SendStatus
from tests.conftest import NOW
from tests.reliability.world import World

CAMPAIGN = "Christmas 2025"


def writes_and_queries(world: World, since: int) -> list[str]:
    """The requests made since `since`, but a data source resolved and the template read (a warm process has both in
    its disk cache)."""
    templates = world.ledger().api.data_source_id("templates")
    return [f"{method} {'query' if path.endswith('/query') else 'page'}"
            for method, path in world.notion.requests[since:] if "/databases/" not in path and templates not in path]


def test_the_state_page_uses_properties_the_schema_check_knows() -> None:
    for name in CampaignStatePage.PROPERTIES:
        assert name in SCHEMA["sequences"], f"{name}: `notion check` would not name it missing"
    assert [type_of(SCHEMA["sequences"][name]) for name in CampaignStatePage.PROPERTIES] == [
        "title", "rich_text", "rich_text"
    ]


def test_a_pause_writes_one_state_page_that_no_read_of_records_sees() -> None:
    world = World()
    world.handle("noshow.json", "noshow")
    funnel = world.funnel()
    funnel.pause(NOW, "complaints to look at", "the command line")
    funnel.pause(NOW + timedelta(minutes=1), "again", "the command line")  # already paused: nothing written
    (page,) = [p for p in world.notion.pages_of("sequences")
               if join_text(p["properties"][Sequences.SEQUENCE_KEY]["rich_text"]) == "christmas-2025|campaign-state"]
    title = join_text(page["properties"][Sequences.FIRST_NAME]["title"])
    assert title == "Christmas 2025: paused since 2025-12-01T10:00:00Z (the command line): complaints to look at"
    cells = page["properties"]
    assert cells[Sequences.EMAIL]["email"] is None and cells[Sequences.CAMPAIGN]["select"] is None
    ledger = world.ledger()
    assert [r.sequence for r in ledger.sequences.campaign_sequences(CAMPAIGN)] == ["noshow"]
    assert [r.sequence for r in ledger.sequences.sequences_for("jane.doe@example.com", CAMPAIGN, "noshow")] == [
        "noshow"
    ]
    assert ledger.campaigns.state(CAMPAIGN) == CampaignState(
        CAMPAIGN, True, "complaints to look at", NOW, "the command line"
    )


def test_a_send_costs_no_request_more_and_a_held_one_three() -> None:
    world = World()
    plan = world.handle("noshow.json", "noshow")
    before = len(world.notion.requests)
    assert world.send(plan[0]).status is SendStatus.SENT
    assert writes_and_queries(world, before) == ["POST query", "PATCH page"], "the record and the state: one query"
    world.funnel().resume(NOW, "the command line")  # a state page now exists, saying running
    before = len(world.notion.requests)
    assert world.send(plan[1]).status is SendStatus.SENT
    assert writes_and_queries(world, before) == ["POST query", "PATCH page"]
    world.funnel().pause(NOW, "a pause", "the command line")
    before = len(world.notion.requests)
    outcome = world.send(plan[2])
    assert (outcome.status, outcome.reason) == (SendStatus.HELD, "campaign paused: a pause")
    # the record and the state, the held mark, the state again (a resume in between would let it go)
    assert writes_and_queries(world, before) == ["POST query", "PATCH page", "POST query"]
    assert len(world.delivered()) == 2


def test_held_emails_are_planned_again_at_the_resume_and_each_sent_once() -> None:
    world = World()
    plan = world.handle("noshow.json", "noshow")
    world.funnel().pause(NOW, "a pause", "the command line")
    assert [world.send(item).status for item in plan] == [SendStatus.HELD] * 3
    resumed = world.funnel().resume(plan[-1].send_at + timedelta(minutes=1), "the command line")
    assert [(item.sequence_key, item.email_number) for item in resumed.plan] == [
        (item.sequence_key, item.email_number) for item in plan
    ]
    assert [world.send(item).status for item in resumed.plan] == [SendStatus.SENT] * 3
    assert [world.send(item).skip for item in resumed.plan] == ["already_sent"] * 3
    assert len(world.delivered()) == 3
    assert world.funnel().resume(NOW + timedelta(days=1), "the command line").plan == (), "nothing is held any more"


def test_an_unreadable_state_page_holds_every_email_until_a_resume_rewrites_it() -> None:
    world = World()
    plan = world.handle("noshow.json", "noshow")
    world.notion.seed("sequences", {
        Sequences.FIRST_NAME: "typed by hand", Sequences.SEQUENCE_KEY: "christmas-2025|campaign-state",
        Sequences.EVENT_DATA: "paused?",
    })
    outcome = world.send(plan[0])
    assert outcome.status is SendStatus.HELD and "unreadable" in str(outcome.reason)
    resumed = world.funnel().resume(NOW + timedelta(minutes=5), "the command line")
    assert world.send(resumed.plan[0]).status is SendStatus.SENT


def test_two_state_pages_are_an_error_naming_them() -> None:
    world = World()
    plan = world.handle("noshow.json", "noshow")
    for _ in range(2):
        world.notion.seed("sequences", {
            Sequences.FIRST_NAME: "copy", Sequences.SEQUENCE_KEY: "christmas-2025|campaign-state",
            Sequences.EVENT_DATA: '{"paused": false}',
        })
    with pytest.raises(AmbiguousRecord, match=r"2 pages .* match the campaign state of 'Christmas 2025'"):
        world.send(plan[0])
    with pytest.raises(AmbiguousRecord, match="the campaign state of 'Christmas 2025'"):
        world.ledger().campaigns.state(CAMPAIGN)
    assert world.delivered() == []


def test_a_state_page_created_by_a_request_answered_5xx_is_found_not_made_twice() -> None:
    world = World()
    world.notion.inject(504, "gateway_timeout", "Gateway timeout.", method="POST", path="^/v1/pages$", after=True)
    state = world.ledger().campaigns.set_state(CampaignState(CAMPAIGN, True, "a pause", NOW, "the command line"))
    assert state.paused
    keys = [join_text(p["properties"][Sequences.SEQUENCE_KEY]["rich_text"]) for p in world.notion.pages_of("sequences")]
    assert keys == ["christmas-2025|campaign-state"]
