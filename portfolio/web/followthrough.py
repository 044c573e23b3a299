"""Widgets of the decision followed through that several pages share: the
reason and lessons of a no-go or a retirement, and the stopped pilots a new
one resembles."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from portfolio.domain.followthrough import StopReason
from portfolio.domain.text import md, plural


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
    with st.container(key=key):
        st.warning(f"Resembles {plural(len(found), 'stopped pilot')}: read why before starting again.",
                   icon=":material/history_edu:")
        for row in found.itertuples():
            st.markdown(f"**{md(row.pilot)}** · {row.stage}{_on(row.stopped_on)}: {md(row.reason)}")
            if isinstance(row.lessons, str) and row.lessons:
                st.caption("Lessons learned: " + md(row.lessons))
        st.caption("Every stopped pilot, with why and what was learned, is on the Stopped pilots page.")


def _on(day) -> str:
    return "" if day is None or pd.isna(day) else f" on {pd.Timestamp(day):%d %b %Y}"


def still_holding(holding: pd.DataFrame, key: str) -> None:
    """The stopped and retired pilots still holding what they borrowed
    (services.followthrough.still_holding), a paragraph each, as text: one
    element for the lot, for a page of them is drawn on every run of the
    Portfolio page."""
    lines = []
    for row in holding.itertuples():
        owner = f" · product owner {md(row.product_owner)}" if isinstance(row.product_owner, str) else ""
        lines.append(f"**{md(row.pilot)}** · {row.stage}{_on(row.stopped_on)} · still holds "
                     f"{plural(int(row.count), 'privilege')}: {md(row.holding)}{owner}")
    with st.container(key=key):
        st.markdown("\n\n".join(lines))
