"""The audit trail: a record for each kind of write with the right before and
after, written in the same transaction as the change (an injected failure
rolls back both), no silent overwrites, repeated submits writing once,
handover, archive and restore, and "what changed since"."""

from datetime import date, timedelta
from pathlib import Path

import pytest

from portfolio import flags
from portfolio.domain.errors import EditConflict, InvalidInput, PermissionDenied
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import Role
from portfolio.services import decisions, demo, importer, people, production, updates
from portfolio.services.pilots import (
    archive_pilot,
    create_pilot,
    edit_pilot,
    start_pilot,
)
from portfolio.services.reporting import digest, overview, review
from portfolio.storage import audit, store
from tests.conftest import AS_OF, accept_handover, actor_of

pytestmark = pytest.mark.usefixtures("kept_units")  # the units the pilots here are given

S = Settings()
ROOT = Path(__file__).resolve().parents[2]


def trail(conn, **kw) -> list[dict]:
    """Oldest first, as plain objects."""
    return list(reversed(audit.as_records(audit.trail(conn, **kw))))


def last(conn, entity: str) -> dict:
    return trail(conn, entity=entity)[-1]


def count(conn) -> int:
    return conn.execute("SELECT count(*) FROM audit").fetchone()[0]


def kpi_values(**overrides) -> dict:
    return {"name": "p95 latency", "category": "latency", "unit": "ms", "direction": "lower",
            "baseline": 1400, "target": 800, "horizon_days": 90, "production": True} | overrides


# --- a record for each kind of write -----------------------------------------


def test_creating_and_editing_a_pilot_records_before_and_after(conn, admin, settings):
    po = demo.make_person(conn, name="Pat Owner")
    pid = create_pilot(conn, admin, {"name": "Claims triage", "stage": "pilot", "business_unit": "Claims",
                                              "start_date": AS_OF, "product_owner_id": po}, settings, today=AS_OF)
    created = last(conn, "pilot")
    assert (created["action"], created["before"], created["after"]["name"]) == ("create", None, "Claims triage")
    assert created["actor"].startswith("Ada Admin") and created["actor_id"] == admin.person_id
    assert created["via"] == "app" and created["pilot_id"] == pid

    edit_pilot(conn, admin, pid, {"business_unit": "Finance"}, settings, expected_version=1, today=AS_OF)
    edited = last(conn, "pilot")
    assert edited["action"] == "edit"
    assert (edited["before"]["business_unit"], edited["after"]["business_unit"]) == ("Claims", "Finance")
    assert edited["after"]["version"] == edited["before"]["version"] + 1
    assert "business unit 'Claims' → 'Finance'" in edited["change"]


def test_start_update_revision_and_readings_are_recorded(conn, admin, leader, settings):
    pid = create_pilot(conn, admin, {"name": "Proposed one", "stage": "proposed"}, settings, today=AS_OF)
    start_pilot(conn, leader, pid, AS_OF, settings, today=AS_OF)
    started = last(conn, "pilot")
    assert started["action"] == "start"
    assert (started["before"]["stage"], started["after"]["stage"]) == ("proposed", "pilot")
    assert started["before"]["start_date"] is None and started["after"]["start_date"] == str(AS_OF)

    kpi = production.add_kpi(conn, leader, pid, kpi_values())
    assert last(conn, "kpi")["after"]["target"] == 800
    updates.post_weekly_update(conn, leader, {"pilot_id": pid, "health": "green", "summary": "Week one"}, AS_OF,
                                readings=[{"kpi_id": kpi, "value": 900}])
    updates.post_weekly_update(conn, leader, {"pilot_id": pid, "health": "amber", "summary": "Week one, again"},
                                AS_OF)
    posted, revised = trail(conn, entity="weekly_update")
    assert (posted["action"], posted["after"]["health"], posted["after"]["revision"]) == ("post", "green", 1)
    assert (revised["action"], revised["after"]["health"], revised["after"]["revision"]) == ("revise", "amber", 2)
    reading = last(conn, "kpi_reading")
    assert (reading["after"]["value"], reading["after"]["kpi_id"], reading["pilot_id"]) == (900, kpi, pid)


def test_criteria_decision_bridge_promote_and_retire_are_recorded(conn, leader, settings):
    pid = demo.make_pilot(conn, start_date=AS_OF - timedelta(days=5))
    decisions.save_criteria(conn, leader, pid, additions=[{"statement": "p95 under 800 ms"}], on=AS_OF,
                            settings=settings)
    crit = last(conn, "criterion")
    assert (crit["action"], crit["after"]["statement"]) == ("add", "p95 under 800 ms")
    decisions.save_criteria(conn, leader, pid, edits=[{"id": int(crit["entity_id"]), "status": "met",
                                                       "evidence": "dashboard"}], on=AS_OF, settings=settings)
    marked = last(conn, "criterion")
    assert (marked["action"], marked["before"]["status"], marked["after"]["status"]) == ("marked", "unknown", "met")

    accept_handover(conn, pid, AS_OF, "with_conditions", "Runbook first")
    accepted = last(conn, "handover_acceptance")
    assert (accepted["action"], accepted["after"]["verdict"], accepted["after"]["note"], accepted["pilot_id"]) == (
        "accepted with conditions", "with_conditions", "Runbook first", pid)
    decisions.record_decision(conn, leader, {"pilot_id": pid, "kind": "go", "decided_on": AS_OF,
                                             "decided_by": leader.person_id, "rationale": "Met everything"}, settings)
    decided = last(conn, "decision")
    assert (decided["action"], decided["after"]["kind"], decided["after"]["rationale"]) == ("go", "go", "Met everything")
    moved = last(conn, "pilot")
    assert moved["action"] == "decision: go" and (moved["before"]["stage"], moved["after"]["stage"]) == ("pilot", "bridge")

    decisions.save_bridge_checklist(conn, leader, pid, {"phased_rollout": {"done": True, "note": "phased"}})
    check = last(conn, "bridge_check")
    assert (check["entity_id"], check["before"], check["after"]["done"]) == (f"{pid}/phased_rollout", None, True)

    decisions.promote(conn, leader, pid, AS_OF, override_reason="board asked for it")
    assert (last(conn, "pilot")["action"], last(conn, "pilot")["after"]["stage"]) == ("promote", "production")
    decisions.retire(conn, leader, pid, AS_OF, note="replaced", stop_reason="superseded")
    assert (last(conn, "pilot")["action"], last(conn, "pilot")["after"]["stage"]) == ("retire", "retired")


def test_privileges_kpis_readiness_and_the_checklist_are_recorded(conn, admin, leader):
    pid = demo.make_pilot(conn)
    priv = production.add_privilege(conn, leader, pid, {"kind": "budget", "description": "Innovation budget"})
    assert last(conn, "privilege")["after"]["disposition"] == "undecided"
    production.decide_privilege(conn, leader, priv, "make_permanent", "in next year's plan", AS_OF)
    decided = last(conn, "privilege")
    assert (decided["before"]["disposition"], decided["after"]["disposition"]) == ("undecided", "make_permanent")

    kpi = production.add_kpi(conn, leader, pid, kpi_values())
    production.edit_kpi(conn, leader, kpi, {"target": 700}, expected_version=1)
    edited = last(conn, "kpi")
    assert (edited["action"], edited["before"]["target"], edited["after"]["target"]) == ("edit", 800, 700)

    production.save_readiness(conn, leader, pid, {"load_test": {"status": "done", "evidence": "report", "version": 0}})
    ready = last(conn, "readiness")
    assert (ready["entity_id"], ready["before"], ready["after"]["status"]) == (f"{pid}/load_test", None, "done")

    rows = [i | {"required_for_go": i["required_for_go"]} for i in store.readiness_items(conn, active_only=False)]
    rows[0] = rows[0] | {"label": "Load tested at five times the peak"}
    production.save_checklist(conn, admin, [{k: r[k] for k in ("key", "dimension", "label", "required_for_go", "active")}
                                            for r in rows])
    line = last(conn, "readiness_item")
    assert line["entity_id"] == rows[0]["key"] and line["after"]["label"] == "Load tested at five times the peak"
    assert len(trail(conn, entity="readiness_item")) == 1  # the lines left as they were record nothing


def test_people_writes_are_recorded(conn, admin):
    pid = people.add_person(conn, admin, {"name": "New Person", "email": "new@example.com", "role": "viewer"})
    assert last(conn, "person")["after"]["email"] == "new@example.com"
    people.edit_person(conn, admin, pid, {"role": "product_owner"})
    edited = last(conn, "person")
    assert (edited["before"]["role"], edited["after"]["role"]) == ("viewer", "product_owner")
    people.deactivate_person(conn, admin, pid)
    people.reactivate_person(conn, admin, pid)
    actions = [(r["action"], r["after"]["active"]) for r in trail(conn, entity="person")]
    assert actions[-2:] == [("deactivate", False), ("reactivate", True)]


def test_an_import_records_each_pilot_and_the_import_with_the_importer(conn, admin, settings):
    frame = importer.read_table(b"Use case ID,Title,Stage,Owner\nUC-1,Claims bot,pilot,nora@example.com\n",
                                "pilots.csv")
    plan = importer.plan_import(conn, frame, importer.guess_mapping(list(frame.columns)), settings)
    importer.apply_import(conn, admin, plan, source="pilots.csv")
    created = last(conn, "pilot")
    assert (created["action"], created["before"], created["after"]["external_id"]) == ("import", None, "UC-1")
    assert created["actor_id"] == admin.person_id
    assert last(conn, "person")["after"]["email"] == "nora@example.com"
    summary = last(conn, "import")
    assert summary["entity_id"] == "pilots.csv" and summary["after"]["created"] == 1

    again = importer.read_table(b"Use case ID,Title,Stage,Owner\nUC-1,Claims assistant,pilot,nora@example.com\n",
                                "pilots.csv")
    importer.apply_import(conn, admin, importer.plan_import(conn, again, importer.guess_mapping(list(again.columns)),
                                                            settings))
    updated = last(conn, "pilot")
    assert (updated["before"]["name"], updated["after"]["name"]) == ("Claims bot", "Claims assistant")


def test_a_recorded_digest_is_on_record(conn, admin, settings):
    demo.make_pilot(conn)
    digest.build_digest(conn, AS_OF, settings, record=True, actor=admin)
    run = last(conn, "digest")
    assert run["action"] == "record" and run["after"]["as_of"] == str(AS_OF)


def test_no_code_edits_or_deletes_audit_records():
    sources = [p for d in ("portfolio", "pages") for p in (ROOT / d).glob("*.py")] + [ROOT / "app.py"]
    for path in sources:
        text = path.read_text().lower()
        for forbidden in ("update audit", "delete from audit", "drop table audit", "truncate audit"):
            assert forbidden not in text, f"{path.name} has '{forbidden}'"


# --- the change and its record are one transaction ---------------------------


def test_a_failure_writing_the_record_rolls_back_the_change(conn, admin, settings, monkeypatch):
    pid = demo.make_pilot(conn, business_unit="Claims")
    before = count(conn)

    def broken(*args, **kwargs):
        raise RuntimeError("disk hiccup while writing the audit record")

    monkeypatch.setattr(audit, "record", broken)
    with pytest.raises(RuntimeError):
        edit_pilot(conn, admin, pid, {"business_unit": "Finance"}, settings, today=AS_OF)
    assert store.get_pilot(conn, pid).business_unit == "Claims"
    assert count(conn) == before


def test_a_failure_after_the_record_rolls_back_both(conn, leader, settings, monkeypatch):
    pid = demo.make_pilot(conn, stage="proposed", start_date=None)
    before = count(conn)

    def broken(*args, **kwargs):
        raise RuntimeError("failed halfway")

    monkeypatch.setattr(store, "record_stage_event", broken)  # runs after the pilot's audit record
    with pytest.raises(RuntimeError):
        start_pilot(conn, leader, pid, AS_OF, settings, today=AS_OF)
    assert store.get_pilot(conn, pid).stage.value == "proposed"
    assert count(conn) == before


def test_a_failing_import_chunk_leaves_no_pilot_and_no_record(conn, admin, settings, monkeypatch):
    body = "Use case ID,Title,Stage\n" + "".join(f"UC-{i},Pilot {i},pilot\n" for i in range(1200))
    frame = importer.read_table(body.encode(), "big.csv")
    plan = importer.plan_import(conn, frame, importer.guess_mapping(list(frame.columns)), settings)
    calls = {"n": 0}
    original = audit.record_many

    def fail_second_chunk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("failed in the second chunk")
        return original(*args, **kwargs)

    monkeypatch.setattr(audit, "record_many", fail_second_chunk)
    monkeypatch.setattr(importer.apply, "CHUNK_ROWS", 500)
    with pytest.raises(RuntimeError):
        importer.apply_import(conn, admin, plan)
    assert conn.execute("SELECT count(*) FROM pilot").fetchone()[0] == 0
    assert count(conn) == 0


# --- no silent overwrites -----------------------------------------------------


def test_the_second_of_two_editors_is_refused_naming_the_first(conn, admin, leader, settings):
    pid = demo.make_pilot(conn, business_unit="Claims", name="Claims triage")
    opened = store.get_pilot(conn, pid).version  # both open the form now
    edit_pilot(conn, leader, pid, {"business_unit": "Finance"}, settings, expected_version=opened, today=AS_OF)
    with pytest.raises(EditConflict) as refused:
        edit_pilot(conn, admin, pid, {"business_unit": "Operations", "name": "Claims helper"}, settings,
                            expected_version=opened, today=AS_OF)
    message = str(refused.value)
    assert "Lee Leader" in message and "business unit 'Claims' → 'Finance'" in message and "UTC" in message
    assert store.get_pilot(conn, pid).business_unit == "Finance"  # the first save stands
    outcome = [(r["action"], r["actor_id"]) for r in trail(conn, pilot_id=pid)]
    assert outcome == [("edit", leader.person_id), ("edit refused", admin.person_id)]
    attempt = trail(conn, pilot_id=pid)[-1]
    assert attempt["after"]["business_unit"] == "Operations" and attempt["after"]["name"] == "Claims helper"
    # Saving again from the record as it is now applies it, knowingly.
    edit_pilot(conn, admin, pid, {"business_unit": "Operations"}, settings,
                        expected_version=store.get_pilot(conn, pid).version, today=AS_OF)
    assert store.get_pilot(conn, pid).business_unit == "Operations"


def test_two_editors_of_a_criterion_privilege_kpi_and_readiness_item(conn, leader, settings):
    pid = demo.make_pilot(conn, start_date=AS_OF - timedelta(days=3))
    other = actor_of(conn, Role.LEADERSHIP, name="Olu Other")
    decisions.save_criteria(conn, leader, pid, additions=[{"statement": "p95 under 800 ms"}], on=AS_OF, settings=settings)
    crit = store.list_criteria(conn, pid)[0]
    decisions.save_criteria(conn, other, pid, edits=[{"id": crit.id, "status": "met", "version": crit.version}],
                            on=AS_OF, settings=settings)
    with pytest.raises(EditConflict, match="Olu Other <[^>]+> changed status 'unknown' → 'met'"):
        decisions.save_criteria(conn, leader, pid, edits=[{"id": crit.id, "status": "not_met", "version": crit.version}],
                                on=AS_OF, settings=settings)
    assert store.list_criteria(conn, pid)[0].status.value == "met"

    priv = production.add_privilege(conn, leader, pid, {"kind": "budget", "description": "Innovation budget"})
    production.decide_privilege(conn, other, priv, "make_permanent", "", AS_OF, expected_version=1)
    with pytest.raises(EditConflict, match="Olu Other <[^>]+> changed disposition"):
        production.decide_privilege(conn, leader, priv, "withdraw", "standard budget", AS_OF, expected_version=1)
    assert store.list_privileges(conn, pid)[0].disposition.value == "make_permanent"

    kpi = production.add_kpi(conn, leader, pid, kpi_values())
    production.edit_kpi(conn, other, kpi, {"target": 700}, expected_version=1)
    with pytest.raises(EditConflict, match="Olu Other <[^>]+> changed target '800' → '700'"):
        production.edit_kpi(conn, leader, kpi, {"target": 600}, expected_version=1)
    assert store.get_kpi(conn, kpi).target == 700

    production.save_readiness(conn, other, pid, {"load_test": {"status": "in_progress", "evidence": "", "version": 0}})
    with pytest.raises(EditConflict, match="Olu Other <[^>]+> set status .in progress."):
        production.save_readiness(conn, leader, pid, {"load_test": {"status": "done", "evidence": "x", "version": 0}})
    assert {r["key"]: r["status"] for r in store.pilot_readiness(conn, pid)}["load_test"] == "in_progress"
    refused = [(r["entity"], r["action"]) for r in trail(conn, pilot_id=pid) if r["action"].endswith("refused")]
    assert refused == [("criterion", "edit refused"), ("privilege", "decide refused"), ("kpi", "edit refused"),
                       ("readiness", "save refused")]
    # A refused save is kept as the record would have become: only what was typed differs.
    tried = [r for r in trail(conn, pilot_id=pid) if r["action"].endswith("refused")]
    assert [r["change"] for r in tried] == ["status 'met' → 'not met'",
                                            "disposition 'make permanent' → 'withdraw'; note '—' → 'standard budget'",
                                            "target '700' → '600'",
                                            "status 'in progress' → 'done'; evidence '—' → 'x'"]


def test_a_conflict_names_every_changed_item_and_keeps_the_others(conn, leader):
    pid = demo.make_pilot(conn)
    other = actor_of(conn, Role.LEADERSHIP, name="Olu Other")
    items = {"load_test": {"status": "done", "evidence": "report", "version": 0},
             "rollback": {"status": "done", "evidence": "runbook", "version": 0},
             "observability": {"status": "in_progress", "evidence": "", "version": 0}}
    production.save_readiness(conn, other, pid, {k: items[k] for k in ("load_test", "rollback")})
    # Opened before Olu saved: changes load test and rollback, and leaves observability as is.
    mine = {"load_test": {"status": "in_progress", "evidence": "", "version": 0},
            "rollback": {"status": "not_started", "evidence": "", "version": 0}}
    with pytest.raises(EditConflict) as refused:
        production.save_readiness(conn, leader, pid, mine)
    message = str(refused.value)
    assert "These were changed after you opened them" in message
    assert "Load tested" in message and "A rollback path" in message
    assert sorted(k for _, (_, k) in refused.value.conflicts) == ["load_test", "rollback"]
    status = {r["key"]: (r["status"], r["version"]) for r in store.pilot_readiness(conn, pid)}
    assert status["load_test"] == ("done", 1) and status["rollback"] == ("done", 1)


# --- a repeated submit writes once --------------------------------------------


def test_a_repeated_submit_writes_once(conn, admin, leader, settings):
    values = {"name": "Claims triage", "stage": "pilot", "start_date": AS_OF}
    first = create_pilot(conn, admin, values, settings, today=AS_OF)
    assert create_pilot(conn, admin, values, settings, today=AS_OF) == first
    assert len(store.list_pilots(conn)) == 1

    opened = store.get_pilot(conn, first).version
    edit_pilot(conn, admin, first, {"business_unit": "Claims"}, settings, expected_version=opened, today=AS_OF)
    edit_pilot(conn, admin, first, {"business_unit": "Claims"}, settings, expected_version=opened, today=AS_OF)
    assert store.get_pilot(conn, first).version == opened + 1

    person = {"name": "Nora New", "email": "nora@example.com", "role": "viewer"}
    assert people.add_person(conn, admin, person) == people.add_person(conn, admin, person)

    for _ in range(2):
        decisions.save_criteria(conn, leader, first, additions=[{"statement": "Adoption over 30 %"}], on=AS_OF,
                                settings=settings)
        updates.post_weekly_update(conn, leader, {"pilot_id": first, "health": "green", "summary": "Fine"}, AS_OF)
        production.save_readiness(conn, leader, first, {"rollback": {"status": "done", "evidence": "", "version": 0}})
    assert len(store.list_criteria(conn, first)) == 1
    assert len(store.list_updates(conn, first, with_history=True)) == 1
    counts = conn.execute("SELECT entity, action, count(*) FROM audit GROUP BY ALL ORDER BY ALL").fetchall()
    assert all(n == 1 for _, _, n in counts), counts


def test_a_repeated_deactivation_is_harmless(conn, admin):
    pid = demo.make_person(conn)
    people.deactivate_person(conn, admin, pid)
    people.deactivate_person(conn, admin, pid)
    assert [r["action"] for r in trail(conn, entity="person")] == ["deactivate"]


# --- handover ------------------------------------------------------------------


def test_deactivating_a_product_owner_with_handover_leaves_no_pilot_ownerless(conn, admin, settings):
    owner = demo.make_person(conn, name="Olive Owner")
    taker = demo.make_person(conn, name="Tess Taker")
    pilots = [demo.make_pilot(conn, product_owner_id=owner) for _ in range(2)]
    also_lead = demo.make_pilot(conn, technical_lead_id=owner)
    seats = people.seats_affected(conn, owner)
    assert len(seats) == 3
    handover = {(p.id, seat): taker for p, seat in seats}
    left = people.deactivate_person(conn, admin, owner, handover)
    assert left == []
    assert all(store.get_pilot(conn, p).product_owner_id == taker for p in pilots)
    assert store.get_pilot(conn, also_lead).technical_lead_id == taker
    ownerless = flags.portfolio_flags(conn, AS_OF, settings)
    assert not set(ownerless[ownerless["code"] == "OWNERLESS"]["pilot_id"]) & set(pilots)
    handed = [r for r in trail(conn, entity="pilot") if r["action"] == "handover"]
    assert len(handed) == 3 and all(r["actor_id"] == admin.person_id for r in handed)
    assert "product owner 'Olive Owner' → 'Tess Taker'" in handed[0]["change"]


def test_a_seat_not_handed_over_is_ownerless_until_someone_takes_it(conn, admin, settings):
    owner = demo.make_person(conn)
    pid = demo.make_pilot(conn, product_owner_id=owner)
    left = people.deactivate_person(conn, admin, owner, {})
    assert [(p.id, s.value) for p, s in left] == [(pid, "product_owner_id")]
    f = flags.portfolio_flags(conn, AS_OF, settings)
    assert pid in set(f[f["code"] == "OWNERLESS"]["pilot_id"])
    taker = demo.make_person(conn)
    assert people.reassign_seats(conn, admin, owner, {(pid, "product_owner_id"): taker}) == 1
    f = flags.portfolio_flags(conn, AS_OF, settings)
    assert pid not in set(f[f["code"] == "OWNERLESS"]["pilot_id"])


def test_a_handover_to_an_inactive_person_changes_nothing(conn, admin):
    owner, gone = demo.make_person(conn), demo.make_person(conn, active=False)
    pid = demo.make_pilot(conn, product_owner_id=owner)
    with pytest.raises(InvalidInput, match="Product owner: .* cannot take the seat .inactive."):
        people.deactivate_person(conn, admin, owner, {(pid, "product_owner_id"): gone})
    assert store.get_person(conn, owner).active and store.get_pilot(conn, pid).product_owner_id == owner


# --- archive, never delete -----------------------------------------------------


def test_an_archived_pilot_leaves_numbers_and_flags_and_comes_back(conn, admin, leader, settings):
    overdue = demo.make_pilot(conn, start_date=AS_OF - timedelta(days=120), name="Long overdue")
    demo.make_update(conn, overdue, AS_OF - timedelta(days=2))
    before = overview.build(conn, AS_OF, settings)
    assert overdue in set(before.flags["pilot_id"])

    with pytest.raises(PermissionDenied):
        archive_pilot(conn, leader, overdue)
    archive_pilot(conn, admin, overdue)
    after = overview.build(conn, AS_OF, settings)
    assert overdue not in set(after.flags["pilot_id"]) and overdue not in set(after.pilots["id"])
    assert after.numbers["Overdue"] == before.numbers["Overdue"] - 1
    assert [p.id for p in store.list_pilots(conn, archived=True)] == [overdue]
    assert store.list_updates(conn, overdue)  # its history stays

    with pytest.raises(InvalidInput, match="archived; an admin restores it"):
        updates.post_weekly_update(conn, admin, {"pilot_id": overdue, "health": "green", "summary": "x"}, AS_OF)
    with pytest.raises(InvalidInput, match="archived"):
        decisions.record_decision(conn, leader, {"pilot_id": overdue, "kind": "no_go", "decided_on": AS_OF,
                                                 "decided_by": leader.person_id, "rationale": "x"}, settings)

    archive_pilot(conn, admin, overdue, archived=False)
    assert overdue in set(flags.portfolio_flags(conn, AS_OF, settings)["pilot_id"])
    assert [r["action"] for r in trail(conn, pilot_id=overdue)] == ["archive", "restore"]


def test_an_archived_pilot_leaves_the_digest(conn, admin, leader, settings):
    pid = demo.make_pilot(conn, name="Quietly archived")
    production.add_privilege(conn, leader, pid, {"kind": "data_access", "description": "prod read",
                                                 "expires": AS_OF + timedelta(days=5)})
    assert [p["pilot"] for p in digest.build_digest(conn, AS_OF, settings, record=False)["privileges_expiring"]] == [
        "Quietly archived"]
    archive_pilot(conn, admin, pid)
    report = digest.build_digest(conn, AS_OF, settings, record=False)
    assert report["privileges_expiring"] == []
    assert "Quietly archived" not in str(report)


def test_stage_moves_are_recorded_with_their_reason(conn, leader, settings):
    pid = demo.make_pilot(conn, stage="proposed", start_date=None)
    start_pilot(conn, leader, pid, AS_OF, settings, today=AS_OF)
    started = last(conn, "stage_event")
    assert (started["action"], started["after"]["stage_before"], started["after"]["stage_after"]) == (
        "start", "proposed", "pilot")


def test_a_repeated_handover_is_harmless(conn, admin):
    owner, taker = demo.make_person(conn), demo.make_person(conn)
    pid = demo.make_pilot(conn, product_owner_id=owner)
    for _ in range(2):
        people.deactivate_person(conn, admin, owner, {(pid, "product_owner_id"): taker})
    assert store.get_pilot(conn, pid).product_owner_id == taker
    assert [r["action"] for r in trail(conn, pilot_id=pid)] == ["handover"]


# --- what changed since my last review ------------------------------------------


def test_what_changed_since_lists_stage_moves_decisions_seats_and_flags(conn, admin, leader, settings, monkeypatch):
    monkeypatch.setattr(audit, "now", lambda: __import__("datetime").datetime(2026, 3, 1, 9, 0))
    due = demo.make_pilot(conn, start_date=AS_OF - timedelta(days=89), name="Due pilot")
    stays = demo.make_pilot(conn, name="Quiet pilot")
    demo.make_update(conn, stays, AS_OF - timedelta(days=1))  # stale by the later review
    decisions.record_decision(conn, leader, {"pilot_id": due, "kind": "no_go", "decided_on": date(2026, 3, 1),
                                             "decided_by": leader.person_id, "rationale": "Adoption too low",
                                             "stop_reason": "workforce_never_invited"}, settings)
    newcomer = demo.make_person(conn, name="Nia Newcomer")
    edit_pilot(conn, admin, stays, {"executive_sponsor_id": newcomer}, settings, today=AS_OF)

    changes = review.changes_since(conn, date(2026, 2, 20), AS_OF, settings)
    assert changes.stage_moves[["pilot", "from", "to"]].values.tolist() == [["Due pilot", "pilot", "stopped"]]
    assert changes.decisions[["pilot", "kind"]].values.tolist() == [["Due pilot", "no_go"]]
    assert changes.seat_changes[["pilot", "seat", "to"]].values.tolist() == [["Quiet pilot", "Executive sponsor",
                                                                              "Nia Newcomer"]]
    assert changes.flags_raised.empty or due not in set(changes.flags_raised["pilot_id"])
    later = review.changes_since(conn, date(2026, 3, 2), AS_OF + timedelta(days=20), settings)
    assert later.stage_moves.empty and later.decisions.empty
    assert "STALE_UPDATE" in set(later.flags_raised["code"])
    nothing_before = review.changes_since(conn, date(2026, 2, 1), date(2026, 2, 10), settings)
    assert nothing_before.decisions.empty and nothing_before.seat_changes.empty
