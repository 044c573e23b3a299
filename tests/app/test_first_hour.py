"""An empty portfolio in the app: every page says how to give it its first
admin, and once `init` has, that admin acts (local mode) and the note goes."""

import shutil

import pytest

from tests.app.test_pages import every_section, no_exception, open_app
from tests.conftest import run_cli

NOTE = "This portfolio has no admin yet"


@pytest.fixture
def empty_db(db_file, empty_template, monkeypatch):
    shutil.copyfile(empty_template, db_file)
    monkeypatch.setenv("PORTFOLIO_DB", str(db_file))
    monkeypatch.delenv("PORTFOLIO_USER", raising=False)
    return db_file


@pytest.mark.parametrize("page", [None, "pages/people.py", "pages/import.py"])
def test_an_empty_portfolio_says_on_every_page_how_to_give_it_its_first_admin(empty_db, page):
    at = open_app(page)
    no_exception(at)
    (note,) = [i.value for i in at.info if NOTE in i.value]
    assert "nobody can add people or pilots" in note
    (command,) = [c.value for c in at.code]
    assert command.splitlines() == [
        f'.venv/bin/python -m portfolio init --db {empty_db} --admin you@example.org --name "Your Name"',
        f"make run PORTFOLIO_DB={empty_db} PORTFOLIO_USER=you@example.org",
    ]
    assert not [s for s in at.sidebar.selectbox if s.key == "act-as"]  # nobody to act as
    assert any("nobody to act as yet" in c.value for c in at.sidebar.caption)
    assert not any("use the picker above" in c.value for c in at.sidebar.caption)


def test_after_init_the_first_admin_acts_and_the_note_is_gone(empty_db):
    made = run_cli("init", "--db", empty_db, "--admin", "ada@acme.example", "--name", "Ada Lovelace")
    assert made.returncode == 0, made.stderr
    at = open_app("pages/people.py")
    no_exception(at)
    assert not [i for i in at.info if NOTE in i.value]
    assert at.sidebar.markdown[0].value == "**Ada Lovelace** · admin"
    assert at.selectbox(key="act-as").value is not None
    # The admin may add people here: the form is offered.
    assert [t for t in at.text_input if t.label == "Email"]


def test_an_empty_portfolio_says_no_pilots_yet_instead_of_drawing_empty_charts(empty_db):
    captions, charts = [], []
    for at in every_section(open_app()):  # only the open section is drawn: read each
        no_exception(at)
        captions += [c.value for c in at.caption]
        charts += at.get("plotly_chart")
    assert "No pilots on the clock yet: a pilot's window shows once it has a start date." in captions
    assert "No pilots yet." in captions and "No open pilots on the clock yet." in captions
    assert not charts  # no axes drawn from nowhere
