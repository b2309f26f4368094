"""One lock per address, held while an event for it is handled (SPEC §2: two events for one address never run at
once, so they never both create its contact), shared by every step of the machine: `fcntl.flock` on a file of the
cache folder (CHRISTMAS_CACHE_DIR; separate Kestra workers share it through a volume, as they share the alert
record and the Notion budget). Events for different addresses never wait on each other, but in the rare case two
addresses' hashes share a stripe.

The operating system releases a lock when its process ends, however it ends: a step killed at its timeout holds
nothing. The files are `STRIPES` at most (an address's is chosen by a hash of it), so the folder never grows with
the campaign, and the file names say nothing of the addresses.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from christmas_tasks.domain.errors import ConfigError

STRIPES = 4096


class AddressLockFiles:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, email: str) -> Path:
        stripe = int.from_bytes(hashlib.sha256(email.encode()).digest()[:4], "big") % STRIPES
        return self.folder / f"{stripe:04d}.lock"

    @contextmanager
    def hold(self, email: str) -> Iterator[None]:
        """Held until the block ends; another process holding `email`'s lock is waited for."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path(email), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:  # without the lock two events could make two contacts: refuse, naming the folder
            raise ConfigError(f"CHRISTMAS_CACHE_DIR: cannot make the address locks in {self.folder}: {exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock
