"""The first hour from the command line: `init` gives a new portfolio its
first admin, who then adds and deactivates people with `people`; nothing is
written when a value is refused, and the audit trail says who did it."""

import json
import shutil

import pytest

from portfolio.services import demo
from portfolio.storage import audit, db, store
from tests.conftest import run_cli

ADMIN = {"PORTFOLIO_USER": "ada@acme.example"}


def init(path, email="ada@acme.example", name="Ada Lovelace"):
    return run_cli("init", "--db", path, "--admin", email, "--name", name, env={"PORTFOLIO_USER": None})


def everyone(path) -> list[tuple[str, str, str, bool]]:
    with db.session(path) as c:
        return [(p.name, p.email, p.role.value, p.active) for p in store.list_people(c)]


def trail_length(path) -> int:
    with db.session(path) as c:
        return len(audit.trail(c))


def test_init_creates_an_empty_portfolio_with_its_first_admin(tmp_path):
    path = tmp_path / "acme.duckdb"
    made = init(path)
    assert made.returncode == 0, made.stderr
    assert f"Created {path} with its first admin, Ada Lovelace <ada@acme.example>." in made.stdout
    assert f"make run PORTFOLIO_DB={path} PORTFOLIO_USER=ada@acme.example" in made.stdout
    assert everyone(path) == [("Ada Lovelace", "ada@acme.example", "admin", True)]
    with db.session(path) as c:
        (record,) = audit.trail(c).to_dict("records")
    assert (record["actor"], record["via"], record["action"]) == (
        "Ada Lovelace <ada@acme.example>", "command line", "create")
    # An empty portfolio reads as one: no pilots, no flags.
    assert run_cli("flags", "--db", path).stdout.strip() == "No flags."
    assert json.loads(run_cli("summary", "--db", path).stdout)["Active pilots"] == 0


def test_init_refuses_a_portfolio_that_has_an_admin_and_changes_nothing(fixed_demo_db):
    before, trail = everyone(fixed_demo_db), trail_length(fixed_demo_db)
    refused = init(fixed_demo_db, "new.admin@example.com", "New Admin")
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: Admin: this portfolio already has an admin (")
    assert "people add" in refused.stderr and "Traceback" not in refused.stderr
    assert everyone(fixed_demo_db) == before and trail_length(fixed_demo_db) == trail


@pytest.mark.parametrize(("email", "name", "says"), [
    ("not-an-email", "Ada", "error: Email: 'not-an-email' is not an email address"),
    ("ada@acme.example", "   ", "error: Name: must not be blank"),
])
def test_init_checks_the_admin_before_making_a_file(tmp_path, email, name, says):
    path = tmp_path / "acme.duckdb"
    refused = init(path, email, name)
    assert (refused.returncode, refused.stderr.strip()) == (2, says)
    assert list(tmp_path.iterdir()) == []  # no database, no log beside it


def test_init_gives_an_existing_empty_portfolio_its_first_admin(conn, db_file):
    conn.close()  # the fixture's empty, migrated portfolio, released
    made = init(db_file)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(f"Opened {db_file} with its first admin")
    assert everyone(db_file) == [("Ada Lovelace", "ada@acme.example", "admin", True)]


def test_init_makes_the_person_who_has_the_email_admin_instead_of_a_second_one(db_file, empty_template):
    shutil.copyfile(empty_template, db_file)
    with db.session(db_file) as c:
        demo.make_person(c, name="Ada L.", email="Ada@Acme.example", role="viewer", active=False)
    made = init(db_file, "ada@acme.example", "Ada Lovelace")
    assert made.returncode == 0, made.stderr
    assert "(already a person there, now admin)" in made.stdout
    # Their name and email as they were; their role and standing as an admin's.
    assert everyone(db_file) == [("Ada L.", "Ada@Acme.example", "admin", True)]
    with db.session(db_file) as c:
        (record,) = audit.trail(c).to_dict("records")
    assert record["action"] == "edit" and "role 'viewer' → 'admin'" in record["change"]


def test_the_first_admin_adds_and_deactivates_people(tmp_path):
    path = tmp_path / "acme.duckdb"
    assert init(path).returncode == 0
    added = run_cli("people", "add", "--db", path, "--email", "pat@acme.example", "--name", "Pat Owner",
                    "--role", "product_owner", env=ADMIN)
    assert (added.returncode, added.stdout.strip()) == (0, "Added Pat Owner <pat@acme.example> as product owner.")
    again = run_cli("people", "add", "--db", path, "--email", "PAT@acme.example", "--name", "Pat Again", env=ADMIN)
    assert again.returncode == 2 and again.stderr.startswith("error: Email: PAT@acme.example already belongs to Pat")

    listed = json.loads(run_cli("people", "list", "--db", path, "--format", "json").stdout)
    assert [(p["name"], p["role"], p["active"]) for p in listed] == [
        ("Ada Lovelace", "admin", True), ("Pat Owner", "product_owner", True)]

    gone = run_cli("people", "deactivate", "pat@acme.example", "--db", path, env=ADMIN)
    assert (gone.returncode, gone.stdout.strip()) == (0, "Deactivated Pat Owner <pat@acme.example>.")
    assert [p["name"] for p in json.loads(run_cli("people", "list", "--db", path, "--format", "json").stdout)] == [
        "Ada Lovelace"]
    everyone_listed = run_cli("people", "list", "--db", path, "--all")
    assert "Pat Owner" in everyone_listed.stdout and "False" in everyone_listed.stdout
    # Nobody deactivates themselves, so a portfolio keeps an admin.
    alone = run_cli("people", "deactivate", "ada@acme.example", "--db", path, env=ADMIN)
    assert alone.returncode == 2 and "you cannot deactivate yourself" in alone.stderr


def test_deactivating_an_owner_says_which_seats_stay_theirs_flagged(fixed_demo_db):
    with db.session(fixed_demo_db) as c:
        admin = c.execute("SELECT email FROM person WHERE role = 'admin' AND active ORDER BY id LIMIT 1").fetchone()[0]
        owner_id, owner = c.execute(
            "SELECT p.product_owner_id, o.email FROM pilot p JOIN person o ON o.id = p.product_owner_id"
            " WHERE o.active AND p.stage = 'pilot' AND NOT p.archived ORDER BY p.id LIMIT 1").fetchone()
        held = sum(1 for p, _ in store.seats_held(c, owner_id) if p.stage.in_play and not p.archived)
    gone = run_cli("people", "deactivate", owner, "--db", fixed_demo_db, env={"PORTFOLIO_USER": admin})
    assert gone.returncode == 0, gone.stderr
    assert f"{held} seat(s) on pilots in play are still theirs" in gone.stdout
    assert len([line for line in gone.stdout.splitlines() if line.startswith("  ")]) == held > 0


@pytest.mark.parametrize("user", [None, "nobody@example.com", "viewer"])
def test_only_an_admin_adds_or_deactivates_people(fixed_demo_db, user):
    if user == "viewer":
        with db.session(fixed_demo_db) as c:
            user = c.execute("SELECT email FROM person WHERE role = 'viewer' AND active LIMIT 1").fetchone()[0]
    before, trail = everyone(fixed_demo_db), trail_length(fixed_demo_db)
    refused = run_cli("people", "add", "--db", fixed_demo_db, "--email", "x@example.com", "--name", "X",
                      env={"PORTFOLIO_USER": user})
    assert refused.returncode == 2
    if user is None or user == "nobody@example.com":
        assert refused.stderr.startswith("error: PORTFOLIO_USER must name an active admin's email to add or "
                                         "deactivate people")
    else:
        assert refused.stderr.strip().endswith("(viewer) may not add people: only an admin may.")
    assert everyone(fixed_demo_db) == before and trail_length(fixed_demo_db) == trail


def test_people_list_as_csv_is_formula_safe(tmp_path):
    path = tmp_path / "acme.duckdb"
    assert init(path, name="=HYPERLINK(\"http://x\",\"y\")").returncode == 0
    csv = run_cli("people", "list", "--db", path, "--format", "csv").stdout
    assert "\n'=HYPERLINK" in csv or "\n\"'=HYPERLINK" in csv, csv


def test_the_summary_of_an_empty_portfolio_has_nothing_to_compute_as_null(tmp_path):
    path = tmp_path / "acme.duckdb"
    assert init(path).returncode == 0
    summary = json.loads(run_cli("summary", "--db", path).stdout)
    assert summary["Active pilots"] == 0 and summary["No-go decisions"] == 0
    assert summary["Conversion"] is None and summary["Median days to decision"] is None
