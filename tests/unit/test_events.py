from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from christmas_tasks.domain.errors import InvalidInput
from christmas_tasks.domain.events import KINDS as EVENT_KINDS
from christmas_tasks.domain.events import (
    AssessmentEvent,
    EmailStatusEvent,
    NoShowEvent,
    OnboardingEvent,
    PostCallEvent,
)
from christmas_tasks.domain.vocabulary import Bounce, EmailStatus, MailEvent
from christmas_tasks.entrypoints.inbound import read_event
from tests.conftest import EXAMPLES, NOW


def load(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())


def fields_of(error: InvalidInput) -> list[str]:
    return [p.field for p in error.problems]


def reject(kind: str, body: Any) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        read_event(kind, body, NOW)
    return fields_of(caught.value)


ASSESSMENT = {"email": "a@example.com", "first_name": "Ann", "red_systems": 1, "orange_systems": 1}


def test_email_is_trimmed_and_lower_cased() -> None:
    event = read_event("signup", {"email": "  Jane.Doe@Example.COM ", "first_name": "Jane"}, NOW)
    assert event.email == "jane.doe@example.com"


def test_signup_defaults() -> None:
    event = read_event("signup", load("signup.json"), NOW)
    assert event.source == "website"  # type: ignore[attr-defined]


def test_assessment_defaults_email_1_sent_at_to_arrival() -> None:
    event = read_event("assessment", ASSESSMENT, NOW)
    assert isinstance(event, AssessmentEvent)
    assert event.email_1_sent_at == NOW
    assert (event.yellow_systems, event.green_systems, event.email_1_status) == (0, 0, "sent")


def test_assessment_timestamp_with_offset_is_converted_to_utc() -> None:
    event = read_event("assessment", {**ASSESSMENT, "email_1_sent_at": "2025-12-01T05:00:00-05:00"}, NOW)
    assert event.email_1_sent_at == datetime(2025, 12, 1, 10, 0, tzinfo=UTC)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2025-12-01T09:00:00", "no time zone"),
        ("2025-12-01", "is a date"),
        ("yesterday", "not an ISO 8601"),
        (1733040000, "must be an ISO 8601 timestamp string"),
    ],
)
def test_assessment_timestamp_must_be_iso_with_zone(value: Any, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        read_event("assessment", {**ASSESSMENT, "email_1_sent_at": value}, NOW)
    (problem,) = caught.value.problems
    assert problem.field == "email_1_sent_at"
    assert fragment in problem.message


@pytest.mark.parametrize("field", ["red_systems", "orange_systems", "yellow_systems", "green_systems"])
@pytest.mark.parametrize("value", [-1, 9, "many", True, 1.5])
def test_counts_are_whole_numbers_from_0_to_8(field: str, value: Any) -> None:
    assert reject("assessment", {**ASSESSMENT, field: value}) == [field]


def test_counts_sum_to_at_most_8() -> None:
    body = {**ASSESSMENT, "red_systems": 3, "orange_systems": 3, "yellow_systems": 2, "green_systems": 1}
    with pytest.raises(InvalidInput) as caught:
        read_event("assessment", body, NOW)
    assert "add up to 9" in str(caught.value)
    ok = read_event("assessment", {**body, "green_systems": 0}, NOW)
    assert isinstance(ok, AssessmentEvent)


@pytest.mark.parametrize("field", ["assessment_score", "gps_score", "money_score"])
@pytest.mark.parametrize("value", [-0.1, 100.5, "high"])
def test_scores_are_0_to_100(field: str, value: Any) -> None:
    assert reject("assessment", {**ASSESSMENT, field: value}) == [field]


def test_every_bad_field_is_named_at_once() -> None:
    fields = reject("assessment", {"email": "not-an-email", "red_systems": 10})
    assert sorted(fields) == ["email", "first_name", "orange_systems", "red_systems"]


def test_length_caps() -> None:
    assert reject("signup", {"email": "a@example.com", "first_name": "x" * 201}) == ["first_name"]
    read_event("signup", {"email": "a@example.com", "first_name": "x" * 200}, NOW)
    body = {"email": "a@example.com", "first_name": "A", "call_date": "2025-12-04", "call_notes": "n" * 2001}
    assert reject("postcall", body) == ["call_notes"]


def test_what_notion_would_refuse_is_rejected_naming_the_field() -> None:
    at_limit = "a" * 60 + "@" + "b" * 63 + "." + "c" * 63 + ".example.com"  # 200 characters: Notion's email limit
    assert len(at_limit) == 200
    read_event("signup", {"email": at_limit, "first_name": "A"}, NOW)
    with pytest.raises(InvalidInput, match=r"email: is longer than 200 characters \(what Notion's email property"):
        read_event("signup", {"email": "a" + at_limit, "first_name": "A"}, NOW)
    with pytest.raises(InvalidInput, match="email_1_status: must not contain a comma"):
        read_event("assessment", {**ASSESSMENT, "email_1_status": "sent, opened"}, NOW)


def test_unknown_fields_are_ignored() -> None:
    event = read_event("signup", {"email": "a@example.com", "first_name": "A", "utm": "x"}, NOW)
    assert "utm" not in event.model_dump()


def test_not_an_object_is_rejected() -> None:
    assert reject("signup", ["a"]) == ["body"]


def test_unknown_event_kind_is_named() -> None:
    assert reject("birthday", {}) == ["event"]


def test_noshow_our_shape_and_calendlys_agree() -> None:
    ours = read_event("noshow", load("noshow.json"), NOW)
    calendly = read_event("noshow", load("noshow-calendly.json"), NOW)
    assert isinstance(ours, NoShowEvent) and isinstance(calendly, NoShowEvent)
    assert calendly.email == ours.email
    assert calendly.calendly_event_uri == ours.calendly_event_uri
    assert calendly.scheduled_time == ours.scheduled_time
    assert calendly.first_name == "Jane"


def test_calendly_body_errors_use_calendlys_paths() -> None:
    body = load("noshow-calendly.json")
    del body["payload"]["email"]
    body["payload"]["scheduled_event"]["start_time"] = "soon"
    assert sorted(reject("noshow", body)) == ["payload.email", "payload.scheduled_event.start_time"]


def test_calendly_body_of_another_event_is_rejected() -> None:
    body = {**load("noshow-calendly.json"), "event": "invitee.canceled"}
    assert reject("noshow", body) == ["event"]


def test_calendly_first_name_falls_back_to_name() -> None:
    body = load("booking-calendly.json")
    assert read_event("booking", body, NOW).first_name == "Jane"  # type: ignore[attr-defined]


def test_postcall_defaults_and_priority() -> None:
    event = read_event("postcall", {"email": "a@example.com", "first_name": "A", "call_date": "2025-12-04"}, NOW)
    assert isinstance(event, PostCallEvent)
    assert (event.call_outcome, event.follow_up_priority, event.objections) == ("Maybe", "Medium", [])
    body = {"email": "a@example.com", "first_name": "A", "call_date": "2025-12-04", "follow_up_priority": "Urgent"}
    assert reject("postcall", body) == ["follow_up_priority"]


def test_onboarding_unpaid_is_valid_and_says_so_later() -> None:
    event = read_event("onboarding", {**load("onboarding.json"), "payment_confirmed": False}, NOW)
    assert isinstance(event, OnboardingEvent) and event.payment_confirmed is False
    assert event.docusign_completed is True


def test_onboarding_requires_payment_fields() -> None:
    fields = reject("onboarding", {"email": "a@example.com", "first_name": "A"})
    assert sorted(fields) == ["payment_amount", "payment_confirmed", "payment_date"]


def test_resend_bounce_is_flattened() -> None:
    event = read_event("email-status", load("email-bounced.json"), NOW)
    assert isinstance(event, EmailStatusEvent)
    assert event.email == "jane.doe@example.com" and event.suppression == "bounced"
    assert event.email_id == "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"
    assert event.type is MailEvent.BOUNCED and event.bounce is Bounce.PERMANENT
    assert event.detail == "The recipient's mailbox does not exist. / General"


@pytest.mark.parametrize(
    ("sample", "changes", "suppression", "detail"),
    [
        ("email-bounced.json", {}, EmailStatus.BOUNCED, "does not exist"),
        ("email-bounced-transient.json", {}, None, "mailbox is full. / MailboxFull"),
        ("email-bounced-transient.json", {"type": "Undetermined"}, None, "mailbox is full"),
        ("email-bounced.json", {"type": None}, EmailStatus.BOUNCED, "does not exist"),  # email.bounced: permanent
        ("email-suppressed.json", {}, EmailStatus.SUPPRESSED, "suppression list. / OnAccountSuppressionList"),
        ("email-failed.json", {}, None, "reached_daily_quota"),
    ],
)
def test_each_resend_type_suppresses_as_resend_documents_it(
    sample: str, changes: dict[str, Any], suppression: str | None, detail: str
) -> None:
    body = load(sample)
    if changes:
        body["data"]["bounce"] = {k: v for k, v in {**body["data"]["bounce"], **changes}.items() if v is not None}
    event = read_event("email-status", body, NOW)
    assert isinstance(event, EmailStatusEvent) and event.suppression is suppression
    assert detail in (event.detail or "")


def test_an_unknown_bounce_type_is_rejected_at_its_path() -> None:
    body = load("email-bounced.json")
    body["data"]["bounce"]["type"] = "Soft"
    assert reject("email-status", body) == ["data.bounce.type"]


@pytest.mark.parametrize(
    ("resend_type", "mail_event"),
    [("email.delivered", "delivered"), ("email.delivery_delayed", "delivery_delayed"), ("email.opened", "opened"),
     ("email.clicked", "clicked"), ("email.sent", "unknown"), ("email.scheduled", "unknown"),
     ("email.something_new", "unknown")],
)
def test_every_resend_email_type_is_read_never_refused(resend_type: str, mail_event: str) -> None:
    """A refusal makes Resend retry for days (SPEC §2): a type this project does not read is accepted as unknown."""
    body = {**load("email-bounced.json"), "type": resend_type}
    body["data"] = {**body["data"], "click": {"link": "https://example.com/book", "timestamp": "2025-12-02T09:01Z"},
                    "tags": {"campaign": "christmas-2025", "sequence": "5day", "email_number": "3"}}
    event = read_event("email-status", body, NOW)
    assert isinstance(event, EmailStatusEvent) and event.type == mail_event
    assert (event.sequence_tag, event.number_tag) == ("5day", 3)
    assert event.link == ("https://example.com/book" if mail_event == "clicked" else None)
    assert event.provider_type == (resend_type if mail_event == "unknown" else None)
    assert event.checks_forgotten is False, "an engagement only writes on a record the address has"


def test_resend_tags_as_a_list_of_names_and_values_are_read_too() -> None:
    body = {**load("email-bounced.json"), "type": "email.opened"}
    body["data"] = {**body["data"], "tags": [{"name": "sequence", "value": "noshow"}, {"name": "email_number",
                                                                                    "value": "2"}]}
    event = read_event("email-status", body, NOW)
    assert isinstance(event, EmailStatusEvent) and (event.sequence_tag, event.number_tag) == ("noshow", 2)


def test_a_received_email_posted_as_a_status_is_refused_naming_the_reply_webhook() -> None:
    body = {**load("email-bounced.json"), "type": "email.received"}
    assert reject("email-status", body) == ["type"]


def test_event_variables_are_strings() -> None:
    event = read_event("assessment", {**ASSESSMENT, "assessment_score": 72.0, "revenue_leak_total": 1500.5}, NOW)
    variables = event.variables()
    assert variables["assessment_score"] == "72"
    assert variables["revenue_leak_total"] == "1500.5"
    assert "email" not in variables


# ------------------------------------------------------------------ properties

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
FIELDS = [
    "email",
    "first_name",
    "red_systems",
    "orange_systems",
    "yellow_systems",
    "green_systems",
    "assessment_score",
    "email_1_sent_at",
    "calendly_event_uri",
    "scheduled_time",
    "call_date",
    "payment_confirmed",
    "payment_amount",
    "payment_date",
    "objections",
    "observation_dates",
    "event",
    "payload",
    "type",
    "data",
    "business_name",
]
bodies = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=10) | json_values
KINDS = sorted(EVENT_KINDS)  # every kind, derived: a new one is fuzzed without an edit here


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), body=bodies)
def test_no_input_raises_anything_but_a_validation_error(kind: str, body: Any) -> None:
    try:
        event = read_event(kind, body, NOW)
    except InvalidInput as error:
        assert error.problems, "a rejection names at least one field"
        assert all(p.field and p.message for p in error.problems)
    else:
        assert event.email == event.email.strip().lower()


@settings(max_examples=200)
@given(
    red=st.integers(0, 8),
    orange=st.integers(0, 8),
    yellow=st.integers(0, 8),
    green=st.integers(0, 8),
)
def test_count_sum_rule_holds_for_every_combination(red: int, orange: int, yellow: int, green: int) -> None:
    body = {
        **ASSESSMENT,
        "red_systems": red,
        "orange_systems": orange,
        "yellow_systems": yellow,
        "green_systems": green,
    }
    if red + orange + yellow + green <= 8:
        assert isinstance(read_event("assessment", body, NOW), AssessmentEvent)
    else:
        with pytest.raises(InvalidInput):
            read_event("assessment", body, NOW)
