"""A small in-process fake of the Notion API (version 2025-09-03, data sources), and the plumbing that
records and replays the Notion cassettes (cassettes/notion/*.yaml).

The fake is a WSGI application: the notion-client `Client` reaches it through `httpx.WSGITransport`,
so its base URL stays https://api.notion.com and the cassettes look exactly like traffic to Notion.
It serves only what `NotionLedger` uses, answering with Notion's published shapes:

    GET   /v1/databases/{id}             a database object with its `data_sources`
    GET   /v1/data_sources/{id}          a data source object with its property schema
    POST  /v1/data_sources/{id}/query    a list of pages; `filter` (and/or, equals/is_empty on
                                         title, rich_text, email, select, number, checkbox;
                                         on_or_after on date and on created_time), sorts
                                         by created_time, paging
    POST  /v1/pages                      create a page under a data source
    GET   /v1/pages/{id}, PATCH /v1/pages/{id}

It checks the bearer token and the Notion-Version header, validates property names and types against
the data source's schema (a typo in the adapter is a 400 as on Notion, "X is not a property that
exists."), enforces Notion's request limits (2,000 characters per rich-text segment and 100 segments,
200 per email, 2,000 per URL, 100 per select option and no comma, 500 KB per request body, 10,000 results per
query with `request_status: incomplete`), and can inject faults (429 with Retry-After, 5xx, or a 5xx
returned after the write happened).

Like Notion, it has no uniqueness constraint and no transaction: it is thread-safe (one request at a time
inside), and `rendezvous` holds the answers to overlapping look-ups until all have been answered, so two
clients (threads in one process, or processes reaching it over HTTP) can both look an address up, both find
nothing and both create it, as two writers on Notion can.

Modes, chosen by NOTION_CASSETTES:
    (unset)  replay the cassettes; nothing reaches a network or the fake (CI)
    fake     record against this fake (with --record-mode=rewrite)
    live     record against a real test workspace (see docs/recording.md)

`python -m tests.fakes.fake_notion record [--live]` re-records every Notion cassette and stamps each
file with the header comment saying where it came from.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from notion_client import Client

from christmas_tasks.adapters.cache import DiskCache
from christmas_tasks.adapters.notion import NotionLedger
from christmas_tasks.adapters.notion.schema import (
    EMAIL_LIMIT,
    LABEL,
    NOTION_VERSION,
    QUERY_RESULT_LIMIT,
    REQUEST_BODY_LIMIT,
    RICH_TEXT_LIMIT,
    RICH_TEXT_SEGMENTS,
    SCHEMA,
    SELECT_NAME_LIMIT,
    URL_LIMIT,
    PropertySpec,
    Relation,
    Rollup,
    type_of,
)
from christmas_tasks.adapters.retry import RetryPolicy
from tests.fakes import vcr_headers

ROOT = Path(__file__).resolve().parents[2]
CASSETTE_DIR = ROOT / "cassettes" / "notion"
MODE_ENV = "NOTION_CASSETTES"
TOKEN = "secret_test_token"  # a fake token; the Authorization header is filtered out of cassettes anyway
# Fixed database ids the cassettes use (a live recording's ids are rewritten to these).
DATABASES = {
    "contacts": "c0a7ac70-0000-4000-8000-000000000001",
    "sequences": "5e9e0ce0-0000-4000-8000-000000000002",
    "templates": "7e3b1a7e-0000-4000-8000-000000000003",
    "analytics": "a7a1c500-0000-4000-8000-000000000004",
}
LIVE_ENV = {
    "contacts": "NOTION_TEST_CONTACTS_DB_ID",
    "sequences": "NOTION_TEST_EMAIL_SEQUENCE_DB_ID",
    "templates": "NOTION_TEST_EMAIL_TEMPLATES_DB_ID",
    "analytics": "NOTION_TEST_EMAIL_ANALYTICS_DB_ID",
}
LIVE_TOKEN_ENV = "NOTION_TEST_TOKEN"
HEADER_FAKE = (
    "# Written from Notion's published API shapes (API version 2025-09-03) against a local fake\n"
    "# (tests/fakes/fake_notion.py), NOT recorded from a live Notion workspace.\n"
    "# Re-record: see docs/recording.md, section Notion. The Authorization header is filtered out.\n"
)
HEADER_LIVE = (
    "# Recorded from a live Notion test workspace (API version 2025-09-03); database ids rewritten to\n"
    "# the fixed test ids of tests/fakes/fake_notion.py. See docs/recording.md, section Notion.\n"
    "# The Authorization header is filtered out.\n"
)
RELATION_LIMIT = 100  # related pages one write may set (Notion's request limits)
RELATED_SHOWN = 25  # related pages a page or a query result shows, and a rollup there is computed over
NO_SLEEP: Callable[[float], None] = lambda _seconds: None  # noqa: E731

_BOT = "b07b07b0-0000-4000-8000-00000000b07b"
_PARENT_PAGE = "9a9e0000-0000-4000-8000-000000000000"
_EPOCH = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)


# ---------------------------------------------------------------------- the fake


class NotionFault(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Fault:
    """An error the fake answers instead of (or, with `after`, after carrying out) a request."""

    status: int
    code: str | None  # None: a body that is not Notion's JSON (a proxy's 502 page)
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    method: str | None = None
    path: str | None = None  # a regular expression the path must match
    after: bool = False  # carry the request out, then answer the error (the write happened)
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path is None or re.search(self.path, path) is not None


class Rendezvous:
    """Matching requests wait, after their answer is computed, until `parties` of them have been answered."""

    def __init__(self, method: str, path: str, parties: int, wait: float, body: str | None = None) -> None:
        self.method, self.path, self.parties, self.wait, self.body = method, path, parties, wait, body
        self.arrived = 0
        self.missed = False  # a party gave up waiting: the requests did not overlap
        self._arrival = threading.Condition()

    @property
    def met(self) -> bool:
        """Every party was answered while the others waited: the requests really overlapped."""
        return self.arrived >= self.parties and not self.missed

    def takes(self, method: str, path: str, raw: bytes = b"") -> bool:
        """Whether this request is one of the parties (called under the fake's lock): its method, its path and, when
        the meeting names one, a pattern its body holds."""
        if self.arrived >= self.parties or method != self.method or re.search(self.path, path) is None:
            return False
        if self.body is not None and re.search(self.body, raw.decode("utf-8", "replace")) is None:
            return False
        with self._arrival:
            self.arrived += 1
            self._arrival.notify_all()
        return True

    def meet(self) -> None:
        with self._arrival:
            if not self._arrival.wait_for(lambda: self.arrived >= self.parties, timeout=self.wait):
                self.missed = True


def _rolled_up(function: str, cells: list[dict[str, Any]]) -> dict[str, Any]:
    """A rollup's value over the related pages' property values (RollupPropertyValueResponse)."""
    values = [cell[cell["type"]] for cell in cells]
    present = [v for v in values if v not in (None, "", [])]
    numbers = [v for v in present if isinstance(v, int | float) and not isinstance(v, bool)]
    dates = sorted((v for v in present if isinstance(v, dict) and "start" in v), key=lambda d: d["start"])
    if function == "show_original":
        return {"type": "array", "array": [{"type": c["type"], c["type"]: c[c["type"]]} for c in cells],
                "function": function}
    counted = {"count": len(values), "count_values": len(present), "empty": len(values) - len(present),
               "not_empty": len(present)}
    if function in counted:
        return {"type": "number", "number": counted[function], "function": function}
    summed = {"sum": sum(numbers), "min": min(numbers, default=None), "max": max(numbers, default=None)}
    if function in summed:
        return {"type": "number", "number": summed[function], "function": function}
    if function in ("earliest_date", "latest_date"):
        date = (dates[0] if function == "earliest_date" else dates[-1]) if dates else None
        return {"type": "date", "date": date, "function": function}
    return {"type": "unsupported", "unsupported": {}, "function": function}


def _invalid(detail: str) -> NotionFault:
    return NotionFault(400, "validation_error", f"body failed validation: {detail}")


def _plain(text: str) -> dict[str, Any]:
    return {
        "type": "text",
        "text": {"content": text, "link": None},
        "annotations": {
            "bold": False,
            "italic": False,
            "strikethrough": False,
            "underline": False,
            "code": False,
            "color": "default",
        },
        "plain_text": text,
        "href": None,
    }


def _prop_id(name: str, kind: str) -> str:
    return "title" if kind == "title" else quote(hashlib.sha1(name.encode()).hexdigest()[:4])


def _instant(text: str) -> datetime:
    """A date filter's or a date property's ISO 8601 text as a UTC moment (a bare date is its midnight UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _notion_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _dashed(value: str) -> str:
    raw = value.replace("-", "").lower()
    if len(raw) != 32:
        return value
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


class FakeNotion:
    """The Notion endpoints NotionLedger uses, in memory; a WSGI application."""

    def __init__(
        self,
        *,
        token: str = TOKEN,
        databases: dict[str, str] | None = None,
        schemas: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.token = token
        self.faults: list[Fault] = []
        self.meetings: list[Rendezvous] = []
        self.query_result_limit = QUERY_RESULT_LIMIT  # tests lower it rather than create 10,000 pages
        self._lock = threading.RLock()
        self.requests: list[tuple[str, str]] = []
        self.pages: dict[str, dict[str, Any]] = {}
        self._order: list[str] = []
        self._counter = 0
        self.databases: dict[str, dict[str, Any]] = {}
        self.sources: dict[str, dict[str, Any]] = {}
        specs: dict[str, Mapping[str, PropertySpec]] = {}
        for n, (kind, database_id) in enumerate((databases or DATABASES).items(), start=1):
            source_id = f"da7a5000-0000-4000-8000-{n:012x}"
            specs[source_id] = (schemas or {}).get(kind, SCHEMA[kind])
            properties = {}
            for name, spec in specs[source_id].items():
                kind_of = type_of(spec)
                config: dict[str, Any] = {"format": "number"} if kind_of == "number" else {}
                if kind_of == "select":
                    config = {"options": []}
                properties[name] = {
                    "id": _prop_id(name, kind_of), "name": name, "description": None, "type": kind_of, kind_of: config,
                }
            title = LABEL.get(kind, kind).capitalize()
            self.databases[_dashed(database_id)] = {"kind": kind, "title": title, "source": source_id}
            self.sources[source_id] = {
                "kind": kind,
                "title": title,
                "database": _dashed(database_id),
                "properties": properties,
            }
        for source_id, schema in specs.items():  # relations and rollups point at the other data sources
            for name, spec in schema.items():
                if isinstance(spec, Relation | Rollup):
                    self.sources[source_id]["properties"][name][spec.type] = self._config(source_id, spec)

    # ------------------------------------------------------------------ test controls

    def inject(
        self,
        status: int,
        code: str | None = None,
        message: str = "",
        *,
        headers: dict[str, str] | None = None,
        method: str | None = None,
        path: str | None = None,
        after: bool = False,
        times: int = 1,
    ) -> None:
        """Answer the next matching request(s) with an error (429, 5xx, ...)."""
        self.faults.append(Fault(status, code, message, dict(headers or {}), method, path, after, times))

    def _source_of(self, kind: str) -> str:
        return next(sid for sid, source in self.sources.items() if source["kind"] == kind)

    def _config(self, source_id: str, spec: Relation | Rollup) -> dict[str, Any]:
        """A relation's or rollup's configuration, as notion-sdk-js types it (Relation/RollupDatabasePropertyConfig
        Response): a single-property relation names the related database and data source; a rollup names its
        relation property and the related property, by name and id, and its function."""
        if isinstance(spec, Relation):
            target = self._source_of(spec.to)
            return {"database_id": self.sources[target]["database"], "data_source_id": target,
                    "type": "single_property", "single_property": {}}
        relation = self.sources[source_id]["properties"][spec.relation]
        # A test may build a workspace missing the rolled-up property: the rollup then rolls up nothing.
        related = self.sources[relation["relation"]["data_source_id"]]["properties"].get(spec.property, {})
        return {"function": spec.function, "relation_property_name": spec.relation,
                "relation_property_id": relation["id"], "rollup_property_name": spec.property,
                "rollup_property_id": related.get("id")}

    def seed(self, kind: str, values: dict[str, Any]) -> str:
        """Add a page as a person would in Notion's own app: not through the API, so in no cassette."""
        source_id = next(sid for sid, source in self.sources.items() if source["kind"] == kind)
        schema = self.sources[source_id]["properties"]
        properties: dict[str, Any] = {}
        for name, value in values.items():
            kind_of = schema[name]["type"]
            if kind_of in ("title", "rich_text"):
                value = [{"type": "text", "text": {"content": str(value)}}]
            elif kind_of == "select":
                value = {"name": value}
            elif kind_of == "date":
                value = {"start": value.isoformat()}
            elif kind_of == "relation":
                value = [{"id": page_id} for page_id in value]
            properties[name] = {kind_of: value}
        page = self._create_page({"parent": {"data_source_id": source_id}, "properties": properties})
        return str(page["id"])

    def pages_of(self, kind: str) -> list[dict[str, Any]]:
        return [p for pid in self._order if (p := self.pages[pid])["_kind"] == kind]

    def rendezvous(
        self, method: str, path: str, *, parties: int = 2, wait: float = 5.0, body: str | None = None
    ) -> Rendezvous:
        """Hold the answers to the next `parties` matching requests (`body`: a pattern the request's body holds)
        until all of them have been answered (or `wait` seconds pass): writers that look something up at the same
        moment all see the state before any of them writes, as on Notion, which serialises nothing (two look-ups,
        then two creates)."""
        meeting = Rendezvous(method, path, parties, wait, body)
        self.meetings.append(meeting)
        return meeting

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        with self._lock:  # one request at a time inside, whatever the number of clients or server threads
            self.requests.append((method, path))
            status, payload, headers = self.handle(method, path, environ, raw)
            meeting = next((m for m in self.meetings if m.takes(method, path, raw)), None)
        if meeting is not None:
            meeting.meet()
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        content_type = "text/html" if isinstance(payload, bytes) else "application/json; charset=utf-8"
        reason = {
            200: "OK",
            400: "Bad Request",
            401: "Unauthorized",
            404: "Not Found",
            429: "Too Many Requests",
            500: "Internal Server Error",
            502: "Bad Gateway",
            503: "Service Unavailable",
            504: "Gateway Timeout",
        }.get(status, "Error")
        start_response(
            f"{status} {reason}",
            [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers.items()],
        )
        return [body]

    def handle(self, method: str, path: str, environ: dict[str, Any], raw: bytes) -> tuple[int, Any, dict[str, str]]:
        request_id = self._next_id("f00d")
        headers = {"x-notion-request-id": request_id}
        fault = next((f for f in self.faults if f.matches(method, path)), None)
        if fault is not None:
            fault.times -= 1
            if fault.times <= 0:
                self.faults.remove(fault)
        if fault is not None and not fault.after:
            return self._fault(fault, request_id, headers)
        try:
            if environ.get("HTTP_AUTHORIZATION") != f"Bearer {self.token}":
                raise NotionFault(401, "unauthorized", "API token is invalid.")
            if environ.get("HTTP_NOTION_VERSION") != NOTION_VERSION:
                raise NotionFault(400, "validation_error", f"Notion-Version header should be {NOTION_VERSION}.")
            if len(raw) > REQUEST_BODY_LIMIT:  # Notion documents a 400 validation_error; the wording is the fake's
                raise NotionFault(
                    400, "validation_error", f"Request body too large: {len(raw)} bytes is over the 500KB limit."
                )
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                raise NotionFault(400, "invalid_json", "Error parsing JSON body.") from None
            result = self._route(method, path, body)
        except NotionFault as exc:
            error = {
                "object": "error",
                "status": exc.status,
                "code": exc.code,
                "message": exc.message,
                "request_id": request_id,
            }
            return exc.status, error, headers
        if fault is not None:  # the write happened; the answer is lost
            return self._fault(fault, request_id, headers)
        return 200, {**result, "request_id": request_id}, headers

    def _fault(self, fault: Fault, request_id: str, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        headers = {**headers, **fault.headers}
        if fault.code is None:
            return fault.status, f"<html><body><h1>{fault.status}</h1>{fault.message}</body></html>".encode(), headers
        error = {
            "object": "error",
            "status": fault.status,
            "code": fault.code,
            "message": fault.message,
            "request_id": request_id,
        }
        return fault.status, error, headers

    def _route(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        routes: list[tuple[str, str, Callable[..., dict[str, Any]]]] = [
            ("GET", r"/v1/databases/([^/]+)", self._get_database),
            ("GET", r"/v1/data_sources/([^/]+)", self._get_data_source),
            ("POST", r"/v1/data_sources/([^/]+)/query", self._query),
            ("POST", r"/v1/pages", self._create_page),
            ("GET", r"/v1/pages/([^/]+)", self._get_page),
            ("PATCH", r"/v1/pages/([^/]+)", self._update_page),
        ]
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match and verb == method:
                return handler(body, *match.groups())
        raise NotionFault(400, "invalid_request_url", "Invalid request URL.")

    # ------------------------------------------------------------------ endpoints

    def _get_database(self, _body: dict[str, Any], database_id: str) -> dict[str, Any]:
        database = self.databases.get(_dashed(database_id))
        if database is None:
            raise NotionFault(
                404,
                "object_not_found",
                f"Could not find database with ID: {_dashed(database_id)}. "
                "Make sure the relevant pages and databases are shared with your integration.",
            )
        now = _notion_time(_EPOCH)
        return {
            "object": "database",
            "id": _dashed(database_id),
            "title": [_plain(database["title"])],
            "description": [],
            "parent": {"type": "page_id", "page_id": _PARENT_PAGE},
            "is_inline": False,
            "in_trash": False,
            "is_locked": False,
            "created_time": now,
            "last_edited_time": now,
            "data_sources": [{"id": database["source"], "name": database["title"]}],
            "icon": None,
            "cover": None,
            "url": f"https://www.notion.so/{database_id.replace('-', '')}",
            "public_url": None,
        }

    def _source(self, source_id: str) -> dict[str, Any]:
        source = self.sources.get(_dashed(source_id))
        if source is None:
            raise NotionFault(
                404,
                "object_not_found",
                f"Could not find data_source with ID: {_dashed(source_id)}. "
                "Make sure the relevant pages and databases are shared with your integration.",
            )
        return source

    def _get_data_source(self, _body: dict[str, Any], source_id: str) -> dict[str, Any]:
        source = self._source(source_id)
        now = _notion_time(_EPOCH)
        user = {"object": "user", "id": _BOT}
        return {
            "object": "data_source",
            "id": _dashed(source_id),
            "created_time": now,
            "last_edited_time": now,
            "created_by": user,
            "last_edited_by": user,
            "title": [_plain(source["title"])],
            "description": [],
            "properties": source["properties"],
            "parent": {"type": "database_id", "database_id": source["database"]},
            "database_parent": {"type": "page_id", "page_id": _PARENT_PAGE},
            "is_inline": False,
            "archived": False,
            "in_trash": False,
            "icon": None,
            "cover": None,
            "url": f"https://www.notion.so/{source['database'].replace('-', '')}",
            "public_url": None,
        }

    def _query(self, body: dict[str, Any], source_id: str) -> dict[str, Any]:
        source = self._source(source_id)
        size = body.get("page_size", 100)
        if not isinstance(size, int) or not 1 <= size <= 100:
            raise NotionFault(400, "validation_error", "body failed validation: body.page_size should be ≤ `100`.")
        flt = body.get("filter")
        matching = [
            pid
            for pid in self._order
            if self.pages[pid]["parent"]["data_source_id"] == _dashed(source_id)
            and not self.pages[pid]["in_trash"]
            and (flt is None or self._matches(source, self.pages[pid], flt))
        ]
        for sort in reversed(body.get("sorts") or []):  # the first sort decides, later ones break ties
            if sort.get("timestamp") not in ("created_time", "last_edited_time") or "property" in sort:
                problem = f"the fake sorts by created_time or last_edited_time only, not {sort!r}."
                raise NotionFault(400, "validation_error", problem)
            matching.sort(key=lambda pid, by=sort["timestamp"]: self.pages[pid][by],
                          reverse=sort.get("direction") == "descending")
        capped = len(matching) > self.query_result_limit
        matching = matching[: self.query_result_limit]  # Notion's limit per query: paging stops there
        start = 0
        cursor = body.get("start_cursor")
        if cursor:
            if cursor not in matching:
                raise NotionFault(400, "validation_error", "body failed validation: body.start_cursor is invalid.")
            start = matching.index(cursor)
        chunk = matching[start : start + size]
        rest = matching[start + size :]
        answer: dict[str, Any] = {
            "object": "list",
            "results": [self._public(self.pages[pid]) for pid in chunk],
            "next_cursor": rest[0] if rest else None,
            "has_more": bool(rest),
            "type": "page_or_data_source",
            "page_or_data_source": {},
        }
        if capped:  # on every page of a capped query, as Notion marks it
            answer["request_status"] = {"type": "incomplete", "incomplete_reason": "query_result_limit_reached"}
        return answer

    def _create_page(self, body: dict[str, Any]) -> dict[str, Any]:
        parent = body.get("parent") or {}
        source_id = parent.get("data_source_id")
        if not source_id:
            raise _invalid("body.parent.data_source_id should be defined.")
        source = self._source(source_id)
        page_id = self._next_id("9a6e")
        created = _EPOCH + timedelta(minutes=len(self._order) + 1)
        page: dict[str, Any] = {
            "_kind": source["kind"],
            "id": page_id,
            "created_time": _notion_time(created),
            "last_edited_time": _notion_time(created),
            "in_trash": False,
            "parent": {
                "type": "data_source_id",
                "data_source_id": _dashed(source_id),
                "database_id": source["database"],
            },
            "properties": {name: self._empty(spec) for name, spec in source["properties"].items()},
        }
        self._write(source, page, body.get("properties") or {})
        self.pages[page_id] = page
        self._order.append(page_id)
        return self._public(page)

    def _page(self, page_id: str) -> dict[str, Any]:
        page = self.pages.get(_dashed(page_id))
        if page is None:
            raise NotionFault(
                404,
                "object_not_found",
                f"Could not find page with ID: {_dashed(page_id)}. "
                "Make sure the relevant pages and databases are shared with your integration.",
            )
        return page

    def _get_page(self, _body: dict[str, Any], page_id: str) -> dict[str, Any]:
        return self._public(self._page(page_id))

    def _update_page(self, body: dict[str, Any], page_id: str) -> dict[str, Any]:
        page = self._page(page_id)
        if page["in_trash"] and body.get("properties"):
            raise NotionFault(
                400,
                "validation_error",
                "Can't edit block that is archived. You must unarchive the block before editing.",
            )
        source = self._source(page["parent"]["data_source_id"])
        self._write(source, page, body.get("properties") or {})
        if "in_trash" in body:
            page["in_trash"] = bool(body["in_trash"])
        page["last_edited_time"] = page["created_time"]
        return self._public(page)

    # ------------------------------------------------------------------ properties

    @staticmethod
    def _empty(spec: dict[str, Any]) -> dict[str, Any]:
        kind = spec["type"]
        empty: Any = [] if kind in ("title", "rich_text", "relation") else (False if kind == "checkbox" else None)
        return {"id": spec["id"], "type": kind, kind: empty}

    def _write(self, source: dict[str, Any], page: dict[str, Any], values: dict[str, Any]) -> None:
        schema = source["properties"]
        staged = {}
        for name, value in values.items():
            spec = schema.get(name)
            if spec is None:
                raise NotionFault(400, "validation_error", f"{name} is not a property that exists.")
            kind = spec["type"]
            if not isinstance(value, dict) or kind not in value:
                raise NotionFault(400, "validation_error", f"{name} is expected to be {kind}.")
            staged[name] = {"id": spec["id"], "type": kind, kind: self._value(spec, name, value[kind])}
        page["properties"].update(staged)

    def _value(self, spec: dict[str, Any], name: str, raw: Any) -> Any:
        kind = spec["type"]
        where = f"body.properties.{name}.{kind}"
        if kind in ("title", "rich_text"):
            if not isinstance(raw, list):
                raise _invalid(f"{where} should be an array.")
            if len(raw) > RICH_TEXT_SEGMENTS:
                raise _invalid(f"{where}.length should be ≤ `{RICH_TEXT_SEGMENTS}`, instead was `{len(raw)}`.")
            out = []
            for i, item in enumerate(raw):
                content = ((item or {}).get("text") or {}).get("content")
                if not isinstance(content, str):
                    raise _invalid(f"{where}[{i}].text.content should be a string.")
                if len(content) > RICH_TEXT_LIMIT:
                    raise NotionFault(
                        400,
                        "validation_error",
                        f"body failed validation: {where}[{i}].text.content.length should be ≤ `{RICH_TEXT_LIMIT}`, "
                        f"instead was `{len(content)}`.",
                    )
                out.append(_plain(content))
            return out
        if kind == "email":
            if raw is not None and not isinstance(raw, str):
                raise _invalid(f"{where} should be a string or `null`.")
            if raw and len(raw) > EMAIL_LIMIT:
                raise _invalid(f"{where}.length should be ≤ `{EMAIL_LIMIT}`, instead was `{len(raw)}`.")
            return raw or None
        if kind == "url":  # any text (Notion does not check it is a URL), counted in UTF-16 code units
            if raw is not None and not isinstance(raw, str):
                raise _invalid(f"{where} should be a string or `null`.")
            length = len(raw.encode("utf-16-le")) // 2 if raw else 0
            if length > URL_LIMIT:
                raise _invalid(f"{where}.length should be ≤ `{URL_LIMIT}`, instead was `{length}`.")
            return raw or None
        if kind == "number":
            if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int | float)):
                raise _invalid(f"{where} should be a number or `null`.")
            return raw
        if kind == "checkbox":
            if not isinstance(raw, bool):
                raise _invalid(f"{where} should be a boolean.")
            return raw
        if kind == "select":
            if raw is None:
                return None
            option_name = raw.get("name") if isinstance(raw, dict) else None
            if not isinstance(option_name, str) or not option_name:
                raise _invalid(f"{where}.name should be defined.")
            if len(option_name) > SELECT_NAME_LIMIT:
                length = len(option_name)
                raise _invalid(f"{where}.name.length should be ≤ `{SELECT_NAME_LIMIT}`, instead was `{length}`.")
            if "," in option_name:
                raise NotionFault(400, "validation_error", f"Invalid select option, commas not allowed: {option_name}")
            options = spec["select"]["options"]
            option = next((o for o in options if o["name"] == option_name), None)
            if option is None:  # Notion adds a new option to the schema on first use
                option = {
                    "id": hashlib.sha1(option_name.encode()).hexdigest()[:8],
                    "name": option_name,
                    "color": "default",
                    "description": None,
                }
                options.append(option)
            return {"id": option["id"], "name": option["name"], "color": option["color"]}
        if kind == "relation":
            if not isinstance(raw, list) or not all(isinstance(i, dict) and isinstance(i.get("id"), str) for i in raw):
                raise _invalid(f"{where} should be an array of objects with an `id`.")
            if len(raw) > RELATION_LIMIT:
                raise _invalid(f"{where}.length should be ≤ `{RELATION_LIMIT}`, instead was `{len(raw)}`.")
            target = spec["relation"]["data_source_id"]
            for item in raw:
                related = self.pages.get(_dashed(item["id"]))
                if related is None or related["parent"]["data_source_id"] != target:
                    message = f"Relation {name}: page {item['id']} is not in the related data source."
                    raise NotionFault(400, "validation_error", message)  # Notion's code; the wording is the fake's
            return [{"id": _dashed(item["id"])} for item in raw]
        if kind == "rollup":  # computed by Notion: the wording is the fake's
            raise _invalid(f"{where} is a rollup: its value is computed and cannot be written.")
        if kind == "date":
            if raw is None:
                return None
            start = raw.get("start") if isinstance(raw, dict) else None
            try:
                moment = datetime.fromisoformat(str(start))
            except ValueError:
                raise _invalid(f"{where}.start should be an ISO 8601 date.") from None
            if "T" not in str(start):
                return {"start": str(start), "end": None, "time_zone": None}
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"
            return {"start": text, "end": None, "time_zone": None}
        raise NotionFault(400, "validation_error", f"{name}: the fake does not handle {kind} properties.")

    # ------------------------------------------------------------------ filters

    def _matches(self, source: dict[str, Any], page: dict[str, Any], flt: dict[str, Any]) -> bool:
        if "and" in flt:
            return all(self._matches(source, page, f) for f in flt["and"])
        if "or" in flt:
            return any(self._matches(source, page, f) for f in flt["or"])
        if "timestamp" in flt:  # {"timestamp": "created_time", "created_time": {"on_or_after": ...}}
            stamp = flt["timestamp"]
            condition = flt.get(stamp) or {}
            if stamp not in ("created_time", "last_edited_time") or set(condition) != {"on_or_after"}:
                raise NotionFault(400, "validation_error", f"the fake does not handle the filter {flt!r}.")
            return _instant(page[stamp]) >= _instant(condition["on_or_after"])
        name = flt.get("property")
        spec = source["properties"].get(name)
        if spec is None:
            raise NotionFault(400, "validation_error", f"Could not find property with name or id: {name}")
        kind = spec["type"]
        keys = [k for k in flt if k != "property"]
        if keys != [kind]:
            raise NotionFault(
                400,
                "validation_error",
                f"body failed validation: filter on {name} should use the {kind} condition, not {', '.join(keys)}.",
            )
        condition = flt[kind]
        value = page["properties"][name][kind]
        if kind == "relation":
            ids = [item["id"] for item in value]
            if "contains" in condition:
                return _dashed(condition["contains"]) in ids
            return bool(ids) if condition.get("is_not_empty") else not ids
        if kind == "date":  # on_or_after: the date's start is that moment or later (a bare day: from its start)
            if set(condition) != {"on_or_after"}:
                problem = f"the fake does not handle the filter {condition!r} on {name}."
                raise NotionFault(400, "validation_error", problem)
            return value is not None and _instant(value["start"]) >= _instant(condition["on_or_after"])
        if kind in ("title", "rich_text"):
            value = "".join(item["plain_text"] for item in value)
        elif kind == "select":
            value = value["name"] if value else None
        if "equals" in condition:
            return bool(value == condition["equals"])
        if "does_not_equal" in condition:
            return bool(value != condition["does_not_equal"])
        if condition.get("is_empty"):
            return value in (None, "", [])
        if condition.get("is_not_empty"):
            return value not in (None, "", [])
        raise NotionFault(400, "validation_error", f"the fake does not handle the filter {condition!r} on {name}.")

    # ------------------------------------------------------------------ helpers

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter:04x}-0000-4000-8000-{self._counter:012x}"

    def _shown(self, page: dict[str, Any]) -> dict[str, Any]:
        """A page's properties as Notion returns them in a page or a query result: a relation's first 25 pages
        (with `has_more`), and each rollup computed over those 25 only (past that, Notion's documentation sends
        you to the page-property endpoint, which the fake does not serve)."""
        shown = json.loads(json.dumps(page["properties"]))
        schema = self.sources[page["parent"]["data_source_id"]]["properties"]
        for name, value in shown.items():
            if value["type"] == "relation":
                value["has_more"] = len(value["relation"]) > RELATED_SHOWN
                value["relation"] = value["relation"][:RELATED_SHOWN]
            elif value["type"] == "rollup":
                config = schema[name]["rollup"]
                related = (page["properties"][config["relation_property_name"]]["relation"] or [])[:RELATED_SHOWN]
                cells = [cell for item in related
                         if (cell := self.pages[item["id"]]["properties"].get(config["rollup_property_name"]))]
                value["rollup"] = _rolled_up(config["function"], cells)
        return shown

    def _public(self, page: dict[str, Any]) -> dict[str, Any]:
        user = {"object": "user", "id": _BOT}
        return {
            "object": "page",
            "id": page["id"],
            "created_time": page["created_time"],
            "last_edited_time": page["last_edited_time"],
            "created_by": user,
            "last_edited_by": user,
            "cover": None,
            "icon": None,
            "parent": dict(page["parent"]),
            "archived": page["in_trash"],
            "in_trash": page["in_trash"],
            "is_locked": False,
            "properties": self._shown(page),
            "url": f"https://www.notion.so/{page['id'].replace('-', '')}",
            "public_url": None,
        }


# ---------------------------------------------------------------------- cassettes


def cassette_mode() -> str:
    mode = os.environ.get(MODE_ENV, "").strip().lower()
    if mode not in ("", "fake", "live"):
        raise RuntimeError(f"{MODE_ENV} must be unset, 'fake' or 'live', not {mode!r}")
    return mode or "replay"


live_only_fake = pytest.mark.skipif(
    cassette_mode() == "live", reason="faults are injected only into the fake; this cassette is fake-only"
)


def _live_ids() -> dict[str, str]:
    ids = {}
    for kind, name in LIVE_ENV.items():
        value = os.environ.get(name, "").strip()
        if value:
            ids[kind] = value
    missing = [LIVE_ENV[k] for k in ("contacts", "sequences", "templates") if k not in ids]
    if missing or not os.environ.get(LIVE_TOKEN_ENV):
        raise RuntimeError(f"{MODE_ENV}=live needs {LIVE_TOKEN_ENV} and " + ", ".join(missing or LIVE_ENV.values()))
    return ids


def _replacements() -> list[tuple[str, str]]:
    """Live database ids (both spellings) -> the fixed test ids."""
    pairs = []
    for kind, live in _live_ids().items():
        for spelling in (_dashed(live), _dashed(live).replace("-", "")):
            pairs.append((spelling, DATABASES[kind]))
    return pairs


def _scrub_request(request: Any) -> Any:
    for old, new in _replacements():
        request.uri = request.uri.replace(old, new)
        if isinstance(request.body, bytes):
            request.body = request.body.replace(old.encode(), new.encode())
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body", {}).get("string")
    if isinstance(body, bytes):
        for old, new in _replacements():
            body = body.replace(old.encode(), new.encode())
        response["body"]["string"] = body
    return response


def vcr_config(pytestconfig: pytest.Config) -> dict[str, Any]:
    """The VCR settings for the Notion cassettes: replay only unless --record-mode says otherwise."""
    config: dict[str, Any] = {
        "filter_headers": ["authorization"],
        "record_mode": pytestconfig.getoption("--record-mode") or "none",
        "match_on": vcr_headers.NOTION_MATCH_ON,
        "decode_compressed_response": True,
    }
    if cassette_mode() == "live":
        config.update(before_record_request=_scrub_request, before_record_response=_scrub_response)
    return config


def notion_client(fake: FakeNotion, request: pytest.FixtureRequest) -> Client:
    """The Notion client of this mode: default transport (replayed, or live) or the fake's."""
    mode = cassette_mode()
    options: dict[str, Any] = {
        "notion_version": NOTION_VERSION,
        "retry": False,
        "logger": logging.getLogger("notion_client"),
    }
    if mode == "live":
        from tests.conftest import _real_connect

        # Recording from a live workspace is the one time a test may reach the network.
        request.getfixturevalue("monkeypatch").setattr(socket.socket, "connect", _real_connect)
        return Client(auth=os.environ[LIVE_TOKEN_ENV], **options)
    if mode == "fake":
        return Client(auth=TOKEN, client=httpx.Client(transport=httpx.WSGITransport(app=fake)), **options)
    return Client(auth=TOKEN, **options)


def notion_ledger(
    fake: FakeNotion,
    request: pytest.FixtureRequest,
    *,
    analytics: bool = True,
    sleep: Callable[[float], None] = NO_SLEEP,
    retry: RetryPolicy | None = None,
) -> NotionLedger:
    ids = _live_ids() if cassette_mode() == "live" else DATABASES
    return NotionLedger.on(
        notion_client(fake, request),
        contacts_db=ids["contacts"],
        sequence_db=ids["sequences"],
        templates_db=ids["templates"],
        analytics_db=ids.get("analytics") if analytics else None,
        retry=retry,
        sleep=sleep,
    )


def ledger_on_fake(
    fake: FakeNotion,
    *,
    token: str = TOKEN,
    analytics: bool = False,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = NO_SLEEP,
    cache: DiskCache | None = None,
    template_ttl: float = 0.0,
    min_interval: float = 0.0,
    clock: Callable[[], float] | None = None,
) -> NotionLedger:
    """A NotionLedger talking straight to `fake` (no cassette): for tests and benchmarks that count or
    inject faults. Each call is a fresh instance, as each Kestra task is a fresh process."""
    client = Client(
        auth=token,
        client=httpx.Client(transport=httpx.WSGITransport(app=fake)),
        notion_version=NOTION_VERSION,
        retry=False,
    )
    return NotionLedger.on(
        client,
        contacts_db=DATABASES["contacts"],
        sequence_db=DATABASES["sequences"],
        templates_db=DATABASES["templates"],
        analytics_db=DATABASES["analytics"] if analytics else None,
        retry=retry,
        sleep=sleep,
        cache=cache,
        template_ttl=template_ttl,
        min_interval=min_interval,
        **({"clock": clock} if clock is not None else {}),
    )


def http_calls(cassette: Any) -> int:
    """HTTP interactions so far: played back (replay) or recorded (recording)."""
    return len(cassette.data) if cassette.dirty else int(cassette.play_count)


def interactions(cassette: Any) -> list[tuple[Any, dict[str, Any]]]:
    """The (request, response) pairs used so far, in order (played back, or recorded)."""
    if cassette.dirty:
        return list(cassette.data)
    played = [i for i in range(len(cassette.data)) if cassette.play_counts[i]]
    return [cassette.data[i] for i in played]


# ---------------------------------------------------------------------- re-recording


def stamp(folder: Path = CASSETTE_DIR, *, live: bool = False) -> list[Path]:
    """Give each cassette lacking one the header comment saying where it came from."""
    stamped = []
    header = HEADER_LIVE if live else HEADER_FAKE
    for path in sorted(folder.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if text.startswith("#"):
            continue
        path.write_text(header + text, encoding="utf-8")
        stamped.append(path)
    return stamped


def empty_databases(client: Client, database_ids: Iterable[str]) -> int:
    """Move every page of the given databases to the trash (a live test workspace, between tests)."""
    trashed = 0
    for database_id in database_ids:
        database: Any = client.databases.retrieve(database_id=database_id)
        source = database["data_sources"][0]["id"]
        while True:
            result: Any = client.data_sources.query(source, page_size=100)
            for page in result["results"]:
                client.pages.update(page["id"], in_trash=True)
                trashed += 1
            if not result["results"]:
                break
    return trashed


def record(live: bool = False, extra: list[str] | None = None) -> int:
    adapters = sorted((ROOT / "tests" / "adapters").glob("test_notion_*.py"))
    tests = ["tests/contract/test_ledger_contract.py"]
    tests += [str(p.relative_to(ROOT)) for p in adapters if p.name != "test_notion_cassettes.py"]
    if not live and not extra:
        for old in CASSETTE_DIR.glob("*.yaml"):
            old.unlink()
    env = {**os.environ, MODE_ENV: "live" if live else "fake"}
    pytest_command = [sys.executable, "-m", "pytest"]
    options = ["--record-mode=rewrite", "-q", *(extra or [])]
    selection = [*tests, "-k", "notion"]
    if not live:
        code = subprocess.call([*pytest_command, *selection, *options], cwd=ROOT, env=env)
    else:
        # Each test expects empty databases: run them one at a time, emptying the workspace before each.
        listed = subprocess.run(
            [*pytest_command, *selection, "--collect-only", "-q", *(extra or [])],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        test_ids = [line for line in listed.stdout.splitlines() if "::" in line]
        client = Client(auth=os.environ[LIVE_TOKEN_ENV], notion_version=NOTION_VERSION)
        code = 0
        for test_id in test_ids:
            empty_databases(client, _live_ids().values())
            code = subprocess.call([*pytest_command, test_id, *options], cwd=ROOT, env=env) or code
    for path in stamp(live=live):
        print(f"stamped {path.relative_to(ROOT)}")
    return code


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0] != "record":
        print("usage: python -m tests.fakes.fake_notion record [--live] [pytest args...]")
        raise SystemExit(2)
    live_mode = "--live" in args
    raise SystemExit(record(live=live_mode, extra=[a for a in args[1:] if a != "--live"]))
