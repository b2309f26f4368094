"""kestra_api against httpx.MockTransport: an in-memory stand-in for the few endpoints it calls.

The execution helpers the end-to-end suites add (tests/e2e/kestra.py, not shipped) run against the same
stand-in. The stand-in only records requests and stores flow sources; its namespace update and validation read the
body as Kestra 1.3's FlowController does (docs/deploy.md, "Loading the flows": the update splits on every `---` and
deletes the namespace's other flows; validation answers one result per document, `constraints` set on an invalid
one). Its webhook, execution and log calls run against Kestra's engine in tests/e2e (the local engine of
scripts/engine); its flow upload (`deploy`) needs the real server's API, which no test here can reach
(docs/e2e.md: E2E_KESTRA_URL).
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
import yaml

from christmas_tasks.adapters.kestra_api import KestraClient, KestraError, deploy_from_env, render_webhook_keys
from christmas_tasks.domain.errors import ConfigError, InvalidInput
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
        self.updates: list[tuple[str, str, bool]] = []  # each namespace update: (namespace, body, delete)
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
        if request.method == "GET" and len(parts) == 1:
            ids = sorted(flow_id for namespace, flow_id in self.flows if namespace == parts[0])
            return httpx.Response(200, json=[{"id": flow_id, "namespace": parts[0], "revision": 1} for flow_id in ids])
        if request.method == "GET" and len(parts) == 2:
            source = self.flows.get((parts[0], parts[1]))
            if source is None:
                return httpx.Response(404, json={"message": "not found"})
            assert request.url.params.get("source") == "true"
            return httpx.Response(200, json={"id": parts[1], "namespace": parts[0], "source": source})
        assert request.headers["content-type"] == "application/x-yaml"
        body = request.content.decode()
        if request.method == "POST" and parts == ["validate"]:
            # FlowController.validateFlows: the body split on `\n+---\n*?`, one answer per document
            documents = re.split(r"\n+---\n*?", body)
            return httpx.Response(200, json=[self._validate(index, doc) for index, doc in enumerate(documents)])
        if request.method == "POST" and len(parts) == 1:
            return self._update_namespace(parts[0], body, request.url.params.get("delete", "true") == "true")
        return httpx.Response(405)

    @staticmethod
    def _validate(index: int, source: str) -> dict[str, Any]:
        import yaml

        result: dict[str, Any] = {"index": index, "outdated": False, "warnings": [], "deprecationPaths": []}
        try:
            flow = yaml.safe_load(source.strip())
        except yaml.YAMLError:
            return {**result, "constraints": "Illegal flow source: not YAML"}
        result.update(flow=flow.get("id"), namespace=flow.get("namespace"))
        types = [item.get("type", "") for key in ("tasks", "triggers") for item in flow.get(key) or []]
        unknown = [t for t in types if not str(t).startswith("io.kestra.")]
        if unknown:
            result["constraints"] = f"tasks[0].type: Invalid type: {unknown[0]}"
        return result

    def _update_namespace(self, namespace: str, body: str, delete: bool) -> httpx.Response:
        """FlowController.updateFlowsInNamespace then bulkUpdateOrCreate: split on every `---`, the namespace and the
        ids checked, the namespace's other flows deleted first, then each flow updated or created."""
        import yaml

        self.updates.append((namespace, body, delete))
        flows = [yaml.safe_load(source.strip()) for source in body.split("---")]
        sources = [source.strip() for source in body.split("---")]
        if any(flow["namespace"] != namespace for flow in flows):
            return httpx.Response(422, json={"message": "flow namespace is invalid"})
        ids = [flow["id"] for flow in flows]
        if len(set(ids)) < len(ids):
            return httpx.Response(422, json={"message": "Duplicate flow id"})
        deleted = [key for key in self.flows if key[0] == namespace and key[1] not in ids] if delete else []
        for key in deleted:
            del self.flows[key]
        for flow, source in zip(flows, sources, strict=True):
            self.flows[(namespace, flow["id"])] = source
        answer = [{"id": flow_id, "namespace": namespace} for flow_id in [key[1] for key in deleted] + ids]
        return httpx.Response(200, json=answer)

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


def writes(fake: FakeKestra) -> list[httpx.Request]:
    """The requests that change the server: the namespace updates (validation and reads change nothing)."""
    return [r for r in fake.requests if r.method != "GET" and not r.url.path.endswith("/flows/validate")]


def test_deploy_creates_then_reports_unchanged_then_updates_only_what_changed(
    client: KestraClient, fake: FakeKestra, flows: Path
) -> None:
    first = client.deploy_flows(flows)
    names = sorted(p.stem for p in flows.glob("*.yml"))
    assert sorted(r["id"] for r in first) == names
    assert {r["status"] for r in first} == {"created"}
    assert set(fake.flows) == {("christmas", n) for n in names}
    # stored as written (Kestra trims each document of the namespace update)
    assert fake.flows[("christmas", "signup")] == (flows / "signup.yml").read_text().strip()

    count = len(writes(fake))
    second = client.deploy_flows(flows)
    assert {r["status"] for r in second} == {"unchanged"}
    assert len(writes(fake)) == count, "nothing changed: nothing is sent, not even the namespace update"

    signup = flows / "signup.yml"
    signup.write_text(signup.read_text().replace("description: The", "description: Edited. The", 1))
    before = dict(fake.flows)
    third = {r["id"]: r["status"] for r in client.deploy_flows(flows)}
    assert third.pop("signup") == "updated"
    assert set(third.values()) == {"unchanged"}
    assert "Edited." in fake.flows[("christmas", "signup")]
    # one namespace update carries every flow (so that it can delete the others); only signup's source changed
    assert len(writes(fake)) == count + 1
    assert {key for key in fake.flows if fake.flows[key] != before[key]} == {("christmas", "signup")}


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


# --- the namespace update: validate everything, then one update with delete ------------------------------------


def test_the_deploy_validates_every_flow_then_sends_one_namespace_update_with_delete(
    client: KestraClient, fake: FakeKestra, flows: Path
) -> None:
    """The request shapes of Kestra 1.3's FlowController: POST flows/validate, then POST flows/{namespace}?delete=true,
    both application/x-yaml with every flow as one document of a `---`-joined body, a subflow before its callers."""
    report = client.deploy_flows(flows)
    posts = [r for r in fake.requests if r.method == "POST"]
    assert [r.url.path for r in posts] == ["/api/v1/main/flows/validate", "/api/v1/main/flows/christmas"]
    validate, update = posts
    assert dict(update.url.params) == {"delete": "true"} and not validate.url.params
    assert all(r.headers["content-type"] == "application/x-yaml" for r in posts)
    assert validate.content == update.content
    documents = update.content.decode().split("\n---\n")
    assert [yaml.safe_load(d)["id"] for d in documents] == [r["id"] for r in report]
    assert documents == [(flows / r["file"]).read_text().strip() for r in report], "each file as written"
    ids = [r["id"] for r in report]
    assert ids.index("send-email") < ids.index("assessment") and ids.index("step") < ids.index("handle-event")
    reads = [r.url.path for r in fake.requests if r.method == "GET"]
    assert reads == ["/api/v1/main/flows/christmas"], "an empty namespace: no flow's source to read"


def test_one_invalid_flow_fails_the_deploy_loudly_and_changes_nothing(
    client: KestraClient, fake: FakeKestra, flows: Path
) -> None:
    client.deploy_flows(flows)
    before = dict(fake.flows)
    (flows / "zz-broken.yml").write_text(
        "id: broken\nnamespace: christmas\ntasks:\n  - id: x\n    type: not.a.Plugin\n", encoding="utf-8"
    )
    signup = flows / "signup.yml"
    signup.write_text(signup.read_text().replace("description: The", "description: Edited. The", 1))
    (flows / "report.yml").unlink()  # would be deleted
    count = len(writes(fake))
    with pytest.raises(InvalidInput) as caught:
        client.deploy_flows(flows)
    assert "refused by Kestra's validation (nothing was changed)" in str(caught.value)
    problems = [str(p) for p in caught.value.problems]
    assert problems == ["zz-broken.yml (broken): tasks[0].type: Invalid type: not.a.Plugin"]
    assert len(writes(fake)) == count and fake.flows == before, "no update sent: every flow as it was, none deleted"


def test_a_removed_or_renamed_flow_is_deleted_with_its_webhook(
    client: KestraClient, fake: FakeKestra, flows: Path
) -> None:
    client.deploy_flows(flows)
    (flows / "report.yml").unlink()
    signup = flows / "signup.yml"
    signup.rename(flows / "website-signup.yml")
    renamed = flows / "website-signup.yml"
    renamed.write_text(renamed.read_text().replace("id: signup", "id: website-signup", 1), encoding="utf-8")
    report = {r["id"]: (r["status"], r["file"]) for r in client.deploy_flows(flows)}
    assert report["report"] == ("deleted", None) and report["signup"] == ("deleted", None)
    assert report["website-signup"] == ("created", "website-signup.yml")
    assert ("christmas", "report") not in fake.flows and ("christmas", "signup") not in fake.flows
    assert ("christmas", "website-signup") in fake.flows
    # only the removal changes: the update is still sent (it is what deletes)
    (flows / "health-check.yml").unlink()
    count = len(writes(fake))
    again = client.deploy_flows(flows)
    assert [r["id"] for r in again if r["status"] != "unchanged"] == ["health-check"]
    assert len(writes(fake)) == count + 1 and ("christmas", "health-check") not in fake.flows


def test_a_dry_run_validates_and_reports_but_changes_nothing(
    client: KestraClient, fake: FakeKestra, flows: Path
) -> None:
    client.deploy_flows(flows)
    (flows / "report.yml").unlink()
    before, count, asked = dict(fake.flows), len(writes(fake)), len(fake.requests)
    report = {r["id"]: r["status"] for r in client.deploy_flows(flows, dry_run=True)}
    assert report.pop("report") == "deleted" and set(report.values()) == {"unchanged"}
    assert fake.flows == before and len(writes(fake)) == count
    assert any(r.url.path.endswith("/flows/validate") for r in fake.requests[asked:]), "validated all the same"


def test_a_flow_holding_the_document_separator_is_refused_before_anything_is_sent(
    client: KestraClient, fake: FakeKestra, flows: Path
) -> None:
    """Kestra's namespace update splits its body on every `---`, even inside a line: such a flow would arrive cut."""
    signup = flows / "signup.yml"
    signup.write_text(signup.read_text().replace("description: The", "description: --- The", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="contains '---', which Kestra's namespace update splits its body on"):
        client.deploy_flows(flows)
    assert fake.requests == []
    for path in ROOT.joinpath("flows").glob("*.yml"):
        assert "---" not in path.read_text(encoding="utf-8"), f"{path.name}: the deploy would refuse it"


def test_validation_answers_that_do_not_match_the_flows_change_nothing(flows: Path) -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=[{"index": 0, "flow": "signup"}])  # one answer for every flow

    client = KestraClient("http://127.0.0.1:1", "u@example.com", PASSWORD, transport=httpx.MockTransport(answer))
    with pytest.raises(KestraError, match=r"1 answers for \d+ flows: nothing was changed"):
        client.deploy_flows(flows)
    assert [r.url.path for r in sent] == ["/api/v1/main/flows/validate"]


def test_kestras_words_are_scrubbed_of_the_password_and_its_warnings_reported(
    client: KestraClient, fake: FakeKestra, flows: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = FakeKestra._validate

    def validate(index: int, source: str) -> dict[str, Any]:
        result = original(index, source)
        if result.get("flow") == "signup":
            result["warnings"] = [f"a warning quoting {PASSWORD}"]
        if result.get("flow") == "reply":
            result["constraints"] = f"bad value {PASSWORD}"
        return result

    monkeypatch.setattr(FakeKestra, "_validate", staticmethod(validate))
    with pytest.raises(InvalidInput) as caught:
        client.deploy_flows(flows)
    assert PASSWORD not in str(caught.value) and "bad value ***" in str(caught.value)
    (flows / "reply.yml").unlink()
    report = {r["id"]: r for r in client.deploy_flows(flows)}
    assert report["signup"]["warnings"] == ["a warning quoting ***"] and "warnings" not in report["step"]


def test_an_update_answer_without_a_flow_is_an_error(flows: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/flows/validate"):
            documents = request.content.decode().split("\n---\n")
            return httpx.Response(200, json=[{"index": i} for i in range(len(documents))])
        if request.method == "GET":
            return httpx.Response(200, json=[])
        return httpx.Response(200, json=[{"id": "signup"}])

    client = KestraClient("http://127.0.0.1:1", "u@example.com", PASSWORD, transport=httpx.MockTransport(answer))
    with pytest.raises(KestraError, match=r"answered without flow.*assessment.*run deploy again"):
        client.deploy_flows(flows)


@pytest.mark.parametrize("url", ["http://kestra:8080", "http://christmas-kestra-internal:8080"])
def test_plain_http_to_a_compose_service_of_the_stack_is_fine(url: str) -> None:
    """The one-shot deploy service reaches Kestra on the stack's private network by its service name."""
    KestraClient(url, "u@example.com", PASSWORD).close()


@pytest.mark.parametrize("url", ["http://10.0.0.5:8080", "http://kestra.internal:8080", "http://kestra_x:8080"])
def test_plain_http_to_an_address_or_a_dotted_name_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="plain http to another host") as caught:
        KestraClient(url, "u@example.com", PASSWORD)
    assert PASSWORD not in str(caught.value)


def test_the_deploy_command_passes_its_dry_run_on(monkeypatch: pytest.MonkeyPatch, flows: Path) -> None:
    from christmas_tasks.adapters import kestra_api
    from christmas_tasks.entrypoints.cli import main

    seen: list[tuple[Path, bool]] = []

    def deploy(env: object, path: Path, dry_run: bool = False) -> list[dict[str, Any]]:
        seen.append((path, dry_run))
        return []

    monkeypatch.setattr(kestra_api, "deploy_from_env", deploy)
    assert main(["deploy", "--flows", str(flows), "--dry-run"]) == 0
    assert main(["deploy", "--flows", str(flows)]) == 0
    assert seen == [(flows, True), (flows, False)]
