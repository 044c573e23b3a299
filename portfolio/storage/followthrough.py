"""Reads and writes of the decision followed through: revocations of
borrowed privileges, the reasons pilots were stopped or retired (the
``stop_record`` table), the stopped pilots as one list, and the stopped
pilots that resemble a new one. Parameterised SQL only; the services check
rights and wrap the writes in one transaction."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from portfolio.domain.followthrough import (
    SIMILAR_NAME,
    SIMILAR_NAME_WORDS_MIN,
    SIMILAR_SHOWN,
    SIMILAR_WORDS_MIN,
    SIMILAR_WORDS_SHARE,
)

Conn = duckdb.DuckDBPyConnection


# --- revocations ----------------------------------------------------------


def revoke_privilege(conn: Conn, privilege_id: int, on: date, by: int | None, evidence: str) -> None:
    conn.execute(
        "UPDATE privilege SET revoked_on = ?, revoked_by = ?, revocation_evidence = ?, version = version + 1"
        " WHERE id = ?",
        [on, by, evidence, privilege_id],
    )


def revocation(conn: Conn, privilege_id: int) -> tuple[date | None, str] | None:
    """The privilege's revocation as stored: (day, evidence); None: no such privilege."""
    return conn.execute("SELECT revoked_on, revocation_evidence FROM privilege WHERE id = ?",
                        [privilege_id]).fetchone()


def still_holding(conn: Conn, as_of: date) -> pd.DataFrame:
    """Stopped and retired pilots (not archived) that still hold, on
    ``as_of``, a borrowed privilege not made permanent: one row per such
    privilege, with its pilot, the pilot's stage and the day it stopped."""
    return conn.execute(
        """
        WITH stopped AS (
            SELECT pilot_id, max(stopped_on) AS stopped_on FROM stop_record GROUP BY pilot_id
        )
        SELECT p.id AS pilot_id, p.name AS pilot, p.business_unit, p.stage,
               -- A pilot stopped before stop reasons were kept: the day of its
               -- no-go or retirement.
               coalesce(s.stopped_on, CASE WHEN p.stage = 'retired'
                       THEN (SELECT max(e.happened_on) FROM stage_event e WHERE e.pilot_id = p.id AND e.action = 'retire')
                       ELSE (SELECT max(n.decided_on) FROM decision n WHERE n.pilot_id = p.id AND n.kind = 'no_go') END) AS stopped_on,
               v.id AS privilege_id, v.kind, v.description, v.disposition, v.expires,
               po.name AS product_owner
        FROM pilot p
        JOIN privilege v ON v.pilot_id = p.id
        LEFT JOIN stopped s ON s.pilot_id = p.id
        LEFT JOIN person po ON po.id = p.product_owner_id
        WHERE NOT p.archived AND p.stage IN ('stopped', 'retired')
          AND (v.since IS NULL OR v.since <= $as_of)
          AND NOT (v.disposition = 'make_permanent' AND v.decided_on <= $as_of)
          AND (v.revoked_on IS NULL OR v.revoked_on > $as_of)
        ORDER BY p.name, p.id, v.id
        """,
        {"as_of": as_of},
    ).df()


# --- stop reasons ---------------------------------------------------------


def insert_stop_record(conn: Conn, values: dict) -> int:
    columns = ("pilot_id", "decision_id", "stage_event_id", "stage_after", "stopped_on", "reason", "lessons",
               "recorded_by")
    return conn.execute(
        f"INSERT INTO stop_record ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) RETURNING id",
        [values.get(c) for c in columns],
    ).fetchone()[0]


def latest_stage_event(conn: Conn, pilot_id: int, action: str) -> int | None:
    row = conn.execute("SELECT max(id) FROM stage_event WHERE pilot_id = ? AND action = ?",
                       [pilot_id, action]).fetchone()
    return row[0] if row else None


def stop_records(conn: Conn, pilot_id: int) -> pd.DataFrame:
    """The pilot's stop records, newest first, with who recorded each."""
    return conn.execute(
        "SELECT s.id, s.decision_id, s.stage_event_id, s.stage_after, s.stopped_on, s.reason, s.lessons,"
        " p.name AS recorded_by FROM stop_record s LEFT JOIN person p ON p.id = s.recorded_by"
        " WHERE s.pilot_id = ? ORDER BY s.id DESC",
        [pilot_id],
    ).df()


# The stopped and retired pilots, each with its latest stop record (when it
# has one: a pilot imported as stopped has none), its problem and the
# rationale of its no-go. A CTE the graveyard and the resemblance share.
_STOPPED = """
stopped AS (
    SELECT p.id AS pilot_id, p.name AS pilot, p.business_unit, p.problem, p.stage,
           -- A pilot stopped before stop reasons were kept has no record:
           -- the day of its no-go or retirement, and the no-go's rationale.
           coalesce(s.stopped_on, CASE WHEN p.stage = 'retired'
                THEN (SELECT max(e.happened_on) FROM stage_event e WHERE e.pilot_id = p.id AND e.action = 'retire')
                ELSE (SELECT max(n.decided_on) FROM decision n WHERE n.pilot_id = p.id AND n.kind = 'no_go') END) AS stopped_on,
           s.reason, s.lessons,
           coalesce(d.rationale, CASE WHEN s.id IS NULL AND p.stage = 'stopped' THEN
               (SELECT arg_max(n.rationale, n.id) FROM decision n WHERE n.pilot_id = p.id AND n.kind = 'no_go') END)
               AS rationale
    FROM pilot p
    LEFT JOIN (SELECT *, row_number() OVER (PARTITION BY pilot_id ORDER BY id DESC) AS rn
               FROM stop_record) s ON s.pilot_id = p.id AND s.rn = 1
    LEFT JOIN decision d ON d.id = s.decision_id
    WHERE NOT p.archived AND p.stage IN ('stopped', 'retired')
)"""


def stopped_pilots(conn: Conn, words: str = "") -> pd.DataFrame:
    """Every stopped and retired pilot with its reason, lessons and the year
    it stopped, newest first; with ``words``, only those whose name,
    problem, lessons or rationale hold every one of them (any case)."""
    terms = [w for w in words.lower().split() if w][:20]
    where = " AND ".join(
        "strpos(lower(concat_ws(' ', pilot, problem, lessons, rationale, business_unit)), ?) > 0" for _ in terms)
    return conn.execute(
        f"WITH {_STOPPED} SELECT pilot_id, pilot, business_unit, stage, stopped_on, year(stopped_on) AS year,"
        " reason, lessons, rationale, problem FROM stopped"
        + (f" WHERE {where}" if terms else "")
        + " ORDER BY stopped_on DESC NULLS LAST, pilot",
        terms,
    ).df()


def _words_sql(column: str) -> str:
    """The distinct words of four letters or more in ``column``, lower case."""
    return (f"list_distinct(list_filter(regexp_split_to_array(lower({column}), '[^[:alnum:]]+'),"
            " lambda w: length(w) >= 4))")


def similar_stopped(conn: Conn, candidates: pd.DataFrame) -> pd.DataFrame:
    """For each candidate (columns ``key``, ``name``, ``problem``), the
    stopped and retired pilots whose name is alike (Jaro-Winkler at
    SIMILAR_NAME or more), whose name shares enough words, or whose name
    and problem together share enough words;
    the most alike first, at most SIMILAR_SHOWN per candidate. One query
    for all the candidates."""
    if candidates.empty:
        return pd.DataFrame(columns=["key", "pilot_id", "pilot", "stage", "stopped_on", "reason", "lessons",
                                     "rationale", "name_likeness", "common_words"])
    conn.register("similar_candidates", candidates[["key", "name", "problem"]].astype({"name": str, "problem": str}))
    try:
        return _similar(conn)
    finally:
        conn.unregister("similar_candidates")


def _similar(conn: Conn) -> pd.DataFrame:
    return conn.execute(
        f"""
        WITH {_STOPPED},
        new AS (SELECT key, name, {_words_sql("name || ' ' || problem")} AS words,
                       {_words_sql("name")} AS name_words FROM similar_candidates WHERE trim(name) <> ''),
        old AS (SELECT *, {_words_sql("pilot || ' ' || problem")} AS words, {_words_sql("pilot")} AS name_words
                FROM stopped),
        pairs AS (
            SELECT n.key, o.pilot_id, o.pilot, o.stage, o.stopped_on, o.reason, o.lessons, o.rationale,
                   jaro_winkler_similarity(lower(trim(n.name)), lower(o.pilot)) AS name_likeness,
                   len(list_intersect(n.words, o.words)) AS common_words,
                   least(len(n.words), len(o.words)) AS fewer_words,
                   len(list_intersect(n.name_words, o.name_words)) AS common_name_words,
                   least(len(n.name_words), len(o.name_words)) AS fewer_name_words
            FROM new n CROSS JOIN old o
        )
        SELECT key, pilot_id, pilot, stage, stopped_on, reason, lessons, rationale, name_likeness, common_words
        FROM pairs
        WHERE name_likeness >= $name
           OR (common_name_words >= $name_words_min AND common_name_words >= $share * fewer_name_words)
           OR (common_words >= $words_min AND common_words >= $share * fewer_words)
        QUALIFY row_number() OVER (PARTITION BY key ORDER BY name_likeness DESC, common_words DESC, pilot) <= $shown
        ORDER BY key, name_likeness DESC, common_words DESC, pilot
        """,
        {"name": SIMILAR_NAME, "name_words_min": SIMILAR_NAME_WORDS_MIN, "words_min": SIMILAR_WORDS_MIN, "share": SIMILAR_WORDS_SHARE,
         "shown": SIMILAR_SHOWN},
    ).df()
