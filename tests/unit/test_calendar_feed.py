"""The calendar feed's events and file, from rows as storage hands them
back: stable UIDs (a moved date moves the event), cancelled events for a
decided or archived pilot and a privilege no longer held, read back with the
icalendar parser."""

from datetime import date, datetime, timezone

import icalendar
import pytest

from portfolio.services.reporting.calendar import CANCELLED_KEPT_DAYS, events_from, render

AS_OF = date(2026, 11, 30)
STAMP = datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc)


def pilot(**overrides) -> dict:
    return {"id": 7, "name": "Claims triage", "business_unit": "Claims", "stage": "pilot", "archived": False,
            "go_no_go_date": date(2027, 1, 15), "bridge_due_date": None, "version": 3,
            "product_owner": "Olu Owner"} | overrides


def privilege(**overrides) -> dict:
    return {"id": 4, "pilot_id": 7, "kind": "data_access", "description": "Claims warehouse",
            "expires": date(2026, 12, 20), "disposition": "undecided", "version": 1, "pilot_version": 3,
            "revoked_on": None, "pilot": "Claims triage", "stage": "pilot", "archived": False} | overrides


def parsed(pilots=(), privileges=()) -> dict[str, icalendar.Event]:
    ics = render(events_from(list(pilots), list(privileges), as_of=AS_OF, base_url="https://pilots.example.com"),
                 name="Pilot portfolio", stamp=STAMP)
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(ics).walk("VEVENT")}


def test_a_pilot_on_the_clock_has_its_go_no_go_date_as_a_whole_day_event():
    (event,) = parsed([pilot()]).values()
    assert str(event["UID"]) == "pilot-7-go-no-go@pilot-portfolio.tracker"
    assert event.decoded("DTSTART") == date(2027, 1, 15)
    assert event.decoded("DTEND") == date(2027, 1, 16)
    assert str(event["SUMMARY"]) == "Go/no-go: Claims triage"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["URL"]) == "https://pilots.example.com/pilot?id=7"
    assert "Olu Owner" in str(event["DESCRIPTION"])


def test_a_moved_go_no_go_date_keeps_the_uid_and_raises_the_sequence():
    before = parsed([pilot()])
    after = parsed([pilot(go_no_go_date=date(2027, 2, 14), version=4)])
    assert set(before) == set(after)  # the same event, not a second one
    (uid,) = after
    assert after[uid].decoded("DTSTART") == date(2027, 2, 14)
    assert int(after[uid]["SEQUENCE"]) > int(before[uid]["SEQUENCE"])


@pytest.mark.parametrize("changes, why", [
    ({"stage": "bridge", "bridge_due_date": date(2027, 3, 1)}, "now bridge"),
    ({"stage": "stopped"}, "now stopped"),
    ({"archived": True}, "archived"),
], ids=["go", "no-go", "archived"])
def test_a_decided_or_archived_pilots_go_no_go_event_is_cancelled(changes, why):
    event = parsed([pilot(**changes)])["pilot-7-go-no-go@pilot-portfolio.tracker"]
    assert str(event["STATUS"]) == "CANCELLED"
    assert why in str(event["DESCRIPTION"])


def test_the_bridge_due_date_is_live_on_the_bridge_and_cancelled_once_promoted():
    on_bridge = parsed([pilot(stage="bridge", bridge_due_date=date(2027, 3, 1))])
    event = on_bridge["pilot-7-bridge-due@pilot-portfolio.tracker"]
    assert (event.decoded("DTSTART"), str(event["STATUS"])) == (date(2027, 3, 1), "CONFIRMED")
    assert str(event["SUMMARY"]) == "Bridge due: Claims triage"
    promoted = parsed([pilot(stage="production", bridge_due_date=date(2027, 3, 1))])
    assert str(promoted["pilot-7-bridge-due@pilot-portfolio.tracker"]["STATUS"]) == "CANCELLED"


def test_a_privilege_expiry_is_live_while_undecided_and_cancelled_once_decided():
    live = parsed(privileges=[privilege()])["privilege-4-expires@pilot-portfolio.tracker"]
    assert (live.decoded("DTSTART"), str(live["STATUS"])) == (date(2026, 12, 20), "CONFIRMED")
    assert str(live["SUMMARY"]) == "Privilege expires: Claims warehouse (Claims triage)"
    decided = parsed(privileges=[privilege(disposition="make_permanent", version=2)])
    event = decided["privilege-4-expires@pilot-portfolio.tracker"]
    assert str(event["STATUS"]) == "CANCELLED"
    assert int(event["SEQUENCE"]) > int(live["SEQUENCE"])


@pytest.mark.parametrize("overrides", [
    {"stage": "stopped"},
    {"stage": "stopped", "disposition": "withdraw", "version": 2},
    {"disposition": "withdraw", "version": 2},
    {"stage": "production"},
], ids=["pilot-stopped", "stopped-and-to-withdraw", "to-withdraw", "in-production-undecided"])
def test_a_privilege_expiry_stays_live_while_the_privilege_is_still_held(overrides):
    event = parsed(privileges=[privilege(**overrides)])["privilege-4-expires@pilot-portfolio.tracker"]
    assert str(event["STATUS"]) == "CONFIRMED"


@pytest.mark.parametrize(("overrides", "why"), [
    ({"stage": "stopped", "disposition": "withdraw", "revoked_on": date(2026, 11, 20), "version": 3}, "revoked"),
    ({"disposition": "undecided", "revoked_on": date(2026, 11, 20), "version": 2}, "revoked"),
    ({"disposition": "make_permanent", "version": 2}, "made permanent"),
    ({"archived": True}, "archived"),
], ids=["withdrawn-and-revoked", "revoked", "made-permanent", "pilot-archived"])
def test_a_privilege_expiry_is_cancelled_once_revoked_made_permanent_or_archived(overrides, why):
    event = parsed(privileges=[privilege(**overrides)])["privilege-4-expires@pilot-portfolio.tracker"]
    assert str(event["STATUS"]) == "CANCELLED" and why in str(event["DESCRIPTION"])


def test_a_cancelled_event_long_past_leaves_the_feed_but_a_live_one_stays():
    old = date.fromordinal(AS_OF.toordinal() - CANCELLED_KEPT_DAYS - 1)
    assert parsed([pilot(go_no_go_date=old, stage="stopped")]) == {}
    assert len(parsed([pilot(go_no_go_date=old)])) == 1  # still overdue: still in everyone's calendar


def test_user_text_is_escaped_as_icalendar_text():
    name = "Triage; phase 2, <b>bold</b>\nnext"
    (event,) = parsed([pilot(name=name)]).values()
    assert str(event["SUMMARY"]) == f"Go/no-go: {name}"  # comes back exactly as typed
