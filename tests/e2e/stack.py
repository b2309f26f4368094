"""The system under test, as the end-to-end suites see it: Kestra reached over HTTP, and the records the
funnel keeps (the SQLite ledger and the outbox of the local backends, or Notion).

`Stack` uses `Harness` for everything Kestra-side (posting webhooks, waiting for executions, listing a
sequence's send-email executions, reading the outbox) and reads the records through the package's own Ledger
port (SqliteLedger locally, NotionLedger live), so every target is checked with one vocabulary. `own_engine`
starts Kestra's engine with tests/engine/process.py (the launcher of scripts/run: the local webhook endpoint and
execution API at Kestra's URL scheme) on a port of its own; `LiveCleanup` undoes what a live run created.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from christmas_tasks.adapters.notion import NotionLedger
from christmas_tasks.adapters.notion.schema import Analytics
from christmas_tasks.adapters.sqlite import SqliteLedger
from christmas_tasks.domain.catalogue import load_catalogue
from christmas_tasks.domain.records import Contact, SequenceRecord
from christmas_tasks.entrypoints.settings import NotionSettings, Secret
from christmas_tasks.usecases.ports import Ledger
from tests.e2e.config import NOTION_ENV, ROOT, E2eConfig, key_variable
from tests.e2e.harness import NAMESPACE, Harness
from tests.e2e.kestra import TERMINAL_STATES, E2eKestraClient, state_of
from tests.engine.process import FLOW_SECRETS, EngineDidNotStart, edge, engine, free_port, secret_variables

T = TypeVar("T")
FAST_CATALOGUE = ROOT / "examples" / "fast-catalogue.json"
SEQUENCE_TYPES = tuple(load_catalogue().sequences)  # every sequence of the catalogue


def wait_until(what: str, probe: Callable[[], T | None], timeout: float, poll: float = 0.5) -> T:
    """Call `probe` until it returns something other than None/False; AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen after {timeout:g}s")
        time.sleep(poll)


def trigger_email(execution: dict[str, Any]) -> str | None:
    """The `email` of the webhook body that started an execution, trimmed and lower-cased."""
    trigger = execution.get("trigger") or {}
    body = (trigger.get("variables") or {}).get("body")
    if isinstance(body, dict):
        email = body.get("email") or (body.get("payload") or {}).get("email")
        if isinstance(email, str):
            return email.strip().lower()
    return None


def sequence_key(execution: dict[str, Any]) -> str:
    return str((execution.get("inputs") or {}).get("sequence_key") or "")


@dataclass
class Stack:
    """One target (local or live): Kestra's API, the records, and what a test must clean up."""

    config: E2eConfig
    kestra: Harness
    ledger: Ledger
    campaign: str
    ui_username: str
    ui_password: str = field(repr=False)
    cleanup: LiveCleanup | None = None

    @property
    def client(self) -> E2eKestraClient:
        return self.kestra.client

    @property
    def base_url(self) -> str:
        return self.kestra.client.base_url

    # ------------------------------------------------------------------ webhooks and executions

    def require_key(self, flow: str) -> None:
        if flow not in self.kestra.keys:
            pytest.skip(f"{key_variable(flow)} is not set: the {flow} webhook cannot be posted")

    def new_address(self, tag: str) -> str:
        """A fresh test address; on the live target it is registered for cleanup at once."""
        email = self.config.address(tag)
        if self.cleanup is not None:
            self.cleanup.emails.append(email)
        return email

    def handle(self, flow: str, body: Any, timeout: float = 180.0) -> dict[str, Any]:
        self.require_key(flow)
        return self.kestra.wait(self.kestra.post(flow, body), timeout=timeout)

    def _full(self, light: dict[str, Any], probe: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
        """An execution as listed when it already carries what `probe` reads, else fetched whole."""
        return light if probe(light) else self.client.get_execution(str(light["id"]))

    def executions_for(self, flow: str, email: str) -> list[dict[str, Any]]:
        """Every execution of `flow` whose webhook body carried `email`, newest first."""
        runs = (self._full(light, trigger_email) for light in self.client.list_executions(NAMESPACE, flow))
        return [run for run in runs if trigger_email(run) == email.lower()]

    def wait_for_execution_of(self, flow: str, email: str, timeout: float = 180.0) -> dict[str, Any]:
        """The execution of `flow` started for `email` (by someone else: the website), once it has ended."""
        def ended() -> dict[str, Any] | None:
            runs = self.executions_for(flow, email)
            return runs[0] if runs and state_of(runs[0]) in TERMINAL_STATES else None

        execution = wait_until(f"a finished {flow} execution for {email}", ended, timeout, poll=2)
        return self.client.get_execution(str(execution["id"]))

    def sends_for_email(self, email: str) -> list[dict[str, Any]]:
        """Every send-email execution of any sequence of `email` (keys are campaign|sequence|email|event)."""
        runs = (self._full(light, sequence_key) for light in self.client.list_executions(NAMESPACE, "send-email"))
        return [run for run in runs if f"|{email.lower()}|" in sequence_key(run).lower()]

    # ------------------------------------------------------------------ records (ledger or Notion)

    def contact(self, email: str) -> Contact | None:
        return self.ledger.contacts.get_contact(email)

    def sequences(self, email: str) -> list[SequenceRecord]:
        return [r for s in SEQUENCE_TYPES for r in self.ledger.sequences.sequences_for(email, self.campaign, s)]

    def sequence(self, email: str, key: str) -> SequenceRecord:
        (sequence,) = [r for r in self.sequences(email) if r.key == key]
        return sequence

    def outbox(self, email: str) -> list[dict[str, Any]]:
        """The outbox messages sent to `email` (the local target; always [] live)."""
        return [] if self.config.live else self.kestra.outbox(email)


# ---------------------------------------------------------------------------- the live cleanup


@dataclass
class LiveCleanup:
    """What a live run created, undone in a finalizer: the addresses' scheduled send-email executions
    are killed (so nothing more reaches the inbox), then their Notion pages (contact, sequence records,
    analytics entries) are moved to the trash. Every step runs; the failures are reported together at the end."""

    client: E2eKestraClient | None
    ledger: NotionLedger
    campaign: str
    emails: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)

    def kill_pending_sends(self) -> list[str]:
        errors = []
        if self.client is None or not self.emails:
            return errors
        wanted = {e.lower() for e in self.emails}
        try:
            lights = self.client.list_executions(NAMESPACE, "send-email")
        except Exception as exc:
            return [f"list the send-email executions: {exc}"]
        for light in lights:
            if state_of(light) in TERMINAL_STATES:
                continue
            try:
                execution = self.client.get_execution(str(light["id"]))
                key = sequence_key(execution).lower()
                if any(f"|{email}|" in key for email in wanted):
                    self.client.kill_execution(str(light["id"]))
            except Exception as exc:
                errors.append(f"kill send-email {light.get('id')}: {exc}")
        return errors

    def archive_pages(self) -> list[str]:
        errors = []
        for email in self.emails:
            try:
                records = self.ledger.sequences.sequences_for(email, self.campaign, SEQUENCE_TYPES)
                pages = [r.ref for r in records]
                contact = self.ledger.contacts.get_contact(email)
                pages.append(contact.ref if contact else None)
                pages += self.analytics_pages(email)
            except Exception as exc:
                errors.append(f"look up the pages of {email}: {exc}")
                continue
            for page_id in filter(None, pages):
                try:
                    self.ledger.api.client.pages.update(page_id, in_trash=True)
                    self.archived.append(page_id)
                except Exception as exc:
                    errors.append(f"archive Notion page {page_id} ({email}): {exc}")
        return errors

    def analytics_pages(self, email: str) -> list[str]:
        """The analytics log's pages of `email` (when an analytics database is configured)."""
        if not self.ledger.api.database_id("analytics"):
            return []
        source = self.ledger.api.data_source_id("analytics")
        found: list[str] = []
        cursor = None
        while True:
            options: dict[str, Any] = {"filter": {"property": Analytics.EMAIL, "email": {"equals": email}},
                                       "page_size": 100}
            if cursor:
                options["start_cursor"] = cursor
            result = self.ledger.api.client.data_sources.query(source, **options)
            found += [str(page["id"]) for page in result["results"]]
            if not result.get("has_more"):
                return found
            cursor = result.get("next_cursor")

    def run(self) -> None:
        errors = self.kill_pending_sends() + self.archive_pages()
        self.emails.clear()
        if errors:
            raise AssertionError("the live cleanup left things behind: " + "; ".join(errors))


# ---------------------------------------------------------------------------- building a stack


def notion_settings(env: Mapping[str, str]) -> NotionSettings | None:
    if any(not env.get(name, "").strip() for name in NOTION_ENV):
        return None
    return NotionSettings(
        token=Secret(env["NOTION_TOKEN"].strip()),
        contacts_db=env["NOTION_CONTACTS_DB_ID"].strip(),
        sequence_db=env["NOTION_EMAIL_SEQUENCE_DB_ID"].strip(),
        templates_db=env["NOTION_EMAIL_TEMPLATES_DB_ID"].strip(),
        analytics_db=env.get("NOTION_EMAIL_ANALYTICS_DB_ID", "").strip() or None,
    )


def external_stack(config: E2eConfig) -> Iterator[Stack]:
    """A stack on a running Kestra (E2E_KESTRA_URL): the local target reads the ledger folder, the live
    target reads Notion and cleans up after each test."""
    missing = config.missing_for_kestra()
    notion = notion_settings(os.environ) if config.live else None
    if config.live and notion is None:
        missing += [name for name in NOTION_ENV if not os.environ.get(name, "").strip()]
    if missing:
        pytest.skip(f"E2E_TARGET={config.target}: missing setting(s) {', '.join(missing)}")
    assert config.kestra_url and config.kestra_username and config.kestra_password
    client = E2eKestraClient(config.kestra_url, config.kestra_username, config.kestra_password)
    campaign = os.environ.get("CAMPAIGN_NAME", "").strip() or "Christmas 2025"
    try:
        ledger: Ledger
        cleanup = None
        if notion is not None:
            ledger = NotionLedger.connect(notion)
            cleanup = LiveCleanup(client, ledger, campaign)
        else:
            assert config.local_dir is not None
            ledger = SqliteLedger(config.local_dir / "crm.sqlite3")
        harness = Harness(client, dict(config.webhook_keys), config.local_dir or Path("/nonexistent"))
        yield Stack(config, harness, ledger, campaign, ui_username=config.kestra_username,
                    ui_password=config.kestra_password, cleanup=cleanup)
    finally:
        client.close()


@contextmanager
def own_engine(base: Path) -> Iterator[Harness]:
    """Kestra's engine for this suite (tests/engine/process.py: flows/ loaded, the local backends in `base`, testing
    mode, the fast catalogue, generated webhook keys), stopped at the end. It must start: where Java 21+ or
    Maven is missing, the suite fails saying so (scripts/engine's message), as the engine suite does."""
    local_dir = base / "christmas"
    unsubscribe_secret = secrets.token_urlsafe(32)
    edge_port = free_port()
    settings = {
        # nothing of the developer's settings or secrets reaches the engine (process.engine starts it clean)
        **secret_variables({**dict.fromkeys(FLOW_SECRETS, ""), "UNSUBSCRIBE_SECRET": unsubscribe_secret}),
        "ENV_CHRISTMAS_BACKEND": "local",
        "ENV_TESTING_MODE": "true",
        "ENV_CHRISTMAS_LOCAL_DIR": str(local_dir),
        "ENV_CHRISTMAS_CATALOGUE": str(FAST_CATALOGUE),
        # every email links to the public edge's unsubscribe page, as on a server
        "ENV_EDGE_PUBLIC_URL": f"http://127.0.0.1:{edge_port}",
        # the suite bounces addresses on purpose: the deliverability guard (tests/unit/test_guard.py) must not pause
        # the stack's campaign under the tests that follow
        "ENV_GUARD_BOUNCE_CRITICAL": "100",
        "ENV_GUARD_COMPLAINT_CRITICAL": "100",
    }
    try:
        with (
            engine(base, settings) as kestra,
            edge(base, kestra, port=edge_port, unsubscribe_secret=unsubscribe_secret) as front,
        ):
            client = E2eKestraClient(kestra.url, "e2e@example.com", "the-local-engine-has-no-auth")
            try:
                yield Harness(client, kestra.keys, local_dir, front.url)
            finally:
                client.close()
    except EngineDidNotStart as exc:
        pytest.fail(str(exc), pytrace=False)


def own_stack(config: E2eConfig, base: Path) -> Iterator[Stack]:
    with own_engine(base) as harness:
        ledger = SqliteLedger(harness.local_dir / "crm.sqlite3")
        yield Stack(config, harness, ledger, "Christmas 2025", ui_username="", ui_password="")
