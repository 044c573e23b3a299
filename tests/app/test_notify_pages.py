"""Where the reminder emails lead and where people choose them: the weekly
update form opened from an email's link with its pilot chosen, and the
People page's "Email me" switch and categories (your own, or anyone's for
an admin)."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from portfolio.domain.reminders import Category
from portfolio.services import notify
from portfolio.storage import db, store
from tests.app.test_pages import (
    act_as,
    no_exception,
)

ROOT = Path(__file__).resolve().parents[2]


def open_with(page: str, **params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.switch_page(page)
    for name, value in params.items():
        at.query_params[name] = value
    return at.run()


def test_the_emails_link_opens_the_weekly_update_form_with_its_pilot_chosen(demo_db):
    default = open_with("pages/weekly_update.py").selectbox(key="update-pilot").value
    with db.session(demo_db) as c:  # a pilot the form would not have chosen by itself
        pilot_id = next(p.id for p in store.list_pilots(c) if p.stage.value == "pilot" and p.id != default)
    at = open_with("pages/weekly_update.py", pilot=str(pilot_id))
    no_exception(at)
    assert at.selectbox(key="update-pilot").value == pilot_id
    # Taken once: picking another pilot afterwards sticks.
    at.selectbox(key="update-pilot").set_value(default)
    at.run()
    assert at.selectbox(key="update-pilot").value == default


def test_a_link_to_a_pilot_that_is_not_yours_says_so(demo_db):
    at = open_with("pages/weekly_update.py", pilot="999999")
    no_exception(at)
    assert any("not one you post updates for" in w.value for w in at.warning)


def test_a_person_switches_their_own_emails_off_and_an_admin_chooses_anyones_categories(demo_db):
    with db.session(demo_db) as c:
        everyone = store.list_people(c, active_only=True)
    owner = next(p for p in everyone if p.role.value == "product_owner")
    other = next(p for p in everyone if p.role.value == "product_owner" and p.id != owner.id)
    at = open_with("pages/people.py")
    act_as(at, owner.id)
    at.switch_page("pages/people.py").run()
    no_exception(at)
    assert at.selectbox(key="email-prefs-pick").value == owner.id
    assert at.selectbox(key="email-prefs-pick").disabled  # only their own
    at.toggle(key=f"email-me-{owner.id}").set_value(False)
    at.button(key=f"email-save-{owner.id}").click()
    at.run()
    no_exception(at)
    assert any(f"Saved the email choices of {owner.name}" in s.value for s in at.success)
    with db.session(demo_db) as c:
        assert notify.preference(c, owner.id).email_me is False

    admin = next(p for p in everyone if p.role.value == "admin")
    act_as(at, admin.id)
    at.switch_page("pages/people.py").run()
    at.selectbox(key="email-prefs-pick").set_value(other.id)
    at.run()
    # The categories in words that say what each switches, a stopped pilot's privileges and a missed check-in too.
    options = at.multiselect(key=f"email-categories-{other.id}").options
    assert "Stalled, ownerless, a seat empty, privileges still held after a stop" in options
    assert "Bridge due dates, production KPIs off target, check-ins missed" in options
    at.multiselect(key=f"email-categories-{other.id}").set_value(["updates", "decisions"])
    at.button(key=f"email-save-{other.id}").click()
    at.run()
    no_exception(at)
    with db.session(demo_db) as c:
        assert notify.preference(c, other.id).categories == (Category.UPDATES, Category.DECISIONS)
