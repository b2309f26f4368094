"""The HTTP layer of the Notion adapter: one notion-client `Client`, Notion's errors translated (with Notion's own
code and message), the package's retry policy (notion-client's own retries are off, so they are not doubled),
and each database resolved to its data source once (remembered in the disk cache across processes).

Request counts are given in each method's docstring, once the data sources are resolved; resolving costs one
databases.retrieve per database, the first time an instance uses it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import httpx
from notion_client import Client
from notion_client.errors import HTTPResponseError, RequestTimeoutError

from christmas_tasks.adapters.cache import DiskCache
from christmas_tasks.adapters.notion.budget import RequestBudget
from christmas_tasks.adapters.notion.encoding import Page, check_size, encode, pages_in
from christmas_tasks.adapters.notion.schema import LABEL, NOTION_VERSION, QUERY_RESULT_LIMIT, SETTING
from christmas_tasks.adapters.retry import RetryPolicy, call_with_retry, retry_after_seconds
from christmas_tasks.adapters.secret import Secret
from christmas_tasks.domain.errors import ChristmasError, ConfigError, ProviderError

log = logging.getLogger("christmas_tasks.adapters.notion")

T = TypeVar("T")
PROVIDER = "Notion"
KINDS = ("contacts", "sequences", "templates", "analytics")
CREATED_FIRST = [{"timestamp": "created_time", "direction": "ascending"}]


class NotionConfig(Protocol):
    """What the adapter needs to connect (the package's NotionSettings has this shape)."""

    @property
    def token(self) -> Secret: ...
    @property
    def api_url(self) -> str: ...
    @property
    def contacts_db(self) -> str: ...
    @property
    def sequence_db(self) -> str: ...
    @property
    def templates_db(self) -> str: ...
    @property
    def analytics_db(self) -> str | None: ...


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


def translate(error: HTTPResponseError, what: str) -> NotionApiError:
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


def as_dict(result: Any, what: str) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise NotionApiError(None, f"{what}: unexpected answer from Notion ({type(result).__name__})")
    return result


class NotionApi:
    """Requests to one workspace's four databases (analytics optional)."""

    def __init__(
        self,
        client: Client,
        databases: Mapping[str, str | None],
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        cache: DiskCache | None = None,
        min_interval: float = 0.0,
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
        self._databases: dict[str, str | None] = {kind: databases.get(kind) or None for kind in KINDS}
        self._sources: dict[str, str] = {}
        # Data source ids read from the disk cache, not yet confirmed by a successful call here.
        self._unconfirmed: set[str] = set()
        self.cache = cache
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self.clock = clock
        # Pacing (a reader making many requests in a row, such as the report): at least `min_interval` seconds
        # from one request's start to the next one's. Ten lines of our own: no rate-limit library is worth a
        # dependency of the image for one sequential caller.
        self.min_interval = min_interval
        self._last_request: float | None = None
        self.requests = 0  # HTTP requests made, retries included
        # The machine's shared request budget (budget.py), set by the composition root; `background`: this process's
        # requests yield to the others' (an email's engagement yields to sends)
        self.budget: RequestBudget | None = None
        self.background = False

    # ------------------------------------------------------------------ requests

    def raw(self, what: str, request: Callable[[], Any]) -> dict[str, Any]:
        """One request, its failures translated; no retry."""
        self._pace()
        if self.budget is not None:
            self.budget.take(background=self.background)
        self.requests += 1
        try:
            return as_dict(request(), what)
        except HTTPResponseError as exc:
            raise translate(exc, what) from exc
        except RequestTimeoutError as exc:
            raise NotionApiError(None, f"{what}: the request timed out", code="timeout", retryable=True) from exc
        except httpx.TransportError as exc:
            raise NotionApiError(
                None, f"{what}: the connection failed ({type(exc).__name__})", code="connection", retryable=True
            ) from exc

    def _pace(self) -> None:
        if self.min_interval <= 0:
            return
        if self._last_request is not None:
            wait = self._last_request + self.min_interval - self.clock()
            if wait > 0:
                self._sleep(wait)
        self._last_request = self.clock()

    def retrying(self, what: str, operation: Callable[[], T]) -> T:
        """`operation` under the retry policy; a transient failure that outlasts it says so."""
        attempts = 0

        def once() -> T:
            nonlocal attempts
            attempts += 1
            return operation()

        def on_retry(error: ProviderError, attempt: int, delay: float) -> None:
            log.info("%s; retry %d in %.1f s", error, attempt, delay)

        try:
            return call_with_retry(once, policy=self.retry, sleep=self._sleep, clock=self.clock, on_retry=on_retry)
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

    def call(self, what: str, request: Callable[[], Any]) -> dict[str, Any]:
        return self.retrying(what, lambda: self.raw(what, request))

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
        remembered = self.cache.get(f"notion-data-source:{database_id}") if self.cache else None
        if isinstance(remembered, str) and remembered:
            self._sources[kind] = remembered
            self._unconfirmed.add(kind)
            return remembered
        database = self.call(
            f"open the {LABEL[kind]} ({SETTING[kind]})", lambda: self.client.databases.retrieve(database_id=database_id)
        )
        sources = database.get("data_sources")
        if not isinstance(sources, list) or not sources or not isinstance(sources[0], Mapping):
            raise ConfigError(f"{SETTING[kind]}: database {database_id} has no data source")
        source = str(sources[0]["id"])
        self._sources[kind] = source
        if self.cache:
            self.cache.set(f"notion-data-source:{database_id}", source)
        return source

    def on_source(self, kind: str, request: Callable[[str], T]) -> T:
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
            if self.cache:
                self.cache.delete(f"notion-data-source:{self.database_id(kind)}")
            result = request(self.data_source_id(kind))
        self._unconfirmed.discard(kind)
        return result

    def data_source_properties(self, kind: str) -> dict[str, Any]:
        """The data source's property schema: 1 data_sources.retrieve."""
        source = self.data_source_id(kind)
        result = self.call(
            f"read the {LABEL[kind]}'s schema", lambda: self.client.data_sources.retrieve(data_source_id=source)
        )
        properties = result.get("properties")
        return dict(properties) if isinstance(properties, Mapping) else {}

    def query_once(
        self,
        source: str,
        what: str,
        flt: dict[str, Any] | None,
        size: int,
        cursor: str | None,
        sorts: list[dict[str, Any]] | None = None,
    ) -> Page:
        body: dict[str, Any] = {"page_size": size}
        if flt is not None:
            body["filter"] = flt
        if sorts:
            body["sorts"] = sorts
        if cursor:
            body["start_cursor"] = cursor
        return self.raw(what, lambda: self.client.data_sources.query(source, **body))

    def query_all(self, kind: str, what: str, flt: dict[str, Any] | None) -> list[Page]:
        """Every matching page: 1 data_sources.query per 100 pages. A query Notion stops at its 10,000-result limit
        raises at its first page (never a silently short list): `query_everything` reads past it."""
        pages, _ = self._paged(kind, what, flt, None, stop_at_limit=True)
        return pages

    def query_everything(self, kind: str, what: str, flt: dict[str, Any] | None) -> list[Page]:
        """Every matching page, past Notion's 10,000-result limit per query too: the pages are read oldest first
        (created_time), and when Notion stops a query at its limit, the query starts again from the creation time
        of the last page read. created_time is rounded to the minute, so that minute is read twice and its pages
        already read are skipped by id. 1 data_sources.query per 100 pages, and 1 more per restart."""
        found: dict[str, Page] = {}
        after: str | None = None
        while True:
            window = flt
            if after is not None:
                since = {"timestamp": "created_time", "created_time": {"on_or_after": after}}
                window = since if flt is None else {"and": [flt, since]}
            pages, complete = self._paged(kind, what, window, CREATED_FIRST, stop_at_limit=False)
            fresh = 0
            for page in pages:
                if str(page.get("id")) not in found:
                    found[str(page.get("id"))] = page
                    fresh += 1
            if complete:
                return list(found.values())
            last = str(pages[-1].get("created_time") or "") if pages else ""
            if not fresh or not last or last == after:
                raise NotionApiError(
                    None,
                    f"{what}: more than {QUERY_RESULT_LIMIT:,} pages were created in the same minute ({last}), "
                    "which Notion cannot page past",
                    code="query_result_limit_reached",
                )
            after = last

    def _paged(
        self,
        kind: str,
        what: str,
        flt: dict[str, Any] | None,
        sorts: list[dict[str, Any]] | None,
        *,
        stop_at_limit: bool,
    ) -> tuple[list[Page], bool]:
        """Every page of one query, and whether Notion answered it whole (False: it stopped at its limit)."""
        pages: list[Page] = []
        cursor: str | None = None
        complete = True
        while True:

            def page(source: str, after: str | None = cursor) -> Page:
                return self.retrying(what, lambda: self.query_once(source, what, flt, 100, after, sorts))

            result = self.on_source(kind, page)
            status = result.get("request_status")
            if isinstance(status, Mapping) and status.get("type") == "incomplete":
                complete = False
                if stop_at_limit:
                    reason = str(status.get("incomplete_reason") or "incomplete")
                    raise NotionApiError(
                        None,
                        f"{what}: Notion stopped the query at its {QUERY_RESULT_LIMIT:,}-result limit ({reason}); "
                        "narrow it (archive old records, or split the database)",
                        code=reason,
                    )
            pages.extend(pages_in(result))
            cursor = result.get("next_cursor")
            if not result.get("has_more") or not cursor:
                return pages, complete

    def lookup(self, kind: str, what: str, flt: dict[str, Any], name: str, *, retry: bool = True) -> Page | None:
        """The one page matching `flt`, or None; several raise AmbiguousRecord naming `name`.
        1 data_sources.query (page size 2: enough to tell one from several)."""

        def query(source: str) -> Page:
            return self.query_once(source, what, flt, 2, None)

        result = self.on_source(
            kind, lambda source: self.retrying(what, lambda: query(source)) if retry else query(source)
        )
        pages = pages_in(result)
        if len(pages) > 1:
            many = "more than 2" if result.get("has_more") else str(len(pages))
            raise AmbiguousRecord(f"{many} pages in the Notion {LABEL[kind]} match {name}; remove the duplicates")
        return pages[0] if pages else None

    def create(self, kind: str, what: str, properties: dict[str, Any], *, retry: bool = True) -> Page:
        """1 pages.create under the data source; `properties` as `new_page` encodes them."""
        parent_of_that_size = {"type": "data_source_id", "data_source_id": "0" * 36}
        check_size(kind, what, {"parent": parent_of_that_size, "properties": properties})

        def request(source: str) -> Any:
            return self.client.pages.create(
                parent={"type": "data_source_id", "data_source_id": source}, properties=properties
            )

        return self.on_source(
            kind,
            lambda source: (
                self.call(what, lambda: request(source)) if retry else self.raw(what, lambda: request(source))
            ),
        )

    def update(self, kind: str, what: str, page_id: str, values: Mapping[str, Any]) -> Page:
        properties = encode(kind, values)
        check_size(kind, what, {"properties": properties})
        return self.call(what, lambda: self.client.pages.update(page_id, properties=properties))
