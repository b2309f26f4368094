"""Live templates (the Notion templates database, tests/fakes/fake_notion.py reached through its WSGI transport) are
checked as the local ones are: `templates check --source crm` names a template whose placeholder needs a fallback,
and a send with it is refused before anything goes out."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from christmas_tasks.adapters.template_files import load_templates
from christmas_tasks.domain.errors import TemplateError
from christmas_tasks.entrypoints import app
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES, Settings
from tests.conftest import EXAMPLES, NOW
from tests.fakes.fake_notion import DATABASES, FakeNotion, ledger_on_fake
from tests.fakes.memory import InMemoryMailer, handle

LIVE = {
    "CHRISTMAS_BACKEND": "live",
    "NOTION_TOKEN": "ntn_test",
    "RESEND_API_KEY": "re_test",
    "UNSUBSCRIBE_SECRET": "unsubscribe-secret-for-tests",
    "NOTION_CONTACTS_DB_ID": DATABASES["contacts"],
    "NOTION_EMAIL_SEQUENCE_DB_ID": DATABASES["sequences"],
    "NOTION_EMAIL_TEMPLATES_DB_ID": DATABASES["templates"],
    "EMAIL_FROM": "Example <hello@example.com>",
    "SENDER_ADDRESS": "1 Main St, Toronto",
    "UNSUBSCRIBE_URL": "https://example.com/unsubscribe",
    "CALENDLY_LINK": "https://calendly.com/example",
    "CAMPAIGN_DEADLINE": "2025-12-20",
}


@pytest.fixture
def fake() -> FakeNotion:
    fake = FakeNotion()
    writer = ledger_on_fake(fake)
    for template in load_templates(SAMPLE_TEMPLATES).values():
        writer.templates.put_template(template)
    # a workspace's template from before fallbacks: the onboarding email breaks without a package or a start date
    old = load_templates(SAMPLE_TEMPLATES)["onboarding_phase1_email_1"]
    body = old.body_html.replace("{{package_type|new}}", "{{package_type}}").replace(
        "{{start_date|a date we will agree together}}", "{{start_date}}"
    )
    writer.templates.put_template(replace(old, body_html=body))
    return fake


def test_templates_check_on_notion_names_the_template_and_its_placeholders(
    fake: FakeNotion, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app, "build_ledger", lambda settings: ledger_on_fake(fake))
    report = app.check_templates(Settings.from_env(LIVE), "crm")
    assert report["ok"] is False and report["source"] == "crm"
    failing = {name: problems for name, problems in report["templates"].items() if problems}
    assert list(failing) == ["onboarding_phase1_email_1"]
    assert [p.split(" has no fallback")[0] for p in failing["onboarding_phase1_email_1"]] == [
        "body: {{package_type}}",
        "body: {{start_date}}",
    ]


def test_a_send_with_such_a_template_is_refused_and_nothing_goes_out(fake: FakeNotion) -> None:
    mailer = InMemoryMailer()
    funnel = app.build_funnel(Settings.from_env({"TESTING_MODE": "true"}), ledger=ledger_on_fake(fake), mailer=mailer)
    event = json.loads((EXAMPLES / "onboarding.json").read_text())  # it has a package and a start date
    plan = handle(funnel, "onboarding", event, NOW).plan
    with pytest.raises(TemplateError, match=r"'onboarding_phase1_email_1': body: \{\{package_type\}\} has no fallback"):
        funnel.send(plan[0].sequence_key, plan[0].email_number, plan[0].send_at, plan[0].send_at)
    assert mailer.messages() == []
