"""A product owner subscribes their calendar from the People page, in a
real browser: they make their calendar link, the address shown is fetched
as a calendar client would (httpx) and read with icalendar, and holds their
pilots' go/no-go dates; making a new link stops the old address at once."""

from __future__ import annotations

import httpx
import icalendar
import pytest
from playwright.sync_api import Page, expect

from portfolio.storage import db, store

from .test_browser_smoke import wait_for_app
from .test_spine_journeys import settle

pytestmark = pytest.mark.e2e


def owner_on_the_clock(app_server):
    """An active product owner with a pilot on the clock, and those pilots."""
    with db.session(app_server.db_file) as c:
        pilots = store.list_pilots(c)
        for person in store.list_people(c, active_only=True):
            mine = [p for p in pilots if p.product_owner_id == person.id and p.stage.value == "pilot"
                    and p.go_no_go_date]
            if person.role.value == "product_owner" and mine:
                return person, mine
    raise AssertionError("the demo has no product owner with a pilot on the clock")


def shown_address(page: Page) -> str:
    code = page.locator(".st-key-token-just-made [data-testid='stCode'] code").first
    expect(code).to_contain_text("/mine.ics")
    return code.inner_text().strip()


def make_link(page: Page) -> str:
    page.locator(".st-key-calendar-link-new button").click()
    settle(page, "People")
    return shown_address(page)


def test_a_product_owner_subscribes_to_their_go_no_go_dates_and_a_new_link_stops_the_old(app_server, e2e_page):
    page = e2e_page
    owner, pilots = owner_on_the_clock(app_server)
    page.goto(f"{app_server.url}/people?as={owner.email}", wait_until="domcontentloaded")
    wait_for_app(page, "People")
    page.get_by_text("Calendar link and API tokens").click()
    expect(page.get_by_text("No calendar link yet.")).to_be_visible()

    first = make_link(page)
    assert first.startswith(app_server.url + "/calendar/")
    got = httpx.get(first, timeout=30)
    assert got.status_code == 200
    dates = {str(e["UID"]): e.decoded("DTSTART") for e in icalendar.Calendar.from_ical(got.content).walk("VEVENT")}
    for p in pilots:
        assert dates[f"pilot-{p.id}-go-no-go@pilot-portfolio.tracker"] == p.go_no_go_date

    page.locator(".st-key-token-copied button").click()
    settle(page, "People")
    expect(page.locator(".st-key-token-just-made")).to_have_count(0)  # shown once

    second = make_link(page)
    expect(page.get_by_text("the old one no longer works")).to_be_visible()
    assert second != first
    assert httpx.get(first, timeout=30).status_code == 404
    assert httpx.get(second, timeout=30).status_code == 200
