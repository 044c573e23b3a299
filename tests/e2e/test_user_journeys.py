"""The users' journeys in a real browser, each checked the way its user
would check it: leadership filters the Portfolio to one business unit,
opens an overdue pilot and decides it, and sees Overdue go down; a product
owner posts and revises a weekly update and sees the flags it answers
clear; an admin deactivates a product owner, adds a person, gives them one
of the ownerless pilots and sees Ownerless follow; a borrowed privilege is
decided and a KPI reading entered, each with its audit record.

The journeys share one served demo database (module scope) and run in
order; each picks its pilots and people from the database as it is then."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from portfolio.domain import clock
from portfolio.domain.text import plural
from portfolio.flags import LABELS

from .conftest import runs_of
from .test_browser_smoke import exceptions_on, wait_for_app
from .test_spine_journeys import (
    busiest_product_owner,
    choose,
    confirm_deactivation,
    metric,
    open_deactivation,
    open_list,
    query,
    settle,
)

pytestmark = pytest.mark.e2e

# Scroll a virtualised list by one page and wait until it has drawn the
# options at its new position; true when it was at its end already. The
# frames are a bound (about ten seconds), not a pause.
SCROLL_ONE_PAGE = """async list => {
    const before = list.scrollTop;
    list.scrollTop += list.clientHeight;
    if (list.scrollTop === before) return true;
    const box = list.getBoundingClientRect();
    for (let frame = 0; frame < 600; frame++) {
        await new Promise(resolve => requestAnimationFrame(resolve));
        const top = document.elementFromPoint(box.left + box.width / 2, box.top + 2);
        if (top && top.closest('[role=option]')) break;
    }
    return false;
}"""


def open_portfolio(page: Page, app_server) -> None:
    page.goto(app_server.url, wait_until="domcontentloaded")
    wait_for_app(page, "Portfolio")


def filter_by(page: Page, key: str, option: str) -> None:
    """Add ``option`` to the multiselect with widget key ``key``."""
    choose(page, key, option)
    page.keyboard.press("Escape")
    settle(page, "Portfolio")


def show(page: Page, name: str) -> None:
    """Pick the Portfolio's list ("Flagged", "Overdue", "Ownerless", ...)."""
    choice = page.locator(".st-key-portfolio-show").get_by_role("radio", name=name, exact=True)
    if choice.is_checked():
        runs_of(page).quiet = True  # the list shown already: no run follows
    choice.click()
    settle(page, "Portfolio")
    expect(choice).to_have_attribute("aria-checked", "true")


def options_of(page: Page, key: str) -> list[str]:
    """Every option of the selectbox with widget key ``key``, scrolling its
    (virtualised) list to the end; leaves the selectbox as it was."""
    open_list(page, key)
    listbox = page.get_by_role("listbox")
    expect(listbox).to_be_visible()
    seen: list[str] = []
    while True:
        for text in listbox.get_by_role("option").all_inner_texts():
            if text.strip() not in seen:
                seen.append(text.strip())
        if listbox.evaluate(SCROLL_ONE_PAGE):
            break
    page.keyboard.press("Escape")
    assert seen, f"{key} offers nothing"
    return seen


def list_heading(page: Page) -> str:
    return page.locator("h3").filter(has_text=re.compile(r": [\d,]+ pilots?$")).first.inner_text().strip()


def expand(page: Page, label: str) -> None:
    """Open the expander titled ``label`` unless it is open already (it stays
    open across a rerun)."""
    details = page.locator("details").filter(has=page.locator("summary").get_by_text(label, exact=True)).first
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    expect(details).to_have_attribute("open", re.compile(".*"))


def flag_texts(page: Page) -> list[str]:
    """The flag boxes of the Pilot page's Overview tab."""
    labels = "|".join(re.escape(words) for words, _ in LABELS.values())
    return [t.strip() for t in page.locator('[data-testid="stAlert"]').all_inner_texts()
            if re.match(rf"\s*({labels}) \(", t)]


def no_exception(page: Page) -> None:
    errors = exceptions_on(page)
    assert not errors, "the page shows an exception:\n" + "\n---\n".join(errors)


# --- 1. leadership ----------------------------------------------------------


def test_leadership_decides_an_overdue_pilot_of_one_unit_and_overdue_goes_down(request, app_server, e2e_page: Page):
    page = e2e_page
    leader = query(app_server, "SELECT name FROM person WHERE active AND role = 'leadership' ORDER BY id LIMIT 1")[0][0]
    pilot_id, name, unit = query(
        app_server, "SELECT id, name, business_unit FROM pilot WHERE stage = 'pilot' AND NOT archived"
                    " AND go_no_go_date < current_date ORDER BY id LIMIT 1")[0]
    overdue_in_unit = query(app_server, "SELECT count(*) FROM pilot WHERE stage = 'pilot' AND NOT archived"
                                        " AND go_no_go_date < current_date AND business_unit = ?", [unit])[0][0]
    # Overdue too, so only the filter keeps it off the list.
    (other_unit_pilot,) = query(app_server, "SELECT name FROM pilot WHERE business_unit <> ? AND stage = 'pilot'"
                                            " AND NOT archived AND go_no_go_date < current_date ORDER BY id LIMIT 1",
                                [unit])[0]
    try:
        open_portfolio(page, app_server)
        choose(page, "act-as", f"{leader} · leadership")
        settle(page, "Portfolio")
        overdue, active = metric(page, "Overdue"), metric(page, "Active pilots")

        # Narrow to one business unit: its overdue pilots, and nobody else's.
        filter_by(page, "filter-unit", unit)
        show(page, "Overdue")
        assert list_heading(page) == f"Overdue: {plural(overdue_in_unit, 'pilot')}"
        assert name in options_of(page, "open-pilot")
        assert other_unit_pilot not in options_of(page, "open-pilot")
        # The headline numbers stay the portfolio's own.
        assert metric(page, "Overdue") == overdue

        # Open the overdue pilot from the flagged list.
        show(page, "Flagged")
        choose(page, "open-pilot", name)
        settle(page, "Portfolio")
        page.locator(".st-key-open-pilot-go button").click()
        wait_for_app(page, "Pilot")
        expect(page.get_by_role("heading", name=name)).to_be_visible()
        assert metric(page, "Days overdue") > 0
        expect(page.get_by_text("Decision overdue", exact=True)).to_be_visible()

        # Its link leads to the decision form with this pilot picked.
        page.get_by_role("tab", name="Criteria and decisions").click()
        page.get_by_role("link", name="Record the go/no-go decision").click()
        wait_for_app(page, "Decisions")
        expect(page.get_by_role("heading", level=2, name=name)).to_be_visible()
        page.locator(f".st-key-decision-kind-{pilot_id}").get_by_text("no-go", exact=True).click()
        settle(page, "Decisions")  # a no-go says why: its list shows once the choice has run
        choose(page, f"decision-{pilot_id}-stop-reason", "The workforce never invited")
        settle(page, "Decisions")
        page.locator(f".st-key-decision-rationale-{pilot_id} textarea").fill("Adoption never passed 10 %")
        page.locator(f".st-key-decision-submit-{pilot_id} button").click()
        expect(page.get_by_text(f"Recorded no-go for '{name}': now stopped.")).to_be_visible()
        settle(page, "Decisions")
        no_exception(page)
        assert query(app_server, "SELECT stage FROM pilot WHERE id = ?", [pilot_id]) == [("stopped",)]
        assert query(app_server, "SELECT kind, rationale FROM decision WHERE pilot_id = ?", [pilot_id]) == [
            ("no_go", "Adoption never passed 10 %")]

        # Back on the Portfolio: one overdue fewer, one active pilot fewer.
        page.get_by_role("link", name="Portfolio").click()
        wait_for_app(page, "Portfolio")
        assert metric(page, "Overdue") == overdue - 1
        assert metric(page, "Active pilots") == active - 1
        filter_by(page, "filter-unit", unit)
        show(page, "Overdue")
        assert list_heading(page) == f"Overdue: {plural(overdue_in_unit - 1, 'pilot')}"
        show(page, "Flagged")
        # Stopped, it is flagged only while it still holds what it borrowed
        # (privileges not made permanent, until each is revoked).
        (holds,) = query(app_server, "SELECT count(*) FROM privilege WHERE pilot_id = ?"
                                     " AND disposition <> 'make_permanent' AND revoked_on IS NULL", [pilot_id])[0]
        assert (name in options_of(page, "open-pilot")) is (holds > 0)
        no_exception(page)
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise


# --- 2. product owner ---------------------------------------------------------


def test_product_owner_posts_and_revises_the_weekly_update_and_its_flags_clear(request, app_server, e2e_page: Page):
    page = e2e_page
    # A pilot flagged STALE_UPDATE (no update for more than 14 days) whose
    # product owner is active.
    pilot_id, name, owner = query(
        app_server,
        "SELECT p.id, p.name, o.name FROM pilot p JOIN person o ON o.id = p.product_owner_id "
        "WHERE o.active AND o.role = 'product_owner' AND p.stage = 'pilot' AND NOT p.archived"
        " AND p.start_date < current_date - 20 AND p.id NOT IN "
        "(SELECT pilot_id FROM weekly_update WHERE posted_on > current_date - 15) ORDER BY p.id LIMIT 1",
    )[0]
    week = clock.week_start(date.today())
    try:
        page.goto(f"{app_server.url}/pilot?id={pilot_id}", wait_until="domcontentloaded")
        wait_for_app(page, "Pilot")
        before = flag_texts(page)
        assert any(t.startswith("Update overdue") for t in before), before
        assert any("no weekly update" in t for t in before), before

        page.get_by_role("link", name="Weekly update").click()
        wait_for_app(page, "Weekly update")
        choose(page, "act-as", f"{owner} · product owner")
        settle(page, "Weekly update")
        choose(page, "update-pilot", f"{name} · needs this week's update")
        settle(page, "Weekly update")
        page.locator(".st-key-update-health").get_by_text("Amber", exact=True).click()
        page.locator(".st-key-update-summary textarea").fill("Vendor contract signed; data feed still late")
        page.locator(".st-key-update-blockers textarea").fill("Data feed from billing")
        page.locator(".st-key-update-next-steps textarea").fill("Chase the billing team")
        page.locator(".st-key-update-submit button").click()
        expect(page.get_by_text(f"Posted the update for '{name}'.")).to_be_visible()
        settle(page, "Weekly update")
        expect(page.get_by_text("revises it (revision 2)", exact=False)).to_be_visible()

        # Leave and come back: the form starts from what was posted.
        page.get_by_role("link", name="Pilot", exact=True).click()
        wait_for_app(page, "Pilot")
        page.get_by_role("link", name="Weekly update").click()
        wait_for_app(page, "Weekly update")
        choose(page, "update-pilot", f"{name} · updated this week")
        settle(page, "Weekly update")
        expect(page.get_by_text("revises it (revision 2)", exact=False)).to_be_visible()
        expect(page.locator(".st-key-update-summary textarea")).to_have_value(
            "Vendor contract signed; data feed still late")
        expect(page.locator(".st-key-update-blockers textarea")).to_have_value("Data feed from billing")
        expect(page.locator(".st-key-update-health label:has(input:checked)")).to_have_text("Amber")

        # Revise it the same week.
        page.locator(".st-key-update-health").get_by_text("Green", exact=True).click()
        page.locator(".st-key-update-summary textarea").fill("Data feed arrived Thursday; back on track")
        page.locator(".st-key-update-blockers textarea").fill("")
        page.locator(".st-key-update-submit button").click()
        expect(page.get_by_text(f"Revised (revision 2) the update for '{name}'.")).to_be_visible()
        settle(page, "Weekly update")
        expect(page.get_by_text("revises it (revision 3)", exact=False)).to_be_visible()
        no_exception(page)
        rows = query(app_server, "SELECT revision, health, summary, blockers FROM weekly_update"
                                 " WHERE pilot_id = ? AND week_start = ? ORDER BY revision", [pilot_id, week])
        assert rows == [(1, "amber", "Vendor contract signed; data feed still late", "Data feed from billing"),
                        (2, "green", "Data feed arrived Thursday; back on track", "")]

        # The pilot's page: the flags that waited on an update are gone, the
        # revision is shown and the first text is kept.
        page.goto(f"{app_server.url}/pilot?id={pilot_id}", wait_until="domcontentloaded")
        wait_for_app(page, "Pilot")
        after = flag_texts(page)
        assert not any(t.startswith("Update overdue") for t in after), after
        assert not any("no weekly update" in t for t in after), after
        page.get_by_role("tab", name="Weekly updates").click()
        expect(page.get_by_text("Data feed arrived Thursday; back on track")).to_be_visible()
        expect(page.get_by_text(re.compile(r"· green · .* · revision 2"))).to_be_visible()
        page.get_by_text("Earlier revisions (1)").click()
        expect(page.get_by_text("Vendor contract signed; data feed still late", exact=False)).to_be_visible()
        no_exception(page)
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise


# --- 3. admin -------------------------------------------------------------------


def test_admin_deactivates_an_owner_then_gives_one_pilot_a_new_owner(request, app_server, e2e_page: Page):
    page = e2e_page
    owner_id, owner_name, owned, owner_label = busiest_product_owner(app_server)
    pilot_id, pilot_name = query(app_server, "SELECT id, name FROM pilot WHERE product_owner_id = ? AND stage"
                                             " IN ('pilot', 'bridge', 'production') ORDER BY id LIMIT 1", [owner_id])[0]
    newcomer, email = "Folake Adeyemi", "folake.adeyemi@example.com"
    try:
        # Deactivated without a handover: each of their pilots is ownerless.
        before = open_deactivation(page, app_server, owner_label)
        ownerless = confirm_deactivation(page, owner_id, f"Deactivated {owner_name}")
        assert ownerless == before + owned
        show(page, "Ownerless")
        assert list_heading(page) == f"Ownerless: {plural(ownerless, 'pilot')}"

        # Add a person.
        page.get_by_role("link", name="People").click()
        wait_for_app(page, "People")
        page.get_by_role("tab", name="Add a person").click()
        page.locator(".st-key-person-name input").fill(newcomer)
        page.locator(".st-key-person-email input").fill(email)
        choose(page, "person-role", "product owner")
        page.locator(".st-key-person-add button").click()
        expect(page.get_by_text(f"Added {newcomer}.")).to_be_visible()
        settle(page, "People")
        # The form is empty again for the next person.
        expect(page.locator(".st-key-person-name input")).to_have_value("")
        expect(page.locator(".st-key-person-email input")).to_have_value("")
        (new_id,) = query(app_server, "SELECT id FROM person WHERE email_key = ? AND active"
                                      " AND role = 'product_owner'", [email])[0]

        # Make them product owner of one of the ownerless pilots.
        page.goto(f"{app_server.url}/pilot?id={pilot_id}", wait_until="domcontentloaded")
        wait_for_app(page, "Pilot")
        expect(page.get_by_role("heading", name=pilot_name)).to_be_visible()
        expect(page.get_by_text("Ownerless", exact=True)).to_be_visible()
        expand(page, "Edit the pilot and its seats")
        choose(page, f"edit-{pilot_id}-product-owner", newcomer)
        page.locator(f".st-key-edit-save-{pilot_id} button").click()
        expect(page.get_by_text(f"Saved '{pilot_name}'.")).to_be_visible()
        settle(page, "Pilot")
        no_exception(page)
        expect(page.get_by_text("Ownerless", exact=True)).to_have_count(0)
        assert query(app_server, "SELECT product_owner_id FROM pilot WHERE id = ?", [pilot_id]) == [(new_id,)]

        # It leaves the ownerless list; the others stay.
        page.get_by_role("link", name="Portfolio").click()
        wait_for_app(page, "Portfolio")
        assert metric(page, "Ownerless") == ownerless - 1
        show(page, "Ownerless")
        assert list_heading(page) == f"Ownerless: {plural(ownerless - 1, 'pilot')}"
        assert pilot_name not in options_of(page, "open-pilot")
        no_exception(page)
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise


# --- 4. a privilege decided, a KPI reading entered --------------------------------


def test_a_privilege_is_decided_and_a_kpi_reading_entered(request, app_server, e2e_page: Page):
    page = e2e_page
    # A pilot with an undecided privilege and a KPI, acted on by its product owner.
    pilot_id, owner = query(
        app_server,
        "SELECT p.id, o.name FROM pilot p JOIN person o ON o.id = p.product_owner_id"
        " WHERE o.active AND o.role = 'product_owner' AND p.stage = 'pilot' AND NOT p.archived"
        " AND EXISTS (SELECT 1 FROM privilege v WHERE v.pilot_id = p.id AND v.disposition = 'undecided')"
        " AND EXISTS (SELECT 1 FROM kpi k WHERE k.pilot_id = p.id) ORDER BY p.id LIMIT 1")[0]
    privilege_id, what = query(app_server, "SELECT id, description FROM privilege WHERE pilot_id = ?"
                                           " AND disposition = 'undecided' ORDER BY id DESC LIMIT 1", [pilot_id])[0]
    kpi_id, kpi_name, target = query(app_server, "SELECT id, name, target FROM kpi WHERE pilot_id = ?"
                                                 " ORDER BY id LIMIT 1", [pilot_id])[0]
    value = 1234.5 if target is None else float(target)
    try:
        page.goto(f"{app_server.url}/pilot?id={pilot_id}", wait_until="domcontentloaded")
        wait_for_app(page, "Pilot")
        choose(page, "act-as", f"{owner} · product owner")
        settle(page, "Pilot")

        # Decide the privilege: it becomes permanent.
        page.get_by_role("tab", name="Production readiness").click()
        expand(page, "Decide a privilege")
        choose(page, f"privilege-pick-{pilot_id}", what)
        page.locator(f".st-key-privilege-disposition-{pilot_id}").get_by_text("make permanent", exact=True).click()
        page.locator(f".st-key-privilege-note-{pilot_id} input").fill("Security signed the access off for production")
        page.locator(f".st-key-privilege-decide-save-{pilot_id} button").click()
        expect(page.get_by_text(f"'{what}': make permanent.")).to_be_visible()
        settle(page, "Pilot")
        no_exception(page)
        (owner_id,) = query(app_server, "SELECT product_owner_id FROM pilot WHERE id = ?", [pilot_id])[0]
        assert query(app_server, "SELECT disposition, note, decided_by, decided_on FROM privilege WHERE id = ?",
                     [privilege_id]) == [("make_permanent", "Security signed the access off for production",
                                          owner_id, date.today())]
        assert query(app_server, "SELECT actor_id FROM audit WHERE entity = 'privilege' AND entity_id = ?"
                                 " AND action = 'decide'", [str(privilege_id)]) == [(owner_id,)]

        # Enter a reading of the KPI.
        page.get_by_role("tab", name="Production readiness").click()
        expand(page, "Enter readings")
        page.locator(f".st-key-reading-{kpi_id} input").fill(f"{value:g}")
        page.keyboard.press("Tab")
        page.locator(f".st-key-reading-save-{pilot_id} button").click()
        expect(page.get_by_text("Saved 1 reading(s).")).to_be_visible()
        settle(page, "Pilot")
        no_exception(page)
        readings = query(app_server, "SELECT id, recorded_by FROM kpi_reading WHERE kpi_id = ? AND reading_on = ?"
                                     " AND value = ?", [kpi_id, date.today(), value])
        assert len(readings) == 1 and readings[0][1] == owner_id, readings
        assert query(app_server, "SELECT actor_id FROM audit WHERE entity = 'kpi_reading' AND entity_id = ?"
                                 " AND action = 'create'", [str(readings[0][0])]) == [(owner_id,)]
        # The form is empty again for the next reading.
        page.get_by_role("tab", name="Production readiness").click()
        expect(page.locator(f".st-key-reading-{kpi_id} input")).to_have_value("")
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise
