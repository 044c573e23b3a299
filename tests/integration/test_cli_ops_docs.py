"""What the README tells an operator and an analyst to run, run as written:
the cron line (an alert on exit 3, an error reported as an error), and the
analysts' way in (every table as Parquet, read by DuckDB and pandas; a
backup copy opened with DuckDB). The README's lines run in real processes,
through a shell; the commands around them in this process (cli.main)."""

from __future__ import annotations

import http.server
import os
import re
import subprocess
import threading
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.conftest import run_cli

# Fault tests, fuzzing and real processes: make test runs them, make test-fast does not.
pytestmark = pytest.mark.thorough

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_block(marker: str) -> str:
    """The fenced block that follows ``<!-- marker: ... -->`` in the README."""
    found = re.search(rf"<!-- {marker}:[^>]*-->\s*```\w*\n(.*?)```", README, re.S)
    assert found, f"the README has no block marked <!-- {marker}: ... -->"
    return found.group(1)


def cli(*args) -> subprocess.CompletedProcess:
    """The command in this process, with no PORTFOLIO_ settings (as cron's environment)."""
    return run_cli(*args, env={name: None for name in os.environ if name.startswith("PORTFOLIO_")})


def plain_env() -> dict[str, str]:
    """An environment like cron's: a short PATH, no PORTFOLIO_ settings."""
    return {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}


@pytest.fixture
def install(tmp_path):
    """A folder laid out like the README's /srv/pilots: the tracker (its
    code and virtualenv) and data/."""
    folder = tmp_path / "pilots"
    (folder / "data").mkdir(parents=True)
    (folder / ".venv").symlink_to(ROOT / ".venv")
    (folder / "portfolio").symlink_to(ROOT / "portfolio")
    return folder


class Hook:
    """A real chat webhook stand-in on 127.0.0.1 that takes every POST."""

    def __init__(self):
        posts = self.posts = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                posts.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/pilots"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_readme_cron_line_alerts_on_overdue_pilots_and_reports_an_error_as_an_error(install):
    lines = [ln for ln in readme_block("cron-line").splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(lines) == 1, lines
    schedule = lines[0].split(None, 5)
    assert schedule[:5] == ["0", "7", "*", "*", "1"]
    assert "mail" not in schedule[5].split() and "%" not in schedule[5]  # nothing the machine may lack
    db_file = install / "data" / "portfolio.duckdb"
    built = cli("demo", "--db", str(db_file))  # as of today, as cron runs it: pilots are overdue
    assert built.returncode == 0, built.stderr
    with duckdb.connect(str(db_file), read_only=True) as c:
        leader = c.execute("SELECT email FROM person WHERE role = 'leadership' AND active LIMIT 1").fetchone()[0]
    hook = Hook()
    try:
        command = (schedule[5].replace("/srv/pilots", str(install))
                   .replace("https://chat.example.com/hooks/pilots", hook.url)
                   .replace("leader@example.com", leader))
        run = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, env=plain_env(),
                             timeout=180)
        assert run.returncode == 0, run.stderr
        alerts, errors = install / "alerts.log", install / "errors.log"
        assert "ALERT overdue pilots" in alerts.read_text() and not errors.exists()
        assert (install / "digest.html").read_text().startswith("<!DOCTYPE html>") and len(hook.posts) == 1
        with duckdb.connect(str(db_file), read_only=True) as c:
            assert c.execute("SELECT count(*) FROM digest_run").fetchone()[0] == 1  # recorded as the leader

        # The database gone (exit 2): an error, with its message, and no "overdue" alert.
        db_file.rename(install / "data" / "elsewhere.duckdb")
        run = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, env=plain_env(),
                             timeout=180)
        assert run.returncode == 0, run.stderr
        assert alerts.read_text().count("ALERT") == 1  # no second alert
        error = errors.read_text()
        assert "ERROR the digest failed" in error and "does not exist" in error and "Traceback" not in error
        assert len(hook.posts) == 1
    finally:
        hook.close()


def test_export_parquet_writes_every_table_for_duckdb_and_pandas(fixed_demo_db, tmp_path):
    out = tmp_path / "parquet"
    done = cli("export", "--db", str(fixed_demo_db), "--format", "parquet", "--out", str(out))
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(fixed_demo_db), read_only=True) as c:
        tables = {t: c.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                  for (t,) in c.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        pilots = c.execute("SELECT id, name, stage, go_no_go_date FROM pilot ORDER BY id").fetchall()
    assert {"pilot", "person", "weekly_update", "decision", "audit", "digest_run"} <= set(tables)
    # Every table but the tokens' (their hashes stay in the database): nothing else.
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.parquet" for t in tables if t != "access_token")
    tables.pop("access_token")
    reader = duckdb.connect()  # any DuckDB, in memory: the live file is not involved
    for table, rows in tables.items():
        path = out / f"{table}.parquet"
        assert reader.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0] == rows, table
        assert len(pd.read_parquet(path)) == rows, table
    assert reader.execute("SELECT id, name, stage, go_no_go_date FROM read_parquet(?) ORDER BY id",
                          [str(out / "pilot.parquet")]).fetchall() == pilots
    frame = pd.read_parquet(out / "pilot.parquet")
    assert pd.api.types.is_datetime64_any_dtype(frame["created_at"])  # types kept, not text

    # A file where the folder should be: refused in plain words.
    clash = tmp_path / "a-file"
    clash.write_text("x")
    refused = cli("export", "--db", str(fixed_demo_db), "--format", "parquet", "--out", str(clash))
    assert refused.returncode == 2 and "is a file" in refused.stderr and "Traceback" not in refused.stderr


def test_the_readme_analyst_lines_run_as_written(install, fixed_demo_db):
    (install / "exports").mkdir()
    fixed_demo_db.rename(install / "data" / "portfolio.duckdb")  # the default PORTFOLIO_DB
    with duckdb.connect(str(install / "data" / "portfolio.duckdb"), read_only=True) as c:
        stages = dict(c.execute("SELECT stage, count(*) FROM pilot GROUP BY ALL").fetchall())
    commands = [ln for ln in readme_block("analysts").splitlines() if ln.strip() and not ln.startswith("#")]
    assert any("--format parquet" in c for c in commands) and any("backup" in c for c in commands)
    assert any("read_only=True" in c for c in commands)  # the copy is opened read-only
    for command in commands:
        run = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, cwd=install,
                             env=plain_env(), timeout=120)
        assert run.returncode == 0, (command, run.stderr)
        if "SELECT stage" in command:  # both ways in show the portfolio's stages and counts
            for stage, n in stages.items():
                assert re.search(rf"{stage}\s*│\s*{n}\b", run.stdout), (stage, n, run.stdout)


def test_the_readme_own_organisation_start_runs_as_written(install):
    """The README's start for your own organisation: its `init` line, run as
    written, makes the portfolio with its first admin and prints the README's
    own `make run` line as the next step."""
    lines = [ln for ln in readme_block("own-organisation").splitlines() if ln.strip()]
    (init_line,) = [ln for ln in lines if " init " in ln]
    (run_line,) = [ln for ln in lines if ln.startswith("make run")]
    made = subprocess.run(["/bin/sh", "-c", init_line], capture_output=True, text=True, cwd=install,
                          env=plain_env(), timeout=120)
    assert made.returncode == 0, made.stderr
    assert f"  {run_line}" in made.stdout.splitlines()
    db_file = install / re.search(r"--db (\S+)", init_line).group(1)
    with duckdb.connect(str(db_file), read_only=True) as c:
        assert c.execute("SELECT role, active FROM person").fetchall() == [("admin", True)]
    # Run again, it refuses: the portfolio has its admin.
    again = subprocess.run(["/bin/sh", "-c", init_line], capture_output=True, text=True, cwd=install,
                           env=plain_env(), timeout=120)
    assert again.returncode == 2 and "already has an admin" in again.stderr
