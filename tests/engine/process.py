"""Kestra's engine as a process of its own, for the Python suites and benchmarks that drive it over HTTP: the
launcher of scripts/run (`scripts/engine run`: the flows loaded, the local webhook endpoint and execution API at
Kestra's URL scheme) on a port of its own, started with a clean environment and stopped at the end.

`live_settings` is the server environment for the live backends (NotionLedger, ResendMailer) pointed at fakes
served on loopback (tests/fakes/served.py): the flows, the step and the package run as in production, and only
Notion and Resend are stand-ins.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from christmas_tasks.domain.events import KINDS

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "scripts" / "engine"
FLOWS = ROOT / "flows"
EVENTS = tuple(KINDS)  # one handler flow each
# Every secret the flows read (beside the webhook keys).
FLOW_SECRETS = (
    "NOTION_TOKEN",
    "NOTION_CONTACTS_DB_ID",
    "NOTION_EMAIL_SEQUENCE_DB_ID",
    "NOTION_EMAIL_TEMPLATES_DB_ID",
    "NOTION_EMAIL_ANALYTICS_DB_ID",
    "RESEND_API_KEY",
    "UNSUBSCRIBE_SECRET",
    "DISCORD_WEBHOOK_URL",
)
# What the engine may take from the caller's environment: where Java, Maven and a home are, nothing else.
PASSED_ON = ("PATH", "HOME", "LANG", "JAVA_HOME", "CHRISTMAS_JAVA_HOME", "MAVEN_REPOSITORY", "TMPDIR")
CLI = Path(sys.prefix) / "bin" / "christmas-tasks"


class EngineDidNotStart(RuntimeError):
    """scripts/engine run ended, or printed no URLs in time; the message holds its log's last lines."""


@dataclass(frozen=True)
class RunningEngine:
    port: int
    keys: dict[str, str]  # each handler's webhook key
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1/main"

    def webhook(self, flow: str) -> str:
        return f"{self.api}/executions/webhook/christmas/{flow}/{self.keys[flow]}"

    def executions(self, http: Any, flow: str) -> list[dict[str, Any]]:
        """The flow's executions, newest first (the launcher's `GET /executions`), with `http` an httpx.Client."""
        answer = http.get(f"{self.api}/executions", params={"namespace": "christmas", "flowId": flow, "size": 5000})
        answer.raise_for_status()
        found: list[dict[str, Any]] = answer.json()["results"]
        return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def secret_variables(values: Mapping[str, str]) -> dict[str, str]:
    """Kestra secrets as the server reads them: SECRET_<NAME>, base64-encoded."""
    return {f"SECRET_{name}": base64.b64encode(value.encode()).decode() for name, value in values.items()}


def webhook_key_secret(flow: str) -> str:
    return "WEBHOOK_KEY_" + flow.upper().replace("-", "_")


def fakes_credentials() -> dict[str, str]:
    """The secrets for the live backends against the fakes (tests/fakes): their token, database ids and key, and
    a fresh unsubscribe secret."""
    from tests.fakes.fake_notion import DATABASES, TOKEN
    from tests.fakes.fake_resend import API_KEY

    return {
        "NOTION_TOKEN": TOKEN,
        "NOTION_CONTACTS_DB_ID": DATABASES["contacts"],
        "NOTION_EMAIL_SEQUENCE_DB_ID": DATABASES["sequences"],
        "NOTION_EMAIL_TEMPLATES_DB_ID": DATABASES["templates"],
        "RESEND_API_KEY": API_KEY,
        "UNSUBSCRIBE_SECRET": secrets.token_urlsafe(16),
    }


def live_settings(notion_url: str, resend_url: str, secret_values: Mapping[str, str]) -> dict[str, str]:
    """The live backends against the fakes at those URLs; `secret_values` as the fakes expect them."""
    return {
        **secret_variables({name: secret_values.get(name, "") for name in FLOW_SECRETS}),
        "ENV_CHRISTMAS_BACKEND": "live",
        "ENV_NOTION_API_URL": notion_url,
        "ENV_RESEND_API_URL": resend_url,
        "ENV_EMAIL_FROM": "Example Consulting <hello@example.com>",
        "ENV_SENDER_ADDRESS": "1 Example St, Toronto",
        "ENV_UNSUBSCRIBE_URL": "https://example.com/unsubscribe",
        "ENV_CALENDLY_LINK": "https://calendly.com/example",
    }


@contextmanager
def engine(
    base: Path, settings: Mapping[str, str], *, flows: Path = FLOWS, timeout: float = 600
) -> Iterator[RunningEngine]:
    """The engine with `flows` and the server environment `settings` (ENV_* and SECRET_* variables), generated
    webhook keys and the package's command; its log in base/engine.log. It must start within `timeout` seconds
    (the first run builds the module and fills ~/.m2): else EngineDidNotStart, with the log's end."""
    keys = {flow: secrets.token_urlsafe(32) for flow in EVENTS}
    port = free_port()
    urls = base / "webhook-urls"
    env = {
        **{name: os.environ[name] for name in PASSED_ON if os.environ.get(name)},
        **secret_variables({webhook_key_secret(flow): key for flow, key in keys.items()}),
        "ENV_CHRISTMAS_CLI": str(CLI),
        **settings,
    }
    log_path = base / "engine.log"
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [
                str(ENGINE),
                "run",
                "--flows",
                str(flows),
                "--home",
                str(base / "kestra"),
                "--port",
                str(port),
                "--urls-file",
                str(urls),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + timeout
        while not urls.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log_path.read_text(encoding="utf-8").splitlines()[-15:])
                raise EngineDidNotStart(
                    f"Kestra's engine did not start (scripts/engine run, exit {process.poll()}):\n{tail}"
                )
            time.sleep(0.1)
        yield RunningEngine(port, keys, log_path)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class RunningEdge:
    """The public edge (`christmas-tasks serve`) in front of an engine, with the senders' secrets it checks."""

    port: int
    calendly_key: str
    resend_secret: str
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def edge_secrets() -> tuple[str, str]:
    """A Calendly signing key and a Resend webhook secret (Resend's whsec_<base64> form), as scripts/run makes."""
    return secrets.token_urlsafe(32), "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@contextmanager
def edge(
    base: Path,
    kestra: RunningEngine,
    *,
    port: int,
    unsubscribe_secret: str,
    sender_name: str = "Example Consulting",
    timeout: float = 60,
) -> Iterator[RunningEdge]:
    """`christmas-tasks serve` on `port`, forwarding to `kestra` with its webhook keys (plain, as the edge reads them),
    until it answers /healthz; stopped at the end. The engine's ENV_EDGE_PUBLIC_URL should name this port, so the
    emails link to the edge's unsubscribe page."""
    import httpx

    calendly_key, resend_secret = edge_secrets()
    env = {
        **{name: os.environ[name] for name in PASSED_ON if os.environ.get(name)},
        **{KINDS[flow].webhook_key: key for flow, key in kestra.keys.items()},
        "KESTRA_INTERNAL_URL": kestra.url,
        "EDGE_HOST": "127.0.0.1",
        "EDGE_PORT": str(port),
        "EDGE_DATA_DIR": str(base / "edge"),
        "CALENDLY_SIGNING_KEY": calendly_key,
        "RESEND_WEBHOOK_SECRET": resend_secret,
        "UNSUBSCRIBE_SECRET": unsubscribe_secret,
        "SENDER_NAME": sender_name,
    }
    log_path = base / "edge.log"
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen([str(CLI), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    running = RunningEdge(port, calendly_key, resend_secret, log_path)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{running.url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the edge did not start (exit {process.poll()}):\n{log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
