"""The reads and writes the demo build makes beside its bulk inserts."""

from __future__ import annotations


def pilot_count(conn) -> int:
    return conn.execute("SELECT count(*) FROM pilot").fetchone()[0]


def person_ids_by_email_key(conn) -> dict[str, int]:
    """Every person's id by their lower-cased email."""
    return dict(conn.execute("SELECT email_key, id FROM person").fetchall())


def active_readiness_keys(conn) -> list[str]:
    """The keys of the active readiness items, in the checklist's order."""
    return [r[0] for r in conn.execute("SELECT key FROM readiness_item WHERE active ORDER BY position").fetchall()]


def set_expected_volume(conn, pilot_id: int, volume: float) -> None:
    conn.execute("UPDATE pilot SET expected_monthly_volume = ? WHERE id = ?", [volume, pilot_id])


def set_expected_value(conn, pilot_id: int, value: float | None, unit: str) -> None:
    conn.execute("UPDATE pilot SET expected_monthly_value = ?, expected_value_unit = ? WHERE id = ?",
                 [value, unit, pilot_id])


def tie_latency_criterion(conn, pilot_id: int, kpi_id: int) -> None:
    """The pilot's p95 latency criterion takes its status from ``kpi_id``."""
    conn.execute("UPDATE criterion SET kpi_id = ? WHERE pilot_id = ? AND statement LIKE 'p95 latency%'",
                 [kpi_id, pilot_id])
