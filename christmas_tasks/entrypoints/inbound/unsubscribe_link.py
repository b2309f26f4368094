"""The unsubscribe link in every email (its `List-Unsubscribe` header and its body link), served by Kestra itself:
the `unsubscribe-link` flow's webhook, with the recipient's address and its token in the query.

The webhook's key is in every email, so it protects nothing: the token does. It is an HMAC of the address with
UNSUBSCRIBE_SECRET (`Campaign.unsubscribe_token`), so a link unsubscribes only the address it was made for, and it
never expires (CASL wants the mechanism to work for 60 days after sending; nothing here stops it later).

A mailbox provider honouring RFC 8058 POSTs `List-Unsubscribe=One-Click` (form-encoded) to the link; a person who
clicks the body link sends a GET. Both unsubscribe. Kestra's webhook trigger gives the query as `trigger.parameters`
(each name a list of values) and the body as `trigger.body`; the flow passes both on as data.
"""

from __future__ import annotations

from typing import Any

from christmas_tasks.domain.errors import InvalidInput, Problem

FLOW = "unsubscribe-link"
NAMESPACE = "christmas"
TENANT = "main"
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058's POST body
PATHS = {"email": "query.email", "token": "query.token"}


def link_base(public_url: str, key: str) -> str:
    """The flow's webhook URL on the public Kestra: the link, before the address and the token are appended."""
    return f"{public_url.rstrip('/')}/api/v1/{TENANT}/executions/webhook/{NAMESPACE}/{FLOW}/{key}"


def read(kind: str, payload: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The flow's payload (`{"parameters": {...}, "body": ...}`) as the unsubscribe-link event's fields, and the path
    of each field in the request (the query)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("parameters") or {}, dict):
        raise InvalidInput("unsubscribe-link event", [Problem("query", "must hold email and token")])
    parameters = payload.get("parameters") or {}

    def first(name: str) -> Any:
        value = parameters.get(name)
        return value[0] if isinstance(value, list) and value else value

    body = payload.get("body")
    fields = {"email": first("email"), "token": first("token"), "one_click": str(body or "").strip() == ONE_CLICK}
    return {k: v for k, v in fields.items() if v is not None}, PATHS
