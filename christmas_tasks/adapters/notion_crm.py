"""`NotionCrm`: the `Crm` port on Notion, through notion-client 3.x and the data-source API (2025-09-03).

- Each database id is resolved to its data source once (databases.retrieve -> data_sources[0].id),
  lazily, and cached on the instance; queries and page creation then use the data source.
- Lookups always filter: a sequence by Email, Campaign, Sequence Type and Sequence Key; a contact by
  email; a template by Template Name. More than one sequence or template is an error naming what was
  looked up, never "the first result"; several contacts for one address (Notion has no unique
  constraint) are merged into the oldest and the others moved to the trash (`christmas_tasks.duplicates`).
- Long text (Event Data, Email Body HTML, ...) is written as 2,000-character rich-text segments and
  joined on read.
- Errors: 429, 409 (`conflict_error`, which Notion documents as a transient data collision: "try again"),
  5xx, timeouts and dropped connections are retried by `christmas_tasks.retry` (honouring Retry-After, with
  the injected `sleep`); any other 4xx fails at once with Notion's own message.
  notion-client's own retries are switched off so that retries are not doubled.
- A page create that failed with a 5xx or a timeout may still have happened (SPEC §6): before creating
  a sequence again, it is looked up by its sequence key.

Request counts are given in each method's docstring, once the data sources are resolved; resolving
costs one databases.retrieve per database, the first time the instance uses that database.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from notion_client import Client
from notion_client.errors import HTTPResponseError, RequestTimeoutError

from christmas_tasks.cache import DiskCache
from christmas_tasks.duplicates import merge_contacts
from christmas_tasks.errors import (
    ChristmasError,
    ConfigError,
    InvalidInput,
    NotFound,
    Problem,
    ProviderError,
    TemplateError,
)
from christmas_tasks.notion_schema import (
    EMAIL_LIMIT,
    LABEL,
    LEDGER_NUMBERS,
    NOTION_VERSION,
    QUERY_RESULT_LIMIT,
    REQUEST_BODY_LIMIT,
    RICH_TEXT_LIMIT,
    RICH_TEXT_SEGMENTS,
    SCHEMA,
    SELECT_NAME_LIMIT,
    SETTING,
    Analytics,
    Contacts,
    Sequences,
    Templates,
)
from christmas_tasks.planning import require_aware
from christmas_tasks.ports import (
    AnalyticsEntry,
    Contact,
    ContactUpdate,
    EmailLedger,
    SentMark,
    SequenceRecord,
)
from christmas_tasks.rendering import Template
from christmas_tasks.retry import RetryPolicy, call_with_retry, retry_after_seconds
from christmas_tasks.settings import NotionSettings
from christmas_tasks.vocabulary import EmailStatus

log = logging.getLogger(__name__)

T = TypeVar("T")
Page = dict[str, Any]

PROVIDER = "Notion"
# Contact fields and the contacts-database property each is written to.
_CONTACT_FIELDS = (
    ("first_name", Contacts.FIRST_NAME),
    ("business_name", Contacts.BUSINESS_NAME),
    ("campaign_status", Contacts.CAMPAIGN_STATUS),
    ("booking_status", Contacts.BOOKING_STATUS),
    ("email_status", Contacts.EMAIL_STATUS),
    ("segment", Contacts.SEGMENT),
    ("assessment_score", Contacts.ASSESSMENT_SCORE),
)
# Assessment numbers copied from a record's variables to number columns, for people reading Notion.
_NUMBER_VARIABLES = (
    ("assessment_score", Sequences.ASSESSMENT_SCORE),
    ("red_systems", Sequences.RED),
    ("orange_systems", Sequences.ORANGE),
    ("yellow_systems", Sequences.YELLOW),
    ("green_systems", Sequences.GREEN),
)


class NotionApiError(ProviderError):
    """Notion refused or failed a request. `detail` is Notion's own message, `code` its error code."""

    def __init__(
        self,
        status: int | None,
        detail: str,
        *,
        code: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(PROVIDER, status, detail, retryable=retryable, retry_after=retry_after)
        self.detail = detail
        self.code = code


class AmbiguousRecord(ChristmasError):
    """Several Notion pages match a lookup that must find at most one (fix the duplicates in Notion)."""


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


def _iso(moment: datetime, name: str) -> str:
    return require_aware(moment, name).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_date(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _encode(kind: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Property values for a page of `kind`, each encoded by its type in SCHEMA."""
    schema = SCHEMA[kind]
    out: dict[str, Any] = {}
    for name, value in values.items():
        kind_of = schema[name]
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
            _check_option(kind, name, str(value or ""))
            out[name] = {"select": {"name": str(value)} if value else None}
        elif kind_of == "date":
            out[name] = {"date": {"start": _iso(value, name)} if value is not None else None}
        elif kind_of == "checkbox":
            out[name] = {"checkbox": bool(value)}
        else:  # pragma: no cover - SCHEMA only uses the types above
            raise ValueError(f"unsupported Notion property type {kind_of!r}")
    return out


def _check_option(kind: str, name: str, option: str) -> None:
    """A select option Notion accepts: at most 100 characters, and no comma (Notion refuses both)."""
    problem = None
    if len(option) > SELECT_NAME_LIMIT:
        problem = f"{len(option)} characters is more than a Notion select option holds ({SELECT_NAME_LIMIT})"
    elif "," in option:
        problem = f"{option!r}: a Notion select option cannot contain a comma"
    if problem:
        raise InvalidInput(f"Notion {LABEL[kind]} property", [Problem(name, problem)])


def _check_size(kind: str, what: str, body: Mapping[str, Any]) -> None:
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


def _new_page(kind: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The properties of a new page: the values that are set (a new page's others are empty anyway)."""
    return _encode(kind, {name: value for name, value in values.items() if value is not None})


def _prop(page: Page, name: str) -> Any:
    prop = (page.get("properties") or {}).get(name)
    if not isinstance(prop, Mapping):
        return None
    kind_of = prop.get("type")
    raw = prop.get(kind_of) if isinstance(kind_of, str) else None
    if kind_of in ("title", "rich_text"):
        return join_text(raw)
    if kind_of == "select":
        return raw.get("name") if isinstance(raw, Mapping) else None
    if kind_of == "date":
        start = raw.get("start") if isinstance(raw, Mapping) else None
        return _parse_date(start) if start else None
    if kind_of == "checkbox":
        return bool(raw)
    return raw


def _text(page: Page, name: str) -> str:
    value = _prop(page, name)
    return value if isinstance(value, str) else ""


def _optional(page: Page, name: str) -> str | None:
    value = _prop(page, name)
    return value if isinstance(value, str) and value else None


def _date(page: Page, name: str) -> datetime | None:
    value = _prop(page, name)
    return value if isinstance(value, datetime) else None


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() else number


def _check_number(number: int) -> None:
    if number not in LEDGER_NUMBERS:
        raise InvalidInput("email number", [Problem("number", f"{number} is not 1 to 5 (the ledger's columns)")])


def _as_dict(result: Any, what: str) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise NotionApiError(None, f"{what}: unexpected answer from Notion ({type(result).__name__})")
    return result


def _filter(*conditions: tuple[str, str, Any]) -> dict[str, Any]:
    clauses = [{"property": name, kind_of: {"equals": value}} for name, kind_of, value in conditions]
    return clauses[0] if len(clauses) == 1 else {"and": clauses}


def _sequence_filter(email: str, campaign: str, sequence: str, key: str | None = None) -> dict[str, Any]:
    conditions = [
        (Sequences.EMAIL, "email", email),
        (Sequences.CAMPAIGN, "select", campaign),
        (Sequences.SEQUENCE_TYPE, "select", sequence),
    ]
    if key is not None:
        conditions.append((Sequences.SEQUENCE_KEY, "rich_text", key))
    return _filter(*conditions)


# ---------------------------------------------------------------------- pages -> records


def _pages(result: Mapping[str, Any]) -> list[Page]:
    """The pages of a query's answer."""
    return [p for p in result.get("results", []) if isinstance(p, dict) and p.get("object") == "page"]


def _contact(page: Page) -> Contact:
    score = _number(_prop(page, Contacts.ASSESSMENT_SCORE))
    return Contact(
        email=_text(page, Contacts.EMAIL),
        first_name=_text(page, Contacts.FIRST_NAME),
        business_name=_optional(page, Contacts.BUSINESS_NAME),
        campaign_status=_optional(page, Contacts.CAMPAIGN_STATUS),
        booking_status=_optional(page, Contacts.BOOKING_STATUS),
        email_status=_optional(page, Contacts.EMAIL_STATUS) or EmailStatus.OK,
        segment=_optional(page, Contacts.SEGMENT),
        assessment_score=float(score) if score is not None else None,
        ref=str(page.get("id")),
    )


def _event_data(record: SequenceRecord) -> str:
    """The record's variables (and exact creation time, and the run that created it) as one JSON text
    for the Event Data property."""
    data: dict[str, Any] = {"created_at": _iso(record.created_at, "created_at"), "variables": record.variables}
    if record.created_by:
        data["created_by"] = record.created_by
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _record(page: Page) -> SequenceRecord:
    raw = _text(page, Sequences.EVENT_DATA)
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
    created_at = _parse_date(created) if isinstance(created, str) else datetime.min.replace(tzinfo=UTC)
    emails = {}
    for n in LEDGER_NUMBERS:
        entry = EmailLedger(
            number=n,
            sent_at=_date(page, Sequences.sent(n)),
            status=_optional(page, Sequences.status(n)),
            resend_id=_optional(page, Sequences.resend_id(n)),
            sent_by=_optional(page, Sequences.sent_by(n)),
        )
        if entry.sent_at or entry.status or entry.resend_id or entry.sent_by:
            emails[n] = entry
    return SequenceRecord(
        key=_text(page, Sequences.SEQUENCE_KEY),
        email=_text(page, Sequences.EMAIL),
        campaign=_text(page, Sequences.CAMPAIGN),
        sequence=_text(page, Sequences.SEQUENCE_TYPE),
        event_id=_text(page, Sequences.EVENT_ID),
        first_name=_text(page, Sequences.FIRST_NAME),
        anchor=_date(page, Sequences.ANCHOR_AT) or created_at,
        created_at=created_at,
        business_name=_optional(page, Sequences.BUSINESS_NAME),
        segment=_optional(page, Sequences.SEGMENT),
        variables={str(k): str(v) for k, v in (variables or {}).items()},
        emails=emails,
        completed=bool(_prop(page, Sequences.COMPLETED)),
        stopped_reason=_optional(page, Sequences.STOPPED_REASON),
        ref=str(page.get("id")),
        created_by=data.get("created_by") if isinstance(data.get("created_by"), str) else None,
    )


def _template(page: Page) -> Template:
    return Template(
        name=_text(page, Templates.NAME),
        subject=_text(page, Templates.SUBJECT),
        body_html=_text(page, Templates.BODY),
        active=_optional(page, Templates.STATUS) == "Active",
    )


def _translate(error: HTTPResponseError, what: str) -> NotionApiError:
    status = error.status
    code = getattr(error.code, "value", error.code)
    message = str(error)
    if code == "notionhq_client_response_error":
        # A code notion-client does not know (service_overload 529, missing_version, bad_gateway,
        # database_connection_unavailable, ...): it says only "failed with status", and Notion's own code and
        # message are in the body.
        try:
            body = json.loads(error.body or "")
        except (TypeError, ValueError):
            body = None
        if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
            message = body["message"]
            code = str(body.get("code") or code)
    return NotionApiError(
        status,
        f"{what}: {message}",
        code=str(code) if code is not None else None,
        retryable=status in (409, 429) or status >= 500,
        retry_after=retry_after_seconds(error.headers.get("retry-after")),
    )


# ---------------------------------------------------------------------- the adapter


class NotionCrm:
    """The Crm port on four Notion databases (analytics optional)."""

    def __init__(
        self,
        client: Client,
        *,
        contacts_db: str,
        sequence_db: str,
        templates_db: str,
        analytics_db: str | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        cache: DiskCache | None = None,
        template_ttl: float = 0.0,
    ) -> None:
        version = getattr(getattr(client, "options", None), "notion_version", NOTION_VERSION)
        if version < NOTION_VERSION:
            raise ConfigError(
                f"the Notion client speaks API version {version}; the data-source API needs {NOTION_VERSION}"
            )
        # notion-client 3.x retries 429 (any method) and 500/503 (GET) by itself, twice by default,
        # with its own sleep: that would multiply our retries and bypass the injected sleep. Off.
        if getattr(client, "_max_retries", 0):
            client._max_retries = 0
        self.client = client
        self._databases: dict[str, str | None] = {
            "contacts": contacts_db,
            "sequences": sequence_db,
            "templates": templates_db,
            "analytics": analytics_db or None,
        }
        self._sources: dict[str, str] = {}
        # Data source ids read from the disk cache, not yet confirmed by a successful call here.
        self._unconfirmed: set[str] = set()
        self._cache = cache
        self._template_ttl = template_ttl
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock

    @classmethod
    def from_settings(
        cls,
        settings: NotionSettings,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout_ms: int = 30_000,
        cache: DiskCache | None = None,
        template_ttl: float = 0.0,
    ) -> NotionCrm:
        client = Client(
            auth=settings.token.reveal(),
            base_url=settings.api_url,
            notion_version=NOTION_VERSION,
            retry=False,
            timeout_ms=timeout_ms,
            logger=logging.getLogger("notion_client"),
        )
        return cls(
            client,
            contacts_db=settings.contacts_db,
            sequence_db=settings.sequence_db,
            templates_db=settings.templates_db,
            analytics_db=settings.analytics_db,
            retry=retry,
            sleep=sleep,
            cache=cache,
            template_ttl=template_ttl,
        )

    # ------------------------------------------------------------------ requests

    def _raw(self, what: str, request: Callable[[], Any]) -> dict[str, Any]:
        """One request, its failures translated; no retry."""
        try:
            return _as_dict(request(), what)
        except HTTPResponseError as exc:
            raise _translate(exc, what) from exc
        except RequestTimeoutError as exc:
            raise NotionApiError(None, f"{what}: the request timed out", code="timeout", retryable=True) from exc
        except httpx.TransportError as exc:
            raise NotionApiError(
                None, f"{what}: the connection failed ({type(exc).__name__})", code="connection", retryable=True
            ) from exc

    def _retrying(self, what: str, operation: Callable[[], T]) -> T:
        """`operation` under the retry policy; a transient failure that outlasts it says so."""
        attempts = 0

        def once() -> T:
            nonlocal attempts
            attempts += 1
            return operation()

        def on_retry(error: ProviderError, attempt: int, delay: float) -> None:
            log.info("%s; retry %d in %.1f s", error, attempt, delay)

        try:
            return call_with_retry(once, policy=self.retry, sleep=self._sleep, clock=self._clock, on_retry=on_retry)
        except NotionApiError as exc:
            if not exc.retryable:
                raise
            tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
            why = "" if attempts >= self.retry.attempts else ": a longer wait is beyond the retry policy"
            raise NotionApiError(
                exc.status,
                f"{exc.detail} (gave up after {tries}{why})",
                code=exc.code,
                retryable=True,
                retry_after=exc.retry_after,
            ) from exc

    def _call(self, what: str, request: Callable[[], Any]) -> dict[str, Any]:
        return self._retrying(what, lambda: self._raw(what, request))

    # ------------------------------------------------------------------ databases and data sources

    def database_id(self, kind: str) -> str | None:
        if kind not in self._databases:
            raise ValueError(f"unknown Notion database kind {kind!r}")
        return self._databases[kind]

    def data_source_id(self, kind: str) -> str:
        """The database's (first) data source, resolved once: 1 databases.retrieve, then 0."""
        cached = self._sources.get(kind)
        if cached is not None:
            return cached
        database_id = self.database_id(kind)
        if not database_id:
            raise ConfigError(f"{SETTING[kind]} is not set")
        remembered = self._cache.get(f"notion-data-source:{database_id}") if self._cache else None
        if isinstance(remembered, str) and remembered:
            self._sources[kind] = remembered
            self._unconfirmed.add(kind)
            return remembered
        database = self._call(
            f"open the {LABEL[kind]} ({SETTING[kind]})", lambda: self.client.databases.retrieve(database_id=database_id)
        )
        sources = database.get("data_sources")
        if not isinstance(sources, list) or not sources or not isinstance(sources[0], Mapping):
            raise ConfigError(f"{SETTING[kind]}: database {database_id} has no data source")
        source = str(sources[0]["id"])
        self._sources[kind] = source
        if self._cache:
            self._cache.set(f"notion-data-source:{database_id}", source)
        return source

    def _on_source(self, kind: str, request: Callable[[str], T]) -> T:
        """`request(data source id)`; a data source id remembered from the disk cache that Notion no
        longer knows (404) is forgotten and resolved again, once."""
        source = self.data_source_id(kind)
        try:
            result = request(source)
        except NotionApiError as error:
            if error.status != 404 or kind not in self._unconfirmed:
                raise
            self._unconfirmed.discard(kind)
            self._sources.pop(kind, None)
            if self._cache:
                self._cache.delete(f"notion-data-source:{self.database_id(kind)}")
            result = request(self.data_source_id(kind))
        self._unconfirmed.discard(kind)
        return result

    def data_source_properties(self, kind: str) -> dict[str, Any]:
        """The data source's property schema: 1 data_sources.retrieve."""
        source = self.data_source_id(kind)
        result = self._call(
            f"read the {LABEL[kind]}'s schema", lambda: self.client.data_sources.retrieve(data_source_id=source)
        )
        properties = result.get("properties")
        return dict(properties) if isinstance(properties, Mapping) else {}

    def _query_once(self, source: str, what: str, flt: dict[str, Any] | None, size: int, cursor: str | None) -> Page:
        body: dict[str, Any] = {"page_size": size}
        if flt is not None:
            body["filter"] = flt
        if cursor:
            body["start_cursor"] = cursor
        return self._raw(what, lambda: self.client.data_sources.query(source, **body))

    def _query_all(self, kind: str, what: str, flt: dict[str, Any] | None) -> list[Page]:
        """Every matching page: 1 data_sources.query per 100 pages."""
        pages: list[Page] = []
        cursor: str | None = None
        while True:
            def page(source: str, after: str | None = cursor) -> Page:
                return self._retrying(what, self._pager(source, what, flt, after))

            result = self._on_source(kind, page)
            status = result.get("request_status")
            if isinstance(status, Mapping) and status.get("type") == "incomplete":
                # Notion stops a query at 10,000 results and says so here (has_more is then false): never a
                # silently short list.
                reason = str(status.get("incomplete_reason") or "incomplete")
                raise NotionApiError(
                    None,
                    f"{what}: Notion stopped the query at its {QUERY_RESULT_LIMIT:,}-result limit ({reason}); "
                    "narrow it (archive old records, or split the database)",
                    code=reason,
                )
            pages.extend(_pages(result))
            cursor = result.get("next_cursor")
            if not result.get("has_more") or not cursor:
                return pages

    def _pager(self, source: str, what: str, flt: dict[str, Any] | None, cursor: str | None) -> Callable[[], Page]:
        return lambda: self._query_once(source, what, flt, 100, cursor)

    def _lookup(self, kind: str, what: str, flt: dict[str, Any], name: str, *, retry: bool = True) -> Page | None:
        """The one page matching `flt`, or None; several raise AmbiguousRecord naming `name`.
        1 data_sources.query (page size 2: enough to tell one from several)."""

        def query(source: str) -> Page:
            return self._query_once(source, what, flt, 2, None)

        result = self._on_source(
            kind, lambda source: self._retrying(what, lambda: query(source)) if retry else query(source)
        )
        pages = _pages(result)
        if len(pages) > 1:
            many = "more than 2" if result.get("has_more") else str(len(pages))
            raise AmbiguousRecord(f"{many} pages in the Notion {LABEL[kind]} match {name}; remove the duplicates")
        return pages[0] if pages else None

    def _create(self, kind: str, what: str, properties: dict[str, Any], *, retry: bool = True) -> Page:
        """1 pages.create under the data source; `properties` as `_new_page` encodes them."""
        parent_of_that_size = {"type": "data_source_id", "data_source_id": "0" * 36}
        _check_size(kind, what, {"parent": parent_of_that_size, "properties": properties})

        def request(source: str) -> Any:
            return self.client.pages.create(
                parent={"type": "data_source_id", "data_source_id": source}, properties=properties
            )

        return self._on_source(
            kind,
            lambda source: (
                self._call(what, lambda: request(source)) if retry else self._raw(what, lambda: request(source))
            ),
        )

    def _update(self, kind: str, what: str, page_id: str, values: Mapping[str, Any]) -> Page:
        properties = _encode(kind, values)
        _check_size(kind, what, {"properties": properties})
        return self._call(what, lambda: self.client.pages.update(page_id, properties=properties))

    # ------------------------------------------------------------------ contacts

    def _find_contact(self, email: str) -> Page | None:
        """The contact's page: 1 query (page size 2). Several pages for the address (Notion cannot refuse a
        second create) are made one: see `_merge_duplicates`."""
        what = f"look up the contact {email}"
        flt = _filter((Contacts.EMAIL, "email", email))
        result = self._on_source(
            "contacts", lambda source: self._retrying(what, lambda: self._query_once(source, what, flt, 2, None))
        )
        pages = _pages(result)
        if len(pages) <= 1:
            return pages[0] if pages else None
        if result.get("has_more"):
            pages = self._query_all("contacts", what, flt)
        return self._merge_duplicates(email, pages)

    def _merge_duplicates(self, email: str, pages: list[Page]) -> Page:
        """Keep the oldest page (created first, then the smallest id: the same for every writer), write onto it
        what the others know better (`merge_contacts`), and move the others to Notion's trash (restorable
        there): at most 1 pages.update for the kept page, then 1 per duplicate."""
        ordered = sorted(pages, key=lambda page: (str(page.get("created_time") or ""), str(page.get("id"))))
        contacts = [_contact(page) for page in ordered]
        merged = merge_contacts(contacts)
        kept = ordered[0]
        changes = {
            prop: getattr(merged, attr)
            for attr, prop in _CONTACT_FIELDS
            if getattr(merged, attr) != getattr(contacts[0], attr)
        }
        if changes:
            kept = self._update("contacts", f"merge the duplicate contacts of {email}", str(kept["id"]), changes)
        trashed = []
        for page in ordered[1:]:
            page_id = str(page["id"])
            self._call(
                f"move the duplicate contact page {page_id} of {email} to the trash",
                lambda page_id=page_id: self.client.pages.update(page_id, in_trash=True),  # type: ignore[misc]
            )
            trashed.append(page_id)
        log.warning(
            "%d Notion contact pages had the address %s: kept %s (the oldest) with what the others knew, and moved "
            "%s to Notion's trash",
            len(ordered),
            email,
            kept["id"],
            ", ".join(trashed),
        )
        return kept

    def get_contact(self, email: str) -> Contact | None:
        """1 query (email equals)."""
        page = self._find_contact(email)
        return _contact(page) if page is not None else None

    def upsert_contact(self, update: ContactUpdate) -> Contact:
        """Create the contact or write the fields that are not None and differ (None leaves a field
        as it is). 1 query, then 1 pages.create or 1 pages.update (none when nothing changes)."""
        page = self._find_contact(update.email)
        wanted = {prop: getattr(update, attr) for attr, prop in _CONTACT_FIELDS if getattr(update, attr) is not None}
        initial = update.initial_campaign_status if update.campaign_status is None else None
        if page is None:
            values = {
                Contacts.EMAIL: update.email,
                Contacts.FIRST_NAME: "",
                Contacts.EMAIL_STATUS: EmailStatus.OK,
                **({Contacts.CAMPAIGN_STATUS: initial} if initial else {}),
                **wanted,
            }
            page = self._create("contacts", f"create the contact {update.email}", _new_page("contacts", values))
            return _contact(page)
        current = _contact(page)
        changes = {}
        for attr, prop in _CONTACT_FIELDS:
            value = getattr(update, attr)
            if value is None:
                continue
            now = getattr(current, attr)
            same = (value or None) == (now or None) if isinstance(value, str) else value == now
            if not same:
                changes[prop] = value
        if initial and not current.campaign_status:
            changes[Contacts.CAMPAIGN_STATUS] = initial
        if changes:
            page = self._update("contacts", f"update the contact {update.email}", str(page["id"]), changes)
        return _contact(page)

    # ------------------------------------------------------------------ sequences

    def find_sequence(self, email: str, campaign: str, sequence: str, key: str) -> SequenceRecord | None:
        """1 query (Email, Campaign, Sequence Type and Sequence Key equal)."""
        page = self._lookup(
            "sequences",
            f"look up the sequence {key}",
            _sequence_filter(email, campaign, sequence, key),
            f"Sequence Key {key!r}",
        )
        return _record(page) if page is not None else None

    def create_sequence(self, record: SequenceRecord) -> tuple[SequenceRecord, bool]:
        """Create the record unless its key exists; (the stored record, created?).

        1 query when it exists; 1 query + 1 pages.create when not. A create that failed with a 5xx or
        a timeout is followed, before any new create, by 1 query for its key: found, it is returned.
        """
        properties = _new_page("sequences", self._sequence_values(record))  # checked before any request
        flt = _sequence_filter(record.email, record.campaign, record.sequence, record.key)
        name = f"Sequence Key {record.key!r}"
        what = f"look up the sequence {record.key}"
        existing = self._lookup("sequences", what, flt, name)
        if existing is not None:
            return _record(existing), False
        tried = False

        def attempt() -> Page:
            nonlocal tried
            if tried:  # the last create failed in a way that may have happened: look before creating again
                found = self._lookup("sequences", what, flt, name, retry=False)
                if found is not None:
                    log.info("the sequence %s was created by the request that failed", record.key)
                    return found
            tried = True
            return self._create("sequences", f"create the sequence {record.key}", properties, retry=False)

        page = self._retrying(f"create the sequence {record.key}", attempt)
        return _record(page), True

    def _sequence_values(self, record: SequenceRecord) -> dict[str, Any]:
        values: dict[str, Any] = {
            Sequences.FIRST_NAME: record.first_name,
            Sequences.EMAIL: record.email,
            Sequences.BUSINESS_NAME: record.business_name or None,
            Sequences.CAMPAIGN: record.campaign,
            Sequences.SEQUENCE_TYPE: record.sequence,
            Sequences.SEQUENCE_KEY: record.key,
            Sequences.EVENT_ID: record.event_id,
            Sequences.SEGMENT: record.segment or None,
            Sequences.ANCHOR_AT: record.anchor,
            Sequences.EVENT_DATA: _event_data(record),
        }
        for variable, prop in _NUMBER_VARIABLES:
            values[prop] = _number(record.variables.get(variable))
        last: tuple[int, datetime] | None = None
        for number, entry in sorted(record.emails.items()):
            _check_number(number)
            values[Sequences.sent(number)] = entry.sent_at
            values[Sequences.status(number)] = entry.status
            values[Sequences.resend_id(number)] = entry.resend_id
            values[Sequences.sent_by(number)] = entry.sent_by
            if entry.sent_at is not None:
                last = (number, entry.sent_at)
        if last is not None:
            values[Sequences.LAST_EMAIL_SENT], values[Sequences.LAST_EMAIL_SENT_AT] = last
        values[Sequences.COMPLETED] = record.completed or None
        values[Sequences.STOPPED_REASON] = record.stopped_reason
        return values

    def sequences_for(self, email: str, campaign: str, sequence: str | tuple[str, ...]) -> list[SequenceRecord]:
        """1 query per 100 records (Email and Campaign equal, Sequence Type one of those asked); oldest first."""
        types = (sequence,) if isinstance(sequence, str) else tuple(sequence)
        if len(types) == 1:
            flt = _sequence_filter(email, campaign, types[0])
        else:
            flt = _filter((Sequences.EMAIL, "email", email), (Sequences.CAMPAIGN, "select", campaign))
            flt["and"].append({"or": [{"property": Sequences.SEQUENCE_TYPE, "select": {"equals": t}} for t in types]})
        pages = self._query_all("sequences", f"list the {'/'.join(types)} sequences of {email}", flt)
        return sorted((_record(p) for p in pages), key=lambda r: (r.created_at, r.key))

    def _page_of(self, record: SequenceRecord) -> str:
        """The record's page id: its ref (0 requests), else 1 query by its key."""
        if record.ref:
            return record.ref
        flt = _sequence_filter(record.email, record.campaign, record.sequence, record.key)
        page = self._lookup("sequences", f"look up the sequence {record.key}", flt, f"Sequence Key {record.key!r}")
        if page is None:
            raise NotFound(f"no sequence record with key {record.key!r}")
        return str(page["id"])

    def mark_sent(self, record: SequenceRecord, mark: SentMark) -> SequenceRecord:
        """Email n's Sent/Status/Resend ID/Sent By, Last Email Sent (n) and its time; the last email
        also sets Sequence Completed. 1 pages.update (+1 query when the record has no page id)."""
        _check_number(mark.number)
        values: dict[str, Any] = {
            Sequences.sent(mark.number): mark.sent_at,
            Sequences.status(mark.number): mark.status,
            Sequences.resend_id(mark.number): mark.resend_id,
            Sequences.sent_by(mark.number): mark.sent_by,
            Sequences.LAST_EMAIL_SENT: mark.number,
            Sequences.LAST_EMAIL_SENT_AT: mark.sent_at,
        }
        if mark.completes:
            values[Sequences.COMPLETED] = True
        what = f"mark email {mark.number} of {record.key} sent"
        page = self._update("sequences", what, self._page_of(record), values)
        return _record(page)

    def stop_sequence(self, record: SequenceRecord, reason: str) -> SequenceRecord:
        """Record why the sequence stopped; one already stopped keeps its first reason.

        0 requests when `record` is already stopped; otherwise 1 pages.retrieve (the page as it is
        now, so a stale record cannot overwrite a first reason) + 1 pages.update when still running.
        """
        if record.stopped_reason:
            return record
        page_id = self._page_of(record)
        current = _record(self._call(f"read the sequence {record.key}", lambda: self.client.pages.retrieve(page_id)))
        if current.stopped_reason:
            return current
        page = self._update("sequences", f"stop the sequence {record.key}", page_id, {Sequences.STOPPED_REASON: reason})
        return _record(page)

    # ------------------------------------------------------------------ templates

    def _find_template(self, name: str) -> Page | None:
        try:
            return self._lookup(
                "templates",
                f"look up the template {name}",
                _filter((Templates.NAME, "title", name)),
                f"Template Name {name!r}",
            )
        except AmbiguousRecord as exc:
            raise TemplateError(f"template {name!r}: {exc}") from None

    def get_template(self, name: str) -> Template:
        """The named template; missing or not Active raises TemplateError (no fallback). 1 query, or
        none while a copy fetched less than `template_ttl` seconds ago is in the disk cache."""
        key = f"notion-template:{self.database_id('templates')}:{name}"
        fresh = self._cache.get(key, self._template_ttl) if self._cache and self._template_ttl > 0 else None
        if isinstance(fresh, dict):
            template = Template(**fresh)
            if not template.active:
                raise TemplateError(f"template {name!r} is Inactive; only Active templates are sent")
            return template
        page = self._find_template(name)
        if page is None:
            raise TemplateError(f"template {name!r} not found in the Notion {LABEL['templates']}")
        template = _template(page)
        if self._cache and self._template_ttl > 0:
            self._cache.set(
                key,
                {
                    "name": template.name,
                    "subject": template.subject,
                    "body_html": template.body_html,
                    "active": template.active,
                },
            )
        if not template.active:
            status = _optional(page, Templates.STATUS) or "without a Status"
            raise TemplateError(f"template {name!r} is {status}; only Active templates are sent")
        return template

    def list_templates(self) -> list[Template]:
        """Every template, by name: 1 query per 100 templates."""
        pages = self._query_all("templates", "list the templates", None)
        return sorted((_template(p) for p in pages), key=lambda t: t.name)

    def put_template(self, template: Template) -> str:
        """Create or update a template by name; "created", "updated" or "unchanged".
        1 query, then 1 pages.create or 1 pages.update (none when unchanged)."""
        page = self._find_template(template.name)
        values = {
            Templates.NAME: template.name,
            Templates.SUBJECT: template.subject,
            Templates.BODY: template.body_html,
            Templates.STATUS: "Active" if template.active else "Inactive",
        }
        if page is None:
            self._create("templates", f"create the template {template.name}", _new_page("templates", values))
            return "created"
        if _template(page) == template:
            return "unchanged"
        del values[Templates.NAME]
        self._update("templates", f"update the template {template.name}", str(page["id"]), values)
        return "updated"

    # ------------------------------------------------------------------ analytics

    def log_analytics(self, entry: AnalyticsEntry) -> None:
        """1 pages.create when an analytics database is configured; otherwise nothing (0 requests)."""
        if not self._databases["analytics"]:
            return
        values = {
            Analytics.TEMPLATE: entry.template,
            Analytics.EMAIL: entry.email,
            Analytics.EMAIL_NUMBER: entry.email_number,
            Analytics.STATUS: entry.status,
            Analytics.SENT_DATE: entry.at,
            Analytics.CAMPAIGN: entry.campaign,
            Analytics.RESEND_ID: entry.resend_id,
            Analytics.ERROR: entry.error,
        }
        self._create("analytics", f"log email {entry.email_number} to {entry.email}", _new_page("analytics", values))
