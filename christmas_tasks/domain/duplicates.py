"""Several contact records for one address, made one.

Notion has no uniqueness constraint: two writers that look an address up at the same moment both find
nothing and both create it (the flows serialise every contact write through one queue, `handle-event`, so
the funnel itself does not; a person copying a page, or a second deployment, still can). The CRM adapter
then keeps the oldest record and moves the others to the trash, after writing onto the kept one what only
they knew, as `merge_contacts` decides here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace

from christmas_tasks.domain.records import Contact
from christmas_tasks.domain.vocabulary import CampaignStatus, EmailStatus

FIRST_STAGE = CampaignStatus.SIGNED_UP  # what a signup writes only on a contact with no status yet
UNSUBSCRIBED = CampaignStatus.UNSUBSCRIBED


def merge_contacts(oldest_first: Sequence[Contact]) -> Contact:
    """The oldest record, with every field the others know better:

    - a suppression is never lost: any email status other than "ok" wins (the newest such one);
    - the campaign status is "Unsubscribed" if any record says so, else the newest funnel stage beyond
      "Signed Up", else "Signed Up" (a signup never moves a contact back, as in `upsert_contact`);
    - any other field: the newest non-empty value (a record made later knows the later event).

    The result does not depend on which writer merges, so two merging at once write the same thing.
    """
    if not oldest_first:
        raise ValueError("merge_contacts needs at least one contact")
    kept = oldest_first[0]
    emails = {contact.email.lower() for contact in oldest_first}
    if len(emails) > 1:
        raise ValueError(f"merge_contacts merges one address, not {sorted(emails)}")
    newest_first = list(reversed(oldest_first))
    merged = {}
    for spec in fields(Contact):
        if spec.name in ("email", "ref", "email_status", "campaign_status"):
            continue
        values = [getattr(contact, spec.name) for contact in newest_first]
        merged[spec.name] = next((value for value in values if value not in (None, "")), getattr(kept, spec.name))
    suppressed = [contact.email_status for contact in newest_first if contact.suppressed]
    merged["email_status"] = suppressed[0] if suppressed else EmailStatus.OK
    statuses = [contact.campaign_status for contact in newest_first if contact.campaign_status]
    if UNSUBSCRIBED in statuses:
        merged["campaign_status"] = UNSUBSCRIBED
    else:
        merged["campaign_status"] = next((s for s in statuses if s != FIRST_STAGE), statuses[0] if statuses else None)
    return replace(kept, **merged)
