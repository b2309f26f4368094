"""The Resend cassettes themselves: each says where it came from, none carries a credential or a real
address, and each belongs to a test that still exists (a stale cassette is a sign of a renamed test)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from vcr.serializers import yamlserializer

from tests.fakes.fake_resend import API_KEY, CASSETTE_DIR

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = sorted(CASSETTE_DIR.glob("*.yaml"))
# The scenarios docs/recording.md promises, each in at least one cassette.
REQUIRED = [
    "resend-a-send-posts-one-request-with-the-key-and-the-payload",
    "resend-a-429-is-retried-after-the-seconds-retry-after-asks",
    "resend-a-500-is-retried-with-backoff-then-succeeds",
    "resend-5xx-until-the-attempts-run-out-fails-clearly",
    "resend-a-400-validation-error-fails-at-once-with-resends-message",
    "resend-a-reused-key-with-another-payload-is-a-409-that-is-not-retried",
    "resend-the-same-key-twice-returns-the-same-id",
]


def test_the_promised_resend_cassettes_exist() -> None:
    assert set(REQUIRED) <= {p.stem for p in CASSETTES}


@pytest.mark.parametrize("path", CASSETTES, ids=[p.stem for p in CASSETTES])
def test_a_resend_cassette_says_where_it_came_from_and_holds_no_credential(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# "), "stamp it: python -m tests.fakes.fake_resend record (docs/recording.md)"
    header = text.split("\ninteractions:", 1)[0]
    assert "against a local fake" in header or "live Resend test account" in header
    assert API_KEY not in text and "Bearer" not in text
    assert re.search(r"\bre_[A-Za-z0-9]{8,}", text) is None, "something shaped like a Resend API key"
    cassette = yamlserializer.deserialize(text)
    assert cassette["interactions"], "an empty cassette"
    for interaction in cassette["interactions"]:
        headers = {name.lower() for name in interaction["request"]["headers"]}
        assert "authorization" not in headers
        assert "idempotency-key" in headers
        assert interaction["request"]["uri"] == "https://api.resend.com/emails"


def test_every_resend_cassette_belongs_to_a_test() -> None:
    def tests_in(*files: Path) -> set[str]:
        names = set()
        for file in files:
            names |= set(re.findall(r"^def test_(\w+)\(", file.read_text(encoding="utf-8"), re.MULTILINE))
        return {name.replace("_", "-") for name in names}

    contract = tests_in(ROOT / "tests" / "contract" / "test_mailer_contract.py")
    adapters = tests_in(ROOT / "tests" / "adapters" / "test_resend_mailer.py")
    stale = [
        p.name for p in CASSETTES
        if not (p.stem.startswith("contract-") and p.stem.removeprefix("contract-") in contract)
        and not (p.stem.startswith("resend-") and p.stem.removeprefix("resend-") in adapters)
    ]
    assert stale == []
