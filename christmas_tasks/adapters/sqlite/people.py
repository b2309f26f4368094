"""What the local ledger holds about one address, its erasure, and the forgotten marks (ports.PersonalData).

The erasure deletes with `secure_delete` on (SQLite overwrites the freed pages with zeros instead of leaving the rows
readable in the file) and checkpoints the write-ahead log afterwards, so the old pages do not linger in it either.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from christmas_tasks.adapters.sqlite.contacts import contact_of
from christmas_tasks.adapters.sqlite.db import SqliteDb, ts
from christmas_tasks.adapters.sqlite.sends import _entry
from christmas_tasks.adapters.sqlite.sequences import _record
from christmas_tasks.domain.holdings import Holdings, Stored


class SqlitePeople:
    def __init__(self, db: SqliteDb) -> None:
        self.db = db

    def held(self, email: str, mark: str) -> Holdings:
        with self.db.connect() as db:
            contacts = db.execute("SELECT * FROM contacts WHERE email = ?", (email,)).fetchall()
            sequences = db.execute(
                "SELECT * FROM sequences WHERE email = ? ORDER BY created_at, key", (email,)
            ).fetchall()
            attempts = db.execute("SELECT * FROM analytics WHERE email = ? ORDER BY at, id", (email,)).fetchall()
            stored = [Stored("contacts", row["email"], _plain(row)) for row in contacts]
            for row in sequences:
                emails = db.execute(
                    "SELECT * FROM sequence_emails WHERE sequence_id = ? ORDER BY number", (row["id"],)
                ).fetchall()
                fields = {**_plain(row), "emails": [_plain(e) for e in emails]}
                stored.append(Stored("sequences", str(row["id"]), fields))
            stored += [Stored("send_log", str(row["id"]), _plain(row)) for row in attempts]
            forgotten = db.execute("SELECT 1 FROM forgotten WHERE mark = ?", (mark,)).fetchone() is not None
            return Holdings(
                email=email,
                contacts=tuple(contact_of(row) for row in contacts),
                sequences=tuple(_record(db, row) for row in sequences),
                attempts=tuple(_entry(row) for row in attempts),
                stored=tuple(stored),
                forgotten=forgotten,
            )

    def erase(self, held: Holdings, mark: str, at: datetime) -> dict[str, int]:
        """One transaction: the mark kept, the address's rows deleted (its ledger of emails with its records)."""
        email = held.email
        with self.db.write() as db:
            db.execute("PRAGMA secure_delete = ON")
            db.execute("INSERT OR IGNORE INTO forgotten (mark, at) VALUES (?, ?)", (mark, ts(at, "at")))
            emails = db.execute(
                "SELECT COUNT(*) FROM sequence_emails WHERE sequence_id IN (SELECT id FROM sequences WHERE email = ?)",
                (email,),
            ).fetchone()[0]
            removed = {
                "contacts": db.execute("DELETE FROM contacts WHERE email = ?", (email,)).rowcount,
                "sequences": db.execute("DELETE FROM sequences WHERE email = ?", (email,)).rowcount,
                "ledger_emails": int(emails),  # deleted with their records (ON DELETE CASCADE)
                "send_log": db.execute("DELETE FROM analytics WHERE email = ?", (email,)).rowcount,
            }
        with self.db.connect() as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return removed

    def is_forgotten(self, mark: str) -> bool:
        with self.db.connect() as db:
            return db.execute("SELECT 1 FROM forgotten WHERE mark = ?", (mark,)).fetchone() is not None

    def clear_forgotten(self, mark: str) -> bool:
        with self.db.write() as db:
            return bool(db.execute("DELETE FROM forgotten WHERE mark = ?", (mark,)).rowcount)


def _plain(row: sqlite3.Row) -> dict[str, Any]:
    return {key: row[key] for key in row.keys()}
