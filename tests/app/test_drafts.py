"""Nothing typed is lost: a form's unsaved text comes back after leaving
the page and returning, and after changing the sidebar's as-of date and
back; a save that succeeds starts the form afresh, a refused one keeps it.
The weekly-update picker says a pilot is updated once its update is
posted. In local mode, whom you act as survives a reload (the address names
them); the sign-in modes never take identity from the address."""

from datetime import date, timedelta
from pathlib import Path

from streamlit.testing.v1 import AppTest

from portfolio.domain.models import Actor
from portfolio.services import people, updates
from portfolio.storage import db, store
from tests.app.test_pages import (
    act_as,
    no_exception,
    open_app,
    owned_pilot_without_this_weeks_update,
    owned_pilots_without_this_weeks_update,
    people_by_role,
)

ROOT = Path(__file__).resolve().parents[2]


def typed_update(at: AppTest, pilot_id: int) -> AppTest:
    at.selectbox(key="update-pilot").set_value(pilot_id)
    at.run()
    at.radio(key="update-health").set_value("amber")
    at.text_area(key="update-summary").input("Vendor contract signed")
    at.text_area(key="update-blockers").input("Waiting on the data owner")
    return at.run()


def update_form(at: AppTest) -> tuple:
    return (at.selectbox(key="update-pilot").value, at.radio(key="update-health").value,
            at.text_area(key="update-summary").value, at.text_area(key="update-blockers").value)


def owner_with_several_pilots(path) -> tuple[list[int], int]:
    """(pilot ids, owner id): the pilots needing this week's update of a
    product owner with several, so that one of them is not the picker's first."""
    by_owner: dict[int, list[int]] = {}
    for pilot_id, owner_id in owned_pilots_without_this_weeks_update(path):
        by_owner.setdefault(owner_id, []).append(pilot_id)
    owner_id = min(o for o, ids in by_owner.items() if len(ids) > 1)
    return by_owner[owner_id], owner_id


def on_weekly_update_typing(demo_db) -> tuple[AppTest, int]:
    pilot_ids, owner_id = owner_with_several_pilots(demo_db)
    at = open_app("pages/weekly_update.py")
    act_as(at, owner_id)
    first = at.selectbox(key="update-pilot").value
    pilot_id = next(p for p in reversed(pilot_ids) if p != first)  # another than the picker's first
    typed_update(at, pilot_id)
    return at, pilot_id


def test_the_weekly_update_typed_comes_back_after_another_page(demo_db):
    at, pilot_id = on_weekly_update_typing(demo_db)
    at.switch_page("pages/portfolio.py").run()
    no_exception(at)
    assert not [t for t in at.text_area if t.key == "update-summary"]
    at.switch_page("pages/weekly_update.py").run()
    no_exception(at)
    assert update_form(at) == (pilot_id, "amber", "Vendor contract signed", "Waiting on the data owner")


def shown_label(at: AppTest, key: str, before: str | None) -> str | None:
    """The label a browser shows in the picker ``key`` after this run: the
    one the run sends with a value set from the app, else the one it showed."""
    box = at.selectbox(key=key).proto
    return box.raw_value if box.set_value else before


def test_the_weekly_update_picker_says_updated_this_week_after_posting(demo_db):
    pilot_id, owner_id = owned_pilot_without_this_weeks_update(demo_db)
    at = open_app("pages/weekly_update.py")
    act_as(at, owner_id)
    at.selectbox(key="update-pilot").set_value(pilot_id)
    at.run()
    name = at.selectbox(key="update-pilot").format_func(pilot_id).split(" · ")[0]
    shown = shown_label(at, "update-pilot", f"{name} · needs this week's update")
    assert shown == f"{name} · needs this week's update"
    at.radio(key="update-health").set_value("green")
    at.text_area(key="update-summary").input("Back on track")
    at.button(key="update-submit").click()
    at.run()
    assert "Posted the update" in at.success[0].value
    assert "This week's update was posted" in at.info[0].value
    assert shown_label(at, "update-pilot", shown) == f"{name} · updated this week"
    assert at.selectbox(key="update-pilot").value == pilot_id


def test_the_weekly_update_typed_comes_back_after_another_as_of_date(demo_db):
    at, pilot_id = on_weekly_update_typing(demo_db)
    at.date_input(key="as-of").set_value(date.today() - timedelta(days=7))
    at.run()
    no_exception(at)
    assert "set **As of** in the sidebar back to today" in at.info[0].value
    assert not [t for t in at.text_area if t.key == "update-summary"]
    at.date_input(key="as-of").set_value(date.today())
    at.run()
    no_exception(at)
    assert update_form(at) == (pilot_id, "amber", "Vendor contract signed", "Waiting on the data owner")


def test_a_refused_update_keeps_what_was_typed_after_another_page(demo_db):
    at, pilot_id = on_weekly_update_typing(demo_db)
    at.radio(key="update-health").set_value(None)
    at.run()
    at.button(key="update-submit").click()
    at.run()
    assert [e.value for e in at.error] == ["Health: choose green, amber or red"]
    at.switch_page("pages/people.py").run()
    at.switch_page("pages/weekly_update.py").run()
    assert update_form(at) == (pilot_id, None, "Vendor contract signed", "Waiting on the data owner")


def test_a_posted_update_is_not_brought_back_over_a_later_one(demo_db):
    """After posting, the form shows this week's update as posted: coming back
    to the page shows it as it is then, not the text posted before."""
    at, pilot_id = on_weekly_update_typing(demo_db)
    at.button(key="update-submit").click()
    at.run()
    assert "Posted the update" in at.success[0].value
    at.switch_page("pages/portfolio.py").run()
    with db.session(demo_db) as c:  # the owner revises it in another window meanwhile
        actor = Actor.of(store.get_person(c, store.get_pilot(c, pilot_id).product_owner_id))
        updates.post_weekly_update(c, actor, {"pilot_id": pilot_id, "health": "green", "summary": "Signed and live",
                                              "blockers": "", "next_steps": ""}, date.today())
    at.switch_page("pages/weekly_update.py").run()
    assert update_form(at) == (pilot_id, "green", "Signed and live", "")


def open_tab(at: AppTest, tab: str) -> AppTest:
    from tests.app.test_production_pages import open_tab as to_tab

    return to_tab(at, tab)


def open_pilot(at: AppTest, pilot_id: int, tab: str | None = None) -> AppTest:
    from tests.app.test_production_pages import open_pilot as on_tab

    return on_tab(at, pilot_id, tab)


CRITERIA = "Criteria and decisions"


def on_a_pilot_in_kickoff(path, tab: str | None = None) -> tuple[AppTest, int]:
    """The pilot page of a pilot in its first 14 days (its criteria open to
    its product owner), opened as that owner."""
    with db.session(path) as c:
        pilot_id, owner = c.execute(
            "SELECT p.id, p.product_owner_id FROM pilot p JOIN person o ON o.id = p.product_owner_id"
            " WHERE p.stage = 'pilot' AND o.active AND p.start_date > ? ORDER BY p.id LIMIT 1",
            [date.today() - timedelta(days=14)]).fetchone()
    at = open_app("pages/pilot.py")
    act_as(at, owner)
    open_pilot(at, pilot_id, tab)
    return at, pilot_id


def test_a_criterion_typed_on_the_pilot_page_comes_back_and_a_save_starts_it_afresh(demo_db):
    at, pilot_id = on_a_pilot_in_kickoff(demo_db, CRITERIA)
    at.text_input(key=f"crit-new-{pilot_id}").input("30 % of the team uses it weekly")
    at.run()
    at.switch_page("pages/portfolio.py").run()
    open_pilot(at, pilot_id, CRITERIA)
    no_exception(at)
    assert at.text_input(key=f"crit-new-{pilot_id}").value == "30 % of the team uses it weekly"
    at.button(key=f"crit-save-{pilot_id}").click()
    at.run()
    assert not at.error, [e.value for e in at.error]
    assert at.text_input(key=f"crit-new-{pilot_id}").value == ""
    at.switch_page("pages/portfolio.py").run()
    open_pilot(at, pilot_id, CRITERIA)
    assert at.text_input(key=f"crit-new-{pilot_id}").value == ""
    with db.session(demo_db) as c:
        assert [x.statement for x in store.list_criteria(c, pilot_id)] == ["30 % of the team uses it weekly"]


# --- whom you act as, across a reload (local mode) ------------------------------


def reloaded(at: AppTest, page: str = "pages/portfolio.py") -> AppTest:
    """The browser reloads the page: a new session, on the same address."""
    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    again.switch_page(page)
    for name, value in at.query_params.items():
        again.query_params[name] = value
    return again.run()


def acting(at: AppTest) -> str:
    """Who the sidebar says is acting: "Name · role"."""
    return at.sidebar.markdown[0].value


def test_in_local_mode_whom_you_act_as_survives_a_reload(demo_db):
    viewer = people_by_role(demo_db)["viewer"]
    at = open_app("pages/people.py")
    first = acting(at)
    act_as(at, viewer.id)
    assert acting(at) == f"**{viewer.name}** · viewer" != first
    assert at.query_params["as"] == viewer.email.lower()
    at = reloaded(at, "pages/people.py")
    no_exception(at)
    assert at.selectbox(key="act-as").value == viewer.id
    assert acting(at) == f"**{viewer.name}** · viewer"


def test_an_address_naming_no_active_person_acts_as_the_first_admin(demo_db):
    at = open_app()
    admin_line = acting(at)
    with db.session(demo_db) as c:
        found = people_by_role(demo_db)
        viewer = found["viewer"]
        # Deactivated as the People page does it (audited, so the app's
        # kept reads see the change).
        people.deactivate_person(c, Actor.of(found["admin"]), viewer.id)
    for email in (viewer.email, "stranger@example.com", ""):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
        at.query_params["as"] = email
        at.run()
        no_exception(at)
        assert acting(at) == admin_line


def test_the_sign_in_modes_never_take_who_you_are_from_the_address(demo_db, monkeypatch):
    admin = people_by_role(demo_db)["admin"]
    monkeypatch.setenv("PORTFOLIO_TRUSTED_HEADER", "X-Forwarded-Email")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.query_params["as"] = admin.email
    at.run()
    no_exception(at)
    assert any("matches no active person" in c.value for c in at.sidebar.caption)
    assert admin.name not in acting(at)
    monkeypatch.delenv("PORTFOLIO_TRUSTED_HEADER")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "id", "client_secret": "secret",
                          "server_metadata_url": "https://id.example.com/.well-known/openid-configuration"}
    at.query_params["as"] = admin.email
    at.run()
    no_exception(at)
    assert [b for b in at.button if b.key == "sign-in"]
    assert not at.metric and not at.sidebar.markdown


def test_saving_one_form_of_the_pilot_page_keeps_what_was_typed_in_another(demo_db):
    at, pilot_id = on_a_pilot_in_kickoff(demo_db)
    at.text_area(key=f"edit-problem-{pilot_id}").input("Half-typed new problem statement")
    at.run()
    open_tab(at, CRITERIA)  # to the next tab: the half-typed problem is kept
    at.text_input(key=f"crit-new-{pilot_id}").input("Median handling time under 4 minutes")
    at.run()
    at.button(key=f"crit-save-{pilot_id}").click()
    at.run()
    assert not at.error, [e.value for e in at.error]
    at.switch_page("pages/portfolio.py").run()
    open_pilot(at, pilot_id, CRITERIA)
    no_exception(at)
    assert at.text_input(key=f"crit-new-{pilot_id}").value == ""  # saved: the form starts afresh
    open_pilot(at, pilot_id, "Overview")
    assert at.text_area(key=f"edit-problem-{pilot_id}").value == "Half-typed new problem statement"


def test_a_form_left_half_typed_for_another_tab_is_open_with_its_typing_on_coming_back(demo_db):
    at, pilot_id = on_a_pilot_in_kickoff(demo_db)

    def edit_form_open() -> bool:
        (box,) = [e for e in at.expander if e.label == "Edit the pilot and its seats"]
        return box.proto.expanded

    assert not edit_form_open()  # nothing typed: the form waits closed
    at.text_input(key=f"edit-name-{pilot_id}").input("A name typed, not saved")
    at.run()
    open_tab(at, "History")
    open_tab(at, "Overview")
    no_exception(at)
    assert edit_form_open()
    assert at.text_input(key=f"edit-name-{pilot_id}").value == "A name typed, not saved"


def test_typing_kept_across_tabs_still_meets_a_change_someone_made_meanwhile(demo_db):
    from portfolio.domain.settings import Settings
    from portfolio.services import pilots

    at, pilot_id = on_a_pilot_in_kickoff(demo_db)
    at.text_area(key=f"edit-problem-{pilot_id}").input("Our reworded problem")
    at.run()
    open_tab(at, "History")
    with db.session(demo_db) as c:  # someone else renames the pilot meanwhile
        admin = Actor.of(next(p for p in store.list_people(c, active_only=True) if p.role.value == "admin"))
        pilots.edit_pilot(c, admin, pilot_id, {"name": "Renamed by someone else"}, Settings(), today=date.today())
    open_tab(at, "Overview")
    assert at.text_area(key=f"edit-problem-{pilot_id}").value == "Our reworded problem"
    at.button(key=f"edit-save-{pilot_id}").click()
    at.run()
    no_exception(at)
    assert any("was changed after you opened it" in e.value for e in at.error), [e.value for e in at.error]
    with db.session(demo_db) as c:
        kept = store.get_pilot(c, pilot_id)
    assert kept.name == "Renamed by someone else" and kept.problem != "Our reworded problem"


def test_a_kpi_edit_left_half_typed_for_another_tab_comes_back_on_that_kpi(demo_db):
    """The KPI chosen to edit is not itself a form field: after another tab,
    the picker comes back on the KPI whose edit was left typed, with the typing."""
    with db.session(demo_db) as c:
        pilot_id, owner = c.execute(
            "SELECT p.id, p.product_owner_id FROM pilot p JOIN person o ON o.id = p.product_owner_id"
            " WHERE p.stage = 'pilot' AND o.active AND (SELECT count(*) FROM kpi k WHERE k.pilot_id = p.id) >= 2"
            " ORDER BY p.id LIMIT 1").fetchone()
        second = store.list_kpis(c, pilot_id)[1]
    at = open_app("pages/pilot.py")
    act_as(at, owner)
    open_pilot(at, pilot_id, "Production readiness")
    at.selectbox(key=f"kpi-edit-pick-{pilot_id}").set_value(second.id)
    at.run()
    at.text_input(key=f"kpi-edit-name-{second.id}").input("A KPI renamed, not saved")
    at.run()
    open_tab(at, "History")
    open_tab(at, "Production readiness")
    no_exception(at)
    assert at.selectbox(key=f"kpi-edit-pick-{pilot_id}").value == second.id
    assert at.text_input(key=f"kpi-edit-name-{second.id}").value == "A KPI renamed, not saved"
