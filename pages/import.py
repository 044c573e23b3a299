"""Import: an admin brings the organisation's spreadsheet in. Upload a CSV or
Excel file, check the mapping of its columns (guessed, adjustable, saved as
TOML), see the preview and the validation report, then import: all or
nothing, or only the valid rows with the rejected ones to download."""

from datetime import date

import streamlit as st

from portfolio.domain import rights
from portfolio.domain.errors import PortfolioError
from portfolio.domain.rights import Right
from portfolio.domain.text import EMPTY_CELL, md, plural
from portfolio.domain.vocabulary import Stage
from portfolio.services import followthrough, importer
from portfolio.services.reporting import export
from portfolio.web import forms, ui

conn, actor, settings = ui.conn(), ui.actor(), ui.settings()

st.title("Import")
forms.show_flash()
if not rights.may(actor, Right.IMPORT):
    st.info(f"You ({actor.role.label}) can read the portfolio; an admin imports spreadsheets.")
    st.stop()

upload = st.file_uploader("Spreadsheet (.csv or .xlsx)", type=["csv", "xlsx"], key="import-file")
mapping_file = st.file_uploader("Mapping (.toml, optional)", type=["toml"], key="import-mapping-file")
if upload is None:
    st.caption("Columns are matched to the pilot's fields by their names; you can adjust the match before "
               "anything is written. Pilots are matched by external id (a file the tracker exported by "
               "its tracker id), people by email.")
    st.stop()

try:
    frame = importer.read_table(upload.getvalue(), upload.name)
    guessed = (importer.load_mapping(mapping_file.getvalue().decode("utf-8")) if mapping_file
               else importer.guess_mapping(list(frame.columns), frame))
except (PortfolioError, UnicodeDecodeError) as exc:
    forms.show_error(exc if isinstance(exc, PortfolioError) else PortfolioError(f"Mapping: {exc}"))
    st.stop()

st.caption(f"{md(upload.name)}: {len(frame)} rows, {len(frame.columns)} columns.")
# The widgets below start from the guessed or loaded mapping: a new file or
# a new mapping file gives them new keys, so they start again from it.
tag = f"{upload.name}-{mapping_file.name if mapping_file else 'guessed'}"
NONE = "— not in the file —"
REJECT = "— no stage: reject its rows —"
columns = [NONE] + list(frame.columns)
with st.expander("Columns and values", expanded=True, icon=":material/tune:"):
    chosen = {}
    cols = st.columns(3)
    by_norm = {importer.norm(c): c for c in frame.columns}
    for i, field in enumerate(importer.FIELDS):
        # A loaded mapping names columns as the file did when it was saved:
        # match them the way the importer does, ignoring case and spacing.
        current = guessed.columns.get(field)
        current = current if current in columns else by_norm.get(importer.norm(current or ""))
        chosen[field] = cols[i % 3].selectbox(
            importer.LABELS[field], columns, index=columns.index(current) if current in columns else 0,
            key=f"map-{field}-{tag}")
    order = st.radio("Dates like 8/4/2025 are", ["mdy", "dmy"], horizontal=True,
                     index=["mdy", "dmy"].index(guessed.date_order),
                     format_func={"mdy": "month first", "dmy": "day first"}.get, key=f"map-date-order-{tag}")
    stage_values = {}
    stage_column = chosen["stage"]
    if stage_column != NONE:
        stages = [s.value for s in Stage] + [REJECT]
        # Each distinct value starts from the loaded mapping, else from the
        # stage its words propose; one neither places waits for a choice (a
        # stage, or rejecting its rows knowingly).
        proposed = importer.stage_proposals(frame[stage_column].tolist())
        distinct = sorted(proposed, key=str.casefold)
        known = {importer.norm(k): getattr(v, "value", v) for k, v in guessed.values.get("stage", {}).items()}
        st.markdown("**Stage values**")
        st.caption("Each value of the stage column is proposed a stage from its words; check them.")
        if len(distinct) > 50:
            st.caption(f"{len(distinct)} different values: map the rest in a mapping file.")
        for value in distinct[:50]:
            default = known.get(importer.norm(value)) or getattr(proposed[value], "value", None)
            stage_values[value] = st.selectbox(
                md(value), stages, index=stages.index(default) if default in stages else None,
                placeholder="needs a choice", key=f"map-stage-{value}-{tag}",
                help=None if default in stages else "Not a word the import knows: choose the stage it means, or "
                                                    "reject its rows.")
        # Values past the first 50 keep what the mapping file or their words say.
        for value in distinct[50:]:
            stage_values[value] = known.get(importer.norm(value)) or getattr(proposed[value], "value", None) or ""
needs_choice = [v for v, stage in stage_values.items() if stage is None]
mapping = importer.Mapping(
    columns={f: c for f, c in chosen.items() if c != NONE},
    values={"stage": {k: v for k, v in stage_values.items() if v and v != REJECT}},
    date_order=order,
)
st.download_button("Download this mapping (TOML)", importer.dump_mapping(mapping), file_name="mapping.toml",
                   mime="application/toml", key="import-mapping-download", on_click="ignore")

try:
    plan = importer.plan_import(conn, frame, mapping, settings, today=date.today())
except PortfolioError as exc:
    forms.show_error(exc)
    st.stop()

st.subheader("Preview")
st.caption("The first rows as they will be stored.")
st.dataframe(plan.preview_table(20), hide_index=True, width="stretch", key="import-preview")
new_rows = plan.rows[plan.rows["action"] == "create"]
alike = followthrough.resembling_rows(conn, new_rows[["row", "name", "problem"]])
if len(alike):
    st.subheader("New pilots that resemble stopped ones")
    st.caption("Each new pilot beside the stopped or retired pilots whose name or problem is alike, with why "
               "they stopped: read it before starting again.")
    st.dataframe(alike, hide_index=True, width="stretch", key="import-resembles", placeholder=EMPTY_CELL)
report = plan.report_table()
st.subheader("Validation report")
if report.empty:
    st.success("Every row is valid.")
else:
    st.dataframe(report, hide_index=True, width="stretch", key="import-report")
if plan.ignored:
    st.caption(f"Not imported, as the tracker computes them: {', '.join(md(c) for c in plan.ignored)}.")
if plan.new_people:
    # Emails as text in a table: in Markdown they would become mail links.
    with st.expander(plural(len(plan.new_people), "new person", "new people") + " (added as viewers)"):
        st.dataframe({"Email": plan.new_people}, hide_index=True, width="stretch", key="import-new-people")
changes = plan.changes_frame()
if len(changes):
    with st.expander(f"What would change ({len(changes)})"):
        st.dataframe(importer.changes_in_words(changes), hide_index=True, width="stretch",
                     key="import-plan-changes")

counts = plan.counts()
st.markdown(f"**Before anything is written:** {counts['created']:,} new, {counts['updated']:,} updated, "
            f"{counts['unchanged']:,} unchanged, {counts['rejected']:,} rejected.")
skip = st.checkbox("Import the valid rows and reject the others", key="import-skip-invalid")
if needs_choice:
    st.caption(f"{plural(len(needs_choice), 'stage value needs', 'stage values need')} a choice above before "
               f"importing: {', '.join(md(v) for v in needs_choice[:10])}"
               + (" …" if len(needs_choice) > 10 else "") + ".")
if st.button("Import", key="import-go", type="primary", disabled=bool(needs_choice)):
    bar = st.progress(0.0, text="Importing…")
    try:
        result = importer.apply_import(conn, actor, plan, skip_invalid=skip, source=upload.name,
                                       progress=lambda done, total: bar.progress(done / max(total, 1),
                                                                                 text=f"{done} of {total} rows"))
    except PortfolioError as exc:
        bar.empty()
        forms.show_error(exc)
    else:
        bar.progress(1.0, text="Done")
        st.success(result.summary())
        if len(result.rejected):
            st.download_button("Download the rejected rows (CSV)", export.csv_bytes(result.rejected),
                               file_name="rejected.csv", mime="text/csv", key="import-rejects", on_click="ignore")
        if result.changes:
            with st.expander(f"What changed ({len(result.changes)})"):
                st.dataframe(result.changes_table(), hide_index=True, width="stretch", key="import-changes")
