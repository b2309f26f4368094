"""kestra_api against httpx.MockTransport: an in-memory stand-in for the few endpoints it calls.

The execution helpers the end-to-end suites add (tests/e2e/kestra.py, not shipped) run against the same
stand-in. The stand-in only records requests and stores flow sources. Its webhook, execution and log calls run against
Kestra's engine in tests/e2e (the local engine of scripts/engine); its flow upload (`deploy`) needs the real
server's API, which no test here can reach (docs/e2e.md: E2E_KESTRA_URL).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest

from christmas_tasks.adapters.kestra_api import KestraClient, KestraError, deploy_from_env, render_webhook_keys
from christmas_tasks.domain.errors import ConfigError
from tests.e2e.kestra import E2eKestraClient

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "S3cret-Passw0rd-never-shown"
KEY = "k" * 40
CA_FILE = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")


class FakeKestra:
    """Flow store + request log behind a MockTransport."""

    def __init__(self) -> None:
        self.flows: dict[tuple[str, str], str] = {}
        self.requests: list[httpx.Request] = []
        self.executions: dict[str, list[dict[str, Any]]] = {}
        self.fail_with: tuple[int, str] | None = None

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail_with:
            return httpx.Response(self.fail_with[0], text=self.fail_with[1])
        path = request.url.path
        prefix = "/api/v1/main/"
        assert path.startswith(prefix), path
        parts = path[len(prefix) :].split("/")
        if parts[0] == "flows":
            return self._flows(request, parts[1:])
        if parts[0] == "executions":
            return self._executions(request, parts[1:])
        return httpx.Response(404)

    def _flows(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        import yaml

        if request.method == "GET" and len(parts) == 2:
            source = self.flows.get((parts[0], parts[1]))
            if source is None:
                return httpx.Response(404, json={"message": "not found"})
            assert request.url.params.get("source") == "true"
            return httpx.Response(200, json={"id": parts[1], "namespace": parts[0], "source": source})
        assert request.headers["content-type"] == "application/x-yaml"
        source = request.content.decode()
        flow = yaml.safe_load(source)
        if request.method == "POST" and not parts:
            self.flows[(flow["namespace"], flow["id"])] = source
            return httpx.Response(200, json={"id": flow["id"], "revision": 1})
        if request.method == "PUT" and len(parts) == 2:
            if (parts[0], parts[1]) not in self.flows:
                return httpx.Response(404)
            self.flows[(parts[0], parts[1])] = source
            return httpx.Response(200, json={"id": flow["id"], "revision": 2})
        return httpx.Response(405)

    def _executions(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        if parts and parts[0] == "webhook":
            return httpx.Response(200, json={"id": "exec-1", "state": {"current": "CREATED"}})
        if not parts and request.method == "GET":
            items = self.executions.get(request.url.params["flowId"], [])
            page, size = int(request.url.params["page"]), int(request.url.params["size"])
            return httpx.Response(200, json={"results": items[(page - 1) * size : page * size], "total": len(items)})
        if len(parts) == 2 and request.method == "POST":
            return httpx.Response(200, json={"id": "exec-2", "state": {"current": "CREATED"}})
        return httpx.Response(404)


@pytest.fixture
def fake() -> FakeKestra:
    return FakeKestra()


@pytest.fixture
def client(fake: FakeKestra) -> E2eKestraClient:
    return E2eKestraClient(
        "http://127.0.0.1:18080", "admin@example.com", PASSWORD, transport=httpx.MockTransport(fake.handler)
    )


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", folder)
    return folder


def test_every_request_carries_basic_auth(client: KestraClient, fake: FakeKestra, flows: Path) -> None:
    client.deploy_flows(flows)
    client.post_webhook("christmas", "assessment", KEY, {"email": "a@example.com"})
    expected = "Basic " + base64.b64encode(f"admin@example.com:{PASSWORD}".encode()).decode()
    assert fake.requests and all(r.headers["authorization"] == expected for r in fake.requests)


def test_tls_is_verified_by_default_and_cannot_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    real = httpx.Client

    def recording(*args: Any, **kwargs: Any) -> httpx.Client:
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(httpx, "Client", recording)
    KestraClient("https://kestra.example.com", "u@example.com", PASSWORD)
    assert seen[-1]["verify"] is True
    KestraClient("https://kestra.example.com", "u@example.com", PASSWORD, verify=str(CA_FILE))
    context = seen[-1]["verify"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    with pytest.raises(ConfigError, match="cannot be turned off"):
        KestraClient("https://kestra.example.com", "u@example.com", PASSWORD, verify=False)
    with pytest.raises(ConfigError, match=re.escape("the CA bundle /nonexistent.pem cannot be read")):
        KestraClient("https://kestra.example.com", "u@example.com", PASSWORD, verify="/nonexistent.pem")


def test_deploy_from_env_verifies_tls_and_takes_a_private_ca(monkeypatch: pytest.MonkeyPatch, flows: Path) -> None:
    seen: list[dict[str, Any]] = []
    fake = FakeKestra()
    real = httpx.Client

    def recording(*args: Any, **kwargs: Any) -> httpx.Client:
        seen.append(dict(kwargs))
        kwargs["transport"] = httpx.MockTransport(fake.handler)
        return real(*args, **kwargs)

    monkeypatch.setattr(httpx, "Client", recording)
    env = {"KESTRA_URL": "https://kestra.example.com", "KESTRA_USERNAME": "u@example.com", "KESTRA_PASSWORD": PASSWORD}
    deploy_from_env(env, flows)
    assert seen[-1]["verify"] is True
    deploy_from_env({**env, "KESTRA_CA_BUNDLE": str(CA_FILE)}, flows)
    assert isinstance(seen[-1]["verify"], ssl.SSLContext)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://kestra.example.com", "plain http to another host"),
        ("ftp://kestra.example.com", "http(s) URL"),
        (f"https://admin:{PASSWORD}@kestra.example.com", "must not carry credentials"),
    ],
)
def test_unsafe_urls_are_refused_without_echoing_the_password(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        KestraClient(url, "u@example.com", PASSWORD)
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:18080", "http://localhost:8080/", "http://[::1]:8080"])
def test_plain_http_is_fine_on_loopback(url: str) -> None:
    KestraClient(url, "u@example.com", PASSWORD).close()


def test_deploy_creates_then_reports_unchanged_then_updates_only_what_changed(
    client: KestraClient, fake: FakeKestra, flows: Path
) -> None:
    first = client.deploy_flows(flows)
    names = sorted(p.stem for p in flows.glob("*.yml"))
    assert sorted(r["id"] for r in first) == names
    assert {r["status"] for r in first} == {"created"}
    assert set(fake.flows) == {("christmas", n) for n in names}
    assert fake.flows[("christmas", "signup")] == (flows / "signup.yml").read_text()

    writes = len([r for r in fake.requests if r.method != "GET"])
    second = client.deploy_flows(flows)
    assert {r["status"] for r in second} == {"unchanged"}
    assert len([r for r in fake.requests if r.method != "GET"]) == writes, "an unchanged flow is not sent again"

    signup = flows / "signup.yml"
    signup.write_text(signup.read_text().replace("description: The", "description: Edited. The", 1))
    third = {r["id"]: r["status"] for r in client.deploy_flows(flows)}
    assert third.pop("signup") == "updated"
    assert set(third.values()) == {"unchanged"}
    assert "Edited." in fake.flows[("christmas", "signup")]


def test_deploy_loads_a_subflow_before_the_flows_that_call_it(client: KestraClient, flows: Path) -> None:
    order = [r["id"] for r in client.deploy_flows(flows)]
    for caller in ("assessment", "noshow", "postcall", "onboarding"):
        assert order.index("send-email") < order.index(caller)


def test_deploy_checks_every_file_before_sending_anything(client: KestraClient, fake: FakeKestra, flows: Path) -> None:
    (flows / "zz-other.yml").write_text("id: other\nnamespace: elsewhere\ntasks: []\n")
    with pytest.raises(ConfigError, match="namespace is 'elsewhere'"):
        client.deploy_flows(flows)
    (flows / "zz-other.yml").write_text("id: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        client.deploy_flows(flows)
    (flows / "zz-other.yml").write_text((flows / "signup.yml").read_text())
    with pytest.raises(ConfigError, match="more than one file defines flow"):
        client.deploy_flows(flows)
    assert fake.requests == []


def test_webhook_keys_can_be_rendered_in_at_upload(client: KestraClient, fake: FakeKestra, flows: Path) -> None:
    client.deploy_flows(flows, render={"WEBHOOK_KEY_ASSESSMENT": KEY})
    assessment = fake.flows[("christmas", "assessment")]
    assert f'key: "{KEY}"' in assessment and "secret('WEBHOOK_KEY_ASSESSMENT')" not in assessment
    assert "secret('WEBHOOK_KEY_SIGNUP')" in fake.flows[("christmas", "signup")], "keys not given stay secrets"
    assert "secret('NOTION_TOKEN')" in fake.flows[("christmas", "step")], "only webhook keys are rendered"
    # the same render again is idempotent
    assert client.deploy_flows(flows, render={"WEBHOOK_KEY_ASSESSMENT": KEY})[0]["status"] == "unchanged"


def test_a_key_read_inside_a_larger_expression_is_rendered_as_a_string_literal(
    client: KestraClient, fake: FakeKestra, flows: Path
) -> None:
    """The step's settings read the unsubscribe link's key inside one big expression: rendered, it is a literal."""
    client.deploy_flows(flows, render={"WEBHOOK_KEY_UNSUBSCRIBE_LINK": KEY})
    step = fake.flows[("christmas", "step")]
    assert f'"UNSUBSCRIBE_LINK_KEY": \'{KEY}\',' in step and "WEBHOOK_KEY_UNSUBSCRIBE_LINK" not in step
    assert f'key: "{KEY}"' in fake.flows[("christmas", "unsubscribe-link")]


@pytest.mark.parametrize("bad", ["short", "has space" + "x" * 40, 'quote"' + "x" * 40, "x" * 257])
def test_a_weak_or_unsafe_webhook_key_is_refused(bad: str) -> None:
    source = "key: \"{{ secret('WEBHOOK_KEY_SIGNUP') }}\"\n"
    with pytest.raises(ConfigError, match="WEBHOOK_KEY_SIGNUP must be 32 to 256") as caught:
        render_webhook_keys(source, {"WEBHOOK_KEY_SIGNUP": bad})
    assert bad not in str(caught.value)


def test_deploy_from_env_names_each_missing_setting(flows: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        deploy_from_env({}, flows)
    assert str(caught.value) == "deploy: missing setting(s) KESTRA_URL, KESTRA_USERNAME, KESTRA_PASSWORD"
    with pytest.raises(ConfigError) as caught:
        deploy_from_env({"KESTRA_URL": "https://k.example.com", "KESTRA_PASSWORD": PASSWORD}, flows)
    assert str(caught.value) == "deploy: missing setting(s) KESTRA_USERNAME"
    assert PASSWORD not in str(caught.value)


def test_deploy_from_env_renders_the_webhook_keys_it_is_given(monkeypatch: pytest.MonkeyPatch, flows: Path) -> None:
    fake = FakeKestra()
    real = httpx.Client
    monkeypatch.setattr(
        httpx, "Client", lambda *a, **k: real(*a, **{**k, "transport": httpx.MockTransport(fake.handler)})
    )
    env = {
        "KESTRA_URL": "http://127.0.0.1:1",
        "KESTRA_USERNAME": "u@example.com",
        "KESTRA_PASSWORD": PASSWORD,
        "WEBHOOK_KEY_NOSHOW": KEY,
    }
    deploy_from_env(env, flows)
    assert f'key: "{KEY}"' in fake.flows[("christmas", "noshow")]


def test_the_password_never_appears_in_errors_or_repr(client: KestraClient, fake: FakeKestra, flows: Path) -> None:
    fake.fail_with = (500, f"internal error while checking password {PASSWORD}")
    with pytest.raises(KestraError) as caught:
        client.deploy_flows(flows)
    message = str(caught.value)
    assert "HTTP 500" in message and "/api/v1/main/flows/" in message
    assert PASSWORD not in message and "***" in message
    assert PASSWORD not in repr(client)


def test_a_connection_failure_names_the_request_not_the_password() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect (auth {PASSWORD})", request=request)

    client = KestraClient("http://127.0.0.1:9", "u@example.com", PASSWORD, transport=httpx.MockTransport(refuse))
    expected = r"GET http://127.0.0.1:9/api/v1/main/flows/christmas/x: ConnectError"
    with pytest.raises(KestraError, match=expected) as caught:
        client.get_flow_source("christmas", "x")
    assert PASSWORD not in str(caught.value)


def test_the_deploy_command_reports_missing_settings_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], flows: Path
) -> None:
    from christmas_tasks.entrypoints.cli import main

    for name in ("KESTRA_URL", "KESTRA_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KESTRA_PASSWORD", PASSWORD)
    assert main(["deploy", "--flows", str(flows)]) == 2
    err = capsys.readouterr().err
    assert "KESTRA_URL" in err and "KESTRA_USERNAME" in err and PASSWORD not in err


def test_post_webhook_sends_the_body_to_the_flow_s_url(client: E2eKestraClient, fake: FakeKestra) -> None:
    answer = client.post_webhook("christmas", "noshow", KEY, {"email": "a@example.com"})
    assert answer["id"] == "exec-1"
    request = fake.requests[-1]
    assert request.method == "POST"
    assert request.url.path == f"/api/v1/main/executions/webhook/christmas/noshow/{KEY}"
    assert json.loads(request.content) == {"email": "a@example.com"}
    assert request.headers["content-type"] == "application/json"
    client.post_webhook("christmas", "noshow", KEY, content=b"not json {")
    assert fake.requests[-1].content == b"not json {"
    assert client.webhook_url("christmas", "noshow", KEY) == (
        f"http://127.0.0.1:18080/api/v1/main/executions/webhook/christmas/noshow/{KEY}"
    )


def test_start_execution_sends_inputs_as_multipart(client: E2eKestraClient, fake: FakeKestra) -> None:
    assert client.start_execution("christmas", "health-check", {"backend": "live"})["id"] == "exec-2"
    request = fake.requests[-1]
    assert request.url.path == "/api/v1/main/executions/christmas/health-check"
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b'name="backend"' in request.content and b"live" in request.content


def test_list_executions_follows_pages(client: E2eKestraClient, fake: FakeKestra) -> None:
    fake.executions["send-email"] = [{"id": f"e{i}"} for i in range(7)]
    assert [e["id"] for e in client.list_executions("christmas", "send-email", size=3)] == [f"e{i}" for i in range(7)]
    assert client.list_executions("christmas", "nothing") == []


def test_wait_for_execution_returns_the_ended_execution_or_times_out() -> None:
    states = iter(["CREATED", "RUNNING", "RUNNING", "SUCCESS"])

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "e1", "state": {"current": next(states)}})

    client = E2eKestraClient("http://127.0.0.1:1", "u@example.com", PASSWORD, transport=httpx.MockTransport(answer))
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    ended = client.wait_for_execution("e1", timeout=10, poll=1, sleep=sleep, clock=lambda: now[0])
    assert ended["state"]["current"] == "SUCCESS" and slept == [1, 1, 1]

    stuck = E2eKestraClient(
        "http://127.0.0.1:1",
        "u@example.com",
        PASSWORD,
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"id": "e2", "state": {"current": "QUEUED"}})),
    )
    with pytest.raises(KestraError, match="execution e2 still QUEUED after 3s"):
        stuck.wait_for_execution("e2", timeout=3, poll=1, sleep=sleep, clock=lambda: now[0])


def test_start_execution_without_inputs_sends_no_body(client: E2eKestraClient, fake: FakeKestra) -> None:
    client.start_execution("christmas", "health-check")
    request = fake.requests[-1]
    assert request.method == "POST" and request.content == b""
    assert "content-type" not in request.headers
