"""The Kestra UI of the stack under test (the suite's own local server in CI), in Chromium: it lists the
`christmas` flows, and shows a successful assessment execution."""

from __future__ import annotations

import pytest

pytest.importorskip("pytest_playwright", reason="the e2e extra is not installed (pip install -e '.[e2e]')")

from playwright.sync_api import Page, expect

from tests.e2e.harness import NAMESPACE, sample
from tests.e2e.kestra import state_of
from tests.e2e.pages import KestraUi
from tests.e2e.stack import Stack
from tests.engine.process import FLOWS

pytestmark = pytest.mark.e2e


def test_the_ui_lists_the_christmas_flows_and_a_successful_assessment(e2e: Stack, page: Page) -> None:
    email = e2e.new_address("ui")
    execution = e2e.handle("assessment", sample("assessment.json", email))
    assert state_of(execution) == "SUCCESS", e2e.kestra.logs(str(execution["id"]))

    ui = KestraUi(page, e2e.base_url, e2e.ui_username, e2e.ui_password)
    ui.open_flows(NAMESPACE)
    for flow_id in sorted(p.stem for p in FLOWS.glob("*.yml")):
        expect(ui.flow(flow_id)).to_be_visible()

    ui.open_execution(NAMESPACE, "assessment", str(execution["id"]))
    expect(page.get_by_text(str(execution["id"])).first).to_be_visible()
    expect(ui.state()).to_be_visible()
