"""Issue 6 in the app: each sign-in mode, the handover on deactivation, a
pilot's History, the Audit page and "what changed since", run by AppTest
against the demo database."""

from datetime import date

import pytest
from streamlit.runtime.context import StreamlitHeaders
from streamlit.testing.v1 import AppTest

from portfolio.domain.models import Actor
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import Role
from portfolio.services import signin, updates
from portfolio.services.people import deactivate_person, seats_affected
from portfolio.storage import db, store
from tests.app.test_pages import (
    ROOT,
    act_as,
    headline,
    no_exception,
    open_app,
    people_by_role,
)

TODAY = date.today()


def table_with(at: AppTest, *columns: str):
    """The first table that has these columns (AppTest does not keep the key
    of a table without selection)."""
    return next(d.value for d in at.dataframe if set(columns) <= set(d.value.columns))


# --- sign-in modes ----------------------------------------------------------


def test_local_mode_is_marked_and_offers_the_picker(demo_db):
    at = open_app()
    no_exception(at)
    assert [s for s in at.sidebar.selectbox if s.key == "act-as"]
    assert any("Local mode" in c.value for c in at.sidebar.caption)


def test_local_mode_turned_off_without_sign_in_shows_nothing_of_the_portfolio(demo_db, monkeypatch):
    monkeypatch.setenv("PORTFOLIO_LOCAL_MODE", "off")
    at = open_app()
    no_exception(at)
    assert "local mode is off" in at.error[0].value
    assert not [s for s in at.sidebar.selectbox if s.key == "act-as"]
    assert not at.metric


def test_oidc_mode_asks_to_sign_in_before_showing_anything(demo_db):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "id", "client_secret": "secret",
                          "server_metadata_url": "https://id.example.com/.well-known/openid-configuration"}
    at.run()
    no_exception(at)
    assert [b for b in at.button if b.key == "sign-in"]
    assert not at.metric and not [s for s in at.sidebar.selectbox if s.key == "act-as"]


def test_trusted_header_mode_without_a_known_identity_is_a_viewer(demo_db, monkeypatch):
    monkeypatch.setenv("PORTFOLIO_TRUSTED_HEADER", "X-Forwarded-Email")
    at = open_app("pages/pilot.py")
    no_exception(at)
    assert not [s for s in at.sidebar.selectbox if s.key == "act-as"]
    assert any("matches no active person" in c.value for c in at.sidebar.caption)
    assert not [b for b in at.button if b.key == "pilot-create"]


def test_the_trusted_header_names_the_person_case_insensitively(demo_db):
    with db.session(demo_db) as c:
        admin = next(p for p in store.list_people(c, active_only=True) if p.role == Role.ADMIN)
        found = signin.actor_for_header(c, {"X-Forwarded-Email": admin.email.upper()}, "X-Forwarded-Email")
        unknown = signin.actor_for_header(c, {"X-Forwarded-Email": "stranger@example.com"}, "X-Forwarded-Email")
        missing = signin.actor_for_header(c, {}, "X-Forwarded-Email")
        deactivate_person(c, signin.actor_for_email(c, admin.email), people_by_role(demo_db)["viewer"].id)
    assert (found.person_id, found.role) == (admin.id, Role.ADMIN)
    assert (unknown.person_id, unknown.role, unknown.name) == (None, Role.VIEWER, "stranger@example.com")
    assert (missing.person_id, missing.role) == (None, Role.VIEWER)


def sent(*pairs: tuple[str, str]) -> StreamlitHeaders:
    """Headers as Streamlit hands them to the app: every (name, value) the
    request carried, repeats included."""
    return StreamlitHeaders(list(pairs))


def test_a_trusted_header_sent_twice_is_refused(demo_db):
    """A proxy that adds its header to the client's instead of replacing it:
    the client's copy comes first and must not count."""
    people = people_by_role(demo_db)
    twice = sent(("X-Forwarded-Email", people["admin"].email), ("X-Forwarded-Email", people["viewer"].email))
    with db.session(demo_db) as c:
        actor = signin.actor_for_header(c, twice, "X-Forwarded-Email")
        once = signin.actor_for_header(c, sent(("X-Forwarded-Email", people["admin"].email)), "X-Forwarded-Email")
    assert (actor.person_id, actor.role) == (None, Role.VIEWER)
    assert "came more than once" in signin.trusted_header_problem(twice, "X-Forwarded-Email")
    assert (once.person_id, once.role) == (people["admin"].id, Role.ADMIN)


@pytest.mark.parametrize("secret_sent", [None, "wrong", "proxy-secret-1 ", "proxy-secret-1,proxy-secret-1"],
                         ids=["missing", "wrong", "padded", "joined"])
def test_without_the_proxys_shared_secret_the_trusted_header_is_not_believed(demo_db, secret_sent):
    admin = people_by_role(demo_db)["admin"]
    pairs = [("X-Forwarded-Email", admin.email)]
    if secret_sent is not None:
        pairs.append((signin.PROXY_SECRET_HEADER, secret_sent))
    with db.session(demo_db) as c:
        actor = signin.actor_for_header(c, sent(*pairs), "X-Forwarded-Email", secret="proxy-secret-1")
    problem = signin.trusted_header_problem(sent(*pairs), "X-Forwarded-Email", secret="proxy-secret-1")
    assert (actor.person_id, actor.role) == (None, Role.VIEWER)
    assert "did not come through the sign-in proxy" in problem and "proxy-secret-1" not in problem


def test_with_the_proxys_shared_secret_the_trusted_header_signs_in(demo_db):
    admin = people_by_role(demo_db)["admin"]
    headers = sent(("X-Forwarded-Email", admin.email), (signin.PROXY_SECRET_HEADER, "proxy-secret-1"))
    with db.session(demo_db) as c:
        actor = signin.actor_for_header(c, headers, "X-Forwarded-Email", secret="proxy-secret-1")
    assert (actor.person_id, actor.role) == (admin.id, Role.ADMIN)
    assert signin.trusted_header_problem(headers, "X-Forwarded-Email", secret="proxy-secret-1") is None


def test_the_app_says_why_a_request_without_the_proxys_secret_only_reads(demo_db, monkeypatch):
    monkeypatch.setenv("PORTFOLIO_TRUSTED_HEADER", "X-Forwarded-Email")
    monkeypatch.setenv("PORTFOLIO_TRUSTED_HEADER_SECRET", "proxy-secret-1")
    at = open_app("pages/pilot.py")
    no_exception(at)
    warnings = [w.value for w in at.sidebar.warning]
    assert any("did not come through the sign-in proxy" in w for w in warnings), warnings
    assert not any("proxy-secret-1" in w for w in warnings)
    assert not [b for b in at.button if b.key == "pilot-create"]


@pytest.mark.parametrize("address, loopback", [
    (None, False), ("", False), ("0.0.0.0", False), ("::", False), ("192.0.2.7", False), ("example.com", False),
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("unix:///run/portfolio.sock", True),
])
def test_which_server_addresses_let_only_this_machine_in(address, loopback):
    assert signin.serves_loopback_only(address) is loopback


def picker_roles(at: AppTest) -> set[str]:
    box = next(s for s in at.sidebar.selectbox if s.key == "act-as")
    return {label.rsplit(" · ", 1)[1] for label in box.options}  # the options as shown


def test_the_local_picker_offers_no_one_above_portfolio_users_role(demo_db, monkeypatch):
    owner = people_by_role(demo_db)["product_owner"]
    monkeypatch.setenv("PORTFOLIO_USER", owner.email.upper())
    at = open_app()
    no_exception(at)
    assert at.sidebar.selectbox(key="act-as").value == owner.id
    assert picker_roles(at) == {"viewer", "product owner"}


def test_without_portfolio_user_the_local_picker_offers_everyone(demo_db):
    assert picker_roles(open_app()) == {"viewer", "product owner", "leadership", "admin"}


def test_a_portfolio_user_who_is_no_active_person_only_reads(demo_db, monkeypatch):
    monkeypatch.setenv("PORTFOLIO_USER", "nobody@example.com")
    at = open_app("pages/pilot.py")
    no_exception(at)
    assert any("names no active person" in w.value for w in at.sidebar.warning)
    assert not [s for s in at.sidebar.selectbox if s.key == "act-as"]
    assert not [b for b in at.button if b.key == "pilot-create"]


@pytest.mark.parametrize("setting, allowed", [(None, True), ("on", True), ("off", False), ("FALSE", False),
                                              ("0", False), ("no", False)])
def test_local_mode_setting(setting, allowed):
    assert signin.local_mode_allowed(setting) is allowed


# --- handover ------------------------------------------------------------------


def test_deactivating_a_product_owner_offers_the_handover_and_nothing_turns_ownerless(demo_db):
    with db.session(demo_db) as c:
        owner_id = c.execute(
            "SELECT product_owner_id FROM pilot p JOIN person x ON x.id = p.product_owner_id "
            "WHERE x.active AND p.stage = 'pilot' GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]
        seats = seats_affected(c, owner_id)
        taker = next(p.id for p in store.list_people(c, active_only=True)
                     if p.role == Role.PRODUCT_OWNER and p.id != owner_id)
    at = open_app()
    ownerless_before = headline(at)["Ownerless"]
    at.switch_page("pages/people.py").run()
    at.selectbox(key="deactivate-pick").set_value(owner_id).run()
    for pilot, seat in seats:
        at.selectbox(key=f"handover-{owner_id}-{pilot.id}-{seat.value}").set_value(taker)
    at.checkbox(key=f"deactivate-confirm-{owner_id}").check().run()
    at.button(key=f"deactivate-go-{owner_id}").click().run()
    no_exception(at)
    assert f"handed over {len(seats)} seat(s)" in at.success[0].value
    at.switch_page("pages/portfolio.py").run()
    assert headline(at)["Ownerless"] == ownerless_before
    with db.session(demo_db) as c:
        assert seats_affected(c, owner_id) == []
        assert all(store.get_pilot(c, p.id).product_owner_id == taker for p, s in seats if s.value == "product_owner_id")


# --- History, Audit, What changed -----------------------------------------------


def test_an_edit_shows_in_the_pilots_history_and_on_the_audit_page(demo_db):
    with db.session(demo_db) as c:
        pid = c.execute("SELECT id FROM pilot WHERE stage = 'pilot' ORDER BY id LIMIT 1").fetchone()[0]
    at = open_app("pages/pilot.py")
    at.query_params["id"] = str(pid)
    at.run()
    unit = at.selectbox(key=f"edit-unit-{pid}")
    moved_to = next(u for u in ("Finance", "Sales") if u != unit.value)  # another of the kept units
    unit.set_value(moved_to)
    at.button(key=f"edit-save-{pid}").click().run()
    no_exception(at)
    at.query_params["tab"] = "History"
    at.run()
    history = table_with(at, "at", "actor", "via", "action", "entity", "change")
    assert history.iloc[0]["action"] == "edit" and f"'{moved_to}'" in history.iloc[0]["change"]

    at.switch_page("pages/audit.py").run()
    no_exception(at)
    at.selectbox(key="audit-pilot").set_value(pid).run()
    shown = table_with(at, "at", "actor", "pilot", "change")
    assert list(shown["action"])[:1] == ["edit"] and set(shown["pilot"]) <= {store_name(demo_db, pid)}
    # What each record is about, in words: a weekly update posted meanwhile
    # reads "weekly update", on the Audit page and in the pilot's History.
    with db.session(demo_db) as c:
        admin = Actor.of(next(p for p in store.list_people(c, active_only=True) if p.role.value == "admin"))
        updates.post_weekly_update(c, admin, {"pilot_id": pid, "health": "green", "summary": "On track"},
                                   date.today())
    at.run()
    shown = table_with(at, "at", "actor", "pilot", "change")
    assert list(shown["entity"])[:2] == ["weekly update", "pilot"]
    at.switch_page("pages/pilot.py").run()
    history = table_with(at, "at", "actor", "via", "action", "entity", "change")
    assert "weekly update" in set(history["entity"]) and not [e for e in history["entity"] if "_" in e]


def store_name(path, pid) -> str:
    with db.session(path) as c:
        return store.get_pilot(c, pid).name


def test_the_audit_and_changes_pages_are_for_leadership_and_admins(demo_db):
    viewer = people_by_role(demo_db)["viewer"]
    at = open_app()
    act_as(at, viewer.id)
    for page in ("pages/audit.py", "pages/changes.py"):
        at.switch_page(page).run()
        no_exception(at)
        assert "leadership and admins" in at.info[0].value
        assert not at.dataframe


def test_what_changed_since_shows_a_decision_made_today(demo_db):
    with db.session(demo_db) as c:
        leader = next(p for p in store.list_people(c, active_only=True) if p.role == Role.LEADERSHIP)
        pid, start = c.execute("SELECT id, start_date FROM pilot WHERE stage = 'pilot' AND go_no_go_date < ?"
                               " ORDER BY id LIMIT 1", [TODAY]).fetchone()
        from portfolio.services import decisions
        decisions.record_decision(c, signin.actor_for_email(c, leader.email), {
            "pilot_id": pid, "kind": "no_go", "decided_on": TODAY, "decided_by": leader.id,
            "rationale": "Stopped at review", "stop_reason": "value_not_proven"}, Settings())
    at = open_app("pages/changes.py")
    no_exception(at)
    metrics = {m.label: int(m.value) for m in at.metric}
    assert metrics["Decisions"] >= 1 and metrics["Stage moves"] >= 1
    decided = table_with(at, "kind", "decided_on", "rationale")
    assert store_name(demo_db, pid) in set(decided["pilot"])
