"""Reads and writes: ``(conn, ...) -> models or DataFrames``.

Parameterised SQL only. No permission checks here: services.py decides who
may call the writes, and wraps them in one transaction.
"""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pandas as pd

from .models import (
    Criterion,
    CriterionIn,
    Decision,
    NotFound,
    Person,
    PersonIn,
    Pilot,
    PilotIn,
    Seat,
    Stage,
    WeeklyUpdate,
    WeeklyUpdateIn,
)

Conn = duckdb.DuckDBPyConnection

PILOT_COLUMNS = (
    "id, name, business_unit, problem, stage, start_date, go_no_go_date, "
    "product_owner_id, technical_lead_id, executive_sponsor_id, operational_owner_id, version, "
    "bridge_due_date"
)
PERSON_COLUMNS = "id, name, email, role, active"


def _rows(conn: Conn, sql: str, params: list | None = None) -> list[dict]:
    cur = conn.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


# --- people ---------------------------------------------------------------


def list_people(conn: Conn, *, active_only: bool = False) -> list[Person]:
    where = "WHERE active" if active_only else ""
    rows = _rows(conn, f"SELECT {PERSON_COLUMNS} FROM person {where} ORDER BY lower(name), id")
    return [Person(**r) for r in rows]


def get_person(conn: Conn, person_id: int) -> Person:
    rows = _rows(conn, f"SELECT {PERSON_COLUMNS} FROM person WHERE id = ?", [person_id])
    if not rows:
        raise NotFound(f"There is no person with id {person_id}", field="person")
    return Person(**rows[0])


def find_person_by_email(conn: Conn, email: str) -> Person | None:
    rows = _rows(
        conn, f"SELECT {PERSON_COLUMNS} FROM person WHERE email_key = ?", [email.strip().lower()]
    )
    return Person(**rows[0]) if rows else None


def insert_person(conn: Conn, person: PersonIn) -> int:
    return conn.execute(
        "INSERT INTO person (name, email, email_key, role, active) VALUES (?, ?, ?, ?, ?) RETURNING id",
        [person.name, person.email, person.email.lower(), person.role.value, person.active],
    ).fetchone()[0]


def update_person(conn: Conn, person_id: int, person: PersonIn) -> None:
    current = get_person(conn, person_id)
    # Only touch the unique email key when it changes: DuckDB rewrites an
    # indexed column as delete plus insert.
    if current.email.lower() != person.email.lower():
        conn.execute(
            "UPDATE person SET email = ?, email_key = ? WHERE id = ?",
            [person.email, person.email.lower(), person_id],
        )
    elif current.email != person.email:
        conn.execute("UPDATE person SET email = ? WHERE id = ?", [person.email, person_id])
    conn.execute(
        "UPDATE person SET name = ?, role = ?, active = ? WHERE id = ?",
        [person.name, person.role.value, person.active, person_id],
    )


def set_person_active(conn: Conn, person_id: int, active: bool) -> None:
    conn.execute("UPDATE person SET active = ? WHERE id = ?", [active, person_id])


def seats_held(conn: Conn, person_id: int) -> list[tuple[Pilot, Seat]]:
    """Every seat ``person_id`` holds, on pilots of any stage."""
    out = []
    for seat in Seat:
        rows = _rows(
            conn,
            f"SELECT {PILOT_COLUMNS} FROM pilot WHERE {seat.value} = ? ORDER BY name",
            [person_id],
        )
        out.extend((Pilot(**r), seat) for r in rows)
    return out


def live_seat_counts(conn: Conn) -> dict[int, int]:
    """How many seats each person holds on pilots not stopped or retired."""
    rows = conn.execute(
        """
        SELECT person_id, count(*) FROM (
            SELECT unnest([product_owner_id, technical_lead_id, executive_sponsor_id,
                           operational_owner_id]) AS person_id
            FROM pilot WHERE stage NOT IN ('stopped', 'retired')
        ) WHERE person_id IS NOT NULL GROUP BY person_id
        """
    ).fetchall()
    return dict(rows)


# --- pilots ---------------------------------------------------------------


def get_pilot(conn: Conn, pilot_id: int) -> Pilot:
    rows = _rows(conn, f"SELECT {PILOT_COLUMNS} FROM pilot WHERE id = ?", [pilot_id])
    if not rows:
        raise NotFound(f"There is no pilot with id {pilot_id}", field="pilot_id")
    return Pilot(**rows[0])


def list_pilots(conn: Conn) -> list[Pilot]:
    return [Pilot(**r) for r in _rows(conn, f"SELECT {PILOT_COLUMNS} FROM pilot ORDER BY name, id")]


EDITABLE_PILOT_FIELDS = (
    "name", "business_unit", "problem", "start_date", "go_no_go_date",
    "product_owner_id", "technical_lead_id", "executive_sponsor_id", "operational_owner_id",
)


def _pilot_values(pilot: PilotIn) -> list:
    return [getattr(pilot, f) for f in EDITABLE_PILOT_FIELDS]


def insert_pilot(conn: Conn, pilot: PilotIn) -> int:
    cols = ", ".join(("stage",) + EDITABLE_PILOT_FIELDS)
    marks = ", ".join("?" * (1 + len(EDITABLE_PILOT_FIELDS)))
    return conn.execute(
        f"INSERT INTO pilot ({cols}) VALUES ({marks}) RETURNING id",
        [pilot.stage.value, *_pilot_values(pilot)],
    ).fetchone()[0]


def update_pilot_fields(conn: Conn, pilot_id: int, pilot: PilotIn) -> None:
    """Write the editable fields. The stage is not among them: stages move
    only through decisions and the promote and retire actions."""
    sets = ", ".join(f"{f} = ?" for f in EDITABLE_PILOT_FIELDS)
    conn.execute(
        f"UPDATE pilot SET {sets}, version = version + 1, updated_at = current_timestamp WHERE id = ?",
        [*_pilot_values(pilot), pilot_id],
    )


def pilots_frame(conn: Conn) -> pd.DataFrame:
    """Every pilot with its seat holders' names, for tables and charts."""
    return conn.execute(
        """
        SELECT p.id, p.name, p.business_unit, p.stage, p.start_date, p.go_no_go_date,
               po.name AS product_owner, tl.name AS technical_lead,
               es.name AS executive_sponsor, oo.name AS operational_owner
        FROM pilot p
        LEFT JOIN person po ON po.id = p.product_owner_id
        LEFT JOIN person tl ON tl.id = p.technical_lead_id
        LEFT JOIN person es ON es.id = p.executive_sponsor_id
        LEFT JOIN person oo ON oo.id = p.operational_owner_id
        ORDER BY p.name, p.id
        """
    ).df()


# --- weekly updates -------------------------------------------------------


def next_revision(conn: Conn, pilot_id: int, week: date) -> int:
    return conn.execute(
        "SELECT coalesce(max(revision), 0) + 1 FROM weekly_update WHERE pilot_id = ? AND week_start = ?",
        [pilot_id, week],
    ).fetchone()[0]


def insert_update(
    conn: Conn, update: WeeklyUpdateIn, *, week: date, posted_on: date, author_id: int | None
) -> int:
    revision = next_revision(conn, update.pilot_id, week)
    return conn.execute(
        "INSERT INTO weekly_update (pilot_id, week_start, revision, posted_on, health, summary,"
        " blockers, next_steps, author_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [
            update.pilot_id,
            week,
            revision,
            posted_on,
            update.health.value,
            update.summary,
            update.blockers,
            update.next_steps,
            author_id,
        ],
    ).fetchone()[0]


def list_updates(
    conn: Conn, pilot_id: int, *, as_of: date | None = None, with_history: bool = False
) -> list[WeeklyUpdate]:
    """The pilot's weekly updates, newest week first. Without history, only
    the latest revision of each week; with it, every revision."""
    latest = (
        "" if with_history else
        " AND u.revision = (SELECT max(revision) FROM weekly_update x"
        " WHERE x.pilot_id = u.pilot_id AND x.week_start = u.week_start"
        + (" AND x.posted_on <= ?" if as_of else "") + ")"
    )
    params: list = [pilot_id]
    where_as_of = ""
    if as_of:
        where_as_of = " AND u.posted_on <= ?"
        params.append(as_of)
        if not with_history:
            params.append(as_of)
    rows = _rows(
        conn,
        "SELECT u.id, u.pilot_id, u.week_start, u.revision, u.posted_on, u.health, u.summary,"
        " u.blockers, u.next_steps, u.author_id, a.name AS author_name, u.created_at"
        " FROM weekly_update u LEFT JOIN person a ON a.id = u.author_id"
        f" WHERE u.pilot_id = ?{where_as_of}{latest}"
        " ORDER BY u.week_start DESC, u.revision DESC",
        params,
    )
    return [WeeklyUpdate(**r) for r in rows]


def weeks_with_update(conn: Conn, week: date, as_of: date) -> set[int]:
    """Pilots with an update for the ISO week starting ``week`` posted by ``as_of``."""
    rows = conn.execute(
        "SELECT DISTINCT pilot_id FROM weekly_update WHERE week_start = ? AND posted_on <= ?", [week, as_of]
    ).fetchall()
    return {r[0] for r in rows}


# --- the facts the flags are computed from --------------------------------


def pilot_facts(conn: Conn, as_of: date, red_window: int) -> pd.DataFrame:
    """One row per pilot with everything the flag rules read, as it stood on
    ``as_of``: one query for the whole portfolio.

    ``red_streak`` counts the red weeks in a row ending with the latest week
    (looking back at most ``red_window`` weeks); only updates posted on or
    before ``as_of`` count, and of each week only its latest revision.
    """
    return conn.execute(
        """
        WITH upd AS (
            SELECT pilot_id, week_start, posted_on, health,
                   row_number() OVER (PARTITION BY pilot_id, week_start
                                      ORDER BY revision DESC) AS rev_rank
            FROM weekly_update WHERE posted_on <= $as_of
        ),
        weekly AS (
            SELECT pilot_id, week_start, posted_on, health,
                   row_number() OVER (PARTITION BY pilot_id ORDER BY week_start DESC) AS week_rank
            FROM upd WHERE rev_rank = 1
        ),
        agg AS (
            SELECT pilot_id,
                   -- weeks, newest first, until the first non-red one
                   coalesce(
                       min(week_rank) FILTER (WHERE health <> 'red') - 1,
                       count(*)
                   ) AS red_streak_raw
            FROM weekly WHERE week_rank <= $red_window
            GROUP BY pilot_id
        ),
        last_posted AS (
            SELECT pilot_id, max(posted_on) AS last_update
            FROM weekly_update WHERE posted_on <= $as_of GROUP BY pilot_id
        ),
        extensions AS (
            SELECT pilot_id, count(*) AS extensions
            FROM decision d
            WHERE kind = 'extend' AND decided_on <= $as_of
              AND NOT EXISTS (SELECT 1 FROM decision s WHERE s.supersedes_id = d.id AND s.decided_on <= $as_of)
            GROUP BY pilot_id
        ),
        criteria AS (
            SELECT pilot_id, count(*) AS criteria_count FROM criterion WHERE NOT removed GROUP BY pilot_id
        ),
        late_change AS (
            SELECT pilot_id, changed_on AS criteria_changed_on, changed_by AS criteria_changed_by_id,
                   row_number() OVER (PARTITION BY pilot_id ORDER BY changed_on DESC, id DESC) AS rn
            FROM criteria_change WHERE after_kickoff AND changed_on <= $as_of
        )
        SELECT p.id AS pilot_id, p.name AS pilot, p.business_unit, p.stage,
               p.start_date, p.go_no_go_date,
               p.product_owner_id, po.name AS product_owner, po.active AS product_owner_active,
               p.technical_lead_id, tl.active AS technical_lead_active,
               p.executive_sponsor_id, es.active AS executive_sponsor_active,
               p.operational_owner_id, oo.active AS operational_owner_active,
               lp.last_update,
               coalesce(a.red_streak_raw, 0) AS red_streak,
               coalesce(x.extensions, 0) AS extensions,
               p.bridge_due_date,
               coalesce(cr.criteria_count, 0) AS criteria_count,
               lc.criteria_changed_on, cb.name AS criteria_changed_by
        FROM pilot p
        LEFT JOIN person po ON po.id = p.product_owner_id
        LEFT JOIN person tl ON tl.id = p.technical_lead_id
        LEFT JOIN person es ON es.id = p.executive_sponsor_id
        LEFT JOIN person oo ON oo.id = p.operational_owner_id
        LEFT JOIN agg a ON a.pilot_id = p.id
        LEFT JOIN last_posted lp ON lp.pilot_id = p.id
        LEFT JOIN extensions x ON x.pilot_id = p.id
        LEFT JOIN criteria cr ON cr.pilot_id = p.id
        LEFT JOIN late_change lc ON lc.pilot_id = p.id AND lc.rn = 1
        LEFT JOIN person cb ON cb.id = lc.criteria_changed_by_id
        ORDER BY p.id
        """,
        {"as_of": as_of, "red_window": red_window},
    ).df()


# --- criteria -------------------------------------------------------------

CRITERION_COLUMNS = "id, pilot_id, statement, status, evidence, version"


def list_criteria(conn: Conn, pilot_id: int) -> list[Criterion]:
    rows = _rows(
        conn,
        f"SELECT {CRITERION_COLUMNS} FROM criterion WHERE pilot_id = ? AND NOT removed ORDER BY id",
        [pilot_id],
    )
    return [Criterion(**r) for r in rows]


def get_criterion(conn: Conn, criterion_id: int) -> Criterion:
    rows = _rows(conn, f"SELECT {CRITERION_COLUMNS} FROM criterion WHERE id = ? AND NOT removed",
                 [criterion_id])
    if not rows:
        raise NotFound(f"There is no criterion with id {criterion_id}", field="criterion")
    return Criterion(**rows[0])


def insert_criterion(conn: Conn, pilot_id: int, criterion: CriterionIn) -> int:
    return conn.execute(
        "INSERT INTO criterion (pilot_id, statement, status, evidence) VALUES (?, ?, ?, ?) RETURNING id",
        [pilot_id, criterion.statement, criterion.status.value, criterion.evidence],
    ).fetchone()[0]


def update_criterion(conn: Conn, criterion_id: int, criterion: CriterionIn) -> None:
    conn.execute(
        "UPDATE criterion SET statement = ?, status = ?, evidence = ?, version = version + 1 WHERE id = ?",
        [criterion.statement, criterion.status.value, criterion.evidence, criterion_id],
    )


def remove_criterion(conn: Conn, criterion_id: int) -> None:
    conn.execute("UPDATE criterion SET removed = TRUE, version = version + 1 WHERE id = ?", [criterion_id])


def record_criteria_change(
    conn: Conn, pilot_id: int, criterion_id: int, action: str, before: str | None, after: str | None,
    changed_on: date, changed_by: int | None, after_kickoff: bool,
) -> None:
    conn.execute(
        "INSERT INTO criteria_change (pilot_id, criterion_id, action, before, after, changed_on,"
        " changed_by, after_kickoff) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [pilot_id, criterion_id, action, before, after, changed_on, changed_by, after_kickoff],
    )


def criteria_changes(conn: Conn, pilot_id: int) -> pd.DataFrame:
    return conn.execute(
        "SELECT c.changed_on, c.action, c.before, c.after, p.name AS changed_by, c.after_kickoff"
        " FROM criteria_change c LEFT JOIN person p ON p.id = c.changed_by"
        " WHERE c.pilot_id = ? ORDER BY c.created_at DESC, c.id DESC",
        [pilot_id],
    ).df()


# --- decisions ------------------------------------------------------------


def insert_decision(conn: Conn, values: dict) -> int:
    cols = ", ".join(values)
    marks = ", ".join("?" * len(values))
    return conn.execute(
        f"INSERT INTO decision ({cols}) VALUES ({marks}) RETURNING id", list(values.values())
    ).fetchone()[0]


def list_decisions(conn: Conn, pilot_id: int | None = None) -> list[Decision]:
    where, params = ("WHERE d.pilot_id = ?", [pilot_id]) if pilot_id is not None else ("", [])
    rows = _rows(
        conn,
        "SELECT d.*, p.name AS decided_by_name,"
        " (SELECT max(s.id) FROM decision s WHERE s.supersedes_id = d.id) AS superseded_by"
        f" FROM decision d LEFT JOIN person p ON p.id = d.decided_by {where}"
        " ORDER BY d.decided_on DESC, d.id DESC",
        params,
    )
    for r in rows:
        r["criteria_snapshot"] = json.loads(r["criteria_snapshot"])
        r.pop("recorded_by", None)
    return [Decision(**r) for r in rows]


def set_pilot_state(
    conn: Conn, pilot_id: int, *, stage: Stage, go_no_go_date: date | None, bridge_due_date: date | None
) -> None:
    conn.execute(
        "UPDATE pilot SET stage = ?, go_no_go_date = ?, bridge_due_date = ?, version = version + 1,"
        " updated_at = current_timestamp WHERE id = ?",
        [stage.value, go_no_go_date, bridge_due_date, pilot_id],
    )


def record_stage_event(
    conn: Conn, pilot_id: int, action: str, before: Stage, after: Stage, on: date,
    actor_id: int | None, override_reason: str = "", note: str = "",
) -> None:
    conn.execute(
        "INSERT INTO stage_event (pilot_id, action, stage_before, stage_after, happened_on, actor_id,"
        " override_reason, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [pilot_id, action, before.value, after.value, on, actor_id, override_reason, note],
    )


def stage_events(conn: Conn, pilot_id: int) -> pd.DataFrame:
    return conn.execute(
        "SELECT e.happened_on, e.action, e.stage_before, e.stage_after, p.name AS actor,"
        " e.override_reason, e.note FROM stage_event e LEFT JOIN person p ON p.id = e.actor_id"
        " WHERE e.pilot_id = ? ORDER BY e.created_at DESC, e.id DESC",
        [pilot_id],
    ).df()


# --- the bridge checklist -------------------------------------------------


def bridge_checklist(conn: Conn, pilot_id: int) -> dict[str, dict]:
    rows = _rows(conn, "SELECT item, done, note FROM bridge_check WHERE pilot_id = ?", [pilot_id])
    return {r["item"]: r for r in rows}


def set_bridge_item(conn: Conn, pilot_id: int, item: str, done: bool, note: str, by: int | None) -> None:
    conn.execute(
        "INSERT INTO bridge_check (pilot_id, item, done, note, updated_by) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (pilot_id, item) DO UPDATE SET done = excluded.done, note = excluded.note,"
        " updated_by = excluded.updated_by, updated_at = now()::TIMESTAMP",
        [pilot_id, item, done, note, by],
    )


def decision_outcomes(conn: Conn, as_of: date) -> pd.DataFrame:
    """Per pilot, from the decisions in force on ``as_of`` (made by then and
    not superseded by then): its go or no-go verdict and date, if any, and
    how many times it was extended."""
    return conn.execute(
        """
        WITH eff AS (
            SELECT d.* FROM decision d
            WHERE d.decided_on <= $as_of AND NOT EXISTS (
                SELECT 1 FROM decision s WHERE s.supersedes_id = d.id AND s.decided_on <= $as_of)
        ),
        verdict AS (
            SELECT pilot_id, kind AS verdict, decided_on AS verdict_on,
                   row_number() OVER (PARTITION BY pilot_id ORDER BY decided_on DESC, id DESC) AS rn
            FROM eff WHERE kind IN ('go', 'no_go')
        ),
        ext AS (SELECT pilot_id, count(*) AS extensions FROM eff WHERE kind = 'extend' GROUP BY pilot_id)
        SELECT p.id, v.verdict, v.verdict_on, coalesce(ext.extensions, 0) AS extensions
        FROM pilot p
        LEFT JOIN verdict v ON v.pilot_id = p.id AND v.rn = 1
        LEFT JOIN ext ON ext.pilot_id = p.id
        """,
        {"as_of": as_of},
    ).df()
