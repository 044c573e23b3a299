"""The 90-day clock: pure date arithmetic. Every function takes the as-of date.

The start date is day 1. The go/no-go date is the start date plus the clock
length (90 days by default): on that date the pilot is due (0 days left), and
from the day after it is overdue.
"""

from __future__ import annotations

from datetime import date, timedelta


def go_no_go_date(start: date, clock_days: int) -> date:
    return start + timedelta(days=clock_days)


def day_of_clock(start: date, as_of: date) -> int:
    """Day N of the pilot, the start date being day 1 (0 or less: not started)."""
    return (as_of - start).days + 1


def days_left(go_no_go: date, as_of: date) -> int:
    """Days until the go/no-go date: 0 on the date itself, negative when overdue."""
    return (go_no_go - as_of).days


def is_overdue(go_no_go: date, as_of: date) -> bool:
    return as_of > go_no_go


def week_start(day: date) -> date:
    """The Monday of the ISO week that holds ``day``: the key of a weekly update."""
    return day - timedelta(days=day.weekday())


def iso_week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def describe(start: date | None, go_no_go: date | None, as_of: date) -> str:
    """One line for the pilot page: where the pilot stands on its clock."""
    if start is None:
        return "No start date: the 90-day clock has not started"
    day = day_of_clock(start, as_of)
    if day < 1:
        return f"Starts on {start} (in {1 - day} days)"
    if go_no_go is None:
        return f"Day {day}"
    left = days_left(go_no_go, as_of)
    if left > 0:
        length = (go_no_go - start).days
        return f"Day {day} of {length}: {left} days left to the go/no-go date {go_no_go}"
    if left == 0:
        return f"Day {day}: the go/no-go decision is due today ({go_no_go})"
    return f"Day {day}: {-left} days overdue (go/no-go date was {go_no_go})"
