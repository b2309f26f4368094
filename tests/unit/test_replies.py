"""Replies (SPEC §2, the `reply` row; §8, REPLY_ADDRESS and REPLY_INBOX) on the in-memory ports, with an exact clock:
every email asks for replies at REPLY_ADDRESS; a person's reply stops the contact's sequences, alerts and is
forwarded to REPLY_INBOX; an automatic one, or one from no contact, is forwarded and recorded and stops nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings
from christmas_tasks.usecases.funnel import Funnel
from tests.conftest import EXAMPLES, NOW
from tests.fakes.memory import InMemoryLedger, InMemoryMailer, handle

M = timedelta(minutes=1)
JANE = "jane.doe@example.com"
INBOX = "sales@example.com"
REPLY_ADDRESS = "Example Consulting <reply@in.example.com>"


def body(name: str, **changes: Any) -> dict[str, Any]:
    return {**json.loads((EXAMPLES / name).read_text()), **changes}


def funnel_of(ledger: InMemoryLedger, mailer: InMemoryMailer, **env: str) -> Funnel:
    settings = Settings.from_env({"TESTING_MODE": "true", "REPLY_INBOX": INBOX, **env})
    return build_funnel(settings, ledger=ledger, mailer=mailer)


@pytest.fixture
def ledger() -> InMemoryLedger:
    return InMemoryLedger(SAMPLE_TEMPLATES)


@pytest.fixture
def mailer() -> InMemoryMailer:
    return InMemoryMailer()


@pytest.mark.parametrize(
    ("env", "reply_to"),
    [
        ({"REPLY_ADDRESS": REPLY_ADDRESS, "EMAIL_REPLY_TO": "hello@example.com"}, REPLY_ADDRESS),
        ({"EMAIL_REPLY_TO": "hello@example.com"}, "hello@example.com"),
        ({}, None),
    ],
)
def test_every_email_sent_asks_for_replies_at_reply_address_else_email_reply_to(
    ledger: InMemoryLedger, mailer: InMemoryMailer, env: dict[str, str], reply_to: str | None
) -> None:
    funnel = funnel_of(ledger, mailer, **env)
    plan = handle(funnel, "noshow", body("noshow.json"), NOW).plan
    funnel.send(plan[0].sequence_key, plan[0].email_number, NOW + M, plan[0].send_at)
    (sent,) = mailer.messages()
    assert sent.reply_to == reply_to
