"""The event kinds (SPEC §2) the website and Calendly send, each described once: its model, its name, its sample,
its webhook's secret, who sends it, what it starts and stops, the booking status it sets, and what makes one event
of it distinct. Defining a model with a `kind` registers it (christmas_tasks/domain/events/base.py). The kinds the
mail provider and the unsubscribe link send are in christmas_tasks/domain/events/mail.py."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints, computed_field, model_validator

from christmas_tasks.domain.events.base import BOOKED, NURTURE, REBOOK, Event, StartsSequence, Stop
from christmas_tasks.domain.fields import (
    Amount,
    CallTime,
    DateOrTimestamp,
    Name,
    Note,
    OptionalShortText,
    Score,
    SelectOption,
    SentAt,
    ShortText,
    SystemCount,
    TimeZone,
    Url,
)
from christmas_tasks.domain.records import Contact, ContactUpdate, EmailLedger
from christmas_tasks.domain.routing import Route, route
from christmas_tasks.domain.vocabulary import BookingStatus, StopReason


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class SignupEvent(Event):
    kind: ClassVar[str] = "signup"
    sample: ClassVar[str | None] = "signup.json"
    webhook_key: ClassVar[str] = "WEBHOOK_KEY_SIGNUP"
    sender: ClassVar[str] = "the website, on a signup (tracking only: it records the contact)"
    rejoins: ClassVar[bool] = True

    first_name: Name
    business_name: OptionalShortText = None
    source: ShortText = "website"

    def occurrence(self) -> str:
        return "signup"  # one per contact: a second signup updates the same contact


class AssessmentEvent(StartsSequence):
    kind: ClassVar[str] = "assessment"
    sample: ClassVar[str | None] = "assessment.json"
    webhook_key: ClassVar[str] = "WEBHOOK_KEY_ASSESSMENT"
    sender: ClassVar[str] = "the website, after it sent email 1 of the nurture (with email_1_sent_at)"
    rejoins: ClassVar[bool] = True
    starts: ClassVar[str] = NURTURE
    filled_on_arrival: ClassVar[tuple[str, ...]] = ("email_1_sent_at",)
    checked_together: ClassVar[tuple[str, ...]] = ("red_systems", "orange_systems", "yellow_systems", "green_systems")

    red_systems: SystemCount
    orange_systems: SystemCount
    yellow_systems: SystemCount = 0
    green_systems: SystemCount = 0
    assessment_score: Score | None = None
    gps_score: Score | None = None
    money_score: Score | None = None
    weakest_system_1: OptionalShortText = None
    weakest_system_2: OptionalShortText = None
    strongest_system: OptionalShortText = None
    revenue_leak_total: Amount | None = None
    # Defaults to the event's arrival (`filled_on_arrival`).
    email_1_sent_at: SentAt | None = None
    email_1_status: SelectOption = "sent"
    timezone: TimeZone = None  # the lead's, as the website's browser reports it

    def contact_timezone(self) -> str | None:
        return self.timezone

    @model_validator(mode="after")
    def _counts_fit(self) -> AssessmentEvent:
        total = self.red_systems + self.orange_systems + self.yellow_systems + self.green_systems
        if total > 8:
            raise ValueError(f"red, orange, yellow and green systems add up to {total}; at most 8")
        return self

    def occurrence(self) -> str:
        return "assessment"  # the nurture runs once per contact and campaign

    @property
    def route(self) -> Route:
        """The segment, priority and readiness zone these counts route to (SPEC §4): the one place it is worked out."""
        return route(self.red_systems, self.orange_systems)

    # Derived from the required counts, so every assessment has them: template variables (in `variables()`, as
    # computed fields are), counted as always given (`always_given`).
    @computed_field  # type: ignore[prop-decorator]
    @property
    def segment(self) -> str:
        return self.route.segment.value

    @computed_field  # type: ignore[prop-decorator]
    @property
    def readiness_zone(self) -> str:
        return self.route.readiness_zone

    def sent_before(self) -> dict[int, EmailLedger]:
        # email 1 went out from the website
        return {1: EmailLedger(1, self.email_1_sent_at, self.email_1_status, None, "website")}

    def contact_update(self, campaign_status: str) -> ContactUpdate:
        update = super().contact_update(campaign_status)
        return replace(update, segment=self.route.segment.value, assessment_score=self.assessment_score)

    def alert(self, sequence_key: str) -> str | None:
        if not self.route.alert:
            return None
        business = self.business_name or "no business name"
        return (
            f"CRITICAL lead: {self.first_name} ({business}) <{self.email}> finished the assessment. "
            f"Sequence {sequence_key}."
        )


class BookingEvent(Event):
    """A call was booked (our shape or Calendly's `invitee.created`): stops the 5-day nurture."""

    kind: ClassVar[str] = "booking"
    sample: ClassVar[str | None] = "booking-calendly.json"
    webhook_key: ClassVar[str] = "WEBHOOK_KEY_BOOKING"
    sender: ClassVar[str] = "Calendly (invitee.created) or the website, when a call is booked"
    stops: ClassVar[tuple[Stop, ...]] = (BOOKED,)
    booking_status: ClassVar[BookingStatus | None] = BookingStatus.BOOKED

    first_name: Name
    calendly_event_uri: Url
    scheduled_time: CallTime
    business_name: OptionalShortText = None
    event_type: OptionalShortText = None
    timezone: TimeZone = None  # Calendly's invitee's

    def occurrence(self) -> str:
        return "call-" + _digest(self.calendly_event_uri)  # per meeting

    def contact_timezone(self) -> str | None:
        return self.timezone


class CancellationEvent(StartsSequence):
    """A booked call was cancelled (Calendly's `invitee.canceled`): unless it was a reschedule, or the lead has paid,
    is suppressed or booked another call since, the booking status becomes Cancelled and the rebook sequence asks
    for a new call."""

    kind: ClassVar[str] = "cancellation"
    sample: ClassVar[str | None] = "cancellation-calendly.json"
    webhook_key: ClassVar[str] = "WEBHOOK_KEY_CANCELLATION"
    sender: ClassVar[str] = "Calendly (invitee.canceled), when a booked call is cancelled or rescheduled"
    starts: ClassVar[str] = REBOOK
    booking_status: ClassVar[BookingStatus | None] = BookingStatus.CANCELLED

    calendly_event_uri: Url
    rescheduled: bool = False  # Calendly cancels the old call of a reschedule too: the new booking follows
    reason: Note | None = None
    canceled_by: OptionalShortText = None
    canceler_type: OptionalShortText = None  # Calendly's: invitee or host
    scheduled_time: CallTime | None = None
    event_type: OptionalShortText = None
    timezone: TimeZone = None  # Calendly's invitee's

    def occurrence(self) -> str:
        return "cancel-" + _digest(self.calendly_event_uri)  # per cancelled meeting

    def contact_timezone(self) -> str | None:
        return self.timezone

    def declined(self) -> str | None:
        if self.rescheduled:
            return "a reschedule: the new booking follows, nothing changes"
        return None

    def declined_for(self, contact: Contact | None) -> str | None:
        """Why this cancellation starts nothing for the contact as it is now (None: the rebook sequence starts)."""
        if contact is None:
            return None
        if contact.booking_status == BookingStatus.CLIENT:
            return "the contact has paid: no rebook"
        if contact.suppressed:
            return f"the contact is {contact.email_status}: no rebook"
        booked_another = contact.booked_call not in (None, self.calendly_event_uri)
        if contact.booking_status == BookingStatus.BOOKED and booked_another:
            return "the contact has booked another call since: no rebook"
        return None


class NoShowEvent(StartsSequence):
    kind: ClassVar[str] = "noshow"
    sample: ClassVar[str | None] = "noshow.json"
    webhook_key: ClassVar[str] = "WEBHOOK_KEY_NOSHOW"
    sender: ClassVar[str] = "Calendly (invitee_no_show.created) or the CRM, when a booked call was missed"
    starts: ClassVar[str] = "noshow"
    stops: ClassVar[tuple[Stop, ...]] = (BOOKED,)
    booking_status: ClassVar[BookingStatus | None] = BookingStatus.NO_SHOW

    calendly_event_uri: Url
    scheduled_time: CallTime
    event_type: OptionalShortText = None
    reschedule_url: Url | None = None

    def occurrence(self) -> str:
        return "call-" + _digest(self.calendly_event_uri)  # per missed meeting


class PostCallEvent(StartsSequence):
    kind: ClassVar[str] = "postcall"
    sample: ClassVar[str | None] = "postcall.json"
    webhook_key: ClassVar[str] = "WEBHOOK_KEY_POSTCALL"
    sender: ClassVar[str] = "the CRM, after a call that ended in a 'maybe'"
    starts: ClassVar[str] = "postcall"
    stops: ClassVar[tuple[Stop, ...]] = (BOOKED,)
    booking_status: ClassVar[BookingStatus | None] = BookingStatus.CALL_HELD

    call_date: DateOrTimestamp
    call_outcome: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] = "Maybe"
    call_notes: Note | None = None
    objections: Annotated[list[ShortText], Field(max_length=20)] = Field(default_factory=list)
    follow_up_priority: Literal["High", "Medium", "Low"] = "Medium"

    def occurrence(self) -> str:
        return f"call-{self.call_date}"  # per call


class OnboardingEvent(StartsSequence):
    kind: ClassVar[str] = "onboarding"
    sample: ClassVar[str | None] = "onboarding.json"
    webhook_key: ClassVar[str] = "WEBHOOK_KEY_ONBOARDING"
    sender: ClassVar[str] = "the payment/contract tool, after the contract is signed and paid"
    starts: ClassVar[str] = "onboarding"
    # paying stops the no-show, post-call and rebook follow-ups (and implies a booked call); paid first, so the
    # rebook sequence a booking would stop too is stopped for the payment
    stops: ClassVar[tuple[Stop, ...]] = (Stop(("noshow", "postcall", REBOOK), StopReason.PAID), BOOKED)
    booking_status: ClassVar[BookingStatus | None] = BookingStatus.CLIENT

    payment_confirmed: bool
    payment_amount: Amount
    payment_date: DateOrTimestamp
    docusign_completed: bool = True
    package_type: OptionalShortText = None
    salon_address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    observation_dates: Annotated[list[DateOrTimestamp], Field(max_length=20)] = Field(default_factory=list)
    start_date: DateOrTimestamp | None = None

    def occurrence(self) -> str:
        return f"payment-{self.payment_date}"  # per payment

    def declined(self) -> str | None:
        return None if self.payment_confirmed else "payment_confirmed is false: no onboarding starts"


class UnsubscribeEvent(Event):
    kind: ClassVar[str] = "unsubscribe"
    sample: ClassVar[str | None] = "unsubscribe.json"
    webhook_key: ClassVar[str] = "WEBHOOK_KEY_UNSUBSCRIBE"
    sender: ClassVar[str] = (
        "the edge's unsubscribe page, once it checked the token, or the business's own page (when UNSUBSCRIBE_URL "
        "names one)"
    )
    queued: ClassVar[bool] = False  # a suppression takes effect before the next send, whatever is queued

    reason: Note | None = None
    # The unsubscribe link's token (it signs the address): when given it must be the right one.
    token: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None

    def occurrence(self) -> str:
        return "unsubscribe"
