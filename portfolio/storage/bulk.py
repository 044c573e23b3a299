"""Writing a whole frame of rows in one statement, for the builds that lay
out thousands of rows at once (the demo, the benchmark's portfolios)."""

from __future__ import annotations

import pandas as pd

from portfolio.storage import summaries


def insert_frame(conn, table: str, sequence: str | None, frame: pd.DataFrame) -> list[int]:
    """Insert ``frame`` in one statement, with ids drawn from ``sequence``
    (none for a table keyed otherwise). ``table`` and ``sequence`` are the
    caller's constants, never input. Rows of updates or readings refresh
    the kept summaries of what they touch (storage/summaries.py), in the
    caller's transaction. Returns the ids drawn."""
    if frame.empty:
        return []
    ids = []
    if sequence:
        ids = [r[0] for r in conn.execute(f"SELECT nextval('{sequence}') FROM range(?)", [len(frame)]).fetchall()]
        frame = frame.assign(id=ids)
    cols = ", ".join(frame.columns)
    conn.register("_bulk_rows", frame)
    try:
        conn.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _bulk_rows")
    finally:
        conn.unregister("_bulk_rows")
    if table in summaries.SUMMARISED:
        summaries.refresh(conn, table, frame[summaries.SUMMARISED[table]].unique().tolist())
    return ids
