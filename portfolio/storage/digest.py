"""The digest's reads over the portfolio and its own record: ``digest_run``
and ``digest_flag`` (what each recorded digest saw, so the next can say
what was raised and cleared)."""

from __future__ import annotations

from datetime import date

import pandas as pd


def seat_people(conn) -> list[tuple]:
    """Per pilot: (id, business unit, then the product owner's and the
    executive sponsor's name, email and whether active)."""
    return conn.execute(
        """
        SELECT p.id, p.business_unit,
               po.name, po.email, po.active, es.name, es.email, es.active
        FROM pilot p
        LEFT JOIN person po ON po.id = p.product_owner_id
        LEFT JOIN person es ON es.id = p.executive_sponsor_id
        """
    ).fetchall()


def privileges_expiring(conn, stages: tuple[str, ...]) -> list[tuple]:
    """Privileges of pilots in ``stages`` that expire before the pilot's
    go/no-go date, soonest first: (pilot id, pilot, privilege id, kind,
    description, disposition, expires, go/no-go date)."""
    return conn.execute(
        f"""
        SELECT v.pilot_id, p.name, v.id, v.kind, v.description, v.disposition, v.expires, p.go_no_go_date
        FROM privilege v JOIN pilot p ON p.id = v.pilot_id
        WHERE NOT p.archived AND p.stage IN ({", ".join("?" * len(stages))})
          AND v.expires IS NOT NULL AND p.go_no_go_date IS NOT NULL
          AND v.expires < p.go_no_go_date
        ORDER BY v.expires, p.name, v.id
        """,
        list(stages),
    ).fetchall()


def previous_run(conn, as_of: date) -> tuple | None:
    """The latest recorded run on or before ``as_of`` (a run dated later is
    not "previous" to this one, even if it was made earlier): (id, as_of,
    created_at)."""
    return conn.execute(
        "SELECT id, as_of, created_at FROM digest_run WHERE as_of <= ? ORDER BY as_of DESC, id DESC LIMIT 1",
        [as_of],
    ).fetchone()


def run_flags(conn, run_id: int) -> list[tuple]:
    """The flags a recorded run saw: (pilot id, code, severity, reason, stage)."""
    return conn.execute(
        "SELECT pilot_id, code, severity, reason, stage FROM digest_flag WHERE run_id = ?", [run_id]
    ).fetchall()


def decisions_between(conn, after: date, until: date) -> list[tuple]:
    """Decisions on pilots not archived, dated after ``after`` up to
    ``until``, in date order."""
    return conn.execute(
        """
        SELECT d.id, d.pilot_id, p.name, d.kind, d.decided_on, who.name, d.rationale,
               d.stage_before, d.stage_after, d.go_no_go_before, d.go_no_go_after, d.supersedes_id
        FROM decision d JOIN pilot p ON p.id = d.pilot_id LEFT JOIN person who ON who.id = d.decided_by
        WHERE NOT p.archived AND d.decided_on > ? AND d.decided_on <= ?
        ORDER BY d.decided_on, d.id
        """,
        [after, until],
    ).fetchall()


def stage_events_between(conn, after: date, until: date) -> list[tuple]:
    """The start, promote and retire actions on pilots not archived, dated
    after ``after`` up to ``until``."""
    return conn.execute(
        """
        SELECT e.pilot_id, p.name, e.action, e.stage_before, e.stage_after, e.happened_on, who.name
        FROM stage_event e JOIN pilot p ON p.id = e.pilot_id LEFT JOIN person who ON who.id = e.actor_id
        WHERE NOT p.archived AND e.happened_on > ? AND e.happened_on <= ?
        """,
        [after, until],
    ).fetchall()


def record_run(conn, as_of: date, flags: pd.DataFrame) -> int:
    """Record a run on ``as_of`` with the flags it saw (columns pilot_id,
    code, severity, reason, stage). Returns the run's id."""
    run_id = conn.execute("INSERT INTO digest_run (as_of) VALUES (?) RETURNING id", [as_of]).fetchone()[0]
    if len(flags):
        conn.register("_digest_flags", flags)
        try:
            conn.execute(
                "INSERT INTO digest_flag (run_id, pilot_id, code, severity, reason, stage)"
                " SELECT ?, pilot_id, code, severity, reason, stage FROM _digest_flags",
                [run_id],
            )
        finally:
            conn.unregister("_digest_flags")
    return run_id
