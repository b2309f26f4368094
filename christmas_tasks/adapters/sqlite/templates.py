"""The templates table. With a templates folder, that folder is the template store: the table mirrors it the first
time a store reads a template (each Kestra step is a new process, so an edited file takes effect at the next step, as
an edit in Notion does)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from christmas_tasks.adapters.sqlite.db import SqliteDb
from christmas_tasks.adapters.template_files import load_templates
from christmas_tasks.domain.errors import TemplateError
from christmas_tasks.domain.rendering import Template


class SqliteTemplates:
    def __init__(self, db: SqliteDb, templates_dir: Path | None = None) -> None:
        self.db = db
        self.templates_dir = Path(templates_dir) if templates_dir is not None else None
        self._ready = False

    def _ensure_templates(self) -> None:
        """Once per store, the table made equal to `templates_dir` (when given): files added, edited or removed take
        effect. Nothing is written when they already match."""
        if self._ready:
            return
        if self.templates_dir is not None:
            wanted = {t.name: t for t in load_templates(self.templates_dir).values()}
            if self._stored() != wanted:
                with self.db.write() as db:  # the same check again, inside the lock: another process may have synced
                    rows = db.execute("SELECT * FROM templates").fetchall()
                    if {row["name"]: _template(row) for row in rows} != wanted:
                        db.execute("DELETE FROM templates")
                        db.executemany(
                            "INSERT INTO templates (name, subject, body_html, active) VALUES (?, ?, ?, ?)",
                            [(t.name, t.subject, t.body_html, int(t.active)) for t in wanted.values()],
                        )
        self._ready = True

    def _stored(self) -> dict[str, Template]:
        with self.db.connect() as db:
            return {row["name"]: _template(row) for row in db.execute("SELECT * FROM templates").fetchall()}

    def get_template(self, name: str) -> Template:
        """The named template; a missing or inactive one raises TemplateError (no fallback)."""
        self._ensure_templates()
        with self.db.connect() as db:
            row = db.execute("SELECT * FROM templates WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise TemplateError(f"template {name!r} not found in the local template store")
        template = _template(row)
        if not template.active:
            raise TemplateError(f"template {name!r} is Inactive")
        return template

    def list_templates(self) -> list[Template]:
        self._ensure_templates()
        with self.db.connect() as db:
            rows = db.execute("SELECT * FROM templates ORDER BY name").fetchall()
        return [_template(row) for row in rows]

    def put_template(self, template: Template) -> str:
        """Create or update a template by name; returns "created", "updated" or "unchanged"."""
        self._ensure_templates()
        with self.db.write() as db:
            row = db.execute("SELECT * FROM templates WHERE name = ?", (template.name,)).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO templates (name, subject, body_html, active) VALUES (?, ?, ?, ?)",
                    (template.name, template.subject, template.body_html, int(template.active)),
                )
                return "created"
            if _template(row) == template:
                return "unchanged"
            db.execute(
                "UPDATE templates SET subject = ?, body_html = ?, active = ? WHERE name = ?",
                (template.subject, template.body_html, int(template.active), template.name),
            )
            return "updated"


def _template(row: sqlite3.Row) -> Template:
    return Template(name=row["name"], subject=row["subject"], body_html=row["body_html"], active=bool(row["active"]))
