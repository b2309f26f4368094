"""Helpers of the Mailer contract suite (tests/contract/test_mailer_contract.py): the message it sends,
reading back what each Mailer delivered, and the worker the multi-process outbox tests start."""

from __future__ import annotations

import json
from dataclasses import replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from christmas_tasks.adapters.outbox import OutboxMailer
from christmas_tasks.domain.records import OutgoingEmail
from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.settings import Settings
from tests.conftest import EXAMPLES, NOW
from tests.fakes.fake_resend import REPLY_TO, SENDER, TO, interactions, key
from tests.fakes.memory import InMemoryLedger, InMemoryMailer, handle

UNSUBSCRIBE = "https://example.com/unsubscribe?email=delivered%40resend.dev&token=0123456789abcdef0123456789abcdef"
# The headers the funnel sets: a sequence email's one-click unsubscribe, a forwarded reply's threading and RFC 3834
HEADERS = ("List-Unsubscribe", "List-Unsubscribe-Post", "Auto-Submitted", "In-Reply-To", "References")
LEAD = "jane.doe@example.com"


def message(name: str, **changes: Any) -> OutgoingEmail:
    """The contract's message, its idempotency key made from `name` (one key per test)."""
    base = OutgoingEmail(
        sender=SENDER,
        to=TO,
        subject="Jane’s Salon: day 2 of your 5-day plan — booking",
        html=(
            "<p>Hi Jane,</p><p>Your weakest system is <strong>Booking</strong>. Café owners fix it first.</p>"
            "<p>Example Consulting, 123 Example Street, Toronto, ON M5V 0A1, Canada</p>"
            f'<p><a href="{UNSUBSCRIBE}">Unsubscribe</a></p>'
        ),
        text=(
            "Hi Jane,\n\nYour weakest system is Booking. Café owners fix it first.\n\n"
            "Example Consulting, 123 Example Street, Toronto, ON M5V 0A1, Canada\n"
            f"Unsubscribe: {UNSUBSCRIBE}\n"
        ),
        idempotency_key=key(name),
        reply_to=REPLY_TO,
        headers={"List-Unsubscribe": f"<{UNSUBSCRIBE}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        tags={"campaign": "christmas-2025", "sequence": "5day", "email_number": "2"},
    )
    return replace(base, **changes)


def forwarded_reply(name: str) -> OutgoingEmail:
    """A lead's reply as the funnel forwards it to the business's inbox (the reply handler's own message, for the
    sample reply with non-ASCII text and an inline image), from and to the contract's addresses, its idempotency key
    made from `name`."""
    reply = json.loads((EXAMPLES / "reply.json").read_text())
    reply.update(
        subject="Re: Jane’s Salon — booking",
        text="Oui, jeudi à 10 h ?\n\nJane",
        html='<p>Oui, jeudi à 10 h ?</p><p>Jane</p><img alt="" src="data:image/png;base64,iVBORw0KGgo=">',
    )
    mailer = InMemoryMailer()
    settings = Settings.from_env({"REPLY_INBOX": "sales@example.org"})
    handle(build_funnel(settings, ledger=InMemoryLedger(), mailer=mailer), "reply", reply, NOW)
    (forward,) = mailer.messages()
    return replace(forward, sender=SENDER, to=TO, idempotency_key=key(name))


def read_eml(path: Path) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def outbox_delivered(outbox: OutboxMailer) -> list[dict[str, Any]]:
    """What the outbox holds, one dict per message, read back from each .eml file."""
    out = []
    for entry in outbox.messages():
        eml = read_eml(outbox.folder / entry["file"])
        html = eml.get_body(("html",))
        text = eml.get_body(("plain",))
        assert html is not None and text is not None
        out.append({
            "id": entry["id"],
            "from": str(eml["From"]),
            "to": str(eml["To"]),
            "reply_to": str(eml["Reply-To"]) if eml["Reply-To"] else None,
            "subject": str(eml["Subject"]),
            "html": html.get_content(),
            "text": text.get_content(),
            "headers": {name: str(eml[name]) for name in HEADERS if eml[name]},
            "tags": {
                name.removeprefix("X-Tag-"): str(value) for name, value in eml.items() if name.startswith("X-Tag-")
            },
            "key": str(eml["X-Idempotency-Key"]),
        })
    return out


def memory_delivered(mailer: InMemoryMailer) -> list[dict[str, Any]]:
    """What the in-memory mailer holds, in the shape the suite compares."""
    out = []
    for message, message_id in mailer.sent.values():
        out.append({
            "id": message_id, "from": message.sender, "to": message.to, "reply_to": message.reply_to,
            "subject": message.subject, "html": message.html, "text": message.text, "headers": dict(message.headers),
            "tags": dict(message.tags), "key": message.idempotency_key,
        })
    return out


def resend_delivered(cassette: Any) -> list[dict[str, Any]]:
    """What Resend was asked to send, from the requests in the cassette, one dict per email id Resend
    answered (a replayed idempotency key gets the first id back: one email, however many requests)."""
    by_id: dict[str, dict[str, Any]] = {}
    for sent, answer in interactions(cassette):
        if sent.method != "POST" or not sent.uri.endswith("/emails") or answer["status"]["code"] != 200:
            continue
        body = json.loads(sent.body)
        email_id = json.loads(answer["body"]["string"])["id"]
        keys = sent.headers.get("Idempotency-Key") or sent.headers.get("idempotency-key")
        by_id.setdefault(email_id, {
            "id": email_id,
            "from": body["from"],
            "to": body["to"][0] if isinstance(body["to"], list) else body["to"],
            "reply_to": body.get("reply_to"),
            "subject": body["subject"],
            "html": body["html"],
            "text": body["text"],
            "headers": body.get("headers", {}),
            "tags": {tag["name"]: tag["value"] for tag in body.get("tags", [])},
            "key": keys[0] if isinstance(keys, list) else keys,
        })
    return list(by_id.values())


def send_from_process(folder: str, outgoing: OutgoingEmail, barrier: Any, results: Any) -> None:
    """One Kestra task process: wait for the others, then send through its own OutboxMailer."""
    mailer = OutboxMailer(folder)
    barrier.wait(timeout=60)
    result = mailer.send(outgoing)
    results.put((result.message_id, result.duplicate))
