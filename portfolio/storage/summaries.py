"""The kept summaries of each pilot's history: what today's flags read of
the weekly updates and the KPI readings, so that they need not scan a year
of history per pilot on every page run.

- ``update_summary``: per pilot with an update, the day of its newest
  update (any revision), its newest week, that week's health, and its red
  streak: the weeks in a row, ending with the newest, whose latest revision
  is red (not capped: the flags cap it at the streak they look for).
- ``kpi_latest_reading``: per KPI with a reading, its latest reading (the
  latest day; of a day, the reading recorded last), with the day.

They are the history's as it stands with everything recorded, so they equal
what the history gives as of any day on or after the newest day in it
(``horizon``); for an earlier day the flags read the history itself. Every
write of an update or a reading keeps them in the same transaction: one
update or reading by what it adds (``add_update``, ``add_reading``), the
bulk builders' rows by redoing what they touched from the history
(``refresh``, called by ``bulk.insert_frame``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date


# The summaries as the history gives them; {where} narrows them to some
# pilots (updates) or KPIs (readings), the list $ids (_narrowed).
_UPDATES = """
WITH week AS (
    -- Each week's latest revision (the highest: later ones supersede it).
    SELECT pilot_id, week_start, arg_max(health, revision) AS health
    FROM weekly_update {where}
    GROUP BY pilot_id, week_start
),
newest AS (
    SELECT pilot_id, max(week_start) AS last_week, arg_max(health, week_start) AS last_health,
           max(week_start) FILTER (WHERE health <> 'red') AS last_not_red
    FROM week GROUP BY pilot_id
),
posted AS (
    SELECT pilot_id, max(posted_on) AS last_posted
    FROM weekly_update {where}
    GROUP BY pilot_id
)
SELECT n.pilot_id, p.last_posted, n.last_week, n.last_health,
       CAST(count(*) FILTER (WHERE w.week_start > coalesce(n.last_not_red, DATE '0001-01-01')) AS INTEGER)
           AS red_weeks
FROM newest n JOIN posted p USING (pilot_id) JOIN week w USING (pilot_id)
GROUP BY ALL
"""

_READINGS = """
SELECT kpi_id,
       -- The latest day, then the later id: as one number (days since 2000
       -- and the id), cheaper than ordering by a pair. Days, not seconds: a
       -- reading up to the year 9999 keeps it within 64 bits.
       arg_max(pilot_id, date_diff('day', DATE '2000-01-01', reading_on)::BIGINT * 4294967296 + id) AS pilot_id,
       arg_max(id, date_diff('day', DATE '2000-01-01', reading_on)::BIGINT * 4294967296 + id) AS reading_id,
       max(reading_on) AS reading_on,
       arg_max(value, date_diff('day', DATE '2000-01-01', reading_on)::BIGINT * 4294967296 + id) AS value
FROM kpi_reading {where}
GROUP BY kpi_id
"""


def latest_readings(kept: bool) -> str:
    """SQL for each KPI's latest reading by $as_of (kpi_id, pilot_id,
    reading_on, value), of $pilot's KPIs or every pilot's when it is NULL:
    from the kept summary (``kept``, where ``hold`` says it is the history's
    on that day; $as_of is then not read), else from the readings, the same
    query the summary is kept with."""
    if kept:
        return ("SELECT kpi_id, pilot_id, reading_on, value FROM kpi_latest_reading"
                " WHERE $pilot IS NULL OR pilot_id = $pilot")
    return _READINGS.format(where="WHERE reading_on <= $as_of AND ($pilot IS NULL OR pilot_id = $pilot)")


# Each history table: its summary table, the column naming what a refresh
# redoes (a pilot's updates, a KPI's readings) and the summary's query.
_OF = {"weekly_update": ("update_summary", "pilot_id", _UPDATES),
       "kpi_reading": ("kpi_latest_reading", "kpi_id", _READINGS)}

# The tables whose rows the summaries are made of, with the column naming
# what a refresh redoes (bulk.insert_frame refreshes after a write to one).
SUMMARISED = {table: column for table, (_, column, _) in _OF.items()}

CREATE = """
-- Kept current by every write of an update or a reading (storage/summaries.py).
CREATE TABLE update_summary (
    pilot_id INTEGER PRIMARY KEY,
    last_posted DATE NOT NULL,             -- the newest day any revision was posted
    last_week DATE NOT NULL,               -- the newest week with an update
    last_health VARCHAR NOT NULL,          -- that week's latest revision's health
    red_weeks INTEGER NOT NULL             -- weeks in a row, to the newest, whose latest revision is red
);
CREATE TABLE kpi_latest_reading (
    kpi_id INTEGER PRIMARY KEY,
    pilot_id INTEGER NOT NULL,
    reading_id INTEGER NOT NULL,
    reading_on DATE NOT NULL,
    value DOUBLE NOT NULL
);
"""


def _ids(ids: Iterable[int] | None) -> list[int] | None:
    return None if ids is None else sorted({int(i) for i in ids})


def _narrowed(sql: str, column: str, ids: list[int] | None) -> str:
    """``sql`` for the rows of ``ids`` in ``column`` (None: every row)."""
    return sql.format(where="" if ids is None else f"WHERE {column} IN (SELECT unnest($ids))")


def add_update(conn, pilot_id: int, week: date, health: str, posted_on: date) -> None:
    """The pilot's summary after one more update, the latest revision of
    ``week``, within the caller's transaction. A week after the newest one
    kept goes on top (the streak grows by a red week, ends at any other);
    a revision of a week already kept may change the streak anywhere, so
    the pilot's summary is redone from its updates."""
    found = conn.execute("SELECT last_week FROM update_summary WHERE pilot_id = ?", [pilot_id]).fetchone()
    if found is not None and week <= found[0]:
        refresh(conn, "weekly_update", [pilot_id])
        return
    conn.execute(
        "INSERT INTO update_summary"
        " VALUES ($pilot, $on, $week, $health, CASE WHEN $health = 'red' THEN 1 ELSE 0 END)"
        " ON CONFLICT (pilot_id) DO UPDATE"
        " SET last_posted = greatest(update_summary.last_posted, excluded.last_posted),"
        " last_week = excluded.last_week, last_health = excluded.last_health,"
        " red_weeks = CASE WHEN excluded.last_health = 'red' THEN update_summary.red_weeks + 1 ELSE 0 END",
        {"pilot": pilot_id, "on": posted_on, "week": week, "health": health})


def add_reading(conn, reading_id: int) -> None:
    """Its KPI's latest reading after the reading ``reading_id`` was
    recorded, within the caller's transaction: it is the latest when its
    day is later than the kept one's, or the same day and recorded later."""
    conn.execute(
        "INSERT INTO kpi_latest_reading SELECT kpi_id, pilot_id, id, reading_on, value FROM kpi_reading WHERE id = ?"
        " ON CONFLICT (kpi_id) DO UPDATE SET pilot_id = excluded.pilot_id, reading_id = excluded.reading_id,"
        " reading_on = excluded.reading_on, value = excluded.value"
        " WHERE excluded.reading_on > kpi_latest_reading.reading_on"
        " OR (excluded.reading_on = kpi_latest_reading.reading_on"
        " AND excluded.reading_id > kpi_latest_reading.reading_id)",
        [reading_id])


def refresh(conn, table: str, ids: Iterable[int] | None = None) -> None:
    """Redo the summary made of ``table`` (one of SUMMARISED) for ``ids``
    (pilots for updates, KPIs for readings; None: all) from the history,
    within the caller's transaction."""
    summary, column, query = _OF[table]
    ids = _ids(ids)
    if ids == []:
        return
    args = {} if ids is None else {"ids": ids}
    conn.execute(_narrowed(f"DELETE FROM {summary} {{where}}", column, ids), args)
    conn.execute(f"INSERT INTO {summary} " + _narrowed(query, column, ids), args)


def refresh_all(conn) -> None:
    for table in _OF:
        refresh(conn, table)


def horizon(conn, pilot_id: int | None = None) -> date | None:
    """The newest day in the history of ``pilot_id`` (None: the whole
    portfolio), an update's or a reading's; None when there is none. From
    this day on, the summaries are what the history gives."""
    return conn.execute(
        "SELECT greatest((SELECT max(last_posted) FROM update_summary WHERE $pilot IS NULL OR pilot_id = $pilot),"
        " (SELECT max(reading_on) FROM kpi_latest_reading WHERE $pilot IS NULL OR pilot_id = $pilot))",
        {"pilot": pilot_id}).fetchone()[0]


def hold(conn, as_of: date, pilot_id: int | None = None) -> bool:
    """Whether the summaries are what the history gives on ``as_of`` (for
    ``pilot_id``, or the whole portfolio): on or after ``horizon``, every
    update and reading counts and every revision superseded was superseded
    by then."""
    newest = horizon(conn, pilot_id)
    return newest is None or as_of >= newest


def as_kept(conn) -> dict[str, list[tuple]]:
    """Both summaries as they are kept, in key order (for comparing with
    what the history gives)."""
    return {summary: conn.execute(f"SELECT * FROM {summary} ORDER BY {column}").fetchall()
            for summary, column, _ in _OF.values()}


def from_history(conn) -> dict[str, list[tuple]]:
    """Both summaries as the history gives them now, in key order."""
    return {summary: conn.execute(f"SELECT * FROM ({_narrowed(query, column, None)}) ORDER BY {column}").fetchall()
            for summary, column, query in _OF.values()}
