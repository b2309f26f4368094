"""Which variables an email of each sequence may lack (SPEC §5): derived from the starting event's model and from
what build_variables fills on its own, never listed by hand. The derivation is checked against what really reaches
build_variables: an event with only its required fields, handled and stored as a sequence record, then read back as
`send` reads it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from christmas_tasks.adapters.sqlite import SqliteLedger
from christmas_tasks.domain.errors import ConfigError, InvalidInput
from christmas_tasks.domain.events import sequence_starters
from christmas_tasks.domain.variables import (
    BASE_VARIABLES,
    DEFAULTS,
    build_variables,
    filled_whatever_is_stored,
    sequence_variables,
    stored_values,
    variable_names,
)
from christmas_tasks.entrypoints.app import build_funnel
from christmas_tasks.entrypoints.inbound import read_event
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings
from tests.conftest import EXAMPLES, NOW
from tests.fakes.memory import InMemoryLedger, InMemoryMailer, handle

STARTERS = sequence_starters()
SEQUENCES = sorted(STARTERS)
ASSESSMENT_ONLY = ("assessment_score", "weakest_system_1", "weakest_system_2", "strongest_system",
                   "revenue_leak_total", "segment", "readiness_zone", "red_systems", "green_systems")


def required_only(sequence: str) -> dict[str, Any]:
    """The sequence's starting event with its required fields only, in the package's own shape (a sample may be in
    its sender's, Calendly's): the least a sender may post."""
    starter = STARTERS[sequence]
    event = read_event(starter.kind, json.loads((EXAMPLES / str(starter.sample)).read_text()), NOW)
    required = {name for name, info in starter.model_fields.items() if info.is_required()}
    return {key: value for key, value in event.model_dump(mode="json").items() if key in required}


def test_assessment_score_may_be_missing_from_the_nurture_and_first_name_never() -> None:
    nurture = sequence_variables("5day")
    assert "assessment_score" in nurture.may_lack
    assert {"weakest_system_1", "weakest_system_2", "strongest_system", "revenue_leak_total"} <= nurture.may_lack
    for sequence in SEQUENCES:
        assert "first_name" in sequence_variables(sequence).always, sequence


def test_values_with_a_default_and_the_campaign_facts_are_always_there() -> None:
    facts = {"email", "campaign_name", "deadline_date", "days_to_deadline", "calendly_link", "sender_name",
             "sender_address", "unsubscribe_url"}
    tips = {"personalized_tip_1", "personalized_tip_2", "personalized_tip_3"}
    assert facts | set(DEFAULTS) | tips <= filled_whatever_is_stored()
    for sequence in SEQUENCES:
        assert facts | set(DEFAULTS) | tips <= sequence_variables(sequence).always, sequence


def test_what_the_assessment_requires_defaults_or_derives_is_always_there() -> None:
    always = sequence_variables("5day").always
    assert {"red_systems", "orange_systems"} <= always  # required
    assert {"yellow_systems", "green_systems", "email_1_status"} <= always  # a default that is a value
    assert {"segment", "readiness_zone"} <= always  # derived from the counts (its computed fields)
    assert "email_1_sent_at" in always  # filled on arrival when the website leaves it out


@pytest.mark.parametrize("sequence", [s for s in SEQUENCES if s != "5day"])
def test_a_contact_who_never_took_the_assessment_may_lack_its_values(sequence: str) -> None:
    assert set(ASSESSMENT_ONLY) <= sequence_variables(sequence).may_lack


def test_an_empty_list_or_a_none_default_may_be_missing_a_value_default_is_not() -> None:
    postcall = sequence_variables("postcall")
    assert {"objections", "call_notes"} <= postcall.may_lack  # [] and None
    assert {"call_outcome", "follow_up_priority", "call_date"} <= postcall.always  # "Maybe", "Medium", required
    onboarding = sequence_variables("onboarding")
    assert {"package_type", "salon_address", "observation_dates", "start_date"} <= onboarding.may_lack


def test_the_sets_cover_the_sequences_variables() -> None:
    for sequence in SEQUENCES:
        variables = sequence_variables(sequence)
        assert variables.names == variable_names(sequence)
        assert variables.always | variables.may_lack == variables.names
        assert not variables.always & variables.may_lack
        assert set(BASE_VARIABLES) <= variables.names


def test_an_unknown_sequence_is_named() -> None:
    with pytest.raises(ConfigError, match="'no-such-sequence'"):
        sequence_variables("no-such-sequence")


@pytest.mark.parametrize("sequence", SEQUENCES)
@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_the_derivation_matches_what_a_stored_event_with_only_its_required_fields_gives(
    sequence: str, backend: str, tmp_path: Path
) -> None:
    """Exactly the derived `may_lack` set is empty when the sender posts the least it may: nothing counted as always
    there can be missing, and nothing counted as maybe missing is in fact always there."""
    ledger = SqliteLedger(tmp_path / "crm.sqlite3", SAMPLE_TEMPLATES) if backend == "sqlite" else InMemoryLedger(
        SAMPLE_TEMPLATES)
    settings = Settings.from_env({"TESTING_MODE": "true"})
    funnel = build_funnel(settings, ledger=ledger, mailer=InMemoryMailer())
    body = required_only(sequence)
    handled = handle(funnel, STARTERS[sequence].kind, body, NOW)
    assert handled.sequence_key is not None, handled
    record = ledger.sequences.find_sequence(body["email"], settings.campaign.name, sequence, handled.sequence_key)
    assert record is not None
    values = build_variables(settings.campaign, record.email, stored_values(record), NOW)
    variables = sequence_variables(sequence)
    empty = {name for name in variables.names if not values[name].strip()}
    assert empty == variables.may_lack


@pytest.mark.parametrize("sequence", SEQUENCES)
def test_a_required_field_counted_as_always_there_cannot_be_sent_empty(sequence: str) -> None:
    starter = STARTERS[sequence]
    required = {name for name, info in starter.model_fields.items() if info.is_required()} - {"email"}
    for name in sorted(required & starter.always_given()):
        for empty in ("", " ", None, []):
            with pytest.raises(InvalidInput):
                read_event(starter.kind, {**required_only(sequence), name: empty}, NOW)


def test_the_operating_page_says_what_the_derivation_gives() -> None:
    """docs/operating.md ("The rule") names values a sequence's emails may lack and values they always have, for
    the people editing templates in Notion: kept true against the derivation (a new optional field need not be
    listed there: `templates check` names it)."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "operating.md").read_text()
    rule = " ".join(page[page.index("**The rule.**") : page.index("**A workspace from before fallbacks.**")].split())
    nurture = rule[rule.index("for the 5-day nurture") : rule.index("; for the no-show")]
    assert set(re.findall(r"`(\w+)`", nurture)) <= sequence_variables("5day").may_lack
    others = rule[rule.index("; for the no-show") : rule.index("An optional field added")]
    own = set().union(*(sequence_variables(s).may_lack - sequence_variables("5day").names for s in SEQUENCES))
    assert set(re.findall(r"`(\w+)`", others)) <= own
    always = rule[rule.index("every email has") : rule.index("and what the event that starts")]
    for name in re.findall(r"`(\w+)`", always):
        assert all(name in sequence_variables(s).always for s in SEQUENCES if name in variable_names(s)), name
    assessment = rule[rule.index("and what the event that starts") : rule.index("Everything else may be missing")]
    assert set(re.findall(r"`(\w+)`", assessment)) <= sequence_variables("5day").always
