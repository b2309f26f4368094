"""The local template store: one `.html` file per template in a folder (by default the package's own samples,
`christmas_tasks/templates/`).

A file opens with an HTML comment holding its fields, so it still previews in a browser:

    <!--
    name: 5-Day E2
    subject: {{first_name}}, your results
    status: Active
    -->
    <p>Hello {{first_name}}</p>
"""

from __future__ import annotations

from pathlib import Path

from christmas_tasks.domain.errors import InvalidInput, Problem
from christmas_tasks.domain.rendering import Template

_FIELDS = ("name", "subject", "status")


def parse_template_file(text: str, where: str) -> Template:
    stripped = text.lstrip()
    if not stripped.startswith("<!--") or "-->" not in stripped:
        raise InvalidInput(f"template file {where}", [Problem("header", "must open with <!-- name/subject/status -->")])
    header, body = stripped[4:].split("-->", 1)
    fields: dict[str, str] = {}
    for line in header.strip().splitlines():
        key, sep, value = line.partition(":")
        if not sep or key.strip().lower() not in _FIELDS:
            raise InvalidInput(f"template file {where}", [Problem("header", f"unexpected line {line.strip()!r}")])
        fields[key.strip().lower()] = value.strip()
    missing = [Problem(f, "is required") for f in ("name", "subject") if not fields.get(f)]
    status = fields.get("status", "Active")
    if status not in ("Active", "Inactive"):
        missing.append(Problem("status", f"is {status!r}; Active or Inactive"))
    if missing:
        raise InvalidInput(f"template file {where}", missing)
    return Template(fields["name"], fields["subject"], body.strip() + "\n", status == "Active")


def format_template_file(template: Template) -> str:
    status = "Active" if template.active else "Inactive"
    return f"<!--\nname: {template.name}\nsubject: {template.subject}\nstatus: {status}\n-->\n{template.body_html}"


def load_templates(folder: Path) -> dict[str, Template]:
    """Every template in `folder`, by name. Two files with one name are an error, not a choice."""
    if not folder.is_dir():
        raise InvalidInput("template folder", [Problem(str(folder), "is not a folder")])
    templates: dict[str, Template] = {}
    for path in sorted(folder.glob("*.html")):
        template = parse_template_file(path.read_text(encoding="utf-8"), path.name)
        if template.name in templates:
            raise InvalidInput("template folder", [Problem(path.name, f"repeats the name {template.name!r}")])
        templates[template.name] = template
    return templates
