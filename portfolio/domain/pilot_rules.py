"""The rules of a pilot's clock and seats, once: the pilot's form and the
importer both call them, so a file is refused what the form refuses, in the
same words.

* the start date, once set, never moves (it started the clock);
* the go/no-go date, once set, moves only by an extend decision;
* an inactive person keeps a seat they hold but takes no new one;
* without a go/no-go date, a pilot with a start date gets the start plus the
  clock length;
* only a proposed pilot may have a start date in the future.

Each check raises InvalidInput naming the field; the facts it needs (the
stored dates, whether a person is active, who holds the seat now) are passed
in.
"""

from __future__ import annotations

from datetime import date

from portfolio.domain import clock
from portfolio.domain.errors import InvalidInput
from portfolio.domain.models import LATEST_DATE, check_date_range
from portfolio.domain.vocabulary import Seat, Stage


def check_start_date(stored: date | None, wanted: date | None) -> None:
    """The start date started the clock: once stored, it does not move."""
    if stored and wanted != stored:
        raise InvalidInput(f"Start date: the clock started on {stored} and does not move", field="start_date")


def check_go_no_go_date(stored: date | None, wanted: date | None) -> None:
    """Once stored, the go/no-go date moves only by an extend decision."""
    if stored is not None and wanted != stored:
        raise InvalidInput(f"Go/no-go date: it is {stored} and only an extend decision moves it",
                           field="go_no_go_date")


def check_seat_taker(seat: Seat, person_id: int, name: str, active: bool, holder_id: int | None) -> None:
    """An inactive person keeps the seat they hold (the OWNERLESS and
    MISSING_SEAT flags say so) but takes no new one."""
    if not active and person_id != holder_id:
        raise InvalidInput(f"{seat.label}: {name} is inactive and cannot take a seat", field=seat.value)


def default_go_no_go_date(start: date, clock_days: int) -> date:
    """The go/no-go date of a clock started on ``start``; refused when it
    would fall outside the dates the tracker accepts (the pilot could then
    never be edited)."""
    gng = clock.go_no_go_date(start, clock_days)
    try:
        check_date_range(gng)
    except ValueError:
        raise InvalidInput(
            f"Start date: {start} puts the go/no-go date, {clock_days} days on, at {gng}, after {LATEST_DATE.year}",
            field="start_date",
        ) from None
    return gng


def go_no_go_date(start: date | None, given: date | None, clock_days: int) -> date | None:
    """The go/no-go date a pilot gets: the one given, else the default from
    its start date, else none (a pilot without a start has no clock)."""
    if given is not None or start is None:
        return given
    return default_go_no_go_date(start, clock_days)


def check_start_not_in_future(stage: Stage, start: date | None, today: date) -> None:
    """Only a proposed pilot may have a start date still to come: a pilot on
    the clock started on a day that has been. ``today`` is the real day of
    the save (not the as-of date a person reads the portfolio at)."""
    if start is not None and start > today and stage != Stage.PROPOSED:
        raise InvalidInput(
            f"Start date: {start:%d %b %Y} is in the future (today is {today:%d %b %Y}); only a proposed "
            "pilot may start later",
            field="start_date",
        )
