"""The Decisions page and the pilot page's decision parts, through AppTest:
record a decision, see the pilot leave the queue and the numbers change;
promote a bridge pilot; write criteria."""

from datetime import timedelta

from streamlit.testing.v1 import AppTest

from portfolio.storage import db, store
from tests.app.test_pages import TODAY, act_as, no_exception, open_app


def leader_id(path) -> int:
    with db.session(path) as c:
        return next(p.id for p in store.list_people(c, active_only=True) if p.role.value == "leadership")


def queue_names(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["name"])  # the queue is the first table


def test_leadership_records_a_no_go_and_the_pilot_leaves_the_queue(demo_db):
    at = open_app("pages/decisions.py")
    act_as(at, leader_id(demo_db))
    no_exception(at)
    first = queue_names(at)[0]
    pilot_id = at.selectbox(key="decide-pilot-0").value
    at.switch_page("pages/portfolio.py").run()
    no_go_before = int(next(m.value for m in at.metric if m.label == "No-go decisions"))
    at.switch_page("pages/decisions.py").run()
    at.radio(key=f"decision-kind-{pilot_id}").set_value("no_go").run()
    at.text_area(key=f"decision-rationale-{pilot_id}").input("Error rate stayed above target")
    # A no-go says why: refused without a reason, naming the field, with what was typed kept.
    at.button(key=f"decision-submit-{pilot_id}").click()
    at.run()
    assert [e.value for e in at.error] == [
        "Reason: choose why the pilot stops (not designed for production, data not ready, governance a slide "
        "deck, the workforce never invited, no number the finance lead trusts, value not proven, superseded, "
        "strategy changed, other)"]
    assert at.text_area(key=f"decision-rationale-{pilot_id}").value == "Error rate stayed above target"
    reasons = at.selectbox(key=f"decision-{pilot_id}-stop-reason")
    assert "Value not proven" in reasons.options  # in words
    reasons.set_value("value_not_proven")
    at.text_area(key=f"decision-{pilot_id}-lessons").input("Agree the error budget with the operators first.")
    at.button(key=f"decision-submit-{pilot_id}").click()
    at.run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert f"Recorded no-go for '{first}': now stopped." in at.success[0].value
    assert first not in queue_names(at)
    with db.session(demo_db) as c:
        d = store.list_decisions(c, pilot_id)[0]
    assert (d.kind.value, d.rationale, d.decided_on) == ("no_go", "Error rate stayed above target", TODAY)
    at.switch_page("pages/portfolio.py").run()
    assert int(next(m.value for m in at.metric if m.label == "No-go decisions")) == no_go_before + 1


def test_an_extension_without_a_new_date_shows_the_error_and_writes_nothing(demo_db):
    at = open_app("pages/decisions.py")
    act_as(at, leader_id(demo_db))
    pilot_id = at.selectbox(key="decide-pilot-0").value
    at.radio(key=f"decision-kind-{pilot_id}").set_value("extend")
    at.text_area(key=f"decision-rationale-{pilot_id}").input("Needs more data")
    at.button(key=f"decision-submit-{pilot_id}").click()
    at.run()
    assert [e.value for e in at.error] == ["New go/no-go date: an extension needs the new date"]
    assert at.text_area(key=f"decision-rationale-{pilot_id}").value == "Needs more data"
    with db.session(demo_db) as c:
        assert store.get_pilot(c, pilot_id).stage.value == "pilot"


def test_a_product_owner_sees_the_queue_but_no_decision_form(demo_db):
    with db.session(demo_db) as c:
        owner = next(p.id for p in store.list_people(c, active_only=True) if p.role.value == "product_owner")
    at = open_app("pages/decisions.py")
    act_as(at, owner)
    assert queue_names(at)
    assert not [b for b in at.button if (b.key or "").startswith("decision-submit")]


def test_leadership_promotes_a_bridge_pilot_with_an_override(demo_db):
    with db.session(demo_db) as c:
        pilot_id = c.execute("SELECT id FROM pilot WHERE stage = 'bridge' ORDER BY id LIMIT 1").fetchone()[0]
    at = open_app("pages/decisions.py")
    act_as(at, leader_id(demo_db))
    # One bridge pilot is open at a time, with its form: open this one.
    at.selectbox(key="bridge-pick-0").set_value(pilot_id).run()
    at.button(key=f"promote-go-{pilot_id}").click()
    at.run()
    assert "Override reason: not ready for production" in at.error[0].value
    at.text_input(key=f"promote-override-{pilot_id}").input("Board deadline")
    at.button(key=f"promote-go-{pilot_id}").click()
    at.run()
    no_exception(at)
    with db.session(demo_db) as c:
        assert store.get_pilot(c, pilot_id).stage.value == "production"
        assert store.stage_events(c, pilot_id).iloc[0]["override_reason"] == "Board deadline"


def test_leadership_retires_a_production_pilot_picked_from_the_list_with_its_reason(demo_db):
    with db.session(demo_db) as c:
        pilot_id, name = c.execute(
            "SELECT id, name FROM pilot WHERE stage = 'production' ORDER BY id DESC LIMIT 1").fetchone()
    at = open_app("pages/decisions.py")
    act_as(at, leader_id(demo_db))
    no_exception(at)
    # No retirement form until a pilot is picked: one form, for the one picked.
    assert not [b for b in at.button if (b.key or "").startswith("retire-go-")]
    assert name in at.selectbox(key="retire-pick").options
    at.selectbox(key="retire-pick").set_value(pilot_id).run()
    at.selectbox(key=f"retire-{pilot_id}-stop-reason").set_value("superseded")
    at.text_area(key=f"retire-{pilot_id}-lessons").input("The vendor's product does it now.")
    at.button(key=f"retire-go-{pilot_id}").click().run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert f"'{name}' is retired." in at.success[0].value
    with db.session(demo_db) as c:
        assert store.get_pilot(c, pilot_id).stage.value == "retired"


def test_a_product_owner_writes_a_criterion_during_kickoff(demo_db):
    with db.session(demo_db) as c:
        pilot_id, owner = c.execute(
            "SELECT p.id, p.product_owner_id FROM pilot p JOIN person o ON o.id = p.product_owner_id"
            " WHERE p.stage = 'pilot' AND o.active AND p.start_date > ? ORDER BY p.id LIMIT 1",
            [TODAY - timedelta(days=14)]).fetchone()
    at = open_app("pages/pilot.py")
    act_as(at, owner)
    at.switch_page("pages/pilot.py")
    at.query_params["id"] = str(pilot_id)
    at.query_params["tab"] = "Criteria and decisions"
    at.run()
    no_exception(at)
    at.text_input(key=f"crit-new-{pilot_id}").input("30 % of the team uses it weekly")
    at.button(key=f"crit-save-{pilot_id}").click()
    at.run()
    assert not at.error, [e.value for e in at.error]
    with db.session(demo_db) as c:
        assert [x.statement for x in store.list_criteria(c, pilot_id)] == ["30 % of the team uses it weekly"]


def test_a_correction_through_the_pilot_page_is_recorded_once(demo_db):
    with db.session(demo_db) as c:
        pilot_id = c.execute("SELECT id FROM pilot WHERE stage = 'stopped' ORDER BY id LIMIT 1").fetchone()[0]
        wrong = store.list_decisions(c, pilot_id)[0]
    at = open_app("pages/pilot.py")
    act_as(at, leader_id(demo_db))
    at.switch_page("pages/pilot.py")
    at.query_params["id"] = str(pilot_id)
    at.query_params["tab"] = "Criteria and decisions"
    at.run()
    tag = f"{pilot_id}-{wrong.id}"
    at.radio(key=f"correct-kind-{tag}").set_value("go")
    at.text_area(key=f"correct-why-{tag}").input("Correction: the error-rate data was wrong")
    # A stopped pilot's handover was never accepted: the go goes on an override.
    at.text_input(key=f"correct-override-{tag}").input("Operations takes it on at the next steering meeting")
    at.button(key=f"correct-go-{tag}").click()
    at.run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    # The form that was clicked is gone: a second click has nothing to submit.
    assert not [b for b in at.button if b.key == f"correct-go-{tag}"]
    with db.session(demo_db) as c:
        history = store.list_decisions(c, pilot_id)
        assert [(d.kind.value, d.supersedes_id) for d in history] == [("go", wrong.id), ("no_go", None)]
        assert store.get_pilot(c, pilot_id).stage.value == "bridge"


def test_selecting_a_row_of_the_queue_picks_that_pilot_to_decide_on(demo_db):
    at = open_app("pages/decisions.py")
    act_as(at, leader_id(demo_db))
    no_exception(at)
    assert any("Select a row to decide on it" in c.value for c in at.caption)
    names = queue_names(at)
    first = at.selectbox(key="decide-pilot-0").value
    assert len(names) > 1 and at.header[0].value == names[0]
    # What a click on the second row sends: the table's selection state.
    at.session_state["decision-queue"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    no_exception(at)
    picked = next(s for s in at.selectbox if s.label == "Decide on").value
    assert picked != first and at.header[0].value == names[1]
    with db.session(demo_db) as c:
        assert store.get_pilot(c, picked).name == names[1]
    # The form below records the decision for the selected row's pilot.
    assert at.radio(key=f"decision-kind-{picked}").value is None


def test_after_deciding_on_a_selected_row_no_row_stays_selected_for_the_next_pilot(demo_db):
    at = open_app("pages/decisions.py")
    act_as(at, leader_id(demo_db))
    names = queue_names(at)
    at.session_state["decision-queue"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    picked = next(s for s in at.selectbox if s.label == "Decide on").value
    at.radio(key=f"decision-kind-{picked}").set_value("no_go").run()
    at.selectbox(key=f"decision-{picked}-stop-reason").set_value("value_not_proven")
    at.text_area(key=f"decision-rationale-{picked}").input("Stopped: the criteria were not met")
    at.button(key=f"decision-submit-{picked}").click()
    at.run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert at.session_state["decision-queue"]["selection"]["rows"] == []
    assert queue_names(at) == names[1:]  # the decided pilot left the list; the next is not picked for you


def test_starting_a_proposed_pilot_with_the_as_of_date_ahead_starts_it_today_not_in_the_future(demo_db):
    from tests.app.test_production_pages import open_pilot

    with db.session(demo_db) as c:
        (pilot_id,) = c.execute("SELECT id FROM pilot WHERE stage = 'proposed' ORDER BY id LIMIT 1").fetchone()
    at = open_app("pages/pilot.py")
    act_as(at, leader_id(demo_db))
    at.date_input(key="as-of").set_value(TODAY + timedelta(days=30)).run()
    open_pilot(at, pilot_id)
    start = at.date_input(key=f"start-date-{pilot_id}")
    assert start.value == TODAY
    at.button(key=f"start-go-{pilot_id}").click().run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    with db.session(demo_db) as c:
        assert store.get_pilot(c, pilot_id).start_date == TODAY
