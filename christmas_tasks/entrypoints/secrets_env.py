r"""Kestra's environment secrets: a plain env file to `SECRET_<NAME>=<base64>` lines, and back.

Kestra's open-source secret backend reads every `SECRET_<NAME>` environment variable of the server,
base64-decodes it (the standard alphabet, padded; line breaks ignored) and serves it to flows as
`{{ secret('NAME') }}`. `encode_env` turns the file a person keeps (`NOTION_TOKEN=secret_...`) into
those lines; `decode_env` turns them back, so the encoded file can be checked before it is pasted
into Dokploy's Environment tab or a compose `.env` file.

The input is read the way Compose reads a `.env` file, restricted to what secrets need:

- `NAME=value`, `NAME = value` and `export NAME=value`; a name is a letter or `_`, then letters, digits
  and `_`;
- unquoted values are trimmed, and a ` #` (whitespace, then `#`) starts an inline comment;
- `'single quoted'` values are literal; `"double quoted"` values understand `\\`, `\"`, `\n`, `\r`, `\t`
  and `\$` (any other backslash is kept as written);
- full-line comments and blank lines are copied to the output unchanged (inline comments are dropped);
- a value may be empty (`DISCORD_WEBHOOK_URL=`): Kestra then serves an empty secret.

Every malformed line is reported, by line number, in one `InvalidInput`. No message ever contains a
value or the text of a line: a line that fails to parse may be a pasted secret.

Why not python-dotenv: it reads quoting and escapes its own way (not Compose's, which reads the output here), it
returns the values without the comment lines this keeps in place, and it skips a malformed line with a logged
warning where this must refuse the whole file, naming every bad line.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterable

from christmas_tasks.domain.errors import ConfigError, InvalidInput, Problem

PREFIX = "SECRET_"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"(?:export[ \t]+)?(?P<name>[^=\s]*)[ \t]*=(?P<rest>.*)", re.DOTALL)
_DOUBLE_QUOTED_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t", "$": "$"}
# Values written back without quotes by decode_env: nothing a dotenv reader could take differently.
_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./-]*")


def encode_env(text: str) -> str:
    """A plain env file -> the same file with each `NAME=value` as `SECRET_NAME=<base64 of value>`."""
    out: list[str] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for number, line in _lines(text):
        parsed = _parse_line(number, line, problems)
        if parsed is None:
            out.append(line)
            continue
        name, value = parsed
        if name.upper().startswith(PREFIX):
            message = f"{name} is already a {PREFIX}* name (use decode on an encoded file)"
            problems.append(Problem(f"line {number}", message))
            continue
        if not _check_unique(name, number, seen, problems):
            continue
        if "\x00" in value:
            problems.append(Problem(f"line {number}", f"the value of {name} contains a NUL character"))
            continue
        out.append(f"{PREFIX}{name}={base64.b64encode(value.encode('utf-8')).decode('ascii')}")
    if problems:
        raise InvalidInput("env file", problems)
    return _join(out)


def decode_env(text: str) -> str:
    """`SECRET_NAME=<base64>` lines -> `NAME=value` lines, quoted so that `encode_env` reads them back."""
    out: list[str] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for number, line in _lines(text):
        parsed = _parse_line(number, line, problems)
        if parsed is None:
            out.append(line)
            continue
        full_name, encoded = parsed
        if not full_name.startswith(PREFIX) or len(full_name) == len(PREFIX):
            problems.append(Problem(f"line {number}", f"{full_name} is not a {PREFIX}<NAME> variable"))
            continue
        name = full_name[len(PREFIX) :]
        if not _check_unique(name, number, seen, problems):
            continue
        try:
            raw = _b64decode(encoded)
        except (binascii.Error, ValueError):
            problems.append(Problem(f"line {number}", f"the value of {full_name} is not valid base64"))
            continue
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(Problem(f"line {number}", f"the value of {full_name} does not decode to UTF-8 text"))
            continue
        out.append(f"{name}={_quote(value)}")
    if problems:
        raise InvalidInput("env file", problems)
    return _join(out)


def names_in(text: str) -> set[str]:
    """The names a plain env file assigns (upper-cased, as Kestra reads secret names); malformed lines are skipped."""
    found = set()
    for number, line in _lines(text):
        parsed = _parse_line(number, line, [])
        if parsed is not None:
            found.add(parsed[0].upper())
    return found


def complete(text: str, names: Iterable[str], generated: Iterable[str]) -> tuple[str, list[str]]:
    """The plain env file with a line appended for each of `names` it lacks: a new random value (64 URL-safe
    characters) for those in `generated` (keys no person chooses), empty for the others (to be filled in); and the
    names added. What it has is kept: a webhook's URL holds its key."""
    have = names_in(text)
    made = set(generated)
    added = [name for name in names if name.upper() not in have]
    lines = [f"{name}={secrets.token_urlsafe(48) if name in made else ''}" for name in added]
    if not lines:
        return text, []
    prefix = text if not text or text.endswith("\n") else text + "\n"
    return prefix + _join(lines), added


def decode_value(name: str, encoded: str) -> str:
    """One `SECRET_<NAME>` value read as Kestra reads it (base64, then UTF-8 text); the message names the variable,
    never the value."""
    try:
        return _b64decode(encoded).decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        message = f"{name} must be base64 of UTF-8 text, as Kestra reads it (christmas-tasks secrets encode)"
        raise ConfigError(message) from None


def _b64decode(encoded: str) -> bytes:
    """Base64 as Kestra reads it (java.util.Base64's basic decoder): the standard alphabet, line breaks
    ignored, the closing `=` padding optional; anything else (spaces, `-`, `_`) is refused."""
    data = re.sub(r"[\r\n]", "", encoded)
    if "=" not in data and len(data) % 4 in (2, 3):
        data += "=" * (-len(data) % 4)
    return base64.b64decode(data, validate=True)


def _lines(text: str) -> list[tuple[int, str]]:
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text:
        return []
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return [(number, line.rstrip("\r")) for number, line in enumerate(lines, start=1)]


def _join(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _check_unique(name: str, number: int, seen: dict[str, int], problems: list[Problem]) -> bool:
    # Kestra upper-cases secret names, so NOTION_TOKEN and notion_token are the same secret.
    key = name.upper()
    if key in seen:
        problems.append(Problem(f"line {number}", f"{name} is already set on line {seen[key]}"))
        return False
    seen[key] = number
    return True


def _parse_line(number: int, line: str, problems: list[Problem]) -> tuple[str, str] | None:
    """(name, value) of an assignment; None for a blank or comment line (or a bad one, recorded)."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    match = _ASSIGNMENT.fullmatch(stripped)
    if match is None or not _NAME.fullmatch(match["name"]):
        # Neither the line nor any part of it is shown: it may be a secret pasted on its own.
        message = "expected NAME=value (a name is a letter or _, then letters, digits, _)"
        problems.append(Problem(f"line {number}", message))
        return None
    name = match["name"]
    value = _parse_value(match["rest"].lstrip(" \t"))
    if value is None:
        message = f"the value of {name} has an unterminated quote or text after its closing quote"
        problems.append(Problem(f"line {number}", message))
        return None
    return name, value


def _parse_value(rest: str) -> str | None:
    if not rest:
        return ""
    quote = rest[0]
    if quote == "'":
        end = rest.find("'", 1)
        if end < 0 or not _only_comment(rest[end + 1 :]):
            return None
        return rest[1:end]
    if quote == '"':
        chars: list[str] = []
        i = 1
        while i < len(rest):
            char = rest[i]
            if char == "\\" and i + 1 < len(rest):
                following = rest[i + 1]
                chars.append(_DOUBLE_QUOTED_ESCAPES.get(following, "\\" + following))
                i += 2
                continue
            if char == '"':
                return "".join(chars) if _only_comment(rest[i + 1 :]) else None
            chars.append(char)
            i += 1
        return None
    comment = re.search(r"[ \t]#", rest)
    return (rest[: comment.start()] if comment else rest).rstrip(" \t")


def _only_comment(tail: str) -> bool:
    tail = tail.lstrip(" \t")
    return not tail or tail.startswith("#")


def _quote(value: str) -> str:
    if _PLAIN.fullmatch(value):
        return value
    if "'" not in value and not any(ord(char) < 32 or char == "\x7f" for char in value):
        return f"'{value}'"
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("$", "\\$")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'
