"""The `christmas-tasks` commands, one function each (christmas_tasks/entrypoints/cli.py parses the words).

Imports are deferred into each command so `christmas-tasks --help` and every Kestra step (a new process each time)
start quickly. Settings are read here, once: from the environment, or, for `step`, from the settings file the flow
writes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from christmas_tasks.entrypoints.settings import Settings


def _now() -> datetime:
    return datetime.now(UTC)


def _read_json(path: str) -> Any:
    from christmas_tasks.domain.errors import InvalidInput, Problem

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput("event file", [Problem(path, f"cannot be read ({exc.strerror})")]) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            "event file", [Problem(path, f"is not valid JSON ({exc.msg} at line {exc.lineno})")]
        ) from None


def timestamp(value: str) -> datetime:
    from christmas_tasks.domain.planning import parse_timestamp

    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} {exc}") from None


def _settings() -> Settings:
    from christmas_tasks.entrypoints.settings import Settings

    return Settings.from_env(os.environ)


def _print(result: Any, settings: Settings | None = None) -> None:
    text = json.dumps(result, indent=2, ensure_ascii=False, default=str)
    for secret in settings.secret_values() if settings else []:
        text = text.replace(secret, "***")
    print(text)


# ---------------------------------------------------------------------------------------- commands


def cmd_validate(args: argparse.Namespace) -> int:
    from christmas_tasks.entrypoints.inbound import read_event

    event = read_event(args.event, _read_json(args.file), _now())
    data = event.model_dump(mode="json")
    routed = event.route
    if routed is not None:
        data.update(segment=routed.segment.value, priority=routed.priority, readiness_zone=routed.readiness_zone)
    _print({"event": event.kind, **data})
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    from christmas_tasks.domain.events import KINDS

    kinds = [
        {
            "kind": model.kind,
            "flow": f"flows/{model.kind}.yml",
            "webhook_key": model.webhook_key,
            "sample": f"examples/events/{model.sample}" if model.sample else None,
            "starts": model.starts,
            "stops": {str(stop.reason): list(stop.sequences) for stop in model.stops},
            "booking_status": model.booking_status,
            "sender": model.sender,
        }
        for model in KINDS.values()
    ]
    if args.format == "json":
        _print(kinds)
        return 0
    for model, kind in zip(KINDS.values(), kinds, strict=True):
        stops = "; ".join(f"{', '.join(stop.sequences)} ({stop.reason})" for stop in model.stops) or "-"
        print(f"{model.kind}: sent by {model.sender}\n  starts {model.starts or '-'}; stops {stops}"
              f"\n  {kind['flow']}, webhook key {model.webhook_key}, sample {kind['sample'] or '-'}")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from christmas_tasks.domain.catalogue import load_catalogue
    from christmas_tasks.domain.planning import plan

    settings = _settings()
    catalogue = load_catalogue(args.catalogue or settings.catalogue_path)
    planned = plan(
        catalogue.get(args.sequence),
        args.anchor,
        args.now or _now(),
        testing=args.testing or settings.testing,
        window=settings.send_window,
        contact_timezone=args.timezone,
    )
    _print([item.as_json() for item in planned])
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    from christmas_tasks.adapters.template_files import load_templates
    from christmas_tasks.domain.catalogue import load_catalogue
    from christmas_tasks.domain.events import sequence_starters
    from christmas_tasks.domain.rendering import check_template, render
    from christmas_tasks.domain.variables import build_variables, sequence_variables
    from christmas_tasks.entrypoints.inbound import read_event

    settings = _settings()
    templates = load_templates(Path(args.templates or settings.templates_dir))
    if args.template not in templates:
        raise _invalid("template", "template", f"no local template named {args.template!r}; have {sorted(templates)}")
    catalogue = load_catalogue(settings.catalogue_path)
    sequence = next(s.name for s in catalogue.sequences.values() if args.template in [e.template for e in s.emails])
    now = _now()
    event = read_event(args.kind or sequence_starters()[sequence].kind, _read_json(args.event), now)
    check_template(templates[args.template], sequence_variables(sequence))
    values = build_variables(settings.campaign, event.email, event.variables(), now)
    rendered = render(templates[args.template], values)
    # the placeholders this event has no value for, shown with the fallback the email carries instead
    fallbacks = [{"placeholder": name, "fallback": text} for name, text in rendered.fallbacks]
    if args.json:
        _print({"subject": rendered.subject, "html": rendered.html, "text": rendered.text, "fallbacks": fallbacks})
    else:
        print(f"Subject: {rendered.subject}\n\n--- HTML ---\n{rendered.html}\n--- Text ---\n{rendered.text}", end="")
        if fallbacks:
            print("--- Fallbacks used (the event has no value for these placeholders) ---")
            print("".join(f"{{{{{f['placeholder']}}}}}: {json.dumps(f['fallback'], ensure_ascii=False)}\n"
                          for f in fallbacks), end="")
        else:
            print("--- Fallbacks used: none (the event has a value for every placeholder) ---")
    return 0


def cmd_handle(args: argparse.Namespace) -> int:
    from christmas_tasks.entrypoints.app import build_funnel, build_received_emails
    from christmas_tasks.entrypoints.inbound import read_event

    settings = _settings()
    now = _now()
    event = read_event(args.event, _read_json(args.file), now, build_received_emails(settings))
    handled = build_funnel(settings).handle(event, now, args.run_id or None)
    _print(handled.as_json(), settings)
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    from christmas_tasks.entrypoints.app import build_funnel

    settings = _settings()
    outcome = build_funnel(settings).send(args.sequence_key, args.email_number, _now(), args.scheduled_for)
    _print(outcome.as_json(), settings)
    return 0


def cmd_campaign(args: argparse.Namespace) -> int:
    """Pause, resume or show the campaign. The command line schedules nothing: its resume prints the plan and leaves
    the held emails held (the campaign flow's resume, in Kestra, plans them again and schedules them)."""
    from christmas_tasks.entrypoints.app import build_funnel
    from christmas_tasks.usecases.campaign import COMMAND_LINE

    settings = _settings()
    funnel = build_funnel(settings)
    now = _now()
    if args.action == "pause":
        outcome = funnel.pause(now, args.reason, COMMAND_LINE)
    elif args.action == "resume":
        outcome = funnel.resume(now, COMMAND_LINE, args.reason)
    else:
        outcome = funnel.status(now)
    result = outcome.as_json()
    if outcome.plan:
        result["scheduled"] = False
        print(f"note: the command line schedules nothing: the {len(outcome.plan)} email(s) planned above stay held "
              "until the campaign flow's resume (action resume, in Kestra's UI) schedules them", file=sys.stderr)
    _print(result, settings)
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    """What the campaign flow's reconcile (or, with --all, reschedule) would plan again, printed; nothing is scheduled
    from the command line: in Kestra, the reconcile flow runs it every hour and schedules its plan."""
    from christmas_tasks.entrypoints.app import build_funnel
    from christmas_tasks.entrypoints.kestra_step import grace_of

    settings = _settings()
    outcome = build_funnel(settings).reconcile(_now(), everything=args.all, grace=grace_of(args.grace, "--grace"))
    result = {**outcome.as_json(), "scheduled": False}
    if outcome.plan:
        action = "reschedule" if args.all else "reconcile"
        print(f"note: the command line schedules nothing: run the campaign flow with action {action} in Kestra to "
              f"schedule the {len(outcome.plan)} email(s) above", file=sys.stderr)
    _print(result, settings)
    return 0


def cmd_step(args: argparse.Namespace) -> int:
    from christmas_tasks.domain.errors import ChristmasError
    from christmas_tasks.entrypoints import kestra_step
    from kestra import Kestra  # type: ignore[attr-defined]

    values: dict[str, str] = {}
    request: Any = None
    try:
        values = kestra_step.settings_values(_read_json(args.settings))
        request = _read_json(args.request)
        outputs = kestra_step.run(request, values, _now())
    except Exception as exc:
        if kestra_step.is_transient(exc):
            # an outage says what failed too: Kestra keeps a failed task's outputs (failure-alert reads them); the
            # exit status is the failure Kestra's retries take
            Kestra.outputs(kestra_step.crash_outputs(exc, request, values))
            raise
        if not isinstance(exc, ChristmasError) or not kestra_step.is_rejection(exc):
            # a bug or a provider's refusal: the same request would fail the same way, so it is not retried (a retry
            # would hold the caller's queue for minutes); the traceback goes to the log, the step flow fails at once
            print(kestra_step.scrub(traceback.format_exc(), values), file=sys.stderr, end="")
            Kestra.outputs(kestra_step.failure_outputs(exc, request, values))
            return 0
        # reported, not printed: the step flow's Fail task logs the message, once, and fails its execution
        lines = kestra_step.scrub(kestra_step.rejection_lines(exc), values)
        Kestra.outputs({**kestra_step.rejection_outputs(exc, lines), **kestra_step.call_of(request)})
        return 0
    outputs = kestra_step.scrub(outputs, values)
    Kestra.outputs({"rejected": False, **outputs})
    print(json.dumps(outputs, indent=2, ensure_ascii=False, default=str))
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    from christmas_tasks.entrypoints.app import check_health

    settings = _settings()
    _print(check_health(settings), settings)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from christmas_tasks.adapters.files import write_atomically
    from christmas_tasks.entrypoints.app import campaign_report
    from christmas_tasks.usecases.report import parse_since, render

    settings = _settings()
    now = _now()
    since = parse_since(args.since, now, "--since") if args.since else None
    report = campaign_report(settings, now, since)
    text = render(report, args.format)
    if args.output:
        write_atomically(Path(args.output), text.encode("utf-8"))
        calls = f", {report.requests} Notion requests" if report.requests is not None else ""
        print(f"wrote the {args.format} report to {args.output}{calls}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_contact(args: argparse.Namespace) -> int:
    from christmas_tasks.entrypoints.contact import command

    return command(args, os.environ, _now())


def cmd_templates(args: argparse.Namespace) -> int:
    from christmas_tasks.entrypoints.app import build_ledger, check_templates, push_templates

    settings = _settings()
    if args.action == "check":
        source = args.source or ("local" if settings.backend == "local" else "crm")
        report = check_templates(settings, source)
        _print(report, settings)
        return 0 if report["ok"] else 1
    report = push_templates(build_ledger(settings).templates, Path(args.templates or settings.templates_dir))
    _print(report, settings)
    return 0


def cmd_notion(args: argparse.Namespace) -> int:
    from christmas_tasks.entrypoints.app import check_notion

    settings = _settings()
    report = check_notion(settings)
    _print(report, settings)
    return 0 if report["ok"] else 1


def cmd_secrets(args: argparse.Namespace) -> int:
    from christmas_tasks.entrypoints import secrets_env
    from christmas_tasks.entrypoints.settings import kestra_secrets

    if args.action == "list":
        print("\n".join(kestra_secrets()))
        return 0
    if args.file is None:
        raise _invalid("secrets command", "file", f"`secrets {args.action}` needs an env file ('-': standard input)")
    if args.action == "init":
        return _init_secrets(Path(args.file))
    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    if args.action == "decode":
        print(secrets_env.decode_env(text), end="")
        return 0
    print(secrets_env.encode_env(text), end="")
    missing = [name for name in kestra_secrets() if name not in secrets_env.names_in(text)]
    if missing:
        print(f"warning: the flows read these secrets too, missing from {args.file}: {', '.join(missing)} "
              "(Kestra fails a step, or answers 404 at a webhook, whose secret is missing)", file=sys.stderr)
    return 0


def _init_secrets(path: Path) -> int:
    """The plain secrets file `path` (created, readable by its owner only) completed with every secret the flows read:
    a random key for each key no person chooses (every event kind's webhook key, the unsubscribe secret), an empty
    line for each of the others. What it has is kept; the names added are printed, never a value."""
    from christmas_tasks.adapters.files import write_atomically
    from christmas_tasks.entrypoints import secrets_env
    from christmas_tasks.entrypoints.settings import generated_secrets, kestra_secrets

    text = path.read_text(encoding="utf-8") if path.exists() else ""
    updated, added = secrets_env.complete(text, kestra_secrets(), generated_secrets())
    if added:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, updated.encode("utf-8"), mode=0o600)
    made = set(generated_secrets())
    for name in added:
        print(f"{path}: {name}: {'a new random key' if name in made else 'empty: fill it in'}")
    if not added:
        print(f"{path}: every secret the flows read is there")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from christmas_tasks.adapters.kestra_api import deploy_from_env

    _print(deploy_from_env(os.environ, Path(args.flows), dry_run=args.dry_run))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """The public edge (christmas_tasks/entrypoints/edge/) on uvicorn; each worker reads the environment itself."""
    from christmas_tasks.entrypoints.edge.serve import serve

    return serve(os.environ, host=args.host, port=args.port, workers=args.workers)


def cmd_demo(args: argparse.Namespace) -> int:
    from christmas_tasks.entrypoints.demo import run_demo

    return run_demo(_settings(), Path(args.event), speedup=args.speedup, wait=not args.no_wait, email=args.email)


def _invalid(what: str, field: str, message: str) -> Exception:
    from christmas_tasks.domain.errors import InvalidInput, Problem

    return InvalidInput(what, [Problem(field, message)])
