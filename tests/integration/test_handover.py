"""The decision followed through: the handover accepted before go (a go
without it is refused unless overridden, in the service every page and
command goes through), and the check-ins after promotion with
CHECKIN_OVERDUE, on real DuckDB files."""

import json
from datetime import date, timedelta

import pytest

from portfolio import flags
from portfolio.domain.errors import InvalidInput, PermissionDenied
from portfolio.domain.models import Actor
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import Role, Seat, Stage
from portfolio.services import decisions, demo, handover, people
from portfolio.storage import db, store
from portfolio.storage import handover as handover_store
from tests.conftest import AS_OF, accept_handover, actor_of, run_cli

START = AS_OF - timedelta(days=90)  # the go/no-go date is AS_OF


def as_person(conn, person_id: int) -> Actor:
    return Actor.of(store.get_person(conn, person_id))


def go(conn, leader, pilot_id, on=AS_OF, settings=Settings(), **extra):
    return decisions.record_decision(conn, leader, {
        "pilot_id": pilot_id, "kind": "go", "decided_on": on, "decided_by": leader.person_id,
        "rationale": "Every criterion met on live traffic"} | extra, settings)


def accept(conn, actor, pilot_id, verdict="accepted", note="", on=AS_OF, seat=Seat.OPERATIONAL_OWNER,
           settings=Settings()):
    return handover.record_acceptance(conn, actor, {
        "pilot_id": pilot_id, "seat": seat, "verdict": verdict, "note": note, "accepted_on": on}, settings,
        today=AS_OF)


@pytest.fixture
def pilot(conn):
    return store.get_pilot(conn, demo.make_pilot(conn, start_date=START))


# --- acceptance before go ----------------------------------------------------

def test_a_go_without_the_operational_owners_acceptance_is_refused_naming_what_is_missing(conn, leader, pilot):
    owner = store.get_person(conn, pilot.operational_owner_id)
    with pytest.raises(InvalidInput) as refused:
        go(conn, leader, pilot.id)
    assert refused.value.field == "override_reason"
    assert f"go needs the operational owner's acceptance of the handover (the operational owner ({owner.name}) " \
           "has not accepted the handover)" in str(refused.value)
    assert "give the reason to go anyway" in str(refused.value)
    assert store.list_decisions(conn, pilot.id) == []
    assert store.get_pilot(conn, pilot.id).stage == Stage.PILOT


def test_an_override_lets_the_go_through_and_stays_on_the_decision(conn, leader, pilot):
    d = go(conn, leader, pilot.id, override_reason="The board wants it live before the audit")
    assert d.override_reason == "The board wants it live before the audit"
    assert store.list_decisions(conn, pilot.id)[0].override_reason == "The board wants it live before the audit"
    assert store.get_pilot(conn, pilot.id).stage == Stage.BRIDGE


@pytest.mark.parametrize("verdict, note", [("accepted", ""), ("with_conditions", "Runbook before rollout")])
def test_the_operational_owners_acceptance_opens_the_go(conn, leader, pilot, verdict, note):
    owner = as_person(conn, pilot.operational_owner_id)
    word = accept(conn, owner, pilot.id, verdict, note, on=AS_OF - timedelta(days=3))
    assert (word.person_id, word.recorded_by, word.verdict.value, word.note) == (owner.person_id, owner.person_id,
                                                                               verdict, note)
    d = go(conn, leader, pilot.id)
    assert d.override_reason == "" and store.get_pilot(conn, pilot.id).stage == Stage.BRIDGE


def test_a_refusal_keeps_the_go_shut_and_is_named(conn, leader, pilot):
    owner = as_person(conn, pilot.operational_owner_id)
    accept(conn, owner, pilot.id, "accepted", on=AS_OF - timedelta(days=10))
    accept(conn, owner, pilot.id, "refused", "No runbook and nobody trained", on=AS_OF - timedelta(days=2))
    with pytest.raises(InvalidInput, match=rf"the operational owner \({owner.name}\) refused the handover on "
                                           rf"{(AS_OF - timedelta(days=2)).day} "):
        go(conn, leader, pilot.id)
    assert store.get_pilot(conn, pilot.id).stage == Stage.PILOT
    # Both words stay, the latest first.
    assert [a.verdict.value for a in handover.acceptances(conn, pilot.id)] == ["refused", "accepted"]


def test_an_acceptance_given_after_the_decision_date_does_not_count_for_it(conn, leader, pilot):
    accept(conn, as_person(conn, pilot.operational_owner_id), pilot.id, on=AS_OF)
    with pytest.raises(InvalidInput, match="has not accepted the handover"):
        go(conn, leader, pilot.id, on=AS_OF - timedelta(days=1))


def test_the_word_of_an_earlier_operational_owner_does_not_speak_for_the_new_one(conn, leader, admin, pilot):
    first = as_person(conn, pilot.operational_owner_id)
    accept(conn, first, pilot.id, on=AS_OF - timedelta(days=5))
    newcomer = demo.make_person(conn, name="Nia Newcomer", role=Role.VIEWER)
    people.reassign_seats(conn, admin, first.person_id, {(pilot.id, Seat.OPERATIONAL_OWNER): newcomer})
    with pytest.raises(InvalidInput, match=r"the operational owner \(Nia Newcomer\) has not accepted"):
        go(conn, leader, pilot.id)
    accept(conn, as_person(conn, newcomer), pilot.id, on=AS_OF - timedelta(days=1))
    assert go(conn, leader, pilot.id).stage_after == Stage.BRIDGE


def test_a_pilot_without_an_operational_owner_goes_only_on_an_override(conn, leader):
    pid = demo.make_pilot(conn, start_date=START, operational_owner_id=None)
    with pytest.raises(InvalidInput, match="no operational owner is named to accept the handover"):
        go(conn, leader, pid)
    assert go(conn, leader, pid, override_reason="Operations names its owner in the bridge").override_reason


def test_a_correction_into_a_go_needs_the_acceptance_too(conn, leader, pilot):
    wrong = decisions.record_decision(conn, leader, {
        "pilot_id": pilot.id, "kind": "no_go", "decided_on": AS_OF, "decided_by": leader.person_id,
        "rationale": "Error rate too high", "stop_reason": "value_not_proven"}, Settings())
    with pytest.raises(InvalidInput, match="go needs the operational owner's acceptance"):
        go(conn, leader, pilot.id, supersedes_id=wrong.id, rationale="Correction: the data was wrong")
    assert store.get_pilot(conn, pilot.id).stage == Stage.STOPPED


def test_with_the_setting_the_executive_sponsor_accepts_too(conn, leader, pilot):
    both = Settings(acceptance_by_sponsor=True)
    accept(conn, as_person(conn, pilot.operational_owner_id), pilot.id, on=AS_OF - timedelta(days=2))
    sponsor = as_person(conn, pilot.executive_sponsor_id)
    with pytest.raises(InvalidInput, match=rf"and the executive sponsor's .*the executive sponsor "
                                           rf"\({sponsor.name}\) has not accepted the handover"):
        go(conn, leader, pilot.id, settings=both)
    # Without the setting the sponsor's word is not asked for, and not taken.
    with pytest.raises(InvalidInput, match="the executive sponsor's acceptance is not asked for"):
        accept(conn, sponsor, pilot.id, seat=Seat.EXECUTIVE_SPONSOR)
    accept(conn, sponsor, pilot.id, seat=Seat.EXECUTIVE_SPONSOR, settings=both, on=AS_OF - timedelta(days=1))
    assert go(conn, leader, pilot.id, settings=both).stage_after == Stage.BRIDGE


def test_only_the_operational_owner_or_an_admin_records_the_acceptance(conn, leader, admin, pilot):
    product_owner = as_person(conn, pilot.product_owner_id)
    for someone in (leader, product_owner):
        with pytest.raises(PermissionDenied, match="may not record acceptance of the handover"):
            accept(conn, someone, pilot.id)
    assert handover.acceptances(conn, pilot.id) == []
    # An admin enters it for the operational owner: it is the owner's word, entered by the admin.
    word = accept(conn, admin, pilot.id, "with_conditions", "Agreed on the phone")
    assert (word.person_id, word.recorded_by) == (pilot.operational_owner_id, admin.person_id)
    last = db_trail(conn, "handover_acceptance")
    assert (last["actor_id"], last["action"]) == (admin.person_id, "accepted with conditions")


def db_trail(conn, entity):
    row = conn.execute("SELECT actor_id, action, after FROM audit WHERE entity = ? ORDER BY id DESC LIMIT 1",
                       [entity]).fetchone()
    return {"actor_id": row[0], "action": row[1], "after": json.loads(row[2])}


@pytest.mark.parametrize("verdict, message", [
    ("with_conditions", "Note: say what the conditions are"),
    ("refused", "Note: say why the handover is refused"),
    ("", "Acceptance: choose accepted, accepted with conditions or refused"),
])
def test_conditions_and_refusals_need_a_note(conn, pilot, verdict, message):
    with pytest.raises(InvalidInput, match=message):
        accept(conn, as_person(conn, pilot.operational_owner_id), pilot.id, verdict, "  ")
    assert handover.acceptances(conn, pilot.id) == []


def test_acceptance_dated_ahead_or_after_the_go_is_refused_and_a_repeat_writes_once(conn, leader, pilot):
    owner = as_person(conn, pilot.operational_owner_id)
    with pytest.raises(InvalidInput, match="Date: .* is in the future"):
        accept(conn, owner, pilot.id, on=AS_OF + timedelta(days=1))
    accept(conn, owner, pilot.id)
    accept(conn, owner, pilot.id)  # a double click
    assert len(handover.acceptances(conn, pilot.id)) == 1
    go(conn, leader, pilot.id)
    with pytest.raises(InvalidInput, match="is bridge; the handover is accepted before the go decision"):
        accept(conn, owner, pilot.id, "refused", "Too late")


def test_an_inactive_operational_owner_cannot_accept(conn, admin, pilot):
    people.deactivate_person(conn, admin, pilot.operational_owner_id)
    with pytest.raises(InvalidInput, match="is inactive; hand the seat to someone active first"):
        accept(conn, admin, pilot.id)


# --- check-ins after promotion -----------------------------------------------

PROMOTED = AS_OF + timedelta(days=10)


@pytest.fixture
def live(conn, leader, pilot):
    """The pilot promoted to production on PROMOTED."""
    accept_handover(conn, pilot.id, START)
    go(conn, leader, pilot.id)
    decisions.save_bridge_checklist(conn, leader, pilot.id, {k: {"done": True} for k, _ in decisions.BRIDGE_ITEMS})
    decisions.promote(conn, leader, pilot.id, PROMOTED)
    return store.get_pilot(conn, pilot.id)


def check_in(conn, actor, pilot_id, on, used=True, kpis_hold=True, cost=True, note="Used daily", today=None):
    return handover.record_checkin(conn, actor, {
        "pilot_id": pilot_id, "checked_on": on, "used": used, "kpis_hold": kpis_hold, "cost_as_expected": cost,
        "note": note}, Settings(), today=today)


def overdue(conn, on):
    f = flags.portfolio_flags(conn, on, Settings())
    return {r.pilot_id: r.reason for r in f.itertuples() if r.code == "CHECKIN_OVERDUE"}


def test_a_missed_check_in_is_flagged_from_the_day_after_it_was_due(conn, live):
    due = PROMOTED + timedelta(days=30)
    assert live.id not in overdue(conn, due)  # due today: not missed yet
    assert overdue(conn, due + timedelta(days=1))[live.id] == \
        f"the day-30 check-in was due on {due.day} {due:%b %Y}"
    later = PROMOTED + timedelta(days=61)
    assert overdue(conn, later)[live.id] == (f"the day-30 check-in was due on {due.day} {due:%b %Y}; "
                                             f"the day-60 check-in was due on "
                                             f"{(PROMOTED + timedelta(days=60)).day} "
                                             f"{PROMOTED + timedelta(days=60):%b %Y}")
    f = flags.portfolio_flags(conn, later, Settings())
    assert f[f["code"] == "CHECKIN_OVERDUE"]["severity"].tolist() == ["medium"]


def test_the_operational_owner_checks_in_and_three_check_ins_close_the_watch(conn, live):
    owner = as_person(conn, live.operational_owner_id)
    first = check_in(conn, owner, live.id, PROMOTED + timedelta(days=31), cost=False, note="A cost spike in week 3")
    assert (first.due_day, first.cost_as_expected, first.person_id) == (30, False, owner.person_id)
    assert live.id not in overdue(conn, PROMOTED + timedelta(days=40))
    watching = handover.under_watch(conn, Settings(), PROMOTED + timedelta(days=40))
    row = watching.set_index("id").loc[live.id]
    assert (row["done"], row["overdue"]) == ("1 of 3", False)
    nxt = PROMOTED + timedelta(days=60)
    assert row["next_checkin"] == f"day 60: {nxt.day} {nxt:%b %Y}"
    check_in(conn, owner, live.id, PROMOTED + timedelta(days=58))  # a few days early is fine
    check_in(conn, owner, live.id, PROMOTED + timedelta(days=95))  # late, but done
    assert live.id not in overdue(conn, PROMOTED + timedelta(days=200))
    assert live.id not in set(handover.under_watch(conn, Settings(), PROMOTED + timedelta(days=200))["id"])
    with pytest.raises(InvalidInput, match="all 3 check-ins of .* are done; its watch is over"):
        check_in(conn, owner, live.id, PROMOTED + timedelta(days=120), note="One more")
    assert [c.due_day for c in handover_store.list_checkins(conn, live.id)] == [30, 60, 90]


def test_the_watch_as_it_stood_before_a_late_check_in(conn, live):
    owner = as_person(conn, live.operational_owner_id)
    check_in(conn, owner, live.id, PROMOTED + timedelta(days=45))
    # Before it was recorded, the day-30 check-in was missed; after, it is done.
    assert 30 in [c.day for c in handover.watch(conn, live, Settings(), PROMOTED + timedelta(days=40)).checkins
                  if c.overdue]
    assert live.id in overdue(conn, PROMOTED + timedelta(days=40))
    assert live.id not in overdue(conn, PROMOTED + timedelta(days=45))


def test_a_check_in_too_early_ahead_or_not_in_production_is_refused(conn, leader, live, pilot):
    owner = as_person(conn, live.operational_owner_id)
    opens = PROMOTED + timedelta(days=23)
    with pytest.raises(InvalidInput, match=rf"the day-30 check-in is due on .*; it can be recorded from "
                                           rf"{opens.day} {opens:%b %Y}"):
        check_in(conn, owner, live.id, PROMOTED + timedelta(days=5))
    with pytest.raises(InvalidInput, match="Check-in date: .* is in the future"):
        check_in(conn, owner, live.id, PROMOTED + timedelta(days=30), today=PROMOTED + timedelta(days=29))
    with pytest.raises(InvalidInput, match="In use: answer yes or no"):
        check_in(conn, owner, live.id, PROMOTED + timedelta(days=30), used=None)
    other = demo.make_pilot(conn, start_date=START)
    with pytest.raises(InvalidInput, match="is pilot; check-ins follow a pilot in production"):
        check_in(conn, as_person(conn, store.get_pilot(conn, other).operational_owner_id), other,
                 PROMOTED + timedelta(days=30))
    assert handover_store.list_checkins(conn, live.id) == []


def test_only_the_operational_owner_or_an_admin_records_a_check_in_and_a_repeat_writes_once(conn, leader, admin,
                                                                                             live):
    with pytest.raises(PermissionDenied, match="only its operational owner or an admin may"):
        check_in(conn, leader, live.id, PROMOTED + timedelta(days=30))
    done = check_in(conn, admin, live.id, PROMOTED + timedelta(days=30))
    again = check_in(conn, admin, live.id, PROMOTED + timedelta(days=30))
    assert done.id == again.id and (done.person_id, done.recorded_by) == (live.operational_owner_id,
                                                                           admin.person_id)
    trail = db_trail(conn, "checkin")
    assert (trail["action"], trail["after"]["due_day"], trail["after"]["used"]) == ("day 30", 30, True)


def test_a_pilot_that_came_in_already_in_production_has_no_check_ins_to_miss(conn, leader):
    pid = demo.make_pilot(conn, start_date=START, stage=Stage.PRODUCTION)
    assert pid not in overdue(conn, AS_OF + timedelta(days=400))
    with pytest.raises(InvalidInput, match="no promotion recorded in the tracker"):
        check_in(conn, as_person(conn, store.get_pilot(conn, pid).operational_owner_id), pid, AS_OF)


# --- the demo, as the command line shows it ------------------------------------

def test_the_demo_lists_a_missed_check_in_naming_its_day_and_acceptance_on_its_pilots(fixed_demo_db):
    out = run_cli("flags", "--db", str(fixed_demo_db), "--as-of", str(AS_OF), "--format", "json")
    assert out.returncode == 0, out.stderr
    missed = [r for r in json.loads(out.stdout) if r["code"] == "CHECKIN_OVERDUE"]
    assert missed and all(r["severity"] == "medium" for r in missed)
    assert any(r["reason"].startswith("the day-60 check-in was due on ") for r in missed)
    with db.session(fixed_demo_db) as conn:
        # Every go in the demo has the operational owner's acceptance by its
        # date, or an override on record: the demo keeps the rule.
        for p in store.list_pilots(conn):
            for d in store.list_decisions(conn, p.id):
                if d.kind.value == "go":
                    gaps = handover.go_acceptance_gaps(conn, p, Settings(), d.decided_on)
                    assert not gaps or d.override_reason, (p.name, gaps)
        words = {a.verdict.value for p in store.list_pilots(conn) for a in handover.acceptances(conn, p.id)}
        assert words == {"accepted", "with_conditions", "refused"}
        assert not handover.under_watch(conn, Settings(), AS_OF).empty
