"""The benchmark's writes and reads: a year of history added in bulk to a
demo portfolio, the rows it measures on, and the floor the flags are
measured against."""

from __future__ import annotations

from pathlib import Path

from portfolio.storage import db, summaries

# The tables whose sizes the benchmark reports.
COUNTED_TABLES = ("pilot", "weekly_update", "kpi_reading", "decision", "audit")

# The floor of the flags: the plain facts of every pilot that the flag rules
# read, from the same tables, each aggregated the simplest way (counts, the
# latest day, the latest reading of each KPI), with no rule applied and no
# list built. Whatever the flags cost beyond it is the rules and their
# reasons; the flags are not expected to be cheaper than reading their facts.
RAW_FACTS_SQL = """
WITH updates AS (
    SELECT pilot_id, max(posted_on) AS last_update, count(*) FILTER (WHERE health = 'red') AS red_weeks
    FROM weekly_update WHERE posted_on <= $as_of GROUP BY pilot_id
),
decisions AS (
    SELECT pilot_id, count(*) FILTER (WHERE kind = 'extend') AS extensions
    FROM decision WHERE decided_on <= $as_of GROUP BY pilot_id
),
criteria AS (
    SELECT pilot_id, count(*) AS criteria FROM criterion WHERE NOT removed GROUP BY pilot_id
),
changes AS (
    SELECT pilot_id, max(changed_on) AS criteria_changed_on
    FROM criteria_change WHERE after_kickoff AND changed_on <= $as_of GROUP BY pilot_id
),
privileges AS (
    SELECT pilot_id, count(*) AS privileges,
           count(*) FILTER (WHERE disposition = 'undecided') AS undecided,
           count(*) FILTER (WHERE disposition = 'withdraw') AS withdrawn,
           count(*) FILTER (WHERE revoked_on IS NULL) AS held
    FROM privilege GROUP BY pilot_id
),
readings AS (
    SELECT kpi_id, max(reading_on) AS last_reading, arg_max(value, reading_on) AS value
    FROM kpi_reading WHERE reading_on <= $as_of GROUP BY kpi_id
),
kpis AS (
    SELECT k.pilot_id, count(*) AS production_kpis, count(k.target) AS with_target,
           count(r.value) AS kpis_read, min(r.last_reading) AS oldest_reading,
           count(*) FILTER (WHERE k.baseline IS NULL) AS without_baseline
    FROM kpi k LEFT JOIN readings r ON r.kpi_id = k.id WHERE k.production GROUP BY k.pilot_id
),
promotions AS (
    SELECT pilot_id, max(happened_on) AS promoted_on
    FROM stage_event WHERE action = 'promote' AND happened_on <= $as_of GROUP BY pilot_id
),
checkins AS (
    SELECT pilot_id, count(*) AS checkins FROM checkin WHERE checked_on <= $as_of GROUP BY pilot_id
)
SELECT p.id, p.stage, p.start_date, p.go_no_go_date, p.bridge_due_date,
       po.active AS product_owner_active, tl.active AS technical_lead_active,
       es.active AS executive_sponsor_active, oo.active AS operational_owner_active,
       u.last_update, u.red_weeks, d.extensions, c.criteria, ch.criteria_changed_on,
       pv.privileges, pv.undecided, pv.withdrawn, pv.held,
       k.production_kpis, k.with_target, k.kpis_read, k.oldest_reading, k.without_baseline,
       pr.promoted_on, ci.checkins, gov.status AS governance_review
FROM pilot p
LEFT JOIN person po ON po.id = p.product_owner_id
LEFT JOIN person tl ON tl.id = p.technical_lead_id
LEFT JOIN person es ON es.id = p.executive_sponsor_id
LEFT JOIN person oo ON oo.id = p.operational_owner_id
LEFT JOIN updates u ON u.pilot_id = p.id
LEFT JOIN decisions d ON d.pilot_id = p.id
LEFT JOIN criteria c ON c.pilot_id = p.id
LEFT JOIN changes ch ON ch.pilot_id = p.id
LEFT JOIN privileges pv ON pv.pilot_id = p.id
LEFT JOIN kpis k ON k.pilot_id = p.id
LEFT JOIN promotions pr ON pr.pilot_id = p.id
LEFT JOIN checkins ci ON ci.pilot_id = p.id
LEFT JOIN readiness gov ON gov.pilot_id = p.id AND gov.item_key = 'governance_review'
WHERE NOT p.archived
"""


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


def raw_facts(conn, as_of):
    """The floor of the flags (RAW_FACTS_SQL) on ``as_of``: one row per
    pilot, handed over as the flags are, as a data frame."""
    return conn.execute(RAW_FACTS_SQL, {"as_of": as_of}).df()
