"""Notion, the CRM and the template store, in parts (as django-anymail keeps one folder per provider):

- `api`: the HTTP layer: notion-client, Notion's errors, the retry policy, data sources resolved and cached;
- `encoding`: property values <-> Python values, and Notion's request limits checked before anything is sent;
- `pages`: pages -> records (a contact, a sequence record and its ledger, a send, a template);
- `schema`: the workspace's databases and properties, as data, and the pure check of them;
- `contacts`, `sequences`, `templates`, `sends`: one store per database, each the port of one concern;
- `ledger`: `NotionLedger`, the four stores on one API;
- `workspace`: the schema check on a live workspace.

Notion's quirks are documented where they are handled: the data-source API (2025-09-03), no uniqueness (duplicate
contacts merged), a create answered 5xx that may have happened (looked up before creating again), 409
`conflict_error` retried, codes notion-client does not know (Notion's message kept), the 10,000-result query cap.
"""

from christmas_tasks.adapters.notion.api import AmbiguousRecord, NotionApiError, NotionConfig
from christmas_tasks.adapters.notion.encoding import join_text, split_text
from christmas_tasks.adapters.notion.ledger import NotionLedger

__all__ = ["AmbiguousRecord", "NotionApiError", "NotionConfig", "NotionLedger", "join_text", "split_text"]
