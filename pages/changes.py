"""What changed since my last review: leadership picks a past date and sees
every stage move, decision, seat change, and flag raised or cleared since."""

from datetime import timedelta

import streamlit as st

from portfolio import flags
from portfolio.domain import rights
from portfolio.domain.rights import Right
from portfolio.domain.text import EMPTY_CELL
from portfolio.domain.vocabulary import DecisionKind
from portfolio.services.reporting import review
from portfolio.web import pickers, ui

# The tables' headers in words (the frames keep the service's names).
HEADERS = {
    "at": st.column_config.DatetimeColumn("At (UTC)", format="YYYY-MM-DD HH:mm"), "pilot": "Pilot",
    "from": "From", "to": "To", "action": "Action", "actor": "Who", "kind": "Decision", "decided_on": "Decided on",
    "rationale": "Rationale", "correction": st.column_config.CheckboxColumn("Correction"), "seat": "Seat",
    "flag": "Flag", "severity": "Severity", "reason": "Why",
}

conn, actor, as_of, settings = ui.conn(), ui.actor(), ui.as_of(), ui.settings()
st.title("What changed since my last review")
if not rights.may(actor, Right.SEE_CHANGES):
    st.info(f"You ({actor.role.label}) cannot open the review of changes: leadership and admins can.")
    st.stop()

since = st.date_input("My last review was on", value=as_of - timedelta(days=7), max_value=as_of,
                      key="changes-since", help=f"Compared with the portfolio as of {as_of} (the sidebar's date).")
if since >= as_of:
    st.warning("Pick a day before the as-of date.")
    st.stop()
changes = review.changes_since(conn, since, as_of, settings)
st.caption(f"From {since} to {as_of}. Stage moves, decisions and seat changes come from the audit trail "
           "(times in UTC); flags are those of the first day compared with the last.")
if changes.empty:
    st.success("Nothing changed in this period.", icon=":material/check:")

c = st.columns(5)
c[0].metric("Stage moves", len(changes.stage_moves))
c[1].metric("Decisions", len(changes.decisions))
c[2].metric("Seat changes", len(changes.seat_changes))
c[3].metric("Flags raised", len(changes.flags_raised))
c[4].metric("Flags cleared", len(changes.flags_cleared))

for title, frame, key in (
    ("Stage moves", changes.stage_moves, "changes-stages"),
    ("Decisions", changes.decisions, "changes-decisions"),
    ("Seat changes", changes.seat_changes, "changes-seats"),
    ("Flags raised", changes.flags_raised, "changes-raised"),
    ("Flags cleared", changes.flags_cleared, "changes-cleared"),
):
    st.subheader(title)
    if frame.empty:
        st.caption(f"No {title.lower()} in these days.")
    else:
        if "code" in frame:  # a flag in words
            frame = flags.in_words(frame)
        if "kind" in frame:  # a decision in words
            frame = frame.assign(kind=frame["kind"].map(lambda k: DecisionKind(k).label))
        # A page at a time: a long absence can raise thousands of flags.
        st.dataframe(pickers.page_of(frame, key, noun="row", reset_on=(since, as_of)).drop(columns=["pilot_id"]),
                     hide_index=True, width="stretch", key=key,
                     placeholder=EMPTY_CELL, column_config=HEADERS)
