"""A person types a weekly update while another program holds the database:
the submit cannot be saved, the page says to try again, and what they typed
comes back in the form once the database is free, to be posted."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from playwright.sync_api import Page, expect

from .conftest import Server, app_env, copy_demo, serve_app
from .test_browser_smoke import exceptions_on, wait_for_app
from .test_spine_journeys import settle

pytestmark = pytest.mark.e2e



@pytest.fixture(scope="module")
def app_server(chromium, demo_template, tmp_path_factory) -> Server:
    """The app over a copy of the demo, waiting 1 s for the file before
    saying so (the default 15 s would only slow the test)."""
    workdir = tmp_path_factory.mktemp("e2e-held")
    db_file = copy_demo(demo_template, workdir / "portfolio.duckdb")
    with serve_app(workdir, app_env(db_file, PORTFOLIO_LOCK_WAIT_SECONDS="1")) as server:
        yield server


def hold(path) -> subprocess.Popen:
    """Another program holding the database for writing: a real process."""
    proc = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, sys; c = duckdb.connect({str(path)!r}); c.execute('BEGIN'); "
         "print('held', flush=True); sys.stdin.readline()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_weekly_update_typed_while_the_database_is_held_is_kept_and_posted(
        request, app_server, e2e_page: Page):
    page = e2e_page
    summary = "Typed while a command held the database"
    try:
        page.goto(app_server.url + "/weekly_update", wait_until="domcontentloaded")
        wait_for_app(page, "Weekly update")
        # Each field sends what was typed as it is left, and the page runs
        # on it: the database is held once those runs are over, while the
        # last field is still being typed in.
        page.locator(".st-key-update-health").get_by_text("Amber", exact=True).click()
        settle(page, "Weekly update")
        page.locator(".st-key-update-summary textarea").fill(summary)
        page.locator(".st-key-update-blockers textarea").click()
        settle(page, "Weekly update")
        page.locator(".st-key-update-blockers textarea").fill("None this week")

        holder = hold(app_server.db_file)
        try:
            page.locator(".st-key-update-submit button").click()
            expect(page.get_by_text(re.compile("in use by another program.*try again"))).to_be_visible()
            expect(page.get_by_text("What you typed is kept")).to_be_visible()
        finally:
            holder.communicate("\n", timeout=30)

        page.locator(".st-key-database-try-again button").click()
        wait_for_app(page, "Weekly update")
        expect(page.locator(".st-key-update-summary textarea")).to_have_value(summary)
        expect(page.locator(".st-key-update-blockers textarea")).to_have_value("None this week")
        page.locator(".st-key-update-submit button").click()
        expect(page.get_by_text(re.compile(r"(Posted|Revised .*) the update for"))).to_be_visible()
        assert not exceptions_on(page)
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise
