"""Pilot: one pilot whole (its clock, seats, flags and weekly updates), and
the forms to create a pilot, edit it and change its seats."""

from datetime import date

import pandas as pd
import streamlit as st

from portfolio import flags, services
from portfolio.domain import clock
from portfolio.domain.errors import EditConflict, NotFound, PortfolioError
from portfolio.domain.text import md, md_lines
from portfolio.domain.vocabulary import (
    BRIDGE_ITEMS,
    CREATABLE_STAGES,
    READINESS_DIMENSIONS,
    CriterionStatus,
    DecisionKind,
    Direction,
    Disposition,
    KpiCategory,
    PrivilegeKind,
    ReadinessStatus,
    Role,
    Seat,
    Stage,
)
from portfolio.services import decisions, production
from portfolio.storage import audit, store
from portfolio.web import charts, ui

conn, actor, as_of, settings = ui.conn(), ui.actor(), ui.as_of(), ui.settings()
people = {p.id: p for p in store.list_people(conn)}
active_ids = [p.id for p in people.values() if p.active]
SEAT_KEYS = {
    Seat.PRODUCT_OWNER: "product-owner",
    Seat.TECHNICAL_LEAD: "technical-lead",
    Seat.EXECUTIVE_SPONSOR: "executive-sponsor",
    Seat.OPERATIONAL_OWNER: "operational-owner",
}


def seat_inputs(prefix: str, current: dict | None = None) -> dict:
    """A selectbox per seat: active people, plus whoever holds it now."""
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


st.title("Pilot")
ui.show_flash()

pilots = store.list_pilots(conn)
names = {p.id: p.name for p in pilots} | {p.id: f"{p.name} (archived)" for p in store.list_pilots(conn, archived=True)}
try:
    wanted = int(st.query_params.get("id", 0)) or None
except ValueError:
    wanted = None
if wanted not in names:
    wanted = None
pick = st.selectbox(
    "Pilot", list(names), index=list(names).index(wanted) if wanted else None,
    format_func=names.get, placeholder="Choose a pilot", key=f"pilot-pick-{wanted}",
)
if pick and pick != wanted:
    st.query_params["id"] = str(pick)

# --- create ---------------------------------------------------------------
if services.may_create_pilot(actor):
    with st.expander("New pilot", expanded=pick is None, icon=":material/add:"):
        with st.form("new-pilot"):
            name = st.text_input("Name", key="pilot-name")
            unit = st.text_input("Business unit", key="pilot-unit")
            problem = st.text_area("Problem it solves", key="pilot-problem")
            c1, c2 = st.columns(2)
            stage = c1.selectbox("Stage", [s.value for s in CREATABLE_STAGES], index=1, key="pilot-stage")
            start = c2.date_input("Start date (day 1 of the clock)", value=None, key="pilot-start",
                                  help=f"The go/no-go date is the start plus {settings.clock_days} days.")
            seats = seat_inputs("pilot")
            if st.form_submit_button("Create pilot", key="pilot-create", type="primary"):
                try:
                    new_id = services.create_pilot(
                        conn, actor,
                        {"name": name, "business_unit": unit, "problem": problem, "stage": stage,
                         "start_date": start, **seats},
                        settings,
                    )
                except PortfolioError as exc:
                    ui.show_error(exc)
                else:
                    ui.set_on_next_run({"pilot-name": "", "pilot-unit": "", "pilot-problem": "",
                                          "pilot-start": None, **{f"pilot-{k}": None for k in SEAT_KEYS.values()}})
                    ui.flash(f"Created '{name.strip()}'.")
                    st.switch_page("pages/pilot.py", query_params={"id": new_id})

if pick is None:
    if not pilots:
        st.info("No pilots yet." + (" Create the first one above." if services.may_create_pilot(actor) else ""))
    st.stop()

# --- one pilot ------------------------------------------------------------
try:
    pilot = store.get_pilot(conn, pick)
except NotFound as exc:
    ui.show_error(exc)
    st.stop()

st.header(md(pilot.name))
if pilot.archived:
    st.info("Archived: this pilot is out of the portfolio's numbers and flags; its history is kept. "
            + ("Restore it below (Overview)." if services.may_manage_people(actor) else "An admin can restore it."),
            icon=":material/inventory_2:")
st.markdown(f"Stage **{pilot.stage.value}** · {md(pilot.business_unit) or 'no business unit'}")
if pilot.problem:
    st.markdown(md_lines(pilot.problem))

c1, c2, c3 = st.columns(3)
if pilot.start_date:
    c1.metric("Day", clock.day_of_clock(pilot.start_date, as_of))
if pilot.go_no_go_date:
    left = clock.days_left(pilot.go_no_go_date, as_of)
    if left >= 0:
        c2.metric("Days left", left)
    else:
        c2.metric("Days overdue", -left)
    c3.metric("Go/no-go date", f"{pilot.go_no_go_date:%d %b %Y}")
st.caption(clock.describe(pilot.start_date, pilot.go_no_go_date, as_of))

overview_tab, decisions_tab, readiness_tab, updates_tab, history_tab = st.tabs(
    ["Overview", "Criteria and decisions", "Production readiness", "Weekly updates", "History"]
)
with overview_tab:
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
        text = f"**{flag.code}** ({flag.severity}): {md(flag.reason)}"
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
    if {"STALLED", "OVERDUE_DECISION"} & set(mine["code"]):
        stuck = production.likely_bottleneck(conn, pilot, as_of)
        if stuck:
            reason, evidence = stuck
            st.subheader("Why is it stuck?")
            st.markdown(f"Likely bottleneck: **{md(reason)}**")
            for line in evidence[:8]:
                st.markdown(f"- {md(line)}")


    # --- actions --------------------------------------------------------------
    if pilot.stage == Stage.PROPOSED and actor.at_least(Role.LEADERSHIP):
        st.subheader("Start the pilot")
        with st.form(f"start-{pilot.id}"):
            start = st.date_input("Start date (day 1)", value=as_of, key=f"start-date-{pilot.id}")
            if st.form_submit_button("Start the 90-day clock", key=f"start-go-{pilot.id}"):
                try:
                    services.start_pilot(conn, actor, pilot.id, start, settings)
                except PortfolioError as exc:
                    ui.show_error(exc)
                else:
                    ui.flash(f"'{pilot.name}' is now a pilot; its clock started on {start}.")
                    st.rerun()

    if services.may_edit_pilot(actor, pilot):
        version_key = f"edit-version-{pilot.id}"
        if f"edit-name-{pilot.id}" not in st.session_state:
            # The form's fields are created afresh from the pilot as it is now:
            # this is the version the user starts from.
            st.session_state[version_key] = pilot.version
        with st.expander("Edit the pilot and its seats", icon=":material/edit:"):
            with st.form(f"edit-{pilot.id}"):
                name = st.text_input("Name", value=pilot.name, key=f"edit-name-{pilot.id}")
                unit = st.text_input("Business unit", value=pilot.business_unit, key=f"edit-unit-{pilot.id}")
                problem = st.text_area("Problem it solves", value=pilot.problem, key=f"edit-problem-{pilot.id}")
                start = st.date_input(
                    "Start date", value=pilot.start_date, key=f"edit-start-{pilot.id}",
                    help="Setting it starts the clock; the go/no-go date then moves only by an extend decision.",
                )
                volume = st.number_input(
                    "Expected monthly volume (transactions)", value=pilot.expected_monthly_volume, min_value=0.0,
                    format="%g", key=f"edit-volume-{pilot.id}",
                    help="With a cost-per-transaction KPI, gives the monthly running cost.",
                )
                seats = seat_inputs(f"edit-{pilot.id}", pilot.model_dump())
                if st.form_submit_button("Save changes", key=f"edit-save-{pilot.id}", type="primary"):
                    try:
                        saved = services.edit_pilot(
                            conn, actor, pilot.id,
                            {"name": name, "business_unit": unit, "problem": problem, "start_date": start,
                             "expected_monthly_volume": volume, **seats},
                            settings, expected_version=st.session_state[version_key],
                        )
                    except PortfolioError as exc:
                        ui.show_error(exc)
                        if isinstance(exc, EditConflict):
                            # Saving again applies what was typed over the other change, knowingly.
                            st.session_state[version_key] = pilot.version
                    else:
                        st.session_state[version_key] = saved.version
                        ui.flash(f"Saved '{saved.name}'.")
                        st.rerun()
            if st.button("Reload the pilot as it is now", key=f"edit-reload-{pilot.id}"):
                # The fields are set to the pilot as it is now on the next run (a
                # removed key would leave the browser showing, and sending, what
                # was typed), and the next save starts from its current version.
                ui.set_on_next_run({
                    f"edit-name-{pilot.id}": pilot.name, f"edit-unit-{pilot.id}": pilot.business_unit,
                    f"edit-problem-{pilot.id}": pilot.problem, f"edit-start-{pilot.id}": pilot.start_date,
                    f"edit-volume-{pilot.id}": pilot.expected_monthly_volume,
                    **{f"edit-{pilot.id}-{SEAT_KEYS[seat]}": getattr(pilot, seat.value) for seat in Seat}})
                st.session_state[version_key] = pilot.version
                st.rerun()
    else:
        st.caption(f"You ({actor.role.label}) can read this pilot; its product owner, technical lead, "
                   "leadership and admins can edit it.")

    if services.may_manage_people(actor):  # admins archive and restore
        verb = "Restore" if pilot.archived else "Archive"
        with st.expander(f"{verb} the pilot", icon=":material/inventory_2:"):
            st.caption("Archived pilots leave the portfolio's numbers and flags; nothing of theirs is deleted, "
                       "and restoring brings them back as they were.")
            # Each way has its own key: a second click cannot undo the first.
            if st.button(f"{verb} '{md(pilot.name)}'", key=f"{verb.lower()}-go-{pilot.id}"):
                try:
                    services.archive_pilot(conn, actor, pilot.id, archived=not pilot.archived)
                except PortfolioError as exc:
                    ui.show_error(exc)
                else:
                    ui.flash(f"{'Restored' if pilot.archived else 'Archived'} '{pilot.name}'.")
                    st.rerun()


with decisions_tab:
    # --- criteria -------------------------------------------------------------
    st.subheader("Go/no-go criteria")
    criteria = store.list_criteria(conn, pilot.id, as_of)
    verdict, why = decisions.suggested_verdict(criteria)
    locked = decisions.criteria_locked(pilot, date.today(), settings)
    if criteria:
        for c in criteria:
            mark = {"met": ":green[met]", "not_met": ":red[not met]", "unknown": ":gray[unknown]"}[c.status.value]
            st.markdown(f"- {md(c.statement)}: **{mark}**" + (f" · {md(c.evidence)}" if c.evidence else ""))
    else:
        st.caption("No criteria yet: write them by day 14, in production terms.")
    if pilot.stage == Stage.PILOT:
        st.caption(f"Suggested verdict: **{md(verdict)}** ({md(why)}).")
    if locked and pilot.stage in decisions.CRITERIA_STAGES:
        st.caption(f"Kickoff has ended (day {settings.criteria_lock_day} on): writing, rewording or removing a "
                   "criterion is leadership's and raises CRITERIA_CHANGED; marking them met or not met is not.")
    changes = store.criteria_changes(conn, pilot.id)
    if not changes.empty:
        with st.expander(f"Criteria changes ({len(changes)})"):
            st.dataframe(changes, hide_index=True, width="stretch", key=f"criteria-changes-{pilot.id}")
    if services.may_edit_pilot(actor, pilot) and pilot.stage in decisions.CRITERIA_STAGES:
        with st.expander("Edit the criteria", icon=":material/checklist:"):
            with st.form(f"criteria-{pilot.id}"):
                edits = []
                for c in criteria:
                    version, then = ui.opened(
                        ui.record_name("criterion", c.id), c.version,
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
                if st.form_submit_button("Save criteria", key=f"crit-save-{pilot.id}", type="primary"):
                    try:
                        counts = decisions.save_criteria(
                            conn, actor, pilot.id, edits=edits,
                            additions=[{"statement": new_statement}] if new_statement.strip() else [],
                            on=date.today(), settings=settings,
                        )
                    except PortfolioError as exc:
                        ui.show_error(exc)
                    else:
                        ui.forget_opened(*(ui.record_name("criterion", c.id) for c in criteria))
                        ui.set_on_next_run({f"crit-new-{pilot.id}": ""})
                        ui.flash("Criteria saved: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n) + "."
                                 if any(counts.values()) else "Nothing to save.")
                        st.rerun()

    # --- decisions and stage moves --------------------------------------------
    history = store.list_decisions(conn, pilot.id)
    events = store.stage_events(conn, pilot.id)
    if history or not events.empty:
        st.subheader("Decisions")
    for d in history:
        struck = " · :gray[superseded]" if d.superseded_by else ""
        correction = f" · corrects decision {d.supersedes_id}" if d.supersedes_id else ""
        moved = (f" · go/no-go date {d.go_no_go_before} → {d.go_no_go_after}"
                 if d.kind.value == "extend" else f" · {d.stage_before.value} → {d.stage_after.value}")
        st.markdown(f"**{d.kind.label.upper()}** on {d.decided_on} by {md(d.decided_by_name)}{moved}{correction}{struck}  \n"
                    f"{md_lines(d.rationale)}" + (f"  \n*Override:* {md(d.override_reason)}" if d.override_reason else ""))
        with st.expander(f"Criteria as they stood at decision {d.id}"):
            if d.criteria_snapshot:
                st.dataframe(pd.DataFrame(d.criteria_snapshot), hide_index=True, width="stretch",
                             key=f"snapshot-{d.id}")
            else:
                st.caption("There were no criteria.")
    if not events.empty:
        st.dataframe(events, hide_index=True, width="stretch", key=f"stage-events-{pilot.id}")
    effective = [d for d in history if d.superseded_by is None]
    if (effective and actor.at_least(Role.LEADERSHIP) and actor.person_id is not None
            and pilot.stage == effective[0].stage_after):
        latest = effective[0]
        with st.expander(f"Correct the latest decision ({latest.kind.label} on {latest.decided_on})",
                         icon=":material/undo:"):
            # Keyed by the decision it corrects: once the correction is recorded
            # the form is a new one, so a second click cannot correct it again.
            tag = f"{pilot.id}-{latest.id}"
            with st.form(f"correct-{tag}"):
                kind = st.radio("Corrected decision", [k.value for k in DecisionKind], index=None, horizontal=True,
                                format_func=lambda k: DecisionKind(k).label, key=f"correct-kind-{tag}")
                why_text = st.text_area("Why the correction, and its rationale (required)", key=f"correct-why-{tag}")
                new_date = st.date_input("New go/no-go date (extend only)", value=None, key=f"correct-date-{tag}")
                override = st.text_input("Override reason (extension at the limit)", key=f"correct-override-{tag}")
                if st.form_submit_button("Record the correction", key=f"correct-go-{tag}"):
                    try:
                        decisions.record_decision(conn, actor, {
                            "pilot_id": pilot.id, "kind": kind, "decided_on": date.today(),
                            "decided_by": actor.person_id, "rationale": why_text,
                            "new_go_no_go_date": new_date if kind == "extend" else None,
                            "override_reason": override, "supersedes_id": latest.id,
                        }, settings, today=date.today())
                    except PortfolioError as exc:
                        ui.show_error(exc)
                    else:
                        ui.flash(f"Recorded the correction of decision {latest.id}.")
                        st.rerun()
    if pilot.stage == Stage.PILOT and actor.at_least(Role.LEADERSHIP):
        st.page_link("pages/decisions.py", label="Record the go/no-go decision", icon=":material/gavel:",
                     query_params={"id": pilot.id})

    # --- the bridge -----------------------------------------------------------
    if pilot.stage == Stage.BRIDGE:
        st.subheader("Bridge to production")
        due = pilot.bridge_due_date
        st.caption(f"Due {due}" + (f": {(as_of - due).days} days late" if due and as_of > due else "")
                   + ". Promotion needs an operational owner and every item below.")
        checklist = store.bridge_checklist(conn, pilot.id)
        if services.may_edit_pilot(actor, pilot):
            with st.form(f"bridge-{pilot.id}"):
                items = {}
                for key, label in BRIDGE_ITEMS:
                    a, b = st.columns([2, 3])
                    done = a.checkbox(label, value=bool(checklist.get(key, {}).get("done")),
                                      key=f"bridge-{key}-{pilot.id}")
                    note = b.text_input("Note", value=checklist.get(key, {}).get("note", ""),
                                        key=f"bridge-note-{key}-{pilot.id}", label_visibility="collapsed")
                    items[key] = {"done": done, "note": note}
                if st.form_submit_button("Save checklist", key=f"bridge-save-{pilot.id}"):
                    try:
                        decisions.save_bridge_checklist(conn, actor, pilot.id, items)
                    except PortfolioError as exc:
                        ui.show_error(exc)
                    else:
                        ui.flash("Bridge checklist saved.")
                        st.rerun()
        else:
            for key, label in BRIDGE_ITEMS:
                st.markdown((":green[:material/check_circle:] " if checklist.get(key, {}).get("done") else ":gray[:material/radio_button_unchecked:] ") + label)


with readiness_tab:
    # --- production readiness: privileges, KPIs, readiness ---------------------
    can_edit = services.may_edit_pilot(actor, pilot)
    live = pilot.stage.value in production.LIVE_STAGES

    st.subheader("Borrowed privileges")
    st.caption("What the pilot has that normal operation will not give; each must become permanent or be "
               "withdrawn (saying what replaces it) before production.")
    privileges = store.list_privileges(conn, pilot.id)
    if privileges:
        st.dataframe(
            pd.DataFrame([{
                "kind": p.kind.label, "what": p.description, "granted by": p.granted_by, "since": p.since,
                "expires": p.expires,
                "expires before go/no-go": bool(p.expires and pilot.go_no_go_date and p.expires < pilot.go_no_go_date),
                "disposition": p.disposition.label, "decided by": p.decided_by_name, "note": p.note,
            } for p in privileges]),
            hide_index=True, width="stretch", key=f"privileges-{pilot.id}",
        )
        expiring = [p for p in privileges if p.expires and pilot.go_no_go_date and p.expires < pilot.go_no_go_date]
        for p in expiring:
            st.warning(f"'{md(p.description)}' expires on {p.expires}, before the go/no-go date {pilot.go_no_go_date}.")
    else:
        st.caption("No borrowed privileges recorded.")
    if can_edit and live:
        c1, c2 = st.columns(2)
        with c1.expander("Record a borrowed privilege", icon=":material/add:"):
            with st.form(f"privilege-add-{pilot.id}"):
                kind = st.selectbox("Kind", [k.value for k in PrivilegeKind], format_func=lambda v: PrivilegeKind(v).label,
                                    key=f"privilege-kind-{pilot.id}")
                what = st.text_input("What it is", key=f"privilege-what-{pilot.id}")
                granted = st.text_input("Granted by", key=f"privilege-granted-{pilot.id}")
                since = st.date_input("Since", value=None, key=f"privilege-since-{pilot.id}")
                expires = st.date_input("Expires (if it does)", value=None, key=f"privilege-expires-{pilot.id}")
                if st.form_submit_button("Add privilege", key=f"privilege-save-{pilot.id}"):
                    try:
                        production.add_privilege(conn, actor, pilot.id, {
                            "kind": kind, "description": what, "granted_by": granted, "since": since,
                            "expires": expires})
                    except PortfolioError as exc:
                        ui.show_error(exc)
                    else:
                        ui.set_on_next_run({f"privilege-what-{pilot.id}": "", f"privilege-granted-{pilot.id}": "",
                                              f"privilege-since-{pilot.id}": None, f"privilege-expires-{pilot.id}": None})
                        ui.flash(f"Recorded the borrowed privilege '{what.strip()}'.")
                        st.rerun()
        if privileges:
            with c2.expander("Decide a privilege", icon=":material/gavel:"):
                by_pid = {p.id: p for p in privileges}
                opened_at = {p.id: ui.opened_version(ui.record_name("privilege", p.id), p.version) for p in privileges}
                with st.form(f"privilege-decide-{pilot.id}"):
                    chosen = st.selectbox("Privilege", list(by_pid), format_func=lambda i: by_pid[i].description,
                                          key=f"privilege-pick-{pilot.id}")
                    disposition = st.radio("Disposition", [d.value for d in Disposition], horizontal=True,
                                           format_func=lambda v: Disposition(v).label, key=f"privilege-disposition-{pilot.id}")
                    note = st.text_input("Note (for a withdrawn one: what replaces it)", key=f"privilege-note-{pilot.id}")
                    if st.form_submit_button("Save decision", key=f"privilege-decide-save-{pilot.id}"):
                        ui.save(lambda: production.decide_privilege(
                                    conn, actor, chosen, disposition, note, date.today(),
                                    expected_version=opened_at[chosen]),
                                f"'{by_pid[chosen].description}': {Disposition(disposition).label}.",
                                ui.record_name("privilege", chosen))

    st.subheader("KPIs")
    kpis = store.list_kpis(conn, pilot.id, as_of)
    cost = production.monthly_cost(conn, pilot.id, as_of)
    if cost is not None:
        st.metric("Monthly running cost", f"{cost:,.0f}",
                  help="Latest cost per transaction times the expected monthly volume.")
    if kpis:
        st.dataframe(
            pd.DataFrame([{
                "KPI": k.name, "kind": "production" if k.production else "pilot metric", "category": k.category.label,
                "baseline": k.baseline, "target": k.target, "unit": k.unit, "better": k.direction.value,
                "horizon (days)": k.horizon_days, "latest": k.latest_value, "on": k.latest_on,
                "on target": {True: "yes", False: "no", None: "—"}[k.meets(k.latest_value)],
            } for k in kpis]),
            hide_index=True, width="stretch", key=f"kpi-scorecard-{pilot.id}",
        )
        readings = store.readings_frame(conn, pilot.id, as_of)
        chart_cols = st.columns(2)
        for n, k in enumerate(kpis):
            chart_cols[n % 2].plotly_chart(charts.kpi_trend(readings[readings["kpi_id"] == k.id], k), key=f"kpi-trend-{k.id}")
    else:
        st.caption("No KPIs yet: production KPIs with targets are due by the end of kickoff.")
    if can_edit and live:
        c1, c2 = st.columns(2)
        with c1.expander("Add a KPI", icon=":material/add_chart:"):
            with st.form(f"kpi-add-{pilot.id}"):
                name = st.text_input("Name", key=f"kpi-name-{pilot.id}")
                category = st.selectbox("Category", [c.value for c in KpiCategory],
                                        format_func=lambda v: KpiCategory(v).label, key=f"kpi-category-{pilot.id}")
                a, b = st.columns(2)
                unit = a.text_input("Unit", key=f"kpi-unit-{pilot.id}")
                direction = b.radio("Better when", [d.value for d in Direction], horizontal=True,
                                    format_func=lambda v: f"{v}", key=f"kpi-direction-{pilot.id}")
                a, b, d = st.columns(3)
                baseline = a.number_input("Baseline", value=None, key=f"kpi-baseline-{pilot.id}")
                target = b.number_input("Target", value=None, key=f"kpi-target-{pilot.id}")
                horizon = d.number_input("Horizon (days)", value=None, min_value=1, step=1, key=f"kpi-horizon-{pilot.id}")
                is_production = st.checkbox("A production KPI (not only a pilot metric)", value=True,
                                            key=f"kpi-production-{pilot.id}")
                if st.form_submit_button("Add KPI", key=f"kpi-save-{pilot.id}"):
                    try:
                        production.add_kpi(conn, actor, pilot.id, {
                            "name": name, "category": category, "unit": unit, "direction": direction,
                            "baseline": baseline, "target": target,
                            "horizon_days": int(horizon) if horizon is not None else None, "production": is_production})
                    except PortfolioError as exc:
                        ui.show_error(exc)
                    else:
                        ui.set_on_next_run({f"kpi-name-{pilot.id}": "", f"kpi-unit-{pilot.id}": "",
                                              **{f"kpi-{k}-{pilot.id}": None for k in ("baseline", "target", "horizon")}})
                        ui.flash(f"Added the KPI '{name.strip()}'.")
                        st.rerun()
        if kpis:
            with c2.expander("Enter readings", icon=":material/edit:"):
                with st.form(f"kpi-readings-{pilot.id}"):
                    on = st.date_input("Reading date", value=date.today(), max_value=date.today(),
                                   key=f"reading-date-{pilot.id}")
                    values = {k.id: st.number_input(f"{md(k.name)} ({md(k.unit)})" if k.unit else md(k.name), value=None,
                                                    format="%g", key=f"reading-{k.id}") for k in kpis}
                    if st.form_submit_button("Save readings", key=f"reading-save-{pilot.id}"):
                        try:
                            n = production.record_readings(conn, actor, pilot.id, [
                                {"kpi_id": kid, "value": v, "reading_on": on} for kid, v in values.items()])
                        except PortfolioError as exc:
                            ui.show_error(exc)
                        else:
                            ui.set_on_next_run({f"reading-{kid}": None for kid in values})
                            ui.flash(f"Saved {n} reading(s).")
                            st.rerun()
        if kpis:
            with st.expander("Edit a KPI", icon=":material/tune:"):
                by_kid = {k.id: k for k in kpis}
                kid = st.selectbox("KPI", list(by_kid), format_func=lambda i: by_kid[i].name,
                                   key=f"kpi-edit-pick-{pilot.id}")
                k = by_kid[kid]
                opened = ui.opened_version(ui.record_name("kpi", k.id), k.version)
                with st.form(f"kpi-edit-{k.id}"):
                    e_name = st.text_input("Name", value=k.name, key=f"kpi-edit-name-{k.id}")
                    a, b, d = st.columns(3)
                    e_baseline = a.number_input("Baseline", value=k.baseline, format="%g", key=f"kpi-edit-baseline-{k.id}")
                    e_target = b.number_input("Target", value=k.target, format="%g", key=f"kpi-edit-target-{k.id}")
                    e_horizon = d.number_input("Horizon (days)", value=k.horizon_days, min_value=1, step=1,
                                               key=f"kpi-edit-horizon-{k.id}")
                    e_production = st.checkbox("A production KPI", value=k.production, key=f"kpi-edit-production-{k.id}")
                    if st.form_submit_button("Save KPI", key=f"kpi-edit-save-{k.id}"):
                        ui.save(lambda: production.edit_kpi(conn, actor, k.id, {
                                    "name": e_name, "baseline": e_baseline, "target": e_target,
                                    "horizon_days": int(e_horizon) if e_horizon is not None else None,
                                    "production": e_production}, expected_version=opened),
                                f"Saved the KPI '{e_name.strip()}'.", ui.record_name("kpi", k.id))
        if can_edit:
            st.caption("The pilot's expected monthly volume (for the running cost) is set under Overview → Edit.")

    st.subheader("Readiness")
    readiness = store.pilot_readiness(conn, pilot.id)
    gaps = production.required_gaps(readiness)
    if gaps:
        st.warning("Required for go and not done: " + "; ".join(md(g) for g in gaps))
    else:
        st.success("Every item required for go is done.")
    STATUS_MARK = {"done": ":green[:material/check_circle:]", "in_progress": ":orange[:material/pending:]",
                   "not_started": ":gray[:material/radio_button_unchecked:]",
                   "not_applicable": ":gray[:material/remove_circle_outline:]"}
    statuses = [s.value for s in ReadinessStatus]
    with st.form(f"readiness-{pilot.id}"):
        chosen_items = {}
        for dimension in READINESS_DIMENSIONS:
            st.markdown(f"**{dimension.capitalize()}**")
            for item in [r for r in readiness if r["dimension"] == dimension]:
                status_key, evidence_key = f"ready-{item['key']}-{pilot.id}", f"ready-evidence-{item['key']}-{pilot.id}"
                version, then = ui.opened(ui.record_name("readiness", (pilot.id, item["key"])), item["version"],
                                          {"status": item["status"], "evidence": item["evidence"]},
                                          {"status": status_key, "evidence": evidence_key})
                a, b, d = st.columns([3, 1.4, 2])
                a.markdown(f"{STATUS_MARK[item['status']]} {md(item['label'])}" + (" · *required for go*" if item["required_for_go"] else ""))
                status = b.selectbox("Status", statuses, index=statuses.index(item["status"]),
                                     format_func=lambda v: ReadinessStatus(v).label, label_visibility="collapsed",
                                     key=status_key, disabled=not (can_edit and live))
                evidence = d.text_input("Evidence", value=item["evidence"], label_visibility="collapsed",
                                        placeholder="evidence: a note or a link",
                                        key=evidence_key, disabled=not (can_edit and live))
                if {"status": status, "evidence": evidence} != then:  # only what this person changed is sent
                    chosen_items[item["key"]] = {"status": status, "evidence": evidence, "version": version}
        if st.form_submit_button("Save readiness", key=f"readiness-save-{pilot.id}", disabled=not (can_edit and live)):
            ui.save(lambda: production.save_readiness(conn, actor, pilot.id, chosen_items),
                    f"Readiness saved ({len(chosen_items)} item(s) changed)." if chosen_items else "Nothing to save.",
                    *(ui.record_name("readiness", (pilot.id, r["key"])) for r in readiness))


with updates_tab:
    # --- weekly updates -----------------------------------------------------
    st.subheader("Weekly updates")
    updates = store.list_updates(conn, pilot.id, as_of=as_of)
    if not updates:
        st.caption("No weekly updates yet.")
    HEALTH_ICON = {"green": ":green[●]", "amber": ":orange[●]", "red": ":red[●]"}


    def show_update(u) -> None:
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


    for u in updates[:4]:
        show_update(u)
    if len(updates) > 4:
        with st.expander(f"Earlier weeks ({len(updates) - 4})"):
            for u in updates[4:52]:
                show_update(u)
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


with history_tab:
    # --- the audit trail of this pilot ----------------------------------------
    st.subheader("History")
    st.caption("Every change to this pilot and what belongs to it, newest first, with who made it; a save "
               "refused because someone else had changed the record first is kept too. Times are UTC.")
    history = audit.trail(conn, pilot_id=pilot.id)
    if history.empty:
        st.caption("Nothing on record yet.")
    else:
        st.dataframe(
            history[["at", "actor", "via", "action", "entity", "change"]], hide_index=True, width="stretch",
            key=f"history-{pilot.id}",
            column_config={"at": st.column_config.DatetimeColumn("At (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                           "change": st.column_config.TextColumn("Change", width="large")},
        )
        refused = history[history["action"].str.endswith("refused")]
        for row in refused.head(5).itertuples():
            st.warning(f"{row.at:%Y-%m-%d %H:%M} UTC: {md(row.actor)}'s {row.action.removesuffix(' refused')} was "
                       f"refused (someone else had saved first). They tried: "
                       f"{md(audit.describe(row.before, row.after, {p: people[p].name for p in people}) or 'no change')}.",
                       icon=":material/block:")
