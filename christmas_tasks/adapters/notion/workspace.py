"""The schema check on a live workspace (`christmas-tasks notion check`): each configured database opened and
its data source's properties checked against SCHEMA (`christmas_tasks.adapters.notion.schema.check_schema`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from notion_client import Client

from christmas_tasks.adapters.notion.api import NotionApi
from christmas_tasks.adapters.notion.schema import KINDS, LABEL, NOTION_VERSION, OPTIONAL, SETTING, check_schema
from christmas_tasks.domain.errors import ChristmasError


def check_workspace(
    target: NotionApi | Client,
    *,
    databases: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """Check each configured database of a live workspace against SCHEMA.

    `target` is a NotionApi (its database ids are used) or a notion_client.Client with `databases`
    ({"contacts": id, "sequences": id, "templates": id, "analytics": id or None}). Costs two requests
    per database (databases.retrieve, data_sources.retrieve). Returns a JSON-ready report; `ok` is
    false when any database cannot be read or has a problem.
    """
    if isinstance(target, NotionApi):
        api = target
    else:
        ids = dict(databases or {})
        missing = [SETTING[k] for k in KINDS if k not in OPTIONAL and not ids.get(k)]
        if missing:
            raise ValueError("check_workspace needs the database ids: " + ", ".join(missing))
        api = NotionApi(target, {kind: ids.get(kind) or None for kind in KINDS})
    # Each configured database's data source first (1 databases.retrieve each): relations are checked against them.
    sources: dict[str, str] = {}
    unreadable: dict[str, str] = {}
    for kind in KINDS:
        if api.database_id(kind):
            try:
                sources[kind] = api.data_source_id(kind)
            except ChristmasError as exc:
                unreadable[kind] = f"cannot read the {LABEL[kind]}: {exc}"
    report: dict[str, Any] = {}
    ok = True
    for kind in KINDS:
        database_id = api.database_id(kind)
        entry: dict[str, Any] = {"setting": SETTING[kind], "database_id": database_id}
        if database_id is None:
            entry.update(configured=False, problems=[])
            report[kind] = entry
            continue
        problems = [unreadable[kind]] if kind in unreadable else []
        if not problems:
            try:
                properties = api.data_source_properties(kind)
            except ChristmasError as exc:
                problems = [f"cannot read the {LABEL[kind]}: {exc}"]
            else:
                entry["data_source_id"] = sources[kind]
                problems = check_schema(kind, properties, data_sources=sources)
        entry.update(configured=True, problems=problems)
        ok = ok and not problems
        report[kind] = entry
    return {"ok": ok, "notion_version": NOTION_VERSION, "databases": report}
