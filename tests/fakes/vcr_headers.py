"""VCR matchers on the request headers that change what a provider does (never on a secret).

vcrpy's default matching ignores headers, so a request that lost its `Notion-Version` (which picks Notion's API
shapes) or its `Idempotency-Key` (which makes a retried Resend send harmless) would still replay green. These
matchers make such a request find no recording, and the test fail.
"""

from __future__ import annotations

from typing import Any

# name in `match_on` -> the header it compares
HEADERS = {
    "notion_version": "notion-version",
    "idempotency_key": "idempotency-key",
    "content_type": "content-type",
}
NOTION_MATCH_ON = ["method", "uri", "body", "notion_version", "content_type"]
RESEND_MATCH_ON = ["method", "uri", "body", "idempotency_key", "content_type"]


def header(request: Any, name: str) -> str | None:
    for key, value in request.headers.items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return None


def matcher(name: str) -> Any:
    def match(recorded: Any, replayed: Any) -> None:
        a, b = header(recorded, name), header(replayed, name)
        assert a == b, f"{name}: {a!r} != {b!r}"

    match.__name__ = f"match_{name.replace('-', '_')}"
    return match


def register(vcr: Any) -> None:
    for match_name, header_name in HEADERS.items():
        vcr.register_matcher(match_name, matcher(header_name))
