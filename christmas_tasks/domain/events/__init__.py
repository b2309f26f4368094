"""Webhook events (SPEC §2). Each kind is described once, here, by its model:

- `kind`: its name: the command line's word, its flow (`flows/<kind>.yml`), the `event` input of `handle-event`;
- `sample`: its sample body in examples/events/ (`scripts/post-sample`, the tests on Kestra's engine), or None
  for a kind no sample can stand for (the unsubscribe link: its token is made for one address by one secret);
- `webhook_key`: the name of the Kestra secret holding its webhook's key (its flow's trigger; `christmas-tasks
  secrets init` makes one);
- `sender`: who posts it, for people (`christmas-tasks events` lists every kind);
- `starts`, `stops`, `booking_status`: what handling it does to the contact's sequences and booking;
- `occurrence()`: what makes one event of the kind distinct for one contact (part of the sequence key), a method
  every kind must define (a model without it is refused when the module loads).

`KINDS` is derived from the models (each registers itself); `event_model(name)` refuses a name it does not know,
naming the known ones. `parse_event` validates a body in the package's own shape; a provider's shape (Calendly's,
Resend's) is read into it at the edge (christmas_tasks/entrypoints/inbound/), which passes the paths of its fields
so that an error names the field where the sender put it. Unknown fields are ignored (the raw body is the record).
"""

from christmas_tasks.domain.events.base import (
    KINDS,
    NURTURE,
    Event,
    StartsSequence,
    Stop,
    catalogue_problems,
    event_model,
    parse_event,
    sequence_starters,
    stopped_by_booking,
)
from christmas_tasks.domain.events.kinds import (
    AssessmentEvent,
    BookingEvent,
    CancellationEvent,
    NoShowEvent,
    OnboardingEvent,
    PostCallEvent,
    SignupEvent,
    UnsubscribeEvent,
)
from christmas_tasks.domain.events.mail import EmailStatusEvent, EmailSuppressionEvent, ReplyEvent, UnsubscribeLinkEvent

__all__ = [
    "KINDS",
    "NURTURE",
    "AssessmentEvent",
    "BookingEvent",
    "CancellationEvent",
    "EmailStatusEvent",
    "EmailSuppressionEvent",
    "Event",
    "NoShowEvent",
    "OnboardingEvent",
    "PostCallEvent",
    "ReplyEvent",
    "SignupEvent",
    "StartsSequence",
    "Stop",
    "UnsubscribeEvent",
    "UnsubscribeLinkEvent",
    "catalogue_problems",
    "event_model",
    "parse_event",
    "sequence_starters",
    "stopped_by_booking",
]
