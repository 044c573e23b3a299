"""Decisions: the pilots whose go/no-go is overdue or due within 14 days,
each with what a decision needs on one screen (the suggested verdict beside
the operational owner's acceptance of the handover) and the form to record
it (a no-go with its reason and lessons); below, the bridge pilots to
promote and the production pilots to retire (with a reason and lessons
too)."""

from datetime import date

import pandas as pd
import streamlit as st

from portfolio import flags
from portfolio.domain import clock, rights
from portfolio.domain.models import LARGEST_ID, Actor
from portfolio.domain.rights import Right
from portfolio.domain.text import EMPTY_CELL, md, plural
from portfolio.domain.vocabulary import BRIDGE_ITEMS, DecisionKind
from portfolio.services import decisions, handover, production
from portfolio.storage import store
from portfolio.web import forms, pickers, ui
from portfolio.web.followthrough import stop_inputs

conn, actor, as_of, settings = ui.conn(), ui.actor(), ui.as_of(), ui.settings()
view = ui.portfolio()
pilots = view.pilots
may_decide = rights.may(actor, Right.DECIDE)
may_promote = rights.may(actor, Right.PROMOTE_RETIRE)

st.title("Decisions")
st.caption(f"As of {as_of:%d %B %Y}: overdue first, then due within {settings.due_soon_days} days.")
forms.show_flash()

# The queue, and the road's tables below, kept per change to the data
# (ui.derived): a click does not filter the portfolio again.
queue = ui.derived("decision queue", lambda: pilots[(pilots["stage"] == "pilot")
                                                   & (pilots["days_left"] <= settings.due_soon_days)]
                   .sort_values(["days_left", "name"]))
try:
    wanted = int(st.query_params.get("id", 0))
except ValueError:
    wanted = 0
if not 0 < wanted <= LARGEST_ID:  # an address typed by hand names no pilot
    wanted = 0
if wanted and wanted not in set(queue["id"]):
    extra = pilots[(pilots["id"] == wanted) & (pilots["stage"] == "pilot")]
    queue = pd.concat([queue, extra])

search = ""
if len(queue) > pickers.PAGE_ROWS:
    search = pickers.search_input("Pilot name", key="decision-search",
                                  help="Narrows the queue and the pilots to decide on to those whose name holds "
                                       "every word typed.")
matched = queue[queue["id"].isin(pickers.matching(dict(zip(queue["id"], queue["name"])), search))] if search \
    else queue
if queue.empty:
    st.success("No go/no-go decision is overdue or due soon.")
elif matched.empty:
    st.info(f"No pilot in the queue matches “{md(search)}”.")
else:
    queue = matched
    st.caption("Select a row to decide on it, or pick the pilot below.")
    # A page of the queue at a time, the most overdue first.
    page = pickers.page_of(queue, "decision-queue", noun="pilot", reset_on=search)
    pickers.fresh_selection("decision-queue", (search, st.session_state.get("decision-queue-page")))
    event = st.dataframe(
        # Each row with its why, not only the one picked below.
        page[["name", "days_left", "flags", "reasons", "product_owner", "business_unit", "extensions"]],
        hide_index=True, width="stretch", key="decision-queue", on_select="rerun", selection_mode="single-row",
        placeholder=EMPTY_CELL,
        column_config={"name": "Pilot", "days_left": st.column_config.NumberColumn("Days left", width="small"),
                       "flags": "Flags", "reasons": st.column_config.TextColumn("Why", width="large"),
                       "product_owner": "Product owner", "business_unit": "Business unit",
                       "extensions": st.column_config.NumberColumn("Extensions", width="small")},
    )
    names = dict(zip(queue["id"], queue["name"]))
    on_page = [int(i) for i in page["id"]]
    selected = [r for r in (event.selection.rows if event else []) if 0 <= r < len(on_page)]
    # The picker starts from the selected row's pilot (else the address's):
    # a picker of its own for each, so selecting another row picks again and
    # a pick made below stands while the row stays selected. It offers the
    # pilots on the queue's page (and the one the address names).
    start = on_page[selected[0]] if selected else wanted
    offered = {i: names[i] for i in dict.fromkeys([*([wanted] if wanted in names else []), *on_page])}
    pick = pickers.search_select("Decide on", offered, current=start if start in offered else None, query=search,
                                 key=f"decide-pilot-{start}")
    pilot = store.get_pilot(conn, pick)
    criteria = store.list_criteria(conn, pilot.id, as_of)
    verdict, why = decisions.suggested_verdict(criteria)
    history = store.list_decisions(conn, pilot.id)
    extended = decisions.extension_count(history)

    st.header(md(pilot.name))
    st.caption(clock.describe(pilot.start_date, pilot.go_no_go_date, as_of)
               + f" · extended {extended} time{'s' if extended != 1 else ''} (limit {settings.extension_limit})")
    left, right = st.columns(2)
    with left:
        st.subheader("Criteria")
        if criteria:
            st.dataframe(
                pd.DataFrame([{"Criterion": c.statement, "Status": c.status.label, "Evidence": c.evidence}
                              for c in criteria]),
                hide_index=True, width="stretch", key="decision-criteria", placeholder=EMPTY_CELL,
            )
        else:
            st.warning("No go/no-go criteria were written for this pilot.")
        box = {decisions.VERDICT_GO: st.success, decisions.VERDICT_NO_GO: st.error}.get(verdict, st.info)
        acceptance = handover.acceptance_status(conn, pilot, settings, as_of)
        verdict_col, accept_col = st.columns(2)
        with verdict_col:
            box(f"Suggested verdict: **{md(verdict)}** ({md(why)})")
        with accept_col, st.container(key=f"decision-acceptance-{pilot.id}"):
            (st.success if acceptance.accepted else st.warning)(
                "**Handover: " + ("accepted" if acceptance.accepted else "not accepted") + "**  \n"
                + "  \n".join(md(line) for line in acceptance.lines())
                + ("" if acceptance.accepted else "  \nA go needs it, or an override reason on record."))
        st.subheader("Readiness")
        readiness = store.pilot_readiness(conn, pilot.id)
        required = [r for r in readiness if r["required_for_go"]]
        gaps = production.required_gaps(readiness)
        if gaps:
            st.warning(f"Required for go: {len(required) - len(gaps)} of {len(required)} done. Open: "
                       + "; ".join(md(g) for g in gaps))
        else:
            st.success(f"Every item required for go is done ({len(required)}).")
        for answer in production.handover_answers(conn, pilot, as_of):
            st.markdown(f"- {md(answer.question)} {':green[yes]' if answer.answered else ':red[no]'}: {md(answer.detail)}")
    with right:
        st.subheader("Flags")
        mine = view.flags[view.flags["pilot_id"] == pilot.id]
        for flag in mine.itertuples():
            st.markdown(f"- **{flags.label(flag.code)}** ({flag.severity}): {md(flag.reason)}",
                        help=flags.LABELS.get(flag.code, ("", None))[1] or None)
        if mine.empty:
            st.caption("No flags.")
        st.subheader("Latest updates")
        for u in store.list_updates(conn, pilot.id, as_of=as_of)[:3]:
            st.markdown(f"- **{u.week_start:%d %b}** · {u.health.value}: {md(u.summary)}")

    if not may_decide:
        st.info(f"You ({actor.role.label}) can read this; leadership records go/no-go decisions.")
    else:
        # Read once per change to the data (ui.kept), not everyone on every click.
        deciders = ui.kept("deciders", lambda: [p for p in store.list_people(conn, active_only=True)
                                                if rights.may(Actor.of(p), Right.DECIDE)])
        by_id = {p.id: p for p in deciders}
        default_by = actor.person_id if actor.person_id in by_id else (deciders[0].id if deciders else None)
        with forms.form(f"decide-{pilot.id}"):
            st.subheader("Record the decision")
            kind = st.radio("Decision", [k.value for k in DecisionKind], index=None, horizontal=True,
                            format_func=lambda k: DecisionKind(k).label, key=f"decision-kind-{pilot.id}")
            c1, c2 = st.columns(2)
            decided_on = c1.date_input("Decision date", value=as_of, key=f"decision-date-{pilot.id}")
            decided_by = c2.selectbox("Decided by", list(by_id), format_func=lambda i: by_id[i].name,
                                      index=list(by_id).index(default_by) if default_by in by_id else 0,
                                      key=f"decision-by-{pilot.id}")
            rationale = st.text_area("Rationale (required)", key=f"decision-rationale-{pilot.id}")
            stop_reason, lessons = None, ""
            if kind == DecisionKind.NO_GO.value:
                # A no-go that teaches something: why, from a short list, and what was learned.
                stop_reason, lessons = stop_inputs(f"decision-{pilot.id}")
            c3, c4 = st.columns(2)
            new_date = c3.date_input(
                "New go/no-go date (extend only)", value=None, key=f"decision-new-date-{pilot.id}",
                help=f"At most {settings.max_extension_days} days after the decision date.",
            )
            override = c4.text_input(
                "Override reason", key=f"decision-override-{pilot.id}",
                help=(f"Required for the extension that reaches the limit of {settings.extension_limit}, and "
                      "for a go without the operational owner's acceptance of the handover; it stays on "
                      "record with the decision."),
            )
            if not acceptance.accepted:
                st.caption("Go: the handover is not accepted ("
                           + md("; ".join(acceptance.gaps))
                           + "); a go needs an override reason, which stays on record with the decision.")
            if forms.submit("Record decision", key=f"decision-submit-{pilot.id}", type="primary"):
                forms.save(
                    lambda: decisions.record_decision(conn, actor, {
                        "pilot_id": pilot.id, "kind": kind, "decided_on": decided_on,
                        "decided_by": decided_by, "rationale": rationale,
                        "new_go_no_go_date": new_date if kind == DecisionKind.EXTEND.value else None,
                        "override_reason": override, "stop_reason": stop_reason, "lessons": lessons,
                    }, settings, today=date.today()),
                    lambda done: f"Recorded {done.kind.label} for '{pilot.name}': now {done.stage_after.value}"
                    + (f", go/no-go date {done.go_no_go_after}" if done.kind == DecisionKind.EXTEND else "") + ".",
                    # The decided pilot may leave the list: no row stays
                    # selected, lest the next pilot in its place be picked.
                    clear={"decision-queue": {"selection": {"rows": [], "columns": [], "cells": []}}},
                    then=lambda done: st.query_params.clear())

# --- the road to production -----------------------------------------------
# A table per stage, a page at a time, and the one pilot picked below it
# opened with its form: the browser gets a page and one form, however many
# pilots are on the road.
st.divider()
st.header("Bridge and production")
bridge = ui.derived("bridge pilots", lambda: pilots[pilots["stage"] == "bridge"])
in_production = ui.derived("production pilots", lambda: pilots[pilots["stage"] == "production"].sort_values("name"))
road_search = ""
if len(bridge) > pickers.PAGE_ROWS or len(in_production) > pickers.PAGE_ROWS:
    road_search = pickers.search_input("Pilot name", key="road-search",
                                       help="Narrows the bridge and production pilots below to those whose name "
                                            "holds every word typed.")
if bridge.empty and in_production.empty:
    st.caption("No pilot is in bridge or production.")


def _late_by(due) -> int | None:
    return (as_of - due).days if due and as_of > due else None


def bridge_cards() -> tuple[dict, pd.DataFrame]:
    """Each bridge pilot's card by id, and the table's rows: the latest
    first, then the soonest due; a pilot without a due date last."""
    cards = sorted(decisions.bridge_pilots(conn, [int(i) for i in bridge["id"]]),
                   key=lambda c: (c.pilot.bridge_due_date is None, c.pilot.bridge_due_date or as_of, c.pilot.name))
    return {c.pilot.id: c for c in cards}, pd.DataFrame(
        [{"id": c.pilot.id, "name": c.pilot.name, "due": c.pilot.bridge_due_date,
          "late": _late_by(c.pilot.bridge_due_date),
          "gaps": "ready to promote" if not c.gaps else plural(len(c.gaps), "gap")} for c in cards])


if not bridge.empty:
    card_of, rows = ui.derived("bridge cards", bridge_cards)
    if road_search:
        rows = rows[rows["id"].isin(pickers.matching(dict(zip(rows["id"], rows["name"])), road_search))]
    st.subheader(f"In bridge: {plural(len(rows), 'pilot')}")
    if rows.empty:
        st.caption(f"No bridge pilot matches “{md(road_search)}”.")
    else:
        shown = pickers.page_of(rows, "bridge-table", noun="pilot", reset_on=road_search)
        pickers.fresh_selection("bridge-table", (road_search, st.session_state.get("bridge-table-page")))
        st.caption("Select a row to open it, or pick the pilot below.")
        picked_row = st.dataframe(
            shown.drop(columns=["id"]), hide_index=True, width="stretch", key="bridge-table", on_select="rerun",
            selection_mode="single-row", placeholder=EMPTY_CELL,
            column_config={"name": "Pilot", "due": "Bridge due",
                           "late": st.column_config.NumberColumn("Days late", width="small"), "gaps": "Ready?"})
        on_page = [int(i) for i in shown["id"]]
        rows_picked = [r for r in (picked_row.selection.rows if picked_row else []) if 0 <= r < len(on_page)]
        # As the queue above: a picker of its own for each selected row.
        opened = on_page[rows_picked[0]] if rows_picked else 0
        chosen = pickers.search_select("Open a bridge pilot", {i: card_of[i].pilot.name for i in on_page},
                                       current=opened or None, key=f"bridge-pick-{opened}", query=road_search)
        card = card_of[chosen]
        pilot, gaps, checklist = card.pilot, card.gaps, card.checklist
        due = pilot.bridge_due_date
        late = f", {plural((as_of - due).days, 'day')} late" if due and as_of > due else ""
        with st.container(border=True, key=f"bridge-card-{pilot.id}"):
            st.markdown(f"**{md(pilot.name)}** · bridge due {due}{late} · "
                        + ("ready to promote" if not gaps else f"{len(gaps)} gap(s)"))
            for key, label in BRIDGE_ITEMS:
                st.markdown((":green[:material/check_circle:] " if checklist.get(key, {}).get("done") else ":gray[:material/radio_button_unchecked:] ") + label)
            st.markdown((":green[:material/check_circle:] " if pilot.operational_owner_id else ":gray[:material/radio_button_unchecked:] ") + "An operational owner")
            if may_promote:
                with forms.form(f"promote-{pilot.id}"):
                    reason = st.text_input("Override reason (only to promote with gaps)",
                                           key=f"promote-override-{pilot.id}")
                    if forms.submit("Promote to production", key=f"promote-go-{pilot.id}"):
                        # The promoted pilot leaves the table: no row stays selected for the next.
                        forms.save(lambda: decisions.promote(conn, actor, pilot.id, date.today(), reason),
                                   f"'{pilot.name}' is in production.",
                                   clear={"bridge-table": {"selection": {"rows": [], "columns": [], "cells": []}}})

if not in_production.empty:
    live = in_production[in_production["id"].isin(
        pickers.matching(dict(zip(in_production["id"], in_production["name"])), road_search))]
    st.subheader(f"In production: {plural(len(live), 'pilot')}")
    if live.empty:
        st.caption(f"No production pilot matches “{md(road_search)}”.")
    else:
        shown = pickers.page_of(live, "production-table", noun="pilot", reset_on=road_search)
        st.dataframe(shown[["name", "business_unit", "product_owner", "flags"]], hide_index=True, width="stretch",
                     key="production-table", placeholder=EMPTY_CELL,
                     column_config={"name": "Pilot", "business_unit": "Business unit",
                                    "product_owner": "Product owner", "flags": "Flags"})
        if may_promote:
            offered = {int(i): name for i, name in zip(shown["id"], shown["name"])}
            chosen = pickers.search_select("Retire a production pilot", offered, key="retire-pick", none=True,
                                           placeholder="Choose the pilot to retire", query=road_search)
            if chosen is not None:
                with forms.form(f"retire-{chosen}"):
                    st.markdown(f"**Retire {md(offered[chosen])}**")
                    stop_reason, lessons = stop_inputs(f"retire-{chosen}")
                    note = st.text_input("Note (optional)", key=f"retire-note-{chosen}")
                    if forms.submit("Retire", key=f"retire-go-{chosen}"):
                        forms.save(lambda: decisions.retire(conn, actor, chosen, date.today(), note,
                                                            stop_reason=stop_reason, lessons=lessons),
                                   f"'{offered[chosen]}' is retired.")
