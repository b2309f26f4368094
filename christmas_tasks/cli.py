"""The `christmas-tasks` command: what the Kestra flows call (`step`), and tools for people.

Imports are deferred into each command so `christmas-tasks --help` and every Kestra step
(a new process each time) start quickly. Settings are read here, once: from the environment, or, for
`step`, from the settings file the flow writes.
Exit codes: 0 done, 1 failed, 2 bad input or configuration (one `error:` line per problem).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from christmas_tasks.settings import Settings

# The vocabulary's words, spelled out so that `--help` imports nothing (tests/unit/test_cli.py checks they match).
EVENTS = (
    "signup",
    "assessment",
    "booking",
    "noshow",
    "postcall",
    "onboarding",
    "unsubscribe",
    "email-status",
    "unsubscribe-link",
)
SEQUENCES = ("5day", "noshow", "postcall", "onboarding")


def _now() -> datetime:
    return datetime.now(UTC)


def _read_json(path: str) -> Any:
    from christmas_tasks.errors import InvalidInput, Problem

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


def _timestamp(value: str) -> datetime:
    from christmas_tasks.planning import parse_timestamp

    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} {exc}") from None


def _settings() -> Settings:
    from christmas_tasks.settings import Settings

    return Settings.from_env(os.environ)


def _print(result: Any, settings: Settings | None = None) -> None:
    text = json.dumps(result, indent=2, ensure_ascii=False, default=str)
    for secret in settings.secret_values() if settings else []:
        text = text.replace(secret, "***")
    print(text)


# ---------------------------------------------------------------------------------------- commands


def cmd_validate(args: argparse.Namespace) -> int:
    from christmas_tasks.events import AssessmentEvent, parse_event

    event = parse_event(args.event, _read_json(args.file), _now())
    data = event.model_dump(mode="json")
    if isinstance(event, AssessmentEvent):
        routed = event.route
        data.update(segment=routed.segment.value, priority=routed.priority, readiness_zone=routed.readiness_zone)
    _print({"event": event.kind.value, **data})
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from christmas_tasks.planning import load_catalogue, plan

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
    from christmas_tasks.events import parse_event
    from christmas_tasks.planning import load_catalogue
    from christmas_tasks.rendering import check_template, render
    from christmas_tasks.template_files import load_templates
    from christmas_tasks.variables import build_variables, stored_variables, variable_names
    from christmas_tasks.vocabulary import STARTED_BY

    settings = _settings()
    templates = load_templates(Path(args.templates or settings.templates_dir))
    if args.template not in templates:
        raise _invalid("template", "template", f"no local template named {args.template!r}; have {sorted(templates)}")
    catalogue = load_catalogue(settings.catalogue_path)
    sequence = next(s.name for s in catalogue.sequences.values() if args.template in [e.template for e in s.emails])
    now = _now()
    event = parse_event(args.kind or STARTED_BY[sequence], _read_json(args.event), now)
    check_template(templates[args.template], variable_names(sequence))
    values = build_variables(settings.campaign, event.email, stored_variables(event), now)
    rendered = render(templates[args.template], values)
    if args.json:
        _print({"subject": rendered.subject, "html": rendered.html, "text": rendered.text})
    else:
        print(f"Subject: {rendered.subject}\n\n--- HTML ---\n{rendered.html}\n--- Text ---\n{rendered.text}", end="")
    return 0


def cmd_handle(args: argparse.Namespace) -> int:
    from christmas_tasks.app import build_funnel

    settings = _settings()
    handled = build_funnel(settings).handle(args.event, _read_json(args.file), _now(), args.run_id or None)
    _print(handled.as_json(), settings)
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    from christmas_tasks.app import build_funnel

    settings = _settings()
    outcome = build_funnel(settings).send(args.sequence_key, args.email_number, _now(), args.scheduled_for)
    _print(outcome.as_json(), settings)
    return 0


def cmd_step(args: argparse.Namespace) -> int:
    from christmas_tasks import kestra_step
    from christmas_tasks.errors import ChristmasError
    from kestra import Kestra  # type: ignore[attr-defined]

    values: dict[str, str] = {}
    try:
        values = kestra_step.settings_values(_read_json(args.settings))
        outputs = kestra_step.run(_read_json(args.request), values, _now())
    except ChristmasError as exc:
        if not kestra_step.is_rejection(exc):
            raise
        lines = kestra_step.scrub(kestra_step.rejection_lines(exc), values)
        for line in lines:
            print(line, file=sys.stderr)
        Kestra.outputs(kestra_step.rejection_outputs(exc, lines))
        return 0
    outputs = kestra_step.scrub(outputs, values)
    Kestra.outputs({"rejected": False, **outputs})
    print(json.dumps(outputs, indent=2, ensure_ascii=False, default=str))
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    from christmas_tasks.app import check_health

    settings = _settings()
    _print(check_health(settings), settings)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from christmas_tasks.app import campaign_report
    from christmas_tasks.files import write_atomically
    from christmas_tasks.report import parse_since, render

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


def cmd_templates(args: argparse.Namespace) -> int:
    from christmas_tasks.app import build_crm, check_templates, push_templates

    settings = _settings()
    if args.action == "check":
        source = args.source or ("local" if settings.backend == "local" else "crm")
        report = check_templates(settings, source)
        _print(report, settings)
        return 0 if report["ok"] else 1
    report = push_templates(build_crm(settings), Path(args.templates or settings.templates_dir))
    _print(report, settings)
    return 0


def cmd_notion(args: argparse.Namespace) -> int:
    from christmas_tasks.app import check_notion

    settings = _settings()
    report = check_notion(settings)
    _print(report, settings)
    return 0 if report["ok"] else 1


def cmd_secrets(args: argparse.Namespace) -> int:
    from christmas_tasks import secrets_env

    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    print(secrets_env.encode_env(text) if args.action == "encode" else secrets_env.decode_env(text), end="")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from christmas_tasks.kestra_api import deploy_from_env

    _print(deploy_from_env(os.environ, Path(args.flows)))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from christmas_tasks.demo import run_demo

    return run_demo(_settings(), Path(args.event), speedup=args.speedup, wait=not args.no_wait, email=args.email)


def _invalid(what: str, field: str, message: str) -> Exception:
    from christmas_tasks.errors import InvalidInput, Problem

    return InvalidInput(what, [Problem(field, message)])


# ---------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="christmas-tasks", description="Christmas campaign email funnel (the package the Kestra flows call)."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    p = add("validate", cmd_validate, "validate a webhook body and print the normalised event as JSON")
    p.add_argument("event", choices=EVENTS)
    p.add_argument("file", help="JSON file with the webhook body ('-' for standard input)")

    p = add("plan", cmd_plan, "print a sequence's send plan as JSON")
    p.add_argument("sequence", choices=SEQUENCES)
    p.add_argument(
        "--from", dest="anchor", type=_timestamp, required=True, help="the anchor time (ISO 8601, Z or offset)"
    )
    p.add_argument("--now", type=_timestamp, help="the current time (default: the clock)")
    p.add_argument("--testing", action="store_true", help="testing-mode delays (also TESTING_MODE=true)")
    p.add_argument("--timezone", help="the contact's IANA time zone, for the send window")
    p.add_argument("--catalogue", help="an alternate sequence catalogue JSON")

    p = add("preview", cmd_preview, "render a local template for an event: subject, HTML and text")
    p.add_argument("template", help="the template name, e.g. '5-Day E2'")
    p.add_argument("--event", required=True, help="JSON file with the event body")
    p.add_argument("--kind", choices=EVENTS, help="the event kind (default: the template's sequence's)")
    p.add_argument("--templates", help="the template folder (default: CHRISTMAS_TEMPLATES_DIR, else the samples)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")

    p = add("handle", cmd_handle, "handle one webhook event on the configured backend; print the result and plan")
    p.add_argument("event", choices=EVENTS)
    p.add_argument("file", help="JSON file with the webhook body ('-' for standard input)")
    p.add_argument("--run-id", help="the run handling it: a retry of the same run may re-plan its unsent emails")

    p = add("send", cmd_send, "send one scheduled email of a sequence (every check of SPEC §6)")
    p.add_argument("--sequence-key", required=True)
    p.add_argument("--email-number", type=int, required=True)
    p.add_argument("--scheduled-for", type=_timestamp, help="the planned send time (keeps a retry's payload identical)")

    add("health", cmd_health, "check the configured backend's settings (fails naming each missing one)")

    p = add("step", cmd_step, "one Kestra step: a request file (handle, send or health) with a settings file")
    p.add_argument("request", help="JSON file: command, event, payload, run_id")
    p.add_argument("settings", help="JSON file: the package's settings and secrets by name")

    p = add("report", cmd_report, "the campaign report from the ledger: contacts, sequences, emails, deliverability")
    p.add_argument("--since", help="count sequences started and emails attempted on or after this UTC day (YYYY-MM-DD)")
    p.add_argument("--format", choices=("text", "json", "html"), default="text", help="text (default), json or html")
    p.add_argument("--output", help="write to this file (atomically) instead of standard output")

    p = add("templates", cmd_templates, "check templates against the variable set, or push local templates to Notion")
    p.add_argument("action", choices=("check", "push"))
    p.add_argument("--source", choices=("local", "crm"), help="check the local folder or the configured CRM")
    p.add_argument("--templates", help="the template folder (default: CHRISTMAS_TEMPLATES_DIR, else the samples)")

    p = add("notion", cmd_notion, "check a live Notion workspace against the expected schema")
    p.add_argument("action", choices=("check",))

    p = add("secrets", cmd_secrets, "turn a plain env file into Kestra's base64 SECRET_* form, or back")
    p.add_argument("action", choices=("encode", "decode"))
    p.add_argument("file", help="the env file ('-' for standard input)")

    p = add("deploy", cmd_deploy, "load flows/ into a running Kestra (KESTRA_URL, KESTRA_USERNAME, KESTRA_PASSWORD)")
    p.add_argument("--flows", default="flows", help="the flows folder (default: flows)")

    p = add(
        "demo", cmd_demo, "run the funnel in this process on the local backends: handle a sample event, send its emails"
    )
    p.add_argument("--event", default="examples/events/assessment.json", help="the assessment body to handle")
    p.add_argument("--speedup", type=float, default=1.0, help="divide every wait by this factor")
    p.add_argument("--no-wait", action="store_true", help="send every planned email at once instead of on time")
    p.add_argument("--email", help="use this address instead of the event file's (a fresh contact each run)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except Exception as exc:
        from christmas_tasks.errors import ChristmasError, InvalidInput

        if isinstance(exc, InvalidInput):
            for problem in exc.problems:
                print(f"error: {exc.what}: {problem}", file=sys.stderr)
            return exc.exit_code
        if isinstance(exc, ChristmasError):
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        raise


if __name__ == "__main__":
    sys.exit(main())
