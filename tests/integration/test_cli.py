"""python -m portfolio as a scheduler runs it: the commands in this process
(cli.main, as __main__ calls it), and the exit codes and error output also
from a real process."""

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from portfolio import flags
from portfolio.services import demo
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-03-02"
cli = run_cli


def process(*args, env=None):
    """A real ``python -m portfolio`` process, as a scheduler starts it."""
    return subprocess.run([sys.executable, "-m", "portfolio", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})})


def test_demo_then_flags_as_json_lists_every_code(tmp_path):
    db = tmp_path / "p.duckdb"
    built = cli("demo", "--db", str(db), "--as-of", AS_OF)
    assert built.returncode == 0, built.stderr
    assert "40 pilots" in built.stdout
    out = cli("flags", "--db", str(db), "--as-of", AS_OF, "--format", "json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {r["code"] for r in rows} == set(flags.CODES)
    assert all({"pilot_id", "pilot", "code", "severity", "reason"} <= set(r) for r in rows)


def test_flags_as_csv_and_table_and_the_db_from_the_environment(tmp_path):
    db = tmp_path / "p.duckdb"
    assert cli("demo", "--db", str(db), "--as-of", AS_OF, "--pilots", "20").returncode == 0
    as_csv = cli("flags", "--as-of", AS_OF, "--format", "csv", env={"PORTFOLIO_DB": str(db)})
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    # For people (a spreadsheet, a terminal) the flags are in words; the JSON keeps the codes.
    assert rows and rows[0].keys() >= {"pilot_id", "pilot", "flag", "severity", "reason"}
    assert "Decision overdue" in {r["flag"] for r in rows}
    assert not any(re.fullmatch(r"[A-Z_]+", r["flag"]) for r in rows)
    table = cli("flags", "--db", str(db), "--as-of", AS_OF)
    assert "Decision overdue" in table.stdout and "OVERDUE_DECISION" not in table.stdout


def test_demo_size_is_adjustable(tmp_path):
    out = cli("demo", "--db", str(tmp_path / "big.duckdb"), "--as-of", AS_OF, "--pilots", "300")
    assert out.returncode == 0 and "300 pilots" in out.stdout


def test_errors_go_to_stderr_with_a_non_zero_exit(tmp_path):
    db = tmp_path / "p.duckdb"
    assert cli("demo", "--db", str(db), "--pilots", "3").returncode == 0
    again = cli("demo", "--db", str(db))
    assert again.returncode != 0
    assert "already holds 3 pilots" in again.stderr and "Traceback" not in again.stderr
    bad_date = cli("flags", "--db", str(db), "--as-of", "03/02/2026")
    assert bad_date.returncode != 0 and "is not a date" in bad_date.stderr
    bad_setting = cli("flags", "--db", str(db), env={"PORTFOLIO_CLOCK_DAYS": "-4"})
    assert bad_setting.returncode != 0 and "clock_days" in bad_setting.stderr


@pytest.mark.thorough  # a real process
def test_a_real_process_exits_with_the_error_code_and_no_traceback(tmp_path):
    db = tmp_path / "p.duckdb"
    assert cli("demo", "--db", str(db), "--pilots", "3").returncode == 0
    again = process("demo", "--db", str(db))
    assert again.returncode == 2
    assert "already holds 3 pilots" in again.stderr and "Traceback" not in again.stderr


def test_a_database_path_that_cannot_be_created_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    out = cli("demo", "--db", str(blocker / "sub" / "p.duckdb"))
    assert out.returncode == 2 and "Cannot create the folder" in out.stderr and "Traceback" not in out.stderr
    missing = cli("flags", "--db", str(tmp_path / "typo.duckdb"), "--fail-on", "critical")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert not (tmp_path / "typo.duckdb").exists()  # a mistyped path is not a new, empty portfolio
    far = cli("demo", "--db", str(tmp_path / "x.duckdb"), "--as-of", "9999-12-20")
    assert far.returncode == 2 and "outside 1990 to 2199" in far.stderr


def test_flags_name_an_extension_and_a_bridge_overrun_on_the_demo(fixed_demo_db):
    db = fixed_demo_db  # the demo as `demo --as-of AS_OF` builds it
    assert str(demo.FIXED_AS_OF) == AS_OF
    rows = json.loads(cli("flags", "--db", str(db), "--as-of", AS_OF, "--format", "json").stdout)
    stalled = [r["reason"] for r in rows if r["code"] == "STALLED"]
    assert any("extended 2 times (limit 2)" in r for r in stalled)
    assert any(re.search(r"bridge \d+ days past its due date", r) for r in stalled)
    assert any(r["code"] == "CRITERIA_CHANGED" and "criteria changed after kickoff on" in r["reason"] for r in rows)
