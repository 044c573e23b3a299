"""Widgets of the decision followed through that several pages share: the
reason and lessons of a no-go or a retirement, and the stopped pilots a new
one resembles."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from portfolio.domain.followthrough import StopReason
from portfolio.domain.text import EMPTY_CELL, plural


def stop_inputs(key: str) -> tuple[str | None, str]:
    """The reason (from the short list, in words) and the lessons learned."""
    reason = st.selectbox(
        "Why it stops (required)", [r.value for r in StopReason], index=None,
        format_func=lambda v: StopReason(v).label, placeholder="Choose a reason", key=f"{key}-stop-reason",
        help="The first five are the usual reasons pilots stall before production; the list of stopped pilots "
             "is searchable by reason.")
    lessons = st.text_area("Lessons learned", key=f"{key}-lessons",
                           help="What the next pilot on the same problem should know.")
    return reason, lessons


def resembling(found: pd.DataFrame, key: str) -> None:
    """Show ``found`` (services.followthrough.resembling): the stopped
    pilots like the one being created, each with its reason and lessons,
    as text."""
    if found.empty:
        return
    st.warning(f"Resembles {plural(len(found), 'stopped pilot')}: read why before starting again.",
               icon=":material/history_edu:")
    st.dataframe(
        pd.DataFrame({"Stopped pilot": found["pilot"], "Stage": found["stage"], "Stopped on": found["stopped_on"],
                      "Reason": found["reason"], "Lessons learned": found["lessons"]}),
        hide_index=True, width="stretch", key=key, placeholder=EMPTY_CELL,
        column_config={"Lessons learned": st.column_config.TextColumn(width="large")},
    )
    st.caption("Every stopped pilot, with why and what was learned, is on the Stopped pilots page.")
