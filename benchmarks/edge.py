"""The public edge's cost: the latency it adds to a webhook, and how many it forwards per second, on loopback.

    .venv/bin/python benchmarks/edge.py [--posts 200] [--load 2000] [--concurrency 32] [--workers 2]

Two processes on 127.0.0.1: a fake Kestra (a bare ASGI app on uvicorn answering each webhook 200 with an execution
id, as Kestra's does for a flow that does not wait) and `christmas-tasks serve --workers N` (the real command, uvicorn,
the edge's SQLite file in a temporary folder) forwarding to it. Measured with one keep-alive client:

- latency: --posts Calendly-signed `invitee.created` posts one after the other through the edge (signature, route,
  forward, answer) against the same number posted straight to the fake; the edge's added latency is the difference of
  the medians (and of the p95s);
- throughput: --load posts, --concurrency at a time, through the edge: Calendly-signed (an HMAC and a forward each),
  then Svix-signed with a new svix-id each (the signature, and the SQLite claim that makes a redelivery a no-op).

Everything (the client, the edge's workers, the fake) shares the machine's cores; every loop is bounded in count and
time, and both servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from standardwebhooks.webhooks import Webhook

ROOT = Path(__file__).resolve().parent.parent
CALENDLY_KEY = "benchmark-calendly-signing-key"
RESEND_SECRET = "whsec_" + "YmVuY2htYXJrLXJlc2VuZC1zZWNyZXQ="
KEY = "benchmark-webhook-key-" + "k" * 24
BODY = json.dumps({
    "event": "invitee.created",
    "payload": {"email": "jane@example.com", "name": "Jane Doe", "timezone": "America/Toronto",
                "scheduled_event": {"uri": "https://api.calendly.com/scheduled_events/1",
                                    "start_time": "2025-12-10T15:00:00Z", "name": "Discovery call"}},
}).encode()

FAKE_KESTRA = '''
import json
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    body = json.dumps({"id": "fake-execution", "flowId": scope["path"].split("/")[-2]}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited ({process.returncode})")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {limit:.0f} s")


def calendly_headers() -> dict[str, str]:
    stamp = str(int(time.time()))
    signature = hmac.new(CALENDLY_KEY.encode(), stamp.encode() + b"." + BODY, hashlib.sha256).hexdigest()
    return {"Calendly-Webhook-Signature": f"t={stamp},v1={signature}", "Content-Type": "application/json"}


def svix_headers(message_id: str) -> dict[str, str]:
    now = datetime.now(UTC)
    return {"svix-id": message_id, "svix-timestamp": str(int(now.timestamp())),
            "svix-signature": Webhook(RESEND_SECRET).sign(message_id, now, BODY), "Content-Type": "application/json"}


def timed_posts(client: httpx.Client, url: str, count: int, headers: dict[str, str], expect: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        answer = client.post(url, content=BODY, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        if answer.status_code != expect:
            raise SystemExit(f"{url}: {answer.status_code} {answer.text[:200]}")
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def load(url: str, count: int, concurrency: int, headers_for: list[dict[str, str]]) -> tuple[float, int]:
    """`count` posts, `concurrency` at a time: the seconds taken and how many were answered 202."""
    queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    for headers in headers_for:
        queue.put_nowait(headers)
    accepted = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:

        async def worker() -> None:
            nonlocal accepted
            while not queue.empty():
                headers = queue.get_nowait()
                answer = await client.post(url, content=BODY, headers=headers)
                accepted += answer.status_code == 202

        start = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), timeout=300)
        return time.perf_counter() - start, accepted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--load", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    fake_port, edge_port = free_port(), free_port()
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "fake_kestra.py").write_text(FAKE_KESTRA)
        fake = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "fake_kestra:app", "--host", "127.0.0.1", "--port", str(fake_port),
             "--no-access-log", "--log-level", "warning"],
            cwd=folder,
        )
        env = {
            "PATH": os.environ.get("PATH", ""), "HOME": folder, "LANG": "C.UTF-8",
            "KESTRA_INTERNAL_URL": f"http://127.0.0.1:{fake_port}", "EDGE_PORT": str(edge_port),
            "EDGE_DATA_DIR": str(Path(folder, "edge")), "CALENDLY_SIGNING_KEY": CALENDLY_KEY,
            "RESEND_WEBHOOK_SECRET": RESEND_SECRET, "WEBHOOK_KEY_BOOKING": KEY, "WEBHOOK_KEY_EMAIL_STATUS": KEY,
        }
        edge = subprocess.Popen(
            [str(bin_dir / "christmas-tasks"), "serve", "--workers", str(args.workers)], env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            direct_url = f"http://127.0.0.1:{fake_port}/api/v1/main/executions/webhook/christmas/booking/{KEY}"
            edge_url = f"http://127.0.0.1:{edge_port}"
            wait_until_up(direct_url, fake)
            wait_until_up(f"{edge_url}/healthz", edge)
            with httpx.Client(timeout=10.0) as client:
                headers = calendly_headers()
                timed_posts(client, f"{edge_url}/hooks/calendly", 20, headers, 202)  # warm both workers up
                timed_posts(client, direct_url, 20, {"Content-Type": "application/json"}, 200)
                through = timed_posts(client, f"{edge_url}/hooks/calendly", args.posts, headers, 202)
                direct = timed_posts(client, direct_url, args.posts, {"Content-Type": "application/json"}, 200)
            print(f"latency over {args.posts} sequential posts (ms)   median    p95")
            print(f"  straight to the fake Kestra              {statistics.median(direct):7.2f} {p95(direct):7.2f}")
            print(f"  through the edge (Calendly-signed)       {statistics.median(through):7.2f} {p95(through):7.2f}")
            added = statistics.median(through) - statistics.median(direct)
            print(f"  added by the edge                        {added:7.2f} {p95(through) - p95(direct):7.2f}")

            calendly = [calendly_headers()] * args.load
            seconds, accepted = asyncio.run(load(f"{edge_url}/hooks/calendly", args.load, args.concurrency, calendly))
            print(f"throughput, {args.load} posts, {args.concurrency} at a time, {args.workers} workers, on "
                  f"{os.cpu_count()} cores:")
            print(f"  Calendly-signed:                 {args.load / seconds:7.0f} requests/s ({accepted} forwarded)")
            svix = [svix_headers(f"msg_{n}") for n in range(args.load)]
            seconds, accepted = asyncio.run(load(f"{edge_url}/hooks/resend", args.load, args.concurrency, svix))
            print(f"  Svix-signed, a new svix-id each: {args.load / seconds:7.0f} requests/s ({accepted} forwarded)")
        finally:
            for process in (edge, fake):
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
