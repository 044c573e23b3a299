"""Pilot: one pilot whole (its clock, seats, flags, criteria and decisions,
production readiness, the handover's acceptance and the check-ins after go,
weekly updates and history), and the form to create a
pilot. Each tab is a module of portfolio/web/pilot/."""

from datetime import date

import streamlit as st

from portfolio.domain import clock, rights
from portfolio.domain.errors import NotFound
from portfolio.domain.rights import Right
from portfolio.domain.text import md, md_lines
from portfolio.domain.vocabulary import CREATABLE_STAGES
from portfolio.domain.units import KEPT_ON
from portfolio.services import followthrough, units
from portfolio.services.pilots import create_pilot
from portfolio.storage import store
from portfolio.web import forms, pickers, ui
from portfolio.web.followthrough import resembling
from portfolio.web.pilot import TABS, criteria, handover, history, overview, readiness, updates
from portfolio.web.pilot.overview import unit_choices, unit_label
from portfolio.web.pilot.seats import SEAT_KEYS, seat_ids, seat_inputs

conn, actor, as_of, settings = ui.conn(), ui.actor(), ui.as_of(), ui.settings()
# Everyone, and every pilot's name, read once per change to the data
# (ui.kept): the page runs on every click, and an organisation has
# thousands of each.
people = ui.everyone()

st.title("Pilot")
forms.show_flash()


def pilots_to_open() -> tuple[dict[int, str], int]:
    """Every pilot's name to pick from (the archived ones said so), told
    apart where two share one, and how many are not archived."""
    choices = store.pilot_choices(conn)
    return (pickers.distinct({i: f"{name} (archived)" if archived else name for i, name, archived in choices}),
            sum(1 for *_, archived in choices if not archived))


names, live = ui.kept("pilots to open", pilots_to_open)
try:
    wanted = int(st.query_params.get("id", 0)) or None
except ValueError:
    wanted = None
if wanted not in names:
    wanted = None
# A search beyond pickers.PICKER_CAP pilots; the pilot the address names is
# always offered, so a link (?id=) opens it whatever the search.
pick = pickers.search_select(
    "Pilot", names, current=wanted, none=True, placeholder="Choose a pilot", key=f"pilot-pick-{wanted}",
    search_key="pilot-search", search_label="Find a pilot", made_distinct=True,
)
if pick and pick != wanted:
    st.query_params["id"] = str(pick)

# --- create ---------------------------------------------------------------
may_create = rights.may(actor, Right.CREATE_PILOT)
if may_create:
    with st.expander("New pilot", expanded=pick is None, icon=":material/add:"):
        with forms.form("new-pilot"):
            name = st.text_input("Name", key="pilot-name")
            offered = units.offered(conn)
            if not offered:
                st.caption(f"The organisation keeps no business units yet: an admin adds them on the {KEPT_ON} "
                           "before a pilot can be given one.")
            unit = st.selectbox("Business unit", unit_choices(offered), key="pilot-unit",
                                format_func=lambda u: unit_label(u, offered),
                                help=f"The organisation's units; an admin keeps them on the {KEPT_ON}.")
            problem = st.text_area("Problem it solves", key="pilot-problem")
            # Before starting again: the stopped pilots like this one, and why they stopped.
            resembling(followthrough.resembling(conn, name, problem), "pilot-resembles")
            c1, c2 = st.columns(2)
            stage = c1.selectbox("Stage", [s.value for s in CREATABLE_STAGES], index=1, key="pilot-stage")
            start = c2.date_input("Start date (day 1 of the clock)", value=None, key="pilot-start",
                                  help=f"The go/no-go date is the start plus {settings.clock_days} days.")
            seats = seat_inputs("pilot", people)
            if forms.submit("Create pilot", key="pilot-create", type="primary"):
                forms.save(
                    lambda: create_pilot(
                        conn, actor,
                        {"name": name, "business_unit": unit, "problem": problem, "stage": stage,
                         "start_date": start, **seat_ids(seats)},
                        settings, today=date.today()),
                    f"Created '{name.strip()}'.",
                    clear={"pilot-name": "", "pilot-unit": "", "pilot-problem": "", "pilot-start": None,
                           **{f"pilot-{k}": None for k in SEAT_KEYS.values()}},
                    then=lambda new_id: st.switch_page("pages/pilot.py", query_params={"id": new_id}))

if pick is None:
    if not live:
        st.info("No pilots yet." + (" Create the first one above." if may_create else ""))
    st.stop()

# --- one pilot ------------------------------------------------------------
try:
    pilot = store.get_pilot(conn, pick)
except NotFound as exc:
    forms.show_error(exc)
    st.stop()

st.header(md(pilot.name))
if pilot.archived:
    st.info("Archived: this pilot is out of the portfolio's numbers and flags; its history is kept. "
            + ("Restore it below (Overview)." if rights.may(actor, Right.ARCHIVE) else "An admin can restore it."),
            icon=":material/inventory_2:")
st.markdown(f"Stage **{pilot.stage.value}** · {md(pilot.business_unit) or 'no business unit'}")
if pilot.problem:
    st.markdown(md_lines(pilot.problem))

c1, c2, c3 = st.columns(3)
if pilot.start_date:
    c1.metric("Day", clock.day_of_clock(pilot.start_date, as_of))
if pilot.go_no_go_date:
    left = clock.days_left(pilot.go_no_go_date, as_of)
    if left >= 0:
        c2.metric("Days left", left)
    else:
        c2.metric("Days overdue", -left)
    c3.metric("Go/no-go date", f"{pilot.go_no_go_date:%d %b %Y}")
st.caption(clock.describe(pilot.start_date, pilot.go_no_go_date, as_of))

# Only the open tab is drawn: a pilot page sends one tab's forms, not six.
# The tab is in the address (?tab=...), so a link can open one, and what was
# typed in another tab is kept as a draft (web/ui.py) until it is opened again.
pickers.open_tab_only("tab", dict(zip(TABS, (
    lambda: overview.show(pilot, people),
    lambda: criteria.show(pilot),
    lambda: readiness.show(pilot),
    lambda: handover.show(pilot),
    lambda: updates.show(pilot),
    lambda: history.show(pilot, people),
))))
