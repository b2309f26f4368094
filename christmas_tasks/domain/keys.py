"""The keys that make the funnel idempotent: a sequence record's key (one per contact, campaign, sequence and
event), and a send's idempotency key (one per email of a record), both derived, never stored elsewhere."""

from __future__ import annotations

import hashlib
import re

from christmas_tasks.domain.errors import InvalidInput, Problem
from christmas_tasks.domain.records import SequenceRecord


def campaign_slug(campaign: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", campaign.lower()).strip("-")


def sequence_key(campaign: str, sequence: str, email: str, event: str) -> str:
    return f"{campaign_slug(campaign)}|{sequence}|{email}|{event}"


def parse_sequence_key(key: str) -> tuple[str, str, str]:
    """(campaign slug, sequence, email) from a key, so a lookup can filter by each of them."""
    parts = key.split("|")
    if len(parts) != 4 or not all(parts):
        raise InvalidInput("sequence key", [Problem("sequence_key", f"{key!r} is not campaign|sequence|email|event")])
    return parts[0], parts[1], parts[2]


def idempotency_key(record: SequenceRecord, number: int) -> str:
    """Deterministic per (email, campaign, sequence, event, email number): a retry cannot send twice."""
    material = "|".join((record.email, record.campaign, record.sequence, record.event_id, str(number)))
    return "christmas-" + hashlib.sha256(material.encode()).hexdigest()[:48]


def forward_key(email: str, reference: str) -> str:
    """A reply's forward to the business's inbox: one per sender and received email (`ReplyEvent.reference`), so a
    redelivered webhook or a retried step forwards it once."""
    material = "|".join(("reply", email, reference))
    return "christmas-reply-" + hashlib.sha256(material.encode()).hexdigest()[:48]
