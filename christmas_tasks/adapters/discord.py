"""`DiscordAlerter`: posts an alert (a CRITICAL lead, SPEC §4) to a Discord webhook.

An alert never fails the funnel: any failure (network, 4xx, 5xx, a 429) is logged as a warning and
`alert` returns False; it never raises and never retries. The webhook URL is a secret (whoever has
it can post to the channel), so it never appears in a log line: this module's own warnings name only
the status or the kind of error, and a filter on the `httpx` logger blanks it out of httpx's
"HTTP Request: POST <url>" lines.
"""

from __future__ import annotations

import logging

import httpx

from christmas_tasks.adapters.secret import Secret

log = logging.getLogger(__name__)

CONTENT_LIMIT = 2000  # Discord refuses a message longer than this


class _RedactSecret(logging.Filter):
    """Replaces a secret in a log record's formatted message (installed on the `httpx` logger)."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:
            return True
        if self.secret in text:
            record.msg = text.replace(self.secret, "<discord webhook>")
            record.args = None
        return True


def _guard_httpx_log(secret: str) -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactSecret) and f.secret == secret for f in logger.filters):
        logger.addFilter(_RedactSecret(secret))


class DiscordAlerter:
    """Alerter on a Discord webhook: `POST {"content": text}`; True on a 2xx answer."""

    def __init__(self, webhook_url: Secret, client: httpx.Client | None = None, timeout: float = 5.0) -> None:
        self._url = webhook_url
        self._client = client
        self._timeout = timeout
        if webhook_url.reveal():
            _guard_httpx_log(webhook_url.reveal())

    def alert(self, text: str) -> bool:
        url = self._url.reveal()
        if not url:
            log.warning("Discord alert not sent: the webhook URL is empty")
            return False
        content = text if len(text) <= CONTENT_LIMIT else text[: CONTENT_LIMIT - 1] + "…"
        # allowed_mentions: a lead's name is outside input; "@everyone" in it must not ping the server.
        payload = {"content": content, "allowed_mentions": {"parse": []}}
        try:
            if self._client is not None:
                response = self._client.post(url, json=payload, timeout=self._timeout)
            else:
                with httpx.Client(timeout=self._timeout) as client:
                    response = client.post(url, json=payload)
        except httpx.TimeoutException as exc:
            log.warning("Discord alert not sent: no answer within %.1fs (%s)", self._timeout, type(exc).__name__)
            return False
        except Exception as exc:  # never raise: an alert never fails the funnel
            log.warning("Discord alert not sent: %s", type(exc).__name__)
            return False
        if 200 <= response.status_code < 300:
            return True
        log.warning("Discord alert not sent: Discord answered %d", response.status_code)
        return False
