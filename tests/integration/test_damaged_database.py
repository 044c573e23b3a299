"""A damaged or missing database file, met by the command line (cli.main in
this process, as __main__ runs it, and once as a real process): every
command says so in a plain sentence on stderr, exits 2, and leaves the file
exactly as it was; only ``demo`` creates a database, and never for an absurd
number of pilots."""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from portfolio.services import demo
from tests.conftest import run_cli
from tests.damage import HEADER_BYTES, block_of, scribble

# Fault tests, fuzzing and real processes: make test runs them, make test-fast does not.
pytestmark = pytest.mark.thorough

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "alex.morgan@example.com"  # the demo's first admin
AS_OF = "2026-03-02"


def cli(*args):
    return run_cli(*args, env={"PORTFOLIO_USER": ADMIN})


def process(*args):
    return subprocess.run([sys.executable, "-m", "portfolio", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PORTFOLIO_USER": ADMIN}, timeout=300)


def digest_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def healthy(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("healthy") / "p.duckdb"
    demo.build_demo(path, demo.FIXED_AS_OF, n=8)
    return path


# Kinds of damage, each met by one command (all of them meet the catalog's).
DAMAGE = {
    "random bytes": ("flags", lambda p, healthy: p.write_bytes(bytes((i * 7919) % 251 for i in range(100_000)))),
    "a text file": ("import", lambda p, healthy: p.write_text("Pilot,Stage\nClaims triage,pilot\n",
                                                               encoding="utf-8")),
    "an empty file": ("backup", lambda p, healthy: p.write_bytes(b"")),
    "cut short": ("digest", lambda p, healthy: p.write_bytes(healthy.read_bytes()[:20_000])),
}
COMMANDS = {
    "flags": ["flags"],
    "summary": ["summary"],
    "digest": ["digest", "--format", "json"],
    "export csv": ["export", "--format", "csv", "--out", "{out}/p.csv"],
    "export xlsx": ["export", "--format", "xlsx", "--out", "{out}/p.xlsx"],
    "import": ["import", str(ROOT / "data" / "sample_import.csv"), "--mapping",
               str(ROOT / "data" / "sample_mapping.toml"), "--skip-invalid"],
    "backup": ["backup", "--out", "{out}/copy.duckdb"],
    "audit": ["audit"],
}


def refused_by_each(runs: list[tuple[str, Path]], tmp_path: Path, run=cli) -> None:
    """Run each (command, damaged file) on its own copy of the file and
    check each refusal."""
    for i, (name, damaged) in enumerate(runs):
        path, out = tmp_path / f"run{i}" / "p.duckdb", tmp_path / f"run{i}" / "out"
        out.mkdir(parents=True)
        shutil.copyfile(damaged, path)
        before = digest_of(damaged)
        command = [a.format(out=out) for a in COMMANDS[name]]
        done = run(*command, "--db", str(path), "--as-of", AS_OF)
        stderr = done.stderr
        assert done.returncode == 2, (name, done.returncode, stderr[-500:])
        assert "Traceback" not in stderr and "Error:" not in stderr, (name, stderr[-500:])
        assert stderr.startswith("error: ") and "is damaged" in stderr, (name, stderr)
        assert "Restore it from a backup" in stderr
        assert digest_of(path) == before, f"{name} changed the damaged file"
        assert not any(out.iterdir()), f"{name} wrote {list(out.iterdir())}"


def test_every_command_refuses_a_file_whose_catalog_is_damaged(healthy, tmp_path):
    """The catalog's block fails its checksum: every command used to end in
    a traceback."""
    damaged = tmp_path / "damaged.duckdb"
    shutil.copyfile(healthy, damaged)
    scribble(damaged, HEADER_BYTES)
    refused_by_each([(name, damaged) for name in COMMANDS], tmp_path)


def test_a_real_process_refuses_a_damaged_file_with_exit_2_and_no_traceback(healthy, tmp_path):
    damaged = tmp_path / "damaged.duckdb"
    shutil.copyfile(healthy, damaged)
    scribble(damaged, HEADER_BYTES)
    refused_by_each([("flags", damaged)], tmp_path, run=process)


def test_a_file_that_is_no_database_or_cut_short_is_refused_in_plain_words(healthy, tmp_path):
    runs = []
    for i, (damage, (command, make)) in enumerate(DAMAGE.items()):
        damaged = tmp_path / f"damaged{i}.duckdb"
        shutil.copyfile(healthy, damaged)
        make(damaged, healthy)
        runs.append((command, damaged))
    refused_by_each(runs, tmp_path)


def test_an_import_does_not_succeed_into_a_file_whose_data_is_damaged(healthy, tmp_path):
    """The weekly updates' block fails its checksum. The import reads no
    weekly update, so it used to write happily into the damaged file; it
    reads the whole database first, and refuses. A read that meets the
    damage says so too: the flags of a week before the newest update read
    the updates themselves (today's read what is kept of them)."""
    damaged = tmp_path / "damaged.duckdb"
    shutil.copyfile(healthy, damaged)
    scribble(damaged, block_of(damaged, "weekly_update"))
    refused_by_each([(name, damaged) for name in ("import", "backup")], tmp_path)

    def a_week_back(*args):
        args = list(args)
        args[args.index("--as-of") + 1] = "2026-02-23"
        return cli(*args)

    refused_by_each([("flags", damaged)], tmp_path / "looking-back", run=a_week_back)


def test_a_missing_database_is_reported_and_not_created(tmp_path):
    typo = tmp_path / "prtfolio.duckdb"
    for name in ("import", "backup"):
        out = tmp_path / name
        out.mkdir()
        result = cli(*[a.format(out=out) for a in COMMANDS[name]], "--db", str(typo))
        assert result.returncode == 2 and "does not exist" in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr
        assert not typo.exists() and not any(out.iterdir()), name


def test_the_demo_refuses_an_absurd_number_of_pilots_before_writing_anything(healthy, tmp_path):
    new = tmp_path / "new.duckdb"
    result = cli("demo", "--db", str(new), "--pilots", "10000000000")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"at most {demo.MAX_PILOTS:,} pilots" in result.stderr, result.stderr
    assert not new.exists()
    # One past the limit, too, and into an existing file: left as it was.
    path = tmp_path / "p.duckdb"
    shutil.copyfile(healthy, path)
    before = digest_of(path)
    result = cli("demo", "--db", str(path), "--pilots", str(demo.MAX_PILOTS + 1))
    assert result.returncode == 2 and "Choose a smaller --pilots" in result.stderr
    assert digest_of(path) == before


@pytest.mark.parametrize("cut", [20_000, 1_000_000], ids=["does not open", "opens, then fails its first read"])
def test_a_file_that_reads_as_damaged_for_an_instant_opens_once_it_is_whole(healthy, tmp_path, cut):
    """Another program writing the file that instant: it is not called
    damaged while it becomes whole again within the grace, whether the file
    is caught too short to open or long enough to open but not to read."""
    import threading

    from portfolio.storage import db

    path = tmp_path / "p.duckdb"
    path.write_bytes(healthy.read_bytes()[:cut])  # as if caught mid-write
    if cut > 20_000:  # this cut is the case it names: DuckDB opens it, and only its first read fails
        duckdb.connect(str(path)).close()

    def finish_writing():  # the writer's last step: the whole file, in one move
        whole = tmp_path / "whole.duckdb"
        shutil.copyfile(healthy, whole)
        os.replace(whole, path)

    mended = threading.Timer(db.DAMAGED_GRACE_SECONDS / 4, finish_writing)
    mended.start()
    try:
        with db.session(path) as c:
            assert c.execute("SELECT count(*) FROM pilot").fetchone()[0] == 8
    finally:
        mended.join()
    stays = tmp_path / "stays.duckdb"  # and one that stays so is damaged
    stays.write_bytes(healthy.read_bytes()[:cut])
    with pytest.raises(db.StorageError, match="is damaged"):
        db.connect(stays)
