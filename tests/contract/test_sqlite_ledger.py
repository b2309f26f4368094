"""SqliteLedger beyond the shared contract: several processes on one file, templates seeded from a folder,
and how times are stored."""

from __future__ import annotations

import multiprocessing
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from christmas_tasks.adapters.sqlite import SqliteLedger
from christmas_tasks.adapters.template_files import format_template_file
from christmas_tasks.domain.errors import InvalidInput, TemplateError
from christmas_tasks.domain.records import (
    AnalyticsEntry,
    ContactUpdate,
    EmailLedger,
    EngagementMark,
    SentMark,
    SequenceRecord,
)
from christmas_tasks.domain.rendering import Template
from christmas_tasks.domain.vocabulary import Engagement

T0 = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
KEYS = 25


def record(n: int, at: datetime = T0) -> SequenceRecord:
    email = f"lead{n}@example.com"
    return SequenceRecord(
        key=f"christmas-2025|noshow|{email}|call-1", email=email, campaign="Christmas 2025", sequence="noshow",
        event_id="call-1", first_name=f"Lead {n}", anchor=at, created_at=at,
    )


def create_all(path: str) -> list[bool]:
    """One process's attempt to create every record (run in a separate process)."""
    ledger = SqliteLedger(Path(path))
    created = []
    for n in range(KEYS):
        ledger.contacts.upsert_contact(ContactUpdate(f"lead{n}@example.com", first_name=f"Lead {n}"))
        created.append(ledger.sequences.create_sequence(record(n))[1])
        stored = ledger.sequences.find_sequence(f"lead{n}@example.com", "Christmas 2025", "noshow", record(n).key)
        assert stored is not None
        ledger.sequences.mark_sent(stored, SentMark(1, T0, f"re_{n}"))
    return created


def test_processes_racing_on_one_file_create_each_sequence_once(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite3"
    SqliteLedger(path)
    with ProcessPoolExecutor(max_workers=4, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(create_all, [str(path)] * 4))
    per_key = [sum(result[n] for result in results) for n in range(KEYS)]
    assert per_key == [1] * KEYS
    ledger = SqliteLedger(path)
    for n in range(KEYS):
        (only,) = ledger.sequences.sequences_for(f"lead{n}@example.com", "Christmas 2025", "noshow")
        assert only.emails[1].resend_id == f"re_{n}"


def test_the_file_is_in_wal_mode_and_times_are_stored_as_iso_utc(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "crm.sqlite3"
    ledger = SqliteLedger(path)
    toronto = timezone(timedelta(hours=-5))
    stored, _ = ledger.sequences.create_sequence(record(1, at=datetime(2025, 12, 1, 5, 0, tzinfo=toronto)))
    assert stored.anchor == T0 and stored.anchor.tzinfo is UTC
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT anchor_at FROM sequences").fetchone() == ("2025-12-01T10:00:00.000000+00:00",)


def test_the_template_folder_is_the_store_and_every_edit_takes_effect(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    footer = "<p>{{sender_address}} <a href=\"{{unsubscribe_url}}\">Unsubscribe</a></p>"

    def write(name: str, subject: str, active: bool = True) -> None:
        template = Template(name, subject, f"<p>{name}</p>\n{footer}\n", active)
        (folder / f"{name.replace(' ', '_')}.html").write_text(format_template_file(template), encoding="utf-8")

    write("5-Day E2", "first subject")
    write("5-Day E3", "inactive", active=False)
    ledger = SqliteLedger(tmp_path / "crm.sqlite3", folder)
    assert ledger.templates.get_template("5-Day E2").subject == "first subject"
    with pytest.raises(TemplateError, match="'5-Day E3' is Inactive"):
        ledger.templates.get_template("5-Day E3")

    # each Kestra step is a new process, hence a new instance: it sees the folder as it is now
    write("5-Day E2", "edited subject")
    write("5-Day E3", "now active")
    write("5-Day E4", "added")
    again = SqliteLedger(tmp_path / "crm.sqlite3", folder)
    assert again.templates.get_template("5-Day E2").subject == "edited subject"
    assert again.templates.get_template("5-Day E3").subject == "now active"
    assert [t.name for t in again.templates.list_templates()] == ["5-Day E2", "5-Day E3", "5-Day E4"]
    (folder / "5-Day_E4.html").unlink()
    with pytest.raises(TemplateError, match="'5-Day E4' not found"):
        SqliteLedger(tmp_path / "crm.sqlite3", folder).templates.get_template("5-Day E4")
    with pytest.raises(InvalidInput, match="is not a folder"):
        SqliteLedger(tmp_path / "other.sqlite3", tmp_path / "missing").templates.list_templates()


def test_analytics_can_be_read_back_per_address(tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path / "crm.sqlite3")
    for email in ("a@example.com", "b@example.com"):
        entry = AnalyticsEntry(email, "5-Day E2", 2, "skipped", T0, "Christmas 2025", error="unsubscribed")
        ledger.sends.log_attempt(entry)
    assert [e.email for e in ledger.sends.analytics_entries()] == ["a@example.com", "b@example.com"]
    (entry,) = ledger.sends.analytics_entries("b@example.com")
    assert entry == AnalyticsEntry(
        "b@example.com", "5-Day E2", 2, "skipped", T0, "Christmas 2025", resend_id=None, error="unsubscribed"
    )


def test_a_key_taken_by_another_contact_is_refused(tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path / "crm.sqlite3")
    ledger.sequences.create_sequence(record(1))
    clash = SequenceRecord(**{**record(1).__dict__, "email": "someone@example.com"})
    with pytest.raises(InvalidInput, match="already used by another email"):
        ledger.sequences.create_sequence(clash)


# A ledger file made by the code before contacts had a time zone (commit d12eeb0: two contacts, five sequence records,
# three emails in the ledger), as a campaign's file would be on the day of the upgrade: it has none of the columns
# added since (the contact's timezone, booked_call and booked_at; each email's engagement).
BEFORE_TIMEZONE = Path(__file__).parent / "data" / "ledger-before-timezone.sqlite3"


def _rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as db:
        return {
            table: sorted(db.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in ("contacts", "sequences", "sequence_emails", "templates", "analytics")
        }


def test_an_older_ledger_gains_the_new_columns_without_losing_a_row(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite3"
    path.write_bytes(BEFORE_TIMEZONE.read_bytes())
    before = _rows(path)
    assert [len(before[t]) for t in ("contacts", "sequences", "sequence_emails")] == [2, 5, 3]

    ledger = SqliteLedger(path)
    after = _rows(path)
    assert {table: [row[: len(before[table][0])] for row in rows] for table, rows in after.items() if rows} == {
        table: rows for table, rows in before.items() if rows
    }, "every row and value kept"
    assert all(row[-3:] == (None, None, None) for row in after["contacts"]), (
        "the new columns (timezone, booked_call, booked_at) empty"
    )
    assert all(row[-5:] == (None,) * 5 for row in after["sequence_emails"]), "each email's engagement empty"
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(sequence_emails)")]
    assert columns[-5:] == ["delivered_at", "delivery_delayed_at", "opened_at", "clicked_at", "clicked_link"]
    jane = ledger.contacts.get_contact("jane.doe@example.com")
    assert jane is not None and jane.timezone is None and jane.first_name == "Jane"
    assert ledger.contacts.upsert_contact(ContactUpdate("jane.doe@example.com", timezone="Asia/Tokyo")).timezone == (
        "Asia/Tokyo"
    )
    assert SqliteLedger(path).contacts.get_contact("jane.doe@example.com").timezone == "Asia/Tokyo"  # type: ignore[union-attr]
    (sam,) = ledger.sequences.sequences_for("sam@example.com", "Christmas 2025", ("5day",))
    assert sam.sent_numbers() == {1, 2} and all(not e.engaged and e.clicked_link is None for e in sam.emails.values())
    # an email sent before the upgrade records its engagement, and a booking its time
    link = "https://example.com/book"
    clicked = ledger.sequences.mark_engagement(sam, EngagementMark(2, Engagement.CLICKED, T0, link))
    assert clicked.emails[2] == EmailLedger(2, sam.emails[2].sent_at, "sent", sam.emails[2].resend_id, "kestra",
                                            {Engagement.CLICKED: T0}, link)
    assert clicked.emails[1] == sam.emails[1]
    booked = ledger.contacts.upsert_contact(ContactUpdate("sam@example.com", booked_at=T0))
    assert SqliteLedger(path).contacts.get_contact("sam@example.com") == booked and booked.booked_at == T0
