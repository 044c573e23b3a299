"""AppTest as a served app behaves: every run goes through app.py (see
tests.conftest.run_apptest_as_served for why AppTest needs this help), and
each test gets its own copy of the demo portfolio."""

import contextlib
import shutil
from datetime import date

import duckdb
import pytest

from portfolio.services import demo
from tests.conftest import copy_demo, held_open, run_apptest_as_served, run_cli


@pytest.fixture(autouse=True)
def navigation_mode_as_served(monkeypatch):
    run_apptest_as_served(monkeypatch)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory):
    """The demo portfolio, built once per run; each test gets its own copy."""
    path = tmp_path_factory.mktemp("demo-template") / "demo.duckdb"
    demo.build_demo(path, date.today())
    return path


def served_copy(template, place, monkeypatch):
    """A fresh copy of ``template`` at ``place``, served to the app by
    PORTFOLIO_DB in local mode with no PORTFOLIO_USER (the first admin
    acts); copied as ``copy_demo`` copies, over an earlier test's copy."""
    copy_demo(template, place)
    monkeypatch.setenv("PORTFOLIO_DB", str(place))
    monkeypatch.delenv("PORTFOLIO_USER", raising=False)
    return place


def place_of(name, tmp_path, tmp_path_factory, request):
    """Where a test's copy of a portfolio lives. One place per worker for
    every test, as a restored backup lands where the database was: the app
    keeps its portfolio-wide reads by the database's path and the version
    of its data (``audit.data_version``), so a test whose copy is as built
    finds what an earlier test's first run computed for the same data, and
    one that has changed it (every change is audited, with its time) finds
    nothing of another's. A thorough test, which damages the file or has
    another program hold it, gets a place of its own."""
    if request.node.get_closest_marker("thorough"):
        return tmp_path / name
    place = tmp_path_factory.getbasetemp() / "app-portfolio"
    place.mkdir(exist_ok=True)
    return place / name


@pytest.fixture
def demo_db(demo_template, tmp_path, tmp_path_factory, monkeypatch, request):
    """A fresh copy of the demo portfolio built for today (see
    ``served_copy`` and ``place_of``).

    The test holds a connection to it throughout: a served app releases the
    file after every page run so that the command line can use it (db.py),
    but here nothing outside this process does, and while one connection is
    open DuckDB keeps the database instance, so each page run's open costs
    microseconds instead of building an instance (about 15 ms; a fifth of
    this tier's time). The thorough tests, which damage the file or have
    another program hold it, get the file to themselves."""
    path = served_copy(demo_template, place_of("demo.duckdb", tmp_path, tmp_path_factory, request), monkeypatch)
    with held_open(path, request):
        yield path


ADMIN = "admin@example.org"


@pytest.fixture
def admin_db(db_file, empty_template, monkeypatch, request):
    """An empty portfolio given its first admin by `init`, who acts (held
    open as demo_db is)."""
    shutil.copyfile(empty_template, db_file)
    made = run_cli("init", "--db", db_file, "--admin", ADMIN, "--name", "Ada Admin")
    assert made.returncode == 0, made.stderr
    monkeypatch.setenv("PORTFOLIO_DB", str(db_file))
    monkeypatch.setenv("PORTFOLIO_USER", ADMIN)
    with held_open(db_file, request):
        yield db_file
