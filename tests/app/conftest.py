"""AppTest as a served app behaves: every run goes through app.py (see
tests.conftest.run_apptest_as_served for why AppTest needs this help), and
each test gets its own copy of the demo portfolio."""

import shutil
from datetime import date

import pytest

from portfolio.services import demo
from tests.conftest import run_apptest_as_served, run_cli


@pytest.fixture(autouse=True)
def navigation_mode_as_served(monkeypatch):
    run_apptest_as_served(monkeypatch)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory):
    """The demo portfolio, built once per run; each test gets its own copy."""
    path = tmp_path_factory.mktemp("demo-template") / "demo.duckdb"
    demo.build_demo(path, date.today())
    return path


@pytest.fixture
def demo_db(demo_template, tmp_path, monkeypatch):
    """A fresh copy of the demo portfolio built for today, served to the app
    by PORTFOLIO_DB, in local mode with no PORTFOLIO_USER (the first admin
    acts)."""
    path = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_template, path)
    monkeypatch.setenv("PORTFOLIO_DB", str(path))
    monkeypatch.delenv("PORTFOLIO_USER", raising=False)
    return path


ADMIN = "admin@example.org"


@pytest.fixture
def admin_db(db_file, empty_template, monkeypatch):
    """An empty portfolio given its first admin by `init`, who acts."""
    shutil.copyfile(empty_template, db_file)
    made = run_cli("init", "--db", db_file, "--admin", ADMIN, "--name", "Ada Admin")
    assert made.returncode == 0, made.stderr
    monkeypatch.setenv("PORTFOLIO_DB", str(db_file))
    monkeypatch.setenv("PORTFOLIO_USER", ADMIN)
    return db_file
