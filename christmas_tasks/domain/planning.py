"""The planner: a sequence of the catalogue (christmas_tasks/domain/catalogue.py) turned into send times (SPEC §3).

Pure: the clock is an argument. Every time here is timezone-aware UTC.

The catch-up rule (a late or replayed event never sends a burst):
  each email is due at anchor + its delay; it is sent at that time, but never before `now` and
  never less than the sequence's `catch_up_gap` after the previous email of the same sequence.
  So past-due emails go one by one, `catch_up_gap` apart, starting now, and later emails keep
  their own times unless the catch-up pushes into them. Emails already sent are never planned.
The send window (optional, production only): a send time outside the window moves to the next
open slot in the contact's time zone (else the campaign's); every later email moves by the same
amount, so the spacing between emails is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from christmas_tasks.domain.catalogue import SequenceDef
from christmas_tasks.domain.errors import ConfigError, InvalidInput, Problem


@dataclass(frozen=True)
class SendWindow:
    """Days (0 = Monday) and hours [start, end) during which emails may go out, in a time zone."""

    days: frozenset[int]
    start: time
    end: time
    timezone: str

    @classmethod
    def parse(cls, spec: str, timezone: str) -> SendWindow:
        """`"mon-fri 09:00-18:00"` (days: a range or a comma list of mon..sun)."""
        names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        match = re.match(r"^\s*([a-z,\-]+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$", spec.lower())
        if not match:
            raise ConfigError(f"SEND_WINDOW {spec!r} is not like 'mon-fri 09:00-18:00'")
        days: set[int] = set()
        for part in match.group(1).split(","):
            ends = part.split("-")
            if any(e not in names for e in ends) or len(ends) > 2:
                raise ConfigError(f"SEND_WINDOW {spec!r}: unknown day in {part!r}")
            first, last = names.index(ends[0]), names.index(ends[-1])
            days.update(range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)])
        h1, m1, h2, m2 = (int(match.group(i)) for i in range(2, 6))
        if not (0 <= h1 < 24 and 0 <= h2 <= 24 and m1 < 60 and m2 < 60):
            raise ConfigError(f"SEND_WINDOW {spec!r}: hours out of range")
        start, end = time(h1, m1), (time(23, 59, 59, 999999) if (h2, m2) == (24, 0) else time(h2, m2))
        if start >= end:
            raise ConfigError(f"SEND_WINDOW {spec!r}: the window must end after it starts")
        zone(timezone)
        return cls(frozenset(days), start, end, timezone)

    def next_open(self, when: datetime, contact_timezone: str | None = None) -> datetime:
        """`when` if the window is open then, else the start of the next open slot (UTC)."""
        tz = zone(contact_timezone) if contact_timezone else zone(self.timezone)
        local = when.astimezone(tz)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            if day.weekday() not in self.days:
                continue
            opens = datetime.combine(day, self.start, tz)
            closes = datetime.combine(day, self.end, tz)
            if offset == 0 and opens <= local < closes:
                return when
            if local < opens:
                return opens.astimezone(UTC)
        raise ConfigError("SEND_WINDOW has no open day")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("time zone", [Problem("timezone", f"{name!r} is not an IANA time zone")]) from None


@dataclass(frozen=True)
class PlannedEmail:
    email_number: int
    template: str
    send_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "email_number": self.email_number,
            "template": self.template,
            "send_at": iso_utc(self.send_at),
        }


def parse_timestamp(value: Any) -> datetime:
    """ISO 8601 with `Z` or an offset, returned in UTC; anything else (a number, no zone) is refused."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("is not an ISO 8601 timestamp") from None
        if "T" not in value and " " not in value.strip():
            raise ValueError("is a date; a timestamp with a time and `Z` or an offset is needed")
    else:
        raise ValueError("must be an ISO 8601 timestamp string")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("has no time zone; add `Z` or an offset such as +01:00")
    return parsed.astimezone(UTC)


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def require_aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput("time", [Problem(name, "must be timezone-aware")])
    return moment.astimezone(UTC)


def plan(
    sequence: SequenceDef,
    anchor: datetime,
    now: datetime,
    *,
    testing: bool,
    already_sent: Iterable[int] = (),
    window: SendWindow | None = None,
    contact_timezone: str | None = None,
) -> list[PlannedEmail]:
    """Each unsent email of `sequence` with its send time, by the catch-up and window rules above."""
    anchor = require_aware(anchor, "anchor")
    now = require_aware(now, "now")
    sent = set(already_sent)
    gap = sequence.testing_catch_up_gap if testing else sequence.catch_up_gap
    planned: list[PlannedEmail] = []
    previous: datetime | None = None
    shift = timedelta(0)
    for item in sequence.emails:
        if item.number in sent:
            continue
        due = anchor + (item.testing_delay if testing else item.delay)
        # `previous` is the time before any window shift, so the shift is applied once.
        catch_up = max(due, now) if previous is None else max(due, now, previous + gap)
        previous = catch_up
        send_at = catch_up + shift
        if window is not None and not testing:
            opened = window.next_open(send_at, contact_timezone)
            shift += opened - send_at
            send_at = opened
        planned.append(PlannedEmail(item.number, item.template, send_at))
    return planned
