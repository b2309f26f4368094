"""The message ids already forwarded (Svix's `svix-id`, Standard Webhooks' `webhook-id`), so that a redelivery of one
message changes nothing twice: the second is answered 200 and not forwarded.

One SQLite file in the edge's data folder (`EDGE_DATA_DIR/seen.sqlite3`), shared by every worker process: an id is
*claimed* by inserting it (the primary key makes one insert win, whichever process tries), forwarded, and *released*
again when the forward failed, so the sender's retry goes through. Ids are kept for `ttl` seconds (3 days: past
Svix's whole retry schedule, about 28 hours), and older ones are deleted as new ones arrive.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

TTL = 3 * 24 * 3600.0
FILE = "seen.sqlite3"


class SeenIds:
    """Message ids claimed for forwarding, with when; safe for several processes (SQLite's locking, WAL)."""

    def __init__(self, folder: Path, ttl: float = TTL) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / FILE
        self.ttl = ttl
        db = self._connect()
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, at REAL NOT NULL)")
            db.execute("CREATE INDEX IF NOT EXISTS seen_at ON seen (at)")
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10.0, isolation_level=None)

    def claim(self, message_id: str, now: float) -> bool:
        """True when this id is new (now claimed: forward it), False when it was claimed before (a redelivery)."""
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM seen WHERE at < ?", (now - self.ttl,))
            inserted = db.execute("INSERT OR IGNORE INTO seen (id, at) VALUES (?, ?)", (message_id, now)).rowcount
            db.execute("COMMIT")
            return inserted == 1
        finally:
            db.close()

    def release(self, message_id: str) -> None:
        """Forget a claimed id whose forward failed: the sender retries it, and that retry must go through."""
        db = self._connect()
        try:
            db.execute("DELETE FROM seen WHERE id = ?", (message_id,))
        finally:
            db.close()
