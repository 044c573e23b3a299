"""Leadership's decision journey in a real browser: on the Decisions page,
record a no-go, an extend and a go; each pilot moves, its page keeps the
decision with the criteria as they stood, and the Portfolio numbers change."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from .test_browser_smoke import wait_for_app
from .test_spine_journeys import choose, metric_text, query, settle

pytestmark = pytest.mark.e2e


def current_pilot_id(page: Page) -> int:
    """The pilot whose decision form is on screen (its widget keys carry its id)."""
    classes = page.locator("[class*='st-key-decision-kind-']").first.get_attribute("class")
    return int(re.search(r"st-key-decision-kind-(\d+)", classes).group(1))


def record(page: Page, kind_label: str, rationale: str, new_date: date | None = None) -> tuple[int, str]:
    pilot_id = current_pilot_id(page)
    name = page.locator("h2").filter(has_not_text="Criteria").first.inner_text().strip()
    page.locator(f".st-key-decision-kind-{pilot_id}").get_by_text(kind_label, exact=True).click()
    if kind_label == "no-go":  # a no-go says why: its list shows once the choice has run
        settle(page, "Decisions")
        choose(page, f"decision-{pilot_id}-stop-reason", "Value not proven")
        settle(page, "Decisions")
    page.locator(f".st-key-decision-rationale-{pilot_id} textarea").fill(rationale)
    if new_date:
        page.locator(f".st-key-decision-new-date-{pilot_id} [data-type='year']").click()
        page.keyboard.type(new_date.strftime("%Y%m%d"))
        page.locator(f".st-key-decision-override-{pilot_id} input").fill("Regulator review moved")
    if kind_label == "go" and "not accepted" in page.locator(f".st-key-decision-acceptance-{pilot_id}").inner_text():
        # A go without the operational owner's acceptance goes on an override, on record.
        page.locator(f".st-key-decision-override-{pilot_id} input").fill("Operations accepts it at Monday's review")
    page.locator(f".st-key-decision-submit-{pilot_id} button").click()
    expect(page.get_by_text(re.compile(f"Recorded {re.escape(kind_label)} for"))).to_be_visible()
    settle(page, "Decisions")
    return pilot_id, name


def test_leadership_records_no_go_extend_and_go(request, app_server, e2e_page: Page):
    page = e2e_page
    try:
        page.goto(app_server.url, wait_until="domcontentloaded")
        wait_for_app(page, "Portfolio")
        no_go_before = int(metric_text(page, "No-go decisions"))
        conversion_before = metric_text(page, "Conversion")

        page.get_by_role("link", name="Decisions").click()
        wait_for_app(page, "Decisions")
        stopped, stopped_name = record(page, "no-go", "Error rate stayed above target")
        extended, _ = record(page, "extend", "Four more weeks of live traffic",
                             new_date=date.today() + timedelta(days=30))
        went, _ = record(page, "go", "All criteria met on live traffic")

        stages = dict(query(app_server, "SELECT id, stage FROM pilot WHERE id IN (?, ?, ?)",
                            [stopped, extended, went]))
        assert stages == {stopped: "stopped", extended: "pilot", went: "bridge"}
        assert query(app_server, "SELECT go_no_go_date FROM pilot WHERE id = ?", [extended]) == [
            (date.today() + timedelta(days=30),)]
        # The stopped pilot left the queue.
        expect(page.locator("[data-testid='stDataFrame']").first).not_to_contain_text(stopped_name)

        page.get_by_role("link", name="Portfolio").click()
        wait_for_app(page, "Portfolio")
        assert int(metric_text(page, "No-go decisions")) == no_go_before + 1
        assert metric_text(page, "Conversion") != conversion_before

        page.goto(f"{app_server.url}/pilot?id={stopped}", wait_until="domcontentloaded")
        wait_for_app(page, "Pilot")
        page.get_by_role("tab", name="Criteria and decisions").click()
        expect(page.get_by_text("Error rate stayed above target")).to_be_visible()
        snapshot = page.get_by_text(re.compile(r"Criteria as they stood at decision \d+")).first
        snapshot.click()
        expect(page.locator("[data-testid='stExpander']").filter(has_text="Criteria as they stood")
               .locator("[data-testid='stDataFrame']").first).to_be_visible()
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise
