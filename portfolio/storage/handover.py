"""Reads and writes of the handover's acceptance before go and of the
check-ins after it. Parameterised SQL only; the services check who may."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from portfolio.domain.models import AcceptanceIn, Checkin, CheckinIn, HandoverAcceptance
from portfolio.domain.vocabulary import Acceptance, Seat

Conn = duckdb.DuckDBPyConnection


def _rows(conn: Conn, sql: str, params: list | None = None) -> list[dict]:
    cur = conn.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


# --- acceptance -------------------------------------------------------------


def list_acceptances(conn: Conn, pilot_id: int, until: date | None = None) -> list[HandoverAcceptance]:
    """The pilot's acceptance records, newest first (given on or before
    ``until`` when given)."""
    rows = _rows(
        conn,
        "SELECT a.id, a.pilot_id, a.seat, a.person_id, p.name AS person_name, a.verdict, a.note, a.accepted_on,"
        " a.recorded_by, r.name AS recorded_by_name, a.created_at"
        " FROM handover_acceptance a LEFT JOIN person p ON p.id = a.person_id"
        " LEFT JOIN person r ON r.id = a.recorded_by"
        " WHERE a.pilot_id = ? AND (?::DATE IS NULL OR a.accepted_on <= ?::DATE)"
        " ORDER BY a.accepted_on DESC, a.id DESC",
        [pilot_id, until, until],
    )
    return [HandoverAcceptance(**(r | {"seat": Seat(r["seat"]), "verdict": Acceptance(r["verdict"])}))
            for r in rows]


def insert_acceptance(conn: Conn, value: AcceptanceIn, person_id: int, recorded_by: int | None) -> int:
    return conn.execute(
        "INSERT INTO handover_acceptance (pilot_id, seat, person_id, verdict, note, accepted_on, recorded_by)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [value.pilot_id, value.seat.value, person_id, value.verdict.value, value.note, value.accepted_on,
         recorded_by],
    ).fetchone()[0]


def latest_acceptances(conn: Conn, pilot_ids: list[int], until: date) -> pd.DataFrame:
    """For each of ``pilot_ids`` and each seat, the latest word given on or
    before ``until`` by whoever holds that seat now (one read for all)."""
    if not pilot_ids:
        return pd.DataFrame(columns=["pilot_id", "seat", "verdict", "note", "accepted_on", "person_name"])
    return conn.execute(
        """
        SELECT a.pilot_id, a.seat, a.verdict, a.note, a.accepted_on, p.name AS person_name
        FROM handover_acceptance a
        JOIN pilot pl ON pl.id = a.pilot_id
        LEFT JOIN person p ON p.id = a.person_id
        WHERE list_contains(?, a.pilot_id) AND a.accepted_on <= ?
          AND a.person_id = CASE a.seat WHEN 'operational_owner_id' THEN pl.operational_owner_id
                                        WHEN 'executive_sponsor_id' THEN pl.executive_sponsor_id END
        QUALIFY row_number() OVER (PARTITION BY a.pilot_id, a.seat ORDER BY a.accepted_on DESC, a.id DESC) = 1
        """,
        [list(pilot_ids), until],
    ).df()


# --- check-ins --------------------------------------------------------------


def promoted_on(conn: Conn, pilot_id: int, until: date | None = None) -> date | None:
    """The day of the pilot's latest promotion to production (on or before
    ``until`` when given), or None when it was never promoted here."""
    row = conn.execute(
        "SELECT max(happened_on) FROM stage_event WHERE pilot_id = ? AND action = 'promote'"
        " AND (?::DATE IS NULL OR happened_on <= ?::DATE)",
        [pilot_id, until, until],
    ).fetchone()
    return row[0] if row else None


def list_checkins(conn: Conn, pilot_id: int, promoted: date | None = None,
                  until: date | None = None) -> list[Checkin]:
    """The pilot's check-ins (of the promotion on ``promoted`` when given;
    recorded on or before ``until`` when given), by due day."""
    rows = _rows(
        conn,
        "SELECT c.id, c.pilot_id, c.due_day, c.checked_on, c.used, c.kpis_hold, c.cost_as_expected, c.note,"
        " c.person_id, p.name AS person_name, c.recorded_by, c.created_at"
        " FROM checkin c LEFT JOIN person p ON p.id = c.person_id"
        " WHERE c.pilot_id = ? AND (?::DATE IS NULL OR c.promoted_on = ?::DATE)"
        " AND (?::DATE IS NULL OR c.checked_on <= ?::DATE)"
        " ORDER BY c.due_day, c.id",
        [pilot_id, promoted, promoted, until, until],
    )
    return [Checkin(**r) for r in rows]


def insert_checkin(conn: Conn, value: CheckinIn, promoted: date, due_day: int, person_id: int | None,
                   recorded_by: int | None) -> int:
    return conn.execute(
        "INSERT INTO checkin (pilot_id, promoted_on, due_day, checked_on, used, kpis_hold, cost_as_expected,"
        " note, person_id, recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [value.pilot_id, promoted, due_day, value.checked_on, value.used, value.kpis_hold,
         value.cost_as_expected, value.note, person_id, recorded_by],
    ).fetchone()[0]


def production_watch(conn: Conn, until: date) -> pd.DataFrame:
    """Every production pilot not archived with the day of its latest
    promotion by ``until`` and the check-in days done for it by then (one
    read for the portfolio)."""
    return conn.execute(
        """
        WITH promoted AS (
            SELECT pilot_id, max(happened_on) AS promoted_on FROM stage_event
            WHERE action = 'promote' AND happened_on <= $until GROUP BY pilot_id
        ),
        done AS (
            SELECT c.pilot_id, list_sort(list(DISTINCT c.due_day)) AS done_days
            FROM checkin c JOIN promoted pr ON pr.pilot_id = c.pilot_id AND pr.promoted_on = c.promoted_on
            WHERE c.checked_on <= $until GROUP BY c.pilot_id
        )
        SELECT p.id AS pilot_id, p.name, p.business_unit, oo.name AS operational_owner, pr.promoted_on,
               coalesce(d.done_days, []) AS done_days
        FROM pilot p
        LEFT JOIN promoted pr ON pr.pilot_id = p.id
        LEFT JOIN done d ON d.pilot_id = p.id
        LEFT JOIN person oo ON oo.id = p.operational_owner_id
        WHERE NOT p.archived AND p.stage = 'production'
        ORDER BY p.name, p.id
        """,
        {"until": until},
    ).df()
