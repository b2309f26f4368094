"""The domain's words, in one place: every module, the flows' tests and the command line use these.

They are `StrEnum`s, so each member is its own string value in JSON, SQLite and Notion (a select option's
name): `SequenceType.NURTURE == "5day"`. A provider's own words (Resend's `email.bounced`, Calendly's
`invitee_no_show.created`) never get past its adapter module: they are mapped to these at the edge.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    """A webhook event: each has its handler flow (`flows/<kind>.yml`) and a sample body in examples/events/."""

    SIGNUP = "signup"
    ASSESSMENT = "assessment"
    BOOKING = "booking"
    NOSHOW = "noshow"
    POSTCALL = "postcall"
    ONBOARDING = "onboarding"
    UNSUBSCRIBE = "unsubscribe"
    EMAIL_STATUS = "email-status"
    UNSUBSCRIBE_LINK = "unsubscribe-link"  # the link in every email (RFC 8058 one-click, or a person's click)


class SequenceType(StrEnum):
    """A timed sequence of emails (the catalogue's keys, SPEC §3)."""

    NURTURE = "5day"
    NOSHOW = "noshow"
    POSTCALL = "postcall"
    ONBOARDING = "onboarding"


# The event that starts each sequence; its fields are the sequence's template variables.
STARTED_BY = {
    SequenceType.NURTURE: EventKind.ASSESSMENT,
    SequenceType.NOSHOW: EventKind.NOSHOW,
    SequenceType.POSTCALL: EventKind.POSTCALL,
    SequenceType.ONBOARDING: EventKind.ONBOARDING,
}
SEQUENCE_OF = {event: sequence for sequence, event in STARTED_BY.items()}


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
    NOSHOW_RECOVERY = "No-Show Recovery"
    POSTCALL_FOLLOW_UP = "Post-Call Follow-Up"
    ONBOARDING = "Onboarding"
    UNSUBSCRIBED = "Unsubscribed"


class BookingStatus(StrEnum):
    NOT_BOOKED = "Not Booked"  # what a person may set by hand in Notion
    BOOKED = "Booked"
    NO_SHOW = "No-Show"
    CALL_HELD = "Call Held"
    CLIENT = "Client"


class StopReason(StrEnum):
    """Why a sequence stopped before its last email."""

    BOOKED = "booked"  # a call was booked: the nurture stops
    PAID = "paid"  # onboarding: the no-show and post-call follow-ups stop
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    SUPPRESSED = "suppressed"


class MailEvent(StrEnum):
    """What the mail provider reports about a sent email (the `email-status` event)."""

    DELIVERED = "delivered"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    SUPPRESSED = "suppressed"  # not sent: the address is on the provider's suppression list
    FAILED = "failed"  # not sent: the provider could not (quota, domain, key)


class Bounce(StrEnum):
    """A bounce's kind: only a permanent one means the address cannot receive mail."""

    PERMANENT = "permanent"
    TRANSIENT = "transient"  # a full mailbox, a busy server
    UNDETERMINED = "undetermined"
