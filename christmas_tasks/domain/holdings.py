"""What the ledger holds about one address (SPEC §11: a contact's story, access and erasure), and the mark a
forgotten address leaves behind.

`Holdings` is one backend's answer for an address, in every campaign: its contact (several pages, where Notion holds
duplicates), its sequence records with the ledger of their emails, its send-log entries (None where no log is kept),
and each of them as stored (`Stored`: every field, those the package does not read among them), for an export.

A forgotten address keeps only its mark: an HMAC-SHA256 of the address under a key derived from UNSUBSCRIBE_SECRET
(a salted hash whose salt is a secret: a list of guessed addresses cannot be checked against the marks without it).
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from christmas_tasks.domain.records import AnalyticsEntry, Contact, SequenceRecord

MARK_PREFIX = "forgotten:"
# Domain separation: the mark's key is derived from the secret, so a mark is never an unsubscribe token (the same
# secret's HMAC of the address) and cannot be used as one.
_MARK_CONTEXT = b"christmas-tasks: a forgotten address (SPEC 11)"


def forget_mark(secret: str, email: str) -> str:
    """The mark kept for a forgotten address: `forgotten:` and 64 hex digits. The same address and secret always
    give the same mark, so a later event finds it; rotating UNSUBSCRIBE_SECRET makes every mark unrecognisable."""
    if not secret:
        raise ValueError("the forgotten mark needs UNSUBSCRIBE_SECRET")
    key = hmac.new(secret.encode(), _MARK_CONTEXT, hashlib.sha256).digest()
    return MARK_PREFIX + hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Stored:
    """One row or page held about an address, as the backend stores it: every field, as plain JSON values."""

    store: str  # contacts, sequences, send_log
    ref: str  # the backend's id: a Notion page id, a row's key
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Holdings:
    """Everything one backend holds about `email`."""

    email: str
    contacts: tuple[Contact, ...] = ()
    sequences: tuple[SequenceRecord, ...] = ()
    attempts: tuple[AnalyticsEntry, ...] | None = ()  # None: the backend keeps no send log (Notion, no analytics)
    stored: tuple[Stored, ...] = ()
    forgotten: bool = False  # the address's mark is there

    @property
    def empty(self) -> bool:
        return not (self.contacts or self.sequences or self.attempts)

    def counts(self) -> dict[str, int]:
        """What is held, per store (the erasure's counts)."""
        return {
            "contacts": len(self.contacts),
            "sequences": len(self.sequences),
            "ledger_emails": sum(len(record.emails) for record in self.sequences),
            "send_log": len(self.attempts or ()),
        }
