"""Fuzzed webhook bodies through the whole handler on the local backends: every body is either
handled or rejected with a message naming a field; never a traceback, never a partial write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from christmas_tasks.adapters.outbox import OutboxMailer
from christmas_tasks.adapters.sqlite import SqliteLedger
from christmas_tasks.domain.errors import InvalidInput
from christmas_tasks.domain.events import KINDS
from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings
from tests.conftest import EXAMPLES, NOW
from tests.fakes.memory import handle
from tests.reliability.world import ledger_rows

# Every kind's sample, derived from the kinds: a new kind is fuzzed without an edit here.
SAMPLES = {kind: model.sample for kind, model in KINDS.items() if model.sample is not None}
junk = (
    st.none()
    | st.booleans()
    | st.integers(-100, 100)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.lists(st.text(max_size=5), max_size=3)
)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A real sample body with some fields dropped, replaced by junk, or added."""
    kind = draw(st.sampled_from(sorted(SAMPLES)))
    body = json.loads((EXAMPLES / SAMPLES[kind]).read_text())
    for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=3, unique=True)):
        if draw(st.booleans()):
            del body[key]
        else:
            body[key] = draw(junk)
    body.update(draw(st.dictionaries(st.text(max_size=10), junk, max_size=2)))
    return kind, body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mutated())
def test_every_body_is_handled_or_rejected_by_field_and_nothing_half_written(
    tmp_path: Path, case: tuple[str, Any]
) -> None:
    kind, body = case
    folder = tmp_path / f"run-{abs(hash(json.dumps(body, sort_keys=True, default=str)))}"
    ledger = SqliteLedger(folder / "crm.sqlite3", SAMPLE_TEMPLATES)
    outbox = OutboxMailer(folder / "outbox")
    funnel = build_funnel(Settings.from_env({"TESTING_MODE": "true"}), ledger=ledger, mailer=outbox)
    before = ledger_rows(folder / "crm.sqlite3")
    rejected = False
    try:
        result = handle(funnel, kind, body, NOW)
    except InvalidInput as error:
        rejected = True
        assert error.problems and all(p.field for p in error.problems)
        assert ledger_rows(folder / "crm.sqlite3") == before, "a rejected event wrote something"
    else:
        assert result.email == result.email.strip().lower()
        for item in result.plan:
            assert item.sequence_key.split("|")[2] == result.email
    # handling sends nothing to a lead: a reply's forward to the business's inbox is all it may send, once
    forwards = [m["to"] for m in outbox.messages()]
    assert forwards == ([funnel.reply_inbox] if kind == "reply" and not rejected else []), forwards
