"""`ResendReceiving`: Resend's received (inbound) emails, on the resend SDK (`resend.Emails.Receiving.get`, SDK 2.19
and later).

Resend's `email.received` webhook carries a received email's metadata only (sender, recipients, subject, ids), never
its text, HTML or headers: they are read here, one `GET /emails/receiving/{id}` per email (plus one per retry). The
answer is Resend's received-email object as Resend gives it (`from`, `to`, `subject`, `text`, `html`, `headers`,
`message_id`, ...); Resend's words are read at the edge (christmas_tasks/entrypoints/inbound/resend.py), as the
webhook's are.

Errors follow the package's one retry rule (`christmas_tasks.adapters.retry`), as the Mailer's do: 429, 5xx, a
dropped connection or a timeout is retried, honouring `Retry-After`; any other 4xx (404: no received email with this
id; 401: the key) fails at once. Every error names the email id; none carries the key (the SDK's globals and the
`Authorization` header are handled as in `ResendMailer`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import resend
from resend.exceptions import NoContentError, ResendError

from christmas_tasks.adapters.resend.mailer import (
    PROVIDER,
    RESEND_API_URL,
    ResendHttpClient,
    provider_error,
    sdk_globals,
)
from christmas_tasks.adapters.retry import RetryPolicy, call_with_retry
from christmas_tasks.adapters.secret import Secret
from christmas_tasks.domain.errors import ProviderError

log = logging.getLogger(__name__)

# What a Resend id looks like (a UUID); anything else would be a path of another endpoint, so it is never requested.
EMAIL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")


class ResendReceiving:
    """Resend's received emails by id. `client`: an httpx.Client to read through (tests give one on a fake); `sleep`
    waits between retries (tests give a no-op). The HTTP client is made at the first read, so building this costs
    nothing for a step that reads none."""

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
        self._client = client
        self._timeout = timeout
        self._http: ResendHttpClient | None = None
        self._base_url = base_url.rstrip("/")
        self._policy = policy or RetryPolicy()
        self._sleep = sleep

    def get(self, email_id: str) -> dict[str, Any]:
        """The received email `email_id`, as Resend answers `GET /emails/receiving/{id}` (without the SDK's own
        `http_headers`). ProviderError names the id; `retryable` when the package's retries ran out on an outage."""
        if not isinstance(email_id, str) or not EMAIL_ID.match(email_id):
            raise ProviderError(PROVIDER, None, f"received email {email_id!r}: not a Resend email id; nothing was read")

        def attempt() -> dict[str, Any]:
            return self._get(email_id)

        return call_with_retry(attempt, policy=self._policy, sleep=self._sleep, on_retry=self._on_retry)

    def _get(self, email_id: str) -> dict[str, Any]:
        if self._http is None:
            self._http = ResendHttpClient(self._key, self._client, self._timeout)
        with sdk_globals(self._http, self._base_url):
            try:
                response: Any = resend.Emails.Receiving.get(email_id)
            except ResendError as exc:
                raise provider_error(exc, self._scrub, f"received email {email_id}: ") from None
            except NoContentError:
                message = f"received email {email_id}: Resend answered without a body"
                raise ProviderError(PROVIDER, None, message) from None
        if not isinstance(response, Mapping):
            raise ProviderError(PROVIDER, 200, f"received email {email_id}: Resend answered without the email")
        return {name: value for name, value in response.items() if name != "http_headers"}

    def _scrub(self, text: str) -> str:
        secret = self._key.reveal()
        return text.replace(secret, "***") if secret else text

    @staticmethod
    def _on_retry(error: ProviderError, attempt: int, delay: float) -> None:
        log.warning("%s; attempt %d failed, retrying in %.1fs", error, attempt, delay)
