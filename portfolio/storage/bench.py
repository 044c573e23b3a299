"""The benchmark's writes and reads: a year of history added in bulk to a
demo portfolio, and the rows it measures on."""

from __future__ import annotations

from pathlib import Path

from portfolio.storage import db, summaries

# The tables whose sizes the benchmark reports.
COUNTED_TABLES = ("pilot", "weekly_update", "kpi_reading", "decision", "audit")


def add_history(path: Path, weeks: int, audit_per_pilot: int) -> dict[str, int]:
    """To the portfolio at ``path``, in one transaction: earlier weekly
    updates before each pilot's first, up to ``weeks`` in all; earlier
    readings of each KPI likewise; ``audit_per_pilot`` audit records per
    pilot. Returns the rows of each of COUNTED_TABLES."""
    with db.session(path) as c:
        c.execute("BEGIN")
        # Earlier weeks before each pilot's first update, up to a year in all.
        c.execute(
            """
            INSERT INTO weekly_update (pilot_id, week_start, revision, posted_on, health, summary, author_id)
            SELECT f.pilot_id, f.first_week - CAST(7 * r.i AS INTEGER), 1, f.first_posted - CAST(7 * r.i AS INTEGER),
                   CASE WHEN r.i % 9 = 0 THEN 'amber' ELSE 'green' END, 'Earlier progress', p.product_owner_id
            FROM (SELECT pilot_id, min(week_start) AS first_week, min(posted_on) AS first_posted, count(*) AS n
                  FROM weekly_update GROUP BY pilot_id) f
            JOIN pilot p ON p.id = f.pilot_id
            CROSS JOIN range(1, ?) r(i)
            WHERE r.i <= ? - f.n
            """,
            [weeks + 1, weeks],
        )
        c.execute(
            """
            INSERT INTO kpi_reading (kpi_id, pilot_id, reading_on, value, note)
            SELECT f.kpi_id, f.pilot_id, f.first_on - CAST(7 * r.i AS INTEGER), f.first_value * (1 + (r.i % 5) / 50.0), ''
            FROM (SELECT kpi_id, any_value(pilot_id) AS pilot_id, min(reading_on) AS first_on,
                         arg_min(value, reading_on) AS first_value, count(*) AS n
                  FROM kpi_reading GROUP BY kpi_id) f
            CROSS JOIN range(1, ?) r(i)
            WHERE r.i <= ? - f.n
            """,
            [weeks + 1, weeks],
        )
        c.execute(
            """
            INSERT INTO audit (happened_at, actor_id, actor, via, entity, entity_id, pilot_id, action, before, after)
            SELECT TIMESTAMP '2026-01-05 09:00:00' + INTERVAL (p.id % 300) DAY + INTERVAL (r.i) HOUR,
                   p.product_owner_id, 'Synthetic editor <editor@example.com>', 'app', 'pilot', p.id::VARCHAR,
                   p.id, 'edit', json_object('business_unit', p.business_unit, 'version', r.i),
                   json_object('business_unit', p.business_unit, 'version', r.i + 1)
            FROM pilot p CROSS JOIN range(?) r(i)
            """,
            [audit_per_pilot],
        )
        summaries.refresh_all(c)  # the history the flags read, kept with it
        c.execute("COMMIT")
        return {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # table names are this module's
                for t in COUNTED_TABLES}


def pilots_to_update(conn, limit: int) -> list[tuple[int, int]]:
    """(pilot id, product owner id) of the first ``limit`` pilots in `pilot`
    whose product owner is active."""
    return conn.execute(
        "SELECT p.id, p.product_owner_id FROM pilot p JOIN person o ON o.id = p.product_owner_id"
        " WHERE o.active AND p.stage = 'pilot' ORDER BY p.id LIMIT ?", [limit]).fetchall()


def product_owner_emails(conn, limit: int) -> list[str]:
    """The emails of the first ``limit`` active product owners."""
    return [e for (e,) in conn.execute("SELECT email FROM person WHERE active AND role = 'product_owner'"
                                       " ORDER BY id LIMIT ?", [limit]).fetchall()]
