"""The pilot page's Production readiness tab: the borrowed privileges (and
which run out before the decision, and their revocations), the KPIs with
their readings, and the readiness checklist of the pilot. Editing needs the
right to edit the pilot and a pilot still in play; recording a revocation
needs the right to revoke (the pilot's product owner or technical lead, or
an admin), in any stage, a stopped or retired pilot above all."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from portfolio.domain import privileges as borrowed
from portfolio.domain import rights
from portfolio.domain import value as value_words
from portfolio.domain.models import Pilot
from portfolio.domain.rights import Right
from portfolio.domain.text import EMPTY_CELL, md, plural
from portfolio.domain.vocabulary import (
    READINESS_DIMENSIONS,
    Direction,
    Disposition,
    KpiCategory,
    PrivilegeKind,
    ReadinessStatus,
)
from portfolio.services import followthrough, production
from portfolio.storage import store
from portfolio.web import charts, forms, ui

STATUS_MARK = {"done": ":green[:material/check_circle:]", "in_progress": ":orange[:material/pending:]",
               "not_started": ":gray[:material/radio_button_unchecked:]",
               "not_applicable": ":gray[:material/remove_circle_outline:]"}


def show(pilot: Pilot) -> None:
    editable = rights.may(ui.actor(), Right.EDIT_PILOT, pilot) and pilot.stage.in_play
    _privileges(pilot, editable)
    _kpis(pilot, editable)
    _readiness(pilot, editable)


def _privileges(pilot: Pilot, editable: bool) -> None:
    conn, actor = ui.conn(), ui.actor()
    st.subheader("Borrowed privileges")
    st.caption("What the pilot has that normal operation will not give; each must become permanent or be "
               "withdrawn (saying what replaces it) before production.")
    privileges = store.list_privileges(conn, pilot.id)
    if privileges:
        st.dataframe(
            pd.DataFrame([{
                "Kind": p.kind.label, "What": p.description, "Granted by": p.granted_by, "Since": p.since,
                "Expires": p.expires,
                "Expires before go/no-go": borrowed.expires_before_decision(p, pilot.go_no_go_date),
                "Disposition": p.disposition.label, "Decided by": p.decided_by_name, "Note": p.note,
                "Revoked on": p.revoked_on, "Revoked by": p.revoked_by_name,
                "Evidence of revocation": p.revocation_evidence,
            } for p in privileges]),
            hide_index=True, width="stretch", key=f"privileges-{pilot.id}", placeholder=EMPTY_CELL,
        )
        for p in borrowed.expiring(privileges, pilot.go_no_go_date):
            st.warning(f"'{md(p.description)}' expires on {p.expires}, before the go/no-go date {pilot.go_no_go_date}.")
    else:
        st.caption("No borrowed privileges recorded.")
    _revocation(pilot, privileges)
    if not editable:
        return
    c1, c2 = st.columns(2)
    with c1.expander("Record a borrowed privilege", icon=":material/add:", expanded=forms.drafted(
            "privilege-kind-", "privilege-what-", "privilege-granted-", "privilege-since-", "privilege-expires-",
            suffix=f"-{pilot.id}")):
        with forms.form(f"privilege-add-{pilot.id}"):
            kind = st.selectbox("Kind", [k.value for k in PrivilegeKind], format_func=lambda v: PrivilegeKind(v).label,
                                key=f"privilege-kind-{pilot.id}")
            what = st.text_input("What it is", key=f"privilege-what-{pilot.id}")
            granted = st.text_input("Granted by", key=f"privilege-granted-{pilot.id}")
            since = st.date_input("Since", value=None, key=f"privilege-since-{pilot.id}")
            expires = st.date_input("Expires (if it does)", value=None, key=f"privilege-expires-{pilot.id}")
            if forms.submit("Add privilege", key=f"privilege-save-{pilot.id}"):
                forms.save(lambda: production.add_privilege(conn, actor, pilot.id, {
                               "kind": kind, "description": what, "granted_by": granted, "since": since,
                               "expires": expires}),
                           f"Recorded the borrowed privilege '{what.strip()}'.",
                           clear={f"privilege-what-{pilot.id}": "", f"privilege-granted-{pilot.id}": "",
                                  f"privilege-since-{pilot.id}": None, f"privilege-expires-{pilot.id}": None})
    if not privileges:
        return
    with c2.expander("Decide a privilege", icon=":material/gavel:", expanded=forms.drafted(
            "privilege-pick-", "privilege-disposition-", "privilege-note-", suffix=f"-{pilot.id}")):
        by_pid = {p.id: p for p in privileges}
        opened_at = {p.id: forms.opened_version(forms.record_name("privilege", p.id), p.version) for p in privileges}
        with forms.form(f"privilege-decide-{pilot.id}"):
            chosen = st.selectbox("Privilege", list(by_pid), format_func=lambda i: by_pid[i].description,
                                  key=f"privilege-pick-{pilot.id}")
            disposition = st.radio("Disposition", [d.value for d in Disposition], horizontal=True,
                                   format_func=lambda v: Disposition(v).label, key=f"privilege-disposition-{pilot.id}")
            note = st.text_input("Note (for a withdrawn one: what replaces it)", key=f"privilege-note-{pilot.id}")
            if forms.submit("Save decision", key=f"privilege-decide-save-{pilot.id}"):
                forms.save(lambda: production.decide_privilege(
                               conn, actor, chosen, disposition, note, date.today(),
                               expected_version=opened_at[chosen]),
                           f"'{by_pid[chosen].description}': {Disposition(disposition).label}.",
                           records=[forms.record_name("privilege", chosen)])


def _revocation(pilot: Pilot, privileges) -> None:
    """Giving back what was borrowed (seed 003): a withdrawn privilege, and
    once the pilot is stopped or retired every one not made permanent, is
    revoked, with the day and the evidence."""
    conn, actor, as_of = ui.conn(), ui.actor(), ui.as_of()
    open_ = [p for p in privileges if p.must_be_revoked and p.revoked_on is None]
    if not open_:
        return
    stopped = not pilot.stage.in_play
    if stopped:
        st.warning(f"The pilot is {pilot.stage.value}, and still holds {plural(len(open_), 'borrowed privilege')} "
                   "not made permanent: record each revocation, with its evidence.", icon=":material/key_off:")
    if not rights.may(actor, Right.REVOKE_PRIVILEGE, pilot) or pilot.archived:
        if stopped:
            st.caption("Its product owner or technical lead, or an admin, records the revocations.")
        return
    by_pid = {p.id: p for p in open_}
    opened_at = {p.id: forms.opened_version(forms.record_name("privilege", p.id), p.version) for p in open_}
    with st.expander("Record a revocation", icon=":material/key_off:", expanded=stopped or forms.drafted(
            "privilege-revoke-", "privilege-revoked-on-", suffix=f"-{pilot.id}")):
        with forms.form(f"privilege-revoke-{pilot.id}"):
            chosen = st.selectbox("Privilege", list(by_pid), key=f"privilege-revoke-pick-{pilot.id}",
                                  format_func=lambda i: f"{by_pid[i].description} ({by_pid[i].disposition.label})")
            revoked_on = st.date_input("Revoked on", value=min(as_of, date.today()), max_value=date.today(),
                                       key=f"privilege-revoked-on-{pilot.id}")
            evidence = st.text_input("Evidence (a ticket, the access review, the cancelled licence)",
                                     key=f"privilege-revoke-evidence-{pilot.id}")
            if forms.submit("Record revocation", key=f"privilege-revoke-save-{pilot.id}"):
                forms.save(lambda: followthrough.revoke_privilege(
                               conn, actor, chosen, {"revoked_on": revoked_on, "evidence": evidence},
                               today=date.today(), expected_version=opened_at[chosen]),
                           f"'{by_pid[chosen].description}': revoked on {revoked_on}.",
                           records=[forms.record_name("privilege", chosen)],
                           clear={f"privilege-revoke-evidence-{pilot.id}": ""})


def _business_case(pilot: Pilot) -> None:
    """The running cost at production volume beside the expected value."""
    conn, as_of, settings = ui.conn(), ui.as_of(), ui.settings()
    st.subheader("Cost at production volume and value")
    case = production.business_case(conn, pilot, as_of, settings)
    a, b = st.columns(2)
    a.metric("Monthly running cost at production volume",
             value_words.describe_value(case.cost, case.cost_currency or "(no currency)")
             if case.cost is not None else EMPTY_CELL,
             help="The latest cost-per-transaction reading times the expected monthly volume.")
    b.metric("Expected monthly value", case.value_text() if case.value is not None else EMPTY_CELL,
             help="Stated under Overview → Edit: money in a currency, or hours saved (weighed at "
                  f"{value_words.amount(settings.hour_cost)} {settings.hour_cost_currency} an hour).")
    verdict = md(case.verdict(settings.business_case_cost_share))
    (st.warning if case.weak(settings.business_case_cost_share) or case.value is None else st.caption)(verdict)
    if case.comparable:
        st.plotly_chart(charts.cost_against_value(
            [("Running cost", case.cost), ("Expected value", case.value_money)], case.cost_currency),
            key=f"cost-value-{pilot.id}")


def _kpis(pilot: Pilot, editable: bool) -> None:
    conn, actor, as_of = ui.conn(), ui.actor(), ui.as_of()
    _business_case(pilot)
    st.subheader("KPIs")
    kpis = store.list_kpis(conn, pilot.id, as_of)
    if kpis:
        st.dataframe(
            pd.DataFrame([{
                "KPI": k.name, "Kind": "production" if k.production else "pilot metric", "Category": k.category.label,
                "Baseline": k.baseline, "Baseline read on": k.baseline_on, "Target": k.target, "Unit": k.unit,
                "Better": k.direction.value, "Horizon (days)": k.horizon_days, "Latest": k.latest_value,
                "On": k.latest_on, "Change against the baseline": k.change(),
                "On target": {True: "yes", False: "no", None: EMPTY_CELL}[k.meets(k.latest_value)],
            } for k in kpis]),
            hide_index=True, width="stretch", key=f"kpi-scorecard-{pilot.id}", placeholder=EMPTY_CELL,
        )
        readings = store.readings_frame(conn, pilot.id, as_of)
        chart_cols = st.columns(2)
        for n, k in enumerate(kpis):
            chart_cols[n % 2].plotly_chart(charts.kpi_trend(readings[readings["kpi_id"] == k.id], k),
                                           key=f"kpi-trend-{k.id}")
    else:
        st.caption("No KPIs yet: production KPIs with targets are due by the end of kickoff.")
    if not editable:
        return
    c1, c2 = st.columns(2)
    with c1.expander("Add a KPI", icon=":material/add_chart:", expanded=forms.drafted(
            "kpi-name-", "kpi-category-", "kpi-unit-", "kpi-direction-", "kpi-baseline-", "kpi-target-",
            "kpi-horizon-", "kpi-production-", suffix=f"-{pilot.id}")):
        with forms.form(f"kpi-add-{pilot.id}"):
            name = st.text_input("Name", key=f"kpi-name-{pilot.id}")
            category = st.selectbox("Category", [c.value for c in KpiCategory],
                                    format_func=lambda v: KpiCategory(v).label, key=f"kpi-category-{pilot.id}")
            a, b = st.columns(2)
            unit = a.text_input("Unit", key=f"kpi-unit-{pilot.id}")
            direction = b.radio("Better when", [d.value for d in Direction], horizontal=True,
                                format_func=lambda v: f"{v}", key=f"kpi-direction-{pilot.id}")
            a, e, b, d = st.columns(4)
            baseline = a.number_input("Baseline", value=None, key=f"kpi-baseline-{pilot.id}")
            baseline_on = e.date_input("Baseline read on", value=None, key=f"kpi-baseline-on-{pilot.id}",
                                       help="Before the start: the value the pilot is measured against.")
            target = b.number_input("Target", value=None, key=f"kpi-target-{pilot.id}")
            horizon = d.number_input("Horizon (days)", value=None, min_value=1, step=1, key=f"kpi-horizon-{pilot.id}")
            is_production = st.checkbox("A production KPI (not only a pilot metric)", value=True,
                                        key=f"kpi-production-{pilot.id}")
            if forms.submit("Add KPI", key=f"kpi-save-{pilot.id}"):
                forms.save(lambda: production.add_kpi(conn, actor, pilot.id, {
                               "name": name, "category": category, "unit": unit, "direction": direction,
                               "baseline": baseline, "baseline_on": baseline_on, "target": target,
                               "horizon_days": int(horizon) if horizon is not None else None,
                               "production": is_production}),
                           f"Added the KPI '{name.strip()}'.",
                           clear={f"kpi-name-{pilot.id}": "", f"kpi-unit-{pilot.id}": "",
                                  **{f"kpi-{k}-{pilot.id}": None
                                     for k in ("baseline", "baseline-on", "target", "horizon")}})
    if kpis:
        with c2.expander("Enter readings", icon=":material/edit:", expanded=forms.drafted(
                keys=[f"reading-date-{pilot.id}"] + [f"reading-{k.id}" for k in kpis])):
            with forms.form(f"kpi-readings-{pilot.id}"):
                on = st.date_input("Reading date", value=date.today(), max_value=date.today(),
                                   key=f"reading-date-{pilot.id}")
                values = {k.id: st.number_input(f"{md(k.name)} ({md(k.unit)})" if k.unit else md(k.name), value=None,
                                                format="%g", key=f"reading-{k.id}") for k in kpis}
                if forms.submit("Save readings", key=f"reading-save-{pilot.id}"):
                    forms.save(lambda: production.record_readings(conn, actor, pilot.id, [
                                   {"kpi_id": kid, "value": v, "reading_on": on} for kid, v in values.items()]),
                               lambda n: f"Saved {n} reading(s).",
                               clear={f"reading-{kid}": None for kid in values})
        _edit_kpi(pilot)
    st.caption("The pilot's expected monthly volume (for the running cost) is set under Overview → Edit.")


@ui.fragment
def _edit_kpi(pilot: Pilot) -> None:
    """Choosing another KPI reruns this part alone."""
    conn, actor, as_of = ui.conn(), ui.actor(), ui.as_of()
    kpis = store.list_kpis(conn, pilot.id, as_of)
    parts = ("name", "target", "horizon", "baseline", "baseline-on", "production")
    # The KPI whose edit was left typed (for another tab, say): the picker,
    # which is no form field, comes back on it.
    typed = [i for i, k in enumerate(kpis) if forms.drafted(keys=[f"kpi-edit-{part}-{k.id}" for part in parts])]
    with st.expander("Edit a KPI", icon=":material/tune:", expanded=bool(typed)):
        by_kid = {k.id: k for k in kpis}
        kid = st.selectbox("KPI", list(by_kid), index=typed[0] if typed else 0, format_func=lambda i: by_kid[i].name,
                           key=f"kpi-edit-pick-{pilot.id}")
        k = by_kid[kid]
        opened = forms.opened_version(forms.record_name("kpi", k.id), k.version)
        with forms.form(f"kpi-edit-{k.id}"):
            e_name = st.text_input("Name", value=k.name, key=f"kpi-edit-name-{k.id}")
            a, e, b, d = st.columns(4)
            e_baseline = a.number_input("Baseline", value=k.baseline, format="%g", key=f"kpi-edit-baseline-{k.id}")
            e_baseline_on = e.date_input("Baseline read on", value=k.baseline_on,
                                         key=f"kpi-edit-baseline-on-{k.id}",
                                         help="Before the start: the value the pilot is measured against.")
            e_target = b.number_input("Target", value=k.target, format="%g", key=f"kpi-edit-target-{k.id}")
            e_horizon = d.number_input("Horizon (days)", value=k.horizon_days, min_value=1, step=1,
                                       key=f"kpi-edit-horizon-{k.id}")
            e_production = st.checkbox("A production KPI", value=k.production, key=f"kpi-edit-production-{k.id}")
            if forms.submit("Save KPI", key=f"kpi-edit-save-{k.id}"):
                forms.save(lambda: production.edit_kpi(conn, actor, k.id, {
                               "name": e_name, "baseline": e_baseline, "baseline_on": e_baseline_on,
                               "target": e_target,
                               "horizon_days": int(e_horizon) if e_horizon is not None else None,
                               "production": e_production}, expected_version=opened),
                           f"Saved the KPI '{e_name.strip()}'.", records=[forms.record_name("kpi", k.id)])


@ui.fragment
def _readiness(pilot: Pilot, editable: bool) -> None:
    """A refused save reruns this part alone, the refusal beside what was typed."""
    conn, actor = ui.conn(), ui.actor()
    st.subheader("Readiness")
    readiness = store.pilot_readiness(conn, pilot.id)
    gaps = production.required_gaps(readiness)
    if gaps:
        st.warning("Required for go and not done: " + "; ".join(md(g) for g in gaps))
    else:
        st.success("Every item required for go is done.")
    statuses = [s.value for s in ReadinessStatus]
    with forms.form(f"readiness-{pilot.id}"):
        chosen_items = {}
        for dimension in READINESS_DIMENSIONS:
            st.markdown(f"**{dimension.capitalize()}**")
            for item in [r for r in readiness if r["dimension"] == dimension]:
                status_key, evidence_key = f"ready-{item['key']}-{pilot.id}", f"ready-evidence-{item['key']}-{pilot.id}"
                version, then = forms.opened(forms.record_name("readiness", (pilot.id, item["key"])), item["version"],
                                             {"status": item["status"], "evidence": item["evidence"]},
                                             {"status": status_key, "evidence": evidence_key})
                a, b, d = st.columns([3, 1.4, 2])
                a.markdown(f"{STATUS_MARK[item['status']]} {md(item['label'])}"
                           + (" · *required for go*" if item["required_for_go"] else ""))
                status = b.selectbox("Status", statuses, index=statuses.index(item["status"]),
                                     format_func=lambda v: ReadinessStatus(v).label, label_visibility="collapsed",
                                     key=status_key, disabled=not editable)
                evidence = d.text_input("Evidence", value=item["evidence"], label_visibility="collapsed",
                                        placeholder="evidence: a note or a link",
                                        key=evidence_key, disabled=not editable)
                if {"status": status, "evidence": evidence} != then:  # only what this person changed is sent
                    chosen_items[item["key"]] = {"status": status, "evidence": evidence, "version": version}
        if forms.submit("Save readiness", key=f"readiness-save-{pilot.id}", disabled=not editable):
            forms.save(lambda: production.save_readiness(conn, actor, pilot.id, chosen_items),
                       f"Readiness saved ({len(chosen_items)} item(s) changed)." if chosen_items else "Nothing to save.",
                       records=[forms.record_name("readiness", (pilot.id, r["key"])) for r in readiness])
