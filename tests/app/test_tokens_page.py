"""The People page's calendar link and API tokens: a person makes their
own, sees each once, revokes; an admin does so for anyone; the token shown
is the one that opens the feed or the API, and only its hash is stored."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from portfolio.domain.tokens import Purpose, token_hash
from portfolio.services import tokens
from portfolio.storage import db, store

ROOT = Path(__file__).resolve().parents[2]


def person(path, role: str):
    with db.session(path) as c:
        return next(p for p in store.list_people(c, active_only=True) if p.role.value == role)


def people_page_as(person_id: int) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.run()
    at.selectbox(key="act-as").set_value(person_id)
    at.run()
    at.switch_page("pages/people.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown_codes(at: AppTest) -> list[str]:
    return [c.value for c in at.code]


def test_a_product_owner_makes_their_calendar_link_and_a_new_one_stops_the_old(demo_db):
    owner = person(demo_db, "product_owner")
    at = people_page_as(owner.id)
    assert not [s for s in at.selectbox if s.key == "token-person-pick"]  # their own only
    at.button(key="calendar-link-new").click().run()
    mine, whole = shown_codes(at)
    assert mine.endswith("/mine.ics") and whole.endswith("/portfolio.ics")
    first = mine.split("/calendar/")[1].split("/")[0]
    with db.session(demo_db) as c:
        assert tokens.holder(c, first, Purpose.CALENDAR).id == owner.id
        stored = c.execute("SELECT token_hash FROM access_token WHERE person_id = ?", [owner.id]).fetchall()
        assert stored == [(token_hash(first),)]  # the hash, never the token
    at.button(key="token-copied").click().run()
    assert not at.code  # shown once
    at.button(key="calendar-link-new").click().run()
    second = shown_codes(at)[0].split("/calendar/")[1].split("/")[0]
    assert "no longer works" in at.success[0].value
    with db.session(demo_db) as c:
        assert tokens.holder(c, first, Purpose.CALENDAR) is None
        assert tokens.holder(c, second, Purpose.CALENDAR).id == owner.id


def test_an_api_token_is_made_with_a_name_shown_once_and_revoked(demo_db):
    viewer = person(demo_db, "viewer")
    at = people_page_as(viewer.id)
    at.text_input(key=f"api-token-label-{viewer.id}").input("BI dashboard")
    at.button(key=f"api-token-add-{viewer.id}").click().run()
    (token,) = shown_codes(at)
    with db.session(demo_db) as c:
        assert tokens.actor_for_token(c, token, Purpose.API).email == viewer.email
    assert "BI dashboard" in at.dataframe[-1].value["label"].tolist()
    at.selectbox(key="api-token-revoke-pick").select_index(0).run()
    at.button(key="api-token-revoke").click().run()
    assert "Revoked" in at.success[0].value
    with db.session(demo_db) as c:
        assert tokens.actor_for_token(c, token, Purpose.API) is None


def test_a_blank_token_name_is_refused_naming_the_field(demo_db):
    viewer = person(demo_db, "viewer")
    at = people_page_as(viewer.id)
    at.button(key=f"api-token-add-{viewer.id}").click().run()
    assert at.error[0].value.startswith("Name: must not be blank")
    assert not at.code


def test_an_admin_makes_a_token_for_someone_else(demo_db):
    admin, owner = person(demo_db, "admin"), person(demo_db, "product_owner")
    at = people_page_as(admin.id)
    at.selectbox(key="token-person-pick").set_value(owner.id).run()
    at.button(key="calendar-link-new").click().run()
    token = shown_codes(at)[0].split("/calendar/")[1].split("/")[0]
    with db.session(demo_db) as c:
        assert tokens.holder(c, token, Purpose.CALENDAR).id == owner.id
