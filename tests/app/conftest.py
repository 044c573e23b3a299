"""AppTest as a served app behaves.

A served app detects the older pages/-folder mode once per process and
st.navigation switches it off for good; AppTest detects it again before
every run, so each run would start in that mode and widget state set by a
test would not reach the next run. Switching the mode off after each
detection makes every AppTest run take the path a served app takes."""

import shutil
from datetime import date

import pytest

from portfolio.services import demo
from tests.conftest import run_apptest_as_served


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
