"""The fakes served over HTTP on loopback, for a Kestra engine whose Python steps reach them as they would reach
Notion and Resend (NOTION_API_URL, RESEND_API_URL). A thread per request, as a real API serves many clients at
once: the fakes are thread-safe, and FakeNotion.rendezvous can make two processes' requests overlap."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def served(app: Callable[..., Iterable[bytes]]) -> Iterator[str]:
    """`app` on a loopback port; its base URL. Stopped at the end."""
    server = make_server("127.0.0.1", 0, app, server_class=_ThreadingServer, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
