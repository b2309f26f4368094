"""What every route answers whatever comes: /healthz, wrong methods (405), unknown paths (404), bodies over 256 KB
(413, found while reading), and hypothesis-fuzzed requests: never a 500, never a forward without a valid check."""

from __future__ import annotations

import string
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from christmas_tasks.entrypoints.edge.app import LIMIT, TooLarge, read_body
from tests.edge.conftest import KEYS, World, body_of, calendly_headers, standard_headers

ROUTES = ["/hooks/calendly", "/hooks/resend", "/hooks/signup", f"/hooks/signup/{KEYS['signup']}", "/unsubscribe",
          "/healthz"]


def test_healthz_says_the_edge_is_up_and_whether_kestra_answers(world: World) -> None:
    up = world.client.get("/healthz")
    assert up.status_code == 200 and up.json() == {"edge": "up", "kestra": "up"}
    (probe,) = world.kestra.probes
    assert probe.url.path.startswith("/api/v1/main/executions/webhook/christmas/"), "the path the edge forwards to"
    world.kestra.down = True
    down = world.client.get("/healthz")
    assert down.status_code == 200 and down.json() == {"edge": "up", "kestra": "down"}
    assert world.kestra.forwards == []


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/hooks/calendly", "POST"),
        ("PUT", "/hooks/resend", "POST"),
        ("DELETE", "/hooks/signup", "POST"),
        ("GET", f"/hooks/signup/{KEYS['signup']}", "POST"),
        ("PUT", "/unsubscribe", "GET, HEAD, POST"),
        ("DELETE", "/unsubscribe", "GET, HEAD, POST"),
        ("POST", "/healthz", "GET, HEAD"),
    ],
)
def test_a_wrong_method_is_405_naming_the_allowed_ones(world: World, method: str, path: str, allowed: str) -> None:
    answer = world.client.request(method, path, content=b"{}", headers={"X-Webhook-Key": KEYS["signup"]})
    assert answer.status_code == 405
    assert set(answer.headers["allow"].split(", ")) == set(allowed.split(", "))
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert world.kestra.forwards == []


@pytest.mark.parametrize("path", ["/", "/hooks", "/hooks/", "/hooks/signup/key/more", "/api/v1/main/flows", "/.env"])
def test_unknown_paths_are_404(world: World, path: str) -> None:
    assert world.client.post(path, content=b"{}").status_code == 404
    assert world.kestra.forwards == []


@pytest.mark.parametrize("path", ["/hooks/calendly", "/hooks/resend", "/hooks/signup", "/unsubscribe"])
def test_a_body_over_256_kb_is_413(world: World, path: str) -> None:
    big = b"{" + b" " * LIMIT + b"}"
    answer = world.client.post(path, content=big, headers={"X-Webhook-Key": KEYS["signup"]})
    assert answer.status_code == 413
    at_limit = b"{" + b" " * (LIMIT - 2) + b"}"
    headers = {"X-Webhook-Key": KEYS["signup"]}
    if path == "/hooks/signup":  # read whole at the limit, and checked: an empty signup is refused by its fields
        assert world.client.post(path, content=at_limit, headers=headers).status_code == 422
    assert world.kestra.flows() == []


class Streamed:
    """A request whose body comes in chunks, without a Content-Length: counts how many were read."""

    def __init__(self, chunks: int, size: int) -> None:
        self.chunks, self.size, self.read = chunks, size, 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.chunks):
            self.read += 1
            yield b" " * self.size


def test_413_is_found_while_reading_not_after_reading_everything() -> None:
    """read_body stops at the chunk that passes the limit: a 10 MB body is not read whole."""
    import anyio

    class Request:
        def __init__(self, stream: Streamed) -> None:
            self.headers: dict[str, str] = {}
            self.body = stream

        async def stream(self) -> Iterator[bytes]:  # type: ignore[misc]
            for chunk in self.body:
                yield chunk

    stream = Streamed(chunks=160, size=64 * 1024)
    with pytest.raises(TooLarge):
        anyio.run(read_body, Request(stream))  # type: ignore[arg-type]
    assert stream.read == 5, "the fifth 64 KB chunk passes 256 KB: nothing after it is read"


def test_a_content_length_over_the_limit_is_refused_before_reading(world: World) -> None:
    answer = world.client.post("/hooks/signup", content=b"{}", headers={"Content-Length": str(LIMIT + 1)})
    assert answer.status_code == 413


# --- fuzzed -------------------------------------------------------------------------------------------------------

METHODS = st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
SEGMENT = st.text(alphabet=string.ascii_letters + string.digits + "-_.~%", min_size=0, max_size=40)
PATHS = st.one_of(
    st.sampled_from(ROUTES),
    st.builds(lambda a: f"/hooks/{a}", SEGMENT),
    st.builds(lambda a, b: f"/hooks/{a}/{b}", SEGMENT, SEGMENT),
    st.builds(lambda a: f"/{a}", SEGMENT),
    st.builds(lambda a, b: f"/unsubscribe?email={a}&token={b}", SEGMENT, SEGMENT),
)
HEADER_VALUE = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=300)
HEADERS = st.dictionaries(
    st.sampled_from(["calendly-webhook-signature", "svix-id", "svix-timestamp", "svix-signature", "webhook-id",
                     "webhook-timestamp", "webhook-signature", "x-webhook-key", "content-type"]),
    HEADER_VALUE,
    max_size=6,
)
BODIES = st.one_of(
    st.binary(max_size=2048),
    st.just(b""),
    st.builds(lambda n: b"[" * n, st.integers(0, 300_000)),
    st.builds(lambda n: b"x" * n, st.sampled_from([LIMIT - 1, LIMIT, LIMIT + 1, 3 * LIMIT])),
    st.builds(lambda d: body_of(d), st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=5)),
)


@pytest.fixture
def edge(make_world: Callable[..., World]) -> World:
    """One edge for every example of a fuzzed test (hypothesis runs them all within one function-scoped fixture)."""
    return make_world()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=METHODS, path=PATHS, headers=HEADERS, body=BODIES)
def test_fuzzed_requests_never_get_a_500_and_never_forward(
    edge: World, method: str, path: str, headers: dict[str, str], body: bytes
) -> None:
    edge.kestra.forwards.clear()
    answer = edge.client.request(method, path, content=body if method not in ("GET", "HEAD") else None,
                                 headers=headers)
    assert answer.status_code < 500, answer.text[:200]
    # a forward only for a valid check: the path's right key (the fuzz cannot forge a signature or a token)
    if edge.kestra.forwards:
        assert path.startswith(f"/hooks/signup/{KEYS['signup']}") or headers.get("x-webhook-key") == KEYS["signup"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=512), shift=st.integers(-1000, 1000))
def test_fuzzed_signed_bodies_forward_only_when_fresh(edge: World, body: bytes, shift: int) -> None:
    """Real signatures over arbitrary bodies and times: refused exactly when stale or from the future."""
    t = edge.clock.now + shift
    calendly = edge.client.post("/hooks/calendly", content=body, headers=calendly_headers(body, t=t))
    resend = edge.client.post("/hooks/resend", content=body, headers=standard_headers(body, f"m{shift}{body!r}", t=t))
    for answer, tolerance in ((calendly, 180), (resend, 300)):
        assert answer.status_code in (200, 202, 400, 401), answer.status_code
        assert (answer.status_code == 401) == (abs(shift) > tolerance)
