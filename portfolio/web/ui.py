"""The run of a page: who is signed in, the as-of date, the connection of
this page run, and the portfolio-wide reads kept between runs. Forms and
what a save shows live in web.forms; the pilot page's tabs in web.pilot.

app.py opens one connection per page run and closes it after, so the
command line can use the database between runs (see db.py). Pages read what
they need from here instead of reaching into session state themselves.
"""

from __future__ import annotations

import functools
import os
import shlex
import threading
from dataclasses import dataclass, replace
from datetime import date

import duckdb
import streamlit as st

from portfolio.domain.errors import PortfolioError
from portfolio.domain.models import Actor, Person
from portfolio.domain.settings import Settings, db_path
from portfolio.domain.vocabulary import ROLE_ORDER, Role
from portfolio.services import signin
from portfolio.services.reporting import overview
from portfolio.storage import audit, db, store
from portfolio.web import forms, pickers

AUTH_OIDC = "oidc"
AUTH_HEADER = "trusted header"
AUTH_LOCAL = "local"
AUTH_NONE = "none"  # local mode turned off and no sign-in configured


@dataclass
class RunContext:
    conn: object
    actor: Actor
    as_of: date
    settings: Settings
    auth_mode: str


_local = threading.local()

# Sidebar choices kept in session state under keys of their own: Streamlit
# gives a widget a new identity on each page, so on a page switch a widget
# starts again from the value it is created with, which is read from here.
ACTING_AS = "acting-as-person"
AS_OF_DATE = "as-of-date"
# Local mode only: the page's address names whom you act as (?as=email), so
# that a reload, which starts a new session, keeps them. The sign-in modes
# never look at it.
ACT_AS_PARAM = "as"


def pages() -> list:
    """The app's pages, registered by app.py with st.navigation."""
    return [
        st.Page("pages/portfolio.py", title="Portfolio", icon=":material/dashboard:", default=True),
        st.Page("pages/decisions.py", title="Decisions", icon=":material/gavel:"),
        st.Page("pages/pilot.py", title="Pilot", icon=":material/rocket_launch:"),
        st.Page("pages/weekly_update.py", title="Weekly update", icon=":material/edit_note:"),
        st.Page("pages/stopped.py", title="Stopped pilots", icon=":material/history_edu:"),
        st.Page("pages/people.py", title="People", icon=":material/group:"),
        st.Page("pages/checklist.py", title="Readiness checklist", icon=":material/checklist:"),
        st.Page("pages/import.py", title="Import", icon=":material/upload_file:"),
        st.Page("pages/changes.py", title="What changed", icon=":material/difference:"),
        st.Page("pages/audit.py", title="Audit", icon=":material/history:"),
    ]


# Where a page's full run leaves its run context (without the connection)
# for the reruns of its fragments.
_FOR_FRAGMENTS = "_run-for-fragments"


def begin_run(run: RunContext) -> None:
    _local.ctx = run
    st.session_state[_FOR_FRAGMENTS] = replace(run, conn=None)


def end_run() -> None:
    _local.ctx = None
    _local.version = None


def ctx() -> RunContext:
    run = getattr(_local, "ctx", None)
    if run is None:
        _route_through_app()
    return run


def _route_through_app() -> None:
    """A page's script ran without app.py: Streamlit's older pages/-folder
    mode ran it alone. Streamlit serves a pages/ folder that way until a
    session of the process declares ``st.navigation``, and from then on
    ignores the folder in every session (the documented behaviour, see
    https://docs.streamlit.io/develop/api-reference/navigation/st.navigation);
    so only the first run of a server process that lands on a page's
    address (/pilot?id=3) comes here. Declaring the navigation ends that
    mode for the process, and the rerun goes through app.py, which signs
    in, opens the database and runs this page."""
    st.navigation(pages(), position="hidden")
    st.rerun()


def fragment(part):
    """``st.fragment`` for a part of a page whose widgets should rerun that
    part alone (a picker, a form's submit) instead of the whole page. Such a
    rerun does not go through app.py, so the part gets a run of its own:
    this session's date and settings as the page's last full run had them,
    its person as the database has them now, and a connection released at
    the end, like a page run's. A save in it reruns the whole page
    (``forms.save``), so what it changed shows everywhere."""

    @st.fragment
    @functools.wraps(part)
    def alone(*args, **kwargs):
        if getattr(_local, "ctx", None) is not None:  # within the page's full run
            return part(*args, **kwargs)
        last = st.session_state.get(_FOR_FRAGMENTS)
        if last is None:  # no full run to borrow from: run the page
            st.rerun()
        try:
            conn = db.connect(db_path())
        except PortfolioError as exc:
            forms.show_error(exc)
            return None
        try:
            _local.ctx = replace(last, conn=conn, actor=_as_now(conn, last.actor))
            shown = part(*args, **kwargs)
            keep_drafts()  # as app.py after a page's run
            return shown
        except PortfolioError as exc:
            forms.show_error(exc)
            return None
        except duckdb.Error as exc:  # as app.py: storage failing under a read
            problem = db.storage_error(exc, db_path())
            if problem is None:
                raise
            forms.show_error(problem)
            return None
        finally:
            end_run()
            conn.close()

    return alone


def _as_now(conn, actor: Actor) -> Actor:
    """The person of the last full run as the database has them now: a role
    changed or a deactivation since counts in a fragment's rerun too."""
    if actor.person_id is None:
        return actor
    return Actor.of(store.get_person(conn, actor.person_id))


def conn():
    return ctx().conn


def actor() -> Actor:
    return ctx().actor


def as_of() -> date:
    return ctx().as_of


def settings() -> Settings:
    return ctx().settings


# --- portfolio-wide reads, kept between runs ----------------------------------


# Every click on the Portfolio page reruns it, and its portfolio-wide reads
# (the flags above all) are the costly part of a run: about half a second
# at 10,000 pilots. Each is kept for this many (read, database, data
# version, as-of date, settings).
READS_KEPT = 16


@st.cache_resource(max_entries=READS_KEPT, show_spinner=False)
def _kept(name: str, version: tuple, as_of: date, settings_key: str, _compute):
    return _compute()


def _version_of(conn) -> tuple:
    """``audit.data_version`` as this run's connection found it, read once
    per run (a page's, or a fragment's own, each with a connection of its
    own): every kept read and chart of the run is keyed on it. A save reruns
    the page (``forms.save``), so a run's reads never follow a change it
    made itself."""
    found = getattr(_local, "version", None)
    if found is None or found[0] is not conn:
        found = _local.version = (conn, audit.data_version(conn))
    return found[1]


def data_version() -> tuple:
    """The data version this run read (see ``_version_of``)."""
    return _version_of(ctx().conn)


def kept(name: str, compute):
    """``compute()`` (a read of the whole portfolio as of this run's date),
    done once per change to the data (``audit.data_version``, which sees
    the command line's changes too) and shared by every session until the
    next change. Shared, so read only."""
    run = ctx()
    return _kept(name, data_version(), run.as_of, run.settings.model_dump_json(), compute)


# What pages derive from the kept reads for what they show (a chart, a
# filtered table, a list of options) is kept apart from the reads, so that
# paging or trying filters never pushes the portfolio itself out: each
# (name, database, data version, as-of date, settings) is built once.
DERIVED_KEPT = 32


@st.cache_resource(max_entries=DERIVED_KEPT, show_spinner=False)
def _derived(name: str, version: tuple, as_of: date, settings_key: str, _build):
    return _build()


def derived(name: str, build):
    """``build()``, something a page draws from the portfolio as of this
    run's date (a Plotly figure, the rows a filter leaves), built once per
    change to the data like ``kept``'s reads. ``name`` says what it is,
    with every filter and page it depends on. Shared, so read only (a
    figure is: ``st.plotly_chart`` only reads it)."""
    run = ctx()
    return _derived(name, data_version(), run.as_of, run.settings.model_dump_json(), build)


def everyone() -> dict[int, Person]:
    """Every person by id, active or not, in ``store.list_people``'s order:
    read once per change to the data and shared by every page that lists
    or names people. Shared, so read only."""
    return kept("people by id", lambda: {p.id: p for p in store.list_people(ctx().conn)})


def portfolio() -> overview.Overview:
    """The portfolio with its flags and numbers, as of this run's date."""
    run = ctx()
    return kept("portfolio", lambda: overview.build(run.conn, run.as_of, run.settings))


# --- identity -------------------------------------------------------------


def auth_mode() -> str:
    """OIDC when Streamlit's sign-in is configured ([auth] in secrets.toml),
    else a trusted proxy header when PORTFOLIO_TRUSTED_HEADER names one,
    else local mode, unless PORTFOLIO_LOCAL_MODE=off turns it off."""
    try:
        if "auth" in st.secrets:
            return AUTH_OIDC
    except Exception:  # no secrets file at all: sign-in is not configured
        pass
    if os.environ.get("PORTFOLIO_TRUSTED_HEADER", "").strip():
        return AUTH_HEADER
    if not signin.local_mode_allowed(os.environ.get("PORTFOLIO_LOCAL_MODE")):
        return AUTH_NONE
    return AUTH_LOCAL


def _unknown(email: str | None) -> Actor:
    return Actor(person_id=None, name=email or "anonymous", email=email, role=Role.VIEWER)


def _refuse_unless_loopback(mode: str) -> None:
    """Local mode makes whoever reaches the port an admin, and a trusted
    header can be sent by anyone who reaches Streamlit directly: both are
    refused unless Streamlit listens on this machine only."""
    address = st.get_option("server.address")
    if signin.serves_loopback_only(address):
        return
    where = (f"on {address}" if address and address.strip() not in ("0.0.0.0", "::")
             else "on every network interface")
    st.title("Pilot portfolio")
    st.error(
        f"This server listens {where}, so anyone who reaches it could "
        + ("act as anyone (local mode). " if mode == AUTH_LOCAL else "claim to be anyone with the trusted header. ")
        + "Either listen on this machine only (server.address = \"127.0.0.1\" in .streamlit/config.toml, "
        "or --server.address 127.0.0.1), with a sign-in proxy in front for a network; or configure OIDC sign-in "
        "([auth] in .streamlit/secrets.toml). See the README's \"Who is signed in\".",
        icon=":material/lock:",
    )
    st.stop()


def resolve_actor(conn, mode: str) -> Actor:
    if mode in (AUTH_LOCAL, AUTH_HEADER):
        _refuse_unless_loopback(mode)
    if mode == AUTH_OIDC:
        if not st.user.get("is_logged_in"):
            st.title("Pilot portfolio")
            st.write("Sign in to see the portfolio.")
            st.button("Sign in", key="sign-in", on_click=st.login)
            st.stop()
        email = st.user.get("email")
        return signin.actor_for_email(conn, email) or _unknown(email)
    if mode == AUTH_HEADER:
        header = os.environ["PORTFOLIO_TRUSTED_HEADER"].strip()
        secret = os.environ.get("PORTFOLIO_TRUSTED_HEADER_SECRET") or None
        problem = signin.trusted_header_problem(st.context.headers, header, secret)
        if problem:
            st.sidebar.warning(problem, icon=":material/lock:")
        return signin.actor_for_header(conn, st.context.headers, header, secret)
    if mode == AUTH_NONE:
        st.title("Pilot portfolio")
        st.error("Sign-in is not configured and local mode is off, so nobody can be identified. "
                 "Configure OIDC sign-in ([auth] in .streamlit/secrets.toml) or a trusted proxy header "
                 "(PORTFOLIO_TRUSTED_HEADER); see the README.", icon=":material/lock:")
        st.stop()
    return _local_actor(conn)


@st.cache_resource(max_entries=4, show_spinner=False)
def _people_choices(version: tuple, _conn) -> tuple[list, dict, dict]:
    """The active people (``store.active_people_choices``), their labels
    ("name · role", told apart where two share one: ``pickers.distinct``)
    and their emails by id, as of data ``version``. Shared, so read only.
    Kept on the data version like the portfolio's reads, so a person
    changed by hand in the database, bypassing the audit, shows once the
    next change is recorded."""
    people = store.active_people_choices(_conn)
    labels = pickers.distinct({p[0]: f"{p[1]} · {Role(p[3]).label}" for p in people})
    return people, labels, {p[0]: p[2] for p in people}


def _local_actor(conn) -> Actor:
    """Local mode: PORTFOLIO_USER, or the first active admin, and a picker in
    the sidebar to act as someone else (for trying the app on one machine).
    With PORTFOLIO_USER set, the picker offers no one of a higher role than
    that person's; an email that names no active person only reads."""
    # (id, name, email, role) of the active people, with the picker's labels
    # and emails: read once per change to the data, for the picker is on
    # every page run, however many people there are.
    people, everyone_label, everyone_email = _people_choices(_version_of(conn), conn)
    user_email = (os.environ.get("PORTFOLIO_USER") or "").strip().lower()
    if user_email:
        user = next((p for p in people if p[2] == user_email), None)
        if user is None:
            st.sidebar.warning(f"PORTFOLIO_USER ({user_email}) names no active person: you can read, not write.",
                               icon=":material/person_off:")
            return _unknown(user_email)
        highest = ROLE_ORDER.index(Role(user[3]))
        people = [p for p in people if ROLE_ORDER.index(Role(p[3])) <= highest]
        default = user
    elif not people:
        return _unknown(None)
    else:
        default = next((p for p in people if p[3] == Role.ADMIN.value), people[0])
    if user_email:
        label = {p[0]: everyone_label[p[0]] for p in people}
        emails = {p[0]: everyone_email[p[0]] for p in people}
    else:
        label, emails = everyone_label, everyone_email
    current = st.session_state.get(ACTING_AS)
    if current not in label:
        # A reload starts a new session, empty: the page's address keeps
        # whom you act as, an email honoured only if it names someone the
        # picker offers (an active person, up to PORTFOLIO_USER's role).
        wanted = str(st.query_params.get(ACT_AS_PARAM, "")).strip().lower()
        current = next((p[0] for p in people if p[2] == wanted), default[0])
    # A search beyond pickers.PICKER_CAP people: the browser gets the first
    # matches, not the organisation.
    chosen = pickers.search_select(
        "Act as (local mode only)",
        label,
        current=current,
        also=emails,  # found by email too
        made_distinct=True,
        key="act-as",
        search_label="Find someone to act as",
        where=st.sidebar,
        on_change=_remember("act-as", ACTING_AS),
        help="Local mode: no sign-in is configured, so you can act as anyone"
        + (" up to PORTFOLIO_USER's role" if user_email else "")
        + ". Configure OIDC sign-in or a trusted proxy header before sharing the app.",
    )
    email = emails[chosen]
    if st.query_params.get(ACT_AS_PARAM) != email:
        st.query_params[ACT_AS_PARAM] = email
    return Actor.of(store.get_person(conn, chosen))


def as_of_picker() -> date:
    """The sidebar's "as of" date, kept across pages."""
    return st.sidebar.date_input(
        "As of",
        value=st.session_state.get(AS_OF_DATE, date.today()),
        key="as-of",
        help="Every page shows the portfolio as it stood on this day.",
        on_change=_remember("as-of", AS_OF_DATE),
    )


# The kinds of widget value a run may set back through session state: text,
# numbers, choices, dates, ticks. Streamlit refuses it for buttons, uploads
# and editors, whose values are acts, not typing.
_SETTABLE_VALUES = {"string_value", "int_value", "double_value", "bool_value",
                    "string_array_value", "int_array_value", "double_array_value"}
# Widgets that keep their value under a key of their own (see _remember).
_REMEMBERED: set[str] = set()


def entity_words(entity: str) -> str:
    """What an audit record is about, in words: "weekly update", not weekly_update."""
    known = audit.ENTITIES.get(entity)
    return known.label if known is not None else str(entity).replace("_", " ")


def first_admin_note() -> None:
    """A portfolio without an admin cannot be set up from the app (nobody
    may add people or pilots): say what to run, on the machine that holds
    the database, to give it its first admin."""
    st.info("**This portfolio has no admin yet**, so nobody can add people or pilots. On the machine that "
            "holds the database, give it its first admin with the command below (your own email and name), "
            "then open the app again acting as that admin:", icon=":material/person_add:")
    path = shlex.quote(str(db_path()))
    st.code(f".venv/bin/python -m portfolio init --db {path} --admin you@example.org --name \"Your Name\"\n"
            f"make run PORTFOLIO_DB={path} PORTFOLIO_USER=you@example.org", language="bash", wrap_lines=True)


# What a person typed into a page's forms and has not saved, by page (its
# script hash) and field (widget key), kept under a key of our own:
# Streamlit drops the value of every widget a run does not show (on leaving
# the page, when the page shows no form for another as-of date, when a run
# cannot open the database), and this key it leaves alone. Put back before
# the fields exist the next time the page runs (``restore_drafts``), so the
# form shows what was typed. The fields are those of the forms made with
# ``forms.form``; a field holds a draft while its value differs from the one
# the page gave it (its default, a record loaded into it, the form as saved).
DRAFTS = "_drafts"
_GIVEN = "_drafts-given"  # page -> field -> the value the page last gave it
_FORM_FIELDS = "_form-fields"  # page -> the widget keys its forms own


def _this_page() -> str:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    return get_script_run_ctx().page_script_hash


def _per_page(name: str, page: str | None = None) -> dict:
    return st.session_state.setdefault(name, {}).setdefault(page or _this_page(), {})


def widgets_shown() -> frozenset[str]:
    """The ids of the widgets this run has shown so far."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    return get_script_run_ctx().shared.widget_ids_this_run.snapshot()


def note_form_fields(widget_ids) -> None:
    """``forms.form`` notes the fields it holds, as the page's form fields."""
    from streamlit.runtime.state.common import user_key_from_element_id

    fields = _per_page(_FORM_FIELDS)
    for widget_id in widget_ids:
        key = user_key_from_element_id(widget_id)
        if key is not None:
            fields[key] = True


# A value a field can be given back: typed text, numbers, choices, dates, ticks.
_PLAIN = (str, int, float, bool, date, type(None))
_NO_DEFAULT = object()


def _plain(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(isinstance(v, _PLAIN) for v in value)
    return isinstance(value, _PLAIN)


def _fields(widget_ids, owned: dict) -> dict:
    """The fields among ``widget_ids`` that ``owned`` names and whose values
    a run may set back (not buttons, uploads or editors): key -> (value,
    the value the field starts with when nothing is set)."""
    from streamlit.runtime.state.common import user_key_from_element_id
    from streamlit.runtime.state.session_state_proxy import get_session_state

    state = get_session_state()._state
    fields = {}
    for widget_id in widget_ids:
        key = user_key_from_element_id(widget_id)
        metadata = state.get_widget_metadata(widget_id)
        if key not in owned or key in _REMEMBERED or metadata is None or metadata.value_type not in _SETTABLE_VALUES:
            continue
        try:
            value = st.session_state[key]
        except KeyError:  # a widget of an earlier page, no longer known
            continue
        if not _plain(value):
            continue
        try:
            default = metadata.deserializer(None)
        except Exception:  # no default to be worked out: any value is a draft
            default = _NO_DEFAULT
        fields[key] = (value, default)
    return fields


def _keep(page: str, fields: dict, set_here: frozenset = frozenset()) -> None:
    """Keep as drafts of ``page`` the values of ``fields`` that differ from
    the values the page gave them; ``set_here`` are the fields this run set
    itself (a record loaded into them, a form emptied after a save)."""
    drafts, given = _per_page(DRAFTS, page), _per_page(_GIVEN, page)
    for key, (value, default) in fields.items():
        if key in set_here and not (key in drafts and value == drafts[key]):  # not a draft put back
            given[key] = value
        if value == given.get(key, default):
            drafts.pop(key, None)
        else:
            drafts[key] = value


def keep_typed() -> bool:
    """At the start of every run, before anything else: keep what the browser
    sent for the form fields of every page. A run may never reach its end:
    one started by leaving a field is cut short by a click on another page
    in the sidebar, and one that cannot open the database shows no page;
    what the person typed and sent would be lost with it. Returns whether
    this page has anything typed kept (from this run or an earlier one)."""
    from streamlit.runtime.state.session_state_proxy import get_session_state

    sent = [w.id for w in get_session_state().get_widget_states()]
    for page, owned in st.session_state.get(_FORM_FIELDS, {}).items():
        _keep(page, _fields(sent, owned))
    return bool(_per_page(DRAFTS))


def has_draft(match) -> bool:
    """Whether a field of this page whose key ``match`` accepts holds a
    draft: typed and not saved."""
    return any(match(key) for key in _per_page(DRAFTS))


def keep_drafts() -> None:
    """At the end of a page's run (or a fragment's): the same for the form
    fields it showed, now that the page has given them their values."""
    from streamlit.runtime.state.session_state_proxy import get_session_state

    state = get_session_state()
    fields = _fields(widgets_shown(), _per_page(_FORM_FIELDS))
    _keep(_this_page(), fields, frozenset(key for key in fields if state.is_new_state_value(key)))


def forget_drafts(since: frozenset) -> None:
    """After a save: the fields of the form saved (those shown since
    ``since``, what was shown when the form began) hold what is saved now,
    no draft; every other form keeps its own."""
    drafts, given = _per_page(DRAFTS), _per_page(_GIVEN)
    for key, (value, _) in _fields(widgets_shown() - since, _per_page(_FORM_FIELDS)).items():
        drafts.pop(key, None)
        given[key] = value


def restore_drafts() -> None:
    """app.py calls this once the page is known, before any of its fields
    exists: each draft whose field the browser does not hold (it sent no
    value for it: the page was not shown) gets its value back, set through
    session state so that the browser shows it. A field the browser holds
    keeps what it sent."""
    from streamlit.runtime.state.common import user_key_from_element_id
    from streamlit.runtime.state.session_state_proxy import get_session_state

    held = {user_key_from_element_id(w.id) for w in get_session_state().get_widget_states()}
    for key, value in _per_page(DRAFTS).items():
        if key not in held:
            st.session_state[key] = value


def _remember(widget_key: str, keep_key: str):
    """A callback that keeps a widget's new value under a key of our own
    (it touches session state only: callbacks run before the page's run
    has its database connection)."""

    def keep() -> None:
        st.session_state[keep_key] = st.session_state[widget_key]

    _REMEMBERED.add(widget_key)
    return keep


def person_label(people: dict[int, Person], person_id: int | None) -> str:
    if person_id is None:
        return "—"
    person = people.get(person_id)
    return person.label if person else f"unknown person {person_id}"
