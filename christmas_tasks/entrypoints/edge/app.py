"""The edge's routes (SPEC §10), on Starlette. Every answer, in the order the checks run:

- a wrong method: 405 (Starlette's router, with `Allow`); an unknown path or kind: 404;
- a body over 256 KB: 413, found while reading (a `Content-Length` over it is refused before reading anything);
- a failed check: 401 `{"error": "unauthorized"}`, nothing forwarded, one log line naming the sender and the reason;
- a checked body that is not a JSON object: 400, nothing forwarded;
- a checked body the package's model refuses (a website's, a CRM's, Calendly's): 422 `{"error": ..., "problems":
  ["<path in the body>: <why>", ...]}`, nothing forwarded;
- Calendly's event types this funnel does not handle: 200 `{"forwarded": false, ...}` (accepted, not forwarded:
  a refusal would make Calendly retry, then disable the subscription, for a type it will never handle);
- a redelivered message (its `svix-id`, or `webhook-id`, already forwarded): 200 `{"forwarded": false,
  "duplicate": true}`;
- forwarded: 202 `{"forwarded": "<flow>", "execution_id": "..."}`; Kestra down, slow or answering anything but
  2xx: 503 `{"error": "unavailable"}` with `Retry-After`, so the sender retries.

The unsubscribe pages answer HTML: 200 (the question, or done), 400 (a bad token: nothing changed), 503 (not
recorded just now). An accepted unsubscribe (its token checked here) is forwarded to the `unsubscribe` flow as soon
as it lands, and answered once Kestra has taken it: the person never waits behind the events queued before it.
`/healthz` answers 200 `{"edge": "up", "kestra": "up" | "down"}`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from christmas_tasks.domain.variables import unsubscribe_token
from christmas_tasks.entrypoints.edge import pages
from christmas_tasks.entrypoints.edge.config import (
    CALENDLY_FLOWS,
    UNSUBSCRIBED,
    EdgeSettings,
    key_name,
    posted_kinds,
    resend_flow,
    signing_secret_name,
)
from christmas_tasks.entrypoints.edge.kestra import Kestra, KestraDown
from christmas_tasks.entrypoints.edge.replays import SeenIds
from christmas_tasks.entrypoints.edge.signatures import (
    KEY_HEADER,
    STANDARD,
    SVIX,
    Refused,
    check_calendly,
    check_key,
    check_standard,
)

LIMIT = 256 * 1024  # bytes: SPEC §10
ONE_CLICK = ("List-Unsubscribe", "One-Click")  # RFC 8058's body, as a form field
# the unsubscribe event's `reason`, as the ledger's record of how the person asked
ONE_CLICK_REASON = "one-click unsubscribe (RFC 8058) from the link in an email"
BUTTON_REASON = "the unsubscribe page's button, from the link in an email"
EMAIL_MAX = 320
RETRY_AFTER = "60"
log = logging.getLogger("christmas_tasks.edge")

Clock = Callable[[], float]


class TooLarge(Exception):
    """A body over LIMIT."""


async def read_body(request: Request) -> bytes:
    """The body's bytes, refused with TooLarge as soon as they pass LIMIT (never read whole first)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > LIMIT:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > LIMIT:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None (not JSON, not UTF-8, nested past Python's limit, not an object)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def form_fields(content_type: str, body: bytes) -> list[tuple[str, str]]:
    """The fields of a form body, form-urlencoded or multipart/form-data (RFC 8058 allows both); none otherwise."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    if kind == "multipart/form-data":
        header = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
        try:
            message = BytesParser(policy=HTTP).parsebytes(header + body)
            parts = list(message.iter_parts()) if message.is_multipart() else []
            fields = []
            for part in parts:
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True)
                if isinstance(name, str) and isinstance(payload, bytes):
                    fields.append((name, payload.decode("utf-8", "replace")))
            return fields
        except Exception:  # a malformed multipart body is no one-click body; it never fails the request
            return []
    return []


def _json(data: Mapping[str, Any], status: int, **headers: str) -> JSONResponse:
    return JSONResponse(dict(data), status_code=status, headers=headers or None)


UNAUTHORIZED = {"error": "unauthorized"}
UNAVAILABLE = {"error": "unavailable: retry later"}


class Edge:
    """The routes' state: the settings, Kestra, the ids already forwarded, the clock."""

    def __init__(self, settings: EdgeSettings, kestra: Kestra, seen: SeenIds, clock: Clock) -> None:
        self.settings = settings
        self.kestra = kestra
        self.seen = seen
        self.clock = clock
        self.posted_kinds = frozenset(posted_kinds())

    # --- helpers ----------------------------------------------------------------------------------------------

    @staticmethod
    def refuse(sender: str, reason: object) -> JSONResponse:
        log.warning("edge: refused %s: %s", sender, reason)
        return _json(UNAUTHORIZED, 401)

    async def forward(self, sender: str, flow: str, body: bytes, message_id: str | None = None) -> Response:
        """Forward a checked body to the flow's webhook: 202 with the execution id, or 503. A claimed message id is
        released when the forward fails, so the sender's retry goes through."""
        key = self.settings.keys.get(flow)
        if key is None:
            log.error("edge: cannot forward %s to %s: no %s is configured", sender, flow, key_name(flow))
            answer: Response = _json(UNAVAILABLE, 503, **{"retry-after": RETRY_AFTER})
        else:
            try:
                forwarded = await self.kestra.forward(flow, key.reveal(), body)
            except KestraDown as down:
                log.warning("edge: %s not forwarded to %s: %s", sender, flow, down)
                answer = _json(UNAVAILABLE, 503, **{"retry-after": RETRY_AFTER})
            else:
                if forwarded.ok:
                    execution = forwarded.execution_id
                    log.info("edge: %s forwarded to %s (execution %s)", sender, flow, execution)
                    return _json({"forwarded": flow, "execution_id": execution}, 202)
                log.warning("edge: %s not forwarded: Kestra answered %s to the %s webhook", sender, forwarded.status,
                            flow)
                answer = _json(UNAVAILABLE, 503, **{"retry-after": RETRY_AFTER})
        if message_id is not None:
            await run_in_threadpool(self.seen.release, message_id)
        return answer

    async def once(self, sender: str, flow: str, body: bytes, message_id: str) -> Response:
        """Forward a signed message once: a redelivery of its id (already forwarded, or being forwarded) is answered
        200 and not forwarded."""
        claim = f"{sender}:{message_id}"
        if not await run_in_threadpool(self.seen.claim, claim, self.clock()):
            log.info("edge: %s message %s already forwarded: not again", sender, message_id)
            return _json({"forwarded": False, "duplicate": True}, 200)
        return await self.forward(sender, flow, body, claim)

    def invalid(self, sender: str, kind: str, data: dict[str, Any]) -> Response | None:
        """422 naming each bad field by its path in the sender's body, with nothing forwarded, when the package's own
        model refuses the body (Kestra's step checks it again behind); None when it is valid. Resend's bodies are
        not checked here: a refusal makes Resend retry for days, and the step records what it cannot read."""
        from christmas_tasks.domain.errors import InvalidInput
        from christmas_tasks.entrypoints.inbound import read_event

        try:
            read_event(kind, data, datetime.fromtimestamp(self.clock(), UTC))
        except InvalidInput as refused:
            lines = [str(problem) for problem in refused.problems]
            log.info("edge: %s refused, not forwarded: %s", sender, "; ".join(p.field for p in refused.problems))
            return _json({"error": f"invalid {refused.what}: nothing was forwarded", "problems": lines}, 422)
        except Exception as exc:  # the package's own failure is not the sender's: Kestra's check behind decides
            # its type only: a message could quote the body, which the edge never logs
            log.error("edge: %s could not be checked here (%s); forwarded for Kestra's check", sender,
                      type(exc).__name__)
        return None

    # --- the routes -------------------------------------------------------------------------------------------

    async def calendly(self, request: Request) -> Response:
        body = await read_body(request)
        try:
            check_calendly(request.headers, body, self.settings.calendly_key, self.clock())
        except Refused as refused:
            return self.refuse("calendly", refused)
        data = json_object(body)
        if data is None:
            return _json({"error": "the body is not a JSON object"}, 400)
        event = data.get("event")
        flow = CALENDLY_FLOWS.get(event) if isinstance(event, str) else None
        if flow is None:
            log.info("edge: calendly %r not forwarded: not an event type this funnel handles", str(event)[:80])
            return _json({"forwarded": False, "reason": "an event type this funnel does not handle"}, 200)
        return self.invalid("calendly", flow, data) or await self.forward("calendly", flow, body)

    async def resend(self, request: Request) -> Response:
        body = await read_body(request)
        try:
            message_id = check_standard(
                request.headers, body, self.settings.resend_secret, self.clock(), SVIX, "RESEND_WEBHOOK_SECRET"
            )
        except Refused as refused:
            return self.refuse("resend", refused)
        data = json_object(body)
        if data is None:
            return _json({"error": "the body is not a JSON object"}, 400)
        kind = data.get("type")
        if not isinstance(kind, str) or not kind.startswith("email."):
            # a domain's or a contact's event (Resend sends them when subscribed): about no email, so nothing to
            # record against one; accepted, never refused (a refusal makes Resend retry it for days)
            log.info("edge: resend %r not forwarded: not an email's event", str(kind)[:80])
            return _json({"forwarded": False, "reason": "not an email's event: recorded in this log only"}, 200)
        return await self.once("resend", resend_flow(kind), body, message_id)

    async def posted(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in self.posted_kinds:
            return _json({"error": "not found"}, 404)
        body = await read_body(request)
        sender = f"/hooks/{kind}"
        secret = self.settings.signing_secrets.get(kind)
        message_id = None
        try:
            if secret is not None:  # a signing secret configured: its signature is required, a key is not enough
                name = signing_secret_name(kind)
                message_id = check_standard(request.headers, body, secret, self.clock(), STANDARD, name)
            else:
                given = request.path_params.get("key") or request.headers.get(KEY_HEADER)
                check_key(given, self.settings.keys.get(kind), key_name(kind))
        except Refused as refused:
            return self.refuse(sender, refused)
        data = json_object(body)
        if data is None:
            return _json({"error": "the body is not a JSON object"}, 400)
        invalid = self.invalid(sender, kind, data)
        if invalid is not None:
            return invalid
        if message_id is not None:
            return await self.once(sender, kind, body, message_id)
        return await self.forward(sender, kind, body)

    async def unsubscribe(self, request: Request) -> Response:
        sender = self.settings.sender_name
        email = request.query_params.get("email", "").strip().lower()
        token = request.query_params.get("token", "").strip()
        body = await read_body(request) if request.method == "POST" else b""
        secret = self.settings.unsubscribe_secret
        if secret is None or UNSUBSCRIBED not in self.settings.keys:
            log.error("edge: unsubscribe not served: UNSUBSCRIBE_SECRET or %s is not configured",
                      key_name(UNSUBSCRIBED))
            return _page(pages.later(sender, email, token), 503)
        expected = unsubscribe_token(secret.reveal(), email)
        if not (email and token and len(email) <= EMAIL_MAX and len(token) <= 200
                and _same(token, expected)):
            log.warning("edge: refused unsubscribe: %s token", "no" if not token else "a wrong")
            return _page(pages.invalid(sender), 400)
        if request.method != "POST":  # GET and HEAD change nothing: link scanners fetch every link
            return _page(pages.ask(sender, email, token), 200)
        one_click = ONE_CLICK in form_fields(request.headers.get("content-type", ""), body)
        # The token was checked here: the person is answered as soon as Kestra has taken the event, never after the
        # events queued before it (the unsubscribe flow checks the token again, and suppresses the address).
        event = {"email": email, "token": token, "reason": ONE_CLICK_REASON if one_click else BUTTON_REASON}
        try:
            answer = await self.kestra.forward(UNSUBSCRIBED, self.settings.keys[UNSUBSCRIBED].reveal(),
                                               json.dumps(event).encode())
        except KestraDown as down:
            log.warning("edge: unsubscribe not forwarded: %s", down)
            return _page(pages.later(sender, email, token), 503)
        if answer.ok:
            how = "one-click" if one_click else "the page's button"
            log.info("edge: unsubscribe forwarded (%s, execution %s)", how, answer.execution_id)
            return _page(pages.done(sender, email), 200)
        log.warning("edge: unsubscribe not recorded: Kestra answered %s%s", answer.status,
                    f" (is {key_name(UNSUBSCRIBED)} the same at both?)" if 400 <= answer.status < 500 else "")
        return _page(pages.later(sender, email, token), 503)

    async def healthz(self, request: Request) -> Response:
        kestra = "up" if await self.kestra.answers() else "down"
        return _json({"edge": "up", "kestra": kestra}, 200, **{"cache-control": "no-store"})


def _same(given: str, expected: str) -> bool:
    import hmac

    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def _page(html: str, status: int) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers=pages.HEADERS)


def _guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """A route's handler, with the two ways reading a body ends early: too large (413), or the client gone."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except TooLarge:
            log.warning("edge: refused %s: body over %d bytes", request.url.path[:80], LIMIT)
            return _json({"error": f"the body is over {LIMIT // 1024} KB"}, 413, connection="close")
        except ClientDisconnect:
            return Response(status_code=400)

    return endpoint


class NoSniff:
    """`X-Content-Type-Options: nosniff` on every answer (the pages set it too, with their CSP), 404 and 405 too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"x-content-type-options" for name, _ in headers):
                    headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


def create_app(
    settings: EdgeSettings,
    *,
    clock: Clock = time.time,
    transport: httpx.AsyncBaseTransport | None = None,
    seen: SeenIds | None = None,
) -> Starlette:
    """The edge as an ASGI app. `transport` stands in for the network to Kestra (tests: a fake Kestra)."""
    kestra = Kestra(settings.kestra_url, transport)
    edge = Edge(settings, kestra, seen or SeenIds(settings.data_dir), clock)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log.info("edge: %s", settings.summary())
        yield
        await kestra.aclose()

    routes = [
        Route("/hooks/calendly", _guarded(edge.calendly), methods=["POST"]),
        Route("/hooks/resend", _guarded(edge.resend), methods=["POST"]),
        Route("/hooks/{kind}", _guarded(edge.posted), methods=["POST"]),
        Route("/hooks/{kind}/{key}", _guarded(edge.posted), methods=["POST"]),
        Route("/unsubscribe", _guarded(edge.unsubscribe), methods=["GET", "HEAD", "POST"]),
        Route("/healthz", edge.healthz, methods=["GET", "HEAD"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(NoSniff)])
    app.state.edge = edge
    return app


def from_environment() -> Starlette:
    """The app from the process environment: what each uvicorn worker calls (`christmas-tasks serve`)."""
    return create_app(EdgeSettings.from_env(os.environ))
