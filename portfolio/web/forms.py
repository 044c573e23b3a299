"""A form's life on a page: its box of fields (``form``, ``submit``), the
record as it was when the form was shown, the one way to save (``save``),
and what the person sees after: the refusal beside what they typed, or a
success message after the rerun.

Every page saves through ``save``: it runs one service call, shows a
refusal (whose message names the field) and leaves the form as typed, or
flashes the message and reruns so every part of the page shows the change.
What is typed into a form and not saved is kept as a draft while the person
is elsewhere (see ``ui.keep_typed``); a save that succeeds ends the draft.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import streamlit as st

from portfolio.domain.errors import EditConflict, PortfolioError
from portfolio.domain.text import md
from portfolio.storage import audit


def save(work, message, *, records=(), clear: dict | None = None, refused=None, then=None):
    """Run a form's save, ``work()`` (one service call).

    On a refusal: show why (the message names the field) and keep what was
    typed (the form is not rerun, so its fields stay as sent); ``refused(exc)``
    then lets the page note it. On success: the forms of ``records`` start
    afresh from the records as saved, the fields of ``clear`` (widget key ->
    value) are set for the next run, ``message`` (or ``message(result)``)
    shows after the rerun, and ``then(result)`` may go elsewhere instead of
    rerunning this page (``st.switch_page``)."""
    try:
        result = work()
    except PortfolioError as exc:
        show_error(exc)
        if refused is not None:
            refused(exc)
        return None
    forget_opened(*records)
    # The form saved: the one open around the submit, else the one the page
    # showed last; its fields hold what is saved now.
    started = getattr(_open_forms, "started", None) or getattr(_open_forms, "closed", None)
    if started:
        from portfolio.web import ui  # ui imports forms

        ui.forget_drafts(since=started[-1])
    if clear:
        set_on_next_run(clear)
    flash(message(result) if callable(message) else message)
    if then is not None:
        then(result)
    st.rerun()


# The forms open in this thread's run, innermost last ("started"), and the
# one closed last ("closed"): what was shown before each began, so that a
# save forgets the drafts of its own form only.
_open_forms = threading.local()


@contextmanager
def form(key: str):
    """A form: its fields in a bordered box, sent by ``submit``.

    Not ``st.form``: a field of an ``st.form`` sends what was typed only
    with the submit, so text typed and not yet posted lives in the browser
    alone, and leaving the page drops it. These fields send their value as
    it is entered (on leaving the field), like any widget, so the page keeps
    it as a draft (``ui.keep_drafts``) and puts it back when the person
    returns. The fields of the box are noted as the form's."""
    from portfolio.web import ui  # ui imports forms

    before = ui.widgets_shown()
    started = _open_forms.__dict__.setdefault("started", [])
    started.append(before)
    try:
        with st.container(border=True, key=f"form-{key}"):
            yield
    finally:
        _open_forms.closed = [started.pop()]
        ui.note_form_fields(ui.widgets_shown() - before)


def drafted(*prefixes: str, suffix: str = "", keys=()) -> bool:
    """Whether a form's fields (keys starting with one of ``prefixes`` and
    ending with ``suffix``, or among ``keys``) hold something typed and not
    saved: the form's expander then opens, so that typing left for another
    tab of the page (only the open tab is drawn) is in view on coming back."""
    from portfolio.web import ui  # ui imports forms

    keys = set(keys)
    return ui.has_draft(lambda k: k in keys or (bool(prefixes) and k.startswith(prefixes) and k.endswith(suffix)))


def submit(label: str, *, key: str, **kwargs) -> bool:
    """A form's submit button (``form``): the fields' values are those
    entered, the last one included (leaving it for the button sends it)."""
    return st.button(label, key=key, **kwargs)


def show_error(exc: PortfolioError) -> None:
    """Show a refusal. After an edit conflict the forms of the records in
    conflict start from the record as it is now, so saving again applies
    what the person typed over the other change, knowingly."""
    st.error(md(str(exc)), icon=":material/error:")  # messages quote what was typed
    if isinstance(exc, EditConflict):
        _adopt_current(*(record_name(entity, key) for entity, key in exc.conflicts))


def set_on_next_run(values: dict) -> None:
    """Set form fields (widget key -> value: "" or None to empty one, or the
    record as it is now) at the start of the next run, before any field
    exists: a value set through session state is what the browser then
    shows, whereas removing a key after a save leaves the browser showing
    the old value, and sending it again."""
    st.session_state.setdefault("_set_next", {}).update(values)


def apply_set_on_next_run() -> None:
    """app.py calls this before the page runs (a run starts with no form
    open or shown)."""
    _open_forms.__dict__.clear()
    st.session_state.update(st.session_state.pop("_set_next", {}))


def flash(message: str) -> None:
    """A success message that survives the rerun or page switch after a save."""
    st.session_state["_flash"] = message


def show_flash() -> None:
    # In a box that is there on every run, message or not: what follows keeps
    # its place on the page, so the run after the message (a field left, a
    # choice made) does not redraw it anew, which would show a page's tabs
    # from the first again.
    box = st.container()
    message = st.session_state.pop("_flash", None)
    if message:
        box.success(md(message), icon=":material/check_circle:")  # they name what was saved


# --- the record a form edits, as it was when the form was shown -----------


def record_name(entity: str, key) -> str:
    """How a form names the record it edits: the audit trail's entity and id."""
    return f"{entity}-{audit.entity_id(key)}"


def opened(record: str, version: int, values: dict, widgets: dict[str, str] | None = None) -> tuple[int, dict]:
    """The version and values ``record`` had when this person's form for it
    was shown: a save carries the version, so a change made by someone else
    since is refused instead of silently undone, and the form sends only
    what the person changed from these values; what they did not change is
    not sent, so someone else's change to it stays.

    ``widgets`` maps each field to its widget's key. After a save the
    fields start again from the record as it is then (theirs included).
    Never in between: the fields hold what the person has typed and not
    saved (kept as a draft while they are elsewhere), and replacing it
    would lose it."""
    kept = st.session_state.setdefault("_opened", {})
    if record in st.session_state.setdefault("_afresh", set()):
        st.session_state["_afresh"].discard(record)
        kept.pop(record, None)
        # Set through session state, before the fields exist: the browser
        # then shows these values (a removed key would leave it showing, and
        # sending, the old ones).
        for field, key in (widgets or {}).items():
            st.session_state[key] = values[field]
    return kept.setdefault(record, (version, dict(values)))


def opened_version(record: str, current: int) -> int:
    return opened(record, current, {})[0]


def forget_opened(*records: str) -> None:
    """After a save (or a reload), the forms of ``records`` start again from
    the records as they are then, fields and all."""
    st.session_state.setdefault("_afresh", set()).update(records)


def _adopt_current(*records: str) -> None:
    """After a refused save: the next save of ``records`` is made knowing
    the other change, over it; what the person typed stays in the form."""
    kept = st.session_state.setdefault("_opened", {})
    for record in records:
        kept.pop(record, None)
