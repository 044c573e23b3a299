"""Through AppTest: a privilege added and decided on the pilot page, a KPI
added and its reading entered with the weekly update, readiness ticked."""

import pytest

from portfolio.storage import db, store
from portfolio.web.pilot import TABS
from tests.app.test_pages import (
    act_as,
    choose_tab,
    no_exception,
    open_app,
    owned_pilot_without_this_weeks_update,
)


def open_pilot(at, pilot_id, tab: str | None = None):
    """The pilot's page, on ``tab`` (its label) when given: only the open
    tab is drawn, and the tab is in the address as a link would open it."""
    at.switch_page("pages/pilot.py")
    at.query_params["id"] = str(pilot_id)
    return open_tab(at, tab) if tab else at.run()


def open_tab(at, tab: str):
    """Another tab of the open pilot page, as a click on it does."""
    return choose_tab(at, "tab", TABS, tab)


def every_tab(at):
    """Open each tab of the open pilot page in turn (only the open one is
    drawn), yielding the page with that tab open."""
    for tab in TABS:
        yield open_tab(at, tab)


def test_a_product_owner_records_a_privilege_and_decides_it(demo_db):
    pilot_id, owner = owned_pilot_without_this_weeks_update(demo_db)
    at = open_app("pages/pilot.py")
    act_as(at, owner)
    open_pilot(at, pilot_id, "Production readiness")
    at.selectbox(key=f"privilege-kind-{pilot_id}").set_value("data_access")
    at.text_input(key=f"privilege-what-{pilot_id}").input("Read access to the CRM")
    at.text_input(key=f"privilege-granted-{pilot_id}").input("Head of Sales")
    at.button(key=f"privilege-save-{pilot_id}").click()
    at.run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    with db.session(demo_db) as c:
        added = [p for p in store.list_privileges(c, pilot_id) if p.description == "Read access to the CRM"]
    assert len(added) == 1 and added[0].disposition.value == "undecided"
    at.selectbox(key=f"privilege-pick-{pilot_id}").set_value(added[0].id)
    at.radio(key=f"privilege-disposition-{pilot_id}").set_value("withdraw")
    at.button(key=f"privilege-decide-save-{pilot_id}").click()
    at.run()
    assert [e.value for e in at.error] == ["Note: say what replaces a withdrawn privilege"]
    at.text_input(key=f"privilege-note-{pilot_id}").input("A service account with read-only scope")
    at.button(key=f"privilege-decide-save-{pilot_id}").click()
    at.run()
    assert not at.error, [e.value for e in at.error]
    with db.session(demo_db) as c:
        got = next(p for p in store.list_privileges(c, pilot_id) if p.id == added[0].id)
    assert (got.disposition.value, got.note, got.decided_by) == (
        "withdraw", "A service account with read-only scope", owner)


def test_a_kpi_added_on_the_pilot_page_takes_a_reading_with_the_weekly_update(demo_db):
    pilot_id, owner = owned_pilot_without_this_weeks_update(demo_db)
    at = open_app("pages/pilot.py")
    act_as(at, owner)
    open_pilot(at, pilot_id, "Production readiness")
    at.text_input(key=f"kpi-name-{pilot_id}").input("Handling time")
    at.selectbox(key=f"kpi-category-{pilot_id}").set_value("business_outcome")
    at.text_input(key=f"kpi-unit-{pilot_id}").input("min")
    at.radio(key=f"kpi-direction-{pilot_id}").set_value("lower")
    at.number_input(key=f"kpi-target-{pilot_id}").set_value(12.0)
    at.number_input(key=f"kpi-horizon-{pilot_id}").set_value(90)
    at.button(key=f"kpi-save-{pilot_id}").click()
    at.run()
    assert not at.error, [e.value for e in at.error]
    with db.session(demo_db) as c:
        kpi = next(k for k in store.list_kpis(c, pilot_id) if k.name == "Handling time")
    assert (kpi.target, kpi.direction.value, kpi.production) == (12.0, "lower", True)

    at.switch_page("pages/weekly_update.py").run()
    at.selectbox(key="update-pilot").set_value(pilot_id)
    at.run()
    at.radio(key="update-health").set_value("green")
    at.text_area(key="update-summary").input("Handling time measured for the first time")
    at.number_input(key=f"update-kpi-{kpi.id}").set_value(14.5)
    at.button(key="update-submit").click()
    at.run()
    assert not at.error, [e.value for e in at.error]
    with db.session(demo_db) as c:
        kpi = next(k for k in store.list_kpis(c, pilot_id) if k.name == "Handling time")
    assert kpi.latest_value == 14.5


def test_ticking_readiness_items_saves_them(demo_db):
    pilot_id, owner = owned_pilot_without_this_weeks_update(demo_db)
    at = open_app("pages/pilot.py")
    act_as(at, owner)
    open_pilot(at, pilot_id, "Production readiness")
    at.selectbox(key=f"ready-load_test-{pilot_id}").set_value("done")
    at.text_input(key=f"ready-evidence-load_test-{pilot_id}").input("Load test report, 3x peak")
    at.selectbox(key=f"ready-data_owner-{pilot_id}").set_value("not_applicable")
    at.button(key=f"readiness-save-{pilot_id}").click()
    at.run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    with db.session(demo_db) as c:
        got = {r["key"]: (r["status"], r["evidence"]) for r in store.pilot_readiness(c, pilot_id)}
    assert got["load_test"] == ("done", "Load test report, 3x peak")
    assert got["data_owner"][0] == "not_applicable"


@pytest.mark.thorough  # a sweep: twenty full page runs
def test_every_kind_of_pilot_page_of_the_demo_renders(demo_db):
    with db.session(demo_db) as c:  # the first 20 pilots are one of each demo archetype
        ids = [row[0] for row in c.execute("SELECT id FROM pilot ORDER BY id LIMIT 20").fetchall()]
    at = open_app("pages/pilot.py")
    for pilot_id in ids:
        open_pilot(at, pilot_id)
        for _ in every_tab(at):
            no_exception(at)
            assert at.header[0].value  # the pilot's name


# --- two people on one readiness checklist ----------------------------------


def readiness_of(path, pilot_id) -> dict[str, tuple[str, str]]:
    with db.session(path) as c:
        return {r["key"]: (r["status"], r["evidence"]) for r in store.pilot_readiness(c, pilot_id)}


def save_as_someone_else(path, pilot_id, key, status, evidence):
    """Another person saves one item while this form is open."""
    from portfolio.domain.models import Actor
    from portfolio.services import production

    with db.session(path) as c:
        admin = next(p for p in store.list_people(c, active_only=True) if p.role.value == "admin")
        item = next(r for r in store.pilot_readiness(c, pilot_id) if r["key"] == key)
        production.save_readiness(c, Actor.of(admin), pilot_id,
                                  {key: {"status": status, "evidence": evidence, "version": item["version"]}})


def checklist_of_an_owned_pilot(path):
    """The pilot page of one of its product owner's pilots, as that owner."""
    pilot_id, owner = owned_pilot_without_this_weeks_update(path)
    at = open_app()
    act_as(at, owner)
    return open_pilot(at, pilot_id, "Production readiness"), pilot_id


def test_saving_the_checklist_keeps_an_item_someone_else_changed_meanwhile(demo_db):
    """Only the items this person changed are sent: the other person's
    change to an item they did not touch stays, and shows after the save."""
    at, pilot_id = checklist_of_an_owned_pilot(demo_db)
    save_as_someone_else(demo_db, pilot_id, "data_owner", "done", "Data owner named: Ines")
    at.selectbox(key=f"ready-load_test-{pilot_id}").set_value("done")
    at.button(key=f"readiness-save-{pilot_id}").click()
    at.run()
    assert not at.error, [e.value for e in at.error]
    got = readiness_of(demo_db, pilot_id)
    assert got["load_test"][0] == "done"
    assert got["data_owner"] == ("done", "Data owner named: Ines")
    # The form now shows the other person's change too.
    assert at.selectbox(key=f"ready-data_owner-{pilot_id}").value == "done"
    assert at.text_input(key=f"ready-evidence-data_owner-{pilot_id}").value == "Data owner named: Ines"


def test_an_item_both_changed_is_refused_keeps_the_typing_and_saves_on_the_second_try(demo_db):
    at, pilot_id = checklist_of_an_owned_pilot(demo_db)
    save_as_someone_else(demo_db, pilot_id, "load_test", "in_progress", "Booked for Tuesday")
    at.selectbox(key=f"ready-load_test-{pilot_id}").set_value("done")
    at.text_input(key=f"ready-evidence-load_test-{pilot_id}").input("Passed at 3x peak")
    at.button(key=f"readiness-save-{pilot_id}").click()
    at.run()
    assert any("was changed after you opened it" in e.value and "Booked for Tuesday" in e.value
               for e in at.error), [e.value for e in at.error]
    assert readiness_of(demo_db, pilot_id)["load_test"] == ("in_progress", "Booked for Tuesday")
    assert at.text_input(key=f"ready-evidence-load_test-{pilot_id}").value == "Passed at 3x peak"
    at.button(key=f"readiness-save-{pilot_id}").click()
    at.run()
    assert not at.error, [e.value for e in at.error]
    assert readiness_of(demo_db, pilot_id)["load_test"] == ("done", "Passed at 3x peak")


def test_only_the_open_tab_of_a_pilot_page_is_drawn_and_its_address_names_it(demo_db):
    pilot_id, owner = owned_pilot_without_this_weeks_update(demo_db)
    at = open_app("pages/pilot.py")
    act_as(at, owner)
    open_pilot(at, pilot_id)
    keys = {w.key for w in at.button}
    assert f"edit-save-{pilot_id}" in keys and f"readiness-save-{pilot_id}" not in keys
    assert "tab" not in at.query_params  # the first tab is the pilot's plain address
    open_tab(at, "Production readiness")
    no_exception(at)
    keys = {w.key for w in at.button}
    assert f"readiness-save-{pilot_id}" in keys and f"edit-save-{pilot_id}" not in keys
    assert at.query_params["tab"] in ("Production readiness", ["Production readiness"])
    assert [t.label for t in at.tabs] == list(TABS)  # every tab is still offered
