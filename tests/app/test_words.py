"""What a person reads names flags in words: every page of the demo, its
text and the cells of its tables, holds no flag code."""

import json
import re

import pandas as pd
import pytest

from portfolio.flags import CODES, LABELS
from tests.app.test_pages import every_section, no_exception, open_app
from tests.app.test_production_pages import every_tab, open_pilot

PAGES = ["pages/portfolio.py", "pages/decisions.py", "pages/pilot.py", "pages/weekly_update.py",
         "pages/people.py", "pages/checklist.py", "pages/import.py", "pages/changes.py", "pages/audit.py",
         "pages/stopped.py"]
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


def every_view(page: str):
    """The runs of ``page`` a person can read: the page as opened, and on the
    Portfolio each of its sections (only the open one is drawn)."""
    at = open_app(page)
    if page == "pages/portfolio.py":
        yield from every_section(at)
    else:
        yield at


@pytest.mark.parametrize("page", PAGES)
def test_no_page_of_the_demo_shows_a_flag_code(demo_db, page):
    codes = []
    for at in every_view(page):
        no_exception(at)
        codes += [t for t in shown_text(at) if CODE.search(t)]
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


# --- no code-like text: "None", snake_case, raw JSON ----------------------------

EMPTY_WORDS = {"None", "none", "nan", "NaN", "NaT", "<NA>", "null"}
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
ICON = re.compile(r":material/[a-z0-9_]+:")
JSON_LIKE = re.compile(r"^\s*(\{\s*\"|\[\s*[\"{\[])")


def shown_headers(frame) -> list[str]:
    """The headers a person sees over a table: each shown column's label
    (its column_config label, else its name), hidden ones left out."""
    config = json.loads(frame.proto.columns or "{}")
    order = list(frame.proto.column_order) or [str(c) for c in frame.value.columns]
    headers = []
    for column in order:
        conf = config.get(f"name:{column}", config.get(column, {})) or {}
        if conf.get("hidden"):
            continue
        headers.append(str(conf.get("label") or column))
    return headers


# The cells that are identifiers a person types as such: the checklist's
# keys, which its admin writes lower_case_with_underscores in the editor.
IDENTIFIERS = {"checklist-editor": {"key"}}


def shown_cells(frame) -> list[str]:
    """The cells of a table as a person sees them: a missing value shows as
    the table's placeholder, or as Streamlit's "None" when it has none."""
    config = json.loads(frame.proto.columns or "{}")
    order = list(frame.proto.column_order) or [str(c) for c in frame.value.columns]
    shown = [c for c in frame.value.columns if str(c) in order and str(c) not in IDENTIFIERS.get(frame.key, ())
             and not (config.get(f"name:{c}", config.get(str(c), {})) or {}).get("hidden")]
    missing = frame.proto.placeholder if frame.proto.HasField("placeholder") else "None"
    values = frame.value[shown]
    cells = []
    for value in values.to_numpy().ravel():
        try:
            empty = value is None or bool(pd.isna(value))
        except (TypeError, ValueError):  # a list or array in a cell
            empty = False
        cells.append(missing if empty else str(value))
    return cells


def code_like(at, theirs=()) -> list[str]:
    """What a person reads on the app's last run that is a code, not words;
    ``theirs`` are words of the person's own (a file's column names), shown
    as they wrote them."""
    own = re.compile("|".join(re.escape(t) for t in sorted(theirs, key=len, reverse=True))) if theirs else None
    found = []
    texts = [str(e.value) for kind in ("title", "header", "subheader", "markdown", "caption", "text", "info",
                                       "warning", "error", "success") for e in getattr(at, kind)]
    labels = [w.label for kind in ("selectbox", "multiselect", "text_input", "text_area", "number_input",
                                   "date_input", "checkbox", "radio", "button", "toggle", "slider")
              for w in getattr(at, kind)]
    options = [str(o) for kind in ("selectbox", "multiselect", "radio") for w in getattr(at, kind)
               for o in w.options]
    for text in texts + labels + options:
        text = ICON.sub("", text)  # an icon's name is drawn, not read
        text = own.sub("", text) if own else text
        if re.search(r"\bNone\b", text) or SNAKE.search(text) or JSON_LIKE.search(text):
            found.append(text)
    for frame in at.dataframe:
        for header in shown_headers(frame):
            if SNAKE.search(header):
                found.append(f"header {header!r}")
        if "change" in frame.value:  # the audit's lines: fields and coded values in words
            found += [f"change {c!r}" for c in frame.value["change"].dropna() if SNAKE.search(str(c))
                      or re.search(r"'\d+\.0'", str(c))]
        for cell in shown_cells(frame):
            if cell in theirs:
                continue
            if cell in EMPTY_WORDS or JSON_LIKE.search(cell) or SNAKE.fullmatch(cell):
                found.append(f"cell {cell!r}")
    return found


@pytest.mark.parametrize("page", PAGES)
def test_no_page_of_the_demo_shows_none_snake_case_or_json(demo_db, page):
    found = []
    for at in every_view(page):
        no_exception(at)
        found += code_like(at)
    assert not found, sorted(set(found))[:20]


@pytest.mark.parametrize("stage", ["proposed", "pilot", "bridge", "production", "retired", "stopped"])
def test_no_pilot_page_shows_none_snake_case_or_json(demo_db, stage):
    from portfolio.storage import db

    with db.session(demo_db) as c:  # the pilot of the stage with the most on its page
        (pilot_id,) = c.execute(
            "SELECT p.id FROM pilot p WHERE p.stage = ? ORDER BY"
            " (SELECT count(*) FROM weekly_update u WHERE u.pilot_id = p.id)"
            " + (SELECT count(*) FROM decision d WHERE d.pilot_id = p.id) DESC, p.id LIMIT 1", [stage]).fetchone()
    at = open_app("pages/pilot.py")
    open_pilot(at, pilot_id)
    found = []
    for _ in every_tab(at):  # only the open tab is drawn: read each
        no_exception(at)
        found += code_like(at)
    assert not found, sorted(set(found))[:20]


@pytest.mark.parametrize("page", ["pages/checklist.py", "pages/people.py", "pages/portfolio.py"])
def test_what_a_viewer_reads_has_no_none_snake_case_or_json(demo_db, monkeypatch, page):
    from portfolio.storage import db

    with db.session(demo_db) as c:
        (viewer,) = c.execute("SELECT email FROM person WHERE role = 'viewer' AND active LIMIT 1").fetchone()
    monkeypatch.setenv("PORTFOLIO_USER", viewer)
    found = []
    for at in every_view(page):
        no_exception(at)
        found += code_like(at)
    assert not found, sorted(set(found))[:20]


def test_what_changed_reads_in_words_after_a_decision_and_a_seat_change(demo_db):
    from datetime import date

    from portfolio.domain.settings import Settings
    from portfolio.services import decisions, pilots, signin
    from portfolio.storage import db

    today = date.today()  # the page compares with the sidebar's as-of, today by default
    with db.session(demo_db) as c:
        (leader,) = c.execute("SELECT email FROM person WHERE role = 'leadership' AND active LIMIT 1").fetchone()
        (admin,) = c.execute("SELECT email FROM person WHERE role = 'admin' AND active LIMIT 1").fetchone()
        pid, leader_id = c.execute(
            "SELECT p.id, (SELECT id FROM person WHERE email = ?) FROM pilot p WHERE stage = 'pilot'"
            " AND go_no_go_date < ? ORDER BY id LIMIT 1", [leader, today]).fetchone()
        decisions.record_decision(c, signin.actor_for_email(c, leader), {
            "pilot_id": pid, "kind": "no_go", "decided_on": today, "decided_by": leader_id,
            "rationale": "Stopped at review", "stop_reason": "value_not_proven"}, Settings())
        other = c.execute("SELECT id, version FROM pilot WHERE stage = 'pilot' AND product_owner_id IS NOT NULL"
                          " ORDER BY id LIMIT 1").fetchone()
        pilots.edit_pilot(c, signin.actor_for_email(c, admin), other[0], {"product_owner_id": None},
                          Settings(), expected_version=other[1], today=today)
    at = open_app("pages/changes.py")
    no_exception(at)
    assert {m.label: int(m.value) for m in at.metric}["Decisions"] >= 1
    (decided,) = [f.value for f in at.dataframe if "kind" in f.value]
    (seats,) = [f.value for f in at.dataframe if "seat" in f.value]
    assert "no-go" in set(decided["kind"]) and len(seats) >= 1
    found = code_like(at)
    assert not found, sorted(set(found))[:20]


def test_one_persons_seats_and_activity_read_in_words(demo_db):
    from datetime import date

    from portfolio.services import signin, updates
    from portfolio.storage import db

    with db.session(demo_db) as c:  # a product owner who holds a seat and posts an update
        who, email, pid = c.execute(
            "SELECT o.id, o.email, p.id FROM person o JOIN pilot p ON p.product_owner_id = o.id"
            " WHERE o.active AND p.stage = 'pilot' ORDER BY p.id LIMIT 1").fetchone()
        updates.post_weekly_update(c, signin.actor_for_email(c, email),
                                   {"pilot_id": pid, "health": "amber", "summary": "Latency high"}, date.today())
    at = open_app("pages/people.py")
    at.selectbox(key="person-view-pick").set_value(who).run()
    no_exception(at)
    shown = [set(f.value.columns) for f in at.dataframe]
    assert {"Seat", "Pilot"} <= set().union(*shown) and any("change" in c for c in shown)  # seats, activity
    found = code_like(at)
    assert not found, sorted(set(found))[:20]


def test_a_pilots_history_says_what_changed_in_words(demo_db):
    from datetime import date

    from portfolio.services import production, signin
    from portfolio.storage import db

    with db.session(demo_db) as c:
        (admin,) = c.execute("SELECT email FROM person WHERE role = 'admin' AND active LIMIT 1").fetchone()
        (pid,) = c.execute("SELECT id FROM pilot WHERE stage = 'pilot' ORDER BY id LIMIT 1").fetchone()
        actor = signin.actor_for_email(c, admin)
        privilege = production.add_privilege(c, actor, pid, {"kind": "data_access", "description": "Claims data"})
        production.decide_privilege(c, actor, privilege, "make_permanent", "", date.today())
        kpi = production.add_kpi(c, actor, pid, {
            "name": "Median handling time", "category": "latency", "unit": "ms", "direction": "lower", "baseline": 1400,
            "target": 800, "horizon_days": 90, "production": True})
        production.edit_kpi(c, actor, kpi, {"target": 700})
    at = open_app("pages/pilot.py")
    open_pilot(at, pid, "History")
    no_exception(at)
    (history,) = [f.value for f in at.dataframe if "change" in f.value]
    changes = " | ".join(history["change"].dropna())
    assert "disposition 'undecided' → 'make permanent'" in changes and "target '800' → '700'" in changes, changes
    found = code_like(at)
    assert not found, sorted(set(found))[:20]


def test_the_import_page_reads_in_words_from_the_upload_to_the_result(admin_db):
    from tests.app.test_import_page import uploaded

    at = uploaded()
    columns = ["use_case_name", "development_stage", "operational_date", "contact_email", "topic_area"]
    found = code_like(at, theirs=columns)
    assert not found, sorted(set(found))[:20]
    unplaced = [s for s in at.selectbox if s.value is None and s.key and s.key.startswith("map-stage-")]
    for select in unplaced:  # each value the guess could not place, given a stage
        select.set_value(select.options[0])
    at.run()
    at.button(key="import-go").click().run()
    no_exception(at)
    assert any(s.value.startswith("Imported") for s in at.success), [s.value for s in at.success]
    found = code_like(at, theirs=columns)
    assert not found, sorted(set(found))[:20]
