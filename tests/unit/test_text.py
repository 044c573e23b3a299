"""User text in and out: control characters and bidi overrides never get in
(#12.6), and what is shown in Markdown shows as typed (#12.5)."""

import pytest
from pydantic import ValidationError

from portfolio.domain.models import (
    DecisionIn,
    KpiIn,
    PersonIn,
    PilotIn,
    PrivilegeIn,
    WeeklyUpdateIn,
)
from portfolio.domain.text import (
    chart_text,
    clean_line,
    clean_text,
    md,
    md_lines,
    without_controls,
)

ESC = "\x1b"
HOSTILE_LINE = "Claims\x1b[31m triage\x07\x00\x7f\x9b2J \u202eevil\u202c\u2066x\u2069"


# --- in: what the input models keep -------------------------------------------------


@pytest.mark.parametrize("text, kept", [
    pytest.param("a\x1b[31mb", "a[31mb", id="escape"),
    pytest.param("\x01=HYPERLINK(1)", "=HYPERLINK(1)", id="c0-before-a-formula"),
    pytest.param("a\x9b31mb", "a31mb", id="c1-csi"),
    pytest.param("abc\u202edcba", "abcdcba", id="right-to-left-override"),
    pytest.param("a\u2066b\u2069", "ab", id="isolates"),
    pytest.param("a\u200fb", "a\u200fb", id="right-to-left-mark-kept"),
    pytest.param("a\tb\nc\r\nd", "a b c d", id="line-breaks-become-spaces"),
    pytest.param("café · 東京", "café · 東京", id="text-kept"),
])
def test_one_line_fields_keep_text_and_drop_controls(text, kept):
    assert clean_line(text) == kept
    assert PilotIn(name=text).name == kept.strip()


def test_multi_line_fields_keep_tabs_and_line_breaks_only():
    text = "first\x1b[2J line\r\n\tsecond\rthird\u2028fourth\x00"
    assert clean_text(text) == "first[2J line\n\tsecond\nthird\nfourth"
    update = WeeklyUpdateIn(pilot_id=1, health="green", summary=text, blockers=text, next_steps=text)
    for value in (update.summary, update.blockers, update.next_steps):
        assert value == "first[2J line\n\tsecond\nthird\nfourth"
    assert PilotIn(name="x", problem=text).problem == "first[2J line\n\tsecond\nthird\nfourth"


@pytest.mark.parametrize("model, fields", [
    pytest.param(PilotIn, {"name": HOSTILE_LINE, "business_unit": HOSTILE_LINE}, id="pilot"),
    pytest.param(PersonIn, {"name": HOSTILE_LINE, "email": "a\x1b@example.com"}, id="person"),
    pytest.param(KpiIn, {"name": HOSTILE_LINE, "category": "latency", "unit": "m\x1bs", "direction": "lower"}, id="kpi"),
    pytest.param(PrivilegeIn, {"kind": "data_access", "description": HOSTILE_LINE, "granted_by": HOSTILE_LINE},
                 id="privilege"),
    pytest.param(DecisionIn, {"pilot_id": 1, "kind": "go", "decided_on": "2026-03-02", "decided_by": 1,
                              "rationale": HOSTILE_LINE, "override_reason": HOSTILE_LINE}, id="decision"),
])
def test_no_input_model_keeps_a_control_character(model, fields):
    built = model(**fields)
    for name in fields:
        value = getattr(built, name)
        if isinstance(value, str):
            assert without_controls(value) == value and "\u202e" not in value, (name, value)


def test_a_name_of_control_characters_only_is_blank():
    with pytest.raises(ValidationError, match="must not be blank"):
        PilotIn(name="\x1b\x07\u202e")


# --- out: Markdown that shows the text as typed ------------------------------------------


@pytest.mark.parametrize("text, shown", [
    pytest.param("![x](http://h/p.png)", "!\\[x\\](http\\://h/p.png)", id="image"),
    pytest.param("www.a_b.example x_y@example.com", "www\\.a\\_b.example x\\_y\\@example.com",
                 id="addresses-linked-only-as-shown"),
    pytest.param("[click](javascript:alert(1))", "\\[click\\](javascript\\:alert(1))", id="link"),
    pytest.param("**bold** _it_ ~s~ `c`", "\\*\\*bold\\*\\* \\_it\\_ \\~s\\~ \\`c\\`", id="emphasis-and-code"),
    pytest.param("<img src=x>", "\\<img src=x\\>", id="html"),
    pytest.param("&amp; &#91; Q&A", "\\&amp; &\\#91; Q&A", id="entities-only-where-they-are-ones"),
    pytest.param(":red[alarm] :material/home: :smile:", "\\:red\\[alarm\\] \\:material\\/home: \\:smile\\:",
                 id="streamlit-directives-icons-emoji"),
    pytest.param("$x^2$ a|b", "\\$x^2\\$ a\\|b", id="latex-and-tables"),
    pytest.param("# h", "\\# h", id="heading"),
    pytest.param("> q", "\\> q", id="quote"),
    pytest.param("- item", "\\- item", id="list"),
    pytest.param("+ item", "\\+ item", id="plus-list"),
    pytest.param("1. first", "1\\. first", id="ordered-list"),
    pytest.param("2) second", "2\\) second", id="ordered-list-paren"),
    pytest.param("Override reason: not ready", "Override reason: not ready", id="plain-colon-as-it-is"),
    pytest.param("back\\slash", "back\\\\slash", id="backslash"),
    pytest.param("a\x1b[31m\nb", "a\\[31m b", id="controls-and-line-breaks"),
])
def test_md_escapes_everything_markdown_would_read(text, shown):
    assert md(text) == shown


def test_md_for_other_tools_keeps_addresses_as_typed():
    assert md("[x](http://evil) a@b.example", addresses=True) == "\\[x\\](http://evil) a@b.example"


def test_md_lines_keeps_each_line_and_never_indents_into_code():
    assert md_lines("# one\n    two\n- three\n\n1. four") == "\\# one  \ntwo  \n\\- three  \n  \n1\\. four"


def test_chart_text_shows_tags_as_typed():
    assert chart_text('<a href="http://h">Q&A</a>\x1b') == '&lt;a href="http://h"&gt;Q&amp;A&lt;/a&gt;'


def test_without_controls_keeps_tab_newline_and_carriage_return():
    assert without_controls("a\x1b[31m\tb\r\n\x9b\u202ec") == "a[31m\tb\r\nc"


def test_counts_agree_in_number():
    from portfolio.domain.text import plural

    assert [plural(n, "pilot") for n in (0, 1, 2, 1200)] == ["0 pilots", "1 pilot", "2 pilots", "1,200 pilots"]
    assert (plural(1, "person", "people"), plural(3, "person", "people")) == ("1 person", "3 people")
    assert plural(1, "day") == "1 day" and plural(-1, "day") == "-1 days"  # callers pass what they count
