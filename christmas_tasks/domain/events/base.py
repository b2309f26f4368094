"""The base of every event kind (see christmas_tasks/domain/events/__init__.py): what every event has, what every
kind must say of itself, the registry of kinds (`KINDS`) and the validation of a body into a kind's model."""


from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import NoneType
from typing import Any, ClassVar, get_args, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError

from christmas_tasks.domain.errors import ConfigError, InvalidInput, Problem
from christmas_tasks.domain.fields import (
    Email,
    Name,
    OptionalShortText,
)
from christmas_tasks.domain.records import ContactUpdate, EmailLedger
from christmas_tasks.domain.routing import Route
from christmas_tasks.domain.vocabulary import BookingStatus, StopReason

NURTURE = "5day"  # the sequences a booking stops (SPEC §3): named here and in the catalogue only
REBOOK = "rebook"


@dataclass(frozen=True)
class Stop:
    """Sequences (catalogue names) an event of a kind stops, and the reason recorded on them."""

    sequences: tuple[str, ...]
    reason: StopReason


BOOKED = Stop((NURTURE, REBOOK), StopReason.BOOKED)  # any call-related event means the contact booked a call

KINDS: dict[str, type[Event]] = {}
_SECRET = re.compile(r"WEBHOOK_KEY_[A-Z0-9_]+")


class Event(BaseModel, ABC):
    """What every event has, and what every kind must say of itself."""

    # defer_build: a model is built on first use, so a command that never validates one pays nothing
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True, defer_build=True)

    kind: ClassVar[str]
    sample: ClassVar[str | None]
    webhook_key: ClassVar[str]
    sender: ClassVar[str]
    starts: ClassVar[str | None] = None
    stops: ClassVar[tuple[Stop, ...]] = ()
    booking_status: ClassVar[BookingStatus | None] = None
    # Fields that default to the event's arrival (`arrived`): every stored event has them.
    filled_on_arrival: ClassVar[tuple[str, ...]] = ()
    # Whether its flow hands it to `handle-event`'s queue (events run a few at a time there, in order). A person's
    # unsubscribe is not queued: its flow runs the step at once, so it takes effect before the next send whatever
    # is queued (SPEC §5); the lock per address still keeps it apart from another event for the same address.
    queued: ClassVar[bool] = True
    # The fields a rule of the whole model checks together (AssessmentEvent: its counts' sum): an error of that rule
    # names them, as the sender sent them, not the body.
    checked_together: ClassVar[tuple[str, ...]] = ()
    # The person comes back (a signup, an assessment): a forgotten address's mark is cleared (SPEC §11); any other
    # kind from a forgotten address starts nothing.
    rejoins: ClassVar[bool] = False

    email: Email

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """A model that names its `kind` is a kind: it registers itself, once, whole."""
        super().__pydantic_init_subclass__(**kwargs)
        if "kind" not in cls.__dict__:
            return
        missing = sorted(getattr(cls, "__abstractmethods__", ()))
        missing += [name for name in ("webhook_key", "sender") if not isinstance(getattr(cls, name, None), str)]
        missing += [] if isinstance(getattr(cls, "sample", False), str | None) else ["sample"]
        if missing:
            raise TypeError(f"event kind {cls.kind!r} ({cls.__name__}) must define {', '.join(missing)}")
        if cls.kind in KINDS:
            raise TypeError(f"event kind {cls.kind!r} is defined twice ({KINDS[cls.kind].__name__}, {cls.__name__})")
        if not _SECRET.fullmatch(cls.webhook_key):
            raise TypeError(f"event kind {cls.kind!r}: its webhook_key {cls.webhook_key!r} is not WEBHOOK_KEY_<NAME>")
        KINDS[cls.kind] = cls

    @property
    def yields_to_sends(self) -> bool:
        """Whether handling it may wait for the sends due at the same time (its ledger requests take Notion's
        budget only when it has some to spare): an email's engagement (SPEC §9); never an event a person waits on."""
        return False

    @property
    def checks_forgotten(self) -> bool:
        """Whether a forgotten address's mark is looked up before this event is handled (1 query): False for what
        writes only on a record the address already has (an email's engagement), which a forgotten one has not."""
        return True

    @abstractmethod
    def occurrence(self) -> str:
        """What makes this event distinct among its kind's events for one contact."""

    @property
    def route(self) -> Route | None:
        """The segment this event routes its contact to, when it says (the assessment: SPEC §4)."""
        return None

    def contact_timezone(self) -> str | None:
        """The lead's own IANA time zone, when this kind says it (the assessment's, Calendly's invitee's): kept on the
        contact, the send window applies in it."""
        return None

    def arrived(self, now: datetime) -> Event:
        """The event with what defaults to "on arrival" (`filled_on_arrival`) filled from the clock (`now`, aware)."""
        missing = {name: now.astimezone(UTC) for name in self.filled_on_arrival if getattr(self, name) is None}
        return self.model_copy(update=missing) if missing else self

    def variables(self) -> dict[str, str]:
        """The event's own fields and computed fields as template variables (strings; an absent one is left out)."""
        out: dict[str, str] = {}
        for name, value in self.model_dump(mode="json", exclude={"email"}).items():
            if value is None:
                continue
            if isinstance(value, list):
                out[name] = ", ".join(str(v) for v in value)
            elif isinstance(value, float) and value.is_integer():
                out[name] = str(int(value))
            else:
                out[name] = str(value)
        return out

    @classmethod
    def always_given(cls) -> frozenset[str]:
        """The variables every event of this kind gives, never empty, read off the model: the fields it requires
        (but a list, which may be empty), those whose default is a value (not None, not empty), those filled on
        arrival, and the computed fields that cannot be None. Whatever else `variables()` holds may be missing."""
        given = set(cls.filled_on_arrival)
        for name, info in cls.model_fields.items():
            if info.is_required():
                if get_origin(info.annotation) not in (list, tuple, set, frozenset) and info.annotation is not list:
                    given.add(name)
            elif _a_value(info.get_default(call_default_factory=True)):
                given.add(name)
        for name, computed in cls.model_computed_fields.items():
            returns = get_type_hints(computed.wrapped_property.fget).get("return")
            if returns is not None and returns is not NoneType and NoneType not in get_args(returns):
                given.add(name)
        return frozenset(given - {"email"})  # the address is the campaign's to give (build_variables)


class StartsSequence(Event, ABC):
    """An event that starts its kind's sequence (`starts`, a catalogue name). Its fields are the variables that
    sequence's templates may use."""

    starts: ClassVar[str]
    first_name: Name
    business_name: OptionalShortText = None

    def declined(self) -> str | None:
        """Why this event, valid as it is, starts nothing after all (None: it starts its sequence)."""
        return None

    def anchor(self, field: str, now: datetime) -> datetime:
        """What the sequence's delays count from: the catalogue names the field (`arrival`: the clock)."""
        if field == "arrival":
            return now
        value = getattr(self, field, None)
        if not isinstance(value, datetime):
            raise ConfigError(f"the catalogue anchors {self.starts} on {field!r}, which a {self.kind} event lacks")
        return value

    def sent_before(self) -> dict[int, EmailLedger]:
        """Emails of the sequence sent before the funnel took it over (recorded so the ledger is whole)."""
        return {}

    def contact_update(self, campaign_status: str) -> ContactUpdate:
        """What starting the sequence writes on the contact."""
        return ContactUpdate(
            email=self.email,
            first_name=self.first_name,
            business_name=self.business_name,
            campaign_status=campaign_status,
            booking_status=self.booking_status,
            timezone=self.contact_timezone(),
        )

    def alert(self, sequence_key: str) -> str | None:
        """The alert this event raises when its sequence starts (None: none)."""
        return None


def _a_value(default: Any) -> bool:
    """A default that gives a template variable a value: not None, and not empty once made text."""
    if default is None:
        return False
    if isinstance(default, list | tuple | set | frozenset | dict):
        return bool(default)
    return str(default).strip() != ""


# --------------------------------------------------------------------------------------------- reading


def event_model(name: str) -> type[Event]:
    """The model of the kind `name`; an unknown name is refused, naming the known ones."""
    model = KINDS.get(name) if isinstance(name, str) else None
    if model is None:
        known = ", ".join(KINDS)
        raise InvalidInput("event kind", [Problem("event", f"unknown event {name!r}; one of {known}")])
    return model


def sequence_starters() -> dict[str, type[StartsSequence]]:
    """The kind that starts each sequence, by sequence name."""
    return {model.starts: model for model in KINDS.values() if issubclass(model, StartsSequence)}


def stopped_by_booking() -> frozenset[str]:
    """The sequences a booked call stops: a send checks them against the contact's booking status, so a booking
    set by hand in Notion stops them too."""
    return frozenset(s for m in KINDS.values() for stop in m.stops if stop.reason is StopReason.BOOKED
                     for s in stop.sequences)


def catalogue_problems(sequences: Iterable[str]) -> list[str]:
    """Where the event kinds and the catalogue's sequences disagree, one line each (none: they agree). Each sequence
    is started by one kind; each sequence a kind starts or stops is in the catalogue."""
    names = set(sequences)
    problems = []
    starters: dict[str, list[str]] = {}
    for model in KINDS.values():
        if issubclass(model, StartsSequence):
            starters.setdefault(model.starts, []).append(model.kind)
        named = {s for stop in model.stops for s in stop.sequences} | ({model.starts} if model.starts else set())
        for sequence in sorted(named):
            if sequence not in names:
                problems.append(f"the event kind {model.kind!r} names the sequence {sequence!r}, not in the catalogue")
    for sequence in sorted(names):
        kinds = starters.get(sequence, [])
        if len(kinds) != 1:
            started = f"{len(kinds)} event kinds ({', '.join(kinds)})" if kinds else "no event kind"
            problems.append(f"the sequence {sequence!r} is started by {started}: one must start it")
    return problems


def _problems(error: ValidationError, paths: Mapping[str, str], together: tuple[str, ...] = ()) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = [str(part) for part in item["loc"]]
        field = ".".join(loc) if loc else "body"
        if not loc and together:  # a rule on several fields at once (the model's): named by those fields
            field = " + ".join(paths.get(name, name) for name in together)
        if loc and loc[0] in paths:
            field = ".".join([paths[loc[0]], *loc[1:]])
        message = item["msg"]
        if item["type"] == "missing":
            message = "is required"
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        problems.append(Problem(field, message))
    return problems


def parse_event(name: str, body: Any, now: datetime, paths: Mapping[str, str] | None = None) -> Event:
    """Validate one body in the package's shape as an event of kind `name`. `paths` names each field where its
    sender put it (a provider's reader gives them); `now` (aware UTC) fills what defaults to "on arrival"."""
    model = event_model(name)
    if not isinstance(body, dict):
        raise InvalidInput(f"{name} event", [Problem("body", "must be a JSON object")])
    try:
        event = model.model_validate(body, context={"now": now})  # times are checked against the clock
    except ValidationError as exc:
        raise InvalidInput(f"{name} event", _problems(exc, paths or {}, model.checked_together)) from None
    return event.arrived(now)
