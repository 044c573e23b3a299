"""Shared fixtures: a fresh DuckDB file per test, the default settings,
actors of each role built from real people rows, the command line run in
this process, and the hypothesis profiles.

Hypothesis runs under the profile named by HYPOTHESIS_PROFILE: ``ci``, the
full example counts (the default when CI=true), or ``dev``, a tenth of them
(the default otherwise), so that the fast tier stays fast while working."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from portfolio.domain.models import Actor
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import Role
from portfolio.services import demo
from portfolio.storage import db

AS_OF = demo.FIXED_AS_OF
ROOT = Path(__file__).resolve().parents[1]

# A property test's max_examples is its count under ``ci`` (hypothesis's
# default of 100 examples); ``dev`` scales every count to a tenth.
hypothesis_settings.register_profile("ci", max_examples=100)
hypothesis_settings.register_profile("dev", max_examples=10)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev"))


def examples(full: int) -> int:
    """A property test's example count under the loaded profile: ``full``
    under ``ci``, a tenth of it under ``dev``."""
    return max(1, full * hypothesis_settings.default.max_examples // 100)


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


_compiled_scripts: dict[tuple[str, int], object] = {}
_components_found: list = []
_scan_component_manifests = None


@pytest.fixture(autouse=True)
def apptest_compiles_each_script_once():
    """A served app compiles each script (app.py, a page) once per process
    (the runtime's one ScriptCache); AppTest makes a new ScriptCache for
    every run and so compiles them again each time, which costs a third of a
    pilot page's run. Kept here by path and modification time, as a server
    keeps them; and the installed components are looked for once, as a
    server does (see _installed_components). Only once Streamlit is loaded:
    unit tests never load it."""
    if "streamlit" not in sys.modules:
        yield
        return
    from streamlit.components.v2 import manifest_scanner
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    global _scan_component_manifests
    _scan_component_manifests = _scan_component_manifests or manifest_scanner.scan_component_manifests
    compile_script = ScriptCache.get_bytecode

    def get_bytecode(cache, script_path):
        key = (os.path.abspath(script_path), os.stat(script_path).st_mtime_ns)
        if key not in _compiled_scripts:
            _compiled_scripts[key] = compile_script(cache, script_path)
        return _compiled_scripts[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ScriptCache, "get_bytecode", get_bytecode)
        patch.setattr(manifest_scanner, "scan_component_manifests", _installed_components)
        yield


def _installed_components(*args, **kwargs):
    """A served app looks for installed custom components once, when its
    runtime starts; AppTest looks again for every new AppTest, reading the
    metadata of every installed package (0.4 s each time). The packages
    installed do not change while the tests run: looked for once per worker."""
    if not _components_found:
        _components_found.append(_scan_component_manifests(*args, **kwargs))
    return list(_components_found[0])


@contextlib.contextmanager
def held_open(path, request):
    """A connection to ``path`` held open while the test's own opens of it
    (page runs, the command line run in this process) come and go: DuckDB
    then keeps the database loaded between them instead of loading it and
    writing it out again for each (about 15 ms an open, more for a close
    after a write). Not for a thorough test, which damages the file or has
    another program hold it; nor for a test that opens the file read-only
    in this process (DuckDB refuses a second configuration)."""
    if request.node.get_closest_marker("thorough"):
        yield
        return
    import duckdb

    holder = duckdb.connect(str(path))
    try:
        yield
    finally:
        holder.close()


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def db_file(tmp_path):
    return tmp_path / "portfolio.duckdb"


@pytest.fixture(scope="session")
def empty_template(tmp_path_factory):
    """An empty portfolio with every migration applied, made once per run
    (once per worker under pytest-xdist): copying it takes a fraction of the
    time that migrating a new file takes."""
    path = tmp_path_factory.mktemp("empty-template") / "empty.duckdb"
    with db.session(path, create=True):
        pass
    return path


@pytest.fixture
def conn(db_file, empty_template):
    """A connection to this test's own copy of the empty, migrated portfolio."""
    shutil.copyfile(empty_template, db_file)
    with db.session(db_file) as c:
        yield c


@pytest.fixture
def kept_units(conn) -> list[str]:
    """The demo's business units on the organisation's kept list, for tests
    that give pilots a unit through the services."""
    for name in demo.BUSINESS_UNITS:
        demo.make_unit(conn, name)
    return list(demo.BUSINESS_UNITS)


def actor_of(conn, role: Role, **overrides) -> Actor:
    person_id = demo.make_person(conn, role=role, **overrides)
    from portfolio.storage import store

    return Actor.of(store.get_person(conn, person_id))


def accept_handover(conn, pilot_id: int, on=None, verdict: str = "accepted", note: str = "") -> None:
    """The pilot's operational owner accepts its handover, as they would on
    the pilot page (a go needs it, or an override)."""
    from portfolio.services import handover
    from portfolio.storage import store

    pilot = store.get_pilot(conn, pilot_id)
    owner = Actor.of(store.get_person(conn, pilot.operational_owner_id))
    handover.record_acceptance(conn, owner, {
        "pilot_id": pilot_id, "verdict": verdict, "note": note,
        "accepted_on": on or pilot.start_date or AS_OF}, Settings())


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


@pytest.fixture
def held_demo_db(fixed_demo_db, request):
    """``fixed_demo_db`` held open while the command line, run in this
    process, opens it for each command and each delivery's record (see
    ``held_open``)."""
    with held_open(fixed_demo_db, request):
        yield fixed_demo_db


def copy_demo(template: Path, db_file: Path) -> Path:
    """Put a portfolio back at ``db_file`` as ``template`` holds it. The copy is written
    beside it and renamed over it, so a connection opened meanwhile sees
    either the old file or the whole new one; a write-ahead log left by the
    old file would be replayed onto the new one, so it goes first."""
    staged = db_file.with_name(db_file.name + ".copying")
    shutil.copyfile(template, staged)
    Path(f"{db_file}.wal").unlink(missing_ok=True)
    os.replace(staged, db_file)
    return db_file


def run_cli(*args, env: dict[str, str | None] | None = None, cwd: str | Path = ROOT) -> subprocess.CompletedProcess:
    """``python -m portfolio ARGS`` run in this process: its exit code (2 for
    arguments argparse refuses, as from a real process) and what it printed.
    ``env`` sets variables for the run (None removes one), undone after."""
    from portfolio import cli

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (env or {}).items():
            if value is None:
                patch.delenv(name, raising=False)
            else:
                patch.setenv(name, value)
        patch.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main([str(a) for a in args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return subprocess.CompletedProcess(["python", "-m", "portfolio", *args], code, out.getvalue(),
                                       err.getvalue())
