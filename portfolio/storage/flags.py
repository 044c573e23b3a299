"""Runs the flag rules over the database: the facts query of
portfolio/flags/facts.sql with the rules' SQL, as one query."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import duckdb
import pandas as pd

FACTS_FILE = Path(__file__).resolve().parents[1] / "flags" / "facts.sql"
FACTS_SQL = FACTS_FILE.read_text(encoding="utf-8")


def flag_rows(conn, rules_sql: str, params: dict) -> pd.DataFrame:
    """The rows of ``rules_sql``, a query over ``facts`` (the rows of
    facts.sql), with ``params``."""
    return conn.execute(f"WITH facts AS ({FACTS_SQL}), {rules_sql}", params).df()


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
