"""The digest posted as a chat message Slack and Teams accept, to a real
HTTP receiver on 127.0.0.1 (http.server in a thread), each payload checked
against the shape the services document: Slack's incoming webhook
(``text`` and ``blocks``; header, section and context blocks; mrkdwn, not
Markdown; 40,000 characters of text, 50 blocks, 3,000 characters a
section, 150 a header) and a Teams workflow webhook's message with one
Adaptive Card (``type: message``, one attachment of content type
``application/vnd.microsoft.card.adaptive``, an AdaptiveCard 1.4 with a
body; about 28 KB a message). A digest too long for either is cut, with a
link to the app."""

from __future__ import annotations

import http.server
import json
import re
import threading

import duckdb
import pytest

from portfolio.services.reporting import chat
from tests.conftest import AS_OF, run_cli

BASE = "https://pilots.example.com"
HOSTILE = "<!channel> & <https://evil.example|click> [x](https://evil.example)"

SLACK_BLOCK_TYPES = {"header", "section", "context", "divider", "actions", "image", "rich_text", "markdown"}
CARD_ELEMENT_TYPES = {"TextBlock", "RichTextBlock", "FactSet", "Container", "ColumnSet", "Image", "ActionSet"}


class Receiver:
    """A local HTTP server that answers 200 to every POST and keeps the JSON it got."""

    def __init__(self):
        got = self.got = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                got.append({"path": self.path, "type": self.headers["Content-Type"], "body": body})
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/T000/B000/SECRET"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def payload(self) -> dict:
        assert len(self.got) == 1
        assert self.got[0]["type"] == "application/json"
        return json.loads(self.got[0]["body"])


# --- the documented shapes ---------------------------------------------------------------


def _mrkdwn_texts(payload: dict) -> list[str]:
    texts = []
    for block in payload["blocks"]:
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        if block["type"] == "context":
            texts += [e["text"] for e in block["elements"]]
    return texts


def check_slack(payload: dict) -> None:
    assert set(payload) <= {"text", "blocks", "username", "icon_emoji", "icon_url", "unfurl_links", "mrkdwn"}
    assert isinstance(payload["text"], str) and payload["text"].strip()
    assert len(payload["text"]) <= 40_000
    blocks = payload["blocks"]
    assert isinstance(blocks, list) and 1 <= len(blocks) <= 50
    for block in blocks:
        assert block["type"] in SLACK_BLOCK_TYPES, block
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text" and 0 < len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert block["text"]["type"] == "mrkdwn"
            # Taken as written: "@channel", "@here" or "#general" in a pilot's name mention no one.
            assert block["text"]["verbatim"] is True
            assert 0 < len(block["text"]["text"]) <= 3_000
        if block["type"] == "context":
            assert 1 <= len(block["elements"]) <= 10
            assert all(e["type"] in ("mrkdwn", "plain_text") and e["text"] for e in block["elements"])
            assert all(e["verbatim"] is True for e in block["elements"] if e["type"] == "mrkdwn")
    for text in _mrkdwn_texts(payload):
        assert "**" not in text  # Slack's bold is *one* asterisk; Markdown's would show as typed
        # Every "<" opens one of our links: <https://...|words>; the rest of the text has none.
        outside = re.sub(r"<https?://[^<>|\s]+\|[^<>]*>", "", text)
        assert "<" not in outside and ">" not in outside, text


def check_teams(payload: dict) -> None:
    assert len(json.dumps(payload).encode("utf-8")) <= 28 * 1024
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["body"]
    for element in card["body"]:
        assert element["type"] in CARD_ELEMENT_TYPES, element
        if element["type"] == "TextBlock":
            assert isinstance(element["text"], str) and element["text"]
        if element["type"] == "RichTextBlock":
            assert element["inlines"] and all(r["type"] == "TextRun" and isinstance(r["text"], str)
                                              for r in element["inlines"])
        if element["type"] == "FactSet":
            assert all(isinstance(f["title"], str) and isinstance(f["value"], str) for f in element["facts"])
    for action in card.get("actions", []):
        assert action["type"] == "Action.OpenUrl" and action["url"].startswith("http")


def digest_cli(db_path, url, fmt):
    return run_cli("digest", "--db", str(db_path), "--as-of", AS_OF.isoformat(), "--out", "/dev/null",
                   "--webhook", url, "--webhook-format", fmt, env={"PORTFOLIO_BASE_URL": BASE, "PORTFOLIO_USER": None})


@pytest.fixture
def hostile_demo(fixed_demo_db):
    """The demo with an overdue pilot named like a Slack mention and links."""
    with duckdb.connect(str(fixed_demo_db)) as c:
        pilot_id = c.execute("SELECT id FROM pilot WHERE stage = 'pilot' AND go_no_go_date < ? ORDER BY id LIMIT 1",
                             [AS_OF]).fetchone()[0]
        c.execute("UPDATE pilot SET name = ? WHERE id = ?", [HOSTILE, pilot_id])
    return fixed_demo_db, pilot_id


# --- through the command line ----------------------------------------------------------------


def test_digest_posts_a_slack_message_slack_accepts(hostile_demo):
    path, pilot_id = hostile_demo
    with Receiver() as hook:
        out = digest_cli(path, hook.url, "slack")
        assert out.returncode == 0, out.stderr
        payload = hook.payload()
    check_slack(payload)
    assert hook.got[0]["path"] == "/hooks/T000/B000/SECRET"
    texts = "\n".join(_mrkdwn_texts(payload))
    assert "*Stalled (" in texts and "*Ownerless (" in texts and "*Overdue go/no-go decisions (" in texts
    # The hostile name is text: no mention, no link of its own, the "&" escaped.
    assert "<!channel>" not in json.dumps(payload)
    assert f"<{BASE}/pilot?id={pilot_id}|&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in texts
    assert "&lt;!channel&gt;" in payload["text"]
    assert f"<{BASE}|" in texts  # and a link to the app


def test_digest_posts_a_teams_message_with_one_adaptive_card(hostile_demo):
    path, pilot_id = hostile_demo
    with Receiver() as hook:
        out = digest_cli(path, hook.url, "teams")
        assert out.returncode == 0, out.stderr
        payload = hook.payload()
    check_teams(payload)
    card = payload["attachments"][0]["content"]
    headings = [e["text"] for e in card["body"] if e["type"] == "TextBlock"]
    assert any(h.startswith("Stalled (") for h in headings)
    # User text only in TextRuns, which Adaptive Cards never read as Markdown.
    assert not any(HOSTILE in h for h in headings)
    runs = [r for e in card["body"] if e["type"] == "RichTextBlock" for r in e["inlines"]]
    named = [r for r in runs if r["text"] == HOSTILE]
    assert named and named[0]["selectAction"]["url"] == f"{BASE}/pilot?id={pilot_id}"
    assert card["actions"][0]["url"] == BASE


def test_json_keeps_todays_payload_and_auto_picks_by_the_address(fixed_demo_db):
    with Receiver() as hook:
        assert digest_cli(fixed_demo_db, hook.url, "json").returncode == 0
        payload = hook.payload()
    assert payload["as_of"] == AS_OF.isoformat() and "numbers" in payload and "due_soon" in payload
    with Receiver() as hook:  # auto, to an address that is neither Slack's nor Microsoft's: json
        out = run_cli("digest", "--db", str(fixed_demo_db), "--as-of", AS_OF.isoformat(), "--out", "/dev/null",
                      "--webhook", hook.url, env={"PORTFOLIO_USER": None})
        assert out.returncode == 0, out.stderr
        assert "numbers" in hook.payload()
    assert chat.format_for("https://hooks.slack.com/services/T/B/X", "auto") == "slack"
    assert chat.format_for("https://acme.webhook.office.com/webhookb2/x", "auto") == "teams"
    assert chat.format_for("https://prod-01.westeurope.logic.azure.com:443/workflows/x", "auto") == "teams"
    assert chat.format_for("https://hooks.slack.com/services/T/B/X", "json") == "json"


# --- a digest too long for the services ---------------------------------------------------------


def long_digest(n: int) -> dict:
    entry = {"business_unit": "Claims & Care", "stage": "pilot", "clock": "20 days overdue (go/no-go date 2026-02-10)",
             "reason": "", "reasons": ["Stalled: " + "no weekly update for 35 days; " * 6]}
    return {"as_of": AS_OF.isoformat(), "numbers": {"Stalled": n, "Ownerless": 0},
            "stalled": [{**entry, "pilot_id": i, "name": f"Pilot <{i}> *{i}*"} for i in range(1, n + 1)],
            "ownerless": [], "overdue": [], "due_soon": [], "privileges_expiring": [],
            "changes_since_previous": {"previous": None, "raised": [], "cleared": []}}


@pytest.mark.parametrize("fmt, check", [("slack", check_slack), ("teams", check_teams)], ids=["slack", "teams"])
def test_a_long_digest_is_cut_to_the_services_limit_with_a_link_to_the_app(fmt, check):
    payload = chat.payload(long_digest(2_000), fmt, BASE)
    with Receiver() as hook:
        from portfolio.services.reporting import digest

        assert digest.post_webhook(hook.url, payload) == 200
        got = hook.payload()
    check(got)
    words = json.dumps(got)
    left = re.search(r"(\d+) more pilots not shown here", words)
    assert left and 0 < int(left.group(1)) < 2_000
    shown = words.count(f"{BASE}/pilot?id=")  # each pilot shown is linked once
    assert int(left.group(1)) + shown == 2_000
    if fmt == "slack":
        assert len(got["blocks"]) == 50
        assert BASE in got["text"][-200:]  # the text cut with the app's address
    else:
        assert got["attachments"][0]["content"]["actions"][0]["url"] == BASE


def test_a_short_digest_is_not_cut():
    for fmt in ("slack", "teams"):
        words = json.dumps(chat.payload(long_digest(3), fmt, BASE))
        assert "not shown here" not in words and words.count(f"{BASE}/pilot?id=") == 3
