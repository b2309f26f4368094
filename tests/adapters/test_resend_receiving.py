"""ResendReceiving on its own, against the fake Resend in-process (tests/fakes/fake_resend.py): the received email
read by its id (`GET /emails/receiving/{id}`), and the package's one retry rule on it: 429 and 5xx retried, honouring
Retry-After; any other 4xx (an unknown id, a wrong key) at once, naming the email id; the key in no error."""

from __future__ import annotations

import logging

import httpx
import pytest
import resend

from christmas_tasks.adapters.resend.receiving import ResendReceiving
from christmas_tasks.adapters.retry import RetryPolicy
from christmas_tasks.domain.errors import ProviderError
from christmas_tasks.entrypoints.settings import Secret
from tests.fakes.fake_resend import API_KEY, FakeResend, LosingTransport, SpyClient

WRONG_KEY = "re_wrong_key_for_this_test_0123456789"


@pytest.fixture
def fake() -> FakeResend:
    return FakeResend()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def receiving(
    fake: FakeResend, sleeps: list[float], *, key: str = API_KEY, transport: httpx.BaseTransport | None = None,
    policy: RetryPolicy | None = None,
) -> tuple[ResendReceiving, SpyClient]:
    client = SpyClient(transport=transport or httpx.WSGITransport(app=fake))
    return ResendReceiving(Secret(key), client=client, sleep=sleeps.append, policy=policy), client


def test_a_received_email_is_read_by_its_id_with_one_get(fake: FakeResend, sleeps: list[float]) -> None:
    email_id = fake.receive(headers={"Auto-Submitted": "auto-replied"})
    inbox, client = receiving(fake, sleeps)
    email = inbox.get(email_id)
    assert email["id"] == email_id and email["from"] == "Jane Doe <jane.doe@example.com>"
    assert (email["text"], email["html"]) == ("Could we talk on Thursday?", "<p>Could we talk on Thursday?</p>")
    assert email["headers"] == {"Auto-Submitted": "auto-replied"}
    assert "http_headers" not in email, "the SDK's own response headers are not the email's"
    (sent,) = client.sent
    assert (sent.method, str(sent.url)) == ("GET", f"https://api.resend.com/emails/receiving/{email_id}")
    assert sent.headers["authorization"] == f"Bearer {API_KEY}" and sleeps == []


def test_an_unknown_id_is_a_404_that_fails_at_once_naming_it(fake: FakeResend, sleeps: list[float]) -> None:
    inbox, client = receiving(fake, sleeps)
    with pytest.raises(ProviderError) as caught:
        inbox.get("3a6b1c2d-0000-4000-8000-00000000dead")
    error = caught.value
    assert (error.status, error.retryable) == (404, False)
    assert str(error) == (
        "resend answered 404: received email 3a6b1c2d-0000-4000-8000-00000000dead: not_found: Email not found"
    )
    assert len(client.sent) == 1 and sleeps == []


def test_a_429_is_retried_after_the_seconds_retry_after_asks(fake: FakeResend, sleeps: list[float]) -> None:
    email_id = fake.receive()
    fake.rate_limit(retry_after=2)
    inbox, client = receiving(fake, sleeps)
    assert inbox.get(email_id)["id"] == email_id
    assert sleeps == [2.0] and len(client.sent) == 2


def test_a_500_is_retried_with_backoff_then_succeeds(fake: FakeResend, sleeps: list[float]) -> None:
    email_id = fake.receive()
    fake.server_error(times=2)
    inbox, client = receiving(fake, sleeps)
    assert inbox.get(email_id)["id"] == email_id
    assert sleeps == [0.5, 1.0] and len(client.sent) == 3


def test_5xx_until_the_attempts_run_out_fails_as_retryable_naming_the_id(
    fake: FakeResend, sleeps: list[float]
) -> None:
    email_id = fake.receive()
    fake.inject(503, "application_error", "Service unavailable", times=10)
    inbox, client = receiving(fake, sleeps, policy=RetryPolicy(attempts=3))
    with pytest.raises(ProviderError) as caught:
        inbox.get(email_id)
    assert caught.value.status == 503 and caught.value.retryable, "the Kestra step's retries take it from here"
    assert email_id in str(caught.value) and len(client.sent) == 3


def test_a_refused_connection_is_retried(fake: FakeResend, sleeps: list[float]) -> None:
    email_id = fake.receive()
    inbox, client = receiving(fake, sleeps, transport=LosingTransport(fake, lose=1, deliver=False))
    assert inbox.get(email_id)["id"] == email_id
    assert len(client.sent) == 2 and sleeps == [0.5]


def test_a_wrong_key_fails_at_once_and_appears_in_no_error_or_log(
    fake: FakeResend, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    email_id = fake.receive()
    inbox, _ = receiving(fake, sleeps, key=WRONG_KEY)
    with caplog.at_level(logging.DEBUG), pytest.raises(ProviderError) as caught:
        inbox.get(email_id)
    assert (caught.value.status, caught.value.retryable) == (401, False) and email_id in str(caught.value)
    assert WRONG_KEY not in str(caught.value) and WRONG_KEY not in caplog.text
    assert resend.api_key != WRONG_KEY and WRONG_KEY not in repr(inbox.__dict__)


@pytest.mark.parametrize("email_id", ["", "../emails", "a/b", "x" * 101, "id?html_format=cid"])
def test_what_is_no_resend_id_is_refused_before_any_request(
    fake: FakeResend, sleeps: list[float], email_id: str
) -> None:
    inbox, client = receiving(fake, sleeps)
    with pytest.raises(ProviderError, match="not a Resend email id"):
        inbox.get(email_id)
    assert client.sent == [] and fake.requests == []


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        ResendReceiving(Secret(" "))
