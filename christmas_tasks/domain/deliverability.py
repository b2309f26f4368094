"""The deliverability guard's rule (SPEC §11), pure: the thresholds (settings), the marks the report puts on a
complaint or bounce rate, and the verdict on the last emails sent.

The thresholds, and where they come from:
- complaints: Google's email sender guidelines ask bulk senders to keep the spam rate reported in Postmaster Tools
  below 0.1 % and never to reach 0.3 % (Yahoo's sender requirements say the same 0.3 %): a warning at 0.1 %, critical
  at 0.3 %;
- bounces: Resend's account-health guidance keeps the bounce rate under 4 % (past that an account is reviewed and
  may be paused): critical over 4 %.

The guard judges the last GUARD_WINDOW emails sent (all of them while fewer were sent), and only once at least
MIN_SENDS were: one complaint among a handful of emails is no rate. A complaint or bounce is an address: a
complained or bounced address gets no more email, so it is one report, whatever it was sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from christmas_tasks.domain.errors import ConfigError
from christmas_tasks.domain.vocabulary import EmailStatus

MIN_SENDS = 50  # the least window the guard judges (and the least GUARD_WINDOW)


class Mark(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


def _percent(values: Mapping[str, str], name: str, default: float) -> float:
    """A rate setting, in percent ("0.3" or "0.3%"), as a fraction; unset or empty: `default`."""
    raw = values.get(name, "").strip().removesuffix("%").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 100:
        raise ConfigError(f"{name} must be a percentage above 0 and at most 100, such as 0.3 or 0.3%")
    return value / 100


@dataclass(frozen=True)
class Thresholds:
    """When the report warns and the guard pauses (defaults: the guidelines above)."""

    complaint_warning: float = 0.001  # at or over: a warning
    complaint_critical: float = 0.003  # at or over: critical
    bounce_critical: float = 0.04  # over: critical
    window: int = 200  # the last emails sent that the guard judges

    @classmethod
    def from_settings(cls, values: Mapping[str, str]) -> Thresholds:
        """GUARD_COMPLAINT_WARNING, GUARD_COMPLAINT_CRITICAL, GUARD_BOUNCE_CRITICAL (percent) and GUARD_WINDOW; each
        bad one is named."""
        default = cls()
        warning = _percent(values, "GUARD_COMPLAINT_WARNING", default.complaint_warning)
        critical = _percent(values, "GUARD_COMPLAINT_CRITICAL", default.complaint_critical)
        if warning > critical:
            raise ConfigError("GUARD_COMPLAINT_WARNING must not be above GUARD_COMPLAINT_CRITICAL")
        raw = values.get("GUARD_WINDOW", "").strip()
        if raw and (not raw.isdigit() or int(raw) < MIN_SENDS):
            raise ConfigError(f"GUARD_WINDOW must be a whole number of emails, at least {MIN_SENDS}")
        return cls(
            complaint_warning=warning,
            complaint_critical=critical,
            bounce_critical=_percent(values, "GUARD_BOUNCE_CRITICAL", default.bounce_critical),
            window=int(raw) if raw else default.window,
        )

    def complaint_mark(self, rate: float | None) -> Mark | None:
        if rate is None:
            return None
        if rate >= self.complaint_critical:
            return Mark.CRITICAL
        return Mark.WARNING if rate >= self.complaint_warning else None

    def bounce_mark(self, rate: float | None) -> Mark | None:
        return Mark.CRITICAL if rate is not None and rate > self.bounce_critical else None

    def mark(self, kind: str, rate: float | None) -> Mark | None:
        """The mark of the rate of `kind` (an email status: complained or bounced; any other has none)."""
        if kind == EmailStatus.COMPLAINED:
            return self.complaint_mark(rate)
        return self.bounce_mark(rate) if kind == EmailStatus.BOUNCED else None

    def why(self, kind: str, mark: Mark) -> str:
        """The mark in words: "critical: at or over 0.3%"."""
        if kind == EmailStatus.BOUNCED:
            return f"{mark}: over {self.bounce_critical:.1%}"
        limit = self.complaint_critical if mark is Mark.CRITICAL else self.complaint_warning
        return f"{mark}: at or over {limit:.1%}"


@dataclass(frozen=True)
class Verdict:
    """The guard's view of the last emails sent: how many, the complaints and bounces among their addresses."""

    thresholds: Thresholds
    sent: int  # emails in the window
    complaints: int
    bounces: int

    @property
    def judged(self) -> bool:
        return self.sent >= MIN_SENDS

    @property
    def complaint_rate(self) -> float | None:
        return self.complaints / self.sent if self.sent else None

    @property
    def bounce_rate(self) -> float | None:
        return self.bounces / self.sent if self.sent else None

    @property
    def critical(self) -> str | None:
        """Why the campaign must pause (a sentence), or None: a rate past its critical mark, once judged."""
        if not self.judged:
            return None
        marks = []
        if self.thresholds.complaint_mark(self.complaint_rate) is Mark.CRITICAL:
            marks.append(f"complaint rate {self.complaint_rate:.2%} ({self.complaints} of the last {self.sent} "
                         f"emails) is at or over {self.thresholds.complaint_critical:.1%}")
        if self.thresholds.bounce_mark(self.bounce_rate) is Mark.CRITICAL:
            marks.append(f"bounce rate {self.bounce_rate:.2%} ({self.bounces} of the last {self.sent} emails) is "
                         f"over {self.thresholds.bounce_critical:.1%}")
        return "; ".join(marks) if marks else None

    def as_json(self) -> dict[str, object]:
        def rate(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "window": self.thresholds.window,
            "sent": self.sent,
            "judged": self.judged,
            "complaints": self.complaints,
            "complaint_rate": rate(self.complaint_rate),
            "complaint_mark": self.thresholds.complaint_mark(self.complaint_rate) if self.judged else None,
            "bounces": self.bounces,
            "bounce_rate": rate(self.bounce_rate),
            "bounce_mark": self.thresholds.bounce_mark(self.bounce_rate) if self.judged else None,
        }


def judge(
    thresholds: Thresholds, sends: Iterable[tuple[datetime, str]], status_of: Mapping[str, str]
) -> Verdict:
    """The verdict on the last `thresholds.window` of `sends` ((sent at, address), any order), with each address's
    email status as it is now."""
    last = sorted(sends, reverse=True)[: thresholds.window]
    addresses = {address for _, address in last}
    complaints = sum(1 for address in addresses if status_of.get(address) == EmailStatus.COMPLAINED)
    bounces = sum(1 for address in addresses if status_of.get(address) == EmailStatus.BOUNCED)
    return Verdict(thresholds, len(last), complaints, bounces)
