"""Pilots: create one, edit it, start its clock, archive or restore it.

Each function checks who may do it (``rights``), validates the input against
the pilot's rules (``pilot_rules``, which the importer obeys too), and writes
in one transaction; a refusal raises and writes nothing.
"""

from __future__ import annotations

from datetime import date

from portfolio.domain import pilot_rules, rights
from portfolio.domain.errors import (
    EditConflict,
    InvalidInput,
    PermissionDenied,
    validate,
)
from portfolio.domain.models import Actor, Pilot, PilotIn, check_date_range
from portfolio.domain.rights import Right
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import CREATABLE_STAGES, Stage
from portfolio.services import units
from portfolio.storage import audit, store
from portfolio.storage.db import write


def _check_seats(conn, pilot: PilotIn, current: Pilot | None = None) -> None:
    """Every seat holds a known person; a newly filled seat an active one
    (pilot_rules.check_seat_taker)."""
    for seat, person_id in pilot.seats().items():
        if person_id is None:
            continue
        try:
            person = store.get_person(conn, person_id)
        except Exception:
            raise InvalidInput(f"{seat.label}: there is no person with id {person_id}", field=seat.value) from None
        holder = getattr(current, seat.value) if current is not None else None
        pilot_rules.check_seat_taker(seat, person.id, person.name, person.active, holder)


def create_pilot(conn, actor: Actor, values: dict, settings: Settings, *, today: date) -> int:
    """Create a pilot in `proposed` or `pilot`. Without a go/no-go date, a
    pilot with a start date gets the start plus the clock length. Its
    business unit is one the organisation keeps (stored in the kept
    spelling); only a proposed pilot may start after ``today``, the real day
    of the save."""
    rights.require(actor, Right.CREATE_PILOT)
    pilot = validate(PilotIn, **values)
    if pilot.stage not in CREATABLE_STAGES:
        raise InvalidInput(
            f"Stage: a new pilot is proposed or pilot, not {pilot.stage.value}; later stages "
            "come from decisions",
            field="stage",
        )
    pilot_rules.check_start_not_in_future(pilot.stage, pilot.start_date, today)
    gng = pilot_rules.go_no_go_date(pilot.start_date, pilot.go_no_go_date, settings.clock_days)
    pilot = pilot.model_copy(update={"go_no_go_date": gng,
                                     "business_unit": units.check_pilot_unit(conn, pilot.business_unit)})

    def work(c):
        _check_seats(c, pilot)
        again = audit.recent_create(c, actor, "pilot", pilot.model_dump(mode="json"))
        if again is not None:
            return again  # a repeated submit of the same form: created once
        pilot_id = store.insert_pilot(c, pilot)
        audit.created(c, actor, "pilot", pilot_id)
        return pilot_id

    return write(conn, work)


def edit_pilot(
    conn, actor: Actor, pilot_id: int, values: dict, settings: Settings,
    *, today: date, expected_version: int | None = None,
) -> Pilot:
    """Edit the name, business unit, problem, start date and seats.

    A new business unit is one the organisation keeps (the one the pilot has
    stays, even once retired); a start date set now is not after ``today``
    (the real day of the save) unless the pilot is proposed.

    The start date is set once, which starts the clock; the go/no-go date
    then moves only through an extend decision; the stage is not editable at
    all. The product owner seat changes hands only by its holder, leadership
    or an admin: a technical lead cannot take the pilot from its owner.
    """
    current = store.get_pilot(conn, pilot_id)
    rights.require(actor, Right.EDIT_PILOT, current)
    merged = current.model_dump(exclude={"id", "version", "bridge_due_date", "archived"}) | values
    pilot = validate(PilotIn, **merged)
    if pilot.stage != current.stage:
        raise InvalidInput(
            "Stage: stages change only through decisions and the promote and retire actions",
            field="stage",
        )
    pilot_rules.check_start_date(current.start_date, pilot.start_date)
    if pilot.start_date != current.start_date:
        pilot_rules.check_start_not_in_future(pilot.stage, pilot.start_date, today)
    pilot = pilot.model_copy(update={
        "business_unit": units.check_pilot_unit(conn, pilot.business_unit, current.business_unit)})
    if pilot.product_owner_id != current.product_owner_id \
            and not rights.may(actor, Right.HAND_OVER_PRODUCT_OWNER, current):
        raise PermissionDenied(
            f"Product owner: only the product owner, leadership or an admin may hand '{current.name}' "
            "to someone else"
        )
    if "go_no_go_date" in values:
        pilot_rules.check_go_no_go_date(current.go_no_go_date, pilot.go_no_go_date)
    # Until the clock starts there is no go/no-go date to keep: the start
    # date, once set, gives the default one.
    gng = pilot_rules.go_no_go_date(pilot.start_date, current.go_no_go_date, settings.clock_days)
    if gng and pilot.start_date and gng < pilot.start_date:
        raise InvalidInput(
            f"Start date: {pilot.start_date} is after the go/no-go date {gng}", field="start_date"
        )
    if gng and not pilot.start_date:
        raise InvalidInput("Start date: a pilot with a go/no-go date needs its start date", field="start_date")
    pilot = pilot.model_copy(update={"go_no_go_date": gng})

    def work(c):
        fresh = store.get_pilot(c, pilot_id)
        if _same_fields(fresh, pilot):
            return fresh  # nothing to change (or a repeated submit already saved it)
        audit.check_version(c, "pilot", pilot_id, expected_version, f"'{fresh.name}'")
        _check_seats(c, pilot, fresh)
        with audit.tracking(c, actor, "pilot", pilot_id, "edit"):
            store.update_pilot_fields(c, pilot_id, pilot)
        return store.get_pilot(c, pilot_id)

    try:
        return write(conn, work)
    except EditConflict as conflict:
        audit.record_refusal(conn, actor, conflict, "edit", pilot.model_dump(mode="json"))
        raise


def _same_fields(current: Pilot, wanted: PilotIn) -> bool:
    return all(getattr(current, f) == getattr(wanted, f) for f in store.EDITABLE_PILOT_FIELDS)


def start_pilot(conn, actor: Actor, pilot_id: int, start: date, settings: Settings, *, today: date) -> Pilot:
    """Move a proposed pilot into `pilot`: its 90-day clock starts on
    ``start``, which is not after ``today`` (the real day of the save)."""
    current = store.get_pilot(conn, pilot_id)
    rights.require(actor, Right.START_PILOT, what="start a pilot")
    if current.stage != Stage.PROPOSED:
        raise InvalidInput(f"Stage: '{current.name}' is already {current.stage.value}", field="stage")
    try:
        check_date_range(start)
    except ValueError as exc:
        raise InvalidInput(f"Start date: {exc}", field="start_date") from None
    pilot_rules.check_start_not_in_future(Stage.PILOT, start, today)
    gng = pilot_rules.default_go_no_go_date(start, settings.clock_days)

    def work(c):
        if store.get_pilot(c, pilot_id).stage != Stage.PROPOSED:
            return store.get_pilot(c, pilot_id)  # a repeated submit: already started
        with audit.tracking(c, actor, "pilot", pilot_id, "start"):
            store.start_clock(c, pilot_id, start, gng)
        event = store.record_stage_event(c, pilot_id, "start", Stage.PROPOSED, Stage.PILOT, start, actor.person_id)
        audit.created(c, actor, "stage_event", event, "start")
        return store.get_pilot(c, pilot_id)

    return write(conn, work)


def archive_pilot(conn, actor: Actor, pilot_id: int, archived: bool = True) -> Pilot:
    """Archive (or restore) a pilot: it leaves the portfolio's numbers and
    flags and keeps everything it has. Only an admin archives."""
    rights.require(actor, Right.ARCHIVE)
    store.get_pilot(conn, pilot_id)

    def work(c):
        with audit.tracking(c, actor, "pilot", pilot_id, "archive" if archived else "restore"):
            store.set_pilot_archived(c, pilot_id, archived)
        return store.get_pilot(c, pilot_id)

    return write(conn, work)
