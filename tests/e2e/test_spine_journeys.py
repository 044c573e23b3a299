"""The spine's journeys in a real browser: an admin creates a pilot, a
product owner posts a weekly update and sees the flag it answers clear, an
admin deactivates a product owner and the Portfolio counts their pilots as
ownerless at once."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from portfolio.storage import db

from .conftest import runs_of
from .test_browser_smoke import wait_for_app

pytestmark = pytest.mark.e2e

# How long one opening of a picker waits for its option, and how many times
# it is opened: together the 60 s a step may take.
CHOOSE_WAIT_MS = 15_000
CHOOSE_ATTEMPTS = 4


def open_list(page: Page, key: str):
    """Open the option list of the selectbox or multiselect with widget key
    ``key`` and return its input. A click right after typing in another
    field can land while that field's blur re-renders the form, and the
    list closes again: click until it is open."""
    box = page.locator(f".st-key-{key} input[role='combobox']")
    for _ in range(3):
        box.click()
        try:
            expect(box).to_have_attribute("aria-expanded", "true", timeout=2_000)
            return box
        except AssertionError:
            continue
    expect(box).to_have_attribute("aria-expanded", "true")
    return box


def choose(page: Page, key: str, option: str) -> None:
    """Pick ``option`` of the selectbox with widget key ``key`` by its label,
    typed in so a long virtualised list cannot hide it. Picking the option
    already shown changes nothing, so no run follows."""
    box = page.locator(f".st-key-{key} input[role='combobox']")
    if box.input_value() == option:
        runs_of(page).quiet = True
        return
    # A loaded machine can close the list between the click and the typing
    # (the browser drops a click that lands while it draws), and the first
    # typing into a list that has just appeared is now and then lost: the
    # list is then closed and opened again, until the step's own timeout.
    wanted = page.get_by_role("option", name=option, exact=True)
    for attempt in range(CHOOSE_ATTEMPTS):
        open_list(page, key).fill(option)  # filters the list to the option
        try:
            wanted.click(timeout=CHOOSE_WAIT_MS)
            return
        except PlaywrightTimeoutError:
            if attempt == CHOOSE_ATTEMPTS - 1:
                raise
            box.press("Escape")
            expect(box).to_have_attribute("aria-expanded", "false")


def settle(page: Page, heading: str) -> None:
    """Until the script run the last action started has finished and the
    page is drawn again."""
    runs_of(page).wait_for_new_run()
    wait_for_app(page, heading)


def open_tab(page: Page, name: str, heading: str = "Pilot") -> None:
    """Open a tab of the page and wait for its run: only the open tab is
    drawn, so what a test reads next must wait for the tab's content."""
    tab = page.get_by_role("tab", name=name, exact=True)
    if tab.get_attribute("aria-selected") == "true":
        return
    tab.click()
    settle(page, heading)


def metric_text(page: Page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]').get_by_text(label, exact=True))
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def metric(page: Page, label: str) -> int:
    return int(metric_text(page, label))


def busiest_product_owner(app_server) -> tuple[int, str, int, str]:
    """(id, name, live pilots owned, picker label) of the active product
    owner who owns the most live pilots."""
    return query(
        app_server,
        "SELECT o.id, o.name, count(*), o.name || ' · ' || o.email FROM pilot p"
        " JOIN person o ON o.id = p.product_owner_id"
        " WHERE o.active AND o.role = 'product_owner' AND p.stage IN ('pilot', 'bridge', 'production')"
        " GROUP BY ALL ORDER BY count(*) DESC, o.id LIMIT 1",
    )[0]


def open_deactivation(page: Page, app_server, label: str) -> int:
    """Read the Ownerless count, then open the deactivation of the person
    with picker label ``label``. Returns the count."""
    page.goto(app_server.url, wait_until="domcontentloaded")
    wait_for_app(page, "Portfolio")
    before = metric(page, "Ownerless")
    page.goto(app_server.url + "/people", wait_until="domcontentloaded")
    wait_for_app(page, "People")
    page.get_by_role("tab", name="Deactivate or reactivate").click()
    choose(page, "deactivate-pick", label)
    settle(page, "People")
    return before


def confirm_deactivation(page: Page, person_id: int, said: str) -> int:
    """Confirm and deactivate, wait for the message ``said``, and return the
    Portfolio's Ownerless count after."""
    page.locator(f".st-key-deactivate-confirm-{person_id} label").click()
    settle(page, "People")
    page.locator(f".st-key-deactivate-go-{person_id} button").click()
    expect(page.get_by_text(said, exact=False)).to_be_visible()
    page.get_by_role("link", name="Portfolio").click()
    wait_for_app(page, "Portfolio")
    return metric(page, "Ownerless")


def query(app_server, sql: str, params=()):
    """Read the served database between actions (the app holds it only
    while a page runs)."""
    with db.session(app_server.db_file) as c:
        return c.execute(sql, list(params)).fetchall()


def test_admin_creates_a_pilot_and_it_opens_on_its_clock(request, app_server, e2e_page: Page):
    page = e2e_page
    try:
        page.goto(app_server.url + "/pilot", wait_until="domcontentloaded")
        wait_for_app(page, "Pilot")
        page.locator(".st-key-pilot-name input").fill("Returns forecasting")
        choose(page, "pilot-unit", "Operations")  # one of the organisation's kept units
        # The date field has a segment each for year, month and day; typing
        # moves from one to the next.
        page.locator(".st-key-pilot-start [data-type='year']").click()
        page.keyboard.type(date.today().strftime("%Y%m%d"))
        page.keyboard.press("Tab")
        page.locator(".st-key-pilot-create button").click()
        expect(page.get_by_role("heading", name="Returns forecasting")).to_be_visible()
        expect(page.get_by_text("Day 1 of 90: 90 days left")).to_be_visible()
        assert query(app_server, "SELECT business_unit FROM pilot WHERE name = ?", ["Returns forecasting"]) == [
            ("Operations",)]
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise


def test_product_owner_posts_an_update_and_the_stale_flag_clears(request, app_server, e2e_page: Page):
    page = e2e_page
    # A pilot flagged STALE_UPDATE whose product owner is active.
    pilot_id, pilot_name, owner_name = query(
        app_server,
        "SELECT p.id, p.name, o.name FROM pilot p JOIN person o ON o.id = p.product_owner_id "
        "WHERE o.active AND p.stage = 'pilot' AND p.start_date < current_date - 20 AND p.id NOT IN "
        "(SELECT pilot_id FROM weekly_update WHERE posted_on > current_date - 15) ORDER BY p.id LIMIT 1",
    )[0]
    try:
        page.goto(f"{app_server.url}/pilot?id={pilot_id}", wait_until="domcontentloaded")
        wait_for_app(page, "Pilot")
        expect(page.get_by_text("Update overdue", exact=True)).to_be_visible()

        page.goto(app_server.url + "/weekly_update", wait_until="domcontentloaded")
        wait_for_app(page, "Weekly update")
        choose(page, "act-as", f"{owner_name} · product owner")
        settle(page, "Weekly update")
        choose(page, "update-pilot", f"{pilot_name} · needs this week's update")
        settle(page, "Weekly update")
        page.locator(".st-key-update-health").get_by_text("Green", exact=True).click()
        page.locator(".st-key-update-summary textarea").fill("Data extract arrived; back on track")
        page.locator(".st-key-update-submit button").click()
        expect(page.get_by_text(re.compile(f"Posted the update for '{re.escape(pilot_name)}'"))).to_be_visible()

        page.goto(f"{app_server.url}/pilot?id={pilot_id}", wait_until="domcontentloaded")
        wait_for_app(page, "Pilot")
        page.get_by_role("tab", name="Weekly updates").click()
        expect(page.get_by_text("Data extract arrived; back on track")).to_be_visible()
        expect(page.get_by_text("Update overdue", exact=True)).to_have_count(0)
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise


def test_deactivating_an_owner_makes_their_pilots_ownerless_at_once(request, app_server, e2e_page: Page):
    page = e2e_page
    owner_id, owner_name, owned, owner_label = busiest_product_owner(app_server)
    try:
        before = open_deactivation(page, app_server, owner_label)
        expect(page.get_by_text(re.compile("makes .* pilot\\(s\\) ownerless at once"))).to_be_visible()
        assert confirm_deactivation(page, owner_id, f"Deactivated {owner_name}") == before + owned
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise


def test_the_sidebar_choices_stay_when_moving_between_pages(request, app_server, e2e_page: Page):
    page = e2e_page
    (viewer_name,) = query(app_server, "SELECT name FROM person WHERE role = 'viewer' AND active ORDER BY id LIMIT 1")[0]
    try:
        page.goto(app_server.url, wait_until="domcontentloaded")
        wait_for_app(page, "Portfolio")
        choose(page, "act-as", f"{viewer_name} · viewer")
        settle(page, "Portfolio")
        # Type the whole date, year first: stepping the day segment would wrap
        # within the month (01 -> 31 of the same month) on the first of a month.
        yesterday = date.fromordinal(date.today().toordinal() - 1)
        page.locator(".st-key-as-of [data-type='year']").click()
        page.keyboard.type(yesterday.strftime("%Y%m%d"))
        page.locator("h1").first.click()  # leave the field: the date is committed on blur
        settle(page, "Portfolio")
        as_of = page.locator(".st-key-as-of").inner_text()
        for link, heading in (("People", "People"), ("Decisions", "Decisions"), ("Portfolio", "Portfolio")):
            page.get_by_role("link", name=link).click()
            wait_for_app(page, heading)
            expect(page.locator(".st-key-act-as input")).to_have_value(f"{viewer_name} · viewer")
            assert page.locator(".st-key-as-of").inner_text() == as_of
        expect(page.get_by_text(f"As of {yesterday:%A %d %B %Y}.", exact=False)).to_be_visible()
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise
