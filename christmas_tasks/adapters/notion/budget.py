"""Notion's request rate (about three a second per integration), shared by every step on the machine: a token
bucket in a file of the cache folder (CHRISTMAS_CACHE_DIR), held under an exclusive lock while it is read and
written, so the steps Kestra runs as separate processes take their requests from one budget.

A request takes a token, waiting when there is none (instead of meeting Notion's 429 and its Retry-After). A
background request (an email's engagement: an open, a click) takes one only while the bucket keeps `reserve` more
for the others, so a burst of opens never eats the requests that sends due at the same time need (SPEC §9); past
`patience` seconds of waiting it goes ahead like any other, so it is delayed, never starved. A bucket that cannot
be read or written (a read-only folder) is no bucket: requests go at once, as before, and Notion's 429 paces them.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

RATE = 3.0  # requests a second: Notion's documented average per integration
RESERVE = 2.0  # tokens a background request leaves for the others (with RATE's capacity: it waits for a full bucket)
PATIENCE = 60.0  # seconds a background request waits for spare tokens before it goes ahead anyway


class RequestBudget:
    def __init__(
        self,
        path: Path,
        *,
        rate: float = RATE,
        reserve: float = RESERVE,
        patience: float = PATIENCE,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = path
        self.rate = rate
        self.capacity = max(rate, 1.0 + reserve)
        self.reserve = reserve
        self.patience = patience
        self._clock = clock
        self._sleep = sleep
        self.waited = 0.0  # seconds this process waited for tokens (the benchmarks print it)

    def take(self, *, background: bool = False) -> None:
        """One request's token: at once when the bucket has one (a background request: one and the reserve),
        else after waiting for the bucket to refill."""
        started = self._clock()
        while True:
            needed = 1.0 + (self.reserve if background else 0.0)
            wait = self._try(needed)
            if wait is None:
                return
            if background and self._clock() - started + wait > self.patience:
                log.info("background Notion request: no spare budget in %.0f s; it goes ahead", self.patience)
                background = False
                continue
            self.waited += wait
            self._sleep(wait)

    def _try(self, needed: float) -> float | None:
        """Take a token if `needed` are there (None), else the seconds until they will be."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            now = self._clock()
            tokens, at = self._read(fd, now)
            tokens = min(self.capacity, tokens + max(0.0, now - at) * self.rate)
            if tokens >= needed:
                self._write(fd, tokens - 1.0, now)
                return None
            self._write(fd, tokens, now)
            return (needed - tokens) / self.rate
        except OSError:
            return None
        finally:
            os.close(fd)  # releases the lock

    def _read(self, fd: int, now: float) -> tuple[float, float]:
        try:
            state = json.loads(os.pread(fd, 200, 0) or b"{}")
            return float(state["tokens"]), float(state["at"])
        except (ValueError, KeyError, TypeError):
            return self.capacity, now  # a new or unreadable bucket is a full one

    @staticmethod
    def _write(fd: int, tokens: float, now: float) -> None:
        data = json.dumps({"tokens": round(tokens, 6), "at": now}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
