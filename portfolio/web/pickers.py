"""Pickers and tables that send the browser a bounded amount however large
the portfolio grows: a picker over more entries than PICKER_CAP becomes a
search that offers the first matches, and a long table shows one page of
rows with its count and a way to the rest. A short list keeps the plain
picker and the whole table, as the pages always had them. Tabs draw only
the open one (``open_tab_only``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable

import pandas as pd
import streamlit as st

from portfolio.domain.text import md

# The most entries a picker sends to the browser; beyond it, typing part of
# a name narrows them (a person scrolls through a few dozen, not thousands).
PICKER_CAP = 50
# The rows of a long table on one page: a screen or two, worst first.
PAGE_ROWS = 50


def matching(options: dict, query: str) -> list:
    """The keys of ``options`` whose label holds every word of ``query``,
    in any case, in the order of ``options``."""
    words = query.casefold().split()
    if not words:
        return list(options)
    return [k for k, label in options.items() if all(w in str(label).casefold() for w in words)]


def search_input(label: str, *, key: str, where=st, help: str | None = None) -> str:
    """The box that narrows a long list by name."""
    return where.text_input(label, key=key, placeholder="Type part of a name", help=help).strip()


def search_select(
    label: str,
    options: dict,
    *,
    key: str,
    current: Hashable | None = None,
    none: bool = False,
    keep: Iterable = (),
    query: str | None = None,
    also: dict | None = None,
    search_label: str | None = None,
    search_key: str | None = None,
    where=st,
    cap: int = PICKER_CAP,
    made_distinct: bool = False,
    **selectbox_args,
):
    """``st.selectbox`` over ``options`` ({value: label}, in the order to
    offer them), keyed ``key``, with ``current`` chosen (else the first, or
    nothing when ``none``). Up to ``cap`` options it is the plain picker.
    Beyond, a search box (``search_key``, else ``{key}-search``; or
    ``query``, a search the page already shows) narrows them to the first
    ``cap`` matches, and a caption says how many more match. ``current``, ``keep`` and the picker's own
    pick stay offered whatever the search, so narrowing never changes what
    was chosen: the person picks a match. ``also``: {value: text} the
    search matches besides the label (a person's email)."""
    if not made_distinct:
        options = distinct(options)
    searching = len(options) > cap
    if searching:
        if query is None:
            query = search_input(search_label or f"Find: {label}", key=search_key or f"{key}-search", where=where)
        found = matching({v: f"{text} {also.get(v, '')}" for v, text in options.items()} if also and query
                         else options, query)
        held = [v for v in (current, st.session_state.get(key)) if v is not None and v in options]
        held += [v for v in keep if v in options]
        shown = list(dict.fromkeys([*held, *found[:cap]]))
    else:
        found = shown = list(options)
    if current in shown:
        index = shown.index(current)
    else:
        index = None if none or not shown else 0
    chosen = where.selectbox(label, shown, index=index, format_func=lambda v: options.get(v, str(v)), key=key,
                             **selectbox_args)
    if searching:
        where.caption(_narrowing(len(options), len(found), cap, query))
    return chosen


def distinct(options: dict) -> dict:
    """``options`` with each label that more than one entry shares given
    its value (" · #12"): a picker returns the entry whose label was
    chosen, and two pilots may bear one name."""
    seen: dict[str, int] = {}
    for label in options.values():
        seen[str(label)] = seen.get(str(label), 0) + 1
    if all(n == 1 for n in seen.values()):
        return options
    return {v: f"{label} · #{v}" if seen[str(label)] > 1 else label for v, label in options.items()}


def fresh_selection(key: str, shown_for) -> None:
    """A table's selected row is a position on the page it shows: once the
    page or the search changes (``shown_for``), that position holds another
    pilot, so the selection starts empty rather than pick it."""
    marker = f"{key}-selection-for"
    if marker in st.session_state and st.session_state[marker] != shown_for:
        st.session_state[key] = {"selection": {"rows": [], "columns": [], "cells": []}}
    st.session_state[marker] = shown_for


def search_multiselect(label: str, options: list, *, key: str, where=st, cap: int = PICKER_CAP,
                       **multiselect_args) -> list:
    """``st.multiselect`` over ``options``; beyond ``cap`` of them, a search
    box (``{key}-search``) offers the first ``cap`` matches beside those
    already chosen, which stay chosen whatever the search."""
    if len(options) <= cap:
        return where.multiselect(label, options, key=key, **multiselect_args)
    query = search_input(f"Find: {label}", key=f"{key}-search", where=where)
    known = set(options)
    chosen = [v for v in st.session_state.get(key) or [] if v in known]
    found = matching({v: v for v in options}, query)
    offered = list(dict.fromkeys([*chosen, *found[:cap]]))
    picked = where.multiselect(label, offered, key=key, **multiselect_args)
    if len(found) > cap:
        where.caption(f"{len(found):,} match; the first {cap} are listed: type more to narrow.")
    return picked


def _narrowing(total: int, found: int, cap: int, query: str) -> str:
    if not query:
        return f"{total:,} to choose from; the first {cap} are listed: type part of a name to find the others."
    if not found:
        return f"Nothing matches “{md(query)}”."
    if found > cap:
        return f"{found:,} match; the first {cap} are listed ({found - cap:,} more match): type more to narrow."
    return f"{found:,} match."


def page_of(frame: pd.DataFrame, key: str, *, where=st, rows: int = PAGE_ROWS, noun: str = "row",
            reset_on: Hashable = None) -> pd.DataFrame:
    """The rows of ``frame`` on the page chosen under it (``{key}-page``),
    with "rows 1–50 of 7,000" and previous / next; the whole frame when it
    fits on one page. ``reset_on``: what, when it changes (a filter, a
    search), starts again at page 1."""
    total = len(frame)
    if total <= rows:
        return frame
    pages = math.ceil(total / rows)
    page_key, seen_key = f"{key}-page", f"{key}-page-for"
    if st.session_state.get(seen_key) != (reset_on, total):
        st.session_state[seen_key] = (reset_on, total)
        st.session_state[page_key] = 1
    held = st.session_state.get(page_key) or 1
    page = min(max(int(held), 1), pages)
    if page != held:  # fewer pages than when it was chosen
        st.session_state[page_key] = page
    first = (page - 1) * rows
    back, number, ahead, told = where.columns([1, 1, 1, 4], vertical_alignment="bottom")
    back.button("Previous", key=f"{key}-previous", on_click=_turn(page_key, -1, pages), disabled=page == 1,
                icon=":material/chevron_left:", width="stretch")
    number.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, step=1, key=page_key)
    ahead.button("Next", key=f"{key}-next", on_click=_turn(page_key, 1, pages), disabled=page == pages,
                 icon=":material/chevron_right:", width="stretch")
    told.caption(f"{noun.capitalize()}s {first + 1:,}–{min(first + rows, total):,} of {total:,}.")
    return frame.iloc[first:first + rows]


def _turn(page_key: str, step: int, pages: int) -> Callable[[], None]:
    """A callback that turns the page (session state only: callbacks run
    before the page's run has its database connection)."""

    def turn() -> None:
        st.session_state[page_key] = min(max(int(st.session_state.get(page_key) or 1) + step, 1), pages)

    return turn


def open_tab_only(key: str, shows: dict[str, Callable[[], None]]) -> None:
    """Tabs labelled by ``shows``' keys, of which only the open one is drawn
    (by its function): the browser gets one tab, not all. The open tab is in
    the address (``?key=label``; the first tab is the address without one),
    so a link can open one."""
    labels = list(shows)
    for tab, label in zip(st.tabs(labels, key=key, bind="query-params"), labels):
        if tab.open:
            with tab:
                shows[label]()
