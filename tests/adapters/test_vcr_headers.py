"""The cassettes match on the headers that matter: a request without its Notion-Version or Idempotency-Key no
longer replays (it would have, with vcrpy's default matching)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import vcr
import yaml
from vcr.errors import CannotOverwriteExistingCassetteException

from tests.conftest import ROOT
from tests.fakes import vcr_headers

NOTION = ROOT / "cassettes" / "notion" / "contract-create-sequence-is-idempotent.yaml"
RESEND = ROOT / "cassettes" / "resend" / "contract-send-returns-an-id.yaml"


def recorder(match_on: list[str]) -> vcr.VCR:
    recording = vcr.VCR(record_mode="none", match_on=match_on, decode_compressed_response=True)
    vcr_headers.register(recording)
    return recording


def first_request(path: Path) -> tuple[str, str, dict[str, str], bytes]:
    interaction = yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"][0]["request"]
    headers = {name: values[0] for name, values in interaction["headers"].items()}
    body = interaction["body"] or b""
    return interaction["method"], interaction["uri"], headers, body.encode() if isinstance(body, str) else body


@pytest.mark.parametrize(
    ("cassette", "match_on", "header"),
    [(NOTION, vcr_headers.NOTION_MATCH_ON, "notion-version"), (RESEND, vcr_headers.RESEND_MATCH_ON, "idempotency-key")],
)
def test_a_request_without_a_header_that_matters_finds_no_recording(
    cassette: Path, match_on: list[str], header: str
) -> None:
    method, uri, headers, body = first_request(cassette)
    assert header in headers, f"the cassette records {header}"
    with recorder(match_on).use_cassette(str(cassette)), httpx.Client() as client:
        assert client.request(method, uri, headers=headers, content=body).status_code < 500
    without = {name: value for name, value in headers.items() if name != header}
    with recorder(match_on).use_cassette(str(cassette)), httpx.Client() as client:
        with pytest.raises(CannotOverwriteExistingCassetteException):
            client.request(method, uri, headers=without, content=body)
    changed = {**headers, header: headers[header] + "-other"}
    with recorder(match_on).use_cassette(str(cassette)), httpx.Client() as client:
        with pytest.raises(CannotOverwriteExistingCassetteException):
            client.request(method, uri, headers=changed, content=body)
