"""The unsubscribe pages: GET and HEAD show the question and change nothing (link scanners fetch every link); a POST
with a valid token (the page's button, or RFC 8058's one-click body, form-urlencoded or multipart) is forwarded once to
the unsubscribe flow, as JSON, and answered with the confirmation as soon as Kestra has taken it (never after the
events queued before it); a forged, truncated or missing token shows the error
page and forwards nothing. Every value is escaped; the pages load nothing and run nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser

import pytest

from christmas_tasks.entrypoints.edge.app import BUTTON_REASON, ONE_CLICK_REASON
from tests.edge.conftest import KEYS, SENDER, World, token

EMAIL = "jane.doe@example.com"
ONE_CLICK = {"content-type": "application/x-www-form-urlencoded"}
CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"


def link(email: str = EMAIL, token_: str | None = None) -> dict[str, str]:
    return {"email": email, "token": token(email) if token_ is None else token_}


class Tags(HTMLParser):
    """The tags and attributes of a page, to check it holds no script and loads nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def check_page(text: str, headers: dict[str, str]) -> list[tuple[str, dict[str, str | None]]]:
    assert headers["content-type"].startswith("text/html")
    assert headers["content-security-policy"] == CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer" and headers["cache-control"] == "no-store"
    parser = Tags()
    parser.feed(text)
    names = [tag for tag, _ in parser.tags]
    assert "script" not in names and "img" not in names and "link" not in names and "iframe" not in names
    assert ("meta", {"name": "viewport", "content": "width=device-width,initial-scale=1"}) in parser.tags
    assert "http://" not in text and "https://" not in text, "nothing fetched from elsewhere"
    assert len(text) < 4096
    return parser.tags


def test_get_shows_the_business_the_address_and_one_button_and_changes_nothing(world: World) -> None:
    page = world.client.get("/unsubscribe", params=link())
    assert page.status_code == 200
    tags = check_page(page.text, dict(page.headers))
    assert SENDER in page.text and EMAIL in page.text
    forms = [attrs for tag, attrs in tags if tag == "form"]
    assert forms == [{"method": "post", "action": f"?email=jane.doe%40example.com&token={token(EMAIL)}"}]
    assert [tag for tag, _ in tags].count("button") == 1
    assert world.kestra.forwards == []


def test_head_changes_nothing(world: World) -> None:
    assert world.client.head("/unsubscribe", params=link()).status_code == 200
    assert world.client.head("/unsubscribe", params=link(token_="forged")).status_code == 400
    assert world.kestra.forwards == []


def test_the_pages_button_unsubscribes_once_and_confirms(world: World) -> None:
    page = world.client.post("/unsubscribe", params=link(), content=b"", headers=ONE_CLICK)
    assert page.status_code == 200
    check_page(page.text, dict(page.headers))
    assert "You are unsubscribed" in page.text and SENDER in page.text and EMAIL in page.text
    (forward,) = world.kestra.forwards
    assert forward.url.path == f"/api/v1/main/executions/webhook/christmas/unsubscribe/{KEYS['unsubscribe']}"
    assert forward.headers["content-type"] == "application/json"
    assert json.loads(forward.content) == {**link(), "reason": BUTTON_REASON}, "a person's button"


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"List-Unsubscribe=One-Click", ONE_CLICK),
        (
            b'--XyZ\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--XyZ--\r\n',
            {"content-type": "multipart/form-data; boundary=XyZ"},
        ),
    ],
    ids=["form-urlencoded", "multipart"],
)
def test_rfc_8058_one_click_in_either_encoding_is_forwarded_once_as_one_click(
    world: World, content: bytes, headers: dict[str, str]
) -> None:
    answer = world.client.post("/unsubscribe", params=link(), content=content, headers=headers)
    assert answer.status_code == 200 and "You are unsubscribed" in answer.text
    (forward,) = world.kestra.forwards
    assert json.loads(forward.content) == {**link(), "reason": ONE_CLICK_REASON}


def test_the_address_is_matched_as_the_links_are_made_trimmed_and_lower_cased(world: World) -> None:
    answer = world.client.post("/unsubscribe", params=link(" Jane.Doe@Example.com ", token(EMAIL)))
    assert answer.status_code == 200
    assert json.loads(world.kestra.forwards[0].content)["email"] == EMAIL


@pytest.mark.parametrize(
    "params",
    [
        link(token_="0" * 32),  # forged
        link(token_=token(EMAIL)[:-1]),  # truncated
        link(token_=""),  # empty
        {"email": EMAIL},  # missing
        link("john@example.com", token(EMAIL)),  # another address's
        {"token": token(EMAIL)},  # no address
        {},
    ],
    ids=["forged", "truncated", "empty", "missing", "another-address", "no-address", "nothing"],
)
def test_a_bad_token_shows_the_error_page_and_forwards_nothing(world: World, params: dict[str, str]) -> None:
    get = world.client.get("/unsubscribe", params=params)
    post = world.client.post("/unsubscribe", params=params, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
    for page in (get, post):
        assert page.status_code == 400
        check_page(page.text, dict(page.headers))
        assert "not valid" in page.text and "Nothing was changed" in page.text
        assert "<form" not in page.text
    assert world.kestra.forwards == []


def test_every_value_is_escaped(make_world: Callable[..., World]) -> None:
    world = make_world(SENDER_NAME="<b>Bad & Co</b>")
    evil = '"><script>alert(1)</script>@example.com'
    for method in ("GET", "POST"):
        page = world.client.request(method, "/unsubscribe", params=link(evil))
        assert page.status_code == 200
        check_page(page.text, dict(page.headers))
        assert "<script>" not in page.text and "<b>Bad" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text.replace("&#x27;", "'")
        assert "&lt;b&gt;Bad &amp; Co&lt;/b&gt;" in page.text
    bad = world.client.get("/unsubscribe", params={"email": evil, "token": "<i>x</i>"})
    assert bad.status_code == 400 and "<i>" not in bad.text and "<script>" not in bad.text


def test_kestra_down_shows_try_again_with_the_button_and_a_503(world: World) -> None:
    world.kestra.down = True
    page = world.client.post("/unsubscribe", params=link())
    assert page.status_code == 503
    check_page(page.text, dict(page.headers))
    assert "try again" in page.text.lower() and "<form" in page.text
    world.kestra.down = False
    world.kestra.unsubscribe_status = 503  # Kestra up but not taking executions
    assert world.client.post("/unsubscribe", params=link()).status_code == 503


def test_kestra_refusing_the_forward_says_try_later_and_names_the_key_in_the_log(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Kestra takes the event before its flow checks the token, so a refusal is Kestra's (a key it does not know):
    the person is asked to come back, and the operator told which setting to compare."""
    world.kestra.unsubscribe_status = 404
    page = world.client.post("/unsubscribe", params=link())
    assert page.status_code == 503 and "try again" in page.text.lower()
    assert any("WEBHOOK_KEY_UNSUBSCRIBE" in r.getMessage() for r in caplog.records)


def test_without_the_unsubscribe_secret_the_page_says_try_later_and_nothing_is_forwarded(
    make_world: Callable[..., World], caplog: pytest.LogCaptureFixture
) -> None:
    world = make_world(UNSUBSCRIBE_SECRET="")
    assert world.client.post("/unsubscribe", params=link()).status_code == 503
    assert world.kestra.forwards == []
    assert any("UNSUBSCRIBE_SECRET" in r.getMessage() for r in caplog.records)


def test_a_refused_token_is_logged_without_the_token_or_the_address(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.client.post("/unsubscribe", params=link(token_="f" * 32))
    lines = [r.getMessage() for r in caplog.records if r.name == "christmas_tasks.edge"]
    assert lines == ["edge: refused unsubscribe: a wrong token"]
    assert not any(re.search(r"f{32}|jane", line) for line in lines)
