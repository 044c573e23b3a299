"""What a person reads names flags in words: every page of the demo, its
text and the cells of its tables, holds no flag code."""

import re

import pytest

from portfolio.flags import CODES, LABELS
from tests.app.test_pages import no_exception, open_app
from tests.app.test_production_pages import open_pilot

PAGES = ["pages/portfolio.py", "pages/decisions.py", "pages/pilot.py", "pages/weekly_update.py",
         "pages/people.py", "pages/checklist.py", "pages/import.py", "pages/changes.py", "pages/audit.py"]
CODE = re.compile(r"\b(" + "|".join(CODES) + r")\b")


def shown_text(at) -> list[str]:
    """The text of every element a person reads, and every cell of every
    table, of the app's last run."""
    texts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "info", "warning", "error",
                 "success"):
        texts += [str(e.value) for e in getattr(at, kind)]
    texts += [f"{m.label} {m.value}" for m in at.metric]
    for frame in at.dataframe:
        texts += [str(v) for v in frame.value.astype(str).to_numpy().ravel()]
    for select in [*at.selectbox, *at.multiselect]:
        texts += [str(o) for o in select.options]
    return texts


@pytest.mark.parametrize("page", PAGES)
def test_no_page_of_the_demo_shows_a_flag_code(demo_db, page):
    at = open_app(page)
    no_exception(at)
    codes = [t for t in shown_text(at) if CODE.search(t)]
    assert not codes, codes[:5]


def test_a_flagged_pilot_shows_its_flags_in_words(demo_db):
    from portfolio.storage import db

    with db.session(demo_db) as c:  # an overdue pilot: several flags at once
        (pilot_id,) = c.execute("SELECT id FROM pilot WHERE stage = 'pilot' AND go_no_go_date < current_date"
                                " ORDER BY id LIMIT 1").fetchone()
    at = open_app("pages/pilot.py")
    open_pilot(at, pilot_id)
    no_exception(at)
    texts = shown_text(at)
    assert not [t for t in texts if CODE.search(t)]
    assert any(t.startswith(f"**{LABELS['OVERDUE_DECISION'][0]}** (critical)") for t in texts), texts


def test_the_flagged_list_shows_the_why_beside_the_what_and_days_left_only_on_the_clock(demo_db):
    at = open_app()
    no_exception(at)
    table = at.dataframe(key="portfolio-table").value
    assert list(table.columns[:4]) == ["name", "severity", "flags", "reasons"]
    assert (table["reasons"] != "").all()  # every flagged pilot says why
    at.segmented_control(key="portfolio-show").set_value("All pilots").run()
    table = at.dataframe(key="portfolio-table").value
    off_clock = table[table["stage"] != "pilot"]
    assert len(off_clock) > 0 and off_clock["days_left"].isna().all() and off_clock["day"].isna().all()
    on_clock = table[(table["stage"] == "pilot") & table["days_left"].notna()]
    assert len(on_clock) > 0 and (on_clock["day"] >= 1).all()


def test_the_table_download_says_it_follows_the_filters_and_holds_what_is_shown(demo_db):
    at = open_app()
    unit = at.multiselect(key="filter-unit").options[0]
    at.multiselect(key="filter-unit").select(unit).run()
    no_exception(at)
    shown = at.dataframe(key="portfolio-table").value
    (button,) = [b for b in at.get("download_button") if b.proto.id.endswith("portfolio-table-csv")
                 or "portfolio-table-csv" in str(b.proto)]
    assert f"Download these {len(shown)} pilot" in button.proto.label and "as filtered" in button.proto.label
    assert set(shown["business_unit"]) == {unit}


def test_the_decisions_list_gives_each_pilot_its_why(demo_db):
    at = open_app("pages/decisions.py")
    no_exception(at)
    queue = at.dataframe[0].value  # the queue is the first table
    assert len(queue) > 1
    assert list(queue.columns[:4]) == ["name", "days_left", "flags", "reasons"]
    overdue = queue[queue["days_left"] < 0]
    assert len(overdue) and overdue["reasons"].str.contains("go/no-go date .* passed .* days ago").all()
