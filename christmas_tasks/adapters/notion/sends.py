"""The optional email analytics database: one page per send attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from christmas_tasks.adapters.notion.api import NotionApi
from christmas_tasks.adapters.notion.encoding import iso, new_page
from christmas_tasks.adapters.notion.pages import analytics_of
from christmas_tasks.adapters.notion.schema import Analytics
from christmas_tasks.domain.records import AnalyticsEntry


class NotionSendLog:
    def __init__(self, api: NotionApi) -> None:
        self.api = api

    def log_attempt(self, entry: AnalyticsEntry) -> None:
        """1 pages.create when an analytics database is configured; otherwise nothing (0 requests)."""
        if not self.api.database_id("analytics"):
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
        self.api.create("analytics", f"log email {entry.email_number} to {entry.email}", new_page("analytics", values))

    def send_attempts(self, campaign: str, since: datetime | None = None) -> list[AnalyticsEntry] | None:
        """The campaign's attempts (Sent Date on or after `since`): 1 query per 100; None (0 requests) without an
        analytics database."""
        if not self.api.database_id("analytics"):
            return None
        conditions: list[dict[str, Any]] = [{"property": Analytics.CAMPAIGN, "select": {"equals": campaign}}]
        if since is not None:
            conditions.append({"property": Analytics.SENT_DATE, "date": {"on_or_after": iso(since, "since")}})
        flt = conditions[0] if len(conditions) == 1 else {"and": conditions}
        pages = self.api.query_everything("analytics", f"read the send attempts of {campaign}", flt)
        return sorted((analytics_of(page) for page in pages), key=lambda entry: entry.at)
