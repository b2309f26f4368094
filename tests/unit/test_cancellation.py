"""A cancelled call (SPEC §2, §3): Calendly's `invitee.canceled` starts the 2-email rebook sequence, unless it was a
reschedule or the contact has paid, is suppressed or booked another call since; a new booking or a payment stops it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from christmas_tasks.domain.errors import InvalidInput
from christmas_tasks.domain.records import ContactUpdate
from christmas_tasks.domain.vocabulary import BookingStatus, CampaignStatus, StopReason
from christmas_tasks.usecases.funnel import Funnel
from christmas_tasks.usecases.outcomes import Action, SendStatus, SkipReason
from tests.conftest import EXAMPLES, NOW
from tests.fakes.memory import InMemoryLedger, InMemoryMailer, handle

JANE = "jane.doe@example.com"
CALL_A = "https://api.calendly.com/scheduled_events/AAAAAAAAAAAAAAAA"
H = timedelta(hours=1)


def sample(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())


def cancelled(uri: str = CALL_A, **payload: Any) -> dict[str, Any]:
    body = sample("cancellation-calendly.json")
    body["payload"] = {**body["payload"], **payload}
    body["payload"]["scheduled_event"] = {**body["payload"]["scheduled_event"], "uri": uri}
    return body


def booked(uri: str = CALL_A) -> dict[str, Any]:
    body = sample("booking-calendly.json")
    body["payload"]["scheduled_event"] = {**body["payload"]["scheduled_event"], "uri": uri}
    return body


def test_a_cancelled_call_starts_rebook_and_both_emails_go_out(
    funnel: Funnel, ledger: InMemoryLedger, mailer: InMemoryMailer
) -> None:
    handle(funnel, "booking", booked(), NOW)
    handled = handle(funnel, "cancellation", cancelled(), NOW + H)
    assert (handled.action, handled.sequence) == (Action.SEQUENCE_STARTED, "rebook")
    assert [item.email_number for item in handled.plan] == [1, 2]
    contact = ledger.contacts.get_contact(JANE)
    assert contact is not None
    assert (contact.booking_status, contact.campaign_status) == (BookingStatus.CANCELLED, CampaignStatus.REBOOK)
    assert contact.timezone == "America/Vancouver"  # Calendly's invitee's
    record = ledger.sequences.records[handled.sequence_key]
    assert record.variables["reason"] == "Something came up at the salon"
    outcomes = [funnel.send(i.sequence_key, i.email_number, i.send_at, i.send_at) for i in handled.plan]
    assert [o.status for o in outcomes] == [SendStatus.SENT, SendStatus.SENT]  # "Cancelled" is no booking
    sent = mailer.messages()
    assert [m.tags["email_number"] for m in sent] == ["1", "2"]
    assert "Pick a new time" in sent[0].html


def test_a_reschedule_changes_nothing(funnel: Funnel, ledger: InMemoryLedger) -> None:
    handle(funnel, "booking", booked(), NOW)
    before = ledger.contacts.get_contact(JANE)
    handled = handle(funnel, "cancellation", sample("cancellation-rescheduled-calendly.json"), NOW + H)
    assert handled.action is Action.NOTHING_TO_START and "reschedule" in handled.reason
    assert ledger.contacts.get_contact(JANE) == before and ledger.sequences.records == {}
    # the reschedule's new booking (Calendly's invitee.created with old_invitee) is a booking like any other
    assert handle(funnel, "booking", sample("booking-rescheduled-calendly.json"), NOW + H).action is (
        Action.BOOKING_RECORDED
    )
    assert ledger.contacts.get_contact(JANE).booked_call.endswith("EEEEEEEEEEEEEEEE")  # type: ignore[union-attr]


def test_a_new_booking_stops_rebook_and_its_next_email_is_skipped(funnel: Funnel, ledger: InMemoryLedger) -> None:
    handled = handle(funnel, "cancellation", cancelled(), NOW)
    rebooked = handle(funnel, "booking", booked("https://api.calendly.com/scheduled_events/BBBB"), NOW + H)
    assert rebooked.stopped == (handled.sequence_key,)
    assert ledger.sequences.records[handled.sequence_key].stopped_reason == StopReason.BOOKED
    first = handled.plan[0]
    assert funnel.send(first.sequence_key, 1, first.send_at, first.send_at).skip is SkipReason.STOPPED


def test_a_payment_stops_rebook(funnel: Funnel, ledger: InMemoryLedger) -> None:
    handled = handle(funnel, "cancellation", cancelled(), NOW)
    handle(funnel, "onboarding", sample("onboarding.json"), NOW + H)
    assert ledger.sequences.records[handled.sequence_key].stopped_reason == StopReason.PAID


@pytest.mark.parametrize(
    ("update", "why"),
    [
        (ContactUpdate(JANE, booking_status=BookingStatus.CLIENT), "has paid"),
        (ContactUpdate(JANE, email_status="unsubscribed"), "is unsubscribed"),
        (ContactUpdate(JANE, booking_status=BookingStatus.BOOKED, booked_call=CALL_A + "-later"), "booked another"),
    ],
)
def test_a_cancellation_for_a_contact_who_paid_is_suppressed_or_booked_again_starts_nothing(
    funnel: Funnel, ledger: InMemoryLedger, update: ContactUpdate, why: str
) -> None:
    ledger.contacts.upsert_contact(ContactUpdate(JANE, first_name="Jane"))
    before = ledger.contacts.upsert_contact(update)
    handled = handle(funnel, "cancellation", cancelled(), NOW)
    assert handled.action is Action.NOTHING_TO_START and why in handled.reason
    assert ledger.contacts.get_contact(JANE) == before and ledger.sequences.records == {}


def test_the_call_booked_again_is_told_apart_from_the_one_cancelled(funnel: Funnel) -> None:
    # booked B while A's cancellation was on its way: A's cancellation starts nothing; B's own does
    handle(funnel, "booking", booked(CALL_A), NOW)
    handle(funnel, "booking", booked("https://api.calendly.com/scheduled_events/BBBB"), NOW + H)
    assert handle(funnel, "cancellation", cancelled(CALL_A), NOW + 2 * H).action is Action.NOTHING_TO_START
    later = handle(funnel, "cancellation", cancelled("https://api.calendly.com/scheduled_events/BBBB"), NOW + 3 * H)
    assert later.action is Action.SEQUENCE_STARTED


def test_the_same_cancellation_twice_plans_nothing_the_second_time(funnel: Funnel) -> None:
    assert handle(funnel, "cancellation", cancelled(), NOW).action is Action.SEQUENCE_STARTED
    assert handle(funnel, "cancellation", cancelled(), NOW).action is Action.ALREADY_HANDLED


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"scheduled_event": {"name": "call"}, "event": None}, "payload.scheduled_event.uri"),
        ({"rescheduled": "perhaps"}, "payload.rescheduled"),
        ({"email": "not-an-address"}, "payload.email"),
        ({"timezone": "Pacific Time"}, "payload.timezone"),
    ],
)
def test_a_malformed_calendly_body_is_refused_naming_the_field_and_writes_nothing(
    funnel: Funnel, ledger: InMemoryLedger, change: dict[str, Any], field: str
) -> None:
    body = sample("cancellation-calendly.json")
    body["payload"] = {**body["payload"], **change}
    with pytest.raises(InvalidInput, match=field.replace(".", r"\.")):
        handle(funnel, "cancellation", body, NOW)
    assert ledger.contacts.get_contact(JANE) is None and ledger.sequences.records == {}


def test_another_calendly_event_is_refused_by_the_cancellation_flow(funnel: Funnel) -> None:
    with pytest.raises(InvalidInput, match=r"invitee\.canceled"):
        handle(funnel, "cancellation", sample("booking-calendly.json"), NOW)
