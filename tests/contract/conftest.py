"""The Ledger implementations the contract suite runs against: SqliteLedger on a temporary file, NotionLedger replaying
cassettes/notion/contract-*.yaml (recorded once against tests/fakes/fake_notion.py; see docs/recording.md), and
the in-memory fake the use-case tests run on (tests/fakes/memory.py). The Notion variant's sleep is a no-op."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from christmas_tasks.adapters.notion import NotionLedger, join_text
from christmas_tasks.adapters.notion.schema import Analytics
from christmas_tasks.adapters.sqlite import SqliteLedger
from christmas_tasks.usecases.ports import Ledger
from tests.fakes.fake_notion import FakeNotion, interactions, notion_ledger
from tests.fakes.memory import InMemoryLedger


@pytest.fixture(params=["sqlite", pytest.param("notion", marks=pytest.mark.vcr), "memory"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Ledger:
    if request.param == "sqlite":
        return SqliteLedger(tmp_path / "crm.sqlite3")
    if request.param == "memory":
        return InMemoryLedger()
    return notion_ledger(FakeNotion(), request)


@pytest.fixture
def logged_analytics(ledger: Ledger, request: pytest.FixtureRequest) -> Callable[[], list[dict[str, Any]]]:
    """What log_analytics stored: SQLite's rows, or the pages NotionLedger created in the analytics database."""
    if isinstance(ledger, SqliteLedger | InMemoryLedger):
        def rows() -> list[dict[str, Any]]:
            entries = ledger.sends.analytics_entries() if isinstance(ledger, SqliteLedger) else ledger.sends.entries
            return [
                {"email": e.email, "template": e.template, "email_number": e.email_number, "status": e.status,
                 "at": e.at, "campaign": e.campaign, "resend_id": e.resend_id, "error": e.error}
                for e in entries
            ]
        return rows
    assert isinstance(ledger, NotionLedger)
    cassette = request.getfixturevalue("vcr")

    def pages() -> list[dict[str, Any]]:
        source = ledger.api.data_source_id("analytics")
        out = []
        for sent, _ in interactions(cassette):
            if sent.method != "POST" or not sent.uri.endswith("/v1/pages"):
                continue
            body = json.loads(sent.body)
            if body["parent"]["data_source_id"] != source:
                continue
            props = body["properties"]
            date = (props.get(Analytics.SENT_DATE) or {}).get("date") or {}

            def text(name: str, props: dict[str, Any] = props) -> str | None:
                return join_text(props[name]["rich_text"]) if name in props else None

            out.append({
                "email": props[Analytics.EMAIL]["email"],
                "template": join_text(props[Analytics.TEMPLATE]["title"]),
                "email_number": props[Analytics.EMAIL_NUMBER]["number"],
                "status": props[Analytics.STATUS]["select"]["name"],
                "at": datetime.fromisoformat(date["start"]).astimezone(UTC) if date else None,
                "campaign": props[Analytics.CAMPAIGN]["select"]["name"],
                "resend_id": text(Analytics.RESEND_ID),
                "error": text(Analytics.ERROR),
            })
        return out

    return pages
