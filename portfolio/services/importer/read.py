"""Reading the file: the first sheet of a CSV or Excel file as a table of
strings, indexed by the row numbers a person sees in the file (the header is
row 1). A file that would cost too much to read (an .xlsx zip bomb), is not
UTF-8, repeats a column name or holds formulas without their results is
refused or reported here, before any mapping."""

from __future__ import annotations

import codecs
import io
import re
import zipfile
import zlib
from datetime import date, datetime, time
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd

from portfolio.domain.errors import InvalidInput
from portfolio.domain.text import clean_line

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
