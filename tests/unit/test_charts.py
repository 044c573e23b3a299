"""The timeline of the clock windows: one page of pilots at a time, the
decisions nearest the as-of date first, however large the portfolio."""

from datetime import date, timedelta

import pandas as pd
import pytest

from portfolio.web import charts

AS_OF = date(2026, 6, 1)


def portfolio(n: int) -> pd.DataFrame:
    """``n`` pilots on the clock, pilot i decided i days from AS_OF (the
    even ones before it, the odd ones after), and two that the timeline
    cannot draw: one proposed, one without a start date."""
    rows = [{"id": i, "name": f"Pilot {i:03d}", "stage": "pilot",
             "start_date": AS_OF - timedelta(days=120),
             "go_no_go_date": AS_OF + timedelta(days=i if i % 2 else -i)} for i in range(1, n + 1)]
    rows += [{"id": 900, "name": "Proposed", "stage": "proposed", "start_date": None, "go_no_go_date": None},
             {"id": 901, "name": "No clock", "stage": "pilot", "start_date": None, "go_no_go_date": None}]
    return pd.DataFrame(rows)


def bars(fig) -> set[str]:
    return {name for trace in fig.data for name in trace.y}


def test_a_small_portfolio_is_one_page_with_every_pilot_on_the_clock():
    fig = charts.timeline(portfolio(12), AS_OF, 14)
    assert charts.timeline_pages(len(charts.on_the_clock(portfolio(12)))) == 1
    assert bars(fig) == {f"Pilot {i:03d}" for i in range(1, 13)}


def test_the_count_of_pilots_on_the_clock_is_what_the_timeline_can_draw():
    pilots = pd.concat([portfolio(30), pd.DataFrame([
        {"id": 902, "name": "Bridge", "stage": "bridge", "start_date": AS_OF - timedelta(days=200),
         "go_no_go_date": AS_OF - timedelta(days=100)},
        {"id": 903, "name": "Production", "stage": "production", "start_date": AS_OF - timedelta(days=300),
         "go_no_go_date": AS_OF - timedelta(days=200)},
        {"id": 904, "name": "No decision date", "stage": "pilot", "start_date": AS_OF, "go_no_go_date": None},
        {"id": 905, "name": "No start date", "stage": "pilot", "start_date": None,
         "go_no_go_date": AS_OF + timedelta(days=10)}])],
        ignore_index=True)
    assert charts.clock_count(pilots) == len(charts.on_the_clock(pilots)) == 31


def test_a_large_portfolio_shows_a_page_at_a_time_nearest_decisions_first():
    pilots = portfolio(100)
    per_page = charts.TIMELINE_PAGE_BARS
    pages = charts.timeline_pages(len(charts.on_the_clock(pilots)))
    assert pages == -(-100 // per_page)
    first = bars(charts.timeline(pilots, AS_OF, 14, page=1))
    assert first == {f"Pilot {i:03d}" for i in range(1, per_page + 1)}
    second = bars(charts.timeline(pilots, AS_OF, 14, page=2))
    assert second == {f"Pilot {i:03d}" for i in range(per_page + 1, 2 * per_page + 1)}
    pages = [bars(charts.timeline(pilots, AS_OF, 14, page=p)) for p in range(1, pages + 1)]
    assert set().union(*pages) == {f"Pilot {i:03d}" for i in range(1, 101)}
    assert sum(len(p) for p in pages) == 100  # each pilot on exactly one page


@pytest.mark.parametrize("page, expected", [(0, 1), (-3, 1), (99, 3)], ids=["zero", "negative", "past-the-end"])
def test_a_page_out_of_range_shows_the_nearest_page_there_is(page, expected):
    pilots = portfolio(100)
    assert bars(charts.timeline(pilots, AS_OF, 14, page=page)) == bars(charts.timeline(pilots, AS_OF, 14, page=expected))


def test_an_overdue_pilot_has_its_overrun_bar_and_the_chart_fits_its_page():
    fig = charts.timeline(portfolio(100), AS_OF, 14, page=1)
    overrun = [t for t in fig.data if t.name == "overdue (past go/no-go)"]
    assert overrun and set(overrun[0].y) == {f"Pilot {i:03d}" for i in range(2, charts.TIMELINE_PAGE_BARS + 1, 2)}
    assert fig.layout.height <= 22 * charts.TIMELINE_PAGE_BARS + 120


def test_a_kpi_trend_draws_its_target_as_a_dashed_line_across_the_plot_with_its_label():
    from portfolio.domain.models import Kpi
    from portfolio.domain.vocabulary import Direction, KpiCategory

    kpi = Kpi(id=1, pilot_id=1, name="Handling time", category=list(KpiCategory)[0], unit="min",
              direction=Direction.LOWER, baseline=12.0, target=8.5, horizon_days=90, production=True, version=1)
    readings = pd.DataFrame({"reading_on": [AS_OF - timedelta(days=14), AS_OF - timedelta(days=7), AS_OF],
                             "value": [11.0, 9.5, 8.0]})
    fig = charts.kpi_trend(readings, kpi)
    assert list(fig.data[0].y) == [11.0, 9.5, 8.0]
    (line,) = fig.layout.shapes
    assert (line.y0, line.y1, line.x0, line.x1, line.line.dash) == (8.5, 8.5, 0, 1, "dash")
    assert line.xref in ("paper", "x domain")  # across the whole plot, whatever its dates
    (label,) = fig.layout.annotations
    assert label.text == "target 8.5 (lower is better)" and label.y == 8.5
    # Without a target, no line and no label.
    fig = charts.kpi_trend(readings, kpi.model_copy(update={"target": None}))
    assert not fig.layout.shapes and not fig.layout.annotations


def test_the_day_90_and_day_180_labels_sit_on_either_side_of_their_lines():
    """On a long axis the two marks are close: one label to the left of its
    line, the other to the right, so they never write over each other."""
    fig = charts.age_histogram(pd.Series([5, 100, 400, 3650]))
    first, second = fig.layout.annotations
    assert (first.text, first.x, first.xanchor) == ("day 90", 90, "right")
    assert (second.text, second.x, second.xanchor) == ("day 180", 180, "left")
    assert [s.x0 for s in fig.layout.shapes] == [90, 180]


def test_a_timeline_of_one_pilot_is_one_bar_high_not_a_wall():
    one = charts.timeline(portfolio(1), AS_OF, 14)
    assert bars(one) == {"Pilot 001"} and one.layout.height <= 180
    assert charts.timeline(portfolio(10), AS_OF, 14).layout.height > one.layout.height
