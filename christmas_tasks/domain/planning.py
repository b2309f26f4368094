"""The planner: a sequence of the catalogue (christmas_tasks/domain/catalogue.py) turned into send times (SPEC §3).

Pure: the clock is an argument. Every time here is timezone-aware UTC.

The catch-up rule (a late or replayed event never sends a burst):
  each email is due at anchor + its delay; it is sent at that time, but never before `now` and
  never less than the sequence's `catch_up_gap` after the previous email of the same sequence.
  So past-due emails go one by one, `catch_up_gap` apart, starting now, and later emails keep
  their own times unless the catch-up pushes into them. Emails already sent are never planned.
The send window (production only): a send time outside the window's days and hours (SEND_WINDOW), or on
a blackout day (SEND_BLACKOUT: closed all day), moves to the next open slot in the contact's time zone
(else the campaign's); every later email moves by the same amount, so the spacing between emails is kept.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from christmas_tasks.domain.catalogue import SequenceDef
from christmas_tasks.domain.errors import ConfigError, InvalidInput, Problem

if TYPE_CHECKING:
    from holidays import HolidayBase

# SEND_BLACKOUT when unset or empty: Christmas Eve, Christmas Day, Boxing Day and New Year's Day, every year.
DEFAULT_BLACKOUT = "12-24,12-25,12-26,01-01"
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
END_OF_DAY = time(23, 59, 59, 999999)  # a window's 24:00
# How many days ahead the next open slot is looked for: a week of window days past a year of blackout dates.
SEARCH_DAYS = 400
# The years an event's date may be in (a sender's 9999 or 0001 is refused by name, never an overflow in the plan).
FUNNEL_YEARS = range(2000, 2100)


@dataclass(frozen=True)
class Blackout:
    """Days closed all day, wherever the contact is (SEND_BLACKOUT): month-days every year, single dates, and one
    country's public holidays (optionally of a subdivision), from PyPI's `holidays`. That library is data only (it
    reads nothing but its own package's files, as zoneinfo reads the time zone database), so the lookup is part
    of the domain; it is imported only when a country is set, because it takes a few hundred milliseconds."""

    yearly: frozenset[tuple[int, int]] = frozenset()
    dates: frozenset[date] = frozenset()
    country: str | None = None
    subdivision: str | None = None

    @classmethod
    def parse(cls, spec: str) -> Blackout:
        """`"12-24,12-25,12-26,01-01 CA-ON"`: `MM-DD` (every year), `YYYY-MM-DD` (one date) and at most one
        country code (ISO 3166-1 alpha-2, optionally `-` a subdivision), separated by commas or spaces. Empty: the
        default (DEFAULT_BLACKOUT); `none`: no blackout day. Each bad part is named, at once."""
        parts = [part for part in re.split(r"[\s,]+", spec.strip()) if part]
        if not parts:
            return cls.parse(DEFAULT_BLACKOUT)
        if [part.lower() for part in parts] == ["none"]:
            return cls()
        yearly: set[tuple[int, int]] = set()
        dates: set[date] = set()
        country: str | None = None
        for part in parts:
            if part.lower() == "none":
                raise ConfigError("SEND_BLACKOUT: 'none' (no blackout day) cannot be combined with other entries")
            if one_date := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", part):
                dates.add(_date(part, *(int(n) for n in one_date.groups())))
            elif month_day := re.fullmatch(r"(\d{2})-(\d{2})", part):
                month, day = (int(n) for n in month_day.groups())
                _date(part, 2000, month, day)  # a leap year: 02-29 is a day (it is closed in leap years only)
                yearly.add((month, day))
            elif re.fullmatch(r"[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?", part):
                if country is not None:
                    raise ConfigError(f"SEND_BLACKOUT: {part!r}: one country only ({country!r} is named already)")
                country = part
            else:
                raise ConfigError(
                    f"SEND_BLACKOUT: {part!r} is not MM-DD (every year), YYYY-MM-DD (one date), a country code such as "
                    "CA or CA-ON, or none"
                )
        code, subdivision = _check_country(country) if country is not None else (None, None)
        return cls(frozenset(yearly), frozenset(dates), code, subdivision)

    def __bool__(self) -> bool:
        return bool(self.yearly or self.dates or self.country)

    def closed(self, day: date) -> str | None:
        """Why `day` is a blackout day (`12-25, every year`, `Canada Day, a public holiday in CA`), or None."""
        if (day.month, day.day) in self.yearly:
            return f"{day:%m-%d}, every year"
        if day in self.dates:
            return "this date only"
        if self.country is not None:
            name = _public_holidays(self.country, self.subdivision).get(day)
            if name:
                where = f"{self.country}-{self.subdivision}" if self.subdivision else self.country
                return f"{name}, a public holiday in {where}"
        return None


def _date(part: str, year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ConfigError(f"SEND_BLACKOUT: {part!r} is not a date ({exc})") from None


@functools.cache
def _public_holidays(country: str, subdivision: str | None) -> HolidayBase:
    """A country's (or its subdivision's) public holidays, any year (the library fills in each year when asked)."""
    import holidays

    return holidays.country_holidays(country, subdiv=subdivision)


def _check_country(part: str) -> tuple[str, str | None]:
    """`CA` or `CA-ON` as (country, subdivision), upper-cased, once the holidays library knows them."""
    country, _, subdivision = part.upper().partition("-")
    try:
        known = _public_holidays(country, None)
    except NotImplementedError:
        raise ConfigError(f"SEND_BLACKOUT: {part!r}: no public holidays are known for country {country!r}") from None
    if subdivision and subdivision not in known.subdivisions:
        raise ConfigError(
            f"SEND_BLACKOUT: {part!r}: {country} has no subdivision {subdivision!r} "
            f"(it has {', '.join(known.subdivisions) or 'none'})"
        )
    return country, subdivision or None


@dataclass(frozen=True)
class SendWindow:
    """When an email may go out (SPEC §3): days (0 = Monday) and hours [start, end) (SEND_WINDOW), and never on a
    blackout day, closed all day (SEND_BLACKOUT); both in the contact's time zone, else `timezone` (the campaign's).
    """

    days: frozenset[int]
    start: time
    end: time
    timezone: str
    blackout: Blackout = Blackout()

    @classmethod
    def parse(cls, spec: str, timezone: str, blackout: Blackout = Blackout()) -> SendWindow:
        """`"mon-fri 09:00-18:00"` (days: a range or a comma list of mon..sun)."""
        match = re.match(r"^\s*([a-z,\-]+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$", spec.lower())
        if not match:
            raise ConfigError(f"SEND_WINDOW {spec!r} is not like 'mon-fri 09:00-18:00'")
        days: set[int] = set()
        for part in match.group(1).split(","):
            ends = part.split("-")
            if any(e not in DAY_NAMES for e in ends) or len(ends) > 2:
                raise ConfigError(f"SEND_WINDOW {spec!r}: unknown day in {part!r}")
            first, last = DAY_NAMES.index(ends[0]), DAY_NAMES.index(ends[-1])
            days.update(range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)])
        h1, m1, h2, m2 = (int(match.group(i)) for i in range(2, 6))
        if not (0 <= h1 < 24 and 0 <= h2 <= 24 and m1 < 60 and m2 < 60):
            raise ConfigError(f"SEND_WINDOW {spec!r}: hours out of range")
        start, end = time(h1, m1), (END_OF_DAY if (h2, m2) == (24, 0) else time(h2, m2))
        if start >= end:
            raise ConfigError(f"SEND_WINDOW {spec!r}: the window must end after it starts")
        zone(timezone)
        return cls(frozenset(days), start, end, timezone, blackout)

    @classmethod
    def from_settings(cls, window: str, blackout: str, timezone: str) -> SendWindow | None:
        """SEND_WINDOW (empty: any day, any hour) and SEND_BLACKOUT (empty: DEFAULT_BLACKOUT; `none`: no day) read
        together; None when they close nothing."""
        closed = Blackout.parse(blackout)
        if window.strip():
            return cls.parse(window, timezone, closed)
        zone(timezone)
        return cls(frozenset(range(7)), time(0), END_OF_DAY, timezone, closed) if closed else None

    def next_open(self, when: datetime, contact_timezone: str | None = None) -> datetime:
        """`when` if an email may go out then, else the start of the next open slot (UTC)."""
        return self.move(when, contact_timezone)[0]

    def move(self, when: datetime, contact_timezone: str | None = None) -> tuple[datetime, tuple[str, ...]]:
        """The first time at or after `when` (UTC) inside the window's days and hours and on no blackout day, in the
        contact's zone, else the window's; and why each day or hour before it was closed (empty: `when` is open).
        Times are compared in UTC, so a daylight-saving change (a day of 23 or 25 hours) moves nothing twice."""
        tz = zone(contact_timezone) if contact_timezone else zone(self.timezone)
        at = when.astimezone(UTC)
        why: dict[str, None] = {}  # the reasons, once each, in order
        for _ in range(SEARCH_DAYS):
            day = at.astimezone(tz).date()
            blackout = self.blackout.closed(day)
            if blackout is not None:
                why[f"{day} is a blackout day ({blackout})"] = None
            elif day.weekday() in self.days:
                opens = datetime.combine(day, self.start, tz).astimezone(UTC)
                closes = datetime.combine(day, self.end, tz).astimezone(UTC)
                if opens <= at < closes:
                    return at, tuple(why)
                if at < opens:
                    why[self._outside(tz)] = None
                    return opens, tuple(why)
            if blackout is None:
                why[self._outside(tz)] = None
            # the next day's midnight (where midnight does not exist, the day's first minute after the change)
            at = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(UTC)
        raise ConfigError(f"SEND_WINDOW and SEND_BLACKOUT leave no open time in {SEARCH_DAYS} days")

    def _outside(self, tz: ZoneInfo) -> str:
        return f"outside the send window {self.describe()} ({tz.key})"

    def describe(self) -> str:
        """The window as SEND_WINDOW says it: `mon-fri 09:00-18:00`."""
        runs: list[list[int]] = []
        for day in sorted(self.days):
            if runs and runs[-1][-1] == day - 1:
                runs[-1].append(day)
            else:
                runs.append([day])
        names = ",".join(DAY_NAMES[r[0]] if len(r) == 1 else f"{DAY_NAMES[r[0]]}-{DAY_NAMES[r[-1]]}" for r in runs)
        end = "24:00" if self.end == END_OF_DAY else f"{self.end:%H:%M}"
        return f"{names} {self.start:%H:%M}-{end}"


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
    # when the send window moved it: its time by the catch-up rule, and why it moved
    moved_from: datetime | None = None
    why: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        moved = {"moved_from": iso_utc(self.moved_from), "why": "; ".join(self.why)} if self.moved_from else {}
        return {
            "email_number": self.email_number,
            "template": self.template,
            "send_at": iso_utc(self.send_at),
            **moved,
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
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+05:00 is before the first instant Python can hold in UTC
        raise ValueError("is outside the range of dates (years 1 to 9999 in UTC)") from None


def check_funnel_year(moment: date) -> None:
    """A date the funnel can use: in FUNNEL_YEARS (else ValueError, which the caller words with the field's name).
    Every time the planner places is an event's date or the clock plus at most MAX_DELAY and a year of the window's
    search, so an event whose dates pass this can never overflow a plan."""
    if moment.year not in FUNNEL_YEARS:
        raise ValueError(
            f"is in the year {moment.year}; a funnel's dates are in the years {FUNNEL_YEARS.start} to "
            f"{FUNNEL_YEARS.stop - 1}"
        )


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
    """Each unsent email of `sequence` with its send time, by the catch-up and window rules above; an email the
    window (its hours or a blackout day) moved says from when, and why. An anchor or a clock outside FUNNEL_YEARS
    is refused by name (InvalidInput), before any arithmetic could overflow."""
    anchor = require_aware(anchor, "anchor")
    now = require_aware(now, "now")
    for name, moment in ((sequence.anchor, anchor), ("now", now)):
        try:
            check_funnel_year(moment)
        except ValueError as exc:
            raise InvalidInput("plan", [Problem(name, str(exc))]) from None
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
        why: tuple[str, ...] = ("keeps its spacing after an earlier email moved",) if shift else ()
        if window is not None and not testing:
            opened, closed = window.move(send_at, contact_timezone)
            shift += opened - send_at
            send_at, why = opened, (*why, *closed)
        moved = send_at != catch_up
        planned.append(
            PlannedEmail(item.number, item.template, send_at, catch_up if moved else None, why if moved else ())
        )
    return planned
