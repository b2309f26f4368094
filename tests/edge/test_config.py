"""The edge's settings: it reads exactly the rows of the one settings table marked for it (and the names derived from
the event kinds: each flow's key, each posting sender's signing secret), nothing the step alone reads; a mistyped one
fails at start naming it; no secret is ever shown. `christmas-tasks serve` checks them before starting."""

from __future__ import annotations

import pytest

from christmas_tasks.domain.errors import ConfigError
from christmas_tasks.domain.events import KINDS
from christmas_tasks.entrypoints.cli import main
from christmas_tasks.entrypoints.edge.config import (
    CALENDLY_FLOWS,
    PROVIDER_ONLY,
    REPLY,
    EdgeSettings,
    derived_names,
    forwarded_flows,
    key_name,
    posted_kinds,
    signing_secret_name,
)
from christmas_tasks.entrypoints.settings import EDGE_SETTINGS, SETTINGS, STEP_SETTINGS, SettingValues
from tests.edge.conftest import CALENDLY_KEY, KEYS, RESEND_SECRET, UNSUBSCRIBE_SECRET, WEBSITE_SECRET, environment


@pytest.mark.parametrize("env", [{}, environment(), environment(WEBHOOK_SECRET_SIGNUP=WEBSITE_SECRET)])
def test_the_edge_reads_exactly_its_rows_of_the_settings_table(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: set[str] = set()
    read = SettingValues.__getitem__

    def recording(self: SettingValues, name: str) -> str:
        asked.add(name)
        return read(self, name)

    monkeypatch.setattr(SettingValues, "__getitem__", recording)
    EdgeSettings.from_env(env)
    own = asked - derived_names()
    assert own == EDGE_SETTINGS, "the rows marked EDGE are what the edge reads, both ways"
    assert asked & derived_names() == derived_names(), "every flow's key and every posting sender's secret"


def test_the_edge_refuses_to_read_a_setting_only_the_step_reads() -> None:
    step_only = sorted(STEP_SETTINGS - EDGE_SETTINGS)
    assert "NOTION_TOKEN" in step_only
    with pytest.raises(ValueError, match="NOTION_TOKEN is not read by the edge"):
        SettingValues({"NOTION_TOKEN": "x"}, reader="edge").get("NOTION_TOKEN")
    with pytest.raises(ValueError, match="KESTRA_INTERNAL_URL is not read by the step"):
        SettingValues({"KESTRA_INTERNAL_URL": "x"}).get("KESTRA_INTERNAL_URL")
    edge_only = {s.name for s in SETTINGS if s.read_by == ("edge",)}
    assert edge_only == {"KESTRA_INTERNAL_URL", "EDGE_HOST", "EDGE_PORT", "EDGE_DATA_DIR", "CALENDLY_SIGNING_KEY",
                         "RESEND_WEBHOOK_SECRET"}
    assert all(not s.secret and s.kestra is None for s in SETTINGS if s.read_by == ("edge",)), "never Kestra's"


def test_the_settings_table_refuses_a_kestra_secret_the_step_does_not_read() -> None:
    from christmas_tasks.entrypoints.settings import EDGE, Setting

    with pytest.raises(ValueError, match="only a setting the step reads"):
        Setting("X", "x", secret=True, read_by=(EDGE,))
    with pytest.raises(ValueError, match="read_by"):
        Setting("X", "x", read_by=("website",))


def test_every_flow_has_its_key_named_as_its_kind_says_and_reply_by_the_same_rule() -> None:
    for kind, model in KINDS.items():
        assert key_name(kind) == model.webhook_key == "WEBHOOK_KEY_" + kind.upper().replace("-", "_")
    assert REPLY in forwarded_flows() and key_name(REPLY) == "WEBHOOK_KEY_REPLY"
    assert set(CALENDLY_FLOWS.values()) <= set(KINDS)
    assert set(PROVIDER_ONLY) <= set(KINDS)
    assert signing_secret_name("email-status") == "WEBHOOK_SECRET_EMAIL_STATUS"
    assert set(posted_kinds()) == set(forwarded_flows()) - set(PROVIDER_ONLY)


def test_defaults_and_values() -> None:
    bare = EdgeSettings.from_env({})
    assert (bare.kestra_url, bare.host, bare.port, str(bare.data_dir)) == (
        "http://localhost:8080", "127.0.0.1", 8000, ".christmas-edge"
    )
    assert bare.calendly_key is None and bare.resend_secret is None and bare.unsubscribe_secret is None
    assert bare.keys == {} and bare.signing_secrets == {}
    full = EdgeSettings.from_env(environment(EDGE_PORT="9000", WEBHOOK_SECRET_SIGNUP=WEBSITE_SECRET))
    assert full.kestra_url == "http://kestra:8080" and full.port == 9000
    assert {flow: key.reveal() for flow, key in full.keys.items()} == KEYS
    assert set(full.signing_secrets) == {"signup"}
    named = EdgeSettings.from_env({"EMAIL_FROM": '"Example Co" <hello@example.com>'})
    assert named.sender_name == "Example Co"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"KESTRA_INTERNAL_URL": "kestra:8080"}, "KESTRA_INTERNAL_URL must be an http(s) URL"),
        ({"KESTRA_INTERNAL_URL": "http://admin:pw@kestra:8080"}, "without credentials"),
        ({"EDGE_PORT": "eighty"}, "EDGE_PORT must be a port number"),
        ({"EDGE_PORT": "70000"}, "EDGE_PORT must be a port number"),
        ({"RESEND_WEBHOOK_SECRET": "whsec_"}, "RESEND_WEBHOOK_SECRET must be a signing secret"),
        ({"WEBHOOK_SECRET_ASSESSMENT": "whsec_!!!"}, "WEBHOOK_SECRET_ASSESSMENT must be a signing secret"),
    ],
)
def test_a_mistyped_setting_fails_at_start_naming_it(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        EdgeSettings.from_env(env)
    assert fragment in str(caught.value) and "pw" not in str(caught.value)


def test_no_secret_is_shown_in_the_repr_or_the_summary() -> None:
    settings = EdgeSettings.from_env(environment(WEBHOOK_SECRET_SIGNUP=WEBSITE_SECRET))
    for text in (repr(settings), settings.summary()):
        for secret in (CALENDLY_KEY, RESEND_SECRET, UNSUBSCRIBE_SECRET, WEBSITE_SECRET, *KEYS.values()):
            assert secret not in text
    assert "senders checked: calendly, resend, unsubscribe" in settings.summary()


def test_serve_checks_its_settings_first(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EDGE_PORT", "not-a-port")
    assert main(["serve"]) == 2
    assert "error: EDGE_PORT must be a port number" in capsys.readouterr().err
