"""Issue 6's journeys in a real browser: two windows edit the same pilot and
the second save is refused with the first person's change named, nothing
typed is lost, and the History shows both outcomes; deactivating a product
owner offers the handover, and after it none of their pilots is ownerless."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .test_browser_smoke import wait_for_app
from .test_spine_journeys import busiest_product_owner, choose, confirm_deactivation, open_deactivation, query, settle

pytestmark = pytest.mark.e2e


def open_edit_form(page: Page, url: str, pilot_id: int, name: str) -> None:
    page.goto(f"{url}/pilot?id={pilot_id}", wait_until="domcontentloaded")
    wait_for_app(page, "Pilot")
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    page.get_by_text("Edit the pilot and its seats").click()
    expect(page.locator(f".st-key-edit-unit-{pilot_id} input")).to_be_visible()


def test_two_windows_edit_one_pilot_and_the_second_is_refused(request, app_server, e2e_browser):
    pilot_id, name, unit = query(app_server, "SELECT id, name, business_unit FROM pilot WHERE stage = 'pilot'"
                                             " ORDER BY id LIMIT 1")[0]
    first = e2e_browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    second = e2e_browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    try:
        # Both open the form before either saves.
        open_edit_form(first, app_server.url, pilot_id, name)
        open_edit_form(second, app_server.url, pilot_id, name)

        first.locator(f".st-key-edit-unit-{pilot_id} input").fill("Finance (first editor)")
        first.locator(f".st-key-edit-save-{pilot_id} button").click()
        expect(first.get_by_text(f"Saved '{name}'.")).to_be_visible(timeout=20_000)

        typed = "Operations (second editor)"
        second.locator(f".st-key-edit-unit-{pilot_id} input").fill(typed)
        second.locator(f".st-key-edit-save-{pilot_id} button").click()
        refusal = second.locator('[data-testid="stAlert"]').filter(has_text="was changed after you opened it")
        expect(refusal).to_be_visible(timeout=20_000)
        expect(refusal).to_contain_text(f"business unit '{unit}' → 'Finance (first editor)'")
        expect(refusal).to_contain_text("UTC")
        # Nothing of the second save was written, and what they typed is still there.
        assert query(app_server, "SELECT business_unit FROM pilot WHERE id = ?", [pilot_id]) == [
            ("Finance (first editor)",)]
        expect(second.locator(f".st-key-edit-unit-{pilot_id} input")).to_have_value(typed)

        # The History shows both attempts' outcome.
        second.get_by_role("tab", name="History").click()
        expect(second.get_by_text(re.compile(r"'s edit was refused"))).to_be_visible()
        expect(second.get_by_text(f"business unit 'Finance (first editor)' → '{typed}'", exact=False)).to_be_visible()
        actions = query(app_server, "SELECT action FROM audit WHERE entity = 'pilot' AND entity_id = ?"
                                    " ORDER BY id", [str(pilot_id)])
        assert [a for (a,) in actions][-2:] == ["edit", "edit refused"]

        # Saving again applies what was typed, knowingly, over the first change.
        second.get_by_role("tab", name="Overview").click()
        second.locator(f".st-key-edit-save-{pilot_id} button").click()
        expect(second.get_by_text(f"Saved '{name}'.")).to_be_visible(timeout=20_000)
        assert query(app_server, "SELECT business_unit FROM pilot WHERE id = ?", [pilot_id]) == [(typed,)]
    except BaseException:
        app_server.save_failure(first, request.node.name + "-first")
        app_server.save_failure(second, request.node.name + "-second")
        raise
    finally:
        first.context.close()
        second.context.close()


def test_deactivating_a_product_owner_hands_over_their_pilots(request, app_server, e2e_page: Page):
    page = e2e_page
    owner_id, _, _, owner_label = busiest_product_owner(app_server)
    taker_id, taker = query(app_server, "SELECT id, name FROM person WHERE active AND role = 'product_owner'"
                                        " AND id <> ? ORDER BY id LIMIT 1", [owner_id])[0]
    try:
        before = open_deactivation(page, app_server, owner_label)
        pickers = page.locator(f"[class*='st-key-handover-{owner_id}-']")
        seats = pickers.count()
        assert seats >= 1
        for i in range(seats):
            key = next(c for c in pickers.nth(i).get_attribute("class").split() if c.startswith("st-key-"))
            choose(page, key.removeprefix("st-key-"), taker)
            settle(page, "People")
        assert confirm_deactivation(page, owner_id, f"handed over {seats} seat(s)") == before
        assert query(app_server, "SELECT count(*) FROM pilot WHERE product_owner_id = ? AND stage IN "
                                 "('proposed', 'pilot', 'bridge', 'production')", [owner_id]) == [(0,)]
        handed = query(app_server, "SELECT count(*) FROM audit WHERE action = 'handover'")[0][0]
        assert handed == seats
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise
