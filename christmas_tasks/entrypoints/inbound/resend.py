"""Resend's webhook bodies, read into the package's `email-status` event (as django-anymail normalises each
provider's tracking events to its own event types).

Resend posts `{"type": "email.<what>", "created_at": ..., "data": {"email_id", "to": [...], ...}}`, with a part
of its own per type: `bounce` (`message`, `subType`, `type`: Permanent, Transient or Undetermined, as Amazon SES
classifies bounces), `suppressed` (`message`, `type`), `failed` (`reason`). Resend's words stop here: each type
becomes a `MailEvent`, each bounce type a `Bounce`. Errors name the field by its path in Resend's body.
"""

from __future__ import annotations

from typing import Any

from christmas_tasks.domain.errors import InvalidInput, Problem
from christmas_tasks.domain.vocabulary import Bounce, MailEvent

# The types this project subscribes to (docs/deploy.md): any other is refused, naming these.
TYPES = {
    "email.delivered": MailEvent.DELIVERED,
    "email.bounced": MailEvent.BOUNCED,
    "email.complained": MailEvent.COMPLAINED,
    "email.suppressed": MailEvent.SUPPRESSED,
    "email.failed": MailEvent.FAILED,
}
BOUNCES = {"Permanent": Bounce.PERMANENT, "Transient": Bounce.TRANSIENT, "Undetermined": Bounce.UNDETERMINED}
PATHS = {"email": "data.to", "email_id": "data.email_id", "occurred_at": "created_at"}


def read(kind: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Resend's body as the email-status event's fields, and the path in Resend's body of each field."""
    what = "email-status event"
    data = body.get("data")
    if not isinstance(data, dict):
        raise InvalidInput(what, [Problem("data", "must be an object")])
    mail_event = TYPES.get(str(body.get("type")))
    if mail_event is None:
        raise InvalidInput(what, [Problem("type", f"is {body.get('type')!r}; one of {', '.join(TYPES)}")])
    to = data.get("to")

    def part(name: str) -> dict[str, Any]:
        value = data.get(name)
        return value if isinstance(value, dict) else {}

    bounce, suppressed, failed = part("bounce"), part("suppressed"), part("failed")
    bounce_kind = None
    if mail_event is MailEvent.BOUNCED and bounce.get("type") is not None:
        bounce_kind = BOUNCES.get(str(bounce["type"]))
        if bounce_kind is None:
            problem = f"is {bounce['type']!r}; one of {', '.join(BOUNCES)}"
            raise InvalidInput(what, [Problem("data.bounce.type", problem)])
    detail = bounce.get("message") or suppressed.get("message") or failed.get("reason")
    fields = {
        "email": to[0] if isinstance(to, list) and to else to,
        "type": mail_event,
        "email_id": data.get("email_id"),
        "occurred_at": body.get("created_at") or data.get("created_at"),
        "bounce": bounce_kind,
        "detail": " / ".join(str(x) for x in (detail, bounce.get("subType") or suppressed.get("type")) if x) or None,
    }
    return {k: v for k, v in fields.items() if v is not None}, PATHS
