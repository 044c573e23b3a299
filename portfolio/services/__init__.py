"""What users do. Each function checks who may do it, validates the input,
and writes in one transaction; a refusal raises and writes nothing.

The rights are PRODUCT.md's "Who may do what":
viewer reads; a product owner edits the pilots where they hold the product
owner or technical lead seat; leadership edits every pilot; admin does
everything, including people.
"""

from __future__ import annotations

import hmac
import ipaddress
from datetime import date

from portfolio.domain import clock
from portfolio.domain.errors import (
    EditConflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    validate,
)
from portfolio.domain.models import (
    LATEST_DATE,
    Actor,
    Person,
    PersonIn,
    Pilot,
    PilotIn,
    ReadingIn,
    WeeklyUpdateIn,
    check_date_range,
)
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import CREATABLE_STAGES, Role, Seat, Stage
from portfolio.storage import audit, store
from portfolio.storage.db import write

# Stages in which a pilot takes weekly updates.
UPDATABLE_STAGES = (Stage.PROPOSED, Stage.PILOT, Stage.BRIDGE, Stage.PRODUCTION)


# --- rights ---------------------------------------------------------------


def may_edit_pilot(actor: Actor, pilot: Pilot) -> bool:
    if pilot.archived:
        return False  # restored first, by an admin
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
    if pilot.archived:
        raise InvalidInput(f"Pilot: '{pilot.name}' is archived; an admin restores it before anyone may {what}",
                           field="pilot_id")
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


def _clock_end(start: date, settings: Settings) -> date:
    """The go/no-go date of a clock started on ``start``; refused when it
    would fall outside the dates the tracker accepts (the pilot could then
    never be edited)."""
    gng = clock.go_no_go_date(start, settings.clock_days)
    try:
        check_date_range(gng)
    except ValueError:
        raise InvalidInput(
            f"Start date: {start} puts the go/no-go date, {settings.clock_days} days on, at {gng}, "
            f"after {LATEST_DATE.year}",
            field="start_date",
        ) from None
    return gng


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
        pilot = pilot.model_copy(update={"go_no_go_date": _clock_end(pilot.start_date, settings)})

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
    merged = current.model_dump(exclude={"id", "version", "bridge_due_date", "archived"}) | values
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
        gng = _clock_end(pilot.start_date, settings)
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
    gng = _clock_end(start, settings)

    def work(c):
        if store.get_pilot(c, pilot_id).stage != Stage.PROPOSED:
            return store.get_pilot(c, pilot_id)  # a repeated submit: already started
        with audit.tracking(c, actor, "pilot", pilot_id, "start"):
            c.execute(
                "UPDATE pilot SET stage = ?, start_date = ?, go_no_go_date = ?, version = version + 1,"
                " updated_at = current_timestamp WHERE id = ? AND stage = ?",
                [Stage.PILOT.value, start, gng, pilot_id, Stage.PROPOSED.value],
            )
        event = store.record_stage_event(c, pilot_id, "start", Stage.PROPOSED, Stage.PILOT, start, actor.person_id)
        audit.created(c, actor, "stage_event", event, "start")
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


def insert_new_readings(c, actor: Actor, pilot_id: int, readings: list[ReadingIn]) -> int:
    """Insert the readings not already recorded (same KPI, day and value):
    a repeated submit adds nothing."""
    added = 0
    for r in readings:
        seen = c.execute("SELECT 1 FROM kpi_reading WHERE kpi_id = ? AND reading_on = ? AND value = ?",
                         [r.kpi_id, r.reading_on, r.value]).fetchone()
        if not seen:
            reading_id = store.insert_reading(c, pilot_id, r, actor.person_id)
            audit.created(c, actor, "kpi_reading", reading_id)
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
        insert_new_readings(c, actor, pilot.id, parsed)
        latest = [u for u in store.list_updates(c, update.pilot_id)[:1] if u.week_start == week]
        if latest and (latest[0].health, latest[0].summary, latest[0].blockers, latest[0].next_steps) == (
                update.health, update.summary, update.blockers, update.next_steps):
            return latest[0].id, latest[0].revision  # a repeated submit: already saved
        update_id = store.insert_update(c, update, week=week, posted_on=as_of, author_id=actor.person_id)
        audit.created(c, actor, "weekly_update", update_id, "post" if not latest else "revise")
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
        again = audit.recent_create(c, actor, "person", {"email": person.email, "name": person.name,
                                                         "role": person.role.value})
        if again is not None:
            return again  # a repeated submit of the same form: added once
        _check_unique_email(c, person.email)
        person_id = store.insert_person(c, person)
        audit.created(c, actor, "person", person_id)
        return person_id

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
        with audit.tracking(c, actor, "person", person_id, "edit"):
            store.update_person(c, person_id, person)
        return store.get_person(c, person_id)

    return write(conn, work)


def seats_affected(conn, person_id: int) -> list[tuple[Pilot, Seat]]:
    """The seats a person holds on pilots still in play, shown before
    deactivating them."""
    live = (Stage.PROPOSED, Stage.PILOT, Stage.BRIDGE, Stage.PRODUCTION)
    return [(p, s) for p, s in store.seats_held(conn, person_id) if p.stage in live and not p.archived]


def deactivate_person(
    conn, actor: Actor, person_id: int, handover: dict[tuple[int, Seat | str], int | None] | None = None,
) -> list[tuple[Pilot, Seat]]:
    """Deactivate (archive), never delete, and hand their seats over in the
    same transaction: ``handover`` maps (pilot id, seat) to the person who
    takes the seat. A seat not handed over stays with them, so a pilot whose
    product owner leaves is OWNERLESS until someone takes it. Returns the
    seats still held by them on live pilots. Deactivating someone already
    inactive only hands over (a repeated submit changes nothing)."""
    _require_admin(actor, "deactivate people")
    person = store.get_person(conn, person_id)
    if person_id == actor.person_id:
        raise InvalidInput("Active: you cannot deactivate yourself; ask another admin", field="active")
    moves = _parse_handover(conn, person_id, handover)

    def work(c):
        if store.get_person(c, person_id).active:
            with audit.tracking(c, actor, "person", person_id, "deactivate"):
                store.set_person_active(c, person_id, False)
        _hand_over(c, actor, person_id, moves)
        return seats_affected(c, person_id)

    return write(conn, work)


def reassign_seats(conn, actor: Actor, person_id: int, handover: dict[tuple[int, Seat | str], int | None]) -> int:
    """Hand seats a person holds to others, in one transaction. Returns how
    many seats moved."""
    _require_admin(actor, "reassign seats")
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
            # ``seat`` is a Seat, so the column name comes from the enum.
            moved += c.execute(
                f"UPDATE pilot SET {seat.value} = ?, version = version + 1, updated_at = current_timestamp"
                f" WHERE id = ? AND {seat.value} = ? RETURNING id",
                [to, pilot_id, person_id],
            ).fetchone() is not None
    return moved


def reactivate_person(conn, actor: Actor, person_id: int) -> Person:
    _require_admin(actor, "reactivate people")
    store.get_person(conn, person_id)

    def work(c):
        with audit.tracking(c, actor, "person", person_id, "reactivate"):
            store.set_person_active(c, person_id, True)
        return store.get_person(c, person_id)

    return write(conn, work)


# --- archive --------------------------------------------------------------


def archive_pilot(conn, actor: Actor, pilot_id: int, archived: bool = True) -> Pilot:
    """Archive (or restore) a pilot: it leaves the portfolio's numbers and
    flags and keeps everything it has. Only an admin archives."""
    _require_admin(actor, "archive or restore pilots")
    store.get_pilot(conn, pilot_id)

    def work(c):
        with audit.tracking(c, actor, "pilot", pilot_id, "archive" if archived else "restore"):
            c.execute("UPDATE pilot SET archived = ?, version = version + 1, updated_at = current_timestamp"
                      " WHERE id = ? AND archived <> ?", [archived, pilot_id, archived])
        return store.get_pilot(c, pilot_id)

    return write(conn, work)


def local_mode_allowed(setting: str | None) -> bool:
    """Local mode (act as anyone, for one machine) is on unless turned off
    with PORTFOLIO_LOCAL_MODE set to off, false, no or 0."""
    return (setting or "on").strip().lower() not in ("off", "false", "no", "0")


def serves_loopback_only(address: str | None) -> bool:
    """Whether Streamlit's ``server.address`` lets only this machine in: a
    loopback address, ``localhost`` or a Unix socket. Unset or empty means
    every interface; any other name could resolve to anything."""
    address = (address or "").strip()
    if not address:
        return False
    if address.startswith("unix://") or address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


# The header in which the proxy in front of the app sends the shared secret
# of PORTFOLIO_TRUSTED_HEADER_SECRET, when that is set.
PROXY_SECRET_HEADER = "X-Portfolio-Proxy-Secret"


def _header_values(headers, name: str) -> list[str]:
    """Every value sent for ``name``: Streamlit's headers keep repeats
    (``get_all``); a plain mapping has at most one."""
    if headers is None:
        return []
    if hasattr(headers, "get_all"):
        return list(headers.get_all(name))
    value = headers.get(name)
    return [] if value is None else [value]


def trusted_header_problem(headers, header: str, secret: str | None = None) -> str | None:
    """Why the trusted header cannot be believed for this request, or None.

    A header sent more than once means a proxy added its copy to the
    client's instead of replacing it, and the client's would win. With a
    shared secret set, the request must carry it in PROXY_SECRET_HEADER,
    exactly once, or it did not come through the proxy. The messages never
    contain the secret."""
    if len(_header_values(headers, header)) > 1:
        return (f"The {header} header came more than once, so who you are is unclear: you can read, not write. "
                "Whoever runs the proxy must make it replace the header the client sent, not add another.")
    if secret:
        sent = _header_values(headers, PROXY_SECRET_HEADER)
        if len(sent) != 1 or not hmac.compare_digest(sent[0].encode(), secret.encode()):
            return ("This request did not come through the sign-in proxy (its shared secret is missing or wrong): "
                    "you can read, not write. Open the app at the proxy's address.")
    return None


def actor_for_header(conn, headers, header: str, secret: str | None = None) -> Actor:
    """Trusted-header sign-in: the proxy in front of the app puts the
    signed-in email in ``header`` (replacing any the client sent). An email
    that matches no active person, no header, a repeated header or a missing
    or wrong shared secret (see trusted_header_problem) is a viewer."""
    if trusted_header_problem(headers, header, secret):
        return Actor(person_id=None, name="anonymous", email=None, role=Role.VIEWER)
    values = _header_values(headers, header)
    value = values[0] if values else None
    email = value.strip() if isinstance(value, str) and value.strip() else None
    found = actor_for_email(conn, email)
    if found is not None:
        return found
    return Actor(person_id=None, name=email or "anonymous", email=email, role=Role.VIEWER)


def actor_for_email(conn, email: str | None) -> Actor | None:
    """The acting person for a signed-in email, compared case-insensitively.
    An inactive person acts as a viewer; no match gives None."""
    if not email:
        return None
    person = store.find_person_by_email(conn, email)
    return Actor.of(person) if person else None
