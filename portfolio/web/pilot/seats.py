"""The seat pickers the new-pilot and edit forms share."""

from __future__ import annotations

import streamlit as st

from portfolio.domain.errors import InvalidInput
from portfolio.domain.models import Person
from portfolio.domain.vocabulary import Seat
from portfolio.domain.text import md
from portfolio.web import pickers, ui

# Each seat's part of its widget's key (pilot-product-owner, edit-3-technical-lead).
SEAT_KEYS = {
    Seat.PRODUCT_OWNER: "product-owner",
    Seat.TECHNICAL_LEAD: "technical-lead",
    Seat.EXECUTIVE_SPONSOR: "executive-sponsor",
    Seat.OPERATIONAL_OWNER: "operational-owner",
}


def seat_inputs(prefix: str, people: dict[int, Person], current: dict | None = None) -> dict:
    """A selectbox per seat: active people, plus whoever holds it now. An
    organisation of more than pickers.PICKER_CAP active people lists the
    first of them and takes anyone else by their email or full name typed
    into the picker (a search box cannot narrow a list inside a form)."""
    active_ids = [p.id for p in people.values() if p.active]
    many = len(active_ids) > pickers.PICKER_CAP
    values = {}
    cols = st.columns(2)
    for i, seat in enumerate(Seat):
        held = (current or {}).get(seat.value)
        listed = active_ids[:pickers.PICKER_CAP] if many else active_ids
        options = [None] + ([held] if held and (many or held not in active_ids) else []) + \
            [a for a in listed if not (many and a == held)]
        key = f"{prefix}-{SEAT_KEYS[seat]}"
        chosen = cols[i % 2].selectbox(
            seat.label,
            options,
            index=options.index(held) if held in options else 0,
            format_func=lambda pid: pid if isinstance(pid, str) else ui.person_label(people, pid),
            key=key,
            accept_new_options=many,
            help=(f"The first {pickers.PICKER_CAP} of {len(active_ids):,} active people are listed: type "
                  "someone else's email or full name.") if many else None,
        )
        values[seat.value] = _person_typed(chosen, people, seat, cols[i % 2]) if isinstance(chosen, str) else chosen
    return values


def people_typed(typed: str, people: dict[int, Person]) -> list[int]:
    """The active people whose email or full name is ``typed``, in any case."""
    wanted = typed.strip().casefold()
    return [p.id for p in people.values() if p.active and wanted in (p.email.casefold(), p.name.casefold())]


def _person_typed(typed: str, people: dict[int, Person], seat: Seat, where) -> int | str:
    """The one active person ``typed`` names (people_typed); else what was
    typed, which the save refuses, naming the seat."""
    found = people_typed(typed, people)
    if len(found) == 1:
        return found[0]
    where.error(f"{seat.label}: " + ("more than one active person is called" if found else
                                     "no active person has the email or name") + f" “{md(typed)}”.")
    return typed


def seat_ids(values: dict) -> dict:
    """``values`` (seat_inputs') to save: refused, naming the seat, when a
    seat holds typed text that names no one active."""
    for seat in Seat:
        typed = values.get(seat.value)
        if isinstance(typed, str):
            raise InvalidInput(f"{seat.label}: no one active has the email or full name “{typed}”; type an "
                               "active person's email, or pick from the list", field=seat.value)
    return values
