"""Who is reminded of what, and when again: the reasons table at its
boundaries (14/7/0 days ahead, the escalation setting, the reminder day),
one item per reason per person, the choices, and never twice."""

from datetime import date, timedelta

import pytest

from portfolio.domain.reminders import (
    CATEGORY_LABELS,
    REASONS,
    Category,
    PilotFacts,
    Recipient,
    Where,
    is_due,
    reminders,
)
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import Role, Seat

MONDAY = date(2026, 3, 2)
S = Settings()
PO, TL, ES, OO, LEAD = 1, 2, 3, 4, 5


def people(**changes):  # person id (as a string) -> their changed fields
    base = {PO: Role.PRODUCT_OWNER, TL: Role.PRODUCT_OWNER, ES: Role.VIEWER, OO: Role.VIEWER, LEAD: Role.LEADERSHIP}
    return [Recipient(i, f"P{i}", f"p{i}@example.com", role, **changes.get(str(i), {})) for i, role in base.items()]


def pilot(**overrides):
    values = {"id": 10, "name": "Claims bot", "stage": "pilot", "go_no_go_date": MONDAY + timedelta(days=30),
              "seats": {Seat.PRODUCT_OWNER: PO, Seat.TECHNICAL_LEAD: TL, Seat.EXECUTIVE_SPONSOR: ES,
                        Seat.OPERATIONAL_OWNER: OO}, "updated_this_week": True}
    return PilotFacts(**(values | overrides))


def reasons_of(person, *pilots, as_of=MONDAY, settings=S, changes=None):
    return {(i.reason, i.step) for i in reminders(pilots, people(**(changes or {})), as_of, settings).get(person, [])}


@pytest.mark.parametrize("days, step", [(15, None), (14, "14"), (8, "14"), (7, "7"), (1, "7"), (0, "0"), (-1, None)],
                         ids=lambda v: str(v))
def test_the_go_no_go_date_is_reminded_14_7_and_0_days_ahead_to_the_owners(days, step):
    p = pilot(go_no_go_date=MONDAY + timedelta(days=days))
    for person in (PO, TL):
        got = {s for r, s in reasons_of(person, p) if r == "decision_ahead"}
        assert got == ({step} if step else set())
    assert not {r for r, _ in reasons_of(ES, p)} & {"decision_ahead"}


@pytest.mark.parametrize("late, step", [(1, "overdue"), (7, "overdue"), (8, "escalated")])
def test_an_overdue_decision_is_escalated_to_the_sponsor_and_leadership_past_the_setting(late, step):
    p = pilot(go_no_go_date=MONDAY - timedelta(days=late), flags={"OVERDUE_DECISION": ("Decision overdue", "x")})
    assert ("overdue", step) in reasons_of(ES, p)
    assert ("overdue", step) in reasons_of(LEAD, p)
    assert ("overdue", "overdue") in reasons_of(PO, p)  # the owners are told it is overdue, not escalated


def test_a_person_in_two_seats_gets_one_item_per_reason_the_more_urgent():
    p = pilot(go_no_go_date=MONDAY - timedelta(days=20), flags={"OVERDUE_DECISION": ("Decision overdue", "x")},
              seats={Seat.PRODUCT_OWNER: PO, Seat.EXECUTIVE_SPONSOR: PO})
    items = reminders([p], people(), MONDAY, S)[PO]
    assert [(i.reason, i.step) for i in items if i.reason == "overdue"] == [("overdue", "escalated")]


def test_the_missing_update_is_reminded_from_the_setting_day_with_a_link_to_the_form():
    p = pilot(updated_this_week=False)
    assert ("update_missing", MONDAY.isoformat()) in reasons_of(PO, p)
    wednesday = Settings(update_reminder_weekday=3)
    assert not reasons_of(PO, p, settings=wednesday)
    assert ("update_missing", MONDAY.isoformat()) in reasons_of(PO, p, as_of=MONDAY + timedelta(days=2),
                                                                 settings=wednesday)
    item = reminders([p], people(), MONDAY, S)[PO][0]
    assert item.where == Where.UPDATE and item.category == Category.UPDATES
    assert not reasons_of(PO, pilot(updated_this_week=False, stage="production"))


def test_leadership_gets_the_decisions_due_this_week_only():
    sunday = MONDAY + timedelta(days=6)
    assert ("decision_this_week", sunday.isoformat()) in reasons_of(LEAD, pilot(go_no_go_date=sunday))
    assert not reasons_of(LEAD, pilot(go_no_go_date=sunday + timedelta(days=1)))


def test_the_operational_owner_gets_bridge_dates_and_production_kpis_off_target():
    bridge = pilot(stage="bridge", bridge_due_date=MONDAY + timedelta(days=7))
    assert reasons_of(OO, bridge) == {("bridge_due", "7")}
    late = pilot(stage="bridge", bridge_due_date=MONDAY - timedelta(days=3))
    assert reasons_of(OO, late) == {("bridge_due", "overdue")}
    off = {"KPI_OFF_TARGET": ("KPI off target", "latency 900 ms, target 500 ms")}
    assert reasons_of(OO, pilot(stage="production", flags=off)) == {("kpi_off_target", "on")}
    assert reasons_of(OO, pilot(stage="pilot", flags=off)) == set()  # production KPIs in production only


def test_a_stopped_pilot_still_holding_privileges_reminds_its_owners_and_a_missed_checkin_the_operator():
    held = {"PRIVILEGES_NOT_REVOKED": ("Privileges not revoked", "stopped (no-go) and still holds a borrowed "
                                                                 "privilege not revoked: GPU budget (budget)")}
    stopped = pilot(stage="stopped", flags=held)
    assert ("privileges_not_revoked", "on") in reasons_of(PO, stopped)
    assert ("privileges_not_revoked", "on") in reasons_of(TL, stopped)
    assert not any(r == "privileges_not_revoked" for r, _ in reasons_of(OO, stopped))
    missed = {"CHECKIN_OVERDUE": ("Check-in missed", "the day-60 check-in was due on 2 Dec 2025")}
    assert reasons_of(OO, pilot(stage="production", flags=missed)) == {("checkin_overdue", "on")}
    assert not any(r == "checkin_overdue" for r, _ in reasons_of(PO, pilot(stage="production", flags=missed)))


def test_inactive_people_email_me_off_and_categories_off_get_nothing():
    p = pilot(updated_this_week=False, flags={"STALLED": ("Stalled", "no update for 35 days")})
    assert reasons_of(PO, p, changes={str(PO): {"active": False}}) == set()
    assert reasons_of(PO, p, changes={str(PO): {"email_me": False}}) == set()
    assert {r for r, _ in reasons_of(PO, p, changes={str(PO): {"categories": frozenset({Category.HEALTH})}})} == {"stalled"}


def test_a_reason_is_sent_again_only_on_a_new_step_or_after_the_repeat_interval():
    assert is_due("14", None, MONDAY, S)
    assert not is_due("14", ("14", MONDAY), MONDAY, S)  # a rerun the same day
    assert not is_due("14", ("14", MONDAY - timedelta(days=6)), MONDAY, S)
    assert is_due("14", ("14", MONDAY - timedelta(days=7)), MONDAY, S)  # weekly while it holds
    assert is_due("7", ("14", MONDAY - timedelta(days=1)), MONDAY, S)  # the step changed
    assert is_due("escalated", ("overdue", MONDAY - timedelta(days=2)), MONDAY, S)


def test_every_reason_key_is_unique_and_every_category_is_reachable():
    keys = [r.key for r in REASONS]
    assert len(keys) == len(set(keys))
    assert {r.category for r in REASONS} == set(Category)


# The words in its category's label that tell a person switching the category
# off that this reason goes with it (a new reason must be added here).
REASON_WORDS = {
    "overdue": "overdue decisions", "update_missing": "Weekly update",
    "decision_ahead": "Go/no-go dates", "decision_this_week": "Go/no-go dates", "bridge_due": "Bridge due dates",
    "stalled": "Stalled", "ownerless": "ownerless", "missing_seat": "a seat empty",
    "kpi_off_target": "production KPIs off target", "privileges_not_revoked": "privileges still held after a stop",
    "checkin_overdue": "check-ins missed",
}


@pytest.mark.parametrize("reason", REASONS, ids=lambda r: r.key)
def test_each_category_label_names_every_reason_it_switches(reason):
    assert reason.key in REASON_WORDS, f"say which words of its category's label cover {reason.key}"
    assert REASON_WORDS[reason.key] in CATEGORY_LABELS[reason.category]
