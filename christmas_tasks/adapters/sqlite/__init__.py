"""The local backend's ledger: one SQLite file (db), its stores, each the port of one concern: contacts,
sequences (and the ledger of their emails), templates (mirroring a folder of .html files), the send log, and the
campaign's state; and what it holds about one address (people: a contact's story, export and erasure).
It needs no account, and several processes may use it at once (db.py says how)."""

from __future__ import annotations

from pathlib import Path

from christmas_tasks.adapters.sqlite.campaigns import SqliteCampaigns
from christmas_tasks.adapters.sqlite.contacts import SqliteContacts
from christmas_tasks.adapters.sqlite.db import SqliteDb
from christmas_tasks.adapters.sqlite.people import SqlitePeople
from christmas_tasks.adapters.sqlite.sends import SqliteSendLog
from christmas_tasks.adapters.sqlite.sequences import SqliteSequences
from christmas_tasks.adapters.sqlite.templates import SqliteTemplates

__all__ = [
    "SqliteCampaigns", "SqliteContacts", "SqliteDb", "SqliteLedger", "SqlitePeople", "SqliteSendLog", "SqliteSequences",
    "SqliteTemplates",
]


class SqliteLedger:
    """The stores on one file; with `templates_dir`, that folder is the template store."""

    def __init__(self, path: Path, templates_dir: Path | None = None, *, busy_timeout: float = 30.0) -> None:
        self.db = SqliteDb(path, busy_timeout=busy_timeout)
        self.contacts = SqliteContacts(self.db)
        self.sequences = SqliteSequences(self.db)
        self.templates = SqliteTemplates(self.db, templates_dir)
        self.sends = SqliteSendLog(self.db)
        self.people = SqlitePeople(self.db)
        self.campaigns = SqliteCampaigns(self.db)
