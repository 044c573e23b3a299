"""Reads and writes: ``(conn, ...) -> models or DataFrames``.

Parameterised SQL only. No permission checks here: the services decide who
may call the writes, and wraps them in one transaction.
"""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING

import duckdb

from portfolio.domain.errors import NotFound
from portfolio.domain.models import (
    Criterion,
    CriterionIn,
    Decision,
    Kpi,
    KpiIn,
    Person,
    PersonIn,
    Pilot,
    PilotIn,
    Privilege,
    PrivilegeIn,
    ReadingIn,
    WeeklyUpdate,
    WeeklyUpdateIn,
)
from portfolio.domain.vocabulary import Disposition, ReadinessStatus, Role, Seat, Stage
from portfolio.storage import summaries

if TYPE_CHECKING:  # the frames come from DuckDB's .df(); the reads that give none load no pandas
    import pandas as pd

Conn = duckdb.DuckDBPyConnection

PILOT_COLUMNS = (
    "id, name, business_unit, problem, stage, start_date, go_no_go_date, "
    "product_owner_id, technical_lead_id, executive_sponsor_id, operational_owner_id, version, "
    "bridge_due_date, expected_monthly_volume, expected_monthly_value, coalesce(expected_value_unit, '') AS "
    "expected_value_unit, archived"
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
    # Rows the database holds were validated on the way in: built without
    # validating again (thousands of people on every page run).
    return [Person.model_construct(**(r | {"role": Role(r["role"])})) for r in rows]


def active_ids_of_role(conn: Conn, role: Role) -> list[int]:
    """The ids of the active people of ``role``, by name (as list_people orders them)."""
    return [r[0] for r in conn.execute("SELECT id FROM person WHERE active AND role = ? ORDER BY lower(name), id",
                                       [role.value]).fetchall()]


def active_people_choices(conn: Conn) -> list[tuple[int, str, str, str]]:
    """(id, name, lower-cased email, role) of every active person, by name."""
    return conn.execute(
        "SELECT id, name, email_key, role FROM person WHERE active ORDER BY lower(name), id").fetchall()


def person_names(conn: Conn) -> dict[int, str]:
    """Every person's name by id, archived pilots' people included."""
    return dict(conn.execute("SELECT id, name FROM person").fetchall())


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
    """Every seat ``person_id`` holds, on pilots of any stage, seat by seat
    (in the order of Seat), each seat's pilots by name: one query."""
    seats = list(Seat)
    held = " UNION ALL ".join(
        f"SELECT {PILOT_COLUMNS}, {i} AS seat FROM pilot WHERE {seat.value} = $person"
        for i, seat in enumerate(seats)
    )
    rows = _rows(conn, f"SELECT * FROM ({held}) ORDER BY seat, name", {"person": person_id})
    return [(Pilot(**r), seats[r.pop("seat")]) for r in rows]



def hand_over_seat(conn: Conn, pilot_id: int, seat: Seat, holder_id: int, to_id: int) -> bool:
    """Give ``seat`` on the pilot to ``to_id`` if ``holder_id`` still holds
    it; whether it moved."""
    # ``seat`` is a Seat, so the column name comes from the enum.
    return conn.execute(
        f"UPDATE pilot SET {seat.value} = ?, version = version + 1, updated_at = current_timestamp"
        f" WHERE id = ? AND {seat.value} = ? RETURNING id",
        [to_id, pilot_id, holder_id],
    ).fetchone() is not None

def live_seat_counts(conn: Conn) -> dict[int, int]:
    """How many seats each person holds on pilots not stopped or retired."""
    rows = conn.execute(
        """
        SELECT person_id, count(*) FROM (
            SELECT unnest([product_owner_id, technical_lead_id, executive_sponsor_id,
                           operational_owner_id]) AS person_id
            FROM pilot WHERE stage NOT IN ('stopped', 'retired') AND NOT archived
        ) WHERE person_id IS NOT NULL GROUP BY person_id
        """
    ).fetchall()
    return dict(rows)


# --- pilots ---------------------------------------------------------------


def pilot_names(conn: Conn) -> dict[int, str]:
    """Every pilot's name by id, archived ones included."""
    return dict(conn.execute("SELECT id, name FROM pilot").fetchall())


def pilot_choices(conn: Conn) -> list[tuple[int, str, bool]]:
    """(id, name, archived) of every pilot: the portfolio's by name, then the
    archived ones by name (as ``list_pilots`` gives each)."""
    return conn.execute("SELECT id, name, archived FROM pilot ORDER BY archived, name, id").fetchall()


def get_pilot(conn: Conn, pilot_id: int) -> Pilot:
    rows = _rows(conn, f"SELECT {PILOT_COLUMNS} FROM pilot WHERE id = ?", [pilot_id])
    if not rows:
        raise NotFound(f"There is no pilot with id {pilot_id}", field="pilot_id")
    return Pilot(**rows[0])


def list_pilots(conn: Conn, *, archived: bool = False) -> list[Pilot]:
    """The portfolio's pilots; with ``archived``, the archived ones instead."""
    return [Pilot(**r) for r in _rows(
        conn, f"SELECT {PILOT_COLUMNS} FROM pilot WHERE archived = ? ORDER BY name, id", [archived])]


EDITABLE_PILOT_FIELDS = (
    "name", "business_unit", "problem", "start_date", "go_no_go_date",
    "product_owner_id", "technical_lead_id", "executive_sponsor_id", "operational_owner_id",
    "expected_monthly_volume", "expected_monthly_value", "expected_value_unit",
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



def set_pilot_archived(conn: Conn, pilot_id: int, archived: bool) -> None:
    conn.execute("UPDATE pilot SET archived = ?, version = version + 1, updated_at = current_timestamp"
                 " WHERE id = ? AND archived <> ?", [archived, pilot_id, archived])

def pilots_frame(conn: Conn) -> pd.DataFrame:
    """Every pilot with its seat holders' names, for tables and charts."""
    return conn.execute(
        """
        SELECT p.id, p.name, p.business_unit, p.stage, p.start_date, p.go_no_go_date, p.bridge_due_date,
               po.name AS product_owner, tl.name AS technical_lead,
               es.name AS executive_sponsor, oo.name AS operational_owner
        FROM pilot p
        LEFT JOIN person po ON po.id = p.product_owner_id
        LEFT JOIN person tl ON tl.id = p.technical_lead_id
        LEFT JOIN person es ON es.id = p.executive_sponsor_id
        LEFT JOIN person oo ON oo.id = p.operational_owner_id
        WHERE NOT p.archived
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
    # The earlier revisions of the week stop being its latest from this day
    # (or from the earlier day a later revision was posted, as the migration
    # that added the column computed it: the first day any later one counts).
    conn.execute(
        "UPDATE weekly_update SET superseded_on = least(coalesce(superseded_on, $on), $on)"
        " WHERE pilot_id = $pilot AND week_start = $week AND revision < $revision",
        {"on": posted_on, "pilot": update.pilot_id, "week": week, "revision": revision},
    )
    update_id = conn.execute(
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
    summaries.add_update(conn, update.pilot_id, week, update.health.value, posted_on)  # in the update's transaction
    return update_id



def update_revision(conn: Conn, update_id: int) -> int:
    return conn.execute("SELECT revision FROM weekly_update WHERE id = ?", [update_id]).fetchone()[0]

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


# --- criteria -------------------------------------------------------------

CRITERION_COLUMNS = "id, pilot_id, statement, status, evidence, version, kpi_id"


def list_criteria(conn: Conn, pilot_id: int, as_of: date | None = None) -> list[Criterion]:
    """The pilot's criteria. One tied to a KPI takes its status from the
    KPI's latest reading (by ``as_of`` when given) against its target, and
    says so in its evidence."""
    rows = _rows(
        conn,
        f"SELECT {CRITERION_COLUMNS} FROM criterion WHERE pilot_id = ? AND NOT removed ORDER BY id",
        [pilot_id],
    )
    tied = {k.id: k for k in list_kpis(conn, pilot_id, as_of)} if any(r["kpi_id"] for r in rows) else {}
    for r in rows:
        kpi = tied.get(r["kpi_id"])
        if kpi is None:
            continue
        met = kpi.meets(kpi.latest_value)
        r["status"] = "unknown" if met is None else ("met" if met else "not_met")
        r["evidence"] = (
            f"{kpi.describe(kpi.latest_value)} on {kpi.latest_on}" if kpi.latest_value is not None
            else f"no reading of {kpi.name} yet"
        )
    return [Criterion(**r) for r in rows]


def stored_criteria(conn: Conn, pilot_id: int) -> dict[int, Criterion]:
    """The pilot's criteria by id as stored: a criterion tied to a KPI with
    its own status and evidence, not the KPI's (``list_criteria`` shows
    those). One read for them all."""
    rows = _rows(
        conn,
        f"SELECT {CRITERION_COLUMNS} FROM criterion WHERE pilot_id = ? AND NOT removed ORDER BY id",
        [pilot_id],
    )
    return {r["id"]: Criterion(**r) for r in rows}


def insert_criterion(conn: Conn, pilot_id: int, criterion: CriterionIn) -> int:
    return conn.execute(
        "INSERT INTO criterion (pilot_id, statement, status, evidence, kpi_id) VALUES (?, ?, ?, ?, ?)"
        " RETURNING id",
        [pilot_id, criterion.statement, criterion.status.value, criterion.evidence, criterion.kpi_id],
    ).fetchone()[0]


def update_criterion(conn: Conn, criterion_id: int, criterion: CriterionIn) -> None:
    conn.execute(
        "UPDATE criterion SET statement = ?, status = ?, evidence = ?, kpi_id = ?, version = version + 1"
        " WHERE id = ?",
        [criterion.statement, criterion.status.value, criterion.evidence, criterion.kpi_id, criterion_id],
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



def start_clock(conn: Conn, pilot_id: int, start: date, go_no_go_date: date) -> None:
    """A proposed pilot becomes a pilot whose clock starts on ``start``."""
    conn.execute(
        "UPDATE pilot SET stage = ?, start_date = ?, go_no_go_date = ?, version = version + 1,"
        " updated_at = current_timestamp WHERE id = ? AND stage = ?",
        [Stage.PILOT.value, start, go_no_go_date, pilot_id, Stage.PROPOSED.value],
    )

def record_stage_event(
    conn: Conn, pilot_id: int, action: str, before: Stage, after: Stage, on: date,
    actor_id: int | None, override_reason: str = "", note: str = "",
) -> int:
    return conn.execute(
        "INSERT INTO stage_event (pilot_id, action, stage_before, stage_after, happened_on, actor_id,"
        " override_reason, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [pilot_id, action, before.value, after.value, on, actor_id, override_reason, note],
    ).fetchone()[0]


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


def bridge_pilots(conn: Conn, pilot_ids: list[int]) -> list[tuple[Pilot, bool | None, dict[str, dict]]]:
    """The pilots of ``pilot_ids``, in that order, each with whether its
    operational owner is active (None: no such person) and its bridge
    checklist as ``bridge_checklist`` gives it: one read for them all. A
    pilot that does not exist is left out."""
    if not pilot_ids:
        return []
    rows = _rows(
        conn,
        f"""
        SELECT p.*, oo.active AS operational_owner_active,
               (SELECT list(struct_pack(item := b.item, done := b.done, note := b.note))
                FROM bridge_check b WHERE b.pilot_id = p.id) AS checklist
        FROM (SELECT {PILOT_COLUMNS} FROM pilot WHERE list_contains($ids, id)) p
        LEFT JOIN person oo ON oo.id = p.operational_owner_id
        ORDER BY list_position($ids, p.id)
        """,
        {"ids": list(pilot_ids)},
    )
    out = []
    for r in rows:
        active, checklist = r.pop("operational_owner_active"), r.pop("checklist") or []
        out.append((Pilot(**r), active, {item["item"]: item for item in checklist}))
    return out


def set_bridge_item(conn: Conn, pilot_id: int, item: str, done: bool, note: str, by: int | None) -> None:
    conn.execute(
        "INSERT INTO bridge_check (pilot_id, item, done, note, updated_by) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (pilot_id, item) DO UPDATE SET done = excluded.done, note = excluded.note,"
        " updated_by = excluded.updated_by, updated_at = now()::TIMESTAMP",
        [pilot_id, item, done, note, by],
    )


# Per pilot (not archived), from the decisions in force on $as_of: its
# latest go or no-go verdict and its day, if any, and its extensions.
_OUTCOMES_SQL = """
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
    WHERE NOT p.archived
"""


def decision_outcomes(conn: Conn, as_of: date) -> pd.DataFrame:
    """Per pilot, from the decisions in force on ``as_of`` (made by then and
    not superseded by then): its go or no-go verdict and date, if any, and
    how many times it was extended."""
    return conn.execute(_OUTCOMES_SQL, {"as_of": as_of}).df()


def decision_counts(conn: Conn, as_of: date) -> dict[str, int | float | None]:
    """What the decision numbers are computed from, over the pilots not
    archived, counted in the database from ``decision_outcomes``' rows:
    pilots with a go and with a no-go verdict, the median days from start
    to verdict (None without one), the extensions, the pilots started by
    ``as_of``, and the pilots on the clock (stage pilot)."""
    go, no_go, median_days, extensions, started, on_the_clock = conn.execute(
        f"""
        SELECT count(*) FILTER (WHERE o.verdict = 'go'), count(*) FILTER (WHERE o.verdict = 'no_go'),
               median(date_diff('day', p.start_date, o.verdict_on)), coalesce(sum(o.extensions), 0),
               count(*) FILTER (WHERE p.start_date <= $as_of), count(*) FILTER (WHERE p.stage = 'pilot')
        FROM ({_OUTCOMES_SQL}) o JOIN pilot p ON p.id = o.id
        """, {"as_of": as_of}).fetchone()
    return {"go": go, "no_go": no_go, "median_days": None if median_days is None else float(median_days),
            "extensions": int(extensions), "started": started, "on_the_clock": on_the_clock}


# --- borrowed privileges --------------------------------------------------


def list_privileges(conn: Conn, pilot_id: int) -> list[Privilege]:
    """Every borrowed privilege of the pilot as it is now."""
    rows = _rows(
        conn,
        "SELECT v.id, v.pilot_id, v.kind, v.description, v.granted_by, v.since, v.expires, v.disposition,"
        " v.decided_by, p.name AS decided_by_name, v.decided_on, v.note, v.version,"
        " v.revoked_on, v.revoked_by, r.name AS revoked_by_name, v.revocation_evidence"
        " FROM privilege v LEFT JOIN person p ON p.id = v.decided_by LEFT JOIN person r ON r.id = v.revoked_by"
        " WHERE v.pilot_id = ? ORDER BY v.id",
        [pilot_id],
    )
    return [Privilege(**r) for r in rows]


def insert_privilege(conn: Conn, pilot_id: int, privilege: PrivilegeIn) -> int:
    return conn.execute(
        "INSERT INTO privilege (pilot_id, kind, description, granted_by, since, expires)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        [pilot_id, privilege.kind.value, privilege.description, privilege.granted_by, privilege.since,
         privilege.expires],
    ).fetchone()[0]


def decide_privilege(conn: Conn, privilege_id: int, disposition: Disposition, by: int | None, on: date,
                     note: str) -> None:
    conn.execute(
        "UPDATE privilege SET disposition = ?, decided_by = ?, decided_on = ?, note = ?, version = version + 1"
        " WHERE id = ?",
        [disposition.value, by if disposition != Disposition.UNDECIDED else None,
         on if disposition != Disposition.UNDECIDED else None, note, privilege_id],
    )


def privilege_pilot(conn: Conn, privilege_id: int) -> int | None:
    """The pilot the privilege was borrowed for (None: no such privilege)."""
    row = conn.execute("SELECT pilot_id FROM privilege WHERE id = ?", [privilege_id]).fetchone()
    return row[0] if row else None


def privilege_disposition(conn: Conn, privilege_id: int) -> tuple[str, str] | None:
    """The privilege's disposition and note as stored."""
    return conn.execute("SELECT disposition, note FROM privilege WHERE id = ?", [privilege_id]).fetchone()


def privileges_frame(conn: Conn) -> pd.DataFrame:
    """Every borrowed privilege with its pilot, for the portfolio view."""
    return conn.execute(
        "SELECT v.id, v.pilot_id, p.name AS pilot, p.stage, v.kind, v.description, v.disposition,"
        " v.expires, p.go_no_go_date FROM privilege v JOIN pilot p ON p.id = v.pilot_id WHERE NOT p.archived"
        " ORDER BY p.name, v.id"
    ).df()


# --- KPIs and readings ----------------------------------------------------


def list_kpis(conn: Conn, pilot_id: int, as_of: date | None = None) -> list[Kpi]:
    """The pilot's KPIs, each with its latest reading (by ``as_of`` if given)."""
    rows = _rows(
        conn,
        """
        SELECT k.id, k.pilot_id, k.name, k.category, k.unit, k.direction, k.baseline, k.baseline_on, k.target,
               k.horizon_days, k.production, k.version, r.value AS latest_value, r.reading_on AS latest_on
        FROM kpi k
        LEFT JOIN (
            SELECT kpi_id, value, reading_on,
                   row_number() OVER (PARTITION BY kpi_id ORDER BY reading_on DESC, id DESC) AS rn
            FROM kpi_reading WHERE pilot_id = $pilot AND reading_on <= coalesce($as_of, DATE '2199-12-31')
        ) r ON r.kpi_id = k.id AND r.rn = 1
        WHERE k.pilot_id = $pilot ORDER BY k.production DESC, k.id
        """,
        {"pilot": pilot_id, "as_of": as_of},
    )
    return [Kpi(**r) for r in rows]


def get_kpi(conn: Conn, kpi_id: int) -> Kpi:
    row = conn.execute("SELECT pilot_id FROM kpi WHERE id = ?", [kpi_id]).fetchone()
    if not row:
        raise NotFound(f"There is no KPI with id {kpi_id}", field="kpi_id")
    return next(k for k in list_kpis(conn, row[0]) if k.id == kpi_id)



def kpi_ids(conn: Conn, pilot_id: int) -> set[int]:
    return {row[0] for row in conn.execute("SELECT id FROM kpi WHERE pilot_id = ?", [pilot_id]).fetchall()}

def insert_kpi(conn: Conn, pilot_id: int, kpi: KpiIn) -> int:
    return conn.execute(
        "INSERT INTO kpi (pilot_id, name, category, unit, direction, baseline, baseline_on, target, horizon_days,"
        " production) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [pilot_id, kpi.name, kpi.category.value, kpi.unit, kpi.direction.value, kpi.baseline, kpi.baseline_on,
         kpi.target, kpi.horizon_days, kpi.production],
    ).fetchone()[0]


def update_kpi(conn: Conn, kpi_id: int, kpi: KpiIn) -> None:
    conn.execute(
        "UPDATE kpi SET name = ?, category = ?, unit = ?, direction = ?, baseline = ?, baseline_on = ?, target = ?,"
        " horizon_days = ?, production = ?, version = version + 1 WHERE id = ?",
        [kpi.name, kpi.category.value, kpi.unit, kpi.direction.value, kpi.baseline, kpi.baseline_on, kpi.target,
         kpi.horizon_days, kpi.production, kpi_id],
    )


def insert_reading(conn: Conn, pilot_id: int, reading: ReadingIn, by: int | None) -> int:
    reading_id = conn.execute(
        "INSERT INTO kpi_reading (kpi_id, pilot_id, reading_on, value, note, recorded_by)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        [reading.kpi_id, pilot_id, reading.reading_on, reading.value, reading.note, by],
    ).fetchone()[0]
    summaries.add_reading(conn, reading_id)  # in the reading's transaction
    return reading_id



def reading_recorded(conn: Conn, reading: ReadingIn) -> bool:
    """Whether the same KPI already has this value on this day."""
    return conn.execute("SELECT 1 FROM kpi_reading WHERE kpi_id = ? AND reading_on = ? AND value = ?",
                        [reading.kpi_id, reading.reading_on, reading.value]).fetchone() is not None

def readings_frame(conn: Conn, pilot_id: int, as_of: date | None = None) -> pd.DataFrame:
    return conn.execute(
        "SELECT kpi_id, reading_on, value, note FROM kpi_reading WHERE pilot_id = ?"
        " AND reading_on <= coalesce(?, DATE '2199-12-31') ORDER BY kpi_id, reading_on, id",
        [pilot_id, as_of],
    ).df()


def monthly_costs(conn: Conn, as_of: date, pilot_id: int | None = None, *, from_history: bool = False
                  ) -> pd.DataFrame:
    """Per pilot with an expected volume and a cost-per-transaction KPI read
    by ``as_of``: that KPI's latest reading times the monthly volume. Where a
    pilot has several cost KPIs, its first production one counts. With the
    pilot's business unit and expected value, for weighing the two.
    ``pilot_id`` narrows it to one pilot. The latest reading comes from the
    kept summary where it holds on ``as_of`` (``summaries.hold``), else
    from the readings themselves (always with ``from_history``)."""
    kept = not from_history and summaries.hold(conn, as_of, pilot_id)
    params: dict = {"pilot": pilot_id} if kept else {"pilot": pilot_id, "as_of": as_of}
    latest = (f"SELECT c.pilot_id, c.unit, r.value FROM cost_kpi c"
              f" JOIN ({summaries.latest_readings(kept)}) r ON r.kpi_id = c.id")
    return conn.execute(
        f"""
        WITH cost_kpi AS (
            SELECT pilot_id, arg_min(id, CASE WHEN production THEN 0 ELSE 4294967296 END + id) AS id,
                   arg_min(unit, CASE WHEN production THEN 0 ELSE 4294967296 END + id) AS unit
            FROM kpi WHERE category = 'cost_per_transaction' AND ($pilot IS NULL OR pilot_id = $pilot)
            GROUP BY pilot_id
        ),
        latest AS ({latest})
        SELECT p.id, p.name, p.stage, p.expected_monthly_volume, l.value AS cost_per_transaction, l.unit,
               l.value * p.expected_monthly_volume AS monthly_cost,
               p.business_unit, p.expected_monthly_value, p.expected_value_unit
        FROM pilot p JOIN latest l ON l.pilot_id = p.id
        WHERE p.expected_monthly_volume IS NOT NULL AND NOT p.archived
        ORDER BY monthly_cost DESC, p.id
        """,
        params,
    ).df()


# --- readiness ------------------------------------------------------------


def readiness_items(conn: Conn, *, active_only: bool = True) -> list[dict]:
    where = "WHERE active" if active_only else ""
    return _rows(conn, f"SELECT key, dimension, label, required_for_go, position, active FROM readiness_item"
                       f" {where} ORDER BY position, key")


def upsert_readiness_item(conn: Conn, item, position: int) -> None:
    conn.execute(
        "INSERT INTO readiness_item (key, dimension, label, required_for_go, position, active)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET dimension = excluded.dimension,"
        " label = excluded.label, required_for_go = excluded.required_for_go, active = excluded.active",
        [item.key, item.dimension, item.label, item.required_for_go, position, item.active],
    )


def pilot_readiness(conn: Conn, pilot_id: int) -> list[dict]:
    """Every active checklist item with the pilot's status (not started
    where nothing was recorded) and evidence."""
    return _rows(
        conn,
        "SELECT i.key, i.dimension, i.label, i.required_for_go, coalesce(r.status, 'not_started') AS status,"
        " coalesce(r.evidence, '') AS evidence, coalesce(r.version, 0) AS version FROM readiness_item i"
        " LEFT JOIN readiness r ON r.item_key = i.key AND r.pilot_id = ? WHERE i.active ORDER BY i.position, i.key",
        [pilot_id],
    )


def readiness_recorded(conn: Conn, pilot_id: int) -> dict[str, tuple[str, str]]:
    """The pilot's recorded readiness, (status, evidence) by item key: one
    read for the whole checklist (an item never recorded is absent)."""
    rows = conn.execute("SELECT item_key, status, evidence FROM readiness WHERE pilot_id = ?",
                        [pilot_id]).fetchall()
    return {key: (status, evidence) for key, status, evidence in rows}


def set_readiness(conn: Conn, pilot_id: int, key: str, status: ReadinessStatus, evidence: str,
                  by: int | None) -> None:
    conn.execute(
        "INSERT INTO readiness (pilot_id, item_key, status, evidence, updated_by) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (pilot_id, item_key) DO UPDATE SET status = excluded.status,"
        " evidence = excluded.evidence, updated_by = excluded.updated_by, updated_at = now()::TIMESTAMP,"
        " version = readiness.version + 1",
        [pilot_id, key, status.value, evidence, by],
    )


def readiness_matrix(conn: Conn, least_ready: int | None = None) -> pd.DataFrame:
    """Per pilot and dimension: the share of applicable active items done.
    With ``least_ready``, only that many pilots: those with the lowest mean
    share across the dimensions (the ones a heatmap shows)."""
    return conn.execute(
        """
        WITH cells AS (
            SELECT p.id, p.name, p.stage, i.dimension,
                   count(*) FILTER (WHERE r.status = 'done') AS done,
                   count(*) FILTER (WHERE coalesce(r.status, 'not_started') <> 'not_applicable') AS applicable
            FROM pilot p CROSS JOIN readiness_item i
            LEFT JOIN readiness r ON r.pilot_id = p.id AND r.item_key = i.key
            WHERE i.active AND p.stage IN ('pilot', 'bridge', 'production') AND NOT p.archived
            GROUP BY p.id, p.name, p.stage, i.dimension
        ),
        chosen AS (
            SELECT id FROM cells GROUP BY id
            ORDER BY avg(CASE WHEN applicable > 0 THEN done / applicable END) NULLS LAST, id
            LIMIT coalesce($limit, 2147483647)
        )
        SELECT cells.* FROM cells JOIN chosen USING (id) ORDER BY name, id, dimension
        """,
        {"limit": least_ready},
    ).df()


def pilot_attributes(conn: Conn, pilot_id: int) -> dict[str, str]:
    """The columns of an imported spreadsheet that map to no field, kept
    with the pilot so nothing in the file is lost."""
    rows = conn.execute("SELECT name, value FROM pilot_attribute WHERE pilot_id = ? ORDER BY name",
                        [pilot_id]).fetchall()
    return dict(rows)


def external_id(conn: Conn, pilot_id: int) -> str | None:
    row = conn.execute("SELECT external_id FROM pilot WHERE id = ?", [pilot_id]).fetchone()
    return row[0] if row else None
