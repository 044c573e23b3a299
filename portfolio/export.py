"""Getting the portfolio out: the pilots as CSV, the whole portfolio as an
Excel workbook, and a complete, restorable backup of the database.

This module owns spreadsheet safety. A cell whose text starts with ``=``,
``+``, ``-`` or ``@`` (or a tab or carriage return) is run as a formula by
Excel, LibreOffice and Google Sheets, so a pilot named ``=HYPERLINK(...)``
would become a live link in a leader's spreadsheet. ``neutralise`` is the one
place that defuses such a cell, and every export here goes through
``safe_frame``; nothing else in the tracker writes spreadsheets.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from . import db
from . import flags as flag_rules
from .models import InvalidInput, StorageBusy
from .settings import Settings

# The characters a spreadsheet reads as the start of a formula (OWASP's list:
# tab and carriage return too, since some programs skip them and read on).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Tables that are the tracker's own bookkeeping, not portfolio data: the
# applied migrations, and the digest runs (kept only to say what changed
# between two digests).
INTERNAL_TABLES = {"schema_migration", "digest_run", "digest_flag"}

# Sheet titles for the tables people know, in the order the workbook shows
# them. ``pilot`` is replaced by the pilots-with-flags frame; any table not
# named here (a later migration's) still gets a sheet, after these.
SHEET_TITLES = {
    "pilot": "Pilots",
    "person": "People",
    "weekly_update": "Weekly updates",
    "criterion": "Criteria",
    "decision": "Decisions",
    "privilege": "Privileges",
    "kpi": "KPIs",
    "kpi_reading": "KPI readings",
    "readiness": "Readiness",
}
FLAGS_SHEET = "Flags"

# Columns that are storage details, not information: the lower-cased email
# only exists to make the email unique case-insensitively.
HIDDEN_COLUMNS = {"person": {"email_key"}}

# Excel's hard limits: rows per sheet, characters per sheet title.
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_TITLE = 31

# Characters an .xlsx file cannot hold at all (control characters other than
# tab, newline and carriage return); openpyxl refuses the whole workbook if
# one slips in from an imported spreadsheet.
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

SEATS = ("product_owner", "technical_lead", "executive_sponsor", "operational_owner")


# --- spreadsheet safety -----------------------------------------------------


def neutralise(value):
    """``value`` made safe for a spreadsheet cell: text that a spreadsheet
    would run as a formula gets a leading apostrophe, so it is shown as
    text. Numbers, dates and missing values are returned untouched."""
    # Checked on the text as the xlsx writer will store it too (control
    # characters dropped): "\x01=HYPERLINK(...)" would otherwise become a formula.
    if isinstance(value, str) and (value.startswith(FORMULA_STARTS)
                                   or _ILLEGAL_XLSX.sub("", value).startswith(FORMULA_STARTS)):
        return "'" + value
    return value


def _is_text_column(series: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with every text cell (and every column title)
    neutralised. Numeric and date columns are left as they are, so they stay
    numbers and dates in the spreadsheet."""
    out = df.copy()
    for col in out.columns:
        if _is_text_column(out[col]):
            # object columns may mix text with numbers or None: map each cell.
            out[col] = out[col].astype(object).map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


# --- what is exported -------------------------------------------------------


def _has_column(conn, table: str, column: str) -> bool:
    return bool(conn.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database()"
        " AND schema_name = 'main' AND table_name = ? AND column_name = ?",
        [table, column],
    ).fetchone()[0])


def pilots_with_flags(conn, as_of: date, settings: Settings, *, flags: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per pilot: its fields, the name and email of each seat holder
    (marked when inactive), its clock on ``as_of`` (day and days left), its
    stage, its external id when the schema has one, and its flags: worst
    severity, codes and reasons joined. ``flags`` is the portfolio's flags
    on ``as_of`` when the caller has them already."""
    external = "p.external_id, " if _has_column(conn, "pilot", "external_id") else ""
    seat_cols = ",\n".join(
        f"{_alias(s)}.name AS {s}, {_alias(s)}.email AS {s}_email, {_alias(s)}.active AS {s}_active"
        for s in SEATS
    )
    seat_joins = "\n".join(
        f"LEFT JOIN person {_alias(s)} ON {_alias(s)}.id = p.{s}_id" for s in SEATS
    )
    frame = conn.execute(
        f"""
        SELECT p.id, {external}p.name, p.business_unit, p.problem, p.stage,
               p.start_date, p.go_no_go_date, p.bridge_due_date, p.expected_monthly_volume,
               {seat_cols}
        FROM pilot p
        {seat_joins}
        WHERE NOT p.archived
        ORDER BY p.name, p.id
        """
    ).df()
    start = pd.to_datetime(frame["start_date"])
    gng = pd.to_datetime(frame["go_no_go_date"])
    today = pd.Timestamp(as_of)
    # The clock as PRODUCT.md counts it (and overview shows it): the start
    # date is day 1; days left is 0 on the go/no-go date itself.
    day = ((today - start).dt.days + 1).astype("Int64")
    days_left = (gng - today).dt.days.astype("Int64")
    at = frame.columns.get_loc("go_no_go_date") + 1
    frame.insert(at, "day", day)
    frame.insert(at + 1, "days_left", days_left)
    for seat in SEATS:
        # An inactive seat holder is kept but marked: that is what makes a
        # pilot ownerless, and a reader of the sheet must see it.
        inactive = frame[f"{seat}_active"].eq(False).fillna(False).astype(bool)
        names = frame[seat].astype(object)
        names[inactive] = names[inactive].map(lambda n: f"{n} (inactive)")
        frame[seat] = names
        frame = frame.drop(columns=[f"{seat}_active"])

    if flags is None:
        flags = flag_rules.portfolio_flags(conn, as_of, settings)
    summary = flag_rules.pilot_summary(flags)
    summary = summary.drop(columns=["pilot"]).rename(columns={"pilot_id": "id"})
    frame = frame.merge(summary, on="id", how="left")
    for col in ("severity", "flags", "reasons"):
        frame[col] = frame[col].astype(object).where(frame[col].notna(), "")
    return _as_dates(frame, ["start_date", "go_no_go_date", "bridge_due_date"]).reset_index(drop=True)


def _as_dates(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """DuckDB hands DATE columns to pandas as midnight timestamps; turn them
    back into dates so a spreadsheet shows 2026-03-02, not a time of day."""
    for col in columns:
        if col in frame.columns and pd.api.types.is_datetime64_any_dtype(frame[col]):
            values = frame[col]
            frame[col] = pd.Series(
                [None if pd.isna(v) else v.date() for v in values], index=frame.index, dtype=object)
    return frame


def _date_columns(conn, table: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database()"
        " AND schema_name = 'main' AND table_name = ? AND data_type = 'DATE'",
        [table],
    ).fetchall()]


def _alias(seat: str) -> str:
    return {"product_owner": "po", "technical_lead": "tl",
            "executive_sponsor": "es", "operational_owner": "oo"}[seat]


def _tables(conn) -> list[str]:
    """The portfolio's tables, from the schema itself: the known ones in the
    workbook's order, then any other, internal bookkeeping left out."""
    names = [r[0] for r in conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        " AND schema_name = 'main' AND NOT internal AND NOT temporary ORDER BY table_name"
    ).fetchall()]
    names = [n for n in names if n not in INTERNAL_TABLES]
    known = [n for n in SHEET_TITLES if n in names]
    return known + [n for n in names if n not in SHEET_TITLES]


def _title(table: str) -> str:
    if table in SHEET_TITLES:
        return SHEET_TITLES[table]
    title = table.replace("_", " ").capitalize()
    return (title if title.endswith("s") else title + "s")[:EXCEL_MAX_TITLE]


def _table_frame(conn, table: str, pilot_names: dict[int, str]) -> pd.DataFrame:
    # ``table`` comes from the catalogue, never from input; quoted all the same.
    frame = conn.execute(f'SELECT * FROM "{table}" ORDER BY ALL').df()
    frame = frame.drop(columns=[c for c in HIDDEN_COLUMNS.get(table, ()) if c in frame.columns])
    frame = _as_dates(frame, _date_columns(conn, table))
    if "pilot_id" in frame.columns:
        # An id alone means nothing to someone reading the sheet.
        frame.insert(frame.columns.get_loc("pilot_id") + 1, "pilot",
                     frame["pilot_id"].map(pilot_names).astype(object))
    return frame


def workbook_frames(conn, as_of: date, settings: Settings) -> dict[str, pd.DataFrame]:
    """Every sheet of the workbook, by title, in order, not yet neutralised."""
    pilot_names = dict(conn.execute("SELECT id, name FROM pilot").fetchall())
    flags = flag_rules.portfolio_flags(conn, as_of, settings)
    sheets: dict[str, pd.DataFrame] = {}
    for table in _tables(conn):
        if table == "pilot":
            sheets[_title(table)] = pilots_with_flags(conn, as_of, settings, flags=flags)
        else:
            sheets[_title(table)] = _table_frame(conn, table, pilot_names)
    sheets[FLAGS_SHEET] = flags
    return sheets


# --- writing files ----------------------------------------------------------


def _out(out_path) -> Path:
    path = Path(out_path)
    if path.is_dir():
        raise InvalidInput(f"Output: {path} is a folder; give a file name", field="out")
    if not path.parent.exists():
        raise InvalidInput(f"Output: the folder {path.parent} does not exist", field="out")
    return path


def _written(path: Path, write) -> None:
    """Write through a temporary file beside ``path`` and move it into place,
    so a failed export never leaves half a file under the name asked for."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        write(partial)
        os.replace(partial, path)
    except OSError as exc:
        raise InvalidInput(f"Output: cannot write {path}: {exc.strerror or exc}", field="out") from None
    finally:
        partial.unlink(missing_ok=True)


def csv_text(df: pd.DataFrame) -> str:
    """``df`` as CSV text, made safe: the one CSV writer of every download
    and command (CRLF line ends, so a cell with a lone carriage return stays
    one cell)."""
    return safe_frame(df).to_csv(index=False, lineterminator="\r\n")


def export_csv(conn, as_of: date, settings: Settings, out_path) -> Path:
    """The pilots, one row each with their flags, as UTF-8 CSV. Returns the path."""
    path = _out(out_path)
    frame = safe_frame(pilots_with_flags(conn, as_of, settings))
    # RFC 4180's CRLF line ending: the writer then quotes any field holding
    # a carriage return or newline (with a bare "\n" ending, a field with a
    # lone "\r" goes out unquoted and splits the row for every reader).
    _written(path, lambda p: frame.to_csv(p, index=False, encoding="utf-8", lineterminator="\r\n"))
    return path


def _xlsx_text(value):
    return _ILLEGAL_XLSX.sub("", value) if isinstance(value, str) else value


def export_xlsx(conn, as_of: date, settings: Settings, out_path) -> Path:
    """The whole portfolio as an Excel workbook: a sheet per table (the
    pilots with their flags in place of the bare pilot table) and a sheet of
    every flag on ``as_of``. Returns the path."""
    path = _out(out_path)
    sheets = {title: safe_frame(frame) for title, frame in workbook_frames(conn, as_of, settings).items()}
    for title, frame in sheets.items():
        if len(frame) + 1 > EXCEL_MAX_ROWS:
            raise InvalidInput(
                f"Output: the sheet {title} has {len(frame)} rows, more than Excel's "
                f"{EXCEL_MAX_ROWS - 1}; export the pilots as CSV instead", field="out")

    def write(target: Path) -> None:
        with pd.ExcelWriter(target, engine="openpyxl", date_format="YYYY-MM-DD",
                            datetime_format="YYYY-MM-DD HH:MM:SS") as writer:
            for title, frame in sheets.items():
                frame = frame.copy()
                for col in frame.columns:
                    if _is_text_column(frame[col]):
                        frame[col] = frame[col].map(_xlsx_text)
                frame.to_excel(writer, sheet_name=title, index=False)
                writer.sheets[title].freeze_panes = "A2"  # keep the header in view

    _written(path, write)
    return path


# --- backup -------------------------------------------------------------------

_BACKUP_ALIAS = "portfolio_backup_target"


def backup(db_path, out_path) -> Path:
    """A complete, restorable copy of the database at ``db_path`` in the new
    file ``out_path``: every table, sequence (continuing where the original
    stands) and index. Safe while the app runs: the open waits for the app to
    release the file between page runs, and the copy is one consistent read.
    Refuses to overwrite a file. Returns the path of the copy."""
    source = Path(db_path)
    path = Path(out_path)
    if not source.exists():
        raise InvalidInput(f"Database: {source} does not exist; nothing to back up", field="db")
    if path.resolve() == source.resolve():
        raise InvalidInput("Output: the backup must be a different file from the database", field="out")
    if path.exists():
        raise InvalidInput(f"Output: {path} already exists; a backup never overwrites a file, "
                           "choose a new name", field="out")
    if not path.parent.exists():
        raise InvalidInput(f"Output: the folder {path.parent} does not exist", field="out")
    # Copy into a side file and move it into place only when complete: a
    # failed backup must not look like a good one.
    partial = path.with_name(f".{path.name}.partial")
    for leftover in (partial, Path(f"{partial}.wal")):
        leftover.unlink(missing_ok=True)
    with db.session(source) as conn:
        try:
            # Fold the write-ahead log into the file first, so what is copied
            # is everything committed.
            conn.execute("CHECKPOINT")
            name = conn.execute("SELECT current_database()").fetchone()[0]
            conn.execute(f"ATTACH '{_sql_text(partial)}' AS {_BACKUP_ALIAS}")
            try:
                conn.execute(f'COPY FROM DATABASE "{name}" TO {_BACKUP_ALIAS}')
                conn.execute(f"CHECKPOINT {_BACKUP_ALIAS}")
            finally:
                conn.execute(f"DETACH {_BACKUP_ALIAS}")
        except duckdb.Error as exc:
            for leftover in (partial, Path(f"{partial}.wal")):
                leftover.unlink(missing_ok=True)
            raise StorageBusy(f"Backup: copying {source} to {path} failed: {exc}") from None
    if path.exists():  # someone made the file while we copied: still never overwrite
        partial.unlink(missing_ok=True)
        raise InvalidInput(f"Output: {path} appeared while the backup ran; nothing was overwritten",
                           field="out")
    os.replace(partial, path)
    return path


def _sql_text(path: Path) -> str:
    # ATTACH takes no parameters: the path goes in as a quoted literal.
    return str(path).replace("'", "''")
