"""DuckDB on temporary files: migrations, round trips, the facts the flags
read, and the lock held by another process."""

import re
import subprocess
import sys
from contextlib import contextmanager
from datetime import date, timedelta

import pytest

from portfolio import flags
from portfolio.domain.errors import StorageBusy, StorageError
from portfolio.domain.models import PersonIn, ReadingIn
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import Role
from portfolio.services import demo
from portfolio.storage import db, store
from tests.conftest import AS_OF


def test_migrations_are_recorded_and_applying_twice_changes_nothing(conn):
    names = [name for name, _ in db.MIGRATIONS]
    assert db.applied_migrations(conn) == names
    assert db.migrate(conn) == []
    assert db.applied_migrations(conn) == names
    assert conn.execute("SELECT count(*) FROM schema_migration").fetchone()[0] == len(names)


def test_a_fresh_database_is_migrated_on_first_connect(tmp_path):
    with db.session(tmp_path / "new.duckdb", create=True) as c:
        tables = {r[0] for r in c.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"person", "pilot", "weekly_update", "schema_migration"} <= tables


def test_person_round_trip_and_case_insensitive_lookup(conn):
    pid = store.insert_person(conn, PersonIn(name="Priya Shah", email="Priya.Shah@Example.com",
                                             role=Role.LEADERSHIP))
    got = store.get_person(conn, pid)
    assert (got.name, got.email, got.role, got.active) == ("Priya Shah", "Priya.Shah@Example.com",
                                                           Role.LEADERSHIP, True)
    assert store.find_person_by_email(conn, "priya.shah@example.COM").id == pid


def test_pilot_round_trip(conn):
    pid = demo.make_pilot(conn, name="Invoice matching", business_unit="Finance")
    got = store.get_pilot(conn, pid)
    assert got.name == "Invoice matching"
    assert got.go_no_go_date == got.start_date + timedelta(days=90)
    assert got.version == 1


def test_weekly_updates_keep_every_revision(conn):
    pid = demo.make_pilot(conn)
    demo.make_update(conn, pid, AS_OF, "amber", summary="first")
    demo.make_update(conn, pid, AS_OF + timedelta(days=2), "green", summary="second")
    latest = store.list_updates(conn, pid)
    assert [(u.revision, u.summary) for u in latest] == [(2, "second")]
    history = store.list_updates(conn, pid, with_history=True)
    assert [(u.revision, u.summary) for u in history] == [(2, "second"), (1, "first")]


def red_streak(conn, pid, as_of=AS_OF) -> int:
    """The pilot's red streak as the STALLED rule reads it: the largest
    threshold up to the default (3, the weeks it looks back) at which its
    red part holds."""
    streak = 0
    for n in range(1, Settings().stalled_red_streak + 1):
        reasons = flags.pilot_flags(conn, pid, as_of, Settings(stalled_red_streak=n))["reason"]
        if any(f"the last {n} updates were all red" in r for r in reasons):
            streak = n
    return streak


def last_update(conn, pid, as_of=AS_OF) -> date:
    """The day of the pilot's last update as the STALE_UPDATE rule reads it."""
    found = flags.pilot_flags(conn, pid, as_of, Settings(stale_update_days=1))
    reason = found.loc[found["code"] == "STALE_UPDATE", "reason"].iloc[0]
    return as_of - timedelta(days=int(re.match(r"no weekly update for (\d+) days", reason).group(1)))


@pytest.mark.parametrize(
    "healths, streak",
    [
        (["green", "red", "red"], 2),
        (["red", "red", "red"], 3),
        (["red", "green", "red", "red", "red"], 3),
        (["red", "red", "green"], 0),
        (["red", "red", "red", "red"], 3),  # counted up to the threshold
    ],
    ids=["2-red", "3-red", "3-red-after-green", "green-last", "4-red"],
)
def test_red_streak_counts_the_latest_weeks(conn, healths, streak):
    pid = demo.make_pilot(conn)
    for i, health in enumerate(healths):
        demo.make_update(conn, pid, AS_OF - timedelta(weeks=len(healths) - 1 - i), health)
    assert red_streak(conn, pid) == streak


def test_a_same_week_revision_replaces_the_weeks_health(conn):
    pid = demo.make_pilot(conn)
    for i in range(3):
        demo.make_update(conn, pid, AS_OF - timedelta(weeks=2 - i), "red")
    assert red_streak(conn, pid) == 3
    demo.make_update(conn, pid, AS_OF, "green")  # revision of this week
    assert red_streak(conn, pid) == 0


def test_updates_after_the_as_of_date_do_not_count(conn):
    pid = demo.make_pilot(conn)
    demo.make_update(conn, pid, AS_OF - timedelta(days=20))
    demo.make_update(conn, pid, AS_OF + timedelta(days=1))
    assert last_update(conn, pid) == AS_OF - timedelta(days=20)


def test_the_demo_shows_every_flag_code_and_stage(db_file, settings):
    counts = demo.build_demo(db_file, AS_OF)
    assert counts["pilots"] == demo.DEFAULT_PILOTS
    with db.session(db_file) as c:
        found = flags.portfolio_flags(c, AS_OF, settings)
        stages = {r[0] for r in c.execute("SELECT DISTINCT stage FROM pilot").fetchall()}
        units = c.execute("SELECT count(DISTINCT business_unit) FROM pilot").fetchone()[0]
    assert set(found["code"]) == set(flags.CODES)
    assert stages == {"proposed", "pilot", "bridge", "production", "stopped", "retired"}
    assert units == 6


def test_the_demo_is_deterministic(fixed_demo_db, tmp_path, settings):
    a, b = fixed_demo_db, tmp_path / "b.duckdb"  # a: built by demo.build_demo(path, AS_OF) for this run
    demo.build_demo(b, AS_OF)
    with db.session(a) as ca, db.session(b) as cb:
        fa = flags.portfolio_flags(ca, AS_OF, settings)
        fb = flags.portfolio_flags(cb, AS_OF, settings)
    assert fa.equals(fb)


def test_the_demo_refuses_a_database_that_holds_pilots(db_file):
    demo.build_demo(db_file, AS_OF, n=5)
    with pytest.raises(Exception, match="already holds 5 pilots"):
        demo.build_demo(db_file, AS_OF, n=5)


@pytest.mark.thorough  # a real process
def test_a_lock_held_by_another_process_is_waited_for_then_reported(db_file):
    with db.session(db_file, create=True):
        pass
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, sys, time; c = duckdb.connect({str(db_file)!r}); print('held', flush=True); "
         "sys.stdin.readline()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StorageBusy, match="in use by another program"):
            db.connect(db_file, wait_seconds=0.3)
    finally:
        holder.communicate("\n", timeout=10)
    with db.session(db_file, wait_seconds=5) as c:  # released: opens again
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_a_file_another_thread_is_opening_that_instant_is_waited_for(db_file, monkeypatch):
    # Two sessions of the served app opening the file at once: DuckDB can
    # answer one of them with a "Unique file handle conflict" that is gone a
    # moment later. It is waited out like a lock, not shown as a failure.
    with db.session(db_file, create=True):
        pass
    real_connect, calls = db.duckdb.connect, []

    def racing(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise db.duckdb.BinderException(
                f'Unique file handle conflict: Cannot attach "portfolio" - the database file "{db_file}" is '
                'already attached by database "portfolio"')
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(db.duckdb, "connect", racing)
    with db.session(db_file, wait_seconds=5) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    assert len(calls) >= 2


def test_a_write_that_fails_halfway_leaves_nothing(conn):
    def work(c):
        store.insert_person(c, PersonIn(name="Half", email="half@example.com"))
        raise RuntimeError("injected")

    with pytest.raises(RuntimeError):
        db.write(conn, work)
    assert store.find_person_by_email(conn, "half@example.com") is None


# --- the week's latest revision, as it stood on any day ---------------------

# Revisions of one week in the order they were saved, each with the day it
# was posted: a revision posted earlier than one saved before it (a post
# made for an earlier as-of day) included.
SAVED = [(0, "red"), (3, "green"), (1, "red"), (1, "amber"), (5, "green")]


def counting_revision(conn, pid, day) -> list[int]:
    """The revisions of the pilot that count as their week's latest on ``day``."""
    return [r for (r,) in conn.execute(
        "SELECT revision FROM weekly_update WHERE pilot_id = ? AND posted_on <= ?"
        " AND (superseded_on IS NULL OR superseded_on > ?) ORDER BY revision", [pid, day, day]).fetchall()]


def the_latest_by_definition(saved, start, day) -> list[int]:
    """Of the revisions posted by ``day``, the one saved last (the highest revision)."""
    posted = [i + 1 for i, (offset, _) in enumerate(saved) if start + timedelta(days=offset) <= day]
    return posted[-1:]


def test_exactly_one_revision_counts_on_each_day_whatever_the_posting_order(conn):
    pid = demo.make_pilot(conn)
    monday = AS_OF - timedelta(days=AS_OF.weekday())
    for offset, health in SAVED:
        demo.make_update(conn, pid, monday + timedelta(days=offset), health)
    for days in range(-1, 8):
        day = monday + timedelta(days=days)
        assert counting_revision(conn, pid, day) == the_latest_by_definition(SAVED, monday, day), day


@contextmanager
def older_database(path, monkeypatch):
    """A connection to ``path`` as the tracker made it before migration 007."""
    with monkeypatch.context() as m:
        m.setattr(db, "MIGRATIONS", [(name, sql) for name, sql in db.MIGRATIONS if name < "007"])
        m.setattr(db, "_migrated", set())
        with db.session(path, create=True) as c:
            assert db.applied_migrations(c)[-1].startswith("006")
            yield c


def test_the_upgrade_to_superseded_on_computes_what_posting_maintains(db_file, monkeypatch):
    """A database from before the superseded_on column: the upgrade fills it
    in as posting would have."""
    monday = AS_OF - timedelta(days=AS_OF.weekday())
    with db.session(db_file, create=True) as c:
        pid = demo.make_pilot(c)
        for offset, health in SAVED:
            demo.make_update(c, pid, monday + timedelta(days=offset), health)
        maintained = c.execute("SELECT id, superseded_on FROM weekly_update ORDER BY id").fetchall()
    older = db_file.with_name("older.duckdb")
    with older_database(older, monkeypatch) as c:  # the same revisions, saved before the upgrade existed
        c.execute("ATTACH ? AS newer (READ_ONLY)", [str(db_file)])
        for table in ("person", "pilot"):
            # The columns the older table has (later upgrades add others).
            columns = ", ".join(c.execute(f"SELECT * FROM {table} LIMIT 0").fetchdf().columns)
            c.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM newer.{table}")
        c.execute("INSERT INTO weekly_update SELECT * EXCLUDE (superseded_on) FROM newer.weekly_update")
        c.execute("DETACH newer")
    with monkeypatch.context() as m:
        m.setattr(db, "_migrated", set())  # as a new process finds it
        with db.session(older) as c:
            assert c.execute("SELECT id, superseded_on FROM weekly_update ORDER BY id").fetchall() == maintained


def test_an_older_database_that_cannot_be_written_says_it_needs_its_upgrade(db_file, monkeypatch):
    with older_database(db_file, monkeypatch):
        pass
    monkeypatch.setattr(db, "_migrated", set())  # as a new process finds it
    # Every migration since 006, in order, whichever later ones there are.
    pending = ", ".join(name for name, _ in db.MIGRATIONS if name >= "007")
    assert pending.startswith("007_update_superseded_on, 008_business_units")
    with pytest.raises(StorageError, match=r"earlier version of the tracker and needs an upgrade "
                                           + re.escape(f"({pending})") + r".*make the file and its folder writable"):
        db.connect(db_file, read_only=True)
    with db.session(db_file) as c:  # writable: upgraded on the way in
        assert "007_update_superseded_on" in db.applied_migrations(c)


def test_a_kpi_reading_decades_ahead_is_read_like_any_other(conn, settings):
    """Readings are ordered by day and id as one number; it must hold for
    any date a reading may carry."""
    pid = demo.make_pilot(conn, start_date=date(2045, 1, 2))
    kpi = conn.execute(
        "INSERT INTO kpi (pilot_id, name, category, unit, direction, target, production)"
        " VALUES (?, 'p95 latency', 'latency', 'ms', 'lower', 800, true) RETURNING id", [pid]).fetchone()[0]
    for day, value in [(date(2045, 2, 1), 700), (date(2045, 3, 1), 950)]:
        # Recorded the way the tracker records them, so the kept latest reading follows.
        store.insert_reading(conn, pid, ReadingIn(kpi_id=kpi, reading_on=day, value=value), None)
    found = flags.pilot_flags(conn, pid, date(2045, 3, 10), settings)
    assert "p95 latency: 950 ms against a target of 800 ms" in " ".join(found["reason"])


def test_a_file_put_in_place_of_the_database_with_as_many_changes_is_a_new_version(tmp_path):
    """The app keeps the portfolio's reads until the data's version changes:
    a backup restored over the database, with as many recorded changes as
    the file it replaces, must not be taken for it."""
    from portfolio.domain.models import Actor
    from portfolio.services import people
    from portfolio.storage import audit

    served, other = tmp_path / "portfolio.duckdb", tmp_path / "other.duckdb"
    for path, name in ((served, "First Person"), (other, "Second Person")):
        with db.session(path, create=True) as c:
            admin = Actor.of(store.get_person(c, demo.make_person(c, role=Role.ADMIN, name="Ada Admin")))
            people.add_person(c, admin, {"name": name, "email": f"{name.split()[0].lower()}@example.com"})
    with db.session(served) as c:
        before = audit.data_version(c)
    other.replace(served)
    with db.session(served) as c:
        after = audit.data_version(c)
        assert "Second Person" in [p.name for p in store.list_people(c)]
    assert before[:2] == after[:2] and before[1] > 0  # the same path, as many changes
    assert before != after
