"""A person's unsubscribe while a burst of events is queued (issue 26), on Kestra's engine as `scripts/run` starts it
(local backends, testing mode, the fast catalogue) with the public edge in front: the click takes effect before the
next send, whatever is queued. Jane's nurture has sent email 2; 100 other assessments are posted, filling
`handle-event`'s queue past the time her email 3 falls due (20 s after her email 1); she clicks her link's button at
once. Her unsubscribe runs the step itself, never behind the queue: emails 3 to 5 are skipped, only email 2 was sent.
Behind the queue (as before), it would have been applied after email 3 went out. Kim, whose nurture started with
Jane's, marks her email 2 as spam at the same moment: Resend's complaint, signed, through the edge, goes to the
`email-suppression` flow, which runs the step itself too: her emails 3 to 5 are skipped as well."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from christmas_tasks.adapters.outbox import OutboxMailer
from christmas_tasks.domain.variables import unsubscribe_token
from tests.conftest import EXAMPLES
from tests.engine.process import FLOW_SECRETS, edge, engine, free_port, secret_variables
from tests.engine.test_provider_bodies import svix_signed

ROOT = Path(__file__).resolve().parents[2]
SECRET = "queue-test-unsubscribe-secret"
JANE = "jane.under.load@example.com"
KIM = "kim.under.load@example.com"
BURST = 100
TERMINAL = {"SUCCESS", "FAILED", "KILLED", "WARNING", "CANCELLED"}


def outbox_numbers(local: Path, email: str) -> list[int]:
    return sorted(int(m["tags"]["email_number"]) for m in OutboxMailer(local / "outbox").messages() if m["to"] == email)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_an_unsubscribe_clicked_while_a_burst_is_queued_stops_the_very_next_email(tmp_path: Path) -> None:
    local = tmp_path / "christmas"
    edge_port = free_port()
    settings = {
        **secret_variables({**dict.fromkeys(FLOW_SECRETS, ""), "UNSUBSCRIBE_SECRET": SECRET}),
        "ENV_CHRISTMAS_BACKEND": "local",
        "ENV_CHRISTMAS_LOCAL_DIR": str(local),
        "ENV_TESTING_MODE": "true",
        "ENV_CHRISTMAS_CATALOGUE": str(ROOT / "examples/fast-catalogue.json"),
        "ENV_EDGE_PUBLIC_URL": f"http://127.0.0.1:{edge_port}",
    }
    sample = json.loads((EXAMPLES / "assessment.json").read_text(encoding="utf-8"))
    with (
        engine(tmp_path, settings) as kestra,
        edge(tmp_path, kestra, port=edge_port, unsubscribe_secret=SECRET) as front,
        httpx.Client(timeout=60) as http,
    ):
        started = datetime.now(UTC)
        for lead in (JANE, KIM):
            http.post(kestra.webhook("assessment"), json={**sample, "email": lead}).raise_for_status()
        deadline = time.monotonic() + 90
        while outbox_numbers(local, JANE) != [2] or outbox_numbers(local, KIM) != [2]:
            assert time.monotonic() < deadline, "Jane's and Kim's email 2 were not sent"
            time.sleep(0.2)
        for n in range(BURST):  # the burst: the queue stays busy past Jane's email 3 (due 20 s after her email 1)
            http.post(kestra.webhook("assessment"), json={**sample, "email": f"burst-{n}@example.com"})
        clicked = datetime.now(UTC)
        page = http.post(f"{front.url}/unsubscribe", params={"email": JANE, "token": unsubscribe_token(SECRET, JANE)})
        assert page.status_code == 200 and "You are unsubscribed" in page.text, page.text
        (kims,) = [m for m in OutboxMailer(local / "outbox").messages() if m["to"] == KIM]
        complaint = json.dumps({"type": "email.complained", "created_at": datetime.now(UTC).isoformat(),
                                "data": {"email_id": kims["id"], "to": [KIM]}}).encode()
        answer = http.post(f"{front.url}/hooks/resend", content=complaint,
                           headers=svix_signed(complaint, front.resend_secret, "msg_kim_complaint"))
        assert answer.status_code == 202 and answer.json()["forwarded"] == "email-suppression", answer.text
        complained = datetime.now(UTC)

        deadline = time.monotonic() + 600
        while True:  # every event handled, and Jane's four sends ended (the burst's own sends need not be waited for)
            handled = kestra.executions(http, "assessment")
            janes = [e for e in kestra.executions(http, "send-email") if JANE in str(e.get("inputs", {}))
                     or KIM in str(e.get("inputs", {}))]
            ended = [e for e in handled + janes if e["state"]["current"] in TERMINAL]
            if len(handled) == BURST + 2 and len(janes) == 8 and len(ended) == len(handled) + len(janes):
                break
            assert time.monotonic() < deadline, "the burst did not clear in 10 minutes"
            time.sleep(2)

        assert outbox_numbers(local, JANE) == [2], "an email went to Jane after she unsubscribed"
        assert outbox_numbers(local, KIM) == [2], "an email went to Kim after her complaint"
        queue_cleared = max(when(e["state"]["endDate"]) for e in handled)
        email_3_due = started.timestamp() + 20
        assert queue_cleared.timestamp() > email_3_due, "the burst did not outlast email 3's time: this proves nothing"
        assert clicked.timestamp() < email_3_due and complained.timestamp() < email_3_due
