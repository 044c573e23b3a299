"""Who may do what: the README's table, row by row, through rights.may and
rights.require (pure: no database)."""

import pytest

from portfolio.domain import rights
from portfolio.domain.errors import InvalidInput, PermissionDenied
from portfolio.domain.models import Actor, Person, Pilot
from portfolio.domain.rights import Right
from portfolio.domain.vocabulary import Role, Stage

OWNER, LEAD, OTHER = 1, 2, 3
PILOT_RIGHTS = {Right.EDIT_PILOT, Right.POST_UPDATE}
LEADERSHIP_RIGHTS = PILOT_RIGHTS | {
    Right.HAND_OVER_PRODUCT_OWNER, Right.DECIDE, Right.START_PILOT, Right.CHANGE_CRITERIA_AFTER_KICKOFF,
    Right.PROMOTE_RETIRE, Right.SEE_AUDIT, Right.SEE_CHANGES, Right.RECORD_DIGEST,
}
ADMIN_ONLY = {Right.CREATE_PILOT, Right.MANAGE_PEOPLE, Right.MANAGE_UNITS, Right.MANAGE_CHECKLIST, Right.IMPORT,
              Right.ARCHIVE, Right.REVOKE_PRIVILEGE}
# Held by the person in a seat whatever their role, and by admins.
SEAT_RIGHTS = {Right.ACCEPT_HANDOVER, Right.RECORD_CHECKIN}
OPERATOR, SPONSOR = 4, 5


def pilot(archived=False) -> Pilot:
    return Pilot(id=7, name="Claims triage", business_unit="Claims", problem="Slow", stage=Stage.PILOT,
                 start_date=None, go_no_go_date=None, product_owner_id=OWNER, technical_lead_id=LEAD,
                 executive_sponsor_id=None, operational_owner_id=None, version=1, archived=archived)


def actor(role: Role, person_id: int | None = OTHER) -> Actor:
    return Actor(person_id=person_id, name="Sam", email="sam@example.com", role=role)


def allowed(who: Actor, on: Pilot | None = None) -> set[Right]:
    return {r for r in Right if rights.may(who, r, on if on is not None else pilot())}


def test_a_viewer_reads_only_even_holding_a_seat():
    assert allowed(actor(Role.VIEWER)) == set()
    assert allowed(actor(Role.VIEWER, person_id=OWNER)) == set()


@pytest.mark.parametrize("seat_holder", [OWNER, LEAD], ids=["product-owner-seat", "technical-lead-seat"])
def test_a_product_owner_edits_and_posts_on_the_pilots_where_they_hold_a_seat(seat_holder):
    got = allowed(actor(Role.PRODUCT_OWNER, person_id=seat_holder))
    assert PILOT_RIGHTS | {Right.REVOKE_PRIVILEGE} <= got
    assert got - PILOT_RIGHTS <= {Right.HAND_OVER_PRODUCT_OWNER, Right.REVOKE_PRIVILEGE}


@pytest.mark.parametrize("role, seat, may", [
    (Role.PRODUCT_OWNER, OWNER, True), (Role.PRODUCT_OWNER, LEAD, True), (Role.PRODUCT_OWNER, OTHER, False),
    (Role.LEADERSHIP, OWNER, True), (Role.LEADERSHIP, OTHER, False), (Role.ADMIN, OTHER, True),
    (Role.VIEWER, OWNER, False),
], ids=["product-owner", "technical-lead", "someone-elses-pilot", "leader-in-the-seat", "leader-off-the-seat",
        "admin", "viewer-in-the-seat"])
def test_the_revocation_of_a_privilege_is_recorded_by_its_seats_and_admins(role, seat, may):
    assert rights.may(actor(role, person_id=seat), Right.REVOKE_PRIVILEGE, pilot()) is may


def test_a_refused_revocation_says_who_may():
    with pytest.raises(PermissionDenied) as refused:
        rights.require(actor(Role.LEADERSHIP), Right.REVOKE_PRIVILEGE, pilot())
    assert str(refused.value) == ("Sam (leadership) may not record the revocation of a borrowed privilege on "
                                  "'Claims triage': only its product owner or technical lead, or an admin may.")


def test_a_product_owner_may_not_touch_someone_elses_pilot():
    assert allowed(actor(Role.PRODUCT_OWNER, person_id=OTHER)) == set()


def test_only_the_product_owner_hands_the_product_owner_seat_on():
    assert rights.may(actor(Role.PRODUCT_OWNER, person_id=OWNER), Right.HAND_OVER_PRODUCT_OWNER, pilot())
    assert not rights.may(actor(Role.PRODUCT_OWNER, person_id=LEAD), Right.HAND_OVER_PRODUCT_OWNER, pilot())


def test_leadership_edits_every_pilot_and_decides_but_holds_no_admin_right():
    assert allowed(actor(Role.LEADERSHIP)) == LEADERSHIP_RIGHTS


def test_an_admin_may_everything():
    assert allowed(actor(Role.ADMIN)) == set(Right)
    assert LEADERSHIP_RIGHTS | ADMIN_ONLY | SEAT_RIGHTS == set(Right)


def staffed() -> Pilot:
    return pilot().model_copy(update={"operational_owner_id": OPERATOR, "executive_sponsor_id": SPONSOR})


@pytest.mark.parametrize("role", [Role.VIEWER, Role.PRODUCT_OWNER])
def test_the_operational_owner_accepts_the_handover_and_checks_in_whatever_their_role(role):
    assert allowed(actor(role, person_id=OPERATOR), staffed()) == SEAT_RIGHTS


def test_the_executive_sponsor_may_record_acceptance_but_not_check_ins():
    got = allowed(actor(Role.VIEWER, person_id=SPONSOR), staffed())
    assert got == {Right.ACCEPT_HANDOVER}


def test_leadership_neither_accepts_the_handover_nor_checks_in_for_the_operational_owner():
    assert not allowed(actor(Role.LEADERSHIP), staffed()) & SEAT_RIGHTS


def test_nobody_but_an_admin_accepts_for_a_seat_they_do_not_hold_and_nobody_on_an_archived_pilot():
    assert allowed(actor(Role.PRODUCT_OWNER, person_id=OWNER), staffed()) & SEAT_RIGHTS == set()
    assert SEAT_RIGHTS <= allowed(actor(Role.ADMIN), staffed())
    archived = staffed().model_copy(update={"archived": True})
    assert not allowed(actor(Role.VIEWER, person_id=OPERATOR), archived)
    with pytest.raises(PermissionDenied, match="only its operational owner or an admin may"):
        rights.require(actor(Role.LEADERSHIP), Right.RECORD_CHECKIN, staffed())


@pytest.mark.parametrize("role", [Role.PRODUCT_OWNER, Role.LEADERSHIP, Role.ADMIN])
def test_an_inactive_person_reads_only(role):
    gone = Person(id=OWNER, name="Gone", email="gone@example.com", role=role, active=False)
    assert allowed(Actor.of(gone)) == set()


def test_an_identity_that_matches_no_person_reads_only():
    unknown = Actor(person_id=None, name="stranger@example.com", email="stranger@example.com", role=Role.VIEWER)
    assert allowed(unknown) == set()
    assert not rights.may(None, Right.EDIT_PILOT, pilot())
    # Even with a role, nobody unknown records a digest run.
    assert not rights.may(actor(Role.ADMIN, person_id=None), Right.RECORD_DIGEST)


def test_an_archived_pilot_is_edited_by_nobody_until_an_admin_restores_it():
    archived = pilot(archived=True)
    for role in Role:
        assert not rights.may(actor(role, person_id=OWNER), Right.EDIT_PILOT, archived)
        assert not rights.may(actor(role, person_id=OWNER), Right.POST_UPDATE, archived)
    assert rights.may(actor(Role.ADMIN), Right.ARCHIVE, archived)
    with pytest.raises(InvalidInput, match="'Claims triage' is archived; an admin restores it before anyone may "
                                            "edit the pilot"):
        rights.require(actor(Role.ADMIN), Right.EDIT_PILOT, archived)


def test_a_pilot_right_needs_the_pilot():
    assert not rights.may(actor(Role.ADMIN), Right.EDIT_PILOT, None)


@pytest.mark.parametrize("who, right, what, words", [
    (actor(Role.PRODUCT_OWNER), Right.EDIT_PILOT, None,
     "Sam (product owner) may not edit the pilot on 'Claims triage': only its product owner or technical lead, "
     "leadership or an admin may."),
    (actor(Role.PRODUCT_OWNER), Right.START_PILOT, "start a pilot",
     "Sam (product owner) may not start a pilot: only leadership or an admin may."),
    (actor(Role.LEADERSHIP), Right.IMPORT, "import pilots",
     "Sam (leadership) may not import pilots: only an admin may."),
    (actor(Role.LEADERSHIP), Right.ARCHIVE, None,
     "Sam (leadership) may not archive or restore pilots: only an admin may."),
])
def test_a_refusal_says_who_may(who, right, what, words):
    with pytest.raises(PermissionDenied) as refused:
        rights.require(who, right, pilot(), what=what)
    assert str(refused.value) == words
