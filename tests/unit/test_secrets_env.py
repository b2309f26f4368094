"""christmas_tasks.entrypoints.secrets_env: a plain env file <-> Kestra's `SECRET_<NAME>=<base64>` lines."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from christmas_tasks.domain.errors import InvalidInput
from christmas_tasks.entrypoints.cli import main
from christmas_tasks.entrypoints.secrets_env import decode_env, encode_env


def kestra_reads(line: str) -> tuple[str, str]:
    """What Kestra's environment secret backend makes of one SECRET_ line: the key (prefix removed,
    upper-cased) and the value (standard base64, line breaks removed, bytes as UTF-8)."""
    name, _, value = line.partition("=")
    assert name.startswith("SECRET_")
    return name.removeprefix("SECRET_").upper(), base64.b64decode(value.replace("\n", ""), validate=True).decode()


def secret_lines(text: str) -> dict[str, str]:
    return dict(kestra_reads(line) for line in text.split("\n") if line.startswith("SECRET_"))


# --- encode ---------------------------------------------------------------------------------------------


def test_encode_turns_each_assignment_into_a_base64_secret_and_keeps_comments_and_blank_lines() -> None:
    text = "# Notion\nNOTION_TOKEN=secret_abc123\n\n# Resend\nRESEND_API_KEY=re_456\n"
    assert encode_env(text) == (
        "# Notion\n"
        f"SECRET_NOTION_TOKEN={base64.b64encode(b'secret_abc123').decode()}\n"
        "\n"
        "# Resend\n"
        f"SECRET_RESEND_API_KEY={base64.b64encode(b're_456').decode()}\n"
    )


def test_the_values_are_what_kestra_decodes() -> None:
    encoded = encode_env('A=plain\nB=\'sin gle # kept\'\nC="dou\\"ble\\n"\nD=\nE=caf\u00e9 \u2603\n')
    assert secret_lines(encoded) == {
        "A": "plain",
        "B": "sin gle # kept",
        "C": 'dou"ble\n',
        "D": "",
        "E": "caf\u00e9 \u2603",
    }


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("X=value", "value"),
        ("X = value", "value"),
        ("X=  padded  ", "padded"),
        ("export X=value", "value"),
        ("X=value # a comment", "value"),
        ("X=value#not-a-comment", "value#not-a-comment"),
        ("X=#starts-with-hash", "#starts-with-hash"),
        ("X=a=b=c", "a=b=c"),
        ("X='literal \\n $HOME'", "literal \\n $HOME"),
        ('X="tab\\tand \\$dollar and \\\\ backslash"', "tab\tand $dollar and \\ backslash"),
        ('X="unknown \\q escape"', "unknown \\q escape"),
        ("X='quoted' # comment after", "quoted"),
        ('X=""', ""),
        ("X=https://hooks.example.com/a?b=c&d=e", "https://hooks.example.com/a?b=c&d=e"),
    ],
)
def test_values_are_read_as_compose_reads_an_env_file(line: str, value: str) -> None:
    assert secret_lines(encode_env(line + "\n")) == {"X": value}


def test_windows_line_endings_a_bom_and_a_missing_final_newline() -> None:
    assert encode_env("\ufeffA=1\r\nB=2") == (
        f"SECRET_A={base64.b64encode(b'1').decode()}\nSECRET_B={base64.b64encode(b'2').decode()}\n"
    )
    assert encode_env("") == ""
    assert encode_env("# only a comment\n") == "# only a comment\n"


def test_the_output_is_one_line_per_secret_with_no_line_wrapping() -> None:
    long_value = "x" * 5000
    encoded = encode_env(f"LONG={long_value}\n")
    assert encoded.count("\n") == 1 and secret_lines(encoded) == {"LONG": long_value}


# --- errors: line numbers, never values -----------------------------------------------------------------


def problems_of(call: object, text: str) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        call(text)  # type: ignore[operator]
    return [str(problem) for problem in caught.value.problems]


def test_a_line_that_is_not_name_value_is_named_by_its_number_never_echoed() -> None:
    secret = "secret_ntn_4f3a9b8c7d6e5f4a3b2c1d0e"
    problems = problems_of(encode_env, f"GOOD=1\n{secret}\n\n9BAD=value-9\n-X=y\n=z\n")
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 4", "line 5", "line 6"]
    message = "; ".join(problems)
    assert secret not in message and "value-9" not in message and "9BAD" not in message


def test_every_bad_line_is_reported_at_once() -> None:
    with pytest.raises(InvalidInput) as caught:
        encode_env("A=1\nA=2\nB='open\nSECRET_C=eA==\nD=ok\nE=\"nul\\\n")
    text = str(caught.value)
    assert "line 2: A is already set on line 1" in text
    assert "line 3: the value of B has an unterminated quote" in text
    assert "line 4: SECRET_C is already a SECRET_* name" in text
    assert "line 6: the value of E" in text
    assert "open" not in text and "eA==" not in text


def test_names_that_kestra_would_merge_are_duplicates() -> None:
    # Kestra upper-cases the key: notion_token and NOTION_TOKEN would be one secret.
    problems = problems_of(encode_env, "NOTION_TOKEN=a\nnotion_token=b\n")
    assert problems == ["line 2: notion_token is already set on line 1"]


def test_text_after_a_closing_quote_is_refused() -> None:
    assert problems_of(encode_env, "X='a'b\n") == [
        "line 1: the value of X has an unterminated quote or text after its closing quote"
    ]


def test_a_nul_character_is_refused_without_showing_the_value() -> None:
    problems = problems_of(encode_env, 'X="a\\u0000b"\nY=ok\x00ko\n')
    assert problems == ["line 2: the value of Y contains a NUL character"]


def test_the_error_is_a_christmas_input_error_with_the_cli_exit_code() -> None:
    with pytest.raises(InvalidInput) as caught:
        encode_env("not an assignment\n")
    assert caught.value.exit_code == 2 and caught.value.what == "env file"


# --- decode ---------------------------------------------------------------------------------------------


def test_decode_is_the_way_back_quoting_what_needs_it() -> None:
    encoded = encode_env("# c\nA=plain-value_1.2@x\nB=has space\nC=it's\nD=\nE=line1\\nline2\n\nF='$HOME'\n")
    assert decode_env(encoded) == (
        "# c\nA=plain-value_1.2@x\nB='has space'\nC=\"it's\"\nD=\nE='line1\\nline2'\n\nF='$HOME'\n"
    )


def test_decode_names_invalid_base64_by_line_never_the_value() -> None:
    problems = problems_of(decode_env, "SECRET_A=bm90IGJhc2U2NA==\nSECRET_B=not base64!\nSECRET_C=_-_-\nOTHER=x\n")
    assert problems == [
        "line 2: the value of SECRET_B is not valid base64",
        "line 3: the value of SECRET_C is not valid base64",
        "line 4: OTHER is not a SECRET_<NAME> variable",
    ]


def test_decode_accepts_what_kestra_accepts() -> None:
    # java.util.Base64's basic decoder: the closing padding is optional.
    assert decode_env("SECRET_X=YWI\nSECRET_Y=YWI=\n") == "X=ab\nY=ab\n"


def test_decode_refuses_bytes_that_are_not_utf8() -> None:
    value = base64.b64encode(b"\xff\xfe").decode()
    problems = problems_of(decode_env, f"SECRET_X={value}\n")
    assert problems == ["line 1: the value of SECRET_X does not decode to UTF-8 text"]


def test_decode_refuses_a_bare_prefix_and_duplicates() -> None:
    assert problems_of(decode_env, "SECRET_=eA==\nSECRET_A=eA==\nSECRET_A=eQ==\n") == [
        "line 1: SECRET_ is not a SECRET_<NAME> variable",
        "line 3: A is already set on line 2",
    ]


# --- round trips ----------------------------------------------------------------------------------------

names = st.from_regex(r"[A-Z][A-Z0-9_]{0,30}", fullmatch=True).filter(lambda name: not name.startswith("SECRET_"))
# Any text an environment variable can hold: every Unicode character but NUL (and lone surrogates,
# which no file can hold), newlines and quotes included.
values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=200)
comments = st.from_regex(r"# [ -~]{0,40}", fullmatch=True)


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


@given(st.dictionaries(names, values, max_size=8))
def test_any_values_survive_decode_then_encode(secrets: dict[str, str]) -> None:
    kestra_form = "".join(f"SECRET_{name}={b64(value)}\n" for name, value in secrets.items())
    plain = decode_env(kestra_form)
    assert encode_env(plain) == kestra_form
    assert secret_lines(encode_env(plain)) == secrets


@given(st.lists(st.one_of(st.tuples(names, values), comments, st.just("")), max_size=10))
def test_encode_then_decode_then_encode_is_stable(lines: list[tuple[str, str] | str]) -> None:
    seen: set[str] = set()
    kestra_lines = []
    for item in lines:
        if isinstance(item, tuple):
            if item[0] in seen:
                continue
            seen.add(item[0])
            kestra_lines.append(f"SECRET_{item[0]}={b64(item[1])}")
        else:
            kestra_lines.append(item)
    encoded = "".join(line + "\n" for line in kestra_lines)
    decoded = decode_env(encoded)
    assert encode_env(decoded) == encoded
    # Comments and blank lines are kept, in place.
    # (split on "\n" only: values may hold characters str.splitlines() also breaks on, such as \x1e)
    assert [line for line in decoded.split("\n")[:-1] if not re.match(r"[A-Z]", line)] == [
        line for line in kestra_lines if not line.startswith("SECRET_")
    ]


@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="=\n\r\x00#"), min_size=1, max_size=60))
def test_a_line_without_an_assignment_is_never_echoed(line: str) -> None:
    if not line.strip():
        return
    with pytest.raises(InvalidInput) as caught:
        encode_env(f"A=1\n{line}\n")
    assert str(caught.value) == (
        "invalid env file: line 2: expected NAME=value (a name is a letter or _, then letters, digits, _)"
    )


# --- the command the lead wires: `christmas-tasks secrets encode|decode FILE` ---------------------------


def test_the_cli_encodes_and_decodes_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "secrets.env"
    plain.write_text("# keep\nNOTION_TOKEN=secret_x\nDISCORD_WEBHOOK_URL=\n", encoding="utf-8")
    assert main(["secrets", "encode", str(plain)]) == 0
    encoded = capsys.readouterr().out
    assert encoded == encode_env(plain.read_text(encoding="utf-8"))
    back = tmp_path / "kestra.env"
    back.write_text(encoded, encoding="utf-8")
    assert main(["secrets", "decode", str(back)]) == 0
    assert capsys.readouterr().out == "# keep\nNOTION_TOKEN=secret_x\nDISCORD_WEBHOOK_URL=\n"


def test_the_cli_reports_a_bad_file_without_its_content(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.env"
    bad.write_text("re_live_0123456789abcdef\n", encoding="utf-8")
    code = main(["secrets", "encode", str(bad)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "line 1" in err and "re_live_0123456789abcdef" not in err
