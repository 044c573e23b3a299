"""Calendar links and API tokens: a person makes, sees the list of and
revokes their own (an admin anyone's); a token made is returned once and
only its SHA-256 is kept. Making a new calendar link revokes the old one in
the same transaction, so the old address stops at once. Every change is in
the audit trail, without the token or its hash.

A token is turned back into the person who holds it (``actor_for_token``):
a revoked token, an unknown one or one whose holder is inactive opens
nothing."""

from __future__ import annotations

from portfolio.domain import rights
from portfolio.domain.errors import InvalidInput, NotFound, PermissionDenied, validate
from portfolio.domain.models import AccessToken, AccessTokenIn, Actor, Person, check_id
from portfolio.domain.rights import Right
from portfolio.domain.tokens import Purpose, new_token, plausible, token_hash
from portfolio.storage import audit, store
from portfolio.storage import tokens as token_store
from portfolio.storage.db import write

# An API token acts in the audit trail as coming from here.
API_VIA = "API"

# How many live API tokens one person may hold: enough for every tool around
# the tracker, few enough to review.
MAX_API_TOKENS = 20


def may_manage(actor: Actor, person_id: int) -> bool:
    """Whether ``actor`` may make or revoke ``person_id``'s tokens: their
    own (while they are a known, active person) or, for an admin, anyone's."""
    if actor.person_id is not None and actor.person_id == person_id:
        return True
    return rights.may(actor, Right.MANAGE_PEOPLE)


def may_manage_anyones(actor: Actor) -> bool:
    """Whether ``actor`` may make and revoke every person's tokens (admins)."""
    return rights.may(actor, Right.MANAGE_PEOPLE)


def _known_id(value, what: str, field: str) -> int:
    """An id as the database keeps them, or NotFound naming the field."""
    try:
        if isinstance(value, int) and not isinstance(value, bool) and check_id(value) is not None:
            return value
    except ValueError:
        pass
    raise NotFound(f"There is no {what} with id {value}", field=field)


def _require(conn, actor: Actor, person_id: int, what: str):
    person = store.get_person(conn, _known_id(person_id, "person", "person_id"))
    if not may_manage(actor, person_id):
        raise PermissionDenied(f"{actor.name} ({actor.role.label}) may not {what} of {person.name}: "
                               "only they or an admin may.")
    if not person.active:
        raise InvalidInput(f"Person: {person.name} is inactive; reactivate them first", field="person_id")
    return person


def list_tokens(conn, actor: Actor, person_id: int) -> list[AccessToken]:
    """The person's live calendar link and API tokens (never the tokens)."""
    if not may_manage(actor, person_id):
        raise PermissionDenied(f"{actor.name} ({actor.role.label}) may not see another person's tokens: "
                               "only they or an admin may.")
    return token_store.live_tokens(conn, _known_id(person_id, "person", "person_id"))


def new_calendar_link(conn, actor: Actor, person_id: int) -> str:
    """Make the person's calendar token, revoking the one they had: the old
    address stops at once. Returns the new token (shown once)."""
    _require(conn, actor, person_id, "make the calendar link")
    token = new_token()

    def work(c):
        at = audit.now()
        for old in token_store.live_tokens(c, person_id, Purpose.CALENDAR.value):
            with audit.tracking(c, actor, "access_token", old.id, "revoke"):
                token_store.revoke(c, old.id, at, actor.person_id)
        made = token_store.insert_token(c, person_id, Purpose.CALENDAR.value, "calendar feed",
                                        token_hash(token), at, actor.person_id)
        audit.created(c, actor, "access_token", made)

    write(conn, work)
    return token


def new_api_token(conn, actor: Actor, person_id: int, values: dict) -> str:
    """Make an API token for the person, named by ``values["label"]``.
    Returns the token (shown once)."""
    _require(conn, actor, person_id, "make an API token")
    named = validate(AccessTokenIn, **values)
    token = new_token()

    def work(c):
        live = token_store.live_tokens(c, person_id, Purpose.API.value)
        if any(t.label.lower() == named.label.lower() for t in live):
            raise InvalidInput(f"Name: a live API token is already called '{named.label}'; "
                               "revoke it or choose another name", field="label")
        if len(live) >= MAX_API_TOKENS:
            raise InvalidInput(f"Name: at most {MAX_API_TOKENS} live API tokens per person; revoke one first",
                               field="label")
        made = token_store.insert_token(c, person_id, Purpose.API.value, named.label, token_hash(token),
                                        audit.now(), actor.person_id)
        audit.created(c, actor, "access_token", made)

    write(conn, work)
    return token


def revoke_token(conn, actor: Actor, token_id: int) -> AccessToken:
    """Revoke a calendar link or API token: it opens nothing from now on."""
    found = token_store.get_token(conn, _known_id(token_id, "token", "token_id"))
    if found is None:
        raise NotFound(f"There is no token with id {token_id}", field="token_id")
    if not may_manage(actor, found.person_id):
        raise PermissionDenied(f"{actor.name} ({actor.role.label}) may not revoke another person's token: "
                               "only they or an admin may.")

    def work(c):
        with audit.tracking(c, actor, "access_token", token_id, "revoke"):
            token_store.revoke(c, token_id, audit.now(), actor.person_id)
        return token_store.get_token(c, token_id)

    return write(conn, work)


def holder(conn, token: str | None, purpose: Purpose) -> Person | None:
    """The active person who holds this live token; None for no token, an
    unknown or revoked one, or an inactive holder."""
    if not plausible(token):
        return None
    person = token_store.holder(conn, token_hash(token), purpose.value)
    return person if person is not None and person.active else None


def actor_for_token(conn, token: str | None, purpose: Purpose) -> Actor | None:
    """Who acts with this token: its holder with their role (see ``holder``),
    their changes audited as coming from the API or the calendar."""
    person = holder(conn, token, purpose)
    if person is None:
        return None
    return Actor.of(person).model_copy(update={"via": API_VIA if purpose == Purpose.API else "calendar"})
