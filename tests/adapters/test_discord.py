"""DiscordAlerter: True on 2xx, False (and one warning) on anything else, never raises, never logs the URL."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable

import httpx
import pytest

from christmas_tasks.adapters.discord import CONTENT_LIMIT, DiscordAlerter
from christmas_tasks.entrypoints.settings import Secret
from christmas_tasks.usecases.ports import Alerter

TOKEN = "s3cr3t-webhook-token-0123456789abcdefghijklmnopqrstuvwxyz"
URL = f"https://discord.com/api/webhooks/123456789012345678/{TOKEN}"


def client(handler: Callable[[httpx.Request], httpx.Response]) -> tuple[httpx.Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return httpx.Client(transport=httpx.MockTransport(record)), seen


def assert_no_url_logged(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        assert TOKEN not in text and "webhooks/123456789012345678" not in text


def test_an_alert_is_posted_as_content_and_2xx_is_true(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    http, seen = client(lambda _request: httpx.Response(204))
    alerter: Alerter = DiscordAlerter(Secret(URL), client=http)
    assert alerter.alert("CRITICAL lead: Jane (Jane's Salon), 2 red systems") is True
    (request,) = seen
    assert request.method == "POST" and str(request.url) == URL
    body = json.loads(request.content)
    assert body["content"] == "CRITICAL lead: Jane (Jane's Salon), 2 red systems"
    assert body["allowed_mentions"] == {"parse": []}  # "@everyone" in a lead's name pings nobody
    assert_no_url_logged(caplog)  # httpx's own "HTTP Request: POST <url>" line included
    assert any(r.name == "httpx" for r in caplog.records)


@pytest.mark.parametrize("status", [400, 401, 404, 429, 500, 503])
def test_a_refusal_is_false_with_a_warning_and_no_url(status: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    http, _ = client(lambda _request: httpx.Response(status, json={"message": "nope", "code": 0}))
    assert DiscordAlerter(Secret(URL), client=http).alert("alert") is False
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(status) in warnings[0].getMessage()
    assert_no_url_logged(caplog)


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("[Errno 111] Connection refused"), httpx.ReadTimeout("timed out"),
     httpx.RemoteProtocolError("Server disconnected"), RuntimeError(f"something odd about {URL}")],
)
def test_a_failure_is_false_and_never_raises(error: Exception, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def fail(_request: httpx.Request) -> httpx.Response:
        raise error

    http, _ = client(fail)
    assert DiscordAlerter(Secret(URL), client=http).alert("alert") is False
    assert [r.levelno for r in caplog.records if r.name == "christmas_tasks.adapters.discord"] == [logging.WARNING]
    assert_no_url_logged(caplog)


def test_an_unreachable_webhook_with_the_default_client_is_false(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now: connection refused
    url = f"http://127.0.0.1:{port}/api/webhooks/123456789012345678/{TOKEN}"
    assert DiscordAlerter(Secret(url), timeout=2.0).alert("alert") is False
    assert_no_url_logged(caplog)


def test_a_long_alert_is_cut_to_discords_limit() -> None:
    http, seen = client(lambda _request: httpx.Response(200, json={"id": "1"}))
    assert DiscordAlerter(Secret(URL), client=http).alert("x" * 5000) is True
    content = json.loads(seen[0].content)["content"]
    assert len(content) == CONTENT_LIMIT and content.endswith("…")


def test_an_empty_url_is_false_without_a_request(caplog: pytest.LogCaptureFixture) -> None:
    http, seen = client(lambda _request: httpx.Response(204))
    assert DiscordAlerter(Secret(""), client=http).alert("alert") is False
    assert seen == [] and "empty" in caplog.text


def test_the_alerter_never_shows_its_url() -> None:
    alerter = DiscordAlerter(Secret(URL))
    assert TOKEN not in repr(alerter.__dict__)
