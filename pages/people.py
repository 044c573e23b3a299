"""People: list, one person's seats and recent activity, add, edit,
deactivate with the handover of their seats. A person who leaves is
deactivated (archived), never deleted. And the organisation's business
units, which admins keep here beside its people: add, rename (every pilot
of the unit moves with it), retire one no longer offered. And each person's
calendar link and API tokens (their own; an admin anyone's)."""

import pandas as pd
import streamlit as st

from portfolio.domain import rights
from portfolio.domain.reminders import ALL_CATEGORIES, Category
from portfolio.domain.rights import Right
from portfolio.domain.text import EMPTY_CELL, md, plural
from portfolio.domain.vocabulary import Role
from portfolio.services import notify, units
from portfolio.services.people import (
    add_person,
    deactivate_person,
    edit_person,
    reactivate_person,
    reassign_seats,
    seats_affected,
)
from portfolio.storage import audit, store
from portfolio.web import forms, pickers, ui
from portfolio.web import tokens as access_tokens

conn, actor = ui.conn(), ui.actor()


def choices(persons: dict) -> dict[int, str]:
    """Who a picker offers, as it names them: "name · role · email"."""
    return {i: f"{p.label} · {p.email}" for i, p in persons.items()}


# Everyone, read once per change to the data (ui.everyone), not on every click.
by_id = ui.everyone()
people = list(by_id.values())
ROLES = [r.value for r in Role]

st.title("People")
forms.show_flash()

seats = store.live_seat_counts(conn)
s1, s2 = st.columns([1, 2], vertical_alignment="bottom")
show_inactive = s1.toggle("Show inactive people", value=True, key="people-show-inactive")
listed = [p for p in people if show_inactive or p.active]
search = ""
if len(listed) > pickers.PAGE_ROWS:
    search = pickers.search_input("Name or email", key="people-search", where=s2,
                                  help="Narrows the list to the people whose name or email holds every word typed.")
    found = set(pickers.matching({p.id: f"{p.name} {p.email}" for p in listed}, search))
    listed = [p for p in listed if p.id in found]
table = pd.DataFrame(
    [
        {"name": p.name, "email": p.email, "role": p.role.label,
         "active": p.active, "seats": seats.get(p.id, 0)}
        for p in listed
    ]
)
# A page of people at a time: the browser gets a page, not the organisation.
st.dataframe(pickers.page_of(table, "people-table", noun="person", reset_on=(show_inactive, search)),
             hide_index=True, width="stretch", key="people-table", placeholder=EMPTY_CELL,
             column_config={"name": "Name", "email": "Email", "role": "Role",
                            "active": st.column_config.CheckboxColumn("Active"),
                            "seats": st.column_config.NumberColumn("Seats on live pilots")})

# --- one person -------------------------------------------------------------
with st.expander("One person: seats and recent activity", icon=":material/person:"):
    who = pickers.search_select("Person", choices(by_id), none=True, placeholder="Choose a person",
                                key="person-view-pick", search_label="Find a person")
    if who:
        held = store.seats_held(conn, who)
        st.markdown(f"**{md(by_id[who].name)}** · {by_id[who].role.label}"
                    + ("" if by_id[who].active else " · inactive"))
        if held:
            st.dataframe(pd.DataFrame([{"Pilot": pl.name, "Seat": seat.label, "Stage": pl.stage.value,
                                        "Archived": pl.archived} for pl, seat in held]),
                         hide_index=True, width="stretch", key="person-view-seats", placeholder=EMPTY_CELL)
        else:
            st.caption("Holds no seat.")
        if rights.may(actor, Right.SEE_AUDIT) or actor.person_id == who:
            activity = audit.trail(conn, actor_id=who, limit=20)
            if activity.empty:
                st.caption("No recent activity on record.")
            else:
                st.markdown("Recent activity")
                shown = activity[["at", "action", "entity", "pilot", "change"]]
                st.dataframe(shown.assign(entity=shown["entity"].map(ui.entity_words)), hide_index=True,
                             width="stretch", key="person-view-activity", placeholder=EMPTY_CELL,
                             column_config={"at": st.column_config.DatetimeColumn("At (UTC)",
                                                                                  format="YYYY-MM-DD HH:mm"),
                                            "action": "Action", "entity": "What", "pilot": "Pilot",
                                            "change": st.column_config.TextColumn("Change", width="large")})

# --- business units -----------------------------------------------------------
kept_units = units.list_units(conn)
unit_by_id = {u.id: u for u in kept_units}
with st.expander(f"Business units ({len([u for u in kept_units if u.active])} offered)",
                 icon=":material/domain:"):
    st.caption("The units a pilot is given, one spelling each; a retired unit stays with its pilots and is "
               "offered to no other.")
    if kept_units:
        st.dataframe(pd.DataFrame([{"unit": u.name, "offered": u.active, "pilots": u.pilots} for u in kept_units]),
                     hide_index=True, width="stretch", key="units-table", placeholder=EMPTY_CELL,
                     column_config={"unit": "Business unit", "offered": "Offered", "pilots": "Pilots"})
    else:
        st.caption("No business units yet." + (" Add the first below." if rights.may(actor, Right.MANAGE_UNITS)
                                                else " An admin adds them."))
    if rights.may(actor, Right.MANAGE_UNITS):
        add_unit_tab, rename_tab, retire_tab = st.tabs(["Add a unit", "Rename a unit", "Retire or offer again"])
        with add_unit_tab:
            with forms.form("add-unit"):
                new_unit = st.text_input("Name", key="unit-name")
                if forms.submit("Add unit", key="unit-add", type="primary"):
                    forms.save(lambda: units.add_unit(conn, actor, {"name": new_unit}),
                               f"Added the business unit {new_unit.strip()}.", clear={"unit-name": ""})
        with rename_tab:
            renamed = st.selectbox("Business unit", list(unit_by_id), index=None, placeholder="Choose a unit",
                                   format_func=lambda i: unit_by_id[i].name, key="unit-rename-pick")
            if renamed:
                with forms.form(f"rename-unit-{renamed}"):
                    new_name = st.text_input("New name", value=unit_by_id[renamed].name,
                                             key=f"unit-rename-name-{renamed}")
                    st.caption(f"Its {plural(unit_by_id[renamed].pilots, 'pilot')} move with it.")
                    if forms.submit("Rename", key=f"unit-rename-go-{renamed}", type="primary"):
                        forms.save(lambda: units.rename_unit(conn, actor, renamed, {"name": new_name}),
                                   lambda saved: f"Renamed {unit_by_id[renamed].name} to {saved.name}.")
        with retire_tab:
            retired = st.selectbox("Business unit", list(unit_by_id), index=None, placeholder="Choose a unit",
                                   format_func=lambda i: unit_by_id[i].label, key="unit-retire-pick")
            if retired:
                unit = unit_by_id[retired]
                verb = "Retire" if unit.active else "Offer again"
                if st.button(f"{verb} {md(unit.name)}", key=f"unit-retire-go-{retired}"):
                    forms.save(lambda: units.set_unit_active(conn, actor, retired, not unit.active),
                               f"{'Retired' if unit.active else 'Offered again'}: {unit.name}.")

# --- email reminders -----------------------------------------------------------
with st.expander("Email reminders", icon=":material/mail:"):
    st.caption("A daily email lists what needs the person on the pilots where they hold a seat (and, for "
               "leadership, the decisions due this week and everything overdue), never the same reminder twice. "
               "An inactive person is never emailed.")
    choosable = [p for p in people if notify.may_set_preference(actor, p)]
    if not choosable:
        st.caption("Only active people choose their own emails; admins choose anyone's.")
    else:
        mine = by_id.get(actor.person_id)
        whom = pickers.search_select("Person", choices({p.id: p for p in choosable}),
                                     current=mine.id if mine in choosable else None, key="email-prefs-pick",
                                     disabled=len(choosable) == 1, search_label="Find a person")
        chosen_pref = notify.preference(conn, whom)
        with forms.form(f"email-prefs-{whom}"):
            email_me = st.toggle("Email me", value=chosen_pref.email_me, key=f"email-me-{whom}")
            categories = st.multiselect(
                "What the emails bring", [c.value for c in ALL_CATEGORIES],
                default=[c.value for c in chosen_pref.categories], key=f"email-categories-{whom}",
                format_func=lambda c: Category(c).label)
            if forms.submit("Save email choices", key=f"email-save-{whom}", type="primary"):
                forms.save(lambda: notify.set_preference(conn, actor, whom,
                                                         {"email_me": email_me, "categories": categories}),
                           f"Saved the email choices of {by_id[whom].name}.")

# --- calendar link and API tokens (own; admins anyone's) ---------------------
access_tokens.section(conn, actor, people)

if not rights.may(actor, Right.MANAGE_PEOPLE):
    st.caption(f"You ({actor.role.label}) can read the people list; admins manage it.")
    st.stop()

def handover_inputs(person_id: int, seats, prefix: str) -> dict:
    """One picker per seat held: who takes it (or nobody yet), in one step."""
    if not seats:
        return {}
    st.markdown("Hand each seat to someone else (or leave it: a pilot without its product owner is "
                "ownerless until someone takes it).")
    takers = [q for i, q in by_id.items() if q.active and i != person_id]
    others = {None: "— leave it —"} | {q.id: q.label for q in takers}
    choice = {}
    for pl, seat in seats:
        # A search beyond pickers.PICKER_CAP people (by name or email); leaving it is always offered.
        choice[(pl.id, seat.value)] = pickers.search_select(
            f"{seat.label} of '{md(pl.name)}'", others, keep=[None], also={q.id: q.email for q in takers},
            key=f"{prefix}-{person_id}-{pl.id}-{seat.value}", search_label="Find who takes it",
        )
    return choice


add, edit, leave = st.tabs(["Add a person", "Edit a person", "Deactivate or reactivate"])

with add:
    with forms.form("add-person"):
        name = st.text_input("Name", key="person-name")
        email = st.text_input("Email", key="person-email", help="The identity: unique, any case.")
        role = st.selectbox("Role", ROLES, index=ROLES.index("product_owner"), key="person-role",
                            format_func=lambda r: Role(r).label)
        if forms.submit("Add person", key="person-add", type="primary"):
            forms.save(lambda: add_person(conn, actor, {"name": name, "email": email, "role": role}),
                       f"Added {name.strip()}.", clear={"person-name": "", "person-email": ""})

with edit:
    target = pickers.search_select("Person", choices(by_id), key="edit-person-pick", search_label="Find a person")
    if target:
        p = by_id[target]
        with forms.form(f"edit-person-{target}"):
            e_name = st.text_input("Name", value=p.name, key=f"edit-person-name-{target}")
            e_email = st.text_input("Email", value=p.email, key=f"edit-person-email-{target}")
            e_role = st.selectbox("Role", ROLES, index=ROLES.index(p.role.value),
                                  key=f"edit-person-role-{target}", format_func=lambda r: Role(r).label)
            if forms.submit("Save", key=f"edit-person-save-{target}", type="primary"):
                forms.save(lambda: edit_person(conn, actor, target,
                                                        {"name": e_name, "email": e_email, "role": e_role}),
                           lambda saved: f"Saved {saved.name}.")

with leave:
    target = pickers.search_select("Person", choices(by_id), key="deactivate-pick", search_label="Find a person")
    if target:
        p = by_id[target]
        if p.active:
            affected = seats_affected(conn, target)
            owned = [pl.name for pl, seat in affected if seat.value == "product_owner_id"]
            if affected:
                st.warning(
                    f"{md(p.name)} holds {len(affected)} seat(s) on live pilots: "
                    + "; ".join(f"{seat.label} of '{md(pl.name)}'" for pl, seat in affected)
                    + (f". Deactivating them makes {len(owned)} pilot(s) ownerless at once: "
                       + ", ".join(f"'{md(n)}'" for n in owned) if owned else "")
                    + "."
                )
            else:
                st.caption(f"{md(p.name)} holds no seat on a live pilot.")
            handover = handover_inputs(target, affected, "handover")
            confirm = st.checkbox(f"I understand: deactivate {md(p.name)}", key=f"deactivate-confirm-{target}")
            if st.button("Deactivate" + (" and hand over" if any(handover.values()) else ""),
                         key=f"deactivate-go-{target}", disabled=not confirm, type="primary"):

                def deactivated(left) -> str:
                    orphaned = [pl.name for pl, seat in left if seat.value == "product_owner_id"]
                    moved = sum(1 for v in handover.values() if v)
                    return (f"Deactivated {p.name}" + (f"; handed over {moved} seat(s)" if moved else "") + "."
                            + (f" Now ownerless: {', '.join(orphaned)}." if orphaned else ""))

                forms.save(lambda: deactivate_person(conn, actor, target, handover), deactivated)
        else:
            st.caption(f"{md(p.name)} is inactive.")
            still = seats_affected(conn, target)
            if still:
                st.warning(f"{md(p.name)} still holds {len(still)} seat(s) on live pilots.")
                handover = handover_inputs(target, still, "reassign")
                if st.button("Hand over these seats", key=f"reassign-go-{target}", type="primary",
                             disabled=not any(handover.values())):
                    forms.save(lambda: reassign_seats(conn, actor, target, handover),
                               lambda moved: f"Handed over {moved} seat(s) of {p.name}.")
            if st.button("Reactivate", key=f"reactivate-go-{target}"):
                forms.save(lambda: reactivate_person(conn, actor, target), f"Reactivated {p.name}.")
