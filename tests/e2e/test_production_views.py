"""What production will need, seen in a real browser: a pilot page answers
the handover questions and shows privileges, KPI trends and readiness; the
Portfolio page shows the privileges view, the running cost, cost against
value by business unit and the heatmap."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .test_browser_smoke import wait_for_app
from .test_spine_journeys import open_tab, query

pytestmark = pytest.mark.e2e


def test_a_pilot_page_shows_what_production_will_need(request, app_server, e2e_page: Page):
    page = e2e_page
    # A pilot with KPIs, privileges and readiness in the demo.
    (pilot_id,) = query(app_server, "SELECT p.id FROM pilot p WHERE p.stage = 'pilot' AND EXISTS "
                                    "(SELECT 1 FROM kpi k WHERE k.pilot_id = p.id AND k.category = 'cost_per_transaction')"
                                    " AND EXISTS (SELECT 1 FROM privilege v WHERE v.pilot_id = p.id) ORDER BY p.id LIMIT 1")[0]
    try:
        page.goto(f"{app_server.url}/pilot?id={pilot_id}", wait_until="domcontentloaded")
        wait_for_app(page, "Pilot")
        for question in ("Which conditions become permanent?", "Which metrics govern production, and over what horizon?",
                         "Who owns the delivery after the champion moves on?"):
            expect(page.get_by_text(question)).to_be_visible()
        page.get_by_role("tab", name="Production readiness").click()
        expect(page.get_by_role("heading", name="Borrowed privileges")).to_be_visible()
        expect(page.get_by_text("Monthly running cost at production volume")).to_be_visible()
        # The demo's pilot states a value in EUR: cost and value side by side, and which is larger.
        expect(page.get_by_role("heading", name="Cost at production volume and value")).to_be_visible()
        expect(page.locator(f".st-key-cost-value-{pilot_id}")).to_be_visible()
        expect(page.get_by_text("Projected cost ").first).to_be_visible()
        expect(page.locator(".st-key-kpi-trend-" + str(query(
            app_server, "SELECT min(id) FROM kpi WHERE pilot_id = ?", [pilot_id])[0][0]))).to_be_visible()
        expect(page.get_by_text("target 800 (lower is better)").first).to_be_attached()
        expect(page.get_by_role("heading", name="Readiness")).to_be_visible()
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise


def test_the_portfolio_shows_privileges_cost_and_readiness(request, app_server, e2e_page: Page):
    page = e2e_page
    try:
        page.goto(app_server.url, wait_until="domcontentloaded")
        wait_for_app(page, "Portfolio")
        # One section at a time, each a tab below the list.
        open_tab(page, "Borrowed privileges", "Portfolio")
        expect(page.get_by_role("heading", name="Borrowed privileges across the portfolio")).to_be_visible()
        expect(page.get_by_text("The pilots that depend on the most")).to_be_visible()
        open_tab(page, "Cost and value", "Portfolio")
        expect(page.get_by_text("Total monthly running cost (EUR)")).to_be_visible()
        expect(page.get_by_role("heading", name="Cost at production volume against value, by business unit")
               ).to_be_visible()
        expect(page.locator(".st-key-cost-value-by-unit-EUR")).to_be_visible()
        open_tab(page, "Readiness", "Portfolio")
        expect(page.locator(".st-key-readiness-heatmap")).to_be_visible()
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise
