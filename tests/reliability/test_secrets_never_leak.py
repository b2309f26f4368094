"""Secrets never appear in the repository, cassettes, command output, errors or logs."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from christmas_tasks.adapters.resend.mailer import ResendMailer
from christmas_tasks.adapters.retry import RetryPolicy
from christmas_tasks.entrypoints.app import build_funnel, push_templates
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Secret, Settings
from tests.conftest import EXAMPLES, NOW, ROOT
from tests.fakes.fake_notion import DATABASES, FakeNotion, ledger_on_fake
from tests.fakes.fake_resend import FakeResend
from tests.fakes.memory import handle

# Shapes of real credentials: Notion tokens, Resend keys, Discord webhook URLs, bearer headers.
PATTERNS = [
    re.compile(r"\bntn_[A-Za-z0-9]{30,}"),
    re.compile(r"\bsecret_[A-Za-z0-9]{40,}"),
    re.compile(r"\bre_[A-Za-z0-9]{8,}_[A-Za-z0-9]{16,}"),
    re.compile(r"discord(app)?\.com/api/webhooks/\d{5,}/[A-Za-z0-9_-]{20,}"),
    re.compile(r"(?i)authorization:\s*bearer\s+[A-Za-z0-9_.-]{20,}"),
]
NOTION_TOKEN = "ntn_" + "L1veT0kenValue" * 3
RESEND_KEY = "re_Abc12345_" + "LiveResendKey" * 2
DISCORD = "https://discord.com/api/webhooks/1234567890/" + "d1sc0rdT0ken" * 3
UNSUBSCRIBE_SECRET = "unsubscribe-" + "s3cret" * 5
SECRETS = (NOTION_TOKEN, RESEND_KEY, DISCORD, UNSUBSCRIBE_SECRET)
LIVE = {
    "CHRISTMAS_BACKEND": "live",
    "NOTION_TOKEN": NOTION_TOKEN,
    "RESEND_API_KEY": RESEND_KEY,
    "UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET,
    "DISCORD_WEBHOOK_URL": DISCORD,
    "NOTION_CONTACTS_DB_ID": DATABASES["contacts"],
    "NOTION_EMAIL_SEQUENCE_DB_ID": DATABASES["sequences"],
    "NOTION_EMAIL_TEMPLATES_DB_ID": DATABASES["templates"],
    "EMAIL_FROM": "Example <hello@example.com>",
    "SENDER_ADDRESS": "1 Main St, Toronto",
    "UNSUBSCRIBE_URL": "https://example.com/unsubscribe",
    "CALENDLY_LINK": "https://calendly.com/example",
    "CAMPAIGN_DEADLINE": "2025-12-20",
}


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).is_file()]


def test_no_credential_in_any_file_of_the_repository() -> None:
    offenders = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if path.name == Path(__file__).name:
            continue  # this file holds the fake secrets it looks for
        offenders += [f"{path.relative_to(ROOT)}: {m.group(0)[:12]}..." for p in PATTERNS for m in p.finditer(text)]
    assert offenders == []


def test_cassettes_carry_no_authorization_header() -> None:
    for path in sorted((ROOT / "cassettes").rglob("*.yaml")):
        text = path.read_text(encoding="utf-8").lower()
        assert "authorization:" not in text, path


def run_cli(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("NOTION_", "RESEND_", "CHRISTMAS_"))}
    return subprocess.run(
        [sys.executable, "-m", "christmas_tasks", *argv],
        env={**clean, **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.parametrize(
    ("argv", "changes"),
    [
        (("health",), {}),
        (("health",), {"NOTION_EMAIL_TEMPLATES_DB_ID": ""}),  # fails naming the missing setting
        (("handle", "assessment", str(EXAMPLES / "signup.json")), {}),  # a rejected event
        (("send", "--sequence-key", "nope", "--email-number", "2"), {}),  # a bad key
        (("templates", "check", "--source", "local"), {}),
    ],
)
def test_command_output_and_errors_hold_no_secret(argv: tuple[str, ...], changes: dict[str, str]) -> None:
    done = run_cli(*argv, env={**LIVE, **changes})
    for secret in SECRETS:
        assert secret not in done.stdout and secret not in done.stderr, argv
    assert done.returncode in (0, 1, 2), done.stderr
    assert "Traceback" not in done.stderr


def test_provider_failures_log_and_raise_without_secrets(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    notion, resend = FakeNotion(token=NOTION_TOKEN), FakeResend(api_key=RESEND_KEY)
    ledger = ledger_on_fake(notion, token=NOTION_TOKEN, retry=RetryPolicy(attempts=2))
    push_templates(ledger.templates, SAMPLE_TEMPLATES)
    mailer = ResendMailer(
        Secret(RESEND_KEY),
        client=httpx.Client(transport=httpx.WSGITransport(app=resend)),
        policy=RetryPolicy(attempts=2),
        sleep=lambda _: None,
    )
    settings = Settings.from_env({**LIVE, "TESTING_MODE": "true"})
    funnel = build_funnel(settings, ledger=ledger, mailer=mailer)
    plan = handle(funnel, "noshow", json.loads((EXAMPLES / "noshow.json").read_text()), NOW).plan
    resend.server_error(times=5)
    notion.inject(500, "internal_server_error", "Oops", times=5)
    errors = []
    for _ in range(2):
        try:
            funnel.send(plan[0].sequence_key, 1, NOW)
        except Exception as error:
            errors.append(f"{error!r} {error}")
    text = "\n".join(errors) + "\n".join(r.getMessage() for r in caplog.records) + repr(settings) + repr(ledger)
    text += repr(mailer)
    for secret in SECRETS:
        assert secret not in text
    assert errors, "the faults surfaced as errors"
