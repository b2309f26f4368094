"""A small client for Kestra's HTTP API (tenant `main`): load the flows of one namespace.

Used by `christmas-tasks deploy` (`deploy_from_env`); the end-to-end tests extend it with what only they need
(posting webhooks, following executions: tests/e2e/kestra.py).
Basic authentication; TLS is always verified (a private CA can be given, verification can't be turned off).
The password never appears in a message, a repr or an exception.

Endpoints (Kestra 1.3, `/api/v1/{tenant}/...`; docs/deploy.md, "Loading the flows", says where each was confirmed):
  POST flows/validate              (application/x-yaml)   validate flows, documents joined by `---`: one answer
                                                           per document, `constraints` set on an invalid one
  POST flows/{namespace}?delete=true  (application/x-yaml)  the namespace update: every flow created or updated,
                                                           and every other flow of the namespace deleted
  GET  flows/{namespace}           the namespace's flows (without their sources)
  GET  flows/{namespace}/{id}?source=true   one stored flow with its source (404 when absent)

Kestra's namespace update splits its body on every `---` (not only on a line of its own), and deletes before it
creates, flow by flow, with no transaction: so every flow is checked here and validated by Kestra first, and the
update is sent only when every one passed, and only when something is to change.
and the executions `contact forget` deletes (ExecutionsApi, christmas_tasks/adapters/kestra_executions.py).
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from christmas_tasks.adapters.kestra_executions import ExecutionsApi
from christmas_tasks.domain.errors import ChristmasError, ConfigError, InvalidInput, Problem

TENANT = "main"
YAML = "application/x-yaml"
DOCUMENT_SEPARATOR = "---"  # Kestra's namespace update splits its body on every occurrence
REQUIRED_SETTINGS = ("KESTRA_URL", "KESTRA_USERNAME", "KESTRA_PASSWORD")
# A webhook key is the only authentication of a public URL: long, random, URL-safe.
WEBHOOK_KEY = re.compile(r"[A-Za-z0-9_-]{32,256}")
_KEY_EXPRESSION = r"\{\{\s*secret\(\s*'(?P<name>WEBHOOK_KEY_[A-Z0-9_]+)'\s*\)\s*\}\}"
_KEY_CALL = r"secret\(\s*'(?P<name>WEBHOOK_KEY_[A-Z0-9_]+)'\s*\)"


class KestraError(ChristmasError):
    """A failed call to Kestra; the message names the request and the answer, never a credential."""


class KestraClient(ExecutionsApi):
    """Kestra's HTTP API for one tenant, over one httpx.Client."""

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        tenant: str = TENANT,
        verify: bool | str = True,  # True, or the path of a CA bundle (a private CA); never False
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"KESTRA_URL must be an http(s) URL, not {url!r}")
        if parts.username or parts.password:
            raise ConfigError("KESTRA_URL must not carry credentials: use KESTRA_USERNAME and KESTRA_PASSWORD")
        if parts.scheme == "http" and not (_is_loopback(parts.hostname) or _is_service_name(parts.hostname)):
            raise ConfigError(
                f"KESTRA_URL {url!r} is plain http to another host: the password would travel in clear (use https; "
                "http only on loopback or to a Compose service's one-word name on the stack's own network)"
            )
        if verify is False:
            raise ConfigError("TLS verification cannot be turned off; give a CA bundle path instead")
        tls: bool | ssl.SSLContext = True
        if isinstance(verify, str):
            try:
                tls = ssl.create_default_context(cafile=verify)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"the CA bundle {verify} cannot be read ({type(exc).__name__})") from None
        self.base_url = url.rstrip("/")
        self.tenant = tenant
        self._password = password
        self._client = httpx.Client(
            base_url=self.base_url,
            auth=httpx.BasicAuth(username, password),
            verify=tls,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"KestraClient({self.base_url!r}, tenant={self.tenant!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> KestraClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------ plumbing

    def _path(self, path: str) -> str:
        return f"/api/v1/{self.tenant}/{path.lstrip('/')}"

    def _request(self, method: str, path: str, *, expect: tuple[int, ...] = (200,), **kwargs: Any) -> httpx.Response:
        url = self._path(path)
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise KestraError(f"{method} {self.base_url}{url}: {type(exc).__name__}: {self._scrub(str(exc))}") from None
        if response.status_code not in expect:
            raise KestraError(
                f"{method} {self.base_url}{url} -> HTTP {response.status_code}: {self._scrub(_body_summary(response))}"
            )
        return response

    def _scrub(self, text: str) -> str:
        return text.replace(self._password, "***") if self._password else text

    # ------------------------------------------------------------------------------------ flows

    def get_flow_source(self, namespace: str, flow_id: str) -> str | None:
        """The stored source of a flow, or None when there is no such flow."""
        response = self._request("GET", f"flows/{namespace}/{flow_id}", params={"source": "true"}, expect=(200, 404))
        if response.status_code == 404 or not response.content:
            return None
        source = response.json().get("source")
        return source if isinstance(source, str) else None

    def list_flow_ids(self, namespace: str) -> list[str]:
        """The ids of the flows the namespace holds now."""
        answer = self._request("GET", f"flows/{namespace}").json()
        if not isinstance(answer, list):
            raise KestraError(f"GET {self.base_url}{self._path(f'flows/{namespace}')}: not a list of flows")
        return [str(flow["id"]) for flow in answer if isinstance(flow, dict) and "id" in flow]

    def validate_flows(self, sources: list[str]) -> list[dict[str, Any]]:
        """Kestra's own validation of each source (nothing is stored): one answer per source, in order; an invalid
        one has its `constraints` set."""
        answer = self._request("POST", "flows/validate", content=_documents(sources), headers={"Content-Type": YAML})
        results = answer.json()
        answers = results if isinstance(results, list) else []
        if len(answers) != len(sources) or not all(isinstance(result, dict) for result in answers):
            count = len(results) if isinstance(results, list) else "no list"
            raise KestraError(
                f"POST {self.base_url}{self._path('flows/validate')}: {count} answers for {len(sources)} flows: "
                "nothing was changed"
            )
        return sorted(answers, key=lambda result: int(result.get("index", 0)))

    def update_namespace(self, namespace: str, sources: list[str]) -> list[dict[str, Any]]:
        """Kestra's namespace update, with delete: each source created or updated, every other flow of the namespace
        deleted. Returns Kestra's answer (the deleted flows, then the created or updated ones)."""
        answer = self._request(
            "POST", f"flows/{namespace}", params={"delete": "true"}, content=_documents(sources),
            headers={"Content-Type": YAML},
        )
        results = answer.json()
        return [dict(item) for item in results if isinstance(item, dict)] if isinstance(results, list) else []

    def deploy_flows(
        self,
        flows_dir: Path,
        namespace: str = "christmas",
        render: Mapping[str, str] | None = None,
        *,
        dry_run: bool = False,
    ) -> list[dict[str, Any]]:
        """Make the namespace hold exactly the flows of `flows_dir`: each reported created, updated or unchanged, and
        each flow of the namespace without a file reported deleted. Idempotent: nothing changed, nothing is sent.

        Every file is read and checked here, then every flow is validated by Kestra; one invalid flow and nothing is
        changed on the server. Only then one namespace update creates, updates and deletes. `dry_run`: everything
        but the update (the report says what it would do).

        `render` maps WEBHOOK_KEY_<FLOW> names to keys: a flow's `{{ secret('WEBHOOK_KEY_<FLOW>') }}` is replaced by
        the key before upload (for a server that cannot read the key as a secret).
        """
        planned = [(path, *prepare_flow(path, namespace, render)) for path in flow_files(flows_dir)]
        ids = [flow_id for _, flow_id, _ in planned]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ConfigError(f"{flows_dir}: more than one file defines flow(s) {', '.join(duplicates)}")
        ordered = subflows_first(planned, namespace)
        sources = [source for _, _, source in ordered]
        validated = self.validate_flows(sources)
        problems = [
            Problem(f"{path.name} ({flow_id})", self._scrub(str(result["constraints"])))
            for (path, flow_id, _), result in zip(ordered, validated, strict=True)
            if result.get("constraints")
        ]
        if problems:
            raise InvalidInput(f"flows of {flows_dir}, refused by Kestra's validation (nothing was changed)", problems)
        present = set(self.list_flow_ids(namespace))
        report = []
        for (path, flow_id, source), result in zip(ordered, validated, strict=True):
            current = self.get_flow_source(namespace, flow_id) if flow_id in present else None
            if current is None:
                status = "created"
            else:
                status = "unchanged" if current.strip() == source.strip() else "updated"
            entry: dict[str, Any] = {"namespace": namespace, "id": flow_id, "file": path.name, "status": status}
            if result.get("warnings"):
                entry["warnings"] = [self._scrub(str(warning)) for warning in result["warnings"]]
            report.append(entry)
        removed = sorted(present - set(ids))
        report += [{"namespace": namespace, "id": flow_id, "file": None, "status": "deleted"} for flow_id in removed]
        if dry_run or all(entry["status"] == "unchanged" for entry in report):
            return report
        answered = {str(item.get("id")) for item in self.update_namespace(namespace, sources)}
        missing = [flow_id for flow_id in ids if flow_id not in answered]
        if missing:
            raise KestraError(
                f"Kestra's namespace update of {namespace} answered without flow(s) {', '.join(missing)}: "
                "check the namespace in the UI, then run deploy again"
            )
        return report

# ------------------------------------------------------------------------------------------ helpers


def subflows_first(planned: list[tuple[Path, str, str]], namespace: str) -> list[tuple[Path, str, str]]:
    """The flows ordered so that a flow another one calls as a Subflow is loaded before its caller."""
    calls = {flow_id: subflow_ids(_load_yaml(source), namespace) for _, flow_id, source in planned}
    ordered: list[tuple[Path, str, str]] = []
    done: set[str] = set()
    pending = list(planned)
    while pending:
        ready = [item for item in pending if (calls[item[1]] & set(calls)) - {item[1]} <= done]
        if not ready:  # a cycle: Kestra accepts it, so load the rest in file order
            ready = pending[:1]
        for item in ready:
            ordered.append(item)
            done.add(item[1])
            pending.remove(item)
    return ordered


def subflow_ids(flow: Any, namespace: str) -> set[str]:
    """Ids of the flows of `namespace` that a flow calls with io.kestra.plugin.core.flow.Subflow."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).endswith(".Subflow") and node.get("namespace") == namespace:
                found.add(str(node.get("flowId")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(flow)
    return found


def flow_files(flows_dir: Path) -> list[Path]:
    files = sorted([*flows_dir.glob("*.yml"), *flows_dir.glob("*.yaml")])
    if not files:
        raise ConfigError(f"no flow files (*.yml) in {flows_dir}")
    return files


def prepare_flow(path: Path, namespace: str, render: Mapping[str, str] | None) -> tuple[str, str]:
    """(flow id, source to upload) of one flow file, checked: YAML, id, namespace, rendered keys."""
    source = path.read_text(encoding="utf-8")
    try:
        data = _load_yaml(source)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise ConfigError(f"{path}: a flow needs an `id`")
    if data.get("namespace") != namespace:
        raise ConfigError(f"{path}: namespace is {data.get('namespace')!r}, expected {namespace!r}")
    if DOCUMENT_SEPARATOR in source:
        raise ConfigError(
            f"{path}: contains {DOCUMENT_SEPARATOR!r}, which Kestra's namespace update splits its body on (anywhere in "
            "a line): write it another way"
        )
    return data["id"], render_webhook_keys(source, render or {}, str(path))


def render_webhook_keys(source: str, keys: Mapping[str, str], where: str = "flow") -> str:
    """Replace `{{ secret('WEBHOOK_KEY_X') }}` by the key given for WEBHOOK_KEY_X, and `secret('WEBHOOK_KEY_X')` within
    a larger expression by the key as a string literal (others stay as they are)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in keys:
            return match.group(0)
        key = keys[name]
        if not WEBHOOK_KEY.fullmatch(key):
            raise ConfigError(f"{name} must be 32 to 256 characters of A-Z, a-z, 0-9, '-' or '_' ({where})")
        return key

    rendered = re.sub(_KEY_EXPRESSION, replace, source)

    # a key read inside a larger expression (the step's settings read the unsubscribe link's): a string literal
    def inside(match: re.Match[str]) -> str:
        replaced = replace(match)
        return match.group(0) if replaced == match.group(0) else f"'{replaced}'"

    return re.sub(_KEY_CALL, inside, rendered)


def deploy_from_env(env: Mapping[str, str], flows_dir: Path, *, dry_run: bool = False) -> list[dict[str, Any]]:
    """`christmas-tasks deploy`: KESTRA_URL, KESTRA_USERNAME, KESTRA_PASSWORD; optional KESTRA_CA_BUNDLE
    (a private CA) and WEBHOOK_KEY_<FLOW> keys to render into the flows at upload."""
    missing = [name for name in REQUIRED_SETTINGS if not env.get(name, "").strip()]
    if missing:
        raise ConfigError("deploy: missing setting(s) " + ", ".join(missing))
    ca_bundle = env.get("KESTRA_CA_BUNDLE", "").strip()
    render = {name: value.strip() for name, value in env.items() if name.startswith("WEBHOOK_KEY_") and value.strip()}
    with KestraClient(
        env["KESTRA_URL"].strip(),
        env["KESTRA_USERNAME"].strip(),
        env["KESTRA_PASSWORD"],
        verify=ca_bundle or True,
    ) as client:
        return client.deploy_flows(flows_dir, render=render, dry_run=dry_run)


def _documents(sources: list[str]) -> bytes:
    """Flow sources as one multi-document YAML body, as Kestra's namespace update and validation read it."""
    return f"\n{DOCUMENT_SEPARATOR}\n".join(source.strip() for source in sources).encode()


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 (safe loaders only)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_service_name(host: str) -> bool:
    """A one-word host name (no dot, not an address), as a Compose service is named on its stack's private network:
    the one-shot deploy service reaches Kestra there (http://kestra:8080) without the traffic leaving the host."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "." not in host and bool(re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", host))
    return False


def _body_summary(response: httpx.Response, limit: int = 500) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:limit] + ("…" if len(text) > limit else "") if text else "(empty body)"
