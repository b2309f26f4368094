"""Resend's webhook bodies, read into the package's `email-status` event (as django-anymail normalises each
provider's tracking events to its own event types) and its `reply` event.

Resend posts `{"type": "email.<what>", "created_at": ..., "data": {"email_id", "to": [...], ...}}`, with a part
of its own per type: `bounce` (`message`, `subType`, `type`: Permanent, Transient or Undetermined, as Amazon SES
classifies bounces), `suppressed` (`message`, `type`), `failed` (`reason`). Resend's words stop here: each type
becomes a `MailEvent`, each bounce type a `Bounce`. Errors name the field by its path in Resend's body.

`email.received` (an email to an address of a Resend receiving domain: REPLY_ADDRESS) carries the received email's
metadata only: `data.from`, `to`, `subject`, `message_id`, `email_id`, `created_at`, attachments' names. Its text,
HTML and headers are read through Resend's received-email API (`received_content`, with the entry point's client,
christmas_tasks/adapters/resend/receiving.py), after the metadata has passed, so a body without a sender costs no call.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parseaddr
from typing import Any, Protocol

from christmas_tasks.domain.errors import ConfigError, InvalidInput, Problem, ProviderError
from christmas_tasks.domain.vocabulary import Bounce, MailEvent

# Resend's types this project reads (docs/deploy.md); any other (email.sent, email.scheduled, a type Resend adds
# later) is accepted as `unknown` and recorded, never refused: a refusal makes Resend retry it for days (SPEC §2).
TYPES = {
    "email.delivered": MailEvent.DELIVERED,
    "email.delivery_delayed": MailEvent.DELIVERY_DELAYED,
    "email.delivered_delayed": MailEvent.DELIVERY_DELAYED,  # the spelling of an example in Resend's docs
    "email.opened": MailEvent.OPENED,
    "email.clicked": MailEvent.CLICKED,
    "email.bounced": MailEvent.BOUNCED,
    "email.complained": MailEvent.COMPLAINED,
    "email.suppressed": MailEvent.SUPPRESSED,
    "email.failed": MailEvent.FAILED,
}
BOUNCES = {"Permanent": Bounce.PERMANENT, "Transient": Bounce.TRANSIENT, "Undetermined": Bounce.UNDETERMINED}
PATHS = {
    "email": "data.to", "email_id": "data.email_id", "occurred_at": "created_at", "link": "data.click.link",
    "provider_type": "type", "sequence_tag": "data.tags.sequence", "number_tag": "data.tags.email_number",
}


def read(kind: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Resend's body as the email-status event's fields, and the path in Resend's body of each field."""
    what = f"{kind} event"
    data = body.get("data")
    if not isinstance(data, dict):
        raise InvalidInput(what, [Problem("data", "must be an object")])
    if body.get("type") == RECEIVED:
        raise InvalidInput(what, [Problem("type", f"is {RECEIVED}: a reply, for the reply webhook (its own flow)")])
    mail_event = TYPES.get(str(body.get("type")), MailEvent.UNKNOWN)
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
        "link": part("click").get("link") if mail_event is MailEvent.CLICKED else None,
        "provider_type": body.get("type") if mail_event is MailEvent.UNKNOWN else None,
        **_tags(data.get("tags")),
    }
    # the detail is named where Resend put it: a bounce's message, a suppression's, a failure's reason
    source = ("data.bounce.message" if bounce.get("message") else "data.suppressed.message"
              if suppressed.get("message") else "data.failed.reason")
    return {k: v for k, v in fields.items() if v is not None}, {**PATHS, "detail": source}


def _tags(tags: Any) -> dict[str, Any]:
    """The email's sequence and number from the tags it was sent with (christmas_tasks/usecases/sending.py), as
    Resend gives them back: an object of names to values, or a list of `{"name", "value"}`. Anything else (another
    sender's tags, none) gives nothing: the email is found by its id."""
    if isinstance(tags, list):
        tags = {t.get("name"): t.get("value") for t in tags if isinstance(t, dict)}
    if not isinstance(tags, dict):
        return {}
    number = tags.get("email_number")
    return {
        "sequence_tag": tags.get("sequence") if isinstance(tags.get("sequence"), str) else None,
        "number_tag": int(number) if isinstance(number, str) and number.isdigit() and len(number) < 4 else None,
    }


# ------------------------------------------------------------------------------------------- replies

RECEIVED = "email.received"
RECEIVED_PATHS = {
    "email": "data.from",
    "subject": "data.subject",
    "message_id": "data.message_id",
    "received_at": "data.created_at",
    "email_id": "data.email_id",
}
# A received email's headers that mark an automatic reply (SPEC §2), by their lower-cased names, as the reply's fields.
AUTOMATIC_HEADERS = {
    "auto-submitted": "auto_submitted",
    "x-autoreply": "x_autoreply",
    "x-autorespond": "x_autorespond",
    "precedence": "precedence",
}


class ReceivedEmails(Protocol):
    """Resend's received emails (christmas_tasks/adapters/resend/receiving.py): one by its id, as Resend answers
    `GET /emails/receiving/{id}`. Raises ProviderError (`retryable` for an outage the retries did not outlast)."""

    def get(self, email_id: str) -> Mapping[str, Any]: ...


def is_resend(body: dict[str, Any]) -> bool:
    """A body in Resend's envelope (our own reply shape is flat)."""
    return "type" in body and "data" in body


def read_received(kind: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Resend's `email.received` body as the reply event's fields (all but what the API gives: `received_content`),
    and the path in Resend's body of each field; a body in our own shape passes through as it is."""
    if not is_resend(body):
        return body, {}
    what = "reply event"
    if body.get("type") != RECEIVED:
        raise InvalidInput(what, [Problem("type", f"is {body.get('type')!r}; expected {RECEIVED!r}")])
    data = body.get("data")
    if not isinstance(data, dict):
        raise InvalidInput(what, [Problem("data", "must be an object")])
    email_id = data.get("email_id")
    if not isinstance(email_id, str) or not email_id.strip():
        raise InvalidInput(what, [Problem("data.email_id", "is required: the received email's id, to read its text")])
    sender = data.get("from")
    if isinstance(sender, str):  # "Jane Doe <jane@example.com>": the address (a string that is none is named)
        sender = parseaddr(sender)[1] or sender
    fields = {
        "email": sender,
        "subject": data.get("subject"),
        "message_id": data.get("message_id"),
        "received_at": data.get("created_at") or body.get("created_at"),
        "email_id": email_id.strip(),
    }
    return {k: v for k, v in fields.items() if v is not None}, RECEIVED_PATHS


def received_content(
    body: dict[str, Any], received: ReceivedEmails | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The text, HTML and automatic-reply headers of the email an `email.received` body announces, read through
    Resend's API, as the reply event's fields, with the path of each (none for a body in our own shape, which holds
    them). A Resend 4xx (an unknown id, a wrong key) is a rejection naming `data.email_id`: retrying cannot change it;
    an outage the adapter's retries did not outlast is raised as it is, for the step's own retries."""
    if not is_resend(body):
        return {}, {}
    email_id = str(body["data"]["email_id"]).strip()  # read_received checked it
    if received is None:
        raise ConfigError(
            f"a {RECEIVED} body holds no text: it is read through Resend's API (the live backend, with "
            "RESEND_API_KEY); post the reply in the package's own shape instead (docs/operating.md, Replies)"
        )
    try:
        email = received.get(email_id)
    except ProviderError as error:
        if error.retryable:
            raise
        problem = f"Resend did not give the received email {email_id} ({error}); nothing was written"
        raise InvalidInput("reply event", [Problem("data.email_id", problem)]) from None
    raw_headers = email.get("headers")
    headers = (
        {str(name).lower(): value for name, value in raw_headers.items()} if isinstance(raw_headers, Mapping) else {}
    )
    where = f"GET /emails/receiving/{email_id}"
    fields: dict[str, Any] = {"text": email.get("text"), "html": email.get("html")}
    paths = {"text": f"{where}: text", "html": f"{where}: html"}
    for header, field in AUTOMATIC_HEADERS.items():
        fields[field] = headers.get(header)
        paths[field] = f"{where}: headers.{header}"
    return {k: v for k, v in fields.items() if v is not None}, paths
