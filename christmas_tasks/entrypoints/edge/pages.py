"""The unsubscribe pages a person sees: small, self-contained HTML (inline CSS, no script, nothing fetched from
elsewhere, readable on a phone), every value HTML-escaped. The edge sends them with a strict Content-Security-Policy
(`HEADERS`), so even a value that slipped through could neither run nor load anything.

- `ask`: the link opened (GET): the business, the address, one button that POSTs to the same link; nothing changes.
- `done`: the button pressed or a mailbox provider's one-click POST, and the unsubscribe recorded.
- `invalid`: a forged, truncated or missing token: nothing changed.
- `later`: the unsubscribe could not be recorded just now (Kestra down): the button again, to try later.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

# Every page's headers: nothing but this page's own inline style, a form only to this site, never in a frame, the
# link's token never sent on as a Referer, never cached (the address is on the page).
HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}

STYLE = (
    "body{margin:0;padding:2rem 1rem;background:#f6f6f4;color:#222;"
    "font:17px/1.5 -apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}"
    "main{max-width:32rem;margin:0 auto;background:#fff;border-radius:10px;padding:1.5rem 1.5rem 1.75rem;"
    "box-shadow:0 1px 3px rgba(0,0,0,.08)}"
    "h1{font-size:1.35rem;margin:0 0 .75rem}p{margin:0 0 1rem}.who{overflow-wrap:anywhere;font-weight:600}"
    "button{font:inherit;font-weight:600;color:#fff;background:#b3261e;border:0;border-radius:8px;"
    "padding:.75rem 1.5rem;width:100%;cursor:pointer}button:focus{outline:3px solid #f2b8b5}"
    ".small{color:#666;font-size:.9rem;margin-top:1rem}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def _sender(sender: str) -> str:
    return escape(sender or "The sender")


def _button(email: str, token: str, label: str) -> str:
    # the same path, with the same query: a relative action, so a path prefix in front of the edge changes nothing
    action = "?" + urlencode({"email": email, "token": token})
    return (
        f'<form method="post" action="{escape(action)}">'
        f'<button type="submit">{escape(label)}</button></form>'
    )


def ask(sender: str, email: str, token: str) -> str:
    return _page(
        "Unsubscribe",
        f"<h1>Unsubscribe?</h1><p>Press the button and {escape(sender or 'we')} will send no more email to "
        f'<span class="who">{escape(email)}</span>.</p>'
        + _button(email, token, "Unsubscribe")
        + '<p class="small">Nothing changes until you press the button.</p>',
    )


def done(sender: str, email: str) -> str:
    return _page(
        "Unsubscribed",
        f"<h1>You are unsubscribed</h1><p>{_sender(sender)} will send no more email to "
        f'<span class="who">{escape(email)}</span>.</p>',
    )


def invalid(sender: str) -> str:
    return _page(
        "Link not valid",
        "<h1>This unsubscribe link is not valid</h1><p>Nothing was changed. Please open the link exactly as it came in "
        f"the email, or reply to that email and ask {_sender(sender) if sender else 'us'} to remove you.</p>",
    )


def later(sender: str, email: str, token: str) -> str:
    return _page(
        "Please try again",
        "<h1>Not recorded yet</h1><p>Your unsubscribe could not be recorded just now. Please try again in a few "
        "minutes.</p>" + _button(email, token, "Try again"),
    )
