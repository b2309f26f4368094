"""`christmas-tasks step` for the failure-alert flow: what Kestra's Flow trigger gives, read into a failure (its first
error line from the failed execution's outputs, its link in Kestra's UI), and the whole step against a Discord
stand-in on loopback that answers, refuses, or is not there; with every other setting missing, alerts still go."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from christmas_tasks.domain.errors import InvalidInput
from christmas_tasks.entrypoints.cli import main
from christmas_tasks.entrypoints.failure_alert import cache_dir, execution_link, first_error_line, read_failure
from christmas_tasks.entrypoints.settings import Settings

KESTRA = "https://kestra.example.com/"


def trigger(flow: str, outputs: Any, execution: str = "5fG3kq1hT2") -> dict[str, Any]:
    """The Flow trigger's object (`trigger` in the failure-alert flow), as Kestra 1.3.31 builds it."""
    return {"executionId": execution, "namespace": "christmas", "flowId": flow, "flowRevision": 3,
            "state": "FAILED", "executionLabels": {}, "outputs": outputs}


REJECTED = {"result": {"rejected": True, "message": "error: signup event: email: not an address\nerror: second",
                       "response_code": 400, "command": "handle", "event": "signup"}, "files": {}}
CRASHED = {"result": {"rejected": False, "error": "resend answered 503: service unavailable", "command": "send"}}


@pytest.mark.parametrize(("outputs", "line"), [
    (REJECTED, "signup event: email: not an address"),
    (CRASHED, "resend answered 503: service unavailable"),
    ({"result": json.dumps(CRASHED["result"])}, "resend answered 503: service unavailable"),  # a JSON output as text
    ({"result": {}}, None),  # a step killed by its timeout reported nothing
    (None, None),  # a handler: no outputs at all
    ({"response": "Nothing was changed"}, None),
])
def test_the_first_error_line_is_what_the_step_reported(outputs: Any, line: str | None) -> None:
    assert first_error_line(outputs) == line


def test_a_failure_is_read_from_the_trigger_with_its_link_and_call() -> None:
    failure = read_failure({"failed": trigger("step", REJECTED), "correlation": "corr1"}, KESTRA)
    assert (failure.name, failure.execution, failure.state, failure.correlation) == (
        "christmas.step", "5fG3kq1hT2", "FAILED", "corr1")
    assert failure.error == "signup event: email: not an address" and failure.call == "handle signup"
    assert failure.link == "https://kestra.example.com/ui/main/executions/christmas/step/5fG3kq1hT2"
    handler = read_failure({"failed": trigger("signup", None)}, None)
    assert (handler.error, handler.call, handler.correlation, handler.link) == (None, None, None, None)
    long = {"result": {"error": "x" * 500}}
    assert len(read_failure({"failed": trigger("step", long)}, KESTRA).error or "") == 300


def test_the_link_is_kestras_execution_page() -> None:
    # io.kestra.core.utils.UriProvider.executionUrl: kestra.url without its trailing slash + /ui/main/executions/...
    assert execution_link("http://127.0.0.1:18080/", "christmas", "send-email", "abc") == (
        "http://127.0.0.1:18080/ui/main/executions/christmas/send-email/abc")
    assert execution_link("https://k.example.com/base", "christmas", "step", "a/b") == (
        "https://k.example.com/base/ui/main/executions/christmas/step/a%2Fb")
    assert execution_link("  ", "christmas", "step", "x") is None


@pytest.mark.parametrize("payload", [None, {"failed": "x"}, {"failed": {"namespace": "christmas", "flowId": "step"}}])
def test_a_payload_that_is_not_a_failed_execution_is_refused_naming_it(payload: Any) -> None:
    with pytest.raises(InvalidInput) as raised:
        read_failure(payload, KESTRA)
    assert "payload.failed" in str(raised.value.problems[0])


def test_the_record_lives_where_settings_put_the_cache() -> None:
    assert cache_dir({}) == Settings.from_env({}).cache_dir
    assert cache_dir({"CHRISTMAS_CACHE_DIR": "/srv/cache"}) == Path("/srv/cache")


class FakeDiscord:
    """A Discord webhook on loopback: records each posted body and answers `status`."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 204
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                fake.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(fake.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/webhooks/1/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    fake = FakeDiscord()
    yield fake
    fake.close()


def step(tmp_path: Path, capsys: pytest.CaptureFixture[str], settings: dict[str, Any], request: Any) -> dict[str, Any]:
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    (tmp_path / "request.json").write_text(json.dumps(request))
    assert main(["step", str(tmp_path / "request.json"), str(tmp_path / "settings.json")]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    outputs: dict[str, Any] = json.loads(line[2:-2])["outputs"]
    return outputs


def test_the_step_posts_one_alert_with_every_other_setting_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], discord: FakeDiscord
) -> None:
    # a live backend with nothing set: the failure may well be that; the alert must still go
    settings = {"CHRISTMAS_BACKEND": "live", "DISCORD_WEBHOOK_URL": discord.url, "KESTRA_PUBLIC_URL": KESTRA,
                "CHRISTMAS_CACHE_DIR": str(tmp_path / "cache"), "NOTION_TOKEN": None}
    request = {"command": "alert-failure", "payload": {"failed": trigger("step", CRASHED), "correlation": "c1"}}
    outputs = step(tmp_path, capsys, settings, request)
    assert (outputs["rejected"], outputs["outcome"], outputs["discord"]) == (False, "posted", "sent")
    (body,) = discord.bodies
    assert body["content"] == outputs["message"] == (
        "Kestra: christmas.step failed (send)\nExecution: 5fG3kq1hT2\n"
        "First error: resend answered 503: service unavailable\n"
        "https://kestra.example.com/ui/main/executions/christmas/step/5fG3kq1hT2"
    )
    assert body["allowed_mentions"] == {"parse": []}
    # its caller, send-email, fails next with no output of its own: folded, nothing posted
    caller = trigger("send-email", None, "p1")
    request = {"command": "alert-failure", "payload": {"failed": caller, "correlation": "c1"}}
    outputs = step(tmp_path, capsys, settings, request)
    assert (outputs["outcome"], outputs["folded_into"], outputs["discord"]) == ("folded", "5fG3kq1hT2", None)
    assert len(discord.bodies) == 1


def test_discord_refusing_or_absent_fails_no_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], discord: FakeDiscord
) -> None:
    settings = {"DISCORD_WEBHOOK_URL": discord.url, "CHRISTMAS_CACHE_DIR": str(tmp_path / "cache")}
    discord.status = 500
    request = {"command": "alert-failure", "payload": {"failed": trigger("report", {"result": {}})}}
    outputs = step(tmp_path, capsys, settings, request)
    assert (outputs["rejected"], outputs["outcome"], outputs["discord"]) == (False, "posted", "failed")
    assert len(discord.bodies) == 1
    discord.close()  # nobody listening now
    outputs = step(tmp_path, capsys, settings, {**request, "payload": {"failed": trigger("report", None, "r2")}})
    assert (outputs["rejected"], outputs["discord"]) == (False, "failed")


def test_without_discord_the_step_reports_the_message_and_the_summary_step_does_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = {"CHRISTMAS_CACHE_DIR": str(tmp_path / "cache")}
    request = {"command": "alert-failure", "payload": {"failed": trigger("health-check", None)}}
    outputs = step(tmp_path, capsys, settings, request)
    assert (outputs["outcome"], outputs["discord"]) == ("reported", "not configured")
    assert outputs["message"].startswith("Kestra: christmas.health-check failed\n")
    window = {"window": "2025-12-04T10:03:00Z"}
    summary = step(tmp_path, capsys, settings, {"command": "alert-summary", "payload": window})
    assert (summary["discord"], summary["message"]) == ("not configured", None)
    refused = step(tmp_path, capsys, settings, {"command": "alert-summary", "payload": {"window": "soon"}})
    assert refused["rejected"] is True and "payload.window" in refused["message"]
    refused = step(tmp_path, capsys, settings, {"command": "alert-failure", "payload": {"failed": {}}})
    assert refused["rejected"] is True and "payload.failed.namespace: is required" in refused["message"]
