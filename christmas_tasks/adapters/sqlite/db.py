"""One SQLite file, shared by the local backend's four stores (christmas_tasks/adapters/sqlite/).

Kestra runs each task as a new process, so several processes may use the file at once: the file is in WAL mode,
every connection waits on a lock (busy timeout) instead of failing, each operation opens its own short-lived
connection, and every write runs in one `BEGIN IMMEDIATE` transaction. Times are stored as ISO 8601 UTC text (so
they sort) and returned timezone-aware in UTC.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from christmas_tasks.domain.planning import require_aware
from christmas_tasks.domain.records import LEDGER_SIZE
from christmas_tasks.domain.vocabulary import Engagement

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS contacts (
        email TEXT PRIMARY KEY,
        first_name TEXT NOT NULL DEFAULT '',
        business_name TEXT,
        campaign_status TEXT,
        booking_status TEXT,
        email_status TEXT NOT NULL DEFAULT 'ok',
        segment TEXT,
        assessment_score REAL,
        timezone TEXT,
        booked_call TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS sequences (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        email TEXT NOT NULL,
        campaign TEXT NOT NULL,
        sequence TEXT NOT NULL,
        event_id TEXT NOT NULL,
        first_name TEXT NOT NULL DEFAULT '',
        business_name TEXT,
        segment TEXT,
        anchor_at TEXT NOT NULL,
        created_at TEXT NOT NULL,
        variables TEXT NOT NULL DEFAULT '{}',
        last_email_sent INTEGER,
        last_email_sent_at TEXT,
        completed INTEGER NOT NULL DEFAULT 0,
        stopped_reason TEXT,
        created_by TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS sequences_lookup ON sequences (email, campaign, sequence)",
    f"""CREATE TABLE IF NOT EXISTS sequence_emails (
        sequence_id INTEGER NOT NULL REFERENCES sequences (id) ON DELETE CASCADE,
        number INTEGER NOT NULL CHECK (number BETWEEN 1 AND {LEDGER_SIZE}),
        sent_at TEXT,
        status TEXT,
        resend_id TEXT,
        sent_by TEXT,
        PRIMARY KEY (sequence_id, number)
    )""",
    """CREATE TABLE IF NOT EXISTS templates (
        name TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        body_html TEXT NOT NULL,
        active INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS analytics (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL,
        template TEXT NOT NULL,
        email_number INTEGER NOT NULL,
        status TEXT NOT NULL,
        at TEXT NOT NULL,
        campaign TEXT NOT NULL,
        resend_id TEXT,
        error TEXT
    )""",
    # a forgotten address's only trace: its mark (domain/holdings.py), so a later event from it starts nothing
    "CREATE TABLE IF NOT EXISTS forgotten (mark TEXT PRIMARY KEY, at TEXT NOT NULL)",
    # The campaign's state (paused or running): one row per campaign, none while it was never paused.
    """CREATE TABLE IF NOT EXISTS campaign_state (
        campaign TEXT PRIMARY KEY,
        paused INTEGER NOT NULL,
        reason TEXT,
        changed_at TEXT,
        changed_by TEXT
    )""",
)


# Columns added after a ledger file may have been made: each is added to an older file when it opens (the rows kept,
# the new column empty), so a campaign's ledger survives an upgrade.
_ADDED_COLUMNS = (
    ("contacts", "timezone", "TEXT"),
    ("contacts", "booked_call", "TEXT"),
    ("contacts", "booked_at", "TEXT"),
    # an email's engagement (SPEC §9): the first time of each kind (ENGAGEMENT_COLUMNS), a click's link
    *(("sequence_emails", column, "TEXT") for column in ("delivered_at", "delivery_delayed_at", "opened_at",
                                                         "clicked_at", "clicked_link")),
)
# The column of each engagement kind in sequence_emails.
ENGAGEMENT_COLUMNS = {kind: f"{kind.value}_at" for kind in Engagement}


def ts(moment: datetime, name: str) -> str:
    return require_aware(moment, name).isoformat(timespec="microseconds")


def dt(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def optional_text(value: str | None) -> str | None:
    """Optional text: empty is stored as absent (as Notion does with an empty rich text)."""
    return value if value else None


class SqliteDb:
    """The file, its schema (created when missing), and short-lived connections to it."""

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
        with self.write() as db:
            for statement in _SCHEMA:
                db.execute(statement)
            for table, column, kind in _ADDED_COLUMNS:  # inside the write lock: two processes add it once
                if column not in {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys=ON")
            yield db
        finally:
            db.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE takes the write lock first, so it never deadlocks on upgrade."""
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
