"""The edge, inbound: what a sender posts, read into an event of the domain (as django-anymail normalises each
provider's events at its edge). A provider's own shape is mapped to ours in a module of its own (`calendly`,
`resend`, `unsubscribe_link`: the link's query), with the path of each field in the sender's body, so that an error
names the field where the sender put it; every other kind arrives in our own shape.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from christmas_tasks.domain.errors import InvalidInput, Problem
from christmas_tasks.domain.events import Event, event_model, parse_event
from christmas_tasks.entrypoints.inbound import calendly, resend, unsubscribe_link

Reader = Callable[[str, dict[str, Any]], tuple[dict[str, Any], dict[str, str]]]
Content = Callable[[dict[str, Any], "resend.ReceivedEmails | None"], tuple[dict[str, Any], dict[str, str]]]

# The kinds a provider posts in its own shape (tests/unit/test_events.py checks each names a known kind).
READERS: dict[str, Reader] = {
    "booking": calendly.read,
    "cancellation": calendly.read,
    "noshow": calendly.read,
    "email-status": resend.read,
    "email-suppression": resend.read,
    "unsubscribe-link": unsubscribe_link.read,
    "reply": resend.read_received,
}
# The kinds whose provider's body announces what only its API holds (Resend's email.received: no text, HTML or
# headers): read with the entry point's client once the body's own fields have passed.
CONTENT: dict[str, Content] = {
    "reply": resend.received_content,
}


def read_event(kind: str, body: Any, now: datetime, received: resend.ReceivedEmails | None = None) -> Event:
    """One webhook body, ours or its sender's, validated as an event of `kind`; InvalidInput names each bad field
    (and an unknown kind, with the known ones). `now` (aware UTC) fills what defaults to "on arrival". `received`
    reads what a Resend email.received body announces (the live backend's; None: such a body is refused)."""
    event_model(kind)
    if not isinstance(body, dict):
        raise InvalidInput(f"{kind} event", [Problem("body", "must be a JSON object")])
    reader = READERS.get(kind)
    data, paths = reader(kind, body) if reader is not None else (body, {})
    event = parse_event(kind, data, now, paths)
    content = CONTENT.get(kind)
    more, more_paths = content(body, received) if content is not None else ({}, {})
    return parse_event(kind, {**data, **more}, now, {**paths, **more_paths}) if more else event
