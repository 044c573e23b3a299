"""Go, no-go, extend, corrections, the criteria lock, the bridge, promote and
retire: each transition and its refusal, through the services."""

from datetime import date, timedelta

import pytest

from portfolio import flags
from portfolio.domain.errors import InvalidInput, PermissionDenied
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import Role, Stage
from portfolio.services import decisions, demo
from portfolio.services.reporting import overview
from portfolio.storage import store
from tests.conftest import AS_OF, accept_handover, actor_of

START = AS_OF - timedelta(days=90)  # the go/no-go date is AS_OF


@pytest.fixture
def pilot_id(conn):
    pid = demo.make_pilot(conn, start_date=START)
    accept_handover(conn, pid, START)  # its operational owner accepted the handover: go is open
    return pid


def decide(conn, actor, pilot_id, kind, on=AS_OF, settings=Settings(), **extra):
    values = {"pilot_id": pilot_id, "kind": kind, "decided_on": on, "decided_by": actor.person_id,
              "rationale": f"{kind} because the numbers say so"} | extra
    if kind == "no_go":  # a no-go says why
        values.setdefault("stop_reason", "value_not_proven")
    return decisions.record_decision(conn, actor, values, settings)


def codes(conn, as_of=AS_OF, settings=Settings()):
    f = flags.portfolio_flags(conn, as_of, settings)
    return dict(zip(zip(f["pilot_id"], f["code"]), f["reason"]))


# --- the three decisions ---------------------------------------------------

def test_go_moves_the_pilot_to_bridge_due_56_days_later(conn, leader, pilot_id):
    d = decide(conn, leader, pilot_id, "go")
    pilot = store.get_pilot(conn, pilot_id)
    assert (pilot.stage, pilot.bridge_due_date) == (Stage.BRIDGE, AS_OF + timedelta(days=56))
    assert (d.stage_before, d.stage_after) == (Stage.PILOT, Stage.BRIDGE)


def test_no_go_stops_the_pilot(conn, leader, pilot_id):
    decide(conn, leader, pilot_id, "no_go")
    assert store.get_pilot(conn, pilot_id).stage == Stage.STOPPED
    assert (pilot_id, "OVERDUE_DECISION") not in codes(conn, AS_OF + timedelta(days=5))


def test_extend_moves_the_go_no_go_date_and_is_counted(conn, leader, pilot_id):
    new = AS_OF + timedelta(days=30)
    d = decide(conn, leader, pilot_id, "extend", new_go_no_go_date=new)
    pilot = store.get_pilot(conn, pilot_id)
    assert (pilot.stage, pilot.go_no_go_date) == (Stage.PILOT, new)
    assert (d.go_no_go_before, d.go_no_go_after) == (AS_OF, new)
    assert decisions.extension_count(store.list_decisions(conn, pilot_id)) == 1


def test_a_decision_keeps_a_snapshot_of_the_criteria(conn, leader, pilot_id):
    decisions.save_criteria(conn, leader, pilot_id, additions=[
        {"statement": "p95 under 800 ms", "status": "met", "evidence": "load test"},
        {"statement": "30 % weekly use", "status": "not_met"}], on=AS_OF, settings=Settings())
    decide(conn, leader, pilot_id, "extend", new_go_no_go_date=AS_OF + timedelta(days=20))
    # The criteria change after the decision; its snapshot does not.
    crit = store.list_criteria(conn, pilot_id)
    decisions.save_criteria(conn, leader, pilot_id, edits=[{"id": crit[1].id, "statement": crit[1].statement,
                                                            "status": "met", "evidence": "dashboard"}],
                            on=AS_OF, settings=Settings())
    snapshot = store.list_decisions(conn, pilot_id)[0].criteria_snapshot
    assert snapshot == [
        {"statement": "p95 under 800 ms", "status": "met", "evidence": "load test"},
        {"statement": "30 % weekly use", "status": "not_met", "evidence": ""},
    ]


# --- refusals --------------------------------------------------------------

def test_no_go_on_a_pilot_already_decided_is_refused(conn, leader, pilot_id):
    decide(conn, leader, pilot_id, "go")
    with pytest.raises(InvalidInput, match="is bridge, not in pilot, so it was already decided"):
        decide(conn, leader, pilot_id, "no_go")
    assert len(store.list_decisions(conn, pilot_id)) == 1
    assert store.get_pilot(conn, pilot_id).stage == Stage.BRIDGE


@pytest.mark.parametrize("role", [Role.VIEWER, Role.PRODUCT_OWNER])
def test_only_leadership_decides(conn, pilot_id, role):
    someone = actor_of(conn, role)
    with pytest.raises(PermissionDenied, match="only leadership or an admin"):
        decide(conn, someone, pilot_id, "go")
    assert store.list_decisions(conn, pilot_id) == []
    assert store.get_pilot(conn, pilot_id).stage == Stage.PILOT


def test_a_decision_needs_a_rationale(conn, leader, pilot_id):
    with pytest.raises(InvalidInput, match="Rationale: must not be blank"):
        decide(conn, leader, pilot_id, "go", rationale="  ")
    assert store.list_decisions(conn, pilot_id) == []


@pytest.mark.parametrize(
    "new, message",
    [
        pytest.param(None, "an extension needs the new date", id="no-date"),
        pytest.param(AS_OF, "must be after the decision date", id="same-day"),
        pytest.param(AS_OF + timedelta(days=91), "more than 90 days after 2026-03-02", id="91-days"),
    ],
)
def test_extend_needs_a_new_date_within_90_days(conn, leader, pilot_id, new, message):
    with pytest.raises(InvalidInput, match=message):
        decide(conn, leader, pilot_id, "extend", new_go_no_go_date=new)
    assert store.get_pilot(conn, pilot_id).go_no_go_date == AS_OF


def test_extend_by_exactly_90_days_is_allowed(conn, leader, pilot_id):
    decide(conn, leader, pilot_id, "extend", new_go_no_go_date=AS_OF + timedelta(days=90))
    assert store.get_pilot(conn, pilot_id).go_no_go_date == AS_OF + timedelta(days=90)


def test_the_extension_that_reaches_the_limit_needs_an_override_reason(conn, leader, pilot_id):
    first = AS_OF + timedelta(days=30)
    decide(conn, leader, pilot_id, "extend", new_go_no_go_date=first)
    second = first + timedelta(days=30)
    with pytest.raises(InvalidInput, match="Override reason: this would be extension 2, which reaches the limit of 2"):
        decide(conn, leader, pilot_id, "extend", on=first, new_go_no_go_date=second)
    assert store.get_pilot(conn, pilot_id).go_no_go_date == first
    d = decide(conn, leader, pilot_id, "extend", on=first, new_go_no_go_date=second,
               override_reason="Regulator review moved")
    assert d.override_reason == "Regulator review moved"
    demo.make_update(conn, pilot_id, first)
    assert codes(conn, first)[(pilot_id, "STALLED")] == "extended 2 times (limit 2)"


# --- decisions are never edited: corrections supersede ---------------------

def test_a_correction_supersedes_the_latest_decision_and_both_stay(conn, leader, pilot_id):
    wrong = decide(conn, leader, pilot_id, "no_go")
    fixed = decide(conn, leader, pilot_id, "go", rationale="Correction: the error-rate data was wrong",
                   supersedes_id=wrong.id)
    history = store.list_decisions(conn, pilot_id)
    assert [(d.id, d.kind.value, d.superseded_by) for d in history] == [
        (fixed.id, "go", None), (wrong.id, "no_go", fixed.id)]
    assert history[1].rationale == wrong.rationale  # untouched
    assert store.get_pilot(conn, pilot_id).stage == Stage.BRIDGE


def test_correcting_an_extension_restores_the_date_it_moved(conn, leader, pilot_id):
    ext = decide(conn, leader, pilot_id, "extend", new_go_no_go_date=AS_OF + timedelta(days=30))
    decide(conn, leader, pilot_id, "no_go", rationale="Correction: we meant to stop", supersedes_id=ext.id)
    pilot = store.get_pilot(conn, pilot_id)
    assert (pilot.stage, pilot.go_no_go_date) == (Stage.STOPPED, AS_OF)
    assert decisions.extension_count(store.list_decisions(conn, pilot_id)) == 0


def test_only_the_latest_decision_can_be_corrected(conn, leader, pilot_id):
    first = decide(conn, leader, pilot_id, "extend", new_go_no_go_date=AS_OF + timedelta(days=10))
    decide(conn, leader, pilot_id, "go", on=AS_OF + timedelta(days=5))
    with pytest.raises(InvalidInput, match="only the pilot's latest decision can be corrected"):
        decide(conn, leader, pilot_id, "no_go", supersedes_id=first.id)


def test_the_store_has_no_way_to_edit_or_delete_a_decision():
    assert not [name for name in dir(store) if "decision" in name and name.startswith(("update", "delete", "remove"))]


# --- criteria settled at kickoff --------------------------------------------

def test_product_owner_writes_criteria_until_day_14_and_not_from_day_15(conn):
    owner = actor_of(conn, Role.PRODUCT_OWNER)
    pid = demo.make_pilot(conn, start_date=START, product_owner_id=owner.person_id)
    day14, day15 = START + timedelta(days=13), START + timedelta(days=14)
    decisions.save_criteria(conn, owner, pid, additions=[{"statement": "Latency under 1 s"}], on=day14,
                            settings=Settings())
    with pytest.raises(PermissionDenied, match="only leadership may write, reword or remove a criterion"):
        decisions.save_criteria(conn, owner, pid, additions=[{"statement": "Late addition"}], on=day15,
                                settings=Settings())
    assert [c.statement for c in store.list_criteria(conn, pid)] == ["Latency under 1 s"]
    assert (pid, "CRITERIA_CHANGED") not in codes(conn, day15)


def test_marking_criteria_after_kickoff_is_allowed_and_not_flagged(conn):
    owner = actor_of(conn, Role.PRODUCT_OWNER)
    pid = demo.make_pilot(conn, start_date=START, product_owner_id=owner.person_id)
    decisions.save_criteria(conn, owner, pid, additions=[{"statement": "Latency under 1 s"}],
                            on=START, settings=Settings())
    crit = store.list_criteria(conn, pid)[0]
    decisions.save_criteria(conn, owner, pid, edits=[{"id": crit.id, "statement": crit.statement,
                                                      "status": "met", "evidence": "load test"}],
                            on=START + timedelta(days=40), settings=Settings())
    assert store.list_criteria(conn, pid)[0].status.value == "met"
    assert (pid, "CRITERIA_CHANGED") not in codes(conn)


def test_leadership_changes_criteria_after_kickoff_and_it_is_flagged(conn, pilot_id):
    boss = actor_of(conn, Role.LEADERSHIP, name="Kenji Tanaka")
    day15 = START + timedelta(days=14)
    decisions.save_criteria(conn, boss, pilot_id, additions=[{"statement": "Adoption 30 %"}], on=day15,
                            settings=Settings())
    assert codes(conn)[(pilot_id, "CRITERIA_CHANGED")] == f"criteria changed after kickoff on {day15} by Kenji Tanaka"
    # The day before, it was not yet changed.
    assert (pilot_id, "CRITERIA_CHANGED") not in codes(conn, day15 - timedelta(days=1))


def test_no_criteria_is_flagged_from_day_15(conn):
    pid = demo.make_pilot(conn, start_date=START)
    demo.make_update(conn, pid, START + timedelta(days=13))
    assert (pid, "NO_CRITERIA") not in codes(conn, START + timedelta(days=13))
    assert codes(conn, START + timedelta(days=14))[(pid, "NO_CRITERIA")] == \
        "no go/no-go criteria on day 15 (due by day 14)"


@pytest.mark.parametrize(
    "statuses, verdict",
    [
        ((), decisions.VERDICT_UNCLEAR),
        (("met", "met"), decisions.VERDICT_GO),
        (("met", "not_met", "unknown"), decisions.VERDICT_NO_GO),
        (("met", "unknown"), decisions.VERDICT_UNCLEAR),
    ],
    ids=["none", "all-met", "one-not-met", "one-unknown"],
)
def test_suggested_verdict(conn, leader, pilot_id, statuses, verdict):
    decisions.save_criteria(conn, leader, pilot_id, additions=[
        {"statement": f"criterion {i}", "status": s} for i, s in enumerate(statuses)], on=START,
        settings=Settings())
    assert decisions.suggested_verdict(store.list_criteria(conn, pilot_id))[0] == verdict


# --- the bridge, promote and retire ----------------------------------------

def test_promote_without_an_operational_owner_is_refused(conn, leader):
    pid = demo.make_pilot(conn, start_date=START, operational_owner_id=None)
    decide(conn, leader, pid, "go", override_reason="Operations names its owner during the bridge")
    decisions.save_bridge_checklist(conn, leader, pid, {k: {"done": True} for k, _ in decisions.BRIDGE_ITEMS})
    with pytest.raises(InvalidInput, match="not ready for production \\(no operational owner\\)"):
        decisions.promote(conn, leader, pid, AS_OF)
    assert store.get_pilot(conn, pid).stage == Stage.BRIDGE


def test_promote_with_the_checklist_done_then_retire(conn, leader, pilot_id):
    decide(conn, leader, pilot_id, "go")
    decisions.save_bridge_checklist(conn, leader, pilot_id, {k: {"done": True} for k, _ in decisions.BRIDGE_ITEMS})
    assert decisions.promote(conn, leader, pilot_id, AS_OF + timedelta(days=40)).stage == Stage.PRODUCTION
    assert decisions.retire(conn, leader, pilot_id, AS_OF + timedelta(days=400), "replaced",
                             stop_reason="superseded").stage == Stage.RETIRED
    events = store.stage_events(conn, pilot_id)
    assert list(events["action"]) == ["retire", "promote"]


def test_an_override_promotes_with_gaps_and_stays_on_record(conn, leader, pilot_id):
    decide(conn, leader, pilot_id, "go")
    decisions.promote(conn, leader, pilot_id, AS_OF, "Board deadline; monitoring lands next week")
    event = store.stage_events(conn, pilot_id).iloc[0]
    assert event["override_reason"] == "Board deadline; monitoring lands next week"
    assert "Monitoring in place" in event["note"]


def test_only_leadership_promotes(conn, leader, pilot_id):
    decide(conn, leader, pilot_id, "go")
    owner = actor_of(conn, Role.PRODUCT_OWNER)
    with pytest.raises(PermissionDenied):
        decisions.promote(conn, owner, pilot_id, AS_OF, "because")


def test_bridge_past_its_due_date_is_stalled(conn, leader, pilot_id):
    decide(conn, leader, pilot_id, "go")
    due = AS_OF + timedelta(days=56)
    demo.make_update(conn, pilot_id, due - timedelta(days=1))
    assert (pilot_id, "STALLED") not in codes(conn, due)
    assert codes(conn, due + timedelta(days=1))[(pilot_id, "STALLED")] == f"bridge 1 days past its due date {due}"


# --- the portfolio numbers on a small portfolio, by hand ---------------------

def test_decision_numbers_on_a_known_portfolio(conn, leader):
    s = Settings()
    jan1, feb1 = date(2026, 1, 1), date(2026, 2, 1)
    a = demo.make_pilot(conn, name="A", start_date=jan1)
    b = demo.make_pilot(conn, name="B", start_date=jan1)
    c = demo.make_pilot(conn, name="C", start_date=feb1)
    d = demo.make_pilot(conn, name="D", start_date=feb1)
    accept_handover(conn, a, jan1)
    accept_handover(conn, c, feb1)
    decide(conn, leader, a, "go", on=jan1 + timedelta(days=90))       # 90 days
    decide(conn, leader, b, "no_go", on=jan1 + timedelta(days=60))    # 60 days
    decide(conn, leader, c, "go", on=feb1 + timedelta(days=100))      # 100 days
    decide(conn, leader, d, "extend", on=feb1 + timedelta(days=80), new_go_no_go_date=feb1 + timedelta(days=120))
    view = overview.build(conn, date(2026, 6, 1), s)
    assert view.decision_numbers == {
        "Conversion": "67%",               # 2 go of 3 go or no-go
        "No-go decisions": "1",
        "Median days to decision": "90",   # of 60, 90, 100
        "Extensions per pilot": "0.25",    # 1 extension over 4 started pilots
    }
    assert set(view.pilots_behind("No-go decisions")["name"]) == {"B"}
    assert set(view.pilots_behind("Extensions per pilot")["name"]) == {"D"}
    assert list(view.open_pilot_ages()) == [(date(2026, 6, 1) - feb1).days]
    # Before the decisions were made, the numbers did not count them.
    early = overview.build(conn, jan1 + timedelta(days=70), s)
    assert early.decision_numbers["Conversion"] == "0%" and early.decision_numbers["No-go decisions"] == "1"



# --- found in review -------------------------------------------------------

def test_an_early_extension_reaches_90_days_past_the_go_no_go_date(conn, leader, pilot_id):
    early = AS_OF - timedelta(days=30)
    decide(conn, leader, pilot_id, "extend", on=early, new_go_no_go_date=AS_OF + timedelta(days=90))
    assert store.get_pilot(conn, pilot_id).go_no_go_date == AS_OF + timedelta(days=90)


def test_a_decision_dated_in_the_future_is_refused(conn, leader, pilot_id):
    with pytest.raises(InvalidInput, match="Decision date: .* is in the future"):
        decisions.record_decision(conn, leader, {
            "pilot_id": pilot_id, "kind": "go", "decided_on": AS_OF + timedelta(days=1),
            "decided_by": leader.person_id, "rationale": "r"}, Settings(), today=AS_OF)
    assert store.list_decisions(conn, pilot_id) == []


def test_a_decision_dated_before_the_latest_one_is_refused(conn, leader, pilot_id):
    decide(conn, leader, pilot_id, "extend", new_go_no_go_date=AS_OF + timedelta(days=30))
    with pytest.raises(InvalidInput, match="is before the latest decision of"):
        decide(conn, leader, pilot_id, "go", on=AS_OF - timedelta(days=1))


def test_only_leadership_can_be_named_as_the_decider(conn, leader, viewer, pilot_id):
    with pytest.raises(InvalidInput, match="Decided by: Vic Viewer is viewer, not leadership"):
        decide(conn, leader, pilot_id, "go", decided_by=viewer.person_id)


def test_a_pilot_without_a_clock_cannot_be_decided(conn, leader):
    pid = demo.make_pilot(conn, start_date=None)
    with pytest.raises(InvalidInput, match="has no start date"):
        decide(conn, leader, pid, "extend", new_go_no_go_date=AS_OF + timedelta(days=10))


def test_a_date_off_the_calendar_is_refused(conn, leader, pilot_id):
    with pytest.raises(InvalidInput, match="Decision date: 9999-12-31 is outside 1990 to 2199"):
        decide(conn, leader, pilot_id, "go", on=date(9999, 12, 31))


def test_a_later_correction_does_not_rewrite_an_earlier_as_of_view(conn, leader, pilot_id):
    first = AS_OF + timedelta(days=30)
    decide(conn, leader, pilot_id, "extend", new_go_no_go_date=first)
    second = decide(conn, leader, pilot_id, "extend", on=first, new_go_no_go_date=first + timedelta(days=30),
                    override_reason="one more")
    decide(conn, leader, pilot_id, "go", on=first + timedelta(days=10), rationale="Correction", supersedes_id=second.id)
    facts = overview.build(conn, first, Settings()).pilots.set_index("id")
    assert facts.loc[pilot_id, "extensions"] == 2  # as it stood then
    facts = overview.build(conn, first + timedelta(days=10), Settings()).pilots.set_index("id")
    assert facts.loc[pilot_id, "extensions"] == 1


def test_a_bridge_checklist_value_that_is_not_true_or_false_is_refused(conn, leader, pilot_id):
    decide(conn, leader, pilot_id, "go")
    with pytest.raises(InvalidInput, match="give done as true or false"):
        decisions.save_bridge_checklist(conn, leader, pilot_id, {"kill_switch": {"done": "false"}})
    assert store.bridge_checklist(conn, pilot_id) == {}
