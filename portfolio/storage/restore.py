"""Putting a backup back in place of the database.

DuckDB keeps committed changes not yet folded into the file in a
write-ahead log beside it (``portfolio.duckdb.wal``). After a crash that log
stays; a backup copied over the file then meets a log that belongs to the
old file, and DuckDB refuses to open it ("WAL does not match database
file"). ``restore`` therefore moves the current file and its log aside
together (kept, never deleted), checks a staged copy of the backup opens
with the tracker's tables before anything is moved, and refuses while
another program holds the database.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from portfolio.domain.errors import InvalidInput, StorageBusy
from portfolio.storage import db, summaries

# Tables without which a file is not a tracker database at all (before any
# upgrade: the first migration's).
CORE_TABLES = {"schema_migration", "person", "pilot", "weekly_update"}


@dataclass
class Restored:
    database: Path
    pilots: int
    kept: list[Path] = field(default_factory=list)  # the previous file and its log, set aside


def _wal(path: Path) -> Path:
    return Path(f"{path}.wal")


def _tables(conn) -> set[str]:
    return {r[0] for r in conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        " AND schema_name = 'main'").fetchall()}


def expected_tables() -> set[str]:
    """The tables of a database at the current schema."""
    with db.session(":memory:") as conn:
        return _tables(conn)


def _hold(path: Path):
    """An exclusive lock on the current database file, the lock DuckDB
    itself takes (fcntl, whole file), or StorageBusy when another program
    holds it. Returns the open file that holds the lock, or None when there
    is no file."""
    if not path.exists():
        return None
    try:
        fh = open(path, "r+b")
    except OSError as exc:
        raise InvalidInput(f"Restore: cannot replace {path}: {exc.strerror}; nothing was changed",
                           field="db") from None
    try:
        fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        fh.close()
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            raise StorageBusy(
                f"Restore: the database {path} is in use by another program (the app, a command or "
                "someone's DuckDB session); stop it, then restore again. Nothing was changed."
            ) from None
        raise
    return fh


def _aside_name(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.before-restore-{stamp}")
    n = 2
    while candidate.exists() or _wal(candidate).exists():
        candidate = path.with_name(f"{path.name}.before-restore-{stamp}-{n}")
        n += 1
    return candidate


def _check_staged(staged: Path, backup: Path) -> int:
    """Open the staged copy as it is, check it is a tracker database,
    upgrade it if it is an older one, check every table of the current
    schema is there, redo its kept summaries, and fold its log in. Returns
    its number of pilots."""
    try:
        with duckdb.connect(str(staged)) as raw:
            found = _tables(raw)
    except duckdb.Error as exc:
        reason = str(exc).replace(f'"{staged}" ', "").replace(str(staged), str(backup))
        raise InvalidInput(f"Backup: {backup} cannot be opened as a database ({reason}); nothing was changed",
                           field="backup") from None
    if not CORE_TABLES <= found:
        raise InvalidInput(f"Backup: {backup} is not a pilot tracker database (it has no "
                           f"{', '.join(sorted(CORE_TABLES - found))} table); nothing was changed", field="backup")
    with db.session(staged) as conn:  # applies any upgrade the copy lacks, as the app would
        missing = expected_tables() - _tables(conn)
        if missing:
            raise InvalidInput(f"Backup: {backup} lacks the tables {', '.join(sorted(missing))}; "
                               "nothing was changed", field="backup")
        pilots = conn.execute("SELECT count(*) FROM pilot").fetchone()[0]
        # The summaries the flags read are redone from the history the file
        # holds: whatever wrote the backup, they are its history's.
        db.write(conn, summaries.refresh_all)
        conn.execute("CHECKPOINT")
    return pilots


def restore(backup_path, db_path) -> Restored:
    """Put the backup at ``backup_path`` in place of the database at
    ``db_path``. The current file and its write-ahead log are kept aside
    under a dated name; nothing is moved until a copy of the backup has
    opened with the expected tables, and nothing at all while another
    program holds the database."""
    backup, target = Path(backup_path), Path(db_path)
    if not backup.is_file():
        raise InvalidInput(f"Backup: {backup} does not exist or is not a file", field="backup")
    if not target.parent.is_dir():
        raise InvalidInput(f"Database: the folder {target.parent} does not exist", field="db")
    if target.exists() and target.resolve() == backup.resolve():
        raise InvalidInput("Backup: the backup must be a different file from the database", field="backup")
    lock = _hold(target)
    staged = target.with_name(f".{target.name}.restoring")
    try:
        for leftover in (staged, _wal(staged)):
            leftover.unlink(missing_ok=True)
        try:
            shutil.copyfile(backup, staged)
            if _wal(backup).exists():  # a copy taken from a live file: its log belongs to it
                shutil.copyfile(_wal(backup), _wal(staged))
        except OSError as exc:
            raise InvalidInput(f"Restore: cannot copy {backup} beside {target}: {exc.strerror}; "
                               "nothing was changed", field="db") from None
        pilots = _check_staged(staged, backup)
        kept: list[Path] = []
        aside = _aside_name(target)
        moves = [(target, aside), (_wal(target), _wal(aside))]
        done: list[tuple[Path, Path]] = []
        try:
            for source, dest in moves:
                if source.exists():
                    os.rename(source, dest)
                    done.append((source, dest))
                    kept.append(dest)
            os.replace(staged, target)
            if _wal(staged).exists():
                os.replace(_wal(staged), _wal(target))
        except OSError as exc:
            for source, dest in reversed(done):  # put back what was moved
                os.rename(dest, source)
            raise InvalidInput(f"Restore: cannot replace {target}: {exc.strerror}; nothing was changed",
                               field="db") from None
    finally:
        for leftover in (staged, _wal(staged)):
            leftover.unlink(missing_ok=True)
        if lock is not None:
            lock.close()  # the lock goes with it; the file is the one kept aside now
    return Restored(database=target, pilots=pilots, kept=kept)
