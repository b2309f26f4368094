"""One retry rule for every provider (SPEC §6): 429 and 5xx (and dropped connections) are retried
with exponential backoff that honours `Retry-After`, bounded in attempts and in total time; any
other 4xx fails at once. The sleep and the clock are injected so tests run instantly and exactly.

Why not tenacity: each of the three rules that make this one (the provider's Retry-After before the backoff,
giving up rather than waiting past `max_delay`, the budget on an injected clock, which tenacity's own
`stop_after_delay` cannot take) would be a custom callable on its `wait`/`stop` hooks: as long as this loop, and
one more dependency in every Kestra step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from christmas_tasks.domain.errors import ProviderError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # calls in all, the first included
    base_delay: float = 0.5  # seconds before the second call, doubled each time
    max_delay: float = 30.0  # no single wait is longer (a longer Retry-After gives up instead)
    budget: float = 90.0  # no retry starts after this many seconds in all


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` in seconds (the numeric form; Notion and Resend send seconds)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)


def call_with_retry(
    operation: Callable[[], T],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_retry: Callable[[ProviderError, int, float], None] | None = None,
) -> T:
    """Run `operation`; it raises ProviderError with `retryable` set, and `retry_after` if known."""
    started = clock()
    attempt = 1
    while True:
        try:
            return operation()
        except ProviderError as error:
            if not error.retryable or attempt >= policy.attempts:
                raise
            hinted = error.retry_after
            delay = hinted if hinted is not None else policy.base_delay * 2 ** (attempt - 1)
            if delay > policy.max_delay or clock() - started + delay > policy.budget:
                raise
            if on_retry:
                on_retry(error, attempt, delay)
            sleep(delay)
            attempt += 1
