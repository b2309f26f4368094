"""Notion's request limits (developers.notion.com/reference/request-limits; the 10,000-result query limit from
Notion's guide "Query large data sources"): the fake enforces each with Notion's error, and NotionLedger refuses
what Notion would refuse before sending anything, naming the property. In-process against the fake, no cassette:
a refused request is never sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from christmas_tasks.adapters.notion import NotionApiError
from christmas_tasks.adapters.notion.schema import (
    EMAIL_LIMIT,
    QUERY_RESULT_LIMIT,
    REQUEST_BODY_LIMIT,
    SELECT_NAME_LIMIT,
    URL_LIMIT,
    Contacts,
    Sequences,
    Templates,
)
from christmas_tasks.domain.errors import InvalidInput
from christmas_tasks.domain.records import ContactUpdate, EngagementMark, SequenceRecord
from christmas_tasks.domain.rendering import Template
from christmas_tasks.domain.vocabulary import Engagement
from tests.fakes.fake_notion import NOTION_VERSION, TOKEN, FakeNotion, ledger_on_fake

FOOTER = '<p>{{sender_address}} <a href="{{unsubscribe_url}}">Unsubscribe</a></p>'


def address(length: int) -> str:
    return "a" * (length - len("@example.com")) + "@example.com"


def raw_request(fake: FakeNotion, method: str, path: str, body: Any) -> httpx.Response:
    """A request straight to the fake, past the adapter's own checks: what Notion itself answers."""
    with httpx.Client(transport=httpx.WSGITransport(app=fake), base_url="https://api.notion.com") as http:
        return http.request(
            method,
            path,
            content=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            headers={
                "Authorization": f"Bearer {TOKEN}",
                "Notion-Version": NOTION_VERSION,
                "Content-Type": "application/json",
            },
        )


def contacts_source(fake: FakeNotion) -> str:
    return next(sid for sid, source in fake.sources.items() if source["kind"] == "contacts")


def new_contact(fake: FakeNotion, properties: dict[str, Any]) -> httpx.Response:
    parent = {"type": "data_source_id", "data_source_id": contacts_source(fake)}
    return raw_request(fake, "POST", "/v1/pages", {"parent": parent, "properties": properties})


# ---------------------------------------------------------------------- the fake answers as Notion does


def test_the_fake_refuses_an_email_over_200_characters() -> None:
    fake = FakeNotion()
    assert new_contact(fake, {Contacts.EMAIL: {"email": address(EMAIL_LIMIT)}}).status_code == 200
    answer = new_contact(fake, {Contacts.EMAIL: {"email": address(EMAIL_LIMIT + 1)}})
    assert answer.status_code == 400 and answer.json()["code"] == "validation_error"
    assert answer.json()["message"] == (
        "body failed validation: body.properties.email.email.length should be ≤ `200`, instead was `201`."
    )


def test_the_fake_refuses_a_url_over_2000_characters_counted_as_notion_counts() -> None:
    fake = FakeNotion()
    source = next(sid for sid, source in fake.sources.items() if source["kind"] == "sequences")
    page = raw_request(fake, "POST", "/v1/pages", {"parent": {"data_source_id": source}, "properties": {}}).json()
    link = "https://example.com/" + "a" * (URL_LIMIT - len("https://example.com/"))
    ok = raw_request(fake, "PATCH", f"/v1/pages/{page['id']}", {"properties": {Sequences.link(1): {"url": link}}})
    assert ok.status_code == 200 and ok.json()["properties"]["Email 1 Link"]["url"] == link
    longer = link[:-1] + "🎄"  # one character more in UTF-16 code units, as Notion counts
    answer = raw_request(fake, "PATCH", f"/v1/pages/{page['id']}", {"properties": {Sequences.link(1): {"url": longer}}})
    assert answer.status_code == 400 and answer.json()["message"] == (
        "body failed validation: body.properties.Email 1 Link.url.length should be ≤ `2000`, instead was `2001`."
    )


def test_the_fake_refuses_a_select_option_over_100_characters_or_with_a_comma() -> None:
    fake = FakeNotion()
    long = new_contact(fake, {Contacts.SEGMENT: {"select": {"name": "x" * (SELECT_NAME_LIMIT + 1)}}})
    assert (
        long.status_code == 400 and "select.name.length should be ≤ `100`, instead was `101`" in long.json()["message"]
    )
    comma = new_contact(fake, {Contacts.SEGMENT: {"select": {"name": "a, b"}}})
    assert comma.status_code == 400 and comma.json()["message"] == "Invalid select option, commas not allowed: a, b"


def test_the_fake_refuses_a_request_body_over_500_kb() -> None:
    fake = FakeNotion()
    # 100 segments of 2,000 characters, each 3 bytes in UTF-8: 600 KB, within every per-property limit
    segments = [{"type": "text", "text": {"content": "€" * 2000}} for _ in range(100)]
    answer = new_contact(fake, {Contacts.BUSINESS_NAME: {"rich_text": segments}})
    assert answer.status_code == 400 and answer.json()["code"] == "validation_error"
    assert "Request body too large" in answer.json()["message"]
    assert fake.pages_of("contacts") == []


def test_the_fake_stops_a_query_at_its_result_limit_and_says_so() -> None:
    fake = FakeNotion()
    assert fake.query_result_limit == QUERY_RESULT_LIMIT == 10_000
    fake.query_result_limit = 3  # rather than 10,000 pages
    for n in range(5):
        fake.seed("contacts", {"email": f"c{n}@example.com"})
    answer = raw_request(fake, "POST", f"/v1/data_sources/{contacts_source(fake)}/query", {"page_size": 2}).json()
    assert answer["has_more"] and answer["request_status"]["type"] == "incomplete"
    last = raw_request(
        fake,
        "POST",
        f"/v1/data_sources/{contacts_source(fake)}/query",
        {"page_size": 2, "start_cursor": answer["next_cursor"]},
    ).json()
    assert len(last["results"]) == 1 and last["has_more"] is False  # paging stops at the limit
    assert last["request_status"] == {"type": "incomplete", "incomplete_reason": "query_result_limit_reached"}


# ---------------------------------------------------------------------- the adapter refuses before sending


def test_an_email_notion_cannot_hold_is_refused_before_any_request() -> None:
    fake = FakeNotion()
    ledger = ledger_on_fake(fake)
    ledger.api.data_source_id("contacts")
    before = len(fake.requests)
    with pytest.raises(InvalidInput, match=r"email: 201 characters is more than Notion's email limit \(200\)"):
        ledger.contacts.upsert_contact(ContactUpdate(address(EMAIL_LIMIT + 1), first_name="Long"))
    assert len(fake.requests) - before == 1  # the look-up only: nothing written


def test_a_link_notion_cannot_hold_is_refused_before_any_request() -> None:
    fake = FakeNotion()
    ledger = ledger_on_fake(fake)
    moment = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
    record = SequenceRecord("k", "jane@example.com", "Christmas 2025", "5day", "e", "Jane", moment, moment, ref="p-1")
    before = len(fake.requests)
    mark = EngagementMark(1, Engagement.CLICKED, moment, "https://example.com/" + "a" * URL_LIMIT)
    with pytest.raises(InvalidInput, match=r"Email 1 Link: 2020 characters is more than Notion's URL limit \(2000\)"):
        ledger.sequences.mark_engagement(record, mark)
    assert len(fake.requests) == before


@pytest.mark.parametrize(
    ("segment", "problem"),
    [("x" * 101, "101 characters is more than a Notion select option holds"), ("A, B", "cannot contain a comma")],
)
def test_a_select_option_notion_would_refuse_is_refused_before_sending(segment: str, problem: str) -> None:
    fake = FakeNotion()
    ledger = ledger_on_fake(fake)
    with pytest.raises(InvalidInput, match=f"Segment: .*{problem}"):
        ledger.contacts.upsert_contact(ContactUpdate("jane@example.com", segment=segment))
    assert [method for method, _ in fake.requests] == ["GET", "POST"]  # resolve, look up: no create
    assert fake.pages_of("contacts") == []


def test_a_template_over_500_kb_is_refused_naming_its_body_and_one_under_is_written() -> None:
    fake = FakeNotion()
    ledger = ledger_on_fake(fake)
    heavy = Template("5-Day E2", "Hi", "<p>" + "€" * 190_000 + "</p>" + FOOTER)  # 570 KB of UTF-8
    with pytest.raises(InvalidInput) as caught:
        ledger.templates.put_template(heavy)
    message = str(caught.value)
    assert "create the template 5-Day E2" in message and f"({REQUEST_BODY_LIMIT:,})" in message
    assert f"largest properties: {Templates.BODY} (" in message
    assert fake.pages_of("templates") == []
    light = Template("5-Day E2", "Hi", "<p>" + "e" * 190_000 + "</p>" + FOOTER)  # 190 KB
    assert ledger.templates.put_template(light) == "created"


def test_a_query_notion_stopped_at_its_limit_is_an_error_never_a_short_list() -> None:
    fake = FakeNotion()
    fake.query_result_limit = 3
    for n in range(5):
        fake.seed("templates", {"Template Name": f"T{n}", "Subject Line": "Hi", "Status": "Active"})
    with pytest.raises(
        NotionApiError,
        match=r"list the templates: Notion stopped the query at its 10,000-result limit "
        r"\(query_result_limit_reached\)",
    ) as caught:
        ledger_on_fake(fake).templates.list_templates()
    assert caught.value.retryable is False and caught.value.code == "query_result_limit_reached"
