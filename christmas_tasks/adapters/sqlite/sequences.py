"""The sequence records and the ledger of their emails (one row per email sent). The sequence key is UNIQUE, so
creating a record is idempotent even when two processes race (`INSERT ... ON CONFLICT DO NOTHING`, then read back).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

from christmas_tasks.adapters.sqlite.campaigns import read_state
from christmas_tasks.adapters.sqlite.db import ENGAGEMENT_COLUMNS, SqliteDb, dt, optional_text, ts
from christmas_tasks.domain.errors import InvalidInput, NotFound, Problem
from christmas_tasks.domain.records import (
    ContactStatus,
    EmailLedger,
    EngagementMark,
    SentMark,
    SequenceRecord,
    check_ledger_number,
)
from christmas_tasks.domain.vocabulary import EmailStatus, Engagement


class SqliteSequences:
    def __init__(self, db: SqliteDb) -> None:
        self.db = db

    def find_sequence(self, email: str, campaign: str, sequence: str, key: str) -> SequenceRecord | None:
        """The record, with its contact's status as it is now (the contact of the same address) and the campaign's
        state."""
        with self.db.connect() as db:
            row = _locate(db, email, campaign, sequence, key)
            if row is None:
                return None
            found = db.execute("SELECT email_status, booking_status FROM contacts WHERE email = ?", (email,)).fetchone()
            contact = ContactStatus(found[0] or EmailStatus.OK, found[1]) if found is not None else None
            return replace(_record(db, row), contact=contact, campaign_state=read_state(db, campaign))

    def create_sequence(self, record: SequenceRecord, *, absent: bool = False) -> tuple[SequenceRecord, bool]:
        """Create the record unless its key exists; (the stored record, created?). Safe under races (so
        `absent` changes nothing here: the insert itself refuses a second record with the key)."""
        anchor = ts(record.anchor, "anchor")
        created_at = ts(record.created_at, "created_at")
        ledger = sorted(record.emails.items())
        for number, _ in ledger:
            check_ledger_number(number)
        sent = [(n, e.sent_at) for n, e in ledger if e.sent_at is not None]
        last_number, last_at = (sent[-1][0], ts(sent[-1][1], "sent_at")) if sent else (None, None)
        with self.db.write() as db:
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
                    optional_text(record.business_name),
                    optional_text(record.segment),
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
                db.executemany(
                    """INSERT INTO sequence_emails (sequence_id, number, sent_at, status, resend_id, sent_by)
                       VALUES (?, ?, ?, ?, ?, ?)""",
                    [
                        (cursor.lastrowid, number, ts(entry.sent_at, "sent_at") if entry.sent_at else None,
                         entry.status, entry.resend_id, entry.sent_by)
                        for number, entry in ledger
                    ],
                )
            row = _locate(db, record.email, record.campaign, record.sequence, record.key)
            if row is None:
                raise InvalidInput(
                    "sequence record",
                    [Problem("key", f"{record.key!r} is already used by another email, campaign or sequence type")],
                )
            return _record(db, row), created

    def sequences_for(self, email: str, campaign: str, sequence: str | tuple[str, ...]) -> list[SequenceRecord]:
        types = (sequence,) if isinstance(sequence, str) else tuple(sequence)
        marks = ", ".join("?" for _ in types)
        with self.db.connect() as db:
            rows = db.execute(
                f"SELECT * FROM sequences WHERE email = ? AND campaign = ? AND sequence IN ({marks})"  # noqa: S608
                " ORDER BY created_at, key",
                (email, campaign, *types),
            ).fetchall()
            return [_record(db, row) for row in rows]

    def mark_sent(self, record: SequenceRecord, mark: SentMark) -> SequenceRecord:
        """Email n's ledger entry, Last Email Sent (n) and its time; the last email also completes."""
        check_ledger_number(mark.number)
        sent_at = ts(mark.sent_at, "sent_at")
        with self.db.write() as db:
            row = _require(db, record)
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
            return _record(db, _require(db, record))

    def mark_status(self, record: SequenceRecord, number: int, status: str) -> SequenceRecord:
        """Email n's status alone, unless it was sent."""
        check_ledger_number(number)
        with self.db.write() as db:
            row = _require(db, record)
            db.execute(
                """INSERT INTO sequence_emails (sequence_id, number, status) VALUES (?, ?, ?)
                   ON CONFLICT (sequence_id, number) DO UPDATE SET status = excluded.status
                   WHERE sequence_emails.sent_at IS NULL""",
                (row["id"], number, status),
            )
            return _record(db, _require(db, record))

    def mark_engagement(self, record: SequenceRecord, mark: EngagementMark) -> SequenceRecord:
        """The first engagement of its kind with email n (a click's link with it); a kind recorded keeps its first."""
        check_ledger_number(mark.number)
        at = ts(mark.at, "at")
        column = ENGAGEMENT_COLUMNS[mark.kind]
        link = mark.link if mark.kind is Engagement.CLICKED else None
        with self.db.write() as db:
            row = _require(db, record)
            db.execute(
                f"""INSERT INTO sequence_emails (sequence_id, number, {column}, clicked_link) VALUES (?, ?, ?, ?)
                    ON CONFLICT (sequence_id, number) DO UPDATE SET {column} = excluded.{column},
                        clicked_link = COALESCE(excluded.clicked_link, sequence_emails.clicked_link)
                    WHERE sequence_emails.{column} IS NULL""",  # noqa: S608 (the column is ours)
                (row["id"], mark.number, at, link),
            )
            return _record(db, _require(db, record))

    def stop_sequence(self, record: SequenceRecord, reason: str) -> SequenceRecord:
        """Record why the sequence stopped; a sequence already stopped keeps its first reason."""
        with self.db.write() as db:
            row = _require(db, record)
            db.execute(
                "UPDATE sequences SET stopped_reason = ? WHERE id = ? AND stopped_reason IS NULL", (reason, row["id"])
            )
            return _record(db, _require(db, record))

    def campaign_sequences(self, campaign: str) -> list[SequenceRecord]:
        with self.db.connect() as db:
            rows = db.execute(
                "SELECT * FROM sequences WHERE campaign = ? ORDER BY created_at, key", (campaign,)
            ).fetchall()
            return [_record(db, row) for row in rows]


def _locate(db: sqlite3.Connection, email: str, campaign: str, sequence: str, key: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = db.execute(
        "SELECT * FROM sequences WHERE key = ? AND email = ? AND campaign = ? AND sequence = ?",
        (key, email, campaign, sequence),
    ).fetchone()
    return row


def _require(db: sqlite3.Connection, record: SequenceRecord) -> sqlite3.Row:
    row = _locate(db, record.email, record.campaign, record.sequence, record.key)
    if row is None:
        raise NotFound(f"no sequence record with key {record.key!r}")
    return row


def _record(db: sqlite3.Connection, row: sqlite3.Row) -> SequenceRecord:
    emails = {}
    for entry in db.execute(
        "SELECT * FROM sequence_emails WHERE sequence_id = ? ORDER BY number", (row["id"],)
    ).fetchall():
        emails[entry["number"]] = EmailLedger(
            number=entry["number"],
            sent_at=dt(entry["sent_at"]),
            status=entry["status"],
            resend_id=entry["resend_id"],
            sent_by=entry["sent_by"],
            engaged={kind: at for kind, column in ENGAGEMENT_COLUMNS.items() if (at := dt(entry[column]))},
            clicked_link=entry["clicked_link"],
        )
    anchor = dt(row["anchor_at"])
    created_at = dt(row["created_at"])
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
