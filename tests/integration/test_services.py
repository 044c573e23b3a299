"""What users do, called directly (not through a page): rights are checked
in the code that writes, and a refusal or bad input writes nothing."""

from datetime import date, timedelta

import pytest

from portfolio.domain.errors import InvalidInput, PermissionDenied
from portfolio.domain.vocabulary import Role
from portfolio.services import demo, people, pilots, signin, updates
from portfolio.storage import store
from tests.conftest import AS_OF, actor_of

pytestmark = pytest.mark.usefixtures("kept_units")  # the units the pilots here are given


def count(conn, table):
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def pilot_values(**overrides):
    values = {"name": "Claims triage", "business_unit": "Claims", "start_date": AS_OF}
    values.update(overrides)
    return values


# --- creating and editing pilots -------------------------------------------

def test_admin_creates_a_pilot_whose_go_no_go_date_is_start_plus_90(conn, admin, settings):
    po = demo.make_person(conn)
    pid = pilots.create_pilot(conn, admin, pilot_values(product_owner_id=po), settings, today=AS_OF)
    pilot = store.get_pilot(conn, pid)
    assert pilot.go_no_go_date == AS_OF + timedelta(days=90)
    assert pilot.product_owner_id == po
    assert pilot.stage.value == "pilot"


@pytest.mark.parametrize(
    "overrides, message",
    [
        pytest.param({"name": " "}, "Name: must not be blank", id="blank-name"),
        pytest.param({"go_no_go_date": AS_OF - timedelta(days=1)}, "is before the start date", id="gng-before-start"),
        pytest.param({"product_owner_id": 999}, "Product owner: there is no person with id 999", id="unknown-seat"),
        pytest.param({"stage": "production"}, "Stage: a new pilot is proposed or pilot", id="later-stage"),
    ],
)
def test_bad_pilot_input_is_refused_and_writes_nothing(conn, admin, settings, overrides, message):
    with pytest.raises(InvalidInput, match=message):
        pilots.create_pilot(conn, admin, pilot_values(**overrides), settings, today=AS_OF)
    assert count(conn, "pilot") == 0


def test_an_inactive_person_cannot_take_a_seat(conn, admin, settings):
    gone = demo.make_person(conn, name="Gone Person", active=False)
    with pytest.raises(InvalidInput, match="Technical lead: Gone Person is inactive"):
        pilots.create_pilot(conn, admin, pilot_values(technical_lead_id=gone), settings, today=AS_OF)
    assert count(conn, "pilot") == 0


@pytest.mark.parametrize("role", [Role.VIEWER, Role.PRODUCT_OWNER, Role.LEADERSHIP])
def test_only_an_admin_creates_pilots(conn, settings, role):
    actor = actor_of(conn, role)
    with pytest.raises(PermissionDenied, match="only an admin"):
        pilots.create_pilot(conn, actor, pilot_values(), settings, today=AS_OF)
    assert count(conn, "pilot") == 0


def test_product_owner_edits_their_own_pilot(conn, settings):
    owner = actor_of(conn, Role.PRODUCT_OWNER)
    pid = demo.make_pilot(conn, product_owner_id=owner.person_id)
    saved = pilots.edit_pilot(conn, owner, pid, {"name": "Renamed"}, settings, today=AS_OF)
    assert saved.name == "Renamed" and saved.version == 2


def test_technical_lead_with_product_owner_role_edits_the_pilot(conn, settings):
    lead = actor_of(conn, Role.PRODUCT_OWNER)
    pid = demo.make_pilot(conn, technical_lead_id=lead.person_id)
    assert pilots.edit_pilot(conn, lead, pid, {"problem": "Sharper"}, settings, today=AS_OF).problem == "Sharper"


def test_product_owner_cannot_edit_someone_elses_pilot(conn, settings):
    other = actor_of(conn, Role.PRODUCT_OWNER, name="Other Owner")
    pid = demo.make_pilot(conn, name="Not theirs")
    with pytest.raises(PermissionDenied, match="may not edit the pilot on 'Not theirs'"):
        pilots.edit_pilot(conn, other, pid, {"name": "Hijacked"}, settings, today=AS_OF)
    assert store.get_pilot(conn, pid).name == "Not theirs"


def test_viewer_holding_a_seat_still_cannot_edit(conn, settings):
    seated_viewer = actor_of(conn, Role.VIEWER)
    pid = demo.make_pilot(conn, product_owner_id=seated_viewer.person_id)
    with pytest.raises(PermissionDenied):
        pilots.edit_pilot(conn, seated_viewer, pid, {"name": "X"}, settings, today=AS_OF)


def test_leadership_edits_any_pilot(conn, leader, settings):
    pid = demo.make_pilot(conn)
    assert pilots.edit_pilot(conn, leader, pid, {"business_unit": "HR"}, settings, today=AS_OF).business_unit == "HR"


def test_editing_cannot_move_the_stage_or_the_go_no_go_date(conn, leader, settings):
    pid = demo.make_pilot(conn)
    before = store.get_pilot(conn, pid)
    with pytest.raises(InvalidInput, match="Stage: stages change only through decisions"):
        pilots.edit_pilot(conn, leader, pid, {"stage": "production"}, settings, today=AS_OF)
    with pytest.raises(InvalidInput, match="only an extend decision moves it"):
        pilots.edit_pilot(conn, leader, pid, {"go_no_go_date": before.go_no_go_date + timedelta(days=30)}, settings, today=AS_OF)
    assert store.get_pilot(conn, pid) == before


def test_setting_the_start_date_starts_the_clock(conn, leader, settings):
    pid = demo.make_pilot(conn, start_date=None)
    saved = pilots.edit_pilot(conn, leader, pid, {"start_date": AS_OF}, settings, today=AS_OF)
    assert saved.go_no_go_date == AS_OF + timedelta(days=90)


def test_a_stale_edit_is_refused(conn, leader, settings):
    pid = demo.make_pilot(conn)
    pilots.edit_pilot(conn, leader, pid, {"name": "First"}, settings, expected_version=1, today=AS_OF)
    with pytest.raises(InvalidInput, match="changed after you opened it: Lee Leader .* changed name .Pilot .* → .First."):
        pilots.edit_pilot(conn, leader, pid, {"name": "Second"}, settings, expected_version=1, today=AS_OF)
    assert store.get_pilot(conn, pid).name == "First"


def test_leadership_starts_a_proposed_pilot(conn, leader, settings):
    pid = demo.make_pilot(conn, stage="proposed", start_date=None)
    started = pilots.start_pilot(conn, leader, pid, AS_OF, settings, today=AS_OF)
    assert (started.stage.value, started.go_no_go_date) == ("pilot", AS_OF + timedelta(days=90))
    with pytest.raises(InvalidInput, match="already pilot"):
        pilots.start_pilot(conn, leader, pid, AS_OF, settings, today=AS_OF)


# --- weekly updates --------------------------------------------------------

def test_product_owner_posts_and_revises_the_weekly_update(conn):
    owner = actor_of(conn, Role.PRODUCT_OWNER)
    pid = demo.make_pilot(conn, product_owner_id=owner.person_id)
    values = {"pilot_id": pid, "health": "amber", "summary": "Latency high"}
    assert updates.post_weekly_update(conn, owner, values, AS_OF)[1] == 1
    revised = values | {"health": "green", "summary": "Latency fixed"}
    assert updates.post_weekly_update(conn, owner, revised, AS_OF + timedelta(days=3))[1] == 2
    history = store.list_updates(conn, pid, with_history=True)
    assert [(u.revision, u.health.value, u.summary) for u in history] == [
        (2, "green", "Latency fixed"), (1, "amber", "Latency high")]
    assert history[0].author_id == owner.person_id


def test_next_week_starts_a_new_update(conn, leader):
    pid = demo.make_pilot(conn)
    values = {"pilot_id": pid, "health": "green", "summary": "ok"}
    updates.post_weekly_update(conn, leader, values, AS_OF)
    assert updates.post_weekly_update(conn, leader, values, AS_OF + timedelta(days=7))[1] == 1


def test_viewer_cannot_post_an_update(conn, viewer):
    pid = demo.make_pilot(conn)
    with pytest.raises(PermissionDenied, match="may not post a weekly update"):
        updates.post_weekly_update(conn, viewer, {"pilot_id": pid, "health": "green", "summary": "x"}, AS_OF)
    assert count(conn, "weekly_update") == 0


def test_product_owner_cannot_post_on_someone_elses_pilot(conn):
    other = actor_of(conn, Role.PRODUCT_OWNER)
    pid = demo.make_pilot(conn)
    with pytest.raises(PermissionDenied):
        updates.post_weekly_update(conn, other, {"pilot_id": pid, "health": "green", "summary": "x"}, AS_OF)
    assert count(conn, "weekly_update") == 0


def test_bad_health_is_refused_and_writes_nothing(conn, leader):
    pid = demo.make_pilot(conn)
    with pytest.raises(InvalidInput, match="Health: 'blue' is not one of green, amber, red"):
        updates.post_weekly_update(conn, leader, {"pilot_id": pid, "health": "blue", "summary": "x"}, AS_OF)
    assert count(conn, "weekly_update") == 0


def test_a_stopped_pilot_takes_no_updates(conn, leader):
    pid = demo.make_pilot(conn, stage="stopped")
    with pytest.raises(InvalidInput, match="is stopped and takes no more updates"):
        updates.post_weekly_update(conn, leader, {"pilot_id": pid, "health": "green", "summary": "x"}, AS_OF)


# --- people ----------------------------------------------------------------

def test_admin_adds_a_person_and_a_duplicate_email_is_refused_in_any_case(conn, admin):
    people.add_person(conn, admin, {"name": "Priya Shah", "email": "priya@example.com"})
    with pytest.raises(InvalidInput, match="Email: PRIYA@example.com already belongs to Priya Shah") as err:
        people.add_person(conn, admin, {"name": "Another Priya", "email": "PRIYA@example.com"})
    assert err.value.field == "email"
    assert [p.name for p in store.list_people(conn) if "Priya" in p.name] == ["Priya Shah"]


def test_editing_a_person_to_another_persons_email_is_refused(conn, admin):
    a = people.add_person(conn, admin, {"name": "A", "email": "a@example.com"})
    people.add_person(conn, admin, {"name": "B", "email": "b@example.com"})
    with pytest.raises(InvalidInput, match="already belongs to B"):
        people.edit_person(conn, admin, a, {"email": "B@example.com"})
    assert store.get_person(conn, a).email == "a@example.com"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.PRODUCT_OWNER, Role.LEADERSHIP])
def test_only_an_admin_manages_people(conn, role):
    actor = actor_of(conn, role)
    before = count(conn, "person")
    with pytest.raises(PermissionDenied, match="only an admin"):
        people.add_person(conn, actor, {"name": "X", "email": "x@example.com"})
    assert count(conn, "person") == before


def test_deactivating_a_product_owner_makes_their_pilots_ownerless_at_once(conn, admin, settings):
    from portfolio import flags

    owner = demo.make_person(conn, name="Leaving Owner")
    pid = demo.make_pilot(conn, product_owner_id=owner)
    demo.make_update(conn, pid, AS_OF)
    assert flags.portfolio_flags(conn, AS_OF, settings).query("code == 'OWNERLESS'").empty
    affected = people.deactivate_person(conn, admin, owner)
    assert [(p.id, s.value) for p, s in affected] == [(pid, "product_owner_id")]
    ownerless = flags.portfolio_flags(conn, AS_OF, settings).query("code == 'OWNERLESS'")
    assert list(ownerless["reason"]) == ["product owner Leaving Owner is inactive"]
    assert store.get_person(conn, owner).active is False  # deactivated, never deleted


def test_an_admin_cannot_deactivate_themselves(conn, admin):
    with pytest.raises(InvalidInput, match="cannot deactivate yourself"):
        people.deactivate_person(conn, admin, admin.person_id)


def test_an_inactive_person_acts_as_a_viewer(conn, admin):
    leader_id = demo.make_person(conn, role=Role.LEADERSHIP, email="Lee@Example.com")
    people.deactivate_person(conn, admin, leader_id)
    acting = signin.actor_for_email(conn, "lee@example.com")
    assert acting.role == Role.VIEWER
    assert signin.actor_for_email(conn, "nobody@example.com") is None


# --- found in review -------------------------------------------------------

def test_the_start_date_does_not_move_once_the_clock_has_started(conn, leader, settings):
    pid = demo.make_pilot(conn)
    before = store.get_pilot(conn, pid)
    with pytest.raises(InvalidInput, match="Start date: the clock started on .* and does not move"):
        pilots.edit_pilot(conn, leader, pid, {"start_date": before.start_date + timedelta(days=60)}, settings, today=AS_OF)
    assert store.get_pilot(conn, pid) == before


def test_a_technical_lead_cannot_take_the_pilot_from_its_product_owner(conn, settings):
    lead = actor_of(conn, Role.PRODUCT_OWNER)
    pid = demo.make_pilot(conn, technical_lead_id=lead.person_id)
    owner = store.get_pilot(conn, pid).product_owner_id
    with pytest.raises(PermissionDenied, match="only the product owner, leadership or an admin may hand"):
        pilots.edit_pilot(conn, lead, pid, {"product_owner_id": lead.person_id}, settings, today=AS_OF)
    assert store.get_pilot(conn, pid).product_owner_id == owner


def test_a_product_owner_hands_their_pilot_over(conn, settings):
    owner = actor_of(conn, Role.PRODUCT_OWNER)
    successor = demo.make_person(conn)
    pid = demo.make_pilot(conn, product_owner_id=owner.person_id)
    pilots.edit_pilot(conn, owner, pid, {"product_owner_id": successor}, settings, today=AS_OF)
    assert store.get_pilot(conn, pid).product_owner_id == successor


def test_the_last_active_admin_cannot_be_demoted(conn, admin):
    with pytest.raises(InvalidInput, match="Role: Ada Admin is the last active admin"):
        people.edit_person(conn, admin, admin.person_id, {"role": "viewer"})
    assert store.get_person(conn, admin.person_id).role == Role.ADMIN
    second = people.add_person(conn, admin, {"name": "Bo Admin", "email": "bo@example.com", "role": "admin"})
    people.edit_person(conn, admin, second, {"role": "viewer"})  # not the last one: fine


@pytest.mark.parametrize("role", [Role.VIEWER, Role.PRODUCT_OWNER, Role.LEADERSHIP])
def test_only_an_admin_edits_deactivates_or_reactivates_people(conn, admin, role):
    actor = actor_of(conn, role)
    target = demo.make_person(conn, name="Target")
    with pytest.raises(PermissionDenied):
        people.edit_person(conn, actor, target, {"name": "Renamed"})
    with pytest.raises(PermissionDenied):
        people.deactivate_person(conn, actor, target)
    people.deactivate_person(conn, admin, target)
    with pytest.raises(PermissionDenied):
        people.reactivate_person(conn, actor, target)
    person = store.get_person(conn, target)
    assert (person.name, person.active) == ("Target", False)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.PRODUCT_OWNER])
def test_only_leadership_starts_a_pilot(conn, settings, role):
    actor = actor_of(conn, role)
    pid = demo.make_pilot(conn, stage="proposed", start_date=None, product_owner_id=actor.person_id)
    with pytest.raises(PermissionDenied):
        pilots.start_pilot(conn, actor, pid, AS_OF, settings, today=AS_OF)
    assert store.get_pilot(conn, pid).stage.value == "proposed"


def test_a_repeated_update_submit_writes_once(conn, leader):
    pid = demo.make_pilot(conn)
    values = {"pilot_id": pid, "health": "green", "summary": "Same text"}
    first = updates.post_weekly_update(conn, leader, values, AS_OF)
    again = updates.post_weekly_update(conn, leader, values, AS_OF)
    assert again == first
    assert count(conn, "weekly_update") == 1


def test_a_date_off_the_calendar_is_refused_not_crashed(conn, admin, settings):
    with pytest.raises(InvalidInput, match="Start date: 9999-12-30 is outside 1990 to 2199"):
        pilots.create_pilot(conn, admin, pilot_values(start_date=date(9999, 12, 30)), settings, today=AS_OF)
    assert count(conn, "pilot") == 0


# --- the portfolio's numbers ----------------------------------------------

def test_each_headline_number_counts_the_pilots_listed_behind_it(fixed_demo_db, settings):
    from portfolio.services.reporting import overview
    from portfolio.storage import db

    with db.session(fixed_demo_db) as c:
        view = overview.build(c, AS_OF, settings)
    for name, _ in overview.HEADLINES:
        assert view.numbers[name] == len(view.pilots_behind(name)), name
    assert all(view.numbers[name] > 0 for name in ("Stalled", "Ownerless", "Overdue", "Active pilots"))


@pytest.mark.parametrize("days, archived", [(0, False), (30, False), (200, False), (-30, False), (0, True)],
                         ids=["as-of", "a month on", "seven months on", "a month back (the history)",
                              "a decided pilot archived"])
def test_the_summary_counts_what_the_portfolio_page_counts(fixed_demo_db, settings, days, archived):
    from portfolio.domain.models import Actor
    from portfolio.services import pilots
    from portfolio.services.reporting import headline, overview
    from portfolio.storage import db

    as_of = AS_OF + timedelta(days=days)
    with db.session(fixed_demo_db) as c:
        if archived:  # a pilot with a go, archived: neither the page nor the summary counts it
            decided = c.execute("SELECT pilot_id FROM decision WHERE kind = 'go' ORDER BY pilot_id LIMIT 1").fetchone()[0]
            admin = Actor.of(next(p for p in store.list_people(c, active_only=True) if p.role.value == "admin"))
            pilots.archive_pilot(c, admin, decided)
        view = overview.build(c, as_of, settings)
        summary = headline.values(c, as_of, settings)
    assert summary == {**view.numbers, **overview.decision_values(view.pilots)}
    # As numbers of the same kind, too: the summary prints them as JSON.
    page = {**view.numbers, **overview.decision_values(view.pilots)}
    assert {k: type(v) for k, v in summary.items()} == {k: type(v) for k, v in page.items()}
    assert list(summary)[:len(overview.HEADLINES)] == [name for name, _ in overview.HEADLINES]
    assert summary["Active pilots"] > 0 and summary["Conversion"] is not None
