"""Calendar links and API tokens (table ``access_token``): only their
SHA-256 is stored, and a token is revoked, never deleted."""

from __future__ import annotations

from datetime import datetime

import duckdb

from portfolio.domain.models import AccessToken, Person
from portfolio.storage.store import PERSON_COLUMNS, _rows

Conn = duckdb.DuckDBPyConnection

_TOKEN_COLUMNS = "id, person_id, purpose, label, created_at, created_by, revoked_at"


def insert_token(conn: Conn, person_id: int, purpose: str, label: str, token_hash: str, at: datetime,
                 by: int | None) -> int:
    return conn.execute(
        "INSERT INTO access_token (person_id, purpose, label, token_hash, created_at, created_by)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        [person_id, purpose, label, token_hash, at, by],
    ).fetchone()[0]


def revoke(conn: Conn, token_id: int, at: datetime, by: int | None) -> None:
    conn.execute("UPDATE access_token SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL",
                 [at, by, token_id])


def live_tokens(conn: Conn, person_id: int, purpose: str | None = None) -> list[AccessToken]:
    """The person's tokens not revoked, oldest first (of one purpose if given)."""
    sql = f"SELECT {_TOKEN_COLUMNS} FROM access_token WHERE person_id = ? AND revoked_at IS NULL"
    params: list = [person_id]
    if purpose is not None:
        sql += " AND purpose = ?"
        params.append(purpose)
    return [AccessToken(**r) for r in _rows(conn, sql + " ORDER BY id", params)]


def get_token(conn: Conn, token_id: int) -> AccessToken | None:
    rows = _rows(conn, f"SELECT {_TOKEN_COLUMNS} FROM access_token WHERE id = ?", [token_id])
    return AccessToken(**rows[0]) if rows else None


def holder(conn: Conn, token_hash: str, purpose: str) -> Person | None:
    """The person holding the live token of this hash and purpose, or None."""
    cols = ", ".join(f"p.{c.strip()}" for c in PERSON_COLUMNS.split(","))
    rows = _rows(
        conn,
        f"SELECT {cols} FROM access_token t JOIN person p ON p.id = t.person_id"
        " WHERE t.token_hash = ? AND t.purpose = ? AND t.revoked_at IS NULL",
        [token_hash, purpose],
    )
    return Person(**rows[0]) if rows else None
