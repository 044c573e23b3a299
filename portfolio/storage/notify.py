"""The reminders' reads and records: each pilot's seats and dates, who
wants which emails (``notify_preference``), and what was sent
(``reminder_sent``)."""

from __future__ import annotations

from datetime import date


def pilots_for_reminders(conn) -> list[tuple]:
    """Every pilot not archived: (id, name, business unit, stage, go/no-go
    date, bridge due date, product owner id, technical lead id, executive
    sponsor id, operational owner id)."""
    return conn.execute(
        """
        SELECT id, name, business_unit, stage, go_no_go_date, bridge_due_date,
               product_owner_id, technical_lead_id, executive_sponsor_id, operational_owner_id
        FROM pilot WHERE NOT archived ORDER BY lower(name), id
        """
    ).fetchall()


def people_with_preferences(conn) -> list[tuple]:
    """Everyone: (id, name, email, role, active, email me, categories
    (comma-separated keys) or None when they never chose)."""
    return conn.execute(
        """
        SELECT p.id, p.name, p.email, p.role, p.active, coalesce(n.email_me, true), n.categories
        FROM person p LEFT JOIN notify_preference n ON n.person_id = p.id
        ORDER BY lower(p.name), p.id
        """
    ).fetchall()


def preference(conn, person_id: int) -> tuple[bool, list[str] | None]:
    row = conn.execute("SELECT email_me, categories FROM notify_preference WHERE person_id = ?",
                       [person_id]).fetchone()
    return (True, None) if row is None else (bool(row[0]), split_categories(row[1]))


def split_categories(text: str | None) -> list[str] | None:
    """The stored comma-separated keys as a list (None: never chosen)."""
    return None if text is None else [k for k in text.split(",") if k]


def set_preference(conn, person_id: int, email_me: bool, categories: list[str]) -> None:
    conn.execute(
        """
        INSERT INTO notify_preference (person_id, email_me, categories) VALUES (?, ?, ?)
        ON CONFLICT (person_id) DO UPDATE SET email_me = excluded.email_me, categories = excluded.categories
        """,
        [person_id, email_me, ",".join(categories)],
    )


def last_sent(conn, as_of: date) -> dict[tuple[int, int, str], tuple[str, date]]:
    """The latest reminder sent on or before ``as_of`` per (person, pilot,
    reason): its step and day."""
    rows = conn.execute(
        """
        SELECT person_id, pilot_id, reason, step, sent_on FROM reminder_sent
        WHERE sent_on <= ?
        QUALIFY row_number() OVER (PARTITION BY person_id, pilot_id, reason ORDER BY sent_on DESC, id DESC) = 1
        """,
        [as_of],
    ).fetchall()
    return {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows}


def record_sent(conn, person_id: int, items: list[tuple[int, str, str]], sent_on: date) -> None:
    """``items``: (pilot id, reason, step) delivered to ``person_id``, in
    one statement (a statement per item costs about a millisecond each)."""
    conn.execute(
        "INSERT INTO reminder_sent (person_id, pilot_id, reason, step, sent_on)"
        " SELECT $person, unnest($pilots), unnest($reasons), unnest($steps), $sent_on",
        {"person": person_id, "pilots": [i[0] for i in items], "reasons": [i[1] for i in items],
         "steps": [i[2] for i in items], "sent_on": sent_on},
    )
