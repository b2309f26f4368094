"""What the use cases return: typed results, turned into JSON (the command line's output, Kestra's outputs) only
at the edge, by `as_json`. Each carries a machine-stable `action` or `status` and, for people reading an
execution, one `reason` sentence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from christmas_tasks.domain.deliverability import Verdict
from christmas_tasks.domain.planning import iso_utc
from christmas_tasks.domain.records import CampaignState
from christmas_tasks.domain.routing import Route
from christmas_tasks.domain.vocabulary import Bounce, EmailStatus, MailEvent


class Action(StrEnum):
    """What handling an event did."""

    CONTACT_RECORDED = "contact_recorded"  # a signup
    BOOKING_RECORDED = "booking_recorded"
    SEQUENCE_STARTED = "sequence_started"
    REPLANNED = "replanned"  # a retry of the run that started the sequence: its unsent emails again
    ALREADY_HANDLED = "already_handled"  # a duplicate: nothing planned
    NOT_SCHEDULED = "not_scheduled"  # the contact is suppressed: the sequence is stopped at once
    NOTHING_TO_START = "nothing_to_start"  # an onboarding without payment
    SUPPRESSED = "suppressed"  # the address will get no more email
    RECORDED = "recorded"  # a mail event that needs nothing done
    REPLY_FORWARDED = "reply_forwarded"  # a person's reply: the contact's sequences stop; forwarded to the inbox
    AUTO_REPLY_FORWARDED = "auto_reply_forwarded"  # an out-of-office or autoresponder: forwarded, nothing stopped
    FORGOTTEN = "forgotten"  # the address asked to be forgotten: nothing is written, sent or forwarded


class AlertStatus(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    NOT_CONFIGURED = "not configured"


@dataclass(frozen=True)
class ScheduledEmail:
    """One email of a plan: the send-email execution to schedule."""

    sequence_key: str
    email_number: int
    template: str
    send_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "sequence_key": self.sequence_key,
            "email_number": self.email_number,
            "template": self.template,
            "send_at": iso_utc(self.send_at),
        }


@dataclass(frozen=True)
class Handled:
    """One event handled."""

    event: str  # the event kind
    email: str
    action: Action
    reason: str
    plan: tuple[ScheduledEmail, ...] = ()
    stopped: tuple[str, ...] = ()  # the keys of the sequences this event stopped
    sequence: str | None = None
    sequence_key: str | None = None
    created: bool | None = None
    route: Route | None = None
    alert: AlertStatus | None = None
    campaign_status: str | None = None
    email_status: EmailStatus | None = None  # what the address became (a suppression)
    mail_event: MailEvent | None = None
    bounce: Bounce | None = None
    provider_id: str | None = None  # the mail provider's id of the email an email-status event is about
    detail: str | None = None  # the provider's own words about it
    automatic: str | None = None  # the header that made a reply an automatic one
    last_email: str | None = None  # the last email a replying contact was sent ("5day #3")
    forwarded_to: str | None = None  # where a reply was forwarded (REPLY_INBOX)
    forward_id: str | None = None  # the mail provider's id of that forward
    campaign_paused: str | None = None  # why the deliverability guard paused the campaign on this event

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event": self.event,
            "email": self.email,
            "action": self.action.value,
            "reason": self.reason,
            "plan": [item.as_json() for item in self.plan],
            "stopped": list(self.stopped),
        }
        optional = {
            "sequence": self.sequence,
            "sequence_key": self.sequence_key,
            "created": self.created,
            "alert": self.alert,
            "campaign_status": self.campaign_status,
            "email_status": self.email_status,
            "mail_event": self.mail_event,
            "bounce": self.bounce,
            "resend_id": self.provider_id,
            "detail": self.detail,
            "automatic": self.automatic,
            "last_email": self.last_email,
            "forwarded_to": self.forwarded_to,
            "forward_id": self.forward_id,
            "campaign_paused": self.campaign_paused,
        }
        out.update({key: str(value) if isinstance(value, StrEnum) else value for key, value in optional.items()
                    if value is not None})
        if self.route is not None:
            out.update(segment=self.route.segment.value, priority=self.route.priority,
                       readiness_zone=self.route.readiness_zone)
        return out


class SendStatus(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"
    HELD = "held"  # the campaign is paused: not sent, planned again at the resume (detail: the pause's reason)


class SkipReason(StrEnum):
    """Why a due email was not sent (SPEC §6, step 2): recorded in the analytics log with its detail."""

    ALREADY_SENT = "already_sent"
    SUPPRESSED = "suppressed"  # the contact's email status (detail) is not ok
    STOPPED = "stopped"  # the sequence was stopped (detail: its stop reason)
    BOOKED = "booked"  # the nurture of a contact who booked a call
    COMPLETED = "completed"


@dataclass(frozen=True)
class EmailOutcome:
    """One scheduled email: sent, skipped and why, or held while the campaign is paused."""

    sequence_key: str
    email_number: int
    template: str
    status: SendStatus
    skip: SkipReason | None = None
    detail: str | None = None  # the email status, or the stop reason, behind a skip; the pause's reason (held)
    resend_id: str | None = None
    duplicate: bool = False
    sent_at: datetime | None = None

    @property
    def reason(self) -> str | None:
        """The skip in words, as the ledger's analytics log keeps it ("sequence stopped: paid"); a hold's pause."""
        if self.status is SendStatus.HELD:
            return f"campaign paused: {self.detail or 'no reason given'}"
        if self.skip is None:
            return None
        words = {
            SkipReason.ALREADY_SENT: "already sent",
            SkipReason.SUPPRESSED: str(self.detail),
            SkipReason.STOPPED: f"sequence stopped: {self.detail}",
            SkipReason.BOOKED: "booked",
            SkipReason.COMPLETED: "sequence completed",
        }
        return words[self.skip]

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sequence_key": self.sequence_key,
            "email_number": self.email_number,
            "template": self.template,
            "status": self.status.value,
        }
        if self.skip is not None:
            out.update(skip=self.skip.value, reason=self.reason)
        elif self.status is SendStatus.HELD:
            out.update(reason=self.reason)
        else:
            sent_at = iso_utc(self.sent_at) if self.sent_at is not None else None
            out.update(resend_id=self.resend_id, duplicate=self.duplicate, sent_at=sent_at)
        return out


class CampaignAction(StrEnum):
    """What a campaign command did."""

    STATUS = "status"
    PAUSED = "paused"
    ALREADY_PAUSED = "already_paused"  # nothing changed: the first pause and its reason stand
    RESUMED = "resumed"  # running again; every email still held is planned again
    REPLANNED = "replanned"  # a resume of a running campaign: only the emails still held are planned again


@dataclass(frozen=True)
class CampaignOutcome:
    """A campaign command's result: the state as it is now, the emails held, the plan a resume made, and the
    deliverability guard's view (status)."""

    action: CampaignAction
    state: CampaignState
    reason: str  # what was done, in one sentence for people
    held: int | None = None  # emails held now (before the resume's plan sends them); None: not counted
    plan: tuple[ScheduledEmail, ...] = ()
    deliverability: Verdict | None = None

    def as_json(self) -> dict[str, Any]:
        state = self.state
        return {
            "campaign": state.campaign,
            "action": self.action.value,
            "paused": state.paused,
            "state": {
                "paused": state.paused,
                "reason": state.reason,
                "since": iso_utc(state.changed_at) if state.changed_at else None,
                "by": state.changed_by,
            },
            "held": self.held,
            "plan": [item.as_json() for item in self.plan],
            "deliverability": self.deliverability.as_json() if self.deliverability else None,
            "reason": self.reason,
        }


class ReconcileAction(StrEnum):
    """Which reconciliation ran (christmas_tasks/usecases/reconciling.py)."""

    RECONCILE = "reconcile"  # hourly: the overdue emails that fit before the next hour
    RESCHEDULE = "reschedule"  # by hand, once Kestra's state is known lost: every unsent email


@dataclass(frozen=True)
class ReconcileOutcome:
    """What a reconciliation found in the ledger and planned again, for the caller to schedule."""

    action: ReconcileAction
    at: datetime
    grace: timedelta
    reason: str
    paused: bool = False  # the campaign is paused: nothing was read or planned
    running: int = 0  # running sequence records of the campaign
    unsent: int = 0  # their emails not sent yet (lost or still to come)
    lost: int = 0  # of them, overdue by more than the grace period
    waiting: int = 0  # lost, left for the next reconciliation (the send cap)
    suppressed: int = 0  # running records whose contact is suppressed now: nothing planned for them
    plan: tuple[ScheduledEmail, ...] = ()
    alert: AlertStatus | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action.value, "at": iso_utc(self.at), "grace_seconds": int(self.grace.total_seconds()),
            "paused": self.paused, "running": self.running, "unsent": self.unsent, "lost": self.lost,
            "waiting": self.waiting, "suppressed": self.suppressed, "planned": len(self.plan),
            "plan": [item.as_json() for item in self.plan], "alert": self.alert.value if self.alert else None,
            "reason": self.reason,
        }
