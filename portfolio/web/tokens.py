"""The People page's "Calendar link and API tokens": a person makes their
calendar link (making a new one stops the old address at once) and their API
tokens, sees what they hold and revokes a token; an admin does so for
anyone. A token is shown once, right after it is made, and kept in this
browser session only until the person says they have copied it: the
database holds its hash alone."""

from __future__ import annotations

import os
import urllib.parse

import pandas as pd
import streamlit as st

from portfolio.domain.models import Actor, Person
from portfolio.domain.text import EMPTY_CELL, md
from portfolio.domain.tokens import Purpose
from portfolio.services import tokens
from portfolio.web import forms, pickers

# Where a token just made waits to be copied (this session only).
_SHOWN = "_token-just-made"


def app_address() -> str:
    """The app's address as people reach it: PORTFOLIO_BASE_URL when set
    (behind a proxy), else the address this browser opened, without its page."""
    configured = (os.environ.get("PORTFOLIO_BASE_URL") or "").strip()
    if configured:
        return configured.rstrip("/")
    opened = st.context.url or "http://localhost:8501/"
    parts = urllib.parse.urlsplit(opened)
    path = parts.path.rsplit("/", 1)[0]  # drop the page's own part
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", "")).rstrip("/")


def calendar_urls(token: str) -> tuple[str, str]:
    """The person's own feed and the whole portfolio's, for this token."""
    base = f"{app_address()}/calendar/{token}"
    return f"{base}/mine.ics", f"{base}/portfolio.ics"


def _remember(person_id: int, purpose: Purpose, label: str):
    def keep(token: str) -> None:
        st.session_state[_SHOWN] = {"person_id": person_id, "purpose": purpose.value, "label": label,
                                    "token": token}
    return keep


def _show_just_made(person: Person) -> None:
    made = st.session_state.get(_SHOWN)
    if not made or made["person_id"] != person.id:
        return
    with st.container(border=True, key="token-just-made"):
        if made["purpose"] == Purpose.CALENDAR.value:
            mine, whole = calendar_urls(made["token"])
            st.markdown("**Copy the calendar addresses now**: they are shown only this once. Subscribe to them "
                        "in Outlook, Google Calendar or Apple Calendar (\"add calendar from URL\").")
            st.caption(f"{md(person.name)}'s pilots (where they hold a seat)")
            st.code(mine, language=None)
            st.caption("The whole portfolio")
            st.code(whole, language=None)
        else:
            st.markdown(f"**Copy the API token '{md(made['label'])}' now**: it is shown only this once. Send it "
                        "as `Authorization: Bearer <token>`.")
            st.code(made["token"], language=None)
        if st.button("I have copied it", key="token-copied"):
            st.session_state.pop(_SHOWN, None)
            st.rerun()


def section(conn, actor: Actor, people: list[Person]) -> None:
    """The expander: the acting person's own links and tokens; an admin
    picks anyone."""
    if actor.person_id is None:
        return
    mine_only = not tokens.may_manage_anyones(actor)
    choices = [p for p in people if p.active and (not mine_only or p.id == actor.person_id)]
    if not choices:
        return
    with st.expander("Calendar link and API tokens", icon=":material/key:"):
        st.caption("A calendar link lets a calendar subscribe to the go/no-go dates, bridge due dates and "
                   "privilege expiries; an API token lets a tool read the portfolio and post updates as you. "
                   "Each is shown once, when made; the tracker keeps only a fingerprint of it.")
        by_id = {p.id: p for p in choices}
        own = actor.person_id if actor.person_id in by_id else choices[0].id
        if mine_only:
            person = by_id[own]
        else:
            picked = pickers.search_select("Person", {i: f"{p.name} · {p.email}" for i, p in by_id.items()},
                                           current=own, key="token-person-pick", search_label="Find a person")
            person = by_id[picked]
        _show_just_made(person)
        held = tokens.list_tokens(conn, actor, person.id)
        calendar = [t for t in held if t.purpose == Purpose.CALENDAR.value]
        api = [t for t in held if t.purpose == Purpose.API.value]

        st.markdown("**Calendar link**")
        if calendar:
            st.caption(f"Made on {calendar[-1].created_at:%d %b %Y}. Lost it, or shared it by mistake? Make a new "
                       "one: the old address stops at once.")
        else:
            st.caption("No calendar link yet.")
        if st.button("Make a new calendar link" if calendar else "Make a calendar link", key="calendar-link-new"):
            forms.save(lambda: tokens.new_calendar_link(conn, actor, person.id),
                       "Made a new calendar link" + (": the old one no longer works." if calendar else "."),
                       then=_remember(person.id, Purpose.CALENDAR, "calendar"))

        st.markdown("**API tokens**")
        if api:
            st.dataframe(pd.DataFrame([{"label": t.label, "made": t.created_at} for t in api]),
                         hide_index=True, width="stretch", key="api-tokens-table", placeholder=EMPTY_CELL,
                         column_config={"label": "Name",
                                        "made": st.column_config.DatetimeColumn("Made (UTC)",
                                                                                format="YYYY-MM-DD HH:mm")})
            by_token = {t.id: t for t in api}
            gone = st.selectbox("Revoke", list(by_token), index=None, placeholder="Choose a token to revoke",
                                format_func=lambda i: by_token[i].label, key="api-token-revoke-pick")
            if gone and st.button(f"Revoke '{md(by_token[gone].label)}'", key="api-token-revoke"):
                forms.save(lambda: tokens.revoke_token(conn, actor, gone),
                           f"Revoked the API token '{by_token[gone].label}': it no longer works.")
        else:
            st.caption("No API token yet.")
        with forms.form(f"api-token-{person.id}"):
            label = st.text_input("Name of a new token", key=f"api-token-label-{person.id}",
                                  placeholder="What will use it, e.g. Jira automation")
            if forms.submit("Make an API token", key=f"api-token-add-{person.id}"):
                forms.save(lambda: tokens.new_api_token(conn, actor, person.id, {"label": label}),
                           f"Made the API token '{label.strip()}'.", clear={f"api-token-label-{person.id}": ""},
                           then=_remember(person.id, Purpose.API, label.strip()))
