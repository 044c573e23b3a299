"""Runs the flag rules over the database: the facts query of
portfolio/flags/facts.sql with the rules' SQL, as one query.

What the facts read of the history comes from the kept summaries
(storage/summaries.py, flags/kept.sql) on any as-of day from the newest day
in the history on, where they are exactly what the history gives; only an
earlier day (a look back, or history recorded ahead of the day asked)
reads the history itself (flags/history.sql).
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from portfolio.storage import summaries

if TYPE_CHECKING:
    import pandas as pd

FLAGS_DIR = Path(__file__).resolve().parents[1] / "flags"
FACTS_FILE = FLAGS_DIR / "facts.sql"


def _read(name: str) -> str:
    return (FLAGS_DIR / name).read_text(encoding="utf-8")


# The facts query, whole: the history's part (kept or read), each KPI's
# latest reading (kept or read), then the body.
FACTS_SQL = {kept: f"WITH {_read('kept.sql' if kept else 'history.sql')},\n"
                   f"kread AS ({summaries.latest_readings(kept)}),\n{_read('facts.sql')}"
             for kept in (True, False)}


def reads_kept(conn, params: dict) -> bool:
    """Whether the summaries hold on ``params``' as-of day, for its pilot or
    the whole portfolio (``summaries.hold``)."""
    return summaries.hold(conn, params["as_of"], params.get("pilot"))


def _query(conn, rules_sql: str, params: dict, from_history: bool = False) -> str:
    """``rules_sql`` over the facts: from the kept summaries where they hold
    on ``params``' day, else (or when ``from_history`` asks) from the history."""
    kept = not from_history and reads_kept(conn, params)
    return f"WITH facts AS ({FACTS_SQL[kept]}), {rules_sql}"


def flag_rows(conn, rules_sql: str, params: dict, *, from_history: bool = False) -> pd.DataFrame:
    """The rows of ``rules_sql``, a query over ``facts`` (the rows of
    facts.sql), with ``params``: from the kept summaries where they hold,
    from the history itself when they do not or ``from_history`` asks."""
    return conn.execute(_query(conn, rules_sql, params, from_history), params).df()


def pilots_by_code(conn, rules_sql: str, params: dict) -> dict[str, int]:
    """How many pilots each code of ``rules_sql``'s rows flags (as
    ``flag_rows`` reads them), without handing the rows over."""
    rows = conn.execute(f"SELECT code, count(DISTINCT pilot_id) FROM ({_query(conn, rules_sql, params)})"
                        " GROUP BY code", params).fetchall()
    return dict(rows)


def summary(flags: pd.DataFrame, ranks: dict[str, int], headline: tuple[str, ...], labels: dict[str, str],
            conn=None) -> pd.DataFrame:
    """One row per flagged pilot of ``flags``: its worst severity (by
    ``ranks``, lower is worse), its flags in words (``labels`` of the
    codes), its reasons (in the flags' order), worst pilots first, pilots
    with a ``headline`` code first within a severity. Computed by DuckDB: on
    ``conn`` when given (opening another costs more than the work), else on
    one of its own."""
    values = ", ".join(f"('{severity}', {rank})" for severity, rank in ranks.items())
    codes = ", ".join(f"'{code}'" for code in headline)
    flags = flags.assign(label=flags["code"].map(labels).fillna(flags["code"]))
    with (nullcontext(conn) if conn is not None else duckdb.connect()) as scratch:
        scratch.register("flag_rows", flags.reset_index(drop=True).assign(_order=range(len(flags))))
        try:
            return scratch.execute(f"""
            WITH ranked AS (
                SELECT f.*, r.rank FROM flag_rows f JOIN (VALUES {values}) r(severity, rank) USING (severity)
            )
            SELECT pilot_id, pilot, arg_min(severity, rank) AS severity,
                   string_agg(label, ', ' ORDER BY _order) AS flags,
                   string_agg(reason, ' · ' ORDER BY _order) AS reasons
            FROM ranked GROUP BY pilot_id, pilot
            ORDER BY min(rank), NOT bool_or(code IN ({codes})), pilot, min(_order)
            """).df()
        finally:
            scratch.unregister("flag_rows")
