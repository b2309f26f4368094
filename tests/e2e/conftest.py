"""Fixtures of the end-to-end suites (marker `e2e`), configured only by the environment (config.py,
docs/e2e.md).

- `e2e`: the stack under test for one test. On the local target (the default, what CI runs) it is
  Kestra's engine started by scripts/engine with the local backends (or the Kestra at E2E_KESTRA_URL), its
  SQLite ledger and its outbox; on the live target (E2E_TARGET=live), a deployment and its Notion
  records, and every address a test made is cleaned up in a finalizer (scheduled sends killed, Notion
  pages moved to the trash). Absent settings skip with the reason; an engine that cannot start fails.
- The Kestra UI test needs the real server's UI, which the engine does not serve: on the suite's own
  engine it is deselected (the run's header says so), and runs against E2E_KESTRA_URL.
- Browser tests use pytest-playwright on Debian's Chromium (/usr/bin/chromium, installed by
  scripts/setup-browser): `browser_type_launch_args` points Playwright at it. Screenshots and traces of
  failed tests are kept under test-results/playwright/ unless --screenshot/--tracing/--output say
  otherwise.
- Sockets past loopback stay refused (tests/conftest.py) unless the settings name a live deployment or
  a remote Kestra or website.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _guarded_connect
from tests.e2e.config import CHROMIUM, CHROMIUM_ARGS, ROOT, E2eConfig, E2eConfigError
from tests.e2e.stack import Stack, external_stack, own_stack

ARTIFACTS = ROOT / "test-results" / "playwright"


def pytest_configure(config: pytest.Config) -> None:
    # pytest-playwright's defaults are off/off/test-results; keep failures' evidence unless told otherwise.
    # (Its session fixture empties --output at start: a folder of its own keeps other results.)
    defaults = {"screenshot": ("off", "only-on-failure"), "tracing": ("off", "retain-on-failure"),
                "output": ("test-results", str(ARTIFACTS))}
    for name, (default, wanted) in defaults.items():
        if getattr(config.option, name, None) == default:
            setattr(config.option, name, wanted)
    # pytest-playwright 0.10's own `base_url` fallback is a session fixture defined as a method, which
    # pytest 9 reports as deprecated on every run; it is the plugin's, not a test's, so it is not shown.
    config.addinivalue_line(
        "filterwarnings",
        "ignore:Session-scoped fixtures defined as instance methods:pytest.PytestRemovedIn10Warning",
    )


UI_TEST = "test_kestra_ui.py"
UI_NOTE = ("tests/e2e: the Kestra UI test needs a real Kestra server's UI (E2E_KESTRA_URL); the local target's "
           "engine serves only the webhook and execution API, so it is deselected")


def _own_engine() -> bool:
    try:
        return E2eConfig.from_env().own_server
    except E2eConfigError:
        return False  # the e2e_config fixture fails those tests with the reason


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _own_engine():
        return
    ui = [item for item in items if item.path.name == UI_TEST]
    if ui:
        config.hook.pytest_deselected(items=ui)
        items[:] = [item for item in items if item.path.name != UI_TEST]


def pytest_report_header(config: pytest.Config) -> str | None:
    return UI_NOTE if _own_engine() else None


@pytest.fixture(scope="session")
def e2e_config() -> E2eConfig:
    try:
        return E2eConfig.from_env()
    except E2eConfigError as exc:
        pytest.fail(f"end-to-end settings: {exc}", pytrace=False)


@pytest.fixture(autouse=True)
def _no_network(e2e_config: E2eConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/conftest.py's guard, lifted only when the settings point past loopback on purpose."""
    if not e2e_config.needs_network:
        monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(scope="session")
def stack(e2e_config: E2eConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The target, once per test process: under pytest-xdist (scripts/test), each worker that runs e2e tests starts
    its own, and other packages' tests may run between them on that worker."""
    if e2e_config.own_server:
        yield from own_stack(e2e_config, tmp_path_factory.mktemp("e2e-kestra"))
    else:
        yield from external_stack(e2e_config)


@pytest.fixture
def e2e(stack: Stack, request: pytest.FixtureRequest) -> Stack:
    """The stack for one test; on the live target, what the test created is cleaned up after it."""
    if stack.cleanup is not None:
        request.addfinalizer(stack.cleanup.run)
    return stack


@pytest.fixture(scope="session")
def website(e2e_config: E2eConfig) -> str:
    """The website funnel's URL (opt-in: E2E_WEBSITE_URL); the website must post to the stack's Kestra.
    Session-scoped so that its reason, not the stack's, is the one a run without a website shows."""
    if not e2e_config.website_url:
        pytest.skip("E2E_WEBSITE_URL is not set: the website funnels are opt-in")
    if e2e_config.own_server:
        pytest.skip("the website posts to its own Kestra: set E2E_KESTRA_URL (with E2E_KESTRA_USERNAME, "
                    "E2E_KESTRA_PASSWORD and the E2E_WEBHOOK_KEY_* keys) to that server")
    return e2e_config.funnel_url()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, object]) -> dict[str, object]:
    """Debian's Chromium (pytest-playwright's --browser-channel does not find it)."""
    if not Path(CHROMIUM).exists():  # a failure, not a skip: the browser tests must run where scripts/test runs
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup-browser installs it (apt-get install chromium); "
                    "its error is above in scripts/test's output", pytrace=False)
    headless = browser_type_launch_args.get("headless", True)  # --headed sets it to False
    args = [arg for arg in CHROMIUM_ARGS if headless or arg != "--headless"]
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": args}
