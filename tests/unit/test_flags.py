"""Each flag rule at its boundaries: each case's pilots are laid out in a
database (rolled back after) and their flags computed the way the app does."""

from datetime import date, timedelta

import pandas as pd
import pytest

from portfolio import flags
from portfolio.domain.models import CriterionIn, KpiIn, PrivilegeIn, ReadingIn
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import (
    CriterionStatus,
    Direction,
    Disposition,
    KpiCategory,
    ReadinessStatus,
)
from portfolio.services import demo
from portfolio.storage import db, store
from portfolio.storage import followthrough as follow_store

AS_OF = date(2026, 6, 1)
S = Settings()

SEATS = ("product_owner", "technical_lead", "executive_sponsor", "operational_owner")


@pytest.fixture(scope="module", autouse=True)
def portfolio_db():
    """One migrated database for the module; each case's pilots are rolled
    back after their flags are read."""
    global _conn
    with db.session(":memory:", create=True) as conn:
        _conn = conn
        yield
    _conn = None


_conn = None


def facts(**overrides) -> pd.DataFrame:
    """One pilot as the rules see it: in `pilot`, day 31 of 90, all seats
    active, updated two days ago, unless overridden."""
    start = overrides.pop("start_date", AS_OF - timedelta(days=30))
    row = {
        "pilot_id": 1, "pilot": "Claims triage", "business_unit": "Claims", "stage": "pilot",
        "start_date": start,
        "go_no_go_date": start + timedelta(days=90) if start else None,
        "product_owner_id": 10, "product_owner": "Priya Shah", "product_owner_active": True,
        "technical_lead_id": 11, "technical_lead_active": True,
        "executive_sponsor_id": 12, "executive_sponsor_active": True,
        "operational_owner_id": 13, "operational_owner_active": True,
        "last_update": AS_OF - timedelta(days=2), "red_streak": 0,
    }
    row.update(overrides)
    return pd.DataFrame([row])


def _given(value):
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _lay_out(conn, row: dict) -> None:
    """One pilot of ``facts`` in the database, through the tracker's own
    writes: its seat holders, its weekly updates (the last ``red_streak``
    of them red, in weeks running up to ``last_update``), two criteria, a
    production KPI on target read the day before (its baseline
    read a week before the start), and its governance
    review done; and (from make_pilot) an expected monthly value."""
    seats = {}
    for seat in SEATS:
        if _given(row[f"{seat}_id"]) is None:
            seats[f"{seat}_id"] = None
            continue
        name = row.get(seat) if seat == "product_owner" else seat.replace("_", " ").title()
        seats[f"{seat}_id"] = demo.make_person(conn, name=name, active=bool(row[f"{seat}_active"]))
    pid = demo.make_pilot(conn, name=row["pilot"], business_unit=row["business_unit"], stage=row["stage"],
                          start_date=_given(row["start_date"]), go_no_go_date=_given(row["go_no_go_date"]),
                          **seats)
    last, streak = _given(row["last_update"]), int(row["red_streak"])
    assert last is not None or streak == 0, "a red streak needs updates"
    if last is not None:
        for week in range(max(streak, 1) - 1, -1, -1):
            demo.make_update(conn, pid, last - timedelta(weeks=week), "red" if streak else "green")
    for statement in ("p95 latency under 800 ms", "30% of agents use it weekly"):
        store.insert_criterion(conn, pid, CriterionIn(statement=statement, status=CriterionStatus.UNKNOWN))
    start = _given(row["start_date"])
    kpi = store.insert_kpi(conn, pid, KpiIn(name="p95 latency", category=KpiCategory.LATENCY, unit="ms",
                                            direction=Direction.LOWER, target=800.0, production=True,
                                            baseline=1400.0,
                                            baseline_on=start - timedelta(days=7) if start else None))
    store.insert_reading(conn, pid, ReadingIn(kpi_id=kpi, value=700.0, reading_on=AS_OF - timedelta(days=1)),
                         None)
    store.set_readiness(conn, pid, "governance_review", ReadinessStatus.DONE, "", None)
    for p in row.get("privileges") or []:  # borrowed: {description, kind, disposition, decided_on, expires, revoked_on}
        priv = store.insert_privilege(conn, pid, PrivilegeIn(kind=p.get("kind", "budget"), description=p["description"],
                                                             expires=p.get("expires")))
        if p.get("disposition", "undecided") != "undecided":
            store.decide_privilege(conn, priv, Disposition(p["disposition"]), None,
                                   p.get("decided_on", AS_OF - timedelta(days=20)), "")
        if p.get("revoked_on"):
            follow_store.revoke_privilege(conn, priv, p["revoked_on"], None, "Ticket")


def evaluate(frame: pd.DataFrame, as_of: date, settings: Settings) -> pd.DataFrame:
    """Every flag of the pilots of ``frame`` (rows of ``facts``) on
    ``as_of``, computed by the app's own function over a portfolio of
    exactly those pilots."""
    _conn.execute("BEGIN")
    try:
        for row in frame.to_dict("records"):
            _lay_out(_conn, row)
        return flags.portfolio_flags(_conn, as_of, settings)
    finally:
        _conn.execute("ROLLBACK")


def codes(frame: pd.DataFrame, as_of: date = AS_OF, settings: Settings = S) -> dict[str, str]:
    out = evaluate(frame, as_of, settings)
    return dict(zip(out["code"], out["reason"]))


def test_a_healthy_pilot_has_no_flags():
    assert codes(facts()) == {}


# OVERDUE_DECISION and DECISION_DUE_SOON around the go/no-go date
def test_pilot_is_due_not_overdue_on_its_go_no_go_date():
    got = codes(facts(go_no_go_date=AS_OF))
    assert "OVERDUE_DECISION" not in got
    assert got["DECISION_DUE_SOON"] == "go/no-go decision due today"


def test_pilot_is_overdue_the_day_after_its_go_no_go_date():
    got = codes(facts(go_no_go_date=AS_OF - timedelta(days=1)))
    assert got["OVERDUE_DECISION"] == f"go/no-go date {AS_OF - timedelta(days=1)} passed 1 days ago"
    assert "DECISION_DUE_SOON" not in got


def test_day_90_is_due_soon_and_day_91_is_the_decision_day_and_day_92_overdue():
    start = AS_OF - timedelta(days=89)  # as-of is day 90
    assert "DECISION_DUE_SOON" in codes(facts(start_date=start))
    assert "OVERDUE_DECISION" not in codes(facts(start_date=start))
    assert "OVERDUE_DECISION" not in codes(facts(start_date=start - timedelta(days=1)))  # day 91
    assert "OVERDUE_DECISION" in codes(facts(start_date=start - timedelta(days=2)))  # day 92


@pytest.mark.parametrize("left, due", [(14, True), (15, False), (0, True)], ids=["14-left", "15-left", "0-left"])
def test_decision_due_soon_from_14_days_left(left, due):
    assert ("DECISION_DUE_SOON" in codes(facts(go_no_go_date=AS_OF + timedelta(days=left)))) is due


# STALE_UPDATE and STALLED's no-update part
@pytest.mark.parametrize("days, stale", [(14, False), (15, True)], ids=["14-days", "15-days"])
def test_stale_update_after_more_than_14_days(days, stale):
    got = codes(facts(last_update=AS_OF - timedelta(days=days)))
    assert ("STALE_UPDATE" in got) is stale
    if stale:
        assert got["STALE_UPDATE"] == "no weekly update for 15 days (threshold 14)"


def test_stale_update_counts_from_the_start_date_when_there_is_no_update():
    assert "STALE_UPDATE" not in codes(facts(start_date=AS_OF - timedelta(days=14), last_update=None))
    got = codes(facts(start_date=AS_OF - timedelta(days=15), last_update=None))
    assert got["STALE_UPDATE"] == "no weekly update since the start 15 days ago (threshold 14)"


@pytest.mark.parametrize("days, stalled", [(27, False), (28, True)], ids=["27-days", "28-days"])
def test_stalled_after_28_days_without_an_update(days, stalled):
    got = codes(facts(last_update=AS_OF - timedelta(days=days)))
    assert ("STALLED" in got) is stalled
    if stalled:
        assert got["STALLED"] == "no weekly update for 28 days (threshold 28)"


@pytest.mark.parametrize("streak, stalled", [(2, False), (3, True)], ids=["2-red", "3-red"])
def test_stalled_after_3_red_updates_in_a_row(streak, stalled):
    got = codes(facts(red_streak=streak))
    assert ("STALLED" in got) is stalled
    if stalled:
        assert got["STALLED"] == "the last 3 updates were all red"


def test_stalled_reason_names_each_part_that_holds():
    got = codes(facts(red_streak=3, last_update=AS_OF - timedelta(days=30)))
    assert got["STALLED"] == "no weekly update for 30 days (threshold 28); the last 3 updates were all red"


def test_stalled_after_180_days_without_a_decision():
    start = AS_OF - timedelta(days=181)
    got = codes(facts(start_date=start, go_no_go_date=start + timedelta(days=200)))
    assert got["STALLED"] == "181 days since the start without a go or no-go (threshold 180)"
    start = AS_OF - timedelta(days=180)
    assert "STALLED" not in codes(facts(start_date=start, go_no_go_date=start + timedelta(days=200)))


def test_stalled_applies_to_bridge_but_not_production():
    silent = AS_OF - timedelta(days=40)
    assert "STALLED" in codes(facts(stage="bridge", last_update=silent))
    assert "STALLED" not in codes(facts(stage="production", last_update=silent))


# OWNERLESS
def test_ownerless_without_a_product_owner():
    got = codes(facts(product_owner_id=None, product_owner=None, product_owner_active=None))
    assert got["OWNERLESS"] == "no product owner"


def test_ownerless_when_the_product_owner_is_inactive():
    got = codes(facts(product_owner_active=False))
    assert got["OWNERLESS"] == "product owner Priya Shah is inactive"


@pytest.mark.parametrize("stage, flagged", [("pilot", True), ("bridge", True), ("production", True),
                                            ("proposed", False), ("stopped", False), ("retired", False)])
def test_ownerless_stages(stage, flagged):
    got = codes(facts(stage=stage, product_owner_id=None, product_owner_active=None))
    assert ("OWNERLESS" in got) is flagged


# NO_CLOCK and MISSING_SEAT
def test_no_clock_for_a_pilot_without_start_date():
    got = codes(facts(start_date=None, go_no_go_date=None, last_update=None))
    assert got == {"NO_CLOCK": "no start date: the 90-day clock has not started"}


def test_missing_seat_in_pilot_names_the_seats():
    got = codes(facts(technical_lead_id=None, technical_lead_active=None, executive_sponsor_active=False))
    assert got["MISSING_SEAT"] == "no technical lead; executive sponsor inactive"


def test_missing_seat_in_pilot_ignores_the_operational_owner():
    assert "MISSING_SEAT" not in codes(facts(operational_owner_id=None, operational_owner_active=None))


def test_missing_seat_in_bridge_and_production_is_the_operational_owner():
    for stage in ("bridge", "production"):
        got = codes(facts(stage=stage, operational_owner_id=None, operational_owner_active=None,
                          technical_lead_id=None, technical_lead_active=None))
        assert got["MISSING_SEAT"] == "no operational owner"


def test_thresholds_are_settings():
    strict = Settings(stale_update_days=7)
    assert "STALE_UPDATE" in codes(facts(last_update=AS_OF - timedelta(days=8)), settings=strict)


def test_flags_are_sorted_worst_first_with_stalled_and_ownerless_leading_their_severity():
    frame = pd.concat(
        [
            facts(pilot_id=1, pilot="A", last_update=AS_OF - timedelta(days=15)),  # STALE_UPDATE (high)
            facts(pilot_id=2, pilot="B", red_streak=3),  # STALLED (high)
            facts(pilot_id=3, pilot="C", go_no_go_date=AS_OF - timedelta(days=3)),  # OVERDUE (critical)
            facts(pilot_id=4, pilot="D", technical_lead_active=False),  # MISSING_SEAT (medium)
        ],
        ignore_index=True,
    )
    out = evaluate(frame, AS_OF, S)
    assert list(out["code"]) == ["OVERDUE_DECISION", "STALLED", "STALE_UPDATE", "MISSING_SEAT"]
    assert set(out.columns) >= {"pilot_id", "pilot", "code", "severity", "reason"}


def test_no_pilots_no_flags():
    assert evaluate(facts().iloc[0:0], AS_OF, S).empty


def test_an_update_from_before_the_start_does_not_count():
    start = AS_OF - timedelta(days=20)
    got = codes(facts(start_date=start, last_update=start - timedelta(days=30)))
    assert got["STALE_UPDATE"] == "no weekly update since the start 20 days ago (threshold 14)"
    assert "STALLED" not in got


def test_stalled_counts_from_the_start_when_there_is_no_update():
    assert "STALLED" not in codes(facts(start_date=AS_OF - timedelta(days=27), last_update=None))
    got = codes(facts(start_date=AS_OF - timedelta(days=28), last_update=None))
    assert got["STALLED"] == "no weekly update for 28 days (threshold 28)"


def test_every_flag_has_words_for_people():
    """Every code a rule raises has a short label and a sentence, in words
    (no code, no underscore), each label its own."""
    from portfolio.flags import CODES, LABELS, label
    from portfolio.flags.rules import RULES

    assert set(LABELS) == set(CODES) == {code for code, *_ in RULES}
    labels = [words for words, _ in LABELS.values()]
    assert len(set(labels)) == len(labels)
    for code, (words, sentence) in LABELS.items():
        assert words[0].isupper() and "_" not in words and words != code, code
        assert sentence.endswith(".") and "_" not in sentence, code
        assert label(code) == words
    assert label("A_RETIRED_CODE") == "A_RETIRED_CODE"  # an older record still reads as something


# PRIVILEGES_NOT_REVOKED: a stopped or retired pilot still holding what it
# borrowed, or any pilot holding a privilege past its expiry
def budget(**overrides) -> dict:
    return {"description": "Innovation GPU budget", "kind": "budget", "disposition": "withdraw"} | overrides


@pytest.mark.parametrize("stage, privilege, reason", [
    ("stopped", budget(), "stopped (no-go) and still holds a borrowed privilege not revoked: "
                          "Innovation GPU budget (budget)"),
    ("retired", budget(disposition="undecided"), "retired and still holds a borrowed privilege not revoked: "
                                                 "Innovation GPU budget (budget)"),
    ("stopped", budget(disposition="make_permanent"), None),
    ("stopped", budget(revoked_on=AS_OF), None),
    ("stopped", budget(revoked_on=AS_OF + timedelta(days=1)), "stopped (no-go) and still holds a borrowed "
                                                              "privilege not revoked: Innovation GPU budget (budget)"),
    # Made permanent only after the as-of day: on that day it was still to be given back.
    ("stopped", budget(disposition="make_permanent", decided_on=AS_OF + timedelta(days=1)),
     "stopped (no-go) and still holds a borrowed privilege not revoked: Innovation GPU budget (budget)"),
    ("pilot", budget(), None),  # to be withdrawn, still in use while the pilot runs
    ("pilot", budget(expires=AS_OF), None),  # its last day
    ("production", budget(expires=AS_OF - timedelta(days=1)),
     f"still holds a borrowed privilege not revoked: Innovation GPU budget (budget, expired {AS_OF - timedelta(days=1)})"),
    ("pilot", budget(expires=AS_OF - timedelta(days=1), disposition="make_permanent"), None),
    ("pilot", budget(expires=AS_OF - timedelta(days=1), revoked_on=AS_OF - timedelta(days=1)), None),
], ids=["stopped", "retired-undecided", "permanent", "revoked", "revoked-later", "permanent-later", "live",
        "expires-today", "expired", "expired-permanent", "expired-revoked"])
def test_privileges_not_revoked(stage, privilege, reason):
    got = codes(facts(stage=stage, privileges=[privilege]))
    assert got.get("PRIVILEGES_NOT_REVOKED") == reason


def test_privileges_not_revoked_names_each_in_the_order_recorded():
    got = codes(facts(stage="stopped", privileges=[
        budget(), budget(description="Claims warehouse read", kind="data_access", disposition="undecided",
                         expires=AS_OF - timedelta(days=3)),
        budget(description="Vendor on call", kind="vendor_support", disposition="make_permanent")]))
    assert got["PRIVILEGES_NOT_REVOKED"] == (
        "stopped (no-go) and still holds 2 borrowed privileges not revoked: Innovation GPU budget (budget); "
        f"Claims warehouse read (data access, expired {AS_OF - timedelta(days=3)})")


# --- CHECKIN_OVERDUE: the check-ins after promotion ----------------------------

def _promoted(days_ago: int, done: tuple[int, ...] = (), stage: str = "production", checked_ago: int = 0,
              settings: Settings = S) -> dict[str, str]:
    """The flags on AS_OF of one pilot promoted ``days_ago`` days before it,
    with the check-ins of ``done`` recorded ``checked_ago`` days before AS_OF."""
    from portfolio.domain.models import CheckinIn
    from portfolio.domain.vocabulary import Stage
    from portfolio.storage import handover as handover_store

    promoted = AS_OF - timedelta(days=days_ago)
    _conn.execute("BEGIN")
    try:
        pid = demo.make_pilot(_conn, name="Invoice matching", stage=stage, start_date=promoted - timedelta(days=150))
        store.record_stage_event(_conn, pid, "promote", Stage.BRIDGE, Stage.PRODUCTION, promoted, None)
        for day in done:
            handover_store.insert_checkin(_conn, CheckinIn(
                pilot_id=pid, checked_on=AS_OF - timedelta(days=checked_ago), used=True, kpis_hold=True,
                cost_as_expected=True), promoted, day, None, None)
        out = flags.portfolio_flags(_conn, AS_OF, settings)
        return dict(zip(out["code"], out["reason"]))
    finally:
        _conn.execute("ROLLBACK")


def _day(days_ago: int) -> str:
    on = AS_OF - timedelta(days=days_ago)
    return f"{on.day} {on:%b %Y}"


@pytest.mark.parametrize("days_ago, done, reason", [
    (30, (), None),
    (31, (), f"the day-30 check-in was due on {_day(1)}"),
    (61, (30,), f"the day-60 check-in was due on {_day(1)}"),
    (91, (30,), f"the day-60 check-in was due on {_day(31)}; the day-90 check-in was due on {_day(1)}"),
    (400, (30, 60, 90), None),
], ids=["day-30-due-today", "day-31-missed", "day-60-missed", "two-missed-named-each", "all-done-watch-over"])
def test_checkin_overdue_from_the_day_after_a_checkin_is_due(days_ago, done, reason):
    assert _promoted(days_ago, done).get("CHECKIN_OVERDUE") == reason


def test_a_checkin_recorded_after_the_as_of_date_does_not_count_yet():
    assert _promoted(31, (30,), checked_ago=-2)["CHECKIN_OVERDUE"] == f"the day-30 check-in was due on {_day(1)}"


def test_checkin_overdue_only_in_production_and_its_days_are_a_setting():
    assert "CHECKIN_OVERDUE" not in _promoted(200, stage="retired")
    assert _promoted(15, settings=Settings(checkin_days=(14, 45)))["CHECKIN_OVERDUE"] == \
        f"the day-14 check-in was due on {_day(1)}"
