"""Calendly's webhook bodies, read into the package's `booking`, `cancellation` and `noshow` events (a body in our
own, flat shape passes through as it is).

Calendly posts `{"event": "invitee.created" | "invitee.canceled" | "invitee_no_show.created", "payload": {invitee...}}`
(the invitee, with its `scheduled_event`, `timezone`, and for a cancellation `rescheduled` and `cancellation`); its
words stop here. Errors name the field by its path in Calendly's body (`payload.email`).
"""

from __future__ import annotations

from typing import Any

from christmas_tasks.domain.errors import InvalidInput, Problem

# The Calendly event each of our event kinds may arrive as.
EVENTS = {"booking": "invitee.created", "cancellation": "invitee.canceled", "noshow": "invitee_no_show.created"}
PATHS = {
    "email": "payload.email",
    "first_name": "payload.first_name",
    "calendly_event_uri": "payload.scheduled_event.uri",
    "scheduled_time": "payload.scheduled_event.start_time",
    "event_type": "payload.scheduled_event.name",
    "reschedule_url": "payload.reschedule_url",
    "timezone": "payload.timezone",
    "rescheduled": "payload.rescheduled",
    "reason": "payload.cancellation.reason",
    "canceled_by": "payload.cancellation.canceled_by",
    "canceler_type": "payload.cancellation.canceler_type",
}


def is_calendly(body: dict[str, Any]) -> bool:
    """A body in Calendly's envelope (our own shape is flat)."""
    return "payload" in body and "event" in body


def read(kind: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Calendly's body as the event's fields, and the path in Calendly's body of each field."""
    if not is_calendly(body):
        return body, {}
    expected = EVENTS[kind]
    if body.get("event") != expected:
        raise InvalidInput("event", [Problem("event", f"is {body.get('event')!r}; expected {expected!r}")])
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise InvalidInput("event", [Problem("payload", "must be an object")])
    raw_scheduled = payload.get("scheduled_event")
    scheduled: dict[str, Any] = raw_scheduled if isinstance(raw_scheduled, dict) else {}
    raw_cancellation = payload.get("cancellation")
    cancellation: dict[str, Any] = raw_cancellation if isinstance(raw_cancellation, dict) else {}
    first_name = payload.get("first_name") or str(payload.get("name") or "").strip().split(" ")[0] or None
    fields = {
        "email": payload.get("email"),
        "first_name": first_name,
        "calendly_event_uri": scheduled.get("uri") or payload.get("event"),
        "scheduled_time": scheduled.get("start_time"),
        "event_type": scheduled.get("name"),
        "reschedule_url": payload.get("reschedule_url"),
        "timezone": payload.get("timezone"),
        **(
            {
                "rescheduled": payload.get("rescheduled"),
                "reason": cancellation.get("reason"),
                "canceled_by": cancellation.get("canceled_by"),
                "canceler_type": cancellation.get("canceler_type"),
            }
            if kind == "cancellation"
            else {}
        ),
    }
    return {k: v for k, v in fields.items() if v is not None}, PATHS
