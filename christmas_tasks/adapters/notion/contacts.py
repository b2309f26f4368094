"""The contacts database: one page per address, looked up by email; several pages for one address (Notion cannot
refuse the second create) are made one, the oldest kept (`christmas_tasks.domain.duplicates`)."""

from __future__ import annotations

import logging

from christmas_tasks.adapters.notion.api import NotionApi
from christmas_tasks.adapters.notion.encoding import Page, filter_on, new_page, pages_in
from christmas_tasks.adapters.notion.pages import CONTACT_FIELDS, contact_of
from christmas_tasks.adapters.notion.people import is_mark
from christmas_tasks.adapters.notion.schema import Contacts
from christmas_tasks.domain.duplicates import merge_contacts
from christmas_tasks.domain.records import Contact, ContactUpdate
from christmas_tasks.domain.vocabulary import EmailStatus

log = logging.getLogger("christmas_tasks.adapters.notion")


class NotionContacts:
    def __init__(self, api: NotionApi) -> None:
        self.api = api

    def _find_contact(self, email: str) -> Page | None:
        """The contact's page: 1 query (page size 2). Several pages for the address (Notion cannot refuse a
        second create) are made one: see `_merge_duplicates`."""
        what = f"look up the contact {email}"
        flt = filter_on((Contacts.EMAIL, "email", email))
        result = self.api.on_source(
            "contacts", lambda source: self.api.retrying(what, lambda: self.api.query_once(source, what, flt, 2, None))
        )
        pages = pages_in(result)
        if len(pages) <= 1:
            return pages[0] if pages else None
        if result.get("has_more"):
            pages = self.api.query_all("contacts", what, flt)
        return self._merge_duplicates(email, pages)

    def _merge_duplicates(self, email: str, pages: list[Page]) -> Page:
        """Keep the oldest page (created first, then the smallest id: the same for every writer), write onto it
        what the others know better (`merge_contacts`), and move the others to Notion's trash (restorable
        there): at most 1 pages.update for the kept page, then 1 per duplicate."""
        ordered = sorted(pages, key=lambda page: (str(page.get("created_time") or ""), str(page.get("id"))))
        contacts = [contact_of(page) for page in ordered]
        merged = merge_contacts(contacts)
        kept = ordered[0]
        changes = {
            prop: getattr(merged, attr)
            for attr, prop in CONTACT_FIELDS
            if getattr(merged, attr) != getattr(contacts[0], attr)
        }
        if changes:
            kept = self.api.update("contacts", f"merge the duplicate contacts of {email}", str(kept["id"]), changes)
        trashed = []
        for page in ordered[1:]:
            page_id = str(page["id"])
            self.api.call(
                f"move the duplicate contact page {page_id} of {email} to the trash",
                lambda page_id=page_id: self.api.client.pages.update(page_id, in_trash=True),  # type: ignore[misc]
            )
            trashed.append(page_id)
        log.warning(
            "%d Notion contact pages had the address %s: kept %s (the oldest) with what the others knew, and moved "
            "%s to Notion's trash",
            len(ordered),
            email,
            kept["id"],
            ", ".join(trashed),
        )
        return kept

    def get_contact(self, email: str) -> Contact | None:
        """1 query (email equals)."""
        page = self._find_contact(email)
        return contact_of(page) if page is not None else None

    def upsert_contact(self, update: ContactUpdate) -> Contact:
        """Create the contact or write the fields that are not None and differ (None leaves a field
        as it is). 1 query, then 1 pages.create or 1 pages.update (none when nothing changes)."""
        page = self._find_contact(update.email)
        wanted = {prop: getattr(update, attr) for attr, prop in CONTACT_FIELDS if getattr(update, attr) is not None}
        initial = update.initial_campaign_status if update.campaign_status is None else None
        if page is None:
            values = {
                Contacts.EMAIL: update.email,
                Contacts.FIRST_NAME: "",
                Contacts.EMAIL_STATUS: EmailStatus.OK,
                **({Contacts.CAMPAIGN_STATUS: initial} if initial else {}),
                **wanted,
            }
            page = self.api.create("contacts", f"create the contact {update.email}", new_page("contacts", values))
            return contact_of(page)
        current = contact_of(page)
        changes = {}
        for attr, prop in CONTACT_FIELDS:
            value = getattr(update, attr)
            if value is None:
                continue
            now = getattr(current, attr)
            same = (value or None) == (now or None) if isinstance(value, str) else value == now
            if not same:
                changes[prop] = value
        if initial and not current.campaign_status:
            changes[Contacts.CAMPAIGN_STATUS] = initial
        if changes:
            page = self.api.update("contacts", f"update the contact {update.email}", str(page["id"]), changes)
        return contact_of(page)

    def all_contacts(self) -> list[Contact]:
        """Every contact page (a forgotten address's mark is none): 1 query per 100."""
        pages = self.api.query_everything("contacts", "read every contact", None)
        return [contact_of(page) for page in pages if not is_mark(page)]
