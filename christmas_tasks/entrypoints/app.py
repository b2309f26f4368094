"""The composition root: builds the ports from settings (local or live) and runs the checks. The only module
that names both a use case and an adapter."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from christmas_tasks.adapters.address_locks import AddressLockFiles
from christmas_tasks.domain.catalogue import Catalogue, load_catalogue
from christmas_tasks.domain.errors import ConfigError
from christmas_tasks.entrypoints.settings import Settings
from christmas_tasks.usecases.funnel import Funnel
from christmas_tasks.usecases.ports import Alerter, Ledger, Mailer, TemplateStore

if TYPE_CHECKING:
    from christmas_tasks.adapters.notion import NotionLedger
    from christmas_tasks.adapters.sqlite import SqliteLedger
    from christmas_tasks.entrypoints.inbound.resend import ReceivedEmails
    from christmas_tasks.usecases.report import CampaignReport

# Notion's documented limit is an average of three requests per second per integration: the report, which pages
# through whole data sources one request after another, keeps under it instead of leaning on 429 retries.
NOTION_REPORT_INTERVAL = 0.34
NOTION_BUDGET_FILE = "notion-budget.json"  # the machine's shared Notion request budget, in CHRISTMAS_CACHE_DIR


def build_ledger(
    settings: Settings, *, min_interval: float = 0.0, background: bool = False
) -> NotionLedger | SqliteLedger:
    """The configured backend's stores. Notion's requests take from the machine's shared budget (in the cache
    folder); `background` ones yield to the others' (an email's engagement to sends); `min_interval` paces them too
    (a reader making many in a row)."""
    if settings.backend == "live":
        from christmas_tasks.adapters.cache import DiskCache
        from christmas_tasks.adapters.notion import NotionLedger
        from christmas_tasks.adapters.notion.budget import RequestBudget

        assert settings.notion is not None
        ledger = NotionLedger.connect(
            settings.notion,
            cache=DiskCache(settings.cache_dir),
            template_ttl=settings.template_cache_seconds,
            min_interval=min_interval,
        )
        ledger.api.budget = RequestBudget(settings.cache_dir / NOTION_BUDGET_FILE)
        ledger.api.background = background
        return ledger
    from christmas_tasks.adapters.sqlite import SqliteLedger

    settings.local_dir.mkdir(parents=True, exist_ok=True)
    return SqliteLedger(settings.local_dir / "crm.sqlite3", settings.templates_dir)


def build_mailer(settings: Settings) -> Mailer:
    if settings.backend == "live":
        from christmas_tasks.adapters.resend.mailer import ResendMailer

        assert settings.resend_api_key is not None
        return ResendMailer(settings.resend_api_key, base_url=settings.resend_api_url)
    from christmas_tasks.adapters.outbox import OutboxMailer

    return OutboxMailer(settings.local_dir / "outbox")


def build_received_emails(settings: Settings) -> ReceivedEmails | None:
    """Resend's received emails, where a reply's text is read (the live backend); None locally, where there is no
    Resend: a reply is then posted in the package's own shape."""
    if settings.backend != "live":
        return None
    from christmas_tasks.adapters.resend.receiving import ResendReceiving

    assert settings.resend_api_key is not None
    return ResendReceiving(settings.resend_api_key, base_url=settings.resend_api_url)


def build_alerter(settings: Settings) -> Alerter | None:
    if settings.discord_webhook is None:
        return None
    from christmas_tasks.adapters.discord import DiscordAlerter

    return DiscordAlerter(settings.discord_webhook)


def checked_catalogue(settings: Settings) -> Catalogue:
    """The configured catalogue, checked against the event kinds: each sequence started by one kind, each sequence
    a kind starts or stops in it. A mismatch fails at once, naming each problem."""
    from christmas_tasks.domain.events import catalogue_problems

    catalogue = load_catalogue(settings.catalogue_path)
    problems = catalogue_problems(catalogue.sequences)
    if problems:
        where = settings.catalogue_path or "the packaged catalogue.json"
        raise ConfigError(f"the sequence catalogue {where} and the event kinds disagree: " + "; ".join(problems))
    return catalogue


def build_funnel(
    settings: Settings, ledger: Ledger | None = None, mailer: Mailer | None = None, *, background: bool = False
) -> Funnel:
    """The funnel on the configured backends; `background`: its ledger's requests yield to other steps' (an email's
    engagement yields to sends: SPEC §9)."""
    return Funnel(
        ledger=ledger or build_ledger(settings, background=background),
        mailer=mailer or build_mailer(settings),
        campaign=settings.campaign,
        catalogue=checked_catalogue(settings),
        email_from=settings.email_from,
        reply_to=settings.reply_to,
        testing=settings.testing,
        window=settings.send_window,
        alerter=build_alerter(settings),
        reply_inbox=settings.reply_inbox,
        send_cap=settings.send_cap,
        guard=settings.guard,
        locks=AddressLockFiles(settings.cache_dir / "address-locks"),
    )


def campaign_report(settings: Settings, now: datetime, since: date | None = None) -> CampaignReport:
    """The configured campaign's report, read from the configured backend's ledger."""
    from christmas_tasks.usecases.report import read_report

    return read_report(
        build_ledger(settings, min_interval=NOTION_REPORT_INTERVAL),
        campaign=settings.campaign.name,
        catalogue=load_catalogue(settings.catalogue_path),
        now=now,
        since=since,
        source="Notion" if settings.backend == "live" else "the local SQLite ledger",
        thresholds=settings.guard,
    )


def check_health(settings: Settings) -> dict[str, Any]:
    """Settings complete (Settings.from_env already failed otherwise) and the catalogue readable and in agreement
    with the event kinds."""
    catalogue = checked_catalogue(settings)
    if settings.backend == "local" and not settings.templates_dir.is_dir():
        raise ConfigError(f"CHRISTMAS_TEMPLATES_DIR: {settings.templates_dir} is not a folder")
    if settings.reply_address and not settings.reply_inbox:
        raise ConfigError(
            "REPLY_ADDRESS is set but REPLY_INBOX is not: every reply to it would fail; set REPLY_INBOX, where replies "
            "are forwarded"
        )
    return {
        "ok": True,
        "backend": settings.backend,
        "testing_mode": settings.testing,
        "sequences": list(catalogue.sequences),
        "analytics": bool(settings.notion and settings.notion.analytics_db) or settings.backend == "local",
        "alerts": settings.discord_webhook is not None,
        "replies_forwarded_to": settings.reply_inbox,
    }


def check_templates(settings: Settings, source: str) -> dict[str, Any]:
    """Every catalogue template exists, is active, and passes the check against its sequence's variables (a
    placeholder for a value the sequence may lack has a fallback), from the local folder or the live store."""
    from christmas_tasks.adapters.template_files import load_templates
    from christmas_tasks.domain.rendering import Template, template_problems
    from christmas_tasks.domain.variables import sequence_variables

    catalogue = load_catalogue(settings.catalogue_path)
    templates: dict[str, Template]
    if source == "local":
        templates = load_templates(settings.templates_dir)
    else:
        templates = {t.name: t for t in build_ledger(settings).templates.list_templates()}
    report: dict[str, list[str]] = {}
    for sequence in catalogue.sequences.values():
        for item in sequence.emails:
            template = templates.get(item.template)
            if template is None:
                report[item.template] = ["missing"]
                continue
            problems = template_problems(template, sequence_variables(sequence.name))
            if not template.active:
                problems.insert(0, "status is Inactive")
            report[item.template] = problems
    return {"ok": not any(report.values()), "source": source, "templates": report}


def push_templates(store: TemplateStore, folder: Path) -> dict[str, Any]:
    from christmas_tasks.adapters.template_files import load_templates

    results = {name: store.put_template(template) for name, template in sorted(load_templates(folder).items())}
    return {"ok": True, "templates": results}


def check_notion(settings: Settings) -> dict[str, Any]:
    if settings.backend != "live" or settings.notion is None:
        raise ConfigError("notion check needs CHRISTMAS_BACKEND=live and the Notion settings")
    from christmas_tasks.adapters.notion import NotionLedger
    from christmas_tasks.adapters.notion.workspace import check_workspace

    ledger = build_ledger(settings)
    assert isinstance(ledger, NotionLedger)  # the live backend
    return check_workspace(ledger.api)
