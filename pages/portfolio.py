"""Portfolio: what leadership sees first. Headline numbers and the flagged
pilots with their reasons; then, one section at a time, the 90-day
timeline, the count by stage and the age of the open pilots, the stopped
pilots still holding what they borrowed and what production will need, the
running cost against the value, the production pilots still under watch,
and readiness."""

import streamlit as st

from portfolio import flags
from portfolio.domain.text import EMPTY_CELL, md, plural
from portfolio.domain.vocabulary import READINESS_DIMENSIONS, DecisionKind
from portfolio.services import followthrough, handover, production
from portfolio.services import units as business_units
from portfolio.services.reporting import digest, export, overview, privileges
from portfolio.storage import store
from portfolio.web import charts, forms, pickers, ui
from portfolio.web.followthrough import still_holding
from portfolio.web.sections import PORTFOLIO_SECTIONS as SECTIONS

as_of = ui.as_of()
view = ui.portfolio()
pilots = view.pilots

st.title("Portfolio")
st.caption(f"As of {as_of:%A %d %B %Y}. Stalled and ownerless first; every pilot opens its page.")
forms.show_flash()

with st.popover("Leadership digest", icon=":material/mail:"):
    st.caption("The headline numbers, decisions due, overdue, stalled and ownerless pilots with their owners "
               "and sponsors, and privileges expiring before the decision. Downloading records nothing; the "
               "scheduled digest (see the README) also says what changed since the previous one.")
    # Built only when asked for: it is a second pass over the portfolio.
    if st.toggle("Prepare the downloads", key="digest-prepare"):
        report = digest.build_digest(ui.conn(), as_of, ui.settings(), record=False)
        st.download_button("Markdown", digest.render_markdown(report), file_name=f"digest-{as_of}.md",
                           mime="text/markdown", key="digest-markdown", on_click="ignore")
        st.download_button("HTML", digest.render_html(report), file_name=f"digest-{as_of}.html",
                           mime="text/html", key="digest-html", on_click="ignore")
        # The whole portfolio; the table below has its own download of the pilots it shows.
        st.download_button("Every pilot with its flags (CSV, whatever the filters)",
                           export.csv_bytes(export.pilots_with_flags(ui.conn(), as_of, ui.settings())),
                           file_name=f"pilots-{as_of}.csv", mime="text/csv", key="export-csv", on_click="ignore")

# Headline numbers; each opens the pilots behind it.
cols = st.columns(len(overview.HEADLINES))
for col, (name, _) in zip(cols, overview.HEADLINES):
    col.metric(name, view.numbers[name])
cols = st.columns(len(overview.HEADLINES))
for col, name in zip(cols, overview.DECISION_NUMBERS):
    col.metric(name, view.decision_numbers[name])
show = st.segmented_control(
    "Show",
    ["Flagged"] + [name for name, _ in overview.HEADLINES] + overview.DECISION_NUMBERS + ["All pilots"],
    default="Flagged",
    key="portfolio-show",
)

# Filters
f1, f2, f3, f4 = st.columns(4)
unit_names = ui.kept("business units", lambda: [u.name for u in business_units.list_units(ui.conn())])
units = f1.multiselect("Business unit", unit_names, key="filter-unit")
owner_names = ui.kept("product owners", lambda: sorted(pilots["product_owner"].dropna().unique()))
owners = pickers.search_multiselect("Product owner", owner_names, key="filter-owner", where=f2)
flag_codes = ui.kept("flag codes", lambda: sorted(view.flags["code"].unique(), key=flags.label))
codes = f3.multiselect("Flag", flag_codes, key="filter-flag", format_func=flags.label)
search = pickers.search_input("Pilot name", key="portfolio-search", where=f4,
                              help="Narrows the table, its download and the pilots to open to those whose name "
                                   "holds every word typed.")


def chosen_rows():
    """The pilots the choices above leave, and those rows in the table's
    columns, worst first."""
    if show == "Flagged" or show is None:
        rows = pilots[pilots["flags"] != ""]
    elif show == "All pilots":
        rows = pilots
    else:
        rows = view.pilots_behind(show)
    if units:
        rows = rows[rows["business_unit"].isin(units)]
    if owners:
        rows = rows[rows["product_owner"].isin(owners)]
    if codes:
        flagged = set(view.flags.loc[view.flags["code"].isin(codes), "pilot_id"])
        rows = rows[rows["id"].isin(flagged)]
    if search:
        rows = rows[rows["id"].isin(pickers.matching(dict(zip(rows["id"], rows["name"])), search))]
    # The what and the why first, in the columns a 1280 px screen shows; then
    # each stage's own next date; the clock only for pilots on it (days left
    # is blank for the other stages).
    columns = rows[["name", "severity", "flags", "reasons", "next_date", "days_left", "product_owner",
                    "business_unit", "stage", "day", "verdict", "days_to_decision", "extensions"]]
    return rows, columns.assign(day=columns["day"].where(columns["days_left"].notna()))


def in_words(rows):
    """The decision in words: "no-go", not its code."""
    return rows.assign(verdict=rows["verdict"].map(lambda v: DecisionKind(v).label if isinstance(v, str) else v))


# Kept per choice (ui.derived): a click elsewhere on the page does not filter again.
table, shown = ui.derived(f"portfolio table, {show}, units {sorted(units)}, owners {sorted(owners)}, "
                          f"flags {sorted(codes)}, search {search!r}", chosen_rows)
st.subheader(f"{show or 'Flagged'}: {plural(len(table), 'pilot')}")
if table.empty:
    st.info("No pilots match.")
else:
    # The grid's own CSV download is off (client.disableDataExport in
    # .streamlit/config.toml): it writes cells as they are, and a pilot named
    # "=HYPERLINK(...)" would be a live formula in a spreadsheet. This one goes
    # through the formula-safe writer.
    # Written when the button is pressed, not on every run of the page. A
    # download does not rerun the page (on_click="ignore", as every download
    # in the app): a rerun would replace the file being written with the next
    # run's, and on a busy server the browser would be left waiting for it.
    st.download_button(f"Download these {plural(len(shown), 'pilot')} (CSV, as filtered)",
                       lambda: export.csv_bytes(in_words(shown)),
                       file_name=f"pilots-shown-{as_of}.csv", mime="text/csv", key="portfolio-table-csv",
                       icon=":material/download:", on_click="ignore")
    # One page of rows at a time, worst first: the browser gets a page, not
    # the portfolio; the download above holds every row filtered.
    page = in_words(pickers.page_of(shown, "portfolio-table", noun="row",
                                    reset_on=(show, tuple(units), tuple(owners), tuple(codes), search)))
    event = st.dataframe(
        page,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="portfolio-table",
        placeholder=EMPTY_CELL,
        column_config={
            "name": st.column_config.TextColumn("Pilot", width="medium"),
            "severity": st.column_config.TextColumn("Worst", width="small"),
            "flags": st.column_config.TextColumn("Flags", width="medium"),
            "reasons": st.column_config.TextColumn("Why", width="large"),
            "next_date": st.column_config.TextColumn(
                "Next date", width="medium",
                help="Each stage's own: the go/no-go date on the clock, the bridge's due date, a proposed "
                     "pilot's planned start"),
            "business_unit": "Business unit",
            "stage": "Stage",
            "product_owner": "Product owner",
            "day": st.column_config.NumberColumn("Day", width="small"),
            "verdict": st.column_config.TextColumn("Decision", width="small"),
            "days_to_decision": st.column_config.NumberColumn("Days to decision", width="small"),
            "extensions": st.column_config.NumberColumn("Extensions", width="small"),
            "days_left": st.column_config.NumberColumn("Days left", help="Negative: days overdue",
                                                       width="small"),
        },
    )
    selected = [r for r in (event.selection.rows if event else []) if 0 <= r < len(page)]
    if selected:
        st.switch_page("pages/pilot.py", query_params={"id": int(table.loc[page.index[selected[0]], "id"])})
    # The picker offers the pilots on the table's page: turning the page or
    # searching by name above reaches the others.
    names = dict(zip(table.loc[page.index, "id"], page["name"]))
    o1, o2 = st.columns([3, 1], vertical_alignment="bottom")
    pick = pickers.search_select("Open a pilot", names, key="open-pilot", query=search, where=o1)
    if len(page) < len(table):
        st.caption("Open a pilot lists the pilots on the table's page: turn the page or search by name for "
                   "the others.")
    if o2.button("Open", key="open-pilot-go"):
        st.switch_page("pages/pilot.py", query_params={"id": int(pick)})

# The rest of the picture, one section at a time: only the open section is
# read and drawn, so the page a person lands on is the numbers and the list.
# The section is in the address (?section=...), so a link can open one.
scope = pilots
if units:
    scope = scope[scope["business_unit"].isin(units)]
if owners:
    scope = scope[scope["product_owner"].isin(owners)]
filtered = f"units {sorted(units)} owners {sorted(owners)}"


def clock_windows() -> None:
    st.subheader("Clock windows")
    st.caption("Each pilot from its start to its go/no-go date; hatched red: past the go/no-go date "
               "without a decision.")
    # Built once per change to the data (ui.derived), per filter and page: a click
    # elsewhere on the page does not draw them again.
    clocked = ui.derived(f"pilots on the clock, {filtered}", lambda: charts.clock_count(scope))
    pages = charts.timeline_pages(clocked)
    page = 1
    if pages > 1:
        t1, t2 = st.columns([1, 4], vertical_alignment="bottom")
        # Keyed by the number of pages: a filter that changes it starts again at page 1.
        page = t1.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1,
                               key=f"timeline-page-{pages}")
        first = (page - 1) * charts.TIMELINE_PAGE_BARS + 1
        t2.caption(f"{plural(clocked, 'pilot')} on the clock; showing {first:,} to "
                   f"{min(first + charts.TIMELINE_PAGE_BARS - 1, clocked):,}, the decisions nearest the as-of "
                   "date first. Filter by business unit or product owner, or turn the page.")
    # An empty chart draws axes from nowhere (the year 2000, -1): say so instead.
    if clocked:
        fig = ui.derived(f"timeline, {filtered}, page {page}",
                         lambda: charts.timeline(scope, as_of, ui.settings().due_soon_days, page))
        st.plotly_chart(fig, key="timeline")
    else:
        st.caption("No pilots on the clock yet: a pilot's window shows once it has a start date.")


def stages_and_ages() -> None:
    left, right = st.columns(2)
    left.subheader("Pilots by stage")
    if len(scope):
        left.plotly_chart(ui.derived(f"pilots by stage, {filtered}", lambda: charts.stage_counts(scope)),
                          key="stage-counts")
    else:
        left.caption("No pilots yet.")
    right.subheader("Age of the open pilots")
    ages = ui.kept("open pilot ages", view.open_pilot_ages)
    if len(ages):
        right.plotly_chart(ui.derived("age of the open pilots", lambda: charts.age_histogram(ages)),
                           key="age-histogram")
    else:
        right.caption("No open pilots on the clock yet.")


def borrowed_privileges() -> None:
    # Stopped, and still holding what they borrowed (seed 003).
    st.subheader("Stopped, still holding borrowed privileges")
    holding = ui.kept("still holding", lambda: followthrough.still_holding(ui.conn(), as_of))
    if holding.empty:
        st.caption("No stopped or retired pilot still holds a borrowed privilege: each was revoked or made "
                   "permanent.")
    else:
        st.caption("Every privilege not made permanent is revoked once a pilot stops; its product owner or "
                   "technical lead records each revocation, with evidence, on the pilot's page (Production "
                   "readiness).")
        still_holding(pickers.page_of(holding, "still-holding", noun="pilot"), "still-holding")

    # What production will need.
    st.subheader("Borrowed privileges across the portfolio")
    rolled = ui.kept("privileges", lambda: privileges.rollup(store.privileges_frame(ui.conn())))
    if rolled is None:
        st.caption("No borrowed privileges recorded on live pilots.")
    else:
        p1, p2 = st.columns(2)
        p1.markdown(f"**{rolled.borrowed}** borrowed, **{rolled.undecided}** still undecided")
        p1.dataframe(rolled.by_kind, width="stretch", key="privileges-by-kind", placeholder=EMPTY_CELL)
        p2.markdown("**The pilots that depend on the most**")
        p2.dataframe(rolled.dependent, hide_index=True, width="stretch", key="privileges-dependent",
                     placeholder=EMPTY_CELL,
                     column_config={"pilot": "Pilot", "borrowed": "Borrowed", "undecided": "Undecided"})


def cost_and_value() -> None:
    all_costs = ui.kept("monthly costs with units", lambda: store.monthly_costs(ui.conn(), as_of))
    costs = all_costs[all_costs["stage"].isin(["pilot", "bridge", "production"])]
    st.subheader("Monthly running cost")
    if costs.empty:
        st.caption("No pilot has both a cost-per-transaction KPI with a reading and an expected monthly volume.")
    else:
        totals = costs.groupby(costs["unit"].replace("", "(no unit)"))["monthly_cost"].sum()
        cols = st.columns(max(1, len(totals)))
        for col, (unit, total) in zip(cols, totals.items()):
            col.metric(f"Total monthly running cost ({md(unit)})", f"{total:,.0f}",
                       help="For each pilot: its latest cost per transaction times its expected monthly volume.")
        st.dataframe(pickers.page_of(costs, "monthly-costs", noun="pilot")[
                         ["name", "stage", "cost_per_transaction", "unit", "expected_monthly_volume", "monthly_cost"]],
                     hide_index=True, width="stretch", key="monthly-costs", placeholder=EMPTY_CELL,
                     column_config={"name": "Pilot", "stage": "Stage", "cost_per_transaction": "Cost per transaction",
                                    "unit": "Unit", "expected_monthly_volume": "Expected monthly volume",
                                    "monthly_cost": "Monthly cost"})

    st.subheader("Cost at production volume against value, by business unit")
    by_unit = ui.kept("cost and value by unit",
                      lambda: production.cost_and_value_by_unit(ui.conn(), as_of, ui.settings(), all_costs))
    if by_unit.empty:
        st.caption("No live pilot has both a running cost at production volume and an expected monthly value in "
                   "the same currency.")
    else:
        st.caption("For each business unit, its live pilots' monthly running cost at production volume beside the "
                   "value they are expected to bring a month (hours saved at the cost of an hour); only the pilots "
                   "with both, in the same currency.")
        for currency, frame in by_unit.groupby("currency"):
            st.plotly_chart(ui.derived(f"cost and value by unit in {currency}",
                                       lambda: charts.cost_and_value_by_unit(frame, currency)),
                            key=f"cost-value-by-unit-{currency}")


def under_watch() -> None:
    days = ", ".join(str(d) for d in ui.settings().checkin_days)
    watched = ui.kept("under watch", lambda: handover.under_watch(ui.conn(), ui.settings(), as_of))
    st.subheader(f"In production, under watch: {plural(len(watched), 'pilot')}")
    st.caption(f"Production pilots whose operational owner has not yet done every check-in ({days} days after "
               "the promotion: is it used, do its production KPIs hold, is its cost what was expected); a missed "
               "one first. The last check-in done ends the watch.")
    if watched.empty:
        st.caption("No production pilot is under watch.")
    else:
        st.dataframe(
            pickers.page_of(watched, "under-watch", noun="pilot").pipe(
                lambda w: w.assign(overdue=w["overdue"].map({True: "missed", False: "on time"})))[
                ["name", "business_unit", "operational_owner", "promoted_on", "done", "next_checkin", "overdue"]],
            hide_index=True, width="stretch", key="under-watch", placeholder=EMPTY_CELL,
            column_config={"name": "Pilot", "business_unit": "Business unit", "operational_owner": "Operational owner",
                           "promoted_on": "Promoted on", "done": "Check-ins done", "next_checkin": "Next check-in",
                           "overdue": "Next check-in is"})


def readiness() -> None:
    st.subheader("Readiness")
    matrix = ui.kept("readiness", lambda: store.readiness_matrix(ui.conn(), least_ready=charts.HEATMAP_ROWS))
    if matrix.empty:
        st.caption("No live pilots.")
    else:
        st.caption("Share of the applicable checklist items done, per dimension; the least ready pilots first.")
        st.plotly_chart(ui.derived("readiness heatmap",
                                   lambda: charts.readiness_heatmap(matrix, READINESS_DIMENSIONS)),
                        key="readiness-heatmap")


pickers.open_tab_only("section", dict(zip(SECTIONS, (
    clock_windows, stages_and_ages, borrowed_privileges, cost_and_value, under_watch, readiness))))
