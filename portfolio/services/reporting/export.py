"""Getting the portfolio out: the pilots as CSV, the whole portfolio as an
Excel workbook, and a complete, restorable backup of the database.

This module owns spreadsheet safety. A cell whose text starts with ``=``,
``+``, ``-`` or ``@`` (or a tab or carriage return) is run as a formula by
Excel, LibreOffice and Google Sheets, so a pilot named ``=HYPERLINK(...)``
would become a live link in a leader's spreadsheet. ``neutralise`` is the one
place that decides which text is such a cell. In CSV, which has no types,
the cell gets a leading apostrophe (``safe_frame``); in the workbook it is
written as a typed text cell, which a spreadsheet never runs, so it shows as
it is, with no apostrophe. Nothing else in the tracker writes spreadsheets.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from portfolio import flags as flag_rules
from portfolio.domain.errors import InvalidInput
from portfolio.domain.settings import Settings
from portfolio.services.reporting import overview
from portfolio.storage import export as export_store
from portfolio.storage import store

# The characters a spreadsheet reads as the start of a formula (OWASP's list:
# tab and carriage return too, since some programs skip them and read on).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Tables that are the tracker's own bookkeeping, not portfolio data: the
# applied migrations, the digest runs (kept only to say what changed
# between two digests), and the summaries of the history the flags read
# (the updates and readings sheets hold it all).
INTERNAL_TABLES = {"schema_migration", "digest_run", "digest_flag", "update_summary", "kpi_latest_reading"}

# Tables no export carries at all, not even the analysts' Parquet copy: the
# calendar links and API tokens (their hashes would let anyone who holds an
# export test guesses offline). Only the backup, a whole database, keeps them.
SECRET_TABLES = {"access_token"}

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
    "stop_record": "Stop reasons",
    "handover_acceptance": "Handover acceptance",
    "checkin": "Check-ins",
    "notify_preference": "Email choices",
    "reminder_sent": "Reminders sent",
}
FLAGS_SHEET = "Flags"

# Columns that are storage details, not information: the lower-cased email
# and unit name only exist to make them unique case-insensitively.
HIDDEN_COLUMNS = {"person": {"email_key"}, "business_unit": {"name_key"}}

# Excel's hard limits: rows per sheet, characters per sheet title.
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_TITLE = 31

# Characters an .xlsx file cannot hold at all (control characters other than
# tab, newline and carriage return); openpyxl refuses the whole workbook if
# one slips in from an imported spreadsheet.
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

SEATS = ("product_owner", "technical_lead", "executive_sponsor", "operational_owner")

# The pilots export's columns that the tracker computes or that only
# decisions and the pilot's page change: an exported file imported back
# ignores them (the importer reads this list). The seat holders' names sit
# beside their emails in the CSV and are ignored too.
COMPUTED_COLUMNS = ("day", "days_left", "next_date", "bridge_due_date", "severity", "flags", "reasons")

# Column headers in words for the workbook, where the generic rule (the
# column name with spaces, first letter capital) reads wrong. The pilots
# sheet's id is the tracker's own, which an exported file is matched by.
HEADER_WORDS = {
    "id": "Id",
    "go_no_go_date": "Go/no-go date",
    "go_no_go_before": "Go/no-go before",
    "go_no_go_after": "Go/no-go after",
    "kpi_id": "KPI id",
    "kpi": "KPI",
    "kpis_hold": "KPIs hold",
}
PILOT_HEADER_WORDS = {"id": "Tracker id"}

# Columns holding a person's id, shown in the workbook as "Name <email>":
# an id alone means nothing to someone reading the sheet.
PERSON_COLUMNS = {"author_id": "Author", "actor_id": "Actor", "decided_by": "Decided by",
                  "recorded_by": "Recorded by", "changed_by": "Changed by", "updated_by": "Updated by",
                  "person_id": "Person",
                  **{f"{s}_id": s.replace("_", " ").capitalize() for s in SEATS}}

# Workbook layout: column widths fit the widest of the header and the first
# WIDTH_SAMPLE_ROWS values, between these bounds (in characters).
WIDTH_SAMPLE_ROWS = 1000
MIN_WIDTH, MAX_WIDTH = 8, 60
DATE_FORMAT = "YYYY-MM-DD"
DATETIME_FORMAT = "YYYY-MM-DD HH:MM:SS"


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


def pilots_with_flags(conn, as_of: date, settings: Settings, *, flags: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per pilot: its fields, the name and email of each seat holder
    (marked when inactive), its clock on ``as_of`` (day and days left), its
    stage, its external id when the schema has one, and its flags: worst
    severity, flags in words and reasons joined. ``flags`` is the portfolio's flags
    on ``as_of`` when the caller has them already."""
    frame = export_store.pilots_with_seats(conn, SEATS)
    day, days_left = overview.clock_columns(frame, as_of)  # as the Portfolio page counts them
    at = frame.columns.get_loc("go_no_go_date") + 1
    frame.insert(at, "day", day)
    frame.insert(at + 1, "days_left", days_left)
    frame.insert(at + 2, "next_date", overview.next_dates(frame))  # each stage's own next date, in words
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


def _tables(conn) -> list[str]:
    """The portfolio's tables, from the schema itself: the known ones in the
    workbook's order, then any other, internal bookkeeping left out."""
    names = [n for n in export_store.portfolio_tables(conn) if n not in INTERNAL_TABLES | SECRET_TABLES]
    known = [n for n in SHEET_TITLES if n in names]
    return known + [n for n in names if n not in SHEET_TITLES]


def _title(table: str) -> str:
    if table in SHEET_TITLES:
        return SHEET_TITLES[table]
    title = table.replace("_", " ").capitalize()
    return (title if title.endswith("s") else title + "s")[:EXCEL_MAX_TITLE]


def _table_frame(conn, table: str, pilot_names: dict[int, str], people: dict[int, str]) -> pd.DataFrame:
    frame = export_store.table_frame(conn, table)
    frame = frame.drop(columns=[c for c in HIDDEN_COLUMNS.get(table, ()) if c in frame.columns])
    frame = _as_dates(frame, export_store.date_columns(conn, table))
    if "pilot_id" in frame.columns:
        # An id alone means nothing to someone reading the sheet.
        frame.insert(frame.columns.get_loc("pilot_id") + 1, "pilot",
                     frame["pilot_id"].map(pilot_names).astype(object))
    for col in PERSON_COLUMNS:
        if col in frame.columns:
            frame[col] = frame[col].map(people).astype(object)
    return frame


def _person(name, email) -> str | None:
    """A person as the workbook shows them: "Name <email>"."""
    if email is None or (not isinstance(email, str) and pd.isna(email)):
        return None
    return f"{name} <{email}>"


def _pilots_sheet(frame: pd.DataFrame) -> pd.DataFrame:
    """The pilots with flags as the workbook shows them: each seat as one
    "Name <email>" cell (an inactive holder marked), not a name and an email."""
    frame = frame.copy()
    for seat in SEATS:
        frame[seat] = [_person(n, e) for n, e in zip(frame[seat], frame[f"{seat}_email"])]
        frame = frame.drop(columns=[f"{seat}_email"])
    return frame


def header_words(column: str, table: str | None = None) -> str:
    """A column's header in words: "go_no_go_date" is "Go/no-go date"."""
    if table == "pilot" and column in PILOT_HEADER_WORDS:
        return PILOT_HEADER_WORDS[column]
    if column in PERSON_COLUMNS:
        return PERSON_COLUMNS[column]
    if column in HEADER_WORDS:
        return HEADER_WORDS[column]
    words = " ".join("KPI" if w == "kpi" else w for w in str(column).split("_") if w)
    return (words[:1].upper() + words[1:]) or str(column)


def _in_words(frame: pd.DataFrame, table: str | None) -> pd.DataFrame:
    names: list[str] = []
    for column in frame.columns:
        name = header_words(column, table)
        if name.lower() in (n.lower() for n in names):  # the audit's actor text and actor_id
            name = f"{name} ({column})"
        names.append(name)
    out = frame.copy(deep=False)
    out.columns = names
    return out


def workbook_frames(conn, as_of: date, settings: Settings) -> dict[str, pd.DataFrame]:
    """Every sheet of the workbook, by title, in order, headers in words and
    people by name and email; text as it is (the writer keeps it inert)."""
    pilot_names = store.pilot_names(conn)
    people = {pid: _person(name, email) for pid, name, email in export_store.person_contacts(conn)}
    flags = flag_rules.portfolio_flags(conn, as_of, settings)
    sheets: dict[str, pd.DataFrame] = {}
    for table in _tables(conn):
        if table == "pilot":
            frame = _pilots_sheet(pilots_with_flags(conn, as_of, settings, flags=flags))
        else:
            frame = _table_frame(conn, table, pilot_names, people)
        sheets[_title(table)] = _in_words(frame, table)
    # The flags in words for whoever opens the workbook, the code beside them for filters and formulas.
    worded = flags.assign(flag=flags["code"].map(flag_rules.label))
    sheets[FLAGS_SHEET] = _in_words(worded[["pilot_id", "pilot", "flag", *[c for c in worded if c not in
                                                                         ("pilot_id", "pilot", "flag")]]], None)
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


def csv_bytes(df: pd.DataFrame) -> bytes:
    """``csv_text`` as a file to download: UTF-8 with a byte-order mark, so
    Excel reads accents and ``·`` right (it takes a CSV without one for the
    local code page)."""
    return csv_text(df).encode("utf-8-sig")


def export_csv(conn, as_of: date, settings: Settings, out_path) -> Path:
    """The pilots, one row each with their flags, as UTF-8 CSV with a
    byte-order mark. Returns the path."""
    path = _out(out_path)
    frame = safe_frame(pilots_with_flags(conn, as_of, settings))
    # RFC 4180's CRLF line ending: the writer then quotes any field holding
    # a carriage return or newline (with a bare "\n" ending, a field with a
    # lone "\r" goes out unquoted and splits the row for every reader).
    _written(path, lambda p: frame.to_csv(p, index=False, encoding="utf-8-sig", lineterminator="\r\n"))
    return path


def _xlsx_text(value):
    return _ILLEGAL_XLSX.sub("", value) if isinstance(value, str) else value


def _missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and value != value


def _xlsx_cell(ws, value):
    """One cell of the workbook. Text is a typed text cell, whatever it
    starts with: a spreadsheet shows it as it is and never runs it (one that
    would look like a formula is marked as Excel marks a typed ``'=...``, so
    editing it keeps it text). Dates are date cells in a date format."""
    from openpyxl.cell import WriteOnlyCell

    if _missing(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars as Python values
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        cell = WriteOnlyCell(ws, value.replace(tzinfo=None))
        cell.number_format = DATETIME_FORMAT
        return cell
    if isinstance(value, date):
        cell = WriteOnlyCell(ws, value)
        cell.number_format = DATE_FORMAT
        return cell
    if isinstance(value, (bool, int, float)):
        return value
    text = _xlsx_text(value if isinstance(value, str) else str(value))
    cell = WriteOnlyCell(ws, text)
    cell.data_type = "s"  # openpyxl would make "=..." a formula
    if neutralise(text) != text:
        cell.quotePrefix = True
    return cell


def _width(frame: pd.DataFrame, column) -> float:
    def longest(value) -> int:
        if _missing(value):
            return 0
        return max((len(line) for line in str(value).split("\n")), default=0)

    sample = frame[column].head(WIDTH_SAMPLE_ROWS)
    widest = max([longest(column), *(longest(v) for v in sample)])
    return float(min(MAX_WIDTH, max(MIN_WIDTH, widest + 2)))


def _write_sheet(book, title: str, frame: pd.DataFrame) -> None:
    """A sheet readable as opened: headers in words (bold), columns as wide
    as their contents, the header row frozen and filters on it."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws = book.create_sheet(title)
    last = get_column_letter(max(1, len(frame.columns)))
    for i, column in enumerate(frame.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = _width(frame, column)
    ws.freeze_panes = "A2"  # keep the header in view
    ws.auto_filter.ref = f"A1:{last}{len(frame) + 1}"
    # The sheet's true size in its <dimension> record, which programs that
    # stream a sheet trust (a write-only sheet would otherwise have none).
    ws.calculate_dimension = lambda: f"A1:{last}{len(frame) + 1}"
    header = []
    for name in frame.columns:
        cell = WriteOnlyCell(ws, _xlsx_text(str(name)))
        cell.data_type = "s"
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    for row in frame.itertuples(index=False, name=None):
        ws.append([_xlsx_cell(ws, v) for v in row])


def export_xlsx(conn, as_of: date, settings: Settings, out_path) -> Path:
    """The whole portfolio as an Excel workbook: a sheet per table (the
    pilots with their flags in place of the bare pilot table) and a sheet of
    every flag on ``as_of``. Returns the path."""
    import openpyxl  # only the workbook needs it

    path = _out(out_path)
    sheets = workbook_frames(conn, as_of, settings)
    for title, frame in sheets.items():
        if len(frame) + 1 > EXCEL_MAX_ROWS:
            raise InvalidInput(
                f"Output: the sheet {title} has {len(frame)} rows, more than Excel's "
                f"{EXCEL_MAX_ROWS - 1}; export the pilots as CSV instead", field="out")

    def write(target: Path) -> None:
        # Written row by row (write-only): memory stays that of the frames.
        book = openpyxl.Workbook(write_only=True)
        for title, frame in sheets.items():
            _write_sheet(book, title, frame)
        book.save(target)

    _written(path, write)
    return path


# --- for analysts: every table as Parquet ----------------------------------------


def export_parquet(conn, out_dir) -> dict[str, int]:
    """Every table of the database, bookkeeping included (the tokens
    table left out: see ``SECRET_TABLES``), as one Parquet file each (``TABLE.parquet``) in the folder ``out_dir`` (made if only it
    is missing): a copy analysts open with any DuckDB, pandas or BI tool
    without touching the live file. Each file is written beside its name and
    moved into place when complete. Returns the rows written per table."""
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise InvalidInput(f"Output: {folder} is a file; give a folder for the Parquet files", field="out")
    if not folder.parent.is_dir():
        raise InvalidInput(f"Output: the folder {folder.parent} does not exist", field="out")
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"Output: cannot make the folder {folder}: {exc.strerror}", field="out") from None
    counts: dict[str, int] = {}
    for name in [n for n in export_store.all_tables(conn) if n not in SECRET_TABLES]:
        path = folder / f"{name}.parquet"
        _written(path, lambda target, name=name: export_store.write_parquet(conn, name, target))
        counts[name] = export_store.row_count(conn, name)
    return counts


# --- backup -------------------------------------------------------------------

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
    export_store.copy_database(source, partial, path)
    if path.exists():  # someone made the file while we copied: still never overwrite
        partial.unlink(missing_ok=True)
        raise InvalidInput(f"Output: {path} appeared while the backup ran; nothing was overwritten",
                           field="out")
    os.replace(partial, path)
    return path

