"""`christmas-tasks demo`: the funnel in one process on the local backends, for a first look.

It does what the Kestra flows do, with an in-process wait standing in for Kestra's scheduled
executions: handle one assessment, then send each planned email at its time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from christmas_tasks.domain.errors import ConfigError
from christmas_tasks.domain.planning import iso_utc
from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.inbound import read_event
from christmas_tasks.entrypoints.settings import Settings


def run_demo(
    settings: Settings,
    event_path: Path,
    *,
    speedup: float = 1.0,
    wait: bool = True,
    email: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = print,
) -> int:
    if settings.backend != "local":
        raise ConfigError("demo runs on the local backends only (CHRISTMAS_BACKEND=local)")
    if speedup <= 0:
        raise ConfigError("--speedup must be positive")
    funnel = build_funnel(settings)
    body = json.loads(event_path.read_text(encoding="utf-8"))
    if email:
        body["email"] = email
    now = clock()
    handled = funnel.handle(read_event("assessment", body, now), now)
    segment = handled.route.segment.value if handled.route else None
    say(f"handled the assessment of {handled.email}: {handled.reason} (segment {segment})")
    if not handled.plan:
        say("nothing to send: this contact's sequence was handled before (use another email in the event file)")
    for item in handled.plan:
        say(f"  email {item.email_number} ({item.template}) planned for {iso_utc(item.send_at)}")
    for item in handled.plan:
        delay = (item.send_at - clock()).total_seconds() / speedup
        if wait and delay > 0:
            say(f"waiting {delay:.0f}s for email {item.email_number}...")
            sleep(delay)
        sent = funnel.send(item.sequence_key, item.email_number, clock(), item.send_at)
        say(f"email {item.email_number}: {sent.status} {sent.resend_id or sent.reason or ''}")
    say(
        f"outbox: {(settings.local_dir / 'outbox').resolve()}  ledger: {(settings.local_dir / 'crm.sqlite3').resolve()}"
    )
    return 0
