"""Two writers at once on Notion, which has no uniqueness constraint and no transaction: the fake's rendezvous
makes two clients' contact look-ups overlap, so both find nothing and both create the contact, as on Notion.
The next look-up makes the pages one (christmas_tasks/duplicates.py); the lock per address keeps the funnel itself
from racing (adapters/address_locks.py, tested on Kestra's engine in tests/engine/test_contact_races.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from christmas_tasks.domain.records import ContactUpdate
from christmas_tasks.usecases.outcomes import Action
from tests.conftest import EXAMPLES, NOW
from tests.fakes.fake_notion import FakeNotion, ledger_on_fake
from tests.fakes.memory import handle
from tests.reliability.world import World

JANE = "jane.doe@example.com"


def contact_queries(fake: FakeNotion) -> str:
    source = next(sid for sid, source in fake.sources.items() if source["kind"] == "contacts")
    return f"^/v1/data_sources/{source}/query$"


def at_once(*work: Callable[[], Any]) -> list[Any]:
    """Run each callable on its own thread, together; their results (or the exception each raised)."""
    results: list[Any] = [None] * len(work)

    def run(n: int) -> None:
        try:
            results[n] = work[n]()
        except Exception as exc:  # handed back to the test
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_clients_creating_one_contact_at_once_leave_one_contact_with_what_both_wrote() -> None:
    fake = FakeNotion()
    meeting = fake.rendezvous("POST", contact_queries(fake))
    signup = ContactUpdate(JANE, first_name="Jane", business_name="Jane's Salon", initial_campaign_status="Signed Up")
    assessment = ContactUpdate(JANE, first_name="Jane", campaign_status="Nurture Sequence", segment="CRITICAL")
    results = at_once(
        lambda: ledger_on_fake(fake).contacts.upsert_contact(signup),
        lambda: ledger_on_fake(fake).contacts.upsert_contact(assessment),
    )
    assert meeting.met and not [r for r in results if isinstance(r, Exception)]
    assert len(fake.pages_of("contacts")) == 2  # Notion cannot refuse the second create

    contact = ledger_on_fake(fake).contacts.get_contact(JANE)
    assert contact is not None
    live = [page["id"] for page in fake.pages_of("contacts") if not page["in_trash"]]
    assert live == [contact.ref] == [fake.pages_of("contacts")[0]["id"]]  # the oldest is kept
    assert (contact.first_name, contact.business_name) == ("Jane", "Jane's Salon")
    assert (contact.campaign_status, contact.segment) == ("Nurture Sequence", "CRITICAL")


def test_two_writers_merging_the_same_duplicates_at_once_agree() -> None:
    fake = FakeNotion()
    fake.seed("contacts", {"email": JANE, "first_name": "Jane"})
    fake.seed("contacts", {"email": JANE, "Segment": "CRITICAL", "Email Status": "bounced"})
    meeting = fake.rendezvous("POST", contact_queries(fake))
    first, second = at_once(
        lambda: ledger_on_fake(fake).contacts.get_contact(JANE), lambda: ledger_on_fake(fake).contacts.get_contact(JANE)
    )
    assert meeting.met and first == second
    assert first.email_status == "bounced" and first.segment == "CRITICAL" and first.first_name == "Jane"
    assert [page["in_trash"] for page in fake.pages_of("contacts")] == [False, True]


def test_a_signup_and_an_assessment_at_once_then_a_booking_on_the_one_contact() -> None:
    world = World()
    meeting = world.notion.rendezvous("POST", contact_queries(world.notion))
    signup = json.loads((EXAMPLES / "signup.json").read_text())
    assessment = json.loads((EXAMPLES / "assessment.json").read_text())
    # without the lock per address (two workers that share no cache folder, a person editing Notion): the race
    unlocked = [replace(world.funnel(), locks=None) for _ in range(2)]
    results = at_once(
        lambda: handle(unlocked[0], "signup", signup, NOW),
        lambda: handle(unlocked[1], "assessment", assessment, NOW),
    )
    assert meeting.met and not [r for r in results if isinstance(r, Exception)], results
    booking = json.loads((EXAMPLES / "booking-calendly.json").read_text())
    outcome = handle(world.funnel(), "booking", booking, NOW)
    assert outcome.action is Action.BOOKING_RECORDED and len(outcome.stopped) == 1  # the 5-day nurture
    contact = world.ledger().contacts.get_contact(JANE)
    assert contact is not None and (contact.campaign_status, contact.booking_status) == ("Pre-Call Prep", "Booked")
    assert contact.business_name == "Jane's Salon" and contact.segment
    assert sum(not page["in_trash"] for page in world.notion.pages_of("contacts")) == 1
