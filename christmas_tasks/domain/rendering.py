"""Template rendering (SPEC §5): `{{name}}` placeholders, rendered by the package, never by Kestra.

A placeholder may carry a fallback, `{{name|text used when the value is missing}}`: literal text, put in the
email when the value is missing or blank. A fallback is one line of text, not blank, without `{`, `}` or `|`
(so it can never end the placeholder early or hold another one); spaces around it are trimmed, as around the
name. Values and fallbacks alike are HTML-escaped in the body; the subject is one line of plain text; the
plain-text part is derived from the rendered HTML. An unknown or malformed placeholder is an error naming each
one, and rendering never leaves a gap: a placeholder with no value and no fallback is an error naming it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import ClassVar

from christmas_tasks.domain.errors import TemplateError
from christmas_tasks.domain.variables import REQUIRED_PLACEHOLDERS, SequenceVariables

# group 1: the name; group 2: the fallback, when there is a `|` (a blank one is reported as malformed)
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|([^{}|\r\n]*))?\}\}")
_ANY_BRACES = re.compile(r"\{\{.*?\}\}", re.DOTALL)
FALLBACK_RULE = "a fallback is one line of text, not blank, without {, } or |"


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
    # (placeholder, fallback text) for each placeholder whose value was missing, in order, each once
    fallbacks: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Placeholder:
    name: str
    fallback: str | None  # None: no `|`; otherwise the fallback, trimmed


def parse_placeholders(text: str) -> list[Placeholder]:
    """The well-formed placeholders of `text`, in order (a malformed one is for `template_problems` to name)."""
    return [
        Placeholder(m.group(1), None if m.group(2) is None else m.group(2).strip()) for m in PLACEHOLDER.finditer(text)
    ]


def placeholders(text: str) -> list[str]:
    return [p.name for p in parse_placeholders(text)]


def _malformed(raw: str) -> str | None:
    """Why `raw` (anything between `{{` and `}}`) is no placeholder, or None when it is one."""
    match = PLACEHOLDER.fullmatch(raw)
    if match is not None and (match.group(2) is None or match.group(2).strip()):
        return None
    if re.match(r"\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\|", raw):
        return f"malformed placeholder {raw!r} ({FALLBACK_RULE})"
    return f"malformed placeholder {raw!r}"


def template_problems(template: Template, known: SequenceVariables | frozenset[str] | set[str]) -> list[str]:
    """Everything wrong with a template against the variable set `known`, one line each. Against a sequence's
    variables (`sequence_variables`), also each placeholder without a fallback for a value an email of that
    sequence may lack."""
    sequence, names, may_lack = (
        (known.sequence, known.names, known.may_lack) if isinstance(known, SequenceVariables) else ("", known, set())
    )
    problems = []
    for part, text in (("subject", template.subject), ("body", template.body_html)):
        for raw in _ANY_BRACES.findall(text):
            malformed = _malformed(raw)
            if malformed:
                problems.append(f"{part}: {malformed}")
        unknown = sorted({name for name in placeholders(text) if name not in names})
        if unknown:
            problems.append(f"{part}: unknown placeholder(s) {', '.join(unknown)}")
        bare = dict.fromkeys(p.name for p in parse_placeholders(text) if p.fallback is None and p.name in may_lack)
        for name in bare:
            problems.append(
                f"{part}: {{{{{name}}}}} has no fallback, and an email of the {sequence} sequence may lack "
                f"{name} (write {{{{{name}|text used when it is missing}}}})"
            )
    if not template.subject.strip():
        problems.append("subject: empty")
    used = set(placeholders(template.body_html))
    for name in REQUIRED_PLACEHOLDERS:
        if name not in used:
            problems.append(f"body: lacks {{{{{name}}}}} (required in every commercial email)")
    return problems


def check_template(template: Template, known: SequenceVariables | frozenset[str] | set[str]) -> None:
    problems = template_problems(template, known)
    if problems:
        raise TemplateError(f"template {template.name!r}: " + "; ".join(problems))


def render(template: Template, values: dict[str, str]) -> RenderedEmail:
    """Render `template` with `values`; every placeholder must be known. A missing or blank value takes the
    placeholder's fallback; with no fallback either, nothing is rendered (an error names each such placeholder),
    so an email never reads "you scored  on the assessment"."""
    check_template(template, set(values))
    used: dict[tuple[str, str], None] = {}
    gaps: dict[str, None] = {}

    def substitute(text: str, escape: bool) -> str:
        def one(match: re.Match[str]) -> str:
            name, fallback = match.group(1), match.group(2)
            value = values[name]
            if not value.strip():
                if fallback is None:
                    gaps[name] = None
                    return ""
                value = fallback.strip()
                used[(name, value)] = None
            return html.escape(value, quote=True) if escape else value

        return PLACEHOLDER.sub(one, text)

    subject = " ".join(substitute(template.subject, escape=False).split())
    body = substitute(template.body_html, escape=True)
    if gaps:
        named = ", ".join(f"{{{{{name}}}}}" for name in gaps)
        raise TemplateError(
            f"template {template.name!r}: no value and no fallback for {named}: it would leave a gap in the email, "
            "so it is not rendered (give the placeholder a fallback: {{name|text used when the value is missing}})"
        )
    return RenderedEmail(subject=subject, html=body, text=html_to_text(body), fallbacks=tuple(used))


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
