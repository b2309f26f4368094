"""Access and erasure requests (SPEC §11): everything held about an address exported as one JSON document; the address
forgotten (its contact, sequence records and send log removed, only its mark kept); and, before any event is handled,
the mark's check: an event from a forgotten address starts nothing, unless the person comes back (a signup, an
assessment: `Event.rejoins`), which clears the mark.

The mark is `domain.holdings.forget_mark`: a keyed hash of the address under UNSUBSCRIBE_SECRET (the campaign's
`unsubscribe_secret`). What lives outside the ledger (the outbox, Kestra's executions) is the entry point's to remove.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, is_dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from christmas_tasks.domain.events import Event
from christmas_tasks.domain.holdings import Holdings, forget_mark
from christmas_tasks.domain.planning import iso_utc, require_aware
from christmas_tasks.usecases.outcomes import Action, Handled
from christmas_tasks.usecases.ports import PersonalData

if TYPE_CHECKING:
    from christmas_tasks.usecases.funnel import Funnel

log = logging.getLogger(__name__)

FORGOTTEN = (
    "the address asked to be forgotten: nothing is recorded, sent or forwarded until it signs up or takes the "
    "assessment again"
)


def check_forgotten(funnel: Funnel, event: Event) -> Handled | None:
    """Before any handler (1 look-up): a rejoining kind clears the address's mark and goes on; any other kind from a
    forgotten address is answered `forgotten`, with nothing written."""
    if not event.checks_forgotten:
        return None  # it writes only on a record the address has, and a forgotten address has none: no look-up
    people = funnel.ledger.people
    mark = forget_mark(funnel.campaign.unsubscribe_secret, event.email)
    if event.rejoins:
        if people.clear_forgotten(mark):
            log.info("a forgotten address came back (%s): its mark is cleared", event.kind)
        return None
    if people.is_forgotten(mark):
        return Handled(event.kind, event.email, Action.FORGOTTEN, FORGOTTEN)
    return None


@dataclass(frozen=True)
class Forgotten:
    """What forgetting an address removed from the ledger, per store; `before`: it had been forgotten already."""

    email: str
    removed: dict[str, int]
    before: bool

    def as_json(self) -> dict[str, Any]:
        return {"email": self.email, "removed": dict(self.removed), "forgotten_before": self.before}


def forget(people: PersonalData, secret: str, email: str, now: datetime) -> Forgotten:
    """Keep the address's mark, then remove everything the ledger holds about it. Idempotent: a second run removes
    nothing and says it was forgotten before."""
    mark = forget_mark(secret, email)
    held = people.held(email, mark)
    removed = people.erase(held, mark, require_aware(now, "now"))
    return Forgotten(email, removed, held.forgotten)


def export(
    held: Holdings, now: datetime, source: str, outbox: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One JSON document of everything held about the address: the records as the package reads them, each row or
    page as stored (every field), and the outbox's messages to or about it (local backend; None on Resend, whose
    copies are in its own dashboard)."""
    return {
        "address": held.email,
        "exported_at": iso_utc(require_aware(now, "now")),
        "source": source,
        "forgotten": held.forgotten,
        "contacts": [plain(contact) for contact in held.contacts],
        "sequences": [plain(record) for record in held.sequences],
        "send_log": None if held.attempts is None else [plain(entry) for entry in held.attempts],
        "stored": [plain(item) for item in held.stored],
        "outbox": outbox,
    }


def plain(value: Any) -> Any:
    """A record as JSON values: dataclasses as objects, times as ISO 8601 UTC."""
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, datetime):
        return iso_utc(value)
    return value
