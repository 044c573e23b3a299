"""Weekly updates: the pilot's health, summary, blockers and next steps for
an ISO week, with the KPI readings taken that day, posted by its product
owner or technical lead, leadership or an admin."""

from __future__ import annotations

from datetime import date

from portfolio.domain import clock, rights
from portfolio.domain.errors import InvalidInput, validate
from portfolio.domain.models import Actor, ReadingIn, WeeklyUpdateIn
from portfolio.domain.rights import Right
from portfolio.storage import audit, store
from portfolio.storage.db import write


def parse_readings(conn, pilot_id: int, readings: list[dict] | None) -> list[ReadingIn]:
    """Validate KPI readings for a pilot; rows without a value are skipped."""
    mine = store.kpi_ids(conn, pilot_id)
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
        if not store.reading_recorded(c, r):
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
    if any(not isinstance(r, dict) for r in readings or []):
        raise InvalidInput("Readings: each reading is an object with a KPI and a value", field="readings")
    pilot = store.get_pilot(conn, update.pilot_id)
    rights.require(actor, Right.POST_UPDATE, pilot)
    if not pilot.stage.in_play:
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
        return update_id, store.update_revision(c, update_id)

    return write(conn, work)
