"""One behaviour suite for every Mailer (ports.Mailer): OutboxMailer, ResendMailer and the in-memory fake the
use-case tests run on (tests/fakes/memory.py) must not drift apart.

The Resend variant replays cassettes/resend/contract-*.yaml (written against tests/fakes/fake_resend.py;
see docs/recording.md, section Resend) with a no-op sleep; what it sent is read from the recorded
requests. The outbox variant writes to a temporary folder and is read back from its .eml files.
Outbox-only tests (several processes at once, the file format) follow the contract.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from christmas_tasks.adapters.outbox import INDEX, OutboxMailer
from christmas_tasks.adapters.resend.mailer import ResendMailer
from christmas_tasks.domain.errors import ChristmasError, ProviderError
from christmas_tasks.usecases.ports import Mailer
from tests.contract.mailer_fixtures import (
    LEAD,
    UNSUBSCRIBE,
    forwarded_reply,
    memory_delivered,
    message,
    outbox_delivered,
    read_eml,
    resend_delivered,
    send_from_process,
)
from tests.fakes.cassettes import cassette_fixtures
from tests.fakes.fake_resend import CASSETTE_DIR, FakeResend, resend_mailer
from tests.fakes.fake_resend import vcr_config as resend_vcr_config
from tests.fakes.memory import InMemoryMailer

Delivered = Callable[[], list[dict[str, Any]]]


vcr_cassette_dir, vcr_config, default_cassette_name = cassette_fixtures(CASSETTE_DIR, resend_vcr_config, "contract-")


@pytest.fixture(params=["outbox", pytest.param("resend", marks=pytest.mark.vcr), "memory"])
def mailer(request: pytest.FixtureRequest, tmp_path: Path) -> Mailer:
    if request.param == "outbox":
        return OutboxMailer(tmp_path / "outbox")
    if request.param == "memory":
        return InMemoryMailer()
    return resend_mailer(FakeResend(), request)


@pytest.fixture
def delivered(mailer: Mailer, request: pytest.FixtureRequest) -> Delivered:
    """What the mailer delivered so far: the outbox's .eml files, or the bodies Resend was sent."""
    if isinstance(mailer, OutboxMailer):
        outbox = mailer
        return lambda: outbox_delivered(outbox)
    if isinstance(mailer, InMemoryMailer):
        memory = mailer
        return lambda: memory_delivered(memory)
    assert isinstance(mailer, ResendMailer)
    cassette = request.getfixturevalue("vcr")
    return lambda: resend_delivered(cassette)


# ---------------------------------------------------------------------- the contract


def test_send_returns_an_id(mailer: Mailer, delivered: Delivered) -> None:
    result = mailer.send(message("send-returns-an-id"))
    assert isinstance(result.message_id, str) and result.message_id
    assert result.duplicate is False
    assert [m["id"] for m in delivered()] == [result.message_id]


def test_the_same_key_twice_is_one_message_with_one_id(mailer: Mailer, delivered: Delivered) -> None:
    outgoing = message("same-key-twice")
    first = mailer.send(outgoing)
    second = mailer.send(outgoing)
    assert second.message_id == first.message_id
    assert (first.duplicate, second.duplicate) == (False, True)
    assert [m["id"] for m in delivered()] == [first.message_id]


def test_different_keys_are_different_messages(mailer: Mailer, delivered: Delivered) -> None:
    first = mailer.send(message("different-keys-1"))
    second = mailer.send(message("different-keys-2", subject="Jane’s Salon: day 3 of your 5-day plan"))
    assert first.message_id != second.message_id
    assert not first.duplicate and not second.duplicate
    assert [m["id"] for m in delivered()] == [first.message_id, second.message_id]
    assert [m["key"] for m in delivered()] == [message("different-keys-1").idempotency_key,
                                               message("different-keys-2").idempotency_key]


def test_the_message_carries_html_text_reply_to_unsubscribe_headers_and_tags(
    mailer: Mailer, delivered: Delivered
) -> None:
    outgoing = message("message-carries-everything")
    result = mailer.send(outgoing)
    (sent,) = delivered()
    assert sent["id"] == result.message_id
    assert (sent["from"], sent["to"], sent["reply_to"]) == (outgoing.sender, outgoing.to, outgoing.reply_to)
    assert sent["subject"] == outgoing.subject  # non-ASCII subject kept exactly
    assert sent["html"].strip() == outgoing.html.strip()
    assert sent["text"].strip() == outgoing.text.strip()
    assert sent["headers"] == {
        "List-Unsubscribe": f"<{UNSUBSCRIBE}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert sent["tags"] == {"campaign": "christmas-2025", "sequence": "5day", "email_number": "2"}
    assert sent["key"] == outgoing.idempotency_key


def test_the_same_key_with_another_payload_is_refused(mailer: Mailer, delivered: Delivered) -> None:
    first = mailer.send(message("same-key-other-payload"))
    with pytest.raises(ProviderError) as caught:
        mailer.send(message("same-key-other-payload", subject="A different subject"))
    assert isinstance(caught.value, ChristmasError)
    assert caught.value.status == 409 and caught.value.retryable is False
    assert "already used with another payload" in str(caught.value)
    assert [m["id"] for m in delivered()] == [first.message_id]
    assert delivered()[0]["subject"] == message("x").subject


def test_a_forwarded_reply_reaches_the_inbox_as_the_lead_wrote_it_answering_the_lead(
    mailer: Mailer, delivered: Delivered
) -> None:
    forward = forwarded_reply("forwarded-reply")
    first = mailer.send(forward)
    again = mailer.send(forward)  # a redelivered webhook, a retried step: the same key and payload
    assert again.message_id == first.message_id and (first.duplicate, again.duplicate) == (False, True)
    (sent,) = delivered()
    assert sent["id"] == first.message_id and sent["key"] == forward.idempotency_key
    assert (sent["from"], sent["to"], sent["reply_to"]) == (forward.sender, forward.to, LEAD)
    assert sent["subject"] == "Re: Jane’s Salon — booking"
    assert sent["text"].strip() == "Oui, jeudi à 10 h ?\n\nJane"
    assert sent["html"].strip() == forward.html, "the lead's HTML as it came, inline image included"
    assert sent["headers"] == {
        "Auto-Submitted": "auto-generated",
        "In-Reply-To": "<CAF7x2Kq9u3jR@mail.example.com>",
        "References": "<CAF7x2Kq9u3jR@mail.example.com>",
    }, "threaded with the lead's message; no unsubscribe header: it is not commercial mail"
    assert sent["tags"] == {"campaign": "christmas-2025", "forward": "reply"}


# ---------------------------------------------------------------------- outbox only


def test_outbox_concurrent_processes_with_one_key_write_exactly_one_message(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    outgoing = message("outbox-concurrent")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(6)
    results = context.Queue()
    workers = [
        context.Process(target=send_from_process, args=(str(folder), outgoing, barrier, results)) for _ in range(6)
    ]
    for worker in workers:
        worker.start()
    answers = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    outbox = OutboxMailer(folder)
    (entry,) = outbox.messages()
    assert {message_id for message_id, _ in answers} == {entry["id"]}
    assert sorted(duplicate for _, duplicate in answers) == [False] + [True] * 5
    assert sorted(p.name for p in folder.glob("*.eml")) == [entry["file"]]
    assert not list(folder.glob(".tmp-*"))


def test_outbox_concurrent_processes_with_different_keys_write_every_message_intact(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(6)
    results = context.Queue()
    workers = [
        context.Process(
            target=send_from_process, args=(str(folder), message(f"outbox-many-{n}"), barrier, results)
        )
        for n in range(6)
    ]
    for worker in workers:
        worker.start()
    answers = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    lines = (folder / INDEX).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6 and all(json.loads(line)["id"] for line in lines)  # no interleaved writes
    assert {m["id"] for m in OutboxMailer(folder).messages()} == {message_id for message_id, _ in answers}
    assert len(list(folder.glob("*.eml"))) == 6


def test_outbox_an_eml_is_a_complete_mime_message(tmp_path: Path) -> None:
    outbox = OutboxMailer(tmp_path)
    outgoing = message("outbox-eml")
    result = outbox.send(outgoing)
    (entry,) = outbox.messages()
    assert entry["file"] == f"{result.message_id}.eml" and result.message_id.startswith("outbox-")
    raw = (tmp_path / entry["file"]).read_text(encoding="ascii")
    # Unfolded: a folded List-Unsubscribe would become encoded words, which no client reads as a URL.
    assert f"List-Unsubscribe: <{UNSUBSCRIBE}>\n" in raw
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n" in raw
    eml = read_eml(tmp_path / entry["file"])
    assert eml.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in eml.iter_parts()] == ["text/plain", "text/html"]
    assert eml["Date"] and eml["Message-ID"]
    assert eml["X-Idempotency-Key"] == outgoing.idempotency_key
    assert (eml["X-Tag-campaign"], eml["X-Tag-sequence"], eml["X-Tag-email_number"]) == ("christmas-2025", "5day", "2")


def test_outbox_index_lines_have_the_documented_fields(tmp_path: Path) -> None:
    outbox = OutboxMailer(tmp_path)
    outgoing = message("outbox-index")
    result = outbox.send(outgoing)
    (line,) = (tmp_path / INDEX).read_text(encoding="utf-8").splitlines()
    entry = json.loads(line)
    assert {"id", "idempotency_key", "to", "from", "subject", "tags", "file", "sent_at"} <= set(entry)
    assert entry["id"] == result.message_id and entry["idempotency_key"] == outgoing.idempotency_key
    assert (entry["to"], entry["from"], entry["subject"]) == (outgoing.to, outgoing.sender, outgoing.subject)
    assert entry["tags"] == outgoing.tags and entry["sent_at"].endswith("Z")


def test_outbox_a_torn_index_line_is_skipped_and_the_next_message_starts_its_own_line(tmp_path: Path) -> None:
    outbox = OutboxMailer(tmp_path)
    first = outbox.send(message("outbox-torn-1"))
    with open(tmp_path / INDEX, "a", encoding="utf-8") as index:
        index.write('{"id": "outbox-cut-short", "idempo')  # a process died mid-append
    second = outbox.send(message("outbox-torn-2"))
    assert [m["id"] for m in outbox.messages()] == [first.message_id, second.message_id]


def test_outbox_a_header_with_a_line_break_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    outbox = OutboxMailer(tmp_path)
    with pytest.raises(ProviderError, match="cannot be written"):
        outbox.send(message("outbox-injection", subject="Hello\nBcc: everyone@example.com"))
    assert outbox.messages() == [] and not list(tmp_path.glob("*.eml"))
    assert not list(tmp_path.glob(".tmp-*"))


def test_outbox_a_retry_after_the_index_write_is_a_duplicate_across_instances(tmp_path: Path) -> None:
    """A new process (a new instance) sees what an earlier one sent: the index is the memory."""
    outgoing = message("outbox-new-instance")
    first = OutboxMailer(tmp_path).send(outgoing)
    again = OutboxMailer(tmp_path).send(replace(outgoing))
    assert again.message_id == first.message_id and again.duplicate is True
    assert len(OutboxMailer(tmp_path).messages()) == 1
