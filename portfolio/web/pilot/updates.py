"""The pilot page's Weekly updates tab: the latest weeks, the earlier ones
folded, and every revision an update went through."""

from __future__ import annotations

import streamlit as st

from portfolio.domain import clock
from portfolio.domain.models import Pilot, WeeklyUpdate
from portfolio.domain.text import md, md_lines
from portfolio.storage import store
from portfolio.web import ui

HEALTH_ICON = {"green": ":green[●]", "amber": ":orange[●]", "red": ":red[●]"}
# Weeks shown open; the rest, up to a year, fold under "Earlier weeks".
SHOWN_WEEKS = 4
FOLDED_WEEKS = 52


def show(pilot: Pilot) -> None:
    conn, as_of = ui.conn(), ui.as_of()
    st.subheader("Weekly updates")
    updates = store.list_updates(conn, pilot.id, as_of=as_of)
    if not updates:
        st.caption("No weekly updates yet.")
    for u in updates[:SHOWN_WEEKS]:
        _show_update(u)
    if len(updates) > SHOWN_WEEKS:
        with st.expander(f"Earlier weeks ({len(updates) - SHOWN_WEEKS})"):
            for u in updates[SHOWN_WEEKS:FOLDED_WEEKS]:
                _show_update(u)
    revisions = store.list_updates(conn, pilot.id, as_of=as_of, with_history=True)
    latest_revision = {}
    for u in revisions:
        latest_revision[u.week_start] = max(latest_revision.get(u.week_start, 0), u.revision)
    earlier = [u for u in revisions if u.revision < latest_revision[u.week_start]]
    if earlier:
        with st.expander(f"Earlier revisions ({len(earlier)})"):
            for u in earlier:
                st.markdown(f"**Week of {u.week_start:%d %b %Y}**, revision {u.revision} "
                            f"({u.created_at:%Y-%m-%d %H:%M}): {u.health.value}. {md(u.summary)}")


def _show_update(u: WeeklyUpdate) -> None:
    revised = f" · revision {u.revision}" if u.revision > 1 else ""
    st.markdown(
        f"{HEALTH_ICON[u.health.value]} **Week of {u.week_start:%d %b %Y}** "
        f"({clock.iso_week_label(u.week_start)}) · {u.health.value} · {md(u.author_name) or 'unknown'}{revised}"
    )
    st.markdown(md_lines(u.summary))
    if u.blockers:
        st.markdown(f"*Blockers:* {md_lines(u.blockers)}")
    if u.next_steps:
        st.markdown(f"*Next:* {md_lines(u.next_steps)}")
