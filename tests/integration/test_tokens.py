"""Calendar links and API tokens through the service: who may make and
revoke them, what the audit trail keeps (never the token nor its hash), and
who a token acts as; and the command line's calendar feed."""

import json

import icalendar
import pytest

from portfolio.domain.errors import InvalidInput, PermissionDenied
from portfolio.domain.tokens import Purpose, token_hash
from portfolio.domain.vocabulary import Role
from portfolio.services import people, tokens
from portfolio.storage import audit, db, store
from tests.conftest import AS_OF, actor_of, run_cli


def test_a_new_calendar_link_revokes_the_old_one_in_the_same_save(conn):
    owner = actor_of(conn, Role.PRODUCT_OWNER, name="Olu Owner")
    first = tokens.new_calendar_link(conn, owner, owner.person_id)
    second = tokens.new_calendar_link(conn, owner, owner.person_id)
    assert tokens.holder(conn, first, Purpose.CALENDAR) is None
    assert tokens.holder(conn, second, Purpose.CALENDAR).id == owner.person_id
    live = tokens.list_tokens(conn, owner, owner.person_id)
    assert [t.purpose for t in live] == ["calendar"]
    # A calendar token opens no API, and the other way round.
    assert tokens.actor_for_token(conn, second, Purpose.API) is None


def test_the_audit_trail_records_making_and_revoking_without_the_token_or_its_hash(conn):
    owner = actor_of(conn, Role.PRODUCT_OWNER, name="Olu Owner")
    calendar = tokens.new_calendar_link(conn, owner, owner.person_id)
    api = tokens.new_api_token(conn, owner, owner.person_id, {"label": "Jira automation"})
    tokens.new_calendar_link(conn, owner, owner.person_id)
    trail = audit.trail(conn, entity="access_token")
    assert sorted(trail["action"]) == ["create", "create", "create", "revoke"]
    assert "Jira automation" in " ".join(trail["change"])
    everything = json.dumps(audit.as_records(audit.trail(conn)), default=str)
    for secret in (calendar, api, token_hash(calendar), token_hash(api)):
        assert secret not in everything


def test_a_person_manages_their_own_tokens_and_an_admin_anyones(conn, admin):
    owner = actor_of(conn, Role.PRODUCT_OWNER, name="Olu Owner")
    other = actor_of(conn, Role.PRODUCT_OWNER, name="Pat Peer")
    with pytest.raises(PermissionDenied, match="only they or an admin may"):
        tokens.new_api_token(conn, other, owner.person_id, {"label": "mine now"})
    with pytest.raises(PermissionDenied):
        tokens.list_tokens(conn, other, owner.person_id)
    made = tokens.new_api_token(conn, admin, owner.person_id, {"label": "set up by IT"})
    (held,) = tokens.list_tokens(conn, owner, owner.person_id)
    with pytest.raises(PermissionDenied):
        tokens.revoke_token(conn, other, held.id)
    assert tokens.actor_for_token(conn, made, Purpose.API).person_id == owner.person_id
    tokens.revoke_token(conn, owner, held.id)
    assert tokens.actor_for_token(conn, made, Purpose.API) is None


def test_an_api_token_acts_with_its_holders_role_from_the_api(conn):
    leader = actor_of(conn, Role.LEADERSHIP, name="Lee Leader")
    token = tokens.new_api_token(conn, leader, leader.person_id, {"label": "chat bot"})
    acting = tokens.actor_for_token(conn, token, Purpose.API)
    assert (acting.person_id, acting.role, acting.via) == (leader.person_id, Role.LEADERSHIP, "API")


def test_a_deactivated_persons_tokens_open_nothing(conn, admin):
    owner = actor_of(conn, Role.PRODUCT_OWNER, name="Olu Owner")
    api = tokens.new_api_token(conn, owner, owner.person_id, {"label": "bot"})
    calendar = tokens.new_calendar_link(conn, owner, owner.person_id)
    people.deactivate_person(conn, admin, owner.person_id)
    assert tokens.actor_for_token(conn, api, Purpose.API) is None
    assert tokens.holder(conn, calendar, Purpose.CALENDAR) is None
    with pytest.raises(InvalidInput, match="inactive"):
        tokens.new_api_token(conn, admin, owner.person_id, {"label": "again"})


def test_reactivating_a_person_brings_none_of_their_old_tokens_back(conn, admin):
    owner = actor_of(conn, Role.PRODUCT_OWNER, name="Olu Owner")
    api = tokens.new_api_token(conn, owner, owner.person_id, {"label": "bot"})
    calendar = tokens.new_calendar_link(conn, owner, owner.person_id)
    people.deactivate_person(conn, admin, owner.person_id)
    people.reactivate_person(conn, admin, owner.person_id)
    assert tokens.actor_for_token(conn, api, Purpose.API) is None
    assert tokens.holder(conn, calendar, Purpose.CALENDAR) is None
    assert tokens.list_tokens(conn, admin, owner.person_id) == []
    # Each revocation is in the audit trail, done by the admin who deactivated.
    trail = audit.trail(conn, entity="access_token")
    revoked = trail[trail["action"] == "revoke"]
    assert len(revoked) == 2 and set(revoked["actor_id"]) == {admin.person_id}


def test_a_token_name_is_required_and_unique_among_the_live_ones(conn):
    owner = actor_of(conn, Role.PRODUCT_OWNER, name="Olu Owner")
    with pytest.raises(InvalidInput) as blank:
        tokens.new_api_token(conn, owner, owner.person_id, {"label": "  "})
    assert blank.value.field == "label" and str(blank.value).startswith("Name:")
    tokens.new_api_token(conn, owner, owner.person_id, {"label": "Jira"})
    with pytest.raises(InvalidInput, match="already called 'jira'") as twice:
        tokens.new_api_token(conn, owner, owner.person_id, {"label": "jira"})
    assert twice.value.field == "label"
    assert len(tokens.list_tokens(conn, owner, owner.person_id)) == 1


# --- the command line -------------------------------------------------------------


def test_calendar_writes_the_whole_portfolio_or_one_persons_feed(fixed_demo_db, tmp_path):
    whole, mine = tmp_path / "all.ics", tmp_path / "mine.ics"
    done = run_cli("calendar", "--db", fixed_demo_db, "--as-of", AS_OF, "--out", whole)
    assert done.returncode == 0, done.stderr
    with db.session(fixed_demo_db) as c:
        pilots = store.list_pilots(c)
        owner = store.get_person(c, next(p.product_owner_id for p in pilots
                                         if p.stage.value == "pilot" and p.product_owner_id))
    all_uids = {str(e["UID"]) for e in icalendar.Calendar.from_ical(whole.read_bytes()).walk("VEVENT")}
    assert {f"pilot-{p.id}-go-no-go@pilot-portfolio.tracker" for p in pilots
            if p.stage.value == "pilot" and p.go_no_go_date} <= all_uids
    done = run_cli("calendar", "--db", fixed_demo_db, "--as-of", AS_OF, "--out", mine, "--person",
                   owner.email.upper())
    assert done.returncode == 0, done.stderr
    assert owner.name in done.stdout
    theirs = {str(e["UID"]) for e in icalendar.Calendar.from_ical(mine.read_bytes()).walk("VEVENT")}
    assert theirs and theirs < all_uids
    seated = {p.id for p in pilots if owner.id in p.seat_holders()}
    assert all(int(uid.split("-")[1]) in seated for uid in theirs if uid.startswith("pilot-"))


def test_calendar_for_nobody_says_so_and_writes_nothing(fixed_demo_db, tmp_path):
    out = tmp_path / "nobody.ics"
    done = run_cli("calendar", "--db", fixed_demo_db, "--out", out, "--person", "nobody@example.com")
    assert done.returncode == 2
    assert "nobody has the email nobody@example.com" in done.stderr
    assert not out.exists()
