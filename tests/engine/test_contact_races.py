"""Two events for one address posted at once, on Kestra's engine: the flows as they are, the Python step running
the live backends (NotionLedger, ResendMailer) against the fakes served on loopback (the stand-ins for Notion and
Resend here). The fake holds overlapping contact look-ups until both are answered, as Notion serialises nothing,
so two handlers applying their events at once would both find no contact and both create one.

- As the flows are, `handle-event` queues the second event behind the first: one contact page, ever.
- With that queue's limit raised to 2 (the only change), the look-ups do overlap and two pages are made: the
  race is real on the engine, and the next look-up makes them one (christmas_tasks/duplicates.py).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import EXAMPLES
from tests.engine.process import FLOWS, RunningEngine, engine, fakes_credentials, live_settings
from tests.fakes.fake_notion import FakeNotion, Rendezvous, ledger_on_fake
from tests.fakes.fake_resend import FakeResend
from tests.fakes.served import served

JANE = "jane.doe@example.com"
TERMINAL = {"SUCCESS", "FAILED", "KILLED", "WARNING", "CANCELLED"}
# How long a contact look-up waits for the other one: far beyond the gap between two steps started together.
OVERLAP_WAIT = 8.0


@dataclass
class Race:
    notion: FakeNotion
    meeting: Rendezvous
    states: dict[str, str]  # handler flow -> its execution's end state


def flows_with_queue_limit(folder: Path, limit: int) -> Path:
    shutil.copytree(FLOWS, folder)
    path = folder / "handle-event.yml"
    text, changed = re.subn(r"(?m)^(concurrency:\n  limit: )1$", rf"\g<1>{limit}", path.read_text(encoding="utf-8"))
    assert changed == 1, "handle-event.yml has no concurrency limit of 1 to raise"
    path.write_text(text, encoding="utf-8")
    return folder


@contextmanager
def fakes_and_engine(base: Path, flows: Path) -> Iterator[tuple[FakeNotion, RunningEngine]]:
    notion, resend = FakeNotion(), FakeResend()
    secret_values = fakes_credentials()
    # emails planned days ahead: none is due while the test runs
    deadline = (datetime.now(UTC) + timedelta(days=60)).date().isoformat()
    with served(notion) as notion_url, served(resend) as resend_url:
        settings = {**live_settings(notion_url, resend_url, secret_values), "ENV_CAMPAIGN_DEADLINE": deadline}
        with engine(base, settings, flows=flows) as kestra:
            yield notion, kestra


def race(base: Path, flows: Path) -> Race:
    """A signup and an assessment for JANE posted together; both executions waited for."""
    base.mkdir(parents=True, exist_ok=True)
    with fakes_and_engine(base, flows) as (notion, kestra):
        source = next(sid for sid, s in notion.sources.items() if s["kind"] == "contacts")
        # the contact look-ups by address (each event also asks whether the address was forgotten, by its title)
        meeting = notion.rendezvous(
            "POST", f"^/v1/data_sources/{source}/query$", wait=OVERLAP_WAIT, body=r'"property": ?"email"'
        )
        with httpx.Client(timeout=30) as http:
            ids = {}
            for flow in ("signup", "assessment"):  # a webhook answers once its execution exists: ~ms apart
                body = json.loads((EXAMPLES / f"{flow}.json").read_text(encoding="utf-8"))
                answer = http.post(kestra.webhook(flow), json=body)
                answer.raise_for_status()
                ids[flow] = answer.json()["id"]
            states = {flow: _await_end(http, kestra.api, execution_id) for flow, execution_id in ids.items()}
        return Race(notion, meeting, states)


def _await_end(http: httpx.Client, api: str, execution_id: str, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution: dict[str, Any] = http.get(f"{api}/executions/{execution_id}").json()
        if execution["state"]["current"] in TERMINAL:
            return str(execution["state"]["current"])
        time.sleep(0.25)
    raise AssertionError(f"execution {execution_id} did not end within {timeout} s")


def assert_one_contact_with_what_both_events_wrote(notion: FakeNotion) -> None:
    contact = ledger_on_fake(notion).contacts.get_contact(JANE)
    assert contact is not None and (contact.first_name, contact.business_name) == ("Jane", "Jane's Salon")
    assert (contact.campaign_status, contact.segment) == ("Nurture Sequence", "CRITICAL")
    assert sum(not page["in_trash"] for page in notion.pages_of("contacts")) == 1


def test_a_signup_and_an_assessment_posted_at_once_make_one_contact(tmp_path: Path) -> None:
    result = race(tmp_path, FLOWS)
    assert result.states == {"signup": "SUCCESS", "assessment": "SUCCESS"}
    assert not result.meeting.met, "handle-event let the two look-ups overlap"
    assert len(result.notion.pages_of("contacts")) == 1, "a second contact page was created"
    assert_one_contact_with_what_both_events_wrote(result.notion)


def test_without_the_queue_the_race_is_real_and_the_next_look_up_heals_it(tmp_path: Path) -> None:
    result = race(tmp_path / "run", flows_with_queue_limit(tmp_path / "flows", 2))
    assert result.states == {"signup": "SUCCESS", "assessment": "SUCCESS"}
    assert result.meeting.met, "the two steps' look-ups did not overlap: this test would prove nothing"
    assert len(result.notion.pages_of("contacts")) == 2, "the race made one page: Notion would not serialise it"
    assert_one_contact_with_what_both_events_wrote(result.notion)
    assert [page["in_trash"] for page in result.notion.pages_of("contacts")] == [False, True]
