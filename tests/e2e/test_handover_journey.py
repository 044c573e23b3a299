"""Acceptance before go, in a real browser: leadership's go on a pilot whose
operational owner has not accepted the handover is refused on the Decisions
page, naming what is missing, and nothing is written; the operational owner
accepts it (with conditions) on the pilot page; the same go then goes
through. Another pilot goes on an override reason, which stays on record."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from .test_browser_smoke import wait_for_app
from .test_spine_journeys import choose, query, settle

pytestmark = pytest.mark.e2e

UNACCEPTED = (
    "SELECT p.id, p.name, o.id, o.name, o.role FROM pilot p JOIN person o ON o.id = p.operational_owner_id"
    " WHERE p.stage = 'pilot' AND NOT p.archived AND o.active AND p.go_no_go_date <= ?"
    " AND NOT EXISTS (SELECT 1 FROM handover_acceptance a WHERE a.pilot_id = p.id) ORDER BY p.id")


def open_decision(page: Page, app_server, pilot_id: int) -> None:
    page.goto(f"{app_server.url}/decisions?id={pilot_id}", wait_until="domcontentloaded")
    wait_for_app(page, "Decisions")
    expect(page.locator(f".st-key-decision-kind-{pilot_id}")).to_be_visible()


def fill_go(page: Page, pilot_id: int, rationale: str) -> None:
    page.locator(f".st-key-decision-kind-{pilot_id}").get_by_text("go", exact=True).click()
    page.locator(f".st-key-decision-rationale-{pilot_id} textarea").fill(rationale)


def test_a_go_waits_for_the_operational_owners_acceptance_or_an_override(request, app_server, e2e_page: Page):
    page = e2e_page
    due = date.today() + timedelta(days=14)
    candidates = query(app_server, UNACCEPTED, [due])
    assert len(candidates) >= 2, candidates  # the demo has pilots due whose handover nobody accepted yet
    (pilot_id, name, owner_id, owner, role), (other_id, *_) = candidates[:2]
    decided_before = query(app_server, "SELECT count(*) FROM decision WHERE pilot_id = ?", [pilot_id])
    try:
        # 1. Leadership tries the go: refused, naming the missing acceptance.
        open_decision(page, app_server, pilot_id)
        acceptance = page.locator(f".st-key-decision-acceptance-{pilot_id}")
        expect(acceptance).to_contain_text("Handover: not accepted")
        expect(acceptance).to_contain_text(f"Operational owner ({owner}): has not accepted the handover")
        fill_go(page, pilot_id, "All criteria met on live traffic")
        page.locator(f".st-key-decision-submit-{pilot_id} button").click()
        expect(page.get_by_text(re.compile(
            r"Override reason: go needs the operational owner's acceptance of the handover \(the operational "
            rf"owner \({re.escape(owner)}\) has not accepted the handover\)"))).to_be_visible()
        settle(page, "Decisions")  # the run that refused it has ended before the page is left
        assert query(app_server, "SELECT stage FROM pilot WHERE id = ?", [pilot_id]) == [("pilot",)]
        assert query(app_server, "SELECT count(*) FROM decision WHERE pilot_id = ?", [pilot_id]) == decided_before
        # What was typed stays, to be sent again.
        expect(page.locator(f".st-key-decision-rationale-{pilot_id} textarea")).to_have_value(
            "All criteria met on live traffic")

        # 2. The operational owner accepts the handover, with conditions, on the pilot page.
        page.goto(f"{app_server.url}/pilot?id={pilot_id}", wait_until="domcontentloaded")
        wait_for_app(page, "Pilot")
        choose(page, "act-as", f"{owner} · {role.replace('_', ' ')}")
        settle(page, "Pilot")
        page.get_by_role("tab", name="Handover and check-ins").click()
        page.locator(f".st-key-acceptance-verdict-{pilot_id}").get_by_text("accepted with conditions",
                                                                          exact=True).click()
        page.locator(f".st-key-acceptance-note-{pilot_id} input").fill("Night shift trained before rollout")
        page.locator(f".st-key-acceptance-save-{pilot_id} button").click()
        expect(page.get_by_text(f"Recorded the operational owner's word on the handover of '{name}': "
                                "accepted with conditions.")).to_be_visible()
        settle(page, "Pilot")
        assert query(app_server, "SELECT person_id, recorded_by, verdict, note FROM handover_acceptance"
                                 " WHERE pilot_id = ?", [pilot_id]) == [
            (owner_id, owner_id, "with_conditions", "Night shift trained before rollout")]
        assert query(app_server, "SELECT actor_id, action FROM audit WHERE entity = 'handover_acceptance'"
                                 " AND pilot_id = ?", [pilot_id]) == [(owner_id, "accepted with conditions")]

        # 3. Leadership's go now goes through, with no override.
        open_decision(page, app_server, pilot_id)
        expect(page.locator(f".st-key-decision-acceptance-{pilot_id}")).to_contain_text("Handover: accepted")
        expect(page.locator(f".st-key-decision-acceptance-{pilot_id}")).to_contain_text(
            "Night shift trained before rollout")
        fill_go(page, pilot_id, "All criteria met on live traffic")
        page.locator(f".st-key-decision-submit-{pilot_id} button").click()
        expect(page.get_by_text(re.compile(r"Recorded go for"))).to_be_visible()
        settle(page, "Decisions")
        assert query(app_server, "SELECT kind, override_reason FROM decision WHERE pilot_id = ? AND kind = 'go'",
                     [pilot_id]) == [("go", "")]
        assert query(app_server, "SELECT stage FROM pilot WHERE id = ?", [pilot_id]) == [("bridge",)]

        # 4. Another unaccepted pilot goes on an override reason, kept on the decision.
        open_decision(page, app_server, other_id)
        fill_go(page, other_id, "The regulator's deadline")
        page.locator(f".st-key-decision-override-{other_id} input").fill("Operations signs at Monday's review")
        page.locator(f".st-key-decision-submit-{other_id} button").click()
        expect(page.get_by_text(re.compile(r"Recorded go for"))).to_be_visible()
        settle(page, "Decisions")
        assert query(app_server, "SELECT kind, override_reason FROM decision WHERE pilot_id = ? AND kind = 'go'",
                     [other_id]) == [("go", "Operations signs at Monday's review")]
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise
