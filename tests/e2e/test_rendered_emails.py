"""Every email the package renders, opened in Chromium as a recipient would see it. Needs no server:
runs everywhere the browser is installed (scripts/setup-browser).

CASL and the Gmail/Yahoo bulk-sender rules: the reader sees the sender's mailing address and a visible,
clickable Unsubscribe link to the contact's own unsubscribe URL; no `{{placeholder}}` is left; and a
value carrying markup is shown as text, never run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

pytest.importorskip("pytest_playwright", reason="the e2e extra is not installed (pip install -e '.[e2e]')")

from playwright.sync_api import Page, expect

from christmas_tasks.adapters.template_files import load_templates
from christmas_tasks.domain.catalogue import load_catalogue
from christmas_tasks.domain.events import sequence_starters
from christmas_tasks.domain.rendering import RenderedEmail, render
from christmas_tasks.domain.variables import build_variables
from christmas_tasks.entrypoints.inbound import read_event
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings
from tests.e2e.config import ROOT
from tests.e2e.pages import EmailView

pytestmark = pytest.mark.e2e

TEMPLATES = load_templates(SAMPLE_TEMPLATES)
SEQUENCE_OF = {e.template: s.name for s in load_catalogue().sequences.values() for e in s.emails}
STARTERS = sequence_starters()  # each sequence's event kind, whose sample body the email is rendered for
CAMPAIGN = Settings.from_env({"CHRISTMAS_BACKEND": "local"}).campaign
NOW = datetime(2025, 12, 1, 15, 0, tzinfo=UTC)
# Each probe sets window.__pwned if it ever runs: a tag with a handler, a script, an attribute breakout.
PROBES = (
    "<img src=x onerror=window.__pwned=1>",
    "<script>window.__pwned=2</script>",
    '"><svg onload="window.__pwned=3">',
    "'><iframe srcdoc=\"<script>parent.__pwned=4</script>\">",
)
FREE_TEXT_FIELDS = ("first_name", "business_name", "weakest_system_1", "weakest_system_2", "strongest_system",
                    "event_type", "call_notes", "package_type", "salon_address")


def sample_body(template: str) -> tuple[str, dict[str, Any]]:
    starter = STARTERS[SEQUENCE_OF[template]]
    return starter.kind, json.loads((ROOT / "examples" / "events" / str(starter.sample)).read_text())


def render_sample(template: str, overrides: dict[str, Any] | None = None) -> tuple[RenderedEmail, str]:
    """The template rendered for its sequence's sample event, as `send` renders it; (email, recipient). The
    overrides are the event's own fields, set after its sender's body (Calendly's, for one) is read."""
    kind, body = sample_body(template)
    event = read_event(kind, body, NOW)
    if overrides:
        event = event.model_copy(update=overrides)
    values = build_variables(CAMPAIGN, event.email, event.variables(), NOW)
    return render(TEMPLATES[template], values), event.email


def check_as_a_reader(view: EmailView, recipient: str) -> None:
    text = view.text()
    assert "{{" not in text and "}}" not in text, text
    expect(view.showing(CAMPAIGN.sender_address)).to_be_visible()
    link = view.unsubscribe_link()
    expect(link).to_have_count(1)
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    assert href == CAMPAIGN.unsubscribe_link(recipient)
    assert all(h and h.startswith(("https://", "http://")) for h in view.hrefs()), view.hrefs()
    view.follow(link)  # actionable (visible, enabled, not covered) and really followed
    expect(view.page).to_have_url(href)
    assert view.requested == [href]


def test_every_template_is_checked() -> None:
    assert set(TEMPLATES) == set(SEQUENCE_OF), "a template without a sequence, or a sequence without a template"


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_the_reader_sees_the_sender_and_a_working_unsubscribe_link(page: Page, template: str) -> None:
    rendered, recipient = render_sample(template)
    assert "{{" not in rendered.subject
    view = EmailView(page)
    view.open(rendered.html)
    check_as_a_reader(view, recipient)


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_markup_in_a_value_is_shown_as_text_and_never_runs(page: Page, template: str) -> None:
    kind, body = sample_body(template)
    given = read_event(kind, body, NOW).model_dump(exclude_none=True)
    fields = [f for f in FREE_TEXT_FIELDS if f in given or f in ("first_name", "business_name")]
    overrides = {f: PROBES[i % len(PROBES)] for i, f in enumerate(fields)}
    rendered, recipient = render_sample(template, overrides)
    view = EmailView(page)
    view.open(rendered.html)
    assert not view.script_ran(), f"markup in a value ran in {template!r}"
    assert view.requested == [], f"markup in a value made the browser fetch {view.requested}"
    if "{{first_name}}" in TEMPLATES[template].body_html.replace(" ", ""):
        expect(view.showing(overrides["first_name"])).to_be_visible()  # shown as the text it is
    check_as_a_reader(view, recipient)


def test_the_probes_do_run_when_markup_is_not_escaped(page: Page) -> None:
    """The control: the same probes, pasted raw, do set window.__pwned, so a pass above means something."""
    view = EmailView(page)
    view.open("<p>" + PROBES[0] + "</p>")
    assert view.script_ran()


@pytest.mark.parametrize("sequence", sorted(STARTERS))
def test_the_preview_command_output_passes_the_same_checks(page: Page, sequence: str) -> None:
    template = next(name for name in sorted(TEMPLATES) if SEQUENCE_OF[name] == sequence)
    sample = ROOT / "examples" / "events" / str(STARTERS[sequence].sample)
    env = {"PATH": os.environ.get("PATH", ""), "CHRISTMAS_BACKEND": "local",
           "CHRISTMAS_TEMPLATES_DIR": str(SAMPLE_TEMPLATES)}
    cli = [sys.executable, "-m", "christmas_tasks.entrypoints.cli"]
    result = subprocess.run([*cli, "preview", template, "--event", str(sample), "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    preview = json.loads(result.stdout)
    assert "{{" not in preview["subject"] and "{{" not in preview["text"]
    view = EmailView(page)
    view.open(preview["html"])
    check_as_a_reader(view, read_event(STARTERS[sequence].kind, json.loads(sample.read_text()), NOW).email)
