"""The send log (the analytics table): one row per send attempt, always kept locally."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from christmas_tasks.adapters.sqlite.db import SqliteDb, dt, ts
from christmas_tasks.domain.records import AnalyticsEntry


class SqliteSendLog:
    def __init__(self, db: SqliteDb) -> None:
        self.db = db

    def log_attempt(self, entry: AnalyticsEntry) -> None:
        with self.db.write() as db:
            db.execute(
                """INSERT INTO analytics (email, template, email_number, status, at, campaign, resend_id, error)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    entry.email,
                    entry.template,
                    entry.email_number,
                    entry.status,
                    ts(entry.at, "at"),
                    entry.campaign,
                    entry.resend_id,
                    entry.error,
                ),
            )

    def analytics_entries(self, email: str | None = None) -> list[AnalyticsEntry]:
        """The logged attempts, oldest first (all of them, or one address's)."""
        query = "SELECT * FROM analytics"
        args: tuple[str, ...] = ()
        if email is not None:
            query += " WHERE email = ?"
            args = (email,)
        with self.db.connect() as db:
            rows = db.execute(query + " ORDER BY id", args).fetchall()
        return [_entry(row) for row in rows]

    def send_attempts(self, campaign: str, since: datetime | None = None) -> list[AnalyticsEntry] | None:
        """Always known locally (the log is always kept)."""
        query, args = "SELECT * FROM analytics WHERE campaign = ?", [campaign]
        if since is not None:
            query += " AND at >= ?"  # ISO-8601 UTC text (`ts`) sorts as time does
            args.append(ts(since, "since"))
        with self.db.connect() as db:
            return [_entry(row) for row in db.execute(query + " ORDER BY at, id", args).fetchall()]


def _entry(row: sqlite3.Row) -> AnalyticsEntry:
    return AnalyticsEntry(
        email=row["email"],
        template=row["template"],
        email_number=row["email_number"],
        status=row["status"],
        at=dt(row["at"]) or datetime.min.replace(tzinfo=UTC),
        campaign=row["campaign"],
        resend_id=row["resend_id"],
        error=row["error"],
    )
