"""Every page run by Streamlit's AppTest against a demo database, and the
create-pilot, weekly-update and deactivate-person flows through the forms."""

from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from portfolio.domain import clock
from portfolio.services import people
from portfolio.services.reporting import overview
from portfolio.storage import db, store
from portfolio.web.sections import PORTFOLIO_SECTIONS

ROOT = Path(__file__).resolve().parents[2]
TODAY = date.today()
PAGES = ["pages/portfolio.py", "pages/pilot.py", "pages/weekly_update.py", "pages/people.py"]


def people_by_role(path):
    with db.session(path) as c:
        return {p.role.value: p for p in reversed(store.list_people(c, active_only=True))}


def open_app(page: str | None = None, user: str | None = None, monkeypatch=None) -> AppTest:
    """The app run once, on ``page`` (a file under pages/) or else on the
    Portfolio page, as a browser opening that page's address."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    if page:
        at.switch_page(page)
    return at.run()


def choose_tab(at: AppTest, key: str, labels, label: str) -> AppTest:
    """The tab ``label`` of the tabs keyed ``key`` (bound to the address,
    with ``labels`` in order) chosen as a click on it does: the tab chosen,
    and the address naming it (the first tab is the address without one).
    Only the open tab is drawn."""
    at.session_state[key] = label
    if label == labels[0]:
        at.query_params.pop(key, None)
    else:
        at.query_params[key] = label
    return at.run()


def open_section(at: AppTest, section: str) -> AppTest:
    """Another section of the Portfolio page, as a click on it does."""
    return choose_tab(at, "section", PORTFOLIO_SECTIONS, section)


# The first heading each section of the Portfolio page draws: it shows the section open.
SECTION_HEADINGS = dict(zip(PORTFOLIO_SECTIONS, (
    "Clock windows", "Pilots by stage", "Stopped, still holding borrowed privileges", "Monthly running cost",
    "In production, under watch", "Readiness")))


def every_section(at: AppTest):
    """Open each section of the Portfolio page in turn, yielding the page
    with that section open (its first heading shown)."""
    for section in PORTFOLIO_SECTIONS:
        open_section(at, section)
        headings = [s.value for s in at.subheader]
        assert any(h.startswith(SECTION_HEADINGS[section]) for h in headings), (section, headings)
        yield at


def updated_this_week(conn) -> set[int]:
    """The pilots the Weekly update page shows as updated this week, read as
    the page reads them; the others need this week's update."""
    return store.weeks_with_update(conn, clock.week_start(TODAY), TODAY)


def owned_pilots_without_this_weeks_update(path) -> list[tuple[int, int]]:
    """(pilot id, product owner id) of each pilot in `pilot` with an active
    product owner that needs this week's update, by pilot id."""
    with db.session(path) as c:
        done = updated_this_week(c)
        owned = c.execute("SELECT p.id, p.product_owner_id FROM pilot p JOIN person o ON o.id = p.product_owner_id"
                          " WHERE o.active AND p.stage = 'pilot' ORDER BY p.id").fetchall()
    return [(pilot_id, owner_id) for pilot_id, owner_id in owned if pilot_id not in done]


def owned_pilot_without_this_weeks_update(path) -> tuple[int, int]:
    """(pilot id, product owner id) of a pilot in `pilot` whose active product
    owner has not posted this week."""
    return owned_pilots_without_this_weeks_update(path)[0]


def act_as(at: AppTest, person_id: int) -> AppTest:
    at.selectbox(key="act-as").set_value(person_id)
    return at.run()


def headline(at: AppTest) -> dict[str, int]:
    """The Portfolio page's headline counts, by label."""
    names = [name for name, _ in overview.HEADLINES]
    return {m.label: int(m.value) for m in at.metric if m.label in names}


def no_exception(at: AppTest):
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_without_an_exception(demo_db, page):
    at = open_app(page)
    no_exception(at)
    assert at.title[0].value == {"pages/portfolio.py": "Portfolio", "pages/pilot.py": "Pilot",
                                 "pages/weekly_update.py": "Weekly update", "pages/people.py": "People"}[page]


def test_portfolio_shows_the_headline_numbers_and_the_flagged_pilots(demo_db):
    at = open_app()
    no_exception(at)
    metrics = headline(at)
    assert list(metrics)[:2] == ["Stalled", "Ownerless"]
    assert metrics["Overdue"] > 0 and metrics["Stalled"] > 0 and metrics["Ownerless"] > 0
    table = at.dataframe(key="portfolio-table").value
    assert {"Ownerless", "Stalled", "Decision overdue"} <= set(", ".join(table["flags"]).split(", "))
    assert table.iloc[0]["severity"] == "critical"


def test_portfolio_filters_by_business_unit(demo_db):
    at = open_app()
    at.multiselect(key="filter-unit").set_value(["Claims"])
    at.run()
    table = at.dataframe(key="portfolio-table").value
    assert len(table) > 0 and set(table["business_unit"]) == {"Claims"}


def test_the_as_of_date_moves_the_whole_portfolio(demo_db):
    at = open_app()
    today = headline(at)
    at.date_input(key="as-of").set_value(date.fromordinal(TODAY.toordinal() + 60))
    at.run()
    later = headline(at)
    assert later["Overdue"] > today["Overdue"]


def test_admin_creates_a_pilot_through_the_form(demo_db):
    at = open_app("pages/pilot.py")
    owner = people_by_role(demo_db)["product_owner"]
    at.text_input(key="pilot-name").input("Returns forecasting")
    assert at.selectbox(key="pilot-unit").options[1:] == ["Claims", "Customer Service", "Finance", "HR",
                                                          "Operations", "Sales"]  # the kept units, no free text
    at.selectbox(key="pilot-unit").set_value("Operations")
    at.date_input(key="pilot-start").set_value(TODAY)
    at.selectbox(key="pilot-product-owner").set_value(owner.id)
    at.button(key="pilot-create").click()
    at.run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    with db.session(demo_db) as c:
        created = [p for p in store.list_pilots(c) if p.name == "Returns forecasting"]
    assert len(created) == 1
    assert created[0].product_owner_id == owner.id and created[0].business_unit == "Operations"
    assert created[0].go_no_go_date == date.fromordinal(TODAY.toordinal() + 90)
    assert any("Returns forecasting" in h.value for h in at.header)


def test_a_blank_name_shows_the_error_keeps_the_input_and_writes_nothing(demo_db):
    at = open_app("pages/pilot.py")
    with db.session(demo_db) as c:
        before = len(store.list_pilots(c))
    at.text_input(key="pilot-name").input("   ")
    at.selectbox(key="pilot-unit").set_value("Finance")
    at.button(key="pilot-create").click()
    at.run()
    assert [e.value for e in at.error] == ["Name: must not be blank"]
    assert at.selectbox(key="pilot-unit").value == "Finance"
    with db.session(demo_db) as c:
        assert len(store.list_pilots(c)) == before


def test_weekly_update_posts_and_the_same_week_revises_it(demo_db):
    pilot_id, owner_id = owned_pilot_without_this_weeks_update(demo_db)
    at = open_app("pages/weekly_update.py")
    act_as(at, owner_id)
    no_exception(at)
    at.selectbox(key="update-pilot").set_value(pilot_id)
    at.run()
    assert at.text_area(key="update-summary").value == ""
    at.radio(key="update-health").set_value("amber")
    at.text_area(key="update-summary").input("Latency above target")
    at.button(key="update-submit").click()
    at.run()
    assert not at.error, [e.value for e in at.error]
    assert "Posted the update" in at.success[0].value
    # Same week again: the form starts from what was posted, and revises it.
    at.selectbox(key="update-pilot").set_value(pilot_id)
    at.run()
    assert at.text_area(key="update-summary").value == "Latency above target"
    at.radio(key="update-health").set_value("green")
    at.text_area(key="update-summary").input("Latency fixed")
    at.button(key="update-submit").click()
    at.run()
    assert "Revised (revision 2)" in at.success[0].value
    with db.session(demo_db) as c:
        history = store.list_updates(c, pilot_id, with_history=True)
    week = clock.week_start(TODAY)
    this_week = [(u.revision, u.health.value, u.summary) for u in history if u.week_start == week]
    assert this_week == [(2, "green", "Latency fixed"), (1, "amber", "Latency above target")]


def test_weekly_update_without_health_shows_the_error_and_writes_nothing(demo_db):
    pilot_id, owner_id = owned_pilot_without_this_weeks_update(demo_db)
    at = open_app("pages/weekly_update.py")
    act_as(at, owner_id)
    at.selectbox(key="update-pilot").set_value(pilot_id)
    at.run()
    with db.session(demo_db) as c:
        before = c.execute("SELECT count(*) FROM weekly_update").fetchone()[0]
    at.text_area(key="update-summary").input("Something")
    at.button(key="update-submit").click()
    at.run()
    assert [e.value for e in at.error] == ["Health: choose green, amber or red"]
    assert at.text_area(key="update-summary").value == "Something"
    with db.session(demo_db) as c:
        assert c.execute("SELECT count(*) FROM weekly_update").fetchone()[0] == before


def test_deactivating_a_product_owner_says_which_pilots_turn_ownerless(demo_db):
    with db.session(demo_db) as c:
        owner_id = c.execute(
            "SELECT product_owner_id FROM pilot p JOIN person x ON x.id = p.product_owner_id "
            "WHERE x.active AND p.stage = 'pilot' ORDER BY p.id LIMIT 1").fetchone()[0]
        owned = [p.name for p, s in people.seats_affected(c, owner_id)
                 if s.value == "product_owner_id"]
    at = open_app()
    ownerless_before = headline(at)["Ownerless"]
    at.switch_page("pages/people.py").run()
    at.selectbox(key="deactivate-pick").set_value(owner_id)
    at.run()
    assert any(all(name in w.value for name in owned) and "ownerless" in w.value for w in at.warning)
    at.checkbox(key=f"deactivate-confirm-{owner_id}").check()
    at.run()
    at.button(key=f"deactivate-go-{owner_id}").click()
    at.run()
    no_exception(at)
    assert "Deactivated" in at.success[0].value
    at.switch_page("pages/portfolio.py").run()
    assert headline(at)["Ownerless"] == ownerless_before + len(owned)


def test_a_viewer_sees_no_forms(demo_db):
    viewer = people_by_role(demo_db)["viewer"]
    at = open_app("pages/pilot.py")
    act_as(at, viewer.id)
    at.switch_page("pages/pilot.py").run()
    assert not [b for b in at.button if b.key == "pilot-create"]
    at.switch_page("pages/weekly_update.py").run()
    assert "nothing to post" in at.info[0].value
    at.switch_page("pages/people.py").run()
    assert not [b for b in at.button if b.key == "person-add"]


def test_headline_numbers_match_the_flags_the_command_line_prints(demo_db):
    from portfolio import flags
    from portfolio.domain.settings import Settings

    with db.session(demo_db) as c:
        f = flags.portfolio_flags(c, TODAY, Settings())
        active = c.execute("SELECT count(*) FROM pilot WHERE stage = 'pilot'").fetchone()[0]
    pilots_with = lambda code: f.loc[f["code"] == code, "pilot_id"].nunique()  # noqa: E731
    at = open_app()
    metrics = headline(at)
    assert metrics == {
        "Stalled": pilots_with("STALLED"), "Ownerless": pilots_with("OWNERLESS"),
        "Overdue": pilots_with("OVERDUE_DECISION"), "Decisions due in 14 days": pilots_with("DECISION_DUE_SOON"),
        "Active pilots": active,
    }


def test_the_update_form_comes_back_with_this_weeks_update_after_leaving_the_page(demo_db):
    pilot_id, owner_id = owned_pilot_without_this_weeks_update(demo_db)
    at = open_app("pages/weekly_update.py")
    act_as(at, owner_id)
    at.selectbox(key="update-pilot").set_value(pilot_id)
    at.run()
    at.radio(key="update-health").set_value("red")
    at.text_area(key="update-summary").input("Blocked on access")
    at.button(key="update-submit").click()
    at.run()
    at.switch_page("pages/portfolio.py").run()
    at.switch_page("pages/weekly_update.py").run()
    # Back on the page, the form matches whichever pilot is chosen ...
    shown = at.selectbox(key="update-pilot").value
    with db.session(demo_db) as c:
        posted = [u for u in store.list_updates(c, shown)[:1] if u.week_start == clock.week_start(TODAY)]
    expected = (posted[0].health.value, posted[0].summary) if posted else (None, "")
    assert (at.radio(key="update-health").value, at.text_area(key="update-summary").value) == expected
    if shown != pilot_id:
        at.selectbox(key="update-pilot").set_value(pilot_id)
        at.run()
    # ... and choosing the pilot again brings back what was posted.
    assert at.radio(key="update-health").value == "red"
    assert at.text_area(key="update-summary").value == "Blocked on access"


def test_a_new_pilot_without_this_weeks_update_starts_with_no_health_chosen(demo_db):
    pilot_id, owner_id = owned_pilot_without_this_weeks_update(demo_db)
    at = open_app("pages/weekly_update.py")
    act_as(at, owner_id)
    at.selectbox(key="update-pilot").set_value(pilot_id)
    at.run()
    assert at.radio(key="update-health").value is None


def test_updates_are_not_posted_from_another_as_of_day(demo_db):
    at = open_app("pages/weekly_update.py")
    at.date_input(key="as-of").set_value(date.fromordinal(TODAY.toordinal() - 30))
    at.run()
    assert "set **As of** in the sidebar back to today" in at.info[0].value
    assert not [b for b in at.button if b.key == "update-submit"]


def test_the_portfolio_follows_a_change_made_outside_the_app(demo_db):
    """The Portfolio keeps its numbers between reruns until the data changes;
    a change made by another process (the command line, another server)
    shows on the next rerun."""
    from portfolio.domain.models import Actor
    from portfolio.domain.settings import Settings
    from portfolio.services import pilots

    at = open_app()
    before = headline(at)
    at.run()  # a rerun with nothing changed shows the same
    assert headline(at) == before
    with db.session(demo_db) as c:
        admin = next(p for p in store.list_people(c, active_only=True) if p.role.value == "admin")
        pilot = c.execute("SELECT id FROM pilot WHERE stage = 'pilot' AND product_owner_id IS NOT NULL"
                          " ORDER BY id LIMIT 1").fetchone()[0]
        pilots.edit_pilot(c, Actor.of(admin), pilot, {"product_owner_id": None}, Settings(), today=date.today())
    at.run()
    assert headline(at)["Ownerless"] == before["Ownerless"] + 1
