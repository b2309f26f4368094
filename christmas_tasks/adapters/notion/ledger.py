"""`NotionLedger`: the Notion stores (contacts, sequences, templates, the send log, the campaign's state) on one
`NotionApi`, which they share (one HTTP client, one retry policy, one data-source cache, one request count).
`connect` builds it from the adapter's configuration; `on` builds it on a client of the caller's (the tests' fakes,
the schema check)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from notion_client import Client

from christmas_tasks.adapters.cache import DiskCache
from christmas_tasks.adapters.notion.api import NotionApi, NotionConfig
from christmas_tasks.adapters.notion.campaigns import NotionCampaigns
from christmas_tasks.adapters.notion.contacts import NotionContacts
from christmas_tasks.adapters.notion.people import NotionPeople
from christmas_tasks.adapters.notion.schema import NOTION_VERSION
from christmas_tasks.adapters.notion.sends import NotionSendLog
from christmas_tasks.adapters.notion.sequences import NotionSequences
from christmas_tasks.adapters.notion.templates import NotionTemplates
from christmas_tasks.adapters.retry import RetryPolicy


class NotionLedger:
    """The ledger on four Notion databases (analytics optional). Each method's request count is in its store's
    docstring; `requests` counts them all."""

    def __init__(self, api: NotionApi, *, template_ttl: float = 0.0) -> None:
        self.api = api
        self.contacts = NotionContacts(api)
        self.sequences = NotionSequences(api)
        self.templates = NotionTemplates(api, template_ttl)
        self.sends = NotionSendLog(api)
        self.people = NotionPeople(api)
        self.campaigns = NotionCampaigns(api)

    @classmethod
    def on(
        cls,
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
        min_interval: float = 0.0,
    ) -> NotionLedger:
        databases = {"contacts": contacts_db, "sequences": sequence_db, "templates": templates_db,
                     "analytics": analytics_db}
        api = NotionApi(client, databases, retry=retry, sleep=sleep, clock=clock, cache=cache,
                        min_interval=min_interval)
        return cls(api, template_ttl=template_ttl)

    @classmethod
    def connect(
        cls,
        config: NotionConfig,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout_ms: int = 30_000,
        cache: DiskCache | None = None,
        template_ttl: float = 0.0,
        min_interval: float = 0.0,
    ) -> NotionLedger:
        client = Client(
            auth=config.token.reveal(),
            base_url=config.api_url,
            notion_version=NOTION_VERSION,
            retry=False,
            timeout_ms=timeout_ms,
            logger=logging.getLogger("notion_client"),
        )
        return cls.on(
            client,
            contacts_db=config.contacts_db,
            sequence_db=config.sequence_db,
            templates_db=config.templates_db,
            analytics_db=config.analytics_db,
            retry=retry,
            sleep=sleep,
            cache=cache,
            template_ttl=template_ttl,
            min_interval=min_interval,
        )

    @property
    def requests(self) -> int:
        """The HTTP requests made to Notion so far (retries included)."""
        return self.api.requests
