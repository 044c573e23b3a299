"""The exports' reads (the schema's own catalogue, every table whole) and
their copies: each table as Parquet, the database as a backup file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from portfolio.domain.errors import StorageBusy
from portfolio.storage import db

_SEAT_ALIASES = {"product_owner": "po", "technical_lead": "tl", "executive_sponsor": "es",
                 "operational_owner": "oo"}

_BACKUP_ALIAS = "portfolio_backup_target"


def has_column(conn, table: str, column: str) -> bool:
    return bool(conn.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database()"
        " AND schema_name = 'main' AND table_name = ? AND column_name = ?",
        [table, column],
    ).fetchone()[0])


def pilots_with_seats(conn, seats: tuple[str, ...]) -> pd.DataFrame:
    """The pilots not archived, by name: their fields (the external id too
    when the schema has one) and, for each of ``seats``, the holder's name,
    email and whether active (``SEAT``, ``SEAT_email``, ``SEAT_active``)."""
    external = "p.external_id, " if has_column(conn, "pilot", "external_id") else ""
    value = ("p.expected_monthly_value, coalesce(p.expected_value_unit, '') AS expected_value_unit,"
             if has_column(conn, "pilot", "expected_monthly_value") else "")
    seat_cols = ",\n".join(
        f"{_SEAT_ALIASES[s]}.name AS {s}, {_SEAT_ALIASES[s]}.email AS {s}_email,"
        f" {_SEAT_ALIASES[s]}.active AS {s}_active"
        for s in seats
    )
    seat_joins = "\n".join(
        f"LEFT JOIN person {_SEAT_ALIASES[s]} ON {_SEAT_ALIASES[s]}.id = p.{s}_id" for s in seats
    )
    return conn.execute(
        f"""
        SELECT p.id, {external}p.name, p.business_unit, p.problem, p.stage,
               p.start_date, p.go_no_go_date, p.bridge_due_date, p.expected_monthly_volume,
               {value}
               {seat_cols}
        FROM pilot p
        {seat_joins}
        WHERE NOT p.archived
        ORDER BY p.name, p.id
        """
    ).df()


def date_columns(conn, table: str) -> list[str]:
    """The columns of ``table`` that hold dates."""
    return [r[0] for r in conn.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database()"
        " AND schema_name = 'main' AND table_name = ? AND data_type = 'DATE'",
        [table],
    ).fetchall()]


def portfolio_tables(conn) -> list[str]:
    """The database's own tables, by name, from the schema itself."""
    return [r[0] for r in conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        " AND schema_name = 'main' AND NOT internal AND NOT temporary ORDER BY table_name"
    ).fetchall()]


def table_frame(conn, table: str) -> pd.DataFrame:
    """Every row of ``table``, in a stable order. ``table`` comes from the
    catalogue, never from input; quoted all the same."""
    return conn.execute(f'SELECT * FROM "{table}" ORDER BY ALL').df()


def person_contacts(conn) -> list[tuple[int, str, str]]:
    """(id, name, email) of every person."""
    return conn.execute("SELECT id, name, email FROM person").fetchall()


def all_tables(conn) -> list[str]:
    """Every table of the database, bookkeeping included, by name."""
    return [r[0] for r in conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        " AND schema_name = 'main' AND NOT temporary ORDER BY table_name").fetchall()]


def write_parquet(conn, table: str, target: Path) -> None:
    """``table`` as one Parquet file at ``target``."""
    # Parquet format version 1 and Snappy: what every reader, old or new, takes.
    conn.execute(f"COPY (SELECT * FROM {_sql_name(table)}) TO '{_sql_text(target)}'"
                 " (FORMAT parquet, COMPRESSION snappy, PARQUET_VERSION v1)")


def row_count(conn, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {_sql_name(table)}").fetchone()[0]


def copy_database(source: Path, target: Path, named: Path) -> None:
    """Copy the database at ``source`` into the new file ``target``: every
    table, sequence (continuing where the original stands) and index, in one
    consistent read, safe while the app runs. ``named`` is the file the copy
    is for, as a failure names it. A copy that fails leaves no ``target``."""
    with db.session(source) as conn:
        try:
            if not db.is_read_only(conn):
                # Fold the write-ahead log into the file first (the copy reads
                # everything committed either way). A database on a read-only
                # location cannot be checkpointed, and needs not be.
                conn.execute("CHECKPOINT")
            name = conn.execute("SELECT current_database()").fetchone()[0]
            # The copy is written even when the source is opened read-only.
            conn.execute(f"ATTACH '{_sql_text(target)}' AS {_BACKUP_ALIAS} (READ_WRITE)")
            try:
                conn.execute(f"COPY FROM DATABASE {_sql_name(name)} TO {_BACKUP_ALIAS}")
                conn.execute(f"CHECKPOINT {_BACKUP_ALIAS}")
            finally:
                conn.execute(f"DETACH {_BACKUP_ALIAS}")
        except duckdb.Error as exc:
            for leftover in (target, Path(f"{target}.wal")):
                leftover.unlink(missing_ok=True)
            if db.is_damaged(exc):  # a block of the source failed its checksum
                raise db.damaged(source) from None
            raise StorageBusy(f"Backup: copying {source} to {named} failed: {exc}") from None


def _sql_name(name: str) -> str:
    # The database's name comes from its file name, which may hold a quote.
    return '"' + name.replace('"', '""') + '"'


def _sql_text(path: Path) -> str:
    # ATTACH takes no parameters: the path goes in as a quoted literal.
    return str(path).replace("'", "''")
