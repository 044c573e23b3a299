"""The router and picture frame: page config, who is signed in, the sidebar's
"as of" date, and navigation over pages/. Each run holds one database
connection and releases it at the end, so the command line can work while
the app is serving."""

import duckdb
import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import StopException

from portfolio.domain.errors import PortfolioError
from portfolio.domain.settings import db_path, load_settings
from portfolio.domain.text import md
from portfolio.services import people
from portfolio.storage import db
from portfolio.web import forms, ui

st.set_page_config(page_title="Pilot portfolio", layout="wide")

typed = ui.keep_typed()  # before this run can be cut short or fail
try:
    settings = load_settings()
    conn = db.connect(db_path())
    read_only = db.is_read_only(conn)
except PortfolioError as exc:
    # No page without the database (held by a command, missing, damaged):
    # say why, keep what the person typed, and let them try again.
    forms.show_error(exc)
    if typed:
        st.caption("What you typed is kept: press **Try again** (not the browser's reload) to carry on.")
    st.button("Try again", key="database-try-again", icon=":material/refresh:")
    st.stop()

if read_only:
    # db.connect fell back to reading: show what there is, say why saving fails.
    st.warning("The database is read-only: you can look at everything, but nothing you save will be kept. "
               "Whoever runs the app must make the database file and its folder writable.",
               icon=":material/lock:")

try:
    mode = ui.auth_mode()
    actor = ui.resolve_actor(conn, mode)
    as_of = ui.as_of_picker()
    with st.sidebar:
        st.markdown(f"**{md(actor.name)}** · {actor.role.label}")
        first_admin_missing = people.needs_first_admin(conn)
        if mode == ui.AUTH_LOCAL and first_admin_missing:
            st.caption(":orange[Local mode]: nobody to act as yet; this portfolio needs its first admin (see the page).")
        elif mode == ui.AUTH_LOCAL:
            st.caption(
                ":orange[Local mode]: no sign-in is configured; set PORTFOLIO_USER or use "
                "the picker above. Not for a shared server: turn it off with PORTFOLIO_LOCAL_MODE=off."
            )
        elif actor.person_id is None:
            st.caption("Your identity matches no active person: you can read, not write.")
        else:
            st.caption(f"Signed in ({mode}).")
        if mode == ui.AUTH_OIDC:
            # Whoever signed in can sign out, known to the portfolio or not.
            st.button("Sign out", key="sign-out", on_click=st.logout)

    if first_admin_missing:
        ui.first_admin_note()
    ui.begin_run(ui.RunContext(conn=conn, actor=actor, as_of=as_of, settings=settings, auth_mode=mode))
    page = st.navigation(ui.pages())
    ui.restore_drafts()
    forms.apply_set_on_next_run()
    try:
        page.run()
    except StopException:  # the page stopped early: what it showed is kept all the same
        ui.keep_drafts()
        raise
    ui.keep_drafts()  # not after a save, whose rerun shows the form afresh
except PortfolioError as exc:
    forms.show_error(exc)
except duckdb.Error as exc:
    # A read that meets a damaged block, or storage failing under a read.
    problem = db.storage_error(exc, db_path())
    if problem is None:
        raise
    forms.show_error(problem)
finally:
    ui.end_run()
    conn.close()
