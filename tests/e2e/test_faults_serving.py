"""The command line beside the served app: while a browser keeps reading
the Portfolio and posting weekly updates, and another process keeps
writing, the digest and an import run from the command line. Everything
succeeds and no lock error reaches anyone: each side waits its turn for the
file (see portfolio/storage/db.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from portfolio.services import signin, updates
from portfolio.storage import db

from .conftest import REPO_ROOT
from .test_browser_smoke import exceptions_on, wait_for_app
from .test_spine_journeys import settle

pytestmark = pytest.mark.e2e

ADMIN = "alex.morgan@example.com"  # the demo's first admin, who acts in local mode too
MIN_ROUNDS = 3  # browser rounds at least, however quickly the commands finish
MAX_ROUNDS = 30  # and at most, should a command hang
# What a person must never see: the lock or conflict leaking through.
LEAKS = re.compile(r"\block(ed)?\b|in use by another program|Someone else was saving|IO Error|Traceback", re.I)


def command(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "portfolio", *args], cwd=REPO_ROOT,
                            env={**os.environ, "PORTFOLIO_USER": ADMIN},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def shown_problems(page: Page) -> list[str]:
    errors = page.locator('[data-testid="stAlertContentError"], [data-testid="stAlertContentWarning"]')
    return exceptions_on(page) + [t for t in errors.all_inner_texts() if LEAKS.search(t)]


def post_update(page: Page, app_server, summary: str) -> None:
    page.goto(app_server.url + "/weekly_update", wait_until="domcontentloaded")
    wait_for_app(page, "Weekly update")
    page.locator(".st-key-update-health").get_by_text("Amber", exact=True).click()
    settle(page, "Weekly update")  # a choice sends itself, and the page runs on it
    page.locator(".st-key-update-summary textarea").fill(summary)
    page.locator(".st-key-update-submit button").click()
    expect(page.get_by_text(re.compile(r"(Posted|Revised .*) the update for"))).to_be_visible()


def test_digest_and_import_succeed_while_the_app_serves_and_people_write(request, app_server, e2e_page: Page,
                                                                        tmp_path):
    page = e2e_page
    stop, direct_writes, direct_errors = threading.Event(), [], []

    def another_writer() -> None:
        """Another process's worth of writes: a connection per write, as a
        page run of another server (or a script) would make them."""
        n = 0
        while not stop.is_set():
            try:
                with db.session(app_server.db_file) as c:
                    admin = signin.actor_for_email(c, ADMIN)
                    pilot_id = c.execute("SELECT max(id) FROM pilot WHERE stage = 'pilot'").fetchone()[0]
                    updates.post_weekly_update(c, admin, {"pilot_id": pilot_id, "health": "green",
                                                           "summary": f"Direct write {n}"}, date.today())
                direct_writes.append(f"Direct write {n}")
            except Exception as exc:
                direct_errors.append(f"{type(exc).__name__}: {exc}")
            n += 1
            stop.wait(0.2)  # a person saving every moment or so, not a flood

    posted, problems = [], []
    writer = threading.Thread(target=another_writer, daemon=True)
    try:
        page.goto(app_server.url, wait_until="domcontentloaded")
        wait_for_app(page, "Portfolio")
        writer.start()
        # To a file: a pipe nobody reads while the browser works could fill and stall it.
        digest = command("digest", "--db", str(app_server.db_file), "--format", "json",
                         "--out", str(tmp_path / "digest.json"))
        imported = command("import", str(REPO_ROOT / "data" / "sample_import.csv"), "--db", str(app_server.db_file),
                           "--mapping", str(REPO_ROOT / "data" / "sample_mapping.toml"), "--skip-invalid")
        rounds = 0
        while rounds < MIN_ROUNDS or (rounds < MAX_ROUNDS and (digest.poll() is None or imported.poll() is None)):
            wait_for_app(page, "Portfolio")
            problems += shown_problems(page)
            summary = f"Serving round {rounds}"
            post_update(page, app_server, summary)
            posted.append(summary)
            problems += shown_problems(page)
            page.goto(app_server.url, wait_until="domcontentloaded")
            rounds += 1
        wait_for_app(page, "Portfolio")
        problems += shown_problems(page)
        digest_out, digest_err = digest.communicate(timeout=120)
        import_out, import_err = imported.communicate(timeout=120)
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise
    finally:
        stop.set()
        writer.join(timeout=60)

    assert digest.returncode == 0, digest_err
    assert json.loads((tmp_path / "digest.json").read_text(encoding="utf-8"))["changes_since_previous"]
    assert imported.returncode == 0, import_err
    assert "Imported 5 rows" in import_out
    assert not LEAKS.search(digest_err + import_err), digest_err + import_err
    assert not problems, problems
    assert not direct_errors, direct_errors
    assert direct_writes, "the other writer saved nothing while the commands ran"
    with db.session(app_server.db_file) as c:
        summaries = {r[0] for r in c.execute("SELECT summary FROM weekly_update").fetchall()}
        assert set(posted) | set(direct_writes) <= summaries
        assert c.execute("SELECT count(*) FROM pilot WHERE external_id LIKE 'UC-1%'").fetchone()[0] == 5
        assert c.execute("SELECT count(*) FROM digest_run").fetchone()[0] >= 1

