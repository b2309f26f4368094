"""The disk cache that saves Notion calls across processes: data source ids and templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from christmas_tasks.adapters.cache import DiskCache
from christmas_tasks.adapters.notion import NotionLedger
from christmas_tasks.domain.errors import TemplateError
from christmas_tasks.domain.rendering import Template
from tests.fakes.fake_notion import DATABASES, FakeNotion, ledger_on_fake

BODY = "<p>{{sender_address}} {{unsubscribe_url}}</p>"


def ledger_on(fake: FakeNotion, cache: DiskCache, ttl: float = 300) -> NotionLedger:
    return ledger_on_fake(fake, cache=cache, template_ttl=ttl)


def calls(fake: FakeNotion, since: int) -> list[str]:
    return [f"{m} {p.split('/')[2]}" for m, p in fake.requests[since:]]


def test_a_data_source_is_resolved_once_per_machine_not_per_process(tmp_path: Path) -> None:
    fake, cache = FakeNotion(), DiskCache(tmp_path)
    ledger_on(fake, cache).contacts.get_contact("a@example.com")
    assert calls(fake, 0) == ["GET databases", "POST data_sources"]
    mark = len(fake.requests)
    ledger_on(fake, cache).contacts.get_contact("a@example.com")  # a new process, same machine
    assert calls(fake, mark) == ["POST data_sources"]


def test_a_remembered_data_source_that_is_gone_is_resolved_again(tmp_path: Path) -> None:
    fake, cache = FakeNotion(), DiskCache(tmp_path)
    cache.set(f"notion-data-source:{DATABASES['contacts']}", "da7a5000-0000-4000-8000-0000000000ff")
    ledger = ledger_on(fake, cache)
    assert ledger.contacts.get_contact("a@example.com") is None
    assert calls(fake, 0) == ["POST data_sources", "GET databases", "POST data_sources"]
    assert cache.get(f"notion-data-source:{DATABASES['contacts']}") == ledger.api.data_source_id("contacts")


def test_templates_are_cached_for_the_ttl_then_read_again(tmp_path: Path) -> None:
    fake, now = FakeNotion(), [1000.0]
    cache = DiskCache(tmp_path, clock=lambda: now[0])
    ledger_on(fake, cache).templates.put_template(Template("T1", "Hello", BODY))
    ledger_on(fake, cache).templates.get_template("T1")
    mark = len(fake.requests)
    assert ledger_on(fake, cache).templates.get_template("T1").subject == "Hello"
    assert calls(fake, mark) == []
    now[0] += 301
    ledger_on(fake, cache).templates.get_template("T1")
    assert calls(fake, mark) == ["POST data_sources"]


def test_a_cached_inactive_template_is_still_refused(tmp_path: Path) -> None:
    fake, cache = FakeNotion(), DiskCache(tmp_path)
    ledger_on(fake, cache).templates.put_template(Template("T2", "Hello", BODY, active=False))
    with pytest.raises(TemplateError, match="Inactive"):
        ledger_on(fake, cache).templates.get_template("T2")
    cache.set(
        f"notion-template:{DATABASES['templates']}:T2",
        {"name": "T2", "subject": "s", "body_html": BODY, "active": False},
    )
    with pytest.raises(TemplateError, match="Inactive"):
        ledger_on(fake, cache).templates.get_template("T2")


def test_ttl_zero_never_caches_templates(tmp_path: Path) -> None:
    fake, cache = FakeNotion(), DiskCache(tmp_path)
    ledger_on(fake, cache, ttl=0).templates.put_template(Template("T3", "Hello", BODY))
    mark = len(fake.requests)
    ledger_on(fake, cache, ttl=0).templates.get_template("T3")
    ledger_on(fake, cache, ttl=0).templates.get_template("T3")
    assert calls(fake, mark).count("POST data_sources") == 2


def test_an_unreadable_cache_is_a_miss(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    cache.set("k", {"v": 1})
    for path in tmp_path.glob("*.json"):
        path.write_text("{broken")
    assert cache.get("k") is None
    blocked = DiskCache(tmp_path / "file")
    (tmp_path / "file").write_text("not a folder")
    blocked.set("k", 1)  # cannot write: only costs calls, never fails
    assert blocked.get("k") is None
