"""The event kinds (SPEC §2) the mail provider and the unsubscribe link send: what happened to a sent email (its
status, its engagement), the link's unsubscribe, a lead's reply. Each is described once, as in
christmas_tasks/domain/events/kinds.py."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints, model_validator

from christmas_tasks.domain.events.base import Event
from christmas_tasks.domain.fields import HeaderText, Identifier, Note, Timestamp
from christmas_tasks.domain.vocabulary import Bounce, EmailStatus, Engagement, MailEvent


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class EmailStatusEvent(Event):
    """What the mail provider reports about an email it sent (read from Resend's webhook at the edge): the recipient,
    what happened, the provider's message id.

    `bounced`: the recipient's server rejected the email, permanently or not (`bounce`); `complained`: marked as
    spam; `suppressed`: not sent, the address being on the provider's suppression list (a previous hard bounce or
    complaint); `failed`: the provider could not send it (an invalid recipient, the key, the domain, the quota).
    Engagement (SPEC §9), recorded against the email, each kind at most once: `delivered` (accepted by the
    recipient's server), `delivery_delayed`, `opened` (a weak signal), `clicked` (with its `link`). `unknown`: a type
    this project does not know (`provider_type`), accepted and recorded, never refused.
    """

    kind: ClassVar[str] = "email-status"
    sample: ClassVar[str | None] = "email-bounced.json"
    webhook_key: ClassVar[str] = "WEBHOOK_KEY_EMAIL_STATUS"
    sender: ClassVar[str] = (
        "Resend (every email.* type but email.received: bounces, complaints, suppressions and failures suppress or "
        "are recorded; deliveries, delays, opens and clicks are recorded against their email; any other is recorded "
        "as unknown, never refused)"
    )

    type: MailEvent
    email_id: Identifier
    occurred_at: Timestamp
    bounce: Bounce | None = None
    detail: Note | None = None
    link: HeaderText | None = None  # a click's link, as the provider reports it (one line, never refused)
    provider_type: Identifier | None = None  # the provider's own name of the type (Resend's `email.opened`)
    # the tags the email was sent with (christmas_tasks/usecases/sending.py): its sequence and number, when known
    sequence_tag: Identifier | None = None
    number_tag: Annotated[int, Field(ge=1, le=100)] | None = None

    def occurrence(self) -> str:
        return f"{self.type}-{self.email_id}"

    @property
    def engagement(self) -> Engagement | None:
        """The engagement this event records against its email (SPEC §9), or None."""
        return ENGAGEMENTS.get(self.type)

    @property
    def only_recorded(self) -> bool:
        """An engagement, or a type this project does not read: recorded against its email, never a suppression."""
        return self.engagement is not None or self.type is MailEvent.UNKNOWN

    @property
    def checks_forgotten(self) -> bool:
        return not self.only_recorded

    @property
    def yields_to_sends(self) -> bool:
        return self.only_recorded

    @property
    def suppression(self) -> EmailStatus | None:
        """The email status this event gives the address, or None when it is only recorded. A bounce of no
        known kind is taken as permanent: that is what Resend's email.bounced means, and it sends nothing unwanted."""
        if self.type is MailEvent.BOUNCED:
            return EmailStatus.BOUNCED if self.bounce in (None, Bounce.PERMANENT) else None
        return {MailEvent.COMPLAINED: EmailStatus.COMPLAINED, MailEvent.SUPPRESSED: EmailStatus.SUPPRESSED}.get(
            self.type
        )


ENGAGEMENTS = {MailEvent(kind.value): kind for kind in Engagement}
# What the edge forwards to the `email-suppression` kind: the mail provider's word that an address must get no more
SUPPRESSIONS = frozenset({MailEvent.BOUNCED, MailEvent.COMPLAINED, MailEvent.SUPPRESSED})


class EmailSuppressionEvent(EmailStatusEvent):
    """A bounce, a complaint or a suppression, as `email-status` reads it, applied at once: the edge forwards these
    types of Resend's webhook here, never behind `handle-event`'s queue, so a suppression takes effect before the next
    send whatever is queued (SPEC §5). Every other type is refused by name: it is `email-status`'s."""

    kind: ClassVar[str] = "email-suppression"
    sample: ClassVar[str | None] = "email-complained.json"
    webhook_key: ClassVar[str] = "WEBHOOK_KEY_EMAIL_SUPPRESSION"
    sender: ClassVar[str] = (
        "Resend, through the edge (email.bounced, email.complained and email.suppressed: the address suppressed at "
        "once, never queued; every other type goes to email-status)"
    )
    queued: ClassVar[bool] = False
    checked_together: ClassVar[tuple[str, ...]] = ("type",)  # the rule's error names the sender's `type`

    @model_validator(mode="after")
    def _a_suppression(self) -> EmailSuppressionEvent:
        if self.type not in SUPPRESSIONS:
            sent = self.provider_type or f"email.{self.type.value}"
            raise ValueError(f"is {sent}: not a bounce, a complaint or a suppression (email-status takes it)")
        return self


class UnsubscribeLinkEvent(Event):
    """The unsubscribe link opened or one-click POSTed (read from the link's query at the edge): the token is
    required, and it is what authorises the request."""

    kind: ClassVar[str] = "unsubscribe-link"
    sample: ClassVar[str | None] = None
    webhook_key: ClassVar[str] = "WEBHOOK_KEY_UNSUBSCRIBE_LINK"
    sender: ClassVar[str] = (
        "a person or a mailbox provider, following the link in every email (its key is in every email: the token in "
        "the query is what authorises it)"
    )

    queued: ClassVar[bool] = False  # a suppression takes effect before the next send, whatever is queued

    token: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    one_click: bool = False  # RFC 8058's POST, from a mailbox provider (else a person's GET)

    def occurrence(self) -> str:
        return "unsubscribe"




# What marks a reply as sent by a machine (SPEC §2): RFC 3834's Auto-Submitted, and the de-facto headers of
# autoresponders that predate it. A Precedence of list is a mailing list's, not an autoresponder's: not among them.
AUTOMATIC_PRECEDENCE = frozenset({"auto_reply", "bulk", "junk"})


class ReplyEvent(Event):
    """A lead answered an email (SPEC §2): posted in this shape, or Resend's `email.received` read at the edge with
    the text, HTML and headers Resend's received-email API gives. `email` is the sender.

    A person's reply stops every running sequence of the contact (`replied`), alerts, and is forwarded to the
    business's inbox; an automatic one (`automatic`) is forwarded and recorded and stops nothing. Its headers are
    kept as one line each and never refused for their length: a reply is never lost to a long subject."""

    kind: ClassVar[str] = "reply"
    sample: ClassVar[str | None] = "reply.json"
    webhook_key: ClassVar[str] = "WEBHOOK_KEY_REPLY"
    sender: ClassVar[str] = (
        "Resend (email.received: a reply to REPLY_ADDRESS, on a receiving domain) or a mailbox tool, when a lead "
        "answers an email; a person's reply stops every running sequence of the contact (replied)"
    )
    filled_on_arrival: ClassVar[tuple[str, ...]] = ("received_at",)

    subject: HeaderText = ""
    message_id: HeaderText | None = None  # the received email's Message-ID header
    received_at: Timestamp | None = None  # defaults to the event's arrival (`filled_on_arrival`)
    auto_submitted: HeaderText | None = None
    x_autoreply: HeaderText | None = None
    x_autorespond: HeaderText | None = None
    precedence: HeaderText | None = None
    text: str | None = None
    html: str | None = None
    email_id: Identifier | None = None  # the mail provider's id of the received email (Resend's)

    def reference(self) -> str:
        """What names this reply among its sender's: the provider's id of the received email, else its Message-ID,
        else a digest of what it says (the forward's idempotency key and the send log's record are made of it)."""
        if self.email_id:
            return self.email_id
        if self.message_id:
            return self.message_id
        return "content-" + _digest("\n".join((self.subject, self.text or "", self.html or "")))

    def occurrence(self) -> str:
        return "reply-" + _digest(self.reference())  # per received email

    @property
    def automatic(self) -> str | None:
        """The header that marks this reply as a machine's (an out-of-office, an autoresponder), as `Name: value`;
        None for a person's."""
        # the keyword, without its parameters (`; owner-email=...`) or a comment (RFC 5322's `(...)`)
        submitted = re.sub(r"\([^)]*\)", "", (self.auto_submitted or "").split(";")[0]).strip().lower()
        if submitted and submitted != "no":
            return f"Auto-Submitted: {self.auto_submitted}"
        if self.x_autoreply:
            return f"X-Autoreply: {self.x_autoreply}"
        if self.x_autorespond:
            return f"X-Autorespond: {self.x_autorespond}"
        if (self.precedence or "").strip().lower() in AUTOMATIC_PRECEDENCE:
            return f"Precedence: {self.precedence}"
        return None
