"""Readiness checklist: the standard items every pilot is checked against,
in four dimensions. Admins add, reword, mark required for go, or retire
items; nothing is deleted, so past answers keep their meaning."""

import pandas as pd
import streamlit as st

from portfolio.domain import rights
from portfolio.domain.errors import InvalidInput
from portfolio.domain.rights import Right
from portfolio.domain.text import EMPTY_CELL
from portfolio.domain.vocabulary import READINESS_DIMENSIONS
from portfolio.services import production
from portfolio.storage import store
from portfolio.web import forms, ui

conn, actor = ui.conn(), ui.actor()

st.title("Readiness checklist")
forms.show_flash()
items = store.readiness_items(conn, active_only=False)
frame = pd.DataFrame(items)[["key", "dimension", "label", "required_for_go", "active"]]

COLUMNS = {
    "dimension": st.column_config.SelectboxColumn("Dimension", options=READINESS_DIMENSIONS, required=True),
    "label": st.column_config.TextColumn("Item", width="large", required=True),
    "required_for_go": st.column_config.CheckboxColumn("Required for go", default=False),
    "active": st.column_config.CheckboxColumn("Active", default=True),
}

if not rights.may(actor, Right.MANAGE_CHECKLIST):
    st.caption(f"You ({actor.role.label}) can read the checklist; admins edit it.")
    st.dataframe(frame.drop(columns=["key"]), hide_index=True, width="stretch", key="checklist-table",
                 placeholder=EMPTY_CELL, column_config=COLUMNS)
    st.stop()

st.caption("Edit a cell, add a row at the bottom, untick **active** to retire an item. Keys identify "
           "items and cannot be changed once used.")
edited = st.data_editor(
    frame, hide_index=True, width="stretch", num_rows="dynamic", key="checklist-editor", placeholder=EMPTY_CELL,
    column_config=COLUMNS | {
        "key": st.column_config.TextColumn("Key", help="lower_case_with_underscores", required=True),
    },
    disabled=[],
)
if st.button("Save the checklist", key="checklist-save", type="primary"):
    known = set(frame["key"])
    # A row added and left blank is not a line of the checklist.
    rows = [r for r in edited.to_dict("records")
            if any(str(r.get(k) or "").strip() and str(r.get(k)) != "nan" for k in ("key", "dimension", "label"))]
    missing = known - {str(r.get("key") or "").strip().lower() for r in rows}

    def save_checklist() -> int:
        if missing:
            raise InvalidInput("Key: items are retired (untick active), not deleted: put back "
                               + ", ".join(sorted(missing)), field="key")
        return production.save_checklist(conn, actor, [
            {"key": r.get("key") or "", "dimension": r.get("dimension") or "", "label": r.get("label") or "",
             "required_for_go": r.get("required_for_go") is True,
             "active": r.get("active") is not False}
            for r in rows])

    forms.save(save_checklist, lambda n: f"Saved {n} checklist items.")
