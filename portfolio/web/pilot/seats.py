"""The seat pickers the new-pilot and edit forms share."""

from __future__ import annotations

import streamlit as st

from portfolio.domain.models import Person
from portfolio.domain.vocabulary import Seat
from portfolio.web import ui

# Each seat's part of its widget's key (pilot-product-owner, edit-3-technical-lead).
SEAT_KEYS = {
    Seat.PRODUCT_OWNER: "product-owner",
    Seat.TECHNICAL_LEAD: "technical-lead",
    Seat.EXECUTIVE_SPONSOR: "executive-sponsor",
    Seat.OPERATIONAL_OWNER: "operational-owner",
}


def seat_inputs(prefix: str, people: dict[int, Person], current: dict | None = None) -> dict:
    """A selectbox per seat: active people, plus whoever holds it now."""
    active_ids = [p.id for p in people.values() if p.active]
    values = {}
    cols = st.columns(2)
    for i, seat in enumerate(Seat):
        held = (current or {}).get(seat.value)
        options = [None] + active_ids + ([held] if held and held not in active_ids else [])
        values[seat.value] = cols[i % 2].selectbox(
            seat.label,
            options,
            index=options.index(held) if held in options else 0,
            format_func=lambda pid: ui.person_label(people, pid),
            key=f"{prefix}-{SEAT_KEYS[seat]}",
        )
    return values
