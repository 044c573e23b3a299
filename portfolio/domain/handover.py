"""The decision followed through (seed 001): the handover accepted before go,
and the check-ins after promotion. Pure: the dates come in as arguments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from portfolio.domain.models import HandoverAcceptance, Pilot
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import Seat


def day_words(on: date) -> str:
    """A date as people write it: 3 Nov 2026."""
    return f"{on.day} {on:%b %Y}"


# --- acceptance before go ---------------------------------------------------


def accepting_seats(settings: Settings) -> tuple[Seat, ...]:
    """The seats whose holder's acceptance a go needs."""
    return (Seat.OPERATIONAL_OWNER,) + ((Seat.EXECUTIVE_SPONSOR,) if settings.acceptance_by_sponsor else ())


def holder(pilot: Pilot, seat: Seat) -> int | None:
    return getattr(pilot, seat.value)


def current_word(pilot: Pilot, seat: Seat, acceptances: list[HandoverAcceptance]) -> HandoverAcceptance | None:
    """The latest word on the handover from whoever holds ``seat`` now
    (``acceptances`` newest first): one given by an earlier holder of the
    seat does not speak for the new one."""
    person = holder(pilot, seat)
    if person is None:
        return None
    return next((a for a in acceptances if a.seat == seat and a.person_id == person), None)


def acceptance_gaps(pilot: Pilot, acceptances: list[HandoverAcceptance], settings: Settings,
                    names: dict[int, str] | None = None) -> list[str]:
    """What a go still lacks: for each seat whose acceptance it needs, the
    seat empty, no word from its holder, or their refusal. ``acceptances``
    are those given by the decision date, newest first."""
    gaps = []
    for seat in accepting_seats(settings):
        who = seat.label.lower()
        person = holder(pilot, seat)
        if person is None:
            gaps.append(f"no {who} is named to accept the handover")
            continue
        named = f"the {who}" + (f" ({names[person]})" if names and person in names else "")
        word = current_word(pilot, seat, acceptances)
        if word is None:
            gaps.append(f"{named} has not accepted the handover")
        elif not word.verdict.accepts:
            gaps.append(f"{named} refused the handover on {day_words(word.accepted_on)}")
    return gaps


# --- check-ins after promotion ----------------------------------------------


@dataclass(frozen=True)
class CheckinDue:
    """One check-in of a production pilot: the day after promotion it is
    due, its date, and whether it was done (and is late when not)."""

    day: int
    due_on: date
    done: bool
    overdue: bool

    @property
    def words(self) -> str:
        return f"the day-{self.day} check-in"


def schedule(promoted_on: date, done_days, settings: Settings, as_of: date) -> list[CheckinDue]:
    """The check-ins due after a promotion on ``promoted_on``: due on the
    promotion plus each of the setting's days; overdue from the day after
    one is due while it is not done."""
    done = {int(d) for d in done_days}
    out = []
    for day in settings.checkin_days:
        due = promoted_on + timedelta(days=day)
        out.append(CheckinDue(day, due, day in done, day not in done and as_of > due))
    return out


def next_due(checkins: list[CheckinDue]) -> CheckinDue | None:
    """The first check-in not done yet; None once all are done (the watch is over)."""
    return next((c for c in checkins if not c.done), None)


def earliest_recording(checkin: CheckinDue, settings: Settings) -> date:
    """The first day a check-in may be recorded: a few days before it is due."""
    return checkin.due_on - timedelta(days=settings.checkin_early_days)
