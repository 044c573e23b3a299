"""Browser smoke test: the served app over a demo database, each page opened
in a real Chromium. Every page must finish its run, show its title and no
exception; the portfolio must show its headline numbers and a chart.

On failure a full-page screenshot and the server log land in test-artifacts/
named after the test (e.g. test_page_renders-pilot-1.png)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import runs_of

# Without Chromium the module-scoped `chromium` fixture (conftest.py) skips
# every test here, or fails them when CI=true.
pytestmark = pytest.mark.e2e


PAGES = [
    pytest.param("/", "Portfolio", id="portfolio"),
    pytest.param("/pilot", "Pilot", id="pilot"),
    pytest.param("/pilot?id=1", "Pilot", id="pilot-1"),
    pytest.param("/weekly_update", "Weekly update", id="weekly_update"),
    pytest.param("/people", "People", id="people"),
    pytest.param("/decisions", "Decisions", id="decisions"),
    pytest.param("/checklist", "Readiness checklist", id="checklist"),
    pytest.param("/import", "Import", id="import"),
    pytest.param("/changes", "What changed since my last review", id="changes"),
    pytest.param("/audit", "Audit trail", id="audit"),
    pytest.param("/stopped", "Stopped pilots", id="stopped"),
]


def wait_for_app(page: Page, heading: str) -> None:
    """The page's title is up and the script run has finished: no run is
    going by the app's messages, the app root reports its script as not
    running (the "Running..." widget only shows after a short delay, so its
    absence alone can come too early) and no "Running..." status widget is
    left. What ran until now counts as waited for (see settle)."""
    runs = runs_of(page)
    runs.wait_until_idle()
    expect(page.get_by_role("heading", level=1, name=heading, exact=True)).to_be_visible()
    expect(page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')).to_be_attached()
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0)
    runs.waited()


def exceptions_on(page: Page) -> list[str]:
    return [text.strip() for text in page.locator('[data-testid="stException"]').all_inner_texts()]


@pytest.mark.parametrize(("path", "heading"), PAGES)
def test_page_renders(request, app_server, e2e_page: Page, path: str, heading: str):
    page = e2e_page
    try:
        page.goto(app_server.url + path, wait_until="domcontentloaded")
        wait_for_app(page, heading)

        errors = exceptions_on(page)
        assert not errors, f"{path} shows an exception:\n" + "\n---\n".join(errors)
        expect(page.get_by_role("heading", level=1, name=heading, exact=True)).to_be_visible()

        if path == "/":
            metrics = page.locator('[data-testid="stMetricLabel"]')
            for name in ("Stalled", "Ownerless"):
                expect(metrics.get_by_text(name, exact=True)).to_be_visible()
            chart = page.locator('[data-testid="stPlotlyChart"], .js-plotly-plot')
            expect(chart.first).to_be_attached()
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise
