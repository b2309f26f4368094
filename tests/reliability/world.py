"""The world the reliability tests run in: the in-process fakes of Notion and Resend, and the funnel a fresh
Kestra task would build on them (Funnel + NotionLedger + ResendMailer)."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from christmas_tasks.adapters.notion import NotionLedger
from christmas_tasks.adapters.resend.mailer import ResendMailer
from christmas_tasks.adapters.retry import RetryPolicy
from christmas_tasks.entrypoints.app import build_funnel, push_templates
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Secret, Settings
from christmas_tasks.usecases.funnel import Funnel
from christmas_tasks.usecases.outcomes import EmailOutcome, ScheduledEmail
from tests.conftest import EXAMPLES, NOW
from tests.fakes.fake_notion import FakeNotion, ledger_on_fake
from tests.fakes.fake_resend import API_KEY, FakeResend
from tests.fakes.memory import handle

POLICY = RetryPolicy(attempts=4, base_delay=0.5, max_delay=30, budget=90)


def ledger_rows(db: Path) -> list[tuple[str, list[Any]]]:
    """Every row of every table of a local ledger file, table by table: what "nothing was written" compares."""
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return [(t, sorted(map(repr, conn.execute(f"SELECT * FROM {t}")))) for t in tables]


class World:
    """Fake Notion and fake Resend, and a way to build the funnel a fresh Kestra task would build."""

    def __init__(self) -> None:
        self.notion = FakeNotion()
        self.now = NOW  # the fake Resend's clock (its idempotency keys last 24 h): each send moves it
        self.resend = FakeResend(clock=lambda: self.now)
        self.sleeps: list[float] = []
        self.resend_transport: httpx.BaseTransport = httpx.WSGITransport(app=self.resend)
        push_templates(self.ledger().templates, SAMPLE_TEMPLATES)

    def ledger(self) -> NotionLedger:
        return ledger_on_fake(self.notion, retry=POLICY, sleep=self.sleeps.append)

    def funnel(self) -> Funnel:
        mailer = ResendMailer(
            Secret(API_KEY),
            client=httpx.Client(transport=self.resend_transport),
            policy=POLICY,
            sleep=self.sleeps.append,
        )
        return build_funnel(Settings.from_env({"TESTING_MODE": "true"}), ledger=self.ledger(), mailer=mailer)

    def handle(self, name: str, kind: str) -> tuple[ScheduledEmail, ...]:
        body = json.loads((EXAMPLES / name).read_text())
        return handle(self.funnel(), kind, body, NOW).plan

    def send(self, item: ScheduledEmail, *, late: timedelta = timedelta(0)) -> EmailOutcome:
        """Send one planned email 5 s after its time (plus `late`: a retry or replay that long after)."""
        self.now = item.send_at + timedelta(seconds=5) + late
        return self.funnel().send(item.sequence_key, item.email_number, self.now, item.send_at)

    def delivered(self) -> list[str]:
        return sorted(body["subject"] for body in self.resend.emails.values())
