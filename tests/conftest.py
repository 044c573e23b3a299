"""Shared fixtures: a fresh DuckDB file per test, the default settings, and
actors of each role built from real people rows."""

from __future__ import annotations

import shutil

import pytest

from portfolio.domain.models import Actor
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import Role
from portfolio.services import demo
from portfolio.storage import db

AS_OF = demo.FIXED_AS_OF


def run_apptest_as_served(monkeypatch) -> None:
    """Every AppTest run takes the path a served app takes, undone after the
    test. A served app detects the older pages/-folder mode once per process,
    and app.py's st.navigation switches it off for good. AppTest instead
    resets the detection before every run (streamlit/streamlit#14217, the fix
    of #9446), so with pages/ beside app.py each run after a page switch
    starts in that mode, runs the page's script alone, reruns through app.py
    (ui._route_through_app) and so loses the widget values a test has just
    set. Switching the mode off after each detection makes every run go
    through app.py, as in a served app after its first run."""
    from streamlit.runtime import pages_manager

    original = pages_manager.PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        pages_manager.PagesManager.uses_pages_directory = False

    monkeypatch.setattr(pages_manager.PagesManager, "__init__", init)


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def db_file(tmp_path):
    return tmp_path / "portfolio.duckdb"


@pytest.fixture
def conn(db_file):
    with db.session(db_file, create=True) as c:
        yield c


def actor_of(conn, role: Role, **overrides) -> Actor:
    person_id = demo.make_person(conn, role=role, **overrides)
    from portfolio.storage import store

    return Actor.of(store.get_person(conn, person_id))


@pytest.fixture
def admin(conn) -> Actor:
    return actor_of(conn, Role.ADMIN, name="Ada Admin")


@pytest.fixture
def leader(conn) -> Actor:
    return actor_of(conn, Role.LEADERSHIP, name="Lee Leader")


@pytest.fixture
def viewer(conn) -> Actor:
    return actor_of(conn, Role.VIEWER, name="Vic Viewer")


@pytest.fixture(scope="session")
def fixed_demo_template(tmp_path_factory):
    """The demo portfolio as of AS_OF, built once per run."""
    path = tmp_path_factory.mktemp("fixed-demo") / "demo.duckdb"
    demo.build_demo(path, AS_OF)
    return path


@pytest.fixture
def fixed_demo_db(fixed_demo_template, tmp_path):
    """A fresh copy of the demo portfolio as of AS_OF, for one test."""
    path = tmp_path / "demo.duckdb"
    shutil.copyfile(fixed_demo_template, path)
    return path
