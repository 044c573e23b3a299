"""The faults of the issue: a writer killed mid-stream, twenty people saving
at once, and a database that cannot be written (read-only, disk full).

Each fault must leave every write that was reported saved in place, nothing
half-written (each change with its audit record, each audit record with its
change), and reach people only as a message they can act on."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest

from portfolio.domain.errors import StorageError
from portfolio.domain.models import Actor
from portfolio.services import signin
from portfolio.services.updates import post_weekly_update
from portfolio.storage import db, store
from tests.conftest import AS_OF, run_apptest_as_served, run_cli

# Fault tests, fuzzing and real processes: make test runs them, make test-fast does not.
pytestmark = pytest.mark.thorough

ROOT = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("fault_writer.py")
ADMIN = "alex.morgan@example.com"  # the demo's first admin
# No file may grow past this many bytes in a "full disk" child: less than
# the demo database itself, so a checkpoint cannot grow the file and the
# write-ahead log fills up after a couple of dozen small writes.
FULL_DISK_BYTES = 30_000
# How long a child may take to say anything before the test gives up on it.
CHILD_TIMEOUT = 60


# --- helpers --------------------------------------------------------------


def high_water(path) -> dict[str, int]:
    """The largest id of each table the writer touches, before it runs."""
    with db.session(path) as c:
        return {t: c.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0]
                for t in ("weekly_update", "kpi_reading", "pilot", "audit")}


def check_writes(path, before: dict[str, int], reported: list[str]) -> int:
    """Every reported write is in the database, every write since ``before``
    has its audit record and every audit record its write. Returns how many
    writes are there that were not reported (the one in flight at a kill)."""
    with db.session(path) as c:
        updates = {r[0] for r in c.execute("SELECT id FROM weekly_update WHERE id > ?",
                                          [before["weekly_update"]]).fetchall()}
        readings = {r[0]: (r[1], r[2]) for r in c.execute(
            "SELECT id, kpi_id, value FROM kpi_reading WHERE id > ?", [before["kpi_reading"]]).fetchall()}
        pilots = {r[0] for r in c.execute("SELECT id FROM pilot WHERE id > ?", [before["pilot"]]).fetchall()}
        audited: dict[str, set[int]] = {"weekly_update": set(), "kpi_reading": set(), "pilot": set()}
        for entity, entity_id in c.execute(
                "SELECT entity, entity_id FROM audit WHERE id > ? AND action NOT LIKE '%refused'",
                [before["audit"]]).fetchall():
            audited.setdefault(entity, set()).add(int(entity_id))

    said = {"update": set(), "reading": set(), "pilot": set()}
    for line in reported:
        kind, *rest = line.split()
        said[kind].add(int(rest[0]) if kind != "reading" else (int(rest[0]), float(rest[1])))
    assert said["update"] <= updates, f"reported updates lost: {said['update'] - updates}"
    assert said["reading"] <= set(readings.values()), "reported KPI readings lost"
    assert said["pilot"] <= pilots, f"reported pilots lost: {said['pilot'] - pilots}"
    assert audited["weekly_update"] == updates, "a weekly update without its audit record, or the reverse"
    assert audited["kpi_reading"] == set(readings), "a KPI reading without its audit record, or the reverse"
    assert audited["pilot"] == pilots, "a pilot without its audit record, or the reverse"
    assert set(audited) == {"weekly_update", "kpi_reading", "pilot"}, set(audited)
    return len(updates) + len(readings) + len(pilots) - len(reported)


class Writer:
    """tests/integration/fault_writer.py in a child process, its lines read
    by a thread so that a silent child fails the test instead of hanging it."""

    def __init__(self, path, *args: str):
        self.proc = subprocess.Popen([sys.executable, str(WRITER), str(path), *args], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        assert self.next_line() == "ready"

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def next_line(self) -> str:
        line = self.lines.get(timeout=CHILD_TIMEOUT)
        if line is None:
            self.proc.wait(timeout=CHILD_TIMEOUT)
            pytest.fail(f"the writer stopped (exit {self.proc.returncode}):\n{self.proc.stderr.read()}")
        return line

    def rest(self) -> list[str]:
        """The lines printed before the child ended on its own."""
        out = []
        while (line := self.lines.get(timeout=CHILD_TIMEOUT)) is not None:
            out.append(line)
        self.proc.wait(timeout=CHILD_TIMEOUT)
        return out


def post_as_admin(path, summary: str) -> int:
    with db.session(path) as c:
        admin = signin.actor_for_email(c, ADMIN)
        pilot_id = c.execute("SELECT min(id) FROM pilot WHERE stage = 'pilot'").fetchone()[0]
        return post_weekly_update(c, admin, {"pilot_id": pilot_id, "health": "green",
                                                      "summary": summary}, AS_OF)[0]


# --- a writer killed with SIGKILL -----------------------------------------

# (writes reported before the kill, pause after the last report): the pause
# moves the kill from the close (a checkpoint) into the next write.
KILL_POINTS = [(1, 0.0), (6, 0.02), (12, 0.0), (4, 0.05)]


def test_a_writer_killed_mid_stream_leaves_every_reported_write_and_nothing_half_written(fixed_demo_db):
    """Killed again and again on the same file: after each kill the
    database opens, holds every write the child reported saved, each with its
    audit record, and at most the one write in flight besides."""
    for count, pause in KILL_POINTS:
        before = high_water(fixed_demo_db)
        writer = Writer(fixed_demo_db)
        reported = [writer.next_line() for _ in range(count)]
        time.sleep(pause)
        os.kill(writer.proc.pid, signal.SIGKILL)
        writer.proc.wait(timeout=CHILD_TIMEOUT)
        assert writer.proc.returncode == -signal.SIGKILL, writer.proc.stderr.read()
        reported += [line for line in iter(lambda: writer.lines.get(timeout=CHILD_TIMEOUT), None)]
        assert check_writes(fixed_demo_db, before, reported) in (0, 1), f"kill after {count} writes"
    # And it takes writes again.
    update_id = post_as_admin(fixed_demo_db, "After the kills")
    with db.session(fixed_demo_db) as c:
        assert c.execute("SELECT summary FROM weekly_update WHERE id = ?", [update_id]).fetchone()[0] == \
            "After the kills"


# --- twenty people saving at once -----------------------------------------

SESSIONS = 20
SAME_PILOT_SESSIONS = 6  # of the twenty, these post to pilots others post to as well


def test_twenty_sessions_posting_at_once_all_save_and_nobody_sees_an_error(fixed_demo_db):
    with db.session(fixed_demo_db) as c:
        owned = c.execute(
            "SELECT p.id, p.product_owner_id FROM pilot p JOIN person o ON o.id = p.product_owner_id"
            " WHERE o.active AND o.role = 'product_owner' AND p.stage IN ('proposed', 'pilot', 'bridge', 'production')"
            " AND NOT p.archived ORDER BY p.id"
        ).fetchall()
        owners = {pid: Actor.of(store.get_person(c, person_id)) for pid, person_id in owned}
    distinct = SESSIONS - SAME_PILOT_SESSIONS
    assert len(owned) >= distinct, "the demo has too few owned pilots for this test"
    targets = [pid for pid, _ in owned[:distinct]]
    targets += targets[:SAME_PILOT_SESSIONS]
    start = threading.Barrier(SESSIONS)
    saved: dict[int, tuple[int, int]] = {}
    errors: list[str] = []

    def page_run(n: int) -> None:
        pilot_id = targets[n]
        start.wait()
        try:
            # As a page run: its own connection, opened, used and closed.
            with db.session(fixed_demo_db) as conn:
                saved[n] = post_weekly_update(
                    conn, owners[pilot_id],
                    {"pilot_id": pilot_id, "health": "amber", "summary": f"Session {n} update"}, date.today())
        except Exception as exc:  # anything at all would reach the person
            errors.append(f"session {n}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=page_run, args=(n,)) for n in range(SESSIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=CHILD_TIMEOUT)
    assert not errors, errors
    assert len(saved) == SESSIONS

    with db.session(fixed_demo_db) as c:
        for n, (update_id, revision) in saved.items():
            row = c.execute("SELECT pilot_id, summary, revision FROM weekly_update WHERE id = ?",
                            [update_id]).fetchone()
            assert row == (targets[n], f"Session {n} update", revision)
            assert c.execute("SELECT count(*) FROM audit WHERE entity = 'weekly_update' AND entity_id = ?",
                             [str(update_id)]).fetchone()[0] == 1
    for pilot_id in set(targets):
        revisions = sorted(r for n, (_, r) in saved.items() if targets[n] == pilot_id)
        assert revisions == list(range(1, len(revisions) + 1)), (pilot_id, revisions)


# --- a database that cannot be written ------------------------------------


@pytest.fixture
def unwritable_db(fixed_demo_db):
    """The demo database made truly read-only: by its mode for a normal
    user; as root, whom the mode does not stop, by the immutable attribute."""
    if os.geteuid() != 0:
        os.chmod(fixed_demo_db, 0o444)
        try:
            yield fixed_demo_db
        finally:
            os.chmod(fixed_demo_db, 0o644)
        return
    chattr = shutil.which("chattr")
    done = chattr and subprocess.run([chattr, "+i", str(fixed_demo_db)], capture_output=True).returncode == 0
    if not done:
        pytest.skip("running as root, where chmod does not stop writes, and `chattr +i` is not available "
                    "on this file system to make the file read-only")
    try:
        with pytest.raises(OSError):
            open(fixed_demo_db, "r+b").close()  # really read-only, even for root
        yield fixed_demo_db
    finally:
        subprocess.run([chattr, "-i", str(fixed_demo_db)], check=True)


def count(path, table: str) -> int:
    with db.session(path, read_only=True) as c:
        return c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_a_read_only_connection_reads_and_refuses_a_write_in_plain_words(fixed_demo_db):
    before = count(fixed_demo_db, "weekly_update")
    with db.session(fixed_demo_db, read_only=True) as c:
        assert db.is_read_only(c)
        assert store.list_pilots(c)
        admin = signin.actor_for_email(c, ADMIN)
        with pytest.raises(StorageError, match="read-only, so nothing was saved"):
            post_weekly_update(c, admin, {"pilot_id": 1, "health": "green", "summary": "x"}, AS_OF)
    assert count(fixed_demo_db, "weekly_update") == before


def test_a_database_file_that_cannot_be_written_opens_to_read_and_refuses_writes(unwritable_db):
    before = count(unwritable_db, "weekly_update")
    with db.session(unwritable_db) as c:
        assert db.is_read_only(c)
        assert store.list_pilots(c)
        with pytest.raises(StorageError, match="read-only, so nothing was saved"):
            post_weekly_update(c, signin.actor_for_email(c, ADMIN),
                                        {"pilot_id": 1, "health": "green", "summary": "x"}, AS_OF)
    imported = run_cli("import", ROOT / "data" / "sample_import.csv", "--mapping", ROOT / "data" / "sample_mapping.toml",
                       "--skip-invalid", "--db", unwritable_db, env={"PORTFOLIO_USER": ADMIN})
    assert imported.returncode == 2
    assert "read-only, so nothing was saved" in imported.stderr and "Traceback" not in imported.stderr
    assert count(unwritable_db, "weekly_update") == before


@pytest.fixture
def navigation_mode_as_served(monkeypatch):
    run_apptest_as_served(monkeypatch)


def test_the_app_shows_the_portfolio_from_a_read_only_database_and_refuses_a_save_plainly(
        unwritable_db, monkeypatch, navigation_mode_as_served):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("PORTFOLIO_DB", str(unwritable_db))
    monkeypatch.delenv("PORTFOLIO_USER", raising=False)
    before = count(unwritable_db, "weekly_update")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Portfolio" and at.metric, "the portfolio is shown"
    assert any("read-only" in w.value for w in at.warning), [w.value for w in at.warning]

    at.switch_page("pages/weekly_update.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.radio(key="update-health").set_value("amber")
    at.text_area(key="update-summary").input("Written to a read-only file")
    at.button(key="update-submit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("read-only, so nothing was saved" in e.value for e in at.error), [e.value for e in at.error]
    assert count(unwritable_db, "weekly_update") == before


def test_a_full_disk_stops_the_writes_with_a_plain_message_and_keeps_the_saved_ones(fixed_demo_db):
    before = high_water(fixed_demo_db)
    writer = Writer(fixed_demo_db, "--max-file-size", str(FULL_DISK_BYTES))
    reported = writer.rest()
    stderr = writer.proc.stderr.read()
    assert writer.proc.returncode == 2, stderr
    assert stderr.startswith("error: ") and "the disk is full" in stderr and "Traceback" not in stderr
    assert reported, "the size limit let no write through: raise FULL_DISK_BYTES"
    # Exactly the reported writes: the refused one left nothing behind.
    assert check_writes(fixed_demo_db, before, reported) == 0
    post_as_admin(fixed_demo_db, "Space again")  # with room again, writes work


def test_an_import_on_a_full_disk_fails_in_plain_words_and_writes_nothing(fixed_demo_db, tmp_path):
    sheet = tmp_path / "many.csv"
    sheet.write_text("Use case ID,Title,Stage,Problem\n" + "".join(
        f"FULL-{i},Imported pilot {i},pilot,{'A problem worth solving. ' * 12}\n" for i in range(400)),
        encoding="utf-8")
    before = {t: count(fixed_demo_db, t) for t in ("pilot", "audit", "person")}
    limited = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({FULL_DISK_BYTES}, {FULL_DISK_BYTES}))\n"
        "from portfolio.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    out = subprocess.run([sys.executable, "-c", limited, "import", str(sheet), "--db", str(fixed_demo_db)],
                         cwd=ROOT, env={**os.environ, "PORTFOLIO_USER": ADMIN}, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2, out.stderr
    assert "the disk is full" in out.stderr and "Traceback" not in out.stderr
    assert {t: count(fixed_demo_db, t) for t in before} == before
