"""The Notion schema as data (christmas_tasks.adapters.notion.schema) and the rich-text segmenting: pure checks."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from christmas_tasks.adapters.notion import NotionLedger, join_text, split_text
from christmas_tasks.adapters.notion.schema import KINDS, SCHEMA, SETTING, Relation, Rollup, check_schema, type_of
from christmas_tasks.adapters.notion.workspace import check_workspace
from christmas_tasks.domain.errors import InvalidInput
from christmas_tasks.domain.records import SequenceRecord


def data_source_properties(schema: dict[str, Any]) -> dict[str, Any]:
    """A data source's properties, as Notion describes them, for a schema of type names, relations and rollups."""
    out = {}
    for name, spec in schema.items():
        config: dict[str, Any] = {}
        if isinstance(spec, Relation):
            config = {"data_source_id": f"source-of-{spec.to}", "type": "single_property", "single_property": {}}
        elif isinstance(spec, Rollup):
            config = {"relation_property_name": spec.relation, "rollup_property_name": spec.property,
                      "function": spec.function}
        out[name] = {"id": name[:4], "name": name, "type": type_of(spec), type_of(spec): config}
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_a_data_source_with_every_property_passes(kind: str) -> None:
    properties = data_source_properties(SCHEMA[kind])
    properties["Notes"] = {"id": "x", "name": "Notes", "type": "rich_text", "rich_text": {}}  # extras are fine
    assert check_schema(kind, properties) == []


def test_every_missing_or_mistyped_property_is_named() -> None:
    schema = dict(SCHEMA["templates"])
    del schema["Subject Line"]
    schema["status"] = schema.pop("Status")
    schema["Email Body HTML"] = "title"
    assert check_schema("templates", data_source_properties(schema)) == [
        "'Subject Line': missing (expected a property of type rich_text)",
        "'Email Body HTML': is of type title, expected rich_text",
        "'Status': missing (expected a property of type select); found 'status', but property names are case-sensitive",
    ]
    assert len(check_schema("sequences", {})) == len(SCHEMA["sequences"])


def test_the_schema_is_the_one_the_spec_lists() -> None:
    sequences = SCHEMA["sequences"]
    for n in range(1, 6):
        assert (sequences[f"Email {n} Sent"], sequences[f"Email {n} Status"]) == ("date", "select")
        assert (sequences[f"Email {n} Resend ID"], sequences[f"Email {n} Sent By"]) == ("rich_text", "select")
        engagement = [sequences[f"Email {n} {kind}"] for kind in ("Delivered", "Delayed", "Opened", "Clicked")]
        assert engagement == ["date"] * 4 and sequences[f"Email {n} Link"] == "url"
    assert "Email 6 Sent" not in sequences and "Email 6 Opened" not in sequences
    assert SCHEMA["contacts"]["Booked At"] == "date" and SCHEMA["contacts"]["Booked Call"] == "rich_text"
    assert sequences["Sequence Key"] == "rich_text" and sequences["Event Data"] == "rich_text"
    assert SCHEMA["contacts"]["email"] == "email" and SCHEMA["contacts"]["first_name"] == "title"
    assert SCHEMA["templates"]["Template Name"] == "title" and SCHEMA["analytics"]["Template ID"] == "title"
    assert [kind for kind in SCHEMA if sum(t == "title" for t in SCHEMA[kind].values()) != 1] == []
    assert set(SETTING) == set(KINDS)


def test_unknown_kinds_and_missing_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown Notion database kind"):
        check_schema("people", {})
    with pytest.raises(ValueError, match="NOTION_EMAIL_SEQUENCE_DB_ID, NOTION_EMAIL_TEMPLATES_DB_ID"):
        check_workspace(SimpleNamespace(), databases={"contacts": "c"})  # type: ignore[arg-type]


def test_long_text_is_cut_into_2000_character_segments_and_joined_back() -> None:
    text = "Noël 🎄 " * 700
    segments = split_text(text)
    assert len(segments) == 3 and "".join(segments) == text
    assert all(len(s.encode("utf-16-le")) // 2 <= 2000 for s in segments)
    # A character outside the BMP counts two (as Notion counts) and is never cut in half.
    assert split_text("a" * 1999 + "🎄") == ["a" * 1999, "🎄"]
    assert split_text("") == []
    items = [{"type": "text", "text": {"content": s}} for s in segments]  # as sent: no plain_text
    assert join_text(items) == text
    assert join_text([{"plain_text": "a"}, {"plain_text": "b"}]) == "ab"
    assert join_text(None) == ""


def test_text_longer_than_a_property_holds_is_refused_before_any_request() -> None:
    moment = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
    record = SequenceRecord(
        key="christmas-2025|postcall|jane@example.com|call-1", email="jane@example.com", campaign="Christmas 2025",
        sequence="postcall", event_id="call-1", first_name="Jane", anchor=moment, created_at=moment,
        variables={"call_notes": "x" * 200_001},
    )
    no_requests = SimpleNamespace()  # any request would fail with AttributeError
    ledger = NotionLedger.on(no_requests, contacts_db="c", sequence_db="s", templates_db="t")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"Event Data: \d+ characters is more than one Notion property holds"):
        ledger.sequences.create_sequence(record)
