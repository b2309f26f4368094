"""Events posted at once, on Kestra's engine: the flows as they are, the Python step running the live backends
(NotionLedger, ResendMailer) against the fakes served on loopback (the stand-ins for Notion and Resend here). The
fake holds overlapping contact look-ups until both are answered, as Notion serialises nothing, so two handlers
applying events for one address at once would both find no contact and both create one.

- `handle-event` runs a few events at once; the package's lock per address (adapters/address_locks.py) keeps two
  events for one address apart (signup and assessment, booking and no-show): their look-ups never overlap, one
  contact page, one sequence each.
- Two events for different addresses do run side by side: their look-ups overlap (the rendezvous is met), so
  nothing but the lock keeps the first pair apart. When a race does happen (it did before the queue, and may by
  hand in Notion), the next look-up makes the pages one (tests/reliability/test_races.py).
"""

from __future__ import annotations

import json
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


def race(base: Path, posts: list[tuple[str, dict[str, Any]]], wait: float = OVERLAP_WAIT) -> Race:
    """The events posted together (a flow and its body each); every execution waited for."""
    base.mkdir(parents=True, exist_ok=True)
    with fakes_and_engine(base, FLOWS) as (notion, kestra):
        source = next(sid for sid, s in notion.sources.items() if s["kind"] == "contacts")
        # the contact look-ups by address (each event also asks whether the address was forgotten, by its title)
        meeting = notion.rendezvous(
            "POST", f"^/v1/data_sources/{source}/query$", wait=wait, body=r'"property": ?"email"'
        )
        with httpx.Client(timeout=30) as http:
            ids = {}
            for flow, body in posts:  # a webhook answers once its execution exists: ~ms apart
                answer = http.post(kestra.webhook(flow), json=body)
                answer.raise_for_status()
                ids[flow] = answer.json()["id"]
            states = {flow: _await_end(http, kestra.api, execution_id) for flow, execution_id in ids.items()}
        return Race(notion, meeting, states)


def sample(name: str, **changes: Any) -> dict[str, Any]:
    return {**json.loads((EXAMPLES / name).read_text(encoding="utf-8")), **changes}


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
    result = race(tmp_path, [("signup", sample("signup.json")), ("assessment", sample("assessment.json"))])
    assert result.states == {"signup": "SUCCESS", "assessment": "SUCCESS"}
    assert not result.meeting.met, "two events for one address ran at once"
    assert len(result.notion.pages_of("contacts")) == 1, "a second contact page was created"
    assert_one_contact_with_what_both_events_wrote(result.notion)
    assert len(ledger_on_fake(result.notion).sequences.sequences_for(JANE, "Christmas 2025", ("5day",))) == 1


def test_a_booking_and_a_no_show_posted_at_once_make_one_contact_and_one_sequence(tmp_path: Path) -> None:
    result = race(tmp_path, [("booking", sample("booking-calendly.json")), ("noshow", sample("noshow.json"))])
    assert result.states == {"booking": "SUCCESS", "noshow": "SUCCESS"}
    assert not result.meeting.met, "two events for one address ran at once"
    assert len(result.notion.pages_of("contacts")) == 1, "a second contact page was created"
    assert len(ledger_on_fake(result.notion).sequences.sequences_for(JANE, "Christmas 2025", ("noshow",))) == 1


def test_events_for_different_addresses_run_side_by_side(tmp_path: Path) -> None:
    # a longer wait: on a loaded machine two Python steps started together may begin seconds apart
    result = race(tmp_path, [("signup", sample("signup.json", email="sam@example.com")),
                             ("assessment", sample("assessment.json"))], wait=45.0)
    assert result.states == {"signup": "SUCCESS", "assessment": "SUCCESS"}
    assert result.meeting.met, "the two addresses' look-ups did not overlap: they waited on each other"
    assert len(result.notion.pages_of("contacts")) == 2
