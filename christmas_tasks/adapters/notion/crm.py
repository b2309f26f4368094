"""`NotionCrm`: the Crm port on four Notion databases, put together from the adapter's parts: the HTTP layer
(`api`), the page encoding (`encoding`) and one store per database (`contacts`, `sequences`, `templates`,
`analytics`). `connect` builds it from the adapter's configuration."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from notion_client import Client

from christmas_tasks.adapters.notion.analytics import AnalyticsLog
from christmas_tasks.adapters.notion.api import NotionApi, NotionConfig
from christmas_tasks.adapters.notion.contacts import ContactStore
from christmas_tasks.adapters.notion.sequences import SequenceStore
from christmas_tasks.adapters.notion.templates import TemplateStore
from christmas_tasks.cache import DiskCache
from christmas_tasks.notion_schema import NOTION_VERSION
from christmas_tasks.ports import AnalyticsEntry, Contact, ContactUpdate, SentMark, SequenceRecord
from christmas_tasks.rendering import Template
from christmas_tasks.retry import RetryPolicy


class NotionCrm:
    """The Crm port on Notion (analytics optional). Each method's request count is in its store's docstring."""

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
        min_interval: float = 0.0,
    ) -> None:
        databases = {
            "contacts": contacts_db,
            "sequences": sequence_db,
            "templates": templates_db,
            "analytics": analytics_db,
        }
        self.api = NotionApi(
            client, databases, retry=retry, sleep=sleep, clock=clock, cache=cache, min_interval=min_interval
        )
        self._contacts = ContactStore(self.api)
        self._sequences = SequenceStore(self.api)
        self._templates = TemplateStore(self.api, template_ttl)
        self._analytics = AnalyticsLog(self.api)

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
    ) -> NotionCrm:
        client = Client(
            auth=config.token.reveal(),
            base_url=config.api_url,
            notion_version=NOTION_VERSION,
            retry=False,
            timeout_ms=timeout_ms,
            logger=logging.getLogger("notion_client"),
        )
        return cls(
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

    # the workspace, as the schema check and the tests read it

    @property
    def client(self) -> Client:
        return self.api.client

    def database_id(self, kind: str) -> str | None:
        return self.api.database_id(kind)

    def data_source_id(self, kind: str) -> str:
        return self.api.data_source_id(kind)

    def data_source_properties(self, kind: str) -> dict[str, Any]:
        return self.api.data_source_properties(kind)

    # the Crm port

    def get_contact(self, email: str) -> Contact | None:
        return self._contacts.get_contact(email)

    def upsert_contact(self, update: ContactUpdate) -> Contact:
        return self._contacts.upsert_contact(update)

    def find_sequence(self, email: str, campaign: str, sequence: str, key: str) -> SequenceRecord | None:
        return self._sequences.find_sequence(email, campaign, sequence, key)

    def create_sequence(self, record: SequenceRecord, *, absent: bool = False) -> tuple[SequenceRecord, bool]:
        return self._sequences.create_sequence(record, absent=absent)

    def sequences_for(self, email: str, campaign: str, sequence: str | tuple[str, ...]) -> list[SequenceRecord]:
        return self._sequences.sequences_for(email, campaign, sequence)

    def mark_sent(self, record: SequenceRecord, mark: SentMark) -> SequenceRecord:
        return self._sequences.mark_sent(record, mark)

    def stop_sequence(self, record: SequenceRecord, reason: str) -> SequenceRecord:
        return self._sequences.stop_sequence(record, reason)

    def get_template(self, name: str) -> Template:
        return self._templates.get_template(name)

    def list_templates(self) -> list[Template]:
        return self._templates.list_templates()

    def put_template(self, template: Template) -> str:
        return self._templates.put_template(template)

    def log_analytics(self, entry: AnalyticsEntry) -> None:
        self._analytics.log_analytics(entry)

    # the report's reads (LedgerReader)

    def all_contacts(self) -> list[Contact]:
        return self._contacts.all_contacts()

    def campaign_sequences(self, campaign: str) -> list[SequenceRecord]:
        return self._sequences.campaign_sequences(campaign)

    def send_attempts(self, campaign: str, since: datetime | None = None) -> list[AnalyticsEntry] | None:
        return self._analytics.send_attempts(campaign, since)

    @property
    def requests(self) -> int:
        """The HTTP requests this instance has made to Notion (retries included)."""
        return self.api.requests
