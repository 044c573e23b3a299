"""The pilot's clock and seat rules, which the pilot's form and the importer
share (pure: no database)."""

from datetime import date

import pytest

from portfolio.domain import pilot_rules
from portfolio.domain.errors import InvalidInput
from portfolio.domain.vocabulary import Seat

START = date(2025, 8, 4)


def test_the_start_date_once_set_does_not_move():
    pilot_rules.check_start_date(None, START)  # setting it starts the clock
    pilot_rules.check_start_date(START, START)
    for moved in (date(2025, 9, 1), None):
        with pytest.raises(InvalidInput, match="Start date: the clock started on 2025-08-04 and does not move") \
                as refused:
            pilot_rules.check_start_date(START, moved)
        assert refused.value.field == "start_date"


def test_the_go_no_go_date_once_set_moves_only_by_an_extend_decision():
    pilot_rules.check_go_no_go_date(None, date(2025, 11, 2))
    pilot_rules.check_go_no_go_date(date(2025, 11, 2), date(2025, 11, 2))
    with pytest.raises(InvalidInput, match="Go/no-go date: it is 2025-11-02 and only an extend decision moves it"):
        pilot_rules.check_go_no_go_date(date(2025, 11, 2), date(2026, 1, 1))


def test_an_inactive_person_keeps_their_seat_but_takes_no_new_one():
    pilot_rules.check_seat_taker(Seat.PRODUCT_OWNER, 5, "Gone Person", False, holder_id=5)
    pilot_rules.check_seat_taker(Seat.PRODUCT_OWNER, 5, "Active Person", True, holder_id=None)
    with pytest.raises(InvalidInput, match="^Technical lead: Gone Person is inactive and cannot take a seat$") \
            as refused:
        pilot_rules.check_seat_taker(Seat.TECHNICAL_LEAD, 5, "Gone Person", False, holder_id=6)
    assert refused.value.field == "technical_lead_id"


def test_the_default_go_no_go_date_is_the_start_plus_the_clock():
    assert pilot_rules.default_go_no_go_date(START, 90) == date(2025, 11, 2)
    assert pilot_rules.go_no_go_date(START, None, 90) == date(2025, 11, 2)
    assert pilot_rules.go_no_go_date(START, date(2025, 12, 1), 90) == date(2025, 12, 1)  # a date given stays
    assert pilot_rules.go_no_go_date(None, None, 90) is None  # no start, no clock


def test_a_clock_ending_after_the_last_date_the_tracker_takes_is_refused():
    with pytest.raises(InvalidInput, match="Start date: 2199-12-01 puts the go/no-go date, 90 days on, at "
                                           "2200-03-01, after 2199"):
        pilot_rules.default_go_no_go_date(date(2199, 12, 1), 90)
