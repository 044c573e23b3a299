"""Storage's reads for whole pages and saves: one query for all the rows a
page or a save needs (no query per seat, per criterion or per pilot), with
the same answers the one-row reads give; the bulk writes of the demo and
the benchmark."""

import pandas as pd

from portfolio.domain.models import CriterionIn, KpiIn, PrivilegeIn, ReadingIn
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import (
    CriterionStatus,
    Direction,
    Disposition,
    KpiCategory,
    PrivilegeKind,
    ReadinessStatus,
    Seat,
    Stage,
)
from portfolio.services import decisions, demo
from portfolio.storage import bench, bulk, db, store
from tests.conftest import AS_OF


class Counting:
    """A connection that counts the statements run on it."""

    def __init__(self, conn):
        self.conn, self.statements = conn, []

    def execute(self, sql, *args):
        self.statements.append(sql)
        return self.conn.execute(sql, *args)

    def begin(self):
        self.statements.append("BEGIN")
        return self.conn.begin()

    def __getattr__(self, name):
        return getattr(self.conn, name)


def test_seats_held_reads_every_seat_in_one_query_seat_by_seat_and_by_name(conn):
    person = demo.make_person(conn)
    owned = [demo.make_pilot(conn, name=name, product_owner_id=person) for name in ("Zeta", "Alpha")]
    led = demo.make_pilot(conn, name="Middle", technical_lead_id=person, operational_owner_id=person)
    demo.make_pilot(conn, name="Not theirs")
    counting = Counting(conn)
    held = store.seats_held(counting, person)
    assert [(p.id, seat) for p, seat in held] == [
        (owned[1], Seat.PRODUCT_OWNER), (owned[0], Seat.PRODUCT_OWNER),
        (led, Seat.TECHNICAL_LEAD), (led, Seat.OPERATIONAL_OWNER)]
    assert held[0][0] == store.get_pilot(conn, owned[1])
    assert len(counting.statements) == 1
    assert store.seats_held(conn, demo.make_person(conn)) == []


def test_bridge_pilots_are_read_in_one_query_with_their_checklists_and_gaps(conn):
    leaving = demo.make_person(conn, active=False)
    ready = demo.make_pilot(conn, name="Ready", stage=Stage.BRIDGE)
    for key, _ in decisions.BRIDGE_ITEMS:
        store.set_bridge_item(conn, ready, key, True, f"{key} done", None)
    unowned = demo.make_pilot(conn, name="Unowned", stage=Stage.BRIDGE, operational_owner_id=None)
    left = demo.make_pilot(conn, name="Left", stage=Stage.BRIDGE, operational_owner_id=leaving)
    store.set_bridge_item(conn, left, "kill_switch", True, "tested", None)
    ids = [left, ready, unowned]

    counting = Counting(conn)
    cards = decisions.bridge_pilots(counting, ids)
    assert len(counting.statements) == 1
    assert [c.pilot.id for c in cards] == ids  # in the order asked for
    for card in cards:
        assert card.pilot == store.get_pilot(conn, card.pilot.id)
        assert card.checklist == store.bridge_checklist(conn, card.pilot.id)
        assert card.gaps == decisions.bridge_gaps(conn, card.pilot)
    by_id = {c.pilot.id: c for c in cards}
    assert by_id[ready].gaps == []
    assert by_id[unowned].gaps[0] == "no operational owner"
    assert by_id[left].gaps[0] == "the operational owner is inactive"
    assert by_id[left].checklist == {"kill_switch": {"item": "kill_switch", "done": True, "note": "tested"}}
    assert decisions.bridge_pilots(conn, []) == []


def test_stored_criteria_keep_their_own_status_where_the_shown_one_is_the_kpis(conn):
    pid = demo.make_pilot(conn)
    kpi = store.insert_kpi(conn, pid, KpiIn(name="p95 latency", category=KpiCategory.LATENCY,
                                            direction=Direction.LOWER, target=800.0))
    store.insert_reading(conn, pid, ReadingIn(kpi_id=kpi, value=700.0, reading_on=AS_OF), None)
    tied = store.insert_criterion(conn, pid, CriterionIn(statement="Fast enough", kpi_id=kpi))
    own = store.insert_criterion(conn, pid, CriterionIn(statement="Liked", status=CriterionStatus.MET,
                                                        evidence="survey"))
    gone = store.insert_criterion(conn, pid, CriterionIn(statement="Dropped"))
    store.remove_criterion(conn, gone)
    stored = store.stored_criteria(conn, pid)
    assert list(stored) == [tied, own]
    assert (stored[tied].status, stored[tied].evidence, stored[tied].kpi_id) == (CriterionStatus.UNKNOWN, "", kpi)
    assert (stored[own].status, stored[own].evidence) == (CriterionStatus.MET, "survey")
    shown = {c.id: c for c in store.list_criteria(conn, pid)}
    assert shown[tied].status == CriterionStatus.MET  # the KPI's, on show
    assert shown[own] == stored[own]


def test_saving_criteria_reads_them_once_however_many_are_edited(conn, leader):
    def reads_before_writing(n: int) -> int:
        pid = demo.make_pilot(conn, start_date=AS_OF)
        ids = [store.insert_criterion(conn, pid, CriterionIn(statement=f"Criterion {i}")) for i in range(n)]
        counting = Counting(conn)
        decisions.save_criteria(counting, leader, pid, on=AS_OF, settings=Settings(), edits=[
            {"id": i, "statement": f"Criterion {i} reworded", "status": "met", "evidence": "seen"} for i in ids])
        assert [c.statement for c in store.list_criteria(conn, pid)] == [f"Criterion {i} reworded" for i in ids]
        before = counting.statements[:counting.statements.index("BEGIN")]
        return sum("FROM criterion" in sql for sql in before)

    assert reads_before_writing(1) == reads_before_writing(4) == 2  # shown, and as stored


def test_readiness_recorded_gives_status_and_evidence_by_item(conn):
    pid = demo.make_pilot(conn)
    assert store.readiness_recorded(conn, pid) == {}
    first, second = [item["key"] for item in store.readiness_items(conn)][:2]
    store.set_readiness(conn, pid, first, ReadinessStatus.DONE, "minutes", None)
    store.set_readiness(conn, pid, second, ReadinessStatus.IN_PROGRESS, "", None)
    assert store.readiness_recorded(conn, pid) == {first: ("done", "minutes"), second: ("in_progress", "")}


def test_a_privilege_names_its_pilot_and_its_disposition(conn):
    pid = demo.make_pilot(conn)
    privilege = store.insert_privilege(conn, pid, PrivilegeIn(kind=PrivilegeKind.DATA_ACCESS,
                                                              description="Claims warehouse"))
    assert store.privilege_pilot(conn, privilege) == pid
    assert store.privilege_disposition(conn, privilege) == ("undecided", "")
    store.decide_privilege(conn, privilege, Disposition.WITHDRAW, None, AS_OF, "standard access")
    assert store.privilege_disposition(conn, privilege) == ("withdraw", "standard access")
    assert store.privilege_pilot(conn, privilege + 1) is None
    assert store.privilege_disposition(conn, privilege + 1) is None


def test_names_by_id_include_archived_pilots(conn):
    person = demo.make_person(conn, name="Priya Shah")
    pid = demo.make_pilot(conn, name="Invoice matching")
    assert store.person_names(conn)[person] == "Priya Shah"
    assert store.pilot_names(conn) == {pid: "Invoice matching"}


def test_a_frame_is_inserted_in_one_statement_with_ids_from_the_sequence(conn):
    ids = bulk.insert_frame(conn, "person", "person_id_seq", pd.DataFrame({
        "name": ["Ann", "Bo"], "email": ["ann@example.com", "bo@example.com"],
        "email_key": ["ann@example.com", "bo@example.com"], "role": ["viewer", "viewer"]}))
    assert [store.get_person(conn, i).name for i in ids] == ["Ann", "Bo"]
    assert bulk.insert_frame(conn, "person", "person_id_seq", pd.DataFrame()) == []


def test_the_benchmark_adds_history_up_to_its_weeks(tmp_path):
    weeks = 60
    path = tmp_path / "bench.duckdb"
    demo.build_demo(path, AS_OF, 6)
    with db.session(path) as c:
        before = {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in bench.COUNTED_TABLES}
    sizes = bench.add_history(path, weeks, 2)
    with db.session(path) as c:
        per_pilot = c.execute("SELECT max(n) FROM (SELECT count(*) AS n FROM weekly_update GROUP BY pilot_id)"
                              ).fetchone()[0]
        after = {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in bench.COUNTED_TABLES}
        assert bench.pilots_to_update(c, 2) == c.execute(
            "SELECT p.id, p.product_owner_id FROM pilot p JOIN person o ON o.id = p.product_owner_id"
            " WHERE o.active AND p.stage = 'pilot' ORDER BY p.id LIMIT 2").fetchall()
        assert len(bench.product_owner_emails(c, 3)) == 3
    assert sizes == after
    assert per_pilot == weeks
    assert after["audit"] == before["audit"] + 2 * after["pilot"]
    assert after["kpi_reading"] > before["kpi_reading"]


def test_the_floor_of_the_flags_reads_the_plain_facts_of_every_pilot(fixed_demo_db):
    with db.session(fixed_demo_db) as c:
        facts = bench.raw_facts(c, AS_OF)
        pilots = c.execute("SELECT id, stage FROM pilot WHERE NOT archived ORDER BY id").fetchall()
        red = c.execute("SELECT count(*) FROM weekly_update WHERE health = 'red' AND posted_on <= ?",
                        [AS_OF]).fetchone()[0]
        last = dict(c.execute("SELECT pilot_id, max(posted_on) FROM weekly_update WHERE posted_on <= ?"
                              " GROUP BY pilot_id", [AS_OF]).fetchall())
        criteria = c.execute("SELECT count(*) FROM criterion WHERE NOT removed").fetchone()[0]
    # One row per pilot, its facts counted plainly: no rule decides anything here.
    assert sorted(zip(facts["id"], facts["stage"])) == pilots
    assert facts["red_weeks"].sum() == red > 0
    assert facts["criteria"].sum() == criteria > 0
    read = facts.dropna(subset=["last_update"])
    assert {int(i): d.date() for i, d in zip(read["id"], read["last_update"])} == last
