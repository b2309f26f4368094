"""The email sequence database: one page per sequence record (the ledger of its emails), found by its key."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from christmas_tasks.adapters.notion.api import AmbiguousRecord, NotionApi
from christmas_tasks.adapters.notion.campaigns import state_filter, state_key, state_of
from christmas_tasks.adapters.notion.encoding import (
    Page,
    filter_on,
    new_page,
    number_or_none,
    pages_in,
    sequence_filter,
    text_of,
)
from christmas_tasks.adapters.notion.pages import NUMBER_VARIABLES, event_data, record_of
from christmas_tasks.adapters.notion.schema import Sequences
from christmas_tasks.domain.errors import NotFound
from christmas_tasks.domain.records import EngagementMark, SentMark, SequenceRecord, check_ledger_number
from christmas_tasks.domain.vocabulary import Engagement

log = logging.getLogger("christmas_tasks.adapters.notion")


class NotionSequences:
    def __init__(self, api: NotionApi) -> None:
        self.api = api

    def find_sequence(self, email: str, campaign: str, sequence: str, key: str) -> SequenceRecord | None:
        """1 query: the record (Email, Campaign, Sequence Type and Sequence Key equal) or the campaign's state page
        (its own Sequence Key), so the record comes with the campaign's state for no request more."""
        what = f"look up the sequence {key}"
        flt = {"or": [sequence_filter(email, campaign, sequence, key), state_filter(campaign)]}
        # page size 3: the record and the state page, and one more to tell a duplicate of either
        result = self.api.on_source(
            "sequences", lambda source: self.api.retrying(what, lambda: self.api.query_once(source, what, flt, 3, None))
        )
        pages = pages_in(result)
        records = [page for page in pages if text_of(page, Sequences.SEQUENCE_KEY) == key]
        states = [page for page in pages if text_of(page, Sequences.SEQUENCE_KEY) == state_key(campaign)]
        for found, name in ((records, f"Sequence Key {key!r}"), (states, f"the campaign state of {campaign!r}")):
            if len(found) > 1:
                raise AmbiguousRecord(f"{len(found)} pages in the Notion email sequence database match {name}; remove "
                                      "the duplicates")
        if result.get("has_more"):
            raise AmbiguousRecord(f"more than 3 pages in the Notion email sequence database match Sequence Key {key!r} "
                                  f"or the campaign state of {campaign!r}; remove the duplicates")
        if not records:
            return None
        return replace(record_of(records[0]), campaign_state=state_of(states[0] if states else None, campaign))

    def create_sequence(self, record: SequenceRecord, *, absent: bool = False) -> tuple[SequenceRecord, bool]:
        """Create the record unless its key exists; (the stored record, created?).

        1 query when it exists; 1 query + 1 pages.create when not; 1 pages.create when the caller has just
        listed the contact's records (`absent`). A create that failed with a 5xx or a timeout is followed,
        before any new create, by 1 query for its key: found, it is returned.
        """
        properties = new_page("sequences", self._sequence_values(record))  # checked before any request
        flt = sequence_filter(record.email, record.campaign, record.sequence, record.key)
        name = f"Sequence Key {record.key!r}"
        what = f"look up the sequence {record.key}"
        existing = None if absent else self.api.lookup("sequences", what, flt, name)
        if existing is not None:
            return record_of(existing), False
        tried = False

        def attempt() -> Page:
            nonlocal tried
            if tried:  # the last create failed in a way that may have happened: look before creating again
                found = self.api.lookup("sequences", what, flt, name, retry=False)
                if found is not None:
                    log.info("the sequence %s was created by the request that failed", record.key)
                    return found
            tried = True
            return self.api.create("sequences", f"create the sequence {record.key}", properties, retry=False)

        page = self.api.retrying(f"create the sequence {record.key}", attempt)
        return record_of(page), True

    def campaign_sequences(self, campaign: str) -> list[SequenceRecord]:
        """Every record of the campaign, oldest first: 1 query (Campaign equals) per 100."""
        flt = filter_on((Sequences.CAMPAIGN, "select", campaign))
        pages = self.api.query_everything("sequences", f"read the sequences of {campaign}", flt)
        return sorted((record_of(page) for page in pages), key=lambda r: (r.created_at, r.key))

    def _sequence_values(self, record: SequenceRecord) -> dict[str, Any]:
        values: dict[str, Any] = {
            Sequences.FIRST_NAME: record.first_name,
            Sequences.EMAIL: record.email,
            Sequences.BUSINESS_NAME: record.business_name or None,
            Sequences.CAMPAIGN: record.campaign,
            Sequences.SEQUENCE_TYPE: record.sequence,
            Sequences.SEQUENCE_KEY: record.key,
            Sequences.EVENT_ID: record.event_id,
            Sequences.SEGMENT: record.segment or None,
            Sequences.ANCHOR_AT: record.anchor,
            Sequences.EVENT_DATA: event_data(record),
        }
        for variable, prop in NUMBER_VARIABLES:
            values[prop] = number_or_none(record.variables.get(variable))
        last: tuple[int, datetime] | None = None
        for number, entry in sorted(record.emails.items()):
            check_ledger_number(number)
            values[Sequences.sent(number)] = entry.sent_at
            values[Sequences.status(number)] = entry.status
            values[Sequences.resend_id(number)] = entry.resend_id
            values[Sequences.sent_by(number)] = entry.sent_by
            values.update(engagement_values(number, entry.engaged, entry.clicked_link))
            if entry.sent_at is not None:
                last = (number, entry.sent_at)
        if last is not None:
            values[Sequences.LAST_EMAIL_SENT], values[Sequences.LAST_EMAIL_SENT_AT] = last
        values[Sequences.COMPLETED] = record.completed or None
        values[Sequences.STOPPED_REASON] = record.stopped_reason
        values[Sequences.CONTACT] = [record.contact_ref] if record.contact_ref else None
        return values

    def sequences_for(self, email: str, campaign: str, sequence: str | tuple[str, ...]) -> list[SequenceRecord]:
        """1 query per 100 records (Email and Campaign equal, Sequence Type one of those asked); oldest first."""
        types = (sequence,) if isinstance(sequence, str) else tuple(sequence)
        if len(types) == 1:
            flt = sequence_filter(email, campaign, types[0])
        else:
            flt = filter_on((Sequences.EMAIL, "email", email), (Sequences.CAMPAIGN, "select", campaign))
            flt["and"].append({"or": [{"property": Sequences.SEQUENCE_TYPE, "select": {"equals": t}} for t in types]})
        pages = self.api.query_all("sequences", f"list the {'/'.join(types)} sequences of {email}", flt)
        return sorted((record_of(p) for p in pages), key=lambda r: (r.created_at, r.key))

    def _page_of(self, record: SequenceRecord) -> str:
        """The record's page id: its ref (0 requests), else 1 query by its key."""
        if record.ref:
            return record.ref
        flt = sequence_filter(record.email, record.campaign, record.sequence, record.key)
        page = self.api.lookup("sequences", f"look up the sequence {record.key}", flt, f"Sequence Key {record.key!r}")
        if page is None:
            raise NotFound(f"no sequence record with key {record.key!r}")
        return str(page["id"])

    def mark_sent(self, record: SequenceRecord, mark: SentMark) -> SequenceRecord:
        """Email n's Sent/Status/Resend ID/Sent By, Last Email Sent (n) and its time; the last email
        also sets Sequence Completed. 1 pages.update (+1 query when the record has no page id)."""
        check_ledger_number(mark.number)
        values: dict[str, Any] = {
            Sequences.sent(mark.number): mark.sent_at,
            Sequences.status(mark.number): mark.status,
            Sequences.resend_id(mark.number): mark.resend_id,
            Sequences.sent_by(mark.number): mark.sent_by,
            Sequences.LAST_EMAIL_SENT: mark.number,
            Sequences.LAST_EMAIL_SENT_AT: mark.sent_at,
        }
        if mark.completes:
            values[Sequences.COMPLETED] = True
        what = f"mark email {mark.number} of {record.key} sent"
        page = self.api.update("sequences", what, self._page_of(record), values)
        return record_of(page)

    def mark_status(self, record: SequenceRecord, number: int, status: str) -> SequenceRecord:
        """Email n's Status alone: 1 pages.update (+1 query when the record has no page id); 0 requests when the
        record shows the email sent. Notion cannot make the write conditional: the caller has just read the record."""
        check_ledger_number(number)
        entry = record.emails.get(number)
        if entry is not None and entry.sent_at is not None:
            return record
        what = f"mark email {number} of {record.key} {status}"
        return record_of(self.api.update("sequences", what, self._page_of(record), {Sequences.status(number): status}))

    def mark_engagement(self, record: SequenceRecord, mark: EngagementMark) -> SequenceRecord:
        """The first engagement of its kind with email n: that kind's date alone (and a click's Link), 1 pages.update
        (+1 query when the record has no page id), never touching what a send writes on the same page; 0 requests
        when the record shows that kind recorded already. Notion cannot make the write conditional: the caller has
        just read the record (two marks of one kind at the same moment both write, and the later time stays)."""
        check_ledger_number(mark.number)
        entry = record.emails.get(mark.number)
        if entry is not None and entry.engaged_at(mark.kind) is not None:
            return record
        link = mark.link if mark.kind is Engagement.CLICKED else None
        values = engagement_values(mark.number, {mark.kind: mark.at}, link)
        what = f"record email {mark.number} of {record.key} {mark.kind}"
        return record_of(self.api.update("sequences", what, self._page_of(record), values))

    def stop_sequence(self, record: SequenceRecord, reason: str) -> SequenceRecord:
        """Record why the sequence stopped; one already stopped keeps its first reason.

        0 requests when `record` is already stopped; otherwise 1 pages.retrieve (the page as it is
        now, so a stale record cannot overwrite a first reason) + 1 pages.update when still running.
        """
        if record.stopped_reason:
            return record
        page_id = self._page_of(record)
        what = f"read the sequence {record.key}"
        current = record_of(self.api.call(what, lambda: self.api.client.pages.retrieve(page_id)))
        if current.stopped_reason:
            return current
        stop = {Sequences.STOPPED_REASON: reason}
        page = self.api.update("sequences", f"stop the sequence {record.key}", page_id, stop)
        return record_of(page)


def engagement_values(number: int, engaged: Mapping[Engagement, datetime], link: str | None) -> dict[str, Any]:
    """Email n's engagement properties to write: the date of each kind given, and the Link when there is one (a
    property left out is left as it is)."""
    values: dict[str, Any] = {Sequences.engaged(number, kind): at for kind, at in engaged.items()}
    if link:
        values[Sequences.link(number)] = link
    return values
