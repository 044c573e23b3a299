"""From the reminder email to the posted update, in a real browser: the
served app's portfolio is reminded through a real SMTP server on
127.0.0.1, the link of "this week's update is missing" is opened as it
came, and the update is posted from the form it opens, its pilot already
chosen, in a handful of interactions."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import run_cli
from tests.integration.test_notify import parts, smtp  # noqa: F401 - the real SMTP server, a fixture

from .test_browser_smoke import wait_for_app
from .test_spine_journeys import query

pytestmark = pytest.mark.e2e


def test_the_missing_update_email_opens_the_form_with_its_pilot_and_posting_takes_a_few_steps(
        request, app_server, e2e_page: Page, smtp):  # noqa: F811
    page = e2e_page
    owner = query(app_server, """
        SELECT o.email FROM pilot p JOIN person o ON o.id = p.product_owner_id
        WHERE o.active AND p.stage = 'pilot' AND NOT p.archived
          AND p.id NOT IN (SELECT pilot_id FROM weekly_update WHERE week_start = date_trunc('week', current_date))
        ORDER BY p.id LIMIT 1""")[0][0]
    sent = run_cli("notify", "--db", str(app_server.db_file), "--as-of", date.today().isoformat(), "--only", owner,
                   env={"PORTFOLIO_SMTP_URL": smtp.url, "PORTFOLIO_MAIL_FROM": "pilots@example.com",
                        "PORTFOLIO_BASE_URL": app_server.url, "PORTFOLIO_USER": None})
    assert sent.returncode == 0, sent.stderr
    (msg,) = smtp.to(owner)
    text, _ = parts(msg)
    link = re.search(rf"Post the update: ({re.escape(app_server.url)}/weekly_update\?pilot=(\d+))", text)
    assert link, text
    pilot_id = int(link.group(2))
    (name,) = query(app_server, "SELECT name FROM pilot WHERE id = ?", [pilot_id])[0]
    try:
        page.goto(link.group(1), wait_until="domcontentloaded")
        wait_for_app(page, "Weekly update")
        picker = page.locator(".st-key-update-pilot input[role='combobox']")
        expect(picker).to_have_value(f"{name} · needs this week's update")
        page.locator(".st-key-update-health").get_by_text("Amber", exact=True).click()
        page.locator(".st-key-update-summary textarea").fill("Posted from the reminder email")
        page.locator(".st-key-update-submit button").click()
        expect(page.get_by_text(re.compile(f"Posted the update for '{re.escape(name)}'"))).to_be_visible()
        assert query(app_server, "SELECT health, summary FROM weekly_update WHERE pilot_id = ? "
                                 "ORDER BY id DESC LIMIT 1", [pilot_id]) == [("amber", "Posted from the reminder email")]
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise
