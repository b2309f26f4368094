"""`AlertLogFile`: the record of recent failure alerts, one JSON file in a folder every step of the server shares.

Each Kestra step is a new process: the record lives in `CHRISTMAS_CACHE_DIR` (as the Notion caches do), written
atomically, and an exclusive `flock` on a lock file beside it makes each read-change-write whole, so an alert and a
window's summary posted at the same moment cannot lose one another's entry. Not the ledger: a burst of failures is
most often the ledger's provider failing (Notion down), and the record must work exactly then. A record that cannot
be read (missing, damaged) is an empty one, and one that cannot be written only loses the throttle's memory: an
alert never fails because of it (the worst case is a message the throttle would have held).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from christmas_tasks.adapters.files import write_atomically

log = logging.getLogger(__name__)

RECORD = "failure-alerts.json"
LOCK = "failure-alerts.lock"


class AlertLogFile:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / RECORD

    @contextmanager
    def locked(self) -> Iterator[dict[str, Any]]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd: int | None = os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            log.warning("failure alerts: the record's folder %s cannot be used (%s): no throttle", self.folder,
                        type(exc).__name__)
            fd = None
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            data = self._read()
            yield data
            self._write(data)
        finally:
            if fd is not None:
                os.close(fd)  # closing releases the lock

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("failure alerts: the record %s is unreadable (%s): starting afresh", self.path,
                        type(exc).__name__)
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        try:
            write_atomically(self.path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))
        except OSError as exc:
            log.warning("failure alerts: the record %s cannot be written (%s)", self.path, type(exc).__name__)
