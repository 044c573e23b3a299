"""The benchmark's browser figures are taken the way a person meets the
pages: served, opened in Chromium, settled, with the bytes the server sent."""

from __future__ import annotations

import pytest

from portfolio.storage import db
from portfolio.web import browser_bench

pytestmark = pytest.mark.e2e


def test_the_browser_figures_measure_each_page_against_the_empty_app(chromium, demo_db):
    with db.session(demo_db) as c:
        pilot_id = c.execute("SELECT id FROM pilot ORDER BY id LIMIT 1").fetchone()[0]
    figures = browser_bench.measure(demo_db, pilot_id, runs=1)

    # The floor: an empty app sends its title and little else.
    assert 0 < figures["browser_empty_kb"] < 5
    assert figures["browser_empty_ms"] > 0
    for page in ("portfolio", "decisions", "pilot"):
        # Each page settled (its own title, script not running) and sent its content:
        # more than the empty app, and a ratio that is the page's time over the floor's.
        assert figures[f"browser_{page}_kb"] > figures["browser_empty_kb"] * 5, page
        assert figures[f"browser_{page}_ratio"] > 0, page
        assert figures[f"browser_{page}_ms"] > 0, page
        # The bytes beside the empty app's too: the median of the per-run ratios.
        assert figures[f"browser_{page}_kb_ratio"] > 5, page
