"""Through AppTest: the Portfolio lists the production pilots under watch;
the operational owner records a missed check-in on the pilot page (and a
refused one keeps what was typed); the Decisions page shows the handover's
acceptance beside the suggested verdict."""

from datetime import date

from portfolio.domain.settings import Settings
from portfolio.services import handover
from portfolio.storage import db, store
from portfolio.storage import handover as handover_store
from tests.app.test_pages import act_as, no_exception, open_app, open_section


def watched(at) -> "list[dict]":
    (table,) = [d.value for d in at.dataframe if "next_checkin" in d.value.columns]
    return table.to_dict("records")


def test_the_operational_owner_records_a_missed_check_in_and_the_watch_moves_on(demo_db):
    with db.session(demo_db) as c:
        late = handover.under_watch(c, Settings(), date.today())
        late = late[late["overdue"]].iloc[0]
        pilot_id = int(late["id"])
        pilot = store.get_pilot(c, pilot_id)
        owner = pilot.operational_owner_id
    at = open_section(open_app(), "Under watch")
    no_exception(at)
    row = next(r for r in watched(at) if r["name"] == pilot.name)
    assert (row["done"], row["overdue"]) == ("1 of 3", "missed") and row["next_checkin"].startswith("day 60: ")

    act_as(at, owner)
    at.switch_page("pages/pilot.py")
    at.query_params["id"] = str(pilot_id)
    at.query_params["tab"] = "Handover and check-ins"
    at.run()
    no_exception(at)
    # An answer left out is refused, naming it, and what was typed stays.
    at.radio(key=f"checkin-used-{pilot_id}").set_value("yes")
    at.radio(key=f"checkin-kpis-{pilot_id}").set_value("no")
    at.text_input(key=f"checkin-note-{pilot_id}").input("Latency slipped after the vendor's update")
    at.button(key=f"checkin-save-{pilot_id}").click()
    at.run()
    assert [e.value for e in at.error] == ["Cost as expected: answer yes or no"]
    assert at.text_input(key=f"checkin-note-{pilot_id}").value == "Latency slipped after the vendor's update"
    at.radio(key=f"checkin-cost-{pilot_id}").set_value("yes")
    at.button(key=f"checkin-save-{pilot_id}").click()
    at.run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    with db.session(demo_db) as c:
        done = handover_store.list_checkins(c, pilot_id)[-1]
        assert (done.due_day, done.checked_on, done.used, done.kpis_hold, done.cost_as_expected, done.note,
                done.person_id, done.recorded_by) == (60, date.today(), True, False, True,
                                                      "Latency slipped after the vendor's update", owner, owner)

    at.switch_page("pages/portfolio.py")
    open_section(at, "Under watch")
    row = next(r for r in watched(at) if r["name"] == pilot.name)
    assert row["done"] == "2 of 3" and row["next_checkin"].startswith("day 90: ")


def test_the_decisions_page_shows_the_acceptance_beside_the_verdict(demo_db):
    with db.session(demo_db) as c:
        pilot_id, note = c.execute(
            "SELECT a.pilot_id, a.note FROM handover_acceptance a JOIN pilot p ON p.id = a.pilot_id"
            " WHERE p.stage = 'pilot' AND a.verdict = 'with_conditions' ORDER BY a.pilot_id LIMIT 1").fetchone()
    at = open_app("pages/decisions.py")
    at.query_params["id"] = str(pilot_id)
    at.run()
    no_exception(at)
    shown = [s.value for s in at.success if s.value.startswith("**Handover: accepted**")]
    assert len(shown) == 1 and "accepted with conditions on" in shown[0] and note in shown[0].replace("\\", "")
