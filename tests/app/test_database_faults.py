"""The app when it cannot have the database: held by another program, missing
at PORTFOLIO_DB, or damaged. Each is a plain message, no stack trace, no file
created or changed; and what the person typed into a form survives a run
that could not open the database, to be saved once it is free."""

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from portfolio.storage import db, store
from tests.app.test_pages import owned_pilot_without_this_weeks_update
from tests.damage import HEADER_BYTES, block_of, scribble

# Fault tests, fuzzing and real processes: make test runs them, make test-fast does not.
pytestmark = pytest.mark.thorough

ROOT = Path(__file__).resolve().parents[2]
TRACE = ("Traceback", "IO Error", "Error:", "_duckdb", "checksum")  # what a raw DuckDB error shows


def open_app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at


def plain_errors(at: AppTest) -> list[str]:
    assert not at.exception, [e.value for e in at.exception]  # no stack trace on the page
    # As the browser shows them: Markdown turns a backslash before
    # punctuation (how user text and paths are escaped) into the character.
    shown = [re.sub(r"\\([!-/:-@[-`{-~])", r"\1", e.value) for e in at.error]
    assert shown and not any(word in text for text in shown for word in TRACE), shown
    return shown


def digest_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_missing_database_is_named_with_how_to_make_one_and_not_created(tmp_path, monkeypatch):
    typo = tmp_path / "data" / "prtfolio.duckdb"
    monkeypatch.setenv("PORTFOLIO_DB", str(typo))
    at = open_app()
    shown = plain_errors(at)
    assert f"{typo} does not exist" in shown[0] and f"python -m portfolio demo --db {typo}" in shown[0]
    assert not typo.exists() and not typo.parent.exists()


@pytest.mark.parametrize("damage", ["not a database", "the catalog fails its checksum",
                                    "the pilots fail their checksum"])
def test_a_damaged_database_is_a_plain_message_and_is_left_as_it_was(demo_db, damage):
    if damage == "not a database":
        demo_db.write_bytes(b"Pilot,Stage\nClaims triage,pilot\n" * 100)
    elif damage == "the catalog fails its checksum":
        scribble(demo_db, HEADER_BYTES)
    else:  # opens; the Portfolio page's first read of the pilots meets it
        scribble(demo_db, block_of(demo_db, "pilot"))
    before = digest_of(demo_db)
    at = open_app()
    shown = plain_errors(at)
    assert "is damaged" in shown[0] and "Restore it from a backup" in shown[0]
    assert digest_of(demo_db) == before


class Holder:
    """Another program holding the database for writing: a real process."""

    def __init__(self, path: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-c",
             f"import duckdb, sys; c = duckdb.connect({str(path)!r}); c.execute('BEGIN'); "
             "print('held', flush=True); sys.stdin.readline()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        self.proc.communicate("\n", timeout=30)


def test_a_page_that_cannot_get_the_database_keeps_what_was_typed(demo_db, monkeypatch):
    monkeypatch.setenv("PORTFOLIO_LOCK_WAIT_SECONDS", "0.5")  # a page run waits this long for the file
    # a pilot without this week's update, so that saving posts one rather than revising it
    pilot_id, _ = owned_pilot_without_this_weeks_update(demo_db)
    at = open_app("pages/weekly_update.py")
    at.selectbox(key="update-pilot").set_value(pilot_id)
    at.run()
    at.radio(key="update-health").set_value("amber")
    at.text_area(key="update-summary").input("Vendor contract signed; load test next week")
    at.text_area(key="update-blockers").input("Waiting on the data owner")

    holder = Holder(demo_db)
    try:
        at.button(key="update-submit").click()
        at.run()
        shown = plain_errors(at)
        assert "in use by another program" in shown[0] and "try again" in shown[0]
        assert any("What you typed is kept" in c.value for c in at.caption)
        assert at.button(key="database-try-again")
    finally:
        holder.release()

    at.button(key="database-try-again").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.text_area(key="update-summary").value == "Vendor contract signed; load test next week"
    assert at.text_area(key="update-blockers").value == "Waiting on the data owner"
    assert at.radio(key="update-health").value == "amber"
    assert at.selectbox(key="update-pilot").value == pilot_id
    at.button(key="update-submit").click()
    at.run()
    assert not at.error, [e.value for e in at.error]
    assert "Posted the update" in at.success[0].value
    with db.session(demo_db) as c:
        latest = store.list_updates(c, pilot_id)[0]
    assert (latest.health.value, latest.summary, latest.blockers) == (
        "amber", "Vendor contract signed; load test next week", "Waiting on the data owner")
