from __future__ import annotations

import pytest

from christmas_tasks.domain.errors import ConfigError
from christmas_tasks.entrypoints.settings import CREDENTIALS, LIVE_REQUIRED, Settings

LIVE = {
    "CHRISTMAS_BACKEND": "live",
    "NOTION_TOKEN": "ntn_live_token_value_123",
    "RESEND_API_KEY": "re_live_key_value_456",
    "UNSUBSCRIBE_SECRET": "unsubscribe-secret-789",
    "NOTION_CONTACTS_DB_ID": "c" * 32,
    "NOTION_EMAIL_SEQUENCE_DB_ID": "s" * 32,
    "NOTION_EMAIL_TEMPLATES_DB_ID": "t" * 32,
    "EMAIL_FROM": "Example <hello@example.com>",
    "SENDER_ADDRESS": "1 Main St, Toronto",
    "UNSUBSCRIBE_URL": "https://example.com/unsubscribe",
    "CALENDLY_LINK": "https://calendly.com/example",
    "CAMPAIGN_DEADLINE": "2025-12-20",
    "DISCORD_WEBHOOK_URL": "https://discord.example/api/webhooks/1/abcdefgh",
}


def test_local_is_the_default_and_needs_nothing() -> None:
    settings = Settings.from_env({})
    assert settings.backend == "local" and settings.notion is None and not settings.testing


def test_live_with_everything() -> None:
    settings = Settings.from_env(LIVE)
    assert settings.notion is not None and settings.notion.analytics_db is None
    assert settings.resend_api_key is not None and settings.resend_api_key.reveal() == "re_live_key_value_456"


def test_live_missing_settings_are_all_named() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"CHRISTMAS_BACKEND": "live"})
    assert set(LIVE_REQUIRED) == {
        "NOTION_TOKEN", "RESEND_API_KEY", "UNSUBSCRIBE_SECRET", "NOTION_CONTACTS_DB_ID", "NOTION_EMAIL_SEQUENCE_DB_ID",
        "NOTION_EMAIL_TEMPLATES_DB_ID", "EMAIL_FROM", "SENDER_ADDRESS", "CALENDLY_LINK", "CAMPAIGN_DEADLINE",
    }
    for name in LIVE_REQUIRED:
        assert name in str(caught.value)


def test_no_secret_value_in_repr_or_errors() -> None:
    settings = Settings.from_env(LIVE)
    text = repr(settings)
    for name in ("NOTION_TOKEN", "RESEND_API_KEY", "UNSUBSCRIBE_SECRET", "DISCORD_WEBHOOK_URL"):
        assert LIVE[name] not in text
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**LIVE, "NOTION_TOKEN": "", "TESTING_MODE": "maybe"})
    assert "ntn_" not in str(caught.value)
    assert set(CREDENTIALS) == {"NOTION_TOKEN", "RESEND_API_KEY", "UNSUBSCRIBE_SECRET", "DISCORD_WEBHOOK_URL"}
    assert sorted(settings.secret_values()) == sorted(LIVE[n] for n in CREDENTIALS)


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"CHRISTMAS_BACKEND": "cloud"}, "CHRISTMAS_BACKEND"),
        ({"TESTING_MODE": "sometimes"}, "TESTING_MODE"),
        ({"CAMPAIGN_DEADLINE": "next friday"}, "CAMPAIGN_DEADLINE"),
        ({"CAMPAIGN_TIMEZONE": "Nowhere/Land"}, "CAMPAIGN_TIMEZONE"),
        ({"SEND_WINDOW": "always"}, "SEND_WINDOW"),
        ({"SEND_BLACKOUT": "christmas"}, "SEND_BLACKOUT: 'christmas'"),
        # the campaign name is a Notion select option: at most 100 characters, no comma
        ({"CAMPAIGN_NAME": "Christmas, 2025"}, "CAMPAIGN_NAME 'Christmas, 2025' must be at most 100 characters"),
        ({"CAMPAIGN_NAME": "C" * 101}, "without a comma"),
        ({"REPLY_ADDRESS": "replies at example.com"}, "REPLY_ADDRESS must be an email address"),
        ({"REPLY_INBOX": "Sales <sales>"}, "REPLY_INBOX must be an email address"),
        # Resend receives every address of a receiving domain: a forward there would come back, forever
        ({"REPLY_ADDRESS": "reply@in.example.com", "REPLY_INBOX": "Sales <sales@IN.example.com>"},
         "REPLY_INBOX must not be on REPLY_ADDRESS's domain \\(in.example.com\\)"),
    ],
)
def test_bad_settings_are_named(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        Settings.from_env(env)


def test_every_email_replies_to_reply_address_when_set_else_email_reply_to() -> None:
    assert Settings.from_env({}).reply_to is None
    assert Settings.from_env({"EMAIL_REPLY_TO": "hello@example.com"}).reply_to == "hello@example.com"
    both = Settings.from_env({"EMAIL_REPLY_TO": "hello@example.com", "REPLY_ADDRESS": "Jo <reply@in.example.com>"})
    assert (both.reply_to, both.reply_address) == ("Jo <reply@in.example.com>", "Jo <reply@in.example.com>")


def test_replies_are_forwarded_to_reply_inbox_which_live_has_no_default_for() -> None:
    assert Settings.from_env({}).reply_inbox == "replies@example.org", "the local backends' sample inbox"
    assert Settings.from_env({"REPLY_INBOX": "sales@example.com"}).reply_inbox == "sales@example.com"
    assert Settings.from_env(LIVE).reply_inbox is None, "not required live: a reply then fails, naming it"
    assert Settings.from_env({**LIVE, "REPLY_INBOX": "sales@example.com"}).reply_inbox == "sales@example.com"


def test_testing_mode_is_read_from_the_environment_given() -> None:
    assert Settings.from_env({"TESTING_MODE": "true"}).testing
    assert not Settings.from_env({"TESTING_MODE": "false"}).testing


def test_the_provider_api_urls_default_to_the_providers_and_refuse_plain_http_off_loopback() -> None:
    settings = Settings.from_env(LIVE)
    assert settings.notion is not None and settings.notion.api_url == "https://api.notion.com"
    assert settings.resend_api_url == "https://api.resend.com"
    gateway = Settings.from_env(
        {**LIVE, "NOTION_API_URL": "http://127.0.0.1:9001/", "RESEND_API_URL": "https://r.example"}
    )
    assert gateway.notion is not None and gateway.notion.api_url == "http://127.0.0.1:9001"
    assert gateway.resend_api_url == "https://r.example"
    with pytest.raises(ConfigError, match="NOTION_API_URL must be an https URL"):
        Settings.from_env({**LIVE, "NOTION_API_URL": "http://notion.example"})


def test_the_unsubscribe_link_is_the_businesss_page_else_the_edges() -> None:
    key = "k" * 40
    edge = {**LIVE, "UNSUBSCRIBE_URL": "", "EDGE_PUBLIC_URL": "https://hooks.example.com/"}
    assert Settings.from_env(edge).campaign.unsubscribe_url == "https://hooks.example.com/unsubscribe"
    assert Settings.from_env({**edge, "UNSUBSCRIBE_URL": "https://example.com/bye"}).campaign.unsubscribe_url == (
        "https://example.com/bye"
    )
    with pytest.raises(ConfigError, match="EDGE_PUBLIC_URL must be an https URL"):
        Settings.from_env({**edge, "EDGE_PUBLIC_URL": "http://hooks.example.com"})
    # live, Kestra's own webhooks are private (SPEC §10): its URL is no unsubscribe link
    kestra = {**LIVE, "UNSUBSCRIBE_URL": "", "KESTRA_PUBLIC_URL": "https://kestra.example.com/",
              "UNSUBSCRIBE_LINK_KEY": key}
    with pytest.raises(ConfigError, match=r"set EDGE_PUBLIC_URL .* or UNSUBSCRIBE_URL"):
        Settings.from_env(kestra)
    # a local engine with no edge in front (the engine suite): the unsubscribe-link flow on Kestra itself
    local = {"KESTRA_PUBLIC_URL": "http://127.0.0.1:18080/", "UNSUBSCRIBE_LINK_KEY": key}
    assert Settings.from_env(local).campaign.unsubscribe_url == (
        f"http://127.0.0.1:18080/api/v1/main/executions/webhook/christmas/unsubscribe-link/{key}"
    )
    # locally, on the command line alone (no Kestra to serve the link), a placeholder
    assert Settings.from_env({}).campaign.unsubscribe_url == "http://localhost:8080/unsubscribe"


@pytest.mark.parametrize("env", [{}, LIVE, {**LIVE, "UNSUBSCRIBE_URL": "", "EDGE_PUBLIC_URL": "https://k.example/"}])
def test_the_package_reads_no_setting_outside_the_one_table(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings.from_env reads its settings through SettingValues, which refuses a name outside the table
    (christmas_tasks/entrypoints/settings_table.py), so every setting it reads is one flows/step.yml writes (tests/flows
    checks the table against step.yml)."""
    from christmas_tasks.entrypoints.settings import SETTING_NAMES, SettingValues

    asked: set[str] = set()
    read = SettingValues.__getitem__

    def recording(self: SettingValues, name: str) -> str:
        asked.add(name)
        return read(self, name)

    monkeypatch.setattr(SettingValues, "__getitem__", recording)
    Settings.from_env({**env, "UNSUBSCRIBE_LINK_KEY": "k" * 40} if env.get("KESTRA_PUBLIC_URL") else env)
    assert asked <= SETTING_NAMES
    assert {"CHRISTMAS_BACKEND", "CHRISTMAS_CACHE_DIR", "CHRISTMAS_TEMPLATE_CACHE_SECONDS"} <= asked
    with pytest.raises(ValueError, match="NOT_A_SETTING is not in the settings table"):
        SettingValues({"NOT_A_SETTING": "x"}).get("NOT_A_SETTING")


def test_the_health_check_fails_when_replies_reach_resend_but_have_nowhere_to_go() -> None:
    from christmas_tasks.entrypoints.app import check_health

    assert check_health(Settings.from_env({**LIVE, "REPLY_INBOX": "sales@example.com"}))["ok"]
    with pytest.raises(ConfigError, match="REPLY_ADDRESS is set but REPLY_INBOX is not"):
        check_health(Settings.from_env({**LIVE, "REPLY_ADDRESS": "reply@in.example.com"}))
