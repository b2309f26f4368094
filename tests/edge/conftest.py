"""The edge in-process: httpx's ASGI transport in front (a blocking client over one event loop, as Starlette's
TestClient is, without its deprecated httpx coupling), a fake Kestra behind (an httpx MockTransport recording every
forward), a clock the test sets. Never the network."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette

from christmas_tasks.domain.variables import unsubscribe_token
from christmas_tasks.entrypoints.edge.app import create_app
from christmas_tasks.entrypoints.edge.config import EdgeSettings, forwarded_flows, key_name, posted_kinds

NOW = 1_764_583_200.0  # 2025-12-01T10:00:00Z
CALENDLY_KEY = "calendly-signing-key-0123456789"
RESEND_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
WEBSITE_SECRET = "whsec_" + "c2lnbmluZy1zZWNyZXQtb2YtdGhlLXdlYnNpdGU="
UNSUBSCRIBE_SECRET = "unsubscribe-secret-for-the-edge"
SENDER = "Example Consulting"
KEYS = {flow: f"key-of-{flow}-" + "k" * 32 for flow in forwarded_flows()}


def environment(**extra: str) -> dict[str, str]:
    """A full edge environment: every flow's key, both providers' secrets, the unsubscribe secret."""
    env = {key_name(flow): key for flow, key in KEYS.items()}
    env.update(
        KESTRA_INTERNAL_URL="http://kestra:8080",
        CALENDLY_SIGNING_KEY=CALENDLY_KEY,
        RESEND_WEBHOOK_SECRET=RESEND_SECRET,
        UNSUBSCRIBE_SECRET=UNSUBSCRIBE_SECRET,
        SENDER_NAME=SENDER,
    )
    env.update(extra)
    return env


@dataclass
class FakeKestra:
    """Kestra's webhook endpoint, recording each request; `status` and `down` make it fail."""

    forwards: list[httpx.Request] = field(default_factory=list)
    probes: list[httpx.Request] = field(default_factory=list)
    status: int = 200
    down: bool = False
    unsubscribe_status: int = 200

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.method == "GET":
            self.probes.append(request)
            return httpx.Response(404, json={"message": "Flow not found"})
        self.forwards.append(request)
        parts = request.url.path.split("/")  # /api/v1/main/executions/webhook/christmas/<flow>/<key>
        flow, key = parts[-2], parts[-1]
        if KEYS.get(flow) != key:
            return httpx.Response(404, json={"message": "Webhook not found"})
        if flow == "unsubscribe" and self.unsubscribe_status != 200:
            return httpx.Response(self.unsubscribe_status, json={"message": "boom"})
        if self.status >= 400:
            return httpx.Response(self.status, json={"message": "boom"})
        return httpx.Response(self.status, json={"id": f"exec-{len(self.forwards)}", "flowId": flow})

    def flows(self) -> list[str]:
        return [request.url.path.split("/")[-2] for request in self.forwards]


class Client:
    """A blocking client of an ASGI app: each request runs on the portal's event loop, as a server's would."""

    def __init__(self, app: Starlette, portal: BlockingPortal) -> None:
        self.app = app
        self.portal = portal
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://edge.test")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            return await self.http.request(method, url, **kwargs)

        return self.portal.call(call)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("HEAD", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.portal.call(self.http.aclose)
        self.portal.call(self.app.state.edge.kestra.aclose)


@dataclass
class Clock:
    now: float = NOW

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    client: Client
    kestra: FakeKestra
    clock: Clock
    data: Path


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Callable[..., World]]:
    clients: list[Client] = []
    with ExitStack() as stack:
        portal = stack.enter_context(start_blocking_portal())

        def make(**env: str) -> World:
            kestra = FakeKestra()
            clock = Clock()
            data = Path(env.pop("EDGE_DATA_DIR", tmp_path / f"edge-{len(clients)}"))
            settings = EdgeSettings.from_env(environment(EDGE_DATA_DIR=str(data), **env))
            app = create_app(settings, clock=clock, transport=httpx.MockTransport(kestra.handle))
            client = Client(app, portal)
            clients.append(client)
            return World(client, kestra, clock, data)

        yield make
        for client in clients:
            client.close()


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()


# --- signing, as each sender does -----------------------------------------------------------------------------


def calendly_headers(body: bytes, t: float = NOW, key: str = CALENDLY_KEY) -> dict[str, str]:
    stamp = str(int(t))
    signature = hmac.new(key.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"Calendly-Webhook-Signature": f"t={stamp},v1={signature}", "Content-Type": "application/json"}


def standard_headers(
    body: bytes, message_id: str = "msg_1", t: float = NOW, secret: str = RESEND_SECRET, prefix: str = "svix"
) -> dict[str, str]:
    """Signed by the Standard Webhooks library itself (Svix's scheme: `svix-` headers; ours: `webhook-`)."""
    signature = Webhook(secret).sign(message_id, datetime.fromtimestamp(t, UTC), body)
    return {
        f"{prefix}-id": message_id,
        f"{prefix}-timestamp": str(int(t)),
        f"{prefix}-signature": signature,
        "Content-Type": "application/json",
    }


def body_of(data: Any) -> bytes:
    return json.dumps(data, separators=(", ", ": ")).encode()


def token(email: str) -> str:
    return unsubscribe_token(UNSUBSCRIBE_SECRET, email)


__all__ = ["KEYS", "posted_kinds"]
