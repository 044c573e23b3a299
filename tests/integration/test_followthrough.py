"""The decision followed through, through the services on a real database:
a stopped or retired pilot gives back what it borrowed (revoked on a day,
by whom, with evidence; PRIVILEGES_NOT_REVOKED until then, and the "still
holding" list), a privilege past its expiry is flagged the same way, a no-go
and a retirement say why and what was learned, the stopped pilots are one
searchable list, and a new pilot is shown the stopped ones it resembles."""

import json
from datetime import UTC, datetime, timedelta

import icalendar
import pandas as pd
import pytest

from portfolio import flags
from portfolio.domain.errors import EditConflict, InvalidInput, PermissionDenied
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import Role, Stage
from portfolio.services import decisions, demo, followthrough, production
from portfolio.services.reporting import calendar, digest
from portfolio.storage import audit, store
from portfolio.storage import followthrough as follow_store
from tests.conftest import AS_OF, accept_handover, actor_of, run_cli

START = AS_OF - timedelta(days=90)  # the go/no-go date is AS_OF
LATER = AS_OF + timedelta(days=10)


def no_go(conn, leader, pilot_id, on=AS_OF, **extra):
    values = {"pilot_id": pilot_id, "kind": "no_go", "decided_on": on, "decided_by": leader.person_id,
              "rationale": "Adoption never passed 10 %"} | extra
    return decisions.record_decision(conn, leader, values, Settings())


def flag_reasons(conn, code="PRIVILEGES_NOT_REVOKED", as_of=LATER):
    f = flags.portfolio_flags(conn, as_of, Settings())
    f = f[f["code"] == code]
    return dict(zip(f["pilot_id"], f["reason"]))


@pytest.fixture
def owner(conn):
    return actor_of(conn, Role.PRODUCT_OWNER, name="Pia Owner")


@pytest.fixture
def stopped(conn, leader, owner):
    """A pilot that borrowed three privileges (one made permanent, one to be
    withdrawn, one never decided), then stopped at its no-go."""
    pid = demo.make_pilot(conn, name="Claims triage assistant", start_date=START, product_owner_id=owner.person_id,
                          problem="Route incoming claims to the right adjuster")
    ids = {}
    for kind, what in (("data_access", "Claims warehouse read access"), ("budget", "Innovation GPU budget"),
                       ("vendor_support", "Vendor engineers on call")):
        ids[what] = production.add_privilege(conn, owner, pid, {"kind": kind, "description": what, "since": START})
    production.decide_privilege(conn, owner, ids["Claims warehouse read access"], "make_permanent", "", START)
    production.decide_privilege(conn, owner, ids["Innovation GPU budget"], "withdraw", "Standard cloud budget", START)
    no_go(conn, leader, pid, stop_reason="value_not_proven", lessons="Measure adoption from week one.")
    return pid, ids


# --- kill reasons ----------------------------------------------------------

def test_a_no_go_without_a_reason_is_refused_and_changes_nothing(conn, leader):
    pid = demo.make_pilot(conn, start_date=START)
    with pytest.raises(InvalidInput, match="^Reason: choose why the pilot stops") as refused:
        no_go(conn, leader, pid)
    assert refused.value.field == "reason"
    with pytest.raises(InvalidInput, match="Reason: 'bored' is not one of the reasons"):
        no_go(conn, leader, pid, stop_reason="bored")
    assert store.get_pilot(conn, pid).stage == Stage.PILOT
    assert store.list_decisions(conn, pid) == [] and follow_store.stop_records(conn, pid).empty


def test_a_no_go_records_its_reason_and_lessons_with_the_decision(conn, leader, stopped):
    pid, _ = stopped
    d = store.list_decisions(conn, pid)[0]
    record = follow_store.stop_records(conn, pid).iloc[0]
    assert (record["decision_id"], record["stage_after"], record["reason"], record["lessons"]) == (
        d.id, "stopped", "value_not_proven", "Measure adoption from week one.")
    history = followthrough.stop_history(conn, pid)
    assert history[["Reason", "Lessons learned", "Recorded by"]].values.tolist() == [
        ["Value not proven", "Measure adoption from week one.", "Lee Leader"]]
    trail = audit.trail(conn, pilot_id=pid, entity="stop_record")
    assert trail["actor"].str.startswith("Lee Leader").all() and "reason 'value not proven'" in trail["change"][0]


def test_an_extend_or_go_needs_no_reason(conn, leader):
    pid = demo.make_pilot(conn, start_date=START)
    accept_handover(conn, pid)
    decisions.record_decision(conn, leader, {"pilot_id": pid, "kind": "go", "decided_on": AS_OF,
                                             "decided_by": leader.person_id, "rationale": "All met"}, Settings())
    assert store.get_pilot(conn, pid).stage == Stage.BRIDGE and follow_store.stop_records(conn, pid).empty


def test_retiring_needs_a_reason_and_records_it_with_the_stage_move(conn, leader):
    pid = demo.make_pilot(conn, start_date=START)
    accept_handover(conn, pid)
    decisions.record_decision(conn, leader, {"pilot_id": pid, "kind": "go", "decided_on": AS_OF,
                                             "decided_by": leader.person_id, "rationale": "All met"}, Settings())
    decisions.promote(conn, leader, pid, AS_OF, override_reason="Board asked")
    with pytest.raises(InvalidInput, match="^Reason: choose why"):
        decisions.retire(conn, leader, pid, LATER, "old")
    assert store.get_pilot(conn, pid).stage == Stage.PRODUCTION
    decisions.retire(conn, leader, pid, LATER, "old", stop_reason="superseded", lessons="Watch the vendor's roadmap")
    record = follow_store.stop_records(conn, pid).iloc[0]
    assert (record["stage_after"], record["reason"], record["stopped_on"].date()) == ("retired", "superseded", LATER)
    assert record["stage_event_id"] == follow_store.latest_stage_event(conn, pid, "retire")
    assert list(followthrough.stopped_pilots(conn)["reason"]) == ["Superseded"]


# --- privileges followed through ---------------------------------------------

def test_a_stopped_pilot_holding_privileges_is_flagged_naming_them_until_each_is_revoked(conn, owner, stopped):
    pid, ids = stopped
    assert flag_reasons(conn)[pid] == (
        "stopped (no-go) and still holds 2 borrowed privileges not revoked: "
        "Innovation GPU budget (budget); Vendor engineers on call (vendor support)")
    assert flags.label("PRIVILEGES_NOT_REVOKED") == "Privileges not revoked"
    holding = followthrough.still_holding(conn, LATER)
    assert holding[["pilot", "count"]].values.tolist() == [["Claims triage assistant", 2]]
    assert holding["holding"][0] == ("Innovation GPU budget (budget, withdraw); "
                                     "Vendor engineers on call (vendor support, undecided)")

    followthrough.revoke_privilege(conn, owner, ids["Innovation GPU budget"],
                                   {"revoked_on": LATER, "evidence": "Cost centre closed, ticket FIN-12"})
    assert flag_reasons(conn)[pid] == ("stopped (no-go) and still holds a borrowed privilege not revoked: "
                                       "Vendor engineers on call (vendor support)")
    followthrough.revoke_privilege(conn, owner, ids["Vendor engineers on call"],
                                   {"revoked_on": LATER, "evidence": "Vendor contract ended"})
    assert pid not in flag_reasons(conn) and followthrough.still_holding(conn, LATER).empty
    # As of the day before the revocations, it still held them.
    assert pid in flag_reasons(conn, as_of=LATER - timedelta(days=1))
    revoked = {p.description: p for p in store.list_privileges(conn, pid)}["Vendor engineers on call"]
    assert (revoked.revoked_on, revoked.revoked_by_name, revoked.revocation_evidence) == (
        LATER, "Pia Owner", "Vendor contract ended")


def test_a_privilege_past_its_expiry_and_not_revoked_is_flagged_on_a_live_pilot(conn, owner):
    pid = demo.make_pilot(conn, start_date=START + timedelta(days=30), product_owner_id=owner.person_id)
    lapsed = production.add_privilege(conn, owner, pid, {"kind": "data_access", "description": "Sandbox copy",
                                                          "expires": AS_OF - timedelta(days=3)})
    kept = production.add_privilege(conn, owner, pid, {"kind": "permission", "description": "Change exception",
                                                        "expires": AS_OF - timedelta(days=3)})
    production.decide_privilege(conn, owner, kept, "make_permanent", "", AS_OF - timedelta(days=20))
    assert pid not in flag_reasons(conn, as_of=AS_OF - timedelta(days=3))  # held on its last day: fine
    assert flag_reasons(conn, as_of=AS_OF)[pid] == (
        "still holds a borrowed privilege not revoked: Sandbox copy (data access, expired "
        f"{AS_OF - timedelta(days=3)})")
    followthrough.revoke_privilege(conn, owner, lapsed, {"revoked_on": AS_OF, "evidence": "Copy deleted"})
    assert pid not in flag_reasons(conn, as_of=AS_OF)


def test_who_may_record_a_revocation(conn, leader, owner, admin, stopped):
    pid, ids = stopped
    budget = ids["Innovation GPU budget"]
    with pytest.raises(PermissionDenied, match="only its product owner or technical lead, or an admin may"):
        followthrough.revoke_privilege(conn, leader, budget, {"revoked_on": LATER, "evidence": "x"})
    with pytest.raises(PermissionDenied):
        followthrough.revoke_privilege(conn, actor_of(conn, Role.PRODUCT_OWNER), budget,
                                       {"revoked_on": LATER, "evidence": "x"})
    followthrough.revoke_privilege(conn, admin, budget, {"revoked_on": LATER, "evidence": "Done by IT"})
    assert {p.id: p.revoked_by_name for p in store.list_privileges(conn, pid)}[budget] == "Ada Admin"


@pytest.mark.parametrize("values, today, words", [
    ({"revoked_on": LATER, "evidence": "  "}, None, "Evidence: must not be blank"),
    ({"revoked_on": None, "evidence": "x"}, None, "Revoked on: give the day it was revoked"),
    ({"revoked_on": LATER, "evidence": "x"}, LATER - timedelta(days=1), f"Revoked on: {LATER} is in the future"),
    ({"revoked_on": START - timedelta(days=1), "evidence": "x"}, None, "Revoked on: .* is before it was granted"),
], ids=["no-evidence", "no-date", "future", "before-granted"])
def test_a_bad_revocation_names_the_field_and_writes_nothing(conn, owner, stopped, values, today, words):
    pid, ids = stopped
    before = audit.trail(conn, pilot_id=pid)
    with pytest.raises(InvalidInput, match=words):
        followthrough.revoke_privilege(conn, owner, ids["Innovation GPU budget"], values, today=today)
    assert len(audit.trail(conn, pilot_id=pid)) == len(before)
    assert all(p.revoked_on is None for p in store.list_privileges(conn, pid))


def test_a_permanent_privilege_is_not_revoked(conn, owner, stopped):
    _, ids = stopped
    with pytest.raises(InvalidInput, match="was made permanent; it is kept, not revoked"):
        followthrough.revoke_privilege(conn, owner, ids["Claims warehouse read access"],
                                       {"revoked_on": LATER, "evidence": "x"})


def test_a_repeated_revocation_writes_once_and_a_stale_form_is_refused(conn, owner, admin, stopped):
    pid, ids = stopped
    budget = ids["Innovation GPU budget"]
    version = {p.id: p.version for p in store.list_privileges(conn, pid)}[budget]
    values = {"revoked_on": LATER, "evidence": "Ticket FIN-12"}
    followthrough.revoke_privilege(conn, owner, budget, values, expected_version=version)
    followthrough.revoke_privilege(conn, owner, budget, values, expected_version=version)
    assert list(audit.trail(conn, pilot_id=pid, entity="privilege")["action"]).count("revoke") == 1
    with pytest.raises(EditConflict, match="Pia Owner"):
        followthrough.revoke_privilege(conn, admin, budget, {"revoked_on": LATER, "evidence": "Other ticket"},
                                       expected_version=version)


def test_the_digest_lists_the_pilot_still_holding_and_its_owner_is_told(conn, owner, stopped):
    pid, _ = stopped
    d = digest.build_digest(conn, LATER, Settings(), record=False)
    entry = next(e for e in d["still_holding"] if e["pilot_id"] == pid)
    assert "Innovation GPU budget (budget)" in entry["reason"] and entry["clock"] == "stopped"
    assert "Still holding borrowed privileges (1)" in digest.render_markdown(d)
    assert "Innovation GPU budget" in digest.render_html(d)
    mine = digest.personal_digests(d)[owner.email.lower()]
    assert [e["pilot_id"] for e in mine["still_holding"]] == [pid]


# --- the graveyard and the resemblance ------------------------------------------

@pytest.fixture
def graveyard(conn, leader, stopped, kept_units):
    other = demo.make_pilot(conn, name="Cash forecast", business_unit="Finance", start_date=START,
                            problem="Forecast weekly cash position")
    no_go(conn, leader, other, stop_reason="data_not_ready", lessons="The ledger extract was a month late.")
    return stopped[0], other


def test_the_stopped_pilots_list_by_reason_unit_year_and_words(conn, graveyard):
    claims, cash = graveyard
    rows = followthrough.stopped_pilots(conn)
    assert set(rows["pilot_id"]) == {claims, cash}
    assert dict(zip(rows["pilot"], rows["reason"])) == {"Claims triage assistant": "Value not proven",
                                                       "Cash forecast": "Data not ready"}
    assert list(followthrough.stopped_pilots(conn, words="LEDGER month")["pilot_id"]) == [cash]
    assert list(followthrough.stopped_pilots(conn, words="adjuster")["pilot_id"]) == [claims]  # its problem
    assert followthrough.stopped_pilots(conn, words="ledger adjuster").empty  # every word must be there
    assert list(followthrough.stopped_pilots(conn, reasons=["data_not_ready"])["pilot_id"]) == [cash]
    assert list(followthrough.stopped_pilots(conn, units=["Finance"])["pilot_id"]) == [cash]
    assert len(followthrough.stopped_pilots(conn, years=[AS_OF.year])) == 2
    assert followthrough.stopped_pilots(conn, years=[AS_OF.year - 1]).empty
    assert followthrough.stopped_by_reason(rows).values.tolist() == [["Data not ready", 1], ["Value not proven", 1]]


def test_a_new_pilot_is_shown_the_stopped_ones_it_resembles_with_their_reasons(conn, graveyard):
    found = followthrough.resembling(conn, "Claims triage bot")
    assert found[["pilot", "reason", "lessons"]].values.tolist() == [
        ["Claims triage assistant", "Value not proven", "Measure adoption from week one."]]
    # Alike by its problem's words, whatever the name.
    by_problem = followthrough.resembling(conn, "Treasury helper", "Forecast the weekly cash position per bank")
    assert list(by_problem["pilot"]) == ["Cash forecast"]
    assert followthrough.resembling(conn, "Shift planner", "Propose rosters").empty
    assert followthrough.resembling(conn, "  ").empty


def test_the_import_shows_each_new_row_beside_the_stopped_pilots_it_resembles(conn, graveyard):
    rows = pd.DataFrame({"row": [2, 3, 4], "name": ["Claims triage helper", "Payroll bot", "Cash forecasting"],
                         "problem": ["", None, ""]})
    table = followthrough.resembling_rows(conn, rows)
    assert table[["Row", "New pilot", "Resembles", "Reason"]].values.tolist() == [
        [2, "Claims triage helper", "Claims triage assistant", "Value not proven"],
        [4, "Cash forecasting", "Cash forecast", "Data not ready"]]


# --- the demo -------------------------------------------------------------------

def test_the_demo_shows_a_stopped_pilot_still_holding_and_kill_reasons_with_lessons(fixed_demo_db):
    done = run_cli("flags", "--db", fixed_demo_db, "--as-of", AS_OF.isoformat(), "--format", "json")
    assert done.returncode == 0, done.stderr
    held = [f for f in json.loads(done.stdout) if f["code"] == "PRIVILEGES_NOT_REVOKED"]
    stopped = [f for f in held if f["reason"].startswith("stopped (no-go)")]
    assert stopped and all(f["severity"] == "high" for f in held)
    assert "Innovation budget for GPU hours (budget)" in stopped[0]["reason"]
    assert any("expired" in f["reason"] for f in held)  # a live pilot past a privilege's expiry

    from portfolio.storage import db
    with db.session(fixed_demo_db) as c:
        graveyard = followthrough.stopped_pilots(c)
        holding = followthrough.still_holding(c, AS_OF)
        revoked = [p for pid in graveyard["pilot_id"] for p in store.list_privileges(c, int(pid)) if p.revoked_on]
    assert {"Value not proven", "Data not ready", "Superseded"} <= set(graveyard["reason"])
    assert (graveyard["lessons"].str.len() > 20).all()
    assert len(holding) == 1 and holding["stage"][0] == "stopped"
    assert revoked and all(p.revocation_evidence for p in revoked)  # the other stopped pilot gave back its own


def test_a_pilot_stopped_before_stop_reasons_were_kept_shows_its_no_go_day_and_rationale(conn, leader, stopped):
    # As in a portfolio upgraded from a version without stop records: the
    # no-go is there, its record is not.
    pid, _ = stopped
    conn.execute("DELETE FROM stop_record WHERE pilot_id = ?", [pid])
    rows = followthrough.stopped_pilots(conn, years=[AS_OF.year])
    row = rows[rows["pilot_id"] == pid].iloc[0]
    assert pd.Timestamp(row["stopped_on"]).date() == AS_OF and row["year"] == AS_OF.year
    assert row["reason"] == "not recorded" and row["rationale"] == "Adoption never passed 10 %"
    held = followthrough.still_holding(conn, LATER)
    assert [pd.Timestamp(d).date() for d in held.loc[held["pilot_id"] == pid, "stopped_on"]] == [AS_OF]


def test_the_calendar_keeps_a_stopped_pilots_privilege_expiry_until_it_is_revoked(conn, leader, owner):
    pid = demo.make_pilot(conn, name="Claims triage assistant", start_date=START, product_owner_id=owner.person_id)
    ids = {what: production.add_privilege(conn, owner, pid, {"kind": kind, "description": what, "since": START,
                                                             "expires": LATER + timedelta(days=30)})
           for kind, what in (("data_access", "Claims warehouse read access"), ("budget", "Innovation GPU budget"),
                              ("vendor_support", "Vendor engineers on call"))}
    production.decide_privilege(conn, owner, ids["Claims warehouse read access"], "make_permanent", "", START)
    production.decide_privilege(conn, owner, ids["Innovation GPU budget"], "withdraw", "Standard cloud budget", START)
    no_go(conn, leader, pid, stop_reason="value_not_proven", lessons="Measure adoption from week one.")

    def status() -> dict[str, str]:
        ics = calendar.feed(conn, as_of=LATER, stamp=datetime(2026, 12, 1, tzinfo=UTC))
        return {str(e["SUMMARY"]).split(": ", 1)[1].split(" (")[0]: str(e["STATUS"])
                for e in icalendar.Calendar.from_ical(ics).walk("VEVENT") if str(e["UID"]).startswith("privilege-")}

    # Still held (PRIVILEGES_NOT_REVOKED says so): still in the calendar, though the pilot stopped.
    assert set(flag_reasons(conn)) == {pid}
    assert status() == {"Claims warehouse read access": "CANCELLED", "Innovation GPU budget": "CONFIRMED",
                        "Vendor engineers on call": "CONFIRMED"}
    followthrough.revoke_privilege(conn, owner, ids["Innovation GPU budget"],
                                   {"revoked_on": LATER, "evidence": "Budget line closed"})
    assert status()["Innovation GPU budget"] == "CANCELLED"
    assert status()["Vendor engineers on call"] == "CONFIRMED"
