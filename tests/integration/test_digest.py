"""The leadership digest: its sections on the demo portfolio, what changed
since the previous digest across two runs, the per-person cut, the
renderings (escaped), the webhook post and the --fail-on helper."""

import http.server
import json
import re
import socket
import threading
from datetime import timedelta

import pandas as pd
import pytest

from portfolio import flags
from portfolio.domain.errors import InvalidInput, PortfolioError
from portfolio.domain.models import Actor
from portfolio.domain.vocabulary import Role
from portfolio.services import decisions, demo
from portfolio.services.people import deactivate_person
from portfolio.services.reporting import digest, overview
from portfolio.storage import db, store
from tests.conftest import AS_OF

LATER = AS_OF + timedelta(days=7)


@pytest.fixture
def demo_conn(fixed_demo_db):
    with db.session(fixed_demo_db) as conn:
        yield conn


def _ids(entries):
    return {e["pilot_id"] for e in entries}


def _flagged(frame, code):
    return set(frame.loc[frame["code"] == code, "pilot_id"].astype(int))


def _first_active(conn, role: Role) -> Actor:
    pid = conn.execute("SELECT min(id) FROM person WHERE role = ? AND active", [role.value]).fetchone()[0]
    return Actor.of(store.get_person(conn, pid))


# --- the sections -------------------------------------------------------------------


def test_digest_sections_on_the_demo(demo_conn, settings):
    d = digest.build_digest(demo_conn, AS_OF, settings)
    frame = flags.portfolio_flags(demo_conn, AS_OF, settings)
    view = overview.build(demo_conn, AS_OF, settings)

    assert d["as_of"] == "2026-03-02"
    assert d["numbers"] == {**view.numbers, **view.decision_numbers}
    assert d["numbers"]["Stalled"] == len(d["stalled"]) > 0
    for key, code in (("overdue", "OVERDUE_DECISION"), ("stalled", "STALLED"), ("ownerless", "OWNERLESS"),
                      ("due_soon", "DECISION_DUE_SOON")):
        assert d[key], key
        assert _ids(d[key]) == _flagged(frame, code), key

    pilots = {p.id: p for p in store.list_pilots(demo_conn)}
    people = {p.id: p for p in store.list_people(demo_conn)}
    for key in ("overdue", "stalled", "ownerless", "due_soon"):
        for e in d[key]:
            pilot = pilots[e["pilot_id"]]
            assert e["name"] == pilot.name and e["business_unit"] == pilot.business_unit
            assert e["reason"] and any(e["reason"] in r for r in e["reasons"])
            sponsor = people.get(pilot.executive_sponsor_id)
            assert (e["executive_sponsor"] or {}).get("email") == (sponsor.email if sponsor else None)
            owner = people.get(pilot.product_owner_id)
            assert (e["product_owner"] or {}).get("email") == (owner.email if owner else None)
    for e in d["due_soon"]:
        assert 0 <= e["days_left"] <= settings.due_soon_days and e["go_no_go_date"]
    for e in d["overdue"]:
        assert e["days_left"] < 0 and "overdue" in e["clock"]
    # An ownerless pilot whose product owner left still names them, marked.
    assert any(e["product_owner"] and e["product_owner"]["active"] is False for e in d["ownerless"])
    assert any(e["product_owner"] is None for e in d["ownerless"])

    # Privileges that lapse before the go/no-go date, whatever their disposition,
    # only for pilots still waiting for their decision.
    assert d["privileges_expiring"]
    for p in d["privileges_expiring"]:
        assert p["expires"] < p["go_no_go_date"] and pilots[p["pilot_id"]].stage.value == "pilot"
    assert {p["disposition"] for p in d["privileges_expiring"]} >= {"undecided", "make_permanent"}
    expected = demo_conn.execute(
        "SELECT count(*) FROM privilege v JOIN pilot p ON p.id = v.pilot_id"
        " WHERE p.stage = 'pilot' AND v.expires < p.go_no_go_date").fetchone()[0]
    assert len(d["privileges_expiring"]) == expected

    # JSON-ready as it is: no default= needed.
    assert json.loads(json.dumps(d))["as_of"] == "2026-03-02"


def test_recording_writes_the_run_and_its_flags_and_record_false_writes_nothing(demo_conn, settings):
    d = digest.build_digest(demo_conn, AS_OF, settings, record=False)
    assert d["run_id"] is None
    assert demo_conn.execute("SELECT count(*) FROM digest_run").fetchone()[0] == 0
    d = digest.build_digest(demo_conn, AS_OF, settings)
    frame = flags.portfolio_flags(demo_conn, AS_OF, settings)
    run = demo_conn.execute("SELECT id, as_of FROM digest_run").fetchall()
    assert run == [(d["run_id"], AS_OF)]
    stored = demo_conn.execute(
        "SELECT f.pilot_id, f.code, f.severity, f.reason, f.stage = p.stage FROM digest_flag f"
        " JOIN pilot p ON p.id = f.pilot_id WHERE run_id = ?", [d["run_id"]]).fetchall()
    assert sorted(r[:4] for r in stored) == sorted(
        zip(frame["pilot_id"].astype(int), frame["code"], frame["severity"], frame["reason"]))
    assert all(r[4] for r in stored)


class _FailingFlagInsert:
    """The connection, except that writing the digest's flags fails."""

    def __init__(self, conn):
        self._conn = conn

    def execute(self, sql, *args, **kwargs):
        if "INSERT INTO digest_flag" in sql:
            raise RuntimeError("disk full")
        return self._conn.execute(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._conn, name)


def test_the_run_is_recorded_in_one_transaction(demo_conn, settings):
    with pytest.raises(RuntimeError, match="disk full"):
        digest.build_digest(_FailingFlagInsert(demo_conn), AS_OF, settings)
    assert demo_conn.execute("SELECT count(*) FROM digest_run").fetchone()[0] == 0
    assert demo_conn.execute("SELECT count(*) FROM digest_flag").fetchone()[0] == 0


# --- since the previous digest ---------------------------------------------------


def test_changes_since_the_previous_digest(demo_conn, settings):
    first = digest.build_digest(demo_conn, AS_OF, settings)
    assert first["changes_since_previous"]["previous"] is None
    assert first["changes_since_previous"]["raised"] == []

    # Between the two digests: a go decision on a pilot due in 10 days, a
    # product owner leaves, and a bridge pilot is promoted.
    due = next(e for e in first["due_soon"] if e["days_left"] == 10 and e["pilot_id"] not in _ids(first["ownerless"]))
    leader = _first_active(demo_conn, Role.LEADERSHIP)
    decided = decisions.record_decision(demo_conn, leader, {
        "pilot_id": due["pilot_id"], "kind": "go", "decided_on": AS_OF + timedelta(days=3),
        "decided_by": leader.person_id, "rationale": "Criteria met on live traffic"}, settings)

    frame = flags.portfolio_flags(demo_conn, AS_OF, settings)
    calm = next(p for p in store.list_pilots(demo_conn)
                if p.stage.value == "pilot" and p.product_owner_id and p.id not in _ids(first["ownerless"])
                and p.id != due["pilot_id"] and store.get_person(demo_conn, p.product_owner_id).active)
    owner = store.get_person(demo_conn, calm.product_owner_id)
    admin = _first_active(demo_conn, Role.ADMIN)
    deactivate_person(demo_conn, admin, owner.id)
    owned = {p.id for p, seat in store.seats_held(demo_conn, owner.id)
             if seat.value == "product_owner_id" and p.stage.value in ("pilot", "bridge", "production")}

    bridge = next(p for p in store.list_pilots(demo_conn) if p.stage.value == "bridge")
    decisions.promote(demo_conn, leader, bridge.id, AS_OF + timedelta(days=5), override_reason="Board asked")

    second = digest.build_digest(demo_conn, LATER, settings)
    ch = second["changes_since_previous"]
    assert ch["previous"]["run_id"] == first["run_id"] and ch["previous"]["as_of"] == AS_OF.isoformat()

    raised = {(r["pilot_id"], r["code"]) for r in ch["raised"]}
    cleared = {(r["pilot_id"], r["code"]) for r in ch["cleared"]}
    assert {(pid, "OWNERLESS") for pid in owned} <= raised and (calm.id, "OWNERLESS") in raised
    assert (due["pilot_id"], "DECISION_DUE_SOON") in cleared
    assert (due["pilot_id"], "PRIVILEGES_UNDECIDED") in cleared
    raised_text = next(r for r in ch["raised"] if (r["pilot_id"], r["code"]) == (calm.id, "OWNERLESS"))
    assert raised_text["reason"] == f"product owner {owner.name} is inactive"
    # The JSON keeps the code for machines and carries the words people read,
    # which are all the markdown and HTML show.
    assert raised_text["flag"] == "Ownerless" and all(r["flag"] == flags.label(r["code"]) for r in ch["cleared"])
    for text in (digest.render_markdown(second), digest.render_html(second)):
        assert f"{calm.name}: Ownerless (critical) - product owner" in text.replace("&#x27;", "'")
        assert not re.search(r"\b(" + "|".join(flags.CODES) + r")\b", text)
    # A flag held on both days is neither raised nor cleared.
    still = next(iter(_flagged(frame, "OVERDUE_DECISION") - {due["pilot_id"]}))
    assert (still, "OVERDUE_DECISION") not in raised | cleared
    # Every raised flag is in the second run and not in what the first one
    # recorded; every cleared one the other way round.
    then = set(demo_conn.execute("SELECT pilot_id, code FROM digest_flag WHERE run_id = ?",
                                 [first["run_id"]]).fetchall())
    now = set(zip(*[flags.portfolio_flags(demo_conn, LATER, settings)[c] for c in ("pilot_id", "code")]))
    assert raised == now - then and cleared == then - now

    assert [(d["decision_id"], d["kind"], d["pilot_id"], d["decided_by"]) for d in ch["decisions"]] == [
        (decided.id, "go", due["pilot_id"], leader.name)]
    moves = {(m["pilot_id"], m["action"], m["from"], m["to"]) for m in ch["stage_moves"]}
    assert moves == {(due["pilot_id"], "go", "pilot", "bridge"), (bridge.id, "promote", "bridge", "production")}

    # A digest dated between the two compares with the first, not the later one.
    between = digest.build_digest(demo_conn, AS_OF + timedelta(days=4), settings, record=False)
    assert between["changes_since_previous"]["previous"]["run_id"] == first["run_id"]
    assert [d["decision_id"] for d in between["changes_since_previous"]["decisions"]] == [decided.id]


def test_the_window_is_after_the_previous_digest_up_to_this_one(conn, leader, settings):
    # Go/no-go dates on AS_OF and on LATER: each pilot may be decided that day.
    on_first = demo.make_pilot(conn, name="Decided on the first digest's day", start_date=AS_OF - timedelta(days=90))
    on_second = demo.make_pilot(conn, name="Decided on the second digest's day", start_date=LATER - timedelta(days=90))
    after = demo.make_pilot(conn, name="Decided after the second digest", start_date=LATER - timedelta(days=80))

    def decide(pid, on, kind="no_go"):
        return decisions.record_decision(conn, leader, {
            "pilot_id": pid, "kind": kind, "decided_on": on, "decided_by": leader.person_id,
            "rationale": "The numbers say so", "stop_reason": "value_not_proven" if kind == "no_go" else None},
            settings)

    decide(on_first, AS_OF)
    first = digest.build_digest(conn, AS_OF, settings)  # it saw the decision of its own day
    assert first["changes_since_previous"]["previous"] is None
    listed = decide(on_second, LATER)
    decide(after, LATER + timedelta(days=1))
    ch = digest.build_digest(conn, LATER, settings)["changes_since_previous"]
    assert [d["decision_id"] for d in ch["decisions"]] == [listed.id]
    assert [(m["pilot_id"], m["from"], m["to"]) for m in ch["stage_moves"]] == [(on_second, "pilot", "stopped")]


def test_privileges_expiring_before_the_go_no_go_date(conn, settings):
    waiting = demo.make_pilot(conn, name="Waiting")            # go/no-go date AS_OF + 60
    decided = demo.make_pilot(conn, name="In bridge", stage="bridge")
    gng = AS_OF + timedelta(days=60)
    rows = [
        (waiting, "Lapses before the decision", "undecided", gng - timedelta(days=1)),
        (waiting, "Lapsed already", "withdraw", AS_OF - timedelta(days=2)),
        (waiting, "Lapses on the decision day", "undecided", gng),
        (waiting, "Lapses after it", "make_permanent", gng + timedelta(days=10)),
        (waiting, "Never lapses", "undecided", None),
        (decided, "Bridge pilot's lapses early", "undecided", AS_OF + timedelta(days=1)),
    ]
    for pid, text, disposition, expires in rows:
        conn.execute("INSERT INTO privilege (pilot_id, kind, description, disposition, expires)"
                     " VALUES (?, 'data_access', ?, ?, ?)", [pid, text, disposition, expires])
    listed = digest.build_digest(conn, AS_OF, settings, record=False)["privileges_expiring"]
    assert [(p["description"], p["days_to_expiry"], p["days_before_go_no_go"]) for p in listed] == [
        ("Lapsed already", -2, 62), ("Lapses before the decision", 59, 1)]
    assert {p["pilot"] for p in listed} == {"Waiting"}


# --- per person ----------------------------------------------------------------------


def test_personal_digests_give_each_owner_and_sponsor_their_pilots(demo_conn, settings):
    d = digest.build_digest(demo_conn, AS_OF, settings, record=False)
    mine = digest.personal_digests(d)
    assert mine
    inactive = {p.email.lower() for p in store.list_people(demo_conn) if not p.active}
    assert not inactive & set(mine)
    for email, personal in mine.items():
        assert personal["email"].lower() == email and personal["as_of"] == d["as_of"]
        assert personal["pilots"] == len({e["pilot_id"] for s in digest.PERSONAL_SECTIONS for e in personal[s]}) > 0
        for section in digest.PERSONAL_SECTIONS:
            for e in personal[section]:
                seats = {seat for seat, _ in digest.PERSONAL_SEATS
                         if e[seat] and e[seat]["email"].lower() == email}
                assert seats and e["your_seats"]
    # Every listed pilot reaches each of its active owners and sponsors.
    for section in digest.PERSONAL_SECTIONS:
        for e in d[section]:
            for seat, _ in digest.PERSONAL_SEATS:
                person = e[seat]
                if person and person["active"]:
                    assert e["pilot_id"] in _ids(mine[person["email"].lower()][section])
    # An ownerless pilot reaches its sponsor.
    orphan = next(e for e in d["ownerless"] if e["executive_sponsor"])
    assert orphan["pilot_id"] in _ids(mine[orphan["executive_sponsor"]["email"].lower()]["ownerless"])


def test_one_person_in_both_seats_gets_the_pilot_once(conn, settings):
    both = demo.make_person(conn, name="Bo Both", email="Bo.Both@Example.com")
    pid = demo.make_pilot(conn, name="Twice owned", start_date=AS_OF - timedelta(days=100),
                          product_owner_id=both, executive_sponsor_id=both)
    d = digest.build_digest(conn, AS_OF, settings, record=False)
    mine = digest.personal_digests(d)["bo.both@example.com"]
    assert [e["pilot_id"] for e in mine["overdue"]] == [pid]
    assert sorted(mine["overdue"][0]["your_seats"]) == ["executive sponsor", "product owner"]


# --- renderings ------------------------------------------------------------------------


def test_markdown_and_html_name_every_listed_pilot(demo_conn, settings):
    d = digest.build_digest(demo_conn, AS_OF, settings, record=False)
    md, page = digest.render_markdown(d), digest.render_html(d)
    names = {e["name"] for k in ("overdue", "stalled", "ownerless", "due_soon") for e in d[k]}
    names |= {p["pilot"] for p in d["privileges_expiring"]}
    assert names
    for name in names:
        assert name.replace("&", "&amp;") in page, name
        assert name in md, name
    assert md.startswith("# Pilot portfolio digest, as of 2026-03-02")
    assert "## Stalled" in md and md.index("## Stalled") < md.index("## Overdue")
    assert "No previous digest" in md and "No previous digest" in page
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert "<script" not in page and "<link" not in page and "src=" not in page  # self-contained


def test_renderings_escape_what_the_data_holds(conn, settings):
    sponsor = demo.make_person(conn, name='Eve "<b>boss</b>"', email="eve@example.com")
    name = '<script>alert("pwned")</script> & *Ops* [x](http://evil)'
    demo.make_pilot(conn, name=name, business_unit="<img src=x onerror=alert(1)>", product_owner_id=None,
                    executive_sponsor_id=sponsor)
    d = digest.build_digest(conn, AS_OF, settings)
    assert name in {e["name"] for e in d["ownerless"]}
    page = digest.render_html(d)
    assert "<script" not in page and "<img" not in page and "<b>boss" not in page
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; *Ops*" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    md = digest.render_markdown(d)
    assert not re.search(r"(?<!\\)<(script|img|b>)", md)  # every < escaped
    assert r'\<script\>alert("pwned")\</script\> & \*Ops\* \[x\](http://evil)' in md
    # The JSON keeps the data as it is: escaping is the renderer's job.
    assert json.loads(json.dumps(d, default=str))["ownerless"][0]["name"] == name


# --- the webhook ---------------------------------------------------------------------------


class _Hook:
    """A local HTTP server on 127.0.0.1 that answers ``status`` to each POST
    and keeps what it received; it serves at most ``posts`` requests, each
    within a few seconds, then stops by itself."""

    def __init__(self, status=200, posts=1):
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append({"path": self.path, "type": self.headers["Content-Type"], "body": body})
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):  # keep the test output clean
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.server.timeout = 5
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/SECRET-TOKEN"
        self.thread = threading.Thread(target=lambda: [self.server.handle_request() for _ in range(posts)],
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.thread.join(timeout=15)
        self.server.server_close()


@pytest.fixture
def small_digest(conn, settings):
    demo.make_pilot(conn, name="Claims triage", start_date=AS_OF - timedelta(days=100))
    return digest.build_digest(conn, AS_OF, settings, record=False)


def test_post_webhook_sends_the_json_digest(small_digest):
    with _Hook() as hook:
        assert digest.post_webhook(hook.url, small_digest) == 200
    assert len(hook.received) == 1
    got = hook.received[0]
    assert got["path"] == "/hooks/SECRET-TOKEN" and got["type"] == "application/json"
    assert json.loads(got["body"]) == json.loads(json.dumps(small_digest, default=str))
    assert "Claims triage" in {e["name"] for e in json.loads(got["body"])["overdue"]}


def test_post_webhook_reports_a_refusal_with_its_status(small_digest):
    with _Hook(status=500) as hook:
        with pytest.raises(digest.WebhookFailed) as info:
            digest.post_webhook(hook.url, small_digest)
    assert "500" in str(info.value) and "not delivered" in str(info.value)
    assert "SECRET-TOKEN" not in str(info.value)  # the hook's secret path stays out of logs
    assert info.value.__suppress_context__ and isinstance(info.value, PortfolioError)


def test_post_webhook_reports_no_answer(small_digest):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(digest.WebhookFailed, match="could not be reached"):
        digest.post_webhook(f"http://127.0.0.1:{port}/hook", small_digest, timeout=2)
    with pytest.raises(InvalidInput, match="not an http or https URL"):
        digest.post_webhook("file:///etc/passwd", small_digest)


# --- --fail-on --------------------------------------------------------------------------------


def test_has_flags_at_least():
    frame = pd.DataFrame({"pilot_id": [1, 2], "pilot": ["a", "b"], "code": ["STALLED", "NO_CRITERIA"],
                          "severity": ["high", "medium"], "reason": ["x", "y"]})
    assert digest.has_flags_at_least(frame, "high")
    assert not digest.has_flags_at_least(frame, "critical")
    assert digest.has_flags_at_least(frame.assign(severity=["critical", "info"]), "critical")
    assert not digest.has_flags_at_least(frame.assign(severity=["medium", "info"]), "high")
    assert not digest.has_flags_at_least(frame.iloc[0:0], "high")
    with pytest.raises(InvalidInput, match="not a severity"):
        digest.has_flags_at_least(frame, "urgent")


def test_the_clock_in_the_digest_reads_in_words_that_agree_in_number():
    assert digest._clock("pilot", "2026-03-01", -1) == "1 day overdue (go/no-go date 2026-03-01)"
    assert digest._clock("pilot", "2026-03-01", 12) == "12 days left (go/no-go date 2026-03-01)"
    assert digest._clock("pilot", "2026-03-01", 0) == "decision due today (2026-03-01)"
    assert digest._clock("bridge", "2026-03-01", None) == "in bridge (go/no-go date was 2026-03-01)"
