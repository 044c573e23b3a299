"""The decision followed through, in a real browser: leadership records a
no-go with a reason and lessons; the pilot, still holding what it borrowed,
appears on the Portfolio's "still holding" list; its product owner records
the revocation of each privilege, with evidence, on its page; the pilot
leaves the list; and an admin creating a pilot with a similar name is shown
the stopped one and why it stopped."""

from __future__ import annotations

import re
import urllib.parse

import pytest
from playwright.sync_api import Page, expect

from .test_browser_smoke import wait_for_app
from .test_spine_journeys import choose, open_tab, query, settle
from .test_user_journeys import no_exception

pytestmark = pytest.mark.e2e

LESSONS = "Agree the error budget with the operators before building."


def as_person(app_server, path: str, email: str, **params) -> str:
    """The address of ``path`` acting as ``email`` (local mode keeps whom
    you act as in the address)."""
    return f"{app_server.url}/{path}?" + urllib.parse.urlencode({**params, "as": email})


def test_a_no_go_is_followed_through_to_the_last_revoked_privilege(request, app_server, e2e_page: Page):
    page = e2e_page
    (leader,) = query(app_server, "SELECT email FROM person WHERE active AND role = 'leadership' ORDER BY id LIMIT 1")[0]
    # A pilot due for its decision that borrowed privileges not made permanent,
    # with an active product owner to give them back.
    pilot_id, name, owner = query(app_server, """
        SELECT p.id, p.name, o.email FROM pilot p JOIN person o ON o.id = p.product_owner_id AND o.active
        WHERE p.stage = 'pilot' AND NOT p.archived AND p.go_no_go_date <= current_date
          AND EXISTS (SELECT 1 FROM privilege v WHERE v.pilot_id = p.id AND v.disposition <> 'make_permanent')
        ORDER BY p.id LIMIT 1""")[0]
    held = [d for (d,) in query(app_server, "SELECT description FROM privilege WHERE pilot_id = ?"
                                            " AND disposition <> 'make_permanent' ORDER BY id", [pilot_id])]
    assert held
    try:
        # Leadership records the no-go: why, from the short list, and what was learned.
        page.goto(as_person(app_server, "decisions", leader, id=pilot_id), wait_until="domcontentloaded")
        wait_for_app(page, "Decisions")
        expect(page.get_by_role("heading", level=2, name=name)).to_be_visible()
        page.locator(f".st-key-decision-kind-{pilot_id}").get_by_text("no-go", exact=True).click()
        settle(page, "Decisions")  # a choice sends itself; the reason's list shows for a no-go
        choose(page, f"decision-{pilot_id}-stop-reason", "Value not proven")
        settle(page, "Decisions")
        page.locator(f".st-key-decision-{pilot_id}-lessons textarea").fill(LESSONS)
        page.locator(f".st-key-decision-rationale-{pilot_id} textarea").fill("Error rate stayed above target")
        page.locator(f".st-key-decision-submit-{pilot_id} button").click()
        expect(page.get_by_text(f"Recorded no-go for '{name}': now stopped.")).to_be_visible()
        settle(page, "Decisions")
        no_exception(page)
        assert query(app_server, "SELECT reason, lessons FROM stop_record WHERE pilot_id = ?", [pilot_id]) == [
            ("value_not_proven", LESSONS)]

        # The Portfolio lists it as still holding what it borrowed, by name
        # (a link can open the page on that section).
        page.goto(as_person(app_server, "", leader, section="Borrowed privileges"), wait_until="domcontentloaded")
        wait_for_app(page, "Portfolio")
        expect(page.get_by_role("tab", name="Borrowed privileges", exact=True)).to_have_attribute("aria-selected", "true")
        holding = page.locator(".st-key-still-holding")
        line = holding.locator("p").filter(has_text=name)
        expect(line).to_contain_text(f"still holds {len(held)} privilege")
        for description in held:
            expect(line).to_contain_text(description)

        # Its product owner records the revocation of each, with evidence.
        page.goto(as_person(app_server, "pilot", owner, id=pilot_id), wait_until="domcontentloaded")
        wait_for_app(page, "Pilot")
        page.get_by_role("tab", name="Production readiness").click()
        expect(page.get_by_text(re.compile(r"The pilot is stopped, and still holds"))).to_be_visible()
        for number, description in enumerate(held, start=1):
            pick = page.locator(f".st-key-privilege-revoke-pick-{pilot_id} input[role='combobox']")
            expect(pick).to_have_value(re.compile("^" + re.escape(description)))
            page.locator(f".st-key-privilege-revoke-evidence-{pilot_id} input").fill(f"Access review ticket {number}")
            page.locator(f".st-key-privilege-revoke-save-{pilot_id} button").click()
            expect(page.get_by_text(re.compile(f"'{re.escape(description)}': revoked on"))).to_be_visible()
            settle(page, "Pilot")
            no_exception(page)
            page.get_by_role("tab", name="Production readiness").click()
        expect(page.get_by_text(re.compile(r"The pilot is stopped, and still holds"))).to_have_count(0)
        assert query(app_server, "SELECT count(*) FROM privilege WHERE pilot_id = ? AND revoked_on IS NOT NULL"
                                 " AND revocation_evidence LIKE 'Access review ticket %'", [pilot_id]) == [(len(held),)]

        # The pilot has left the list.
        page.goto(as_person(app_server, "", owner), wait_until="domcontentloaded")
        wait_for_app(page, "Portfolio")
        open_tab(page, "Borrowed privileges", "Portfolio")
        expect(page.get_by_role("heading", name="Stopped, still holding borrowed privileges")).to_be_visible()
        expect(page.locator(".st-key-still-holding p").filter(has_text=name)).to_have_count(0)

        # Creating a pilot with a similar name shows the stopped one and why it stopped.
        (admin,) = query(app_server, "SELECT email FROM person WHERE active AND role = 'admin' ORDER BY id LIMIT 1")[0]
        page.goto(as_person(app_server, "pilot", admin), wait_until="domcontentloaded")
        wait_for_app(page, "Pilot")
        page.locator(".st-key-pilot-name input").fill(f"{name} v2")
        page.locator(".st-key-pilot-name input").press("Tab")  # the field sends what was typed on leaving it
        settle(page, "Pilot")
        alike = page.locator(".st-key-pilot-resembles")
        expect(alike).to_contain_text("Resembles")
        expect(alike.locator("p").filter(has_text=re.compile(f"^{re.escape(name)} · stopped on .*: Value not proven$"))
               ).to_have_count(1)
        expect(alike).to_contain_text(f"Lessons learned: {LESSONS}")
        no_exception(page)
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise
