"""A portfolio larger than a page, through AppTest: every table shows a
page of rows with a way to the rest, every long picker is a search that
offers a bounded list, and whatever is beyond the first page is reached
(by turning the page or by searching) and opens."""

import math
from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from portfolio.domain.errors import InvalidInput
from portfolio.domain.text import md
from portfolio.domain.models import Actor
from portfolio.services import demo, people
from portfolio.storage import db, store
from portfolio.web.pickers import PAGE_ROWS, PICKER_CAP
from tests.app.conftest import held_open, place_of, served_copy
from tests.app.test_pages import ROOT, no_exception, open_app

# Pilots enough for more than a page of bridge pilots (a tenth of the
# demo's pilots are in bridge), of the decision queue and of people.
LARGE = 600


def pilot_id_named(path, name: str) -> int:
    with db.session(path) as c:
        (found,) = [p.id for p in store.list_pilots(c) if p.name == name]
    return found


def act_as_found(at: AppTest, person) -> AppTest:
    """Act as ``person``, found by email in the sidebar's search."""
    at.sidebar.text_input(key="act-as-search").input(person.email).run()
    at.sidebar.selectbox(key="act-as").set_value(person.id)
    return at.run()


@pytest.fixture(scope="session")
def large_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("large-template") / "large.duckdb"
    demo.build_demo(path, date.today(), LARGE)
    return path


@pytest.fixture
def large_db(large_template, tmp_path, tmp_path_factory, monkeypatch, request):
    """A fresh copy of a portfolio of LARGE pilots, served in local mode
    (the first admin acts), held open as demo_db is (see conftest's
    ``served_copy`` and ``place_of``)."""
    path = served_copy(large_template, place_of("large.duckdb", tmp_path, tmp_path_factory, request), monkeypatch)
    with held_open(path, request):
        yield path


def test_a_pilot_on_the_last_page_of_the_portfolio_table_is_reached_by_paging_and_opens(large_db):
    at = open_app()
    no_exception(at)
    flagged = int(at.subheader[0].value.split(": ")[1].split(" ")[0].replace(",", ""))
    assert flagged > 2 * PAGE_ROWS
    first_page = at.dataframe(key="portfolio-table").value
    assert len(first_page) == PAGE_ROWS
    assert f"1–{PAGE_ROWS} of {flagged:,}" in " ".join(c.value for c in at.caption)
    # Next turns one page on.
    at.button(key="portfolio-table-next").click().run()
    assert f"{PAGE_ROWS + 1}–{2 * PAGE_ROWS} of {flagged:,}" in " ".join(c.value for c in at.caption)
    pages = math.ceil(flagged / PAGE_ROWS)
    at.number_input(key="portfolio-table-page").set_value(pages).run()
    no_exception(at)
    last_page = at.dataframe(key="portfolio-table").value
    assert len(last_page) == flagged - (pages - 1) * PAGE_ROWS
    assert not set(last_page["name"]) & set(first_page["name"])
    assert f"{(pages - 1) * PAGE_ROWS + 1:,}–{flagged:,} of {flagged:,}" in " ".join(c.value for c in at.caption)
    # "Open a pilot" offers the pilots on the page shown: the last one opens.
    name = last_page.iloc[-1]["name"]
    picker = at.selectbox(key="open-pilot")
    assert picker.options == list(last_page["name"])
    picker.set_value(pilot_id_named(large_db, name))
    at.button(key="open-pilot-go").click().run()
    no_exception(at)
    assert at.title[0].value == "Pilot" and at.header[0].value == md(name)


def test_the_portfolio_search_narrows_the_table_and_opens_the_pilot_found(large_db):
    at = open_app()
    with db.session(large_db) as c:
        pilot = store.list_pilots(c)[-1]
    at.segmented_control(key="portfolio-show").set_value("All pilots").run()
    assert pilot.name not in set(at.dataframe(key="portfolio-table").value["name"])
    at.text_input(key="portfolio-search").input(pilot.name.upper()).run()
    no_exception(at)
    assert list(at.dataframe(key="portfolio-table").value["name"]) == [pilot.name]
    assert at.selectbox(key="open-pilot").options == [pilot.name]
    assert at.selectbox(key="open-pilot").value == pilot.id
    at.button(key="open-pilot-go").click().run()
    assert at.header[0].value == md(pilot.name)


def test_the_pilot_page_picker_finds_a_pilot_beyond_the_first_matches_and_keeps_deep_links(large_db):
    with db.session(large_db) as c:
        pilots = store.list_pilots(c)
    far = pilots[-1]
    at = open_app("pages/pilot.py")
    no_exception(at)
    picker = at.selectbox(key="pilot-pick-None")
    assert len(picker.options) == PICKER_CAP and far.name not in picker.options
    at.text_input(key="pilot-search").input(far.name).run()
    picker = at.selectbox(key="pilot-pick-None")
    assert picker.options == [far.name]
    picker.set_value(far.id).run()
    no_exception(at)
    assert at.header[0].value == md(far.name) and at.query_params["id"] == str(far.id)
    # A link to a pilot that no search lists first opens it, chosen in the picker.
    other = pilots[-2]
    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    again.switch_page("pages/pilot.py")
    again.query_params["id"] = str(other.id)
    again.run()
    no_exception(again)
    picker = again.selectbox(key=f"pilot-pick-{other.id}")
    assert picker.value == other.id and other.name in picker.options and len(picker.options) <= PICKER_CAP + 1
    assert again.header[0].value == md(other.name)


def test_act_as_finds_a_person_beyond_the_first_matches(large_db):
    with db.session(large_db) as c:
        person = [p for p in store.list_people(c, active_only=True) if p.role.value == "product_owner"][-1]
    label = f"{person.name} · product owner"
    at = open_app()
    box = at.sidebar.selectbox(key="act-as")
    assert len(box.options) <= PICKER_CAP + 1 and label not in box.options
    acting = box.value
    at.sidebar.text_input(key="act-as-search").input(person.email.upper()).run()
    box = at.sidebar.selectbox(key="act-as")
    assert box.value == acting  # searching alone changes nobody
    assert label in box.options and len(box.options) <= 2
    box.set_value(person.id).run()
    no_exception(at)
    assert at.sidebar.selectbox(key="act-as").value == person.id
    assert at.query_params["as"] == person.email
    # Acting as that product owner: the weekly update offers their own pilots.
    at.switch_page("pages/weekly_update.py").run()
    with db.session(large_db) as c:
        theirs = {p.name for p in store.list_pilots(c) if person.id in (p.product_owner_id, p.technical_lead_id)}
    assert {o.split(" · ")[0] for o in at.selectbox(key="update-pilot").options} <= theirs


def test_act_as_follows_people_added_and_deactivated_since_the_last_run(large_db):
    """The people to act as are read once per change to the data, not on
    every run: someone added on the People page (or by the command line)
    is found on the next run, and someone deactivated is no longer offered."""
    at = open_app()
    with db.session(large_db) as c:
        admin = Actor.of(next(p for p in store.list_people(c, active_only=True) if p.role.value == "admin"))
        new_id = people.add_person(c, admin, {"name": "Zeta Newcomer", "email": "zeta.newcomer@example.com",
                                              "role": "product_owner"})
    at.sidebar.text_input(key="act-as-search").input("zeta.newcomer").run()
    no_exception(at)
    assert "Zeta Newcomer · product owner" in at.sidebar.selectbox(key="act-as").options
    with db.session(large_db) as c:
        people.deactivate_person(c, admin, new_id)
    at.run()
    no_exception(at)
    assert "Zeta Newcomer · product owner" not in at.sidebar.selectbox(key="act-as").options
    assert any("Nothing matches" in c.value for c in at.sidebar.caption)


def test_the_decisions_page_reaches_a_bridge_pilot_beyond_the_first_page_and_promotes_it(large_db):
    with db.session(large_db) as c:
        leader = next(p for p in store.list_people(c, active_only=True) if p.role.value == "leadership")
        bridge = c.execute("SELECT count(*) FROM pilot WHERE stage = 'bridge'").fetchone()[0]
    assert bridge > PAGE_ROWS
    at = open_app("pages/decisions.py")
    act_as_found(at, leader)
    no_exception(at)
    assert len(at.dataframe(key="bridge-table").value) == PAGE_ROWS
    first = set(at.selectbox(key="bridge-pick-0").options)
    at.button(key="bridge-table-next").click().run()
    shown = at.dataframe(key="bridge-table").value
    assert len(shown) == bridge - PAGE_ROWS
    picker = at.selectbox(key="bridge-pick-0")
    name = shown.iloc[-1]["name"]
    assert picker.options == list(shown["name"]) and name not in first
    pilot_id = pilot_id_named(large_db, name)
    picker.set_value(pilot_id).run()
    # Only the opened one carries a form.
    assert [b.key for b in at.button if (b.key or "").startswith("promote-go-")] == [f"promote-go-{pilot_id}"]
    at.text_input(key=f"promote-override-{pilot_id}").input("Board deadline")
    at.button(key=f"promote-go-{pilot_id}").click().run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    with db.session(large_db) as c:
        assert store.get_pilot(c, pilot_id).stage.value == "production"


def test_the_decision_queue_search_picks_a_pilot_beyond_the_first_page(large_db):
    with db.session(large_db) as c:
        leader = next(p for p in store.list_people(c, active_only=True) if p.role.value == "leadership")
    at = open_app("pages/decisions.py")
    act_as_found(at, leader)
    queue_caption = next(c.value for c in at.caption if c.value.startswith(f"Pilots 1–{PAGE_ROWS} of "))
    total = int(queue_caption.split(" of ")[1].rstrip(".").replace(",", ""))
    pages = math.ceil(total / PAGE_ROWS)
    at.number_input(key="decision-queue-page").set_value(pages).run()
    name = at.dataframe(key="decision-queue").value.iloc[-1]["name"]
    at.number_input(key="decision-queue-page").set_value(1).run()
    at.text_input(key="decision-search").input(name).run()
    no_exception(at)
    assert list(at.dataframe(key="decision-queue").value["name"]) == [name]
    assert at.header[0].value == md(name)  # the one match is the pilot to decide on
    pick = next(s for s in at.selectbox if s.label == "Decide on")
    assert pick.options == [name] and pick.value == pilot_id_named(large_db, name)
    assert at.radio(key=f"decision-kind-{pick.value}").value is None


PAGES = ["pages/portfolio.py", "pages/decisions.py", "pages/pilot.py", "pages/weekly_update.py",
         "pages/people.py", "pages/stopped.py", "pages/audit.py", "pages/changes.py"]


@pytest.mark.parametrize("page", PAGES)
def test_what_a_page_sends_stays_bounded_as_the_portfolio_grows(large_db, page):
    with db.session(large_db) as c:
        assert len(store.list_pilots(c)) >= LARGE and len(store.list_people(c)) > 10 * PICKER_CAP
    at = open_app(page)
    no_exception(at)
    # The picker's own pick and the one a link names may join the matches.
    longest_picker = max([len(s.options) for s in at.selectbox] + [len(m.options) for m in at.multiselect])
    assert longest_picker <= PICKER_CAP + 2
    assert max([len(d.value) for d in at.dataframe], default=0) <= PAGE_ROWS



def test_a_seat_typed_as_an_email_or_a_full_name_finds_that_active_person(large_db):
    # AppTest cannot type a value a picker does not list; the lookup it gets is this.
    from portfolio.web.pilot.seats import people_typed, seat_ids

    with db.session(large_db) as c:
        people = {p.id: p for p in store.list_people(c)}
    owner = [p for p in people.values() if p.active and p.role.value == "product_owner"][-1]
    gone = next(p for p in people.values() if not p.active)
    assert people_typed(f"  {owner.email.upper()} ", people) == [owner.id]
    assert people_typed(owner.name.lower(), people) == [owner.id]
    assert people_typed(gone.email, people) == []  # nobody inactive takes a seat
    assert people_typed("nobody@example.org", people) == []
    # What nobody has is refused on saving, naming the seat.
    with pytest.raises(InvalidInput, match="^Product owner: no one active has the email or full name"):
        seat_ids({"product_owner_id": "nobody@example.org", "technical_lead_id": owner.id})
    assert seat_ids({"product_owner_id": owner.id}) == {"product_owner_id": owner.id}


def test_a_row_selected_in_the_bridge_table_does_not_pick_another_pilot_once_the_page_turns(large_db):
    with db.session(large_db) as c:
        leader = next(p for p in store.list_people(c, active_only=True) if p.role.value == "leadership")
    at = open_app("pages/decisions.py")
    act_as_found(at, leader)
    selected = at.dataframe(key="bridge-table").value.iloc[0]["name"]
    at.session_state["bridge-table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert at.selectbox(key=f"bridge-pick-{pilot_id_named(large_db, selected)}").value == pilot_id_named(
        large_db, selected)
    at.button(key="bridge-table-next").click().run()
    no_exception(at)
    # The first row of the next page is another pilot: it is not opened in the selected one's place.
    assert at.session_state["bridge-table"]["selection"]["rows"] == []
    assert not [s for s in at.selectbox if (s.key or "").startswith("bridge-pick-") and s.key != "bridge-pick-0"]
