"""In a real browser, nothing typed is lost: a weekly update typed and not
yet posted is still in its form after leaving for another page through the
sidebar and coming back, and posting it turns the pilot's "needs this
week's update" into "updated this week"; in local mode, the person chosen
under "Act as" is still the one acting after the browser reloads the page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import artifact_path
from .test_browser_smoke import wait_for_app
from .test_spine_journeys import choose, query, settle

pytestmark = pytest.mark.e2e

# How long a person holds the mouse button on a click, about; Playwright's
# own click lets go at once, before the browser has handled the field it
# leaves, and a link's page switch is then lost (a person's is not).
PRESS_MS = 150


def test_a_weekly_update_typed_is_still_there_after_another_page(request, app_server, e2e_page: Page):
    page = e2e_page
    # The product owner with the most pilots waiting for this week's update,
    # and the last of them, so that it is not the picker's first choice.
    owner_name, pilot_name = query(
        app_server,
        "SELECT o.name, max(p.name) FROM pilot p JOIN person o ON o.id = p.product_owner_id"
        " WHERE o.active AND o.role = 'product_owner' AND p.stage = 'pilot' AND p.id NOT IN"
        " (SELECT pilot_id FROM weekly_update WHERE week_start = date_trunc('week', current_date))"
        " GROUP BY o.id, o.name HAVING count(*) > 1 ORDER BY count(*) DESC, o.id LIMIT 1",
    )[0]
    summary = "Vendor contract signed; load test next week"
    try:
        page.goto(app_server.url + "/weekly_update", wait_until="domcontentloaded")
        wait_for_app(page, "Weekly update")
        choose(page, "act-as", f"{owner_name} · product owner")
        settle(page, "Weekly update")
        choose(page, "update-pilot", f"{pilot_name} · needs this week's update")
        settle(page, "Weekly update")
        page.locator(".st-key-update-health").get_by_text("Amber", exact=True).click()
        settle(page, "Weekly update")
        page.locator(".st-key-update-summary textarea").fill(summary)
        # Moving on to the next field sends the summary; a person typing the
        # blockers takes longer than the run that follows.
        page.locator(".st-key-update-blockers textarea").click()
        settle(page, "Weekly update")
        page.locator(".st-key-update-blockers textarea").fill("Waiting on the data owner")

        # Away through the sidebar, straight from the field being typed in,
        # with a click as long as a person's (leaving the field sends it).
        page.get_by_role("link", name="Portfolio").click(delay=PRESS_MS)
        wait_for_app(page, "Portfolio")
        page.get_by_role("link", name="Weekly update").click()
        wait_for_app(page, "Weekly update")

        expect(page.locator(".st-key-update-pilot input[role='combobox']")).to_have_value(
            f"{pilot_name} · needs this week's update")
        expect(page.locator(".st-key-update-summary textarea")).to_have_value(summary)
        expect(page.locator(".st-key-update-blockers textarea")).to_have_value("Waiting on the data owner")
        expect(page.locator(".st-key-update-health input[type='radio']").nth(1)).to_be_checked()
        page.screenshot(path=str(artifact_path(f"{request.node.name}-back.png")), full_page=True)

        page.locator(".st-key-update-submit button").click()
        expect(page.get_by_text(f"Posted the update for '{pilot_name}'.")).to_be_visible()
        wait_for_app(page, "Weekly update")
        expect(page.get_by_text(re.compile("^This week's update was posted by"))).to_be_visible()
        expect(page.locator(".st-key-update-pilot input[role='combobox']")).to_have_value(
            f"{pilot_name} · updated this week")
        assert query(app_server, "SELECT count(*) FROM weekly_update u JOIN pilot p ON p.id = u.pilot_id"
                     " WHERE p.name = ? AND u.summary = ?", [pilot_name, summary]) == [(1,)]
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise


def test_in_local_mode_the_person_acted_as_survives_a_reload(request, app_server, e2e_page: Page):
    page = e2e_page
    (viewer_name,) = query(app_server, "SELECT name FROM person WHERE role = 'viewer' AND active ORDER BY id LIMIT 1")[0]
    try:
        page.goto(app_server.url + "/people", wait_until="domcontentloaded")
        wait_for_app(page, "People")
        choose(page, "act-as", f"{viewer_name} · viewer")
        settle(page, "People")
        expect(page.locator(".st-key-act-as input")).to_have_value(f"{viewer_name} · viewer")

        page.reload(wait_until="domcontentloaded")
        wait_for_app(page, "People")
        expect(page.locator(".st-key-act-as input")).to_have_value(f"{viewer_name} · viewer")
        expect(page.get_by_text(f"{viewer_name} · viewer", exact=True).first).to_be_visible()
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise
