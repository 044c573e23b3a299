"""Audit: every change on record, filtered by person, pilot, entity and
dates, and exported as it is shown. Leadership and admins only."""

from datetime import date, timedelta

import streamlit as st

from portfolio.domain import rights
from portfolio.domain.rights import Right
from portfolio.domain.text import EMPTY_CELL
from portfolio.services.reporting import export
from portfolio.storage import audit, store
from portfolio.web import pickers, ui

conn, actor, as_of = ui.conn(), ui.actor(), ui.as_of()
st.title("Audit trail")
if not rights.may(actor, Right.SEE_AUDIT):
    st.info(f"You ({actor.role.label}) cannot read the audit trail: leadership and admins can. "
            "Each pilot's own History tab shows its changes.")
    st.stop()

# Everyone and every pilot's name, read once per change to the data (ui.kept).
people = ui.everyone()
pilots = ui.kept("pilot names, archived too", lambda: {i: name for i, name, _ in store.pilot_choices(conn)})
c1, c2, c3 = st.columns(3)
# Searches beyond pickers.PICKER_CAP people or pilots.
who = pickers.search_select("Person", {i: p.label for i, p in people.items()}, none=True, placeholder="Anyone",
                            also={i: p.email for i, p in people.items()}, key="audit-person", where=c1,
                            search_label="Find a person")
which = pickers.search_select("Pilot", pilots, none=True, placeholder="Every pilot", key="audit-pilot", where=c2,
                              search_label="Find a pilot")
entities = sorted([*audit.ENTITIES, *audit.EVENT_ENTITIES])
what = c3.selectbox("Entity", entities, index=None, placeholder="Everything", key="audit-entity",
                    format_func=ui.entity_words)
span = st.date_input("Between", value=(date.today() - timedelta(days=30), date.today()), key="audit-dates",
                     help="Both days included. Times are UTC.")
picked = list(span) if isinstance(span, (tuple, list)) else [span]
since, until = (picked + [None, None])[:2]  # one day picked so far: from that day on

trail = audit.trail(conn, since=since, until=until, pilot_id=which, actor_id=who, entity=what)
st.caption(f"{len(trail)} record(s)" + ("; a page at a time, newest first, the export has all"
                                        if len(trail) > pickers.PAGE_ROWS else "") + ".")
if trail.empty:
    st.info("Nothing on record for this filter.")
else:
    page = pickers.page_of(trail, "audit-table", noun="record", reset_on=(since, until, which, who, what))
    shown = page.drop(columns=["id", "actor_id", "pilot_id", "before", "after"])
    shown = shown.assign(entity=shown["entity"].map(ui.entity_words))  # "weekly update", not weekly_update
    st.dataframe(shown, hide_index=True, width="stretch", key="audit-table", placeholder=EMPTY_CELL,
                 column_config={"at": st.column_config.DatetimeColumn("At (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                                "actor": "Who", "via": "Via", "entity": "What", "entity_id": "Record",
                                "pilot": "Pilot", "action": "Action",
                                "change": st.column_config.TextColumn("Change", width="large")})
    st.download_button("Export these records (CSV)", export.csv_bytes(trail.drop(columns=["actor_id"])),
                       file_name=f"audit-{date.today()}.csv", mime="text/csv", key="audit-export", on_click="ignore")
