"""The importer's reads and bulk writes: everything a plan is matched
against in one query per table, the checks that the portfolio did not change
under a plan, and the rows of a file written a chunk at a time as set-based
statements over a registered frame (not a statement per row)."""

from __future__ import annotations

import duckdb
import pandas as pd

from portfolio.domain.vocabulary import Role

Conn = duckdb.DuckDBPyConnection


def people_and_pilots(conn: Conn) -> tuple[dict[str, tuple], dict[int, dict]]:
    """Every person by email key as (id, email, name, active), and every
    pilot's importable fields by id."""
    people = {
        key: (pid, email, name, active)
        for pid, email, key, name, active in conn.execute(
            "SELECT id, email, email_key, name, active FROM person"
        ).fetchall()
    }
    cur = conn.execute(
        "SELECT id, external_id, version, name, business_unit, problem, stage, start_date, go_no_go_date, "
        "product_owner_id, technical_lead_id, executive_sponsor_id, operational_owner_id, "
        "expected_monthly_volume, expected_monthly_value, coalesce(expected_value_unit, '') AS expected_value_unit "
        "FROM pilot"
    )
    names = [d[0] for d in cur.description]
    return people, {r[0]: dict(zip(names, r)) for r in cur.fetchall()}


def attributes_by_pilot(conn: Conn) -> dict[int, dict[str, str]]:
    """Every pilot's kept attributes, name -> value, by pilot id."""
    out: dict[int, dict[str, str]] = {}
    for pilot_id, name, value in conn.execute("SELECT pilot_id, name, value FROM pilot_attribute").fetchall():
        out.setdefault(pilot_id, {})[name] = value
    return out


def pilot_versions(conn: Conn) -> dict[int, int]:
    return dict(conn.execute("SELECT id, version FROM pilot").fetchall())


def external_ids(conn: Conn) -> set[str]:
    return {ext for (ext,) in conn.execute("SELECT external_id FROM pilot WHERE external_id IS NOT NULL").fetchall()}


def email_keys(conn: Conn) -> set[str]:
    return {k for (k,) in conn.execute("SELECT email_key FROM person").fetchall()}


# The sequences ids are drawn from, by table.
_SEQUENCES = {"person": "person_id_seq", "pilot": "pilot_id_seq"}


def next_ids(conn: Conn, table: str, n: int) -> list[int]:
    """``n`` new ids for rows of ``table`` (person or pilot)."""
    sequence = _SEQUENCES[table]  # this module's constant, never input
    return [r[0] for r in conn.execute(f"SELECT nextval('{sequence}') FROM range(?)", [n]).fetchall()]


def _insert_select(conn: Conn, frame: pd.DataFrame, sql: str) -> None:
    """Run ``sql`` (which reads ``{rows}``) over ``frame`` registered as a view."""
    conn.register("_import_rows", frame)
    try:
        conn.execute(sql.format(rows="_import_rows"))
    finally:
        conn.unregister("_import_rows")


def insert_viewers(conn: Conn, people: pd.DataFrame) -> None:
    """New active viewers; ``people`` has id, name, email and email_key."""
    _insert_select(conn, people, "INSERT INTO person (id, name, email, email_key, role, active) "
                                 f"SELECT id, name, email, email_key, '{Role.VIEWER.value}', TRUE FROM {{rows}}")


_PILOT_VALUES = (
    "name, business_unit, problem, CAST(start_date AS DATE), CAST(go_no_go_date AS DATE), "
    "CAST(product_owner_id AS INTEGER), CAST(technical_lead_id AS INTEGER), "
    "CAST(executive_sponsor_id AS INTEGER), CAST(operational_owner_id AS INTEGER), "
    "CAST(expected_monthly_volume AS DOUBLE), CAST(expected_monthly_value AS DOUBLE), expected_value_unit"
)


def insert_pilots(conn: Conn, pilots: pd.DataFrame) -> None:
    """New pilots; ``pilots`` has id, external_id, stage, the editable text
    and dates, and the four seats' person ids."""
    _insert_select(
        conn, pilots,
        "INSERT INTO pilot (id, external_id, stage, name, business_unit, problem, start_date, go_no_go_date,"
        " product_owner_id, technical_lead_id, executive_sponsor_id, operational_owner_id,"
        " expected_monthly_volume, expected_monthly_value, expected_value_unit)"
        f" SELECT CAST(id AS INTEGER), external_id, stage, {_PILOT_VALUES} FROM {{rows}}",
    )


def update_pilots(conn: Conn, pilots: pd.DataFrame) -> None:
    """Rewrite the pilots of ``pilots`` (as for insert_pilots). The stage is
    never written here: it moves only through decisions."""
    _insert_select(
        conn, pilots,
        "UPDATE pilot SET name = r.name, business_unit = r.business_unit, problem = r.problem,"
        " start_date = CAST(r.start_date AS DATE), go_no_go_date = CAST(r.go_no_go_date AS DATE),"
        " product_owner_id = r.product_owner_id, technical_lead_id = r.technical_lead_id,"
        " executive_sponsor_id = r.executive_sponsor_id, operational_owner_id = r.operational_owner_id,"
        " expected_monthly_volume = CAST(r.expected_monthly_volume AS DOUBLE),"
        " expected_monthly_value = CAST(r.expected_monthly_value AS DOUBLE),"
        " expected_value_unit = r.expected_value_unit,"
        " version = pilot.version + 1, updated_at = current_timestamp"
        " FROM {rows} r WHERE pilot.id = r.id",
    )


def replace_attributes(conn: Conn, pilot_ids: list[int], names: list[str], attributes: pd.DataFrame) -> None:
    """The attributes ``names`` of the pilots ``pilot_ids`` become those in
    ``attributes`` (pilot_id, name, value): one not there is removed."""
    conn.execute(
        "DELETE FROM pilot_attribute WHERE list_contains(?, pilot_id) AND list_contains(?, name)",
        [pilot_ids, names],
    )
    if len(attributes):
        _insert_select(conn, attributes, "INSERT INTO pilot_attribute (pilot_id, name, value)"
                                         " SELECT CAST(pilot_id AS INTEGER), name, value FROM {rows}")
