"""Who is reminded of what, and when again: the reasons a person gets an
email about a pilot, as one table (REASONS), and the rule that nobody is
told the same thing twice.

Each reason names its category (what a person can switch off on the People
page), whom it reaches (a seat on the pilot, or everyone of a role) and the
*step* it is at: a reason is sent again only when its step changes (the
go/no-go date 14, then 7, then 0 days ahead; overdue, then escalated) or,
while it holds at the same step, once the repeat interval (a week) has
passed. Pure: the facts and the as-of date come in, the items go out.

A reason that follows one flag is one line in FLAG_REASONS, for example
``flag_reason("privileges_not_revoked", "PRIVILEGES_NOT_REVOKED",
(Seat.PRODUCT_OWNER,), Category.HEALTH)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import Enum

from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import Role, Seat


class Category(str, Enum):
    """What a person chooses to get (People page, "Email me")."""

    UPDATES = "updates"
    DECISIONS = "decisions"
    HEALTH = "health"
    OPERATIONS = "operations"

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self]


CATEGORY_LABELS = {
    Category.UPDATES: "Weekly update missing",
    Category.DECISIONS: "Go/no-go dates, overdue decisions and escalations",
    Category.HEALTH: "Stalled, ownerless, a seat empty, privileges still held after a stop",
    Category.OPERATIONS: "Bridge due dates, production KPIs off target, check-ins missed",
}
ALL_CATEGORIES = tuple(Category)


class Where(str, Enum):
    """Where an item is acted on: the page its link opens."""

    UPDATE = "update"      # the weekly-update form, with the pilot chosen
    DECISION = "decision"  # the Decisions page, with the pilot chosen
    PILOT = "pilot"        # the pilot's own page


# The go/no-go (and bridge) date is reminded this many days ahead, and on the day.
DAYS_AHEAD_STEPS = (14, 7, 0)


def day_words(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


@dataclass(frozen=True)
class PilotFacts:
    """What the reasons read about one pilot on the as-of date."""

    id: int
    name: str
    stage: str
    business_unit: str = ""
    go_no_go_date: date | None = None
    bridge_due_date: date | None = None
    # The person id in each seat (whether active or not: an inactive holder
    # is never emailed, and the flags count the seat as empty).
    seats: dict[Seat, int | None] = field(default_factory=dict)
    updated_this_week: bool = False
    # code -> (label in words, reason with its numbers)
    flags: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """A reason holding for a pilot, for whoever ``to`` names."""

    to: Seat | Role
    step: str
    text: str
    where: Where = Where.PILOT
    urgency: int = 0  # of two hits of one reason for one person, the higher is kept


@dataclass(frozen=True)
class Reason:
    key: str
    category: Category
    holds: Callable[[PilotFacts, date, Settings], Iterable[Hit]]


@dataclass(frozen=True)
class Item:
    """One line of one person's email."""

    person_id: int
    pilot_id: int
    pilot: str
    business_unit: str
    reason: str
    category: Category
    step: str
    text: str
    where: Where
    urgency: int = 0


@dataclass(frozen=True)
class Recipient:
    id: int
    name: str
    email: str
    role: Role
    active: bool = True
    email_me: bool = True
    categories: frozenset[Category] = frozenset(ALL_CATEGORIES)


# --- the reasons -----------------------------------------------------------------

OWNERS = (Seat.PRODUCT_OWNER, Seat.TECHNICAL_LEAD)


def flag_reason(key: str, code: str, seats: tuple[Seat, ...], category: Category,
                stages: tuple[str, ...] | None = None, where: Where = Where.PILOT) -> Reason:
    """A reason that holds while the pilot carries flag ``code`` (in one of
    ``stages``, any when None), for the holders of ``seats``; its words are
    the flag's label and reason."""

    def holds(p: PilotFacts, as_of: date, settings: Settings) -> Iterable[Hit]:
        if code not in p.flags or (stages is not None and p.stage not in stages):
            return []
        label, why = p.flags[code]
        return [Hit(seat, "on", f"{label}: {why}", where) for seat in seats]

    return Reason(key, category, holds)


def _ahead_step(days: int) -> str | None:
    """The step of a date ``days`` ahead: "14" within 14 days, "7" within 7,
    "0" on the day; None further ahead or past."""
    if days < 0:
        return None
    return str(min(s for s in DAYS_AHEAD_STEPS if s >= days)) if days <= max(DAYS_AHEAD_STEPS) else None


def _in_days(days: int) -> str:
    return "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"


def _update_missing(p: PilotFacts, as_of: date, settings: Settings) -> Iterable[Hit]:
    if p.stage not in ("pilot", "bridge") or p.updated_this_week:
        return []
    if as_of.isoweekday() < settings.update_reminder_weekday:
        return []
    week = as_of - timedelta(days=as_of.weekday())
    text = f"This week's update is missing (week of {day_words(week)}): post it in a couple of minutes"
    return [Hit(seat, week.isoformat(), text, Where.UPDATE) for seat in OWNERS]


def _decision_ahead(p: PilotFacts, as_of: date, settings: Settings) -> Iterable[Hit]:
    if p.stage != "pilot" or p.go_no_go_date is None:
        return []
    days = (p.go_no_go_date - as_of).days
    step = _ahead_step(days)
    if step is None:
        return []
    text = f"Go/no-go decision due {_in_days(days)}, on {day_words(p.go_no_go_date)}"
    return [Hit(seat, step, text, Where.DECISION) for seat in OWNERS]


def _overdue(p: PilotFacts, as_of: date, settings: Settings) -> Iterable[Hit]:
    """Overdue to the product owner and technical lead; to the executive
    sponsor and leadership too, escalated once it is overdue by more than
    the escalation setting."""
    if "OVERDUE_DECISION" not in p.flags or p.go_no_go_date is None:
        return []
    late = (as_of - p.go_no_go_date).days
    since = f"the go/no-go date was {day_words(p.go_no_go_date)}"
    plain = f"Go/no-go decision overdue by {late} day{'s' * (late != 1)} ({since})"
    hits = [Hit(seat, "overdue", plain, Where.DECISION) for seat in OWNERS]
    if late > settings.escalation_days:
        upward = Hit(Seat.EXECUTIVE_SPONSOR, "escalated",
                     f"Escalation: the go/no-go decision is overdue by {late} days, more than "
                     f"{settings.escalation_days} ({since})", Where.DECISION, urgency=1)
    else:
        upward = Hit(Seat.EXECUTIVE_SPONSOR, "overdue", plain, Where.DECISION)
    return [*hits, upward, Hit(Role.LEADERSHIP, upward.step, upward.text, Where.DECISION, upward.urgency)]


def _decision_this_week(p: PilotFacts, as_of: date, settings: Settings) -> Iterable[Hit]:
    if p.stage != "pilot" or p.go_no_go_date is None:
        return []
    week_end = as_of - timedelta(days=as_of.weekday()) + timedelta(days=6)
    if not as_of <= p.go_no_go_date <= week_end:
        return []
    days = (p.go_no_go_date - as_of).days
    # The date is the step: a decision moved to another day this week is news.
    return [Hit(Role.LEADERSHIP, p.go_no_go_date.isoformat(),
                f"Go/no-go decision due this week: {day_words(p.go_no_go_date)} ({_in_days(days)})",
                Where.DECISION)]


def _bridge_due(p: PilotFacts, as_of: date, settings: Settings) -> Iterable[Hit]:
    if p.stage != "bridge" or p.bridge_due_date is None:
        return []
    days = (p.bridge_due_date - as_of).days
    if days < 0:
        step, text = "overdue", (f"The bridge to production is {-days} day{'s' * (days != -1)} past its due date "
                                 f"({day_words(p.bridge_due_date)})")
    else:
        step = _ahead_step(days)
        if step is None:
            return []
        text = f"The bridge to production is due {_in_days(days)}, on {day_words(p.bridge_due_date)}"
    return [Hit(Seat.OPERATIONAL_OWNER, step, text)]


# Reasons that follow a flag: one line each (key, flag, seats, category,
# stages where it counts).
FLAG_REASONS: tuple[Reason, ...] = (
    flag_reason("stalled", "STALLED", (*OWNERS, Seat.EXECUTIVE_SPONSOR), Category.HEALTH),
    flag_reason("ownerless", "OWNERLESS", (Seat.EXECUTIVE_SPONSOR,), Category.HEALTH),
    flag_reason("missing_seat", "MISSING_SEAT", OWNERS, Category.HEALTH),
    flag_reason("kpi_off_target", "KPI_OFF_TARGET", (Seat.OPERATIONAL_OWNER,), Category.OPERATIONS,
                stages=("production",)),
    # A stopped pilot still holding what it borrowed: those who give it back.
    flag_reason("privileges_not_revoked", "PRIVILEGES_NOT_REVOKED", OWNERS, Category.HEALTH),
    flag_reason("checkin_overdue", "CHECKIN_OVERDUE", (Seat.OPERATIONAL_OWNER,), Category.OPERATIONS,
                stages=("production",)),
)

# Every reason, in the order an email lists a pilot's items.
REASONS: tuple[Reason, ...] = (
    Reason("overdue", Category.DECISIONS, _overdue),
    Reason("update_missing", Category.UPDATES, _update_missing),
    Reason("decision_ahead", Category.DECISIONS, _decision_ahead),
    Reason("decision_this_week", Category.DECISIONS, _decision_this_week),
    Reason("bridge_due", Category.OPERATIONS, _bridge_due),
    *FLAG_REASONS,
)
REASON_ORDER = {r.key: i for i, r in enumerate(REASONS)}


# --- who gets what -----------------------------------------------------------------


def reminders(pilots: Iterable[PilotFacts], people: Iterable[Recipient], as_of: date,
              settings: Settings) -> dict[int, list[Item]]:
    """Every item that holds on ``as_of``, per person who wants it (active,
    "email me" on, the item's category chosen), before the sent history is
    looked at. One item per (pilot, reason) per person: a person in two
    seats of a pilot gets the more urgent."""
    by_id = {p.id: p for p in people}
    by_role: dict[Role, list[Recipient]] = {}
    for person in by_id.values():
        by_role.setdefault(person.role, []).append(person)
    out: dict[int, dict[tuple[int, str], Item]] = {}
    for pilot in pilots:
        for reason in REASONS:
            for hit in reason.holds(pilot, as_of, settings):
                if isinstance(hit.to, Seat):
                    holder = by_id.get(pilot.seats.get(hit.to))
                    targets = [holder] if holder is not None else []
                else:
                    targets = by_role.get(hit.to, [])
                for person in targets:
                    if not (person.active and person.email_me and reason.category in person.categories):
                        continue
                    item = Item(person.id, pilot.id, pilot.name, pilot.business_unit, reason.key, reason.category,
                                hit.step, hit.text, hit.where, hit.urgency)
                    mine = out.setdefault(person.id, {})
                    kept = mine.get((pilot.id, reason.key))
                    if kept is None or item.urgency > kept.urgency:
                        mine[(pilot.id, reason.key)] = item
    return {pid: sorted(items.values(), key=lambda i: (i.pilot.lower(), i.pilot_id, REASON_ORDER[i.reason]))
            for pid, items in out.items()}


def is_due(step: str, last: tuple[str, date] | None, as_of: date, settings: Settings) -> bool:
    """Whether an item at ``step`` goes out on ``as_of``, given the last one
    sent for the same person, pilot and reason (its step and day): never
    sent, a new step, or the same step sent a repeat interval ago or more."""
    if last is None:
        return True
    last_step, last_day = last
    if last_step != step:
        return True
    return (as_of - last_day).days >= settings.reminder_repeat_days


def still_to_send(items: dict[int, list[Item]], sent: dict[tuple[int, int, str], tuple[str, date]],
                  as_of: date, settings: Settings) -> dict[int, list[Item]]:
    """``items`` without those already sent (``sent``: the last send per
    (person, pilot, reason)); people left with nothing drop out."""
    out = {}
    for person_id, mine in items.items():
        due = [i for i in mine if is_due(i.step, sent.get((person_id, i.pilot_id, i.reason)), as_of, settings)]
        if due:
            out[person_id] = due
    return out
