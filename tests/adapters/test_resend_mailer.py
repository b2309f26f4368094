"""ResendMailer on its own: the request it makes, the retry rule, the idempotency key, the secret.

Tests marked vcr replay cassettes/resend/resend-*.yaml (written against tests/fakes/fake_resend.py;
docs/recording.md, section Resend). The others run against the fake in-process (faults no cassette
can hold: a connection dropped after Resend accepted the email, a refused connection).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
import resend

from christmas_tasks.adapters.resend.mailer import RESEND_API_URL, ResendMailer, resend_tag
from christmas_tasks.adapters.retry import RetryPolicy
from christmas_tasks.domain.errors import ProviderError
from christmas_tasks.domain.records import OutgoingEmail
from christmas_tasks.entrypoints.settings import Secret
from tests.contract.mailer_fixtures import message
from tests.fakes.cassettes import cassette_fixtures
from tests.fakes.fake_resend import (
    API_KEY,
    CASSETTE_DIR,
    FakeResend,
    LosingTransport,
    SpyClient,
    fake_only,
    interactions,
    resend_client,
    resend_mailer,
    sent_bodies,
)
from tests.fakes.fake_resend import vcr_config as resend_vcr_config

WRONG_KEY = "re_wrong_key_for_this_test_0123456789"


vcr_cassette_dir, vcr_config, default_cassette_name = cassette_fixtures(CASSETTE_DIR, resend_vcr_config, "resend-")


@pytest.fixture
def fake() -> FakeResend:
    return FakeResend()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def spied(fake: FakeResend, request: pytest.FixtureRequest, **options: Any) -> tuple[ResendMailer, SpyClient]:
    """A mailer of this mode, and the client it sends through (which keeps every request it sends)."""
    client = resend_client(fake, request)
    return resend_mailer(fake, request, client=client, **options), client


def idempotency_keys(client: SpyClient) -> list[str | None]:
    return [request.headers.get("idempotency-key") for request in client.sent]


# ---------------------------------------------------------------------- cassettes


@pytest.mark.vcr
def test_a_send_posts_one_request_with_the_key_and_the_payload(
    fake: FakeResend, request: pytest.FixtureRequest
) -> None:
    mailer, client = spied(fake, request)
    outgoing = message("resend-success")
    result = mailer.send(outgoing)
    assert result.message_id and result.duplicate is False
    cassette = request.getfixturevalue("vcr")
    ((sent, answer),) = interactions(cassette)
    assert (sent.method, sent.uri) == ("POST", f"{RESEND_API_URL}/emails")
    assert json.loads(sent.body) == resend_payload(outgoing)
    assert json.loads(answer["body"]["string"]) == {"id": result.message_id}
    (sent_now,) = client.sent
    assert sent_now.headers["idempotency-key"] == outgoing.idempotency_key
    assert sent_now.headers["user-agent"].startswith("resend-python:")
    assert sent_now.headers["authorization"] == f"Bearer {API_KEY}"


def resend_payload(outgoing: OutgoingEmail) -> dict[str, Any]:
    """Resend's send-email body for the message, as Resend's API reference spells it."""
    return {
        "from": outgoing.sender,
        "to": [outgoing.to],
        "subject": outgoing.subject,
        "html": outgoing.html,
        "text": outgoing.text,
        "reply_to": outgoing.reply_to,
        "headers": outgoing.headers,
        "tags": [
            {"name": "campaign", "value": "christmas-2025"},
            {"name": "sequence", "value": "5day"},
            {"name": "email_number", "value": "2"},
        ],
    }


@fake_only
@pytest.mark.vcr
def test_a_429_is_retried_after_the_seconds_retry_after_asks(
    fake: FakeResend, request: pytest.FixtureRequest, sleeps: list[float]
) -> None:
    fake.rate_limit(retry_after=2)
    mailer, client = spied(fake, request, sleep=sleeps.append)
    outgoing = message("resend-429")
    result = mailer.send(outgoing)
    assert sleeps == [2.0]  # the header's value, not the backoff's 0.5
    cassette = request.getfixturevalue("vcr")
    statuses = [answer["status"]["code"] for _, answer in interactions(cassette)]
    assert statuses == [429, 200]
    first, second = sent_bodies(cassette)
    assert first == second == resend_payload(outgoing)  # the exact same payload
    assert idempotency_keys(client) == [outgoing.idempotency_key] * 2
    assert result.message_id


@fake_only
@pytest.mark.vcr
def test_a_500_is_retried_with_backoff_then_succeeds(
    fake: FakeResend, request: pytest.FixtureRequest, sleeps: list[float]
) -> None:
    fake.server_error(times=2)
    mailer, client = spied(fake, request, sleep=sleeps.append)
    outgoing = message("resend-500")
    result = mailer.send(outgoing)
    assert sleeps == [0.5, 1.0]
    cassette = request.getfixturevalue("vcr")
    assert [answer["status"]["code"] for _, answer in interactions(cassette)] == [500, 500, 200]
    assert len({json.dumps(body, sort_keys=True) for body in sent_bodies(cassette)}) == 1
    assert idempotency_keys(client) == [outgoing.idempotency_key] * 3
    assert result.message_id


@fake_only
@pytest.mark.vcr
def test_5xx_until_the_attempts_run_out_fails_clearly(
    fake: FakeResend, request: pytest.FixtureRequest, sleeps: list[float]
) -> None:
    fake.server_error(times=3)
    mailer = resend_mailer(fake, request, sleep=sleeps.append, policy=RetryPolicy(attempts=3))
    with pytest.raises(ProviderError) as caught:
        mailer.send(message("resend-500-forever"))
    assert caught.value.status == 500 and caught.value.retryable is True
    assert str(caught.value) == "resend answered 500: application_error: An unexpected error occurred."
    assert sleeps == [0.5, 1.0]
    assert len(interactions(request.getfixturevalue("vcr"))) == 3


@pytest.mark.vcr
def test_a_400_validation_error_fails_at_once_with_resends_message(
    fake: FakeResend, request: pytest.FixtureRequest, sleeps: list[float]
) -> None:
    mailer = resend_mailer(fake, request, sleep=sleeps.append)
    with pytest.raises(ProviderError) as caught:
        mailer.send(message("resend-400", to="not-an-address"))
    assert caught.value.status == 400 and caught.value.retryable is False  # Resend documents validation_error 400
    assert "Invalid `to` field" in str(caught.value) and "validation_error" in str(caught.value)
    assert sleeps == [] and len(interactions(request.getfixturevalue("vcr"))) == 1


@pytest.mark.vcr
def test_a_reused_key_with_another_payload_is_a_409_that_is_not_retried(
    fake: FakeResend, request: pytest.FixtureRequest, sleeps: list[float]
) -> None:
    mailer = resend_mailer(fake, request, sleep=sleeps.append)
    first = mailer.send(message("resend-409-payload"))
    with pytest.raises(ProviderError) as caught:
        mailer.send(message("resend-409-payload", html="<p>Another body</p>"))
    error = caught.value
    assert error.status == 409 and error.retryable is False
    assert "was already used with another payload" in str(error)
    assert "check Resend's logs" in str(error) and "invalid_idempotent_request" in str(error)
    assert message("resend-409-payload").idempotency_key in str(error)
    assert sleeps == [] and len(interactions(request.getfixturevalue("vcr"))) == 2
    assert first.message_id


@fake_only
@pytest.mark.vcr
def test_a_409_while_the_first_request_is_in_flight_is_retried(
    fake: FakeResend, request: pytest.FixtureRequest, sleeps: list[float]
) -> None:
    fake.in_flight()
    mailer = resend_mailer(fake, request, sleep=sleeps.append)
    result = mailer.send(message("resend-409-in-flight"))
    assert result.message_id and sleeps == [0.5]
    cassette = request.getfixturevalue("vcr")
    assert [answer["status"]["code"] for _, answer in interactions(cassette)] == [409, 200]


@pytest.mark.vcr
def test_the_same_key_twice_returns_the_same_id(fake: FakeResend, request: pytest.FixtureRequest) -> None:
    """Two processes (two instances) sending one key: Resend answers both with the first id. Only the
    instance that sent it before can tell the second is a duplicate: Resend's answer does not say."""
    outgoing = message("resend-same-key")
    client = resend_client(fake, request)
    first = resend_mailer(fake, request, client=client).send(outgoing)
    other_process = resend_mailer(fake, request, client=client)
    second = other_process.send(outgoing)
    third = other_process.send(outgoing)
    assert first.message_id == second.message_id == third.message_id
    assert (first.duplicate, second.duplicate, third.duplicate) == (False, False, True)
    cassette = request.getfixturevalue("vcr")
    ids = {json.loads(answer["body"]["string"])["id"] for _, answer in interactions(cassette)}
    assert ids == {first.message_id} and len(interactions(cassette)) == 3


@pytest.mark.vcr
def test_tags_are_sanitized_to_what_resend_accepts(fake: FakeResend, request: pytest.FixtureRequest) -> None:
    mailer = resend_mailer(fake, request)
    outgoing = message("resend-tags", tags={"email number": "2", "campaign": "Christmas 2025 ✓", "seq": "5day"})
    mailer.send(outgoing)  # the fake refuses a tag Resend would refuse
    (body,) = sent_bodies(request.getfixturevalue("vcr"))
    assert body["tags"] == [
        {"name": "email_number", "value": "2"},
        {"name": "campaign", "value": "Christmas_2025__"},
        {"name": "seq", "value": "5day"},
    ]


@pytest.mark.vcr
def test_the_api_key_never_appears_in_errors_or_logs(
    fake: FakeResend, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mailer = resend_mailer(fake, request, api_key=WRONG_KEY)
    with pytest.raises(ProviderError) as caught:
        mailer.send(message("resend-wrong-key"))
    error = caught.value
    assert error.status == 401 and error.retryable is False  # Resend's sending endpoint: 401 "API key is invalid"
    texts = [str(error), repr(error), *map(str, error.args), *(r.getMessage() for r in caplog.records)]
    assert not any(WRONG_KEY in text for text in texts)
    assert resend.api_key != WRONG_KEY


# ---------------------------------------------------------------------- in-process, no cassette


def test_a_connection_dropped_after_acceptance_is_retried_with_the_same_key_and_sends_once(
    fake: FakeResend, sleeps: list[float]
) -> None:
    client = SpyClient(transport=LosingTransport(fake, lose=1))
    mailer = ResendMailer(Secret(API_KEY), client=client, sleep=sleeps.append)
    outgoing = message("resend-dropped")
    result = mailer.send(outgoing)
    assert list(fake.emails) == [result.message_id]  # one email, and the retry got its id back
    assert [r["body"] for r in fake.requests] == [fake.requests[0]["body"]] * 2
    assert idempotency_keys(client) == [outgoing.idempotency_key] * 2
    assert sleeps == [0.5]


def test_a_refused_connection_is_retried_then_fails_as_retryable(fake: FakeResend, sleeps: list[float]) -> None:
    client = SpyClient(transport=LosingTransport(fake, lose=99, deliver=False))
    mailer = ResendMailer(Secret(API_KEY), client=client, sleep=sleeps.append, policy=RetryPolicy(attempts=3))
    with pytest.raises(ProviderError) as caught:
        mailer.send(message("resend-refused"))
    assert caught.value.status is None and caught.value.retryable is True
    assert str(caught.value) == "resend failed: connection failed (ConnectError)"
    assert API_KEY not in str(caught.value) and fake.emails == {} and sleeps == [0.5, 1.0]


def test_a_proxys_html_502_is_retried(fake: FakeResend, sleeps: list[float]) -> None:
    fake.inject(502, None)
    mailer = ResendMailer(Secret(API_KEY), client=httpx.Client(transport=httpx.WSGITransport(app=fake)),
                          sleep=sleeps.append)
    assert mailer.send(message("resend-502")).message_id and sleeps == [0.5]


def test_a_gateways_html_403_fails_at_once_with_its_http_status(fake: FakeResend, sleeps: list[float]) -> None:
    # A body that is not Resend's JSON (a WAF or CDN page): the HTTP status is the only signal. resend 2.23-2.34
    # took the code from the body and called it a 500, so it was retried as an outage.
    fake.inject(403, None, times=5)
    mailer = ResendMailer(Secret(API_KEY), client=httpx.Client(transport=httpx.WSGITransport(app=fake)),
                          sleep=sleeps.append)
    with pytest.raises(ProviderError) as caught:
        mailer.send(message("resend-403"))
    assert caught.value.status == 403 and not caught.value.retryable and sleeps == []
    assert len(fake.requests) == 1


def test_a_used_up_daily_quota_is_not_retried(fake: FakeResend, sleeps: list[float]) -> None:
    fake.inject(429, "daily_quota_exceeded", "You have reached your daily email sending quota.",
                headers={"retry-after": "3600"})
    mailer = ResendMailer(Secret(API_KEY), client=httpx.Client(transport=httpx.WSGITransport(app=fake)),
                          sleep=sleeps.append)
    with pytest.raises(ProviderError, match="daily email sending quota") as caught:
        mailer.send(message("resend-quota"))
    assert caught.value.retryable is False and caught.value.retry_after == 3600 and sleeps == []


def test_a_retry_after_beyond_the_policy_gives_up_instead_of_waiting(fake: FakeResend, sleeps: list[float]) -> None:
    fake.rate_limit(retry_after=120)
    mailer = ResendMailer(Secret(API_KEY), client=httpx.Client(transport=httpx.WSGITransport(app=fake)),
                          sleep=sleeps.append)
    with pytest.raises(ProviderError) as caught:
        mailer.send(message("resend-long-wait"))
    assert caught.value.status == 429 and caught.value.retry_after == 120 and sleeps == []


def test_the_sdk_globals_are_left_as_they_were_and_never_hold_the_key(
    fake: FakeResend, monkeypatch: pytest.MonkeyPatch
) -> None:
    sentinel_client = resend.default_http_client
    monkeypatch.setattr(resend, "api_key", "re_someone_elses_key")
    monkeypatch.setattr(resend, "api_url", "https://example.invalid")
    seen: list[tuple[Any, Any]] = []
    real_send = resend.Emails.send

    def watching(params: Any, options: Any = None) -> Any:
        seen.append((resend.api_key, resend.api_url))
        return real_send(params, options)

    monkeypatch.setattr(resend.Emails, "send", watching)
    mailer = ResendMailer(Secret(API_KEY), client=httpx.Client(transport=httpx.WSGITransport(app=fake)))
    mailer.send(message("resend-globals"))
    assert seen and all(api_key != API_KEY and url == RESEND_API_URL for api_key, url in seen)
    assert (resend.api_key, resend.api_url, resend.default_http_client) == (
        "re_someone_elses_key", "https://example.invalid", sentinel_client,
    )
    assert fake.requests[0]["headers"]["authorization"] == f"Bearer {API_KEY}"


def test_a_base_url_points_the_sdk_elsewhere(fake: FakeResend) -> None:
    client = SpyClient(transport=httpx.WSGITransport(app=fake))
    mailer = ResendMailer(Secret(API_KEY), client=client, base_url="http://127.0.0.1:9999/")
    mailer.send(message("resend-base-url"))
    assert str(client.sent[0].url) == "http://127.0.0.1:9999/emails"


def test_an_empty_key_or_an_overlong_idempotency_key_is_refused_before_any_request(fake: FakeResend) -> None:
    with pytest.raises(ValueError, match="empty"):
        ResendMailer(Secret(" "))
    client = SpyClient(transport=httpx.WSGITransport(app=fake))
    mailer = ResendMailer(Secret(API_KEY), client=client)
    with pytest.raises(ProviderError, match="1 to 256 characters"):
        mailer.send(message("x", idempotency_key="k" * 257))
    assert client.sent == []


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("campaign", "campaign"), ("christmas-2025", "christmas-2025"), ("email number", "email_number"),
     ("Noël", "No_l"), ("", "_"), ("x" * 300, "x" * 256)],
)
def test_resend_tag(raw: str, clean: str) -> None:
    assert resend_tag(raw) == clean
