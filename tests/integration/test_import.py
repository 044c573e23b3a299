"""Importing the organisation's spreadsheet: reading CSV and Excel, the
mapping, the dates, the plan and its report, and the one-transaction write."""

import csv
import io
import time
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from portfolio import flags
from portfolio.domain.errors import InvalidInput, PermissionDenied
from portfolio.domain.vocabulary import Role
from portfolio.services import demo, importer, pilots
from portfolio.services.importer import read
from portfolio.storage import store
from tests.conftest import AS_OF, actor_of, run_cli

pytestmark = pytest.mark.usefixtures("kept_units")  # the units the files here name, kept

HEADER = ["Use case ID", "Title", "Business unit", "Status", "Pilot start", "Decision date", "Owner",
          "Sponsor", "Notes"]
MAPPING = importer.Mapping(
    columns={
        "external_id": "Use case ID", "name": "Title", "business_unit": "Business unit", "stage": "Status",
        "start_date": "Pilot start", "go_no_go_date": "Decision date", "product_owner": "Owner",
        "executive_sponsor": "Sponsor",
    },
    values={"stage": {"Pre-deployment": "proposed", "In pilot": "pilot", "Deployed": "production"}},
)
REPO = Path(__file__).resolve().parents[2]


def count(conn, table):
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def counts(conn):
    return {t: count(conn, t) for t in ("pilot", "person", "pilot_attribute")}


def write_csv(path: Path, rows, header=HEADER) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def row(ext="UC-1", title="Claims triage", bu="Claims", status="In pilot", start="2025-08-04", gng="",
        owner="priya.shah@example.com", sponsor="maria.costa@example.com", notes=""):
    return [ext, title, bu, status, start, gng, owner, sponsor, notes]


def plan_of(conn, tmp_path, rows, settings, mapping=MAPPING, name="pilots.csv"):
    path = write_csv(tmp_path / name, rows)
    return importer.plan_import(conn, importer.read_table(path, name), mapping, settings, today=AS_OF)


def pilot_by_ext(conn, ext):
    pid = conn.execute("SELECT id FROM pilot WHERE external_id = ?", [ext]).fetchone()[0]
    return store.get_pilot(conn, pid)


def attributes(conn, ext):
    return dict(conn.execute(
        "SELECT a.name, a.value FROM pilot_attribute a JOIN pilot p ON p.id = a.pilot_id"
        " WHERE p.external_id = ? ORDER BY a.name", [ext]).fetchall())


# --- dates ------------------------------------------------------------------

@pytest.mark.parametrize(
    "cell, order, expected, noted",
    [
        pytest.param("2025-08-04", "mdy", date(2025, 8, 4), False, id="iso"),
        pytest.param("2025-08-04 00:00:00", "mdy", date(2025, 8, 4), False, id="iso-with-time"),
        pytest.param("8/4/2025", "mdy", date(2025, 8, 4), False, id="month-first"),
        pytest.param("4/8/2025", "dmy", date(2025, 8, 4), False, id="day-first"),
        pytest.param("4 Aug 2025", "mdy", date(2025, 8, 4), False, id="day-month-name"),
        pytest.param("Aug-25", "mdy", date(2025, 8, 1), True, id="month-name-2-digit-year"),
        pytest.param("August 2025", "dmy", date(2025, 8, 1), True, id="month-name-4-digit-year"),
        pytest.param("08/2025", "mdy", date(2025, 8, 1), True, id="month-slash-4-digit-year"),
        pytest.param("8/25", "dmy", date(2025, 8, 1), True, id="month-slash-2-digit-year"),
        pytest.param("45873", "mdy", date(2025, 8, 4), False, id="excel-serial"),
        pytest.param("45873.75", "mdy", date(2025, 8, 4), False, id="excel-serial-with-time"),
        pytest.param("", "mdy", None, False, id="blank"),
    ],
)
def test_every_date_form_is_read(conn, tmp_path, settings, cell, order, expected, noted):
    mapping = MAPPING.model_copy(update={"date_order": order})
    plan = plan_of(conn, tmp_path, [row(start=cell)], settings, mapping)
    assert plan.problems == []
    assert plan.rows.loc[0, "start_date"] == expected
    month_notes = [n for n in plan.notes if n[1] == "Pilot start"]
    if noted:
        assert month_notes == [(2, "Pilot start", cell,
                                f"Start date: month only: stored as the first of the month, {expected}")]
        assert plan.report()["problem"].str.startswith("Note:").all()
    else:
        assert month_notes == []


@pytest.mark.parametrize(
    "cell, message",
    [
        pytest.param("13/4/2025", "month 13 does not exist; are the dates day first", id="month-13-hints-dmy"),
        pytest.param("31/31/2025", "is not a date", id="no-such-day"),
        pytest.param("next Tuesday", "is not a date; use 2025-08-04", id="words"),
        pytest.param("2025", "'2025' is a year alone, with no month or day", id="year-alone"),
        pytest.param("12345", "is a number, not a date (an Excel date number is between 20000 and 80000)",
                     id="number-below-serial-range"),
        pytest.param("90000", "is a number, not a date", id="number-above-serial-range"),
        pytest.param("2250-01-01", "2250-01-01 is outside 1990 to 2199", id="outside-range"),
        pytest.param("Foo-25", "'foo' is not a month", id="unknown-month"),
    ],
)
def test_a_date_that_cannot_be_read_is_never_a_guess_and_never_drops_the_pilot(conn, tmp_path, settings, cell,
                                                                               message):
    """The pilot is imported without a clock (it shows as having none), and
    the note says why and what became of the date."""
    plan = plan_of(conn, tmp_path, [row(start=cell)], settings)
    assert plan.problems == [] and plan.creates == 1
    (note,) = [n for n in plan.notes if n[1] == "Pilot start"]
    assert note[:3] == (2, "Pilot start", cell)
    assert note[3].startswith("Start date: ") and message in note[3]
    assert note[3].endswith("; left blank, so the clock has not started (the pilot shows as having no clock)")
    assert plan.rows.loc[0, "start_date"] is None and plan.rows.loc[0, "go_no_go_date"] is None


def test_a_blank_go_no_go_date_is_start_plus_the_clock(conn, tmp_path, settings):
    plan = plan_of(conn, tmp_path, [row(start="2025-08-04", gng="")], settings)
    assert plan.rows.loc[0, "go_no_go_date"] == date(2025, 8, 4) + timedelta(days=settings.clock_days)


def test_a_go_no_go_date_before_the_start_is_a_problem(conn, tmp_path, settings):
    plan = plan_of(conn, tmp_path, [row(start="2025-08-04", gng="2025-08-01")], settings)
    assert plan.problems == [
        (2, "Decision date", "2025-08-01", "Go/no-go date: 2025-08-01 is before the start date 2025-08-04")
    ]


# --- reading files ----------------------------------------------------------

def test_csv_with_a_byte_order_mark_line_breaks_and_commas_in_quoted_cells(conn, admin, tmp_path, settings):
    text = (
        "Use case ID,Title,Business unit,Status,Pilot start,Decision date,Owner,Sponsor,Notes\r\n"
        'UC-1,"Triage, claims",Claims,In pilot,2025-08-04,,priya.shah@example.com,,"first line\r\n'
        'second line, with a comma and ""quotes"""\r\n'
        "\r\n"
        "UC-2,Invoice matching,Finance,Deployed,2025-03-03,2025-06-01,jonas.berg@example.com,,\r\n"
    )
    data = b"\xef\xbb\xbf" + text.encode("utf-8")
    (tmp_path / "bom.csv").write_bytes(data)
    for frame in (importer.read_table(data, "bom.csv"), importer.read_table(tmp_path / "bom.csv", "bom.csv")):
        assert list(frame.columns) == HEADER  # no byte-order mark stuck to the first name
        assert frame.loc[2, "Title"] == "Triage, claims"
        assert frame.loc[2, "Notes"] == 'first line\r\nsecond line, with a comma and "quotes"'
        # Rows as a person sees them: the blank row 3 is skipped, UC-2 is row 4.
        assert list(frame.index) == [2, 4]
        assert frame.loc[4, "Use case ID"] == "UC-2"
        assert all(isinstance(v, str) for v in frame.to_numpy().ravel())

    plan = importer.plan_import(conn, importer.read_table(data, "bom.csv"), MAPPING, settings)
    importer.apply_import(conn, admin, plan)
    assert pilot_by_ext(conn, "UC-1").name == "Triage, claims"
    assert attributes(conn, "UC-1") == {"Notes": 'first line\r\nsecond line, with a comma and "quotes"'}


def test_xlsx_with_a_real_date_cell_and_numbers_as_text(conn, admin, tmp_path, settings):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER + ["Budget"])
    sheet.append([1001, "Claims triage", "Claims", "In pilot", datetime(2025, 8, 4), None,
                  "priya.shah@example.com", None, "real date cell", 12500.5])
    sheet.append([1002, "Invoice matching", "Finance", "Pre-deployment", 45873, "", "jonas.berg@example.com",
                  None, "serial in a number cell", 3000])
    sheet.append([None] * 10)  # an empty row left in the sheet
    sheet.append(["1003", "Shift planner", "Operations", "pilot", "2025-09-01 00:00:00",
                  datetime(2025, 12, 1, 0, 0), "kenji.tanaka@example.com", None, None, None])
    path = tmp_path / "pilots.xlsx"
    book.save(path)

    frame = importer.read_table(path.read_bytes(), "Pilots.XLSX")
    assert list(frame.index) == [2, 3, 5]
    assert frame.loc[2, "Pilot start"] == "2025-08-04"  # the date cell, as an ISO date
    assert frame.loc[3, "Pilot start"] == "45873"       # a number keeps its text
    assert frame.loc[2, "Use case ID"] == "1001"
    assert frame.loc[2, "Budget"] == "12500.5"
    assert frame.loc[5, "Notes"] == ""

    plan = importer.plan_import(conn, frame, MAPPING, settings)
    assert plan.problems == []
    importer.apply_import(conn, admin, plan)
    assert pilot_by_ext(conn, "1001").start_date == date(2025, 8, 4)
    assert pilot_by_ext(conn, "1002").start_date == date(2025, 8, 4)
    assert pilot_by_ext(conn, "1002").stage.value == "proposed"
    assert pilot_by_ext(conn, "1003").go_no_go_date == date(2025, 12, 1)
    assert attributes(conn, "1001") == {"Budget": "12500.5", "Notes": "real date cell"}


@pytest.mark.parametrize(
    "filename, data, message",
    [
        pytest.param("pilots.xls", b"anything", "pilots.xls is not a .csv or .xlsx file", id="extension"),
        pytest.param("pilots.xlsx", b"not a zip file", "pilots.xlsx is not an Excel workbook", id="bad-xlsx"),
        pytest.param("pilots.csv", "Title\nCaf\xe9\n".encode("latin-1"), "pilots.csv is not UTF-8 text",
                     id="not-utf8"),
        pytest.param("pilots.csv", b"", "pilots.csv is empty", id="empty"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_by_name(filename, data, message):
    with pytest.raises(InvalidInput, match=message):
        importer.read_table(data, filename)


def test_a_missing_file_is_refused_by_name(tmp_path):
    with pytest.raises(InvalidInput, match="nowhere.csv does not exist"):
        importer.read_table(tmp_path / "nowhere.csv", "nowhere.csv")


# --- the mapping ------------------------------------------------------------

def test_the_mapping_is_guessed_from_the_column_names():
    columns = ["Use case ID", "TITLE", " Business-Unit ", "Status", "Pilot start", "Go/no-go", "Owner",
               "Tech lead", "Sponsor e-mail", "Ops owner", "Description", "Budget"]
    guessed = importer.guess_mapping(columns)
    assert guessed.columns == {
        "external_id": "Use case ID", "name": "TITLE", "business_unit": " Business-Unit ", "stage": "Status",
        "start_date": "Pilot start", "go_no_go_date": "Go/no-go", "product_owner": "Owner",
        "technical_lead": "Tech lead", "executive_sponsor": "Sponsor e-mail", "operational_owner": "Ops owner",
        "problem": "Description",
    }
    other = importer.guess_mapping(["Pilot", "BU", "Stage", "Start", "Decision date", "Product owner",
                                    "Operational owner", "Problem"])
    assert other.columns == {
        "name": "Pilot", "business_unit": "BU", "stage": "Stage", "start_date": "Start",
        "go_no_go_date": "Decision date", "product_owner": "Product owner",
        "operational_owner": "Operational owner", "problem": "Problem",
    }
    assert importer.guess_mapping(["Budget", "Region"]).columns == {}


def test_the_sample_file_and_its_mapping_agree(conn, settings):
    frame = importer.read_table(REPO / "data" / "sample_import.csv", "sample_import.csv")
    mapping = importer.load_mapping((REPO / "data" / "sample_mapping.toml").read_text(encoding="utf-8"))
    assert importer.guess_mapping(list(frame.columns)).columns == mapping.columns
    plan = importer.plan_import(conn, frame, mapping, settings)
    assert plan.total == len(frame) and plan.creates >= 4
    assert 0 < plan.invalid_rows < plan.total  # the sample shows the report too


def test_the_mapping_round_trips_through_toml():
    mapping = importer.Mapping(
        columns={"external_id": "Use case ID", "name": 'The "title"', "start_date": "Start \\ date",
                 "product_owner": "Propriétaire\nproduit"},
        values={"stage": {"Pre-deployment": "proposed", "Déployé \"live\"": "production", "": "pilot"}},
        date_order="dmy",
    )
    text = importer.dump_mapping(mapping)
    assert importer.load_mapping(text) == mapping
    assert "[values.stage]" in text and 'date_order = "dmy"' in text
    assert importer.load_mapping(importer.dump_mapping(importer.Mapping())) == importer.Mapping()


@pytest.mark.parametrize(
    "toml, named",
    [
        pytest.param('[columns]\nnmae = "Title"\n', "'nmae' is not a field", id="unknown-field"),
        pytest.param('[values.stage]\n"Deployed" = "live"\n', "'Deployed' is mapped to 'live', which is not a stage",
                     id="unknown-stage"),
        pytest.param('[values.health]\n"Ok" = "green"\n', "'health': only the values of stage", id="unknown-values"),
        pytest.param('date_order = "ymd"\n', "[date_order]", id="date-order"),
        pytest.param('colums = 1\n', "[colums] is not a setting", id="unknown-setting"),
        pytest.param('[columns\nname = "Title"\n', "not valid TOML", id="syntax"),
    ],
)
def test_a_bad_mapping_is_refused_naming_what_is_wrong(toml, named):
    with pytest.raises(InvalidInput) as caught:
        importer.load_mapping(toml)
    assert named in str(caught.value)
    assert str(caught.value).startswith("Mapping: ")


def test_a_mapping_naming_a_column_the_file_lacks_is_refused(conn, tmp_path, settings):
    mapping = MAPPING.model_copy(update={"columns": {**MAPPING.columns, "technical_lead": "Tech lead"}})
    with pytest.raises(InvalidInput, match="technical_lead is mapped to the column 'Tech lead'"):
        plan_of(conn, tmp_path, [row()], settings, mapping)
    with pytest.raises(InvalidInput, match="no column is mapped to name"):
        plan_of(conn, tmp_path, [row()], settings, importer.Mapping(columns={"external_id": "Use case ID"}))


# --- the plan ----------------------------------------------------------------

def test_the_plan_reports_every_problem_by_row_and_column(conn, tmp_path, settings):
    plan = plan_of(conn, tmp_path, [
        row(ext="UC-1"),
        row(ext="UC-2", title=" "),
        row(ext="UC-1", title="Again"),
        row(ext="UC-4", status="On hold"),
        row(ext="UC-5", owner="priya.shah(at)example.com"),
        row(ext="UC-6", bu="x" * 121),
    ], settings)
    assert plan.report()[["row", "column", "value", "problem"]].values.tolist() == [
        [3, "Title", "", "Name: must not be blank"],
        [4, "Use case ID", "UC-1", "External id: 'UC-1' is also on row 2; a file holds each pilot once"],
        [5, "Status", "On hold", "Stage: 'On hold' is not a stage and not among the mapping's stage values; "
                                 "map it to one of proposed, pilot, bridge, production, retired, stopped"],
        # An owner cell without a usable email never drops the pilot: the
        # seat is left empty (the pilot shows as ownerless), with a note.
        [6, "Owner", "priya.shah(at)example.com", "Note: Product owner: 'priya.shah(at)example.com' is not an "
                                                  "email address; the seat is left empty"],
        [7, "Business unit", "x" * 121, "Business unit: must be at most 120 characters"],
    ]
    assert plan.invalid_rows == 4 and plan.creates == 2
    preview = plan.preview(3)
    assert list(preview["row"]) == [2, 3, 4]
    assert list(preview["status"]) == ["ok", "1 problem(s)", "1 problem(s)"]


def test_stage_names_and_mapped_values_and_blank(conn, tmp_path, settings):
    plan = plan_of(conn, tmp_path, [row(ext="A", status="Deployed"), row(ext="B", status="PROPOSED"),
                                    row(ext="C", status=""), row(ext="D", status=" in  pilot ")], settings)
    assert plan.problems == []
    assert list(plan.rows["stage"]) == ["production", "proposed", "pilot", "pilot"]
    assert [n[3] for n in plan.notes] == ["Stage: created as production, with no decision on record"]


def test_unknown_emails_become_viewers_named_from_the_email(conn, admin, tmp_path, settings):
    known = demo.make_person(conn, name="Priya Shah", email="Priya.Shah@Example.com")
    plan = plan_of(conn, tmp_path, [
        row(ext="UC-1", owner="priya.shah@example.com", sponsor="Jane.Doe@example.com"),
        row(ext="UC-2", owner="jane.doe@example.com", sponsor="o_brien-smith@example.com"),
    ], settings)
    assert plan.new_people == ["Jane.Doe@example.com", "o_brien-smith@example.com"]
    people_before = count(conn, "person")

    result = importer.apply_import(conn, admin, plan)

    assert result.new_people == ["Jane.Doe@example.com", "o_brien-smith@example.com"]
    assert count(conn, "person") == people_before + 2
    jane = store.find_person_by_email(conn, "JANE.DOE@example.com")
    assert (jane.name, jane.role, jane.active) == ("Jane Doe", Role.VIEWER, True)
    assert store.find_person_by_email(conn, "o_brien-smith@example.com").name == "O Brien Smith"
    assert pilot_by_ext(conn, "UC-1").product_owner_id == known
    assert pilot_by_ext(conn, "UC-1").executive_sponsor_id == jane.id
    assert pilot_by_ext(conn, "UC-2").product_owner_id == jane.id


def test_an_inactive_person_takes_no_new_seat(conn, tmp_path, settings):
    demo.make_person(conn, name="Gone Person", email="gone@example.com", active=False)
    plan = plan_of(conn, tmp_path, [row(owner="gone@example.com")], settings)
    assert plan.problems == [(2, "Owner", "gone@example.com",
                              "Product owner: Gone Person is inactive and cannot take a seat")]


def test_extra_columns_are_kept_as_attributes_and_replaced_on_reimport(conn, admin, tmp_path, settings):
    header = HEADER + ["Budget", "Vendor"]
    path = write_csv(tmp_path / "a.csv", [row(ext="UC-1", notes="first") + ["10k", "Acme"]], header)
    plan = importer.plan_import(conn, importer.read_table(path, "a.csv"), MAPPING, settings)
    assert plan.attributes == ["Notes", "Budget", "Vendor"]
    importer.apply_import(conn, admin, plan)
    assert attributes(conn, "UC-1") == {"Budget": "10k", "Notes": "first", "Vendor": "Acme"}

    # A second file: Budget changes, Vendor is blanked, Notes is not in it.
    path = write_csv(tmp_path / "b.csv", [row(ext="UC-1")[:-1] + ["12k", ""]], HEADER[:-1] + ["Budget", "Vendor"])
    plan = importer.plan_import(conn, importer.read_table(path, "b.csv"), MAPPING, settings)
    importer.apply_import(conn, admin, plan)
    assert attributes(conn, "UC-1") == {"Budget": "12k", "Notes": "first"}


def test_a_rejects_file_imported_again_keeps_no_row_or_reason(conn, admin, tmp_path, settings):
    plan = plan_of(conn, tmp_path, [row(ext="UC-1", status="On hold")], settings)
    result = importer.apply_import(conn, admin, plan, skip_invalid=True)
    fixed = result.rejected.assign(**{"Status": "In pilot"})
    importer.write_rejects(fixed, tmp_path / "fixed.csv")
    plan = importer.plan_import(conn, importer.read_table(tmp_path / "fixed.csv", "fixed.csv"), MAPPING, settings)
    assert plan.attributes == ["Notes"]
    importer.apply_import(conn, admin, plan)
    assert attributes(conn, "UC-1") == {}
    assert pilot_by_ext(conn, "UC-1").start_date == date(2025, 8, 4)


# --- re-import ---------------------------------------------------------------

def test_a_reimport_updates_by_external_id_and_says_what_changed(conn, admin, tmp_path, settings):
    first = plan_of(conn, tmp_path, [row(ext="UC-1", title="Claims triage"),
                                     row(ext="UC-2", title="Invoice matching", status="Deployed")], settings)
    assert importer.apply_import(conn, admin, first).created == 2
    before = pilot_by_ext(conn, "UC-1")

    again = plan_of(conn, tmp_path, [
        row(ext="UC-1", title="Claims triage assistant", sponsor="liam.walsh@example.com", start=""),
        row(ext="UC-2", title="Invoice matching", status="Deployed"),
        row(ext="UC-3", title="Shift planner"),
    ], settings, name="again.csv")
    assert list(again.rows["action"]) == ["update", "unchanged", "create"]
    assert again.counts() == {"created": 1, "updated": 1, "unchanged": 1, "rejected": 0}
    assert again.changes_frame()[["row", "field", "before", "after"]].values.tolist() == [
        [2, "name", "Claims triage", "Claims triage assistant"],
        [2, "executive_sponsor", "maria.costa@example.com", "liam.walsh@example.com"],
    ]

    result = importer.apply_import(conn, admin, again)

    assert (result.created, result.updated, result.unchanged) == (1, 1, 1)
    assert result.changes == [
        ("UC-1", "name", "Claims triage", "Claims triage assistant"),
        ("UC-1", "executive_sponsor", "maria.costa@example.com", "liam.walsh@example.com"),
    ]
    assert result.new_people == ["liam.walsh@example.com"]
    assert count(conn, "pilot") == 3  # no duplicates
    after = pilot_by_ext(conn, "UC-1")
    assert after.id == before.id and after.version == before.version + 1
    assert after.name == "Claims triage assistant"
    assert after.start_date == before.start_date  # a blank cell keeps the stored date
    assert pilot_by_ext(conn, "UC-2").version == 1  # unchanged: not rewritten


def test_a_reimport_does_not_move_the_stage_or_the_clock(conn, admin, tmp_path, settings):
    importer.apply_import(conn, admin, plan_of(conn, tmp_path, [row(ext="UC-1")], settings))
    plan = plan_of(conn, tmp_path, [row(ext="UC-1", status="Deployed", start="2025-09-01", gng="2026-01-01")],
                   settings, name="again.csv")
    assert [p[3] for p in plan.problems] == [
        "Stage: stages change only through decisions; this pilot is pilot, the file says production",
        "Start date: the clock started on 2025-08-04 and does not move",
        "Go/no-go date: it is 2025-11-02 and only an extend decision moves it",
    ]


def test_a_row_without_external_id_is_the_pilot_with_its_name_in_its_unit(conn, admin, tmp_path, settings):
    # A file without ids imported twice: the second time matches by name
    # within the unit, so nothing is duplicated, created or updated.
    rows = [row(ext="", title="No id"), row(ext="", title="Other", bu="Finance")]
    first = plan_of(conn, tmp_path, rows, settings, name="a.csv")
    assert list(first.rows["action"]) == ["create", "create"]
    importer.apply_import(conn, admin, first)
    again = plan_of(conn, tmp_path, rows, settings, name="b.csv")
    assert list(again.rows["action"]) == ["unchanged", "unchanged"]
    result = importer.apply_import(conn, admin, again)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 2)
    assert count(conn, "pilot") == 2
    assert conn.execute("SELECT count(*) FROM pilot WHERE external_id IS NULL").fetchone()[0] == 2

    # Case and spacing do not make another pilot; another unit does.
    third = plan_of(conn, tmp_path, [row(ext="", title="  no  ID ", bu="CLAIMS", sponsor="liam.walsh@example.com"),
                                     row(ext="", title="No id", bu="Finance")], settings, name="c.csv")
    assert list(third.rows["action"]) == ["update", "create"]
    assert third.changes_frame()["field"].tolist() == ["executive_sponsor"]
    assert third.rows["pilot_id"][0] == first_id(conn, "No id")
    assert third.changes_frame()["external_id"].tolist() == [f"id {first_id(conn, 'No id')}"]


def first_id(conn, name):
    return conn.execute("SELECT min(id) FROM pilot WHERE name = ?", [name]).fetchone()[0]


def test_two_stored_pilots_with_the_rows_name_in_its_unit_is_a_problem_naming_both(conn, admin, tmp_path, settings):
    importer.apply_import(conn, admin, plan_of(conn, tmp_path, [row(ext="A-1", title="Twin"),
                                                                row(ext="A-2", title="twin")], settings))
    ids = sorted(r[0] for r in conn.execute("SELECT id FROM pilot").fetchall())
    plan = plan_of(conn, tmp_path, [row(ext="", title="Twin"), row(ext="", title="Single"),
                                    row(ext="", title="single ")], settings, name="again.csv")
    assert plan.report()[["row", "problem"]].values.tolist() == [
        [2, f"Name: pilots {ids[0]} and {ids[1]} are both named 'Twin' in 'Claims'; add an external id or "
            "tracker id column to say which this row is"],
        [4, "Name: 'single' in 'Claims' is also on row 3; without an external id a pilot is known by its name "
            "within its business unit, and a file holds each pilot once"],
    ]
    assert plan.counts() == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 2}


def test_a_file_without_a_unit_column_matches_the_name_in_any_unit(conn, admin, tmp_path, settings):
    importer.apply_import(conn, admin, plan_of(conn, tmp_path, [row(ext="", title="Claims triage")], settings))
    mapping = importer.Mapping(columns={"name": "Title", "problem": "Notes"})
    path = write_csv(tmp_path / "again.csv", [["claims  triage", "Faster claims"]], header=["Title", "Notes"])
    plan = importer.plan_import(conn, importer.read_table(path, "again.csv"), mapping, settings)
    assert list(plan.rows["action"]) == ["update"]
    assert plan.changes_frame()[["field", "after"]].values.tolist() == [["problem", "Faster claims"]]


def test_the_same_file_again_is_unchanged_attributes_and_default_dates_included(conn, admin, tmp_path, settings):
    rows = [row(ext="UC-1", notes="keep me", gng=""), row(ext="UC-2", title="Dated", start="2025-09-01",
                                                          gng="2025-10-15", notes="")]
    first = plan_of(conn, tmp_path, rows, settings)
    assert first.counts() == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    importer.apply_import(conn, admin, first)
    versions = conn.execute("SELECT id, version FROM pilot ORDER BY id").fetchall()
    assert attributes(conn, "UC-1") == {"Notes": "keep me"}

    again = plan_of(conn, tmp_path, rows, settings, name="again.csv")
    assert again.counts() == {"created": 0, "updated": 0, "unchanged": 2, "rejected": 0}
    result = importer.apply_import(conn, admin, again)
    assert (result.created, result.updated, result.unchanged, result.changes) == (0, 0, 2, [])
    assert conn.execute("SELECT id, version FROM pilot ORDER BY id").fetchall() == versions

    # A kept column that changes is an update, and says so.
    rows[0] = row(ext="UC-1", notes="changed", gng="")
    third = plan_of(conn, tmp_path, rows, settings, name="third.csv")
    assert third.counts() == {"created": 0, "updated": 1, "unchanged": 1, "rejected": 0}
    assert third.changes_frame()[["field", "before", "after"]].values.tolist() == [["Notes", "keep me", "changed"]]
    result = importer.apply_import(conn, admin, third)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    assert attributes(conn, "UC-1") == {"Notes": "changed"}


def test_a_plan_made_before_someone_else_changed_the_pilot_is_refused(conn, admin, tmp_path, settings):
    importer.apply_import(conn, admin, plan_of(conn, tmp_path, [row(ext="UC-1")], settings))
    plan = plan_of(conn, tmp_path, [row(ext="UC-1", title="Renamed")], settings, name="again.csv")
    conn.execute("UPDATE pilot SET version = version + 1, business_unit = 'Finance'")
    with pytest.raises(InvalidInput, match="the portfolio changed since the file was checked"):
        importer.apply_import(conn, admin, plan)
    assert pilot_by_ext(conn, "UC-1").name == "Claims triage"


# --- all or nothing, or the valid rows ----------------------------------------

def test_one_bad_row_and_nothing_is_written(conn, admin, tmp_path, settings):
    plan = plan_of(conn, tmp_path, [row(ext="UC-1", owner="new.person@example.com", notes="kept?"),
                                    row(ext="UC-2", status="On hold"),
                                    row(ext="UC-3")], settings)
    before = counts(conn)
    with pytest.raises(InvalidInput, match="1 of 3 rows have problems .*nothing was imported"):
        importer.apply_import(conn, admin, plan)
    assert counts(conn) == before
    assert store.find_person_by_email(conn, "new.person@example.com") is None


def test_skip_invalid_imports_the_valid_rows_and_returns_the_rest(conn, admin, tmp_path, settings):
    rows = [row(ext=f"UC-{i}") for i in range(1, 8)]
    rows[1] = row(ext="UC-2", status="On hold", owner="only.in.a.bad.row@example.com")
    rows[4] = row(ext="UC-5", title="")
    path = write_csv(tmp_path / "pilots.csv", rows)
    frame = importer.read_table(path, "pilots.csv")
    plan = importer.plan_import(conn, frame, MAPPING, settings)
    seen = []

    result = importer.apply_import(conn, admin, plan, skip_invalid=True, progress=lambda d, t: seen.append((d, t)))

    assert result.created + result.updated + result.unchanged + len(result.rejected) == len(frame) == 7
    assert (result.created, len(result.rejected)) == (5, 2)
    assert list(result.rejected.columns) == ["row", *HEADER, "reason"]
    assert list(result.rejected["row"]) == [3, 6]
    assert result.rejected.loc[0, "reason"].startswith("Stage: 'On hold' is not a stage")
    assert result.rejected.loc[1, "reason"] == "Name: must not be blank"
    assert result.new_people == ["priya.shah@example.com", "maria.costa@example.com"]  # not the bad row's
    assert store.find_person_by_email(conn, "only.in.a.bad.row@example.com") is None
    assert count(conn, "pilot") == 5
    assert seen[-1] == (5, 5)

    importer.write_rejects(result.rejected, tmp_path / "rejects.csv")
    back = importer.read_table(tmp_path / "rejects.csv", "rejects.csv")
    assert list(back.columns) == ["row", *HEADER, "reason"]
    assert list(back["Use case ID"]) == ["UC-2", "UC-5"]
    assert list(back["reason"]) == list(result.rejected["reason"])


@pytest.mark.parametrize("role", [Role.LEADERSHIP, Role.PRODUCT_OWNER, Role.VIEWER])
def test_only_an_admin_imports_and_a_refusal_writes_nothing(conn, tmp_path, settings, role):
    actor = actor_of(conn, role)
    plan = plan_of(conn, tmp_path, [row(ext="UC-1", owner="someone.new@example.com")], settings)
    before = counts(conn)
    with pytest.raises(PermissionDenied, match="may not import pilots: only an admin may"):
        importer.apply_import(conn, actor, plan, skip_invalid=True)
    assert counts(conn) == before


def test_the_leader_fixture_is_refused_too(conn, leader, tmp_path, settings):
    plan = plan_of(conn, tmp_path, [row()], settings)
    with pytest.raises(PermissionDenied):
        importer.apply_import(conn, leader, plan)
    assert count(conn, "pilot") == 0


# --- ten thousand rows ----------------------------------------------------------

@pytest.mark.thorough  # at scale
def test_ten_thousand_rows_import_set_based(conn, admin, tmp_path, settings):
    n = 10_000
    owners = [f"owner.{i}@example.com" for i in range(200)]
    sponsors = [f"Sponsor.{i}@Example.com" for i in range(20)]
    demo.make_person(conn, email="owner.0@example.com", name="Owner Zero")  # one already known
    rows = [
        row(ext=f"UC-{i:05d}", title=f"Pilot {i}", bu=["Claims", "Finance", "HR"][i % 3],
            status=["In pilot", "Pre-deployment", "Deployed"][i % 3],
            start=[f"{1 + i % 12}/{1 + i % 28}/2025", "2025-08-04", "45873"][i % 3],
            owner=owners[i % len(owners)], sponsor=sponsors[i % len(sponsors)], notes=f"note {i}")
        for i in range(n)
    ]
    path = write_csv(tmp_path / "big.csv", rows)
    seen = []

    started = time.perf_counter()
    frame = importer.read_table(path, "big.csv")
    plan = importer.plan_import(conn, frame, MAPPING, settings)
    result = importer.apply_import(conn, admin, plan, progress=lambda d, t: seen.append(d))
    seconds = time.perf_counter() - started
    print(f"\n10,000 rows: read, planned and imported in {seconds:.2f} s")

    assert plan.problems == []
    assert result.created == n and len(result.rejected) == 0
    assert len(result.new_people) == 199 + 20
    assert count(conn, "pilot") == n
    assert count(conn, "pilot_attribute") == n
    assert seen == list(range(500, n + 1, 500))
    p = pilot_by_ext(conn, "UC-01235")  # i = 1235: 1235 % 3 == 2
    assert (p.name, p.business_unit, p.stage.value, p.start_date) == ("Pilot 1235", "HR", "production",
                                                                       date(2025, 8, 4))
    assert p.go_no_go_date == date(2025, 8, 4) + timedelta(days=settings.clock_days)
    assert store.get_person(conn, p.product_owner_id).email == owners[1235 % 200]
    assert store.get_person(conn, p.executive_sponsor_id).email == sponsors[1235 % 20]
    q = pilot_by_ext(conn, "UC-00015")  # i = 15: month first, 4/16/2025
    assert q.start_date == date(2025, 4, 16) and q.stage.value == "pilot"
    assert store.get_person(conn, pilot_by_ext(conn, "UC-00000").product_owner_id).name == "Owner Zero"
    assert attributes(conn, "UC-09999") == {"Notes": "note 9999"}

    # The same file again with every tenth name changed: updates, no duplicates.
    for i in range(0, n, 10):
        rows[i][1] = f"Pilot {i} renamed"
    write_csv(path, rows)
    started = time.perf_counter()
    plan = importer.plan_import(conn, importer.read_table(path, "big.csv"), MAPPING, settings)
    result = importer.apply_import(conn, admin, plan)
    print(f"10,000 rows re-imported (1,000 changed) in {time.perf_counter() - started:.2f} s")
    assert (result.created, result.updated, result.unchanged) == (0, 1000, n - 1000)
    assert len(result.changes) == 1000
    assert count(conn, "pilot") == n
    assert pilot_by_ext(conn, "UC-00010").name == "Pilot 10 renamed"
    assert pilot_by_ext(conn, "UC-00011").version == 1


# --- an export imported back (#12.9) -------------------------------------------

def _pilot_rows(conn):
    """Every stored pilot field an import could touch, and its version."""
    return conn.execute(
        "SELECT id, external_id, name, business_unit, problem, stage, start_date, go_no_go_date, product_owner_id, "
        "technical_lead_id, executive_sponsor_id, operational_owner_id, version, updated_at FROM pilot ORDER BY id"
    ).fetchall()


def _exported(conn, settings, tmp_path, fmt):
    from portfolio.services.reporting import export

    out = tmp_path / f"pilots.{fmt}"
    (export.export_csv if fmt == "csv" else export.export_xlsx)(conn, AS_OF, settings, out)
    return out


def _import_guessed(conn, actor, path, settings):
    frame = importer.read_table(path, path.name)
    mapping = importer.guess_mapping(list(frame.columns))
    plan = importer.plan_import(conn, frame, mapping, settings)
    assert plan.report().empty, plan.report().to_string()
    return plan, importer.apply_import(conn, actor, plan)


def _rename_in_file(path, old, new):
    """Change one cell, as a person does in the exported file."""
    if path.suffix == ".csv":
        text = path.read_bytes().decode("utf-8-sig")
        assert text.count(f",{old},") == 1
        path.write_bytes(text.replace(f",{old},", f",{new},").encode("utf-8-sig"))
        return
    book = openpyxl.load_workbook(path)
    cells = [c for c in book["Pilots"]["C"] if c.value == old]
    assert len(cells) == 1
    cells[0].value = new
    book.save(path)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_exported_pilots_file_imports_back_onto_the_same_pilots(fixed_demo_db, settings, tmp_path, fmt):
    from portfolio.domain.models import Actor
    from portfolio.storage import db

    with db.session(fixed_demo_db) as conn:
        actor = Actor.of(store.get_person(conn, conn.execute(
            "SELECT id FROM person WHERE role = 'admin' AND active ORDER BY id LIMIT 1").fetchone()[0]))
        # Text a spreadsheet would run, and a value stored before inputs were
        # trimmed (a leading tab): both must come back as they were.
        first = conn.execute("SELECT id FROM pilot WHERE NOT archived ORDER BY id LIMIT 1").fetchone()[0]
        conn.execute("UPDATE pilot SET business_unit = '+1+1 pilot', problem = ? WHERE id = ?",
                     ["\t=cmd|' /C calc'!A0 problem", first])
        demo.make_unit(conn, "+1+1 pilot")  # a unit the organisation keeps, spelled so
        pilots, before = count(conn, "pilot"), _pilot_rows(conn)
        assert conn.execute("SELECT count(*) FROM pilot WHERE external_id IS NULL AND NOT archived").fetchone()[0]
        path = _exported(conn, settings, tmp_path, fmt)

        plan, result = _import_guessed(conn, actor, path, settings)
        assert (result.created, result.updated, result.changes) == (0, 0, [])
        assert result.unchanged == plan.total > 0
        assert count(conn, "pilot") == pilots and _pilot_rows(conn) == before
        assert count(conn, "pilot_attribute") == 0  # the computed columns are no attributes
        assert {"flags", "reasons", "days left"} <= {c.lower().replace("_", " ") for c in plan.ignored}

        name = conn.execute("SELECT name FROM pilot WHERE id = ?", [first]).fetchone()[0]
        _rename_in_file(path, name, name + " (renamed)")
        plan, result = _import_guessed(conn, actor, path, settings)
        assert (result.created, result.updated) == (0, 1)
        assert [c[1:] for c in result.changes] == [("name", name, name + " (renamed)")]
        assert count(conn, "pilot") == pilots
        assert store.get_pilot(conn, first).problem == "\t=cmd|' /C calc'!A0 problem"


def test_the_command_line_exports_and_imports_back_with_nothing_changed(tmp_path, fixed_demo_db):
    def cli(*args):
        return run_cli(*args, env={"PORTFOLIO_USER": "alex.morgan@example.com"})

    db_path, out = fixed_demo_db, tmp_path / "pilots.xlsx"  # the demo as of 2026-03-02
    exported = cli("export", "--db", str(db_path), "--as-of", "2026-03-02", "--format", "xlsx", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    imported = cli("import", str(out), "--db", str(db_path), "--as-of", "2026-03-02")
    assert imported.returncode == 0, imported.stderr
    n = imported.stdout.split("Imported ", 1)[1].split(" rows", 1)[0]
    assert f"(0 new, 0 updated, {n} unchanged), rejected 0" in imported.stdout
    assert "Not imported, as the tracker computes them: Day, Days left" in imported.stdout


def test_a_seat_given_as_name_and_email_is_matched_by_the_email(conn, admin, tmp_path, settings):
    rows = [row(owner="Priya Shah <Priya.Shah@example.com>", sponsor="Maria Costa (inactive) <maria.costa@example.com>")]
    plan = plan_of(conn, tmp_path, rows, settings)
    assert plan.problems == [] and plan.new_people == ["Priya.Shah@example.com", "maria.costa@example.com"]


def test_the_guess_prefers_a_seats_email_column_to_its_name_column():
    guessed = importer.guess_mapping(["name", "product_owner", "product_owner_email", "Sponsor", "Sponsor email"])
    assert guessed.columns["product_owner"] == "product_owner_email"
    assert guessed.columns["executive_sponsor"] == "Sponsor email"
    # A bare "id" is the tracker's only in a file shaped like its export.
    assert "tracker_id" not in importer.guess_mapping(["id", "name"]).columns


def test_a_tracker_id_no_pilot_has_is_a_problem(conn, tmp_path, settings):
    path = write_csv(tmp_path / "p.csv", [["999", "Claims triage"]], header=["Tracker id", "Title"])
    plan = importer.plan_import(conn, importer.read_table(path, "p.csv"),
                                importer.Mapping(columns={"tracker_id": "Tracker id", "name": "Title"}), settings)
    assert plan.report()[["row", "column"]].values.tolist() == [[2, "Tracker id"]]
    assert "no pilot has the id '999'" in plan.report()["problem"][0]


# --- Excel files as spreadsheet programs write them (#12.10) -----------------------

_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
</Types>"""
_ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
_WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="Pilots" sheetId="1" r:id="rId1"/></sheets></workbook>"""
_WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
</Relationships>"""


def _xml_cell(ref, value):
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value}</v></c>'
    if isinstance(value, tuple):  # ("f", formula) with no cached value, or ("f", formula, cached)
        cached = f"<v>{value[2]}</v>" if len(value) > 2 else ""
        return f'<c r="{ref}"><f>{value[1]}</f>{cached}</c>'
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def xlsx_bytes(rows, *, dimension=None, merges=(), sheet_xml=None, compress=zipfile.ZIP_DEFLATED) -> bytes:
    """A workbook written at the XML level, as a spreadsheet program writes
    one: the <dimension> record as given (stale if the test says so),
    formulas with or without their saved result, merged ranges."""
    if sheet_xml is None:
        body = "".join(
            f'<row r="{r}">' + "".join(_xml_cell(f"{_letter(c)}{r}", v) for c, v in enumerate(values)) + "</row>"
            for r, values in enumerate(rows, start=1))
        dim = f'<dimension ref="{dimension}"/>' if dimension else ""
        merged = (f'<mergeCells count="{len(merges)}">' + "".join(f'<mergeCell ref="{m}"/>' for m in merges)
                  + "</mergeCells>") if merges else ""
        sheet_xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                     '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                     f"{dim}<sheetData>{body}</sheetData>{merged}</worksheet>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compress) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _ROOT_RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet_xml)
    return out.getvalue()


def _letter(i):
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i]


def test_a_stale_dimension_record_does_not_cut_the_rows(conn, admin, settings):
    rows = [["Use case ID", "Title", "Pilot start"]] + [[f"UC-{i}", f"Pilot {i}", "2025-08-04"] for i in range(10)]
    data = xlsx_bytes(rows, dimension="A1:C3")  # says 2 data rows; there are 10
    frame = importer.read_table(data, "stale.xlsx")
    assert len(frame) == 10 and frame["Title"].tolist()[-1] == "Pilot 9"
    plan = importer.plan_import(conn, frame, importer.guess_mapping(list(frame.columns)), settings)
    result = importer.apply_import(conn, admin, plan)
    assert result.created == 10 and count(conn, "pilot") == 10


def test_a_formula_without_its_saved_result_is_reported_by_row_and_column(conn, admin, settings):
    rows = [["Use case ID", "Title", "Budget"],
            ["UC-1", "Claims triage", ("f", "SUM(D2:E2)")],          # no <v>: a program that does not calculate
            ["UC-2", "Invoice matching", ("f", "SUM(D3:E3)", 1200)],  # with its saved result: read
            ["UC-3", ("f", 'CONCAT("Shift ","planner")'), ""]]
    frame = importer.read_table(xlsx_bytes(rows), "formulas.xlsx")
    assert frame.loc[3, "Budget"] == "1200"
    plan = importer.plan_import(conn, frame, importer.guess_mapping(list(frame.columns)), settings)
    report = plan.report()
    report = report[report["problem"].str.contains("is a formula")].reset_index(drop=True)
    assert report[["row", "column"]].values.tolist() == [[2, "Budget"], [4, "Title"]]
    assert "cell C2 is a formula (=SUM(D2:E2))" in report["problem"][0]
    assert "save it" in report["problem"][0]
    with pytest.raises(InvalidInput, match="2 of 3 rows have problems"):
        importer.apply_import(conn, admin, plan)
    assert count(conn, "pilot") == 0


def test_merged_cells_give_their_value_to_every_cell_of_the_range(conn, admin, settings):
    rows = [["Use case ID", "Title", "Business unit"],
            ["UC-1", "Claims triage", "Claims"],
            ["UC-2", "Fraud check", None],
            ["UC-3", "Invoice matching", "Finance"]]
    frame = importer.read_table(xlsx_bytes(rows, merges=["C2:C3"]), "merged.xlsx")
    assert frame["Business unit"].tolist() == ["Claims", "Claims", "Finance"]
    importer.apply_import(conn, admin, importer.plan_import(conn, frame, importer.guess_mapping(list(frame.columns)),
                                                            settings))
    assert pilot_by_ext(conn, "UC-2").business_unit == "Claims"


def test_a_zip_bomb_is_refused_before_it_is_loaded():
    """2 MB on disk, hundreds of MB unpacked: refused from the zip's
    directory, before openpyxl reads a byte of the sheet."""
    import tracemalloc

    row = '<row><c t="inlineStr"><is><t>' + "x" * 1000 + "</t></is></c></row>"
    size = read.XLSX_MAX_PART_BYTES + 1024 * 1024
    sheet = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
             + row * (size // len(row)) + "</sheetData></worksheet>")
    data = xlsx_bytes(None, sheet_xml=sheet)
    del sheet
    assert len(data) < 2 * 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInput, match=r"bomb.xlsx unpacks to more than 50 MB in one part"):
            importer.read_table(data, "bomb.xlsx")
        assert tracemalloc.get_traced_memory()[1] < 20 * 1024 * 1024  # nothing was unpacked
    finally:
        tracemalloc.stop()


def test_a_sheet_with_more_cells_than_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(read, "XLSX_MAX_CELLS", 50)
    rows = [["Title", "Business unit"]] + [[f"Pilot {i}", "Claims"] for i in range(30)]
    with pytest.raises(InvalidInput, match="more than 50 cells in its first sheet"):
        importer.read_table(xlsx_bytes(rows, dimension="A1:B2"), "big.xlsx")


def test_a_repeated_column_header_is_refused_naming_both_columns(tmp_path):
    path = write_csv(tmp_path / "p.csv", [["UC-1", "a@example.com", "b@example.com"]],
                     header=["Use case ID", "Owner", "owner"])
    with pytest.raises(InvalidInput, match=r"columns B and C are both named 'owner'"):
        importer.read_table(path, "p.csv")


def test_one_column_mapped_to_two_fields_is_refused(conn, tmp_path, settings):
    mapping = importer.Mapping(columns={**MAPPING.columns, "technical_lead": "Owner"})
    with pytest.raises(InvalidInput, match=r"'Owner' is mapped to both product_owner and technical_lead"):
        plan_of(conn, tmp_path, [row()], settings, mapping=mapping)


def test_imported_text_is_capped_at_the_forms_lengths(conn, tmp_path, settings):
    from portfolio.domain import models

    rows = [row(ext="X" * (models.PILOT_NAME_MAX + 1)),
            row(ext="UC-2", title="T" * (models.PILOT_NAME_MAX + 1)),
            row(ext="UC-3", notes="n" * (models.PROBLEM_MAX + 1)),
            row(ext="UC-4", notes="n" * models.PROBLEM_MAX)]
    report = plan_of(conn, tmp_path, rows, settings).report()
    assert report[["row", "column"]].values.tolist() == [[2, "Use case ID"], [3, "Title"], [4, "Notes"]]
    assert f"at most {models.PILOT_NAME_MAX} characters" in report["problem"][0]
    assert f"at most {models.PROBLEM_MAX} characters" in report["problem"][2]


def _malformed_sheet() -> str:
    """A sheet whose XML a damaged or hand-made file leaves broken: a cell's
    <v> never closed."""
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            '<row r="1"><c r="A1" t="inlineStr"><is><t>Title</t></is></c></row>'
            '<row r="2"><c r="A2" t="str"><v>Claims triage</c></row>'
            '</sheetData></worksheet>')


def test_a_workbook_with_broken_xml_is_refused_by_name():
    with pytest.raises(InvalidInput, match="broken.xlsx is not an Excel workbook that can be read"):
        importer.read_table(xlsx_bytes([], sheet_xml=_malformed_sheet()), "broken.xlsx")


def test_the_command_line_refuses_a_workbook_with_broken_xml_in_plain_words(tmp_path, fixed_demo_db):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(xlsx_bytes([], sheet_xml=_malformed_sheet()))
    before = fixed_demo_db.read_bytes()
    done = run_cli("import", str(path), "--db", str(fixed_demo_db), env={"PORTFOLIO_USER": "alex.morgan@example.com"})
    assert done.returncode == 2, done.stderr
    assert "broken.xlsx is not an Excel workbook that can be read" in done.stderr
    assert "Traceback" not in done.stderr
    assert fixed_demo_db.read_bytes() == before


def test_a_column_header_with_control_characters_is_kept_without_them(conn, admin, tmp_path, settings):
    # An escape sequence or a right-to-left override in a header would reach
    # a terminal, the Parquet export and the workbook as an attribute's name.
    header = HEADER + ["Budget\x1b[31m\u202e"]
    path = write_csv(tmp_path / "a.csv", [row(ext="UC-1") + ["10k"]], header)
    plan = importer.plan_import(conn, importer.read_table(path, "a.csv"), MAPPING, settings)
    importer.apply_import(conn, admin, plan)
    assert attributes(conn, "UC-1")["Budget[31m"] == "10k"


def test_a_huge_cell_is_shortened_in_the_report(conn, tmp_path, settings):
    # The row is refused for its length; the report names the cell without
    # printing all of it.
    path = write_csv(tmp_path / "a.csv", [row(ext="UC-1", title="x" * 1_000_000)])
    report = importer.plan_import(conn, importer.read_table(path, "a.csv"), MAPPING, settings).report()
    assert len(report) == 1 and "at most 200" in report["problem"][0]
    assert report["value"][0] == "x" * 199 + "…"


# --- the pilot's rules: a file is refused what the form refuses, in its words ----

def refusal(call) -> str:
    with pytest.raises(InvalidInput) as raised:
        call()
    return str(raised.value)


def test_a_file_and_the_form_refuse_moving_the_start_date_alike(conn, admin, leader, tmp_path, settings):
    importer.apply_import(conn, admin, plan_of(conn, tmp_path, [row(ext="UC-1")], settings))
    pilot = pilot_by_ext(conn, "UC-1")
    form = refusal(lambda: pilots.edit_pilot(conn, leader, pilot.id, {"start_date": date(2025, 9, 1)}, settings, today=AS_OF))
    plan = plan_of(conn, tmp_path, [row(ext="UC-1", start="2025-09-01")], settings, name="again.csv")
    assert [p[3] for p in plan.problems] == [form]


def test_a_file_and_the_form_refuse_moving_the_go_no_go_date_alike(conn, admin, leader, tmp_path, settings):
    importer.apply_import(conn, admin, plan_of(conn, tmp_path, [row(ext="UC-1")], settings))
    pilot = pilot_by_ext(conn, "UC-1")
    form = refusal(lambda: pilots.edit_pilot(conn, leader, pilot.id, {"go_no_go_date": date(2026, 1, 1)}, settings, today=AS_OF))
    plan = plan_of(conn, tmp_path, [row(ext="UC-1", gng="2026-01-01")], settings, name="again.csv")
    assert [p[3] for p in plan.problems] == [form]


def test_a_file_and_the_form_refuse_a_new_seat_to_an_inactive_person_alike(conn, admin, tmp_path, settings):
    gone = demo.make_person(conn, name="Gone Person", email="gone@example.com", active=False)
    form = refusal(lambda: pilots.create_pilot(
        conn, admin, {"name": "Seated", "business_unit": "Claims", "problem": "p", "stage": "pilot",
                      "product_owner_id": gone}, settings, today=AS_OF))
    plan = plan_of(conn, tmp_path, [row(owner="gone@example.com")], settings)
    assert [p[3] for p in plan.problems] == [form]


def test_a_file_and_the_form_refuse_a_clock_that_ends_too_late_alike(conn, admin, tmp_path, settings):
    # Proposed: only a proposed pilot may have a start date still to come.
    form = refusal(lambda: pilots.create_pilot(
        conn, admin, {"name": "Late", "business_unit": "Claims", "problem": "p", "stage": "proposed",
                      "start_date": date(2199, 12, 1)}, settings, today=AS_OF))
    plan = plan_of(conn, tmp_path, [row(status="Pre-deployment", start="2199-12-01")], settings)
    assert [p[3] for p in plan.problems] == [form]
    assert form.startswith("Start date: 2199-12-01 puts the go/no-go date")


def test_the_guess_reads_a_public_inventory_like_a_person_would():
    """The columns of a public AI use-case inventory: every field a person
    would match is matched, without a manual change."""
    columns = ["id", "use_case_name", "agency", "development_stage", "operational_date", "contact_email",
               "use_case_description", "topic_area"]
    assert importer.guess_mapping(columns).columns == {
        "external_id": "id", "name": "use_case_name", "business_unit": "agency", "stage": "development_stage",
        "start_date": "operational_date", "product_owner": "contact_email", "problem": "use_case_description",
    }
    # Other common spellings of the same fields.
    assert importer.guess_mapping(["Identifier", "Use Case Title", "Department", "Lifecycle stage", "Date initiated",
                                   "Point of contact"]).columns == {
        "external_id": "Identifier", "name": "Use Case Title", "business_unit": "Department",
        "stage": "Lifecycle stage", "start_date": "Date initiated", "product_owner": "Point of contact"}
    assert importer.guess_mapping(["Use case name", "Summary of use"]).columns["problem"] == "Summary of use"
    assert importer.guess_mapping(["Name", "Purpose and benefits"]).columns["problem"] == "Purpose and benefits"


# --- never drop a pilot for what the tracker can flag ------------------------------


def test_a_seat_without_a_usable_email_leaves_it_empty_and_the_pilot_shows_ownerless(conn, admin, tmp_path, settings):
    plan = plan_of(conn, tmp_path, [row(ext="UC-1", owner="https://www.example.gov/contact-us"),
                                    row(ext="UC-2", owner="Priya Shah")], settings)
    assert plan.problems == [] and plan.creates == 2
    assert [n[3] for n in plan.notes] == [
        "Product owner: 'https://www.example.gov/contact-us' is not an email address; the seat is left empty",
        "Product owner: 'Priya Shah' is not an email address; the seat is left empty"]
    importer.apply_import(conn, admin, plan)
    owned = pilot_by_ext(conn, "UC-1")
    assert owned.product_owner_id is None
    codes = set(flags.pilot_flags(conn, owned.id, AS_OF, settings)["code"])
    assert "OWNERLESS" in codes  # shown as what it is, not dropped


def test_a_cell_with_several_emails_gives_the_seat_to_the_first(conn, admin, tmp_path, settings):
    plan = plan_of(conn, tmp_path, [row(ext="UC-1", owner="Ann Lee <ann.lee@example.com>; bo.ng@example.com")],
                   settings)
    assert plan.problems == []
    assert [n[3] for n in plan.notes] == [
        "Product owner: the cell names 2 emails; the seat goes to the first, ann.lee@example.com"]
    importer.apply_import(conn, admin, plan)
    owner = store.get_person(conn, pilot_by_ext(conn, "UC-1").product_owner_id)
    assert owner.email == "ann.lee@example.com"
    assert store.find_person_by_email(conn, "bo.ng@example.com") is None


def test_on_a_stored_pilot_an_unusable_cell_keeps_what_it_has(conn, admin, tmp_path, settings):
    importer.apply_import(conn, admin, plan_of(conn, tmp_path, [row(ext="UC-1")], settings))
    before = pilot_by_ext(conn, "UC-1")
    plan = plan_of(conn, tmp_path, [row(ext="UC-1", start="2025", owner="see the intranet")], settings)
    assert plan.problems == []
    assert sorted(n[3] for n in plan.notes) == [
        "Product owner: 'see the intranet' is not an email address; the seat is kept as it was",
        "Start date: '2025' is a year alone, with no month or day; kept as it was"]
    importer.apply_import(conn, admin, plan)
    after = pilot_by_ext(conn, "UC-1")
    assert (after.start_date, after.product_owner_id) == (before.start_date, before.product_owner_id)


# --- the guess, the counts and the second import at the command line -----------

INVENTORY = (
    "id,use_case_name,agency,development_stage,operational_date,contact_email\n"
    "DOC-1,Claims triage,Commerce,Pre-deployment,2025,jane.doe@commerce.gov\n"
    "DOC-2,Weather summaries,NOAA,Deployed,03/2024,\"a.lee@noaa.gov; b.kim@noaa.gov\"\n"
    "DOC-3,Fish counting,NOAA,In development,\"May 5, 2023\",https://www.fisheries.noaa.gov/contact\n"
    "DOC-4,Letter drafting,Commerce,On hold,2024-05-01,torey/adler@noaa.gov\n"
)


def test_the_command_line_guesses_stages_counts_before_writing_and_imports_the_same_file_as_unchanged(tmp_path):
    path, sheet = tmp_path / "p.duckdb", tmp_path / "inventory.csv"
    sheet.write_text(INVENTORY, encoding="utf-8")
    assert run_cli("init", "--db", path, "--admin", "admin@example.org", "--name", "Ada Admin").returncode == 0

    def cli(*args):
        return run_cli("import", sheet, "--db", path, *args, env={"PORTFOLIO_USER": "admin@example.org"})

    # "On hold" is placed by no common word: its row keeps its problem.
    dry = cli("--dry-run")
    assert dry.returncode != 0
    assert "Importing would create 3, update 0, leave 0 unchanged and reject 1; 2 new people." in dry.stdout
    assert "Stage: 'On hold' is not a stage" in dry.stderr
    assert "Stage: 'Deployed'" not in dry.stderr and "Stage: 'In development'" not in dry.stderr

    first = cli("--skip-invalid")
    assert first.returncode == 0, first.stderr
    assert "Imported 3 rows (3 new, 0 updated), rejected 1; 2 new people." in first.stdout
    assert "jane.doe@commerce.gov" not in first.stdout  # the count, not the list

    again = cli("--skip-invalid")
    assert "Imported 3 rows (0 new, 0 updated, 3 unchanged), rejected 1." in again.stdout
    dry = cli("--dry-run")
    assert "Importing would create 0, update 0, leave 3 unchanged and reject 1; 0 new people." in dry.stdout


def test_a_pilot_found_by_its_id_on_one_row_and_its_name_on_another_is_one_pilot_twice(conn, admin, tmp_path,
                                                                                        settings):
    importer.apply_import(conn, admin, plan_of(conn, tmp_path, [row(ext="A-1", title="Twin")], settings))
    (pid,) = conn.execute("SELECT id FROM pilot").fetchone()
    plan = plan_of(conn, tmp_path, [row(ext="A-1", title="Twin"), row(ext="", title="twin", sponsor="x@y.org")],
                   settings, name="again.csv")
    assert plan.report()[["row", "problem"]].values.tolist() == [
        [3, f"Name: this row is the pilot 'Twin' (tracker id {pid}), as is row 2; a file holds each pilot once"]]
    result = importer.apply_import(conn, admin, plan, skip_invalid=True)
    assert (result.created, result.updated, len(result.rejected)) == (0, 0, 1)
    assert count(conn, "pilot") == 1
