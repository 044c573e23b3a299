"""Weekly update: a product owner posts health, summary, blockers and next
steps for one of their pilots in a couple of minutes. Posting again in the
same ISO week revises the update; the earlier text stays in the history."""

from datetime import date

import streamlit as st

from portfolio.domain import clock, rights
from portfolio.domain.rights import Right
from portfolio.domain.text import md
from portfolio.domain.vocabulary import Health
from portfolio.services import updates
from portfolio.storage import store
from portfolio.web import forms, pickers, ui

conn, actor, as_of = ui.conn(), ui.actor(), ui.as_of()
week = clock.week_start(as_of)

st.title("Weekly update")
st.caption(f"Week of {week:%d %B %Y} ({clock.iso_week_label(as_of)}).")
forms.show_flash()
if as_of != date.today():
    # An update is dated the day it is posted; posting from another as-of
    # day would back-date (or forward-date) it.
    st.info(f"You are looking at the portfolio as of {as_of}. Updates are posted for the current week: "
            "set **As of** in the sidebar back to today to post one.")
    st.stop()

# Every pilot read once per change to the data (ui.kept), not on every click.
mine = [
    p for p in ui.kept("pilots", lambda: store.list_pilots(conn))
    if p.stage.in_play and rights.may(actor, Right.POST_UPDATE, p)
]
if not mine:
    st.info(
        f"You ({md(actor.name)}, {actor.role.label}) hold the product owner or technical lead seat on no "
        "pilot that takes updates, so there is nothing to post."
    )
    st.stop()

done = store.weeks_with_update(conn, week, as_of)
# Those still waiting for this week's update come first.
mine.sort(key=lambda p: (p.id in done, p.name))
labels = {p.id: p.name + (" · updated this week" if p.id in done else " · needs this week's update") for p in mine}


def load_form(u) -> None:
    """Fill the form with this week's update of the chosen pilot, if any, so
    that a revision starts from what was posted. Done in the script, not in
    a callback: callbacks run before app.py has opened this run's database."""
    st.session_state.update({
        "update-health": u.health.value if u else None,
        "update-summary": u.summary if u else "",
        "update-blockers": u.blockers if u else "",
        "update-next-steps": u.next_steps if u else "",
    })


# The chosen pilot is kept under a key of our own, as Streamlit drops the
# picker's value while you are on another page. And it is set through
# session state on every run: the browser shows (and sends back) the label
# the picker had when the choice was made, and takes the label as it is now
# only with a value set from here, so after posting "needs this week's
# update" turns "updated this week".
# A reminder email links here with its pilot chosen (?pilot=ID): taken once,
# then dropped from the address so that picking another pilot sticks.
if "pilot" in st.query_params:
    try:
        asked = int(st.query_params.get("pilot", ""))
    except ValueError:
        asked = None
    del st.query_params["pilot"]
    if asked in labels:
        st.session_state["update-pilot"] = st.session_state["update-chosen-pilot"] = asked
    else:
        st.warning("The pilot in the link is not one you post updates for; pick one of yours below.")
chosen = st.session_state.get("update-pilot", st.session_state.get("update-chosen-pilot"))
st.session_state["update-pilot"] = chosen if chosen in labels else mine[0].id
# A search beyond pickers.PICKER_CAP pilots (leadership may post on every
# pilot); the chosen one stays offered whatever the search.
pilot_id = pickers.search_select("Pilot", labels, key="update-pilot", keep=[st.session_state["update-pilot"]],
                                 search_label="Find a pilot")
st.session_state["update-chosen-pilot"] = pilot_id
this_week = [u for u in store.list_updates(conn, pilot_id, as_of=as_of)[:1] if u.week_start == week]
# Load when the pilot or week changed, or when the form's fields were
# dropped (Streamlit forgets a page's widgets when you leave the page).
if st.session_state.get("update-loaded-for") != (pilot_id, week) or "update-summary" not in st.session_state:
    load_form(this_week[0] if this_week else None)
    st.session_state["update-loaded-for"] = (pilot_id, week)
if this_week:
    st.info(f"This week's update was posted by {md(this_week[0].author_name) or 'unknown'}; posting again "
            f"revises it (revision {this_week[0].revision + 1}) and keeps the earlier text in the history.")

with forms.form("weekly-update"):
    health = st.radio("Health", [h.value for h in Health], index=None, horizontal=True, key="update-health",
                      format_func=str.capitalize)
    summary = st.text_area("Summary", key="update-summary", placeholder="What moved this week, in a line or two")
    blockers = st.text_area("Blockers", key="update-blockers", height=80)
    next_steps = st.text_area("Next steps", key="update-next-steps", height=80)
    kpis = store.list_kpis(conn, pilot_id, as_of)
    kpi_values = {}
    if kpis:
        st.markdown("**KPI readings today** (leave blank to skip)")
        for k in kpis:
            last = f"last {k.latest_value:g} on {k.latest_on}" if k.latest_value is not None else "no reading yet"
            target = f", target {k.target:g}" if k.target is not None else ""
            kpi_values[k.id] = st.number_input(
                f"{md(k.name)}{f' ({md(k.unit)})' if k.unit else ''}: {last}{target}", value=None, format="%g",
                key=f"update-kpi-{k.id}")
    submitted = forms.submit("Post update", key="update-submit", type="primary")



def posted(result) -> str:
    _, revision = result
    verb = "Posted" if revision == 1 else f"Revised (revision {revision})"
    return f"{verb} the update for '{labels[pilot_id].split(' · ')[0]}'."


if submitted:
    forms.save(
        lambda: updates.post_weekly_update(
            conn, actor,
            {"pilot_id": pilot_id, "health": health or "", "summary": summary,
             "blockers": blockers, "next_steps": next_steps},
            as_of,
            readings=[{"kpi_id": kid, "value": v} for kid, v in kpi_values.items()],
        ),
        posted)
