"""Faults injected into both providers under the whole send path (Funnel + NotionLedger + ResendMailer,
against the in-process fakes of Notion and Resend): no email is lost, none is sent twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from christmas_tasks.domain.errors import ProviderError
from christmas_tasks.usecases.outcomes import SendStatus, SkipReason
from tests.fakes.fake_resend import LosingTransport
from tests.reliability.world import World


@pytest.fixture
def world() -> World:
    return World()


def test_resend_429_with_retry_after_is_waited_out(world: World) -> None:
    plan = world.handle("noshow.json", "noshow")
    world.resend.rate_limit(retry_after=7)
    assert world.send(plan[0]).status is SendStatus.SENT
    assert 7.0 in world.sleeps and len(world.resend.emails) == 1


def test_resend_500s_then_success_sends_once(world: World) -> None:
    plan = world.handle("noshow.json", "noshow")
    world.resend.server_error(times=2)
    assert world.send(plan[0]).status is SendStatus.SENT
    assert len(world.resend.emails) == 1 and world.sleeps == [0.5, 1.0]


def test_a_500_after_resend_accepted_is_retried_with_the_same_key(world: World) -> None:
    plan = world.handle("noshow.json", "noshow")
    world.resend.server_error(after=True)
    result = world.send(plan[0])
    assert result.status is SendStatus.SENT and len(world.resend.emails) == 1
    assert result.resend_id in world.resend.emails


def test_a_dropped_connection_after_resend_accepted_sends_nothing_twice(world: World) -> None:
    plan = world.handle("postcall.json", "postcall")
    world.resend_transport = LosingTransport(world.resend, lose=1, deliver=True)
    result = world.send(plan[0])
    assert result.status is SendStatus.SENT and len(world.resend.emails) == 1
    assert len(world.resend.requests) == 2  # the lost answer, then the retry with the same key


def test_a_timeout_before_resend_got_it_is_retried(world: World) -> None:
    plan = world.handle("postcall.json", "postcall")
    world.resend_transport = LosingTransport(world.resend, lose=2, deliver=False)
    assert world.send(plan[0]).status is SendStatus.SENT
    assert len(world.resend.emails) == 1


def test_notion_429_and_500_on_the_ledger_write_are_retried(world: World) -> None:
    plan = world.handle("onboarding.json", "onboarding")
    world.notion.inject(429, "rate_limited", "Rate limited", headers={"Retry-After": "3"}, method="PATCH")
    world.notion.inject(500, "internal_server_error", "Oops", method="PATCH")
    assert world.send(plan[0]).status is SendStatus.SENT
    assert 3.0 in world.sleeps
    assert world.send(plan[0]).skip is SkipReason.ALREADY_SENT  # the ledger holds it
    assert len(world.resend.emails) == 1


def test_notion_409_conflicts_are_retried_like_a_429(world: World) -> None:
    """Notion: 409 conflict_error, "Transaction could not be completed, potentially due to a data collision.
    Make sure the parameters are up to date and try again." On a page create and on the ledger write."""
    world.notion.inject(409, "conflict_error", "Transaction could not be completed, potentially due to a data "
                        "collision. Make sure the parameters are up to date and try again.", method="POST",
                        path="/v1/pages")
    plan = world.handle("noshow.json", "noshow")
    world.notion.inject(409, "conflict_error", "Transaction could not be completed.", method="PATCH", times=2)
    assert world.send(plan[0]).status is SendStatus.SENT
    assert world.send(plan[0]).skip is SkipReason.ALREADY_SENT
    assert len(world.resend.emails) == 1 and len(world.notion.pages_of("sequences")) == 1
    assert len(world.sleeps) >= 3, "each conflict was waited out"


def test_notion_down_after_the_send_loses_nothing_and_duplicates_nothing(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The ledger write fails past every retry (a crash between send and ledger): the task fails,
    Kestra retries it minutes later, the idempotency key stops a second email, and the ledger is completed.
    The error says until when a retry is safe (Resend keeps keys 24 h)."""
    plan = world.handle("onboarding.json", "onboarding")
    world.notion.inject(503, "service_unavailable", "Down", method="PATCH", times=4)
    with pytest.raises(ProviderError, match="503"):
        world.send(plan[0])
    assert len(world.resend.emails) == 1
    assert "WAS SENT" in caplog.text and "a retry before" in caplog.text and "do not replay this send" in caplog.text
    retry = world.send(plan[0], late=timedelta(minutes=4))  # within Resend's 24 hours: the key still holds
    assert retry.status is SendStatus.SENT and len(world.resend.emails) == 1
    assert world.send(plan[0], late=timedelta(minutes=5)).skip is SkipReason.ALREADY_SENT


def test_a_replay_after_resends_24_hours_is_stopped_by_the_ledger(world: World) -> None:
    """Resend forgets a key 24 hours after its first use (the fake too): a replay a day later would send
    again, and only the ledger check (SPEC section 6, step 2) stops it."""
    plan = world.handle("onboarding.json", "onboarding")
    assert world.send(plan[0]).status is SendStatus.SENT
    replay = world.send(plan[0], late=timedelta(hours=25))
    assert replay.status is SendStatus.SKIPPED and replay.skip is SkipReason.ALREADY_SENT
    assert len(world.resend.emails) == 1
    # what the ledger guarded against: the same request a day later is a new email to Resend
    first = next(iter(world.resend.requests))
    answer = world.resend.handle("POST", "/emails", first["headers"], first["body"])
    assert answer[0] == 200 and len(world.resend.emails) == 2


def test_a_whole_sequence_under_faults_sends_each_email_exactly_once(world: World) -> None:
    plan = world.handle("assessment.json", "assessment")
    world.resend.rate_limit(retry_after=1)
    world.resend.server_error(after=True)
    world.notion.inject(502, "bad_gateway", "Bad gateway", method="POST", times=1)
    for item in plan:
        for _attempt in range(3):  # Kestra's task retry
            try:
                world.send(item)
                break
            except ProviderError:
                continue
    for item in plan:  # a duplicated or replayed execution of every email
        assert world.send(item).status is SendStatus.SKIPPED
    assert len(world.resend.emails) == 4 and len(set(world.delivered())) == 4
