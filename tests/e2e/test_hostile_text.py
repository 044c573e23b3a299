"""In a real browser, user text is shown as text (#12.5): Markdown images,
raw HTML, disguised links, emphasis and Streamlit's own colour directives
typed into a pilot's name, its problem, its owner's name, a weekly update,
a KPI, a privilege and a criterion are shown as typed on every page, and
the image addresses, served by a real HTTP server started here, are never
fetched. And the Portfolio grid hands out no raw formulas (#12.7): its own
CSV download is off, and the download beside it is formula-safe."""

from __future__ import annotations

import csv
import io
import re
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect

from portfolio.domain.settings import Settings
from portfolio.services import decisions, people, pilots, production, signin, updates
from portfolio.storage import db
from portfolio.web.sections import PORTFOLIO_SECTIONS

from .conftest import runs_of
from .test_browser_smoke import wait_for_app
from .test_spine_journeys import choose, open_tab, settle

pytestmark = pytest.mark.e2e

ADMIN = "alex.morgan@example.com"  # the demo's first admin, whom local mode acts as
# A 1x1 transparent GIF: what a tracking pixel answers.
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


class PixelServer:
    """A real HTTP server on the loopback that counts every request it gets,
    as a tracking pixel's would. Stopped at the end of the test."""

    def __init__(self):
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.send_header("Content-Length", str(len(PIXEL)))
                self.end_headers()
                self.wfile.write(PIXEL)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pixel():
    server = PixelServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def hostile(app_server, pixel) -> dict:
    """A pilot whose every text is hostile, written through the services
    into the served database, as people would type it in the app."""
    px = pixel.base
    today = date.today()
    text = {
        "name": f"**Bold pilot** ![n]({px}/name.png) :red[alarm] [click](javascript:alert(1))",
        "owner": f"![o]({px}/owner.png) **Owner** <b>x</b>",
        "problem": f"# Big heading\n![p]({px}/problem.png) <img src=\"{px}/problem-html.png\">",
        "summary": f"![s]({px}/summary.png) [Quarterly report](javascript:alert(document.cookie)) **bold**",
        "blockers": f"[intranet.example/safe]({px}/phish) ![b]({px}/blockers.png)",
        "kpi": f"![k]({px}/kpi.png) **latency**",
        "privilege": f"![v]({px}/privilege.png) *data*",
        "criterion": f"![c]({px}/criterion.png) p95 under 800 ms",
        "formula": f'=HYPERLINK("{px}/sheet","Open")',
    }
    with db.session(app_server.db_file) as conn:
        admin = signin.actor_for_email(conn, ADMIN)
        settings = Settings()
        owner = people.add_person(conn, admin, {"name": text["owner"], "email": "pixel.owner@example.com",
                                                  "role": "product_owner"})
        # 80 days in: the decision is due in 10 days, so it is on the Decisions page too.
        start = today - timedelta(days=80)
        pid = pilots.create_pilot(conn, admin, {
            "name": text["name"], "business_unit": "Claims", "problem": text["problem"], "stage": "pilot",
            "start_date": start, "product_owner_id": owner}, settings, today=today)
        pilots.create_pilot(conn, admin, {"name": text["formula"], "business_unit": "Claims", "stage": "pilot",
                                            "start_date": start, "product_owner_id": owner}, settings, today=today)
        kpi = production.add_kpi(conn, admin, pid, {"name": text["kpi"], "category": "latency", "unit": "ms",
                                                    "direction": "lower", "target": 800, "production": True})
        production.add_privilege(conn, admin, pid, {"kind": "data_access", "description": text["privilege"],
                                                    "expires": today + timedelta(days=5)})
        decisions.save_criteria(conn, admin, pid, additions=[{"statement": text["criterion"]}], on=today,
                                settings=settings)
        updates.post_weekly_update(conn, admin, {"pilot_id": pid, "health": "amber", "summary": text["summary"],
                                                  "blockers": text["blockers"]}, today,
                                    readings=[{"kpi_id": kpi, "value": 900}])
    return {"pilot_id": pid, "owner_id": owner, **text}


def shown_as_text(page: Page, pixel: PixelServer, *typed: str) -> None:
    """Nothing of the user's text became an image, a link it disguises or
    formatting, and each of ``typed`` is on the page as it was typed."""
    main = page.locator('[data-testid="stApp"]')
    expect(main.locator(f"img[src^='{pixel.base}']")).to_have_count(0)
    expect(main.locator("a[href^='javascript']")).to_have_count(0)
    for disguise in ("click", "Quarterly report", "intranet.example/safe"):
        expect(main.get_by_role("link", name=disguise, exact=True)).to_have_count(0)
    # Only the app's own words are bold, italic or headings; none of the user's.
    formatted = re.compile(r"^\s*(Bold pilot|bold|Owner|latency|data|x|Big heading)\s*$")
    expect(main.locator("strong, b, em, h1, h2, h3, h4").filter(has_text=formatted)).to_have_count(0)
    for text in typed:
        expect(main.get_by_text(text, exact=False).filter(visible=True).first).to_be_visible()


def test_user_text_is_shown_as_text_on_every_page(request, app_server, e2e_page: Page, pixel, hostile):
    page, pid = e2e_page, hostile["pilot_id"]
    try:
        page.goto(app_server.url, wait_until="domcontentloaded")
        wait_for_app(page, "Portfolio")
        shown_as_text(page, pixel)
        for section in PORTFOLIO_SECTIONS[1:]:  # only the open section is drawn: read each
            open_tab(page, section, "Portfolio")
            shown_as_text(page, pixel)

        page.goto(f"{app_server.url}/pilot?id={pid}", wait_until="domcontentloaded")
        wait_for_app(page, "Pilot")
        expect(page.get_by_role("heading", level=2)).to_contain_text(hostile["name"])
        shown_as_text(page, pixel, hostile["name"], "# Big heading", f"![p]({pixel.base}/problem.png)",
                      hostile["owner"])
        open_tab(page, "Criteria and decisions")
        shown_as_text(page, pixel, hostile["criterion"])
        open_tab(page, "Production readiness")
        shown_as_text(page, pixel, hostile["privilege"])
        open_tab(page, "Weekly updates")
        shown_as_text(page, pixel, hostile["summary"], hostile["blockers"])

        page.goto(f"{app_server.url}/weekly_update", wait_until="domcontentloaded")
        wait_for_app(page, "Weekly update")
        choose(page, "update-pilot", f"{hostile['name']} · updated this week")
        settle(page, "Weekly update")
        # The KPI's row is labelled with its name; the form holds the text as typed.
        shown_as_text(page, pixel, hostile["kpi"])
        expect(page.locator(".st-key-update-summary textarea")).to_have_value(hostile["summary"])

        page.goto(f"{app_server.url}/decisions?id={pid}", wait_until="domcontentloaded")
        wait_for_app(page, "Decisions")
        shown_as_text(page, pixel, hostile["name"], hostile["summary"])

        page.goto(f"{app_server.url}/people", wait_until="domcontentloaded")
        wait_for_app(page, "People")
        page.get_by_text("One person: seats and recent activity").click()
        choose(page, "person-view-pick", f"{hostile['owner']} · pixel.owner@example.com")
        settle(page, "People")
        shown_as_text(page, pixel, hostile["owner"])

        page.goto(f"{app_server.url}/audit", wait_until="domcontentloaded")
        wait_for_app(page, "Audit trail")
        shown_as_text(page, pixel)

        # Not one request reached the tracking pixel: nothing was fetched from user text.
        assert pixel.hits == []
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise


def runs_as_formula(cell: str) -> bool:
    """What a spreadsheet opening the CSV would run: text starting with one
    of these (a negative number is a number)."""
    if cell.startswith("-"):
        try:
            float(cell)
            return False
        except ValueError:
            return True
    return cell.startswith(("=", "+", "@", "\t", "\r"))


def test_the_portfolio_grid_hands_out_no_formula(request, app_server, e2e_page: Page, hostile, tmp_path):
    page = e2e_page
    try:
        page.goto(app_server.url, wait_until="domcontentloaded")
        wait_for_app(page, "Portfolio")
        grid = page.locator(".st-key-portfolio-table")
        # The grid draws itself once its script has loaded: slow on a busy machine.
        expect(grid.locator('[data-testid="stDataFrameResizable"]')).to_be_visible()
        grid.hover()
        # The grid's toolbar is there, without its own CSV download (it writes cells as they are).
        expect(grid.get_by_role("button", name="Search")).to_be_visible()
        expect(grid.get_by_role("button", name="Download as CSV")).to_have_count(0)

        # The download beside it goes through the formula-safe writer, and
        # leaves the page as it is: no run of the page follows the click.
        runs_before = runs_of(page).started
        with page.expect_download() as started:
            page.locator(".st-key-portfolio-table-csv button").click()
        path = tmp_path / "pilots.csv"
        started.value.save_as(path)
        assert runs_of(page).started == runs_before
        # With a byte-order mark, as every CSV the app hands out, for Excel.
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        names = [r["name"] for r in rows]
        assert "'" + hostile["formula"] in names
        assert hostile["name"] in names
        for row in rows:
            for value in row.values():
                assert not runs_as_formula(value or ""), row
    except BaseException:
        app_server.save_failure(page, request.node.name)
        raise
