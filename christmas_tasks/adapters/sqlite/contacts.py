"""The contacts table: one row per address (the address is the key, so two writers cannot make two)."""

from __future__ import annotations

import sqlite3
from typing import Any

from christmas_tasks.adapters.sqlite.db import SqliteDb, dt, optional_text, ts
from christmas_tasks.domain.records import Contact, ContactUpdate
from christmas_tasks.domain.vocabulary import EmailStatus


class SqliteContacts:
    def __init__(self, db: SqliteDb) -> None:
        self.db = db

    def get_contact(self, email: str) -> Contact | None:
        with self.db.connect() as db:
            row = db.execute("SELECT * FROM contacts WHERE email = ?", (email,)).fetchone()
        return contact_of(row) if row is not None else None

    def upsert_contact(self, update: ContactUpdate) -> Contact:
        """Create the contact or write the fields that are not None (None leaves a field as it is)."""
        changes: dict[str, Any] = {}
        for column in ("first_name", "campaign_status", "booking_status", "email_status", "assessment_score"):
            value = getattr(update, column)
            if value is not None:
                changes[column] = value
        for column in ("business_name", "segment", "timezone", "booked_call"):
            value = getattr(update, column)
            if value is not None:
                changes[column] = optional_text(value)
        if update.booked_at is not None:
            changes["booked_at"] = ts(update.booked_at, "booked_at")
        with self.db.write() as db:
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
        return contact_of(row)

    def all_contacts(self) -> list[Contact]:
        with self.db.connect() as db:
            return [contact_of(row) for row in db.execute("SELECT * FROM contacts ORDER BY email").fetchall()]


def contact_of(row: sqlite3.Row) -> Contact:
    return Contact(
        email=row["email"],
        first_name=row["first_name"] or "",
        business_name=row["business_name"],
        campaign_status=row["campaign_status"],
        booking_status=row["booking_status"],
        email_status=row["email_status"] or EmailStatus.OK,
        segment=row["segment"],
        assessment_score=row["assessment_score"],
        timezone=row["timezone"],
        booked_call=row["booked_call"],
        booked_at=dt(row["booked_at"]),
        ref=row["email"],
    )
