"""Shared fixtures. Tests never reach the internet: sockets to anything but loopback are refused."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "events"
NOW = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and (host in ("localhost", "::1") or host.startswith("127.") or host.startswith("/")):
        return _real_connect(self, address)  # type: ignore[arg-type]
    if self.family == socket.AF_UNIX:
        return _real_connect(self, address)  # type: ignore[arg-type]
    raise OSError(f"tests may not reach the network (tried {address!r})")


def pytest_recording_configure(config: pytest.Config, vcr: object) -> None:
    """The cassettes also match on the headers that matter (tests/fakes/vcr_headers.py)."""
    from tests.fakes import vcr_headers

    vcr_headers.register(vcr)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def local_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A clean local-backend environment in a temporary folder."""
    for name in list(__import__("os").environ):
        if name.startswith(("NOTION_", "RESEND_", "CHRISTMAS_", "SECRET_", "DISCORD_")) or name in (
            "TESTING_MODE",
            "SEND_WINDOW",
            "SEND_BLACKOUT",
            "EMAIL_FROM",
            "CAMPAIGN_DEADLINE",
        ):
            monkeypatch.delenv(name, raising=False)
    env = {
        "CHRISTMAS_BACKEND": "local",
        "CHRISTMAS_LOCAL_DIR": str(tmp_path / "local"),
        "CHRISTMAS_TEMPLATES_DIR": str(SAMPLE_TEMPLATES),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
