"""The optional email analytics database: one page per send attempt."""

from __future__ import annotations

from christmas_tasks.adapters.notion.api import NotionApi
from christmas_tasks.adapters.notion.encoding import new_page
from christmas_tasks.notion_schema import Analytics
from christmas_tasks.ports import AnalyticsEntry


class AnalyticsLog:
    def __init__(self, api: NotionApi) -> None:
        self.api = api

    def log_analytics(self, entry: AnalyticsEntry) -> None:
        """1 pages.create when an analytics database is configured; otherwise nothing (0 requests)."""
        if not self.api._databases["analytics"]:
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
