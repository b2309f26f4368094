"""`OutboxMailer`: the local Mailer. Each message becomes an `.eml` file in a folder, plus one line of
`index.jsonl` there, so the funnel runs on a fresh machine with no Resend account (DESIGN.md).

It keeps Resend's idempotency rule, so the local backend cannot hide a duplicate send:

- a repeat with a known key writes nothing and returns the first id with `duplicate=True`;
- a repeat with a known key and another payload raises ProviderError (Resend answers 409).

Kestra runs each task as its own process, so several processes may send at once: the check of the
index and the append to it happen under an exclusive lock (`fcntl.flock` on `.lock` in the folder),
and each `.eml` is written to a temporary file first and renamed into place, so a reader never sees
half a message. The `.eml` is written before its index line: a crash in between leaves an unlisted
file and no index entry, so the retry sends (writes) it again instead of believing it went out.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime, getaddresses
from pathlib import Path
from typing import Any

from christmas_tasks.adapters.files import write_atomically
from christmas_tasks.domain.errors import ProviderError
from christmas_tasks.domain.records import OutgoingEmail, SendResult

INDEX = "index.jsonl"
LOCK = ".lock"
PROVIDER = "outbox"
# Headers are written unfolded: the default 78-column folding would turn a long List-Unsubscribe
# URL into RFC 2047 encoded words, which mail clients do not read as a URL.
_WRITE_POLICY = policy.default.clone(max_line_length=0)
_HEADER_NAME = re.compile(r"[^A-Za-z0-9_-]")


def payload_fingerprint(message: OutgoingEmail) -> str:
    """A digest of everything but the key: the same key with another digest is another payload."""
    payload = {
        "from": message.sender,
        "to": message.to,
        "subject": message.subject,
        "html": message.html,
        "text": message.text,
        "reply_to": message.reply_to,
        "headers": message.headers,
        "tags": message.tags,
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def tag_header(name: str) -> str:
    """`X-Tag-<name>`, the name reduced to characters a header field name may hold."""
    return "X-Tag-" + (_HEADER_NAME.sub("_", name) or "_")


def _addresses(path: Path) -> set[str]:
    """The addresses in an .eml's To, Cc, From and Reply-To headers, lower-cased."""
    with open(path, "rb") as handle:
        headers = BytesHeaderParser(policy=policy.default).parse(handle)
    values = [str(value) for name in ("To", "Cc", "From", "Reply-To") for value in headers.get_all(name, [])]
    return {address.lower() for _, address in getaddresses(values) if address}


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OutboxMailer:
    """Mailer writing to `folder`: `<id>.eml` per message and `index.jsonl` listing them in order."""

    def __init__(self, folder: Path | str, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.folder = Path(folder)
        self._clock = clock

    # ------------------------------------------------------------------ Mailer

    def send(self, message: OutgoingEmail) -> SendResult:
        if not message.idempotency_key.strip():
            raise ProviderError(PROVIDER, 400, "the idempotency key is empty")
        fingerprint = payload_fingerprint(message)
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._locked():
            for entry in self._entries():
                if entry.get("idempotency_key") != message.idempotency_key:
                    continue
                if entry.get("payload_sha256") != fingerprint:
                    raise ProviderError(
                        PROVIDER,
                        409,
                        f"idempotency key {message.idempotency_key!r} was already used with another payload "
                        f"(message {entry.get('id')}); nothing was written",
                    )
                return SendResult(message_id=str(entry["id"]), duplicate=True)
            message_id = f"outbox-{uuid.uuid4()}"
            sent_at = self._clock()
            if sent_at.tzinfo is None:
                raise ValueError("the outbox clock must return an aware datetime")
            sent_at = sent_at.astimezone(UTC)
            filename = f"{message_id}.eml"
            write_atomically(self.folder / filename, self._eml(message, message_id, sent_at))
            self._append(
                {
                    "id": message_id,
                    "idempotency_key": message.idempotency_key,
                    "to": message.to,
                    "from": message.sender,
                    "subject": message.subject,
                    "tags": dict(message.tags),
                    "file": filename,
                    "sent_at": sent_at.isoformat().replace("+00:00", "Z"),
                    "payload_sha256": fingerprint,
                }
            )
        return SendResult(message_id=message_id)

    # ------------------------------------------------------------------ reading back

    def messages(self) -> list[dict[str, Any]]:
        """The index, oldest first: one dict per message (id, idempotency_key, to, from, subject, tags,
        file, sent_at, payload_sha256); `file` is relative to `folder`."""
        if not (self.folder / INDEX).exists():
            return []
        with self._locked():
            return self._entries()

    def messages_about(self, email: str) -> list[dict[str, Any]]:
        """Every message to or about `email` (its To, Cc, From or Reply-To: a forwarded reply's Reply-To is the lead),
        listed or not (an .eml a crash left unlisted), each with its index entry (or None) and its .eml text."""
        with self._locked():
            return [{"entry": entry, "file": path.name, "eml": path.read_text(encoding="utf-8", errors="replace")}
                    for path, entry in self._about(email)]

    def forget(self, email: str) -> int:
        """Delete every message to or about `email`: its .eml file and its index line (the index rewritten
        atomically). How many messages were removed; 0 the second time."""
        if not self.folder.is_dir():
            return 0
        with self._locked():
            found = self._about(email)
            files = {path.name for path, _ in found}
            entries = self._entries()
            kept = [entry for entry in entries if entry.get("file") not in files and entry.get("to") != email]
            if len(kept) != len(entries):
                lines = "".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n" for e in kept)
                write_atomically(self.folder / INDEX, lines.encode("utf-8"), mode=0o644)
            for path, _ in found:
                path.unlink(missing_ok=True)
        return len(found)

    def _about(self, email: str) -> list[tuple[Path, dict[str, Any] | None]]:
        wanted = email.strip().lower()
        listed = {str(entry.get("file")): entry for entry in self._entries()}
        found = []
        for path in sorted(self.folder.glob("*.eml")):
            entry = listed.get(path.name)
            if (entry is not None and str(entry.get("to", "")).lower() == wanted) or wanted in _addresses(path):
                found.append((path, entry))
        return found

    # ------------------------------------------------------------------ internals

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / LOCK, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _entries(self) -> list[dict[str, Any]]:
        path = self.folder / INDEX
        if not path.exists():
            return []
        entries = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash mid-append: that message was never listed
            if isinstance(entry, dict):
                entries.append(entry)
        return entries

    def _append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
        path = self.folder / INDEX
        with open(path, "a+b") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() > 0:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":  # a torn last line: start ours on a line of its own
                    line = "\n" + line
            handle.write(line.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())

    @staticmethod
    def _eml(message: OutgoingEmail, message_id: str, sent_at: datetime) -> bytes:
        eml = EmailMessage()
        try:
            eml["From"] = message.sender
            eml["To"] = message.to
            if message.reply_to:
                eml["Reply-To"] = message.reply_to
            eml["Subject"] = message.subject
            eml["Date"] = format_datetime(sent_at)
            eml["Message-ID"] = f"<{message_id.removeprefix('outbox-')}@outbox.christmas-tasks.invalid>"
            for name, value in message.headers.items():
                eml[name] = value
            for name, value in message.tags.items():
                eml[tag_header(name)] = value
            eml["X-Idempotency-Key"] = message.idempotency_key
            eml.set_content(message.text)
            eml.add_alternative(message.html, subtype="html")
        except (ValueError, TypeError) as exc:  # a line break in a header, a duplicate From, ...
            raise ProviderError(PROVIDER, 422, f"the message cannot be written: {exc}") from None
        return eml.as_bytes(policy=_WRITE_POLICY)
