"""What happened to a sent email after it left (SPEC §2, §9; christmas_tasks/usecases/engagement.py), on the
in-memory ports with an exact clock: each kind recorded against its email at most once, the first time, with at most
one query and one write per event; a redelivery, a second open, another sender's email and a type this project does
not read write nothing and are never refused."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from christmas_tasks.domain.vocabulary import Engagement
from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings
from christmas_tasks.usecases.funnel import Funnel
from christmas_tasks.usecases.outcomes import Action, SendStatus
from tests.conftest import EXAMPLES, NOW
from tests.fakes.memory import InMemoryLedger, InMemoryMailer, handle

M = timedelta(minutes=1)
JANE = "jane.doe@example.com"


class Counted(InMemoryLedger):
    """The in-memory ledger, counting the reads and writes an event costs (what Notion would be asked)."""

    def __init__(self) -> None:
        super().__init__(SAMPLE_TEMPLATES)
        self.calls: list[str] = []
        for store, names in ((self.sequences, ("sequences_for", "mark_engagement", "mark_sent")),
                             (self.people, ("is_forgotten",))):
            for name in names:
                setattr(store, name, self._counting(name, getattr(store, name)))

    def _counting(self, name: str, method: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return method(*args, **kwargs)

        return counted


@pytest.fixture
def ledger() -> Counted:
    return Counted()


@pytest.fixture
def funnel(ledger: Counted) -> Funnel:
    return build_funnel(Settings.from_env({"TESTING_MODE": "true"}), ledger=ledger, mailer=InMemoryMailer())


def resend(kind: str, email_id: str, at: datetime, **data: Any) -> dict[str, Any]:
    """Resend's webhook body of `email.<kind>` about the email `email_id` to Jane."""
    body = json.loads((EXAMPLES / "email-bounced.json").read_text())
    body["type"] = f"email.{kind}"
    body["created_at"] = at.isoformat()
    body["data"] = {key: value for key, value in body["data"].items() if key != "bounce"}
    body["data"].update(email_id=email_id, **data)
    return body


def started(funnel: Funnel, ledger: Counted, emails: int = 2) -> tuple[str, list[str]]:
    """Jane's assessment handled and its first `emails` planned emails sent: the key and their Resend ids."""
    handled = handle(funnel, "assessment", json.loads((EXAMPLES / "assessment.json").read_text()), NOW)
    ids = []
    for item in handled.plan[:emails]:
        outcome = funnel.send(item.sequence_key, item.email_number, item.send_at, item.send_at)
        assert outcome.status is SendStatus.SENT and outcome.resend_id
        ids.append(outcome.resend_id)
    ledger.calls.clear()
    return str(handled.sequence_key), ids


def engagement(ledger: Counted, key: str, number: int) -> tuple[dict[Engagement, datetime], str | None]:
    record = ledger.sequences.records[key]
    return dict(record.emails[number].engaged), record.emails[number].clicked_link


def test_each_kind_is_recorded_once_the_first_time_with_one_query_and_one_write(
    funnel: Funnel, ledger: Counted
) -> None:
    key, (email_2, _) = started(funnel, ledger)
    t = NOW + 5 * M
    for kind in ("delivered", "opened"):
        handled = handle(funnel, "email-status", resend(kind, email_2, t), t)
        assert handled.action is Action.RECORDED and handled.sequence_key == key
    assert ledger.calls == ["sequences_for", "mark_engagement"] * 2, "no forgotten-address look-up: 1 query, 1 write"
    ledger.calls.clear()

    # a second open, and a redelivery of the first: read, nothing written, the first time kept
    for later in (t + M, t):
        handled = handle(funnel, "email-status", resend("opened", email_2, later), later)
        assert handled.action is Action.RECORDED and "recorded already" in handled.reason
    assert ledger.calls == ["sequences_for"] * 2
    assert engagement(ledger, key, 2) == ({Engagement.DELIVERED: t, Engagement.OPENED: t}, None)


def test_a_click_keeps_its_first_link_and_time(funnel: Funnel, ledger: Counted) -> None:
    key, (_email_2, email_3) = started(funnel, ledger)
    t = NOW + 5 * M
    handle(funnel, "email-status", resend("clicked", email_3, t, click={"link": "https://cal.example/book"}), t)
    handle(funnel, "email-status", resend("clicked", email_3, t + M, click={"link": "https://example.com/other"}),
           t + M)
    assert engagement(ledger, key, 3) == ({Engagement.CLICKED: t}, "https://cal.example/book")
    assert engagement(ledger, key, 2) == ({}, None), "another email of the record is left as it was"


def test_a_delivery_delay_is_recorded_too(funnel: Funnel, ledger: Counted) -> None:
    key, (email_2, _) = started(funnel, ledger)
    handle(funnel, "email-status", resend("delivery_delayed", email_2, NOW + M), NOW + M)
    assert engagement(ledger, key, 2) == ({Engagement.DELIVERY_DELAYED: NOW + M}, None)


def test_an_email_of_no_record_of_this_campaign_writes_nothing(funnel: Funnel, ledger: Counted) -> None:
    started(funnel, ledger)
    handled = handle(funnel, "email-status", resend("opened", "not-ours-4ef9a417", NOW + M), NOW + M)
    assert handled.action is Action.RECORDED and "no email of campaign" in handled.reason
    assert ledger.calls == ["sequences_for"]


def test_without_an_id_kept_the_tags_find_the_email(funnel: Funnel, ledger: Counted) -> None:
    """The website sends email 1 and the ledger has no Resend id of it; the tags the email was sent with name it."""
    key, _ = started(funnel, ledger)
    tags = {"campaign": "christmas-2025", "sequence": "5day", "email_number": "1"}
    handle(funnel, "email-status", resend("opened", "website-sent-id", NOW + M, tags=tags), NOW + M)
    assert engagement(ledger, key, 1) == ({Engagement.OPENED: NOW + M}, None)


@pytest.mark.parametrize("resend_type", ["sent", "scheduled", "a_type_resend_adds_later"])
def test_a_type_this_project_does_not_read_is_recorded_as_unknown_never_refused(
    funnel: Funnel, ledger: Counted, resend_type: str
) -> None:
    key, (email_2, _) = started(funnel, ledger)
    handled = handle(funnel, "email-status", resend(resend_type, email_2, NOW + M), NOW + M)
    assert handled.action is Action.RECORDED and handled.mail_event == "unknown"
    assert handled.detail == f"email.{resend_type}"
    assert ledger.calls == [], "nothing read, nothing written"
    assert engagement(ledger, key, 2) == ({}, None)


def test_a_forgotten_address_engagement_finds_no_record_and_writes_nothing(funnel: Funnel, ledger: Counted) -> None:
    _, (email_2, _) = started(funnel, ledger)
    from christmas_tasks.usecases.erasure import forget

    forget(ledger.people, funnel.campaign.unsubscribe_secret, JANE, NOW + M)
    ledger.calls.clear()
    handled = handle(funnel, "email-status", resend("clicked", email_2, NOW + 2 * M), NOW + 2 * M)
    assert handled.action is Action.RECORDED and "nothing written" in handled.reason
    assert ledger.calls == ["sequences_for"]


def test_a_bounce_still_checks_the_forgotten_mark_and_suppresses(funnel: Funnel, ledger: Counted) -> None:
    _, (email_2, _) = started(funnel, ledger)
    body = resend("bounced", email_2, NOW + M, bounce={"message": "no such mailbox", "type": "Permanent"})
    handled = handle(funnel, "email-status", body, NOW + M)
    assert handled.action is Action.SUPPRESSED and ledger.calls[0] == "is_forgotten"
