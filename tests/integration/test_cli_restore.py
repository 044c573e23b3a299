"""Backup and restore from the command line: a restore after a real crash
(a writer process killed with SIGKILL, its write-ahead log left beside the
file), run as the backup told, in a real process; a restore refused while
another program holds the database, file names with quotes, and a backup of
a read-only database (the commands in this process, as __main__ runs them)."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from portfolio.storage import restore
from tests.conftest import AS_OF, run_cli

# Fault tests, fuzzing and real processes: make test runs them, make test-fast does not.
pytestmark = pytest.mark.thorough

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
CHANGED = "Changed after the backup"
cli = run_cli


def process(*args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([str(PYTHON), "-m", "portfolio", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


def pilot_names(path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as c:
        return [r[0] for r in c.execute("SELECT name FROM pilot ORDER BY id").fetchall()]


def tables(path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as c:
        return {r[0] for r in c.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def folder_state(folder: Path) -> dict[str, str]:
    """Every file in ``folder`` with a digest of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def holder(path, write: str | None = None) -> subprocess.Popen:
    """Another program holding a write connection to the database: it
    writes ``write`` (SQL) when given, says so, and waits to be killed."""
    code = ("import duckdb, sys, time\n"
            f"c = duckdb.connect({str(path)!r})\n"
            + (f"c.execute({write!r})\n" if write else "")
            + "print('holding', flush=True)\n"
            "time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture
def quoted_db(fixed_demo_db, tmp_path):
    """The demo portfolio in a file whose name holds a double quote."""
    path = tmp_path / 'pilots "main".duckdb'
    fixed_demo_db.rename(path)
    return path


def test_restore_after_a_crash_puts_the_backup_back_and_keeps_the_old_file_and_its_log(quoted_db, tmp_path):
    copy = tmp_path / 'copy "monday".duckdb'
    made = cli("backup", "--db", str(quoted_db), "--out", str(copy))
    assert made.returncode == 0, made.stderr
    # The backup says how to put it back: the restore command, quoted for a shell.
    told = shlex.split(made.stdout.split("To restore it, stop the app and run: ", 1)[1])
    assert told == ["python", "-m", "portfolio", "restore", str(copy), "--db", str(quoted_db)]
    backed_up = pilot_names(copy)
    assert backed_up == pilot_names(quoted_db) and CHANGED not in backed_up

    # A real crash: a process commits a change, is killed before it closes,
    # and leaves the write-ahead log beside the file.
    crashed = holder(quoted_db, write=f"UPDATE pilot SET name = '{CHANGED}' WHERE id = 1")
    kill(crashed)
    assert crashed.returncode == -signal.SIGKILL
    wal = Path(f"{quoted_db}.wal")
    assert wal.exists() and wal.stat().st_size > 0

    out = process(*told[3:])
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    kept = [Path(line.split(" was kept as ", 1)[1].rstrip(".")) for line in out.stdout.splitlines()
            if " was kept as " in line]
    assert len(kept) == 2 and kept[1] == Path(f"{kept[0]}.wal"), out.stdout
    assert all(k.exists() for k in kept) and not wal.exists()

    # The restored database opens, with every table and the backup's data,
    # for the tracker and for plain DuckDB.
    assert restore.expected_tables() <= tables(quoted_db)
    assert pilot_names(quoted_db) == backed_up
    summary = cli("summary", "--db", str(quoted_db), "--as-of", AS_OF.isoformat())
    assert summary.returncode == 0 and "Active pilots" in summary.stdout, summary.stderr
    # The file kept aside opens with its own log: the crashed change is there.
    assert CHANGED in pilot_names(kept[0])


def test_the_old_way_of_restoring_meets_the_stale_log(fixed_demo_db, tmp_path):
    """What the README told people to do (copy the backup over the file)
    fails after a crash: the reason restore moves the log aside."""
    copy = tmp_path / "copy.duckdb"
    assert cli("backup", "--db", str(fixed_demo_db), "--out", str(copy)).returncode == 0
    kill(holder(fixed_demo_db, write=f"UPDATE pilot SET name = '{CHANGED}' WHERE id = 1"))
    shutil.copyfile(copy, fixed_demo_db)
    with pytest.raises(duckdb.Error, match="WAL"):
        duckdb.connect(str(fixed_demo_db)).close()


def test_restore_refuses_while_another_program_holds_the_database(fixed_demo_db, tmp_path):
    copy = tmp_path / "copy.duckdb"
    assert cli("backup", "--db", str(fixed_demo_db), "--out", str(copy)).returncode == 0
    app = holder(fixed_demo_db, write=f"UPDATE pilot SET name = '{CHANGED}' WHERE id = 1")
    try:
        before = folder_state(tmp_path)
        out = cli("restore", str(copy), "--db", str(fixed_demo_db))
        assert out.returncode == 2
        assert "in use by another program" in out.stderr and "Nothing was changed" in out.stderr
        assert "Traceback" not in out.stderr and out.stdout == ""
        assert folder_state(tmp_path) == before  # no file moved, staged or left behind
    finally:
        kill(app)
    assert CHANGED in pilot_names(fixed_demo_db)  # the holder's data, untouched


def test_restore_refuses_a_file_that_is_not_a_tracker_backup(fixed_demo_db, tmp_path):
    before = folder_state(tmp_path)
    not_db = tmp_path / "pilots.csv"
    not_db.write_text("name\nA\n", encoding="utf-8")
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as c:
        c.execute("CREATE TABLE t (x INTEGER)")
    before = folder_state(tmp_path)
    for bad, says in ((not_db, "cannot be opened as a database"), (other, "not a pilot tracker database"),
                      (tmp_path / "missing.duckdb", "does not exist")):
        out = cli("restore", str(bad), "--db", str(fixed_demo_db))
        assert out.returncode == 2 and says in out.stderr and "Traceback" not in out.stderr, out.stderr
        assert folder_state(tmp_path) == before


@pytest.fixture
def read_only_location(fixed_demo_db):
    """The demo database in a folder where nothing can be written, file and
    folder: by their modes for a normal user; as root, whom modes do not
    stop, by the immutable attribute (as the fault tests do)."""
    folder = fixed_demo_db.parent / "readonly"
    folder.mkdir()
    path = folder / "portfolio.duckdb"
    fixed_demo_db.rename(path)
    if os.geteuid() != 0:
        os.chmod(path, 0o444)
        os.chmod(folder, 0o555)
        undo = [lambda: os.chmod(folder, 0o755), lambda: os.chmod(path, 0o644)]
    else:
        chattr = shutil.which("chattr")
        if not chattr or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode:
            pytest.skip("running as root, and `chattr +i` is not available on this file system")
        subprocess.run([chattr, "+i", str(folder)], check=True)
        undo = [lambda: subprocess.run([chattr, "-i", str(folder)], check=True),
                lambda: subprocess.run([chattr, "-i", str(path)], check=True)]
    try:
        with pytest.raises(OSError):
            open(path, "r+b").close()  # really read-only, even for root
        with pytest.raises(OSError):
            (folder / "probe").write_text("x")
        yield path
    finally:
        for step in undo:
            step()


def test_backup_of_a_database_on_a_read_only_location(read_only_location, tmp_path):
    before = folder_state(read_only_location.parent)
    copy = tmp_path / "copy.duckdb"
    out = cli("backup", "--db", str(read_only_location), "--out", str(copy))
    assert out.returncode == 0, out.stderr
    assert pilot_names(copy) == pilot_names(read_only_location)
    assert restore.expected_tables() <= tables(copy)
    assert folder_state(read_only_location.parent) == before
