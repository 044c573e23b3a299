"""The pilot page's History tab: the audit trail of the pilot and what
belongs to it, with the saves refused because someone else saved first."""

from __future__ import annotations

import streamlit as st

from portfolio.domain.models import Person, Pilot
from portfolio.domain.text import EMPTY_CELL, md
from portfolio.storage import audit
from portfolio.web import ui

# Refused saves called out under the table, the newest first.
REFUSED_SHOWN = 5


def show(pilot: Pilot, people: dict[int, Person]) -> None:
    st.subheader("History")
    st.caption("Every change to this pilot and what belongs to it, newest first, with who made it; a save "
               "refused because someone else had changed the record first is kept too. Times are UTC.")
    history = audit.trail(ui.conn(), pilot_id=pilot.id)
    if history.empty:
        st.caption("Nothing on record yet.")
        return
    shown = history[["at", "actor", "via", "action", "entity", "change"]]
    st.dataframe(
        shown.assign(entity=shown["entity"].map(ui.entity_words)), hide_index=True, width="stretch",
        key=f"history-{pilot.id}", placeholder=EMPTY_CELL,
        column_config={"at": st.column_config.DatetimeColumn("At (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                       "actor": "Who", "via": "Via", "action": "Action", "entity": "What",
                       "change": st.column_config.TextColumn("Change", width="large")},
    )
    names = {p: people[p].name for p in people}
    refused = history[history["action"].str.endswith("refused")]
    for row in refused.head(REFUSED_SHOWN).itertuples():
        st.warning(f"{row.at:%Y-%m-%d %H:%M} UTC: {md(row.actor)}'s {row.action.removesuffix(' refused')} was "
                   f"refused (someone else had saved first). They tried: "
                   f"{md(audit.describe(row.before, row.after, names) or 'no change')}.",
                   icon=":material/block:")
