"""The Crm implementations the contract suite runs against: SqliteCrm on a temporary file, NotionCrm replaying
cassettes/notion/contract-*.yaml (recorded once against tests/fakes/fake_notion.py; see docs/recording.md), and
the in-memory fake the use-case tests run on (tests/fakes/memory.py). The Notion variant's sleep is a no-op."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from christmas_tasks.adapters.notion import NotionCrm, join_text
from christmas_tasks.adapters.sqlite_crm import SqliteCrm
from christmas_tasks.notion_schema import Analytics
from christmas_tasks.ports import Crm
from tests.fakes.fake_notion import FakeNotion, interactions, notion_crm
from tests.fakes.memory import InMemoryCrm


@pytest.fixture(params=["sqlite", pytest.param("notion", marks=pytest.mark.vcr), "memory"])
def crm(request: pytest.FixtureRequest, tmp_path: Path) -> Crm:
    if request.param == "sqlite":
        return SqliteCrm(tmp_path / "crm.sqlite3")
    if request.param == "memory":
        return InMemoryCrm()
    return notion_crm(FakeNotion(), request)


@pytest.fixture
def logged_analytics(crm: Crm, request: pytest.FixtureRequest) -> Callable[[], list[dict[str, Any]]]:
    """What log_analytics stored: SQLite's rows, or the pages NotionCrm created in the analytics database."""
    if isinstance(crm, SqliteCrm | InMemoryCrm):
        def rows() -> list[dict[str, Any]]:
            entries = crm.analytics_entries() if isinstance(crm, SqliteCrm) else crm.analytics
            return [
                {"email": e.email, "template": e.template, "email_number": e.email_number, "status": e.status,
                 "at": e.at, "campaign": e.campaign, "resend_id": e.resend_id, "error": e.error}
                for e in entries
            ]
        return rows
    assert isinstance(crm, NotionCrm)
    cassette = request.getfixturevalue("vcr")

    def pages() -> list[dict[str, Any]]:
        source = crm.data_source_id("analytics")
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
