"""Borrowed privileges, production KPIs and readiness: each flag at its
boundary, KPI direction, criteria tied to KPIs, the running cost, the
readiness threshold and the rights, through the services."""

from datetime import timedelta

import pytest

from portfolio import flags
from portfolio.domain.errors import InvalidInput, PermissionDenied
from portfolio.domain.settings import Settings
from portfolio.services import decisions, demo, pilots, production, updates
from portfolio.storage import store
from tests.conftest import AS_OF

S = Settings()


def codes(conn, as_of=AS_OF):
    f = flags.portfolio_flags(conn, as_of, S)
    return dict(zip(zip(f["pilot_id"], f["code"]), f["reason"]))


def pilot_on_day(conn, day: int, **overrides) -> int:
    """A pilot whose as-of day (AS_OF) is ``day`` of its clock."""
    return demo.make_pilot(conn, start_date=AS_OF - timedelta(days=day - 1), **overrides)


def add_kpi(conn, actor, pid, **overrides) -> int:
    values = {"name": "p95 latency", "category": "latency", "unit": "ms", "direction": "lower",
              "baseline": 1400, "target": 800, "horizon_days": 90, "production": True} | overrides
    return production.add_kpi(conn, actor, pid, values)


def read(conn, actor, pid, kpi_id, value, on=AS_OF):
    production.record_readings(conn, actor, pid, [{"kpi_id": kpi_id, "value": value, "reading_on": on}])


# --- borrowed privileges ---------------------------------------------------

@pytest.mark.parametrize("left, flagged", [(15, False), (14, True), (0, True), (-3, True)],
                         ids=["15-left", "14-left", "due", "overdue"])
def test_privileges_undecided_close_to_the_decision(conn, leader, left, flagged):
    pid = demo.make_pilot(conn, go_no_go_date=AS_OF + timedelta(days=left))
    production.add_privilege(conn, leader, pid, {"kind": "data_access", "description": "Warehouse read"})
    assert ((pid, "PRIVILEGES_UNDECIDED") in codes(conn)) is flagged


def test_a_decided_privilege_is_not_flagged_and_withdrawal_says_what_replaces_it(conn, leader):
    pid = demo.make_pilot(conn, go_no_go_date=AS_OF + timedelta(days=5))
    production.add_privilege(conn, leader, pid, {"kind": "sponsor_time", "description": "COO hour"})
    priv = store.list_privileges(conn, pid)[0]
    with pytest.raises(InvalidInput, match="Note: say what replaces a withdrawn privilege"):
        production.decide_privilege(conn, leader, priv.id, "withdraw", " ", AS_OF)
    assert store.list_privileges(conn, pid)[0].disposition.value == "undecided"
    production.decide_privilege(conn, leader, priv.id, "withdraw", "Monthly steering review", AS_OF)
    got = store.list_privileges(conn, pid)[0]
    assert (got.disposition.value, got.note, got.decided_by, got.decided_on) == (
        "withdraw", "Monthly steering review", leader.person_id, AS_OF)
    assert (pid, "PRIVILEGES_UNDECIDED") not in codes(conn)


@pytest.mark.parametrize("withdrawn, total, weak", [(1, 3, False), (2, 4, True), (2, 3, True)],
                         ids=["1-of-3", "half", "2-of-3"])
def test_weak_ship_signal_when_half_or_more_are_withdrawn(conn, leader, withdrawn, total, weak):
    pid = demo.make_pilot(conn)
    for i in range(total):
        production.add_privilege(conn, leader, pid, {"kind": "budget", "description": f"Grant {i}"})
    for priv in store.list_privileges(conn, pid)[:withdrawn]:
        production.decide_privilege(conn, leader, priv.id, "withdraw", "standard budget", AS_OF)
    got = codes(conn)
    assert ((pid, "WEAK_SHIP_SIGNAL") in got) is weak
    if weak:
        assert got[(pid, "WEAK_SHIP_SIGNAL")] == f"{withdrawn} of {total} borrowed privileges to be withdrawn"


def test_a_privilege_that_expires_before_it_was_granted_is_refused(conn, leader):
    pid = demo.make_pilot(conn)
    with pytest.raises(InvalidInput, match="is before it was granted"):
        production.add_privilege(conn, leader, pid, {"kind": "other", "description": "x",
                                                     "since": AS_OF, "expires": AS_OF - timedelta(days=1)})
    assert store.list_privileges(conn, pid) == []


# --- KPIs ------------------------------------------------------------------

@pytest.mark.parametrize("day, flagged", [(14, False), (15, True)], ids=["day-14", "day-15"])
def test_no_production_kpis_from_day_15(conn, leader, day, flagged):
    pid = pilot_on_day(conn, day)
    assert ((pid, "NO_PRODUCTION_KPIS") in codes(conn)) is flagged


def test_only_a_production_kpi_with_a_target_counts(conn, leader):
    pid = pilot_on_day(conn, 20)
    add_kpi(conn, leader, pid, name="Demo accuracy", category="quality", direction="higher", target=90,
            production=False)
    add_kpi(conn, leader, pid, name="Adoption", category="adoption", direction="higher", target=None)
    assert (pid, "NO_PRODUCTION_KPIS") in codes(conn)
    add_kpi(conn, leader, pid)
    assert (pid, "NO_PRODUCTION_KPIS") not in codes(conn)


@pytest.mark.parametrize(
    "direction, target, value, off",
    [("lower", 800, 950, True), ("lower", 800, 800, False), ("lower", 800, 700, False),
     ("higher", 30, 29, True), ("higher", 30, 30, False)],
    ids=["latency-above", "latency-at", "latency-below", "adoption-below", "adoption-at"],
)
def test_kpi_direction_decides_off_target(conn, leader, direction, target, value, off):
    pid = pilot_on_day(conn, 30)
    kid = add_kpi(conn, leader, pid, direction=direction, target=target, unit="ms" if direction == "lower" else "%")
    read(conn, leader, pid, kid, value)
    got = codes(conn)
    assert ((pid, "KPI_OFF_TARGET") in got) is off
    if off and direction == "lower":
        assert got[(pid, "KPI_OFF_TARGET")] == "p95 latency: 950 ms against a target of 800 ms (lower is better)"


def test_only_the_latest_reading_counts_for_off_target(conn, leader):
    pid = pilot_on_day(conn, 30)
    kid = add_kpi(conn, leader, pid)
    read(conn, leader, pid, kid, 950, AS_OF - timedelta(days=7))
    read(conn, leader, pid, kid, 780, AS_OF)
    assert (pid, "KPI_OFF_TARGET") not in codes(conn)
    assert (pid, "KPI_OFF_TARGET") in codes(conn, AS_OF - timedelta(days=1))  # before the better reading


@pytest.mark.parametrize("days, stale", [(29, False), (30, True)], ids=["29-days", "30-days"])
def test_kpi_stale_after_30_days_without_a_reading(conn, leader, days, stale):
    pid = pilot_on_day(conn, 60)
    kid = add_kpi(conn, leader, pid)
    read(conn, leader, pid, kid, 700, AS_OF - timedelta(days=days))
    got = codes(conn)
    assert ((pid, "KPI_STALE") in got) is stale
    if stale:
        assert got[(pid, "KPI_STALE")] == "p95 latency has had no reading for 30 days (threshold 30)"


def test_a_kpi_never_read_is_stale_from_the_start(conn, leader):
    pid = pilot_on_day(conn, 30)
    add_kpi(conn, leader, pid)
    assert (pid, "KPI_STALE") not in codes(conn)  # day 30: 29 days since the start
    pid = pilot_on_day(conn, 31)
    add_kpi(conn, leader, pid)
    assert codes(conn)[(pid, "KPI_STALE")] == "p95 latency has had no reading since the start 30 days ago (threshold 30)"


def test_a_criterion_tied_to_a_kpi_follows_its_latest_reading(conn, leader):
    pid = pilot_on_day(conn, 10)
    kid = add_kpi(conn, leader, pid)
    decisions.save_criteria(conn, leader, pid, additions=[{"statement": "p95 under 800 ms", "kpi_id": kid}],
                            on=AS_OF, settings=S)
    assert store.list_criteria(conn, pid)[0].status.value == "unknown"
    read(conn, leader, pid, kid, 950)
    crit = store.list_criteria(conn, pid)[0]
    assert (crit.status.value, crit.evidence) == (
        "not_met", f"p95 latency: 950 ms against a target of 800 ms (lower is better) on {AS_OF}")
    read(conn, leader, pid, kid, 760, AS_OF + timedelta(days=1))
    assert store.list_criteria(conn, pid)[0].status.value == "met"
    assert decisions.suggested_verdict(store.list_criteria(conn, pid))[0] == decisions.VERDICT_GO


def test_monthly_running_cost_is_the_latest_cost_per_transaction_times_the_volume(conn, leader, admin):
    pid = pilot_on_day(conn, 30)
    pilots.edit_pilot(conn, leader, pid, {"expected_monthly_volume": 20000}, S, today=AS_OF)
    kid = add_kpi(conn, leader, pid, name="Cost per claim", category="cost_per_transaction", unit="EUR",
                  target=0.05)
    read(conn, leader, pid, kid, 0.08, AS_OF - timedelta(days=7))
    read(conn, leader, pid, kid, 0.05, AS_OF)
    assert production.monthly_cost(conn, pid, AS_OF) == pytest.approx(1000.0)
    assert production.monthly_cost(conn, pid, AS_OF - timedelta(days=1)) == pytest.approx(1600.0)


def test_readings_with_a_bad_value_write_nothing(conn, leader):
    pid = pilot_on_day(conn, 30)
    kid = add_kpi(conn, leader, pid)
    with pytest.raises(InvalidInput, match="Value"):
        production.record_readings(conn, leader, pid, [
            {"kpi_id": kid, "value": 700, "reading_on": AS_OF},
            {"kpi_id": kid, "value": "fast", "reading_on": AS_OF}])
    assert store.readings_frame(conn, pid).empty


def test_the_weekly_update_carries_readings_in_the_same_transaction(conn, leader):
    pid = pilot_on_day(conn, 30)
    kid = add_kpi(conn, leader, pid)
    updates.post_weekly_update(conn, leader, {"pilot_id": pid, "health": "green", "summary": "ok"}, AS_OF,
                                readings=[{"kpi_id": kid, "value": 720}])
    assert list(store.readings_frame(conn, pid)["value"]) == [720]
    with pytest.raises(InvalidInput, match="Health"):
        updates.post_weekly_update(conn, leader, {"pilot_id": pid, "health": "", "summary": "x"}, AS_OF,
                                    readings=[{"kpi_id": kid, "value": 650}])
    assert list(store.readings_frame(conn, pid)["value"]) == [720]  # nothing half-written
    updates.post_weekly_update(conn, leader, {"pilot_id": pid, "health": "green", "summary": "ok"}, AS_OF,
                                readings=[{"kpi_id": kid, "value": 720}])
    assert len(store.readings_frame(conn, pid)) == 1  # a repeated submit adds nothing


# --- readiness -------------------------------------------------------------

@pytest.mark.parametrize("day, flagged", [(14, False), (15, True)], ids=["day-14", "day-15"])
def test_governance_late_from_day_15(conn, leader, day, flagged):
    pid = pilot_on_day(conn, day)
    assert ((pid, "GOVERNANCE_LATE") in codes(conn)) is flagged


def test_governance_review_done_clears_governance_late(conn, leader):
    pid = pilot_on_day(conn, 20)
    assert codes(conn)[(pid, "GOVERNANCE_LATE")] == "governance review not started on day 20 (due by day 14)"
    production.save_readiness(conn, leader, pid, {"governance_review": {"status": "done", "evidence": "minutes"}})
    assert (pid, "GOVERNANCE_LATE") not in codes(conn)


def test_required_items_done_or_not_applicable_clear_the_readiness_gap(conn, leader):
    pid = demo.make_pilot(conn)
    required = [i for i in store.readiness_items(conn) if i["required_for_go"]]
    assert len(production.required_gaps(store.pilot_readiness(conn, pid))) == len(required)
    items = {i["key"]: {"status": "done"} for i in required}
    items[required[0]["key"]] = {"status": "not_applicable", "evidence": "no data sources"}
    items[required[1]["key"]] = {"status": "in_progress"}
    production.save_readiness(conn, leader, pid, items)
    assert production.required_gaps(store.pilot_readiness(conn, pid)) == [required[1]["label"]]


def test_an_unknown_readiness_status_is_refused_and_writes_nothing(conn, leader):
    pid = demo.make_pilot(conn)
    with pytest.raises(InvalidInput, match="is not a readiness status"):
        production.save_readiness(conn, leader, pid, {"load_test": {"status": "done"}, "rollback": {"status": "maybe"}})
    assert all(r["status"] == "not_started" for r in store.pilot_readiness(conn, pid))


def test_only_an_admin_edits_the_checklist_and_nothing_is_deleted(conn, admin, leader):
    rows = store.readiness_items(conn, active_only=False)
    edited = [dict(r) for r in rows] + [{"key": "red_team", "dimension": "governance",
                                         "label": "Red-team exercise", "required_for_go": True, "active": True}]
    edited[0]["active"] = False
    with pytest.raises(PermissionDenied):
        production.save_checklist(conn, leader, edited)
    production.save_checklist(conn, admin, [{k: r[k] for k in ("key", "dimension", "label", "required_for_go", "active")}
                                            for r in edited])
    keys = {i["key"] for i in store.readiness_items(conn)}
    assert "red_team" in keys and rows[0]["key"] not in keys
    assert rows[0]["key"] in {i["key"] for i in store.readiness_items(conn, active_only=False)}


# --- rights and the handover questions --------------------------------------

def test_a_viewer_writes_none_of_it(conn, viewer, leader):
    pid = demo.make_pilot(conn)
    with pytest.raises(PermissionDenied):
        production.add_privilege(conn, viewer, pid, {"kind": "budget", "description": "x"})
    with pytest.raises(PermissionDenied):
        add_kpi(conn, viewer, pid)
    with pytest.raises(PermissionDenied):
        production.save_readiness(conn, viewer, pid, {"load_test": {"status": "done"}})
    kid = add_kpi(conn, leader, pid)
    with pytest.raises(PermissionDenied):
        read(conn, viewer, pid, kid, 700)
    assert store.list_privileges(conn, pid) == [] and store.readings_frame(conn, pid).empty


def test_the_three_handover_questions(conn, leader):
    pid = demo.make_pilot(conn, operational_owner_id=None)
    pilot = store.get_pilot(conn, pid)
    answers = production.handover_answers(conn, pilot, AS_OF)
    assert [a.answered for a in answers] == [True, False, False]
    production.add_privilege(conn, leader, pid, {"kind": "budget", "description": "GPU hours"})
    add_kpi(conn, leader, pid)
    operator = demo.make_person(conn, name="Oscar Operator")
    pilots.edit_pilot(conn, leader, pid, {"operational_owner_id": operator}, S, today=AS_OF)
    answers = production.handover_answers(conn, store.get_pilot(conn, pid), AS_OF)
    assert [a.answered for a in answers] == [False, True, True]
    assert answers[0].detail == "1 of 1 borrowed privileges still undecided"
    assert answers[1].detail == "p95 latency (target 800 ms over 90 days)"
    assert answers[2].detail == "operational owner Oscar Operator"


def test_the_likely_bottleneck_follows_the_evidence(conn, leader):
    pid = demo.make_pilot(conn)
    add_kpi(conn, leader, pid)
    add_kpi(conn, leader, pid, name="Cost per claim", category="cost_per_transaction", unit="EUR", target=0.05)
    everything_but_governance = {i["key"]: {"status": "done"} for i in store.readiness_items(conn)
                                 if i["dimension"] != "governance"}
    production.save_readiness(conn, leader, pid, everything_but_governance)
    reason, evidence = production.likely_bottleneck(conn, store.get_pilot(conn, pid), AS_OF)
    assert reason == "Governance a slide deck"
    assert "governance readiness open: Governance review: legal, compliance, security" in evidence


# --- found in review -------------------------------------------------------

def test_privileges_count_as_they_stood_on_the_as_of_day(conn, leader):
    pid = demo.make_pilot(conn, go_no_go_date=AS_OF + timedelta(days=10))
    production.add_privilege(conn, leader, pid, {"kind": "budget", "description": "GPU hours",
                                                 "since": AS_OF - timedelta(days=20)})
    production.add_privilege(conn, leader, pid, {"kind": "other", "description": "Granted later",
                                                 "since": AS_OF + timedelta(days=5)})
    first = store.list_privileges(conn, pid)[0]
    production.decide_privilege(conn, leader, first.id, "withdraw", "standard budget", AS_OF + timedelta(days=3))
    assert codes(conn)[(pid, "PRIVILEGES_UNDECIDED")] == "1 of 1 borrowed privileges undecided with 10 days left"
    assert (pid, "WEAK_SHIP_SIGNAL") not in codes(conn)
    assert codes(conn, AS_OF + timedelta(days=3))[(pid, "WEAK_SHIP_SIGNAL")] == \
        "1 of 1 borrowed privileges to be withdrawn"


def test_a_tied_criterion_as_of_an_earlier_day_ignores_later_readings(conn, leader):
    pid = pilot_on_day(conn, 10)
    kid = add_kpi(conn, leader, pid)
    decisions.save_criteria(conn, leader, pid, additions=[{"statement": "p95 under 800 ms", "kpi_id": kid}],
                            on=AS_OF, settings=S)
    read(conn, leader, pid, kid, 700, AS_OF + timedelta(days=20))
    assert store.list_criteria(conn, pid, AS_OF)[0].status.value == "unknown"
    assert store.list_criteria(conn, pid, AS_OF + timedelta(days=20))[0].status.value == "met"


def test_with_two_cost_kpis_the_first_production_one_counts(conn, leader):
    pid = pilot_on_day(conn, 30)
    pilots.edit_pilot(conn, leader, pid, {"expected_monthly_volume": 1000}, S, today=AS_OF)
    a = add_kpi(conn, leader, pid, name="Cost per claim", category="cost_per_transaction", unit="EUR", target=1)
    b = add_kpi(conn, leader, pid, name="Cost per call", category="cost_per_transaction", unit="EUR", target=1)
    read(conn, leader, pid, b, 0.2)
    read(conn, leader, pid, a, 0.5)
    assert production.monthly_cost(conn, pid, AS_OF) == pytest.approx(500.0)
    read(conn, leader, pid, b, 0.9, AS_OF + timedelta(days=1))
    assert production.monthly_cost(conn, pid, AS_OF + timedelta(days=1)) == pytest.approx(500.0)


def test_a_retired_governance_review_item_is_not_asked_for(conn, admin):
    pid = pilot_on_day(conn, 20)
    assert (pid, "GOVERNANCE_LATE") in codes(conn)
    rows = [dict(r) for r in store.readiness_items(conn, active_only=False)]
    for r in rows:
        r.pop("position")
        if r["key"] == "governance_review":
            r["active"] = False
    production.save_checklist(conn, admin, rows)
    assert (pid, "GOVERNANCE_LATE") not in codes(conn)


def test_absurd_numbers_and_a_twice_recorded_privilege_are_refused(conn, leader):
    pid = pilot_on_day(conn, 30)
    kid = add_kpi(conn, leader, pid)
    with pytest.raises(InvalidInput, match="Value: must be a number between"):
        read(conn, leader, pid, kid, 1e308)
    production.add_privilege(conn, leader, pid, {"kind": "budget", "description": "GPU hours"})
    with pytest.raises(InvalidInput, match="already in the ledger"):
        production.add_privilege(conn, leader, pid, {"kind": "budget", "description": "gpu hours"})
    with pytest.raises(InvalidInput, match="^Kind: "):
        production.add_privilege(conn, leader, pid, {"kind": "favour", "description": "x"})
    assert len(store.list_privileges(conn, pid)) == 1
