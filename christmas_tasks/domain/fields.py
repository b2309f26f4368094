"""The field types of the events (SPEC §2): what each kind of value must be, normalised before anything is written.

Text is capped where the ledger would cut it silently (Notion holds 200 characters in an email property, 100 in a
select option and 2,000 in a rich-text segment), so a sender hears about it instead.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, ValidationInfo

from christmas_tasks.domain.errors import InvalidInput, Problem
from christmas_tasks.domain.planning import check_funnel_year, parse_timestamp
from christmas_tasks.domain.records import EMAIL_MAX

NAME_MAX = 200
NOTE_MAX = 2000
URL_MAX = 1000
HEADER_MAX = 998  # RFC 5322's line limit


def _normalise_email(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    email = value.strip().lower()
    if not email:
        raise ValueError("must not be empty")
    if len(email) > EMAIL_MAX:  # RFC 5321 allows 254
        raise ValueError(f"is longer than {EMAIL_MAX} characters (what Notion's email property holds)")
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"is not a valid email address ({exc})") from None
    return email


def checked_email(value: Any, what: str = "contact", field: str = "email") -> str:
    """An address a person typed (a command's argument), normalised as an event's is; a bad one is refused by name."""
    try:
        return _normalise_email(value)
    except ValueError as exc:
        raise InvalidInput(what, [Problem(field, str(exc))]) from None


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _event_time(value: Any) -> datetime:
    """An aware timestamp (UTC) in a year a funnel can use (planning.FUNNEL_YEARS)."""
    moment = parse_timestamp(value)
    check_funnel_year(moment)
    return moment


# What "now" allows of an event's times (SPEC §2), checked against the clock the event is parsed with (pydantic's
# validation context: `parse_event` gives it): a time something happened may be a little ahead of our clock, never
# hours (CLOCK_SKEW); the anchor of a sequence no older than OLDEST_ANCHOR (its past-due emails would go out as a
# burst of stale mail); a call at most a year ahead (FARTHEST_CALL). A corrected re-post is then handled normally:
# nothing was written for the refused one.
CLOCK_SKEW = timedelta(minutes=5)
OLDEST_ANCHOR = timedelta(days=30)
FARTHEST_CALL = timedelta(days=366)


def _now(info: ValidationInfo) -> datetime | None:
    now = info.context.get("now") if isinstance(info.context, dict) else None
    return now if isinstance(now, datetime) else None


def _sent_by_now(moment: datetime, info: ValidationInfo) -> datetime:
    """When an email went out: not ahead of the clock (past CLOCK_SKEW), not older than OLDEST_ANCHOR."""
    now = _now(info)
    if now is not None and moment > now + CLOCK_SKEW:
        raise ValueError(f"is {_span(moment - now)} ahead of the clock ({now:%Y-%m-%dT%H:%M}Z): not sent yet")
    if now is not None and moment < now - OLDEST_ANCHOR:
        raise ValueError(f"is {_span(now - moment)} ago; a sequence starts from a time at most {OLDEST_ANCHOR.days} "
                         "days old (its past-due emails would go out as a burst)")
    return moment


def _call_within_a_year(moment: datetime, info: ValidationInfo) -> datetime:
    """A call's time: at most FARTHEST_CALL ahead (a call in the past is a no-show's, and normal)."""
    now = _now(info)
    if now is not None and moment > now + FARTHEST_CALL:
        raise ValueError(f"is {_span(moment - now)} ahead; a call is booked at most {FARTHEST_CALL.days} days ahead")
    return moment


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.0f} days"


def _date_or_timestamp(value: Any) -> str:
    """A calendar date (`2025-12-03`) or an aware timestamp, in a year a funnel can use; kept as a normalised ISO
    string."""
    if isinstance(value, str) and _DATE_ONLY.match(value.strip()):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("is not a valid date") from None
        check_funnel_year(day)
        return day.isoformat()
    return _event_time(value).isoformat().replace("+00:00", "Z")


def _no_bool(value: Any) -> Any:
    # pydantic would read True as 1; a flag in a number field is a sender's mistake, so say so.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


def _no_comma(value: str) -> str:
    if "," in value:
        raise ValueError("must not contain a comma (it is a Notion select option, which cannot)")
    return value


# Unicode's bidirectional controls (a right-to-left override makes "gpj.exe" read "exe.jpg" in an inbox) and every
# other control character: refused in what a person typed that reaches an email (a name, a business), by the field's
# name; removed from a received email's header (a reply's subject), which is forwarded and never lost.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_CONTROLS = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_NOTE_CONTROLS = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]")  # a note keeps its lines and tabs


def _refuse(pattern: re.Pattern[str]) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, str) and (found := pattern.search(value)):
            raise ValueError(f"holds the control character U+{ord(found.group()):04X} at position {found.start() + 1}; "
                             "remove it (bidirectional and control characters can disguise text in an inbox)")
        return value

    return check


def _one_line(value: Any) -> Any:
    """A header's value (a subject, a Message-ID) as one line: any run of whitespace, line breaks included, is one
    space, and what is past HEADER_MAX is cut (it is forwarded, never stored, so cutting loses nothing kept)."""
    if not isinstance(value, str):
        return value
    return re.sub(r"\s+", " ", _CONTROLS.sub("", re.sub(r"[\r\n\t]", " ", value))).strip()[:HEADER_MAX]


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


@cache
def _iana_zones() -> frozenset[str]:
    # the system's tz folder also holds files that are no zone of the database: the machine's own, and helpers
    return frozenset(available_timezones()) - {"localtime", "posixrules", "Factory"}


def _time_zone(value: Any) -> str | None:
    """An IANA time zone name (`America/Toronto`), as the planner applies the send window in it; an unknown name is
    refused by name (the tz database is what ZoneInfo reads: not a path, not an abbreviation like EST)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValueError("must be an IANA time zone name, such as America/Toronto")
    name = value.strip()
    if name not in _iana_zones():
        raise ValueError(f"{name[:60]!r} is not an IANA time zone (such as America/Toronto)")
    return name


Email = Annotated[str, BeforeValidator(_normalise_email)]
TimeZone = Annotated[str | None, BeforeValidator(_time_zone)]
# A value stored as a Notion select option (the ledger's email status): short, and without a comma.
SelectOption = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), AfterValidator(_no_comma)
]
Timestamp = Annotated[datetime, BeforeValidator(_event_time)]
# when an email went out (a sequence's anchor)
SentAt = Annotated[datetime, BeforeValidator(_event_time), AfterValidator(_sent_by_now)]
CallTime = Annotated[datetime, BeforeValidator(_event_time), AfterValidator(_call_within_a_year)]
DateOrTimestamp = Annotated[str, BeforeValidator(_date_or_timestamp)]
Name = Annotated[
    str,
    BeforeValidator(_refuse(_CONTROLS)),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX),
]
ShortText = Annotated[
    str, BeforeValidator(_refuse(_CONTROLS)), StringConstraints(strip_whitespace=True, max_length=NAME_MAX)
]
OptionalShortText = Annotated[ShortText | None, BeforeValidator(_blank_to_none)]
Note = Annotated[
    str, BeforeValidator(_refuse(_NOTE_CONTROLS)), StringConstraints(strip_whitespace=True, max_length=NOTE_MAX)
]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# A received email's header (subject, Message-ID, Auto-Submitted, ...): one line, never refused for its length.
HeaderText = Annotated[str, BeforeValidator(_one_line)]
Url = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=URL_MAX, pattern=r"^https?://\S+$")
]
SystemCount = Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=8)]
Score = Annotated[float, BeforeValidator(_no_bool), Field(ge=0, le=100)]
Amount = Annotated[float, BeforeValidator(_no_bool), Field(ge=0, le=10_000_000)]
