"""Kestra's state deleted with emails still scheduled (issue 26), on Kestra's engine as `scripts/run` starts it (local
backends, testing mode, the fast catalogue): three leads take the assessment, their email 2 goes out, and the engine is
stopped with emails 3 to 5 scheduled; its folder is deleted, as an operator deletes `.christmas/kestra`, and the engine
started again on the same ledger. Nothing would ever send those nine emails. The campaign flow's `reconcile` finds
them in the ledger once their time passed by its grace period and plans them again; a `reschedule` right after plans
them a second time; the hourly `reconcile` flow then finds nothing left. Every planned email is sent exactly once."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from christmas_tasks.adapters.outbox import OutboxMailer
from christmas_tasks.domain.planning import iso_utc
from tests.conftest import EXAMPLES
from tests.engine.process import FLOW_SECRETS, RunningEngine, engine, secret_variables

ROOT = Path(__file__).resolve().parents[2]
LEADS = tuple(f"lead{n}.reconcile@example.com" for n in range(3))
TERMINAL = {"SUCCESS", "FAILED", "KILLED", "WARNING", "CANCELLED"}
GRACE = "10s"  # the fast catalogue's emails are seconds apart; production's default is an hour


def sent(local: Path) -> list[tuple[str, int]]:
    return sorted((m["to"], int(m["tags"]["email_number"])) for m in OutboxMailer(local / "outbox").messages())


def wait_for(what: str, check: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what}: not within {seconds:.0f} s"
        time.sleep(0.5)
    return found


def ended(kestra: RunningEngine, http: httpx.Client, flow: str) -> list[dict[str, Any]]:
    """The flow's executions, once every one has ended (else an empty list)."""
    found = kestra.executions(http, flow)
    return found if found and all(e["state"]["current"] in TERMINAL for e in found) else []


def run_flow(kestra: RunningEngine, http: httpx.Client, flow: str, **inputs: str) -> dict[str, Any]:
    """Start the flow with `inputs` (as Kestra's API takes them) and return its execution once it has ended."""
    answer = http.post(f"{kestra.api}/executions/christmas/{flow}", files={k: (None, v) for k, v in inputs.items()})
    answer.raise_for_status()
    execution_id = answer.json()["id"]

    def done() -> dict[str, Any] | None:
        execution: dict[str, Any] = http.get(f"{kestra.api}/executions/{execution_id}").json()
        return execution if execution["state"]["current"] in TERMINAL else None

    execution: dict[str, Any] = wait_for(f"{flow} {inputs}", done, 120)
    assert execution["state"]["current"] == "SUCCESS", execution
    return execution


def test_after_the_engines_state_is_deleted_every_planned_email_is_still_sent_exactly_once(tmp_path: Path) -> None:
    local = tmp_path / "christmas"
    settings = {
        **secret_variables({**dict.fromkeys(FLOW_SECRETS, ""), "UNSUBSCRIBE_SECRET": "reconcile-test-secret"}),
        "ENV_CHRISTMAS_BACKEND": "local",
        "ENV_CHRISTMAS_LOCAL_DIR": str(local),
        "ENV_TESTING_MODE": "true",
        "ENV_CHRISTMAS_CATALOGUE": str(ROOT / "examples/fast-catalogue.json"),
        # 1,200 an hour: the lost emails go out 3 s apart (not 36 s), so the reschedule finds some still to send
        "ENV_SEND_CAP": "1200",
    }
    sample = json.loads((EXAMPLES / "assessment.json").read_text(encoding="utf-8"))
    email_1 = datetime.now(UTC)
    with engine(tmp_path, settings) as kestra, httpx.Client(timeout=60) as http:
        for lead in LEADS:  # the 5-day nurture: email 2 two seconds after email 1, emails 3 to 5 at 20, 22, 24 s
            body = {**sample, "email": lead, "email_1_sent_at": iso_utc(email_1)}
            http.post(kestra.webhook("assessment"), json=body).raise_for_status()
        wait_for("every email 2 sent", lambda: sent(local) == [(lead, 2) for lead in LEADS], 60)
        wait_for("twelve sends scheduled, the three email 2 ended",
                 lambda: len(kestra.executions(http, "send-email")) == 12
                 and sum(e["state"]["current"] in TERMINAL for e in kestra.executions(http, "send-email")) >= 3, 30)
    assert (datetime.now(UTC) - email_1).total_seconds() < 20, "email 3 fell due before the engine stopped"

    shutil.rmtree(tmp_path / "kestra")  # the engine's database, queues and storage: every scheduled send is gone
    with engine(tmp_path, settings) as kestra, httpx.Client(timeout=60) as http:
        assert kestra.executions(http, "send-email") == [], "the new engine knows of no scheduled send"
        time.sleep(max(0.0, email_1.timestamp() + 24 + 10 + 1 - time.time()))  # email 5's time, and the grace
        assert sent(local) == [(lead, 2) for lead in LEADS], "nothing else was ever sent"

        reconciled = run_flow(kestra, http, "campaign", action="reconcile", grace=GRACE)["outputs"]["result"]
        assert (reconciled["running"], reconciled["lost"], reconciled["planned"]) == (3, 9, 9), reconciled
        assert reconciled["reason"].startswith("9 email(s) of running sequences had nothing sent more than")
        rescheduled = run_flow(kestra, http, "campaign", action="reschedule", grace=GRACE)["outputs"]["result"]
        assert rescheduled["action"] == "reschedule" and rescheduled["planned"] >= 1, rescheduled  # planned twice

        everything = [(lead, n) for lead in LEADS for n in (2, 3, 4, 5)]
        wait_for("every lost email sent", lambda: sent(local) == everything, 120)
        sends = wait_for("every send ended", lambda: ended(kestra, http, "send-email"), 120)
        assert len(sends) == reconciled["planned"] + rescheduled["planned"] > 9, "a duplicate plan was scheduled"
        assert sent(local) == everything, "an email went out twice"

        hourly = run_flow(kestra, http, "reconcile")["outputs"]["result"]
        assert (hourly["action"], hourly["lost"], hourly["planned"]) == ("reconcile", 0, 0), hourly
        assert (hourly["running"], hourly["reason"]) == (0, "no sequence of the campaign is running"), "all completed"
