"""Settings, read once from the environment by the entry point (SPEC §8).

`CHRISTMAS_BACKEND=local` (the default) runs on the embedded backends with sample campaign facts;
`live` needs every Notion/Resend secret and campaign fact, and fails at once naming each one missing.
Secret values are wrapped so that no repr, log line or error can show them.

The table of every setting is christmas_tasks/entrypoints/settings_table.py (re-exported here).

Why not pydantic-settings: `plan` and `--help` read the settings and must start without importing pydantic (their
cold-start budget, benchmarks/cold_start.py); and the Kestra step passes its settings as a mapping read from a
file, not as the process environment.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from christmas_tasks.adapters.secret import Secret
from christmas_tasks.domain.deliverability import Thresholds
from christmas_tasks.domain.errors import ConfigError
from christmas_tasks.domain.planning import SendWindow
from christmas_tasks.domain.records import OPTION_MAX
from christmas_tasks.domain.resuming import DEFAULT_SEND_CAP, parse_send_cap
from christmas_tasks.domain.variables import Campaign
from christmas_tasks.entrypoints.settings_table import (
    CREDENTIALS,
    EDGE,
    EDGE_SETTINGS,
    LIVE_REQUIRED,
    LOCAL_DEFAULTS,
    SETTING_NAMES,
    SETTINGS,
    STEP,
    STEP_SETTINGS,
    Setting,
    SettingValues,
    generated_secrets,
    kestra_secrets,
    webhook_keys,
)

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


# Where the local backends' links point when neither a page nor a Kestra serves them (the command line alone).
LOCAL_UNSUBSCRIBE_URL = "http://localhost:8080/unsubscribe"


def _unsubscribe_url(values: Mapping[str, str], live: bool) -> str:
    """Every email's unsubscribe link (its address and token are appended): UNSUBSCRIBE_URL, a business's own page,
    when set; else the public edge's page (EDGE_PUBLIC_URL + /unsubscribe: SPEC §10, the only public part). Locally,
    with no edge, the `unsubscribe-link` flow on Kestra itself (KESTRA_PUBLIC_URL, the step's `kestra.url`, and that
    flow's key, UNSUBSCRIBE_LINK_KEY); live that is no link, Kestra's webhooks being private."""
    own_page = values.get("UNSUBSCRIBE_URL", "").strip()
    if own_page:
        return own_page
    edge = values.get("EDGE_PUBLIC_URL", "").strip().rstrip("/")
    if edge:
        if not edge.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ConfigError("EDGE_PUBLIC_URL must be an https URL (plain http only on loopback)")
        return edge + "/unsubscribe"
    if live:
        raise ConfigError(
            "live backend: no unsubscribe link: set EDGE_PUBLIC_URL (the public edge, christmas-tasks serve) or "
            "UNSUBSCRIBE_URL (a page of your own)"
        )
    public, key = values.get("KESTRA_PUBLIC_URL", "").strip(), values.get("UNSUBSCRIBE_LINK_KEY", "").strip()
    if public and key:
        from christmas_tasks.entrypoints.inbound.unsubscribe_link import link_base

        return link_base(public, key)
    return LOCAL_UNSUBSCRIBE_URL


_ADDRESS = re.compile(r"^[^@\s<>,;]+@([^@\s<>,;]+\.[^@\s<>,;]+)$")


def _domain(values: Mapping[str, str], name: str) -> tuple[str | None, str | None]:
    """The setting `name` (`a@b.c` or `Name <a@b.c>`) and its address's domain, lower-cased; (None, None) when unset."""
    value = values.get(name, "").strip()
    if not value:
        return None, None
    bare = value[value.index("<") + 1 : -1].strip() if value.endswith(">") and "<" in value else value
    match = _ADDRESS.match(bare)
    if match is None:
        raise ConfigError(f"{name} must be an email address (a@example.com or Name <a@example.com>)")
    return value, match.group(1).lower()


def _reply_settings(values: Mapping[str, str]) -> tuple[str | None, str | None]:
    """REPLY_ADDRESS and REPLY_INBOX, checked: addresses, and the inbox not on the reply address's domain (Resend
    receives every address of a receiving domain, so a forward there would come back as a reply, forever)."""
    address, address_domain = _domain(values, "REPLY_ADDRESS")
    inbox, inbox_domain = _domain(values, "REPLY_INBOX")
    if address_domain is not None and address_domain == inbox_domain:
        raise ConfigError(
            f"REPLY_INBOX must not be on REPLY_ADDRESS's domain ({address_domain}): Resend receives every address of "
            "a receiving domain, so each forwarded reply would come back as a reply"
        )
    return address, inbox


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
SAMPLE_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
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
    reply_to: str | None  # every email's Reply-To: REPLY_ADDRESS, else EMAIL_REPLY_TO
    send_window: SendWindow | None  # SEND_WINDOW with SEND_BLACKOUT's days (None: any time, any day)
    discord_webhook: Secret | None = None
    notion: NotionSettings | None = None
    resend_api_key: Secret | None = None
    resend_api_url: str = RESEND_API_URL
    cache_dir: Path = Path(tempfile.gettempdir()) / "christmas-tasks-cache"
    template_cache_seconds: float = 300.0
    reply_address: str | None = None  # on a Resend receiving domain: replies arrive as email.received
    reply_inbox: str | None = None  # where replies are forwarded
    send_cap: int = DEFAULT_SEND_CAP  # emails an hour a resume plans, at most
    guard: Thresholds = field(default_factory=Thresholds)  # the deliverability guard's marks and window

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        backend = SettingValues(env).get("CHRISTMAS_BACKEND", "local").strip().lower() or "local"
        if backend not in ("local", "live"):
            raise ConfigError(f"CHRISTMAS_BACKEND must be 'local' or 'live', not {backend!r}")
        live = backend == "live"
        values = SettingValues(env if live else {**LOCAL_DEFAULTS, **{k: v for k, v in env.items() if v}})
        if live:
            missing = [name for name in LIVE_REQUIRED if not values.get(name, "").strip()]
            if missing:
                raise ConfigError("live backend: missing setting(s) " + ", ".join(missing))
        try:
            deadline = date.fromisoformat(values["CAMPAIGN_DEADLINE"].strip())
        except ValueError:
            raise ConfigError("CAMPAIGN_DEADLINE must be a date such as 2025-12-20") from None
        timezone = values.get("CAMPAIGN_TIMEZONE", "America/Toronto").strip() or "America/Toronto"
        try:
            from christmas_tasks.domain.planning import zone

            zone(timezone)
        except Exception:
            raise ConfigError(f"CAMPAIGN_TIMEZONE {timezone!r} is not an IANA time zone") from None
        campaign_name = values.get("CAMPAIGN_NAME", "Christmas 2025").strip() or "Christmas 2025"
        # a select option in Notion (Campaign): Notion refuses one over 100 characters or with a comma
        if len(campaign_name) > OPTION_MAX or "," in campaign_name:
            raise ConfigError(
                f"CAMPAIGN_NAME {campaign_name!r} must be at most {OPTION_MAX} characters, without a comma "
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
        reply_address, reply_inbox = _reply_settings(values)
        return cls(
            backend=backend,
            testing=_flag(values, "TESTING_MODE", False),
            local_dir=Path(values.get("CHRISTMAS_LOCAL_DIR", "").strip() or ".christmas"),
            templates_dir=Path(values.get("CHRISTMAS_TEMPLATES_DIR", "").strip() or SAMPLE_TEMPLATES),
            catalogue_path=Path(catalogue) if catalogue else None,
            campaign=campaign,
            email_from=values["EMAIL_FROM"].strip(),
            reply_to=reply_address or values.get("EMAIL_REPLY_TO", "").strip() or None,
            send_window=SendWindow.from_settings(
                values.get("SEND_WINDOW", ""), values.get("SEND_BLACKOUT", ""), timezone
            ),
            discord_webhook=Secret(discord) if discord else None,
            notion=notion,
            resend_api_key=resend_key,
            resend_api_url=api_urls["RESEND_API_URL"],
            cache_dir=Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "christmas-tasks-cache",
            template_cache_seconds=template_ttl,
            reply_address=reply_address,
            reply_inbox=reply_inbox,
            send_cap=parse_send_cap(values.get("SEND_CAP", "")),
            guard=Thresholds.from_settings(values),
        )

    def secret_values(self) -> list[str]:
        """Every secret value, so outputs can be scrubbed of them as a last line of defence."""
        secrets = [self.campaign.unsubscribe_secret] if self.backend == "live" else []
        for item in (self.discord_webhook, self.resend_api_key, self.notion.token if self.notion else None):
            if item is not None:
                secrets.append(item.reveal())
        return [s for s in secrets if len(s) >= 8]


__all__ = [
    "CREDENTIALS",
    "EDGE",
    "EDGE_SETTINGS",
    "LIVE_REQUIRED",
    "LOCAL_DEFAULTS",
    "LOCAL_UNSUBSCRIBE_URL",
    "NOTION_API_URL",
    "RESEND_API_URL",
    "SAMPLE_TEMPLATES",
    "SETTINGS",
    "SETTING_NAMES",
    "STEP",
    "STEP_SETTINGS",
    "NotionSettings",
    "Setting",
    "SettingValues",
    "Settings",
    "generated_secrets",
    "kestra_secrets",
    "webhook_keys",
]
