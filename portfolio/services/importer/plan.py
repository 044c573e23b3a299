"""The plan: what a file would do, row by row, with every problem and note,
checked against the stored pilots and people and the pilot's rules (the
same ``pilot_rules`` the pilot's form obeys). It writes nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date

import pandas as pd
from pydantic import ValidationError

from portfolio.domain import pilot_rules, units
from portfolio.domain.errors import InvalidInput, validate
from portfolio.domain.models import (
    PILOT_NAME_MAX,
    PROBLEM_MAX,
    PersonIn,
    PilotIn,
    check_date_range,
)
from portfolio.domain.settings import Settings
from portfolio.domain.text import plural, without_controls
from portfolio.domain.vocabulary import CREATABLE_STAGES, Seat, Stage
from portfolio.services.importer.dates import parse_date
from portfolio.services.importer.mapping import (
    CASE_FIELDS,
    DATE_FIELDS,
    FIELD_BY_LABEL,
    NUMBER_FIELDS,
    LABELS,
    REJECT_COLUMNS,
    SEATS,
    STAGE_NAMES,
    TEXT_FIELDS,
    Mapping,
    export_ignored,
    norm_value,
    resolve_columns,
)
from portfolio.services.importer.read import row_numbers
from portfolio.services.units import list_units
from portfolio.storage import imports

# The longest cell an import takes where no form says (one owner: the
# pilot's form in models.py): an external id as long as a pilot's name, a
# column kept as an attribute as long as a problem statement. Name, business
# unit and problem are checked by the pilot's form itself.
EXTERNAL_ID_MAX = PILOT_NAME_MAX
ATTRIBUTE_MAX = PROBLEM_MAX


def local_part_name(email: str) -> str:
    """The name a new person gets from their email: jane.doe@… is Jane Doe."""
    words = [w for w in re.split(r"[._\-+]+", email.split("@", 1)[0]) if w]
    return " ".join(w[:1].upper() + w[1:] for w in words) or email


# --- the plan -----------------------------------------------------------------

Problem = tuple[int, str, str, str]  # (row, column, value, problem or note)

STORED_COLUMNS = ["external_id", "name", "business_unit", "problem", "stage", "start_date", "go_no_go_date",
                  *SEATS, *CASE_FIELDS]


@dataclass
class ImportPlan:
    """What a file would do, row by row. Nothing is written until
    ``apply_import``.

    ``rows`` holds one row per data row of the file: its row number, the
    action (create, update, or unchanged: a stored pilot the row leaves as
    it is, attributes included), the pilot it matches, the values as they will
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
        """Valid rows that change the stored pilot they match."""
        return int((self._valid()["action"] == "update").sum())

    @property
    def unchanged(self) -> int:
        """Valid rows that match a stored pilot and leave it as it is."""
        return int((self._valid()["action"] == "unchanged").sum())

    def counts(self) -> dict[str, int]:
        """What importing would do, row by row, before anything is written:
        rows created, updated, left unchanged and rejected (with problems)."""
        return {"created": self.creates, "updated": self.updates, "unchanged": self.unchanged,
                "rejected": self.invalid_rows}

    def preview(self, n: int = 20) -> pd.DataFrame:
        """The first ``n`` rows as they will be stored (seats as emails)."""
        head = self.rows.head(n)
        bad = self.problem_rows
        out = head[["row", "action", *self._shown_columns()]].copy()
        out["status"] = [
            "ok" if r not in bad else f"{sum(1 for p in self.problems if p[0] == r)} problem(s)"
            for r in head["row"]
        ]
        return out.reset_index(drop=True)

    def _shown_columns(self) -> list[str]:
        """The stored columns a preview shows: the business case's only
        when the file has a column for one of them."""
        mapped = set(self.mapping.columns)
        return [c for c in STORED_COLUMNS if c not in CASE_FIELDS or mapped & set(CASE_FIELDS)]

    def preview_table(self, n: int = 20) -> pd.DataFrame:
        """The first ``n`` rows as a person reads them: headers in words,
        what each row does (new, update, unchanged), blank for nothing,
        and "needs a choice" for a stage value nobody mapped yet."""
        head = self.rows.head(n)
        problems: dict[int, int] = {}
        for p in self.problems:
            problems[p[0]] = problems.get(p[0], 0) + 1
        out = pd.DataFrame({
            "Row": head["row"].astype(int).tolist(),
            "Action": [ACTION_WORDS[a] for a in head["action"]],
            **{LABELS[c]: [_cell_words(v) for v in head[c]] for c in self._shown_columns() if c != "stage"},
        })
        out.insert(out.columns.get_loc(LABELS["problem"]) + 1, LABELS["stage"],
                   [_cell_words(v) if v else "needs a choice" for v in head["stage"]])
        out["Status"] = [plural(problems[r], "problem") if r in problems else "ok" for r in head["row"]]
        return out

    def report_table(self) -> pd.DataFrame:
        """``report`` under headers in words."""
        return self.report().rename(columns=REPORT_WORDS)

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
            (r.row, r.external_id or f"id {r.pilot_id}", f, before, after)  # matched by name: its tracker id
            for r in self.rows.itertuples() if r.action == "update"
            for f, before, after in r.changes
        ]
        return pd.DataFrame(lines, columns=["row", "external_id", "field", "before", "after"])


# What a plan's row does, in the words its preview shows.
ACTION_WORDS = {"create": "new", "update": "update", "unchanged": "unchanged"}
REPORT_WORDS = {"row": "Row", "column": "Column", "value": "Value", "problem": "Problem"}


def _cell_words(value) -> str:
    """A value as a person reads it in a table: a date as 2025-08-04,
    nothing as blank (never None, NaN or NaT)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float):  # a volume or value: 40,000 and 0.5, not 40000.0
        return f"{int(value):,}" if value.is_integer() else f"{value:,}"
    return value.isoformat() if isinstance(value, date) else str(value)


def changes_in_words(changes: pd.DataFrame) -> pd.DataFrame:
    """A changes frame (external_id, field, before, after; a row number
    first for a plan's) under headers in words, each field by its label
    and a kept column by its own name, blanks for nothing."""
    out = pd.DataFrame({
        **({"Row": changes["row"].tolist()} if "row" in changes.columns else {}),
        "Pilot": [_cell_words(v) for v in changes["external_id"]],
        "Field": [LABELS.get(f, f) for f in changes["field"]],
        "Before": [_cell_words(v) for v in changes["before"]],
        "After": [_cell_words(v) for v in changes["after"]],
    })
    return out


REPORTED_VALUE_MAX = 200  # characters of a cell's value a problem report shows (a name, an id whole)


def _shortened(value):
    text = value if isinstance(value, str) else None
    if text is None or len(text) <= REPORTED_VALUE_MAX:
        return value
    return text[:REPORTED_VALUE_MAX - 1] + "…"


@dataclass(frozen=True)
class Known:
    """What a plan matches the rows against: the people and the pilots,
    read in one go. The command line reads them, lets go of the database,
    and plans (the long part) while the app keeps writing;
    ``apply_import`` refuses the plan if a pilot or person it relied on
    changed meanwhile."""

    people: dict[str, tuple]          # email key -> (id, email, name, active)
    pilots: dict[int, dict]           # tracker id -> the stored pilot's fields
    units: list[str] = dataclass_field(default_factory=list)  # the business units kept, retired ones too
    retired: list[str] = dataclass_field(default_factory=list)  # those of them no longer offered
    attributes: dict[int, dict[str, str]] = dataclass_field(default_factory=dict)  # tracker id -> kept columns


def read_known(conn) -> Known:
    """Everything the rows are matched against, one query per table."""
    people, pilots = imports.people_and_pilots(conn)
    kept_units = list_units(conn)
    return Known(people=people, pilots=pilots, units=[u.name for u in kept_units],
                 retired=[u.name for u in kept_units if not u.active],
                 attributes=imports.attributes_by_pilot(conn))


@dataclass
class _Planning:
    """One file being planned: what its rows are checked against, and what
    checking them has found so far."""

    mapping: Mapping
    settings: Settings
    source: dict[str, str]            # field -> the file's column
    cells: dict[str, list]            # field -> that column's cells
    attributes: list[str]             # the columns kept as attributes
    attribute_cells: dict[str, list]  # attribute column -> its cells
    people: dict[str, tuple]          # email key -> (id, email, name, active)
    by_id: dict[int, dict]            # tracker id -> the stored pilot's fields
    stored: dict[str, dict]           # external id -> the stored pilot's fields
    by_name: dict[str, list[dict]]    # name, normalised -> the stored pilots so named
    stored_attributes: dict[int, dict[str, str]]  # tracker id -> its kept columns
    email_of: dict[int, str]          # person id -> email
    stage_values: dict[str, Stage]    # the mapping's stage values, normalised
    ignored: list[str]                # an export's computed columns, not imported
    problems: list[Problem]
    notes: list[Problem] = dataclass_field(default_factory=list)
    new_people: dict[str, str] = dataclass_field(default_factory=dict)  # email key -> the email as first written
    emails_checked: dict[str, str | None] = dataclass_field(default_factory=dict)  # key -> why not an email
    first_row_of: dict[str, int] = dataclass_field(default_factory=dict)      # external id -> row
    first_row_of_id: dict[int, int] = dataclass_field(default_factory=dict)   # tracker id -> row
    first_row_of_name: dict[tuple, int] = dataclass_field(default_factory=dict)  # (name, unit) -> row
    first_row_of_pilot: dict[int, int] = dataclass_field(default_factory=dict)  # stored pilot id -> row
    units: list[str] = dataclass_field(default_factory=list)                  # the business units kept
    retired_units: set[str] = dataclass_field(default_factory=set)            # those no longer offered
    new_units: dict[str, str] = dataclass_field(default_factory=dict)  # unit key -> the unit as first written
    today: date = date.max                                                    # the real day of the import


@dataclass
class _Row:
    """One data row of the file: its cells, and where its problems go."""

    at: _Planning
    index: int   # its position in the table
    number: int  # the row number a person sees in the file
    by_name: bool = False  # matched to a stored pilot by its name within its unit

    def cell(self, name: str) -> str | None:
        """The trimmed cell, or None when no column is mapped to ``name``."""
        cells = self.at.cells
        return None if name not in cells else str(cells[name][self.index] or "").strip()

    def problem(self, name: str, value, text: str) -> None:
        column = self.at.source.get(name, LABELS.get(name, name))
        self.at.problems.append((self.number, column, "" if value is None else str(value), text))

    def note(self, name: str, value, text: str) -> None:
        self.at.notes.append((self.number, self.at.source[name], value, text))

    def obeys(self, name: str, value, rule, *facts) -> bool:
        """Whether the pilot's ``rule`` holds for ``facts``; its refusal, in
        the words the pilot's form uses, becomes this row's problem."""
        try:
            rule(*facts)
        except InvalidInput as exc:
            self.problem(name, value, str(exc))
            return False
        return True


def plan_import(known, frame: pd.DataFrame, mapping: Mapping, settings: Settings | None = None,
                today: date | None = None) -> ImportPlan:
    """Check every row of ``frame`` against the mapping, the stored pilots and
    people (``known``: a connection to read them from, or what ``read_known``
    read), and the pilot's rules. Writes nothing. A mapping that names a
    column the file does not have, or maps no column to the name, raises
    InvalidInput; everything wrong with a row is a problem in the plan.
    ``today`` is the real day of the import (the machine's unless given):
    only a proposed pilot may start after it."""
    at = _start(known, frame, mapping, settings or Settings())
    at.today = today or date.today()
    planned = [_plan_row(_Row(at, i, number)) for i, number in enumerate(row_numbers(frame))]
    rows = pd.DataFrame(planned, columns=[
        "row", "action", "pilot_id", "version", *STORED_COLUMNS, *(f"{s}_key" for s in SEATS),
        "attributes", "changes",
    ], dtype=object).astype({"pilot_id": "Int64", "version": "Int64", "row": int})  # None stays None
    return ImportPlan(
        frame=frame, mapping=mapping, rows=rows, problems=at.problems, notes=at.notes,
        new_people=list(at.new_people.values()), attributes=at.attributes,
        ignored=at.ignored,
        people={key: p[0] for key, p in at.people.items()},
        pilots={ext: (p["id"], p["version"]) for ext, p in at.stored.items()},
    )


def _start(known, frame: pd.DataFrame, mapping: Mapping, settings: Settings) -> _Planning:
    source = resolve_columns(frame, mapping)
    mapped = set(source.values())
    ignored = export_ignored(list(frame.columns), source)
    attributes = [c for c in frame.columns if c not in mapped and c not in ignored]
    if all(c in frame.columns for c in REJECT_COLUMNS):
        attributes = [c for c in attributes if c not in REJECT_COLUMNS]
    if not isinstance(known, Known):
        known = read_known(known)
    return _Planning(
        mapping=mapping, settings=settings, source=source,
        cells={f: frame[c].tolist() for f, c in source.items()},
        attributes=attributes, attribute_cells={c: frame[c].tolist() for c in attributes},
        people=known.people, by_id=known.pilots,
        stored={p["external_id"]: p for p in known.pilots.values() if p["external_id"] is not None},
        by_name=_by_name(known.pilots.values()),
        stored_attributes=known.attributes,
        email_of={pid: email for pid, email, _, _ in known.people.values()},
        stage_values={norm_value(k): v for k, v in mapping.values.get("stage", {}).items()},
        ignored=ignored, units=known.units, retired_units=set(known.retired),
        # The cells the file could not give as it shows them (read_table's).
        problems=list(frame.attrs.get("cell_problems", [])),
    )


def _by_name(pilots) -> dict[str, list[dict]]:
    by_name: dict[str, list[dict]] = {}
    for p in pilots:
        by_name.setdefault(norm_value(p["name"] or ""), []).append(p)
    return by_name


def _plan_row(row: _Row) -> dict:
    """The row as it will be stored, its problems and notes recorded."""
    ext, current = _match_pilot(row)
    dates = _read_dates(row, current)
    case = _read_business_case(row, current)
    stage, raw_stage = _read_stage(row)
    seats = _read_seats(row, current)
    if current is None:
        values, seat_keys = _new_pilot(row, dates, stage, raw_stage, seats)
    else:
        values, seat_keys = _updated_pilot(row, current, dates, stage, raw_stage, seats)
    values.update(case)
    if values["go_no_go_date"] is None and isinstance(values["start_date"], date):
        _default_go_no_go_date(row, values)
    _check_seat_takers(row, seat_keys, current)
    _check_pilot(row, values, current)
    if current is not None:
        # What the file leaves as it is keeps its stored spelling, even
        # where an input today would trim it (a leading tab, say).
        for name in TEXT_FIELDS:
            if _same(values[name], current[name]):
                values[name] = current[name]
        if row.by_name:  # the name and unit it was matched by, as stored
            for name in ("name", "business_unit"):
                if norm_value(values[name] or "") == norm_value(current[name] or ""):
                    values[name] = current[name]
    record = _record(row, ext, current, values, seat_keys, _read_attributes(row))
    if raw_stage and stage is None:
        record["stage"] = None  # a value nobody mapped: the preview shows no stage it does not know
    return record


def _match_pilot(row: _Row) -> tuple[str, dict | None]:
    """The row's external id and the stored pilot it updates, if any: by
    external id, or by the tracker's own id from a file it exported when
    the row has no external id to go by, or else by its name within its
    business unit (``_match_by_name``)."""
    at = row.at
    ext = row.cell("external_id") or ""
    if len(ext) > EXTERNAL_ID_MAX:
        row.problem("external_id", ext, f"External id: must be at most {EXTERNAL_ID_MAX} characters "
                                        f"(it has {len(ext)})")
        ext = ""
    if ext and ext in at.first_row_of:
        row.problem("external_id", ext, f"External id: '{ext}' is also on row {at.first_row_of[ext]}; a file "
                                        "holds each pilot once")
    elif ext:
        at.first_row_of[ext] = row.number
    current = at.stored.get(ext) if ext else None

    raw_id = row.cell("tracker_id") or ""
    if raw_id:
        pilot_id = int(raw_id) if raw_id.isdigit() and len(raw_id) < 10 else None
        if pilot_id is None or pilot_id not in at.by_id:
            row.problem("tracker_id", raw_id, f"Tracker id: no pilot has the id '{raw_id}'; clear the cell to "
                                              "create a new pilot")
        elif pilot_id in at.first_row_of_id:
            row.problem("tracker_id", raw_id, f"Tracker id: {pilot_id} is also on row "
                                              f"{at.first_row_of_id[pilot_id]}; a file holds each pilot once")
        elif ext and (current is None or current["id"] != pilot_id):
            row.problem("tracker_id", raw_id, f"Tracker id: pilot {pilot_id} does not have the external id "
                                              f"'{ext}'; clear one of the two cells")
        else:
            at.first_row_of_id[pilot_id] = row.number
            current = at.by_id[pilot_id]
    if not ext and not raw_id:
        current = _match_by_name(row)
    if current is not None:  # one row per pilot, however each row finds it
        first = at.first_row_of_pilot.setdefault(current["id"], row.number)
        if first != row.number:
            name = "name" if row.by_name else "external_id" if ext else "tracker_id"
            row.problem(name, row.cell(name), f"{LABELS[name]}: this row is the pilot '{current['name']}' (tracker "
                                              f"id {current['id']}), as is row {first}; a file holds each pilot once")
    return ext, current


def _match_by_name(row: _Row) -> dict | None:
    """A row with neither an external id nor a tracker id is the stored
    pilot with its name (without case, and spaces counted once) in its
    business unit; in any unit when the file has no business unit column.
    Two stored pilots so named is a problem naming both; so is a second row
    of the file with the same name and unit."""
    at = row.at
    name, unit = row.cell("name") or "", row.cell("business_unit")
    if not name:
        return None
    key = (norm_value(name), None if unit is None else norm_value(unit))
    where = "" if unit is None else f" in '{unit}'" if unit else " with no business unit"
    if key in at.first_row_of_name:
        row.problem("name", name, f"Name: '{name}'{where} is also on row {at.first_row_of_name[key]}; without "
                                  "an external id a pilot is known by its name within its business unit, and a "
                                  "file holds each pilot once")
        return None
    at.first_row_of_name[key] = row.number
    row.by_name = True
    found = [p for p in at.by_name.get(key[0], [])
             if key[1] is None or norm_value(p["business_unit"] or "") == key[1]]
    if len(found) > 1:
        ids = sorted(p["id"] for p in found)
        row.problem("name", name, f"Name: pilots {', '.join(map(str, ids[:-1]))} and {ids[-1]} are both named "
                                  f"'{name}'{where}; add an external id or tracker id column to say which this "
                                  "row is")
        return None
    return found[0] if found else None


# What becomes of a date the file gives but that cannot be read: never a
# guess, and never the pilot dropped for it (the tracker flags a pilot
# without a clock); a pilot already stored keeps its date.
_UNREAD_DATE = {
    "start_date": "left blank, so the clock has not started (the pilot shows as having no clock)",
    "go_no_go_date": "left blank, so it is the start plus the clock length",
}


def _read_dates(row: _Row, current: dict | None) -> dict[str, object]:
    """The row's dates: a date, or None for a blank cell or one that cannot
    be read (noted, with why and what becomes of it)."""
    dates: dict[str, object] = {}
    for name in DATE_FIELDS:
        raw = row.cell(name)
        try:
            value, note = parse_date(raw or "", row.at.mapping.date_order)
            check_date_range(value)
            if name == "start_date":
                pilot_rules.check_start_not_in_future(_stage_of(row, current), value, row.at.today)
        except (ValueError, InvalidInput) as exc:
            then = "kept as it was" if current is not None else _UNREAD_DATE[name]
            row.note(name, raw, f"{LABELS[name]}: {str(exc).removeprefix(LABELS[name] + ': ')}; {then}")
            dates[name] = None
            continue
        if note:
            row.note(name, raw, f"{LABELS[name]}: {note}")
        dates[name] = value
    return dates


# A number as spreadsheets write it: "12400", "12,400.50", "1 200", with a
# currency or "hours" beside it in the value's cell ("9,000 EUR", "€9000",
# "150 hours") when the file has no unit column.
_NUMBER = re.compile(r"^\s*(?P<pre>[€$£¥₹]|[A-Za-z]{3}(?=[\s\d]))?\s*(?P<num>\d{1,3}(?:[, ]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
                     r"\s*(?P<post>[A-Za-z€$£¥₹][A-Za-z ]*)?\s*$")


def _read_business_case(row: _Row, current: dict | None) -> dict:
    """The expected volume and value and the value's unit. A blank cell (or
    no column) keeps what a stored pilot has; a cell that is not a number
    is the row's problem."""
    out = {name: (current[name] if current is not None else None) for name in NUMBER_FIELDS}
    out["expected_value_unit"] = current["expected_value_unit"] if current is not None else ""
    unit_in_value = None
    for name in NUMBER_FIELDS:
        raw = row.cell(name)
        if not raw:
            continue
        m = _NUMBER.match(raw)
        if not m or (name == "expected_monthly_volume" and (m["pre"] or m["post"])):
            row.problem(name, raw, f"{LABELS[name]}: '{raw}' is not a number")
            continue
        out[name] = float(re.sub(r"[, ]", "", m["num"]))
        if name == "expected_monthly_value":
            unit_in_value = m["pre"] or m["post"]
    unit = row.cell("expected_value_unit")
    if unit:
        out["expected_value_unit"] = unit
    elif unit_in_value:
        out["expected_value_unit"] = unit_in_value.strip()
    return out


def _stage_of(row: _Row, current: dict | None) -> Stage:
    """The stage the row's pilot will have (a file moves no stored stage),
    read quietly: _read_stage reports a stage it cannot read."""
    if current is not None:
        return Stage(current["stage"])
    key = norm_value(row.cell("stage") or "")
    return row.at.stage_values.get(key) or (Stage(key) if key in STAGE_NAMES else Stage.PILOT)


def _read_stage(row: _Row) -> tuple[Stage | None, str]:
    """The stage the row names (a stage's name or one of the mapping's
    values), or None; and the cell as written."""
    raw_stage = row.cell("stage") or ""
    if not raw_stage:
        return None, raw_stage
    key = norm_value(raw_stage)
    stage = row.at.stage_values.get(key) or (Stage(key) if key in STAGE_NAMES else None)
    if stage is None:
        row.problem("stage", raw_stage, f"Stage: '{raw_stage}' is not a stage and not among the mapping's "
                                        f"stage values; map it to one of {', '.join(STAGE_NAMES)}")
    return stage, raw_stage


def _read_seats(row: _Row, current: dict | None) -> dict[str, object]:
    """Seat -> the email key of the person named (case-insensitive), None
    for an empty cell; seats with no column are left out. An email nobody
    holds yet is a new person. A cell with several emails gives the seat to
    the first, with a note. A cell without a usable email (a web page, a
    name) never drops the pilot: the seat is left empty (a new pilot then
    shows as ownerless or missing a seat) or as it was (a stored pilot),
    with a note saying so."""
    at = row.at
    seats: dict[str, object] = {}
    for name in SEATS:
        cell = row.cell(name)
        if cell is None:
            continue
        if not cell:
            seats[name] = None
            continue
        raw, more = _first_email(cell)
        key = raw.lower()
        if key not in at.people:
            if key not in at.emails_checked:
                try:
                    validate(PersonIn, name=local_part_name(raw), email=raw)
                    at.emails_checked[key] = None
                except InvalidInput as exc:
                    at.emails_checked[key] = str(exc).removeprefix("Email: ")
            if at.emails_checked[key] is not None:
                then = "the seat is kept as it was" if current is not None else "the seat is left empty"
                row.note(name, cell, f"{LABELS[name]}: {at.emails_checked[key]}; {then}")
                if current is None:
                    seats[name] = None
                continue
            at.new_people.setdefault(key, raw)
        if more:
            row.note(name, cell, f"{LABELS[name]}: the cell names {more + 1} emails; the seat goes to the first, "
                                 f"{raw}")
        seats[name] = key
    return seats


def _first_email(cell: str) -> tuple[str, int]:
    """The first email of a cell that may name several ("a@x.org; b@x.org",
    "Ann <a@x.org>, Bo <b@x.org>", "a@x.org/b@x.org"), and how many more it
    names; a cell with at most one "@" (or a "Name <email>") as it is."""
    if cell.count("@") <= 1:
        return _email_in(cell), 0
    parts = [_email_in(p).strip("<>()\"' ") for p in re.split(r"[;,|\n]|\s+(?:and|&)\s+", cell) if "@" in p]
    if len(parts) <= 1:
        parts = [p.strip("<>()\"' ") for p in re.split(r"[\s/]+", cell) if "@" in p]
    return parts[0], len(parts) - 1


def _text_values(row: _Row) -> dict:
    return {"name": row.cell("name") or "", "business_unit": row.cell("business_unit"),
            "problem": row.cell("problem")}


def _new_pilot(row: _Row, dates: dict, stage: Stage | None, raw_stage: str,
               seats: dict) -> tuple[dict, dict]:
    """The values a created pilot gets, and its seats' email keys."""
    values = _text_values(row)
    values["business_unit"] = values["business_unit"] or ""
    values["problem"] = values["problem"] or ""
    values["stage"] = stage or Stage.PILOT
    values["start_date"] = dates["start_date"]
    values["go_no_go_date"] = dates["go_no_go_date"]
    if values["stage"] not in CREATABLE_STAGES and stage is not None:
        row.note("stage", raw_stage, f"Stage: created as {values['stage'].value}, with no decision on record")
    return values, {s: seats.get(s) for s in SEATS}


def _updated_pilot(row: _Row, current: dict, dates: dict, stage: Stage | None, raw_stage: str,
                   seats: dict) -> tuple[dict, dict]:
    """The file's values merged over the stored pilot's (a field with no
    column, or a blank date, keeps its value), and the seats' email keys.
    The stage and, once set, the clock's dates move only through decisions."""
    values = _text_values(row)
    for name in ("business_unit", "problem"):
        if values[name] is None:
            values[name] = current[name]
    values["stage"] = Stage(current["stage"])
    if stage is not None and stage != values["stage"]:
        row.problem("stage", raw_stage, f"Stage: stages change only through decisions; this pilot is "
                                        f"{current['stage']}, the file says {stage.value}")
    for name, rule in (("start_date", pilot_rules.check_start_date),
                       ("go_no_go_date", pilot_rules.check_go_no_go_date)):
        values[name] = dates[name]
        if values[name] is None:
            values[name] = current[name]
        else:
            row.obeys(name, row.cell(name), rule, current[name], values[name])
    seat_keys = {}
    for name, column in SEATS.items():
        held = current[column]
        seat_keys[name] = seats[name] if name in seats else (
            row.at.email_of[held].lower() if held is not None else None)
    return values, seat_keys


def _default_go_no_go_date(row: _Row, values: dict) -> None:
    """A pilot with a start date and no go/no-go date gets the start plus
    the clock length."""
    try:
        values["go_no_go_date"] = pilot_rules.default_go_no_go_date(values["start_date"],
                                                                    row.at.settings.clock_days)
    except InvalidInput as exc:
        row.problem("start_date", row.cell("start_date"), str(exc))


def _check_seat_takers(row: _Row, seat_keys: dict, current: dict | None) -> None:
    """An inactive person keeps a seat they hold, but takes no new one."""
    people = row.at.people
    for name, key in seat_keys.items():
        if key is None or key not in people:
            continue
        person_id, _, person_name, active = people[key]
        row.obeys(name, row.cell(name), pilot_rules.check_seat_taker, Seat(SEATS[name]), person_id, person_name,
                  active, current[SEATS[name]] if current else None)


def _check_pilot(row: _Row, values: dict, current: dict | None) -> None:
    """The pilot's own form (PilotIn) on the values; its cleaned text is
    kept."""
    checked = {name: values[name] for name in ("name", "business_unit", "problem", "stage", "start_date",
                                               "go_no_go_date", *CASE_FIELDS)}
    try:
        pilot = PilotIn(**checked)
    except ValidationError as exc:
        for name, text in _pilot_errors(exc):
            row.problem(name, row.cell(name) if name in row.at.cells else checked.get(name), text)
    else:
        values.update({name: getattr(pilot, name) for name in ("name", "business_unit", "problem",
                                                               "expected_value_unit")})
        values["business_unit"] = _kept_unit(row, values["business_unit"], current)


def _kept_unit(row: _Row, text: str, current: dict | None) -> str:
    """The business unit in the spelling the organisation keeps; a unit it
    does not keep yet is added by the import (the file is the organisation's
    own list), noted on the first row that names it. A retired unit is
    refused as the pilot's form refuses it, unless the pilot has it."""
    at = row.at
    kept = units.match(at.units, text)
    if kept in at.retired_units:
        offered = [u for u in at.units if u not in at.retired_units]
        row.obeys("business_unit", text, units.check_pilot_unit, offered, text,
                  current["business_unit"] if current else None)
    if kept is not None or not units.key(text):
        return kept or text
    if units.key(text) not in at.new_units:
        at.new_units[units.key(text)] = text
        if "business_unit" in at.source:
            row.note("business_unit", text, f"Business unit: '{text}' is not one of the organisation's units "
                                            "yet; the import adds it to the list")
    return at.new_units[units.key(text)]


def _read_attributes(row: _Row) -> dict[str, str]:
    """The columns kept as attributes, as the row has them."""
    at = row.at
    values = {c: without_controls(str(at.attribute_cells[c][row.index] or "")).strip() for c in at.attributes}
    for column, value in values.items():
        if len(value) > ATTRIBUTE_MAX:
            at.problems.append((row.number, column, value[:40] + "…", f"{column}: must be at most {ATTRIBUTE_MAX} "
                                                                         f"characters (it has {len(value)})"))
    return values


def _record(row: _Row, ext: str, current: dict | None, values: dict, seat_keys: dict,
            attribute_values: dict) -> dict:
    """The plan's line for the row: seats as emails and as email keys."""
    people, new_people = row.at.people, row.at.new_people
    emails = {
        name: (None if key is None else people[key][1] if key in people else new_people[key])
        for name, key in seat_keys.items()
    }
    changes = _changes(current, values, emails, row.at.email_of) if current else []
    if current:
        changes += _attribute_changes(row.at.stored_attributes.get(current["id"], {}), attribute_values)
    return {
        "row": row.number,
        "action": "create" if not current else "update" if changes else "unchanged",
        "pilot_id": current["id"] if current else None,
        "version": current["version"] if current else None,
        "external_id": ext or None,
        **{name: values[name] for name in TEXT_FIELDS},
        "stage": values["stage"].value,
        "start_date": values["start_date"],
        "go_no_go_date": values["go_no_go_date"],
        **{name: values[name] for name in CASE_FIELDS},
        **emails,
        **{f"{name}_key": seat_keys[name] for name in SEATS},
        "attributes": attribute_values,
        "changes": changes,
    }


def _attribute_changes(stored: dict[str, str], values: dict[str, str]) -> list[tuple]:
    """The kept columns the row changes, as (column, before, after); a
    blank is none."""
    return [(column, stored.get(column) or None, value or None) for column, value in values.items()
            if (stored.get(column) or "") != (value or "")]


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
            out.append((FIELD_BY_LABEL.get(label, "name"), msg))
    return out


def _changes(current: dict, values: dict, emails: dict, email_of: dict[int, str]) -> list[tuple]:
    changes = []
    for name in ("name", "business_unit", "problem", "start_date", "go_no_go_date", *CASE_FIELDS):
        if _same(values[name], current[name]):
            continue
        changes.append((name, current[name], values[name]))
    for name, column in SEATS.items():
        before = email_of.get(current[column]) if current[column] is not None else None
        if (before or "").lower() != (emails[name] or "").lower():
            changes.append((name, before, emails[name]))
    return changes
