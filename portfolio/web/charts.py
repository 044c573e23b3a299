"""Plotly figure builders: DataFrame in, Figure out. No Streamlit here."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import plotly.graph_objects as go

from portfolio.domain.text import chart_text

# The timeline shows this many pilots at a time: enough to compare windows,
# few enough to read without scrolling past the rest of the page. A larger
# portfolio turns the page (nearest decisions first) or filters.
TIMELINE_PAGE_BARS = 40

STATUS_COLOURS = {
    "overdue": "#d62728",
    "due soon": "#ff7f0e",
    "on track": "#2ca02c",
    "bridge": "#1f77b4",
}
STAGE_ORDER = ["proposed", "pilot", "bridge", "production", "stopped", "retired"]


def timeline_rows(pilots: pd.DataFrame, as_of: date, due_soon_days: int) -> pd.DataFrame:
    """The bars of the timeline: each pilot's window from its start to its
    go/no-go date, and for an overdue pilot a second bar from the go/no-go
    date to the as-of date. Only pilots in pilot or bridge with both dates."""
    p = pilots[pilots["stage"].isin(["pilot", "bridge"])].dropna(
        subset=["start_date", "go_no_go_date"]
    )
    if p.empty:
        return pd.DataFrame(columns=["id", "name", "start", "end", "status", "label"])
    start = pd.to_datetime(p["start_date"])
    gng = pd.to_datetime(p["go_no_go_date"])
    today = pd.Timestamp(as_of)
    left = (gng - today).dt.days
    status = pd.Series("on track", index=p.index)
    status[(p["stage"] == "pilot") & (left <= due_soon_days)] = "due soon"
    status[(p["stage"] == "pilot") & (left < 0)] = "overdue"
    status[p["stage"] == "bridge"] = "bridge"
    windows = pd.DataFrame(
        {"id": p["id"], "name": p["name"], "start": start, "end": gng, "status": status,
         "label": "to the go/no-go date"}
    )
    late = status == "overdue"
    overruns = pd.DataFrame(
        {"id": p["id"][late], "name": p["name"][late], "start": gng[late],
         "end": pd.Series(today + timedelta(days=1), index=p.index)[late],
         "status": "overdue", "label": "past the go/no-go date"}
    )
    return pd.concat([windows, overruns], ignore_index=True)


def _clocked(pilots: pd.DataFrame) -> pd.Series:
    """Which pilots the timeline can draw: in pilot or bridge, with both dates."""
    return pilots["stage"].isin(["pilot", "bridge"]) & pilots["start_date"].notna() & pilots["go_no_go_date"].notna()


def on_the_clock(pilots: pd.DataFrame) -> pd.DataFrame:
    """The pilots the timeline can draw (``_clocked``)."""
    return pilots[_clocked(pilots)]


def clock_count(pilots: pd.DataFrame) -> int:
    """How many pilots the timeline can draw, counted without taking their rows."""
    return int(_clocked(pilots).sum())


def timeline_pages(bars: int) -> int:
    """How many pages a timeline of ``bars`` pilots on the clock has (at least one)."""
    return max(1, -(-bars // TIMELINE_PAGE_BARS))


def timeline(pilots: pd.DataFrame, as_of: date, due_soon_days: int, page: int = 1) -> go.Figure:
    """Each pilot from its start to its go/no-go date, with the as-of line:
    page ``page`` (from 1) of TIMELINE_PAGE_BARS pilots, those whose
    decision is nearest the as-of date (before or after it) first."""
    clocked = on_the_clock(pilots)
    # Nearest first; a tie keeps the order it came in (the worst flagged first).
    distance = (pd.to_datetime(clocked["go_no_go_date"]) - pd.Timestamp(as_of)).abs()
    first = (min(max(page, 1), timeline_pages(len(clocked))) - 1) * TIMELINE_PAGE_BARS
    shown = clocked.loc[distance.sort_values(kind="stable").index[first:first + TIMELINE_PAGE_BARS]]
    rows = timeline_rows(shown, as_of, due_soon_days)
    rows = rows.assign(name=rows["name"].map(chart_text))
    names_by_gng = (
        rows[rows["label"] == "to the go/no-go date"].sort_values("end")["name"].drop_duplicates().tolist()
    )
    fig = go.Figure()
    for (status, label), part in rows.groupby(["status", "label"], sort=False):
        fig.add_trace(
            go.Bar(
                y=part["name"],
                x=(part["end"] - part["start"]).dt.total_seconds() * 1000,
                base=part["start"],
                orientation="h",
                name=status if label == "to the go/no-go date" else "overdue (past go/no-go)",
                marker_color=STATUS_COLOURS[status],
                marker_pattern_shape="/" if label != "to the go/no-go date" else "",
                customdata=list(zip(part["start"].dt.date, part["end"].dt.date)),
                hovertemplate="%{y}<br>%{customdata[0]} to %{customdata[1]}<extra>" + label + "</extra>",
            )
        )
    fig.update_layout(
        # The as-of line: a shape in the layout (add_vline copies the whole
        # figure for each line it draws).
        shapes=[_vline(pd.Timestamp(as_of), "black")],
        annotations=[{"x": pd.Timestamp(as_of), "y": 1.0, "xref": "x", "yref": "paper", "yanchor": "bottom",
                      "xanchor": "left", "xshift": 4, "text": f"as of {as_of}", "showarrow": False}],
        barmode="overlay",
        xaxis_type="date",
        yaxis={"categoryorder": "array", "categoryarray": list(reversed(names_by_gng)), "title": None},
        # A bar's height, whatever the number of pilots: a lone pilot is
        # a bar, not a green wall.
        height=max(180, 22 * len(names_by_gng) + 120),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": -0.08},
    )
    return fig


def _vline(x, colour: str) -> dict:
    """A dashed vertical line across the plot at ``x``."""
    return {"type": "line", "x0": x, "x1": x, "xref": "x", "y0": 0, "y1": 1, "yref": "paper",
            "line": {"dash": "dash", "color": colour}}


def stage_counts(pilots: pd.DataFrame) -> go.Figure:
    counts = pilots["stage"].value_counts().reindex(STAGE_ORDER, fill_value=0)
    fig = go.Figure(go.Bar(x=counts.index, y=counts.values, text=counts.values, textposition="outside",
                           textangle=0, cliponaxis=False))
    fig.update_layout(height=280, margin={"l": 10, "r": 10, "t": 10, "b": 10}, yaxis_title="pilots")
    return fig


def age_histogram(ages: pd.Series, marks: tuple[int, ...] = (90, 180)) -> go.Figure:
    """How long the open pilots have run, with the clock's marks."""
    fig = go.Figure(go.Histogram(x=ages, xbins={"size": 15, "start": 0}, marker_color="#1f77b4"))
    # Each label sits beside its line, the first to its left and the others
    # to their right, so that on a long axis (pilots years old) the marks
    # close together never write over each other.
    fig.update_layout(shapes=[_vline(mark, "#d62728") for mark in marks],
                      annotations=[{"x": mark, "y": 1.0, "xref": "x", "yref": "paper", "yanchor": "bottom",
                                    "xanchor": "right" if i == 0 else "left", "xshift": -3 if i == 0 else 3,
                                    "text": f"day {mark}", "showarrow": False} for i, mark in enumerate(marks)],
                      height=280, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      xaxis_title="days since the start", yaxis_title="open pilots", bargap=0.05)
    return fig


def kpi_trend(readings: pd.DataFrame, kpi) -> go.Figure:
    """One KPI's readings over time with its target line."""
    fig = go.Figure(go.Scatter(x=readings["reading_on"], y=readings["value"], mode="lines+markers",
                               name=chart_text(kpi.name), line={"color": "#1f77b4"}))
    if kpi.target is not None:
        # The target line as a shape in the layout: add_hline copies the
        # whole figure and costs more than the rest of the chart.
        fig.update_layout(
            shapes=[{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": kpi.target,
                     "y1": kpi.target, "line": {"dash": "dash", "color": "#2ca02c"}}],
            annotations=[{"xref": "paper", "x": 0, "xanchor": "left", "yref": "y", "y": kpi.target,
                          "yanchor": "bottom", "showarrow": False,
                          "text": f"target {kpi.target:g} ({kpi.direction.value} is better)"}],
        )
    fig.update_layout(title={"text": chart_text(kpi.name) + ("" if kpi.production else " · pilot metric"), "font": {"size": 14}},
                      height=260, margin={"l": 10, "r": 10, "t": 40, "b": 10}, yaxis_title=chart_text(kpi.unit) or None,
                      showlegend=False)
    return fig


# The heatmap shows this many pilots, the least ready first.
HEATMAP_ROWS = 60


def readiness_heatmap(matrix: pd.DataFrame, dimensions: list[str], max_rows: int = HEATMAP_ROWS) -> go.Figure:
    """Pilots against the four readiness dimensions: the share of applicable
    items done. Shows the least ready ``max_rows`` pilots."""
    share = matrix.assign(share=matrix["done"] / matrix["applicable"].where(matrix["applicable"] > 0))
    # Pilots are told apart by id: two may share a name.
    twice = share.groupby("name")["id"].transform("nunique") > 1
    share = share.assign(label=share["name"].where(~twice, share["name"] + " #" + share["id"].astype(str)).map(chart_text))
    table = share.pivot_table(index="label", columns="dimension", values="share").reindex(columns=dimensions)
    table = table.loc[table.mean(axis=1).sort_values().index[:max_rows]]
    fig = go.Figure(go.Heatmap(z=table.values, x=[d.capitalize() for d in dimensions], y=table.index,
                               zmin=0, zmax=1, colorscale="RdYlGn", colorbar={"title": "done", "tickformat": ".0%"},
                               hovertemplate="%{y}<br>%{x}: %{z:.0%} done<extra></extra>"))
    fig.update_layout(height=max(300, 20 * len(table) + 80), margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      yaxis={"autorange": "reversed"})
    return fig


COST_COLOUR, VALUE_COLOUR = "#d62728", "#2ca02c"


def cost_against_value(bars: list[tuple[str, float]], currency: str) -> go.Figure:
    """One pilot's monthly running cost at production volume beside its
    expected monthly value, in ``currency``."""
    fig = go.Figure(go.Bar(
        y=[label for label, _ in bars], x=[v for _, v in bars], orientation="h",
        marker_color=[COST_COLOUR, VALUE_COLOUR][:len(bars)], text=[f"{v:,.0f}" for _, v in bars],
        textposition="auto", hovertemplate="%{y}: %{x:,.0f} " + chart_text(currency) + "<extra></extra>"))
    fig.update_layout(height=150, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      xaxis_title=f"{chart_text(currency)} a month", yaxis={"autorange": "reversed"})
    return fig


def cost_and_value_by_unit(frame: pd.DataFrame, currency: str) -> go.Figure:
    """Per business unit, the projected monthly running cost of its pilots
    beside their expected monthly value, in ``currency`` (rows of
    services.production.cost_and_value_by_unit)."""
    units = [chart_text(u) for u in frame["business_unit"]]
    fig = go.Figure([
        go.Bar(name="Running cost at production volume", x=units, y=frame["cost"], marker_color=COST_COLOUR,
               hovertemplate="%{x}: %{y:,.0f} " + chart_text(currency) + "<extra>cost</extra>"),
        go.Bar(name="Expected value", x=units, y=frame["value"], marker_color=VALUE_COLOUR,
               hovertemplate="%{x}: %{y:,.0f} " + chart_text(currency) + "<extra>value</extra>"),
    ])
    fig.update_layout(barmode="group", height=300, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      yaxis_title=f"{chart_text(currency)} a month", legend={"orientation": "h", "y": -0.2})
    return fig
