"""The decision followed through (seed 001): the operational owner accepts
the handover before go (the executive sponsor too where a setting asks),
and checks in on the pilot 30, 60 and 90 days after its promotion.

A go without the acceptance it needs is refused in decisions.record_decision
unless an override reason is given; CHECKIN_OVERDUE (flags) names a missed
check-in. Each write here is one transaction with its audit record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from portfolio.domain import handover as rules
from portfolio.domain import rights
from portfolio.domain.errors import InvalidInput, PermissionDenied, validate
from portfolio.domain.models import AcceptanceIn, Actor, Checkin, CheckinIn, HandoverAcceptance, Pilot
from portfolio.domain.rights import Right
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import Role, Seat, Stage
from portfolio.storage import audit, store
from portfolio.storage import handover as handover_store
from portfolio.storage.db import write

# Stages in which the handover is still to be accepted: before the go.
ACCEPTING_STAGES = (Stage.PROPOSED, Stage.PILOT)


# --- acceptance before go ---------------------------------------------------


def record_acceptance(conn, actor: Actor, values: dict, settings: Settings, *,
                      today: date | None = None) -> HandoverAcceptance:
    """Record the word of the person in the operational owner seat (or the
    executive sponsor seat, where ``settings`` asks for it) on the handover:
    accepted, with conditions, or refused, with a note. They record it
    themselves, or an admin enters it for them. With ``today`` (the pages
    pass it), a date after it is refused. Never edited: a later word
    supersedes an earlier one."""
    value = validate(AcceptanceIn, **values)
    pilot = store.get_pilot(conn, value.pilot_id)
    rights.require(actor, Right.ACCEPT_HANDOVER, pilot)
    seat_words = value.seat.label.lower()
    if value.seat == Seat.EXECUTIVE_SPONSOR and not settings.acceptance_by_sponsor:
        raise InvalidInput("Seat: the executive sponsor's acceptance is not asked for here (setting "
                           "acceptance_by_sponsor); the operational owner accepts the handover", field="seat")
    if pilot.stage not in ACCEPTING_STAGES:
        raise InvalidInput(f"Acceptance: '{pilot.name}' is {pilot.stage.value}; the handover is accepted "
                           "before the go decision", field="verdict")
    holder_id = rules.holder(pilot, value.seat)
    if holder_id is None:
        raise InvalidInput(f"Seat: '{pilot.name}' has no {seat_words}; name one on the pilot page first, "
                           "and they accept the handover", field="seat")
    holder = store.get_person(conn, holder_id)
    if not holder.active:
        raise InvalidInput(f"Seat: the {seat_words}, {holder.name}, is inactive; hand the seat to someone "
                           "active first", field="seat")
    if actor.person_id != holder_id and actor.role != Role.ADMIN:
        raise PermissionDenied(f"{actor.name} may not record the {seat_words}'s acceptance on '{pilot.name}': "
                               f"only {holder.name}, who holds the seat, or an admin may.")
    if today is not None and value.accepted_on > today:
        raise InvalidInput(f"Date: {value.accepted_on} is in the future (today is {today})", field="accepted_on")
    if pilot.start_date is not None and value.accepted_on < pilot.start_date:
        raise InvalidInput(f"Date: {value.accepted_on} is before the pilot's start date {pilot.start_date}",
                           field="accepted_on")

    def work(c):
        latest = rules.current_word(store.get_pilot(c, pilot.id), value.seat,
                                    handover_store.list_acceptances(c, pilot.id))
        if latest is not None and (latest.verdict, latest.note, latest.accepted_on) == (
                value.verdict, value.note, value.accepted_on):
            return latest  # a repeated submit: recorded once
        new_id = handover_store.insert_acceptance(c, value, holder_id, actor.person_id)
        audit.created(c, actor, "handover_acceptance", new_id, value.verdict.label)
        return next(a for a in handover_store.list_acceptances(c, pilot.id) if a.id == new_id)

    return write(conn, work)


@dataclass(frozen=True)
class AcceptanceStatus:
    """Where a pilot's handover stands on a day: the word of each seat whose
    acceptance a go needs (None: none yet), and what a go still lacks."""

    words: dict[Seat, HandoverAcceptance | None]
    holders: dict[Seat, str | None]
    gaps: list[str]

    @property
    def accepted(self) -> bool:
        return not self.gaps

    def lines(self) -> list[str]:
        """One sentence per seat, for people: who said what, when."""
        out = []
        for seat, word in self.words.items():
            who = seat.label
            name = self.holders.get(seat)
            if name is None:
                out.append(f"{who}: nobody is named to accept the handover")
            elif word is None:
                out.append(f"{who} ({name}): has not accepted the handover")
            else:
                out.append(f"{who} ({name}): {word.verdict.label} on {rules.day_words(word.accepted_on)}"
                           + (f" ({word.note})" if word.note else ""))
        return out


def acceptance_status(conn, pilot: Pilot, settings: Settings, on: date) -> AcceptanceStatus:
    """The handover's acceptance as it stood on ``on`` (the decision date, or
    the as-of date)."""
    given = handover_store.list_acceptances(conn, pilot.id, until=on)
    people = {}
    for seat in rules.accepting_seats(settings):
        person = rules.holder(pilot, seat)
        people[seat] = store.get_person(conn, person) if person is not None else None
    names = {p.id: p.name for p in people.values() if p is not None}
    return AcceptanceStatus(
        words={seat: rules.current_word(pilot, seat, given) for seat in people},
        holders={seat: (p.name if p is not None else None) for seat, p in people.items()},
        gaps=rules.acceptance_gaps(pilot, given, settings, names),
    )


def acceptances(conn, pilot_id: int) -> list[HandoverAcceptance]:
    """Every word given on the pilot's handover, newest first."""
    return handover_store.list_acceptances(conn, pilot_id)


def go_acceptance_gaps(conn, pilot: Pilot, settings: Settings, on: date) -> list[str]:
    """What a go decided on ``on`` lacks in acceptance (empty: nothing)."""
    return acceptance_status(conn, pilot, settings, on).gaps


# --- check-ins after promotion ----------------------------------------------


@dataclass(frozen=True)
class Watch:
    """A production pilot's check-ins as they stand on a day."""

    promoted_on: date | None
    checkins: list[rules.CheckinDue]
    recorded: list[Checkin]

    @property
    def next(self) -> rules.CheckinDue | None:
        return rules.next_due(self.checkins) if self.promoted_on else None

    @property
    def open(self) -> bool:
        """Still under watch: promoted, and a check-in not done yet."""
        return self.next is not None


def watch(conn, pilot: Pilot, settings: Settings, on: date) -> Watch:
    """The check-ins of ``pilot`` after its latest promotion, as of ``on``."""
    promoted = handover_store.promoted_on(conn, pilot.id, until=on)
    if promoted is None or pilot.stage not in (Stage.PRODUCTION, Stage.RETIRED):
        return Watch(promoted, [], [])
    recorded = handover_store.list_checkins(conn, pilot.id, promoted, until=on)
    return Watch(promoted, rules.schedule(promoted, [c.due_day for c in recorded], settings, on), recorded)


def record_checkin(conn, actor: Actor, values: dict, settings: Settings, *, today: date | None = None) -> Checkin:
    """Record the next check-in due on a production pilot: whether it is
    used, whether its production KPIs hold, whether its cost is what was
    expected, and a note. Its operational owner records it, or an admin for
    them. It may be recorded from a few days before it is due
    (``checkin_early_days``); with ``today``, a date after it is refused."""
    value = validate(CheckinIn, **values)
    pilot = store.get_pilot(conn, value.pilot_id)
    rights.require(actor, Right.RECORD_CHECKIN, pilot)
    if pilot.stage != Stage.PRODUCTION:
        raise InvalidInput(f"Check-in: '{pilot.name}' is {pilot.stage.value}; check-ins follow a pilot in "
                           "production", field="checked_on")
    if actor.role != Role.ADMIN and not store.get_person(conn, actor.person_id).active:
        raise PermissionDenied(f"{actor.name} is inactive and may not record a check-in.")
    if today is not None and value.checked_on > today:
        raise InvalidInput(f"Check-in date: {value.checked_on} is in the future (today is {today})",
                           field="checked_on")
    promoted = handover_store.promoted_on(conn, pilot.id)
    if promoted is None:
        raise InvalidInput(f"Check-in: '{pilot.name}' has no promotion recorded in the tracker (it came in "
                           "already in production), so no check-ins are counted for it", field="checked_on")
    if value.checked_on < promoted:
        raise InvalidInput(f"Check-in date: {value.checked_on} is before the promotion on "
                           f"{rules.day_words(promoted)}", field="checked_on")

    def work(c):
        recorded = handover_store.list_checkins(c, pilot.id, promoted)
        last = recorded[-1] if recorded else None
        if last is not None and (last.checked_on, last.used, last.kpis_hold, last.cost_as_expected, last.note) == (
                value.checked_on, value.used, value.kpis_hold, value.cost_as_expected, value.note):
            return last  # a repeated submit: recorded once
        due = rules.next_due(rules.schedule(promoted, [r.due_day for r in recorded], settings, value.checked_on))
        if due is None:
            raise InvalidInput(f"Check-in: all {len(settings.checkin_days)} check-ins of '{pilot.name}' are "
                               "done; its watch is over", field="checked_on")
        opens = rules.earliest_recording(due, settings)
        if value.checked_on < opens:
            raise InvalidInput(f"Check-in date: {due.words} is due on {rules.day_words(due.due_on)}; it can be "
                               f"recorded from {rules.day_words(opens)}", field="checked_on")
        new_id = handover_store.insert_checkin(c, value, promoted, due.day, pilot.operational_owner_id,
                                               actor.person_id)
        audit.created(c, actor, "checkin", new_id, f"day {due.day}")
        return next(r for r in handover_store.list_checkins(c, pilot.id, promoted) if r.id == new_id)

    return write(conn, work)


def under_watch(conn, settings: Settings, as_of: date) -> pd.DataFrame:
    """The production pilots still under watch on ``as_of`` (a check-in not
    done yet), the most overdue first: name, business unit, operational
    owner, promoted on, check-ins done, the next check-in in words, its date
    and whether it is overdue. One read for the portfolio."""
    rows = []
    total = len(settings.checkin_days)
    for r in handover_store.production_watch(conn, as_of).itertuples():
        if pd.isna(r.promoted_on):
            continue  # came in already in production: no promotion to count from
        promoted = pd.Timestamp(r.promoted_on).date()
        plan = rules.schedule(promoted, list(r.done_days), settings, as_of)
        nxt = rules.next_due(plan)
        if nxt is None:
            continue  # every check-in done: the watch is over
        rows.append({
            "id": int(r.pilot_id), "name": r.name, "business_unit": r.business_unit,
            "operational_owner": r.operational_owner, "promoted_on": promoted,
            "done": f"{sum(c.done for c in plan)} of {total}",
            "next_checkin": f"day {nxt.day}: {rules.day_words(nxt.due_on)}"
                            + (f" ({(as_of - nxt.due_on).days} days overdue)" if nxt.overdue else ""),
            "next_due_on": nxt.due_on, "overdue": nxt.overdue,
        })
    frame = pd.DataFrame(rows, columns=["id", "name", "business_unit", "operational_owner", "promoted_on", "done",
                                        "next_checkin", "next_due_on", "overdue"])
    return frame.sort_values(["next_due_on", "name"], kind="stable").reset_index(drop=True)
