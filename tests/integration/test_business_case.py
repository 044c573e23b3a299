"""The cost at production volume beside the value (WEAK_BUSINESS_CASE) and
a baseline before the clock (NO_BASELINE): each rule at its boundaries,
through the services that write what they read, and on the demo through
the command line."""

import json
from datetime import timedelta

import pytest

from portfolio import flags
from portfolio.domain import value as business
from portfolio.domain.errors import InvalidInput
from portfolio.domain.settings import Settings
from portfolio.services import demo, pilots, production
from portfolio.storage import store
from tests.conftest import AS_OF, run_cli

S = Settings()


def codes(conn, as_of=AS_OF, settings=S):
    f = flags.portfolio_flags(conn, as_of, settings)
    return dict(zip(zip(f["pilot_id"], f["code"]), f["reason"]))


def pilot_on_day(conn, day: int, **overrides) -> int:
    """A pilot whose as-of day (AS_OF) is ``day`` of its clock."""
    return demo.make_pilot(conn, start_date=AS_OF - timedelta(days=day - 1), **overrides)


def with_cost(conn, actor, pid, *, volume: float, cost: float, unit: str = "EUR") -> int:
    """The pilot's expected volume and a cost-per-transaction KPI read at
    ``cost`` on the as-of day (its baseline read before the start)."""
    pilots.edit_pilot(conn, actor, pid, {"expected_monthly_volume": volume}, S, today=AS_OF)
    start = store.get_pilot(conn, pid).start_date
    kid = production.add_kpi(conn, actor, pid, {
        "name": "Cost per claim", "category": "cost_per_transaction", "unit": unit, "direction": "lower",
        "baseline": 0.2, "baseline_on": start - timedelta(days=3), "target": 0.05, "production": True})
    production.record_readings(conn, actor, pid, [{"kpi_id": kid, "value": cost, "reading_on": AS_OF}])
    return kid


def state_value(conn, actor, pid, value, unit) -> None:
    pilots.edit_pilot(conn, actor, pid, {"expected_monthly_value": value, "expected_value_unit": unit}, S,
                      today=AS_OF)


# --- WEAK_BUSINESS_CASE ----------------------------------------------------

@pytest.mark.parametrize("value, weak", [(9000, True), (12400, False), (15000, False)],
                         ids=["value-below-cost", "value-equal-cost", "value-above-cost"])
def test_the_projected_cost_above_the_expected_value_is_a_weak_business_case(conn, leader, value, weak):
    pid = pilot_on_day(conn, 30)
    with_cost(conn, leader, pid, volume=40000, cost=0.31)  # 12,400 EUR a month
    state_value(conn, leader, pid, value, "EUR")
    got = codes(conn)
    assert ((pid, "WEAK_BUSINESS_CASE") in got) is weak
    if weak:
        assert got[(pid, "WEAK_BUSINESS_CASE")] == \
            "projected cost 12,400 EUR a month exceeds the expected value 9,000 EUR a month"


def test_hours_saved_are_weighed_at_the_cost_of_an_hour_from_the_settings(conn, leader):
    pid = pilot_on_day(conn, 30)
    with_cost(conn, leader, pid, volume=10000, cost=0.3)  # 3,000 EUR a month
    state_value(conn, leader, pid, 40, "hours")
    assert codes(conn)[(pid, "WEAK_BUSINESS_CASE")] == (
        "projected cost 3,000 EUR a month exceeds the expected value 40 hours a month (2,400 EUR at 60 EUR an hour)")
    dearer = Settings(hour_cost=80)  # 40 hours are then worth 3,200 EUR
    assert (pid, "WEAK_BUSINESS_CASE") not in codes(conn, settings=dearer)


def test_the_share_of_the_value_the_cost_may_take_is_a_setting(conn, leader):
    pid = pilot_on_day(conn, 30)
    with_cost(conn, leader, pid, volume=10000, cost=0.3)  # 3,000 EUR a month
    state_value(conn, leader, pid, 5000, "EUR")
    assert (pid, "WEAK_BUSINESS_CASE") not in codes(conn)
    strict = Settings(business_case_cost_share=0.5)
    assert codes(conn, settings=strict)[(pid, "WEAK_BUSINESS_CASE")] == \
        "projected cost 3,000 EUR a month exceeds 50 % of the expected value 5,000 EUR a month"


def test_a_cost_in_another_currency_is_not_weighed_and_a_currency_sign_counts_as_its_code(conn, leader):
    usd = pilot_on_day(conn, 30)
    with_cost(conn, leader, usd, volume=10000, cost=0.3, unit="USD/claim")
    state_value(conn, leader, usd, 100, "EUR")
    sign = pilot_on_day(conn, 30)
    with_cost(conn, leader, sign, volume=10000, cost=0.3, unit="€ per claim")
    state_value(conn, leader, sign, 100, "eur")
    got = codes(conn)
    assert (usd, "WEAK_BUSINESS_CASE") not in got
    assert got[(sign, "WEAK_BUSINESS_CASE")] == \
        "projected cost 3,000 EUR a month exceeds the expected value 100 EUR a month"


@pytest.mark.parametrize("day, flagged", [(14, False), (15, True)], ids=["day-14", "day-15"])
def test_no_value_stated_by_kickoff_is_a_weak_business_case(conn, leader, day, flagged):
    pid = pilot_on_day(conn, day, expected_monthly_value=None, expected_value_unit="")
    got = codes(conn)
    assert ((pid, "WEAK_BUSINESS_CASE") in got) is flagged
    if flagged:
        assert got[(pid, "WEAK_BUSINESS_CASE")] == "no expected monthly value stated on day 15 (due by day 14)"
    state_value(conn, leader, pid, 5000, "EUR")
    assert (pid, "WEAK_BUSINESS_CASE") not in codes(conn)


def test_a_production_pilot_without_a_value_is_flagged_and_a_proposed_one_is_not(conn):
    live = pilot_on_day(conn, 300, stage="production", expected_monthly_value=None, expected_value_unit="")
    proposed = demo.make_pilot(conn, stage="proposed", start_date=None, expected_monthly_value=None,
                               expected_value_unit="")
    got = codes(conn)
    assert got[(live, "WEAK_BUSINESS_CASE")] == "no expected monthly value stated"
    assert (proposed, "WEAK_BUSINESS_CASE") not in got


def test_the_pages_verdict_agrees_with_the_flag(conn, leader):
    pid = pilot_on_day(conn, 30)
    with_cost(conn, leader, pid, volume=40000, cost=0.31)
    state_value(conn, leader, pid, 9000, "EUR")
    case = production.business_case(conn, store.get_pilot(conn, pid), AS_OF, S)
    assert case.weak() and case.verdict() == \
        "Projected cost 12,400 EUR a month exceeds the expected value 9,000 EUR a month."
    state_value(conn, leader, pid, 20, "hours")
    case = production.business_case(conn, store.get_pilot(conn, pid), AS_OF, S)
    assert case.value_text() == "20 hours a month (1,200 EUR at the cost of an hour)"


# --- the value on the pilot's form -------------------------------------------

def test_a_value_without_its_unit_is_refused_naming_the_field_and_writes_nothing(conn, leader):
    pid = pilot_on_day(conn, 30, expected_monthly_value=None, expected_value_unit="")
    before = store.get_pilot(conn, pid)
    with pytest.raises(InvalidInput, match="Expected value unit: say what the expected monthly value is in"):
        state_value(conn, leader, pid, 5000, "")
    with pytest.raises(InvalidInput, match="Expected value unit: .*'bananas' is neither hours nor a currency"):
        state_value(conn, leader, pid, 5000, "bananas")
    with pytest.raises(InvalidInput, match="Expected monthly value"):
        state_value(conn, leader, pid, -1, "EUR")
    assert store.get_pilot(conn, pid) == before


def test_the_value_is_saved_in_the_stored_spelling_and_audited(conn, leader):
    pid = pilot_on_day(conn, 30, expected_monthly_value=None, expected_value_unit="")
    state_value(conn, leader, pid, 150, "Hours")
    got = store.get_pilot(conn, pid)
    assert (got.expected_monthly_value, got.expected_value_unit) == (150, "hours")
    state_value(conn, leader, pid, 9000, "€")
    assert store.get_pilot(conn, pid).expected_value_unit == "EUR"
    rows = conn.execute(
        "SELECT before, after FROM audit WHERE entity = 'pilot' AND entity_id = ? AND action = 'edit'"
        " ORDER BY id", [str(pid)]).fetchall()
    after = [json.loads(a) for _, a in rows]
    assert [(a["expected_monthly_value"], a["expected_value_unit"]) for a in after] == [(150, "hours"),
                                                                                       (9000, "EUR")]


@pytest.mark.parametrize("text, unit", [("EUR", "EUR"), ("usd", "USD"), ("£", "GBP"), ("h", "hours"),
                                        ("hours saved", "hours"), ("", "")])
def test_value_units_people_type(text, unit):
    assert business.value_unit(text) == unit


@pytest.mark.parametrize("unit, currency", [("EUR", "EUR"), ("EUR/claim", "EUR"), ("eur per claim", "EUR"),
                                            ("€", "EUR"), ("$ per call", "USD"), ("cents", None), ("", None)])
def test_the_currency_of_a_cost_unit(unit, currency):
    assert business.cost_currency(unit) == currency


# --- NO_BASELINE -------------------------------------------------------------

def kpi(conn, actor, pid, **overrides) -> int:
    values = {"name": "p95 latency", "category": "latency", "unit": "ms", "direction": "lower",
              "target": 800, "horizon_days": 90, "production": True} | overrides
    return production.add_kpi(conn, actor, pid, values)


@pytest.mark.parametrize("day, flagged", [(14, False), (15, True)], ids=["day-14", "day-15"])
def test_a_production_kpi_without_a_baseline_is_flagged_from_kickoff_naming_it(conn, leader, day, flagged):
    pid = pilot_on_day(conn, day)
    kpi(conn, leader, pid)
    kpi(conn, leader, pid, name="Accuracy", category="quality", unit="%", direction="higher", target=90)
    kpi(conn, leader, pid, name="Demo score", category="quality", production=False)  # a pilot metric
    got = codes(conn)
    assert ((pid, "NO_BASELINE") in got) is flagged
    if flagged:
        start = AS_OF - timedelta(days=day - 1)
        assert got[(pid, "NO_BASELINE")] == f"no baseline read before the start {start} for Accuracy, p95 latency"


def test_a_baseline_read_before_the_start_clears_it_and_an_undated_one_counts(conn, leader):
    pid = pilot_on_day(conn, 30)
    start = store.get_pilot(conn, pid).start_date
    kid = kpi(conn, leader, pid)
    assert codes(conn)[(pid, "NO_BASELINE")] == f"no baseline read before the start {start} for p95 latency"
    production.edit_kpi(conn, leader, kid, {"baseline_on": start - timedelta(days=1), "baseline": 1400})
    assert (pid, "NO_BASELINE") not in codes(conn)
    # A baseline stated without its day (as every baseline was before the day
    # was kept: an upgraded portfolio) is taken as stated, not flagged.
    undated = kpi(conn, leader, pilot_on_day(conn, 30), baseline=1400)
    assert store.get_kpi(conn, undated).baseline_on is None
    assert not any(code == "NO_BASELINE" for _, code in codes(conn))


def test_a_baseline_dated_on_or_after_the_start_is_refused_naming_the_field(conn, leader):
    pid = pilot_on_day(conn, 30)
    start = store.get_pilot(conn, pid).start_date
    with pytest.raises(InvalidInput, match=f"Baseline date: {start} is not before the start date {start}"):
        kpi(conn, leader, pid, baseline=1400, baseline_on=start)
    assert store.list_kpis(conn, pid) == []
    kid = kpi(conn, leader, pid, baseline=1400, baseline_on=start - timedelta(days=2))
    with pytest.raises(InvalidInput, match="Baseline date"):
        production.edit_kpi(conn, leader, kid, {"baseline_on": start + timedelta(days=3)})
    assert store.get_kpi(conn, kid).baseline_on == start - timedelta(days=2)
    with pytest.raises(InvalidInput, match="Baseline: a baseline date needs the baseline reading too"):
        kpi(conn, leader, pid, name="Accuracy", baseline_on=start - timedelta(days=2))


def test_the_scorecard_says_the_change_against_the_baseline(conn, leader):
    pid = pilot_on_day(conn, 30)
    start = store.get_pilot(conn, pid).start_date
    lower = kpi(conn, leader, pid, baseline=1400, baseline_on=start - timedelta(days=2))
    higher = kpi(conn, leader, pid, name="Weekly active users", category="adoption", unit="%",
                 direction="higher", target=30, baseline=10, baseline_on=start - timedelta(days=2))
    production.record_readings(conn, leader, pid, [{"kpi_id": lower, "value": 720, "reading_on": AS_OF},
                                                   {"kpi_id": higher, "value": 8, "reading_on": AS_OF}])
    by_id = {k.id: k for k in store.list_kpis(conn, pid, AS_OF)}
    assert by_id[lower].change() == "-680 ms (-49 %), better"
    assert by_id[higher].change() == "-2 points (-20 %), worse"


# --- the demo ----------------------------------------------------------------

def test_the_demo_lists_both_flags_with_the_amounts_and_the_kpi(fixed_demo_db):
    out = run_cli("flags", "--db", str(fixed_demo_db), "--as-of", AS_OF.isoformat(), "--format", "json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    weak = [f["reason"] for f in got if f["code"] == "WEAK_BUSINESS_CASE"]
    baseline = [f["reason"] for f in got if f["code"] == "NO_BASELINE"]
    assert any(r.startswith("projected cost ") and " EUR a month exceeds the expected value " in r
               and r.endswith(" EUR a month") for r in weak), weak
    assert any("hours a month" in r and "at 60 EUR an hour" in r for r in weak), weak
    assert any(r.startswith("no expected monthly value stated on day ") for r in weak), weak
    assert baseline and all(r.startswith("no baseline read before the start ") and r.endswith(" for Error rate")
                            for r in baseline), baseline


# --- the import ----------------------------------------------------------------

def import_rows(conn, admin, tmp_path, header, rows, settings=S):
    import csv

    from portfolio.services import importer

    path = tmp_path / "pilots.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    table = importer.read_table(path, "pilots.csv")
    plan = importer.plan_import(conn, table, importer.guess_mapping(table.columns, table), settings, today=AS_OF)
    return plan, (importer.apply_import(conn, admin, plan, skip_invalid=True) if plan.total else None)


def by_name(conn, name):
    return next(p for p in store.list_pilots(conn) if p.name == name)


def test_the_volume_and_value_columns_are_guessed_and_imported(conn, admin, tmp_path):
    header = ["Title", "Transactions per month", "Expected monthly value", "Currency"]
    plan, result = import_rows(conn, admin, tmp_path, header, [
        ["Claims triage", "40,000", "9,000", "eur"],
        ["Invoice matching", "1200", "9,000 EUR", ""],
        ["Call summaries", "", "150 hours", ""],
        ["Lead scoring", "lots", "5000", "USD"],
        ["Shift planner", "100", "5000", ""],
    ])
    assert plan.mapping.columns == {"name": "Title", "expected_monthly_volume": "Transactions per month",
                                         "expected_monthly_value": "Expected monthly value",
                                         "expected_value_unit": "Currency"}
    problems = {(r, c): text for r, c, _, text in plan.problems}
    assert problems == {
        (5, "Transactions per month"): "Expected monthly volume: 'lots' is not a number",
        (6, "Currency"): ("Expected value unit: say what the expected monthly value is in: a "
                                        "currency code such as EUR, or hours"),
    }
    assert result.created == 3
    got = {p.name: (p.expected_monthly_volume, p.expected_monthly_value, p.expected_value_unit)
           for p in store.list_pilots(conn)}
    assert got == {"Claims triage": (40000, 9000, "EUR"), "Invoice matching": (1200, 9000, "EUR"),
                   "Call summaries": (None, 150, "hours")}


def test_an_import_changes_the_value_and_a_blank_cell_keeps_it(conn, admin, tmp_path):
    header = ["Title", "Business unit", "Expected value", "Value unit"]
    import_rows(conn, admin, tmp_path, header, [["Claims triage", "Claims", "9000", "EUR"],
                                                ["Invoice matching", "Claims", "5000", "EUR"]])
    plan, result = import_rows(conn, admin, tmp_path, header, [["Claims triage", "Claims", "12000", ""],
                                                               ["Invoice matching", "Claims", "", ""]])
    assert (result.updated, result.unchanged) == (1, 1)
    assert [c[1:] for c in result.changes] == [("expected_monthly_value", 9000, 12000)]
    assert by_name(conn, "Claims triage").expected_monthly_value == 12000
    assert (by_name(conn, "Invoice matching").expected_monthly_value,
            by_name(conn, "Invoice matching").expected_value_unit) == (5000, "EUR")


def test_cost_and_value_by_business_unit_count_only_what_can_be_weighed(conn, leader, kept_units):
    a = pilot_on_day(conn, 30, business_unit="Claims")
    with_cost(conn, leader, a, volume=10000, cost=0.3)  # 3,000 EUR
    state_value(conn, leader, a, 5000, "EUR")
    b = pilot_on_day(conn, 30, business_unit="Claims")
    with_cost(conn, leader, b, volume=10000, cost=0.1)  # 1,000 EUR
    state_value(conn, leader, b, 20, "hours")  # 1,200 EUR
    c = pilot_on_day(conn, 30, business_unit="Finance")
    with_cost(conn, leader, c, volume=10000, cost=0.1, unit="USD")  # not weighed against EUR
    state_value(conn, leader, c, 900, "EUR")
    d = pilot_on_day(conn, 30, business_unit="Sales")
    with_cost(conn, leader, d, volume=10000, cost=0.1, unit="USD")
    state_value(conn, leader, d, 900, "USD")
    got = production.cost_and_value_by_unit(conn, AS_OF, S)
    assert got.to_dict("records") == [
        {"business_unit": "Claims", "currency": "EUR", "cost": 4000.0, "value": 6200.0, "pilots": 2},
        {"business_unit": "Sales", "currency": "USD", "cost": 1000.0, "value": 900.0, "pilots": 1},
    ]
