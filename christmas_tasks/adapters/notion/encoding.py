"""Notion pages <-> the package's records: property values encoded by their type in SCHEMA, checked against
Notion's request limits before anything is sent, and decoded back (rich text joined, dates in UTC).

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
    Analytics,
    Contacts,
    Sequences,
    Templates,
    type_of,
)
from christmas_tasks.domain.errors import InvalidInput, Problem
from christmas_tasks.domain.planning import require_aware
from christmas_tasks.domain.records import (
    LEDGER_NUMBERS,
    AnalyticsEntry,
    Contact,
    ContactStatus,
    EmailLedger,
    SequenceRecord,
)
from christmas_tasks.domain.rendering import Template
from christmas_tasks.domain.vocabulary import EmailStatus

Page = dict[str, Any]

# Contact fields and the contacts-database property each is written to.
CONTACT_FIELDS = (
    ("first_name", Contacts.FIRST_NAME),
    ("business_name", Contacts.BUSINESS_NAME),
    ("campaign_status", Contacts.CAMPAIGN_STATUS),
    ("booking_status", Contacts.BOOKING_STATUS),
    ("email_status", Contacts.EMAIL_STATUS),
    ("segment", Contacts.SEGMENT),
    ("assessment_score", Contacts.ASSESSMENT_SCORE),
    ("timezone", Contacts.TIMEZONE),
    ("booked_call", Contacts.BOOKED_CALL),
)
# Assessment numbers copied from a record's variables to number columns, for people reading Notion.
NUMBER_VARIABLES = (
    ("assessment_score", Sequences.ASSESSMENT_SCORE),
    ("red_systems", Sequences.RED),
    ("orange_systems", Sequences.ORANGE),
    ("yellow_systems", Sequences.YELLOW),
    ("green_systems", Sequences.GREEN),
)


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


def contact_status_of(page: Page) -> ContactStatus | None:
    """The contact's statuses as the sequence page's rollups show them (Notion computes them as it answers); None
    for a record with no contact linked (one written before the link existed: the contact is read instead)."""
    if not prop(page, Sequences.CONTACT):
        return None
    email_status = prop(page, Sequences.CONTACT_EMAIL_STATUS) or []
    booking_status = prop(page, Sequences.CONTACT_BOOKING_STATUS) or []
    return ContactStatus(
        email_status=str(email_status[0]) if email_status and email_status[0] else EmailStatus.OK,
        booking_status=str(booking_status[0]) if booking_status and booking_status[0] else None,
    )


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


# ---------------------------------------------------------------------- pages -> records


def pages_in(result: Mapping[str, Any]) -> list[Page]:
    """The pages of a query's answer."""
    return [p for p in result.get("results", []) if isinstance(p, dict) and p.get("object") == "page"]


def contact_of(page: Page) -> Contact:
    score = number_or_none(prop(page, Contacts.ASSESSMENT_SCORE))
    return Contact(
        email=text_of(page, Contacts.EMAIL),
        first_name=text_of(page, Contacts.FIRST_NAME),
        business_name=optional(page, Contacts.BUSINESS_NAME),
        campaign_status=optional(page, Contacts.CAMPAIGN_STATUS),
        booking_status=optional(page, Contacts.BOOKING_STATUS),
        email_status=optional(page, Contacts.EMAIL_STATUS) or EmailStatus.OK,
        segment=optional(page, Contacts.SEGMENT),
        assessment_score=float(score) if score is not None else None,
        timezone=optional(page, Contacts.TIMEZONE),
        booked_call=optional(page, Contacts.BOOKED_CALL),
        ref=str(page.get("id")),
    )


def event_data(record: SequenceRecord) -> str:
    """The record's variables (and exact creation time, and the run that created it) as one JSON text
    for the Event Data property."""
    data: dict[str, Any] = {"created_at": iso(record.created_at, "created_at"), "variables": record.variables}
    if record.created_by:
        data["created_by"] = record.created_by
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def record_of(page: Page) -> SequenceRecord:
    raw = text_of(page, Sequences.EVENT_DATA)
    try:
        data = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    # Event Data is {"created_at": ..., "variables": {...}}; a flat object (written by hand) is taken
    # as the variables themselves.
    variables = data.get("variables") if isinstance(data.get("variables"), dict) else data
    created = data.get("created_at") if isinstance(data.get("created_at"), str) else page.get("created_time")
    created_at = parse_date(created) if isinstance(created, str) else datetime.min.replace(tzinfo=UTC)
    emails = {}
    for n in LEDGER_NUMBERS:
        entry = EmailLedger(
            number=n,
            sent_at=date_of(page, Sequences.sent(n)),
            status=optional(page, Sequences.status(n)),
            resend_id=optional(page, Sequences.resend_id(n)),
            sent_by=optional(page, Sequences.sent_by(n)),
        )
        if entry.sent_at or entry.status or entry.resend_id or entry.sent_by:
            emails[n] = entry
    return SequenceRecord(
        key=text_of(page, Sequences.SEQUENCE_KEY),
        email=text_of(page, Sequences.EMAIL),
        campaign=text_of(page, Sequences.CAMPAIGN),
        sequence=text_of(page, Sequences.SEQUENCE_TYPE),
        event_id=text_of(page, Sequences.EVENT_ID),
        first_name=text_of(page, Sequences.FIRST_NAME),
        anchor=date_of(page, Sequences.ANCHOR_AT) or created_at,
        created_at=created_at,
        business_name=optional(page, Sequences.BUSINESS_NAME),
        segment=optional(page, Sequences.SEGMENT),
        variables={str(k): str(v) for k, v in (variables or {}).items()},
        emails=emails,
        completed=bool(prop(page, Sequences.COMPLETED)),
        stopped_reason=optional(page, Sequences.STOPPED_REASON),
        ref=str(page.get("id")),
        created_by=data.get("created_by") if isinstance(data.get("created_by"), str) else None,
        contact_ref=next(iter(prop(page, Sequences.CONTACT) or ()), None),
        contact=contact_status_of(page),
    )


def analytics_of(page: Page) -> AnalyticsEntry:
    """One logged send attempt. A row typed by hand may lack cells: no number reads 0, no date the page's creation
    time, no status an empty one (the report counts such rows apart instead of failing on them)."""
    number = number_or_none(prop(page, Analytics.EMAIL_NUMBER))
    created = page.get("created_time")
    at = date_of(page, Analytics.SENT_DATE) or (parse_date(created) if isinstance(created, str) else None)
    return AnalyticsEntry(
        email=text_of(page, Analytics.EMAIL),
        template=text_of(page, Analytics.TEMPLATE),
        email_number=int(number) if isinstance(number, int) else 0,
        status=text_of(page, Analytics.STATUS),
        at=at or datetime.min.replace(tzinfo=UTC),
        campaign=text_of(page, Analytics.CAMPAIGN),
        resend_id=optional(page, Analytics.RESEND_ID),
        error=optional(page, Analytics.ERROR),
    )


def template_of(page: Page) -> Template:
    return Template(
        name=text_of(page, Templates.NAME),
        subject=text_of(page, Templates.SUBJECT),
        body_html=text_of(page, Templates.BODY),
        active=optional(page, Templates.STATUS) == "Active",
    )
