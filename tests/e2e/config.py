"""The end-to-end suites' settings: read from the environment only (docs/e2e.md lists them).

    E2E_TARGET              local (default: the local stack, what CI runs) or live (a deployment)
    E2E_KESTRA_URL          a running Kestra; unset with the local target: the suite starts Kestra's engine
                            (scripts/engine, with the local webhook endpoint and execution API)
    E2E_KESTRA_USERNAME     its basic-auth user
    E2E_KESTRA_PASSWORD     its password
    E2E_WEBHOOK_KEY_<KIND>  each event kind's webhook key (`christmas-tasks events` lists the kinds);
                            generated for the suite's own engine
    E2E_WEBSITE_URL         the website (e.g. http://localhost:3005): turns the website funnels on
    E2E_TEST_EMAIL          the inbox a live run uses, plus-addressed per test (required by live)
    E2E_LOCAL_DIR           the ledger/outbox folder of an external local server (default
                            CHRISTMAS_LOCAL_DIR, else .christmas/)
    E2E_SEND_TIMEOUT        seconds to wait for a sequence's first email on an external server
                            (default 150 on the local target, 0 = do not wait on the live target)

Nothing here opens a connection: this module only reads and checks values.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from christmas_tasks.domain.events import KINDS

ROOT = Path(__file__).resolve().parents[2]
EVENTS = tuple(KINDS)  # one handler flow each
TARGETS = ("local", "live")
LOCAL_TEST_EMAIL = "e2e@example.com"  # example.com never receives mail: the local stack only writes an outbox
WEBSITE_FUNNEL_PATH = "/en/flows/businessX/dfu/xmas-a01"
# Notion settings a live run reads its records with (the same names as the package's settings).
NOTION_ENV = ("NOTION_TOKEN", "NOTION_CONTACTS_DB_ID", "NOTION_EMAIL_SEQUENCE_DB_ID", "NOTION_EMAIL_TEMPLATES_DB_ID")

# Debian's Chromium, launched by Playwright. The background-networking flags keep it from calling home
# (component updates, sync, field trials) on a closed network.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


class E2eConfigError(ValueError):
    """A setting that is present but wrong (a typo must fail, not skip)."""


def key_variable(event: str) -> str:
    return "E2E_WEBHOOK_KEY_" + event.upper().replace("-", "_")


def _clean(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


@dataclass(frozen=True)
class E2eConfig:
    target: str = "local"
    kestra_url: str | None = None
    kestra_username: str | None = None
    kestra_password: str | None = field(default=None, repr=False)
    webhook_keys: Mapping[str, str] = field(default_factory=dict, repr=False)
    website_url: str | None = None
    test_email: str | None = None
    local_dir: Path | None = None
    send_timeout: float = 0.0
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> E2eConfig:
        target = (_clean(env, "E2E_TARGET") or "local").lower()
        if target not in TARGETS:
            raise E2eConfigError(f"E2E_TARGET must be 'local' or 'live', not {target!r}")
        kestra_url = _clean(env, "E2E_KESTRA_URL")
        website_url = _clean(env, "E2E_WEBSITE_URL")
        for name, url in (("E2E_KESTRA_URL", kestra_url), ("E2E_WEBSITE_URL", website_url)):
            if url and urlsplit(url).scheme not in ("http", "https"):
                raise E2eConfigError(f"{name} must be an http(s) URL, not {url!r}")
        test_email = _clean(env, "E2E_TEST_EMAIL")
        if test_email and not re.fullmatch(r"[^@\s+]+@[^@\s]+\.[^@\s]+", test_email):
            raise E2eConfigError(f"E2E_TEST_EMAIL must be a plain address (no '+'), not {test_email!r}")
        local_dir = _clean(env, "E2E_LOCAL_DIR") or _clean(env, "CHRISTMAS_LOCAL_DIR")
        raw_timeout = _clean(env, "E2E_SEND_TIMEOUT")
        try:
            send_timeout = float(raw_timeout) if raw_timeout else (0.0 if target == "live" else 150.0)
        except ValueError:
            raise E2eConfigError(f"E2E_SEND_TIMEOUT must be a number of seconds, not {raw_timeout!r}") from None
        return cls(
            target=target,
            kestra_url=kestra_url.rstrip("/") if kestra_url else None,
            kestra_username=_clean(env, "E2E_KESTRA_USERNAME"),
            kestra_password=env.get("E2E_KESTRA_PASSWORD") or None,
            webhook_keys={e: k for e in EVENTS if (k := _clean(env, key_variable(e)))},
            website_url=website_url.rstrip("/") if website_url else None,
            test_email=test_email.lower() if test_email else None,
            local_dir=Path(local_dir) if local_dir else ROOT / ".christmas",
            send_timeout=send_timeout,
        )

    @property
    def live(self) -> bool:
        return self.target == "live"

    @property
    def own_server(self) -> bool:
        """The local target without E2E_KESTRA_URL: the suite starts (and stops) Kestra's engine."""
        return not self.live and self.kestra_url is None

    @property
    def needs_network(self) -> bool:
        """True when a test must reach past loopback (a live deployment, a remote website or Kestra)."""
        urls = [u for u in (self.kestra_url, self.website_url) if u]
        return self.live or any(not is_loopback_url(u) for u in urls)

    def missing_for_kestra(self) -> list[str]:
        """The settings absent for reaching Kestra with this target ([] when the suite starts its own)."""
        if self.own_server:
            return []
        names = {"E2E_KESTRA_URL": self.kestra_url, "E2E_KESTRA_USERNAME": self.kestra_username,
                 "E2E_KESTRA_PASSWORD": self.kestra_password}
        if self.live:
            names["E2E_TEST_EMAIL"] = self.test_email
        return [name for name, value in names.items() if not value]

    def address(self, tag: str) -> str:
        """A fresh plus-address of the test inbox, unique to this run and `tag`."""
        local, _, domain = (self.test_email or LOCAL_TEST_EMAIL).partition("@")
        slug = re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")[:40] or "test"
        return f"{local}+e2e-{slug}-{self.run_id}-{uuid.uuid4().hex[:6]}@{domain}"

    def funnel_url(self) -> str:
        if not self.website_url:
            raise E2eConfigError("E2E_WEBSITE_URL is not set")
        return self.website_url + WEBSITE_FUNNEL_PATH
