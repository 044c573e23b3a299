"""User text made safe where it goes: this module owns both halves.

In: ``clean_line`` and ``clean_text`` take what a person typed or a
spreadsheet held and drop the characters that are not text but
instructions to whatever shows it: C0 and C1 control characters (an ESC
starts a terminal escape sequence; a spreadsheet drops them and may then
see a formula) and the bidirectional overrides and isolates (U+202A-U+202E,
U+2066-U+2069), which make text read differently from what it holds. The
left-to-right and right-to-left marks (U+200E, U+200F, U+061C) are kept:
they cannot reorder text around them and Hebrew or Arabic text needs them.
A one-line field turns tabs and line breaks into spaces; a multi-line field
keeps tabs and line breaks (as ``\\n``).

Out: ``md`` and ``md_lines`` turn text into Markdown that shows exactly
that text. Streamlit renders Markdown in nearly every element (titles,
captions, alerts, expander, tab, button, metric and widget labels), and
its Markdown has links, images (fetched by every viewer's browser), raw
HTML, LaTeX (``$``), coloured text and icons (``:red[...]``,
``:material/...:``) and emoji shortcodes (``:smile:``).
``chart_text`` does the same for a chart's labels, which read a few HTML
tags; ``without_controls`` is for what goes to a terminal.
"""

from __future__ import annotations

import html
import re

# C0 controls other than tab and line feed, DEL, the C1 controls, and the
# bidirectional embeddings, overrides and isolates.
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_NOT_TEXT = re.compile(f"[{_CONTROLS}]")
# Everything that breaks a line: CR LF, CR, and the Unicode line and
# paragraph separators (a JavaScript string and some editors break there).
_LINE_BREAK = re.compile("\r\n|[\r\u2028\u2029\x0b\x0c\x85]")
# What a terminal or a CSV reader may still see: \t, \n and \r are kept.
_TERMINAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _as_text(value) -> str:
    # A str enum's str() is its name ("Stage.PILOT"); its text is its value.
    if isinstance(value, str):
        return str.__str__(value)
    return "" if value is None else str(value)


def clean_text(value: str | None) -> str:
    """Multi-line text without control characters or bidi overrides; line
    breaks become ``\\n``, tabs stay."""
    text = _LINE_BREAK.sub("\n", _as_text(value))
    return _NOT_TEXT.sub("", text)


def clean_line(value: str | None) -> str:
    """One line of text: as ``clean_text``, with tabs and line breaks made
    spaces."""
    return re.sub("[\t\n]", " ", clean_text(value))


def without_controls(text: str) -> str:
    """``text`` for a terminal: control characters (ESC above all) and bidi
    overrides dropped; tab, newline and carriage return kept."""
    return _TERMINAL.sub("", text)


# Every character that means something to Streamlit's Markdown anywhere in
# a line: escapes and code (\ `), emphasis and strikethrough (* _ ~), links
# and images ([ ]; their ! ( ) mean nothing without them), raw HTML and
# autolinks (< >), headings (#), tables (|) and LaTeX ($). CommonMark turns
# a backslash before any ASCII punctuation into that character, so each
# shows as itself.
_MD_INLINE = str.maketrans({c: "\\" + c for c in "\\`*_~[]<>#|$"})
# A colon starts a directive, a coloured text or an icon (":red[",
# ":material/") when a letter follows it, and an emoji shortcode is a word
# between two colons (":smile:"); "Note: ..." is plain text.
_MD_COLON = re.compile(r":([\w+\-\\]+):|:(?=[\w+-])")
# Streamlit's parser turns a bare web or mail address into a link as it reads
# the source, backslashes and all (an escaped "_" in it would show as "\_");
# with the "://", "www." and "@" escaped, only its second pass, over the text
# as shown, links it, and that link shows exactly the address it goes to.
_MD_ADDRESS = re.compile(r"(?<=[A-Za-z]):(?=//)|(?i:(?<=\bwww))\.|@")
# An & starts a character reference only before a name or number and ";".
_MD_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
# Streamlit rewrites ":material/" to ":material_" before parsing, escaped
# colon or not; an escaped / keeps the text as typed.
_MD_MATERIAL = re.compile(r"(?<=:material)/")
# What means something only at the start of a line: a list item (- + and
# "1." "1)"), a setext heading's underline (= -); # and > are escaped above.
_MD_LINE_START = re.compile(r"^([-+=])|^(\d+)([.)])")


def _md_line(line: str, addresses: bool) -> str:
    text = line.translate(_MD_INLINE)
    text = _MD_COLON.sub(lambda m: f"\\:{m.group(1)}\\:" if m.group(1) else "\\:", text)
    if not addresses:
        text = _MD_ADDRESS.sub(lambda m: "\\" + m.group(0), text)
    text = _MD_MATERIAL.sub(r"\/", _MD_ENTITY.sub(r"\&", text))
    return _MD_LINE_START.sub(lambda m: "\\" + m.group(1) if m.group(1) else m.group(2) + "\\" + m.group(3), text)


def md(value, *, addresses: bool = False) -> str:
    """``value`` as Markdown that shows it as it is, on one line (runs of
    white space, line breaks included, become one space). For text put into
    a Markdown template or a label: ``st.markdown(f"**Owner**: {md(name)}")``.
    ``addresses=True`` leaves web and mail addresses as typed, for Markdown
    read by tools other than Streamlit (the digest)."""
    text = _as_text(value)
    return _md_line(" ".join(clean_line(text).split()), addresses)


def md_lines(value) -> str:
    """Multi-line ``value`` as Markdown that shows it as it is, line for
    line (each line trimmed, so indentation never makes a code block)."""
    text = _as_text(value)
    lines = [_md_line(" ".join(line.split()), False) for line in clean_text(text).split("\n")]
    # A hard line break ends each line; an empty line still ends a paragraph.
    return "  \n".join(lines).strip()


def chart_text(value) -> str:
    """``value`` for a plotly label or hover text, which read a few HTML tags
    (a link among them) and character references: those are shown as typed."""
    return html.escape(clean_line(value), quote=False)


__all__ = ["chart_text", "clean_line", "clean_text", "md", "md_lines", "without_controls"]


# What a table shows in a cell with no value ("no product owner", "no days
# left: not on the clock"): a dash, never Streamlit's default "None".
EMPTY_CELL = "—"


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and ``word`` agreeing in number, with thousands separated:
    "1 pilot", "2 pilots", "1,200 people" (``many``: the plural when it is
    not the word and an s)."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"
