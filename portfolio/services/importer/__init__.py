"""Import: the organisation's own spreadsheet brought into the tracker.

This module owns the one path from a CSV or Excel file to pilots, used by the
admin page and the ``import`` command alike:

* ``read_table``: the file as a table of strings, indexed by the row numbers a
  person sees in the file (the header is row 1);
* ``Mapping``: which column holds which field and what the file's stage values
  mean, guessed from the column names (``guess_mapping``) or kept as TOML
  (``load_mapping``, ``dump_mapping``);
* ``plan_import``: what the file would do, row by row, with every problem and
  note; it writes nothing;
* ``apply_import``: an admin writes the plan in one transaction, all or
  nothing, or only the valid rows with the rejected ones handed back.

Pilots are matched by their external id, people by email (case-insensitive);
an email nobody holds yet becomes a new viewer. Columns mapped to no field are
kept with the pilot as attributes.
"""

from __future__ import annotations

import calendar
import codecs
import io
import json
import re
import tomllib
import zipfile
import zlib
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Callable, Literal
from xml.etree import ElementTree

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from portfolio.domain import pilot_rules, rights
from portfolio.domain.errors import InvalidInput, validate
from portfolio.domain.models import (
    PILOT_NAME_MAX,
    PROBLEM_MAX,
    Actor,
    PersonIn,
    PilotIn,
    check_date_range,
)
from portfolio.domain.rights import Right
from portfolio.domain.settings import Settings
from portfolio.domain.text import clean_line, without_controls
from portfolio.domain.vocabulary import (
    CREATABLE_STAGES,
    FIELD_LABELS,
    Role,
    Seat,
    Stage,
)
from portfolio.storage import audit
from portfolio.storage.db import write

# The fields a column of the file can fill. The four seats hold emails.
FIELDS = (
    "tracker_id", "external_id", "name", "business_unit", "problem", "stage", "start_date", "go_no_go_date",
    "product_owner", "technical_lead", "executive_sponsor", "operational_owner",
)
SEATS = {
    "product_owner": "product_owner_id",
    "technical_lead": "technical_lead_id",
    "executive_sponsor": "executive_sponsor_id",
    "operational_owner": "operational_owner_id",
}
DATE_FIELDS = ("start_date", "go_no_go_date")
TEXT_FIELDS = ("name", "business_unit", "problem")
LABELS = {
    "tracker_id": "Tracker id",
    "external_id": "External id",
    **{f: FIELD_LABELS[f] for f in ("name", "business_unit", "problem", "stage", "start_date", "go_no_go_date")},
    **{f: FIELD_LABELS[seat] for f, seat in SEATS.items()},
}
_FIELD_BY_LABEL = {label: f for f, label in LABELS.items()}
STAGE_NAMES = [s.value for s in Stage]

# The longest cell an import takes where no form says (one owner: the
# pilot's form in models.py): an external id as long as a pilot's name, a
# column kept as an attribute as long as a problem statement. Name, business
# unit and problem are checked by the pilot's form itself.
EXTERNAL_ID_MAX = PILOT_NAME_MAX
ATTRIBUTE_MAX = PROBLEM_MAX

# Progress is reported, and rows written, this many at a time.
CHUNK_ROWS = 500

# The columns a rejects file adds to the original ones. A rejects file fixed
# and imported again carries both; they are ours, not the organisation's, so
# they are not kept as attributes.
REJECT_COLUMNS = ("row", "reason")


# --- reading the file -------------------------------------------------------


# Limits on what a file may cost before it is read (a 2 MB .xlsx can hold a
# sheet of gigabytes: a zip bomb). An .xlsx is refused, before it is loaded,
# when one of its parts unpacks to more than XLSX_MAX_PART_BYTES or all of
# them to more than XLSX_MAX_TOTAL_BYTES, and while it is read as soon as its
# first sheet passes XLSX_MAX_CELLS cells. A CSV is read as strings in
# pandas' compact string columns, never as Python lists of cells.
XLSX_MAX_PART_BYTES = 50 * 1024 * 1024
XLSX_MAX_TOTAL_BYTES = 100 * 1024 * 1024
XLSX_MAX_CELLS = 1_000_000

# What a sheet's XML says without being loaded: a formula, a merged range.
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")
_MERGE_TAG = re.compile(rb"<(?:\w+:)?mergeCell\s[^>]*?ref=\"([A-Z]+[0-9]+):([A-Z]+[0-9]+)\"")
_CELL_REF = re.compile(r"^([A-Z]+)([0-9]+)$")
_LEADING_APOSTROPHE = r"^'[=+\-@\t\r]"


def read_table(source, filename: str) -> pd.DataFrame:
    """The first sheet of ``filename`` (.csv or .xlsx) as strings, blanks as
    "". ``source`` is a path or the file's bytes.

    The index is the row number a person sees in the file (the header is row
    1), named ``row``; blank rows are dropped, so the numbers may skip.
    Every column has its own name: a header repeated is refused. A cell
    that cannot be read as the file shows it (a formula whose result the
    file did not save) is listed in ``frame.attrs["cell_problems"]`` as
    (row, column, value, problem), and ``plan_import`` reports it.
    """
    suffix = Path(filename).suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InvalidInput(
            f"File: {filename} is not a .csv or .xlsx file; save the sheet as CSV UTF-8 or as an "
            "Excel workbook (.xlsx)",
            field="file",
        )
    data = _read_bytes(source, filename)
    if not data.strip():
        raise InvalidInput(f"File: {filename} is empty", field="file")
    if suffix == ".csv":
        return _as_table(_csv_frame(data, filename), {}, filename)
    raw, formulas = _xlsx_frame(data, filename)
    return _as_table(raw, formulas, filename)


def _read_bytes(source, filename: str) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if hasattr(source, "read"):
        return source.read()
    try:
        return Path(source).read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"File: {filename} does not exist", field="file") from None
    except OSError as exc:
        raise InvalidInput(f"File: {filename} cannot be read: {exc.strerror}", field="file") from None


def _check_utf8(data: bytes, filename: str) -> None:
    """Refuse text that is not UTF-8, checked a megabyte at a time (decoding
    the whole file at once would hold it twice more)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view, step = memoryview(data), 1 << 20
    for at in range(0, len(data), step):
        try:
            decoder.decode(view[at:at + step], final=at + step >= len(data))
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"File: {filename} is not UTF-8 text (byte {at + exc.start} is not); save it as CSV UTF-8",
                field="file",
            ) from None


def _csv_frame(data: bytes, filename: str) -> pd.DataFrame:
    _check_utf8(data, filename)
    # Excel in much of Europe writes semicolons: the header line tells.
    header = data[:data.find(b"\n") if b"\n" in data else len(data)].decode("utf-8-sig", errors="replace")
    sep = max((",", ";", "\t"), key=header.count)
    try:
        frame = pd.read_csv(
            io.BytesIO(data), sep=sep, header=None, dtype=str, keep_default_na=False, na_filter=False,
            skip_blank_lines=False, encoding="utf-8-sig",  # with or without a byte-order mark
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise InvalidInput(f"File: {filename} cannot be read as CSV: {exc}", field="file") from None
    return frame.fillna("")


def _check_xlsx_size(archive: zipfile.ZipFile, filename: str) -> None:
    """Refuse a workbook that unpacks to more than the limits, from the
    sizes its zip directory states (the unpacking stops at them)."""
    total = 0
    for info in archive.infolist():
        total += info.file_size
        if info.file_size > XLSX_MAX_PART_BYTES or total > XLSX_MAX_TOTAL_BYTES:
            raise InvalidInput(
                f"File: {filename} unpacks to more than {XLSX_MAX_PART_BYTES // 2**20} MB in one part "
                f"({info.filename}: {info.file_size // 2**20} MB) or {XLSX_MAX_TOTAL_BYTES // 2**20} MB in all; "
                "the importer takes at most that. Save the sheet as CSV, or split it",
                field="file",
            )


def _scan_sheet(archive: zipfile.ZipFile, path: str) -> tuple[bool, list[tuple[str, str]]]:
    """Whether the sheet's XML holds a formula, and its merged ranges, read
    a megabyte at a time without parsing it."""
    has_formula, merges, tail = False, [], b""
    with archive.open(path) as fh:
        while chunk := fh.read(1 << 20):
            text = tail + chunk
            has_formula = has_formula or bool(_FORMULA_TAG.search(text))
            last = 0
            for m in _MERGE_TAG.finditer(text):
                merges.append((m[1].decode(), m[2].decode()))
                last = m.end()
            tail = text[max(last, len(text) - 512):]  # a tag cut by the chunk's end is read next time
    return has_formula, list(dict.fromkeys(merges))


def _cell_position(ref: str) -> tuple[int, int]:
    """'B3' as (row index, column index), both from 0."""
    m = _CELL_REF.match(ref)
    column = 0
    for letter in m[1]:
        column = column * 26 + ord(letter) - 64
    return int(m[2]) - 1, column - 1


def _xlsx_frame(data: bytes, filename: str) -> tuple[pd.DataFrame, dict[tuple[int, int], str]]:
    """The first sheet's cells as text, and the formulas whose result the
    file did not save, by (row index, column index)."""
    from openpyxl.utils.exceptions import (
        InvalidFileException,  # only an Excel import needs openpyxl
    )

    unreadable = f"File: {filename} is not an Excel workbook that can be read (.xlsx)"
    try:
        return _read_xlsx(data, filename, unreadable)
    except InvalidInput:
        raise
    # What a damaged or hand-made workbook raises from inside the zip and
    # XML readers (a mismatched tag, a part missing, a bad deflate stream):
    # the file, not the tracker, is at fault, and the person is told so.
    except (zipfile.BadZipFile, InvalidFileException, ElementTree.ParseError, KeyError, OSError, ValueError,
            TypeError, IndexError, EOFError, zlib.error) as exc:
        raise InvalidInput(f"{unreadable}: {type(exc).__name__}: {exc}"[:500], field="file") from None


def _read_xlsx(data: bytes, filename: str, unreadable: str) -> tuple[pd.DataFrame, dict[tuple[int, int], str]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InvalidInput(f"{unreadable}: {exc}", field="file") from None
    with archive:
        _check_xlsx_size(archive, filename)
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
            raise InvalidInput(f"{unreadable}: {exc}", field="file") from None
        try:
            if not book.worksheets:
                raise InvalidInput(f"File: {filename} has no sheet", field="file")
            sheet = book.worksheets[0]
            # A streamed sheet reads only as far as its <dimension> record
            # says, and programs leave it stale: read every row there is.
            sheet.reset_dimensions()
            rows = _limited_rows(sheet, filename)
            # openpyxl's read-only sheet knows its part; nothing public says it.
            has_formula, merges = _scan_sheet(archive, sheet._worksheet_path)
        finally:
            book.close()
        missing = _unsaved_formulas(data, rows, filename) if has_formula else {}
    _fill_merged(rows, merges)
    width = max((len(r) for r in rows), default=0)
    frame = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=str)
    return frame, missing


def _limited_rows(sheet, filename: str) -> list[list[str]]:
    rows, cells = [], 0
    for row in sheet.iter_rows(values_only=True):
        cells += len(row)
        if cells > XLSX_MAX_CELLS:
            raise InvalidInput(
                f"File: {filename} has more than {XLSX_MAX_CELLS:,} cells in its first sheet; the importer "
                "takes at most that. Save the sheet as CSV, or split it",
                field="file",
            )
        rows.append([_cell_text(v) for v in row])
    return rows


def _unsaved_formulas(data: bytes, rows: list[list[str]], filename: str) -> dict[tuple[int, int], str]:
    """The formula cells that came in blank: the file holds the formula but
    not its result (a program that does not calculate wrote it)."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()
        missing = {}
        for row in sheet.iter_rows():
            for cell in row:
                if getattr(cell, "data_type", None) != "f":
                    continue
                r, c = cell.row - 1, cell.column - 1
                if r >= len(rows) or c >= len(rows[r]) or rows[r][c] == "":
                    missing[(r, c)] = str(cell.value)
        return missing
    finally:
        book.close()


def _fill_merged(rows: list[list[str]], merges: list[tuple[str, str]]) -> None:
    """A merged range shows its first cell's value across the range, and a
    person reads it so: every cell of the range gets it. The range is
    clipped to the rows and columns the sheet has."""
    width = max((len(r) for r in rows), default=0)
    for first, last in merges:
        (r0, c0), (r1, c1) = _cell_position(first), _cell_position(last)
        if r0 >= len(rows) or c0 >= len(rows[r0]):
            continue
        value = rows[r0][c0]
        for r in range(r0, min(r1, len(rows) - 1) + 1):
            row = rows[r]
            if len(row) < min(c1 + 1, width):
                row.extend([""] * (min(c1 + 1, width) - len(row)))
            for c in range(c0, min(c1, width - 1) + 1):
                if (r, c) != (r0, c0):
                    row[c] = value


def unquote(text: str) -> str:
    """Undo the apostrophe exports put before a cell a spreadsheet would run
    as a formula, so an exported or rejected file imports as it was."""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        return text[1:]
    return text


def _cell_text(value) -> str:
    """An Excel cell as the text a person reads: dates as ISO dates, whole
    numbers without a trailing .0."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _as_table(raw: pd.DataFrame, formulas: dict[tuple[int, int], str], filename: str) -> pd.DataFrame:
    """``raw`` (cells as text, header in the first row) as the import's
    table; ``formulas`` the cells that could not be read, by position."""
    if raw.empty:
        raise InvalidInput(f"File: {filename} has no header row", field="file")
    raw = raw.set_axis(range(raw.shape[1]), axis=1)
    for i in raw.columns:  # the apostrophe exports put before a formula-looking cell
        col = raw[i]
        quoted = col.str.contains(_LEADING_APOSTROPHE, regex=True)
        if quoted.any():
            raw[i] = col.where(~quoted, col.str.slice(1))
    header, body = [str(v) for v in raw.iloc[0]], raw.iloc[1:]
    header_formulas = [(c, f) for (r, c), f in formulas.items() if r == 0]
    if header_formulas:
        c, f = header_formulas[0]
        raise InvalidInput(f"File: the header cell {_column_letter(c)}1 is a formula ({f}) whose result the "
                           "file does not hold; type the column's name there", field="file")
    filled = body.apply(lambda col: col.str.strip().ne("")) if len(body) else body.astype(bool)
    problem_cells = {(r, c) for r, c in formulas}
    # A column with neither header nor values is formatting, not data.
    keep = [i for i in raw.columns
            if header[i].strip() or bool(filled[i].any()) or any(c == i for _, c in problem_cells)]
    if not keep:
        raise InvalidInput(f"File: {filename} has no header row", field="file")
    names = [clean_line(header[i]).strip() or f"Column {_column_letter(i)}" for i in keep]
    seen: dict[str, int] = {}
    for i, name in zip(keep, names):
        if name.casefold() in seen:
            raise InvalidInput(
                f"File: the columns {_column_letter(seen[name.casefold()])} and {_column_letter(i)} are both "
                f"named '{name}'; give each column its own name in the header row",
                field="file",
            )
        seen[name.casefold()] = i
    # Row numbers as the file shows them; a blank row is dropped unless a
    # cell of it could not be read.
    numbers = pd.RangeIndex(2, len(body) + 2)
    nonblank = filled[keep].any(axis=1).to_numpy() if len(body) else []
    problem_rows = {r + 1 for r, _ in problem_cells}
    mask = [bool(v) or (n in problem_rows) for v, n in zip(nonblank, numbers)]
    frame = body.loc[mask, keep]
    frame = frame.set_axis(names, axis=1).set_axis(pd.Index(numbers[mask], name="row"), axis=0)
    by_index = dict(zip(keep, names))
    frame.attrs["cell_problems"] = [
        (r + 1, by_index[c], f,
         f"{by_index[c]}: cell {_column_letter(c)}{r + 1} is a formula ({f}) whose result the file does not "
         "hold; open the file in Excel or LibreOffice and save it (that stores the results), or type the value")
        for (r, c), f in sorted(formulas.items()) if c in by_index
    ]
    return frame


def _column_letter(i: int) -> str:
    letters = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def row_numbers(frame: pd.DataFrame) -> list[int]:
    """The file's row numbers: read_table's index, else the header on row 1
    and the data from row 2."""
    if frame.index.name == "row":
        return [int(n) for n in frame.index]
    return list(range(2, len(frame) + 2))


# --- the mapping -------------------------------------------------------------


class Mapping(BaseModel):
    """Which column of the file fills which field, what the file's stage
    values mean, and whether 8/4/2025 is in August (mdy) or April (dmy)."""

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, Stage]] = Field(default_factory=dict)
    date_order: Literal["mdy", "dmy"] = "mdy"

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, columns: dict[str, str]) -> dict[str, str]:
        for name, column in columns.items():
            if name not in FIELDS:
                raise ValueError(f"'{name}' is not a field; the fields are {', '.join(FIELDS)}")
            if not column.strip():
                raise ValueError(f"{name}: the column name is blank")
        return columns

    @field_validator("values", mode="before")
    @classmethod
    def _known_stages(cls, values):
        if not isinstance(values, dict):
            return values  # pydantic says what is wrong with the shape
        out = {}
        for name, table in values.items():
            if name != "stage":
                raise ValueError(f"'{name}': only the values of stage can be mapped")
            if not isinstance(table, dict):
                raise ValueError("stage: expected a table of value in the file = stage")
            out[name] = {}
            for raw, stage in table.items():
                text = stage.value if isinstance(stage, Stage) else str(stage).strip().lower()
                if text not in STAGE_NAMES:
                    raise ValueError(
                        f"stage value '{raw}' is mapped to '{stage}', which is not a stage "
                        f"({', '.join(STAGE_NAMES)})"
                    )
                out[name][str(raw)] = text
        return out


def _norm(text: str) -> str:
    """Column names and values compared without case, spaces or punctuation."""
    return re.sub(r"[^0-9a-z]", "", str(text).casefold())


# The column names each field is guessed from, best first, normalised.
SYNONYMS = {
    "tracker_id": ["trackerid", "trackerpilotid"],
    "external_id": ["externalid", "usecaseid", "usecaseref", "usecasenumber", "usecaseno", "pilotref",
                    "reference", "ref", "extid"],
    "name": ["name", "title", "pilot", "pilotname", "usecase", "usecasename", "project", "projectname"],
    "business_unit": ["businessunit", "bu", "unit", "department", "division"],
    "problem": ["problem", "description", "problemstatement", "businessproblem"],
    "stage": ["stage", "status", "phase"],
    "start_date": ["startdate", "start", "pilotstart", "pilotstartdate", "started", "kickoff", "kickoffdate"],
    "go_no_go_date": ["gonogodate", "gonogo", "decisiondate", "gonogodecision", "decisiondue", "decision"],
    "product_owner": ["productowner", "owner", "po"],
    "technical_lead": ["technicallead", "techlead", "tl"],
    "executive_sponsor": ["executivesponsor", "sponsor", "execsponsor"],
    "operational_owner": ["operationalowner", "opsowner", "operationsowner"],
}
for _seat in SEATS:
    # A seat's column often says it holds an email; when a file has both a
    # name and an email column for a seat (the tracker's CSV export does),
    # the email column is the one people are matched by.
    SYNONYMS[_seat] = [s + suffix for s in SYNONYMS[_seat] for suffix in ("email", "emailaddress")] + SYNONYMS[_seat]


def _export_signature() -> tuple[set[str], set[str]]:
    from portfolio.services.reporting.export import (  # the export owns its columns
        COMPUTED_COLUMNS,
        header_words,
    )

    computed = {_norm(c) for c in COMPUTED_COLUMNS} | {_norm(header_words(c, "pilot")) for c in COMPUTED_COLUMNS}
    return computed, {_norm("id"), _norm(header_words("id", "pilot"))}


def is_pilots_export(columns) -> bool:
    """Whether the columns are those of the tracker's own pilots export (CSV
    or the workbook's Pilots sheet): its id and the columns it computes."""
    norms = {_norm(c) for c in columns}
    computed, ids = _export_signature()
    return bool(norms & ids) and {"day", "daysleft", "flags", "reasons"} <= norms


def export_ignored(columns, source: dict[str, str]) -> list[str]:
    """In a file the tracker exported, the columns it computed (the clock,
    the flags, what only decisions change) and the seat holders' names
    beside their emails: they are not the pilot's to import, so they are
    ignored rather than kept as attributes."""
    if not is_pilots_export(columns):
        return []
    computed, _ = _export_signature()
    mapped = set(source.values())
    seat_names = {_norm(s) for s in SEATS} | {_norm(LABELS[s]) for s in SEATS}
    return [c for c in columns if c not in mapped and (_norm(c) in computed or _norm(c) in seat_names)]


def guess_mapping(columns) -> Mapping:
    """A mapping guessed from the column names; each field takes at most one
    column and each column at most one field. Values are not guessed: a stage
    column's values that are stage names need no mapping. A file the tracker
    exported maps back onto its pilots by their tracker id."""
    columns = list(columns)
    by_norm: dict[str, str] = {}
    for column in columns:
        by_norm.setdefault(_norm(column), column)
    chosen: dict[str, str] = {}
    used: set[str] = set()
    for name in FIELDS:
        synonyms = SYNONYMS[name]
        if name == "tracker_id" and is_pilots_export(columns):
            synonyms = synonyms + ["id"]  # a bare "id" is the tracker's only in its own export
        for synonym in synonyms:
            column = by_norm.get(synonym)
            if column is not None and column not in used:
                chosen[name] = column
                used.add(column)
                break
    return Mapping(columns=chosen)


def load_mapping(text: str | bytes) -> Mapping:
    """A mapping from its TOML (see ``dump_mapping`` for the shape)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"Mapping: not valid TOML: {exc}", field="mapping") from None
    try:
        return Mapping(**data)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()))
            msg = err.get("msg", "is not valid").removeprefix("Value error, ")
            if err.get("type") == "extra_forbidden":
                msg = "is not a setting of a mapping (date_order, [columns], [values.stage])"
            parts.append(f"[{loc}] {msg}" if loc else msg)
        raise InvalidInput("Mapping: " + "; ".join(parts), field="mapping") from None


def _toml_string(text: str) -> str:
    # A JSON string is a TOML basic string, except that TOML wants DEL escaped.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def dump_mapping(mapping: Mapping) -> str:
    """The mapping as TOML that ``load_mapping`` reads back."""
    lines = [f"date_order = {_toml_string(mapping.date_order)}", "", "[columns]"]
    lines += [f"{name} = {_toml_string(mapping.columns[name])}" for name in FIELDS if name in mapping.columns]
    for name, table in mapping.values.items():
        lines += ["", f"[values.{name}]"]
        lines += [f"{_toml_string(raw)} = {_toml_string(stage.value)}" for raw, stage in table.items()]
    return "\n".join(lines) + "\n"


# --- dates ------------------------------------------------------------------

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_MONTHS |= {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS["sept"] = 9
_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_ISO = re.compile(rf"^(\d{{4}})-(\d{{1,2}})-(\d{{1,2}}){_TIME}$")
_ISO_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_NUMERIC = re.compile(rf"^(\d{{1,2}})([/.\-])(\d{{1,2}})\2(\d{{4}}|\d{{2}}){_TIME}$")
_NUMERIC_MONTH = re.compile(r"^(\d{1,2})[/.\-](\d{4}|\d{2})$")
_NAMED_MONTH = re.compile(r"^([a-z]{3,9})\.?[\s\-/,']*(\d{4}|\d{2})$")
_DAY_NAMED = re.compile(r"^(\d{1,2})[\s\-/]([a-z]{3,9})\.?[\s\-/,]+(\d{4}|\d{2})$")
_NAMED_DAY = re.compile(r"^([a-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$")
_SERIAL = re.compile(r"^\d+(?:\.\d+)?$")
# Excel counts days from 1899-12-30 (its 1900 leap-year bug included).
_EXCEL_EPOCH = date(1899, 12, 30)
SERIAL_RANGE = (20000, 80000)  # 1954-10-03 to 2119-01-10: a number outside is no date
FORMS = "2025-08-04, 8/4/2025, 4 Aug 2025, Aug-2025, 08/2025 or an Excel date"


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:  # as strptime's %y reads it
        year += 2000 if year < 69 else 1900
    return year


def _month(name: str) -> int:
    month = _MONTHS.get(name)
    if month is None:
        raise ValueError(f"'{name}' is not a month")
    return month


def parse_date(text: str, date_order: str = "mdy") -> tuple[date | None, str | None]:
    """A date cell as (date, note): blank is None; a month without a day is
    the first of that month, with a note saying so. Anything else raises
    ValueError saying why: a date is never guessed."""
    raw = (text or "").strip()
    if not raw:
        return None, None
    low = raw.lower()
    try:
        if m := _ISO.match(low):
            return date(int(m[1]), int(m[2]), int(m[3])), None
        if m := _NUMERIC.match(low):
            first, second, year = int(m[1]), int(m[3]), _year(m[4])
            month, day = (first, second) if date_order == "mdy" else (second, first)
            try:
                return date(year, month, day), None
            except ValueError:
                if month > 12 and day <= 12:
                    other = "day first (dmy)" if date_order == "mdy" else "month first (mdy)"
                    raise ValueError(f"month {month} does not exist; are the dates {other}?") from None
                raise
        if m := _DAY_NAMED.match(low):
            return date(_year(m[3]), _month(m[2]), int(m[1])), None
        if m := _NAMED_DAY.match(low):
            return date(int(m[3]), _month(m[1]), int(m[2])), None
        month_only = None
        if m := _ISO_MONTH.match(low):
            month_only = date(int(m[1]), int(m[2]), 1)
        elif m := _NUMERIC_MONTH.match(low):
            month_only = date(_year(m[2]), int(m[1]), 1)
        elif m := _NAMED_MONTH.match(low):
            month_only = date(_year(m[2]), _month(m[1]), 1)
        if month_only is not None:
            return month_only, f"month only: stored as the first of the month, {month_only}"
    except ValueError as exc:
        raise ValueError(f"'{raw}' is not a date ({exc})") from None
    if _SERIAL.match(low):
        serial = float(low)
        if not SERIAL_RANGE[0] <= serial <= SERIAL_RANGE[1]:
            raise ValueError(
                f"'{raw}' is a number, not a date (an Excel date number is between "
                f"{SERIAL_RANGE[0]} and {SERIAL_RANGE[1]})"
            )
        return _EXCEL_EPOCH + timedelta(days=int(serial)), None
    raise ValueError(f"'{raw}' is not a date; use {FORMS}")


def local_part_name(email: str) -> str:
    """The name a new person gets from their email: jane.doe@… is Jane Doe."""
    words = [w for w in re.split(r"[._\-+]+", email.split("@", 1)[0]) if w]
    return " ".join(w[:1].upper() + w[1:] for w in words) or email


# --- the plan -----------------------------------------------------------------

Problem = tuple[int, str, str, str]  # (row, column, value, problem or note)

STORED_COLUMNS = ["external_id", "name", "business_unit", "problem", "stage", "start_date", "go_no_go_date",
                  *SEATS]


@dataclass
class ImportPlan:
    """What a file would do, row by row. Nothing is written until
    ``apply_import``.

    ``rows`` holds one row per data row of the file: its row number, the
    action (create or update), the pilot it updates, the values as they will
    be stored (seats as emails), the attributes, and for an update the
    changes as (field, before, after).
    """

    frame: pd.DataFrame
    mapping: Mapping
    rows: pd.DataFrame
    problems: list[Problem]
    notes: list[Problem]
    new_people: list[str]         # emails nobody holds yet; the import adds those of the rows it writes
    attributes: list[str]         # the columns kept as attributes
    people: dict[str, int]        # email key -> person id, for the people known when planned
    pilots: dict[str, tuple[int, int]]  # external id -> (pilot id, version) when planned
    ignored: list[str] = dataclass_field(default_factory=list)  # an export's computed columns, not imported

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def problem_rows(self) -> set[int]:
        return {p[0] for p in self.problems}

    @property
    def invalid_rows(self) -> int:
        return len(self.problem_rows)

    def _valid(self) -> pd.DataFrame:
        return self.rows[~self.rows["row"].isin(list(self.problem_rows))] if self.problems else self.rows

    @property
    def creates(self) -> int:
        """Valid rows that create a pilot."""
        return int((self._valid()["action"] == "create").sum())

    @property
    def updates(self) -> int:
        """Valid rows that update the pilot with their external id."""
        return int((self._valid()["action"] == "update").sum())

    def preview(self, n: int = 20) -> pd.DataFrame:
        """The first ``n`` rows as they will be stored (seats as emails)."""
        head = self.rows.head(n)
        bad = self.problem_rows
        out = head[["row", "action", *STORED_COLUMNS]].copy()
        out["status"] = [
            "ok" if r not in bad else f"{sum(1 for p in self.problems if p[0] == r)} problem(s)"
            for r in head["row"]
        ]
        return out.reset_index(drop=True)

    def report(self) -> pd.DataFrame:
        """Every problem and note: row, column, value, problem. A note (kept,
        but worth a look) starts with "Note:"."""
        lines = list(self.problems) + [(r, c, v, f"Note: {n}") for r, c, v, n in self.notes]
        lines.sort(key=lambda p: p[0])  # stable: a row's problems before its notes
        # A cell's value says which cell is meant; a 5 MB cell would bury the report.
        lines = [(r, c, _shortened(v), p) for r, c, v, p in lines]
        return pd.DataFrame(lines, columns=["row", "column", "value", "problem"])

    def changes_frame(self) -> pd.DataFrame:
        """For the updates: each field that changes, before and after."""
        lines = [
            (r.row, r.external_id, f, before, after)
            for r in self.rows.itertuples() if r.action == "update"
            for f, before, after in r.changes
        ]
        return pd.DataFrame(lines, columns=["row", "external_id", "field", "before", "after"])


REPORTED_VALUE_MAX = 200  # characters of a cell's value a problem report shows (a name, an id whole)


def _shortened(value):
    text = value if isinstance(value, str) else None
    if text is None or len(text) <= REPORTED_VALUE_MAX:
        return value
    return text[:REPORTED_VALUE_MAX - 1] + "…"


_INVALID = object()  # a cell that could not be read: its problem is reported


@dataclass(frozen=True)
class Known:
    """What a plan matches the rows against: the people and the pilots,
    read in one go. The command line reads them, lets go of the database,
    and plans (the long part) while the app keeps writing;
    ``apply_import`` refuses the plan if a pilot or person it relied on
    changed meanwhile."""

    people: dict[str, tuple]          # email key -> (id, email, name, active)
    pilots: dict[int, dict]           # tracker id -> the stored pilot's fields


def read_known(conn) -> Known:
    # One query each for everything the rows are matched against.
    people = {
        key: (pid, email, name, active)
        for pid, email, key, name, active in conn.execute(
            "SELECT id, email, email_key, name, active FROM person"
        ).fetchall()
    }
    cur = conn.execute(
        "SELECT id, external_id, version, name, business_unit, problem, stage, start_date, go_no_go_date, "
        "product_owner_id, technical_lead_id, executive_sponsor_id, operational_owner_id "
        "FROM pilot"
    )
    names = [d[0] for d in cur.description]
    return Known(people=people, pilots={r[0]: dict(zip(names, r)) for r in cur.fetchall()})


def plan_import(known, frame: pd.DataFrame, mapping: Mapping, settings: Settings | None = None) -> ImportPlan:
    """Check every row of ``frame`` against the mapping, the stored pilots and
    people (``known``: a connection to read them from, or what ``read_known``
    read), and the pilot's rules. Writes nothing. A mapping that names a
    column the file does not have, or maps no column to the name, raises
    InvalidInput; everything wrong with a row is a problem in the plan."""
    settings = settings or Settings()
    source = _resolve_columns(frame, mapping)
    mapped = set(source.values())
    ignored = export_ignored(list(frame.columns), source)
    attributes = [c for c in frame.columns if c not in mapped and c not in ignored]
    if all(c in frame.columns for c in REJECT_COLUMNS):
        attributes = [c for c in attributes if c not in REJECT_COLUMNS]

    if not isinstance(known, Known):
        known = read_known(known)
    people, by_id = known.people, known.pilots
    stored = {p["external_id"]: p for p in by_id.values() if p["external_id"] is not None}
    email_of = {pid: email for pid, email, _, _ in people.values()}

    stage_values = {_norm_value(k): v for k, v in mapping.values.get("stage", {}).items()}
    cells = {f: frame[c].tolist() for f, c in source.items()}
    extra_cells = {c: frame[c].tolist() for c in attributes}
    numbers = row_numbers(frame)

    # The cells the file could not give as it shows them (read_table's).
    problems: list[Problem] = list(frame.attrs.get("cell_problems", []))
    notes: list[Problem] = []
    new_people: dict[str, str] = {}   # email key -> the email as first written
    emails_checked: dict[str, str | None] = {}  # email key -> why it is not an email, or None
    first_row_of: dict[str, int] = {}
    first_row_of_id: dict[int, int] = {}
    planned = []

    for i, row in enumerate(numbers):
        def cell(name: str) -> str | None:
            """The trimmed cell, or None when no column is mapped to ``name``."""
            return None if name not in cells else str(cells[name][i] or "").strip()

        def problem(name: str, value, text: str) -> None:
            problems.append((row, source.get(name, LABELS.get(name, name)), "" if value is None else str(value),
                             text))

        ext = cell("external_id") or ""
        if len(ext) > EXTERNAL_ID_MAX:
            problem("external_id", ext, f"External id: must be at most {EXTERNAL_ID_MAX} characters "
                                        f"(it has {len(ext)})")
            ext = ""
        if ext and ext in first_row_of:
            problem("external_id", ext, f"External id: '{ext}' is also on row {first_row_of[ext]}; a file "
                                        "holds each pilot once")
        elif ext:
            first_row_of[ext] = row
        current = stored.get(ext) if ext else None

        # The tracker's own id, from a file it exported: the pilot it names,
        # when the row has no external id to go by.
        raw_id = cell("tracker_id") or ""
        if raw_id:
            pilot_id = int(raw_id) if raw_id.isdigit() and len(raw_id) < 10 else None
            if pilot_id is None or pilot_id not in by_id:
                problem("tracker_id", raw_id, f"Tracker id: no pilot has the id '{raw_id}'; clear the cell to "
                                              "create a new pilot")
            elif pilot_id in first_row_of_id:
                problem("tracker_id", raw_id, f"Tracker id: {pilot_id} is also on row "
                                              f"{first_row_of_id[pilot_id]}; a file holds each pilot once")
            elif ext and (current is None or current["id"] != pilot_id):
                problem("tracker_id", raw_id, f"Tracker id: pilot {pilot_id} does not have the external id "
                                              f"'{ext}'; clear one of the two cells")
            else:
                first_row_of_id[pilot_id] = row
                current = by_id[pilot_id]

        # Dates
        dates: dict[str, object] = {}
        for name in DATE_FIELDS:
            raw = cell(name)
            try:
                value, note = parse_date(raw or "", mapping.date_order)
                check_date_range(value)
            except ValueError as exc:
                problem(name, raw, f"{LABELS[name]}: {exc}")
                dates[name] = _INVALID
                continue
            if note:
                notes.append((row, source[name], raw, f"{LABELS[name]}: {note}"))
            dates[name] = value

        # Stage
        stage = None
        raw_stage = cell("stage") or ""
        if raw_stage:
            key = _norm_value(raw_stage)
            stage = stage_values.get(key) or (Stage(key) if key in STAGE_NAMES else None)
            if stage is None:
                problem("stage", raw_stage, f"Stage: '{raw_stage}' is not a stage and not among the mapping's "
                                            f"stage values; map it to one of {', '.join(STAGE_NAMES)}")

        # Seats: people by email, case-insensitive
        seats: dict[str, object] = {}  # seat -> email key, None for empty, _INVALID
        for name in SEATS:
            raw = cell(name)
            if raw is None:
                continue
            if not raw:
                seats[name] = None
                continue
            raw = _email_in(raw)
            key = raw.lower()
            if key not in people:
                if key not in emails_checked:
                    try:
                        validate(PersonIn, name=local_part_name(raw), email=raw)
                        emails_checked[key] = None
                    except InvalidInput as exc:
                        emails_checked[key] = str(exc).removeprefix("Email: ")
                if emails_checked[key] is not None:
                    problem(name, raw, f"{LABELS[name]}: {emails_checked[key]}")
                    seats[name] = _INVALID
                    continue
                new_people.setdefault(key, raw)
            seats[name] = key

        # The values as they will be stored: the file's, merged over the
        # stored pilot's for an update (a field with no column keeps its value).
        values = {
            "name": cell("name") or "",
            "business_unit": cell("business_unit"),
            "problem": cell("problem"),
        }
        if current is None:
            values["business_unit"] = values["business_unit"] or ""
            values["problem"] = values["problem"] or ""
            values["stage"] = stage or Stage.PILOT
            values["start_date"] = dates["start_date"]
            values["go_no_go_date"] = dates["go_no_go_date"]
            seat_keys = {s: seats.get(s) for s in SEATS}
            if values["stage"] not in CREATABLE_STAGES and stage is not None:
                notes.append((row, source["stage"], raw_stage,
                              f"Stage: created as {values['stage'].value}, with no decision on record"))
        else:
            for name in ("business_unit", "problem"):
                if values[name] is None:
                    values[name] = current[name]
            values["stage"] = Stage(current["stage"])
            if stage is not None and stage != values["stage"]:
                problem("stage", raw_stage, f"Stage: stages change only through decisions; this pilot is "
                                            f"{current['stage']}, the file says {stage.value}")
            # The clock's dates, once set, move only through decisions; a
            # blank cell keeps what is stored.
            for name, check in (("start_date", pilot_rules.check_start_date),
                                ("go_no_go_date", pilot_rules.check_go_no_go_date)):
                values[name] = dates[name]
                if values[name] is None:
                    values[name] = current[name]
                elif values[name] is not _INVALID:
                    try:
                        check(current[name], values[name])
                    except InvalidInput as exc:
                        problem(name, cell(name), str(exc))
            seat_keys = {}
            for name, column in SEATS.items():
                held = current[column]
                seat_keys[name] = seats[name] if name in seats else (
                    email_of[held].lower() if held is not None else None)
        if values["go_no_go_date"] is None and isinstance(values["start_date"], date):
            try:
                values["go_no_go_date"] = pilot_rules.default_go_no_go_date(values["start_date"],
                                                                            settings.clock_days)
            except InvalidInput as exc:
                problem("start_date", cell("start_date"), str(exc))

        # An inactive person keeps a seat they hold, but takes no new one.
        for name, key in seat_keys.items():
            if key is None or key is _INVALID or key not in people:
                continue
            person_id, _, person_name, active = people[key]
            try:
                pilot_rules.check_seat_taker(Seat(SEATS[name]), person_id, person_name, active,
                                             current[SEATS[name]] if current else None)
            except InvalidInput as exc:
                problem(name, cell(name), str(exc))

        # The pilot's own rules. Dates that could not be read are left out,
        # so their problem is reported once.
        dates_ok = values["start_date"] is not _INVALID and values["go_no_go_date"] is not _INVALID
        checked = {
            **{name: values[name] for name in ("name", "business_unit", "problem", "stage")},
            "start_date": values["start_date"] if dates_ok else None,
            "go_no_go_date": values["go_no_go_date"] if dates_ok else None,
        }
        try:
            pilot = PilotIn(**checked)
        except ValidationError as exc:
            for name, text in _pilot_errors(exc):
                problem(name, cell(name) if name in cells else checked.get(name), text)
        else:
            values.update({name: getattr(pilot, name) for name in ("name", "business_unit", "problem")})

        for name in DATE_FIELDS:
            if values[name] is _INVALID:
                values[name] = None
        if current is not None:
            # What the file leaves as it is keeps its stored spelling, even
            # where an input today would trim it (a leading tab, say).
            for name in TEXT_FIELDS:
                if _same(values[name], current[name]):
                    values[name] = current[name]
        attribute_values = {c: without_controls(str(extra_cells[c][i] or "")).strip() for c in attributes}
        for column, value in attribute_values.items():
            if len(value) > ATTRIBUTE_MAX:
                problems.append((row, column, value[:40] + "…", f"{column}: must be at most {ATTRIBUTE_MAX} "
                                                                  f"characters (it has {len(value)})"))
        emails = {
            name: (None if key is None or key is _INVALID
                   else people[key][1] if key in people else new_people[key])
            for name, key in seat_keys.items()
        }
        record = {
            "row": row,
            "action": "update" if current else "create",
            "pilot_id": current["id"] if current else None,
            "version": current["version"] if current else None,
            "external_id": ext or None,
            **{name: values[name] for name in TEXT_FIELDS},
            "stage": values["stage"].value,
            "start_date": values["start_date"],
            "go_no_go_date": values["go_no_go_date"],
            **emails,
            **{f"{name}_key": (None if seat_keys[name] is _INVALID else seat_keys[name]) for name in SEATS},
            "attributes": attribute_values,
            "changes": _changes(current, values, emails, email_of) if current else [],
        }
        planned.append(record)

    rows = pd.DataFrame(planned, columns=[
        "row", "action", "pilot_id", "version", *STORED_COLUMNS, *(f"{s}_key" for s in SEATS),
        "attributes", "changes",
    ], dtype=object).astype({"pilot_id": "Int64", "version": "Int64", "row": int})  # None stays None
    return ImportPlan(
        frame=frame, mapping=mapping, rows=rows, problems=problems, notes=notes,
        new_people=list(new_people.values()), attributes=attributes, ignored=ignored,
        people={key: p[0] for key, p in people.items()},
        pilots={ext: (p["id"], p["version"]) for ext, p in stored.items()},
    )


def _same(new, stored) -> bool:
    """Whether a file's value is the stored one, as every input stores it:
    trimmed, line ends as newlines (a spreadsheet reads a carriage return
    back as a newline). A stored value from before the trimming, with a
    leading tab say, is then not changed by the file that exported it."""
    if isinstance(new, str) or isinstance(stored, str):
        def norm(v):
            return (v or "").replace("\r\n", "\n").replace("\r", "\n").strip()
        return norm(new) == norm(stored)
    return new == stored


_ANGLED_EMAIL = re.compile(r"<\s*([^<>\s]+@[^<>\s]+)\s*>\s*$")


def _email_in(text: str) -> str:
    """A seat's cell as an email: "Name <email>" (as the workbook shows
    people, and mail programs write them) is the email in the brackets."""
    m = _ANGLED_EMAIL.search(text)
    return m[1] if m else text


def _norm_value(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def _resolve_columns(frame: pd.DataFrame, mapping: Mapping) -> dict[str, str]:
    """Field -> the file's column. A column is found by its exact name, else
    by the one name equal to it without case, spaces and punctuation."""
    if "name" not in mapping.columns:
        raise InvalidInput("Mapping: no column is mapped to name, and every pilot needs its name", field="name")
    by_norm: dict[str, list[str]] = {}
    for column in frame.columns:
        by_norm.setdefault(_norm(column), []).append(column)
    source = {}
    for name, column in mapping.columns.items():
        if column in frame.columns:
            source[name] = column
        elif len(by_norm.get(_norm(column), [])) == 1:
            source[name] = by_norm[_norm(column)][0]
        else:
            raise InvalidInput(
                f"Mapping: {name} is mapped to the column '{column}', which is not in the file "
                f"(its columns: {', '.join(map(str, frame.columns))})",
                field=name,
            )
    taken: dict[str, str] = {}
    for name, column in source.items():
        if column in taken:
            raise InvalidInput(
                f"Mapping: the column '{column}' is mapped to both {taken[column]} and {name}; a column fills "
                "one field, so map one of them to another column or to none",
                field=name,
            )
        taken[column] = name
    return source


def _pilot_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """PilotIn's complaints as (field, message naming the field)."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "__root__"]
        msg = err.get("msg", "is not valid").removeprefix("Value error, ")
        if loc:
            out.append((loc[0], f"{LABELS.get(loc[0], loc[0])}: {msg}"))
        else:  # the model's own rules name the field in the message
            label = msg.split(":", 1)[0]
            out.append((_FIELD_BY_LABEL.get(label, "name"), msg))
    return out


def _changes(current: dict, values: dict, emails: dict, email_of: dict[int, str]) -> list[tuple]:
    changes = []
    for name in ("name", "business_unit", "problem", "start_date", "go_no_go_date"):
        if _same(values[name], current[name]):
            continue
        changes.append((name, current[name], values[name]))
    for name, column in SEATS.items():
        before = email_of.get(current[column]) if current[column] is not None else None
        if (before or "").lower() != (emails[name] or "").lower():
            changes.append((name, before, emails[name]))
    return changes


# --- applying the plan --------------------------------------------------------


@dataclass
class ImportResult:
    """What an import wrote. ``updated`` counts every row matched to a stored
    pilot, ``unchanged`` those of them the file left as they were; so
    created + updated + len(rejected) is the number of rows in the file."""

    created: int
    updated: int
    rejected: pd.DataFrame
    new_people: list[str] = dataclass_field(default_factory=list)
    changes: list[tuple] = dataclass_field(default_factory=list)  # (external_id, field, before, after)
    unchanged: int = 0

    def changes_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.changes, columns=["external_id", "field", "before", "after"])


def rejected_rows(plan: ImportPlan) -> pd.DataFrame:
    """The rows with problems as they were in the file, with their row number
    and the reasons."""
    reasons: dict[int, list[str]] = {}
    for row, _, _, text in plan.problems:
        reasons.setdefault(row, []).append(text)
    numbers = row_numbers(plan.frame)
    mask = [n in reasons for n in numbers]
    out = plan.frame.loc[mask].drop(columns=[c for c in REJECT_COLUMNS if c in plan.frame.columns])
    out = out.reset_index(drop=True)
    out.insert(0, "row", [n for n in numbers if n in reasons])
    out["reason"] = ["; ".join(reasons[n]) for n in out["row"]]
    return out


def apply_import(
    conn, actor: Actor, plan: ImportPlan, *, skip_invalid: bool = False,
    progress: Callable[[int, int], None] | None = None, source: str = "",
) -> ImportResult:
    """Write the plan in one transaction: the new people, the pilots created
    or updated by external id, and their attributes (each attribute the file
    has is replaced; a blank cell removes it).

    Only an admin imports. By default a single row with a problem stops the
    whole import; with ``skip_invalid`` the valid rows are written and the
    others returned in ``rejected``. ``progress(done, total)`` is called every
    CHUNK_ROWS rows. If the portfolio changed since the plan was made, nothing
    is written and the file must be checked again.
    """
    rights.require(actor, Right.IMPORT, what="import pilots")
    bad = plan.problem_rows
    if bad and not skip_invalid:
        raise InvalidInput(
            f"File: {len(bad)} of {plan.total} rows have problems (see the report); nothing was imported. "
            "Fix them, or import only the valid rows.",
            field="file",
        )
    good = plan.rows[~plan.rows["row"].isin(list(bad))].reset_index(drop=True)
    rejected = rejected_rows(plan)
    # In the file's order: row by row, seat by seat.
    seat_keys = [k for k in good[[f"{s}_key" for s in SEATS]].to_numpy().ravel() if k is not None]
    new_keys = list(dict.fromkeys(k for k in seat_keys if k not in plan.people))
    first_spelling = {p.lower(): p for p in plan.new_people}
    total = len(good)

    def work(c) -> tuple[int, int, int]:
        _check_still_current(c, plan, good, new_keys)
        people = dict(plan.people)
        if new_keys:
            ids = _next_ids(c, "person_id_seq", len(new_keys))
            new = pd.DataFrame({
                "id": ids,
                "name": [local_part_name(first_spelling[k]) for k in new_keys],
                "email": [first_spelling[k] for k in new_keys],
                "email_key": new_keys,
            })
            _insert_select(c, new, "INSERT INTO person (id, name, email, email_key, role, active) "
                                   f"SELECT id, name, email, email_key, '{Role.VIEWER.value}', TRUE FROM {{rows}}")
            people.update(zip(new_keys, ids))
            audit.record_many(c, actor, "person", "import",
                              [(i, None, a) for i, a in audit.snapshots(c, "person", ids).items()])
        created = updated = unchanged = 0
        for start in range(0, total, CHUNK_ROWS):
            chunk = good.iloc[start:start + CHUNK_ROWS]
            a, u, n = _write_chunk(c, actor, chunk, people, plan.attributes)
            created, updated, unchanged = created + a, updated + u, unchanged + n
            if progress:
                progress(min(start + CHUNK_ROWS, total), total)
        audit.event(c, actor, "import", source or "file", "import", {
            "file": source, "rows": plan.total, "created": created, "updated": updated, "unchanged": unchanged,
            "rejected": len(rejected), "new_people": len(new_keys),
        })
        return created, updated, unchanged

    created, updated, unchanged = write(conn, work)
    if progress and total == 0:
        progress(0, 0)
    changes = [
        (r.external_id or f"id {r.pilot_id}", f, before, after)
        for r in good.itertuples() if r.action == "update" for f, before, after in r.changes
    ]
    return ImportResult(
        created=created, updated=updated + unchanged, unchanged=unchanged, rejected=rejected,
        new_people=[first_spelling[k] for k in new_keys], changes=changes,
    )


class PortfolioChanged(InvalidInput):
    """A plan met a portfolio changed since it was made: nothing was written;
    planning again sees the change."""


def _check_still_current(c, plan: ImportPlan, good: pd.DataFrame, new_keys: list[str]) -> None:
    """The plan was made against the portfolio as it stood; refuse it if a
    pilot it matched was edited, an external id it creates now exists, or a
    person it creates was added since."""
    versions = dict(c.execute("SELECT id, version FROM pilot").fetchall())
    taken_ids = {ext for (ext,) in c.execute(
        "SELECT external_id FROM pilot WHERE external_id IS NOT NULL").fetchall()}
    stale = [
        r.external_id or f"id {r.pilot_id}" for r in good.itertuples()
        if (r.action == "update" and versions.get(int(r.pilot_id)) != int(r.version))
        or (r.action == "create" and r.external_id is not None and r.external_id in taken_ids)
    ]
    known = {k for (k,) in c.execute("SELECT email_key FROM person").fetchall()}
    taken = [k for k in new_keys if k in known]
    if stale or taken:
        what = []
        if stale:
            what.append(f"pilots edited or added: {', '.join(stale[:3])}")
        if taken:
            what.append(f"people added: {', '.join(taken[:3])}")
        raise PortfolioChanged(
            f"File: the portfolio changed since the file was checked ({'; '.join(what)}); nothing was "
            "imported. Check the file again.",
            field="file",
        )


def _next_ids(c, sequence: str, n: int) -> list[int]:
    # ``sequence`` is this module's constant, never input.
    return [r[0] for r in c.execute(f"SELECT nextval('{sequence}') FROM range(?)", [n]).fetchall()]


def _insert_select(c, frame: pd.DataFrame, sql: str) -> None:
    """Run ``sql`` (which reads ``{rows}``) over ``frame`` registered as a view."""
    c.register("_import_rows", frame)
    try:
        c.execute(sql.format(rows="_import_rows"))
    finally:
        c.unregister("_import_rows")


def _seat_ids(chunk: pd.DataFrame, people: dict[str, int]) -> dict[str, pd.api.extensions.ExtensionArray]:
    return {
        column: pd.array([people[k] if k is not None else None for k in chunk[f"{seat}_key"]], dtype="Int64")
        for seat, column in SEATS.items()
    }


_PILOT_VALUES = (
    "name, business_unit, problem, CAST(start_date AS DATE), CAST(go_no_go_date AS DATE), "
    "CAST(product_owner_id AS INTEGER), CAST(technical_lead_id AS INTEGER), "
    "CAST(executive_sponsor_id AS INTEGER), CAST(operational_owner_id AS INTEGER)"
)


def _pilot_frame(chunk: pd.DataFrame, ids, people: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame({
        "id": pd.array(list(ids), dtype="Int64"),
        "external_id": pd.array(list(chunk["external_id"]), dtype=object),
        "name": list(chunk["name"]),
        "business_unit": list(chunk["business_unit"]),
        "problem": list(chunk["problem"]),
        "stage": list(chunk["stage"]),
        "start_date": pd.array(list(chunk["start_date"]), dtype=object),
        "go_no_go_date": pd.array(list(chunk["go_no_go_date"]), dtype=object),
        **_seat_ids(chunk, people),
    })


def _write_chunk(c, actor: Actor, chunk: pd.DataFrame, people: dict[str, int],
                 attributes: list[str]) -> tuple[int, int, int]:
    creates = chunk[chunk["action"] == "create"]
    updates = chunk[(chunk["action"] == "update") & (chunk["changes"].map(len) > 0)]
    unchanged = int((chunk["action"] == "update").sum()) - len(updates)
    pilot_ids = dict(zip(chunk["row"], chunk["pilot_id"]))
    matched = [int(i) for i in chunk.loc[chunk["action"] == "update", "pilot_id"]]
    before = audit.snapshots(c, "pilot", matched)
    if len(creates):
        ids = _next_ids(c, "pilot_id_seq", len(creates))
        pilot_ids.update(zip(creates["row"], ids))
        _insert_select(
            c, _pilot_frame(creates, ids, people),
            "INSERT INTO pilot (id, external_id, stage, name, business_unit, problem, start_date, go_no_go_date,"
            " product_owner_id, technical_lead_id, executive_sponsor_id, operational_owner_id)"
            f" SELECT CAST(id AS INTEGER), external_id, stage, {_PILOT_VALUES} FROM {{rows}}",
        )
    if len(updates):
        # The stage is never written here: it moves only through decisions.
        _insert_select(
            c, _pilot_frame(updates, updates["pilot_id"], people),
            "UPDATE pilot SET name = r.name, business_unit = r.business_unit, problem = r.problem,"
            " start_date = CAST(r.start_date AS DATE), go_no_go_date = CAST(r.go_no_go_date AS DATE),"
            " product_owner_id = r.product_owner_id, technical_lead_id = r.technical_lead_id,"
            " executive_sponsor_id = r.executive_sponsor_id, operational_owner_id = r.operational_owner_id,"
            " version = pilot.version + 1, updated_at = current_timestamp"
            " FROM {rows} r WHERE pilot.id = r.id",
        )
    if attributes:
        ids = [int(pilot_ids[r]) for r in chunk["row"]]
        c.execute(
            "DELETE FROM pilot_attribute WHERE list_contains(?, pilot_id) AND list_contains(?, name)",
            [ids, attributes],
        )
        attrs = pd.DataFrame(
            [(pid, name, value) for pid, values in zip(ids, chunk["attributes"])
             for name, value in values.items() if value],
            columns=["pilot_id", "name", "value"],
        )
        if len(attrs):
            _insert_select(c, attrs, "INSERT INTO pilot_attribute (pilot_id, name, value)"
                                     " SELECT CAST(pilot_id AS INTEGER), name, value FROM {rows}")
    touched = [int(pilot_ids[r]) for r in chunk["row"]]
    after = audit.snapshots(c, "pilot", touched)
    audit.record_many(c, actor, "pilot", "import", [(i, before.get(i), after[i]) for i in touched])
    return len(creates), len(updates), unchanged


def write_rejects(frame: pd.DataFrame, path) -> None:
    """Write the rejected rows as CSV (with a byte-order mark, so that Excel
    reads accents right; ``read_table`` reads it back)."""
    from portfolio.services.reporting.export import (
        safe_frame,
    )  # the one place cells are made safe for a spreadsheet

    try:
        safe_frame(frame).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    except OSError as exc:
        raise InvalidInput(f"Rejects: cannot write {path}: {exc.strerror}", field="rejects") from None
