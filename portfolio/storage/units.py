"""The kept list of business units. A pilot carries its unit's name; a
rename moves every pilot of the unit with it (in the caller's transaction)."""

from __future__ import annotations

import duckdb

from portfolio.domain import units
from portfolio.domain.errors import NotFound
from portfolio.domain.models import BusinessUnit

Conn = duckdb.DuckDBPyConnection

# A pilot's unit as its key (domain.units.key): without surrounding or
# repeated spaces, in lower case; the unit's name_key is the same.
_PILOT_UNIT_KEY = "lower(trim(regexp_replace(business_unit, '\\s+', ' ', 'g')))"


def _units(conn: Conn, where: str = "", params: list | None = None) -> list[BusinessUnit]:
    """The kept units that ``where`` selects (all without), by name, each
    with how many pilots carry it (counted for those units only)."""
    rows = conn.execute(
        "SELECT u.id, u.name, u.active, count(p.id) FROM business_unit u LEFT JOIN pilot p"
        f" ON {_PILOT_UNIT_KEY.replace('business_unit', 'p.business_unit')} = u.name_key"
        f" {'WHERE ' + where if where else ''} GROUP BY u.id, u.name, u.active, u.name_key"
        " ORDER BY u.name_key, u.id", params or []).fetchall()
    return [BusinessUnit(id=i, name=n, active=a, pilots=c) for i, n, a, c in rows]


def list_units(conn: Conn, *, active_only: bool = False) -> list[BusinessUnit]:
    """The kept units by name, each with how many pilots carry it."""
    return _units(conn, "u.active" if active_only else "")


def get_unit(conn: Conn, unit_id: int) -> BusinessUnit:
    found = _units(conn, "u.id = ?", [unit_id])
    if not found:
        raise NotFound(f"Business unit: there is no unit with id {unit_id}", field="business_unit")
    return found[0]


def find_unit(conn: Conn, name: str) -> BusinessUnit | None:
    """The kept unit spelled ``name`` in any case, active or not (its
    name_key is ``units.key`` of its name, as every write keeps it)."""
    found = _units(conn, "u.name_key = ?", [units.key(name)])
    return found[0] if found else None


def insert_unit(conn: Conn, name: str) -> int:
    return conn.execute("INSERT INTO business_unit (name, name_key) VALUES (?, ?) RETURNING id",
                        [name, units.key(name)]).fetchone()[0]


def insert_units(conn: Conn, names: list[str]) -> list[int]:
    return [insert_unit(conn, name) for name in names]


def unit_pilot_ids(conn: Conn, name: str) -> list[int]:
    """The pilots that carry the unit ``name`` (in any case), archived ones too."""
    return [r[0] for r in conn.execute(
        f"SELECT id FROM pilot WHERE {_PILOT_UNIT_KEY} = ? ORDER BY id", [units.key(name)]).fetchall()]


def rename_unit(conn: Conn, unit_id: int, old: str, new: str) -> None:
    """Rename the unit and every pilot that carries it (each pilot's version
    bumped: it changed)."""
    conn.execute("UPDATE business_unit SET name = ?, name_key = ? WHERE id = ?", [new, units.key(new), unit_id])
    conn.execute(
        "UPDATE pilot SET business_unit = ?, version = version + 1, updated_at = current_timestamp"
        f" WHERE {_PILOT_UNIT_KEY} = ?", [new, units.key(old)])


def set_unit_active(conn: Conn, unit_id: int, active: bool) -> None:
    conn.execute("UPDATE business_unit SET active = ? WHERE id = ?", [active, unit_id])


def pilot_unit_spellings(conn: Conn) -> list[tuple[int, str]]:
    """(pilot id, business unit) of every pilot with a unit."""
    return conn.execute(f"SELECT id, business_unit FROM pilot WHERE {_PILOT_UNIT_KEY} <> '' ORDER BY id").fetchall()


def respell_pilot_units(conn: Conn, spelling: dict[int, str]) -> None:
    """Give each pilot (by id) its unit's kept spelling, its version bumped."""
    for pilot_id, name in spelling.items():
        conn.execute("UPDATE pilot SET business_unit = ?, version = version + 1, updated_at = current_timestamp"
                     " WHERE id = ?", [name, pilot_id])
