"""The pilot page's Criteria and decisions tab: the go/no-go criteria and
their form, the decisions with the criteria as they stood, the correction
of the latest decision, and the bridge checklist of a pilot in bridge."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from portfolio.domain import decisions as standing
from portfolio.domain import rights
from portfolio.domain.models import Pilot
from portfolio.domain.rights import Right
from portfolio.domain.text import EMPTY_CELL, md, md_lines, plural
from portfolio.domain.vocabulary import (
    BRIDGE_ITEMS,
    CriterionStatus,
    DecisionKind,
    Stage,
)
from portfolio.services import decisions, followthrough
from portfolio.storage import store
from portfolio.web import forms, ui
from portfolio.web.followthrough import stop_inputs

STATUS_MARK = {"met": ":green[met]", "not_met": ":red[not met]", "unknown": ":gray[unknown]"}


def show(pilot: Pilot) -> None:
    _criteria(pilot)
    _decisions(pilot)
    if pilot.stage == Stage.BRIDGE:
        _bridge(pilot)


def _criteria(pilot: Pilot) -> None:
    conn, actor, as_of, settings = ui.conn(), ui.actor(), ui.as_of(), ui.settings()
    st.subheader("Go/no-go criteria")
    criteria = store.list_criteria(conn, pilot.id, as_of)
    verdict, why = decisions.suggested_verdict(criteria)
    locked = decisions.criteria_locked(pilot, date.today(), settings)
    if criteria:
        for c in criteria:
            st.markdown(f"- {md(c.statement)}: **{STATUS_MARK[c.status.value]}**"
                        + (f" · {md(c.evidence)}" if c.evidence else ""))
    else:
        st.caption("No criteria yet: write them by day 14, in production terms.")
    if pilot.stage == Stage.PILOT:
        st.caption(f"Suggested verdict: **{md(verdict)}** ({md(why)}).")
    if locked and pilot.stage in decisions.CRITERIA_STAGES:
        st.caption(f"Kickoff has ended (day {settings.criteria_lock_day} on): writing, rewording or removing a "
                   "criterion is leadership's and flags the pilot \"Criteria changed\"; marking them met or not "
                   "met is not.")
    changes = store.criteria_changes(conn, pilot.id)
    if not changes.empty:
        with st.expander(f"Criteria changes ({len(changes)})"):
            st.dataframe(changes, hide_index=True, width="stretch", key=f"criteria-changes-{pilot.id}", placeholder=EMPTY_CELL,
                         column_config={"changed_on": "On", "action": "Change", "before": "Before",
                                        "after": "After", "changed_by": "By",
                                        "after_kickoff": st.column_config.CheckboxColumn("After kickoff")})
    if not (rights.may(actor, Right.EDIT_PILOT, pilot) and pilot.stage in decisions.CRITERIA_STAGES):
        return
    typed = forms.drafted(keys=[f"crit-{part}-{c.id}" for c in criteria
                                for part in ("statement", "evidence", "status", "remove")]
                          + [f"crit-new-{pilot.id}"])
    with st.expander("Edit the criteria", icon=":material/checklist:", expanded=typed):
        with forms.form(f"criteria-{pilot.id}"):
            edits = []
            for c in criteria:
                version, then = forms.opened(
                    forms.record_name("criterion", c.id), c.version,
                    {"statement": c.statement, "status": c.status.value, "evidence": c.evidence, "remove": False},
                    {"statement": f"crit-statement-{c.id}", "status": f"crit-status-{c.id}",
                     "evidence": f"crit-evidence-{c.id}", "remove": f"crit-remove-{c.id}"})
                a, b, d = st.columns([3, 1, 2])
                statement = a.text_input("Criterion", value=c.statement, key=f"crit-statement-{c.id}")
                tied = c.kpi_id is not None  # its status follows the KPI's latest reading
                status = b.selectbox("Status", [s.value for s in CriterionStatus],
                                     index=[s.value for s in CriterionStatus].index(c.status.value),
                                     format_func=lambda v: CriterionStatus(v).label, key=f"crit-status-{c.id}",
                                     disabled=tied, help="Follows its KPI's latest reading." if tied else None)
                evidence = d.text_input("Evidence", value=c.evidence, key=f"crit-evidence-{c.id}", disabled=tied)
                remove = st.checkbox("Remove this criterion", key=f"crit-remove-{c.id}")
                typed = {"statement": statement, "status": status, "evidence": evidence, "remove": remove}
                if typed != then:  # only what this person changed is sent
                    edits.append({"id": c.id, **typed, "version": version})
            new_statement = st.text_input("New criterion", key=f"crit-new-{pilot.id}",
                                          placeholder="e.g. p95 latency under 800 ms on live traffic")
            if forms.submit("Save criteria", key=f"crit-save-{pilot.id}", type="primary"):
                forms.save(
                    lambda: decisions.save_criteria(
                        conn, actor, pilot.id, edits=edits,
                        additions=[{"statement": new_statement}] if new_statement.strip() else [],
                        on=date.today(), settings=settings),
                    lambda counts: ("Criteria saved: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n) + "."
                                    if any(counts.values()) else "Nothing to save."),
                    records=[forms.record_name("criterion", c.id) for c in criteria],
                    clear={f"crit-new-{pilot.id}": ""})


def _decisions(pilot: Pilot) -> None:
    conn, actor, settings = ui.conn(), ui.actor(), ui.settings()
    history = store.list_decisions(conn, pilot.id)
    events = store.stage_events(conn, pilot.id)
    why_stopped = followthrough.stop_reasons(conn, pilot.id)
    if history or not events.empty:
        st.subheader("Decisions")
    for d in history:
        struck = " · :gray[superseded]" if d.superseded_by else ""
        correction = f" · corrects decision {d.supersedes_id}" if d.supersedes_id else ""
        moved = (f" · go/no-go date {d.go_no_go_before} → {d.go_no_go_after}"
                 if d.kind.value == "extend" else f" · {d.stage_before.value} → {d.stage_after.value}")
        st.markdown(f"**{d.kind.label.upper()}** on {d.decided_on} by {md(d.decided_by_name)}{moved}{correction}{struck}  \n"
                    f"{md_lines(d.rationale)}" + (f"  \n*Override:* {md(d.override_reason)}" if d.override_reason else ""))
        _why_stopped(why_stopped.get(("decision", d.id)))
        with st.expander(f"Criteria as they stood at decision {d.id}"):
            if d.criteria_snapshot:
                st.dataframe(_snapshot_in_words(d.criteria_snapshot), hide_index=True, width="stretch",
                             key=f"snapshot-{d.id}", placeholder=EMPTY_CELL)
            else:
                st.caption("There were no criteria.")
    if not events.empty:
        st.dataframe(
            events, hide_index=True, width="stretch", key=f"stage-events-{pilot.id}", placeholder=EMPTY_CELL,
            column_config={"happened_on": "On", "action": "Action", "stage_before": "From",
                           "stage_after": "To", "actor": "By", "override_reason": "Override reason",
                           "note": "Note"})
        for key, why in why_stopped.items():
            if key[0] == "stage_event":
                _why_stopped(why, "Why it was retired")
    latest = standing.correctable(pilot, history)
    if latest is not None and rights.may(actor, Right.DECIDE) and actor.person_id is not None:
        # Keyed by the decision it corrects: once the correction is recorded
        # the form is a new one, so a second click cannot correct it again.
        tag = f"{pilot.id}-{latest.id}"
        with st.expander(f"Correct the latest decision ({latest.kind.label} on {latest.decided_on})",
                         icon=":material/undo:", expanded=forms.drafted("correct-", suffix=f"-{tag}")):
            with forms.form(f"correct-{tag}"):
                kind = st.radio("Corrected decision", [k.value for k in DecisionKind], index=None, horizontal=True,
                                format_func=lambda k: DecisionKind(k).label, key=f"correct-kind-{tag}")
                why_text = st.text_area("Why the correction, and its rationale (required)", key=f"correct-why-{tag}")
                new_date = st.date_input("New go/no-go date (extend only)", value=None, key=f"correct-date-{tag}")
                override = st.text_input("Override reason (an extension at the limit, or a go without the handover "
                                         "accepted)", key=f"correct-override-{tag}")
                stop_reason, lessons = stop_inputs(f"correct-{tag}") if kind == "no_go" else (None, "")
                if forms.submit("Record the correction", key=f"correct-go-{tag}"):
                    forms.save(lambda: decisions.record_decision(conn, actor, {
                                   "pilot_id": pilot.id, "kind": kind, "decided_on": date.today(),
                                   "decided_by": actor.person_id, "rationale": why_text,
                                   "new_go_no_go_date": new_date if kind == "extend" else None,
                                   "override_reason": override, "supersedes_id": latest.id,
                                   "stop_reason": stop_reason, "lessons": lessons,
                               }, settings, today=date.today()),
                               f"Recorded the correction of decision {latest.id}.")
    if pilot.stage == Stage.PILOT and rights.may(actor, Right.DECIDE):
        st.page_link("pages/decisions.py", label="Record the go/no-go decision", icon=":material/gavel:",
                     query_params={"id": pilot.id})


def _why_stopped(why: tuple[str, str] | None, heading: str = "Why it stopped") -> None:
    """A no-go's or a retirement's reason and lessons, as text."""
    if why is None:
        return
    reason, lessons = why
    st.markdown(f"*{heading}:* {md(reason)}" + (f"  \n*Lessons learned:* {md_lines(lessons)}" if lessons else ""))


def _snapshot_in_words(snapshot: list[dict]) -> pd.DataFrame:
    """The criteria as they stood at a decision, under headers in words."""
    return pd.DataFrame([
        {"Criterion": c.get("statement", ""), "Status": CriterionStatus(c["status"]).label if c.get("status") in
         {s.value for s in CriterionStatus} else c.get("status", ""), "Evidence": c.get("evidence") or ""}
        for c in snapshot
    ])


def _bridge(pilot: Pilot) -> None:
    conn, actor, as_of = ui.conn(), ui.actor(), ui.as_of()
    st.subheader("Bridge to production")
    due = pilot.bridge_due_date
    st.caption(f"Due {due}" + (f": {plural((as_of - due).days, 'day')} late" if due and as_of > due else "")
               + ". Promotion needs an operational owner and every item below.")
    checklist = store.bridge_checklist(conn, pilot.id)
    if not rights.may(actor, Right.EDIT_PILOT, pilot):
        for key, label in BRIDGE_ITEMS:
            st.markdown((":green[:material/check_circle:] " if checklist.get(key, {}).get("done")
                         else ":gray[:material/radio_button_unchecked:] ") + label)
        return
    with forms.form(f"bridge-{pilot.id}"):
        items = {}
        for key, label in BRIDGE_ITEMS:
            a, b = st.columns([2, 3])
            done = a.checkbox(label, value=bool(checklist.get(key, {}).get("done")),
                              key=f"bridge-{key}-{pilot.id}")
            note = b.text_input("Note", value=checklist.get(key, {}).get("note", ""),
                                key=f"bridge-note-{key}-{pilot.id}", label_visibility="collapsed")
            items[key] = {"done": done, "note": note}
        if forms.submit("Save checklist", key=f"bridge-save-{pilot.id}"):
            forms.save(lambda: decisions.save_bridge_checklist(conn, actor, pilot.id, items),
                       "Bridge checklist saved.")
