"""Each stage's own next date, in words, as the Portfolio page and the
export show it (pure: a frame in, words out)."""

from datetime import date

import pandas as pd

from portfolio.services.reporting import overview


def test_each_stage_shows_its_own_next_date_and_the_others_none():
    pilots = pd.DataFrame({
        "stage": ["pilot", "bridge", "proposed", "proposed", "production", "stopped", "pilot"],
        "start_date": pd.to_datetime([date(2026, 1, 5), date(2025, 9, 1), date(2027, 1, 5), None,
                                      date(2025, 1, 6), date(2025, 3, 3), None]),
        "go_no_go_date": pd.to_datetime([date(2027, 3, 12), date(2025, 11, 30), None, None, date(2025, 4, 6),
                                         date(2025, 6, 1), None]),
        "bridge_due_date": pd.to_datetime([None, date(2027, 2, 3), None, None, date(2025, 6, 1), None, None]),
    })
    assert list(overview.next_dates(pilots)) == [
        "go/no-go 12 Mar 2027",       # on the clock: its go/no-go date
        "bridge due 3 Feb 2027",      # on the bridge: the date the bridge is due, not the past go/no-go
        "planned start 5 Jan 2027",   # proposed with a start date: when it is to start
        "",                           # proposed with none: nothing ahead
        "",                           # production: the tracker keeps no date ahead of it
        "",                           # stopped
        "",                           # a pilot with no clock yet
    ]


def test_dates_given_as_dates_read_the_same():
    pilots = pd.DataFrame({"stage": ["pilot"], "start_date": [date(2026, 1, 5)],
                           "go_no_go_date": [date(2026, 4, 5)], "bridge_due_date": [None]})
    assert list(overview.next_dates(pilots)) == ["go/no-go 5 Apr 2026"]
