"""`christmas-tasks contact`: a contact's story, its export, its erasure (SPEC §11), for the command line and the
`contact` flow's step. Every one checks the address and the settings before anything is read or written.

Forgetting removes, in this order, so a failure leaves nothing that can start again: (1) Kestra's executions that hold
the address are found first (the command line only: a flow is given no Kestra credentials), so a wrong URL or password
fails before anything is removed; (2) the ledger (`usecases.erasure.forget`: the mark kept, then the contact,
sequence records and send log removed); (3) the outbox's messages (local backend); (4) those executions deleted.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from christmas_tasks.domain.errors import InvalidInput, Problem
from christmas_tasks.domain.fields import checked_email

if TYPE_CHECKING:
    from christmas_tasks.adapters.kestra_api import KestraClient
    from christmas_tasks.domain.holdings import Holdings
    from christmas_tasks.entrypoints.settings import Settings
    from christmas_tasks.usecases.story import ContactStory

LABEL = "contact"  # the label every execution about a contact carries (its address): Kestra's UI filters by it
KESTRA_LEFT = (
    "Kestra's executions: not deleted by a flow (Kestra 1.3's PurgeExecutions has no label filter, and its API needs "
    "credentials no flow is given): run `christmas-tasks contact forget EMAIL --yes` with KESTRA_URL, KESTRA_USERNAME "
    "and KESTRA_PASSWORD, which deletes those labelled contact:<address> with their correlated executions"
)


def labels(**values: object) -> dict[str, str]:
    """Kestra labels for an execution (the `Labels` task refuses an empty value: those are left out)."""
    return {key: str(value) for key, value in values.items() if value is not None and str(value) != ""}


def source_of(settings: Settings) -> str:
    return "Notion" if settings.backend == "live" else "the local SQLite ledger"


def _held(settings: Settings, email: str) -> tuple[Holdings, int | None]:
    from christmas_tasks.domain.holdings import forget_mark
    from christmas_tasks.entrypoints.app import build_ledger

    ledger = build_ledger(settings)
    held = ledger.people.held(email, forget_mark(settings.campaign.unsubscribe_secret, email))
    return held, getattr(ledger, "requests", None)


def story(settings: Settings, address: Any, now: datetime) -> ContactStory:
    from christmas_tasks.entrypoints.app import checked_catalogue
    from christmas_tasks.usecases.story import tell

    email = checked_email(address)
    catalogue = checked_catalogue(settings)
    held, requests = _held(settings, email)
    return tell(held, catalogue, now, source=source_of(settings), testing=settings.testing,
                window=settings.send_window, requests=requests)


def export(settings: Settings, address: Any, now: datetime) -> dict[str, Any]:
    from christmas_tasks.usecases.erasure import export as document

    email = checked_email(address)
    held, _ = _held(settings, email)
    outbox = _outbox(settings).messages_about(email) if settings.backend == "local" else None
    return document(held, now, source_of(settings), outbox)


def forget(
    settings: Settings, address: Any, now: datetime, kestra: KestraClient | None, left: str = KESTRA_LEFT
) -> dict[str, Any]:
    """Forget the address: what was removed, per store; `kestra` None leaves Kestra's executions (`left` says why)."""
    from christmas_tasks.entrypoints.app import build_ledger
    from christmas_tasks.usecases.erasure import forget as forget_ledger

    email = checked_email(address)
    found = len(kestra.correlated_executions(LABEL, email)) if kestra is not None else None  # fails before removing
    ledger = build_ledger(settings)
    forgotten = forget_ledger(ledger.people, settings.campaign.unsubscribe_secret, email, now)
    removed: dict[str, Any] = dict(forgotten.removed)
    if settings.backend == "local":
        removed["outbox_messages"] = _outbox(settings).forget(email)
    result: dict[str, Any] = {"email": email, "source": source_of(settings), "removed": removed,
                              "forgotten_before": forgotten.before}
    if kestra is None:
        result["kestra"] = left
    else:
        result["kestra"] = kestra.forget_executions(LABEL, email)
        result["kestra"]["found_before"] = found
    return result


def _outbox(settings: Settings) -> Any:
    from christmas_tasks.adapters.outbox import OutboxMailer

    return OutboxMailer(settings.local_dir / "outbox")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def forget_text(result: Mapping[str, Any]) -> str:
    """What `contact forget` removed, for a person."""
    removed = result["removed"]
    out = [f"Forgot {result['email']} ({result['source']}):"]
    out.append(f"  contacts        {removed['contacts']}")
    out.append(f"  sequences       {removed['sequences']} (with {removed['ledger_emails']} emails of their ledger)")
    out.append(f"  send log        {removed['send_log']}")
    if "outbox_messages" in removed:
        out.append(f"  outbox          {_count(removed['outbox_messages'], 'message')} (.eml files and index lines)")
    kestra = result["kestra"]
    if isinstance(kestra, Mapping):
        line = f"  Kestra          {_count(kestra['deleted'], 'execution')} deleted, with their logs"
        if kestra["killed"]:
            line += f" ({kestra['killed']} still running or scheduled were killed first)"
        out.append(line)
        for left in kestra["left"]:
            out.append(f"  left in Kestra: {left['flow']} {left['id']} ({left['state']}): run this again once it ends")
    else:
        out.append(f"  {kestra}")
    before = " (it had been forgotten before)" if result["forgotten_before"] else ""
    out.append("Kept: a salted hash of the address" + before + ", so a later event from it starts nothing until the "
               "person signs up or takes the assessment again.")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------- the command line


def command(args: argparse.Namespace, env: Mapping[str, str], now: datetime) -> int:
    """`contact EMAIL [--format text|json]`, `contact export EMAIL [--output FILE]`, `contact forget EMAIL --yes`."""
    import sys
    from pathlib import Path

    from christmas_tasks.adapters.files import write_atomically
    from christmas_tasks.entrypoints.settings import Settings
    from christmas_tasks.usecases.story import render_text

    words = list(args.words)
    action = words.pop(0) if len(words) == 2 and words[0] in ("export", "forget") else "story"
    what = "contact" if action == "story" else f"contact {action}"
    problems = []
    if len(words) != 1:
        problems.append(Problem("arguments", "give EMAIL, export EMAIL or forget EMAIL"))
    for flag, value, only in (("--output", args.output, "export"), ("--yes", args.yes, "forget"),
                              ("--no-kestra", args.no_kestra, "forget")):
        if value and action != only:
            problems.append(Problem(flag, f"is for `contact {only}` only"))
    if action == "forget" and not args.yes:
        problems.append(Problem("--yes", "is required: forgetting removes everything held about the address, for good "
                                         "(nothing was removed)"))
    if problems:
        raise InvalidInput(what, problems)
    email = checked_email(words[0], what)
    settings = Settings.from_env(env)
    if action == "story":
        told = story(settings, email, now)
        sys.stdout.write(dumps(told.as_json()) if args.format == "json" else render_text(told))
    elif action == "export":
        text = dumps(export(settings, email, now))
        if args.output:
            write_atomically(Path(args.output), text.encode("utf-8"))
            print(f"wrote everything held about {email} to {args.output}", file=sys.stderr)
        else:
            sys.stdout.write(text)
    else:
        kestra = None
        if not args.no_kestra:
            from christmas_tasks.adapters.kestra_executions import client_from_env

            kestra = client_from_env(env, "contact forget (or --no-kestra, to leave Kestra's executions)")
        result = forget(settings, email, now, kestra, "Kestra's executions: left as they are (--no-kestra)")
        sys.stdout.write(dumps(result) if args.format == "json" else forget_text(result))
    return 0


# ---------------------------------------------------------------------------------------- the step's command


def step(settings: Settings, payload: Any, now: datetime) -> dict[str, Any]:
    """The `contact` flow's step: `{"email": ..., "action": "story" | "forget"}`; forget removes what the ledger and
    the outbox hold (Kestra's executions are the command line's: KESTRA_LEFT)."""
    from christmas_tasks.usecases.story import render_text

    if not isinstance(payload, dict):
        raise InvalidInput("contact request", [Problem("payload", "must hold email and action")])
    action = payload.get("action") or "story"
    if action not in ("story", "forget"):
        raise InvalidInput("contact request", [Problem("payload.action", f"must be story or forget, not {action!r}")])
    email = checked_email(payload.get("email"), "contact request", "payload.email")
    if action == "story":
        told = story(settings, email, now)
        return {"text": render_text(told), "story": told.as_json(), "labels": labels(contact=email)}
    result = forget(settings, email, now, None)
    return {"text": forget_text(result), "removed": result["removed"], "kestra": result["kestra"],
            "labels": labels(contact=email)}


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n"
