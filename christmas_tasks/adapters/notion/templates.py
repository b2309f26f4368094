"""The email templates database: one page per template, by name; a template read is kept in the disk cache for
`ttl` seconds (every Kestra task is a new process), so an edit in Notion takes effect within that time."""

from __future__ import annotations

from christmas_tasks.adapters.notion.api import AmbiguousRecord, NotionApi
from christmas_tasks.adapters.notion.encoding import Page, filter_on, new_page, optional
from christmas_tasks.adapters.notion.pages import template_of
from christmas_tasks.adapters.notion.schema import LABEL, Templates
from christmas_tasks.domain.errors import TemplateError
from christmas_tasks.domain.rendering import Template


class NotionTemplates:
    def __init__(self, api: NotionApi, ttl: float = 0.0) -> None:
        self.api = api
        self.ttl = ttl

    def _find_template(self, name: str) -> Page | None:
        try:
            return self.api.lookup(
                "templates",
                f"look up the template {name}",
                filter_on((Templates.NAME, "title", name)),
                f"Template Name {name!r}",
            )
        except AmbiguousRecord as exc:
            raise TemplateError(f"template {name!r}: {exc}") from None

    def get_template(self, name: str) -> Template:
        """The named template; missing or not Active raises TemplateError (no fallback). 1 query, or
        none while a copy fetched less than `template_ttl` seconds ago is in the disk cache."""
        key = f"notion-template:{self.api.database_id('templates')}:{name}"
        fresh = self.api.cache.get(key, self.ttl) if self.api.cache and self.ttl > 0 else None
        if isinstance(fresh, dict):
            template = Template(**fresh)
            if not template.active:
                raise TemplateError(f"template {name!r} is Inactive; only Active templates are sent")
            return template
        page = self._find_template(name)
        if page is None:
            raise TemplateError(f"template {name!r} not found in the Notion {LABEL['templates']}")
        template = template_of(page)
        if self.api.cache and self.ttl > 0:
            self.api.cache.set(
                key,
                {
                    "name": template.name,
                    "subject": template.subject,
                    "body_html": template.body_html,
                    "active": template.active,
                },
            )
        if not template.active:
            status = optional(page, Templates.STATUS) or "without a Status"
            raise TemplateError(f"template {name!r} is {status}; only Active templates are sent")
        return template

    def list_templates(self) -> list[Template]:
        """Every template, by name: 1 query per 100 templates."""
        pages = self.api.query_all("templates", "list the templates", None)
        return sorted((template_of(p) for p in pages), key=lambda t: t.name)

    def put_template(self, template: Template) -> str:
        """Create or update a template by name; "created", "updated" or "unchanged".
        1 query, then 1 pages.create or 1 pages.update (none when unchanged)."""
        page = self._find_template(template.name)
        values = {
            Templates.NAME: template.name,
            Templates.SUBJECT: template.subject,
            Templates.BODY: template.body_html,
            Templates.STATUS: "Active" if template.active else "Inactive",
        }
        if page is None:
            self.api.create("templates", f"create the template {template.name}", new_page("templates", values))
            return "created"
        if template_of(page) == template:
            return "unchanged"
        del values[Templates.NAME]
        self.api.update("templates", f"update the template {template.name}", str(page["id"]), values)
        return "updated"
