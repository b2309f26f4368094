"""The Notion cassettes themselves: each says where it came from, none carries a credential, and each
belongs to a test that still exists (a stale cassette is a sign of a renamed test)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from vcr.serializers import yamlserializer

from tests.fakes.fake_notion import CASSETTE_DIR, TOKEN

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = sorted(CASSETTE_DIR.glob("*.yaml"))


def test_there_are_cassettes() -> None:
    assert len(CASSETTES) >= 20


@pytest.mark.parametrize("path", CASSETTES, ids=[p.stem for p in CASSETTES])
def test_a_cassette_says_where_it_came_from_and_holds_no_credential(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# "), "stamp it: python -m tests.fakes.fake_notion record (docs/recording.md)"
    header = text.split("\ninteractions:", 1)[0]
    assert "against a local fake" in header or "live Notion test workspace" in header
    assert TOKEN not in text and "Bearer" not in text
    cassette = yamlserializer.deserialize(text)
    assert cassette["interactions"], "an empty cassette"
    for interaction in cassette["interactions"]:
        headers = {name.lower() for name in interaction["request"]["headers"]}
        assert "authorization" not in headers
        assert interaction["request"]["uri"].startswith("https://api.notion.com/v1/")
        assert interaction["request"]["headers"]["notion-version"] == ["2025-09-03"]


def test_every_cassette_belongs_to_a_test() -> None:
    def tests_in(*files: Path) -> set[str]:
        names = set()
        for file in files:
            names |= set(re.findall(r"^def test_(\w+)\(", file.read_text(encoding="utf-8"), re.MULTILINE))
        return {name.replace("_", "-") for name in names}

    contract = tests_in(ROOT / "tests" / "contract" / "test_ledger_contract.py")
    adapters = tests_in(*sorted((ROOT / "tests" / "adapters").glob("test_notion_*.py")))
    stale = [
        p.name for p in CASSETTES
        if not (p.stem.startswith("contract-") and p.stem.removeprefix("contract-") in contract)
        and not (p.stem.startswith("notion-") and p.stem.removeprefix("notion-") in adapters)
    ]
    assert stale == []
