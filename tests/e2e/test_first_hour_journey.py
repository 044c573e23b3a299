"""The first hour, in a real browser: an empty portfolio given its first
admin at the command line, a public AI use-case inventory uploaded as it
comes (messy dates, stage words, a web page and two emails as contacts),
mapped without a manual change, previewed with its counts before anything
is written, imported, seen on the Portfolio page, and imported again
creating and updating nothing."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from playwright.sync_api import Page, expect

from .conftest import REPO_ROOT, VIEWPORT, app_env, artifact_path, drawn, serve_app
from .test_browser_smoke import wait_for_app
from .test_spine_journeys import query, settle
from .test_user_journeys import show

pytestmark = pytest.mark.e2e

ADMIN = "admin@example.org"
INVENTORY = """id,use_case_name,agency,development_stage,operational_date,contact_email
DOC-001,Claims triage assistant,Department of Commerce,Pre-deployment,2025,jane.doe@commerce.gov
DOC-002,Weather report summaries,NOAA,Deployed,03/2024,torey.adler@noaa.gov
DOC-003,Fisheries image counting,NOAA,In development,2024-05-01,https://www.fisheries.noaa.gov/contact
DOC-004,Patent prior-art search,USPTO,Deployed,"May 5, 2023","a.lee@uspto.gov; b.kim@uspto.gov"
DOC-005,Grant review triage,Department of Commerce,Pre-deployment,,jane.doe@commerce.gov
DOC-006,Census address matching,Census Bureau,In development,2024-09-15,sam.ortiz@census.gov
DOC-007,Export licence screening,BIS,Deployed,2022-11-01,
DOC-008,Trademark image search,USPTO,In development,"May 5, 2023",a.lee@uspto.gov
DOC-009,Call centre transcription,Census Bureau,Pre-deployment,2025,kim.nguyen@census.gov
DOC-010,Satellite anomaly detection,NOAA,Deployed,2024-01-10,torey/adler@noaa.gov
DOC-011,Survey coding assistant,Census Bureau,In development,03/2024,sam.ortiz@census.gov
DOC-012,Spectrum planning model,NTIA,Pre-deployment,,pat.ray@ntia.gov
"""
TAG = "inventory-csv-guessed"  # the file's name in the mapping widgets' keys, as the page marks them
GUESSED = {"external_id": ("External id", "id"), "name": ("Name", "use_case_name"),
           "business_unit": ("Business unit", "agency"), "stage": ("Stage", "development_stage"),
           "start_date": ("Start date", "operational_date"), "product_owner": ("Product owner", "contact_email")}


def upload(page: Page, path) -> None:
    page.locator(".st-key-import-file input[type='file']").set_input_files(str(path))
    settle(page, "Import")
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()


def counts_line(created: int, updated: int, unchanged: int, rejected: int):
    return re.compile(rf"Before anything is written:\s*{created} new, {updated} updated, {unchanged} unchanged, "
                      rf"{rejected} rejected\.")


def screenshot(page: Page, name: str):
    """The whole page (Streamlit scrolls inside its main block: grow the
    viewport to its content first), kept in test-artifacts/."""
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(height + 40, 10_000)})
    drawn(page)
    path = artifact_path(name)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(VIEWPORT)
    drawn(page)
    return path


def test_an_inventory_is_imported_in_the_first_hour_and_again_changes_nothing(request, chromium, e2e_page: Page,
                                                                               tmp_path):
    db_file, sheet = tmp_path / "portfolio.duckdb", tmp_path / "inventory.csv"
    sheet.write_text(INVENTORY, encoding="utf-8")
    made = subprocess.run([sys.executable, "-m", "portfolio", "init", "--db", str(db_file), "--admin", ADMIN,
                           "--name", "Ada Admin"], cwd=REPO_ROOT, env=app_env(db_file), capture_output=True,
                          text=True, timeout=120)
    assert made.returncode == 0, made.stderr

    page = e2e_page
    with serve_app(tmp_path, app_env(db_file, PORTFOLIO_USER=ADMIN)) as server:
        try:
            page.goto(server.url + "/import", wait_until="domcontentloaded")
            wait_for_app(page, "Import")
            upload(page, sheet)

            # The guess, shown in words, with no manual change.
            for field, (label, column) in GUESSED.items():
                expect(page.locator(f".st-key-map-{field}-{TAG}").get_by_role("combobox", name=label)
                       ).to_have_value(column)
            expect(page.locator(f".st-key-map-go_no_go_date-{TAG}").get_by_role("combobox", name="Go/no-go date")
                   ).to_have_value("— not in the file —")
            for value, stage in (("Pre-deployment", "proposed"), ("Deployed", "production"),
                                 ("In development", "pilot")):
                expect(page.locator(f".st-key-map-stage-{value.replace(' ', '-')}-{TAG}").get_by_role("combobox")
                       ).to_have_value(stage)

            expect(page.get_by_text(counts_line(12, 0, 0, 0))).to_be_visible()
            expect(page.get_by_text("6 new people (added as viewers)")).to_be_visible()
            preview = page.locator("[data-testid=stDataFrame]").first  # the preview, under its heading
            expect(preview).to_contain_text("Claims triage assistant")
            expect(preview).not_to_contain_text("None")
            expect(page.locator(".st-key-import-go button")).to_be_enabled()
            shot = screenshot(page, "first-hour-import-preview.png")
            assert shot.stat().st_size > 0

            page.locator(".st-key-import-go button").click()
            expect(page.get_by_text("Imported 12 rows (12 new, 0 updated); rejected 0.")).to_be_visible()
            assert query(server, "SELECT count(*) FROM pilot") == [(12,)]
            assert query(server, "SELECT stage, count(*) FROM pilot GROUP BY stage ORDER BY stage") == [
                ("pilot", 4), ("production", 4), ("proposed", 4)]

            page.get_by_role("link", name="Portfolio").click()
            wait_for_app(page, "Portfolio")
            show(page, "All pilots")
            expect(page.get_by_role("heading", name="All pilots: 12 pilots")).to_be_visible()
            expect(page.locator("[data-testid=stDataFrame]").filter(has_text="Spectrum planning model")
                   ).to_contain_text("Claims triage assistant")

            # The same file again: nothing new, nothing updated, before and after.
            page.get_by_role("link", name="Import").click()
            wait_for_app(page, "Import")
            upload(page, sheet)
            expect(page.get_by_text(counts_line(0, 0, 12, 0))).to_be_visible()
            expect(page.get_by_text(re.compile(r"new people"))).to_have_count(0)
            page.locator(".st-key-import-go button").click()
            expect(page.get_by_text("Imported 12 rows (0 new, 0 updated, 12 unchanged); rejected 0.")
                   ).to_be_visible()
            assert query(server, "SELECT count(*), max(version) FROM pilot") == [(12, 1)]
        except BaseException:
            server.save_failure(page, request.node.name)
            raise
