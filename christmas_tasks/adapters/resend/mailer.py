"""`ResendMailer`: the live Mailer, on the resend SDK 2.x (`resend.Emails.send`).

One email costs one `POST /emails`, plus one per retry. The request carries an `Idempotency-Key`
header (the SDK's `options={"idempotency_key": ...}`), so a retried or duplicated send cannot go out
twice within Resend's 24-hour key window (`ports.IDEMPOTENCY_WINDOW`). Beyond it the ledger guards
(SPEC §6: an email marked sent is never sent again), except for the one send whose ledger write failed
after Resend accepted it: `Funnel.send` logs that it WAS SENT and until when a retry is safe.

Retries follow the package's one rule (`christmas_tasks.adapters.retry`): 429, 5xx, a dropped connection or a
timeout is retried, waiting what `Retry-After` asks when Resend sends it; the payload is built once,
so every attempt sends the same key with the exact same body. Any other 4xx fails at once with
Resend's own message. Two 409 answers are special:

- `invalid_idempotent_request`: the key was already used with another payload. Not retried: the
  email may well have gone out already (look the key up in Resend's logs before sending anew).
- `concurrent_idempotent_requests`: the first request with this key is still in flight. Retried.

A connection dropped after Resend accepted the message is the idempotency key's job: the retry with
the same key and payload gets the original id back, and nothing is sent twice.

Tags: Resend accepts only ASCII letters, digits, `_` and `-` in a tag's name and value (at most 256
characters each), so any other character is replaced by `_` before sending (`resend_tag`).

Secret handling. The resend SDK keeps its key, base URL and HTTP client in module globals. This
adapter never puts the key there: it plugs in its own HTTP client (`ResendHttpClient`, on httpx),
which writes the `Authorization` header itself, and it swaps the SDK's globals in and out under one
process-wide lock for the length of a single request (the lock is not held while waiting to retry).
The key never appears in an error message or a log line (messages are scrubbed as a last resort).

`duplicate`: Resend answers a replayed key exactly as it answered the first request, so the only
duplicates this adapter can report are the ones it has seen itself: a second send of a key that this
instance already sent gets `duplicate=True` (Resend is still asked, and still refuses another payload).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import resend
from resend.exceptions import NoContentError, ResendError

from christmas_tasks.adapters.retry import RetryPolicy, call_with_retry, retry_after_seconds
from christmas_tasks.adapters.secret import Secret
from christmas_tasks.domain.errors import ProviderError
from christmas_tasks.domain.records import OutgoingEmail, SendResult

log = logging.getLogger(__name__)

PROVIDER = "resend"
RESEND_API_URL = "https://api.resend.com"
TAG_LIMIT = 256
KEY_LIMIT = 256
# Stands in for the key in the SDK's global: the real one is only ever written by ResendHttpClient.
_PLACEHOLDER_KEY = "re_set_by_christmas_tasks_http_client"
_SDK_LOCK = threading.Lock()
_TAG_ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def resend_tag(text: str) -> str:
    """`text` as Resend accepts a tag name or value: ASCII letters, digits, `_`, `-`; 1–256 characters."""
    cleaned = "".join(c if c in _TAG_ALLOWED else "_" for c in text)[:TAG_LIMIT]
    return cleaned or "_"


class _Unreachable(Exception):
    """The request got no HTTP answer (connection refused or dropped, timeout)."""


class ResendHttpClient(resend.HTTPClient):
    """The SDK's HTTP client on httpx; it alone writes the `Authorization` header, from the Secret."""

    def __init__(self, api_key: Secret, client: httpx.Client | None = None, timeout: float = 15.0) -> None:
        self._key = api_key
        self._client = client or httpx.Client(timeout=timeout)
        self._timeout = timeout

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json: dict[str, object] | list[object] | None = None,
        files: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        sent = {name: value for name, value in headers.items() if name.lower() != "authorization"}
        sent["Authorization"] = f"Bearer {self._key.reveal()}"
        try:
            if files is not None or data is not None:
                response = self._client.request(
                    method.upper(), url, headers=sent, files=files, data=data, timeout=self._timeout
                )
            else:
                response = self._client.request(method.upper(), url, headers=sent, json=json, timeout=self._timeout)
        except httpx.TimeoutException as exc:
            raise _Unreachable(f"no answer in time ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise _Unreachable(f"connection failed ({type(exc).__name__})") from None
        return response.content, response.status_code, response.headers


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def _status(code: object) -> int | None:
    try:
        return int(str(code))
    except ValueError:
        return None


@contextmanager
def sdk_globals(http: ResendHttpClient, base_url: str) -> Iterator[None]:
    """The SDK's globals set for one request (its HTTP client, which alone writes the key, and the API root), under
    the process-wide lock, and put back after it."""
    with _SDK_LOCK:
        saved = (resend.api_key, resend.api_url, resend.default_http_client)
        resend.api_key, resend.api_url, resend.default_http_client = _PLACEHOLDER_KEY, base_url, http
        try:
            yield
        finally:
            resend.api_key, resend.api_url, resend.default_http_client = saved


def _detail(exc: ResendError, scrub: Callable[[str], str], prefix: str = "") -> str:
    name = str(exc.error_type or "")
    text = scrub(str(exc.message or "")).strip()
    return prefix + (f"{name}: {text}" if name else text)


def provider_error(exc: ResendError, scrub: Callable[[str], str], prefix: str = "") -> ProviderError:
    """A Resend API error as the package's one retry rule reads it: no answer, 429 (but a used-up quota) and 5xx are
    retryable, honouring Retry-After; any other 4xx is not. `prefix` says what the request was about."""
    name = str(exc.error_type or "")
    if name == "HttpClientError":  # the SDK's wrapper around ResendHttpClient's _Unreachable
        text = scrub(str(exc.message or "")).strip()
        return ProviderError(PROVIDER, None, prefix + (text or "no answer"), retryable=True)
    status = _status(exc.code)
    retry_after = retry_after_seconds(_header(exc.headers, "retry-after"))
    detail = _detail(exc, scrub, prefix)
    if status == 429:
        # A used-up daily or monthly quota will not come back within any retry budget.
        quota = name in ("daily_quota_exceeded", "monthly_quota_exceeded")
        return ProviderError(PROVIDER, 429, detail, retryable=not quota, retry_after=retry_after)
    if status is None or status >= 500:
        return ProviderError(PROVIDER, status, detail, retryable=True, retry_after=retry_after)
    return ProviderError(PROVIDER, status, detail)


class ResendMailer:
    """Mailer on Resend. `client`: an httpx.Client to send through (tests give one on a fake);
    `sleep` waits between retries (tests give a no-op)."""

    def __init__(
        self,
        api_key: Secret,
        *,
        client: httpx.Client | None = None,
        base_url: str = RESEND_API_URL,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 15.0,
    ) -> None:
        if not api_key.reveal().strip():
            raise ValueError("the Resend API key is empty")
        self._key = api_key
        self._http = ResendHttpClient(api_key, client, timeout)
        self._base_url = base_url.rstrip("/")
        self._policy = policy or RetryPolicy()
        self._sleep = sleep
        self._sent: dict[str, str] = {}  # idempotency key -> id, for the keys this instance sent

    # ------------------------------------------------------------------ Mailer

    def send(self, message: OutgoingEmail) -> SendResult:
        key = message.idempotency_key
        if not 1 <= len(key) <= KEY_LIMIT:
            raise ProviderError(PROVIDER, None, f"an idempotency key has 1 to {KEY_LIMIT} characters, not {len(key)}")
        params = self.params(message)  # built once: every attempt sends exactly this

        def attempt() -> str:
            return self._post(params, key)

        message_id = call_with_retry(attempt, policy=self._policy, sleep=self._sleep, on_retry=self._on_retry)
        duplicate = self._sent.get(key) == message_id
        self._sent[key] = message_id
        return SendResult(message_id=message_id, duplicate=duplicate)

    @staticmethod
    def params(message: OutgoingEmail) -> dict[str, Any]:
        """The `POST /emails` body for `message` (`resend.Emails.SendParams`)."""
        params: dict[str, Any] = {
            "from": message.sender,
            "to": [message.to],
            "subject": message.subject,
            "html": message.html,
            "text": message.text,
        }
        if message.reply_to:
            params["reply_to"] = message.reply_to
        if message.headers:
            params["headers"] = dict(message.headers)
        if message.tags:
            tags = {resend_tag(name): resend_tag(value) for name, value in message.tags.items()}
            params["tags"] = [{"name": name, "value": value} for name, value in tags.items()]
        return params

    # ------------------------------------------------------------------ one attempt

    def _post(self, params: dict[str, Any], key: str) -> str:
        options: dict[str, Any] = {"idempotency_key": key}
        with sdk_globals(self._http, self._base_url):
            try:
                response: Any = resend.Emails.send(params, options)  # type: ignore[arg-type]
            except ResendError as exc:
                raise self._error(exc, key) from None
            except NoContentError:
                raise ProviderError(PROVIDER, None, "Resend answered without a body") from None
        message_id = response.get("id") if isinstance(response, Mapping) else None
        if not isinstance(message_id, str) or not message_id:
            raise ProviderError(PROVIDER, 200, "Resend answered without an email id")
        return message_id

    def _scrub(self, text: str) -> str:
        secret = self._key.reveal()
        return text.replace(secret, "***") if secret else text

    def _error(self, exc: ResendError, key: str) -> ProviderError:
        name = str(exc.error_type or "")
        status = _status(exc.code)
        if status == 409 and name == "invalid_idempotent_request":
            return ProviderError(
                PROVIDER,
                409,
                f"idempotency key {key!r} was already used with another payload ({_detail(exc, self._scrub)}). The "
                "email may already have gone out: check Resend's logs for this key before sending it under a new key",
            )
        if status == 409 and name == "concurrent_idempotent_requests":
            retry_after = retry_after_seconds(_header(exc.headers, "retry-after"))
            return ProviderError(PROVIDER, 409, _detail(exc, self._scrub), retryable=True, retry_after=retry_after)
        return provider_error(exc, self._scrub)

    @staticmethod
    def _on_retry(error: ProviderError, attempt: int, delay: float) -> None:
        log.warning("%s; attempt %d failed, retrying in %.1fs with the same idempotency key", error, attempt, delay)
