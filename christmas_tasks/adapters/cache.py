"""A small on-disk cache shared by the processes of one machine (each Kestra task is a new process).

It keeps what costs a Notion call but rarely changes: each database's data source id (until Notion
says it is gone) and, for `CHRISTMAS_TEMPLATE_CACHE_SECONDS`, each template. One JSON file per key,
written atomically; a missing, unreadable or expired entry is simply a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class DiskCache:
    def __init__(self, folder: Path, clock: Callable[[], float] = time.time) -> None:
        self.folder = folder
        self._clock = clock

    def _path(self, key: str) -> Path:
        return self.folder / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")

    def get(self, key: str, max_age: float | None = None) -> Any:
        """The value stored under `key`, or None when absent, unreadable or older than `max_age` seconds."""
        try:
            entry = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        if max_age is not None and self._clock() - float(entry.get("at", 0)) > max_age:
            return None
        return entry.get("value")

    def set(self, key: str, value: Any) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"key": key, "at": self._clock(), "value": value}, handle)
            os.replace(tmp, self._path(key))
        except OSError:
            pass  # a cache that cannot be written only costs calls

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
