"""The digest as a chat message that Slack and Microsoft Teams accept, for
``digest --webhook URL --webhook-format slack|teams|json|auto``.

- **slack**: an incoming webhook's ``{"text": ..., "blocks": [...]}``, in
  Slack's mrkdwn (``*bold*``, ``<url|text>`` links; ``&``, ``<`` and ``>``
  of every value escaped as Slack asks). Slack's limits: the text 40,000
  characters, 50 blocks a message, 3,000 characters a section's text, 150 a
  header's.
- **teams**: a Teams workflow webhook's message with one Adaptive Card
  (version 1.4). Values people typed go in RichTextBlock text runs, which
  Adaptive Cards never read as Markdown; our own words in TextBlocks. A
  message may carry about 28 KB.
- **json**: the digest as it is (``to_json``), for tools of your own.
- **auto** (the default): slack for a ``hooks.slack.com`` address, teams
  for a Microsoft one (``*.webhook.office.com``, ``*.logic.azure.com``,
  ``*.powerplatform.com``, ``*.powerautomate.com``), json for any other.

A digest longer than a service takes is cut at its limit, and the message
says how many pilots were left out and links to the app.
"""

from __future__ import annotations

import json
import urllib.parse

from portfolio.domain.errors import InvalidInput
from portfolio.domain.text import without_controls

FORMATS = ("auto", "slack", "teams", "json")

SLACK_TEXT_MAX = 40_000
SLACK_BLOCKS_MAX = 50
SLACK_SECTION_MAX = 3_000
SLACK_HEADER_MAX = 150
# Teams takes a message of about 28 KB; a little is kept back for the
# envelope Teams adds around it.
TEAMS_BYTES_MAX = 27_000
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"

# The digest's pilot lists, in the order leadership reads them.
SECTIONS = (("stalled", "Stalled"), ("ownerless", "Ownerless"), ("overdue", "Overdue go/no-go decisions"),
            ("due_soon", "Decisions due soon"))

_TEAMS_HOSTS = (".webhook.office.com", ".logic.azure.com", ".powerplatform.com", ".powerautomate.com")


def format_for(url: str, wanted: str) -> str:
    """The format to post to ``url``: ``wanted``, or for ``auto`` the one
    the address's host takes."""
    if wanted not in FORMATS:
        raise InvalidInput(f"Webhook format: '{wanted}' is not one of {', '.join(FORMATS)}", field="webhook_format")
    if wanted != "auto":
        return wanted
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    if host == "hooks.slack.com":
        return "slack"
    if any(host.endswith(suffix) for suffix in _TEAMS_HOSTS):
        return "teams"
    return "json"


def payload(digest: dict, fmt: str, base_url: str) -> dict:
    """What to post for ``fmt`` (slack, teams or json)."""
    if fmt == "slack":
        return slack_message(digest, base_url)
    if fmt == "teams":
        return teams_message(digest, base_url)
    return json.loads(json.dumps(digest, default=str))


def _line(value) -> str:
    return " ".join(without_controls("" if value is None else str(value)).split())


def pilot_url(base_url: str, pilot_id: int) -> str:
    return f"{base_url}/pilot?id={int(pilot_id)}"


def _numbers(digest: dict) -> list[tuple[str, str]]:
    return [(_line(k), _line(v)) for k, v in digest["numbers"].items()]


def _entry_words(e: dict) -> str:
    """What follows a pilot's name: its unit, clock and why, in words."""
    unit = f"({_line(e['business_unit'])}) " if e.get("business_unit") else ""
    why = "; ".join(_line(r) for r in e.get("reasons") or []) or _line(e.get("reason"))
    return f"{unit}{_line(e['clock'])}" + (f". {why}" if why else "")


def _title(digest: dict) -> str:
    return f"Pilot portfolio digest, as of {digest['as_of']}"


def _more_words(left_out: int) -> str:
    return f"{left_out} more pilot{'s' * (left_out != 1)} not shown here"


# --- Slack ---------------------------------------------------------------------------


def slack_escape(value) -> str:
    """A value for Slack's mrkdwn: on one line, with ``&``, ``<`` and ``>``
    escaped (Slack reads ``<...>`` as a link or a mention)."""
    return _line(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str, text: str) -> str:
    # The URL is ours (the app's address and a pilot id); the text is escaped.
    return f"<{url.replace('>', '%3E').replace('|', '%7C')}|{slack_escape(text)}>"


def _mrkdwn(text: str) -> dict:
    """A mrkdwn text object Slack takes as written: ``verbatim`` keeps it from
    turning ``@channel``, ``@here``, ``#channel`` or a bare URL in a pilot's
    name into a mention or a link; our own ``<url|words>`` links still work."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def slack_message(digest: dict, base_url: str) -> dict:
    """The digest for a Slack incoming webhook, within Slack's limits."""
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": _title(digest)[:SLACK_HEADER_MAX]}},
        {"type": "section", "text": _mrkdwn("\n".join(
            f"{slack_escape(k)}: *{slack_escape(v)}*" for k, v in _numbers(digest))[:SLACK_SECTION_MAX])},
    ]
    text_lines = [_title(digest), ", ".join(f"{k}: {v}" for k, v in _numbers(digest))]
    # Two blocks are kept for the end: the note of what was left out and the link to the app.
    room = SLACK_BLOCKS_MAX - len(blocks) - 2
    left_out = 0
    for key, title in SECTIONS:
        entries = digest.get(key) or []
        lines = [f"*{slack_escape(title)} ({len(entries)})*"] + (
            [] if entries else ["None."])
        text_lines.append(f"{title} ({len(entries)})")
        pending: list[str] = []
        for e in entries:
            line = f"• {_slack_link(pilot_url(base_url, e['pilot_id']), e['name'])} {slack_escape(_entry_words(e))}"
            pending.append(line[:SLACK_SECTION_MAX])
        chunks = _pack(lines, pending, SLACK_SECTION_MAX)
        for chunk, shown in chunks:
            if room <= 0:
                left_out += shown
                continue
            blocks.append({"type": "section", "text": _mrkdwn(chunk)})
            room -= 1
        text_lines += [f"- {_line(e['name'])} {_entry_words(e)}" for e in entries]
    privileges = digest.get("privileges_expiring") or []
    changes = digest.get("changes_since_previous") or {}
    tail = (f"Borrowed privileges expiring before the go/no-go date: *{len(privileges)}*. "
            f"Since the previous digest: *{len(changes.get('raised') or [])}* flags raised, "
            f"*{len(changes.get('cleared') or [])}* cleared.")
    if left_out:
        tail = f"*{_more_words(left_out)}* (Slack takes {SLACK_BLOCKS_MAX} blocks a message). " + tail
    blocks.append({"type": "section", "text": _mrkdwn(tail)})
    blocks.append({"type": "context", "elements": [
        _mrkdwn(_slack_link(base_url, "Open the pilot portfolio for everything"))]})
    text = slack_escape_lines(text_lines)
    if len(text) > SLACK_TEXT_MAX:
        note = f"\n... cut here (Slack takes {SLACK_TEXT_MAX:,} characters); the whole digest: {base_url}"
        text = text[:SLACK_TEXT_MAX - len(note)] + note
    return {"text": text, "blocks": blocks}


def slack_escape_lines(lines: list[str]) -> str:
    """The plain fallback ``text`` (notifications, clients without blocks)."""
    return "\n".join(slack_escape(line) for line in lines)


def _pack(head: list[str], lines: list[str], limit: int) -> list[tuple[str, int]]:
    """``head`` then ``lines`` joined into texts of at most ``limit``
    characters, each with how many of ``lines`` it shows."""
    chunks: list[tuple[str, int]] = []
    current, shown = "\n".join(head), 0
    for line in lines:
        if len(current) + 1 + len(line) > limit:
            chunks.append((current, shown))
            current, shown = line, 0
        else:
            current = f"{current}\n{line}" if current else line
        shown += 1
    chunks.append((current, shown))
    return chunks


# --- Teams -----------------------------------------------------------------------------


def _text_block(text: str, **style) -> dict:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _runs(*runs: dict) -> dict:
    return {"type": "RichTextBlock", "inlines": list(runs)}


def _run(text: str, **style) -> dict:
    # A TextRun is never read as Markdown: what people typed shows as typed.
    return {"type": "TextRun", "text": text, **style}


def teams_message(digest: dict, base_url: str) -> dict:
    """The digest as a Teams message with one Adaptive Card, within the
    size Teams takes."""
    body: list[dict] = [
        _text_block(_title(digest), size="Large", weight="Bolder"),
        {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in _numbers(digest)]},
    ]
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "body": body,
            "actions": [{"type": "Action.OpenUrl", "title": "Open the pilot portfolio", "url": base_url}]}
    message = {"type": "message", "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None,
                                                   "content": card}]}

    def size() -> int:
        return len(json.dumps(message, ensure_ascii=False).encode("utf-8"))

    reserve = 600  # for the closing note
    left_out = 0
    for key, title in SECTIONS:
        entries = digest.get(key) or []
        if left_out:
            left_out += len(entries)
            continue
        body.append(_text_block(f"{title} ({len(entries)})", weight="Bolder", spacing="Medium", separator=True))
        if not entries:
            body.append(_text_block("None.", isSubtle=True))
        for n, e in enumerate(entries):
            body.append(_runs(
                _run(_line(e["name"]), weight="Bolder",
                     selectAction={"type": "Action.OpenUrl", "url": pilot_url(base_url, e["pilot_id"])}),
                _run(" " + _entry_words(e))))
            if size() > TEAMS_BYTES_MAX - reserve:
                body.pop()
                left_out += len(entries) - n
                break
    privileges = digest.get("privileges_expiring") or []
    changes = digest.get("changes_since_previous") or {}
    closing = (f"Borrowed privileges expiring before the go/no-go date: {len(privileges)}. Since the previous "
               f"digest: {len(changes.get('raised') or [])} flags raised, {len(changes.get('cleared') or [])} cleared.")
    if left_out:
        closing = f"{_more_words(left_out)} (Teams takes about 28 KB a message): open the portfolio. " + closing
    body.append(_text_block(closing, isSubtle=True, spacing="Medium"))
    return message
