"""Each sender's check, on the raw request: a function per scheme, raising `Refused` with the reason (what the one
log line says: never a secret, never the body). Secrets and signatures compare in constant time
(`hmac.compare_digest`); the clock is passed in, so the tests set it.

- Calendly: `Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex>`, an HMAC-SHA256 with the webhook subscription's
  signing key over `<t>.` and the body's bytes; at most 3 minutes old (an old body replayed with its old `t` is stale,
  and a new `t` breaks the signature).
- Svix (Resend) and Standard Webhooks (a sender of our own with a signing secret): `<prefix>-id`,
  `<prefix>-timestamp`, `<prefix>-signature` (`v1,<base64>`, several separated by spaces while a secret rotates), an
  HMAC-SHA256 over `<id>.<timestamp>.<body>` with the `whsec_` secret; at most 5 minutes off. Svix's scheme is the
  Standard Webhooks one with `svix-` headers. The signature is made by the scheme's reference library
  (`standardwebhooks`: its secret decoding and signing); the timestamp is checked here against the edge's clock,
  because the library's own `verify` reads the system clock, which a test cannot set.
- The per-sender key: the sender's `WEBHOOK_KEY_<KIND>`, in the `X-Webhook-Key` header or the path.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from christmas_tasks.adapters.secret import Secret

CALENDLY_HEADER = "calendly-webhook-signature"
CALENDLY_TOLERANCE = 180.0  # seconds: Calendly's own recommendation is 3 minutes
STANDARD_TOLERANCE = 300.0  # seconds: Svix's and Standard Webhooks' 5 minutes
KEY_HEADER = "x-webhook-key"
SVIX = "svix"
STANDARD = "webhook"
MAX_SIGNATURE_HEADER = 4096  # a few signatures during a rotation, never more


class Refused(Exception):
    """A request that failed its sender's check (401): the reason is for the log, never for the caller."""


def _equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))


def _fresh(timestamp: float, now: float, tolerance: float, what: str) -> None:
    age = now - timestamp
    if age > tolerance:
        raise Refused(f"stale {what} ({age:.0f} s old; at most {tolerance:.0f})")
    if -age > tolerance:
        raise Refused(f"{what} from the future ({-age:.0f} s ahead; at most {tolerance:.0f})")


def check_calendly(headers: Mapping[str, str], body: bytes, key: Secret | None, now: float) -> None:
    """Calendly's signature of this body; raises Refused saying why not."""
    if key is None:
        raise Refused("no CALENDLY_SIGNING_KEY is configured")
    header = headers.get(CALENDLY_HEADER)
    if not header:
        raise Refused("no Calendly-Webhook-Signature header")
    if len(header) > MAX_SIGNATURE_HEADER:
        raise Refused("malformed Calendly-Webhook-Signature header (too long)")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep or not value:
            raise Refused("malformed Calendly-Webhook-Signature header (not t=...,v1=...)")
        parts.setdefault(name, []).append(value)
    timestamps, signatures = parts.get("t", []), parts.get("v1", [])
    if len(timestamps) != 1 or not signatures:
        raise Refused("malformed Calendly-Webhook-Signature header (one t= and a v1= expected)")
    if not timestamps[0].isascii() or not timestamps[0].isdigit() or len(timestamps[0]) > 12:
        raise Refused("malformed Calendly-Webhook-Signature header (t is not a unix time)")
    _fresh(float(timestamps[0]), now, CALENDLY_TOLERANCE, "Calendly signature")
    expected = hmac.new(key.reveal().encode(), timestamps[0].encode() + b"." + body, hashlib.sha256).hexdigest()
    # every v1 is compared, whatever the first gave, so the time taken says nothing of which one matched
    if not sum(_equal(signature.lower(), expected) for signature in signatures):
        raise Refused("bad Calendly signature")


def check_standard(
    headers: Mapping[str, str], body: bytes, secret: Secret | None, now: float, prefix: str, setting: str
) -> str:
    """A Svix (`prefix` "svix") or Standard Webhooks ("webhook") signature of this body; the message id, which a
    redelivery repeats. Raises Refused saying why not (`setting`: the secret's name, when none is configured)."""
    if secret is None:
        raise Refused(f"no {setting} is configured")
    message_id = headers.get(f"{prefix}-id", "")
    timestamp = headers.get(f"{prefix}-timestamp", "")
    signatures = headers.get(f"{prefix}-signature", "")
    missing = [f"{prefix}-{name}" for name, value in
               (("id", message_id), ("timestamp", timestamp), ("signature", signatures)) if not value]
    if missing:
        raise Refused(f"no {', '.join(missing)} header")
    if len(message_id) > 256 or len(signatures) > MAX_SIGNATURE_HEADER:
        raise Refused(f"malformed {prefix}-id or {prefix}-signature header (too long)")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise Refused(f"malformed {prefix}-timestamp header (not a unix time)")
    _fresh(float(timestamp), now, STANDARD_TOLERANCE, f"{prefix} signature")

    from datetime import UTC, datetime

    from standardwebhooks.webhooks import Webhook

    expected = Webhook(secret.reveal()).sign(message_id, datetime.fromtimestamp(int(timestamp), UTC), body)
    if not sum(_equal(given, expected) for given in signatures.split(" ") if given):
        raise Refused(f"bad {prefix} signature")
    return message_id


def check_key(given: str | None, key: Secret | None, setting: str) -> None:
    """The sender's key, from its header or the path; raises Refused saying why not."""
    if key is None:
        raise Refused(f"no {setting} is configured")
    if not given:
        raise Refused("no key (X-Webhook-Key header or /hooks/<kind>/<key>)")
    if not _equal(given, key.reveal()):
        raise Refused("wrong key")
