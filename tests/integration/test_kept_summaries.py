"""The kept summaries of each pilot's history (storage/summaries.py): every
write of an update or a reading keeps them what the history gives, and
today's flags read from them are the flags the history gives."""

from __future__ import annotations

import csv
import shutil
from datetime import date, timedelta

import pytest

from portfolio import flags
from portfolio.domain.models import Actor, KpiIn, PilotIn, ReadingIn
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import Role
from portfolio.flags.rules import RULES_SQL, params
from portfolio.services import demo, importer, production, updates
from portfolio.services.reporting import export
from portfolio.storage import bench as bench_store
from portfolio.storage import db, store, summaries
from portfolio.storage import flags as flag_store
from portfolio.storage import restore as restore_store
from tests.conftest import AS_OF, actor_of

# A benchmark portfolio small enough to build in a couple of seconds: the
# demo's archetypes, then a year of weekly updates and readings each.
BENCH_PILOTS = 300
BENCH_WEEKS = 52


@pytest.fixture(scope="module")
def bench_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("kept-bench") / "bench.duckdb"
    demo.build_demo(path, AS_OF, BENCH_PILOTS)
    bench_store.add_history(path, BENCH_WEEKS, 0)
    return path


@pytest.fixture
def bench(bench_template, tmp_path):
    path = tmp_path / "bench.duckdb"
    shutil.copyfile(bench_template, path)
    with db.session(path) as c:
        yield c


def assert_kept_is_the_history(conn):
    kept, history = summaries.as_kept(conn), summaries.from_history(conn)
    assert kept["update_summary"] == history["update_summary"]
    assert kept["kpi_latest_reading"] == history["kpi_latest_reading"]


def assert_flags_agree(conn, settings, days, pilot_ids=()):
    """On each day (on or after the newest day in the history), the flags
    read from the summaries equal the flags read from the history: the
    portfolio's, and on the first day those of each of ``pilot_ids``."""
    for day in days:
        args = params(day, settings)
        assert flag_store.reads_kept(conn, args), f"the summaries are not read on {day}"
        kept = flags.portfolio_flags(conn, day, settings)
        history = flag_store.flag_rows(conn, RULES_SQL, args, from_history=True)
        assert len(kept) > 0
        assert kept.equals(flags._frame(history)), f"the flags differ on {day}"
    for pilot_id in pilot_ids:
        one = params(days[0], settings, pilot_id)
        assert flag_store.reads_kept(conn, one)
        assert flags.pilot_flags(conn, pilot_id, days[0], settings).equals(
            flags._frame(flag_store.flag_rows(conn, RULES_SQL, one, from_history=True)))


def owners_of(conn, n) -> list[tuple[int, Actor]]:
    return [(pid, Actor.of(store.get_person(conn, owner))) for pid, owner in bench_store.pilots_to_update(conn, n)]


def test_the_benchmark_portfolio_is_built_with_its_summaries_kept(bench):
    assert summaries.horizon(bench) <= AS_OF
    assert_kept_is_the_history(bench)


def test_todays_flags_from_the_summaries_are_the_historys(bench, settings):
    assert_flags_agree(bench, settings, [AS_OF, AS_OF + timedelta(days=15), AS_OF + timedelta(days=45)],
                       [pid for pid, _ in owners_of(bench, 2)])


def test_the_flags_still_agree_after_updates_revisions_and_readings(bench, settings):
    """Writes through the service, the way people make them: an update on
    a later day, its revision, a revision posted with an earlier day of the
    same week, red weeks in a row, an old week revised back to green, a
    reading, and a second reading of the same KPI on the same day."""
    posted = owners_of(bench, 6)
    days = [AS_OF + timedelta(days=n) for n in (1, 2, 8, 15, 22)]
    for n, (pid, owner) in enumerate(posted):
        health = ("red", "amber", "green")[n % 3]
        kpis = store.list_kpis(bench, pid)
        readings = [{"kpi_id": k.id, "value": 10.0 + n} for k in kpis[:1]]
        updates.post_weekly_update(bench, owner, {"pilot_id": pid, "health": health, "summary": "Later"},
                                   days[0], readings)
        updates.post_weekly_update(bench, owner, {"pilot_id": pid, "health": "red", "summary": "Revised"},
                                   days[1], [{"kpi_id": k.id, "value": 99.0 + n} for k in kpis[:1]])
    # The same KPI read again the same day, with the update unchanged.
    pid, owner = posted[2]
    kpi = store.list_kpis(bench, pid)[0].id
    updates.post_weekly_update(bench, owner, {"pilot_id": pid, "health": "red", "summary": "Revised"},
                               days[1], [{"kpi_id": kpi, "value": 7.5}])
    assert store.list_kpis(bench, pid)[0].latest_value == 7.5
    pid, owner = posted[0]
    # A revision posted under an earlier day of the same week: the later
    # day's one is superseded from then.
    updates.post_weekly_update(bench, owner, {"pilot_id": pid, "health": "green", "summary": "Backdated"},
                               days[0] - timedelta(days=1))
    # Three red weeks in a row for another pilot, then its middle week revised green.
    pid, owner = posted[1]
    for day in days[2:]:
        updates.post_weekly_update(bench, owner, {"pilot_id": pid, "health": "red", "summary": "Red"}, day)
    assert "the last 3 updates were all red" in " ".join(flags.pilot_flags(bench, pid, days[-1], settings)["reason"])
    updates.post_weekly_update(bench, owner, {"pilot_id": pid, "health": "green", "summary": "Fixed"}, days[3])
    assert_kept_is_the_history(bench)
    assert summaries.horizon(bench) == days[-1]
    assert_flags_agree(bench, settings, [days[-1], days[-1] + timedelta(days=60)], [posted[0][0], posted[1][0]])


def test_the_running_costs_from_the_summaries_are_the_historys(bench):
    """The monthly running cost per pilot (the Portfolio page's table, the
    business case) reads each cost KPI's latest reading from the summary on
    and after the newest day in the history: the same figures the readings
    give, for the portfolio and for one pilot; before that day, the
    readings as they stood then."""
    days = [AS_OF, AS_OF + timedelta(days=30)]
    for day in days:
        kept = store.monthly_costs(bench, day)
        assert len(kept) > 0
        assert kept.equals(store.monthly_costs(bench, day, from_history=True)), f"the costs differ on {day}"
    pilot_id = int(kept["id"].iloc[len(kept) // 2])
    one = store.monthly_costs(bench, days[0], pilot_id)
    assert list(one["id"]) == [pilot_id]
    assert one.equals(store.monthly_costs(bench, days[0], pilot_id, from_history=True))
    # A reading ahead of the as-of day does not count on that day.
    cost_kpi = next(k for k in store.list_kpis(bench, pilot_id) if k.category.value == "cost_per_transaction")
    before = store.monthly_costs(bench, days[0])
    store.insert_reading(bench, pilot_id, ReadingIn(kpi_id=cost_kpi.id, value=1234.5,
                                                    reading_on=days[0] + timedelta(days=5)), None)
    assert summaries.horizon(bench) > days[0]
    assert store.monthly_costs(bench, days[0]).equals(before)
    later = store.monthly_costs(bench, days[0] + timedelta(days=5), pilot_id)
    assert later["cost_per_transaction"].iloc[0] == 1234.5


def test_the_running_cost_counts_the_first_production_cost_kpi_and_its_reading_recorded_last(conn):
    """Of a pilot's cost-per-transaction KPIs the first production one
    counts, even when a KPI that is not production was added before it; of
    two readings of it on one day, the one recorded last; a reading ahead
    of the as-of day waits for its day. The same from the summary and from
    the readings."""
    pilot_id = store.insert_pilot(conn, PilotIn(name="Costed", start_date=AS_OF - timedelta(days=30),
                                                expected_monthly_volume=1000, expected_monthly_value=5000,
                                                expected_value_unit="EUR"))

    def cost_kpi(name: str, production: bool) -> int:
        return store.insert_kpi(conn, pilot_id, KpiIn(name=name, category="cost_per_transaction", unit="EUR",
                                                      direction="lower", production=production))

    def read(kpi_id: int, value: float, day: date) -> None:
        store.insert_reading(conn, pilot_id, ReadingIn(kpi_id=kpi_id, value=value, reading_on=day), None)

    trial = cost_kpi("Cost in the trial", production=False)
    live = cost_kpi("Cost in production", production=True)
    read(trial, 9.0, AS_OF - timedelta(days=1))
    read(live, 0.50, AS_OF - timedelta(days=2))
    read(live, 0.25, AS_OF - timedelta(days=1))
    read(live, 0.20, AS_OF - timedelta(days=1))  # the same day, recorded last
    read(live, 0.90, AS_OF + timedelta(days=3))  # ahead of the day asked

    def cost_on(day: date, **how) -> tuple:
        (row,) = store.monthly_costs(conn, day, **how).itertuples()
        return row.cost_per_transaction, row.unit, row.monthly_cost

    assert cost_on(AS_OF) == cost_on(AS_OF, from_history=True) == (0.20, "EUR", 200.0)
    later = AS_OF + timedelta(days=3)
    assert cost_on(later) == cost_on(later, from_history=True) == (0.90, "EUR", 900.0)
    (unit,) = production.cost_and_value_by_unit(conn, later, Settings()).itertuples()
    assert (unit.currency, unit.cost, unit.value, unit.pilots) == ("EUR", 900.0, 5000.0, 1)


def test_a_day_before_the_newest_history_reads_the_history(bench, settings):
    """Once an update is posted ahead of a day, that day's flags come from
    the history as it stood then, not from the summaries."""
    pid, owner = owners_of(bench, 1)[0]
    ahead = AS_OF + timedelta(days=10)
    before = flags.portfolio_flags(bench, AS_OF, settings)
    updates.post_weekly_update(bench, owner, {"pilot_id": pid, "health": "green", "summary": "Ahead"}, ahead)
    assert not flag_store.reads_kept(bench, params(AS_OF, settings))
    assert flags.portfolio_flags(bench, AS_OF, settings).equals(before)
    # Another pilot's own history ends before the day: its flags read the summaries.
    other = next(p for p, _ in owners_of(bench, 5) if p != pid)
    assert flag_store.reads_kept(bench, params(AS_OF, settings, other))
    assert not flag_store.reads_kept(bench, params(AS_OF, settings, pid))


def test_posting_an_update_keeps_its_summary(conn, settings):
    pid = demo.make_pilot(conn, start_date=AS_OF - timedelta(days=30))
    owner = Actor.of(store.get_person(conn, store.get_pilot(conn, pid).product_owner_id))
    updates.post_weekly_update(conn, owner, {"pilot_id": pid, "health": "red", "summary": "Stuck"}, AS_OF)
    week = AS_OF - timedelta(days=AS_OF.weekday())
    assert summaries.as_kept(conn)["update_summary"] == [(pid, AS_OF, week, "red", 1)]
    # Revised the next day: the week's health is the revision's.
    later = AS_OF + timedelta(days=1)
    updates.post_weekly_update(conn, owner, {"pilot_id": pid, "health": "green", "summary": "Unstuck"}, later)
    assert summaries.as_kept(conn)["update_summary"] == [(pid, later, week, "green", 0)]
    assert_kept_is_the_history(conn)


def test_a_reading_keeps_its_kpis_latest(conn):
    pid = demo.make_pilot(conn, start_date=AS_OF - timedelta(days=30))
    owner = Actor.of(store.get_person(conn, store.get_pilot(conn, pid).product_owner_id))
    kpi = conn.execute(
        "INSERT INTO kpi (pilot_id, name, category, unit, direction, target, production)"
        " VALUES (?, 'p95 latency', 'latency', 'ms', 'lower', 800, true) RETURNING id", [pid]).fetchone()[0]
    values = {"pilot_id": pid, "health": "green", "summary": "Progress"}
    updates.post_weekly_update(conn, owner, values, AS_OF, [{"kpi_id": kpi, "value": 700}])
    assert [r[3:] for r in summaries.as_kept(conn)["kpi_latest_reading"]] == [(AS_OF, 700.0)]
    # The same day read again: the later reading is the latest.
    updates.post_weekly_update(conn, owner, values, AS_OF, [{"kpi_id": kpi, "value": 950}])
    assert [r[3:] for r in summaries.as_kept(conn)["kpi_latest_reading"]] == [(AS_OF, 950.0)]
    # One dated earlier does not replace it.
    updates.post_weekly_update(conn, owner, values, AS_OF - timedelta(days=7), [{"kpi_id": kpi, "value": 500}])
    assert [r[3:] for r in summaries.as_kept(conn)["kpi_latest_reading"]] == [(AS_OF, 950.0)]
    assert_kept_is_the_history(conn)


def test_a_failed_post_leaves_the_summaries_as_they_were(conn, monkeypatch):
    """The summary is written in the update's transaction: when the post
    fails after it, neither is saved."""
    pid = demo.make_pilot(conn, start_date=AS_OF - timedelta(days=30))
    owner = Actor.of(store.get_person(conn, store.get_pilot(conn, pid).product_owner_id))
    updates.post_weekly_update(conn, owner, {"pilot_id": pid, "health": "green", "summary": "One"}, AS_OF)
    before = summaries.as_kept(conn)

    def fail(*args, **kwargs):
        raise RuntimeError("the audit record could not be written")

    monkeypatch.setattr(updates.audit, "created", fail)
    with pytest.raises(RuntimeError):
        updates.post_weekly_update(conn, owner, {"pilot_id": pid, "health": "red", "summary": "Two"},
                                   AS_OF + timedelta(days=1))
    assert summaries.as_kept(conn) == before
    assert_kept_is_the_history(conn)


def test_the_demo_is_built_with_its_summaries_kept(fixed_demo_db):
    with db.session(fixed_demo_db) as c:
        assert summaries.horizon(c) <= AS_OF
        assert len(summaries.as_kept(c)["update_summary"]) > 0
        assert_kept_is_the_history(c)


def test_an_import_leaves_the_flags_agreeing(bench, settings, tmp_path):
    admin = actor_of(bench, Role.ADMIN, name="Ada Admin")
    owners = [e for (e,) in bench.execute("SELECT email FROM person WHERE active AND role = 'product_owner'"
                                          " ORDER BY id LIMIT 5").fetchall()]
    sheet = tmp_path / "import.csv"
    with open(sheet, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["Use case ID", "Title", "Business unit", "Stage", "Pilot start", "Product owner"])
        for i in range(20):
            out.writerow([f"KEPT-{i}", f"Imported pilot {i}", "Claims", "Pilot",
                          (AS_OF - timedelta(days=20 + i)).isoformat(), owners[i % len(owners)]])
    frame = importer.read_table(sheet, sheet.name)
    plan = importer.plan_import(bench, frame, importer.guess_mapping(list(frame.columns)), settings, today=AS_OF)
    assert importer.apply_import(bench, admin, plan).created == 20
    assert_kept_is_the_history(bench)
    assert_flags_agree(bench, settings, [AS_OF])


def older_file(path, pilots: int = 40) -> None:
    """A portfolio at ``path`` as the tracker wrote it before the summaries
    were kept: the demo's, without the tables the upgrade to them adds and
    its record (it adds nothing else)."""
    demo.build_demo(path, AS_OF, pilots)
    with db.session(path) as c:
        c.execute("DROP TABLE update_summary; DROP TABLE kpi_latest_reading;"
                  " DELETE FROM schema_migration WHERE name = '014_pilot_summary'")
        assert db.applied_migrations(c)[-1].startswith("013")


def test_the_upgrade_fills_the_summaries_from_the_history(tmp_path, monkeypatch, settings):
    path = tmp_path / "older.duckdb"
    older_file(path)
    monkeypatch.setattr(db, "_migrated", set())  # as a new process finds it
    with db.session(path) as c:
        assert "014_pilot_summary" in db.applied_migrations(c)
        assert len(summaries.as_kept(c)["kpi_latest_reading"]) > 0
        assert_kept_is_the_history(c)
        assert_flags_agree(c, settings, [AS_OF])


def test_a_restored_backup_has_its_summaries(tmp_path, monkeypatch, settings):
    """A backup from before the summaries gets them as it is restored; one
    taken since has them redone from its history."""
    older = tmp_path / "older.duckdb"
    older_file(older)
    monkeypatch.setattr(db, "_migrated", set())
    target = tmp_path / "portfolio.duckdb"
    restore_store.restore(older, target)
    monkeypatch.setattr(db, "_migrated", set())
    with db.session(target) as c:
        assert_kept_is_the_history(c)
        assert_flags_agree(c, settings, [AS_OF])
        pid, owner = owners_of(c, 1)[0]
        updates.post_weekly_update(c, owner, {"pilot_id": pid, "health": "red", "summary": "After"},
                                   AS_OF + timedelta(days=1))
    copy = tmp_path / "backup.duckdb"
    export.backup(target, copy)
    with db.session(copy) as c:  # summaries not its history's, as a hand edit could leave them
        c.execute("UPDATE update_summary SET red_weeks = red_weeks + 7")
    demo_again = tmp_path / "again.duckdb"
    restore_store.restore(copy, demo_again)
    monkeypatch.setattr(db, "_migrated", set())
    with db.session(demo_again) as c:
        assert summaries.horizon(c) == AS_OF + timedelta(days=1)
        assert_kept_is_the_history(c)
        assert_flags_agree(c, settings, [AS_OF + timedelta(days=1)])


def test_a_day_with_nothing_recorded_yet_reads_the_summaries(conn, settings):
    """An empty portfolio has no newest day: any day reads the summaries."""
    assert summaries.horizon(conn) is None
    assert flag_store.reads_kept(conn, params(date(2001, 1, 1), settings))
