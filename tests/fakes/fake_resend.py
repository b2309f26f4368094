"""A small in-process fake of Resend's `POST /emails`, and the plumbing that records and replays the
Resend cassettes (cassettes/resend/*.yaml).

The fake is a WSGI application; the adapter's httpx client reaches it through `httpx.WSGITransport`,
so the SDK's base URL stays https://api.resend.com and the cassettes look exactly like traffic to
Resend (`ResendMailer(base_url=...)` can point the SDK anywhere else). It follows Resend's published
API reference:

    POST /emails     200 {"id": "<uuid>"}, with the ratelimit-* headers
    GET /emails/receiving/{id}
                     200 the received email (Resend's received-email object: from, to, subject, text, html,
                     headers, message_id, ...) for an id given to `receive`; 404 not_found "Email not found" else
    errors           {"statusCode": <status>, "message": "...", "name": "<type>"}, e.g.
                     401 missing_api_key, 401 validation_error "API key is invalid" (what the sending
                     endpoint answers for a wrong key), 400 validation_error, 400 invalid_idempotency_key,
                     422 missing_required_field, 429 rate_limit_exceeded (+ retry-after), 500 application_error
                     (Resend's API reference, "Errors")

`Idempotency-Key` is honoured as Resend documents it: a repeat of a key with the same body gets the
first answer again (same id, nothing new sent); with another body, 409 invalid_idempotent_request. A key
lasts 24 hours from its first use (on the fake's `clock`), then the same request sends a new email.
Faults can be injected: 429 with Retry-After, 5xx, 409 concurrent_idempotent_requests (the first
request with the key still in flight), optionally after the email was accepted (`after=True`), and
`LosingTransport` loses the answer to an accepted request, as a dropped connection would.

Modes, chosen by RESEND_CASSETTES:
    (unset)  replay the cassettes; nothing reaches a network or the fake (CI)
    fake     record against this fake (with --record-mode=rewrite)
    live     record against a real Resend test account (see docs/recording.md, section Resend)

`python -m tests.fakes.fake_resend record [--live]` re-records the Resend cassettes and stamps each
file with the header comment saying where it came from.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from christmas_tasks.adapters.resend.mailer import ResendMailer
from christmas_tasks.adapters.retry import RetryPolicy
from christmas_tasks.entrypoints.settings import Secret
from tests.fakes import vcr_headers

ROOT = Path(__file__).resolve().parents[2]
CASSETTE_DIR = ROOT / "cassettes" / "resend"
MODE_ENV = "RESEND_CASSETTES"
LIVE_KEY_ENV = "RESEND_TEST_API_KEY"
API_KEY = "re_test_key_not_a_real_key"  # a fake key; the Authorization header is filtered out anyway
KEY_LIFETIME = timedelta(hours=24)  # Resend: "keys expire after 24 hours"
# Resend's own test sender and recipient: valid on any account, safe to record from a live one.
SENDER = "Example Consulting <onboarding@resend.dev>"
TO = "delivered@resend.dev"
REPLY_TO = "hello@example.com"
HEADER_FAKE = (
    "# Written from Resend's published API shapes (POST /emails, its errors and rate-limit headers)\n"
    "# against a local fake (tests/fakes/fake_resend.py), NOT recorded from a live Resend account.\n"
    "# Re-record: see docs/recording.md, section Resend. The Authorization header is filtered out.\n"
)
HEADER_LIVE = (
    "# Recorded from a live Resend test account (sender onboarding@resend.dev, recipient\n"
    "# delivered@resend.dev). See docs/recording.md, section Resend. The Authorization header is filtered out.\n"
)
NO_SLEEP: Callable[[float], None] = lambda _seconds: None  # noqa: E731

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_NAMED = re.compile(r"^[^<>]*<([^<>]+)>$")
_TAG = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 422: "Unprocessable Entity", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}
RATE_LIMITED = (
    "Too many requests. You can only make 2 requests per second. See rate limit response headers for more "
    "information. Or contact support to increase rate limit."
)
UNEXPECTED = "An unexpected error occurred."
IN_FLIGHT = "Same idempotency key used while original request is still in progress."
OTHER_PAYLOAD = "Same idempotency key used with a different request payload."


# ---------------------------------------------------------------------- the fake


class ResendFault(Exception):
    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message


@dataclass
class Fault:
    """An error answered instead of (or, with `after`, after carrying out) the next request(s)."""

    status: int
    name: str | None  # None: a body that is not Resend's JSON (a proxy's HTML error page)
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    after: bool = False  # send the email, then answer the error (the answer is lost)
    times: int = 1


def _address(value: str) -> str | None:
    """The bare address of `a@b.c` or `Name <a@b.c>`, or None when it is neither."""
    match = _NAMED.match(value.strip())
    bare = match.group(1).strip() if match else value.strip()
    return bare if _EMAIL.match(bare) else None


class FakeResend:
    """Resend's POST /emails in memory; a WSGI application."""

    def __init__(self, *, api_key: str = API_KEY, clock: Callable[[], datetime] | None = None) -> None:
        self.api_key = api_key
        self.clock = clock or (lambda: datetime.now(UTC))  # when keys expire: tests pass theirs
        self.faults: list[Fault] = []
        self.emails: dict[str, dict[str, Any]] = {}  # id -> the accepted request body
        # idempotency key -> (body digest, answer, first used at); forgotten KEY_LIFETIME after first use
        self.keys: dict[str, tuple[str, dict[str, Any], datetime]] = {}
        self.requests: list[dict[str, Any]] = []  # every request that reached the fake
        self.received: dict[str, dict[str, Any]] = {}  # id -> a received (inbound) email, as GET answers it
        self._counter = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ test controls

    def inject(
        self,
        status: int,
        name: str | None = None,
        message: str = "",
        *,
        headers: dict[str, str] | None = None,
        after: bool = False,
        times: int = 1,
    ) -> None:
        self.faults.append(Fault(status, name, message, dict(headers or {}), after, times))

    def rate_limit(self, retry_after: int = 1, times: int = 1) -> None:
        """The next request(s) answer 429 rate_limit_exceeded with `Retry-After: retry_after`."""
        self.inject(429, "rate_limit_exceeded", RATE_LIMITED, headers={
            "retry-after": str(retry_after), "ratelimit-limit": "2", "ratelimit-remaining": "0",
            "ratelimit-reset": str(retry_after),
        }, times=times)

    def server_error(self, times: int = 1, *, after: bool = False) -> None:
        self.inject(500, "application_error", UNEXPECTED, after=after, times=times)

    def in_flight(self, times: int = 1) -> None:
        """The next request(s) answer 409 concurrent_idempotent_requests."""
        self.inject(409, "concurrent_idempotent_requests", IN_FLIGHT, times=times)

    def receive(self, **fields: Any) -> str:
        """An email Resend received (a lead's reply), readable by its id at GET /emails/receiving/{id}; `fields`
        override the sample's (Resend's documented example). Its id."""
        with self._lock:  # its own numbering: the ids of sent emails (and so the cassettes) stay as they were
            email_id = f"56761188-0000-4000-8000-{len(self.received) + 1:012x}"
            self.received[email_id] = {
                "object": "email",
                "id": email_id,
                "to": ["reply@in.example.com"],
                "from": "Jane Doe <jane.doe@example.com>",
                "created_at": "2025-12-02T14:03:00.894719+00:00",
                "subject": "Re: Jane, what your assessment says about Booking",
                "html": "<p>Could we talk on Thursday?</p>",
                "text": "Could we talk on Thursday?",
                "headers": {"message-id": "<CAF7x2Kq9u3jR@mail.example.com>", "mime-version": "1.0"},
                "bcc": [],
                "cc": [],
                "reply_to": [],
                "message_id": "<CAF7x2Kq9u3jR@mail.example.com>",
                "attachments": [],
                **fields,
            }
        return email_id

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        headers = {
            name[5:].replace("_", "-").lower(): value for name, value in environ.items() if name.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        with self._lock:  # one request at a time inside, whatever the number of clients or server threads
            status, payload, extra = self.handle(method, path, headers, raw)
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        content_type = "text/html" if isinstance(payload, bytes) else "application/json; charset=utf-8"
        start_response(
            f"{status} {_REASONS.get(status, 'Error')}",
            [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra.items()],
        )
        return [body]

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, dict[str, str]]:
        self.requests.append({"method": method, "path": path, "headers": headers, "body": raw})
        limits = {"ratelimit-limit": "2", "ratelimit-remaining": "1", "ratelimit-reset": "1"}
        try:
            self._authenticate(headers.get("authorization"))
            fault = self._next_fault()
            if fault is not None and not fault.after:
                return self._fault(fault)
            if path.startswith("/emails/receiving/"):
                if method != "GET":
                    raise ResendFault(405, "method_not_allowed", "Method is not allowed for the requested path.")
                answer = self._received(path.removeprefix("/emails/receiving/"))
            elif path != "/emails":
                raise ResendFault(404, "not_found", "The requested endpoint does not exist.")
            elif method != "POST":
                raise ResendFault(405, "method_not_allowed", "Method is not allowed for the requested path.")
            else:
                answer = self._send(headers, raw)
        except ResendFault as exc:
            return exc.status, {"statusCode": exc.status, "message": exc.message, "name": exc.name}, limits
        if fault is not None:  # the email went out; its answer is lost
            return self._fault(fault)
        return 200, answer, limits

    def _authenticate(self, authorization: str | None) -> None:
        if not authorization or not authorization.startswith("Bearer ") or authorization == "Bearer ":
            raise ResendFault(401, "missing_api_key", "Missing API key in the authorization header.")
        if authorization != f"Bearer {self.api_key}":
            raise ResendFault(401, "validation_error", "API key is invalid")  # what the sending endpoint answers

    def _next_fault(self) -> Fault | None:
        if not self.faults:
            return None
        fault = self.faults[0]
        fault.times -= 1
        if fault.times <= 0:
            self.faults.pop(0)
        return fault

    @staticmethod
    def _fault(fault: Fault) -> tuple[int, Any, dict[str, str]]:
        if fault.name is None:
            page = f"<html><body><h1>{fault.status} {_REASONS.get(fault.status, 'Error')}</h1></body></html>"
            return fault.status, page.encode(), dict(fault.headers)
        return fault.status, {"statusCode": fault.status, "message": fault.message, "name": fault.name}, dict(
            fault.headers
        )

    # ------------------------------------------------------------------ GET /emails/receiving/{id}

    def _received(self, email_id: str) -> dict[str, Any]:
        email = self.received.get(email_id)
        if email is None:
            raise ResendFault(404, "not_found", "Email not found")
        return dict(email)

    # ------------------------------------------------------------------ POST /emails

    def _send(self, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            raise ResendFault(400, "validation_error", "Invalid JSON body.") from None
        if not isinstance(body, dict):
            raise ResendFault(400, "validation_error", "The request body must be a JSON object.")
        key = headers.get("idempotency-key")
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        if key is not None:
            if not 1 <= len(key) <= 256:
                raise ResendFault(400, "invalid_idempotency_key", "The key must be between 1-256 chars.")
            known = self.keys.get(key)
            if known is not None and self.clock() - known[2] >= KEY_LIFETIME:
                del self.keys[key]  # Resend keeps a key 24 hours: after that it is a new request
                known = None
            if known is not None:
                if known[0] != digest:
                    raise ResendFault(409, "invalid_idempotent_request", OTHER_PAYLOAD)
                return dict(known[1])  # the same answer again; nothing new is sent
        self._validate(body)
        self._counter += 1
        email_id = f"4ef1a5e0-0000-4000-8000-{self._counter:012x}"
        self.emails[email_id] = body
        answer = {"id": email_id}
        if key is not None:
            self.keys[key] = (digest, answer, self.clock())
        return dict(answer)

    @staticmethod
    def _validate(body: dict[str, Any]) -> None:
        for name in ("from", "to", "subject"):
            if not body.get(name):
                raise ResendFault(422, "missing_required_field", f"Missing `{name}` field.")
        if not (body.get("html") or body.get("text")):
            raise ResendFault(422, "missing_required_field", "Missing `html` or `text` field.")
        pattern = "The email address needs to follow the `email@example.com` or `Name <email@example.com>` format."
        if not isinstance(body["from"], str) or _address(body["from"]) is None:
            raise ResendFault(400, "validation_error", f"Invalid `from` field. {pattern}")
        for name in ("to", "cc", "bcc", "reply_to"):
            value = body.get(name)
            if value is None:
                continue
            values = value if isinstance(value, list) else [value]
            if not values or len(values) > 50:
                raise ResendFault(400, "validation_error", f"`{name}` accepts 1 to 50 addresses.")
            if any(not isinstance(v, str) or _address(v) is None for v in values):
                raise ResendFault(400, "validation_error", f"Invalid `{name}` field. {pattern}")
        headers = body.get("headers")
        if headers is not None and (
            not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values())
        ):
            raise ResendFault(400, "validation_error", "`headers` must be an object of strings.")
        for tag in body.get("tags") or []:
            if not isinstance(tag, dict) or not _TAG.match(str(tag.get("name", ""))) or not _TAG.match(
                str(tag.get("value", "_"))
            ):
                raise ResendFault(
                    400, "validation_error",
                    "Tags should only contain ASCII letters, numbers, underscores, or dashes.",
                )


class LosingTransport(httpx.BaseTransport):
    """Reaches the fake, then loses its answer for the first `lose` requests (a connection dropped after
    Resend accepted the email); with `deliver=False` the request never arrives (connection refused)."""

    def __init__(self, fake: FakeResend, lose: int = 1, *, deliver: bool = True) -> None:
        self._inner = httpx.WSGITransport(app=fake)
        self.lose = lose
        self.deliver = deliver

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.lose <= 0:
            return self._inner.handle_request(request)
        self.lose -= 1
        if not self.deliver:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        self._inner.handle_request(request).read()
        raise httpx.ReadTimeout("The read operation timed out", request=request)


# ---------------------------------------------------------------------- recording and replaying


def cassette_mode() -> str:
    mode = os.environ.get(MODE_ENV, "").strip().lower()
    if mode not in ("", "fake", "live"):
        raise RuntimeError(f"{MODE_ENV} must be unset, 'fake' or 'live', not {mode!r}")
    return mode or "replay"


fake_only = pytest.mark.skipif(
    cassette_mode() == "live", reason="this fault is injected only into the fake; its cassette is fake-only"
)


_RUN = os.environ.get("RESEND_TEST_RUN") or str(int(time.time()))


def _unsuffix_key(request: Any) -> Any:
    """A live recording's idempotency keys carry the run's suffix (see `key`); the cassette keeps the
    plain key, as a fake recording would, so replay needs no setting."""
    for name in list(request.headers):
        if name.lower() == "idempotency-key":
            request.headers[name] = request.headers[name].removesuffix(f"-{_RUN}")
    return request


def vcr_config(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Replay only unless --record-mode says otherwise; match on method, URI, body and the headers that
    matter (tests/fakes/vcr_headers.py)."""
    config: dict[str, Any] = {
        "filter_headers": ["authorization"],
        "record_mode": pytestconfig.getoption("--record-mode") or "none",
        "match_on": vcr_headers.RESEND_MATCH_ON,
        "decode_compressed_response": True,
    }
    if cassette_mode() == "live":
        config["before_record_request"] = _unsuffix_key
    return config


def key(name: str) -> str:
    """An idempotency key for a test. Live, Resend remembers keys for 24 hours: each recording run gets
    its own suffix so a re-recording is not answered from the last one."""
    return f"test-{name}-{_RUN}" if cassette_mode() == "live" else f"test-{name}"


class SpyClient(httpx.Client):
    """An httpx.Client that keeps every request it sends (the cassette keeps the recorded ones);
    `pace` waits that many seconds before each request (live recording: Resend allows 2 per second)."""

    def __init__(self, *, pace: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sent: list[httpx.Request] = []
        self.pace = pace

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        self.sent.append(request)
        if self.pace:
            time.sleep(self.pace)
        return super().send(request, **kwargs)


def resend_client(fake: FakeResend, request: pytest.FixtureRequest) -> SpyClient:
    """The httpx client of this mode: default transport (replayed by VCR, or live) or the fake's."""
    mode = cassette_mode()
    if mode == "live":
        from tests.conftest import _real_connect

        # Recording from a live account is the one time a test may reach the network.
        request.getfixturevalue("monkeypatch").setattr(socket.socket, "connect", _real_connect)
        return SpyClient(pace=0.6)
    if mode == "fake":
        return SpyClient(transport=httpx.WSGITransport(app=fake))
    return SpyClient()


def resend_mailer(
    fake: FakeResend,
    request: pytest.FixtureRequest,
    *,
    sleep: Callable[[float], None] = NO_SLEEP,
    policy: RetryPolicy | None = None,
    client: httpx.Client | None = None,
    api_key: str | None = None,
) -> ResendMailer:
    """A ResendMailer for this mode; `api_key` overrides the mode's key (a deliberately wrong one)."""
    if api_key is None:
        api_key = os.environ[LIVE_KEY_ENV] if cassette_mode() == "live" else fake.api_key
    return ResendMailer(
        Secret(api_key), client=client or resend_client(fake, request), policy=policy, sleep=sleep
    )


def interactions(cassette: Any) -> list[tuple[Any, Any]]:
    """The (request, response) pairs used so far, in order: recorded (recording) or played back (replay)."""
    if cassette.dirty:
        return list(cassette.data)
    return [cassette.data[i] for i in range(len(cassette.data)) if cassette.play_counts[i]]


def sent_bodies(cassette: Any) -> list[dict[str, Any]]:
    """The JSON bodies of the POST /emails requests in the cassette so far, in order."""
    bodies = []
    for sent, _ in interactions(cassette):
        if sent.method == "POST" and sent.uri.endswith("/emails"):
            raw = sent.body.decode() if isinstance(sent.body, bytes) else sent.body
            bodies.append(json.loads(raw))
    return bodies


def stamp(folder: Path = CASSETTE_DIR, *, live: bool = False) -> list[Path]:
    """Give each cassette lacking one the header comment saying where it came from."""
    stamped = []
    for path in sorted(folder.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if text.startswith("#"):
            continue
        path.write_text((HEADER_LIVE if live else HEADER_FAKE) + text, encoding="utf-8")
        stamped.append(path)
    return stamped


def record(live: bool = False, extra: list[str] | None = None) -> int:
    tests = ["tests/contract/test_mailer_contract.py", "tests/adapters/test_resend_mailer.py"]
    if not live and not extra:
        for old in CASSETTE_DIR.glob("*.yaml"):
            old.unlink()
    if live and not os.environ.get(LIVE_KEY_ENV):
        raise SystemExit(f"{MODE_ENV}=live needs {LIVE_KEY_ENV} (a test account's sending key)")
    CASSETTE_DIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, MODE_ENV: "live" if live else "fake"}
    command = [sys.executable, "-m", "pytest", *tests, "-k", "resend", "--record-mode=rewrite", "-q", *(extra or [])]
    code = subprocess.call(command, cwd=ROOT, env=env)
    for path in stamp(live=live):
        print(f"stamped {path.relative_to(ROOT)}")
    return code


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0] != "record":
        print("usage: python -m tests.fakes.fake_resend record [--live] [pytest args...]")
        raise SystemExit(2)
    raise SystemExit(record(live="--live" in args, extra=[a for a in args[1:] if a != "--live"]))
