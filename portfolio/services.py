"""What users do. Each function checks who may do it, validates the input,
and writes in one transaction; a refusal raises and writes nothing.

The rights are PRODUCT.md's "Who may do what":
viewer reads; a product owner edits the pilots where they hold the product
owner or technical lead seat; leadership edits every pilot; admin does
everything, including people.
"""

from __future__ import annotations

from datetime import date

from . import clock, store
from .db import write
from .models import (
    CREATABLE_STAGES,
    Actor,
    InvalidInput,
    PermissionDenied,
    Person,
    PersonIn,
    Pilot,
    PilotIn,
    Role,
    Seat,
    Stage,
    ReadingIn,
    WeeklyUpdateIn,
    check_date_range,
    validate,
)
from .settings import Settings

# Stages in which a pilot takes weekly updates.
UPDATABLE_STAGES = (Stage.PROPOSED, Stage.PILOT, Stage.BRIDGE, Stage.PRODUCTION)


# --- rights ---------------------------------------------------------------


def may_edit_pilot(actor: Actor, pilot: Pilot) -> bool:
    if actor.at_least(Role.LEADERSHIP):
        return True
    return actor.role == Role.PRODUCT_OWNER and actor.person_id in (
        pilot.product_owner_id,
        pilot.technical_lead_id,
    )


def may_create_pilot(actor: Actor) -> bool:
    return actor.role == Role.ADMIN


def may_manage_people(actor: Actor) -> bool:
    return actor.role == Role.ADMIN


def require_edit(actor: Actor, pilot: Pilot, what: str) -> None:
    if not may_edit_pilot(actor, pilot):
        raise PermissionDenied(
            f"{actor.name} ({actor.role.label}) may not {what} on '{pilot.name}': only its "
            "product owner or technical lead, leadership or an admin may."
        )


def _require_admin(actor: Actor, what: str) -> None:
    if actor.role != Role.ADMIN:
        raise PermissionDenied(f"{actor.name} ({actor.role.label}) may not {what}: only an admin may.")


# --- pilots ---------------------------------------------------------------


def _check_seats(conn, pilot: PilotIn, current: Pilot | None = None) -> None:
    """Every seat holds a known person; a newly filled seat an active one.
    (A seat already held by someone since deactivated may stay as it is:
    the OWNERLESS and MISSING_SEAT flags say so.)"""
    for seat, person_id in pilot.seats().items():
        if person_id is None:
            continue
        try:
            person = store.get_person(conn, person_id)
        except Exception:
            raise InvalidInput(f"{seat.label}: there is no person with id {person_id}", field=seat.value) from None
        unchanged = current is not None and getattr(current, seat.value) == person_id
        if not person.active and not unchanged:
            raise InvalidInput(
                f"{seat.label}: {person.name} is inactive and cannot take a seat", field=seat.value
            )


def create_pilot(conn, actor: Actor, values: dict, settings: Settings) -> int:
    """Create a pilot in `proposed` or `pilot`. Without a go/no-go date, a
    pilot with a start date gets the start plus the clock length."""
    if not may_create_pilot(actor):
        raise PermissionDenied(f"{actor.name} ({actor.role.label}) may not create pilots: only an admin may.")
    pilot = validate(PilotIn, **values)
    if pilot.stage not in CREATABLE_STAGES:
        raise InvalidInput(
            f"Stage: a new pilot is proposed or pilot, not {pilot.stage.value}; later stages "
            "come from decisions",
            field="stage",
        )
    if pilot.start_date and not pilot.go_no_go_date:
        pilot = pilot.model_copy(
            update={"go_no_go_date": clock.go_no_go_date(pilot.start_date, settings.clock_days)}
        )

    def work(c):
        _check_seats(c, pilot)
        return store.insert_pilot(c, pilot)

    return write(conn, work)


def edit_pilot(
    conn, actor: Actor, pilot_id: int, values: dict, settings: Settings,
    *, expected_version: int | None = None,
) -> Pilot:
    """Edit the name, business unit, problem, start date and seats.

    The start date is set once, which starts the clock; the go/no-go date
    then moves only through an extend decision; the stage is not editable at
    all. The product owner seat changes hands only by its holder, leadership
    or an admin: a technical lead cannot take the pilot from its owner.
    """
    current = store.get_pilot(conn, pilot_id)
    require_edit(actor, current, "edit the pilot")
    merged = current.model_dump(exclude={"id", "version", "bridge_due_date"}) | values
    pilot = validate(PilotIn, **merged)
    if pilot.stage != current.stage:
        raise InvalidInput(
            "Stage: stages change only through decisions and the promote and retire actions",
            field="stage",
        )
    if current.start_date and pilot.start_date != current.start_date:
        raise InvalidInput(
            f"Start date: the clock started on {current.start_date} and does not move; "
            "an extend decision moves the go/no-go date",
            field="start_date",
        )
    if (pilot.product_owner_id != current.product_owner_id and not actor.at_least(Role.LEADERSHIP)
            and actor.person_id != current.product_owner_id):
        raise PermissionDenied(
            f"Product owner: only the product owner, leadership or an admin may hand '{current.name}' "
            "to someone else"
        )
    gng = current.go_no_go_date
    if "go_no_go_date" in values and values["go_no_go_date"] != gng and gng is not None:
        raise InvalidInput(
            "Go/no-go date: only an extend decision moves it once it is set", field="go_no_go_date"
        )
    if gng is None and pilot.start_date:
        gng = clock.go_no_go_date(pilot.start_date, settings.clock_days)
    if gng and pilot.start_date and gng < pilot.start_date:
        raise InvalidInput(
            f"Start date: {pilot.start_date} is after the go/no-go date {gng}", field="start_date"
        )
    if gng and not pilot.start_date:
        raise InvalidInput("Start date: a pilot with a go/no-go date needs its start date", field="start_date")
    pilot = pilot.model_copy(update={"go_no_go_date": gng})

    def work(c):
        fresh = store.get_pilot(c, pilot_id)
        if expected_version is not None and fresh.version != expected_version:
            raise InvalidInput(
                f"'{fresh.name}' was changed by someone else after you opened it; "
                "reload the page to see their change, then apply yours again",
                field="version",
            )
        _check_seats(c, pilot, fresh)
        store.update_pilot_fields(c, pilot_id, pilot)
        return store.get_pilot(c, pilot_id)

    return write(conn, work)


def start_pilot(conn, actor: Actor, pilot_id: int, start: date, settings: Settings) -> Pilot:
    """Move a proposed pilot into `pilot`: its 90-day clock starts on ``start``."""
    current = store.get_pilot(conn, pilot_id)
    if not actor.at_least(Role.LEADERSHIP):
        raise PermissionDenied(
            f"{actor.name} ({actor.role.label}) may not start a pilot: only leadership or an admin may."
        )
    if current.stage != Stage.PROPOSED:
        raise InvalidInput(f"Stage: '{current.name}' is already {current.stage.value}", field="stage")
    try:
        check_date_range(start)
    except ValueError as exc:
        raise InvalidInput(f"Start date: {exc}", field="start_date") from None
    gng = clock.go_no_go_date(start, settings.clock_days)

    def work(c):
        c.execute(
            "UPDATE pilot SET stage = ?, start_date = ?, go_no_go_date = ?, version = version + 1,"
            " updated_at = current_timestamp WHERE id = ? AND stage = ?",
            [Stage.PILOT.value, start, gng, pilot_id, Stage.PROPOSED.value],
        )
        store.record_stage_event(c, pilot_id, "start", Stage.PROPOSED, Stage.PILOT, start, actor.person_id)
        return store.get_pilot(c, pilot_id)

    return write(conn, work)


# --- weekly updates -------------------------------------------------------


def parse_readings(conn, pilot_id: int, readings: list[dict] | None) -> list[ReadingIn]:
    """Validate KPI readings for a pilot; rows without a value are skipped."""
    mine = {row[0] for row in conn.execute("SELECT id FROM kpi WHERE pilot_id = ?", [pilot_id]).fetchall()}
    parsed = []
    for values in readings or []:
        if not isinstance(values, dict):
            raise InvalidInput("KPI: each reading needs a KPI and a value", field="kpi_id")
        if values.get("value") is None or values.get("value") == "":
            continue
        reading = validate(ReadingIn, **values)
        if reading.kpi_id not in mine:
            raise InvalidInput(f"KPI: {reading.kpi_id} is not one of this pilot's KPIs", field="kpi_id")
        parsed.append(reading)
    return parsed


def insert_new_readings(c, pilot_id: int, readings: list[ReadingIn], by: int | None) -> int:
    """Insert the readings not already recorded (same KPI, day and value):
    a repeated submit adds nothing."""
    added = 0
    for r in readings:
        seen = c.execute("SELECT 1 FROM kpi_reading WHERE kpi_id = ? AND reading_on = ? AND value = ?",
                         [r.kpi_id, r.reading_on, r.value]).fetchone()
        if not seen:
            store.insert_reading(c, pilot_id, r, by)
            added += 1
    return added


def post_weekly_update(
    conn, actor: Actor, values: dict, as_of: date, readings: list[dict] | None = None
) -> tuple[int, int]:
    """Post the update for the ISO week holding ``as_of``, with KPI readings
    taken that day, in one transaction. Posting again in the same week adds
    a revision; the earlier text stays in the history. Returns (update id,
    revision)."""
    update = validate(WeeklyUpdateIn, **values)
    pilot = store.get_pilot(conn, update.pilot_id)
    require_edit(actor, pilot, "post a weekly update")
    if pilot.stage not in UPDATABLE_STAGES:
        raise InvalidInput(
            f"Pilot: '{pilot.name}' is {pilot.stage.value} and takes no more updates", field="pilot_id"
        )
    parsed = parse_readings(conn, pilot.id, [r | {"reading_on": as_of} for r in readings or []])
    week = clock.week_start(as_of)

    def work(c):
        insert_new_readings(c, pilot.id, parsed, actor.person_id)
        latest = [u for u in store.list_updates(c, update.pilot_id)[:1] if u.week_start == week]
        if latest and (latest[0].health, latest[0].summary, latest[0].blockers, latest[0].next_steps) == (
                update.health, update.summary, update.blockers, update.next_steps):
            return latest[0].id, latest[0].revision  # a repeated submit: already saved
        update_id = store.insert_update(c, update, week=week, posted_on=as_of, author_id=actor.person_id)
        revision = c.execute("SELECT revision FROM weekly_update WHERE id = ?", [update_id]).fetchone()[0]
        return update_id, revision

    return write(conn, work)


# --- people ---------------------------------------------------------------


def _check_unique_email(conn, email: str, person_id: int | None = None) -> None:
    existing = store.find_person_by_email(conn, email)
    if existing and existing.id != person_id:
        raise InvalidInput(
            f"Email: {email} already belongs to {existing.name}"
            + ("" if existing.active else " (inactive: reactivate them instead)"),
            field="email",
        )


def _active_admins(conn) -> list[int]:
    return [p.id for p in store.list_people(conn, active_only=True) if p.role == Role.ADMIN]


def add_person(conn, actor: Actor, values: dict) -> int:
    _require_admin(actor, "add people")
    person = validate(PersonIn, **values)

    def work(c):
        _check_unique_email(c, person.email)
        return store.insert_person(c, person)

    return write(conn, work)


def edit_person(conn, actor: Actor, person_id: int, values: dict) -> Person:
    _require_admin(actor, "edit people")
    current = store.get_person(conn, person_id)
    person = validate(PersonIn, **(current.model_dump(exclude={"id"}) | values))
    if not person.active and current.active:
        raise InvalidInput("Active: use Deactivate, which shows the pilots it affects", field="active")
    if current.role == Role.ADMIN and person.role != Role.ADMIN and _active_admins(conn) == [person_id]:
        raise InvalidInput(f"Role: {current.name} is the last active admin; make someone else admin first",
                           field="role")

    def work(c):
        _check_unique_email(c, person.email, person_id)
        store.update_person(c, person_id, person)
        return store.get_person(c, person_id)

    return write(conn, work)


def seats_affected(conn, person_id: int) -> list[tuple[Pilot, Seat]]:
    """The seats a person holds on pilots still in play, shown before
    deactivating them."""
    live = (Stage.PROPOSED, Stage.PILOT, Stage.BRIDGE, Stage.PRODUCTION)
    return [(p, s) for p, s in store.seats_held(conn, person_id) if p.stage in live]


def deactivate_person(conn, actor: Actor, person_id: int) -> list[tuple[Pilot, Seat]]:
    """Deactivate, never delete. Their seats stay as they are, so the pilots
    they owned turn OWNERLESS at once; returns the seats affected."""
    _require_admin(actor, "deactivate people")
    person = store.get_person(conn, person_id)
    if person_id == actor.person_id:
        raise InvalidInput("Active: you cannot deactivate yourself; ask another admin", field="active")
    if not person.active:
        raise InvalidInput(f"Active: {person.name} is already inactive", field="active")

    def work(c):
        store.set_person_active(c, person_id, False)
        return seats_affected(c, person_id)

    return write(conn, work)


def reactivate_person(conn, actor: Actor, person_id: int) -> Person:
    _require_admin(actor, "reactivate people")
    store.get_person(conn, person_id)

    def work(c):
        store.set_person_active(c, person_id, True)
        return store.get_person(c, person_id)

    return write(conn, work)


def actor_for_email(conn, email: str | None) -> Actor | None:
    """The acting person for a signed-in email, compared case-insensitively.
    An inactive person acts as a viewer; no match gives None."""
    if not email:
        return None
    person = store.find_person_by_email(conn, email)
    return Actor.of(person) if person else None
