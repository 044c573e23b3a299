"""What the calendar feed reads: the pilots with a go/no-go or bridge due
date, and the borrowed privileges with an expiry, of the whole portfolio or
of the pilots where one person holds a seat (archived pilots included, so
that their events are cancelled rather than left behind)."""

from __future__ import annotations

import duckdb

from portfolio.storage.store import _rows

Conn = duckdb.DuckDBPyConnection

# A pilot is one person's when they hold any of its four seats.
_SEATED = ("(CAST(? AS INTEGER) IS NULL OR CAST(? AS INTEGER) IN (p.product_owner_id, p.technical_lead_id,"
           " p.executive_sponsor_id, p.operational_owner_id))")


def dated_pilots(conn: Conn, person_id: int | None = None) -> list[dict]:
    return _rows(
        conn,
        "SELECT p.id, p.name, p.business_unit, p.stage, p.archived, p.go_no_go_date, p.bridge_due_date,"
        " p.version, po.name AS product_owner FROM pilot p LEFT JOIN person po ON po.id = p.product_owner_id"
        f" WHERE (p.go_no_go_date IS NOT NULL OR p.bridge_due_date IS NOT NULL) AND {_SEATED} ORDER BY p.id",
        [person_id, person_id],
    )


def expiring_privileges(conn: Conn, person_id: int | None = None) -> list[dict]:
    return _rows(
        conn,
        "SELECT v.id, v.pilot_id, v.kind, v.description, v.expires, v.disposition, v.revoked_on, v.version,"
        " p.version AS pilot_version, p.name AS pilot, p.stage, p.archived"
        f" FROM privilege v JOIN pilot p ON p.id = v.pilot_id WHERE v.expires IS NOT NULL AND {_SEATED}"
        " ORDER BY v.id",
        [person_id, person_id],
    )
