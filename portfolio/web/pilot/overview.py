"""The pilot page's Overview tab: seats, flags, what came from the imported
spreadsheet, the three handover questions and, when the pilot looks stuck,
its likely bottleneck; then what may be done to the pilot itself: start its
clock, edit it and its seats, archive or restore it."""

from __future__ import annotations

from datetime import date

import streamlit as st

from portfolio import flags
from portfolio.domain import rights
from portfolio.domain.errors import EditConflict
from portfolio.domain.models import Person, Pilot
from portfolio.domain.rights import Right
from portfolio.domain.text import md
from portfolio.domain.units import KEPT_ON
from portfolio.domain.vocabulary import Seat, Stage
from portfolio.services import pilots, production, units
from portfolio.storage import store
from portfolio.web import forms, ui
from portfolio.web.pilot.seats import SEAT_KEYS, seat_ids, seat_inputs


def show(pilot: Pilot, people: dict[int, Person]) -> None:
    conn, as_of, settings = ui.conn(), ui.as_of(), ui.settings()
    st.subheader("Seats")
    cols = st.columns(4)
    for col, seat in zip(cols, Seat):
        holder = getattr(pilot, seat.value)
        col.markdown(f"**{seat.label}**  \n{md(ui.person_label(people, holder))}")

    st.subheader("Flags")
    mine = flags.pilot_flags(conn, pilot.id, as_of, settings)
    if mine.empty:
        st.success("No flags.", icon=":material/check:")
    for flag in mine.itertuples():
        # In words: the codes are for machines (the JSON of the command line and the digest).
        text = f"**{flags.label(flag.code)}** ({flag.severity}): {md(flag.reason)}"
        if flag.severity == "critical":
            st.error(text)
        elif flag.severity in ("high", "medium"):
            st.warning(text)
        else:
            st.info(text)

    extra = store.pilot_attributes(conn, pilot.id)
    ext = store.external_id(conn, pilot.id)
    if extra or ext:
        with st.expander("From the imported spreadsheet" + (f" (id {md(ext)})" if ext else ""),
                         icon=":material/table_view:"):
            for name, value in extra.items():
                st.markdown(f"**{md(name)}**: {md(value)}")

    st.subheader("The three handover questions")
    for answer in production.handover_answers(conn, pilot, as_of):
        mark = ":green[answered]" if answer.answered else ":red[open]"
        st.markdown(f"- **{md(answer.question)}** {mark}: {md(answer.detail)}")
    if production.looks_stuck(mine["code"]):
        stuck = production.likely_bottleneck(conn, pilot, as_of)
        if stuck:
            reason, evidence = stuck
            st.subheader("Why is it stuck?")
            st.markdown(f"Likely bottleneck: **{md(reason)}**")
            for line in evidence[:8]:
                st.markdown(f"- {md(line)}")

    _start(pilot)
    _edit(pilot, people)
    _archive(pilot)


def _start(pilot: Pilot) -> None:
    conn, actor, as_of, settings = ui.conn(), ui.actor(), ui.as_of(), ui.settings()
    if pilot.stage != Stage.PROPOSED or not rights.may(actor, Right.START_PILOT):
        return
    st.subheader("Start the pilot")
    with forms.form(f"start-{pilot.id}"):
        # Not after today: only a proposed pilot may start later, and this starts it.
        start = st.date_input("Start date (day 1)", value=min(as_of, date.today()), max_value=date.today(),
                              key=f"start-date-{pilot.id}")
        if forms.submit("Start the 90-day clock", key=f"start-go-{pilot.id}"):
            forms.save(lambda: pilots.start_pilot(conn, actor, pilot.id, start, settings, today=date.today()),
                       f"'{pilot.name}' is now a pilot; its clock started on {start}.")


def _edit(pilot: Pilot, people: dict[int, Person]) -> None:
    conn, actor, settings = ui.conn(), ui.actor(), ui.settings()
    if not rights.may(actor, Right.EDIT_PILOT, pilot):
        st.caption(f"You ({actor.role.label}) can read this pilot; its product owner, technical lead, "
                   "leadership and admins can edit it.")
        return
    version_key = f"edit-version-{pilot.id}"
    typed = forms.drafted("edit-", suffix=f"-{pilot.id}")
    if f"edit-name-{pilot.id}" not in st.session_state and not typed:
        # The form's fields are created afresh from the pilot as it is now:
        # this is the version the user starts from. Typing kept from another
        # tab (only the open tab is drawn) keeps the version it was typed on,
        # so a change someone made meanwhile is still caught.
        st.session_state[version_key] = pilot.version
    with st.expander("Edit the pilot and its seats", icon=":material/edit:", expanded=typed):
        with forms.form(f"edit-{pilot.id}"):
            name = st.text_input("Name", value=pilot.name, key=f"edit-name-{pilot.id}")
            offered = units.offered(conn)
            choices = unit_choices(offered, pilot.business_unit)
            unit = st.selectbox("Business unit", choices, index=choices.index(pilot.business_unit),
                                format_func=lambda u: unit_label(u, offered), key=f"edit-unit-{pilot.id}",
                                help=f"The organisation's units; an admin keeps them on the {KEPT_ON}.")
            problem = st.text_area("Problem it solves", value=pilot.problem, key=f"edit-problem-{pilot.id}")
            start = st.date_input(
                "Start date", value=pilot.start_date, key=f"edit-start-{pilot.id}",
                help="Setting it starts the clock; the go/no-go date then moves only by an extend decision.",
            )
            volume = st.number_input(
                "Expected monthly volume (transactions)", value=pilot.expected_monthly_volume, min_value=0.0,
                format="%g", key=f"edit-volume-{pilot.id}",
                help="With a cost-per-transaction KPI, gives the monthly running cost at production volume.",
            )
            v1, v2 = st.columns([2, 1])
            value = v1.number_input(
                "Expected monthly value", value=pilot.expected_monthly_value, min_value=0.0, format="%g",
                key=f"edit-value-{pilot.id}",
                help="What the pilot is expected to bring a month in production; weighed against the running cost.",
            )
            value_unit = v2.text_input(
                "Value unit", value=pilot.expected_value_unit, key=f"edit-value-unit-{pilot.id}",
                placeholder="EUR, USD, … or hours", help="A currency code (EUR) for money, or hours for hours saved.",
            )
            seats = seat_inputs(f"edit-{pilot.id}", people, pilot.model_dump())
            if forms.submit("Save changes", key=f"edit-save-{pilot.id}", type="primary"):

                def refused(exc) -> None:
                    if isinstance(exc, EditConflict):
                        # Saving again applies what was typed over the other change, knowingly.
                        st.session_state[version_key] = pilot.version

                def saved(result) -> None:
                    st.session_state[version_key] = result.version

                forms.save(
                    lambda: pilots.edit_pilot(
                        conn, actor, pilot.id,
                        {"name": name, "business_unit": unit, "problem": problem, "start_date": start,
                         "expected_monthly_volume": volume, "expected_monthly_value": value,
                         "expected_value_unit": value_unit, **seat_ids(seats)},
                        settings, today=date.today(), expected_version=st.session_state[version_key]),
                    lambda result: f"Saved '{result.name}'.", refused=refused, then=saved)
        if st.button("Reload the pilot as it is now", key=f"edit-reload-{pilot.id}"):
            # The fields are set to the pilot as it is now on the next run (a
            # removed key would leave the browser showing, and sending, what
            # was typed), and the next save starts from its current version.
            forms.set_on_next_run({
                f"edit-name-{pilot.id}": pilot.name, f"edit-unit-{pilot.id}": pilot.business_unit,
                f"edit-problem-{pilot.id}": pilot.problem, f"edit-start-{pilot.id}": pilot.start_date,
                f"edit-volume-{pilot.id}": pilot.expected_monthly_volume,
                f"edit-value-{pilot.id}": pilot.expected_monthly_value,
                f"edit-value-unit-{pilot.id}": pilot.expected_value_unit,
                **{f"edit-{pilot.id}-{SEAT_KEYS[seat]}": getattr(pilot, seat.value) for seat in Seat}})
            st.session_state[version_key] = pilot.version
            st.rerun()


def unit_choices(offered: list[str], current: str = "") -> list[str]:
    """The units a pilot's form offers: none, the kept ones, and the one the
    pilot has even when it is no longer offered."""
    return ["", *offered, *([current] if current and current not in offered else [])]


def unit_label(unit: str, offered: list[str]) -> str:
    if not unit:
        return "No business unit"
    return unit if unit in offered else f"{unit} (no longer offered)"


def _archive(pilot: Pilot) -> None:
    conn, actor = ui.conn(), ui.actor()
    if not rights.may(actor, Right.ARCHIVE):
        return
    verb = "Restore" if pilot.archived else "Archive"
    with st.expander(f"{verb} the pilot", icon=":material/inventory_2:"):
        st.caption("Archived pilots leave the portfolio's numbers and flags; nothing of theirs is deleted, "
                   "and restoring brings them back as they were.")
        # Each way has its own key: a second click cannot undo the first.
        if st.button(f"{verb} '{md(pilot.name)}'", key=f"{verb.lower()}-go-{pilot.id}"):
            forms.save(lambda: pilots.archive_pilot(conn, actor, pilot.id, archived=not pilot.archived),
                       f"{'Restored' if pilot.archived else 'Archived'} '{pilot.name}'.")
