"""In a real browser: two windows edit the same pilot and the second save is
refused with the first person's change named, nothing typed is lost, and
the History shows both outcomes; two people on one readiness checklist,
where only what each changed is sent; deactivating a product owner offers
the handover, and after it none of their pilots is ownerless."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from playwright.sync_api import Page, expect

from portfolio.domain.models import Actor
from portfolio.services import production
from portfolio.storage import db, store

from .conftest import new_page
from .test_browser_smoke import wait_for_app
from .test_spine_journeys import (
    busiest_product_owner,
    choose,
    confirm_deactivation,
    open_deactivation,
    open_tab,
    query,
    settle,
)

pytestmark = pytest.mark.e2e


def open_edit_form(page: Page, url: str, pilot_id: int, name: str) -> None:
    page.goto(f"{url}/pilot?id={pilot_id}", wait_until="domcontentloaded")
    wait_for_app(page, "Pilot")
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    page.get_by_text("Edit the pilot and its seats").click()
    expect(page.locator(f".st-key-edit-unit-{pilot_id} input")).to_be_visible()


@contextmanager
def two_editors(request, app_server, e2e_browser, pilot_id: int, name: str, first_unit: str):
    """Two windows open the pilot's edit form before either saves; the first
    then saves ``first_unit`` as its business unit. On failure both leave a
    screenshot."""
    first, second = new_page(e2e_browser), new_page(e2e_browser)
    try:
        open_edit_form(first, app_server.url, pilot_id, name)
        open_edit_form(second, app_server.url, pilot_id, name)
        choose(first, f"edit-unit-{pilot_id}", first_unit)
        first.locator(f".st-key-edit-save-{pilot_id} button").click()
        expect(first.get_by_text(f"Saved '{name}'.")).to_be_visible()
        yield first, second
    except BaseException:
        app_server.save_failure(first, request.node.name + "-first")
        app_server.save_failure(second, request.node.name + "-second")
        raise
    finally:
        first.context.close()
        second.context.close()


def test_two_windows_edit_one_pilot_and_the_second_is_refused(request, app_server, e2e_browser):
    pilot_id, name, unit = query(app_server, "SELECT id, name, business_unit FROM pilot WHERE stage = 'pilot'"
                                             " ORDER BY id LIMIT 1")[0]
    saved, typed = [u for u in ("Finance", "Operations", "Sales") if u != unit][:2]  # kept units, not its own
    with two_editors(request, app_server, e2e_browser, pilot_id, name, saved) as (first, second):
        choose(second, f"edit-unit-{pilot_id}", typed)
        second.locator(f".st-key-edit-save-{pilot_id} button").click()
        refusal = second.locator('[data-testid="stAlert"]').filter(has_text="was changed after you opened it")
        expect(refusal).to_be_visible()
        expect(refusal).to_contain_text(f"business unit '{unit}' → '{saved}'")
        expect(refusal).to_contain_text("UTC")
        # Nothing of the second save was written, and what they typed is still there.
        assert query(app_server, "SELECT business_unit FROM pilot WHERE id = ?", [pilot_id]) == [(saved,)]
        expect(second.locator(f".st-key-edit-unit-{pilot_id} input")).to_have_value(typed)

        # The History shows both attempts' outcome.
        open_tab(second, "History")
        expect(second.get_by_text(re.compile(r"'s edit was refused"))).to_be_visible()
        # The refused change reads in the History's lines (the table of the
        # trail beside them holds the same words in its grid's cells).
        refused = second.locator('[data-testid="stAlert"]').filter(has_text=f"business unit '{saved}' → '{typed}'")
        expect(refused.first).to_be_visible()
        actions = query(app_server, "SELECT action FROM audit WHERE entity = 'pilot' AND entity_id = ?"
                                    " ORDER BY id", [str(pilot_id)])
        assert [a for (a,) in actions][-2:] == ["edit", "edit refused"]

        # Back on the form, what they typed is still there (the tab's run is
        # waited for: a click before it would press the button of the run
        # before); saving again applies it, knowingly, over the first change.
        open_tab(second, "Overview")
        expect(second.locator(f".st-key-edit-unit-{pilot_id} input")).to_have_value(typed)
        second.locator(f".st-key-edit-save-{pilot_id} button").click()
        expect(second.get_by_text(f"Saved '{name}'.")).to_be_visible()
        assert query(app_server, "SELECT business_unit FROM pilot WHERE id = ?", [pilot_id]) == [(typed,)]


def test_after_a_refusal_reload_shows_the_pilot_as_the_other_person_saved_it(request, app_server, e2e_browser):
    pilot_id, name, unit = query(app_server, "SELECT id, name, business_unit FROM pilot WHERE stage = 'pilot'"
                                             " ORDER BY id LIMIT 1 OFFSET 1")[0]
    saved, typed = [u for u in ("Finance", "Operations", "Sales") if u != unit][:2]  # kept units, not its own
    with two_editors(request, app_server, e2e_browser, pilot_id, name, saved) as (first, second):
        choose(second, f"edit-unit-{pilot_id}", typed)
        second.locator(f".st-key-edit-problem-{pilot_id} textarea").fill("A problem typed second")
        second.locator(f".st-key-edit-save-{pilot_id} button").click()
        expect(second.locator('[data-testid="stAlert"]').filter(has_text="was changed after you opened it")
               ).to_be_visible()
        second.locator(f".st-key-edit-reload-{pilot_id} button").click()
        settle(second, "Pilot")
        (problem,) = query(app_server, "SELECT problem FROM pilot WHERE id = ?", [pilot_id])[0]
        expect(second.locator(f".st-key-edit-unit-{pilot_id} input")).to_have_value(saved)
        expect(second.locator(f".st-key-edit-problem-{pilot_id} textarea")).to_have_value(problem)
        # Saving now changes nothing of the first person's.
        second.locator(f".st-key-edit-save-{pilot_id} button").click()
        settle(second, "Pilot")
        assert query(app_server, "SELECT business_unit, problem FROM pilot WHERE id = ?", [pilot_id]) == [
            (saved, problem)]


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


def save_readiness_as_leadership(app_server, pilot_id: int, key: str, status: str, evidence: str) -> str:
    """Someone else (the first leader) saves one checklist item, as their own page would."""
    with db.session(app_server.db_file) as c:
        leader = next(p for p in store.list_people(c, active_only=True) if p.role.value == "leadership")
        item = next(r for r in store.pilot_readiness(c, pilot_id) if r["key"] == key)
        production.save_readiness(c, Actor.of(leader), pilot_id,
                                  {key: {"status": status, "evidence": evidence, "version": item["version"]}})
        return leader.name


def test_two_people_on_one_readiness_checklist(request, app_server, e2e_page: Page):
    """Typing waits in the browser until the form is saved: a change someone
    else made meanwhile is never overwritten unseen, and what was typed is
    never lost."""
    page = e2e_page
    (pilot_id,) = query(app_server, "SELECT id FROM pilot WHERE stage = 'pilot' AND NOT archived"
                                    " ORDER BY id DESC LIMIT 1")[0]
    evidence = lambda key: page.locator(f".st-key-ready-evidence-{key}-{pilot_id} input")  # noqa: E731
    save = page.locator(f".st-key-readiness-save-{pilot_id} button")
    stored = lambda key: query(app_server, "SELECT status, evidence FROM readiness"  # noqa: E731
                                           " WHERE pilot_id = ? AND item_key = ?", [pilot_id, key])
    shown_status = (stored("load_test") or [("not_started", "")])[0][0]
    try:
        page.goto(f"{app_server.url}/pilot?id={pilot_id}", wait_until="domcontentloaded")
        wait_for_app(page, "Pilot")
        page.get_by_role("tab", name="Production readiness").click()

        # Someone else fills in an item this person never touches, while they type in another.
        evidence("load_test").fill("Load test booked")
        leader = save_readiness_as_leadership(app_server, pilot_id, "data_owner", "done", "Owner: Ines")
        save.click()
        expect(page.get_by_text("Readiness saved (1 item(s) changed).")).to_be_visible()
        settle(page, "Pilot")
        assert stored("data_owner") == [("done", "Owner: Ines")]
        assert stored("load_test")[0][1] == "Load test booked"
        # After the save the form shows the other person's change.
        page.get_by_role("tab", name="Production readiness").click()
        expect(evidence("data_owner")).to_have_value("Owner: Ines")

        # Now both change the same item: this person's typing is refused, kept, and applied on purpose.
        evidence("load_test").fill("Passed at 3x peak")
        save_readiness_as_leadership(app_server, pilot_id, "load_test",
                                     "in_progress" if shown_status != "in_progress" else "done", "Moved to Tuesday")
        save.click()
        settle(page, "Pilot")
        page.get_by_role("tab", name="Production readiness").click()
        refusal = page.locator('[data-testid="stAlert"]').filter(has_text="was changed after you opened it")
        expect(refusal).to_be_visible()
        expect(refusal).to_contain_text(leader)
        expect(refusal).to_contain_text("Moved to Tuesday")
        assert stored("load_test")[0][1] == "Moved to Tuesday"
        expect(evidence("load_test")).to_have_value("Passed at 3x peak")
        save.click()
        expect(page.get_by_text("Readiness saved (1 item(s) changed).")).to_be_visible()
        settle(page, "Pilot")
        # The item as this person's form shows it, over the other change, knowingly.
        assert stored("load_test") == [(shown_status, "Passed at 3x peak")]
        assert stored("data_owner") == [("done", "Owner: Ines")]
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise
