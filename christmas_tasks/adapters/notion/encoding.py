"""Notion property values <-> Python values: each encoded by its type in SCHEMA and checked against Notion's request
limits before anything is sent, and decoded back (rich text joined, dates in UTC); the filters the stores query with.
The records made of whole pages are in `christmas_tasks.adapters.notion.pages`.

Pure: no request is made here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from christmas_tasks.adapters.notion.schema import (
    EMAIL_LIMIT,
    LABEL,
    REQUEST_BODY_LIMIT,
    RICH_TEXT_LIMIT,
    RICH_TEXT_SEGMENTS,
    SCHEMA,
    SELECT_NAME_LIMIT,
    URL_LIMIT,
    Sequences,
    type_of,
)
from christmas_tasks.domain.errors import InvalidInput, Problem
from christmas_tasks.domain.planning import require_aware

Page = dict[str, Any]


# ---------------------------------------------------------------------- rich text and values


def split_text(text: str, limit: int = RICH_TEXT_LIMIT) -> list[str]:
    """`text` in segments of at most `limit` characters, counted as Notion (JavaScript) counts them:
    in UTF-16 code units, so a character outside the BMP counts two and is never cut in half."""
    segments: list[str] = []
    current: list[str] = []
    size = 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if size + width > limit:
            segments.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    if current:
        segments.append("".join(current))
    return segments


def join_text(items: Any) -> str:
    """The plain text of a rich-text (or title) array, every segment joined."""
    if not isinstance(items, list):
        return ""
    parts = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        text = item.get("plain_text")
        if text is None:
            text = (item.get("text") or {}).get("content", "")
        parts.append(str(text))
    return "".join(parts)


def iso(moment: datetime, name: str) -> str:
    return require_aware(moment, name).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_date(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def encode(kind: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Property values for a page of `kind`, each encoded by its type in SCHEMA."""
    schema = SCHEMA[kind]
    out: dict[str, Any] = {}
    for name, value in values.items():
        kind_of = type_of(schema[name])
        if kind_of in ("title", "rich_text"):
            segments = split_text(str(value or ""))
            if len(segments) > RICH_TEXT_SEGMENTS:
                limit = RICH_TEXT_LIMIT * RICH_TEXT_SEGMENTS
                raise InvalidInput(
                    f"Notion {LABEL[kind]} property",
                    [Problem(name, f"{len(str(value))} characters is more than one Notion property holds ({limit})")],
                )
            out[name] = {kind_of: [{"type": "text", "text": {"content": s}} for s in segments]}
        elif kind_of == "email":
            if value and len(str(value)) > EMAIL_LIMIT:
                raise InvalidInput(
                    f"Notion {LABEL[kind]} property",
                    [Problem(name, f"{len(str(value))} characters is more than Notion's email limit ({EMAIL_LIMIT})")],
                )
            out[name] = {"email": value or None}
        elif kind_of == "url":  # Notion counts a URL's characters as JavaScript does: in UTF-16 code units
            width = len(str(value or "").encode("utf-16-le")) // 2
            if width > URL_LIMIT:
                raise InvalidInput(
                    f"Notion {LABEL[kind]} property",
                    [Problem(name, f"{width} characters is more than Notion's URL limit ({URL_LIMIT})")],
                )
            out[name] = {"url": str(value) if value else None}
        elif kind_of == "number":
            out[name] = {"number": value}
        elif kind_of == "select":
            check_option(kind, name, str(value or ""))
            out[name] = {"select": {"name": str(value)} if value else None}
        elif kind_of == "date":
            out[name] = {"date": {"start": iso(value, name)} if value is not None else None}
        elif kind_of == "checkbox":
            out[name] = {"checkbox": bool(value)}
        elif kind_of == "relation":  # page ids, written as Notion wants them: [{"id": ...}]
            out[name] = {"relation": [{"id": page_id} for page_id in value or ()]}
        else:  # pragma: no cover - SCHEMA writes only the types above (a rollup is computed by Notion)
            raise ValueError(f"unsupported Notion property type {kind_of!r}")
    return out


def check_option(kind: str, name: str, option: str) -> None:
    """A select option Notion accepts: at most 100 characters, and no comma (Notion refuses both)."""
    problem = None
    if len(option) > SELECT_NAME_LIMIT:
        problem = f"{len(option)} characters is more than a Notion select option holds ({SELECT_NAME_LIMIT})"
    elif "," in option:
        problem = f"{option!r}: a Notion select option cannot contain a comma"
    if problem:
        raise InvalidInput(f"Notion {LABEL[kind]} property", [Problem(name, problem)])


def check_size(kind: str, what: str, body: Mapping[str, Any]) -> None:
    """Refuse, before sending, a request body over Notion's 500 KB, measured as httpx (>= 0.28) encodes it:
    compact UTF-8 JSON. Names the largest properties, which are what to shorten."""
    size = len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
    if size <= REQUEST_BODY_LIMIT:
        return
    properties = body.get("properties") or {}
    sizes = {n: len(json.dumps(v, ensure_ascii=False, separators=(",", ":")).encode()) for n, v in properties.items()}
    largest = sorted(sizes, key=lambda n: -sizes[n])[:3]
    raise InvalidInput(
        f"Notion {LABEL[kind]} page",
        [
            Problem(
                "request",
                f"{what}: {size:,} bytes is more than Notion accepts in one request ({REQUEST_BODY_LIMIT:,}); the "
                "largest properties: " + ", ".join(f"{n} ({sizes[n]:,} bytes)" for n in largest),
            )
        ],
    )


def new_page(kind: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The properties of a new page: the values that are set (a new page's others are empty anyway)."""
    return encode(kind, {name: value for name, value in values.items() if value is not None})


def prop(page: Page, name: str) -> Any:
    cell = (page.get("properties") or {}).get(name)
    if not isinstance(cell, Mapping):
        return None
    kind_of = cell.get("type")
    raw = cell.get(kind_of) if isinstance(kind_of, str) else None
    if kind_of in ("title", "rich_text"):
        return join_text(raw)
    if kind_of == "select":
        return raw.get("name") if isinstance(raw, Mapping) else None
    if kind_of == "date":
        start = raw.get("start") if isinstance(raw, Mapping) else None
        return parse_date(start) if start else None
    if kind_of == "checkbox":
        return bool(raw)
    if kind_of == "relation":
        return [str(item["id"]) for item in raw or () if isinstance(item, Mapping) and item.get("id")]
    if kind_of == "rollup":  # {"type": "array" | "number" | "date", ...}: the values it rolls up
        rolled = raw if isinstance(raw, Mapping) else {}
        if rolled.get("type") == "array":
            return [prop({"properties": {name: item}}, name) for item in rolled.get("array") or ()]
        return rolled.get(str(rolled.get("type")))
    return raw


def text_of(page: Page, name: str) -> str:
    value = prop(page, name)
    return value if isinstance(value, str) else ""


def optional(page: Page, name: str) -> str | None:
    value = prop(page, name)
    return value if isinstance(value, str) and value else None


def date_of(page: Page, name: str) -> datetime | None:
    value = prop(page, name)
    return value if isinstance(value, datetime) else None


def number_or_none(value: Any) -> float | int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() else number


def filter_on(*conditions: tuple[str, str, Any]) -> dict[str, Any]:
    clauses = [{"property": name, kind_of: {"equals": value}} for name, kind_of, value in conditions]
    return clauses[0] if len(clauses) == 1 else {"and": clauses}


def sequence_filter(email: str, campaign: str, sequence: str, key: str | None = None) -> dict[str, Any]:
    conditions = [
        (Sequences.EMAIL, "email", email),
        (Sequences.CAMPAIGN, "select", campaign),
        (Sequences.SEQUENCE_TYPE, "select", sequence),
    ]
    if key is not None:
        conditions.append((Sequences.SEQUENCE_KEY, "rich_text", key))
    return filter_on(*conditions)


# ---------------------------------------------------------------------- query answers


def pages_in(result: Mapping[str, Any]) -> list[Page]:
    """The pages of a query's answer."""
    return [p for p in result.get("results", []) if isinstance(p, dict) and p.get("object") == "page"]
