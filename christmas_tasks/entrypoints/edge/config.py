"""The edge's settings, read once from its own environment: the rows of the settings table marked EDGE
(christmas_tasks/entrypoints/settings_table.py), and the names derived from the event kinds: each flow's webhook key
(`WEBHOOK_KEY_<KIND>`, the same value as Kestra's secret of that name) and each posting sender's optional Standard
Webhooks signing secret (`WEBHOOK_SECRET_<KIND>`).

The secrets Kestra holds too (each flow's key, `UNSUBSCRIBE_SECRET`) are read in either form: plain (`NAME`) or
Kestra's own (`SECRET_NAME`, base64, decoded as Kestra decodes it). The compose files hand the edge the very
`SECRET_*` variables they hand Kestra, so one line of the env file is the one value both read and no second copy
can drift; both forms set to different values is refused at start, naming them.

Which sender reaches which flow is said here once: Calendly's one subscription by its `event` (the readers of its
bodies, inbound/calendly.py, name the kinds), Resend's by its `type` (`email.received` is a reply, anything else an
email status), and every other kind posted in our own shape by the website or the CRM at `/hooks/<kind>`, but for
the kinds only a provider (or the unsubscribe page) sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from christmas_tasks.adapters.secret import Secret
from christmas_tasks.domain.errors import ConfigError
from christmas_tasks.entrypoints.inbound import calendly
from christmas_tasks.entrypoints.secrets_env import PREFIX as KESTRA_PREFIX
from christmas_tasks.entrypoints.secrets_env import decode_value
from christmas_tasks.entrypoints.settings import EDGE, SettingValues

# Resend's inbound email (`email.received`) is the `reply` flow's; forwarded by that name even before the package
# knows a `reply` kind, with the key named as every kind's is.
REPLY = "reply"
EMAIL_STATUS = "email-status"
EMAIL_SUPPRESSION = "email-suppression"
RESEND_REPLY_TYPE = "email.received"
# Calendly's event types, to the flow that handles each (the one subscription's; any other is not forwarded).
CALENDLY_FLOWS = {event: kind for kind, event in calendly.EVENTS.items()}
# Kinds no website or CRM posts: they arrive through their own route, never /hooks/<kind>.
PROVIDER_ONLY = {
    "cancellation": "Calendly's, at /hooks/calendly",
    EMAIL_STATUS: "Resend's, at /hooks/resend",
    EMAIL_SUPPRESSION: "Resend's bounces, complaints and suppressions, at /hooks/resend",
    # the edge's page forwards what it accepts to `unsubscribe`; this kind is Kestra's own link, never public
    "unsubscribe-link": "Kestra's own unsubscribe webhook, which the edge's /unsubscribe page replaces",
}
UNSUBSCRIBED = "unsubscribe"  # where the unsubscribe page forwards what it accepted: Kestra takes it without waiting
DEFAULT_KESTRA_URL = "http://localhost:8080"
DEFAULT_DATA_DIR = ".christmas-edge"


def resend_flow(kind: str) -> str:
    """The flow of a Resend email event, by its `type`: a reply's; a bounce's, a complaint's or a suppression's,
    applied at once (never queued: SPEC §5); any other email status's."""
    from christmas_tasks.domain.events.mail import SUPPRESSIONS
    from christmas_tasks.entrypoints.inbound.resend import TYPES

    if kind == RESEND_REPLY_TYPE:
        return REPLY
    return EMAIL_SUPPRESSION if TYPES.get(kind) in SUPPRESSIONS else EMAIL_STATUS


def _env_name(flow: str) -> str:
    return flow.upper().replace("-", "_")


def key_name(flow: str) -> str:
    """The setting holding a flow's webhook key: its kind's `webhook_key` (`WEBHOOK_KEY_<KIND>`)."""
    from christmas_tasks.domain.events import KINDS

    return KINDS[flow].webhook_key if flow in KINDS else f"WEBHOOK_KEY_{_env_name(flow)}"


def signing_secret_name(kind: str) -> str:
    """The setting holding a posting sender's Standard Webhooks signing secret (optional): `WEBHOOK_SECRET_<KIND>`."""
    return f"WEBHOOK_SECRET_{_env_name(kind)}"


def forwarded_flows() -> tuple[str, ...]:
    """Every flow the edge forwards to: each event kind's, and the reply flow's."""
    from christmas_tasks.domain.events import KINDS

    return (*KINDS, *(() if REPLY in KINDS else (REPLY,)))


def posted_kinds() -> tuple[str, ...]:
    """The kinds the website or the CRM posts at `/hooks/<kind>`: every kind but those only a provider sends."""
    return tuple(flow for flow in forwarded_flows() if flow not in PROVIDER_ONLY)


def shared_secrets() -> tuple[str, ...]:
    """The secrets Kestra holds too, which the edge also takes in Kestra's `SECRET_<NAME>` (base64) form: each flow's
    webhook key and the unsubscribe secret."""
    return (*map(key_name, forwarded_flows()), "UNSUBSCRIBE_SECRET")


def kestra_form(name: str) -> str:
    """Kestra's name for a secret: `SECRET_<NAME>`, its value base64."""
    return f"{KESTRA_PREFIX}{name}"


def derived_names() -> frozenset[str]:
    """The settings the edge reads besides its rows of the table: the webhook keys and the signing secrets, and the
    Kestra form of each secret Kestra holds too."""
    own = {*map(key_name, forwarded_flows()), *map(signing_secret_name, posted_kinds())}
    return frozenset({*own, *map(kestra_form, shared_secrets())})


def _shared(values: Mapping[str, str], name: str, strip: bool) -> str:
    """A secret Kestra holds too: `NAME` (plain) or `SECRET_NAME` (base64, as Kestra reads it); both set, they must
    agree. `strip`: compared and returned trimmed (a webhook key, which Kestra trims too); else as the bytes are."""
    plain = values.get(name, "")
    encoded = values.get(kestra_form(name), "")
    decoded = decode_value(kestra_form(name), encoded) if encoded.strip() else ""
    if strip:
        plain, decoded = plain.strip(), decoded.strip()
    if plain and decoded and plain != decoded:
        raise ConfigError(
            f"{name} and {kestra_form(name)} are both set, to different values: give one (the compose files give "
            f"{kestra_form(name)}, the value Kestra reads)"
        )
    return plain or decoded


def _standard_webhooks_secret(name: str, value: str) -> Secret:
    """A `whsec_<base64>` secret, checked now so that a mistyped one fails at start, naming its setting."""
    from standardwebhooks.webhooks import Webhook

    try:
        Webhook(value)
    except Exception:
        raise ConfigError(f"{name} must be a signing secret such as whsec_<base64> (as the sender shows it)") from None
    return Secret(value)


@dataclass(frozen=True)
class EdgeSettings:
    """What the edge needs: where Kestra is, where it listens, and each sender's secret (None: that sender is
    refused). Secrets are wrapped: no repr or log line shows one."""

    kestra_url: str = DEFAULT_KESTRA_URL
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    sender_name: str = ""
    calendly_key: Secret | None = None
    resend_secret: Secret | None = None
    unsubscribe_secret: Secret | None = None
    keys: Mapping[str, Secret] = field(default_factory=dict)  # flow -> its Kestra webhook key
    signing_secrets: Mapping[str, Secret] = field(default_factory=dict)  # posted kind -> WEBHOOK_SECRET_<KIND>

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> EdgeSettings:
        values = SettingValues(env, reader=EDGE, also=derived_names())

        def get(name: str) -> str:
            return values.get(name, "").strip()

        kestra_url = get("KESTRA_INTERNAL_URL") or DEFAULT_KESTRA_URL
        parts = urlsplit(kestra_url)
        if parts.username or parts.password:  # the URL is not repeated: it holds a password
            raise ConfigError("KESTRA_INTERNAL_URL must be a URL without credentials (Kestra's webhooks need none)")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"KESTRA_INTERNAL_URL must be an http(s) URL, such as http://kestra:8080, not {kestra_url!r}"
            )
        port_text = get("EDGE_PORT") or "8000"
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"EDGE_PORT must be a port number, not {port_text!r}")
        from_name = get("EMAIL_FROM").split("<")[0].strip().strip('"')  # the step's fallback for SENDER_NAME
        sender = get("SENDER_NAME") or from_name
        calendly_key, resend, unsubscribe = get("CALENDLY_SIGNING_KEY"), get("RESEND_WEBHOOK_SECRET"), None
        if raw_unsubscribe := _shared(values, "UNSUBSCRIBE_SECRET", strip=False):
            unsubscribe = Secret(raw_unsubscribe)  # as the step reads it: the token is an HMAC with these exact bytes
        keys = {flow: Secret(key) for flow in forwarded_flows() if (key := _shared(values, key_name(flow), strip=True))}
        signing = {
            kind: _standard_webhooks_secret(signing_secret_name(kind), secret)
            for kind in posted_kinds()
            if (secret := get(signing_secret_name(kind)))
        }
        return cls(
            kestra_url=kestra_url.rstrip("/"),
            host=get("EDGE_HOST") or "127.0.0.1",
            port=int(port_text),
            data_dir=Path(get("EDGE_DATA_DIR") or DEFAULT_DATA_DIR),
            sender_name=sender,
            calendly_key=Secret(calendly_key) if calendly_key else None,
            resend_secret=_standard_webhooks_secret("RESEND_WEBHOOK_SECRET", resend) if resend else None,
            unsubscribe_secret=unsubscribe,
            keys=keys,
            signing_secrets=signing,
        )

    def summary(self) -> str:
        """What is configured, by name only (the start-up log line): which senders the edge can check."""
        senders = [
            *(["calendly"] if self.calendly_key else []),
            *(["resend"] if self.resend_secret else []),
            *(["unsubscribe"] if self.unsubscribe_secret and UNSUBSCRIBED in self.keys else []),
        ]
        posted = [kind for kind in posted_kinds() if kind in self.keys or kind in self.signing_secrets]
        return (
            f"forwarding to {self.kestra_url}; senders checked: {', '.join(senders) or 'none'}; "
            f"posted kinds with a key: {', '.join(posted) or 'none'}"
        )
