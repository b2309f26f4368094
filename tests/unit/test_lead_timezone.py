"""The lead's own time zone (SPEC §2, §3): the assessment's `timezone` and Calendly's invitee's are validated, kept on
the contact, and the send window applies in that zone, for this event's sequence and for the later ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from christmas_tasks.domain.errors import InvalidInput
from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings
from christmas_tasks.usecases.funnel import Funnel
from tests.conftest import EXAMPLES, NOW
from tests.fakes.memory import InMemoryLedger, InMemoryMailer, handle

JANE = "jane.doe@example.com"
# NOW is Monday 1 December 2025, 10:00 UTC: 05:00 in Toronto, 19:00 in Tokyo, both outside a 09:00-18:00 window.
WINDOW = {"SEND_WINDOW": "mon-fri 09:00-18:00", "CAMPAIGN_TIMEZONE": "America/Toronto"}


def body(name: str, **changes: Any) -> dict[str, Any]:
    return {**json.loads((EXAMPLES / name).read_text()), **changes}


@pytest.fixture
def ledger() -> InMemoryLedger:
    return InMemoryLedger(SAMPLE_TEMPLATES)


@pytest.fixture
def funnel(ledger: InMemoryLedger) -> Funnel:
    return build_funnel(Settings.from_env(WINDOW), ledger=ledger, mailer=InMemoryMailer())


def first_send(funnel: Funnel, kind: str, event: dict[str, Any]) -> datetime:
    handled = handle(funnel, kind, event, NOW)
    assert handled.plan, handled
    return handled.plan[0].send_at


def test_the_window_opens_in_the_leads_zone_when_the_assessment_says_it(funnel: Funnel, ledger: InMemoryLedger) -> None:
    # E2 is due Tuesday 10:00 UTC: 19:00 in Tokyo, so it waits for Wednesday 09:00 there
    event = body("assessment.json", timezone="Asia/Tokyo", email_1_sent_at=NOW.isoformat())
    assert first_send(funnel, "assessment", event) == datetime(2025, 12, 3, 0, 0, tzinfo=UTC)
    assert ledger.contacts.get_contact(JANE).timezone == "Asia/Tokyo"  # type: ignore[union-attr]


def test_without_a_zone_the_window_opens_in_the_campaigns(funnel: Funnel, ledger: InMemoryLedger) -> None:
    # Tuesday 05:00 in Toronto: 09:00 there is 14:00 UTC
    event = body("assessment.json", email_1_sent_at=NOW.isoformat())
    del event["timezone"]
    assert first_send(funnel, "assessment", event) == datetime(2025, 12, 2, 14, 0, tzinfo=UTC)
    assert ledger.contacts.get_contact(JANE).timezone is None  # type: ignore[union-attr]


def test_a_later_event_without_a_zone_plans_in_the_one_the_contact_has(funnel: Funnel) -> None:
    handle(funnel, "assessment", body("assessment.json", timezone="Asia/Tokyo"), NOW)
    # the no-show's email 1 is due 10:05 UTC on Monday, 19:05 in Tokyo: Tuesday 09:00 there (00:00 UTC)
    assert first_send(funnel, "noshow", body("noshow.json")) == datetime(2025, 12, 2, 0, 0, tzinfo=UTC)


def test_calendlys_invitee_zone_is_kept_on_the_contact(funnel: Funnel, ledger: InMemoryLedger) -> None:
    calendly = body("booking-calendly.json")
    calendly["payload"] = {**calendly["payload"], "timezone": "Europe/Paris"}
    handle(funnel, "booking", calendly, NOW)
    assert ledger.contacts.get_contact(JANE).timezone == "Europe/Paris"  # type: ignore[union-attr]


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Eastern Time", "../../etc/passwd", "localtime", 5])
def test_an_unknown_zone_is_refused_by_name_and_nothing_is_written(
    funnel: Funnel, ledger: InMemoryLedger, zone: object
) -> None:
    with pytest.raises(InvalidInput, match="timezone") as refused:
        handle(funnel, "assessment", body("assessment.json", timezone=zone), NOW)
    assert "IANA time zone" in str(refused.value)
    assert ledger.contacts.get_contact(JANE) is None and ledger.sequences.records == {}


def test_a_calendly_body_with_an_unknown_zone_names_it_where_calendly_put_it(funnel: Funnel) -> None:
    calendly = body("booking-calendly.json")
    calendly["payload"] = {**calendly["payload"], "timezone": "Nowhere/Land"}
    with pytest.raises(InvalidInput, match=r"payload\.timezone"):
        handle(funnel, "booking", calendly, NOW)
