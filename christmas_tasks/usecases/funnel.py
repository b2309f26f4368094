"""The funnel: the ports and the campaign's configuration, and its use cases (SPEC §2, §6, §11): handle one event
(christmas_tasks/usecases/handlers.py, one handler per event class), send one scheduled email
(christmas_tasks/usecases/sending.py), and pause, resume or show the campaign (christmas_tasks/usecases/campaign.py).
They return typed results (christmas_tasks/usecases/outcomes.py); the clock is an argument.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from christmas_tasks.domain.catalogue import Catalogue
from christmas_tasks.domain.deliverability import Thresholds
from christmas_tasks.domain.events import Event
from christmas_tasks.domain.planning import SendWindow, require_aware
from christmas_tasks.domain.records import SequenceRecord
from christmas_tasks.domain.resuming import DEFAULT_SEND_CAP
from christmas_tasks.domain.variables import Campaign
from christmas_tasks.usecases import campaign, reconciling
from christmas_tasks.usecases.erasure import check_forgotten
from christmas_tasks.usecases.handlers import handler_for
from christmas_tasks.usecases.outcomes import AlertStatus, CampaignOutcome, EmailOutcome, Handled, ReconcileOutcome
from christmas_tasks.usecases.ports import AddressLocks, Alerter, Ledger, Mailer
from christmas_tasks.usecases.sending import send_email

log = logging.getLogger(__name__)


@dataclass
class Funnel:
    """The application: the ledger's stores, the mailer, and the campaign's configuration."""

    ledger: Ledger
    mailer: Mailer
    campaign: Campaign
    catalogue: Catalogue
    email_from: str
    reply_to: str | None = None
    testing: bool = False
    window: SendWindow | None = None
    alerter: Alerter | None = None
    sent_by: str = "kestra"
    reply_inbox: str | None = None  # where a reply is forwarded (REPLY_INBOX); None: a reply cannot be handled
    send_cap: int = DEFAULT_SEND_CAP  # emails an hour a resume plans, at most (SEND_CAP)
    guard: Thresholds = field(default_factory=Thresholds)  # the deliverability guard's marks (GUARD_*)
    # one event per address at a time, across processes (adapters/address_locks.py); None: this process is alone
    locks: AddressLocks | None = None

    @property
    def send_window(self) -> SendWindow | None:
        """The window a plan keeps to: none in testing mode (its delays are seconds and minutes)."""
        return None if self.testing else self.window

    def handle(self, event: Event, now: datetime, run_id: str | None = None) -> Handled:
        """Apply one validated event (christmas_tasks/entrypoints/inbound/ reads a webhook body into one).

        Another event for the same address waits until this one is handled (`locks`); one for another address
        does not. `run_id` names the run (the Kestra execution) handling it. The same event handled again plans
        nothing, except by the run that created its sequence: that is a retry of a run that may have
        died before its plan was scheduled, so it gets the unsent emails again (sending checks the
        ledger and reuses the idempotency key, so nothing goes out twice).
        """
        now = require_aware(now, "now")
        with self.locks.hold(event.email) if self.locks is not None else nullcontext():
            # a forgotten address starts nothing until the person signs up or takes the assessment again (SPEC §11)
            return check_forgotten(self, event) or handler_for(type(event))(self, event, now, run_id)

    def send(self, key: str, number: int, now: datetime, scheduled_for: datetime | None = None) -> EmailOutcome:
        """Send email `number` of the sequence `key`, with every check of SPEC §6, in order."""
        return send_email(self, key, number, now, scheduled_for)

    def pause(self, now: datetime, reason: str | None, by: str) -> CampaignOutcome:
        """Pause the campaign (SPEC §11): nothing is sent, due emails are held (usecases/campaign.py)."""
        return campaign.pause(self, now, reason, by)

    def resume(self, now: datetime, by: str, reason: str | None = None) -> CampaignOutcome:
        """Run the campaign again; the plan of every email still held, for the caller to schedule."""
        return campaign.resume(self, now, by, reason)

    def status(self, now: datetime) -> CampaignOutcome:
        return campaign.status(self, now)

    def reconcile(self, now: datetime, *, everything: bool = False, grace: timedelta | None = None) -> ReconcileOutcome:
        """Plan again the emails of running sequences whose schedule Kestra lost (usecases/reconciling.py)."""
        return reconciling.reconcile(self, now, everything=everything, grace=grace)

    def alert(self, text: str) -> AlertStatus:
        """Post `text` to the Alerter, when one is configured: whether it went. An alert never fails the funnel."""
        if self.alerter is None:
            return AlertStatus.NOT_CONFIGURED
        try:
            return AlertStatus.SENT if self.alerter.alert(text) else AlertStatus.FAILED
        except Exception:
            log.warning("the alert raised; ignored", exc_info=True)
            return AlertStatus.FAILED

    def records(self, email: str, sequences: tuple[str, ...] | None = None) -> list[SequenceRecord]:
        """The contact's records of those sequences (default: every sequence of the catalogue) in this campaign:
        1 query; none asked for, none made."""
        wanted = tuple(self.catalogue.sequences) if sequences is None else sequences
        return self.ledger.sequences.sequences_for(email, self.campaign.name, wanted) if wanted else []
