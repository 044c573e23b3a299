"""Stopped pilots: every pilot stopped by a no-go or retired, with why (a
reason from the short list), what was learned and the rationale, by
reason, business unit and year, searchable by words. A no-go teaches only
if the next pilot on the same problem finds it."""

import streamlit as st

from portfolio.domain.followthrough import StopReason
from portfolio.domain.text import EMPTY_CELL, plural
from portfolio.services import followthrough
from portfolio.web import pickers, ui

conn = ui.conn()
st.title("Stopped pilots")
st.caption("Pilots stopped at their go/no-go (no-go) or retired from production: why, and what was learned.")

everything = followthrough.stopped_pilots(conn)
if everything.empty:
    st.info("No pilot has been stopped or retired yet.")
    st.stop()

words = st.text_input("Search", key="stopped-search", placeholder="Words in the name, problem, lessons or rationale")
f1, f2, f3 = st.columns(3)
reasons = f1.multiselect("Reason", [r.value for r in StopReason], format_func=lambda v: StopReason(v).label,
                         key="stopped-reason")
units = f2.multiselect("Business unit", sorted(u for u in everything["business_unit"].unique() if u),
                       key="stopped-unit")
years = f3.multiselect("Year", sorted({int(y) for y in everything["year"].dropna()}, reverse=True),
                       key="stopped-year")
rows = followthrough.stopped_pilots(conn, words=words, reasons=reasons, units=units, years=years)

st.subheader(f"{plural(len(rows), 'stopped pilot')}" + (" match" if words or reasons or units or years else ""))
if rows.empty:
    st.info("No stopped pilot matches.")
    st.stop()
left, right = st.columns([1, 3])
left.markdown("**By reason**")
left.dataframe(followthrough.stopped_by_reason(rows), hide_index=True, width="stretch", key="stopped-by-reason")
# User text (names, lessons, rationale) in a grid's cells: shown as typed.
# A page of them at a time; the search and filters above reach the rest.
right.dataframe(
    pickers.page_of(rows, "stopped-table", noun="stopped pilot", where=right,
                    reset_on=(words, tuple(reasons), tuple(units), tuple(years)))[
        ["pilot", "business_unit", "stage", "stopped_on", "year", "reason", "lessons", "rationale"]],
    hide_index=True, width="stretch", key="stopped-table", placeholder=EMPTY_CELL,
    column_config={key: st.column_config.TextColumn(label, width="large" if key in ("lessons", "rationale")
                                                    else None)
                   for key, label in followthrough.GRAVEYARD_WORDS.items() if key not in ("stopped_on", "year")}
    | {"stopped_on": st.column_config.DateColumn("Stopped on"),
       "year": st.column_config.NumberColumn("Year", format="%d")},
)
