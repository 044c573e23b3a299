from datetime import date, timedelta

import pytest

from portfolio.domain import clock

START = date(2026, 1, 5)
GNG = clock.go_no_go_date(START, 90)


def test_go_no_go_date_is_start_plus_clock_length():
    assert GNG == date(2026, 4, 5)


def test_start_date_is_day_1():
    assert clock.day_of_clock(START, START) == 1
    assert clock.day_of_clock(START, START + timedelta(days=89)) == 90


@pytest.mark.parametrize(
    "as_of, left, overdue",
    [
        pytest.param(GNG - timedelta(days=1), 1, False, id="day-before-go-no-go"),
        pytest.param(GNG, 0, False, id="on-go-no-go-date-due-not-overdue"),
        pytest.param(GNG + timedelta(days=1), -1, True, id="day-after-overdue"),
    ],
)
def test_days_left_and_overdue_around_the_go_no_go_date(as_of, left, overdue):
    assert clock.days_left(GNG, as_of) == left
    assert clock.is_overdue(GNG, as_of) is overdue


def test_week_start_is_the_monday_of_the_iso_week():
    assert clock.week_start(date(2026, 3, 8)) == date(2026, 3, 2)  # a Sunday
    assert clock.week_start(date(2026, 3, 2)) == date(2026, 3, 2)
    assert clock.iso_week_label(date(2026, 3, 2)) == "2026-W10"


@pytest.mark.parametrize(
    "as_of, expected",
    [
        pytest.param(START - timedelta(days=3), "Starts on 2026-01-05 (in 3 days)", id="not-started"),
        pytest.param(START + timedelta(days=9), "Day 10 of 90: 81 days left", id="running"),
        pytest.param(GNG, "decision is due today", id="due"),
        pytest.param(GNG + timedelta(days=4), "4 days overdue", id="overdue"),
    ],
)
def test_describe_says_where_the_pilot_stands(as_of, expected):
    assert expected in clock.describe(START, GNG, as_of)


def test_describe_without_start_date():
    assert "has not started" in clock.describe(None, None, START)
