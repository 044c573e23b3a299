"""An admin imports a messy spreadsheet in a real browser: the report names
the bad row, the valid rows are imported, the rejected one can be
downloaded, and nothing in the file is unaccounted for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .test_browser_smoke import wait_for_app
from .test_spine_journeys import choose, query, settle

pytestmark = pytest.mark.e2e

DATA = Path(__file__).resolve().parents[2] / "data"


def test_admin_imports_the_valid_rows_and_downloads_the_rejected_one(request, app_server, e2e_page: Page):
    page = e2e_page
    try:
        page.goto(app_server.url + "/import", wait_until="domcontentloaded")
        wait_for_app(page, "Import")
        page.locator(".st-key-import-file input[type='file']").set_input_files(str(DATA / "sample_import.csv"))
        settle(page, "Import")
        page.locator(".st-key-import-mapping-file input[type='file']").set_input_files(
            str(DATA / "sample_mapping.toml"))
        settle(page, "Import")
        expect(page.get_by_role("heading", name="Validation report")).to_be_visible()
        # "On hold" is no stage the mapping or the import knows: it waits
        # for a choice, and rejecting its rows is one.
        expect(page.locator(".st-key-import-go button")).to_be_disabled()
        choose(page, "map-stage-On-hold-sample_import-csv-sample_mapping-toml", "— no stage: reject its rows —")
        settle(page, "Import")
        expect(page.get_by_text(re.compile(r"Before anything is written:\s*5 new, 0 updated, 0 unchanged, "
                                           r"1 rejected\."))).to_be_visible()

        page.locator(".st-key-import-skip-invalid label").click()
        settle(page, "Import")
        page.locator(".st-key-import-go button").click()
        expect(page.get_by_text(re.compile(r"Imported 5 rows \(5 new, 0 updated\); rejected 1\."))).to_be_visible()
        with page.expect_download() as download:
            page.locator(".st-key-import-rejects button").click()
        rejected = Path(download.value.path()).read_text(encoding="utf-8-sig")
        assert "UC-106" in rejected and "UC-101" not in rejected

        rows = dict(query(app_server, "SELECT external_id, name FROM pilot WHERE external_id LIKE 'UC-%'"))
        assert set(rows) == {"UC-101", "UC-102", "UC-103", "UC-104", "UC-105"}
        (notes,) = query(app_server, "SELECT value FROM pilot_attribute a JOIN pilot p ON p.id = a.pilot_id "
                                     "WHERE p.external_id = 'UC-103' AND a.name = 'Notes'")[0]
        assert notes == "Waiting on the data extract:\nsecurity review booked"
        assert query(app_server, "SELECT count(*) FROM person WHERE email_key = 'new.owner@example.com'") == [(1,)]
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise
