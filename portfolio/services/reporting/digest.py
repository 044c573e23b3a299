"""The leadership digest: what a scheduler sends every week without a browser.

This module owns the digest's content (the headline numbers, the pilots that
need a decision or an owner, the borrowed privileges about to lapse, and what
changed since the previous digest), its record in ``digest_run`` and
``digest_flag`` (so the next digest can say what was raised and cleared),
the per-person cut ("your pilots that need you"), its renderings (Markdown,
HTML, JSON) and its delivery to a webhook.

A digest is a plain dict of strings, numbers, lists and dicts: dates are ISO
strings, so ``json.dumps`` takes it as it is.
"""

from __future__ import annotations

import html
import http.client
import json
import socket
import ssl
import threading
import urllib.parse
from datetime import date

import pandas as pd

from portfolio import flags as flag_rules
from portfolio.domain.errors import InvalidInput, PortfolioError
from portfolio.domain.models import Actor
from portfolio.domain.settings import Settings
from portfolio.domain.text import md, plural, without_controls
from portfolio.domain.vocabulary import Severity, Stage
from portfolio.services.reporting import overview as overview_mod
from portfolio.services.signin import command_line_actor
from portfolio.storage import audit, db
from portfolio.storage import digest as digest_store

# The lists leadership reads, with the flag code behind each; stalled and
# ownerless first, the two words leadership asked for.
SECTIONS = [
    ("stalled", "STALLED", "Stalled"),
    ("ownerless", "OWNERLESS", "Ownerless"),
    ("overdue", "OVERDUE_DECISION", "Overdue go/no-go decisions"),
    # Stopped or retired, or past a privilege's expiry, and still holding
    # what was borrowed (seed 003): until each is revoked, on record.
    ("still_holding", "PRIVILEGES_NOT_REVOKED", "Still holding borrowed privileges"),
]
DUE_SOON_CODE = "DECISION_DUE_SOON"

# The sections a person's own digest carries, in order.
PERSONAL_SECTIONS = ("stalled", "ownerless", "overdue", "still_holding", "due_soon")

# Seats whose holders get a personal digest.
PERSONAL_SEATS = (("product_owner", "product owner"), ("executive_sponsor", "executive sponsor"))

# Privileges expire before the go/no-go date only where that date is still
# ahead of the pilot's decision: pilots on the clock. In bridge and production
# the date has passed and the privilege's fate was part of the go decision.


class WebhookFailed(PortfolioError):
    """The webhook did not take the digest: a non-2xx answer, or no answer."""


# --- building --------------------------------------------------------------


def _iso(value) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _int(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _person(name, email, active) -> dict | None:
    if name is None or (not isinstance(name, str) and pd.isna(name)):
        return None
    return {"name": str(name), "email": None if pd.isna(email) else str(email),
            "active": bool(active) if not pd.isna(active) else None}


def _seat_people(conn) -> dict[int, dict]:
    """Per pilot: its product owner and executive sponsor (name, email,
    whether active), and its business unit."""
    rows = digest_store.seat_people(conn)
    return {
        r[0]: {"business_unit": r[1], "product_owner": _person(*r[2:5]), "executive_sponsor": _person(*r[5:8])}
        for r in rows
    }


def _clock(stage: str, gng: str | None, days_left: int | None) -> str:
    """Where the pilot stands on its clock, in words. Only a pilot in `pilot`
    counts days to its go/no-go date; after the decision that date is history."""
    if stage in ("stopped", "retired"):
        return stage
    if stage != "pilot":
        return f"in {stage}" + (f" (go/no-go date was {gng})" if gng else "")
    if days_left is None:
        return "no go/no-go date"
    if days_left < 0:
        return f"{plural(-days_left, 'day')} overdue (go/no-go date {gng})"
    if days_left == 0:
        return f"decision due today ({gng})"
    return f"{plural(days_left, 'day')} left (go/no-go date {gng})"


def _pilot_entry(pilot: dict, seats: dict, mine: list[tuple[str, str]], code: str) -> dict:
    """``mine``: the pilot's flags (code, reason), worst first."""
    stage, gng = str(pilot["stage"]), _iso(pilot["go_no_go_date"])
    days_left = _int(pilot["days_left"]) if stage == "pilot" else None
    return {
        "pilot_id": int(pilot["id"]),
        "name": str(pilot["name"]),
        "business_unit": seats["business_unit"],
        "stage": stage,
        "go_no_go_date": gng,
        "days_left": days_left,
        "clock": _clock(stage, gng, days_left),
        # The reason for this list first, then every other flag the pilot has,
        # worst first: a leader deciding on it sees the whole picture.
        "reason": next((str(r) for c, r in mine if c == code), ""),
        "reasons": [f"{flag_rules.label(c)}: {r}" for c, r in mine],
        "product_owner": seats["product_owner"],
        "executive_sponsor": seats["executive_sponsor"],
    }


def _flags_by_pilot(flags: pd.DataFrame) -> dict[int, list[tuple[str, str]]]:
    """Each pilot's flags (code, reason) in the flags' order: one pass."""
    out: dict[int, list[tuple[str, str]]] = {}
    for pilot_id, code, reason in zip(flags["pilot_id"], flags["code"], flags["reason"]):
        out.setdefault(int(pilot_id), []).append((str(code), str(reason)))
    return out


def _section(view, seats: dict[int, dict], code: str, by_pilot: dict[int, list[tuple[str, str]]]) -> list[dict]:
    ids = set(view.flags.loc[view.flags["code"] == code, "pilot_id"])
    pilots = view.pilots[view.pilots["id"].isin(ids)]
    # Most pressing first: pilots awaiting their decision by fewest days left
    # (the most overdue first), then the decided ones (bridge, production).
    pilots = pilots.assign(_waiting=pilots["days_left"].where(pilots["stage"] == "pilot"))
    pilots = pilots.sort_values(["_waiting", "name"], na_position="last", kind="stable")
    return [_pilot_entry(p, seats[int(p["id"])], by_pilot.get(int(p["id"]), []), code)
            for p in pilots[["id", "name", "stage", "go_no_go_date", "days_left"]].to_dict("records")]


def _privileges_expiring(conn, as_of: date) -> list[dict]:
    rows = digest_store.privileges_expiring(conn, tuple(s.value for s in Stage.where("on_the_clock")))
    return [
        {"pilot_id": r[0], "pilot": r[1], "privilege_id": r[2], "kind": r[3], "description": r[4],
         "disposition": r[5], "expires": _iso(r[6]), "go_no_go_date": _iso(r[7]),
         # Negative: it has lapsed already, while the pilot is still running.
         "days_to_expiry": (r[6] - as_of).days,
         "days_before_go_no_go": (r[7] - r[6]).days}
        for r in rows
    ]


def _changes(conn, as_of: date, flags: pd.DataFrame, names: dict[int, str]) -> dict:
    previous = digest_store.previous_run(conn, as_of)
    if previous is None:
        return {"previous": None, "note": "No previous digest: this is the first, so nothing to compare.",
                "raised": [], "cleared": [], "decisions": [], "stage_moves": []}
    run_id, prev_as_of, created_at = previous
    then = digest_store.run_flags(conn, run_id)
    then_keys = {(r[0], r[1]) for r in then}
    now_keys = {(int(p), c) for p, c in zip(flags["pilot_id"], flags["code"])}
    # Keyed by (pilot, code): a flag whose reason changed (more days stale)
    # is neither raised nor cleared. ``flags`` is worst first already.
    raised = [
        {"pilot_id": int(r.pilot_id), "pilot": str(r.pilot), "code": r.code, "flag": flag_rules.label(r.code),
         "severity": r.severity, "reason": r.reason}
        for r in flags.itertuples(index=False) if (int(r.pilot_id), r.code) not in then_keys
    ]
    cleared = [
        {"pilot_id": r[0], "pilot": names.get(r[0], f"pilot {r[0]} (removed)"), "code": r[1],
         "flag": flag_rules.label(r[1]), "severity": r[2], "reason_then": r[3], "stage_then": r[4]}
        for r in sorted(then, key=lambda r: (flag_rules.SEVERITY_RANK.get(r[2], 99),
                                             flag_rules.CODE_ORDER.get(r[1], 99), names.get(r[0], "")))
        if (r[0], r[1]) not in now_keys
    ]
    decisions = digest_store.decisions_between(conn, prev_as_of, as_of)
    decision_list = [
        {"decision_id": r[0], "pilot_id": r[1], "pilot": r[2], "kind": r[3], "decided_on": _iso(r[4]),
         "decided_by": r[5], "rationale": r[6], "stage_before": r[7], "stage_after": r[8],
         "go_no_go_before": _iso(r[9]), "go_no_go_after": _iso(r[10]), "corrects_decision": r[11]}
        for r in decisions
    ]
    events = digest_store.stage_events_between(conn, prev_as_of, as_of)
    # Stages move by decisions (go, no-go, a correction) and by the start,
    # promote and retire actions; both are listed, in date order.
    moves = [
        {"pilot_id": d["pilot_id"], "pilot": d["pilot"], "action": d["kind"], "from": d["stage_before"],
         "to": d["stage_after"], "on": d["decided_on"], "by": d["decided_by"]}
        for d in decision_list if d["stage_before"] != d["stage_after"]
    ] + [
        {"pilot_id": r[0], "pilot": r[1], "action": r[2], "from": r[3], "to": r[4], "on": _iso(r[5]), "by": r[6]}
        for r in events
    ]
    moves.sort(key=lambda m: (m["on"], m["pilot"]))
    return {
        "previous": {"run_id": run_id, "as_of": _iso(prev_as_of), "created_at": str(created_at)},
        "raised": raised, "cleared": cleared, "decisions": decision_list, "stage_moves": moves,
    }


def build_digest(conn, as_of: date, settings: Settings, *, record: bool = True, actor: Actor | None = None) -> dict:
    """The leadership digest on ``as_of`` (JSON-ready). With ``record`` the
    run and the flags it saw are stored in one transaction, so the next
    digest can say what changed since this one."""
    view = overview_mod.build(conn, as_of, settings)
    seats = _seat_people(conn)
    names = {int(i): str(n) for i, n in zip(view.pilots["id"], view.pilots["name"])}
    changes = _changes(conn, as_of, view.flags, names)
    by_pilot = _flags_by_pilot(view.flags)
    digest = {
        "as_of": as_of.isoformat(),
        "run_id": None,
        "numbers": {**{k: int(v) for k, v in view.numbers.items()}, **view.decision_numbers},
        "due_soon": _section(view, seats, DUE_SOON_CODE, by_pilot),
        **{key: _section(view, seats, code, by_pilot) for key, code, _ in SECTIONS},
        "privileges_expiring": _privileges_expiring(conn, as_of),
        "changes_since_previous": changes,
    }
    if record:
        digest["run_id"] = _record(conn, as_of, view, actor or command_line_actor(conn))
    return digest


def _record(conn, as_of: date, view, actor: Actor) -> int:
    stages = dict(zip(view.pilots["id"].astype(int), view.pilots["stage"].astype(str)))
    rows = pd.DataFrame({
        "pilot_id": view.flags["pilot_id"].astype(int).to_numpy(),
        "code": view.flags["code"].astype(str).to_numpy(),
        "severity": view.flags["severity"].astype(str).to_numpy(),
        "reason": view.flags["reason"].astype(str).to_numpy(),
    }) if not view.flags.empty else pd.DataFrame(columns=["pilot_id", "code", "severity", "reason"])
    rows["stage"] = rows["pilot_id"].map(stages).astype(str)

    def work(c) -> int:
        run_id = digest_store.record_run(c, as_of, rows)
        audit.event(c, actor, "digest", run_id, "record", {"as_of": as_of, "flags": len(rows)})
        return run_id

    return db.write(conn, work)


# --- per person ------------------------------------------------------------


def personal_digests(digest: dict) -> dict[str, dict]:
    """Per active product owner and executive sponsor (keyed by lower-cased
    email): their pilots that need them, by section. A person who has left
    gets nothing; their pilots show up as ownerless in the sponsor's."""
    out: dict[str, dict] = {}
    for section in PERSONAL_SECTIONS:
        for entry in digest.get(section, []):
            for seat, label in PERSONAL_SEATS:
                person = entry.get(seat)
                if not person or not person.get("email") or person.get("active") is False:
                    continue
                key = person["email"].lower()
                mine = out.setdefault(key, {
                    "name": person["name"], "email": person["email"], "as_of": digest["as_of"],
                    **{s: [] for s in PERSONAL_SECTIONS},
                })
                listed = next((e for e in mine[section] if e["pilot_id"] == entry["pilot_id"]), None)
                if listed is None:
                    mine[section].append({**entry, "your_seats": [label]})
                elif label not in listed["your_seats"]:
                    listed["your_seats"].append(label)
    for mine in out.values():
        mine["pilots"] = len({e["pilot_id"] for s in PERSONAL_SECTIONS for e in mine[s]})
    return dict(sorted(out.items()))


# --- rendering ---------------------------------------------------------------


def _md(value) -> str:
    """Text for Markdown: on one line, every character Markdown would read as
    formatting, a link, an image or raw HTML escaped (as on the app's pages);
    addresses as typed, for the chat tools that read it link them."""
    return md(value, addresses=True)


def _who(person: dict | None) -> str:
    if not person:
        return "none"
    text = person["name"] + (" (inactive)" if person.get("active") is False else "")
    return f"{text} ({person['email']})" if person.get("email") else text


def _change_lines(ch: dict) -> list[tuple[str, list[str]]]:
    """The since-the-previous-digest section as (heading, plain-text lines)."""
    return [
        ("Flags raised", [f"{r['pilot']}: {r['flag']} ({r['severity']}) - {r['reason']}" for r in ch["raised"]]),
        ("Flags cleared", [f"{r['pilot']}: {r['flag']} (was: {r['reason_then']})" for r in ch["cleared"]]),
        ("Decisions", [
            f"{d['pilot']}: {d['kind'].replace('_', '-')} on {d['decided_on']} by {d['decided_by'] or 'unknown'}"
            + (f", new go/no-go date {d['go_no_go_after']}" if d["kind"] == "extend" else "")
            + f" - {d['rationale']}"
            for d in ch["decisions"]
        ]),
        ("Stage moves", [f"{m['pilot']}: {m['from']} to {m['to']} ({m['action'].replace('_', '-')}, {m['on']})"
                         for m in ch["stage_moves"]]),
    ]


def _sections(digest: dict) -> list[tuple[str, str, list[dict]]]:
    titles = {key: title for key, _, title in SECTIONS}
    return [(key, titles[key], digest[key]) for key, _, _ in SECTIONS] + [
        ("due_soon", "Decisions due soon", digest["due_soon"])]


def render_markdown(digest: dict) -> str:
    lines = [f"# Pilot portfolio digest, as of {_md(digest['as_of'])}", "", "## Numbers", ""]
    lines += [f"- {_md(name)}: **{_md(value)}**" for name, value in digest["numbers"].items()]
    for _, title, entries in _sections(digest):
        lines += ["", f"## {title} ({len(entries)})", ""]
        if not entries:
            lines.append("None.")
        for e in entries:
            lines.append(f"- **{_md(e['name'])}** ({_md(e['business_unit'] or 'no business unit')}, "
                         f"{_md(e['stage'])}): {_md(e['reason'])}")
            lines.append(f"  - {_md(e['clock'])}; product owner {_md(_who(e['product_owner']))}; "
                         f"sponsor {_md(_who(e['executive_sponsor']))}")
    privileges = digest["privileges_expiring"]
    lines += ["", f"## Borrowed privileges expiring before the go/no-go date ({len(privileges)})", ""]
    if not privileges:
        lines.append("None.")
    for p in privileges:
        lines.append(f"- **{_md(p['pilot'])}**: {_md(p['description'])} ({_md(p['kind'])}, "
                     f"{_md(p['disposition'])}) expires {_md(p['expires'])}, "
                     f"{plural(p['days_before_go_no_go'], 'day')} before the go/no-go date {_md(p['go_no_go_date'])}")
    ch = digest["changes_since_previous"]
    lines += ["", "## Since the previous digest", ""]
    if ch["previous"] is None:
        lines.append(_md(ch.get("note", "No previous digest.")))
    else:
        lines.append(f"Previous digest: as of {_md(ch['previous']['as_of'])}.")
        for heading, items in _change_lines(ch):
            lines += ["", f"### {heading} ({len(items)})", ""]
            lines += [f"- {_md(i)}" for i in items] or ["None."]
    return "\n".join(lines) + "\n"


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 60rem;
       color: #1f2328; line-height: 1.4; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1rem; }
.numbers { display: flex; flex-wrap: wrap; gap: .75rem; padding: 0; list-style: none; }
.numbers li { border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem .75rem; }
.numbers b { display: block; font-size: 1.3rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; vertical-align: top; border-bottom: 1px solid #eaeef2; padding: .35rem .5rem; }
th { background: #f6f8fa; }
.none { color: #656d76; }
"""


def _h(value) -> str:
    return html.escape(without_controls("" if value is None else str(value)), quote=True)


def _html_person(person: dict | None) -> str:
    if not person:
        return '<span class="none">none</span>'
    text = _h(person["name"]) + (" (inactive)" if person.get("active") is False else "")
    return f"{text}<br><small>{_h(person['email'])}</small>" if person.get("email") else text


def _html_table(headers: list[str], rows: list[list[str]]) -> str:
    """``rows`` hold cells already escaped."""
    if not rows:
        return '<p class="none">None.</p>'
    head = "".join(f"<th>{_h(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(digest: dict) -> str:
    """The digest as one self-contained HTML page (inline style, no scripts,
    nothing fetched); every value from the data is escaped."""
    parts = [f"<h1>Pilot portfolio digest, as of {_h(digest['as_of'])}</h1>", "<h2>Numbers</h2>",
             '<ul class="numbers">' + "".join(
                 f"<li>{_h(name)}<b>{_h(value)}</b></li>" for name, value in digest["numbers"].items()) + "</ul>"]
    for _, title, entries in _sections(digest):
        parts.append(f"<h2>{_h(title)} ({len(entries)})</h2>")
        parts.append(_html_table(
            ["Pilot", "Business unit", "Clock", "Why", "Product owner", "Executive sponsor"],
            [[f"<b>{_h(e['name'])}</b><br><small>{_h(e['stage'])}</small>", _h(e["business_unit"]),
              _h(e["clock"]), "<br>".join(_h(r) for r in e["reasons"]) or _h(e["reason"]),
              _html_person(e["product_owner"]), _html_person(e["executive_sponsor"])] for e in entries]))
    privileges = digest["privileges_expiring"]
    parts.append(f"<h2>Borrowed privileges expiring before the go/no-go date ({len(privileges)})</h2>")
    parts.append(_html_table(
        ["Pilot", "Privilege", "Kind", "Disposition", "Expires", "Go/no-go date"],
        [[_h(p["pilot"]), _h(p["description"]), _h(p["kind"]), _h(p["disposition"]), _h(p["expires"]),
          _h(p["go_no_go_date"])] for p in privileges]))
    ch = digest["changes_since_previous"]
    parts.append("<h2>Since the previous digest</h2>")
    if ch["previous"] is None:
        parts.append(f'<p class="none">{_h(ch.get("note", "No previous digest."))}</p>')
    else:
        parts.append(f"<p>Previous digest: as of {_h(ch['previous']['as_of'])}.</p>")
        for heading, items in _change_lines(ch):
            parts.append(f"<h3>{_h(heading)} ({len(items)})</h3>")
            parts.append("<ul>" + "".join(f"<li>{_h(i)}</li>" for i in items) + "</ul>"
                         if items else '<p class="none">None.</p>')
    title = _h(f"Pilot portfolio digest, as of {digest['as_of']}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title><style>{_CSS}</style></head>\n<body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def to_json(digest: dict, **kwargs) -> str:
    return json.dumps(digest, default=str, **kwargs)


# --- delivery ------------------------------------------------------------------


# How long the whole delivery may take (connecting, sending the digest and
# reading the answer), in seconds, unless the caller gives another deadline.
WEBHOOK_DEADLINE = 30.0


def _where(url: str) -> str:
    # A webhook's path or query is often its secret (a Slack or Teams hook):
    # messages name only the scheme and host.
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return "(an unreadable URL)"
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{port}" if port else "")


def check_webhook_url(url: str | None) -> urllib.parse.SplitResult:
    """``url`` split into its parts when it is an http or https URL with a
    host (and, if given, a valid port); otherwise InvalidInput naming the
    scheme and host only. Called before any work, so a mistyped hook costs
    nothing."""
    text = url or ""
    problem = None
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        parts, problem = None, "its host or port cannot be read"
    if parts is not None:
        if parts.scheme not in ("http", "https"):
            problem = "it is not an http or https URL"
        elif not parts.hostname:
            problem = "it names no host"
        elif any(c.isspace() or ord(c) < 32 for c in text):
            problem = "it contains spaces or control characters"
    if problem:
        raise InvalidInput(f"Webhook: '{_where(text)}' cannot be used: {problem} "
                           "(give the full https://host/path the chat tool gave you)", field="webhook")
    return parts


def post_webhook(url: str, digest: dict, timeout: float = WEBHOOK_DEADLINE) -> int:
    """POST the digest as JSON to ``url``. Returns the HTTP status (2xx).
    A redirect is not followed (a client following it would resend without
    the digest), and the whole delivery has one deadline of ``timeout``
    seconds, however slowly the other side answers; anything else than a
    2xx answer within it raises WebhookFailed, naming the host only."""
    parts = check_webhook_url(url)
    where = _where(url)
    body = to_json(digest).encode("utf-8")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout,
                                           context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    expired = threading.Event()

    def expire() -> None:
        # A socket timeout bounds each read, and a server dripping one byte
        # at a time resets it: at the deadline the socket is shut down,
        # which ends whatever read or write is waiting on it.
        expired.set()
        sock = conn.sock
        if sock is not None:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    late = WebhookFailed(f"Webhook {where} did not take the digest within {timeout:g} s; "
                         "the digest was not delivered")
    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        try:
            conn.connect()
        except Exception as exc:
            if expired.is_set() or isinstance(exc, TimeoutError):
                raise late from None
            if not isinstance(exc, OSError):
                raise
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise WebhookFailed(f"Webhook {where} could not be reached: {reason}; "
                                "the digest was not delivered") from None
        if expired.is_set():
            raise late from None
        try:
            conn.request("POST", target, body=body, headers={
                "Content-Type": "application/json", "User-Agent": "pilot-portfolio-tracker digest"})
            response = conn.getresponse()
            status, reason = response.status, response.reason
        except Exception as exc:
            if expired.is_set() or isinstance(exc, TimeoutError):
                raise late from None
            if not isinstance(exc, (OSError, http.client.HTTPException)):
                raise
            raise WebhookFailed(f"Webhook {where} did not answer properly ({type(exc).__name__}); "
                                "the digest was not delivered") from None
    finally:
        timer.cancel()
        conn.close()
    if 300 <= status < 400:
        raise WebhookFailed(f"Webhook {where} answered {status} {reason}, a redirect, which is not followed "
                            "(the digest would arrive without its content); the digest was not delivered: "
                            "give the address it redirects to") from None
    if not 200 <= status < 300:
        raise WebhookFailed(f"Webhook {where} answered {status} {reason}; the digest was not delivered") from None
    return status


# --- for a scheduler -------------------------------------------------------------


def has_flags_at_least(flags_frame: pd.DataFrame, severity: str) -> bool:
    """Whether ``flags_frame`` holds a flag of ``severity`` or worse (for
    ``--fail-on critical|high``)."""
    try:
        limit = Severity(severity).rank
    except ValueError:
        allowed = ", ".join(s.value for s in Severity)
        raise InvalidInput(f"Fail on: '{severity}' is not a severity ({allowed})", field="fail_on") from None
    if flags_frame is None or flags_frame.empty:
        return False
    ranks = flags_frame["severity"].map(flag_rules.SEVERITY_RANK)
    return bool((ranks <= limit).any())


__all__ = [
    "WebhookFailed", "build_digest", "check_webhook_url", "personal_digests", "render_markdown", "render_html", "to_json",
    "post_webhook", "has_flags_at_least",
]
