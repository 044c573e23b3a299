"""The pilot page's Handover and check-ins tab: the operational owner's
acceptance of the handover before go (and the executive sponsor's, where a
setting asks), and after promotion the 30-, 60- and 90-day check-ins. The
person in the seat records them, or an admin for them."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from portfolio.domain import handover as rules
from portfolio.domain import rights
from portfolio.domain.models import Pilot
from portfolio.domain.rights import Right
from portfolio.domain.text import EMPTY_CELL, md
from portfolio.domain.vocabulary import Acceptance, Role, Seat, Stage
from portfolio.services import handover
from portfolio.web import forms, ui

YES_NO = ["yes", "no"]


def show(pilot: Pilot) -> None:
    _acceptance(pilot)
    _checkins(pilot)


def _acceptance(pilot: Pilot) -> None:
    conn, actor, as_of, settings = ui.conn(), ui.actor(), ui.as_of(), ui.settings()
    st.subheader("Acceptance of the handover")
    st.caption("The people who will run it accept it before go, not after go-live: a go needs the operational "
               "owner's acceptance" + (" and the executive sponsor's" if settings.acceptance_by_sponsor else "")
               + ", or an override reason on record.")
    status = handover.acceptance_status(conn, pilot, settings, as_of)
    (st.success if status.accepted else st.info)("  \n".join(md(line) for line in status.lines()))
    given = [a for a in handover.acceptances(conn, pilot.id) if a.accepted_on <= as_of]
    if given:
        st.dataframe(
            pd.DataFrame([{
                "Date": a.accepted_on, "Seat": a.seat.label, "Who": a.person_name, "Acceptance": a.verdict.label,
                "Note": a.note, "Entered by": a.recorded_by_name,
            } for a in given]),
            hide_index=True, width="stretch", key=f"acceptances-{pilot.id}", placeholder=EMPTY_CELL,
        )
    if pilot.stage not in handover.ACCEPTING_STAGES or not rights.may(actor, Right.ACCEPT_HANDOVER, pilot):
        return
    seats = [s for s in rules.accepting_seats(settings)
             if actor.role == Role.ADMIN or rules.holder(pilot, s) == actor.person_id]
    if not seats:
        return
    with forms.form(f"acceptance-{pilot.id}"):
        st.markdown("**Record the acceptance**")
        seat = seats[0]
        if len(seats) > 1:
            seat = Seat(st.radio("For the seat", [s.value for s in seats], format_func=lambda v: Seat(v).label,
                                 horizontal=True, key=f"acceptance-seat-{pilot.id}"))
        verdict = st.radio("Acceptance", [a.value for a in Acceptance], index=None, horizontal=True,
                           format_func=lambda v: Acceptance(v).label, key=f"acceptance-verdict-{pilot.id}")
        note = st.text_input("Note (the conditions, or why it is refused)", key=f"acceptance-note-{pilot.id}")
        on = st.date_input("Date", value=min(as_of, date.today()), key=f"acceptance-date-{pilot.id}")
        if forms.submit("Record acceptance", key=f"acceptance-save-{pilot.id}", type="primary"):
            forms.save(
                lambda: handover.record_acceptance(conn, actor, {
                    "pilot_id": pilot.id, "seat": seat, "verdict": verdict, "note": note, "accepted_on": on,
                }, settings, today=date.today()),
                lambda done: f"Recorded the {done.seat.label.lower()}'s word on the handover of '{pilot.name}': "
                             f"{done.verdict.label}.",
                clear={f"acceptance-verdict-{pilot.id}": None, f"acceptance-note-{pilot.id}": ""})


def _checkins(pilot: Pilot) -> None:
    conn, actor, as_of, settings = ui.conn(), ui.actor(), ui.as_of(), ui.settings()
    st.subheader("Check-ins after go")
    days = ", ".join(str(d) for d in settings.checkin_days)
    if pilot.stage not in (Stage.PRODUCTION, Stage.RETIRED):
        st.caption(f"Once in production, the operational owner checks in {days} days after the promotion: is "
                   "it used, do its production KPIs hold, is its cost what was expected.")
        return
    watch = handover.watch(conn, pilot, settings, as_of)
    if watch.promoted_on is None:
        st.caption("No promotion is recorded in the tracker (the pilot came in already in production), so no "
                   "check-ins are counted for it.")
        return
    done = {c.due_day: c for c in watch.recorded}
    st.dataframe(
        pd.DataFrame([{
            "Check-in": f"day {c.day}", "Due on": c.due_on,
            "Done on": done[c.day].checked_on if c.day in done else None,
            "In use": _yes(done, c.day, "used"), "Production KPIs hold": _yes(done, c.day, "kpis_hold"),
            "Cost as expected": _yes(done, c.day, "cost_as_expected"),
            "Note": done[c.day].note if c.day in done else ("missed" if c.overdue else None),
        } for c in watch.checkins]),
        hide_index=True, width="stretch", key=f"checkins-{pilot.id}", placeholder=EMPTY_CELL,
    )
    nxt = watch.next
    if nxt is None:
        st.success(f"Promoted on {rules.day_words(watch.promoted_on)}; all {len(watch.checkins)} check-ins done: "
                   "the watch is over.")
        return
    missed = [c for c in watch.checkins if c.overdue]
    if missed:
        st.warning("Missed: " + "; ".join(f"{c.words} was due on {rules.day_words(c.due_on)}" for c in missed))
    else:
        st.info(f"Promoted on {rules.day_words(watch.promoted_on)}; next: {nxt.words}, due on "
                f"{rules.day_words(nxt.due_on)}.")
    if pilot.stage != Stage.PRODUCTION or not rights.may(actor, Right.RECORD_CHECKIN, pilot):
        return
    with forms.form(f"checkin-{pilot.id}"):
        st.markdown(f"**Record {md(nxt.words)}**")
        on = st.date_input("Check-in date", value=min(as_of, date.today()), key=f"checkin-date-{pilot.id}")
        c1, c2, c3 = st.columns(3)
        used = c1.radio("Is it used?", YES_NO, index=None, horizontal=True, key=f"checkin-used-{pilot.id}")
        kpis = c2.radio("Do its production KPIs hold?", YES_NO, index=None, horizontal=True,
                        key=f"checkin-kpis-{pilot.id}")
        cost = c3.radio("Is its cost what was expected?", YES_NO, index=None, horizontal=True,
                        key=f"checkin-cost-{pilot.id}")
        note = st.text_input("Note", key=f"checkin-note-{pilot.id}")
        if forms.submit("Record check-in", key=f"checkin-save-{pilot.id}", type="primary"):
            forms.save(
                lambda: handover.record_checkin(conn, actor, {
                    "pilot_id": pilot.id, "checked_on": on, "used": used, "kpis_hold": kpis,
                    "cost_as_expected": cost, "note": note}, settings, today=date.today()),
                lambda saved: f"Recorded the day-{saved.due_day} check-in of '{pilot.name}'.",
                clear={f"checkin-used-{pilot.id}": None, f"checkin-kpis-{pilot.id}": None,
                       f"checkin-cost-{pilot.id}": None, f"checkin-note-{pilot.id}": ""})


def _yes(done: dict, day: int, field: str) -> str | None:
    if day not in done:
        return None
    return "yes" if getattr(done[day], field) else "no"
