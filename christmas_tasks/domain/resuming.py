"""The resume's plan (SPEC §11), pure: the emails held while the campaign was paused, planned again so that a day of
them is no burst.

The rule: the held emails go out in the order they fell due (their anchor plus delay), from the resume on, any two at
least an hour / SEND_CAP apart, so no hour holds more than SEND_CAP of them; two emails of one sequence record stay at
least its catch-up gap apart (as the catch-up rule keeps them); and a time outside the send window (its hours, a
blackout day, in the contact's zone) moves to the next open time, as every planned email does. Testing mode has no
window (the cap still applies).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from christmas_tasks.domain.errors import ConfigError
from christmas_tasks.domain.planning import SendWindow, require_aware

DEFAULT_SEND_CAP = 100  # emails an hour: one every 36 s, so 1,000 held emails take ten hours
MAX_SEND_CAP = 3600  # one a second: under the 1.5 sends a second Notion allows (3 requests a second, 2 a send)


def parse_send_cap(raw: str) -> int:
    """SEND_CAP: a whole number of emails an hour, 1 to MAX_SEND_CAP; empty: DEFAULT_SEND_CAP."""
    text = raw.strip()
    if not text:
        return DEFAULT_SEND_CAP
    if not text.isdigit() or not 1 <= int(text) <= MAX_SEND_CAP:
        raise ConfigError(f"SEND_CAP must be a whole number of emails an hour, 1 to {MAX_SEND_CAP}")
    return int(text)


@dataclass(frozen=True)
class HeldEmail:
    """One email held while the campaign was paused."""

    sequence_key: str
    email_number: int
    template: str
    due: datetime  # when it fell due: the order the held emails go out in
    gap: timedelta  # its sequence's catch-up gap: the least time after the record's previous email
    timezone: str | None = None  # the contact's zone (None: the window's), for the send window
    not_before: datetime | None = None  # the record's last email sent plus its gap, when that is later than now


def spread(
    held: Iterable[HeldEmail], now: datetime, *, cap: int, window: SendWindow | None = None
) -> list[tuple[HeldEmail, datetime]]:
    """Each held email with its new send time, in the order they go out (see the module's rule)."""
    now = require_aware(now, "now")
    if cap < 1:
        raise ConfigError("SEND_CAP must be at least 1")
    step = timedelta(hours=1) / cap
    taken: list[datetime] = []  # the times given so far, sorted
    previous: dict[str, datetime] = {}  # each record's last email planned
    planned: list[tuple[HeldEmail, datetime]] = []
    for item in sorted(held, key=lambda h: (require_aware(h.due, "due"), h.sequence_key, h.email_number)):
        at = max(now, item.not_before or now)
        if item.sequence_key in previous:
            at = max(at, previous[item.sequence_key] + item.gap)
        while True:
            if window is not None:
                at = window.next_open(at, item.timezone)
            # a time already given less than a step before or after `at`: go on from a step after it
            index = bisect.bisect_left(taken, at)
            near = [t for t in taken[max(index - 1, 0) : index + 1] if abs(t - at) < step]
            if not near:
                break
            at = max(near) + step
        bisect.insort(taken, at)
        previous[item.sequence_key] = at
        planned.append((item, at))
    return sorted(planned, key=lambda pair: (pair[1], pair[0].sequence_key, pair[0].email_number))
