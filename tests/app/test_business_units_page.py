"""The organisation's business units on the People page, through AppTest: an
admin adds, renames and retires units there; the pilot form and the
Portfolio filter offer exactly the kept list; others only read it."""

from streamlit.testing.v1 import AppTest

from portfolio.storage import db, store
from portfolio.storage import units as unit_store
from tests.app.test_pages import act_as, no_exception, open_app, people_by_role


def kept(path, active_only=False) -> list[str]:
    with db.session(path) as c:
        return [u.name for u in unit_store.list_units(c, active_only=active_only)]


def units_table(at: AppTest) -> list[str]:
    """The units the page lists (a table without selection has no key AppTest reads)."""
    (table,) = [d.value for d in at.dataframe if "unit" in d.value.columns]
    return list(table["unit"])


def test_an_admin_adds_a_unit_and_the_pilot_form_and_the_filter_offer_it(demo_db):
    at = open_app("pages/people.py")
    no_exception(at)
    assert units_table(at) == ["Claims", "Customer Service", "Finance", "HR", "Operations", "Sales"]
    at.text_input(key="unit-name").input("  Legal ")
    at.button(key="unit-add").click()
    at.run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert "Legal" in units_table(at) and kept(demo_db).count("Legal") == 1
    at.text_input(key="unit-name").input("legal")  # the same unit in another case
    at.button(key="unit-add").click()
    at.run()
    assert [e.value for e in at.error] == ["Name: 'Legal' is already a business unit"]
    assert kept(demo_db).count("Legal") == 1

    at.switch_page("pages/pilot.py").run()
    assert "Legal" in at.selectbox(key="pilot-unit").options
    at.switch_page("pages/portfolio.py").run()
    assert "Legal" in at.multiselect(key="filter-unit").options  # the kept list, not only units in use


def test_renaming_a_unit_moves_its_pilots_and_retiring_takes_it_off_the_pilot_form(demo_db):
    with db.session(demo_db) as c:
        in_hr = sorted(p.id for p in store.list_pilots(c) if p.business_unit == "HR")
        hr = next(u.id for u in unit_store.list_units(c) if u.name == "HR")
    assert in_hr
    at = open_app("pages/people.py")
    at.selectbox(key="unit-rename-pick").set_value(hr).run()
    at.text_input(key=f"unit-rename-name-{hr}").input("People and Culture")
    at.button(key=f"unit-rename-go-{hr}").click()
    at.run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    with db.session(demo_db) as c:
        assert sorted(p.id for p in store.list_pilots(c) if p.business_unit == "People and Culture") == in_hr
        assert not [p for p in store.list_pilots(c) if p.business_unit == "HR"]

    at.selectbox(key="unit-retire-pick").set_value(hr).run()
    at.button(key=f"unit-retire-go-{hr}").click()
    at.run()
    no_exception(at)
    assert "People and Culture" not in kept(demo_db, active_only=True)
    at.switch_page("pages/pilot.py").run()
    assert "People and Culture" not in at.selectbox(key="pilot-unit").options


def test_a_viewer_reads_the_units_but_keeps_none(demo_db):
    at = open_app("pages/people.py")
    act_as(at, people_by_role(demo_db)["viewer"].id)
    no_exception(at)
    assert "Claims" in units_table(at)
    assert not [t for t in at.text_input if t.key == "unit-name"]
    assert not [b for b in at.button if b.key == "unit-add"]


def test_with_no_unit_kept_the_pilot_form_says_an_admin_adds_one_first(demo_db):
    with db.session(demo_db) as c:
        for unit in unit_store.list_units(c):
            unit_store.set_unit_active(c, unit.id, False)
    at = open_app("pages/pilot.py")
    no_exception(at)
    assert any("keeps no business units yet: an admin adds them on the People page" in c.value for c in at.caption)
    assert at.selectbox(key="pilot-unit").options == ["No business unit"]
