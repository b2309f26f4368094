"""Notion, the CRM and the template store, in parts (as django-anymail keeps one folder per provider):

- `api`: the HTTP layer: notion-client, Notion's errors, the retry policy, data sources resolved and cached;
- `encoding`: pages <-> records, and Notion's request limits checked before anything is sent;
- `contacts`, `sequences`, `templates`, `analytics`: one store per database;
- `crm`: `NotionCrm`, the Crm port put together from them;
- `workspace`: the schema check on a live workspace.

Notion's quirks are documented where they are handled: the data-source API (2025-09-03), no uniqueness (duplicate
contacts merged), a create answered 5xx that may have happened (looked up before creating again), 409
`conflict_error` retried, codes notion-client does not know (Notion's message kept), the 10,000-result query cap.
"""

from christmas_tasks.adapters.notion.api import AmbiguousRecord, NotionApiError, NotionConfig
from christmas_tasks.adapters.notion.crm import NotionCrm
from christmas_tasks.adapters.notion.encoding import join_text, split_text

__all__ = ["AmbiguousRecord", "NotionApiError", "NotionConfig", "NotionCrm", "join_text", "split_text"]
