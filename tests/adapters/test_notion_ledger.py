"""NotionLedger beyond the shared contract: retries and errors, data-source resolution, duplicates,
the 5xx-on-create lookup, and the HTTP calls each operation costs (counted from the cassettes).

Cassettes: cassettes/notion/notion-*.yaml, written against tests/fakes/fake_notion.py (faults injected
there); re-record with `python -m tests.fakes.fake_notion record` (docs/recording.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from notion_client import Client
from notion_client.errors import APIResponseError, RequestTimeoutError

from christmas_tasks.adapters.notion import AmbiguousRecord, NotionApiError, NotionLedger
from christmas_tasks.adapters.notion.schema import KINDS, NOTION_VERSION, SCHEMA, Sequences
from christmas_tasks.adapters.notion.workspace import check_workspace
from christmas_tasks.adapters.retry import RetryPolicy
from christmas_tasks.domain.errors import ConfigError, ProviderError, TemplateError
from christmas_tasks.domain.records import (
    AnalyticsEntry,
    CampaignState,
    ContactUpdate,
    EmailLedger,
    EngagementMark,
    SentMark,
    SequenceRecord,
)
from christmas_tasks.domain.rendering import Template
from christmas_tasks.domain.vocabulary import Engagement
from christmas_tasks.entrypoints.settings import NotionSettings, Secret
from tests.fakes.cassettes import cassette_fixtures
from tests.fakes.fake_notion import (
    CASSETTE_DIR,
    DATABASES,
    TOKEN,
    FakeNotion,
    empty_databases,
    http_calls,
    interactions,
    ledger_on_fake,
    live_only_fake,
    notion_ledger,
)
from tests.fakes.fake_notion import vcr_config as notion_vcr_config
from tests.fakes.served import served

T0 = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
JANE = "jane@example.com"
CAMPAIGN = "Christmas 2025"
KEY = "christmas-2025|5day|jane@example.com|assessment"
H = timedelta(hours=1)
FOOTER = "<p>123 Example Street</p><p>{{sender_address}} <a href=\"{{unsubscribe_url}}\">Unsubscribe</a></p>"

# The HTTP requests each operation costs once its database's data source is resolved (that costs one
# databases.retrieve per database, on first use by an instance). docs/recording.md shows this table.
CALLS = {
    "get_contact": 1,
    "upsert_contact, new contact": 2,
    "upsert_contact, changed": 2,
    "upsert_contact, nothing changed": 1,
    "find_sequence": 1,
    "create_sequence, new": 2,
    "create_sequence, exists": 1,
    "create_sequence, after a listing (absent)": 1,
    "sequences_for (per 100 records)": 1,
    "mark_sent": 1,
    "stop_sequence, running": 2,
    "stop_sequence, already stopped": 0,
    "mark_status": 1,
    "mark_status, a sent email": 0,
    "mark_engagement": 1,
    "mark_engagement, already recorded": 0,
    "campaign state": 1,
    "set campaign state, the first time": 2,
    "set campaign state": 2,
    "get_template": 1,
    "list_templates (per 100 templates)": 1,
    "put_template, created or updated": 2,
    "put_template, unchanged": 1,
    "log_analytics": 1,
    "log_analytics, no analytics database": 0,
}


vcr_cassette_dir, vcr_config, default_cassette_name = cassette_fixtures(CASSETTE_DIR, notion_vcr_config, "notion-")


@pytest.fixture
def fake() -> FakeNotion:
    return FakeNotion()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def ledger(fake: FakeNotion, sleeps: list[float], request: pytest.FixtureRequest) -> NotionLedger:
    return notion_ledger(fake, request, sleep=sleeps.append)


def sequence(**changes: Any) -> SequenceRecord:
    values: dict[str, Any] = {
        "key": KEY, "email": JANE, "campaign": CAMPAIGN, "sequence": "5day", "event_id": "assessment",
        "first_name": "Jane", "anchor": T0, "created_at": T0, "business_name": "Jane's Salon", "segment": "CRITICAL",
        "variables": {"red_systems": "2", "orange_systems": "1", "assessment_score": "42"},
        "emails": {1: EmailLedger(1, T0, "sent", None, "website")},
    }
    values.update(changes)
    return SequenceRecord(**values)


def sent_requests(cassette: Any) -> list[tuple[str, str]]:
    return [(r.method, r.uri.removeprefix("https://api.notion.com")) for r, _ in interactions(cassette)]


# ---------------------------------------------------------------------- retries and errors


@live_only_fake
@pytest.mark.vcr
def test_a_429_is_retried_after_the_seconds_retry_after_asks(
    ledger: NotionLedger, fake: FakeNotion, sleeps: list[float], vcr: Any
) -> None:
    fake.inject(429, "rate_limited", "You have been rate limited. Please try again in a few minutes.",
                headers={"Retry-After": "2"}, path="/query$")
    assert ledger.contacts.get_contact(JANE) is None
    assert sleeps == [2.0]
    statuses = [response["status"]["code"] for _, response in interactions(vcr)]
    assert statuses == [200, 429, 200]
    assert interactions(vcr)[1][1]["headers"]["retry-after"] == ["2"]


@live_only_fake
@pytest.mark.vcr
def test_5xx_is_retried_with_backoff_then_fails_clearly(
    fake: FakeNotion, sleeps: list[float], request: Any, vcr: Any
) -> None:
    ledger = notion_ledger(fake, request, sleep=sleeps.append, retry=RetryPolicy(attempts=3, base_delay=0.5))
    fake.inject(502, None, "Bad Gateway", path="/query$")  # a proxy's HTML page, not Notion's JSON
    fake.inject(503, "service_unavailable", "Notion is unavailable, please try again later.", path="/query$", times=2)
    with pytest.raises(ProviderError) as caught:
        ledger.contacts.get_contact(JANE)
    error = caught.value
    assert error.retryable and error.status == 503
    assert str(error) == (
        "Notion answered 503: look up the contact jane@example.com: Notion is unavailable, please try again later. "
        "(gave up after 3 attempts)"
    )
    assert sleeps == [0.5, 1.0]
    assert [response["status"]["code"] for _, response in interactions(vcr)] == [200, 502, 503, 503]


@live_only_fake
@pytest.mark.vcr
def test_a_400_fails_at_once_with_notions_message(sleeps: list[float], request: Any, vcr: Any) -> None:
    schema = {name: kind for name, kind in SCHEMA["contacts"].items() if name != "Booking Status"}
    ledger = notion_ledger(FakeNotion(schemas={"contacts": schema}), request, sleep=sleeps.append)
    with pytest.raises(ProviderError) as caught:
        ledger.contacts.upsert_contact(ContactUpdate(JANE, first_name="Jane", booking_status="Booked"))
    error = caught.value
    assert error.status == 400 and not error.retryable and sleeps == []
    assert str(error) == (
        "Notion answered 400: create the contact jane@example.com: Booking Status is not a property that exists."
    )
    assert isinstance(error, NotionApiError) and error.code == "validation_error"
    assert http_calls(vcr) == 3  # resolve, look up, the refused create: no retry


@pytest.mark.parametrize(
    ("status", "code", "message", "retryable"),
    [
        (529, "service_overload", "Notion is experiencing high load. Please try again later.", True),
        (400, "missing_version", "Notion-Version header failed validation: Notion-Version header should be "
                                 "defined, instead was `undefined`.", False),
        (503, "database_connection_unavailable", "Notion's database is unavailable or in an unqueryable state.",
         True),
        (502, "bad_gateway", "Notion encountered an issue while attempting to complete this request.", True),
    ],
)
def test_codes_notion_client_does_not_know_keep_notions_own_message(
    status: int, code: str, message: str, retryable: bool
) -> None:
    fake = FakeNotion()
    fake.inject(status, code, message, method="GET", times=10)
    ledger = ledger_on_fake(fake, retry=RetryPolicy(attempts=2), sleep=lambda _: None)
    with pytest.raises(NotionApiError) as caught:
        ledger.api.data_source_id("contacts")
    error = caught.value
    assert error.status == status and error.code == code and error.retryable is retryable
    assert message in str(error) and "failed with status" not in str(error)


def test_timeouts_and_dropped_connections_are_retried() -> None:
    failures: list[Exception] = [RequestTimeoutError(), httpx.ConnectError("connection reset")]
    answer = {"object": "database", "id": DATABASES["contacts"], "data_sources": [{"id": "ds-1", "name": "Contacts"}]}

    def retrieve(**_: Any) -> dict[str, Any]:
        if failures:
            raise failures.pop(0)
        return answer

    client = SimpleNamespace(databases=SimpleNamespace(retrieve=retrieve))
    sleeps: list[float] = []
    ledger = NotionLedger.on(client, contacts_db=DATABASES["contacts"], sequence_db="s", templates_db="t",  # type: ignore[arg-type]
                    sleep=sleeps.append)
    assert ledger.api.data_source_id("contacts") == "ds-1"
    assert sleeps == [0.5, 1.0] and failures == []

    def always_down(**_: Any) -> dict[str, Any]:
        raise httpx.ReadError("connection dropped")

    down = NotionLedger.on(SimpleNamespace(databases=SimpleNamespace(retrieve=always_down)),  # type: ignore[arg-type]
                     contacts_db="c", sequence_db="s", templates_db="t", sleep=lambda _: None,
                     retry=RetryPolicy(attempts=2))
    with pytest.raises(ProviderError, match=r"connection failed \(ReadError\) \(gave up after 2 attempts\)") as caught:
        down.api.data_source_id("contacts")
    assert caught.value.retryable and caught.value.status is None


def test_a_retry_after_longer_than_the_policy_allows_gives_up_at_once() -> None:
    def rate_limited(**_: Any) -> dict[str, Any]:
        raise APIResponseError(
            code="rate_limited", status=429, message="You have been rate limited.",
            headers=httpx.Headers({"retry-after": "60"}), raw_body_text="{}",
        )

    sleeps: list[float] = []
    ledger = NotionLedger.on(SimpleNamespace(databases=SimpleNamespace(retrieve=rate_limited)),  # type: ignore[arg-type]
                    contacts_db="c", sequence_db="s", templates_db="t", sleep=sleeps.append)
    with pytest.raises(ProviderError, match="a longer wait is beyond the retry policy") as caught:
        ledger.api.data_source_id("contacts")
    assert caught.value.retry_after == 60.0 and caught.value.retryable and sleeps == []


def test_notion_clients_own_retries_never_add_requests() -> None:
    """notion-client retries a 429 by itself (twice, with its own sleep): only the package's policy may retry, so
    each of its attempts is exactly one request, for a client the adapter builds and for one it is given."""
    fake = FakeNotion()
    rate_limited = ("You have been rate limited.",)
    with served(fake) as url:
        settings = NotionSettings(Secret(TOKEN), DATABASES["contacts"], "s", "t", None, api_url=url)
        built = NotionLedger.connect(settings, retry=RetryPolicy(attempts=2), sleep=lambda _: None)
        fake.inject(429, "rate_limited", *rate_limited, headers={"Retry-After": "0"}, times=5)
        with pytest.raises(NotionApiError, match="gave up after 2 attempts"):
            built.api.data_source_id("contacts")
        assert len(fake.requests) == 2
    given = Client(auth=TOKEN, client=httpx.Client(transport=httpx.WSGITransport(app=fake)),
                   notion_version=NOTION_VERSION)  # notion-client's default: retries of its own
    ledger = NotionLedger.on(given, contacts_db=DATABASES["contacts"], sequence_db="s", templates_db="t",
                    retry=RetryPolicy(attempts=1), sleep=lambda _: None)
    fake.inject(429, "rate_limited", *rate_limited, headers={"Retry-After": "0"}, times=5)
    with pytest.raises(NotionApiError):
        ledger.api.data_source_id("contacts")
    assert len(fake.requests) == 3  # the two above, then one
    with pytest.raises(ConfigError, match="2022-06-28"):
        NotionLedger.on(
            Client(auth="x", notion_version="2022-06-28"), contacts_db="c", sequence_db="s", templates_db="t"
        )


# ---------------------------------------------------------------------- data sources, lookups, duplicates


@pytest.mark.vcr
def test_each_data_source_is_resolved_once(ledger: NotionLedger, vcr: Any) -> None:
    ledger.contacts.get_contact(JANE)
    ledger.contacts.get_contact("john@example.com")
    ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", KEY)
    ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", KEY)
    # cached: no request
    contacts, sequences = ledger.api.data_source_id("contacts"), ledger.api.data_source_id("sequences")
    assert sent_requests(vcr) == [
        ("GET", f"/v1/databases/{DATABASES['contacts']}"),
        ("POST", f"/v1/data_sources/{contacts}/query"),
        ("POST", f"/v1/data_sources/{contacts}/query"),
        ("GET", f"/v1/databases/{DATABASES['sequences']}"),
        ("POST", f"/v1/data_sources/{sequences}/query"),
        ("POST", f"/v1/data_sources/{sequences}/query"),
    ]
    assert http_calls(vcr) == 6


@pytest.mark.vcr
def test_a_sequence_lookup_filters_by_email_campaign_type_and_key(ledger: NotionLedger, vcr: Any) -> None:
    """...or asks for the campaign's state page (its own key) in the same query: a send reads both in one request."""
    ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", KEY)
    query, _ = interactions(vcr)[-1]
    assert json.loads(query.body) == {
        "filter": {"or": [
            {"and": [
                {"property": "Email", "email": {"equals": JANE}},
                {"property": "Campaign", "select": {"equals": CAMPAIGN}},
                {"property": "Sequence Type", "select": {"equals": "5day"}},
                {"property": "Sequence Key", "rich_text": {"equals": KEY}},
            ]},
            {"property": "Sequence Key", "rich_text": {"equals": "christmas-2025|campaign-state"}},
        ]},
        "page_size": 3,
    }


@live_only_fake
@pytest.mark.vcr
def test_several_matching_pages_are_an_error_never_the_first(ledger: NotionLedger, fake: FakeNotion) -> None:
    for first_name in ("Jane", "Jane (copy)"):  # duplicates made by hand in Notion
        fake.seed("sequences", {
            Sequences.FIRST_NAME: first_name, Sequences.EMAIL: JANE, Sequences.CAMPAIGN: CAMPAIGN,
            Sequences.SEQUENCE_TYPE: "5day", Sequences.SEQUENCE_KEY: KEY, Sequences.ANCHOR_AT: T0,
        })
        fake.seed("templates", {"Template Name": "5-Day E2", "Subject Line": "Hi", "Status": "Active"})
    with pytest.raises(AmbiguousRecord, match=r"2 pages in the Notion email sequence database match Sequence Key "
                                              r"'christmas-2025\|5day\|jane@example.com\|assessment'"):
        ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", KEY)
    with pytest.raises(TemplateError, match=r"'5-Day E2'.*2 pages"):
        ledger.templates.get_template("5-Day E2")


@live_only_fake
@pytest.mark.vcr
def test_duplicate_contacts_are_merged_into_the_oldest_and_the_others_trashed(
    ledger: NotionLedger, fake: FakeNotion, caplog: pytest.LogCaptureFixture, vcr: Any
) -> None:
    # Three pages for one address, as two writers racing (or a person copying a page) leave them.
    oldest = fake.seed("contacts", {"email": JANE, "first_name": "Jane", "Christmas Campaign Status": "Signed Up"})
    fake.seed("contacts", {"email": JANE, "Christmas Campaign Status": "Nurture Sequence", "Segment": "CRITICAL",
                           "Email Status": "unsubscribed"})
    fake.seed("contacts", {"email": JANE, "Business Name": "Jane's Salon", "Email Status": "ok"})
    ledger.api.data_source_id("contacts")
    before = http_calls(vcr)
    with caplog.at_level("WARNING", logger="christmas_tasks.adapters.notion"):
        contact = ledger.contacts.get_contact(JANE)
    assert contact is not None and contact.ref == oldest
    assert (contact.first_name, contact.business_name, contact.segment) == ("Jane", "Jane's Salon", "CRITICAL")
    assert contact.email_status == "unsubscribed"  # a suppression is never lost
    assert contact.campaign_status == "Nurture Sequence"  # never back to "Signed Up"
    assert http_calls(vcr) - before == 5  # query (2 of more), query all, update the kept page, trash 2
    trash = {"in_trash": True}
    trashed = [r.uri.rsplit("/", 1)[1] for r, _ in interactions(vcr) if json.loads(r.body or "{}") == trash]
    assert len(trashed) == 2 and oldest not in trashed
    assert "3 Notion contact pages had the address jane@example.com: kept " + oldest in caplog.text
    assert ledger.contacts.get_contact(JANE) == contact  # one page now: 1 query
    assert http_calls(vcr) - before == 6


@live_only_fake
@pytest.mark.vcr
def test_a_create_answered_with_a_5xx_that_happened_is_found_not_repeated(
    ledger: NotionLedger, fake: FakeNotion, sleeps: list[float], vcr: Any
) -> None:
    fake.inject(504, "gateway_timeout", "Gateway timeout.", method="POST", path="^/v1/pages$", after=True)
    record, created = ledger.sequences.create_sequence(sequence())
    assert created and record.key == KEY and record.ref
    assert sleeps == [0.5]
    calls = sent_requests(vcr)
    assert [method for method, _ in calls] == ["GET", "POST", "POST", "POST"]  # resolve, look up, create (504), look up
    assert [uri for _, uri in calls].count("/v1/pages") == 1  # created once, never twice
    assert [response["status"]["code"] for _, response in interactions(vcr)] == [200, 200, 504, 200]


@live_only_fake
@pytest.mark.vcr
def test_a_create_that_failed_before_writing_is_made_once_after_the_lookup(
    ledger: NotionLedger, fake: FakeNotion, sleeps: list[float], vcr: Any
) -> None:
    fake.inject(500, "internal_server_error", "Unexpected error occurred.", method="POST", path="^/v1/pages$")
    record, created = ledger.sequences.create_sequence(sequence())
    assert created and record.ref
    uris = [uri for _, uri in sent_requests(vcr)]
    assert uris.count("/v1/pages") == 2 and len(uris) == 5  # resolve, look up, create (500), look up, create
    assert ledger.sequences.create_sequence(sequence()) == (record, False)


# ---------------------------------------------------------------------- costs


@pytest.mark.vcr
def test_the_http_calls_each_operation_costs(fake: FakeNotion, request: Any, vcr: Any) -> None:
    ledger = notion_ledger(fake, request)
    for kind in KINDS:
        ledger.api.data_source_id(kind)
    assert http_calls(vcr) == len(KINDS)  # one databases.retrieve each, once
    measured: dict[str, int] = {}

    def cost(name: str, operation: Callable[[], Any]) -> Any:
        before = http_calls(vcr)
        result = operation()
        measured[name] = http_calls(vcr) - before
        return result

    cost("get_contact", lambda: ledger.contacts.get_contact(JANE))
    cost("upsert_contact, new contact", lambda: ledger.contacts.upsert_contact(ContactUpdate(JANE, first_name="Jane")))
    cost("upsert_contact, changed", lambda: ledger.contacts.upsert_contact(ContactUpdate(JANE, segment="CRITICAL")))
    same = ContactUpdate(JANE, first_name="Jane")
    cost("upsert_contact, nothing changed", lambda: ledger.contacts.upsert_contact(same))
    cost("find_sequence", lambda: ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", KEY))
    record, _ = cost("create_sequence, new", lambda: ledger.sequences.create_sequence(sequence()))
    cost("create_sequence, exists", lambda: ledger.sequences.create_sequence(sequence()))
    other = sequence(key=KEY.replace("assessment", "again"), event_id="again")
    cost("create_sequence, after a listing (absent)", lambda: ledger.sequences.create_sequence(other, absent=True))
    cost("sequences_for (per 100 records)", lambda: ledger.sequences.sequences_for(JANE, CAMPAIGN, "5day"))
    record = cost("mark_sent", lambda: ledger.sequences.mark_sent(record, SentMark(2, T0 + timedelta(days=1), "re_2")))
    stopped = cost("stop_sequence, running", lambda: ledger.sequences.stop_sequence(record, "booked"))
    cost("stop_sequence, already stopped", lambda: ledger.sequences.stop_sequence(stopped, "paid"))
    held = cost("mark_status", lambda: ledger.sequences.mark_status(stopped, 3, "held"))
    cost("mark_status, a sent email", lambda: ledger.sequences.mark_status(held, 2, "held"))
    opened = EngagementMark(2, Engagement.OPENED, T0 + timedelta(days=1, hours=1))
    engaged = cost("mark_engagement", lambda: ledger.sequences.mark_engagement(held, opened))
    cost("mark_engagement, already recorded", lambda: ledger.sequences.mark_engagement(engaged, opened))
    cost("campaign state", lambda: ledger.campaigns.state(CAMPAIGN))
    paused = CampaignState(CAMPAIGN, True, "a pause", T0, "the command line")
    cost("set campaign state, the first time", lambda: ledger.campaigns.set_state(paused))
    cost("set campaign state", lambda: ledger.campaigns.set_state(replace(paused, paused=False)))
    template = Template("5-Day E2", "Hi {{first_name}}", "<p>Hi</p>" + FOOTER)
    cost("put_template, created or updated", lambda: ledger.templates.put_template(template))
    cost("put_template, unchanged", lambda: ledger.templates.put_template(template))
    cost("get_template", lambda: ledger.templates.get_template("5-Day E2"))
    cost("list_templates (per 100 templates)", lambda: ledger.templates.list_templates())
    entry = AnalyticsEntry(JANE, "5-Day E2", 2, "sent", T0, CAMPAIGN, "re_2")
    cost("log_analytics", lambda: ledger.sends.log_attempt(entry))
    without = notion_ledger(fake, request, analytics=False)
    cost("log_analytics, no analytics database", lambda: without.sends.log_attempt(entry))
    assert measured == CALLS


@pytest.mark.vcr
def test_an_engagement_writes_that_kinds_date_alone_and_a_click_its_link(ledger: NotionLedger, vcr: Any) -> None:
    """One pages.update touching email n's engagement only (a send may be writing the same page at the same time),
    and none for a kind the record shows recorded already."""
    stored, _ = ledger.sequences.create_sequence(sequence())
    link = "https://example.com/book?utm_content=5day-1"

    def written(mark: EngagementMark, on: SequenceRecord) -> tuple[SequenceRecord, dict[str, Any]]:
        before = len(interactions(vcr))
        result = ledger.sequences.mark_engagement(on, mark)
        sent = interactions(vcr)[before:]
        assert [(r.method, r.uri.removeprefix("https://api.notion.com")) for r, _ in sent] == [
            ("PATCH", f"/v1/pages/{stored.ref}")
        ]
        return result, json.loads(sent[0][0].body)["properties"]

    clicked, body = written(EngagementMark(1, Engagement.CLICKED, T0 + timedelta(hours=2), link), stored)
    assert body == {"Email 1 Clicked": {"date": {"start": "2025-12-01T12:00:00.000Z"}}, "Email 1 Link": {"url": link}}
    assert (clicked.emails[1].engaged, clicked.emails[1].clicked_link) == ({Engagement.CLICKED: T0 + 2 * H}, link)
    delivered, body = written(EngagementMark(1, Engagement.DELIVERED, T0 + timedelta(minutes=1), link), clicked)
    assert body == {"Email 1 Delivered": {"date": {"start": "2025-12-01T10:01:00.000Z"}}}, "a link only with a click"
    assert delivered.emails[1].clicked_link == link and len(delivered.emails[1].engaged) == 2
    before = len(interactions(vcr))
    again = EngagementMark(1, Engagement.CLICKED, T0 + timedelta(hours=3), "https://example.com/other")
    assert ledger.sequences.mark_engagement(delivered, again) is delivered
    assert len(interactions(vcr)) == before, "a kind recorded already: no request"


@pytest.mark.vcr
def test_log_analytics_without_a_database_makes_no_request(fake: FakeNotion, request: Any, vcr: Any) -> None:
    ledger = notion_ledger(fake, request, analytics=False)
    ledger.sends.log_attempt(AnalyticsEntry(JANE, "5-Day E2", 2, "sent", T0, CAMPAIGN, "re_2"))
    assert http_calls(vcr) == 0
    with pytest.raises(ConfigError, match="NOTION_EMAIL_ANALYTICS_DB_ID is not set"):
        ledger.api.data_source_id("analytics")


def test_the_live_recorder_empties_the_test_databases_between_tests() -> None:
    fake = FakeNotion()
    fake.seed("contacts", {"email": JANE, "first_name": "Jane"})
    fake.seed("templates", {"Template Name": "5-Day E2", "Status": "Active"})
    client = Client(auth=TOKEN, client=httpx.Client(transport=httpx.WSGITransport(app=fake)), retry=False)
    assert empty_databases(client, DATABASES.values()) == 2
    assert all(page["in_trash"] for page in fake.pages.values())


# ---------------------------------------------------------------------- the workspace check


@live_only_fake
@pytest.mark.vcr
def test_the_workspace_check_names_missing_and_mistyped_properties(sleeps: list[float], request: Any, vcr: Any) -> None:
    contacts = {k: v for k, v in SCHEMA["contacts"].items() if k != "Booking Status"}
    contacts["Email"] = contacts.pop("email")  # a capital E: names are case-sensitive
    sequences = {**SCHEMA["sequences"], "Email 3 Sent": "rich_text", "Sequence Completed": "select"}
    ledger = notion_ledger(FakeNotion(schemas={"contacts": contacts, "sequences": sequences}), request, analytics=False)
    report = check_workspace(ledger.api)
    assert report["ok"] is False
    databases = report["databases"]
    assert databases["contacts"]["problems"] == [
        "'email': missing (expected a property of type email); found 'Email', but property names are case-sensitive",
        "'Booking Status': missing (expected a property of type select)",
    ]
    assert databases["sequences"]["problems"] == [
        "'Email 3 Sent': is of type rich_text, expected date",
        "'Sequence Completed': is of type select, expected checkbox",
    ]
    assert databases["templates"] == {
        "setting": "NOTION_EMAIL_TEMPLATES_DB_ID", "database_id": DATABASES["templates"],
        "data_source_id": "da7a5000-0000-4000-8000-000000000003", "configured": True, "problems": [],
    }
    assert databases["analytics"]["configured"] is False
    assert http_calls(vcr) == 6  # databases.retrieve + data_sources.retrieve for each of the 3 databases


@live_only_fake
@pytest.mark.vcr
def test_a_workspace_made_before_engagement_is_named_by_the_check_and_still_read(request: Any, vcr: Any) -> None:
    """The engagement properties and Booked At added to SCHEMA: a workspace without them is named by `notion check`,
    its records are read as they are (no engagement), and a write of one fails with Notion's message naming it."""
    engagement = {Sequences.engaged(n, kind) for n in range(1, 6) for kind in Engagement}
    engagement |= {Sequences.link(n) for n in range(1, 6)}
    assert len(engagement) == 25
    contacts = {k: v for k, v in SCHEMA["contacts"].items() if k != "Booked At"}
    sequences = {k: v for k, v in SCHEMA["sequences"].items() if k not in engagement}
    ledger = notion_ledger(FakeNotion(schemas={"contacts": contacts, "sequences": sequences}), request, analytics=False)
    problems = {kind: entry["problems"] for kind, entry in check_workspace(ledger.api)["databases"].items()}
    assert problems["contacts"] == ["'Booked At': missing (expected a property of type date)"]
    assert problems["sequences"][:5] == [
        "'Email 1 Delivered': missing (expected a property of type date)",
        "'Email 1 Delayed': missing (expected a property of type date)",
        "'Email 1 Opened': missing (expected a property of type date)",
        "'Email 1 Clicked': missing (expected a property of type date)",
        "'Email 1 Link': missing (expected a property of type url)",
    ]
    assert len(problems["sequences"]) == 25
    stored, _ = ledger.sequences.create_sequence(sequence())
    assert ledger.sequences.find_sequence(JANE, CAMPAIGN, "5day", KEY) == stored
    assert stored.emails[1] == EmailLedger(1, T0, "sent", None, "website")
    with pytest.raises(ProviderError, match="Email 1 Opened is not a property that exists"):
        ledger.sequences.mark_engagement(stored, EngagementMark(1, Engagement.OPENED, T0 + H))


def test_the_workspace_check_takes_a_client_and_the_database_ids() -> None:
    client = Client(auth=TOKEN, client=httpx.Client(transport=httpx.WSGITransport(app=FakeNotion())), retry=False)
    report = check_workspace(client, databases=DATABASES)
    assert report["ok"] is True and set(report["databases"]) == set(KINDS)
    assert all(entry["problems"] == [] and entry["configured"] for entry in report["databases"].values())


@live_only_fake
@pytest.mark.vcr
def test_the_workspace_check_passes_a_complete_workspace_and_reports_an_unshared_database(
    request: Any, vcr: Any
) -> None:
    fake = FakeNotion(databases={k: v for k, v in DATABASES.items() if k != "templates"})  # not shared
    ledger = notion_ledger(fake, request)
    report = check_workspace(ledger.api)
    problems = {kind: entry["problems"] for kind, entry in report["databases"].items()}
    assert problems["contacts"] == problems["sequences"] == problems["analytics"] == []
    (unshared,) = problems["templates"]
    assert unshared.startswith("cannot read the email templates database: Notion answered 404: open the email "
                               "templates database (NOTION_EMAIL_TEMPLATES_DB_ID): Could not find database with ID")
    assert report["ok"] is False
