"""The `christmas-tasks` command line: the words a person (or a flow: `step`) types, parsed into one of the
commands (christmas_tasks/entrypoints/commands.py). Parsing imports nothing else, so `--help` starts at once.
Exit codes: 0 done, 1 failed, 2 bad input or configuration (one `error:` line per problem).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from christmas_tasks.entrypoints import commands
from christmas_tasks.entrypoints.commands import timestamp

# Event kinds and sequences are checked when a command reads them (the models, the catalogue), not listed here:
# an unknown one is refused naming the known ones, and `--help` imports neither.
EVENT = "an event kind (`christmas-tasks events` lists them)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="christmas-tasks", description="Christmas campaign email funnel (the package the Kestra flows call)."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        """A command: its words, and the function of christmas_tasks/entrypoints/commands.py that runs it."""
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=getattr(commands, f"cmd_{name}"))
        return p

    p = add("validate", "validate a webhook body and print the normalised event as JSON")
    p.add_argument("event", help=EVENT)
    p.add_argument("file", help="JSON file with the webhook body ('-' for standard input)")

    p = add("plan", "print a sequence's send plan as JSON")
    p.add_argument("sequence", help="a sequence of the catalogue (`christmas-tasks health` lists them)")
    p.add_argument(
        "--from", dest="anchor", type=timestamp, required=True, help="the anchor time (ISO 8601, Z or offset)"
    )
    p.add_argument("--now", type=timestamp, help="the current time (default: the clock)")
    p.add_argument("--testing", action="store_true", help="testing-mode delays (also TESTING_MODE=true)")
    p.add_argument("--timezone", help="the contact's IANA time zone, for the send window and blackout days")
    p.add_argument("--catalogue", help="an alternate sequence catalogue JSON")

    p = add("preview", "render a local template for an event: subject, HTML and text")
    p.add_argument("template", help="the template name, e.g. '5-Day E2'")
    p.add_argument("--event", required=True, help="JSON file with the event body")
    p.add_argument("--kind", help="the event kind (default: the one that starts the template's sequence)")
    p.add_argument("--templates", help="the template folder (default: CHRISTMAS_TEMPLATES_DIR, else the samples)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")

    p = add("handle", "handle one webhook event on the configured backend; print the result and plan")
    p.add_argument("event", help=EVENT)
    p.add_argument("file", help="JSON file with the webhook body ('-' for standard input)")
    p.add_argument("--run-id", help="the run handling it: a retry of the same run may re-plan its unsent emails")

    p = add("send", "send one scheduled email of a sequence (every check of SPEC §6)")
    p.add_argument("--sequence-key", required=True)
    p.add_argument("--email-number", type=int, required=True)
    p.add_argument("--scheduled-for", type=timestamp, help="the planned send time (keeps a retry's payload identical)")

    p = add(
        "campaign",
        "pause the campaign (nothing is sent; due emails are held), resume it (the held emails planned again), or show "
        "its status (held emails, the deliverability guard's rates)",
    )
    p.add_argument("action", choices=("status", "pause", "resume"))
    p.add_argument("--reason", help="why (required to pause: status shows it)")

    p = add(
        "reconcile",
        "the ledger against Kestra's schedule: each email of a running sequence overdue with nothing sent (its "
        "execution lost with Kestra's state), planned again as the reconcile flow plans it hourly; --all: every unsent "
        "email at its time. Prints the plan; the command line schedules nothing (the campaign flow does)",
    )
    p.add_argument("--all", action="store_true", help="every unsent email of every running sequence (reschedule)")
    p.add_argument("--grace", help="how long past its time an unsent email is lost: 90s, 10m, 2h (default 1h)")

    p = add("events", "list the event kinds: who sends each, its flow, webhook key, sample, what it starts")
    p.add_argument("--format", choices=("text", "json"), default="text")

    add("health", "check the configured backend's settings (fails naming each missing one)")

    p = add("step", "one Kestra step: a request file (handle, send or health) with a settings file")
    p.add_argument("request", help="JSON file: command, event, payload, run_id")
    p.add_argument("settings", help="JSON file: the package's settings and secrets by name")

    p = add("report", "the campaign report from the ledger: contacts, sequences, emails, deliverability")
    p.add_argument("--since", help="count sequences started and emails attempted on or after this UTC day (YYYY-MM-DD)")
    p.add_argument("--format", choices=("text", "json", "html"), default="text", help="text (default), json or html")
    p.add_argument("--output", help="write to this file (atomically) instead of standard output")

    p = add(
        "contact",
        "a contact's story (contact EMAIL), everything held about it (contact export EMAIL), or all of it removed but "
        "a salted hash (contact forget EMAIL --yes; Kestra's executions too, with KESTRA_URL, _USERNAME, _PASSWORD)",
    )
    p.add_argument("words", nargs="+", metavar="[export|forget] EMAIL", help="the address, after export or forget")
    p.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    p.add_argument("--output", help="export: write the JSON file here (atomically) instead of standard output")
    p.add_argument("--yes", action="store_true", help="forget: yes, remove everything held about the address")
    p.add_argument("--no-kestra", action="store_true", help="forget: leave Kestra's executions (none ran here)")

    p = add("templates", "check templates against the variable set, or push local templates to Notion")
    p.add_argument("action", choices=("check", "push"))
    p.add_argument("--source", choices=("local", "crm"), help="check the local folder or the configured CRM")
    p.add_argument("--templates", help="the template folder (default: CHRISTMAS_TEMPLATES_DIR, else the samples)")

    p = add("notion", "check a live Notion workspace against the expected schema")
    p.add_argument("action", choices=("check",))

    p = add(
        "secrets",
        "the secrets the flows read: complete a plain env file with them (init: new random keys, empty lines for the "
        "rest), turn it into Kestra's base64 SECRET_* form (encode) or back (decode), or list their names (list)",
    )
    p.add_argument("action", choices=("init", "encode", "decode", "list"))
    p.add_argument("file", nargs="?", help="the plain env file ('-': standard input; init creates it when missing)")

    p = add(
        "deploy",
        "make Kestra's namespace hold exactly flows/: validate every flow, then one namespace update that creates, "
        "updates and deletes (KESTRA_URL, KESTRA_USERNAME, KESTRA_PASSWORD)",
    )
    p.add_argument("--flows", default="flows", help="the flows folder (default: flows)")
    p.add_argument("--dry-run", action="store_true", help="validate and report what would change; change nothing")

    p = add(
        "serve",
        "the public edge: check each sender's signature or key, forward to Kestra's webhooks, serve the unsubscribe "
        "pages (EDGE_HOST, EDGE_PORT, KESTRA_INTERNAL_URL and the senders' secrets: docs/operating.md)",
    )
    p.add_argument("--host", help="the address to listen on (default: EDGE_HOST, else 127.0.0.1)")
    p.add_argument("--port", type=int, help="the port (default: EDGE_PORT, else 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1; one per core)")

    p = add("demo", "run the funnel in this process on the local backends: handle a sample event, send its emails")
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
        from christmas_tasks.domain.errors import ChristmasError, InvalidInput

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
