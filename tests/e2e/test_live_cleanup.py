"""The live target's cleanup, checked here against the in-process fakes (tests/fakes/fake_notion.py and a
mock Kestra API), since CI never runs against a live deployment: it kills the test address's pending
send-email executions, moves its Notion pages to the trash, and leaves everyone else's alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from notion_client import Client

from christmas_tasks.adapters.notion import NotionLedger
from christmas_tasks.adapters.notion.schema import NOTION_VERSION
from christmas_tasks.domain.keys import sequence_key
from christmas_tasks.domain.records import AnalyticsEntry, ContactUpdate, SequenceRecord
from tests.e2e.config import E2eConfig, E2eConfigError
from tests.e2e.stack import E2eKestraClient, LiveCleanup
from tests.fakes.fake_notion import DATABASES, TOKEN, FakeNotion

pytestmark = pytest.mark.e2e

CAMPAIGN = "Christmas 2025"
AT = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)


class MockKestra:
    """GET executions (list), GET executions/{id}, DELETE executions/{id}/kill."""

    def __init__(self, executions: list[dict[str, Any]]) -> None:
        self.executions = {e["id"]: e for e in executions}
        self.killed: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v1/main/")
        if request.method == "GET" and path == "executions":
            light = [{"id": e["id"], "state": e["state"]} for e in self.executions.values()]
            return httpx.Response(200, json={"results": light, "total": len(light)})
        if request.method == "GET" and path.startswith("executions/"):
            return httpx.Response(200, json=self.executions[path.split("/")[1]])
        if request.method == "DELETE" and path.endswith("/kill"):
            self.killed.append(path.split("/")[1])
            return httpx.Response(202)
        return httpx.Response(404, json={"message": path})


def send(execution_id: str, key: str, state: str) -> dict[str, Any]:
    return {"id": execution_id, "flowId": "send-email", "state": {"current": state},
            "inputs": {"sequence_key": key, "email_number": 2}}


def seed(ledger: NotionLedger, email: str) -> str:
    ledger.contacts.upsert_contact(ContactUpdate(email=email, first_name="Tester", campaign_status="Nurture Sequence"))
    key = sequence_key(CAMPAIGN, "5day", email, "assessment")
    record = SequenceRecord(key=key, email=email, campaign=CAMPAIGN, sequence="5day", event_id="assessment",
                            first_name="Tester", anchor=AT, created_at=AT)
    ledger.sequences.create_sequence(record)
    ledger.sends.log_attempt(AnalyticsEntry(email=email, template="5-Day E2", email_number=2, status="sent", at=AT,
                                     campaign=CAMPAIGN, resend_id="re_1"))
    return key


@pytest.fixture
def fake() -> FakeNotion:
    return FakeNotion()


@pytest.fixture
def ledger(fake: FakeNotion) -> NotionLedger:
    client = Client(auth=TOKEN, notion_version=NOTION_VERSION, retry=False,
                    client=httpx.Client(transport=httpx.WSGITransport(app=fake)))
    return NotionLedger.on(client, contacts_db=DATABASES["contacts"], sequence_db=DATABASES["sequences"],
                     templates_db=DATABASES["templates"], analytics_db=DATABASES["analytics"])


def trashed(fake: FakeNotion) -> dict[str, bool]:
    """email -> in the trash, for every contact and sequence page."""
    out = {}
    for kind, prop in (("contacts", "email"), ("sequences", "Email"), ("analytics", "Email")):
        for page in fake.pages_of(kind):
            out[f"{kind}:{page['properties'][prop]['email']}"] = page["in_trash"]
    return out


def test_the_cleanup_kills_pending_sends_and_trashes_only_the_test_pages(
    fake: FakeNotion, ledger: NotionLedger
) -> None:
    config = E2eConfig(target="live", test_email="owner@example.com")
    mine, other = config.address("cleanup"), "someone.else@example.com"
    my_key, other_key = seed(ledger, mine), seed(ledger, other)
    kestra = MockKestra([send("pending-mine", my_key, "CREATED"), send("done-mine", my_key, "SUCCESS"),
                         send("pending-other", other_key, "CREATED")])
    client = E2eKestraClient("http://127.0.0.1:9", "u@example.com", "pw", transport=httpx.MockTransport(kestra))
    cleanup = LiveCleanup(client, ledger, CAMPAIGN, emails=[mine])

    cleanup.run()

    assert kestra.killed == ["pending-mine"]
    assert trashed(fake) == {f"contacts:{mine}": True, f"sequences:{mine}": True, f"analytics:{mine}": True,
                             f"contacts:{other}": False, f"sequences:{other}": False, f"analytics:{other}": False}
    assert len(cleanup.archived) == 3 and cleanup.emails == []
    assert ledger.contacts.get_contact(mine) is None and ledger.contacts.get_contact(other) is not None


def test_a_cleanup_that_fails_says_what_it_left_behind(fake: FakeNotion, ledger: NotionLedger) -> None:
    email = E2eConfig(target="live", test_email="owner@example.com").address("left")
    seed(ledger, email)
    fake.inject(500, "internal_server_error", "boom", method="PATCH", times=10)
    cleanup = LiveCleanup(None, ledger, CAMPAIGN, emails=[email])
    with pytest.raises(AssertionError, match="archive Notion page .*" + email.replace("+", r"\+")):
        cleanup.run()


def test_test_addresses_are_fresh_plus_addresses_of_the_test_inbox() -> None:
    config = E2eConfig.from_env({"E2E_TARGET": "live", "E2E_TEST_EMAIL": "Owner@Example.com"})
    first, second = config.address("Assessment funnel!"), config.address("Assessment funnel!")
    assert first != second
    assert first.startswith(f"owner+e2e-assessment-funnel-{config.run_id}-") and first.endswith("@example.com")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"E2E_TARGET": "staging"}, "E2E_TARGET"),
        ({"E2E_TEST_EMAIL": "owner+x@example.com"}, "E2E_TEST_EMAIL"),
        ({"E2E_KESTRA_URL": "kestra.example.com"}, "E2E_KESTRA_URL"),
        ({"E2E_SEND_TIMEOUT": "soon"}, "E2E_SEND_TIMEOUT"),
    ],
)
def test_a_wrong_setting_is_an_error_not_a_skip(env: dict[str, str], message: str) -> None:
    with pytest.raises(E2eConfigError, match=message):
        E2eConfig.from_env(env)


def test_secrets_stay_out_of_the_settings_repr() -> None:
    config = E2eConfig.from_env({"E2E_KESTRA_PASSWORD": "hunter2-password", "E2E_WEBHOOK_KEY_SIGNUP": "k" * 40})
    assert "hunter2" not in repr(config) and "k" * 40 not in repr(config)
    assert config.webhook_keys == {"signup": "k" * 40}
