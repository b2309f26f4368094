"""Notion pages -> the package's records (a contact, a sequence record with its ledger, a logged send, a template),
and the record fields each database's properties hold. Pure: no request is made here; the property values are
read and written by `christmas_tasks.adapters.notion.encoding`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from christmas_tasks.adapters.notion.encoding import (
    Page,
    date_of,
    iso,
    number_or_none,
    optional,
    parse_date,
    prop,
    text_of,
)
from christmas_tasks.adapters.notion.schema import Analytics, Contacts, Sequences, Templates
from christmas_tasks.domain.records import (
    LEDGER_NUMBERS,
    AnalyticsEntry,
    Contact,
    ContactStatus,
    EmailLedger,
    SequenceRecord,
)
from christmas_tasks.domain.rendering import Template
from christmas_tasks.domain.vocabulary import EmailStatus, Engagement

# Contact fields and the contacts-database property each is written to.
CONTACT_FIELDS = (
    ("first_name", Contacts.FIRST_NAME),
    ("business_name", Contacts.BUSINESS_NAME),
    ("campaign_status", Contacts.CAMPAIGN_STATUS),
    ("booking_status", Contacts.BOOKING_STATUS),
    ("email_status", Contacts.EMAIL_STATUS),
    ("segment", Contacts.SEGMENT),
    ("assessment_score", Contacts.ASSESSMENT_SCORE),
    ("timezone", Contacts.TIMEZONE),
    ("booked_call", Contacts.BOOKED_CALL),
    ("booked_at", Contacts.BOOKED_AT),
)
# Assessment numbers copied from a record's variables to number columns, for people reading Notion.
NUMBER_VARIABLES = (
    ("assessment_score", Sequences.ASSESSMENT_SCORE),
    ("red_systems", Sequences.RED),
    ("orange_systems", Sequences.ORANGE),
    ("yellow_systems", Sequences.YELLOW),
    ("green_systems", Sequences.GREEN),
)


def contact_status_of(page: Page) -> ContactStatus | None:
    """The contact's statuses as the sequence page's rollups show them (Notion computes them as it answers); None
    for a record with no contact linked (one written before the link existed: the contact is read instead)."""
    if not prop(page, Sequences.CONTACT):
        return None
    email_status = prop(page, Sequences.CONTACT_EMAIL_STATUS) or []
    booking_status = prop(page, Sequences.CONTACT_BOOKING_STATUS) or []
    return ContactStatus(
        email_status=str(email_status[0]) if email_status and email_status[0] else EmailStatus.OK,
        booking_status=str(booking_status[0]) if booking_status and booking_status[0] else None,
    )


def contact_of(page: Page) -> Contact:
    score = number_or_none(prop(page, Contacts.ASSESSMENT_SCORE))
    return Contact(
        email=text_of(page, Contacts.EMAIL),
        first_name=text_of(page, Contacts.FIRST_NAME),
        business_name=optional(page, Contacts.BUSINESS_NAME),
        campaign_status=optional(page, Contacts.CAMPAIGN_STATUS),
        booking_status=optional(page, Contacts.BOOKING_STATUS),
        email_status=optional(page, Contacts.EMAIL_STATUS) or EmailStatus.OK,
        segment=optional(page, Contacts.SEGMENT),
        assessment_score=float(score) if score is not None else None,
        timezone=optional(page, Contacts.TIMEZONE),
        booked_call=optional(page, Contacts.BOOKED_CALL),
        booked_at=date_of(page, Contacts.BOOKED_AT),
        ref=str(page.get("id")),
    )


def event_data(record: SequenceRecord) -> str:
    """The record's variables (and exact creation time, and the run that created it) as one JSON text
    for the Event Data property."""
    data: dict[str, Any] = {"created_at": iso(record.created_at, "created_at"), "variables": record.variables}
    if record.created_by:
        data["created_by"] = record.created_by
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def record_of(page: Page) -> SequenceRecord:
    raw = text_of(page, Sequences.EVENT_DATA)
    try:
        data = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    # Event Data is {"created_at": ..., "variables": {...}}; a flat object (written by hand) is taken
    # as the variables themselves.
    variables = data.get("variables") if isinstance(data.get("variables"), dict) else data
    created = data.get("created_at") if isinstance(data.get("created_at"), str) else page.get("created_time")
    created_at = parse_date(created) if isinstance(created, str) else datetime.min.replace(tzinfo=UTC)
    emails = {}
    for n in LEDGER_NUMBERS:
        entry = EmailLedger(
            number=n,
            sent_at=date_of(page, Sequences.sent(n)),
            status=optional(page, Sequences.status(n)),
            resend_id=optional(page, Sequences.resend_id(n)),
            sent_by=optional(page, Sequences.sent_by(n)),
            engaged={kind: at for kind in Engagement if (at := date_of(page, Sequences.engaged(n, kind)))},
            clicked_link=optional(page, Sequences.link(n)),
        )
        if entry != EmailLedger(number=n):  # anything known of email n
            emails[n] = entry
    return SequenceRecord(
        key=text_of(page, Sequences.SEQUENCE_KEY),
        email=text_of(page, Sequences.EMAIL),
        campaign=text_of(page, Sequences.CAMPAIGN),
        sequence=text_of(page, Sequences.SEQUENCE_TYPE),
        event_id=text_of(page, Sequences.EVENT_ID),
        first_name=text_of(page, Sequences.FIRST_NAME),
        anchor=date_of(page, Sequences.ANCHOR_AT) or created_at,
        created_at=created_at,
        business_name=optional(page, Sequences.BUSINESS_NAME),
        segment=optional(page, Sequences.SEGMENT),
        variables={str(k): str(v) for k, v in (variables or {}).items()},
        emails=emails,
        completed=bool(prop(page, Sequences.COMPLETED)),
        stopped_reason=optional(page, Sequences.STOPPED_REASON),
        ref=str(page.get("id")),
        created_by=data.get("created_by") if isinstance(data.get("created_by"), str) else None,
        contact_ref=next(iter(prop(page, Sequences.CONTACT) or ()), None),
        contact=contact_status_of(page),
    )


def analytics_of(page: Page) -> AnalyticsEntry:
    """One logged send attempt. A row typed by hand may lack cells: no number reads 0, no date the page's creation
    time, no status an empty one (the report counts such rows apart instead of failing on them)."""
    number = number_or_none(prop(page, Analytics.EMAIL_NUMBER))
    created = page.get("created_time")
    at = date_of(page, Analytics.SENT_DATE) or (parse_date(created) if isinstance(created, str) else None)
    return AnalyticsEntry(
        email=text_of(page, Analytics.EMAIL),
        template=text_of(page, Analytics.TEMPLATE),
        email_number=int(number) if isinstance(number, int) else 0,
        status=text_of(page, Analytics.STATUS),
        at=at or datetime.min.replace(tzinfo=UTC),
        campaign=text_of(page, Analytics.CAMPAIGN),
        resend_id=optional(page, Analytics.RESEND_ID),
        error=optional(page, Analytics.ERROR),
    )


def template_of(page: Page) -> Template:
    return Template(
        name=text_of(page, Templates.NAME),
        subject=text_of(page, Templates.SUBJECT),
        body_html=text_of(page, Templates.BODY),
        active=optional(page, Templates.STATUS) == "Active",
    )
