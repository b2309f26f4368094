"""Settings, read once from the environment by the entry point (SPEC §8).

`CHRISTMAS_BACKEND=local` (the default) runs on the embedded backends with sample campaign facts;
`live` needs every Notion/Resend secret and campaign fact, and fails at once naming each one missing.
Secret values are wrapped so that no repr, log line or error can show them.

Why not pydantic-settings: `plan` and `--help` read the settings and must start without importing pydantic (their
cold-start budget, benchmarks/cold_start.py); and the Kestra step passes its settings as a mapping read from a
file, not as the process environment.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from christmas_tasks.errors import ConfigError
from christmas_tasks.notion_schema import SELECT_NAME_LIMIT
from christmas_tasks.planning import SendWindow
from christmas_tasks.secret import Secret
from christmas_tasks.variables import Campaign

LIVE_SECRETS = ("NOTION_TOKEN", "RESEND_API_KEY", "UNSUBSCRIBE_SECRET")
LIVE_REQUIRED = (
    "NOTION_CONTACTS_DB_ID",
    "NOTION_EMAIL_SEQUENCE_DB_ID",
    "NOTION_EMAIL_TEMPLATES_DB_ID",
    "EMAIL_FROM",
    "SENDER_ADDRESS",
    "CALENDLY_LINK",
    "CAMPAIGN_DEADLINE",
)
# Values that let the local backends run with no account; never used by the live backend.
LOCAL_DEFAULTS = {
    "EMAIL_FROM": "Christmas Campaign <hello@example.com>",
    "SENDER_NAME": "Example Consulting",
    "SENDER_ADDRESS": "123 Example Street, Toronto, ON M5V 0A1, Canada",
    "UNSUBSCRIBE_SECRET": "local-unsubscribe-secret",
    "CALENDLY_LINK": "https://calendly.com/example/christmas-call",
    "CAMPAIGN_DEADLINE": "2025-12-20",
}
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


# Where the local backends' links point when neither a page nor a Kestra serves them (the command line alone).
LOCAL_UNSUBSCRIBE_URL = "http://localhost:8080/unsubscribe"


def _unsubscribe_url(values: Mapping[str, str], live: bool) -> str:
    """Every email's unsubscribe link (its address and token are appended): UNSUBSCRIBE_URL, a business's own page,
    when set; else the `unsubscribe-link` flow on the public Kestra (KESTRA_PUBLIC_URL, which the step reads from
    Kestra's own `kestra.url`, and that flow's key, UNSUBSCRIBE_LINK_KEY)."""
    own_page = values.get("UNSUBSCRIBE_URL", "").strip()
    public, key = values.get("KESTRA_PUBLIC_URL", "").strip(), values.get("UNSUBSCRIBE_LINK_KEY", "").strip()
    if own_page:
        return own_page
    if public and key:
        from christmas_tasks.unsubscribe_link import link_base

        return link_base(public, key)
    if not live:
        return LOCAL_UNSUBSCRIBE_URL
    raise ConfigError(
        "live backend: no unsubscribe link: set UNSUBSCRIBE_URL (a page of your own), or run in Kestra with its "
        "public URL (kestra.url) and the secret WEBHOOK_KEY_UNSUBSCRIBE_LINK"
    )


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ConfigError(f"{name} must be true or false")


# The sample templates shipped inside the package (like catalogue.json): the local backend's default, so an
# installed command works from any folder; CHRISTMAS_TEMPLATES_DIR names another folder.
SAMPLE_TEMPLATES = Path(__file__).resolve().parent / "templates"
NOTION_API_URL = "https://api.notion.com"
RESEND_API_URL = "https://api.resend.com"


@dataclass(frozen=True)
class NotionSettings:
    token: Secret
    contacts_db: str
    sequence_db: str
    templates_db: str
    analytics_db: str | None
    api_url: str = NOTION_API_URL


@dataclass(frozen=True)
class Settings:
    backend: str
    testing: bool
    local_dir: Path
    templates_dir: Path
    catalogue_path: Path | None
    campaign: Campaign
    email_from: str
    reply_to: str | None
    send_window: SendWindow | None
    discord_webhook: Secret | None = None
    notion: NotionSettings | None = None
    resend_api_key: Secret | None = None
    resend_api_url: str = RESEND_API_URL
    cache_dir: Path = Path(tempfile.gettempdir()) / "christmas-tasks-cache"
    template_cache_seconds: float = 300.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        backend = env.get("CHRISTMAS_BACKEND", "local").strip().lower() or "local"
        if backend not in ("local", "live"):
            raise ConfigError(f"CHRISTMAS_BACKEND must be 'local' or 'live', not {backend!r}")
        live = backend == "live"
        values = dict(env) if live else {**LOCAL_DEFAULTS, **{k: v for k, v in env.items() if v}}
        if live:
            missing = [name for name in (*LIVE_SECRETS, *LIVE_REQUIRED) if not values.get(name, "").strip()]
            if missing:
                raise ConfigError("live backend: missing setting(s) " + ", ".join(missing))
        try:
            deadline = date.fromisoformat(values["CAMPAIGN_DEADLINE"].strip())
        except ValueError:
            raise ConfigError("CAMPAIGN_DEADLINE must be a date such as 2025-12-20") from None
        timezone = values.get("CAMPAIGN_TIMEZONE", "America/Toronto").strip() or "America/Toronto"
        try:
            from christmas_tasks.planning import zone

            zone(timezone)
        except Exception:
            raise ConfigError(f"CAMPAIGN_TIMEZONE {timezone!r} is not an IANA time zone") from None
        window_spec = values.get("SEND_WINDOW", "").strip()
        campaign_name = values.get("CAMPAIGN_NAME", "Christmas 2025").strip() or "Christmas 2025"
        # a select option in Notion (Campaign): Notion refuses one over 100 characters or with a comma
        if len(campaign_name) > SELECT_NAME_LIMIT or "," in campaign_name:
            raise ConfigError(
                f"CAMPAIGN_NAME {campaign_name!r} must be at most {SELECT_NAME_LIMIT} characters, without a comma "
                "(it is a Notion select option)"
            )
        campaign = Campaign(
            name=campaign_name,
            unsubscribe_url=_unsubscribe_url(values, live),
            deadline=deadline,
            calendly_link=values["CALENDLY_LINK"].strip(),
            sender_name=values.get("SENDER_NAME", "").strip() or values["EMAIL_FROM"].split("<")[0].strip(),
            sender_address=values["SENDER_ADDRESS"].strip(),
            unsubscribe_secret=values["UNSUBSCRIBE_SECRET"],
            timezone=timezone,
        )
        notion = None
        resend_key = None
        # The providers' API roots: their public URLs unless a gateway (or a test's fake) stands in front.
        api_urls = {}
        for name, default in (("NOTION_API_URL", NOTION_API_URL), ("RESEND_API_URL", RESEND_API_URL)):
            url = values.get(name, "").strip() or default
            if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
                raise ConfigError(f"{name} must be an https URL (plain http only on loopback)")
            api_urls[name] = url.rstrip("/")
        if live:
            notion = NotionSettings(
                token=Secret(values["NOTION_TOKEN"].strip()),
                contacts_db=values["NOTION_CONTACTS_DB_ID"].strip(),
                sequence_db=values["NOTION_EMAIL_SEQUENCE_DB_ID"].strip(),
                templates_db=values["NOTION_EMAIL_TEMPLATES_DB_ID"].strip(),
                analytics_db=values.get("NOTION_EMAIL_ANALYTICS_DB_ID", "").strip() or None,
                api_url=api_urls["NOTION_API_URL"],
            )
            resend_key = Secret(values["RESEND_API_KEY"].strip())
        discord = values.get("DISCORD_WEBHOOK_URL", "").strip()
        catalogue = values.get("CHRISTMAS_CATALOGUE", "").strip()
        cache_dir = values.get("CHRISTMAS_CACHE_DIR", "").strip()
        try:
            template_ttl = float(values.get("CHRISTMAS_TEMPLATE_CACHE_SECONDS", "").strip() or 300)
            if template_ttl < 0:
                raise ValueError
        except ValueError:
            raise ConfigError("CHRISTMAS_TEMPLATE_CACHE_SECONDS must be a number of seconds, 0 or more") from None
        return cls(
            backend=backend,
            testing=_flag(values, "TESTING_MODE", False),
            local_dir=Path(values.get("CHRISTMAS_LOCAL_DIR", "").strip() or ".christmas"),
            templates_dir=Path(values.get("CHRISTMAS_TEMPLATES_DIR", "").strip() or SAMPLE_TEMPLATES),
            catalogue_path=Path(catalogue) if catalogue else None,
            campaign=campaign,
            email_from=values["EMAIL_FROM"].strip(),
            reply_to=values.get("EMAIL_REPLY_TO", "").strip() or None,
            send_window=SendWindow.parse(window_spec, timezone) if window_spec else None,
            discord_webhook=Secret(discord) if discord else None,
            notion=notion,
            resend_api_key=resend_key,
            resend_api_url=api_urls["RESEND_API_URL"],
            cache_dir=Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "christmas-tasks-cache",
            template_cache_seconds=template_ttl,
        )

    def secret_values(self) -> list[str]:
        """Every secret value, so outputs can be scrubbed of them as a last line of defence."""
        secrets = [self.campaign.unsubscribe_secret] if self.backend == "live" else []
        for item in (self.discord_webhook, self.resend_api_key, self.notion.token if self.notion else None):
            if item is not None:
                secrets.append(item.reveal())
        return [s for s in secrets if len(s) >= 8]
