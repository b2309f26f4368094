"""The domain's words for statuses and reasons, in one place: every module uses these.

They are `StrEnum`s, so each member is its own string value in JSON, SQLite and Notion (a select option's
name): `EmailStatus.OK == "ok"`. A provider's own words (Resend's `email.bounced`, Calendly's
`invitee_no_show.created`) never get past its reader at the edge (christmas_tasks/entrypoints/inbound/).

Event kinds are their models (christmas_tasks/domain/events.py: each kind described once, there); sequences are
the catalogue's (christmas_tasks/catalogue.json).
"""

from __future__ import annotations

from enum import StrEnum


class EmailStatus(StrEnum):
    """Whether an address may be emailed; anything but OK suppresses it for good."""

    OK = "ok"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"  # a permanent bounce
    COMPLAINED = "complained"  # marked as spam
    SUPPRESSED = "suppressed"  # on the mail provider's suppression list


class CampaignStatus(StrEnum):
    """Where a contact is in the funnel (the contact's campaign status in Notion)."""

    SIGNED_UP = "Signed Up"
    NURTURE = "Nurture Sequence"
    PRE_CALL = "Pre-Call Prep"
    REBOOK = "Rebook Follow-Up"  # the call was cancelled: the rebook sequence asks for a new one
    NOSHOW_RECOVERY = "No-Show Recovery"
    POSTCALL_FOLLOW_UP = "Post-Call Follow-Up"
    ONBOARDING = "Onboarding"
    UNSUBSCRIBED = "Unsubscribed"


class BookingStatus(StrEnum):
    NOT_BOOKED = "Not Booked"  # what a person may set by hand in Notion
    BOOKED = "Booked"
    CANCELLED = "Cancelled"  # the lead cancelled the call (not a reschedule): no call is booked
    NO_SHOW = "No-Show"
    CALL_HELD = "Call Held"
    CLIENT = "Client"


class StopReason(StrEnum):
    """Why a sequence stopped before its last email."""

    BOOKED = "booked"  # a call was booked: the nurture and the rebook sequence stop
    PAID = "paid"  # onboarding: the no-show, post-call and rebook follow-ups stop
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    SUPPRESSED = "suppressed"
    REPLIED = "replied"  # the contact answered an email: a person takes it from here


class MailEvent(StrEnum):
    """What the mail provider reports about a sent email (the `email-status` event)."""

    DELIVERED = "delivered"
    DELIVERY_DELAYED = "delivery_delayed"  # the recipient's server deferred it; the provider keeps trying
    OPENED = "opened"  # a weak signal: Apple Mail Privacy Protection opens every message it receives
    CLICKED = "clicked"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    SUPPRESSED = "suppressed"  # not sent: the address is on the provider's suppression list
    FAILED = "failed"  # not sent: the provider could not (quota, domain, key)
    UNKNOWN = "unknown"  # a type this project does not know: accepted and recorded, never refused (SPEC §2)


class Engagement(StrEnum):
    """What the ledger records of a sent email after it left (SPEC §9), each at most once per email: the first time
    it happened (and, for a click, the link)."""

    DELIVERED = "delivered"
    DELIVERY_DELAYED = "delivery_delayed"
    OPENED = "opened"
    CLICKED = "clicked"


class Bounce(StrEnum):
    """A bounce's kind: only a permanent one means the address cannot receive mail."""

    PERMANENT = "permanent"
    TRANSIENT = "transient"  # a full mailbox, a busy server
    UNDETERMINED = "undetermined"


class LedgerStatus(StrEnum):
    """An email's `Email {n} Status` in the ledger: sent; or, never sent, held while the campaign was paused (a
    resume plans it again), then skipped when it ran and was not sent after all."""

    SENT = "sent"
    HELD = "held"
    SKIPPED = "skipped"


class ReplyStatus(StrEnum):
    """A reply, as the send log records it (its `status`, beside sent, skipped and failed): the report counts them."""

    REPLIED = "replied"  # a person's reply
    AUTO_REPLIED = "auto-replied"  # an out-of-office, an autoresponder (RFC 3834 and the de-facto markers)


# A suppression's email status, as the reason its sequences stop.
SUPPRESSION_STOPS = {
    EmailStatus.UNSUBSCRIBED: StopReason.UNSUBSCRIBED,
    EmailStatus.BOUNCED: StopReason.BOUNCED,
    EmailStatus.COMPLAINED: StopReason.COMPLAINED,
    EmailStatus.SUPPRESSED: StopReason.SUPPRESSED,
}
