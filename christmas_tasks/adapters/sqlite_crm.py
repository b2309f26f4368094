"""`SqliteCrm`: the `Crm` port on one SQLite file, the embedded default that needs no account.

Kestra runs each task as a new process, so several processes may use the file at once: the file is
in WAL mode, every connection waits on a lock (busy timeout) instead of failing, each operation opens
its own short-lived connection, and every write runs in one `BEGIN IMMEDIATE` transaction. The
sequence key is UNIQUE, so creating a sequence is idempotent even when two processes race
(`INSERT ... ON CONFLICT DO NOTHING`, then read back).

Times are stored as ISO 8601 UTC text (so they sort) and returned timezone-aware in UTC.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from christmas_tasks.errors import InvalidInput, NotFound, Problem, TemplateError
from christmas_tasks.planning import require_aware
from christmas_tasks.ports import (
    AnalyticsEntry,
    Contact,
    ContactStatus,
    ContactUpdate,
    EmailLedger,
    SentMark,
    SequenceRecord,
)
from christmas_tasks.rendering import Template
from christmas_tasks.template_files import load_templates
from christmas_tasks.vocabulary import EmailStatus

LEDGER_NUMBERS = range(1, 6)  # as in Notion: ledger columns for emails 1..5

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS contacts (
        email TEXT PRIMARY KEY,
        first_name TEXT NOT NULL DEFAULT '',
        business_name TEXT,
        campaign_status TEXT,
        booking_status TEXT,
        email_status TEXT NOT NULL DEFAULT 'ok',
        segment TEXT,
        assessment_score REAL
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
    """CREATE TABLE IF NOT EXISTS sequence_emails (
        sequence_id INTEGER NOT NULL REFERENCES sequences (id) ON DELETE CASCADE,
        number INTEGER NOT NULL CHECK (number BETWEEN 1 AND 5),
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
)


def _ts(moment: datetime, name: str) -> str:
    return require_aware(moment, name).isoformat(timespec="microseconds")


def _dt(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _text(value: str | None) -> str | None:
    """Optional text: empty is stored as absent (as Notion does with an empty rich text)."""
    return value if value else None


def _check_number(number: int) -> None:
    if number not in LEDGER_NUMBERS:
        raise InvalidInput("email number", [Problem("number", f"{number} is not 1 to 5 (the ledger's columns)")])


class SqliteCrm:
    """The Crm port on a SQLite file. With `templates_dir`, that folder is the template store: the table
    mirrors it the first time an instance reads a template (each Kestra step is a new process, so an edited
    file takes effect at the next step, as an edit in Notion does)."""

    def __init__(self, path: Path, templates_dir: Path | None = None, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.templates_dir = Path(templates_dir) if templates_dir is not None else None
        self.busy_timeout = busy_timeout
        self._templates_ready = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
        with self._write() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    # ------------------------------------------------------------------ connections

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys=ON")
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE takes the write lock first, so it never deadlocks on upgrade."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # ------------------------------------------------------------------ contacts

    def get_contact(self, email: str) -> Contact | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM contacts WHERE email = ?", (email,)).fetchone()
        return _contact(row) if row is not None else None

    def upsert_contact(self, update: ContactUpdate) -> Contact:
        """Create the contact or write the fields that are not None (None leaves a field as it is)."""
        changes: dict[str, Any] = {}
        for column in ("first_name", "campaign_status", "booking_status", "email_status", "assessment_score"):
            value = getattr(update, column)
            if value is not None:
                changes[column] = value
        for column in ("business_name", "segment"):
            value = getattr(update, column)
            if value is not None:
                changes[column] = _text(value)
        with self._write() as db:
            exists = db.execute("SELECT campaign_status FROM contacts WHERE email = ?", (update.email,)).fetchone()
            if update.initial_campaign_status and update.campaign_status is None and not (exists and exists[0]):
                changes["campaign_status"] = update.initial_campaign_status
            if exists is None:
                values = {"email": update.email, "first_name": "", "email_status": EmailStatus.OK, **changes}
                columns = ", ".join(values)
                marks = ", ".join("?" for _ in values)
                db.execute(f"INSERT INTO contacts ({columns}) VALUES ({marks})", tuple(values.values()))  # noqa: S608
            elif changes:
                assignments = ", ".join(f"{column} = ?" for column in changes)
                db.execute(
                    f"UPDATE contacts SET {assignments} WHERE email = ?",  # noqa: S608 (column names are ours)
                    (*changes.values(), update.email),
                )
            row = db.execute("SELECT * FROM contacts WHERE email = ?", (update.email,)).fetchone()
        return _contact(row)

    # ------------------------------------------------------------------ sequences

    def find_sequence(self, email: str, campaign: str, sequence: str, key: str) -> SequenceRecord | None:
        """The record, with its contact's status as it is now (the contact of the same address)."""
        with self._connect() as db:
            row = self._locate(db, email, campaign, sequence, key)
            if row is None:
                return None
            found = db.execute("SELECT email_status, booking_status FROM contacts WHERE email = ?", (email,)).fetchone()
            contact = ContactStatus(found[0] or EmailStatus.OK, found[1]) if found is not None else None
            return replace(_record(db, row), contact=contact)

    def create_sequence(self, record: SequenceRecord, *, absent: bool = False) -> tuple[SequenceRecord, bool]:
        """Create the record unless its key exists; (the stored record, created?). Safe under races (so
        `absent` changes nothing here: the insert itself refuses a second record with the key)."""
        anchor = _ts(record.anchor, "anchor")
        created_at = _ts(record.created_at, "created_at")
        ledger = [(n, e) for n, e in sorted(record.emails.items())]
        for number, _ in ledger:
            _check_number(number)
        sent = [(n, e.sent_at) for n, e in ledger if e.sent_at is not None]
        last_number, last_at = (sent[-1][0], _ts(sent[-1][1], "sent_at")) if sent else (None, None)
        with self._write() as db:
            cursor = db.execute(
                """INSERT INTO sequences (key, email, campaign, sequence, event_id, first_name, business_name,
                       segment, anchor_at, created_at, variables, last_email_sent, last_email_sent_at, completed,
                       stopped_reason, created_by)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (key) DO NOTHING""",
                (
                    record.key,
                    record.email,
                    record.campaign,
                    record.sequence,
                    record.event_id,
                    record.first_name,
                    _text(record.business_name),
                    _text(record.segment),
                    anchor,
                    created_at,
                    json.dumps(record.variables, sort_keys=True, ensure_ascii=False),
                    last_number,
                    last_at,
                    int(record.completed),
                    record.stopped_reason,
                    record.created_by,
                ),
            )
            created = cursor.rowcount == 1
            if created:
                sequence_id = cursor.lastrowid
                for number, entry in ledger:
                    db.execute(
                        """INSERT INTO sequence_emails (sequence_id, number, sent_at, status, resend_id, sent_by)
                           VALUES (?, ?, ?, ?, ?, ?)""",
                        (
                            sequence_id,
                            number,
                            _ts(entry.sent_at, "sent_at") if entry.sent_at else None,
                            entry.status,
                            entry.resend_id,
                            entry.sent_by,
                        ),
                    )
            row = self._locate(db, record.email, record.campaign, record.sequence, record.key)
            if row is None:
                raise InvalidInput(
                    "sequence record",
                    [Problem("key", f"{record.key!r} is already used by another email, campaign or sequence type")],
                )
            return _record(db, row), created

    def sequences_for(self, email: str, campaign: str, sequence: str | tuple[str, ...]) -> list[SequenceRecord]:
        types = (sequence,) if isinstance(sequence, str) else tuple(sequence)
        marks = ", ".join("?" for _ in types)
        with self._connect() as db:
            rows = db.execute(
                f"SELECT * FROM sequences WHERE email = ? AND campaign = ? AND sequence IN ({marks})"  # noqa: S608
                " ORDER BY created_at, key",
                (email, campaign, *types),
            ).fetchall()
            return [_record(db, row) for row in rows]

    def mark_sent(self, record: SequenceRecord, mark: SentMark) -> SequenceRecord:
        """Email n's ledger entry, Last Email Sent (n) and its time; the last email also completes."""
        _check_number(mark.number)
        sent_at = _ts(mark.sent_at, "sent_at")
        with self._write() as db:
            row = self._require(db, record)
            db.execute(
                """INSERT INTO sequence_emails (sequence_id, number, sent_at, status, resend_id, sent_by)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (sequence_id, number) DO UPDATE SET sent_at = excluded.sent_at,
                       status = excluded.status, resend_id = excluded.resend_id, sent_by = excluded.sent_by""",
                (row["id"], mark.number, sent_at, mark.status, mark.resend_id, mark.sent_by),
            )
            db.execute(
                """UPDATE sequences SET last_email_sent = ?, last_email_sent_at = ?, completed = MAX(completed, ?)
                   WHERE id = ?""",
                (mark.number, sent_at, int(mark.completes), row["id"]),
            )
            return _record(db, self._require(db, record))

    def stop_sequence(self, record: SequenceRecord, reason: str) -> SequenceRecord:
        """Record why the sequence stopped; a sequence already stopped keeps its first reason."""
        with self._write() as db:
            row = self._require(db, record)
            db.execute(
                "UPDATE sequences SET stopped_reason = ? WHERE id = ? AND stopped_reason IS NULL", (reason, row["id"])
            )
            return _record(db, self._require(db, record))

    @staticmethod
    def _locate(db: sqlite3.Connection, email: str, campaign: str, sequence: str, key: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = db.execute(
            "SELECT * FROM sequences WHERE key = ? AND email = ? AND campaign = ? AND sequence = ?",
            (key, email, campaign, sequence),
        ).fetchone()
        return row

    def _require(self, db: sqlite3.Connection, record: SequenceRecord) -> sqlite3.Row:
        row = self._locate(db, record.email, record.campaign, record.sequence, record.key)
        if row is None:
            raise NotFound(f"no sequence record with key {record.key!r}")
        return row

    # ------------------------------------------------------------------ templates

    def _ensure_templates(self) -> None:
        """Once per instance, the table made equal to `templates_dir` (when given): files added, edited or
        removed take effect. Nothing is written when they already match."""
        if self._templates_ready:
            return
        if self.templates_dir is not None:
            wanted = {t.name: t for t in load_templates(self.templates_dir).values()}
            if self._stored_templates() != wanted:
                with self._write() as db:  # the same check again, inside the lock: another process may have synced
                    rows = db.execute("SELECT * FROM templates").fetchall()
                    if {row["name"]: _template(row) for row in rows} != wanted:
                        db.execute("DELETE FROM templates")
                        db.executemany(
                            "INSERT INTO templates (name, subject, body_html, active) VALUES (?, ?, ?, ?)",
                            [(t.name, t.subject, t.body_html, int(t.active)) for t in wanted.values()],
                        )
        self._templates_ready = True

    def _stored_templates(self) -> dict[str, Template]:
        with self._connect() as db:
            return {row["name"]: _template(row) for row in db.execute("SELECT * FROM templates").fetchall()}

    def get_template(self, name: str) -> Template:
        """The named template; a missing or inactive one raises TemplateError (no fallback)."""
        self._ensure_templates()
        with self._connect() as db:
            row = db.execute("SELECT * FROM templates WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise TemplateError(f"template {name!r} not found in the local template store")
        template = _template(row)
        if not template.active:
            raise TemplateError(f"template {name!r} is Inactive")
        return template

    def list_templates(self) -> list[Template]:
        self._ensure_templates()
        with self._connect() as db:
            rows = db.execute("SELECT * FROM templates ORDER BY name").fetchall()
        return [_template(row) for row in rows]

    def put_template(self, template: Template) -> str:
        """Create or update a template by name; returns "created", "updated" or "unchanged"."""
        self._ensure_templates()
        with self._write() as db:
            row = db.execute("SELECT * FROM templates WHERE name = ?", (template.name,)).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO templates (name, subject, body_html, active) VALUES (?, ?, ?, ?)",
                    (template.name, template.subject, template.body_html, int(template.active)),
                )
                return "created"
            if _template(row) == template:
                return "unchanged"
            db.execute(
                "UPDATE templates SET subject = ?, body_html = ?, active = ? WHERE name = ?",
                (template.subject, template.body_html, int(template.active), template.name),
            )
            return "updated"

    # ------------------------------------------------------------------ analytics

    def log_analytics(self, entry: AnalyticsEntry) -> None:
        """Always on locally: one row per send attempt."""
        with self._write() as db:
            db.execute(
                """INSERT INTO analytics (email, template, email_number, status, at, campaign, resend_id, error)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    entry.email,
                    entry.template,
                    entry.email_number,
                    entry.status,
                    _ts(entry.at, "at"),
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
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY id", args).fetchall()
        return [_entry(row) for row in rows]

    # ------------------------------------------------------------------ the report's reads (LedgerReader)

    def all_contacts(self) -> list[Contact]:
        with self._connect() as db:
            return [_contact(row) for row in db.execute("SELECT * FROM contacts ORDER BY email").fetchall()]

    def campaign_sequences(self, campaign: str) -> list[SequenceRecord]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM sequences WHERE campaign = ? ORDER BY created_at, key", (campaign,)
            ).fetchall()
            return [_record(db, row) for row in rows]

    def send_attempts(self, campaign: str, since: datetime | None = None) -> list[AnalyticsEntry] | None:
        """Always known locally (the analytics table is always on)."""
        query, args = "SELECT * FROM analytics WHERE campaign = ?", [campaign]
        if since is not None:
            query += " AND at >= ?"  # ISO-8601 UTC text (`_ts`) sorts as time does
            args.append(_ts(since, "since"))
        with self._connect() as db:
            return [_entry(row) for row in db.execute(query + " ORDER BY at, id", args).fetchall()]


def _entry(row: sqlite3.Row) -> AnalyticsEntry:
    return AnalyticsEntry(
        email=row["email"],
        template=row["template"],
        email_number=row["email_number"],
        status=row["status"],
        at=_dt(row["at"]) or datetime.min.replace(tzinfo=UTC),
        campaign=row["campaign"],
        resend_id=row["resend_id"],
        error=row["error"],
    )


def _contact(row: sqlite3.Row) -> Contact:
    return Contact(
        email=row["email"],
        first_name=row["first_name"] or "",
        business_name=row["business_name"],
        campaign_status=row["campaign_status"],
        booking_status=row["booking_status"],
        email_status=row["email_status"] or EmailStatus.OK,
        segment=row["segment"],
        assessment_score=row["assessment_score"],
        ref=row["email"],
    )


def _record(db: sqlite3.Connection, row: sqlite3.Row) -> SequenceRecord:
    emails = {}
    for entry in db.execute(
        "SELECT * FROM sequence_emails WHERE sequence_id = ? ORDER BY number", (row["id"],)
    ).fetchall():
        emails[entry["number"]] = EmailLedger(
            number=entry["number"],
            sent_at=_dt(entry["sent_at"]),
            status=entry["status"],
            resend_id=entry["resend_id"],
            sent_by=entry["sent_by"],
        )
    anchor = _dt(row["anchor_at"])
    created_at = _dt(row["created_at"])
    assert anchor is not None and created_at is not None  # NOT NULL columns
    variables = json.loads(row["variables"] or "{}")
    return SequenceRecord(
        key=row["key"],
        email=row["email"],
        campaign=row["campaign"],
        sequence=row["sequence"],
        event_id=row["event_id"],
        first_name=row["first_name"] or "",
        anchor=anchor,
        created_at=created_at,
        business_name=row["business_name"],
        segment=row["segment"],
        variables={str(k): str(v) for k, v in variables.items()},
        emails=emails,
        completed=bool(row["completed"]),
        stopped_reason=row["stopped_reason"],
        ref=str(row["id"]),
        created_by=row["created_by"],
    )


def _template(row: sqlite3.Row) -> Template:
    return Template(name=row["name"], subject=row["subject"], body_html=row["body_html"], active=bool(row["active"]))
