"""The edge's settings: it reads exactly the rows of the one settings table marked for it (and the names derived from
the event kinds: each flow's key, each posting sender's signing secret), nothing the step alone reads; a mistyped one
fails at start naming it; no secret is ever shown. `christmas-tasks serve` checks them before starting."""

from __future__ import annotations

import base64

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
    kestra_form,
    key_name,
    posted_kinds,
    shared_secrets,
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


def kestra_encoded(env: dict[str, str]) -> dict[str, str]:
    """The environment with each secret Kestra holds too in Kestra's form instead (`SECRET_<NAME>`, base64), as the
    compose files give it to both."""
    out = {name: value for name, value in env.items() if name not in shared_secrets()}
    for name in shared_secrets():
        if name in env:
            out[kestra_form(name)] = base64.b64encode(env[name].encode()).decode()
    return out


def test_the_secrets_kestra_holds_are_read_in_kestras_base64_form_too() -> None:
    """One line of the env file (`SECRET_WEBHOOK_KEY_<KIND>`, `SECRET_UNSUBSCRIBE_SECRET`) is what Kestra and the edge
    both read: the same keys and the same unsubscribe secret, to the byte."""
    assert set(shared_secrets()) == {*map(key_name, forwarded_flows()), "UNSUBSCRIBE_SECRET"}
    plain = EdgeSettings.from_env(environment(UNSUBSCRIBE_SECRET=" spaced secret\n"))
    encoded_env = kestra_encoded(environment(UNSUBSCRIBE_SECRET=" spaced secret\n"))
    assert not set(encoded_env) & set(shared_secrets()) and "SECRET_WEBHOOK_KEY_SIGNUP" in encoded_env
    encoded = EdgeSettings.from_env(encoded_env)
    assert {flow: key.reveal() for flow, key in encoded.keys.items()} == KEYS
    assert encoded.keys == plain.keys
    assert encoded.unsubscribe_secret is not None and encoded.unsubscribe_secret.reveal() == " spaced secret\n"
    # Kestra's decoder: line breaks ignored, the closing padding optional
    wrapped = {**encoded_env, "SECRET_WEBHOOK_KEY_SIGNUP": base64.b64encode(KEYS["signup"].encode()).decode()[:8]
               + "\n" + base64.b64encode(KEYS["signup"].encode()).decode()[8:].rstrip("=")}
    assert EdgeSettings.from_env(wrapped).keys["signup"].reveal() == KEYS["signup"]
    # both forms, agreeing: fine (a webhook key compared trimmed, as Kestra trims it)
    both = {**environment(WEBHOOK_KEY_SIGNUP=KEYS["signup"] + " "), **kestra_encoded(environment())}
    assert EdgeSettings.from_env(both).keys["signup"].reveal() == KEYS["signup"]


@pytest.mark.parametrize("name", ["WEBHOOK_KEY_SIGNUP", "UNSUBSCRIBE_SECRET"])
def test_both_forms_disagreeing_or_bad_base64_fail_at_start_naming_them_never_the_values(name: str) -> None:
    env = kestra_encoded(environment())
    value = KEYS["signup"] if name == "WEBHOOK_KEY_SIGNUP" else UNSUBSCRIBE_SECRET
    with pytest.raises(ConfigError) as caught:
        EdgeSettings.from_env({**env, name: value + "-other"})
    message = str(caught.value)
    assert f"{name} and SECRET_{name} are both set, to different values" in message
    assert value not in message and env[f"SECRET_{name}"] not in message
    with pytest.raises(ConfigError) as caught:
        EdgeSettings.from_env({**env, f"SECRET_{name}": "not base64 at all!"})
    assert f"SECRET_{name} must be base64" in str(caught.value) and "not base64" not in str(caught.value)


def test_an_empty_kestra_form_is_no_value() -> None:
    """The local compose file's optional secrets are set and empty: that sender is then refused, as when unset."""
    env = {**environment(), "SECRET_UNSUBSCRIBE_SECRET": "", "SECRET_WEBHOOK_KEY_SIGNUP": ""}
    del env["UNSUBSCRIBE_SECRET"], env["WEBHOOK_KEY_SIGNUP"]
    settings = EdgeSettings.from_env(env)
    assert settings.unsubscribe_secret is None and "signup" not in settings.keys


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
