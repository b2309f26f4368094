"""Template rendering (SPEC §5): `{{name}}` placeholders, rendered by the package, never by Kestra.

Values are HTML-escaped in the body; the subject is one line of plain text; the plain-text part is
derived from the rendered HTML. An unknown or malformed placeholder is an error naming each one.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import ClassVar

from christmas_tasks.domain.errors import TemplateError
from christmas_tasks.domain.variables import REQUIRED_PLACEHOLDERS

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ANY_BRACES = re.compile(r"\{\{.*?\}\}", re.DOTALL)


@dataclass(frozen=True)
class Template:
    name: str
    subject: str
    body_html: str
    active: bool = True


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def placeholders(text: str) -> list[str]:
    return [m.group(1) for m in PLACEHOLDER.finditer(text)]


def template_problems(template: Template, known: frozenset[str] | set[str]) -> list[str]:
    """Everything wrong with a template against the variable set `known`, one line each."""
    problems = []
    for part, text in (("subject", template.subject), ("body", template.body_html)):
        for raw in _ANY_BRACES.findall(text):
            if not PLACEHOLDER.fullmatch(raw):
                problems.append(f"{part}: malformed placeholder {raw!r}")
        unknown = sorted({name for name in placeholders(text) if name not in known})
        if unknown:
            problems.append(f"{part}: unknown placeholder(s) {', '.join(unknown)}")
    if not template.subject.strip():
        problems.append("subject: empty")
    used = set(placeholders(template.body_html))
    for name in REQUIRED_PLACEHOLDERS:
        if name not in used:
            problems.append(f"body: lacks {{{{{name}}}}} (required in every commercial email)")
    return problems


def check_template(template: Template, known: frozenset[str] | set[str]) -> None:
    problems = template_problems(template, known)
    if problems:
        raise TemplateError(f"template {template.name!r}: " + "; ".join(problems))


def _substitute(text: str, values: dict[str, str], escape: bool) -> str:
    def one(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        return html.escape(value, quote=True) if escape else value

    return PLACEHOLDER.sub(one, text)


def render(template: Template, values: dict[str, str]) -> RenderedEmail:
    """Render `template` with `values`; every placeholder must have a value."""
    check_template(template, set(values))
    subject = " ".join(_substitute(template.subject, values, escape=False).split())
    body = _substitute(template.body_html, values, escape=True)
    return RenderedEmail(subject=subject, html=body, text=html_to_text(body))


class _TextExtractor(HTMLParser):
    _BREAKS: ClassVar[frozenset[str]] = frozenset(
        {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "hr"}
    )
    _SKIP: ClassVar[frozenset[str]] = frozenset({"style", "script", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._href: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAKS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")
        if tag == "a":
            self._href.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BREAKS:
            self.parts.append("\n")
        if tag == "a" and self._href:
            href = self._href.pop()
            if href and not href.startswith("#"):
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(body: str) -> str:
    """A readable plain-text part: tags dropped, blocks on their own lines, links spelled out."""
    parser = _TextExtractor()
    parser.feed(body)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
