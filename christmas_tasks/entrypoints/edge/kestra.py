"""Forwarding to Kestra: a checked request becomes a POST to the flow's webhook on the private network,
`<KESTRA_INTERNAL_URL>/api/v1/main/executions/webhook/christmas/<flow>/<key>`, with the body the sender posted.

No credentials: Kestra's basic auth leaves its webhook path open (`kestra.server.basic-auth.open-urls`), the key in
the path being that path's authentication, so the edge needs no password of Kestra's. Its answer is returned as it
is (`Forwarded`); only a Kestra that cannot be reached in time raises `KestraDown`. Whether Kestra answers at all
(`/healthz`) is asked of the same path with a flow that does not exist: any answer below 500 means its webserver
serves webhooks, and nothing is started.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

NAMESPACE = "christmas"
TENANT = "main"
TIMEOUT = 10.0  # a webhook that does not wait answers at once
WAIT_TIMEOUT = 60.0  # the unsubscribe link's flow waits for its execution: a person is looking at the page
PROBE_FLOW = "edge-health-probe"  # no such flow: Kestra answers 404, creating nothing


class KestraDown(Exception):
    """Kestra could not be reached, or did not answer in time: the sender is told to retry (503)."""


@dataclass(frozen=True)
class Forwarded:
    """Kestra's answer to one forward."""

    status: int
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def execution_id(self) -> str | None:
        """The new execution's id, from the answer of a webhook that does not wait (Kestra answers the execution)."""
        try:
            data: Any = json.loads(self.text)
        except ValueError:
            return None
        found = data.get("id") if isinstance(data, dict) else None
        return found if isinstance(found, str) else None


class Kestra:
    """Kestra's webhooks, over one httpx.AsyncClient per event loop (made on first use; `aclose` at shutdown)."""

    def __init__(self, base_url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
            self._client = httpx.AsyncClient(transport=self._transport, limits=limits, follow_redirects=False)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def webhook_url(self, flow: str, key: str) -> str:
        return f"{self.base_url}/api/v1/{TENANT}/executions/webhook/{NAMESPACE}/{flow}/{quote(key, safe='')}"

    async def forward(
        self,
        flow: str,
        key: str,
        body: bytes,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
        wait: bool = False,
    ) -> Forwarded:
        """POST `body` to the flow's webhook; Kestra's answer, whatever its status. Raises KestraDown when Kestra
        cannot be reached or does not answer in time (the message names the failure, never the key)."""
        try:
            response = await self._http().post(
                self.webhook_url(flow, key),
                content=body,
                params=query,
                headers={"content-type": content_type},
                timeout=WAIT_TIMEOUT if wait else TIMEOUT,
            )
        except httpx.TimeoutException:
            raise KestraDown(f"Kestra did not answer the {flow} webhook in time") from None
        except httpx.HTTPError as exc:
            raise KestraDown(f"Kestra cannot be reached ({type(exc).__name__})") from None
        return Forwarded(response.status_code, response.text)

    async def answers(self) -> bool:
        """Whether Kestra's webserver answers on the webhook path (no execution is started)."""
        try:
            response = await self._http().get(self.webhook_url(PROBE_FLOW, "probe"), timeout=3.0)
        except httpx.HTTPError:
            return False
        return response.status_code < 500
