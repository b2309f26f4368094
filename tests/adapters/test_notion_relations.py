"""Relation and rollup properties, in the fake and in the schema check, as notion-sdk-js types them: what reading a
contact's status through its sequence record (a relation to the contact, a rollup of its Email Status) would
stand on. A relation is written as `[{"id": ...}]` (at most 100); a page or a query result shows its first 25
related pages with `has_more`, and computes each rollup over those 25 only. In-process against the fake."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from christmas_tasks.adapters.notion.schema import SCHEMA, Relation, Rollup, Sequences, check_schema
from tests.fakes.fake_notion import NOTION_VERSION, TOKEN, FakeNotion, ledger_on_fake

CONTACT = Sequences.CONTACT
CONTACT_STATUS = Sequences.CONTACT_EMAIL_STATUS
# The sequence records as SCHEMA has them (a relation to their contact, rollups of its statuses), and a count.
SEQUENCES: dict[str, Any] = {
    **SCHEMA["sequences"],
    "Contacts": Rollup(relation=CONTACT, property="email", function="count"),
}
WITHOUT_LINK = {name: spec for name, spec in SCHEMA["sequences"].items() if not isinstance(spec, Relation | Rollup)}


def request(fake: FakeNotion, method: str, path: str, body: Any = None) -> dict[str, Any]:
    with httpx.Client(transport=httpx.WSGITransport(app=fake), base_url="https://api.notion.com") as http:
        answer = http.request(
            method,
            path,
            content=json.dumps(body or {}).encode(),
            headers={
                "Authorization": f"Bearer {TOKEN}",
                "Notion-Version": NOTION_VERSION,
                "Content-Type": "application/json",
            },
        )
        return {"status": answer.status_code, **answer.json()}


def source_of(fake: FakeNotion, kind: str) -> str:
    return next(sid for sid, source in fake.sources.items() if source["kind"] == kind)


def sequence_linked_to(fake: FakeNotion, contacts: list[str]) -> dict[str, Any]:
    return request(
        fake,
        "POST",
        "/v1/pages",
        {
            "parent": {"type": "data_source_id", "data_source_id": source_of(fake, "sequences")},
            "properties": {
                Sequences.SEQUENCE_KEY: {"rich_text": [{"type": "text", "text": {"content": "k"}}]},
                CONTACT: {"relation": [{"id": page} for page in contacts]},
            },
        },
    )


@pytest.fixture
def fake() -> FakeNotion:
    return FakeNotion(schemas={"sequences": SEQUENCES})


def test_the_data_source_describes_relations_and_rollups_as_notion_sdk_js_types_them(fake: FakeNotion) -> None:
    properties = request(fake, "GET", f"/v1/data_sources/{source_of(fake, 'sequences')}")["properties"]
    contacts = source_of(fake, "contacts")
    assert properties[CONTACT]["relation"] == {
        "database_id": fake.sources[contacts]["database"],
        "data_source_id": contacts,
        "type": "single_property",
        "single_property": {},
    }
    rollup = properties[CONTACT_STATUS]["rollup"]
    assert rollup == {
        "function": "show_original",
        "relation_property_name": CONTACT,
        "relation_property_id": properties[CONTACT]["id"],
        "rollup_property_name": "Email Status",
        "rollup_property_id": fake.sources[contacts]["properties"]["Email Status"]["id"],
    }


def test_a_relation_is_written_as_ids_and_a_rollup_is_computed_on_read(fake: FakeNotion) -> None:
    jane = fake.seed("contacts", {"email": "jane@example.com", "Email Status": "bounced"})
    created = sequence_linked_to(fake, [jane])
    assert created["status"] == 200
    assert created["properties"][CONTACT]["relation"] == [{"id": jane}]
    assert created["properties"][CONTACT]["has_more"] is False
    status = created["properties"][CONTACT_STATUS]["rollup"]
    assert status["type"] == "array" and status["function"] == "show_original"
    assert [cell["select"]["name"] for cell in status["array"]] == ["bounced"]
    # the contact changes: the rollup follows, as Notion computes it when read
    request(fake, "PATCH", f"/v1/pages/{jane}", {"properties": {"Email Status": {"select": {"name": "ok"}}}})
    again = request(fake, "GET", f"/v1/pages/{created['id']}")
    assert [c["select"]["name"] for c in again["properties"][CONTACT_STATUS]["rollup"]["array"]] == ["ok"]


def test_past_25_related_pages_a_query_shows_25_and_rolls_up_over_them_only(fake: FakeNotion) -> None:
    contacts = [fake.seed("contacts", {"email": f"c{n}@example.com"}) for n in range(30)]
    assert sequence_linked_to(fake, contacts)["status"] == 200
    query = request(fake, "POST", f"/v1/data_sources/{source_of(fake, 'sequences')}/query", {})
    (page,) = query["results"]
    assert len(page["properties"][CONTACT]["relation"]) == 25 and page["properties"][CONTACT]["has_more"] is True
    assert page["properties"]["Contacts"]["rollup"] == {"type": "number", "number": 25, "function": "count"}


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (["9a6e0001-0000-4000-8000-000000000001"], "should be an array of objects with an `id`"),
        ([{"id": "00000000-0000-4000-8000-000000000000"}], "is not in the related data source"),
    ],
)
def test_a_relation_write_notion_would_refuse_is_refused(fake: FakeNotion, value: Any, fragment: str) -> None:
    answer = request(
        fake,
        "POST",
        "/v1/pages",
        {
            "parent": {"type": "data_source_id", "data_source_id": source_of(fake, "sequences")},
            "properties": {CONTACT: {"relation": value}},
        },
    )
    assert answer["status"] == 400 and answer["code"] == "validation_error" and fragment in answer["message"]


def test_more_than_100_related_pages_or_a_rollup_cannot_be_written(fake: FakeNotion) -> None:
    too_many = [{"id": f"00000000-0000-4000-8000-{n:012x}"} for n in range(101)]
    answer = sequence_linked_to(fake, [item["id"] for item in too_many])
    assert answer["status"] == 400 and "relation.length should be ≤ `100`, instead was `101`" in answer["message"]
    rollup = request(
        fake,
        "POST",
        "/v1/pages",
        {
            "parent": {"type": "data_source_id", "data_source_id": source_of(fake, "sequences")},
            "properties": {CONTACT_STATUS: {"rollup": {"type": "array", "array": []}}},
        },
    )
    assert rollup["status"] == 400 and "is a rollup: its value is computed" in rollup["message"]


def test_the_schema_check_checks_what_a_relation_and_a_rollup_point_at(fake: FakeNotion) -> None:
    ledger = ledger_on_fake(fake)
    properties = ledger.api.data_source_properties("sequences")
    sources = {kind: ledger.api.data_source_id(kind) for kind in ("contacts", "sequences", "templates")}
    assert check_schema("sequences", properties, schema=SEQUENCES, data_sources=sources) == []

    wrong = {
        **SEQUENCES,
        CONTACT: Relation(to="templates"),
        CONTACT_STATUS: Rollup(relation=CONTACT, property="Segment"),
        "Contacts": Rollup(relation=CONTACT, property="email", function="count_values"),
    }
    problems = check_schema("sequences", properties, schema=wrong, data_sources=sources)
    assert problems == [
        f"'{CONTACT}': relates to data source {sources['contacts']}, expected the email templates database's "
        f"({sources['templates']})",
        f"'{CONTACT_STATUS}': rolls up 'Email Status' through '{CONTACT}' with show_original, expected 'Segment' "
        f"through '{CONTACT}' with show_original",
        f"'Contacts': rolls up 'email' through '{CONTACT}' with count, expected 'email' through '{CONTACT}' with "
        "count_values",
    ]
    plain = FakeNotion(schemas={"sequences": WITHOUT_LINK})  # a workspace made before the link
    missing = check_schema("sequences", ledger_on_fake(plain).api.data_source_properties("sequences"))
    assert f"'{CONTACT}': missing (expected a property of type relation)" in missing
    assert f"'{CONTACT_STATUS}': missing (expected a property of type rollup)" in missing


def test_a_send_reads_a_hand_edited_unsubscribe_through_the_record_in_one_query() -> None:
    from christmas_tasks.domain.records import ContactUpdate
    from christmas_tasks.usecases.outcomes import SkipReason
    from tests.reliability.world import World

    world = World()
    plan = world.handle("noshow.json", "noshow")
    contact = world.ledger().contacts.get_contact("jane.doe@example.com")
    assert contact is not None
    record = next(p for p in world.notion.pages_of("sequences"))
    assert record["properties"][CONTACT]["relation"] == [{"id": contact.ref}]  # the record links its contact
    by_hand = ContactUpdate("jane.doe@example.com", email_status="unsubscribed")
    world.ledger().contacts.upsert_contact(by_hand)
    before = len(world.notion.requests)
    outcome = world.send(plan[0])
    assert (outcome.skip, outcome.detail) == (SkipReason.SUPPRESSED, "unsubscribed")
    queries = [path for method, path in world.notion.requests[before:] if path.endswith("/query")]
    assert len(queries) == 1, "the contact's status came with the sequence record"


def test_a_record_written_before_the_link_reads_the_contact_instead() -> None:
    from christmas_tasks.usecases.outcomes import SendStatus
    from tests.reliability.world import World

    world = World()
    plan = world.handle("noshow.json", "noshow")
    (record,) = world.notion.pages_of("sequences")
    record["properties"][CONTACT]["relation"] = []  # as a record made before the link has it
    before = len(world.notion.requests)
    assert world.send(plan[0]).status is SendStatus.SENT
    read = {source_of(world.notion, kind): kind for kind in ("sequences", "contacts", "templates")}
    queries = [read[path.split("/")[3]] for method, path in world.notion.requests[before:] if path.endswith("/query")]
    assert queries == ["sequences", "contacts", "templates"], "the record, then its contact (and the template)"
