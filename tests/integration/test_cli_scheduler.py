"""The command line as a scheduler runs it: import, export, backup, summary
and digest, --fail-on exit codes (run in this process, as __main__ runs
cli.main), and all of it from other processes while the app is serving."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from portfolio.services import demo
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[2]
AS_OF = str(demo.FIXED_AS_OF)  # the day the fixed demo (held_demo_db) is built for
ADMIN = "alex.morgan@example.com"  # the demo's first admin


def cli(*args, env=None):
    """The command, in this process, as the demo's first admin."""
    return run_cli(*args, env={"PORTFOLIO_USER": ADMIN, **(env or {})})


def process(*args, timeout=120):
    """The command in a real process, as the demo's first admin."""
    return subprocess.run([sys.executable, "-m", "portfolio", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PORTFOLIO_USER": ADMIN}, timeout=timeout)


def test_fail_on_exits_non_zero_when_a_pilot_is_overdue(held_demo_db):
    quiet = cli("flags", "--db", str(held_demo_db), "--as-of", AS_OF, "--format", "json")
    assert quiet.returncode == 0
    critical = cli("flags", "--db", str(held_demo_db), "--as-of", AS_OF, "--fail-on", "critical")
    assert critical.returncode == 3 and "critical or worse" in critical.stderr
    out = cli("digest", "--db", str(held_demo_db), "--as-of", AS_OF, "--fail-on", "high", "--format", "json")
    assert out.returncode == 3
    assert json.loads(out.stdout)["overdue"]


def test_digest_says_what_changed_since_the_previous_run(held_demo_db):
    first = json.loads(cli("digest", "--db", str(held_demo_db), "--as-of", AS_OF, "--format", "json").stdout)
    assert first["changes_since_previous"]["previous"] is None
    second = json.loads(cli("digest", "--db", str(held_demo_db), "--as-of", "2026-03-09", "--format", "json").stdout)
    assert second["changes_since_previous"]["previous"] is not None
    assert second["changes_since_previous"]["raised"] or second["changes_since_previous"]["cleared"]


def test_summary_import_export_and_backup(held_demo_db, tmp_path):
    summary = json.loads(cli("summary", "--db", str(held_demo_db), "--as-of", AS_OF).stdout)
    assert summary["Active pilots"] > 0 and "Conversion" in summary
    # Numbers as numbers: a script compares them without parsing text.
    numbers = {k: v for k, v in summary.items() if k != "as_of"}
    assert all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in numbers.values()), numbers
    assert isinstance(summary["No-go decisions"], int) and 0 <= summary["Conversion"] <= 1
    imported = cli("import", "--db", str(held_demo_db), str(ROOT / "data" / "sample_import.csv"),
                   "--mapping", str(ROOT / "data" / "sample_mapping.toml"), "--skip-invalid",
                   "--rejects", str(tmp_path / "rejects.csv"))
    assert imported.returncode == 0, imported.stderr
    assert "Imported 5 rows" in imported.stdout and "rejected 1" in imported.stdout
    assert "UC-106" in (tmp_path / "rejects.csv").read_text(encoding="utf-8-sig")
    refused = cli("import", "--db", str(held_demo_db), str(ROOT / "data" / "sample_import.csv"),
                  "--mapping", str(ROOT / "data" / "sample_mapping.toml"), env={"PORTFOLIO_USER": "nobody@example.com"})
    assert refused.returncode == 2 and "PORTFOLIO_USER" in refused.stderr
    assert cli("export", "--db", str(held_demo_db), "--format", "csv", "--out", str(tmp_path / "p.csv")).returncode == 0
    assert cli("export", "--db", str(held_demo_db), "--format", "xlsx", "--out", str(tmp_path / "p.xlsx")).returncode == 0
    assert (tmp_path / "p.xlsx").stat().st_size > 0
    assert cli("backup", "--db", str(held_demo_db), "--out", str(tmp_path / "copy.duckdb")).returncode == 0
    again = cli("summary", "--db", str(tmp_path / "copy.duckdb"), "--as-of", AS_OF)
    assert json.loads(again.stdout)["Active pilots"] == summary["Active pilots"] + 3  # the imported pilots


@pytest.mark.thorough  # a real process
def test_the_command_line_works_while_the_app_is_serving(held_demo_db, monkeypatch):
    """The app's page runs (AppTest in this process, over and over) and the
    command line's digest and import (other processes) share the file: each
    side waits its turn for the lock, and neither sees an error."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("PORTFOLIO_DB", str(held_demo_db))
    stop, served, runs, failures = threading.Event(), threading.Event(), [], []

    def serve():
        while not stop.is_set():
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
            failures.extend(e.value for e in at.exception)
            failures.extend(e.value for e in at.error)
            runs.append(at.title[0].value if at.title else None)
            served.set()

    app = threading.Thread(target=serve, daemon=True)
    app.start()
    try:
        # The app has served a page (and is serving the next) when the commands start.
        assert served.wait(timeout=120), "the app served no page"
        digest = process("digest", "--db", str(held_demo_db), "--as-of", AS_OF, "--format", "json")
        imported = process("import", "--db", str(held_demo_db), str(ROOT / "data" / "sample_import.csv"),
                       "--mapping", str(ROOT / "data" / "sample_mapping.toml"), "--skip-invalid")
    finally:
        stop.set()
        app.join(timeout=120)
    assert digest.returncode == 0, digest.stderr
    assert imported.returncode == 0, imported.stderr
    assert not failures, failures
    assert len(runs) >= 2 and set(runs) == {"Portfolio"}


def test_command_line_outputs_are_formula_safe_and_checked_before_work(held_demo_db, tmp_path):
    hostile = tmp_path / "hostile.csv"
    hostile.write_text("Use case ID,Title,Pilot start\nX-1,=HYPERLINK(\"http://x\"),2026-01-05\n"
                       "X-1,@SUM(1),2026-01-05\n", encoding="utf-8")  # the same id again: rejected
    out = cli("import", "--db", str(held_demo_db), str(hostile), "--skip-invalid", "--rejects", str(tmp_path / "r.csv"))
    assert out.returncode == 0, out.stderr
    rejects = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert "'@SUM(1)" in rejects and "\n@SUM" not in rejects and ",@SUM" not in rejects
    flags_csv = cli("flags", "--db", str(held_demo_db), "--format", "csv").stdout
    assert "=HYPERLINK" not in flags_csv.replace("'=HYPERLINK", "")
    # The rejects file imports back as it was (the apostrophe is the export's, not the data's).
    from portfolio.services import importer

    assert list(importer.read_table(tmp_path / "r.csv", "r.csv")["Title"]) == ["@SUM(1)"]
    before = json.loads(cli("summary", "--db", str(held_demo_db)).stdout)["Active pilots"]
    bad_out = cli("import", "--db", str(held_demo_db), str(ROOT / "data" / "sample_import.csv"),
                  "--mapping", str(ROOT / "data" / "sample_mapping.toml"), "--skip-invalid",
                  "--rejects", str(tmp_path / "no-such-folder" / "r.csv"))
    assert bad_out.returncode == 2 and "Rejects: cannot write" in bad_out.stderr
    assert json.loads(cli("summary", "--db", str(held_demo_db)).stdout)["Active pilots"] == before  # nothing written
    dry = cli("import", "--db", str(held_demo_db), str(ROOT / "data" / "sample_import.csv"),
              "--mapping", str(ROOT / "data" / "sample_mapping.toml"), "--dry-run")
    assert dry.returncode == 2 and "1 with problems" in dry.stdout


def test_a_digest_that_was_not_delivered_is_not_recorded(held_demo_db, tmp_path):
    failed = cli("digest", "--db", str(held_demo_db), "--as-of", AS_OF, "--out", str(tmp_path / "missing" / "d.md"))
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    first = json.loads(cli("digest", "--db", str(held_demo_db), "--as-of", AS_OF, "--format", "json").stdout)
    assert first["changes_since_previous"]["previous"] is None


def test_the_audit_command_prints_the_trail_with_the_command_line_user(held_demo_db, tmp_path):
    sheet = tmp_path / "pilots.csv"
    sheet.write_text("Use case ID,Title,Stage\nUC-77,Invoice matcher,pilot\n", encoding="utf-8")
    assert cli("import", str(sheet), "--db", str(held_demo_db)).returncode == 0
    assert cli("digest", "--db", str(held_demo_db), "--as-of", AS_OF, "--out", str(tmp_path / "d.md")).returncode == 0

    out = cli("audit", "--db", str(held_demo_db), "--format", "json")
    assert out.returncode == 0, out.stderr
    records = json.loads(out.stdout)
    assert {"at", "actor", "entity", "entity_id", "action", "before", "after"} <= set(records[0])
    by_entity = {r["entity"]: r for r in reversed(records)}  # the newest of each
    assert by_entity["demo"]["via"] == "command line" and by_entity["demo"]["after"]["pilots"] > 0
    imported = next(r for r in records if r["entity"] == "pilot" and r["action"] == "import")
    assert imported["after"]["external_id"] == "UC-77" and imported["before"] is None
    assert ADMIN in imported["actor"] and imported["via"] == "command line"
    assert by_entity["import"]["after"]["created"] == 1
    assert ADMIN in by_entity["digest"]["actor"]

    one = cli("audit", "--db", str(held_demo_db), "--pilot", str(imported["pilot_id"]), "--format", "csv")
    assert one.returncode == 0 and one.stdout.count("\n") == 2 and "UC-77" in one.stdout
    later = cli("audit", "--db", str(held_demo_db), "--since", "2199-01-01")
    assert later.returncode == 0 and "No audit records." in later.stdout
    table = cli("audit", "--db", str(held_demo_db), "--entity", "import")
    assert table.returncode == 0 and "pilots.csv" in table.stdout
