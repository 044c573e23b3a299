"""Business units: the list the organisation keeps. An admin adds a unit,
renames it (every pilot of the unit moves with it, in one transaction, each
change in the audit trail) and retires one no longer offered (its pilots keep
it; no new pilot takes it) or offers it again. Nothing is deleted."""

from __future__ import annotations

from portfolio.domain import rights, units
from portfolio.domain.errors import InvalidInput, validate
from portfolio.domain.models import Actor, BusinessUnit, BusinessUnitIn
from portfolio.domain.rights import Right
from portfolio.storage import audit
from portfolio.storage import units as unit_store
from portfolio.storage.db import write


def list_units(conn, *, active_only: bool = False) -> list[BusinessUnit]:
    """The kept units by name (``active_only``: those a pilot may take)."""
    return unit_store.list_units(conn, active_only=active_only)


def offered(conn) -> list[str]:
    """The names a pilot's form offers: the active units."""
    return [u.name for u in unit_store.list_units(conn, active_only=True)]


def _taken(c, name: str, unit_id: int | None = None) -> None:
    existing = unit_store.find_unit(c, name)
    if existing is not None and existing.id != unit_id:
        raise InvalidInput(
            f"Name: '{existing.name}' is already a business unit"
            + ("" if existing.active else " (retired: offer it again instead)"),
            field="name",
        )


def add_unit(conn, actor: Actor, values: dict) -> int:
    rights.require(actor, Right.MANAGE_UNITS, what="add business units")
    unit = validate(BusinessUnitIn, **values)

    def work(c):
        existing = unit_store.find_unit(c, unit.name)
        if existing is not None and existing.name == unit.name and existing.active:
            again = audit.recent_create(c, actor, "business_unit", {"name": unit.name})
            if again is not None:
                return again  # a repeated submit of the same form: added once
        _taken(c, unit.name)
        unit_id = unit_store.insert_unit(c, unit.name)
        audit.created(c, actor, "business_unit", unit_id)
        return unit_id

    return write(conn, work)


def rename_unit(conn, actor: Actor, unit_id: int, values: dict) -> BusinessUnit:
    """Rename a unit; every pilot that carries it (archived ones too) takes
    the new name in the same transaction."""
    rights.require(actor, Right.MANAGE_UNITS, what="rename business units")
    unit = validate(BusinessUnitIn, **values)

    def work(c):
        current = unit_store.get_unit(c, unit_id)
        if current.name == unit.name:
            return current  # nothing to change (or a repeated submit already saved it)
        _taken(c, unit.name, unit_id)
        moved = unit_store.unit_pilot_ids(c, current.name)
        before = audit.snapshots(c, "pilot", moved)
        with audit.tracking(c, actor, "business_unit", unit_id, "rename"):
            unit_store.rename_unit(c, unit_id, current.name, unit.name)
        after = audit.snapshots(c, "pilot", moved)
        audit.record_many(c, actor, "pilot", "edit", [(i, before[i], after[i]) for i in moved])
        return unit_store.get_unit(c, unit_id)

    return write(conn, work)


def set_unit_active(conn, actor: Actor, unit_id: int, active: bool) -> BusinessUnit:
    """Retire a unit (``active`` False: no longer offered to a pilot, its
    pilots keep it) or offer it again."""
    rights.require(actor, Right.MANAGE_UNITS, what="retire business units" if not active else
                   "offer business units")

    def work(c):
        unit_store.get_unit(c, unit_id)
        with audit.tracking(c, actor, "business_unit", unit_id, "offer again" if active else "retire"):
            unit_store.set_unit_active(c, unit_id, active)
        return unit_store.get_unit(c, unit_id)

    return write(conn, work)


def check_pilot_unit(conn, text: str | None, current: str | None = None) -> str:
    """The unit a pilot is saved with, in its kept spelling (see
    ``units.check_pilot_unit``); raises InvalidInput for a unit not offered."""
    return units.check_pilot_unit(offered(conn), text, current)


def keep_imported(c, actor: Actor, names: list[str]) -> list[str]:
    """For an import's rows (inside its transaction): each row's business
    unit in the kept spelling, the units not kept yet added to the list (the
    file is the organisation's own; each addition in the audit trail)."""
    kept = {units.key(u.name): u.name for u in unit_store.list_units(c)}
    for name in names:
        if units.key(name) and units.key(name) not in kept:
            unit_id = unit_store.insert_unit(c, " ".join(name.split()))
            audit.created(c, actor, "business_unit", unit_id, "import")
            kept[units.key(name)] = " ".join(name.split())
    return [kept.get(units.key(name), name) for name in names]
