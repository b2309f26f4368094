from __future__ import annotations

import html
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from christmas_tasks.adapters.template_files import format_template_file, load_templates, parse_template_file
from christmas_tasks.domain.catalogue import load_catalogue
from christmas_tasks.domain.errors import InvalidInput, TemplateError
from christmas_tasks.domain.events import sequence_starters
from christmas_tasks.domain.rendering import (
    FALLBACK_RULE,
    Placeholder,
    Template,
    check_template,
    html_to_text,
    parse_placeholders,
    placeholders,
    render,
    template_problems,
)
from christmas_tasks.domain.variables import Campaign, build_variables, sequence_variables, variable_names
from christmas_tasks.entrypoints.inbound import read_event
from christmas_tasks.entrypoints.settings import SAMPLE_TEMPLATES
from tests.conftest import NOW

ROOT = Path(__file__).resolve().parents[2]
FOOTER = '<p>{{sender_address}} <a href="{{unsubscribe_url}}">Unsubscribe</a></p>'
CAMPAIGN = Campaign(
    name="Christmas 2025",
    deadline=date(2025, 12, 20),
    calendly_link="https://cal.example/x",
    sender_name="Example Co",
    sender_address="1 Main St, Toronto",
    unsubscribe_url="https://ex.example/u",
    unsubscribe_secret="s3cret-value-for-tests",
)


def tpl(subject: str, body: str) -> Template:
    return Template("T", subject, body + FOOTER)


def values(**extra: str) -> dict[str, str]:
    return {"first_name": "Jane", "sender_address": "1 Main St", "unsubscribe_url": "https://u.example/x", **extra}


def test_placeholders_allow_inner_spaces() -> None:
    out = render(tpl("Hi {{ first_name }}", "<p>{{first_name}} {{  first_name  }}</p>"), values())
    assert out.subject == "Hi Jane"
    assert out.html.startswith("<p>Jane Jane</p>")


def test_values_are_escaped_in_html_but_not_in_subject() -> None:
    out = render(tpl("{{first_name}}", "<p>{{first_name}}</p>"), values(first_name='<b>"Jo" & co</b>'))
    assert out.html.startswith("<p>&lt;b&gt;&quot;Jo&quot; &amp; co&lt;/b&gt;</p>")
    assert out.subject == '<b>"Jo" & co</b>'


def test_subject_is_one_line() -> None:
    out = render(tpl("Hello\n{{first_name}}", "<p></p>"), values(first_name="Ja\r\nne"))
    assert out.subject == "Hello Ja ne"


def test_every_unknown_placeholder_is_named() -> None:
    with pytest.raises(TemplateError) as caught:
        render(tpl("{{ nope }}", "<p>{{first_name}} {{missing_one}} {{missing_two}}</p>"), values())
    message = str(caught.value)
    assert "subject: unknown placeholder(s) nope" in message
    assert "body: unknown placeholder(s) missing_one, missing_two" in message


def test_malformed_placeholder_is_an_error() -> None:
    problems = template_problems(tpl("x", "<p>{{first name}} {{}}</p>"), set(values()))
    assert problems == ["body: malformed placeholder '{{first name}}'", "body: malformed placeholder '{{}}'"]


def test_unsubscribe_link_and_sender_footer_are_required() -> None:
    problems = template_problems(Template("T", "s", "<p>{{first_name}}</p>"), set(values()))
    assert any("{{unsubscribe_url}}" in p for p in problems)
    assert any("{{sender_address}}" in p for p in problems)


def test_text_part_is_derived_from_html() -> None:
    text = html_to_text(
        "<style>p{color:red}</style><h1>Title</h1><p>One &amp; two<br>three</p>"
        '<ul><li>a</li><li>b</li></ul><p><a href="https://x.example">link</a></p>'
    )
    assert text == "Title\n\nOne & two\nthree\n\n- a\n\n- b\n\nlink (https://x.example)\n"


@given(st.text(max_size=200))
def test_no_value_can_inject_html(value: str) -> None:
    template = tpl("{{first_name}}", "<p>{{first_name}}</p>")
    if not value.strip():  # a blank value with no fallback renders nothing at all: no gap, and no markup
        with pytest.raises(TemplateError, match=r"\{\{first_name\}\}"):
            render(template, values(first_name=value))
        return
    out = render(template, values(first_name=value))
    body = out.html.split("<p>1 Main St")[0]  # the footer renders fixed values; a value cannot hold a raw <
    assert body == "<p>" + html.escape(value, quote=True) + "</p>"
    assert body.count("<") == 2 and body.count(">") == 2
    assert "\n" not in out.subject and "\r" not in out.subject


# What a fallback may hold: one line of text without {, } or | (and not blank).
FALLBACK_TEXT = st.text(
    st.characters(exclude_characters="{}|\r\n", exclude_categories=("Cs",)), min_size=1, max_size=100
).filter(lambda text: text.strip() != "")


@given(FALLBACK_TEXT, st.sampled_from(["", " ", "\t"]))
def test_no_fallback_can_inject_html(fallback: str, missing: str) -> None:
    out = render(tpl(f"{{{{business_name|{fallback}}}}}", f"<p>{{{{business_name|{fallback}}}}}</p>"),
                 values(business_name=missing))
    body = out.html.split("<p>1 Main St")[0]
    assert body == "<p>" + html.escape(fallback.strip(), quote=True) + "</p>"
    assert body.count("<") == 2 and body.count(">") == 2
    assert out.subject == " ".join(fallback.split())  # plain text, one line
    assert out.fallbacks == (("business_name", fallback.strip()),)


@given(st.text(st.characters(exclude_characters="}", exclude_categories=("Cs",)), max_size=100))
@example("<script>alert(1)</script>")
@example("a | b")
@example("a {{b")
@example("two\nlines")
@example(" ")
def test_any_fallback_text_is_either_escaped_or_named_as_malformed(fallback: str) -> None:
    """Any text between `|` and the closing braces (a `}` would close the placeholder: the rest is the template's
    own text) is either a fallback, rendered escaped, or reported as malformed and never rendered."""
    template = tpl("s", f"<p>{{{{business_name|{fallback}}}}}</p>")
    problems = template_problems(template, set(values(business_name="")))
    if problems:
        assert problems[0] == f"body: malformed placeholder {'{{business_name|' + fallback + '}}'!r} ({FALLBACK_RULE})"
        with pytest.raises(TemplateError, match="malformed placeholder"):
            render(template, values(business_name=""))
        return
    out = render(template, values(business_name=""))
    assert out.html.startswith("<p>" + html.escape(fallback.strip(), quote=True) + "</p>")


@given(st.text(max_size=100))
def test_rendering_never_raises_on_any_value(value: str) -> None:
    plain = tpl("{{first_name}} {{first_name}}", "<p>{{first_name}}</p>")
    if value.strip():
        render(plain, values(first_name=value))
    else:  # refused by name, never another error
        with pytest.raises(TemplateError, match=r"no value and no fallback for \{\{first_name\}\}"):
            render(plain, values(first_name=value))
    render(tpl("{{first_name|a}} {{ first_name | b }}", "<p>{{first_name|c}}</p>"), values(first_name=value))


def test_a_fallback_is_parsed_with_spaces_inside_the_braces() -> None:
    assert parse_placeholders("{{a}} {{ b | your business }} {{c|x y}}") == [
        Placeholder("a", None), Placeholder("b", "your business"), Placeholder("c", "x y")
    ]
    assert placeholders("{{ b | your business }}") == ["b"]


def test_a_fallback_fills_a_missing_or_blank_value_only() -> None:
    template = tpl("About {{weakest_system_1|your systems}}", "<p>You scored {{ assessment_score | well }}.</p>")
    missing = render(template, values(weakest_system_1="", assessment_score=" "))
    assert missing.subject == "About your systems"
    assert missing.html.startswith("<p>You scored well.</p>")
    assert missing.text.startswith("You scored well.\n")
    assert missing.fallbacks == (("weakest_system_1", "your systems"), ("assessment_score", "well"))
    given_ = render(template, values(weakest_system_1="Booking", assessment_score="42"))
    assert given_.subject == "About Booking" and given_.html.startswith("<p>You scored 42.</p>")
    assert given_.fallbacks == ()


def test_a_fallback_is_escaped_in_the_body_and_plain_in_the_subject() -> None:
    out = render(tpl("{{business_name|Tom & <Jerry>}}", '<p title="{{business_name|a "b" & c}}">x</p>'),
                 values(business_name=""))
    assert out.subject == "Tom & <Jerry>"
    assert out.html.startswith('<p title="a &quot;b&quot; &amp; c">x</p>')


def test_rendering_refuses_a_gap_naming_the_template_and_each_placeholder() -> None:
    template = Template("5-Day E2", "About {{weakest_system_1}}",
                        "<p>You scored {{assessment_score}} ({{segment|n/a}})</p>" + FOOTER)
    with pytest.raises(TemplateError) as caught:
        render(template, values(weakest_system_1="", assessment_score="", segment=""))
    message = str(caught.value)
    assert message.startswith("template '5-Day E2': no value and no fallback for {{weakest_system_1}}, "
                              "{{assessment_score}}:")
    assert "{{segment}}" not in message


@pytest.mark.parametrize(
    "raw",
    ["{{business_name|}}", "{{business_name|  }}", "{{business_name|a|b}}", "{{business_name|a}b}}",
     "{{business_name|a{b}}", "{{business_name|line\nbreak}}"],
)
def test_a_malformed_fallback_is_named(raw: str) -> None:
    problems = template_problems(tpl("s", f"<p>{raw}</p>"), set(values(business_name="")))
    assert problems == [f"body: malformed placeholder {raw!r} ({FALLBACK_RULE})"]


def test_variables_and_defaults() -> None:
    at = datetime(2025, 12, 10, 15, 0, tzinfo=UTC)
    got = build_variables(CAMPAIGN, "jane@example.com", {"segment": "CRITICAL", "weakest_system_1": "Booking"}, at)
    assert got["first_name"] == "there" and got["business_name"] == "your business"
    assert got["days_to_deadline"] == "10" and got["deadline_date"] == "December 20, 2025"
    assert got["unsubscribe_url"].startswith("https://ex.example/u?email=jane%40example.com&token=")
    assert "Booking" in got["personalized_tip_1"]
    assert got["calendly_link"] == "https://cal.example/x"
    assert set(variable_names("5day")) <= set(got)


def test_a_missing_reschedule_link_is_the_campaigns_booking_link() -> None:
    at = datetime(2025, 12, 10, 15, 0, tzinfo=UTC)
    assert build_variables(CAMPAIGN, "a@example.com", {}, at)["reschedule_url"] == "https://cal.example/x"
    own = {"reschedule_url": "https://calendly.com/reschedulings/A"}
    assert build_variables(CAMPAIGN, "a@example.com", own, at)["reschedule_url"] == own["reschedule_url"]


def test_days_to_deadline_never_negative() -> None:
    late = datetime(2026, 1, 5, tzinfo=UTC)
    assert build_variables(CAMPAIGN, "a@example.com", {}, late)["days_to_deadline"] == "0"


def test_unsubscribe_token_is_per_address() -> None:
    assert CAMPAIGN.unsubscribe_token("a@example.com") != CAMPAIGN.unsubscribe_token("b@example.com")
    assert "s3cret" not in repr(CAMPAIGN)


def test_every_sample_template_passes_the_check() -> None:
    templates = load_templates(SAMPLE_TEMPLATES)
    catalogue = load_catalogue()
    assert sorted(templates) == sorted(catalogue.template_names())
    for sequence in catalogue.sequences.values():
        for item in sequence.emails:
            assert template_problems(templates[item.template], variable_names(sequence.name)) == []
            assert template_problems(templates[item.template], sequence_variables(sequence.name)) == []


# 5-Day E2 as it was before fallbacks: its subject and a sentence break when the assessment lacks a value.
OLD_E2 = Template(
    "5-Day E2",
    "{{first_name}}, what your assessment says about {{weakest_system_1}}",
    "<p>Hi {{first_name}},</p>\n<p>Yesterday you scored {{assessment_score}} on the assessment, which puts "
    "{{business_name}} in the {{readiness_zone}}.</p>" + FOOTER,
)


def test_the_check_names_the_template_and_each_placeholder_that_needs_a_fallback() -> None:
    problems = template_problems(OLD_E2, sequence_variables("5day"))
    assert problems == [
        "subject: {{weakest_system_1}} has no fallback, and an email of the 5day sequence may lack weakest_system_1 "
        "(write {{weakest_system_1|text used when it is missing}})",
        "body: {{assessment_score}} has no fallback, and an email of the 5day sequence may lack assessment_score "
        "(write {{assessment_score|text used when it is missing}})",
    ]  # first_name, business_name (a default) and readiness_zone (derived) never lack a value
    with pytest.raises(TemplateError, match=r"^template '5-Day E2': subject: \{\{weakest_system_1\}\} has no fallback"):
        check_template(OLD_E2, sequence_variables("5day"))
    fixed = Template(OLD_E2.name, OLD_E2.subject.replace("_1}}", "_1|your systems}}"),
                     OLD_E2.body_html.replace("{{assessment_score}}", "{{ assessment_score | well }}"))
    assert template_problems(fixed, sequence_variables("5day")) == []


def test_whether_a_placeholder_needs_a_fallback_depends_on_the_sequence() -> None:
    template = tpl("Hi {{first_name}}", "<p>{{red_systems}} red, {{segment}}</p>")
    assert template_problems(template, sequence_variables("5day")) == []  # the assessment requires and derives them
    problems = template_problems(template, sequence_variables("noshow"))  # a no-show may never have been assessed
    assert [p.split(" has no fallback")[0] for p in problems] == ["body: {{red_systems}}", "body: {{segment}}"]
    assert "no-show" not in problems[0] and "noshow sequence" in problems[0]
    assert template_problems(template, variable_names("noshow")) == []  # a bare name set asks for no fallback


def test_a_placeholder_is_named_once_however_often_it_appears() -> None:
    template = tpl("{{assessment_score}} {{assessment_score}}", "<p>{{assessment_score}} {{assessment_score|x}}</p>")
    problems = template_problems(template, sequence_variables("5day"))
    assert [p.split(" has no")[0] for p in problems] == ["subject: {{assessment_score}}", "body: {{assessment_score}}"]


def sample_event(sequence: str, required_only: bool) -> dict[str, Any]:
    """The sample body of the sequence's starting event; with `required_only`, its required fields alone, in the
    package's own shape (a sample may be in its sender's, Calendly's)."""
    starter = sequence_starters()[sequence]
    body = json.loads((ROOT / "examples" / "events" / str(starter.sample)).read_text())
    if required_only:
        required = {name for name, info in starter.model_fields.items() if info.is_required()}
        event = read_event(starter.kind, body, NOW)
        body = {key: value for key, value in event.model_dump(mode="json").items() if key in required}
    return dict(body)


@pytest.mark.parametrize("required_only", [False, True], ids=["full sample", "required fields only"])
def test_no_sample_template_reads_with_a_gap_when_optional_data_is_missing(required_only: bool) -> None:
    templates = load_templates(SAMPLE_TEMPLATES)
    for sequence in load_catalogue().sequences.values():
        starter = sequence_starters()[sequence.name]
        event = read_event(starter.kind, sample_event(sequence.name, required_only), NOW)
        values = build_variables(CAMPAIGN, event.email, event.variables(), NOW)
        for item in sequence.emails:
            out = render(templates[item.template], values)
            for text in (out.subject, *out.text.splitlines()):
                assert not re.search(r"\s[.,;:]|\s{2}|\(\s*\)|\{\{|\}\}", text), (item.template, text)
            if not required_only:  # the samples carry every value the templates use
                assert out.fallbacks == (), item.template


def test_the_nurture_email_with_no_score_says_you_took_the_assessment() -> None:
    event = read_event("assessment", sample_event("5day", required_only=True), NOW)
    out = render(load_templates(SAMPLE_TEMPLATES)["5-Day E2"], build_variables(CAMPAIGN, event.email,
                                                                               event.variables(), NOW))
    assert out.subject == "Jane, what your assessment says about your systems"
    assert "Yesterday you took our assessment, and your answers put your business in the Crisis Zone." in out.text
    assert "Your overall score is one we can go through together on a short call." in out.text
    assert [name for name, _ in out.fallbacks] == ["weakest_system_1", "assessment_score"]


def test_template_file_round_trip() -> None:
    template = Template("5-Day E2", "Hi {{first_name}}", "<p>x</p>\n", active=False)
    assert parse_template_file(format_template_file(template), "x.html") == template


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("<p>no header</p>", "header"),
        ("<!--\nname: X\n-->\n<p></p>", "subject"),
        ("<!--\nname: X\nsubject: S\nstatus: Draft\n-->\n", "status"),
        ("<!--\nname: X\ncolour: red\n-->\n", "header"),
    ],
)
def test_bad_template_files_are_named(text: str, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_template_file(text, "bad.html")
    assert field in [p.field for p in caught.value.problems]


def test_duplicate_template_names_in_a_folder(tmp_path: Path) -> None:
    for name in ("a.html", "b.html"):
        (tmp_path / name).write_text("<!--\nname: Same\nsubject: S\n-->\n<p></p>")
    with pytest.raises(InvalidInput, match="repeats the name"):
        load_templates(tmp_path)
