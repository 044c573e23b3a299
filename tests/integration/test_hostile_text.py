"""Control characters in user text (#12.6): an ESC in a pilot's name never
reaches a terminal through the command line, whether it came in through an
import or was in the database already, and a control character before a
formula never makes a live formula in the Excel export. The commands run in
this process (cli.main, as __main__ runs it), and one also in a real
process."""

import os
import subprocess
import sys
from pathlib import Path

import openpyxl

from portfolio.services import demo
from portfolio.services.reporting import export
from portfolio.storage import db
from tests.conftest import AS_OF, run_cli

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "alex.morgan@example.com"  # the demo's first admin
ESC = "\x1b"
RED_NAME = f"Claims {ESC}[31mtriage{ESC}[0m \u202egnitset"


def cli(*args):
    return run_cli(*args, env={"PORTFOLIO_USER": ADMIN})


def process(*args):
    return subprocess.run([sys.executable, "-m", "portfolio", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PORTFOLIO_USER": ADMIN}, timeout=120)


def printed(db_file, *command, run_in=cli) -> str:
    run = run_in(*command, "--db", str(db_file))
    assert run.returncode in (0, 3), run.stderr
    return run.stdout + run.stderr


def test_a_name_imported_with_an_escape_never_prints_one(fixed_demo_db, tmp_path):
    sheet = tmp_path / "pilots.csv"
    # Written as a spreadsheet program's CSV export would: UTF-8, CRLF, quoted where needed.
    sheet.write_bytes(
        "Use case ID,Title,Business unit,Problem,Pilot start,Owner\r\n"
        f'UC-ESC,{RED_NAME},Claims{ESC}[2J,"Line one{ESC}]0;owned{ESC}\\\nline two",2025-01-06,{ADMIN}\r\n'
        .encode("utf-8"))
    imported = cli("import", str(sheet), "--db", str(fixed_demo_db))
    assert imported.returncode == 0, imported.stderr
    assert ESC not in imported.stdout + imported.stderr

    with db.session(fixed_demo_db) as conn:
        stored = conn.execute("SELECT name, business_unit, problem FROM pilot WHERE external_id = 'UC-ESC'").fetchone()
    assert stored == ("Claims [31mtriage[0m gnitset", "Claims[2J", "Line one]0;owned\\\nline two")

    as_of = ("--as-of", AS_OF.isoformat())
    outputs = {
        "flags": printed(fixed_demo_db, "flags", *as_of),
        "flags csv": printed(fixed_demo_db, "flags", *as_of, "--format", "csv"),
        "digest": printed(fixed_demo_db, "digest", *as_of),
        "audit": printed(fixed_demo_db, "audit"),
        "audit csv": printed(fixed_demo_db, "audit", "--format", "csv"),
    }
    for command, text in outputs.items():
        assert ESC not in text and "\u202e" not in text, command
        assert "triage" in text, command  # the pilot is there, without its escapes


def test_an_escape_already_in_the_database_never_reaches_the_terminal(conn, db_file):
    # Stored before names were cleaned on the way in (the builder writes as given).
    demo.make_pilot(conn, name=RED_NAME, product_owner_id=None, start_date=AS_OF.replace(year=AS_OF.year - 1))
    conn.close()
    as_of = ("--as-of", AS_OF.isoformat())
    for command, run_in in ((("flags", *as_of), cli), (("flags", *as_of), process),
                            (("flags", *as_of, "--format", "csv"), cli), (("digest", *as_of), cli),
                            (("digest", *as_of, "--format", "html"), cli)):
        text = printed(db_file, *command, run_in=run_in)
        assert ESC not in text and "\u202e" not in text, command
        assert "Ownerless" in text, command
        assert "Claims [31mtriage[0m gnitset" in text.replace("\\", ""), command


def test_a_control_character_before_a_formula_is_no_formula_in_the_workbook(conn, settings, tmp_path):
    # What the database may hold from before: the xlsx writer drops the
    # control character, so the check for a formula must look past it.
    hostile = '\x01=HYPERLINK("http://127.0.0.1:9/?leak="&A1,"Open")'
    pid = demo.make_pilot(conn, name=hostile, business_unit="\x1b+1")
    demo.make_update(conn, pid, AS_OF, summary="\x02@SUM(A1)")
    out = export.export_xlsx(conn, AS_OF, settings, tmp_path / "portfolio.xlsx")
    book = openpyxl.load_workbook(out)
    formulas = [f"{ws.title}!{cell.coordinate}: {cell.value!r}"
                for ws in book for row in ws.iter_rows() for cell in row if cell.data_type == "f"]
    assert formulas == []
    header = [c.value for c in book["Pilots"][1]]
    names = [row[header.index("Name")] for row in book["Pilots"].iter_rows(min_row=2, values_only=True)]
    # Shown as typed, as a text cell (no formula above), without the control
    # character and without an apostrophe in the text.
    assert hostile[1:] in names
