"""Connecting, migrating and writing in transactions.

DuckDB lets one process at a time hold a database file. The app, the command
line and a scheduler must share it, so nobody holds it for long: each unit of
work (a page run, a command) opens a connection, uses it and closes it, and
an open that finds the file locked by another process is retried for a
bounded time, then reported in plain words. Inside one process, connections
to the same file share one database instance, so threads each open their own.

A file that cannot be written (a read-only file, folder or file system)
opens read-only, so the app still shows what it has; a write to it, or one
that finds the disk full, is refused as a StorageError naming the cause, and
nothing of it is saved. A damaged file (not a DuckDB database, cut short, a
block that fails its checksum) is a StorageError saying so, and a missing
one is never created on the way in: only the demo creates a database
(``create=True``), so a mistyped path is not an empty, healthy portfolio.
"""

from __future__ import annotations

import random
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import duckdb

from portfolio.domain.errors import StorageBusy, StorageError
from portfolio.domain.settings import lock_wait_seconds

T = TypeVar("T")

# An open waits for another process to release the file for
# settings.lock_wait_seconds (15 s unless PORTFOLIO_LOCK_WAIT_SECONDS says).
# The app holds the file for one page run (tens of milliseconds), a command
# for a read or a write, never while it parses or plans.
# How many times a unit of work is tried when a concurrent writer conflicts,
# and the longest pause between tries: with a random part, so that writers
# that collided do not collide again on the next try. Twenty people saving
# at the same moment all get through well within these.
WRITE_ATTEMPTS = 12
RETRY_PAUSE_MAX = 0.25  # seconds

# Each migration is SQL, or a function of the connection for one that must
# read the data it changes.
MIGRATIONS: list[tuple[str, str | Callable[[duckdb.DuckDBPyConnection], None]]] = [
    (
        "001_people_pilots_updates",
        """
        CREATE SEQUENCE person_id_seq START 1;
        CREATE TABLE person (
            id INTEGER PRIMARY KEY DEFAULT nextval('person_id_seq'),
            name VARCHAR NOT NULL,
            email VARCHAR NOT NULL,
            email_key VARCHAR NOT NULL UNIQUE,   -- lower-cased email: the identity
            role VARCHAR NOT NULL,
            active BOOLEAN NOT NULL DEFAULT TRUE,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE SEQUENCE pilot_id_seq START 1;
        CREATE TABLE pilot (
            id INTEGER PRIMARY KEY DEFAULT nextval('pilot_id_seq'),
            name VARCHAR NOT NULL,
            business_unit VARCHAR NOT NULL DEFAULT '',
            problem VARCHAR NOT NULL DEFAULT '',
            stage VARCHAR NOT NULL,
            start_date DATE,
            go_no_go_date DATE,
            product_owner_id INTEGER,
            technical_lead_id INTEGER,
            executive_sponsor_id INTEGER,
            operational_owner_id INTEGER,
            version INTEGER NOT NULL DEFAULT 1,  -- bumped by every edit
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE SEQUENCE weekly_update_id_seq START 1;
        -- One row per revision: posting again in the same ISO week adds a
        -- revision and leaves the earlier text in place.
        CREATE TABLE weekly_update (
            id INTEGER PRIMARY KEY DEFAULT nextval('weekly_update_id_seq'),
            pilot_id INTEGER NOT NULL,
            week_start DATE NOT NULL,            -- Monday of the ISO week
            revision INTEGER NOT NULL,
            posted_on DATE NOT NULL,
            health VARCHAR NOT NULL,
            summary VARCHAR NOT NULL,
            blockers VARCHAR NOT NULL DEFAULT '',
            next_steps VARCHAR NOT NULL DEFAULT '',
            author_id INTEGER,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            UNIQUE (pilot_id, week_start, revision)
        );
        CREATE INDEX weekly_update_pilot ON weekly_update (pilot_id, posted_on);
        """,
    ),
    (
        "002_criteria_decisions_bridge",
        """
        ALTER TABLE pilot ADD COLUMN bridge_due_date DATE;  -- set by a go decision
        CREATE SEQUENCE criterion_id_seq START 1;
        -- Go/no-go criteria. A removed criterion keeps its row (removed = true).
        CREATE TABLE criterion (
            id INTEGER PRIMARY KEY DEFAULT nextval('criterion_id_seq'),
            pilot_id INTEGER NOT NULL,
            statement VARCHAR NOT NULL,
            status VARCHAR NOT NULL DEFAULT 'unknown',
            evidence VARCHAR NOT NULL DEFAULT '',
            removed BOOLEAN NOT NULL DEFAULT FALSE,
            version INTEGER NOT NULL DEFAULT 1,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE INDEX criterion_pilot ON criterion (pilot_id);
        CREATE SEQUENCE criteria_change_id_seq START 1;
        -- Every change to a criterion's statement (added, edited, removed),
        -- dated by the day it was made: CRITERIA_CHANGED reads it.
        CREATE TABLE criteria_change (
            id INTEGER PRIMARY KEY DEFAULT nextval('criteria_change_id_seq'),
            pilot_id INTEGER NOT NULL,
            criterion_id INTEGER NOT NULL,
            action VARCHAR NOT NULL,
            before VARCHAR,
            after VARCHAR,
            changed_on DATE NOT NULL,
            changed_by INTEGER,
            after_kickoff BOOLEAN NOT NULL,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE SEQUENCE decision_id_seq START 1;
        -- Decisions are never updated or deleted; a correction is a new row
        -- that names the one it supersedes.
        CREATE TABLE decision (
            id INTEGER PRIMARY KEY DEFAULT nextval('decision_id_seq'),
            pilot_id INTEGER NOT NULL,
            kind VARCHAR NOT NULL,                 -- go | no_go | extend
            decided_on DATE NOT NULL,
            decided_by INTEGER NOT NULL,
            recorded_by INTEGER,
            rationale VARCHAR NOT NULL,
            stage_before VARCHAR NOT NULL,
            stage_after VARCHAR NOT NULL,
            go_no_go_before DATE,
            go_no_go_after DATE,
            bridge_due_before DATE,
            bridge_due_after DATE,
            override_reason VARCHAR NOT NULL DEFAULT '',
            criteria_snapshot VARCHAR NOT NULL,    -- JSON list of the criteria as they stood
            supersedes_id INTEGER,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE INDEX decision_pilot ON decision (pilot_id);
        CREATE SEQUENCE stage_event_id_seq START 1;
        -- Stage moves that are not decisions: start, promote, retire.
        CREATE TABLE stage_event (
            id INTEGER PRIMARY KEY DEFAULT nextval('stage_event_id_seq'),
            pilot_id INTEGER NOT NULL,
            action VARCHAR NOT NULL,
            stage_before VARCHAR NOT NULL,
            stage_after VARCHAR NOT NULL,
            happened_on DATE NOT NULL,
            actor_id INTEGER,
            override_reason VARCHAR NOT NULL DEFAULT '',
            note VARCHAR NOT NULL DEFAULT '',
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        -- The bridge checklist (seed 001): one row per pilot and item.
        CREATE TABLE bridge_check (
            pilot_id INTEGER NOT NULL,
            item VARCHAR NOT NULL,
            done BOOLEAN NOT NULL DEFAULT FALSE,
            note VARCHAR NOT NULL DEFAULT '',
            updated_by INTEGER,
            updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (pilot_id, item)
        );
        """,
    ),
    (
        "003_privileges_kpis_readiness",
        """
        ALTER TABLE pilot ADD COLUMN expected_monthly_volume DOUBLE;  -- transactions a month
        ALTER TABLE criterion ADD COLUMN kpi_id INTEGER;  -- a criterion tied to a KPI's target
        CREATE SEQUENCE privilege_id_seq START 1;
        -- What the pilot borrowed that normal operation does not give (seed 003).
        CREATE TABLE privilege (
            id INTEGER PRIMARY KEY DEFAULT nextval('privilege_id_seq'),
            pilot_id INTEGER NOT NULL,
            kind VARCHAR NOT NULL,
            description VARCHAR NOT NULL,
            granted_by VARCHAR NOT NULL DEFAULT '',
            since DATE,
            expires DATE,
            disposition VARCHAR NOT NULL DEFAULT 'undecided',
            decided_by INTEGER,
            decided_on DATE,
            note VARCHAR NOT NULL DEFAULT '',
            version INTEGER NOT NULL DEFAULT 1,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE INDEX privilege_pilot ON privilege (pilot_id);
        CREATE SEQUENCE kpi_id_seq START 1;
        CREATE TABLE kpi (
            id INTEGER PRIMARY KEY DEFAULT nextval('kpi_id_seq'),
            pilot_id INTEGER NOT NULL,
            name VARCHAR NOT NULL,
            category VARCHAR NOT NULL,
            unit VARCHAR NOT NULL DEFAULT '',
            direction VARCHAR NOT NULL,            -- higher | lower is better
            baseline DOUBLE,
            target DOUBLE,
            horizon_days INTEGER,                  -- the window the target is measured over
            production BOOLEAN NOT NULL,           -- a production KPI, or only a pilot metric
            version INTEGER NOT NULL DEFAULT 1,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE INDEX kpi_pilot ON kpi (pilot_id);
        CREATE SEQUENCE kpi_reading_id_seq START 1;
        CREATE TABLE kpi_reading (
            id INTEGER PRIMARY KEY DEFAULT nextval('kpi_reading_id_seq'),
            kpi_id INTEGER NOT NULL,
            pilot_id INTEGER NOT NULL,
            reading_on DATE NOT NULL,
            value DOUBLE NOT NULL,
            note VARCHAR NOT NULL DEFAULT '',
            recorded_by INTEGER,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE INDEX kpi_reading_kpi ON kpi_reading (kpi_id, reading_on);
        -- The standard readiness checklist (seeds 002 and 004); admins edit it.
        CREATE TABLE readiness_item (
            key VARCHAR PRIMARY KEY,
            dimension VARCHAR NOT NULL,            -- technical | data | organisational | governance
            label VARCHAR NOT NULL,
            required_for_go BOOLEAN NOT NULL DEFAULT FALSE,
            position INTEGER NOT NULL,
            active BOOLEAN NOT NULL DEFAULT TRUE
        );
        INSERT INTO readiness_item VALUES
            ('load_test', 'technical', 'Load tested at three times the expected peak', TRUE, 1, TRUE),
            ('observability', 'technical', 'Observability and SLOs', TRUE, 2, TRUE),
            ('rollback', 'technical', 'A rollback path', TRUE, 3, TRUE),
            ('integration', 'technical', 'Integration stability', FALSE, 4, TRUE),
            ('data_contracts', 'data', 'Data contracts for each source', TRUE, 5, TRUE),
            ('data_owner', 'data', 'A named data owner', TRUE, 6, TRUE),
            ('data_quality', 'data', 'Data quality monitoring', FALSE, 7, TRUE),
            ('ops_owner', 'organisational', 'An operational owner', TRUE, 8, TRUE),
            ('ops_handoff', 'organisational', 'An operations handoff rehearsed', FALSE, 9, TRUE),
            ('escalation', 'organisational', 'A human escalation path', TRUE, 10, TRUE),
            ('training', 'organisational', 'Training for the people who use it', FALSE, 11, TRUE),
            ('error_channel', 'organisational', 'A channel for users to flag errors', FALSE, 12, TRUE),
            ('governance_review', 'governance', 'Governance review: legal, compliance, security', TRUE, 13, TRUE),
            ('audit_trail', 'governance', 'Audit trail', TRUE, 14, TRUE),
            ('permissions', 'governance', 'Permissions', FALSE, 15, TRUE),
            ('accountability', 'governance', 'An accountability map', FALSE, 16, TRUE);
        CREATE TABLE readiness (
            pilot_id INTEGER NOT NULL,
            item_key VARCHAR NOT NULL,
            status VARCHAR NOT NULL,               -- not_started | in_progress | done | not_applicable
            evidence VARCHAR NOT NULL DEFAULT '',
            updated_by INTEGER,
            updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (pilot_id, item_key)
        );
        """,
    ),
    (
        "004_import",
        """
        -- The identity of a pilot in the organisation's own spreadsheet: a
        -- re-import updates the pilot with the same external id.
        ALTER TABLE pilot ADD COLUMN external_id VARCHAR;
        CREATE UNIQUE INDEX pilot_external_id ON pilot (external_id);
        -- Columns of an imported file that map to no field, kept with the pilot.
        CREATE TABLE pilot_attribute (
            pilot_id INTEGER NOT NULL,
            name VARCHAR NOT NULL,
            value VARCHAR NOT NULL,
            PRIMARY KEY (pilot_id, name)
        );
        """,
    ),
    (
        "005_digest",
        """
        CREATE SEQUENCE digest_run_id_seq START 1;
        -- Each digest run keeps the flags it saw, so the next one can say what
        -- was raised and cleared since.
        CREATE TABLE digest_run (
            id INTEGER PRIMARY KEY DEFAULT nextval('digest_run_id_seq'),
            as_of DATE NOT NULL,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE TABLE digest_flag (
            run_id INTEGER NOT NULL,
            pilot_id INTEGER NOT NULL,
            code VARCHAR NOT NULL,
            severity VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            stage VARCHAR NOT NULL
        );
        """,
    ),
    (
        "006_audit_archive",
        """
        -- Archived pilots leave the portfolio's numbers and flags and keep
        -- their history. (DuckDB alters a table only without indexes on it.)
        DROP INDEX pilot_external_id;
        ALTER TABLE pilot ADD COLUMN archived BOOLEAN NOT NULL DEFAULT FALSE;
        CREATE UNIQUE INDEX pilot_external_id ON pilot (external_id);
        -- Bumped by every save of the item, so a second editor is told.
        ALTER TABLE readiness ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
        CREATE SEQUENCE audit_id_seq START 1;
        -- Every change, written in the same transaction as the change. No
        -- code updates or deletes these rows. Refused edits are kept too
        -- (action ending in "refused"), with what the person tried to save.
        CREATE TABLE audit (
            id BIGINT PRIMARY KEY DEFAULT nextval('audit_id_seq'),
            happened_at TIMESTAMP NOT NULL,        -- UTC
            actor_id INTEGER,                      -- the person, when the actor is one
            actor VARCHAR NOT NULL,                -- their name and email as they were then
            via VARCHAR NOT NULL,                  -- app | command line
            entity VARCHAR NOT NULL,               -- pilot, person, weekly_update, decision, ...
            entity_id VARCHAR NOT NULL,
            pilot_id INTEGER,                      -- the pilot it belongs to, for its History
            action VARCHAR NOT NULL,
            before VARCHAR,                        -- JSON of the record before, NULL when created
            after VARCHAR                          -- JSON of the record after, NULL when removed
        );
        CREATE INDEX audit_pilot ON audit (pilot_id);
        CREATE INDEX audit_entity ON audit (entity, entity_id);
        """,
    ),
    (
        "007_update_superseded_on",
        """
        -- The day a later revision of the same week was posted: a revision is
        -- the week's latest on any day before it, so the flags need no pass
        -- over every week of the history to find each week's latest.
        ALTER TABLE weekly_update ADD COLUMN superseded_on DATE;
        UPDATE weekly_update SET superseded_on = later.first_posted
        FROM (SELECT a.id, min(b.posted_on) AS first_posted
              FROM weekly_update a JOIN weekly_update b
                ON b.pilot_id = a.pilot_id AND b.week_start = a.week_start AND b.revision > a.revision
              GROUP BY a.id) later
        WHERE weekly_update.id = later.id;
        """,
    ),
    ("008_business_units", lambda conn: _business_units(conn)),
    (
        "009_notifications",
        """
        -- Whether a person wants reminder emails, and of which categories.
        -- No row: yes, every category (the default for everyone).
        CREATE TABLE notify_preference (
            person_id INTEGER PRIMARY KEY,
            email_me BOOLEAN NOT NULL DEFAULT TRUE,
            categories VARCHAR NOT NULL          -- the chosen categories' keys, comma-separated
        );
        CREATE SEQUENCE reminder_sent_id_seq START 1;
        -- Every reminder delivered: a reason is sent again only when its
        -- step changes (14 -> 7 -> 0 days, overdue -> escalated) or after a
        -- week while it holds. A failed send writes nothing here.
        CREATE TABLE reminder_sent (
            id INTEGER PRIMARY KEY DEFAULT nextval('reminder_sent_id_seq'),
            person_id INTEGER NOT NULL,
            pilot_id INTEGER NOT NULL,
            reason VARCHAR NOT NULL,
            step VARCHAR NOT NULL,
            sent_on DATE NOT NULL,               -- the day the run was for (its as-of date)
            sent_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE INDEX reminder_sent_person ON reminder_sent (person_id, pilot_id, reason);
        """,
    ),
    (
        "010_tokens",
        """
        -- The secrets a person holds to reach the tracker from outside the
        -- browser (purpose): the address of their calendar feed ('calendar',
        -- one live at a time) and API tokens ('API', as many as they name). Only the
        -- SHA-256 of each token is kept: the token itself is shown once, when
        -- made. A token is revoked (revoked_at set), never deleted.
        CREATE SEQUENCE access_token_id_seq START 1;
        CREATE TABLE access_token (
            id INTEGER PRIMARY KEY DEFAULT nextval('access_token_id_seq'),
            person_id INTEGER NOT NULL,
            purpose VARCHAR NOT NULL,
            label VARCHAR NOT NULL DEFAULT '',
            token_hash VARCHAR NOT NULL UNIQUE,
            created_at TIMESTAMP NOT NULL,
            created_by INTEGER,
            revoked_at TIMESTAMP,
            revoked_by INTEGER
        );
        CREATE INDEX access_token_person ON access_token (person_id);
        """,
    ),
    (
        "011_revocation_and_stop_reasons",
        """
        -- A borrowed privilege given back (seed 003): on which day, by whom,
        -- with what evidence. Until then a stopped or retired pilot, or one
        -- past the privilege's expiry, still holds it (PRIVILEGES_NOT_REVOKED).
        -- (DuckDB alters a table only without indexes on it.)
        DROP INDEX privilege_pilot;
        ALTER TABLE privilege ADD COLUMN revoked_on DATE;
        ALTER TABLE privilege ADD COLUMN revoked_by INTEGER;
        ALTER TABLE privilege ADD COLUMN revocation_evidence VARCHAR NOT NULL DEFAULT '';
        CREATE INDEX privilege_pilot ON privilege (pilot_id);
        CREATE SEQUENCE stop_record_id_seq START 1;
        -- Why a pilot was stopped (a no-go, or a correction to one) or
        -- retired, and what was learned: one row per such act, naming the
        -- decision or the stage move it came with. Never updated.
        CREATE TABLE stop_record (
            id INTEGER PRIMARY KEY DEFAULT nextval('stop_record_id_seq'),
            pilot_id INTEGER NOT NULL,
            decision_id INTEGER,                   -- the no-go
            stage_event_id INTEGER,                -- the retirement
            stage_after VARCHAR NOT NULL,          -- stopped | retired
            stopped_on DATE NOT NULL,
            reason VARCHAR NOT NULL,               -- a StopReason value
            lessons VARCHAR NOT NULL DEFAULT '',
            recorded_by INTEGER,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE INDEX stop_record_pilot ON stop_record (pilot_id);
        """,
    ),
    (
        "012_acceptance_and_checkins",
        """
        CREATE SEQUENCE handover_acceptance_id_seq START 1;
        -- The handover accepted (or not) before go (seed 001), by the person
        -- in the seat then: never edited; a later word supersedes an earlier.
        CREATE TABLE handover_acceptance (
            id INTEGER PRIMARY KEY DEFAULT nextval('handover_acceptance_id_seq'),
            pilot_id INTEGER NOT NULL,
            seat VARCHAR NOT NULL,                 -- operational_owner_id | executive_sponsor_id
            person_id INTEGER,                     -- who held the seat and gave their word
            verdict VARCHAR NOT NULL,              -- accepted | with_conditions | refused
            note VARCHAR NOT NULL DEFAULT '',
            accepted_on DATE NOT NULL,
            recorded_by INTEGER,                   -- who entered it (the seat holder, or an admin)
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE INDEX handover_acceptance_pilot ON handover_acceptance (pilot_id);
        CREATE SEQUENCE checkin_id_seq START 1;
        -- The check-ins after go: one per check-in day (30, 60, 90 by
        -- default) of the promotion it follows.
        CREATE TABLE checkin (
            id INTEGER PRIMARY KEY DEFAULT nextval('checkin_id_seq'),
            pilot_id INTEGER NOT NULL,
            promoted_on DATE NOT NULL,             -- the promotion the days count from
            due_day INTEGER NOT NULL,              -- days after the promotion it was due
            checked_on DATE NOT NULL,
            used BOOLEAN NOT NULL,
            kpis_hold BOOLEAN NOT NULL,
            cost_as_expected BOOLEAN NOT NULL,
            note VARCHAR NOT NULL DEFAULT '',
            person_id INTEGER,                     -- the operational owner then
            recorded_by INTEGER,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE INDEX checkin_pilot ON checkin (pilot_id);
        """,
    ),
    (
        "013_value_and_baseline",
        """
        -- What a pilot is expected to bring a month in production: an amount
        -- and its unit, a currency code (EUR) or 'hours' (hours saved).
        ALTER TABLE pilot ADD COLUMN expected_monthly_value DOUBLE;
        ALTER TABLE pilot ADD COLUMN expected_value_unit VARCHAR DEFAULT '';
        UPDATE pilot SET expected_value_unit = '' WHERE expected_value_unit IS NULL;
        -- The day a KPI's baseline was read: a baseline counts when read
        -- before the clock started.
        ALTER TABLE kpi ADD COLUMN baseline_on DATE;
        """,
    ),
    ("014_pilot_summary", lambda conn: _pilot_summary(conn)),
]


def _business_units(conn: duckdb.DuckDBPyConnection) -> None:
    """The kept list of business units, seeded from the units the pilots
    carry: spellings that differ only in case are one unit, kept in its most
    common spelling, and the pilots spelled otherwise take it (each change
    in the audit trail, as done by the upgrade)."""
    from portfolio.domain import units
    from portfolio.domain.models import Actor
    from portfolio.domain.vocabulary import Role
    from portfolio.storage import audit
    from portfolio.storage import units as unit_store

    conn.execute("""
        CREATE SEQUENCE business_unit_id_seq START 1;
        -- The organisation's units, kept by admins; a pilot carries its
        -- unit's name. A unit no longer offered is retired (active = false).
        CREATE TABLE business_unit (
            id INTEGER PRIMARY KEY DEFAULT nextval('business_unit_id_seq'),
            name VARCHAR NOT NULL,
            name_key VARCHAR NOT NULL UNIQUE,     -- the name in lower case: one unit whatever the case
            active BOOLEAN NOT NULL DEFAULT TRUE,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
    """)
    in_use = unit_store.pilot_unit_spellings(conn)
    kept = units.kept_spelling(name for _, name in in_use)
    unit_store.insert_units(conn, [kept[k] for k in sorted(kept)])
    respelled = {pid: kept[units.key(name)] for pid, name in in_use if kept[units.key(name)] != name}
    if respelled:
        # The pilot's columns as they are at this upgrade (later ones add more).
        before = audit.snapshots(conn, "pilot", list(respelled), present_only=True)
        unit_store.respell_pilot_units(conn, respelled)
        after = audit.snapshots(conn, "pilot", list(respelled), present_only=True)
        upgrade = Actor(person_id=None, name="The tracker's upgrade", email=None, role=Role.VIEWER, via="upgrade")
        audit.record_many(conn, upgrade, "pilot", "edit", [(i, before[i], after[i]) for i in respelled])


def _pilot_summary(conn: duckdb.DuckDBPyConnection) -> None:
    """The kept summaries of each pilot's updates and KPI readings that
    today's flags read (storage/summaries.py), filled from the history."""
    from portfolio.storage import summaries

    conn.execute(summaries.CREATE)
    summaries.refresh_all(conn)


_migrated: set[str] = set()
_migrate_lock = threading.Lock()


def _is_lock_error(exc: Exception) -> bool:
    """A file held by another program, or (within this process) one that
    another thread is opening that instant: DuckDB then says "Unique file
    handle conflict" (duckdb/duckdb-python#392). Both pass; both are waited
    out."""
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text or "Unique file handle conflict" in text


# What the operating system says when a file may be read but not written,
# and when there is no room left to write it, as DuckDB passes it on.
_NOT_WRITABLE = ("Permission denied", "Read-only file system", "Operation not permitted",
                 "read-only mode")
_NO_SPACE = ("No space left on device", "File too large", "Disk quota exceeded")


# What DuckDB says of a file that is not (or no longer) a database it can
# read: another kind of file, a file cut short, a block whose checksum fails.
_DAMAGED = ("not a valid DuckDB database file", "Corrupt database file", "Could not read enough bytes",
            "does not match stored checksum", "database file is corrupt")


def is_damaged(exc: Exception) -> bool:
    """Whether a DuckDB error says the file itself is damaged."""
    return any(reason in str(exc) for reason in _DAMAGED)


def damaged(path: str | Path | None = None) -> StorageError:
    where = f"The database file {path}" if path else "The database file"
    return StorageError(
        f"{where} is damaged (it is not a database the tracker can read), so nothing was written to it. "
        "Restore it from a backup (python -m portfolio backup makes one), or point PORTFOLIO_DB "
        "(or --db) at the right file."
    )


def missing(path: str | Path) -> StorageError:
    return StorageError(
        f"The database file {path} does not exist, and it is not created on the way in: check "
        f"PORTFOLIO_DB (or --db) for a typo. To start a demo portfolio there, run "
        f"python -m portfolio demo --db {path} (make run does this at the default path on its first start)."
    )


def storage_error(exc: Exception, path: str | Path | None = None) -> StorageError | None:
    """A DuckDB error caused by the storage under the database, in words a
    person can act on; None when the error is something else."""
    text = str(exc)
    where = f"The database {path}" if path else "The database"
    if is_damaged(exc):
        return damaged(path)
    if any(reason in text for reason in _NO_SPACE):
        return StorageError(
            f"{where} could not be written: the disk is full (or the file reached its size limit), "
            f"so nothing was saved. Free some space and try again. ({text})"
        )
    if any(reason in text for reason in _NOT_WRITABLE):
        return StorageError(
            f"{where} is read-only, so nothing was saved: you can read, not write. Whoever runs the "
            "app must make the database file and its folder writable."
        )
    if isinstance(exc, (duckdb.IOException, duckdb.FatalException)) or "Could not write" in text:
        return StorageError(f"{where} could not be read or written (nothing was saved): {text}")
    return None


# A file another program is writing that instant can read as damaged: it
# is called damaged once it still reads so after this long.
DAMAGED_GRACE_SECONDS = 1.0


def _open(path: Path, read_only: bool, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    """Open the file, waiting up to ``wait_seconds`` while another program
    holds it. A file that reads as damaged raises DuckDB's error as it came:
    ``connect`` gives it the grace."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.01
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            if not _is_lock_error(exc):
                if not read_only and path.is_file() and any(r in str(exc) for r in _NOT_WRITABLE):
                    # Readable but not writable: open it to read, and let
                    # every write say why it was refused.
                    return _open(path, True, max(0.0, deadline - time.monotonic()))
                if is_damaged(exc):
                    raise
                raise StorageError(f"Cannot open the database {path}: {exc}") from None
            if time.monotonic() >= deadline:
                raise StorageBusy(
                    f"The database {path} is in use by another program and stayed "
                    f"locked for {wait_seconds:.0f} s; try again in a moment."
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def is_read_only(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether this connection can only read (opened so, or fallen back to
    because the file cannot be written)."""
    row = conn.execute(
        "SELECT readonly FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return bool(row and row[0])


def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    wait_seconds: float | None = None,
    create: bool = False,
) -> duckdb.DuckDBPyConnection:
    """Open the database and migrate it when needed. A file that cannot be
    written opens read-only (see ``is_read_only``). A missing file is a
    StorageError unless ``create`` (init's, the demo's and the tests'): a mistyped
    path must not become a new, empty portfolio."""
    path = Path(path)
    if wait_seconds is None:
        wait_seconds = lock_wait_seconds()
    if str(path) != ":memory:" and not create and not path.exists():
        raise missing(path)
    if str(path) != ":memory:" and not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"Cannot create the folder for the database {path}: {exc.strerror}") from None
    # A file another program is writing that instant can read as damaged,
    # whether it does not open or opens and fails its first read: it gets
    # the grace before it is called so, counted from that first failure (the
    # open may have waited for a lock). A file this process has migrated
    # already is not read here: in a long run (the app), a file caught
    # mid-write fails at its first query instead.
    damaged_until = None
    delay = 0.01
    while True:
        try:
            return _open_migrated(path, read_only, wait_seconds)
        except duckdb.Error as exc:
            if is_damaged(exc):
                damaged_until = damaged_until or time.monotonic() + DAMAGED_GRACE_SECONDS
                if time.monotonic() < damaged_until:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.2)
                    continue
            problem = storage_error(exc, path)
            if problem is None:
                raise
            raise problem from None


def _open_migrated(path: Path, read_only: bool, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    """Open the file and bring its schema up to date; a DuckDB error on the
    way closes the connection and is raised as it came."""
    conn = _open(path, read_only, wait_seconds)
    key = str(path.resolve()) if str(path) != ":memory:" else f"memory:{id(conn)}"
    if key in _migrated:
        return conn
    try:
        read_only = is_read_only(conn)
        pending = _pending(conn) if read_only else []
    except duckdb.Error:  # the catalog itself cannot be read
        conn.close()
        raise
    if read_only:
        if pending:
            conn.close()
            # The code reads the newer schema: without its upgrade, it cannot read this file either.
            raise StorageError(
                f"The database {path} was written by an earlier version of the tracker and needs an upgrade "
                f"({', '.join(pending)}), which cannot be written: make the file and its folder writable, "
                "then start again (the upgrade runs on its own)."
            )
        return conn
    with _migrate_lock:
        try:
            migrate(conn)
        except BaseException:  # a DuckDB error, or any other from a migration written in Python
            conn.close()
            raise
        _migrated.add(key)
    return conn


def _pending(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """The migrations this database has not had, read without writing."""
    recorded = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migration' AND schema_name = 'main'"
        " AND database_name = current_database()").fetchone()[0]
    done = {r[0] for r in conn.execute("SELECT name FROM schema_migration").fetchall()} if recorded else set()
    return [name for name, _ in MIGRATIONS if name not in done]


@contextmanager
def session(path: str | Path, **kwargs) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection for one unit of work, closed (and the file released) after."""
    conn = connect(path, **kwargs)
    try:
        yield conn
    finally:
        conn.close()


def check_readable(conn: duckdb.DuckDBPyConnection, path: str | Path | None = None) -> None:
    """Read every stored value once, so that a block that fails its checksum
    is found before a bulk write lands in a damaged file (DuckDB checks a
    block only when it reads it, and a write reads few). Raises StorageError;
    costs a scan of the database, so it is for the command line's imports,
    not for page runs."""
    tables = [r[0] for r in conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'"
    ).fetchall()]
    try:
        for table in tables:
            # The names come from the catalog, quoted; hashing the whole row
            # makes DuckDB read every column of every row group.
            conn.execute(f'SELECT bit_xor(hash(t)) FROM "{table.replace(chr(34), chr(34) * 2)}" AS t').fetchall()
    except duckdb.Error as exc:
        problem = storage_error(exc, path)
        if problem is None:
            raise
        raise problem from None


def applied_migrations(conn: duckdb.DuckDBPyConnection) -> list[str]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migration ("
        " name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
    )
    return [r[0] for r in conn.execute("SELECT name FROM schema_migration ORDER BY name").fetchall()]


def migrate(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the migrations not yet recorded, each with its record in one
    transaction. Returns the names applied now (empty when up to date)."""
    done = set(applied_migrations(conn))
    applied = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        conn.begin()
        try:
            if callable(sql):
                sql(conn)  # a migration that reads what it changes
            else:
                conn.execute(sql)
            conn.execute("INSERT INTO schema_migration (name) VALUES (?)", [name])
            conn.commit()
        except BaseException:
            # A commit that failed has ended the transaction already: the
            # rollback must not hide why it failed.
            _rollback_quietly(conn)
            raise
        applied.append(name)
    return applied


def _is_conflict(exc: Exception) -> bool:
    """A concurrent writer got there first: a write-write conflict ("Conflict
    on update", "Catalog write-write conflict"), or a key it took at the same
    moment, found at commit ("Failed to commit: PRIMARY KEY or UNIQUE
    constraint violation"). Running the unit again sees what it wrote."""
    text = str(exc)
    return "onflict" in text or "constraint violation" in text


def _pause(attempt: int) -> float:
    """Exponential, capped, and jittered: half to all of the step."""
    step = min(RETRY_PAUSE_MAX, 0.005 * 2**attempt)
    return step * random.uniform(0.5, 1.0)


def write(conn: duckdb.DuckDBPyConnection, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Run ``work`` as one transaction: all of it is written or none of it.

    A conflict with a concurrent writer retries the whole unit a bounded
    number of times; a storage that cannot take the write (read-only, full)
    raises StorageError; any other error rolls back and propagates.
    """
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        conn.begin()
        try:
            result = work(conn)
            conn.commit()
            return result
        except duckdb.Error as exc:
            _rollback_quietly(conn)
            problem = storage_error(exc)
            if problem is not None:
                raise problem from None
            if not isinstance(exc, (duckdb.TransactionException, duckdb.ConstraintException)):
                raise
            retry = isinstance(exc, duckdb.ConstraintException) or _is_conflict(exc)
            if not retry or attempt == WRITE_ATTEMPTS:
                raise StorageBusy(
                    "Someone else was saving the same record at the same moment; "
                    "nothing was saved, please try again."
                ) from None
            time.sleep(_pause(attempt))
        except BaseException:
            _rollback_quietly(conn)
            raise
    raise AssertionError("unreachable")


def _rollback_quietly(conn: duckdb.DuckDBPyConnection) -> None:
    try:
        conn.rollback()
    except duckdb.Error:
        pass  # the transaction was already aborted by DuckDB itself
