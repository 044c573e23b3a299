"""The calendar feeds and the API as their clients meet them: real HTTP
requests (httpx) against the app as ``make run`` serves it (serve.py, one
server for the pages and these routes), over a demo built for today; the
feeds read back with the icalendar parser a calendar client would use.

Tokens are made through the same service as the People page's buttons."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

import duckdb
import httpx
import icalendar
import pytest

from portfolio.domain.models import Actor
from portfolio.domain.settings import Settings
from portfolio.services import decisions, demo, tokens
from portfolio.storage import audit, db, store
from tests.e2e.conftest import app_env, serve_app

# A real server process: make test runs these, make test-fast does not.
pytestmark = pytest.mark.thorough

TODAY = date.today()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("http-served")
    db_file = workdir / "portfolio.duckdb"
    demo.build_demo(db_file, TODAY)  # for today: this week's update is the one the API posts
    # The server waits this long for a database another program holds (15 s
    # unless told): the test of a held database waits it out twice, and no
    # other test here holds the file while the server works.
    with serve_app(workdir, app_env(db_file, PORTFOLIO_LOCK_WAIT_SECONDS="3")) as served:
        yield served


def person_of(server, role: str, *, owning: bool = False):
    """An active person of ``role`` (with ``owning``: one who is the product
    owner of an active pilot on the clock)."""
    with db.session(server.db_file) as c:
        pilots = store.list_pilots(c)
        for p in store.list_people(c, active_only=True):
            if p.role.value == role and (not owning or any(
                    x.product_owner_id == p.id and x.stage.value == "pilot" for x in pilots)):
                return p
    raise AssertionError(f"the demo has no {role}")


def calendar_token(server, person) -> str:
    with db.session(server.db_file) as c:
        return tokens.new_calendar_link(c, Actor.of(person), person.id)


def api_token(server, person, label: str = "a tool") -> str:
    with db.session(server.db_file) as c:
        return tokens.new_api_token(c, Actor.of(person), person.id, {"label": label})


def events(ics: bytes) -> dict[str, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(ics)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# --- the calendar feed ------------------------------------------------------------


def test_a_persons_calendar_address_holds_the_go_no_go_dates_of_their_pilots(server):
    owner = person_of(server, "product_owner", owning=True)
    token = calendar_token(server, owner)
    got = httpx.get(f"{server.url}/calendar/{token}/mine.ics", timeout=30)
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/calendar")
    found = events(got.content)
    with db.session(server.db_file) as c:
        theirs = [p for p in store.list_pilots(c) if owner.id in p.seat_holders()]
        others = [p for p in store.list_pilots(c) if owner.id not in p.seat_holders()]
    on_clock = [p for p in theirs if p.stage.value == "pilot" and p.go_no_go_date]
    assert on_clock
    for p in on_clock:
        event = found[f"pilot-{p.id}-go-no-go@pilot-portfolio.tracker"]
        assert event.decoded("DTSTART") == p.go_no_go_date
        assert str(event["STATUS"]) == "CONFIRMED"
        assert str(event["SUMMARY"]) == f"Go/no-go: {p.name}"
        assert f"/pilot?id={p.id}" in str(event["URL"])
    assert not any(uid.startswith(f"pilot-{p.id}-") for p in others for uid in found)


def test_a_new_calendar_link_stops_the_old_address_at_once(server):
    owner = person_of(server, "product_owner", owning=True)
    old = calendar_token(server, owner)
    assert httpx.get(f"{server.url}/calendar/{old}/mine.ics", timeout=30).status_code == 200
    new = calendar_token(server, owner)
    for feed in ("mine.ics", "portfolio.ics"):
        gone = httpx.get(f"{server.url}/calendar/{old}/{feed}", timeout=30)
        assert gone.status_code == 404
        assert b"VCALENDAR" not in gone.content
    assert httpx.get(f"{server.url}/calendar/{new}/mine.ics", timeout=30).status_code == 200
    assert httpx.get(f"{server.url}/calendar/not-a-token/mine.ics", timeout=30).status_code == 404


def test_the_whole_portfolio_feed_moves_an_extended_date_and_cancels_a_decided_pilot(server):
    leader = person_of(server, "leadership")
    token = calendar_token(server, leader)
    url = f"{server.url}/calendar/{token}/portfolio.ics"
    before = events(httpx.get(url, timeout=30).content)
    with db.session(server.db_file) as c:
        on_clock = [p for p in store.list_pilots(c) if p.stage.value == "pilot" and p.go_no_go_date
                    and p.start_date and p.go_no_go_date >= TODAY]
        extended, decided = on_clock[0], on_clock[1]
        moved_to = extended.go_no_go_date + timedelta(days=30)
        settings = Settings()
        decisions.record_decision(c, Actor.of(leader), {
            "pilot_id": extended.id, "kind": "extend", "decided_on": TODAY, "decided_by": leader.id,
            "rationale": "More data needed", "new_go_no_go_date": moved_to}, settings, today=TODAY)
        decisions.record_decision(c, Actor.of(leader), {
            "pilot_id": decided.id, "kind": "no_go", "decided_on": TODAY, "decided_by": leader.id,
            "rationale": "Not worth it", "stop_reason": "value_not_proven"}, settings, today=TODAY)
    after = events(httpx.get(url, timeout=30).content)
    uid = f"pilot-{extended.id}-go-no-go@pilot-portfolio.tracker"
    assert before[uid].decoded("DTSTART") == extended.go_no_go_date
    assert after[uid].decoded("DTSTART") == moved_to  # the same event, moved
    assert int(after[uid]["SEQUENCE"]) > int(before[uid]["SEQUENCE"])
    assert sum(1 for u in after if u.startswith(f"pilot-{extended.id}-go-no-go")) == 1
    stopped = after[f"pilot-{decided.id}-go-no-go@pilot-portfolio.tracker"]
    assert str(stopped["STATUS"]) == "CANCELLED"


# --- the API ----------------------------------------------------------------------


def owned_pilot(server, owner) -> int:
    with db.session(server.db_file) as c:
        return next(p.id for p in store.list_pilots(c) if p.product_owner_id == owner.id and p.stage.value == "pilot")


def updates_of(server, pilot_id: int) -> list:
    with db.session(server.db_file) as c:
        return store.list_updates(c, pilot_id)


def test_a_product_owner_posts_a_weekly_update_through_the_api_audited_as_from_the_api(server):
    owner = person_of(server, "product_owner", owning=True)
    token = api_token(server, owner, "Jira automation")
    pilot_id = owned_pilot(server, owner)
    with db.session(server.db_file) as c:
        kpi = store.list_kpis(c, pilot_id)
    body = {"health": "amber", "summary": "Vendor API slipped a week", "blockers": "Vendor sandbox down",
            "next_steps": "Escalate to the vendor", "readings": [{"kpi_id": k.id, "value": 42.5} for k in kpi[:1]]}
    posted = httpx.post(f"{server.url}/api/pilots/{pilot_id}/updates", json=body, headers=bearer(token), timeout=30)
    assert posted.status_code == 201, posted.text
    saved = posted.json()["update"]
    assert (saved["health"], saved["summary"], saved["author"]) == ("amber", "Vendor API slipped a week", owner.name)

    latest = updates_of(server, pilot_id)[0]
    assert (latest.id, latest.summary, latest.author_id) == (saved["id"], body["summary"], owner.id)
    with db.session(server.db_file) as c:
        trail = audit.trail(c, pilot_id=pilot_id, entity="weekly_update")
        record = trail[trail["entity_id"] == str(saved["id"])].iloc[0]
        assert (record["via"], record["actor_id"]) == ("API", owner.id)
        assert token not in json.dumps(audit.as_records(audit.trail(c)), default=str)
        if kpi:
            assert store.list_kpis(c, pilot_id)[0].latest_value == 42.5

    read = httpx.get(f"{server.url}/api/pilots/{pilot_id}/updates", headers=bearer(token), timeout=30)
    assert read.status_code == 200
    assert read.json()["updates"][0]["summary"] == "Vendor API slipped a week"
    whole = httpx.get(f"{server.url}/api/pilots/{pilot_id}", headers=bearer(token), timeout=30).json()["pilot"]
    assert whole["updates"][0]["id"] == saved["id"]


def test_a_viewers_token_and_no_token_post_nothing(server):
    owner = person_of(server, "product_owner", owning=True)
    pilot_id = owned_pilot(server, owner)
    viewer = person_of(server, "viewer")
    token = api_token(server, viewer, "BI")
    before = len(updates_of(server, pilot_id))
    body = {"health": "red", "summary": "Should not be saved"}
    url = f"{server.url}/api/pilots/{pilot_id}/updates"

    refused = httpx.post(url, json=body, headers=bearer(token), timeout=30)
    assert refused.status_code == 403
    assert "may not post a weekly update" in refused.json()["error"]["message"]

    anonymous = httpx.post(url, json=body, timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert httpx.post(url, json=body, headers=bearer("made-up-token"), timeout=30).status_code == 401
    assert len(updates_of(server, pilot_id)) == before

    # The viewer reads (everyone may); nobody without a token does.
    assert httpx.get(f"{server.url}/api/pilots", headers=bearer(token), timeout=30).status_code == 200
    no_data = httpx.get(f"{server.url}/api/pilots", timeout=30)
    assert no_data.status_code == 401 and "pilots" not in no_data.json()


def test_bad_input_is_refused_as_json_naming_the_field(server):
    owner = person_of(server, "product_owner", owning=True)
    token = api_token(server, owner, "checker")
    pilot_id = owned_pilot(server, owner)
    before = len(updates_of(server, pilot_id))
    url = f"{server.url}/api/pilots/{pilot_id}/updates"
    bad = httpx.post(url, json={"health": "purple", "summary": "x"}, headers=bearer(token), timeout=30)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "health"
    assert "'purple' is not one of green, amber, red" in bad.json()["error"]["message"]
    blank = httpx.post(url, json={"health": "green", "summary": "  "}, headers=bearer(token), timeout=30)
    assert (blank.status_code, blank.json()["error"]["field"]) == (422, "summary")
    not_json = httpx.post(url, content=b"health=green", headers=bearer(token), timeout=30)
    assert not_json.status_code == 422
    missing = httpx.get(f"{server.url}/api/pilots/999999", headers=bearer(token), timeout=30)
    assert (missing.status_code, missing.json()["error"]["field"]) == (404, "pilot_id")
    as_of = httpx.get(f"{server.url}/api/flags?as_of=someday", headers=bearer(token), timeout=30)
    assert (as_of.status_code, as_of.json()["error"]["field"]) == (422, "as_of")
    assert len(updates_of(server, pilot_id)) == before


def test_the_pilots_carry_their_clock_and_flags_and_a_revoked_token_reads_nothing(server):
    viewer = person_of(server, "viewer")
    token = api_token(server, viewer, "dashboard")
    got = httpx.get(f"{server.url}/api/pilots", headers=bearer(token), timeout=30).json()
    overdue = [p for p in got["pilots"] if p["overdue"]]
    assert overdue and all(p["days_left"] < 0 for p in overdue)
    assert all(any(f["code"] == "OVERDUE_DECISION" and f["flag"] == "Decision overdue" for f in p["flags"])
               for p in overdue)
    flags = httpx.get(f"{server.url}/api/flags", headers=bearer(token), timeout=30).json()["flags"]
    assert {f["pilot_id"] for f in flags if f["code"] == "OVERDUE_DECISION"} == {p["id"] for p in overdue}

    with db.session(server.db_file) as c:
        (made,) = [t for t in tokens.list_tokens(c, Actor.of(viewer), viewer.id) if t.label == "dashboard"]
        tokens.revoke_token(c, Actor.of(viewer), made.id)
    assert httpx.get(f"{server.url}/api/pilots", headers=bearer(token), timeout=30).status_code == 401


def test_the_openapi_description_is_served_and_names_every_endpoint(server):
    got = httpx.get(f"{server.url}/api/openapi.json", timeout=30)
    assert got.status_code == 200
    spec = got.json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/pilots", "/api/pilots/{pilot_id}", "/api/pilots/{pilot_id}/updates", "/api/flags"} <= set(spec["paths"])
    body = spec["components"]["schemas"]["WeeklyUpdate"]
    assert {"health", "summary", "readings"} <= set(body["properties"])
    unknown = httpx.get(f"{server.url}/api/nothing-here", timeout=30)
    assert unknown.status_code == 404 and unknown.json()["error"]["status"] == 404
    # The pages are still served beside it.
    assert httpx.get(f"{server.url}/_stcore/health", timeout=30).text == "ok"


def test_without_a_live_token_nothing_is_read_and_a_big_body_is_refused_unread(server):
    owner = person_of(server, "product_owner", owning=True)
    token = api_token(server, owner, "sizes")
    pilot_id = owned_pilot(server, owner)
    before = len(updates_of(server, pilot_id))
    url = f"{server.url}/api/pilots/{pilot_id}/updates"
    # A bad body says nothing to a caller without a live token: 401, not 422.
    for headers in ({}, bearer("made-up-token")):
        answer = httpx.post(url, content=b"health=green", headers=headers, timeout=30)
        assert answer.status_code == 401, headers
    # Over 64 KB: refused by its length, in words.
    big = {"health": "green", "summary": "x" * (70 * 1024)}
    too_big = httpx.post(url, json=big, headers=bearer(token), timeout=30)
    assert too_big.status_code == 413 and "64 KB" in too_big.json()["error"]["message"]
    assert httpx.post(url, json=big, timeout=30).status_code == 401
    assert len(updates_of(server, pilot_id)) == before


def test_readings_that_are_not_objects_are_refused_naming_the_field(server):
    owner = person_of(server, "product_owner", owning=True)
    token = api_token(server, owner, "readings")
    pilot_id = owned_pilot(server, owner)
    before = len(updates_of(server, pilot_id))
    url = f"{server.url}/api/pilots/{pilot_id}/updates"
    for readings in ([1], ["a"], [None], [[1, 2]]):
        answer = httpx.post(url, json={"health": "green", "summary": "On track", "readings": readings},
                            headers=bearer(token), timeout=30)
        assert answer.status_code == 422, readings
        assert answer.json()["error"]["field"] == "readings"
    assert len(updates_of(server, pilot_id)) == before


def test_while_another_program_holds_the_database_no_token_gets_401_at_once_and_a_token_a_plain_503(server):
    owner = person_of(server, "product_owner", owning=True)
    token = api_token(server, owner, "busy")
    calendar = calendar_token(server, owner)
    holder = duckdb.connect(str(server.db_file))  # this process holds the file: the server cannot open it
    try:
        started = time.monotonic()
        assert httpx.get(f"{server.url}/api/pilots", timeout=30).status_code == 401
        assert httpx.post(f"{server.url}/api/pilots/1/updates", content=b"{}", timeout=30).status_code == 401
        assert httpx.get(f"{server.url}/calendar/not%20a%20token/mine.ics", timeout=30).status_code == 404
        assert time.monotonic() - started < 5  # none of them waited for the lock
        for busy in (httpx.get(f"{server.url}/api/me", headers=bearer(token), timeout=60),
                     httpx.get(f"{server.url}/calendar/{calendar}/mine.ics", timeout=60)):
            assert busy.status_code == 503 and busy.headers["retry-after"]
            assert str(server.db_file) not in busy.text and "duckdb" not in busy.text.lower()
            assert "busy or unavailable" in busy.text
    finally:
        holder.close()
    assert httpx.get(f"{server.url}/api/me", headers=bearer(token), timeout=30).status_code == 200
