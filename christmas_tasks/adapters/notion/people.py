"""What the Notion workspace holds about one address (ports.PersonalData): read in 3 queries, erased to Notion's trash.

A forgotten address's mark is a page of the contacts database whose title (`first_name`) is the mark and whose email
is empty, so no look-up by address ever finds it; the report's reading of every contact leaves it out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from christmas_tasks.adapters.notion.api import NotionApi
from christmas_tasks.adapters.notion.encoding import Page, filter_on, iso, new_page, pages_in, prop
from christmas_tasks.adapters.notion.pages import analytics_of, contact_of, record_of
from christmas_tasks.adapters.notion.schema import Analytics, Contacts, Sequences
from christmas_tasks.domain.holdings import MARK_PREFIX, Holdings, Stored


class NotionPeople:
    def __init__(self, api: NotionApi) -> None:
        self.api = api

    def held(self, email: str, mark: str) -> Holdings:
        """1 query of the contacts (the address, or its mark), 1 of the sequences (every campaign), 1 of the analytics
        database when there is one: 3 requests per 100 pages of each."""
        either = {"or": [filter_on((Contacts.EMAIL, "email", email)), filter_on((Contacts.FIRST_NAME, "title", mark))]}
        found = self.api.query_all("contacts", f"read what is held about {email}", either)
        contacts = [page for page in found if prop(page, Contacts.EMAIL)]
        sequences = self.api.query_all(
            "sequences", f"read the sequences of {email}", filter_on((Sequences.EMAIL, "email", email))
        )
        attempts = None
        if self.api.database_id("analytics"):
            what = f"read the send attempts of {email}"
            attempts = self.api.query_all("analytics", what, filter_on((Analytics.EMAIL, "email", email)))
        stored = [_stored("contacts", page) for page in contacts] + [_stored("sequences", page) for page in sequences]
        stored += [_stored("send_log", page) for page in attempts or ()]
        records = sorted((record_of(page) for page in sequences), key=lambda r: (r.created_at, r.key))
        return Holdings(
            email=email,
            contacts=tuple(contact_of(page) for page in contacts),
            sequences=tuple(records),
            attempts=None if attempts is None else tuple(sorted((analytics_of(p) for p in attempts), key=_at)),
            stored=tuple(stored),
            forgotten=len(found) > len(contacts),
        )

    def erase(self, held: Holdings, mark: str, at: datetime) -> dict[str, int]:
        """1 pages.create for the mark (none when it is kept already), then 1 pages.update (to the trash, where Notion
        keeps a page 30 days before deleting it) per page held."""
        if not held.forgotten:
            self.api.create("contacts", "keep the forgotten mark", new_page("contacts", {Contacts.FIRST_NAME: mark}))
        removed = {"contacts": 0, "sequences": 0, "ledger_emails": 0, "send_log": 0}
        for item in held.stored:
            self._trash(item.ref, f"move a {item.store} page of {held.email} to the trash")
            removed[item.store] += 1
        removed["ledger_emails"] = sum(len(record.emails) for record in held.sequences)
        return removed

    def is_forgotten(self, mark: str) -> bool:
        """1 query (the contacts' title equals the mark)."""
        return bool(self._marks(mark))

    def clear_forgotten(self, mark: str) -> bool:
        """1 query, and 1 pages.update (to the trash) per mark found."""
        found = self._marks(mark)
        for page in found:
            self._trash(str(page["id"]), "move a forgotten mark to the trash")
        return bool(found)

    def _marks(self, mark: str) -> list[Page]:
        what = "look up a forgotten mark"
        flt = filter_on((Contacts.FIRST_NAME, "title", mark))
        result = self.api.on_source(
            "contacts", lambda source: self.api.retrying(what, lambda: self.api.query_once(source, what, flt, 10, None))
        )
        return [page for page in pages_in(result) if not prop(page, Contacts.EMAIL)]

    def _trash(self, page_id: str, what: str) -> None:
        self.api.call(what, lambda: self.api.client.pages.update(page_id, in_trash=True))


def is_mark(page: Page) -> bool:
    """A forgotten mark's page (no address, the mark as its title), not a contact."""
    title = prop(page, Contacts.FIRST_NAME)
    return not prop(page, Contacts.EMAIL) and isinstance(title, str) and title.startswith(MARK_PREFIX)


def _stored(store: str, page: Page) -> Stored:
    properties = page.get("properties") or {}
    return Stored(store, str(page.get("id")), {name: _plain(prop(page, name)) for name in sorted(properties)})


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value, "date")
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _at(entry: Any) -> Any:
    return entry.at
