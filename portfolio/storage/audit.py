"""The audit trail: who changed what, when, with the record before and after.

Every service writes its audit rows inside the same transaction as the
change (``db.write``), so a change and its record are committed or rolled
back together. Nothing here updates or deletes an audit row.

Snapshots are JSON made by DuckDB itself (``to_json``) from a fixed list of
columns per entity, the same for one row and for ten thousand rows of an
import, so before and after always compare like for like.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator

import pandas as pd

from portfolio.domain.errors import EditConflict
from portfolio.domain.models import Actor
from portfolio.domain.vocabulary import FIELD_LABELS

# What an audit snapshot holds per entity: the table, its key columns and
# the columns recorded. Bookkeeping columns (created_at, updated_at, the
# lower-cased email key) are left out: they change without meaning anything.
_ATTRIBUTES = "(SELECT coalesce(json_group_object(a.name, a.value), '{}') FROM pilot_attribute a WHERE a.pilot_id = t.id)"


@dataclass(frozen=True)
class Entity:
    table: str
    keys: tuple[str, ...]
    columns: tuple[str, ...]
    pilot: str | None  # the column naming the pilot the record belongs to
    label: str


ENTITIES: dict[str, Entity] = {e.table: e for e in [
    Entity("pilot", ("id",), (
        "id", "external_id", "name", "business_unit", "problem", "stage", "start_date", "go_no_go_date",
        "bridge_due_date", "product_owner_id", "technical_lead_id", "executive_sponsor_id",
        "operational_owner_id", "expected_monthly_volume", "expected_monthly_value", "expected_value_unit",
        "archived", "version"), "id", "pilot"),
    Entity("person", ("id",), ("id", "name", "email", "role", "active"), None, "person"),
    Entity("weekly_update", ("id",), (
        "id", "pilot_id", "week_start", "revision", "posted_on", "health", "summary", "blockers",
        "next_steps", "author_id"), "pilot_id", "weekly update"),
    Entity("criterion", ("id",), (
        "id", "pilot_id", "statement", "status", "evidence", "kpi_id", "removed", "version"), "pilot_id",
        "criterion"),
    Entity("decision", ("id",), (
        "id", "pilot_id", "kind", "decided_on", "decided_by", "recorded_by", "rationale", "stage_before",
        "stage_after", "go_no_go_before", "go_no_go_after", "bridge_due_before", "bridge_due_after",
        "override_reason", "supersedes_id"), "pilot_id", "decision"),
    Entity("stage_event", ("id",), (
        "id", "pilot_id", "action", "stage_before", "stage_after", "happened_on", "actor_id",
        "override_reason", "note"), "pilot_id", "stage move"),
    Entity("bridge_check", ("pilot_id", "item"), ("pilot_id", "item", "done", "note", "updated_by"),
           "pilot_id", "bridge checklist item"),
    Entity("privilege", ("id",), (
        "id", "pilot_id", "kind", "description", "granted_by", "since", "expires", "disposition",
        "decided_by", "decided_on", "note", "revoked_on", "revoked_by", "revocation_evidence", "version"),
        "pilot_id", "borrowed privilege"),
    Entity("stop_record", ("id",), (
        "id", "pilot_id", "decision_id", "stage_event_id", "stage_after", "stopped_on", "reason", "lessons",
        "recorded_by"), "pilot_id", "stop reason"),
    Entity("kpi", ("id",), (
        "id", "pilot_id", "name", "category", "unit", "direction", "baseline", "baseline_on", "target",
        "horizon_days", "production", "version"), "pilot_id", "KPI"),
    Entity("kpi_reading", ("id",), ("id", "kpi_id", "pilot_id", "reading_on", "value", "note", "recorded_by"),
           "pilot_id", "KPI reading"),
    Entity("readiness", ("pilot_id", "item_key"), (
        "pilot_id", "item_key", "status", "evidence", "updated_by", "version"), "pilot_id", "readiness item"),
    Entity("business_unit", ("id",), ("id", "name", "active"), None, "business unit"),
    Entity("notify_preference", ("person_id",), ("person_id", "email_me", "categories"), None,
           "email choice"),
    Entity("readiness_item", ("key",), ("key", "dimension", "label", "required_for_go", "position", "active"),
           None, "readiness checklist line"),
    Entity("handover_acceptance", ("id",), (
        "id", "pilot_id", "seat", "person_id", "verdict", "note", "accepted_on", "recorded_by"), "pilot_id",
        "handover acceptance"),
    Entity("checkin", ("id",), (
        "id", "pilot_id", "promoted_on", "due_day", "checked_on", "used", "kpis_hold", "cost_as_expected", "note",
        "person_id", "recorded_by"), "pilot_id", "check-in"),
    # A calendar link or API token: who holds it, what it is called, when it
    # was made and revoked; never the token nor its hash.
    Entity("access_token", ("id",), ("id", "person_id", "purpose", "label", "created_at", "revoked_at"), None,
           "calendar link or API token"),
]}
# Records of acts that are not one row: an import, a demo build, a digest run,
# a reminder email delivered.
EVENT_ENTITIES = ("import", "demo", "digest", "reminder")

# Fields that hold a person's id: the trail shows the name.
PERSON_FIELDS = {
    "product_owner_id", "technical_lead_id", "executive_sponsor_id", "operational_owner_id",
    "author_id", "decided_by", "recorded_by", "actor_id", "updated_by", "revoked_by", "person_id",
}
# Fields that are bookkeeping, not what a person changed.
QUIET_FIELDS = {"version", "id"}
# Fields that say which record it is, not what it holds.
KEY_FIELDS = {"pilot_id", "item_key", "item", "key", "kpi_id"}


def now() -> datetime:
    """The audit clock, in UTC without a zone (tests replace it)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def entity_id(key) -> str:
    """One text id per record: composite keys joined with '/'."""
    if isinstance(key, (tuple, list)):
        return "/".join(str(k) for k in key)
    return str(key)


def _snapshot_sql(entity: Entity) -> str:
    fields = [f"'{c}': t.{c}" for c in entity.columns]
    if entity.table == "pilot":
        fields.append(f"'attributes': {_ATTRIBUTES}")
    # Every name here is this module's constant, never input.
    return f"SELECT to_json({{{', '.join(fields)}}})::VARCHAR FROM {entity.table} t"


def snapshot(c, entity: str, key) -> str | None:
    """The record as JSON text, or None when it does not exist."""
    spec = ENTITIES[entity]
    values = list(key) if isinstance(key, (tuple, list)) else [key]
    where = " AND ".join(f"t.{k} = ?" for k in spec.keys)
    row = c.execute(f"{_snapshot_sql(spec)} WHERE {where}", values).fetchone()
    return row[0] if row else None


def snapshots(c, entity: str, ids: list[int], *, present_only: bool = False) -> dict[int, str]:
    """Snapshots of many records of a one-column-key entity, by id. With
    ``present_only`` (an upgrade, run before later ones add their columns)
    only the columns the table has yet are recorded."""
    spec = ENTITIES[entity]
    if not ids:
        return {}
    if present_only:
        have = {r[0] for r in c.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database()"
            " AND schema_name = 'main' AND table_name = ?", [spec.table]).fetchall()}
        spec = replace(spec, columns=tuple(col for col in spec.columns if col in have))
    rows = c.execute(
        f"{_snapshot_sql(spec).replace('SELECT ', f'SELECT t.{spec.keys[0]}, ', 1)}"
        f" WHERE list_contains(?, t.{spec.keys[0]})",
        [list(ids)],
    ).fetchall()
    return dict(rows)


def _pilot_of(entity: str, text: str | None) -> int | None:
    spec = ENTITIES.get(entity)
    if spec is None or spec.pilot is None or text is None:
        return None
    return json.loads(text).get(spec.pilot)


def record(c, actor: Actor, entity: str, key, action: str, before: str | None, after: str | None,
           *, pilot_id: int | None = None) -> None:
    """Write one audit row (inside the caller's transaction)."""
    if pilot_id is None:
        pilot_id = _pilot_of(entity, after) or _pilot_of(entity, before)
    c.execute(
        "INSERT INTO audit (happened_at, actor_id, actor, via, entity, entity_id, pilot_id, action, before, after)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [now(), actor.person_id, _actor_label(actor), actor.via, entity, entity_id(key), pilot_id, action,
         before, after],
    )


def record_many(c, actor: Actor, entity: str, action: str, changes: list[tuple[int, str | None, str | None]]) -> int:
    """Write one audit row per (id, before, after) in one statement: the
    path an import of thousands of rows takes. Unchanged records are skipped."""
    rows = [(i, b, a) for i, b, a in changes if b != a]
    if not rows:
        return 0
    frame = pd.DataFrame({
        "entity_id": [str(i) for i, _, _ in rows],
        "pilot_id": pd.array([_pilot_of(entity, a or b) for _, b, a in rows], dtype="Int64"),
        "before": pd.array([b for _, b, _ in rows], dtype=object),
        "after": pd.array([a for _, _, a in rows], dtype=object),
    })
    c.register("_audit_rows", frame)
    try:
        c.execute(
            "INSERT INTO audit (happened_at, actor_id, actor, via, entity, entity_id, pilot_id, action, before, after)"
            " SELECT ?, ?, ?, ?, ?, entity_id, CAST(pilot_id AS INTEGER), ?, before, after FROM _audit_rows",
            [now(), actor.person_id, _actor_label(actor), actor.via, entity, action],
        )
    finally:
        c.unregister("_audit_rows")
    return len(rows)


def data_version(c) -> tuple:
    """Which database this is, how many changes it has recorded and when the
    latest was made. Every write records what it changed here in the same
    transaction, and nothing removes an audit row, so the count grows with
    every committed change, whichever process made it: a result computed
    from the data stays true while this stays the same. The time of the
    latest change tells apart two files at the same path with as many
    changes each, such as a backup restored over the database."""
    return c.execute(
        "SELECT (SELECT path FROM duckdb_databases() WHERE database_name = current_database()),"
        " (SELECT count(*) FROM audit), (SELECT max(happened_at) FROM audit)"
    ).fetchone()


def _actor_label(actor: Actor) -> str:
    return f"{actor.name} <{actor.email}>" if actor.email and actor.email != actor.name else actor.name


@contextmanager
def tracking(c, actor: Actor, entity: str, key, action: str) -> Iterator[None]:
    """Record the change the block makes to one record (nothing when the
    block changed nothing)."""
    before = snapshot(c, entity, key)
    yield
    after = snapshot(c, entity, key)
    if before != after:
        record(c, actor, entity, key, action, before, after)


def created(c, actor: Actor, entity: str, key, action: str = "create") -> None:
    record(c, actor, entity, key, action, None, snapshot(c, entity, key))


# A create repeated by the same person with the same values within this
# many seconds is a double click or a rerun, not a second record.
REPEAT_SECONDS = 120


def recent_create(c, actor: Actor, entity: str, fields: dict) -> int | None:
    """The id of a record this actor created moments ago with these same
    values, if any: the repeated submit then returns it instead of a copy."""
    cutoff = now() - timedelta(seconds=REPEAT_SECONDS)
    rows = c.execute(
        "SELECT entity_id, after FROM audit WHERE entity = ? AND action = 'create' AND actor = ? AND happened_at >= ?"
        " ORDER BY id DESC LIMIT 20",
        [entity, _actor_label(actor), cutoff],
    ).fetchall()
    for key, after in rows:
        stored = json.loads(after)
        if all(stored.get(k) == v for k, v in fields.items() if k in stored):
            return int(key)
    return None


def event(c, actor: Actor, entity: str, key, action: str, details: dict) -> None:
    """Record an act that is not one row (an import, a demo build)."""
    record(c, actor, entity, key, action, None, json.dumps(details, default=str, sort_keys=True))


# --- no silent overwrites -------------------------------------------------


def _stale(c, entity: str, key, expected: int | None, what: str) -> tuple[str, str] | None:
    """What changed ``entity`` ``key`` since version ``expected``, as a
    sentence naming who and when; None when it is still that version."""
    if expected is None:
        return None
    current = snapshot(c, entity, key)
    if current is None:
        return None
    version = json.loads(current).get("version")
    if version is None or version == expected:
        return None
    since = c.execute(
        "SELECT happened_at, actor, before, after FROM audit WHERE entity = ? AND entity_id = ?"
        " AND action NOT LIKE '%refused' AND TRY_CAST(json_extract_string(after, '$.version') AS INTEGER) > ?"
        " ORDER BY id",
        [entity, entity_id(key), expected],
    ).fetchall()
    names = _people_names(c)
    told = "; ".join(
        f"{who} {'set' if before is None else 'changed'} {describe(before, after, names) or 'it'} "
        f"at {at:%H:%M} UTC on {at:%d %b %Y}"
        for at, who, before, after in since[-3:]
    ) or "someone else changed it"
    return what, told


def check_versions(c, items: list[tuple[str, object, int | None, str]]) -> None:
    """Refuse the save when any record (entity, key, version it was opened
    on, its name for a person) changed since, naming every one of them: who
    changed what and when. The conflict lists them (entity, key) so that a
    form can start those afresh."""
    stale = [(entity, key, text) for entity, key, expected, what in items
             if (text := _stale(c, entity, key, expected, what)) is not None]
    if not stale:
        return
    if len(stale) == 1:
        what, told = stale[0][2]
        said = f"{what} was changed after you opened it: {told}."
    else:
        said = "These were changed after you opened them: " + " · ".join(
            f"{what}: {told}" for _, _, (what, told) in stale) + "."
    raise EditConflict(
        f"{said} Nothing of yours was saved and what you typed is still in the form: save again to apply "
        "it over their change, or reload to start from theirs.",
        field="version", conflicts=[(entity, key) for entity, key, _ in stale],
    )


def check_version(c, entity: str, key, expected: int | None, what: str) -> None:
    check_versions(c, [(entity, key, expected, what)])


def record_refusal(conn, actor: Actor, conflict: EditConflict, action: str, attempted: dict) -> None:
    """Keep a refused save on record (in its own transaction: the refused
    one was rolled back): for each record in conflict, the record as it was
    and as this person tried to make it. ``attempted`` maps (entity, key) to
    the values they typed, or is the values of the one record."""
    from portfolio.storage.db import write  # db imports nothing of ours but models

    def work(c):
        for entity, key in conflict.conflicts:
            values = attempted.get((entity, key), attempted) if isinstance(attempted, dict) else {}
            current = snapshot(c, entity, key)
            now = json.loads(current) if current else {}
            tried = now | {k: v for k, v in values.items() if k in now}
            record(c, actor, entity, key, f"{action} refused", current,
                   json.dumps(tried, default=str, sort_keys=True))

    write(conn, work)


# --- reading the trail ----------------------------------------------------


def _people_names(c) -> dict[int, str]:
    return dict(c.execute("SELECT id, name FROM person").fetchall())


# Fields whose values are the tracker's codes (a stage, a status, a
# disposition...), shown in words: "make permanent", not make_permanent.
CODED_FIELDS = {"stage", "status", "disposition", "kind", "health", "category", "direction", "role", "dimension",
                "stage_before", "stage_after", "action", "reason", "verdict"}


def _shown(field: str, value, names: dict[int, str]) -> str:
    if value is None or value == "":
        return "—"
    if field in PERSON_FIELDS and isinstance(value, int):
        return names.get(value, f"person {value}")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 92, not 92.0
    if field == "seat" and isinstance(value, str):
        return FIELD_LABELS.get(value, value).lower()  # operational owner, not its column
    if field in CODED_FIELDS and isinstance(value, str):
        return value.replace("_", " ")
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def field_words(field: str) -> str:
    """A field as a person reads it within a sentence: "business unit",
    "go/no-go date", "production KPI"."""
    label = FIELD_LABELS.get(field) or field.removesuffix("_id").replace("_", " ")
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def changed_fields(before: str | None, after: str | None) -> dict[str, tuple]:
    """{field: (before, after)} of what differs, bookkeeping left out."""
    b = json.loads(before) if before else {}
    a = json.loads(after) if after else {}
    if not isinstance(b, dict) or not isinstance(a, dict):
        return {}
    return {k: (b.get(k), a.get(k)) for k in dict.fromkeys([*b, *a])
            if k not in QUIET_FIELDS and b.get(k) != a.get(k)}


def describe(before: str | None, after: str | None, names: dict[int, str]) -> str:
    """A line a person reads: "business unit 'Claims' → 'Finance'". For a
    record just created, what it was created with."""
    parts = []
    for field, (old, new) in changed_fields(before, after).items():
        if field in KEY_FIELDS or _shown(field, old, names) == _shown(field, new, names):
            continue
        label = field_words(field)
        if before is None:
            parts.append(f"{label} '{_shown(field, new, names)}'")
        else:
            parts.append(f"{label} '{_shown(field, old, names)}' → '{_shown(field, new, names)}'")
    return "; ".join(parts)


def _as_datetime(day: date | datetime | None, end: bool = False) -> datetime | None:
    if day is None or isinstance(day, datetime):
        return day
    return datetime.combine(day, time.max if end else time.min)


def trail(c, *, since: date | datetime | None = None, until: date | datetime | None = None,
          pilot_id: int | None = None, actor_id: int | None = None, entity: str | None = None,
          limit: int | None = None) -> pd.DataFrame:
    """The trail, newest first, with a readable summary of each change.
    Dates are whole days: ``until`` includes the day it names."""
    where, params = [], []
    for clause, value in (("a.happened_at >= ?", _as_datetime(since)), ("a.happened_at <= ?", _as_datetime(until, end=True)),
                          ("a.pilot_id = ?", pilot_id), ("a.actor_id = ?", actor_id), ("a.entity = ?", entity)):
        if value is not None:
            where.append(clause)
            params.append(value)
    sql = (
        "SELECT a.id, a.happened_at AS at, a.actor, a.actor_id, a.via, a.entity, a.entity_id, a.pilot_id, p.name AS pilot,"
        " a.action, a.before, a.after FROM audit a LEFT JOIN pilot p ON p.id = a.pilot_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY a.id DESC"
        + (" LIMIT ?" if limit else "")
    )
    frame = c.execute(sql, params + ([int(limit)] if limit else [])).df()
    for column in ("before", "after", "pilot"):  # missing as None, not NaN
        frame[column] = pd.Series([None if pd.isna(v) else v for v in frame[column]], dtype=object,
                                  index=frame.index)
    names = _people_names(c)
    frame.insert(frame.columns.get_loc("action") + 1, "change", [
        describe(b, a, names) if a is not None else "removed" for b, a in zip(frame["before"], frame["after"])
    ] if len(frame) else [])
    frame["pilot_id"] = frame["pilot_id"].astype("Int64")
    frame["actor_id"] = frame["actor_id"].astype("Int64")
    return frame


def as_records(frame: pd.DataFrame) -> list[dict]:
    """The trail as plain objects: before and after as parsed JSON."""
    out = []
    for row in frame.to_dict("records"):
        out.append({
            "id": int(row["id"]), "at": row["at"].isoformat(), "actor": row["actor"],
            "actor_id": None if pd.isna(row["actor_id"]) else int(row["actor_id"]), "via": row["via"],
            "entity": row["entity"], "entity_id": row["entity_id"],
            "pilot_id": None if pd.isna(row["pilot_id"]) else int(row["pilot_id"]),
            "pilot": row["pilot"],
            "action": row["action"], "change": row["change"],
            "before": json.loads(row["before"]) if row["before"] else None,
            "after": json.loads(row["after"]) if row["after"] else None,
        })
    return out
