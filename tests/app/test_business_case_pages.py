"""Through AppTest: the expected value typed on the pilot page (refused
without its unit, keeping what was typed, then saved), the cost weighed
against it on the pilot page and by business unit on the Portfolio page,
and a KPI's baseline date refused after the start."""

import json
from datetime import date, timedelta

from portfolio import flags
from portfolio.domain.settings import Settings
from portfolio.services import production
from portfolio.storage import db, store
from tests.app.test_pages import act_as, no_exception, open_app, open_section, owned_pilot_without_this_weeks_update
from tests.app.test_production_pages import open_pilot, open_tab


def test_the_value_needs_its_unit_keeps_what_was_typed_and_saves_with_it(demo_db):
    pilot_id, owner = owned_pilot_without_this_weeks_update(demo_db)
    at = open_app("pages/pilot.py")
    act_as(at, owner)
    open_pilot(at, pilot_id)
    at.number_input(key=f"edit-value-{pilot_id}").set_value(7500.0)
    at.text_input(key=f"edit-value-unit-{pilot_id}").input("")
    at.button(key=f"edit-save-{pilot_id}").click()
    at.run()
    no_exception(at)
    assert any(e.value.startswith("Expected value unit: say what the expected monthly value is in")
               for e in at.error), [e.value for e in at.error]
    assert at.number_input(key=f"edit-value-{pilot_id}").value == 7500.0
    at.text_input(key=f"edit-value-unit-{pilot_id}").input("eur")
    at.button(key=f"edit-save-{pilot_id}").click()
    at.run()
    assert not at.error, [e.value for e in at.error]
    with db.session(demo_db) as c:
        got = store.get_pilot(c, pilot_id)
    assert (got.expected_monthly_value, got.expected_value_unit) == (7500.0, "EUR")


def test_a_weak_business_case_is_said_in_words_on_its_pilot_page(demo_db):
    with db.session(demo_db) as c:
        found = flags.portfolio_flags(c, date.today(), Settings())
    weak = found[found["code"] == "WEAK_BUSINESS_CASE"]
    row = weak[weak["reason"].str.startswith("projected cost")].iloc[0]
    at = open_app("pages/pilot.py")
    open_pilot(at, int(row["pilot_id"]))
    no_exception(at)
    shown = [w.value for w in at.warning]
    assert any(v.startswith("**Weak business case** (medium): projected cost") for v in shown), shown
    open_tab(at, "Production readiness")
    shown = [w.value for w in at.warning]
    assert any(v.startswith("Projected cost ") and "exceeds the expected value" in v for v in shown), shown
    labels = {m.label: m.value for m in at.metric}
    assert labels["Monthly running cost at production volume"].endswith("EUR a month")


def test_a_baseline_dated_after_the_start_is_refused_on_the_page(demo_db):
    pilot_id, owner = owned_pilot_without_this_weeks_update(demo_db)
    with db.session(demo_db) as c:
        start = store.get_pilot(c, pilot_id).start_date
        before = len(store.list_kpis(c, pilot_id))
    at = open_app("pages/pilot.py")
    act_as(at, owner)
    open_pilot(at, pilot_id, "Production readiness")
    at.text_input(key=f"kpi-name-{pilot_id}").input("Handling time")
    at.number_input(key=f"kpi-baseline-{pilot_id}").set_value(14.0)
    at.date_input(key=f"kpi-baseline-on-{pilot_id}").set_value(start + timedelta(days=1))
    at.button(key=f"kpi-save-{pilot_id}").click()
    at.run()
    no_exception(at)
    assert [e.value for e in at.error] == [
        f"Baseline date: {start + timedelta(days=1)} is not before the start date {start}; a baseline is read "
        "before the clock starts (a later value is a reading)"]
    at.date_input(key=f"kpi-baseline-on-{pilot_id}").set_value(start - timedelta(days=3))
    at.button(key=f"kpi-save-{pilot_id}").click()
    at.run()
    assert not at.error, [e.value for e in at.error]
    with db.session(demo_db) as c:
        kpis = store.list_kpis(c, pilot_id)
    assert len(kpis) == before + 1
    added = next(k for k in kpis if k.name == "Handling time")
    assert (added.baseline, added.baseline_on) == (14.0, start - timedelta(days=3))


def test_the_portfolio_page_charts_cost_against_value_by_business_unit(demo_db):
    at = open_section(open_app(), "Cost and value")
    no_exception(at)
    assert "Cost at production volume against value, by business unit" in [s.value for s in at.subheader]
    chart = next(c for c in at.get("plotly_chart") if c.proto.id.endswith("-cost-value-by-unit-EUR"))
    bars = {d["name"]: d["x"] for d in json.loads(chart.proto.spec)["data"]}
    with db.session(demo_db) as c:
        expected = production.cost_and_value_by_unit(c, date.today(), Settings())
    assert bars == {"Running cost at production volume": list(expected["business_unit"]),
                    "Expected value": list(expected["business_unit"])}
    assert len(expected) >= 2
