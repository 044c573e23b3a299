"""A big import from the command line while people keep working in the app.

The command reads and checks the file without holding the database, so a
page run can open it, save, and close while the import is checking; the
command holds the file again only to write. The command says on stderr when
it starts checking and when it starts writing: the tests act on those lines
and on the file's lock itself, never on a pause."""

import os
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from portfolio.domain.settings import Settings
from portfolio.services import demo, pilots, signin, updates
from portfolio.storage import audit, db, store
from tests.conftest import run_cli

# Fault tests, fuzzing and real processes: make test runs them, make test-fast does not.
pytestmark = pytest.mark.thorough

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "alex.morgan@example.com"  # the demo's first admin
# A file big enough that checking it takes a good while (seconds here),
# against the milliseconds a page run needs to open the file once the
# command says it is checking.
ROWS = 5000
WAIT = 120  # seconds at most for the command to reach a line (a busy machine)


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("small-demo") / "p.duckdb"
    demo.build_demo(path, demo.FIXED_AS_OF, n=8)
    return path


@pytest.fixture
def portfolio_file(small_demo, tmp_path) -> Path:
    path = tmp_path / "p.duckdb"
    shutil.copyfile(small_demo, path)
    return path


def sheet(path: Path, rows: int, title: str = "Imported pilot") -> Path:
    lines = ["Use case ID,Title,Business unit,Stage"]
    lines += [f"BIG-{i},{title} {i},Finance,proposed" for i in range(1, rows + 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Command:
    """``python -m portfolio ...`` as a process, its stderr read line by line."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "portfolio", *args], cwd=ROOT, text=True,
                                     env={**os.environ, "PORTFOLIO_USER": ADMIN},
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put(None)  # the command closed its stderr: it ended

    def wait_for(self, text: str) -> str:
        while True:
            line = self.lines.get(timeout=WAIT)
            if line is None:
                pytest.fail(f"the command ended without saying {text!r}; it said: {''.join(self.seen)}")
            self.seen.append(line)
            if text in line:
                return line

    def finish(self) -> tuple[int, str, str]:
        out = self.proc.stdout.read()
        self.proc.wait(timeout=WAIT)
        while (line := self.lines.get(timeout=WAIT)) is not None:
            self.seen.append(line)
        return self.proc.returncode, out, "".join(self.seen)


def test_a_page_saves_while_the_import_checks_its_file(portfolio_file, tmp_path):
    command = Command("import", str(sheet(tmp_path / "big.csv", ROWS)), "--db", str(portfolio_file))
    try:
        command.wait_for(f"Checking {ROWS} rows")
        # A page run, as the app makes one: open without waiting (the file
        # is free while the command checks), save, and hold the file until
        # the command has finished checking and wants to write.
        with db.session(portfolio_file, wait_seconds=0) as c:
            admin = signin.actor_for_email(c, ADMIN)
            pilot_id = c.execute("SELECT min(id) FROM pilot WHERE stage = 'pilot'").fetchone()[0]
            update_id, _ = updates.post_weekly_update(
                c, admin, {"pilot_id": pilot_id, "health": "amber", "summary": "Typed while the import ran"},
                demo.FIXED_AS_OF)
            command.wait_for("writing")  # checked all of it while this page run held the file
    finally:
        code, out, err = command.finish()
    assert code == 0, err
    assert f"Imported {ROWS} rows ({ROWS} new, 0 updated)" in out
    with db.session(portfolio_file) as c:
        assert store.list_updates(c, pilot_id)[0].summary == "Typed while the import ran"
        history = audit.trail(c, pilot_id=pilot_id)
        assert "weekly_update" in set(history["entity"])  # the person's save is in the History
        assert c.execute("SELECT count(*) FROM pilot WHERE external_id LIKE 'BIG-%'").fetchone()[0] == ROWS


def test_a_pilot_edited_while_the_import_checks_is_seen_and_the_file_checked_again(portfolio_file, tmp_path):
    first = sheet(tmp_path / "first.csv", 3)
    assert run_cli("import", first, "--db", portfolio_file, env={"PORTFOLIO_USER": ADMIN}).returncode == 0
    command = Command("import", str(sheet(tmp_path / "again.csv", ROWS, title="Renamed by the file")),
                      "--db", str(portfolio_file))
    try:
        command.wait_for(f"Checking {ROWS} rows")
        with db.session(portfolio_file, wait_seconds=0) as c:
            admin = signin.actor_for_email(c, ADMIN)
            pilot_id = c.execute("SELECT id FROM pilot WHERE external_id = 'BIG-2'").fetchone()[0]
            pilots.edit_pilot(c, admin, pilot_id, {"business_unit": "Claims"}, Settings(), today=demo.FIXED_AS_OF)
            command.wait_for("writing")
    finally:
        code, out, err = command.finish()
    assert code == 0, err
    assert "checking it again" in err
    with db.session(portfolio_file) as c:
        pilot = store.get_pilot(c, pilot_id)
        # The edit made meanwhile is kept in the History; the import, checked
        # again against it, then applied the file's values over it knowingly.
        assert pilot.name == "Renamed by the file 2" and pilot.business_unit == "Finance"
        history = audit.trail(c, pilot_id=pilot_id)
        assert list(history.sort_values("id")["action"]) == ["import", "edit", "import"]
