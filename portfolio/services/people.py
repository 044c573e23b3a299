"""People: an admin adds, edits, deactivates and reactivates them, and hands
their seats to others. Nobody is deleted: a person who leaves is deactivated,
and the seats they still hold show as flags until someone takes them."""

from __future__ import annotations

from portfolio.domain import rights
from portfolio.domain.errors import InvalidInput, NotFound, validate
from portfolio.domain.models import Actor, Person, PersonIn, Pilot
from portfolio.domain.rights import Right
from portfolio.domain.vocabulary import Role, Seat
from portfolio.storage import audit, store
from portfolio.storage import tokens as token_store
from portfolio.storage.db import write


def _check_unique_email(conn, email: str, person_id: int | None = None) -> None:
    existing = store.find_person_by_email(conn, email)
    if existing and existing.id != person_id:
        raise InvalidInput(
            f"Email: {email} already belongs to {existing.name}"
            + ("" if existing.active else " (inactive: reactivate them instead)"),
            field="email",
        )


def _active_admins(conn) -> list[int]:
    # Asked on every page run: the admins alone, not every person built.
    return store.active_ids_of_role(conn, Role.ADMIN)


def add_person(conn, actor: Actor, values: dict) -> int:
    rights.require(actor, Right.MANAGE_PEOPLE, what="add people")
    person = validate(PersonIn, **values)

    def work(c):
        again = audit.recent_create(c, actor, "person", {"email": person.email, "name": person.name,
                                                         "role": person.role.value})
        if again is not None:
            return again  # a repeated submit of the same form: added once
        _check_unique_email(c, person.email)
        person_id = store.insert_person(c, person)
        audit.created(c, actor, "person", person_id)
        return person_id

    return write(conn, work)


def needs_first_admin(conn) -> bool:
    """Whether nobody can manage this portfolio: it has no active admin (a
    new, empty portfolio), so no one can add people or pilots until
    ``add_first_admin`` (the command line's ``init``) gives it one."""
    return not _active_admins(conn)


def add_first_admin(conn, values: dict) -> tuple[int, bool]:
    """Give a portfolio without an active admin its first one: a new person
    (``values``: name and email), or the person who already has that email,
    made an active admin. Refused once the portfolio has an active admin,
    who adds everyone else. Recorded as done by that admin, via the command
    line. Returns the person's id and whether they are new."""
    person = validate(PersonIn, **(values | {"role": Role.ADMIN, "active": True}))

    def work(c):
        admins = _active_admins(c)
        if admins:
            admin = store.get_person(c, admins[0])
            raise InvalidInput(
                f"Admin: this portfolio already has an admin ({admin.name} <{admin.email}>); "
                "an admin adds everyone else (people add, or the People page)", field="admin")
        existing = store.find_person_by_email(c, person.email)
        if existing is None:
            person_id = store.insert_person(c, person)
            audit.created(c, _first_admin(person_id, person), "person", person_id)
            return person_id, True
        with audit.tracking(c, _first_admin(existing.id, person), "person", existing.id, "edit"):
            store.update_person(c, existing.id, person.model_copy(update={"name": existing.name,
                                                                           "email": existing.email}))
        return existing.id, False

    return write(conn, work)


def _first_admin(person_id: int, person: PersonIn) -> Actor:
    return Actor(person_id=person_id, name=person.name, email=person.email, role=Role.ADMIN, via="command line")


def edit_person(conn, actor: Actor, person_id: int, values: dict) -> Person:
    rights.require(actor, Right.MANAGE_PEOPLE, what="edit people")
    current = store.get_person(conn, person_id)
    person = validate(PersonIn, **(current.model_dump(exclude={"id"}) | values))
    if not person.active and current.active:
        raise InvalidInput("Active: use Deactivate, which shows the pilots it affects", field="active")
    if current.role == Role.ADMIN and person.role != Role.ADMIN and _active_admins(conn) == [person_id]:
        raise InvalidInput(f"Role: {current.name} is the last active admin; make someone else admin first",
                           field="role")

    def work(c):
        _check_unique_email(c, person.email, person_id)
        with audit.tracking(c, actor, "person", person_id, "edit"):
            store.update_person(c, person_id, person)
        return store.get_person(c, person_id)

    return write(conn, work)


def seats_affected(conn, person_id: int) -> list[tuple[Pilot, Seat]]:
    """The seats a person holds on pilots still in play, shown before
    deactivating them."""
    return [(p, s) for p, s in store.seats_held(conn, person_id) if p.stage.in_play and not p.archived]


def deactivate_person(
    conn, actor: Actor, person_id: int, handover: dict[tuple[int, Seat | str], int | None] | None = None,
) -> list[tuple[Pilot, Seat]]:
    """Deactivate (archive), never delete, and hand their seats over in the
    same transaction: ``handover`` maps (pilot id, seat) to the person who
    takes the seat. A seat not handed over stays with them, so a pilot whose
    product owner leaves is OWNERLESS until someone takes it. Returns the
    seats still held by them on live pilots. Their calendar link and API
    tokens are revoked in the same transaction (each audited), so
    reactivating them later brings none back: they make new ones.
    Deactivating someone already inactive only hands over (a repeated
    submit changes nothing)."""
    rights.require(actor, Right.MANAGE_PEOPLE, what="deactivate people")
    store.get_person(conn, person_id)
    if person_id == actor.person_id:
        raise InvalidInput("Active: you cannot deactivate yourself; ask another admin", field="active")
    moves = _parse_handover(conn, person_id, handover)

    def work(c):
        if store.get_person(c, person_id).active:
            with audit.tracking(c, actor, "person", person_id, "deactivate"):
                store.set_person_active(c, person_id, False)
        at = audit.now()
        for token in token_store.live_tokens(c, person_id):
            with audit.tracking(c, actor, "access_token", token.id, "revoke"):
                token_store.revoke(c, token.id, at, actor.person_id)
        _hand_over(c, actor, person_id, moves)
        return seats_affected(c, person_id)

    return write(conn, work)


def reassign_seats(conn, actor: Actor, person_id: int, handover: dict[tuple[int, Seat | str], int | None]) -> int:
    """Hand seats a person holds to others, in one transaction. Returns how
    many seats moved."""
    rights.require(actor, Right.MANAGE_PEOPLE, what="reassign seats")
    store.get_person(conn, person_id)
    moves = _parse_handover(conn, person_id, handover)
    return write(conn, lambda c: _hand_over(c, actor, person_id, moves))


def _parse_handover(conn, person_id: int, handover) -> list[tuple[int, Seat, int]]:
    held = {(p.id, s) for p, s in store.seats_held(conn, person_id)}
    moves = []
    for (pilot_id, seat), to in (handover or {}).items():
        if to is None:
            continue  # left with them
        try:
            seat = Seat(seat)
        except ValueError:
            raise InvalidInput(f"Seat: '{seat}' is not a seat", field="seat") from None
        if (pilot_id, seat) not in held:
            pilot = store.get_pilot(conn, pilot_id)
            if getattr(pilot, seat.value) == to:
                continue  # already handed over (a repeated submit)
            raise InvalidInput(f"{seat.label}: the person handing over does not hold it on '{pilot.name}'",
                               field=seat.value)
        try:
            taker = store.get_person(conn, int(to))
        except (NotFound, TypeError, ValueError):
            raise InvalidInput(f"{seat.label}: there is no person with id {to}", field=seat.value) from None
        if not taker.active or taker.id == person_id:
            raise InvalidInput(f"{seat.label}: {taker.name} cannot take the seat"
                               + (" (inactive)" if not taker.active else ""), field=seat.value)
        moves.append((pilot_id, seat, taker.id))
    return moves


def _hand_over(c, actor: Actor, person_id: int, moves: list[tuple[int, Seat, int]]) -> int:
    moved = 0
    for pilot_id, seat, to in moves:
        with audit.tracking(c, actor, "pilot", pilot_id, "handover"):
            moved += store.hand_over_seat(c, pilot_id, seat, person_id, to)
    return moved


def reactivate_person(conn, actor: Actor, person_id: int) -> Person:
    rights.require(actor, Right.MANAGE_PEOPLE, what="reactivate people")
    store.get_person(conn, person_id)

    def work(c):
        with audit.tracking(c, actor, "person", person_id, "reactivate"):
            store.set_person_active(c, person_id, True)
        return store.get_person(c, person_id)

    return write(conn, work)
