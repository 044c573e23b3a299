"""Fuzzed input (hypothesis) into every model, the services that write and
the importer: a clear error or a correct result, never a crash or a partial
write.

Each property test opens its own database (one per test, reused by its
examples) and compares every table before and after a refused call, so a
refusal that wrote anything fails. Examples are derandomized, so a run is
reproducible in CI, and nothing is saved to a .hypothesis folder. Each
test's example count is its full count under the ``ci`` hypothesis profile
and a tenth of it under ``dev`` (HYPOTHESIS_PROFILE, see tests/conftest.py).
"""

from __future__ import annotations

import csv
import io
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from portfolio.domain import clock
from portfolio.domain.errors import EditConflict, InvalidInput, PortfolioError, validate
from portfolio.domain.models import (
    EARLIEST_DATE,
    LATEST_DATE,
    MULTI_LINE_FIELDS,
    AcceptanceIn,
    AccessTokenIn,
    Actor,
    CheckinIn,
    CriterionIn,
    DecisionIn,
    KpiIn,
    PersonIn,
    PilotIn,
    PrivilegeIn,
    ReadinessItemIn,
    ReadingIn,
    WeeklyUpdateIn,
)
from portfolio.domain.settings import Settings
from portfolio.domain.tokens import Purpose
from portfolio.domain.text import clean_line, clean_text
from portfolio.domain.vocabulary import (
    FIELD_LABELS,
    Acceptance,
    CriterionStatus,
    DecisionKind,
    Direction,
    Disposition,
    Health,
    KpiCategory,
    PrivilegeKind,
    ReadinessStatus,
    Role,
    Seat,
    Stage,
)
from portfolio.services import decisions, demo, handover, importer, production, tokens, updates
from portfolio.services.people import add_person
from portfolio.services.pilots import create_pilot, edit_pilot
from portfolio.storage import db, store
from tests.conftest import AS_OF, actor_of, examples

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# Fault tests, fuzzing and real processes: make test runs them, make test-fast does not.
pytestmark = pytest.mark.thorough

SETTINGS = Settings()


# --- strategies: anything a person, a page or a file could hand over ------

SAMPLE_TEXTS = [
    "", " ", "  padded  ", "\t\n", "\x00", "\x1c\x1d", "\u200b", "\u2028", "é", "名前", "💥", "=1+1",
    "a,b;\"c\"\nd", "'quoted'",
]
texts = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Zl", "Zp"]), max_size=8),
    st.builds(lambda c, n: c * n, st.characters(codec="utf-8"), st.integers(100, 5000)),
    st.sampled_from(SAMPLE_TEXTS),
    st.sampled_from([121, 201, 501, 2001, 4001]).map(lambda n: "x" * n),  # one past each limit
)
numbers = st.one_of(
    st.integers(-(2**40), 2**40),
    st.integers(-(2**300), 2**300),
    st.floats(),
    st.sampled_from([0, -1, 1, 1e12, 1e12 + 1, -1e12 - 1, 2**31, 2**63, 2**128, float("nan"), float("inf")]),
    st.decimals(),
    st.sampled_from([Decimal("sNaN"), Decimal("NaN"), Decimal("Infinity"), Decimal("1e400")]),
)
dates = st.one_of(
    st.dates(),
    st.datetimes(),
    st.sampled_from([date.min, date.max, date(1989, 12, 31), EARLIEST_DATE, LATEST_DATE, date(2200, 1, 1)]),
    st.sampled_from(["2025-08-04", "8/4/2025", "2025-02-30", "Aug-25", "45873", "2025-08-04T10:00:00"]),
)
wrong_types = st.one_of(
    st.none(), st.booleans(), st.binary(max_size=8), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.tuples(), st.just(object()),
    st.sampled_from([Stage.PILOT, Health.RED, Role.ADMIN, DecisionKind.GO, CriterionStatus.MET]),
)
anything = st.one_of(texts, numbers, dates, wrong_types)
# Keys a caller's dict might carry besides the model's fields ("model" once
# collided with validate's own parameter).
extra_keys = st.one_of(st.sampled_from(["model", "id", "version", "values", "__class__"]),
                       st.text(min_size=1, max_size=10))


def nice_text(max_len: int):
    """Text a form would accept: not blank, at most ``max_len`` long."""
    return st.one_of(
        st.text(min_size=1, max_size=min(max_len, 40)).filter(lambda s: s.strip()),
        st.sampled_from(["Claims triage", "  padded  ", "名前 💥", "a,b;\"c\"\nd", "=SUM(A1)"]),
        st.just(max_len).map(lambda n: "x" * n),
    )


in_range_dates = st.dates(EARLIEST_DATE, LATEST_DATE)
ids = st.integers(1, 50)
nice_floats = st.floats(-1e12, 1e12, allow_nan=False)

# Plausible values per field of each input model; ``required`` the fields
# without a default.
MODELS = {
    PersonIn: ({"name": nice_text(120), "email": st.emails(),
                "role": st.sampled_from([*Role, *(r.value for r in Role)]), "active": st.booleans()},
               {"name", "email"}),
    PilotIn: ({"name": nice_text(200), "business_unit": st.text(max_size=120), "problem": st.text(max_size=300),
               "stage": st.sampled_from([*Stage, *(s.value for s in Stage)]),
               "start_date": st.none() | in_range_dates, "go_no_go_date": st.none() | in_range_dates,
               "product_owner_id": st.none() | ids, "technical_lead_id": st.none() | ids,
               "executive_sponsor_id": st.none() | ids, "operational_owner_id": st.none() | ids,
               "expected_monthly_volume": st.none() | st.floats(0, 1e12)}, {"name"}),
    WeeklyUpdateIn: ({"pilot_id": ids, "health": st.sampled_from(["green", " Amber ", "RED", *Health]),
                      "summary": nice_text(4000), "blockers": st.text(max_size=50), "next_steps": st.text(max_size=50)},
                     {"pilot_id", "health", "summary"}),
    CriterionIn: ({"statement": nice_text(500), "status": st.sampled_from([*CriterionStatus, "met", "not_met"]),
                   "evidence": st.text(max_size=50), "kpi_id": st.none() | ids}, {"statement"}),
    DecisionIn: ({"pilot_id": ids, "kind": st.sampled_from([*DecisionKind, "go", "no_go", "extend"]),
                  "decided_on": in_range_dates, "decided_by": ids, "rationale": nice_text(4000),
                  "new_go_no_go_date": st.none() | in_range_dates, "override_reason": st.text(max_size=50),
                  "supersedes_id": st.none() | ids}, {"pilot_id", "kind", "decided_on", "decided_by", "rationale"}),
    PrivilegeIn: ({"kind": st.sampled_from([*PrivilegeKind, "budget"]), "description": nice_text(500),
                   "granted_by": st.text(max_size=50), "since": st.none() | in_range_dates,
                   "expires": st.none() | in_range_dates}, {"kind", "description"}),
    KpiIn: ({"name": nice_text(120), "category": st.sampled_from([*KpiCategory, "latency"]),
             "unit": st.text(max_size=30), "direction": st.sampled_from([*Direction, "lower"]),
             "baseline": st.none() | nice_floats, "target": st.none() | nice_floats,
             "horizon_days": st.none() | st.integers(1, 3650), "production": st.booleans()},
            {"name", "category", "direction"}),
    ReadingIn: ({"kpi_id": ids, "value": nice_floats, "reading_on": in_range_dates, "note": st.text(max_size=50)},
                {"kpi_id", "value", "reading_on"}),
    ReadinessItemIn: ({"key": st.from_regex(r"[a-z][a-z0-9_]{1,40}", fullmatch=True),
                       "dimension": st.sampled_from(["technical", "data", "organisational", "governance"]),
                       "label": nice_text(200), "required_for_go": st.booleans(), "active": st.booleans()},
                      {"key", "dimension", "label"}),
    AcceptanceIn: ({"pilot_id": ids, "seat": st.sampled_from([*Seat, "operational_owner_id"]),
                    "verdict": st.sampled_from([*Acceptance, "accepted", "with_conditions", "refused"]),
                    "note": st.text(max_size=50), "accepted_on": in_range_dates},
                   {"pilot_id", "verdict", "accepted_on"}),
    CheckinIn: ({"pilot_id": ids, "checked_on": in_range_dates, "used": st.sampled_from([True, False, "yes", "no"]),
                 "kpis_hold": st.booleans(), "cost_as_expected": st.booleans(), "note": st.text(max_size=50)},
                {"pilot_id", "checked_on", "used", "kpis_hold", "cost_as_expected"}),
    AccessTokenIn: ({"label": nice_text(100)}, {"label"}),
}


def mostly(usual, otherwise, odds: int = 3):
    """``usual`` ``odds`` times out of four, else ``otherwise``."""
    return st.integers(0, 3).flatmap(lambda n: usual if n < odds else otherwise)


def inputs(fields: dict, required: set):
    """A dict for a model: clean (every field plausible), or fuzzed (any
    field anything, any field missing, maybe keys it does not have)."""
    clean = st.fixed_dictionaries(
        {k: s for k, s in fields.items() if k in required},
        optional={k: s for k, s in fields.items() if k not in required},
    )
    fuzzed = st.fixed_dictionaries({}, optional={k: mostly(s, anything, odds=2) for k, s in fields.items()})
    extras = st.dictionaries(extra_keys.filter(lambda k: k not in fields), anything, min_size=1, max_size=2)
    return mostly(clean, st.one_of(fuzzed, st.builds(lambda a, b: a | b, fuzzed, extras)), odds=2)


# --- the clear error --------------------------------------------------------


def assert_clear(exc: InvalidInput, model, values: dict) -> None:
    """The message starts with the label of a field (or the name of a key
    the model does not have), and ``field`` names one of them."""
    labels = set(FIELD_LABELS.values()) | set(getattr(model, "LABELS", {}).values())
    strangers = {k for k in values if k not in model.model_fields}
    message = str(exc)
    assert any(message.startswith(f"{label}:") for label in labels | strangers), message
    assert exc.field is None or exc.field in model.model_fields or exc.field in strangers, (exc.field, message)


def expect_stripped(values: dict, model, field: str):
    """What a text field should be stored as: the text given without control
    characters (a one-line field's line breaks made spaces), stripped."""
    given = values.get(field, model.model_fields[field].default)
    clean = clean_text if field in MULTI_LINE_FIELDS else clean_line
    return clean(given).strip() if isinstance(given, str) else given


# --- every model --------------------------------------------------------------


@pytest.mark.parametrize("model", list(MODELS), ids=lambda m: m.__name__)
def test_every_model_builds_or_names_the_field_at_fault(model):
    fields, required = MODELS[model]

    @settings(FUZZ, max_examples=examples(100))
    @given(values=inputs(fields, required))
    @example(values={"model": "x", "name": "n"})  # once a TypeError: validate's own parameter
    def check(values):
        try:
            built = validate(model, **values)
        except InvalidInput as exc:
            assert_clear(exc, model, values)
            return
        assert isinstance(built, model)
        assert not set(values) - set(model.model_fields)
        for name, info in model.model_fields.items():
            if info.annotation is str and isinstance(values.get(name), str) and name not in ("key",):
                assert getattr(built, name) == expect_stripped(values, model, name), name

    check()


def test_every_field_of_every_model_has_a_label():
    for model in MODELS:
        labels = FIELD_LABELS | getattr(model, "LABELS", {})
        assert not [f for f in model.model_fields if f not in labels], model.__name__


def test_an_id_too_large_for_the_database_is_refused_by_the_model():
    with pytest.raises(InvalidInput, match=r"^Pilot: "):
        validate(WeeklyUpdateIn, pilot_id=2**200, health="green", summary="s")
    with pytest.raises(InvalidInput, match=r"^KPI: "):
        validate(CriterionIn, statement="s", kpi_id=2**40)
    with pytest.raises(InvalidInput, match=r"^Decided by: "):
        validate(DecisionIn, pilot_id=1, kind="go", decided_on=AS_OF, decided_by=-(2**130), rationale="r")


# --- the database: a world to write into, and every table compared ---------


def snapshot(conn) -> dict[str, tuple[int, int]]:
    """Every table (audit included): its row count and a checksum of its
    rows, so an updated row shows as well as an added one. One query."""
    tables = [t for (t,) in conn.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
    query = " UNION ALL ".join(
        f"SELECT '{t}', count(*), coalesce(sum(hash(r)::HUGEINT), 0) FROM {t} r" for t in tables)
    return {t: (n, h) for t, n, h in conn.execute(query).fetchall()}


def count(conn, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def assert_nothing_written(conn, before: dict, after: dict, exc: Exception) -> None:
    if isinstance(exc, EditConflict):
        # A refused save is kept on record: in the audit trail, and only there.
        added = after["audit"][0] - before["audit"][0]
        actions = [a for (a,) in conn.execute("SELECT action FROM audit ORDER BY id DESC LIMIT ?", [added]).fetchall()]
        assert all(a.endswith("refused") for a in actions), actions
        before, after = dict(before, audit=None), dict(after, audit=None)
    changed = {t: (before.get(t), after.get(t)) for t in set(before) | set(after) if before.get(t) != after.get(t)}
    assert not changed, f"{type(exc).__name__}: {exc} -- but these tables changed (rows, checksum): {changed}"


def attempt(w: "World", call):
    """Run ``call``: (its result, None), or (None, why) when it raised a
    PortfolioError, after checking that nothing was written. Any other
    exception fails the test. (Only the message is handed back: the
    exception's frames would keep the connection alive past the test.)"""
    before = w.tables if w.tables is not None else snapshot(w.conn)
    try:
        result = call()
    except PortfolioError as exc:
        event(f"refused: {type(exc).__name__} {exc.field}")
        w.tables = snapshot(w.conn)
        assert_nothing_written(w.conn, before, w.tables, exc)
        return None, f"{type(exc).__name__}: {exc}"
    event("written")
    w.tables = None  # the next attempt looks again
    return result, None


@dataclass
class World:
    conn: object
    admin: object
    leader: object
    owner: object
    viewer: object
    people: list[int]
    inactive: int
    pilots: list[int]
    kpis: list[int]
    privileges: list[int]
    criteria: list[int]
    tables: dict | None = None  # the snapshot as it stands, while nothing was written since
    live: int = 0  # a pilot in production since PROMOTED, under watch

    def actors(self):
        """Mostly an admin, who may do everything: else the rights refuse first."""
        return mostly(st.just(self.admin), st.sampled_from([self.leader, self.owner, self.viewer]))


def build_world(conn) -> World:
    admin = actor_of(conn, Role.ADMIN, name="Ada Admin")
    leader = actor_of(conn, Role.LEADERSHIP, name="Lee Leader")
    owner = actor_of(conn, Role.PRODUCT_OWNER, name="Olu Owner")
    viewer = actor_of(conn, Role.VIEWER, name="Vic Viewer")
    inactive = demo.make_person(conn, name="Gone Person", active=False)
    running = demo.make_pilot(conn, product_owner_id=owner.person_id)
    late = demo.make_pilot(conn, start_date=AS_OF - timedelta(days=100))
    proposed = demo.make_pilot(conn, stage=Stage.PROPOSED, start_date=None)
    stopped = demo.make_pilot(conn, stage=Stage.STOPPED)
    more = [demo.make_pilot(conn, start_date=AS_OF - timedelta(days=d)) for d in (10, 60, 85)]
    pilots = [running, late, proposed, stopped, *more]
    kpis = [
        production.add_kpi(conn, admin, running, {"name": "p95 latency", "category": "latency", "direction": "lower",
                                                  "unit": "ms", "target": 800, "horizon_days": 30}),
        production.add_kpi(conn, admin, late, {"name": "Adoption", "category": "adoption", "direction": "higher"}),
    ]
    privileges = [
        production.add_privilege(conn, admin, running, {"kind": "data_access", "description": "Prod data copy"}),
        production.add_privilege(conn, admin, late, {"kind": "budget", "description": "Vendor credits"}),
    ]
    decisions.save_criteria(conn, admin, running, additions=[
        {"statement": "p95 latency under 800 ms", "kpi_id": kpis[0]},
        {"statement": "Adjusters use it daily", "status": "met", "evidence": "Survey"},
    ], on=AS_OF, settings=SETTINGS)
    # The operational owners of some pilots accept the handover, as they
    # would on the pilot page: a go on those is open, on the rest it needs
    # an override.
    for pid in (running, late, more[1]):
        pilot = store.get_pilot(conn, pid)
        handover.record_acceptance(conn, Actor.of(store.get_person(conn, pilot.operational_owner_id)), {
            "pilot_id": pid, "verdict": "accepted", "accepted_on": pilot.start_date}, SETTINGS)
    live = demo.make_pilot(conn, start_date=AS_OF - timedelta(days=200))
    decisions.record_decision(conn, admin, {"pilot_id": live, "kind": "go", "decided_on": AS_OF - timedelta(days=110),
                                            "decided_by": admin.person_id, "rationale": "Met",
                                            "override_reason": "Operations signed on paper"}, SETTINGS)
    decisions.promote(conn, admin, live, PROMOTED, "The board's date")
    criteria = [c for (c,) in conn.execute("SELECT id FROM criterion ORDER BY id").fetchall()]
    people = [p for (p,) in conn.execute("SELECT id FROM person WHERE active ORDER BY id").fetchall()]
    return World(conn, admin, leader, owner, viewer, people, inactive, pilots, kpis, privileges, criteria, live=live)


PROMOTED = AS_OF - timedelta(days=70)


@pytest.fixture
def world(empty_template, tmp_path):
    """Opens the world in the test's own database (a copy of the migrated
    template), which its examples share."""

    @contextmanager
    def opened():
        path = tmp_path / "fuzz.duckdb"
        shutil.copyfile(empty_template, path)
        with db.session(path) as conn:
            conn.execute("SET threads = 1")  # small queries, a busy machine
            yield build_world(conn)

    return opened


def id_of(known: list[int]):
    """An id: mostly one that exists, else any whole number (or nothing)."""
    return mostly(st.sampled_from(known), st.one_of(st.integers(-(2**70), 2**70), st.none()))


def with_ids(fields: dict, **id_strategies) -> dict:
    return fields | id_strategies


# --- services: pilots, updates, people ----------------------------------------


def assert_editable(pilot) -> None:
    """What was stored is a pilot the form takes back: else it could never be edited."""
    validate(PilotIn, **pilot.model_dump(include=set(PilotIn.model_fields)))


def test_create_pilot_stores_what_was_given_or_writes_nothing(world):
    with world() as w:
        person = id_of(w.people + [w.inactive])
        fields = with_ids(MODELS[PilotIn][0], product_owner_id=person, technical_lead_id=person,
                          executive_sponsor_id=person, operational_owner_id=person)

        @settings(FUZZ, max_examples=examples(50))
        @given(actor=w.actors(), values=inputs(fields, {"name"}))
        @example(actor=w.admin, values={"name": "Big volume", "expected_monthly_volume": 1e12})
        @example(actor=w.admin, values={"name": "Late", "start_date": date(2199, 12, 1)})  # once never editable
        def check(actor, values):
            pilot_id, exc = attempt(w, lambda: create_pilot(w.conn, actor, values, SETTINGS, today=AS_OF))
            if exc:
                return
            wanted = validate(PilotIn, **values)
            stored = store.get_pilot(w.conn, pilot_id)
            assert stored.name == expect_stripped(values, PilotIn, "name")
            for f in ("business_unit", "problem", "stage", "start_date", "product_owner_id", "technical_lead_id",
                      "executive_sponsor_id", "operational_owner_id", "expected_monthly_volume"):
                assert getattr(stored, f) == getattr(wanted, f), f
            if wanted.go_no_go_date is None and wanted.start_date:
                assert stored.go_no_go_date == clock.go_no_go_date(wanted.start_date, SETTINGS.clock_days)
            else:
                assert stored.go_no_go_date == wanted.go_no_go_date
            assert_editable(stored)

        check()


def test_edit_pilot_stores_what_was_given_or_writes_nothing(world):
    with world() as w:
        person = id_of(w.people + [w.inactive])
        fields = with_ids(MODELS[PilotIn][0], product_owner_id=person, technical_lead_id=person,
                          executive_sponsor_id=person, operational_owner_id=person)

        @settings(FUZZ, max_examples=examples(50))
        @given(actor=w.actors(), pilot_id=id_of(w.pilots), values=inputs(fields, set()))
        def check(actor, pilot_id, values):
            current = store.get_pilot(w.conn, pilot_id) if pilot_id in w.pilots else None
            stored, exc = attempt(w, lambda: edit_pilot(w.conn, actor, pilot_id, values, SETTINGS, today=AS_OF))
            if exc:
                return
            merged = current.model_dump(exclude={"id", "version", "bridge_due_date", "archived"}) | values
            wanted = validate(PilotIn, **merged)
            assert stored == store.get_pilot(w.conn, pilot_id)
            for f in store.EDITABLE_PILOT_FIELDS:
                if f != "go_no_go_date":
                    assert getattr(stored, f) == getattr(wanted, f), f
            assert stored.stage == current.stage
            assert_editable(stored)

        check()


def test_post_weekly_update_stores_what_was_given_or_writes_nothing(world):
    with world() as w:
        fields = with_ids(MODELS[WeeklyUpdateIn][0], pilot_id=id_of(w.pilots))
        reading = st.fixed_dictionaries({}, optional={
            "kpi_id": mostly(id_of(w.kpis), anything), "value": mostly(nice_floats, anything),
            "note": mostly(st.text(max_size=20), anything),
        })

        @settings(FUZZ, max_examples=examples(50))
        @given(actor=w.actors(), values=inputs(fields, {"pilot_id", "health", "summary"}),
               readings=st.none() | st.lists(reading, max_size=3),
               as_of=st.sampled_from([AS_OF, AS_OF + timedelta(days=1), AS_OF + timedelta(days=9)]))
        def check(actor, values, readings, as_of):
            readings_before = count(w.conn, "kpi_reading")
            result, exc = attempt(
                w, lambda: updates.post_weekly_update(w.conn, actor, values, as_of, readings))
            if exc:
                return
            update_id, revision = result
            wanted = validate(WeeklyUpdateIn, **values)
            row = w.conn.execute("SELECT pilot_id, health, summary, blockers, next_steps, revision, posted_on"
                                 " FROM weekly_update WHERE id = ?", [update_id]).fetchone()
            assert row[:5] == (wanted.pilot_id, wanted.health.value, wanted.summary, wanted.blockers,
                               wanted.next_steps)
            assert row[5] == revision
            given = [r for r in readings or [] if r.get("value") not in (None, "")]
            added = count(w.conn, "kpi_reading") - readings_before
            assert 0 <= added <= len(given)

        check()


def test_add_person_stores_what_was_given_or_writes_nothing(world):
    with world() as w:

        @settings(FUZZ, max_examples=examples(50))
        @given(actor=w.actors(), values=inputs(*MODELS[PersonIn]))
        @example(actor=w.admin, values={"name": "Model", "email": "model@example.com", "model": 1})
        def check(actor, values):
            person_id, exc = attempt(w, lambda: add_person(w.conn, actor, values))
            if exc:
                return
            wanted = validate(PersonIn, **values)
            stored = store.get_person(w.conn, person_id)
            assert (stored.name, stored.email, stored.role, stored.active) == (
                wanted.name, wanted.email, wanted.role, wanted.active)

        check()


def test_new_api_token_stores_what_was_given_or_writes_nothing(world):
    with world() as w:

        @settings(FUZZ, max_examples=examples(50))
        @given(actor=w.actors(), person_id=id_of(w.people + [w.inactive]),
               values=inputs(*MODELS[AccessTokenIn]))
        def check(actor, person_id, values):
            token, exc = attempt(w, lambda: tokens.new_api_token(w.conn, actor, person_id, values))
            if exc:
                return
            wanted = validate(AccessTokenIn, **values)
            acting = tokens.actor_for_token(w.conn, token, Purpose.API)
            assert acting.person_id == person_id
            assert wanted.label in [t.label for t in tokens.list_tokens(w.conn, w.admin, person_id)]

        check()


# --- decisions: criteria and go / no-go -----------------------------------------


def test_save_criteria_stores_what_was_given_or_writes_nothing(world):
    with world() as w:
        crit_fields = MODELS[CriterionIn][0] | {"kpi_id": st.none() | id_of(w.kpis)}
        edit = st.builds(
            lambda crit_id, values, remove, version: {**values, "id": crit_id, **remove, **version},
            st.one_of(st.sampled_from(w.criteria), st.integers(-5, 2**40), st.text(max_size=3), st.none()),
            inputs(crit_fields, set()).map(lambda v: {k: v[k] for k in v if k not in ("kpi_id", "version", "remove")}),
            st.sampled_from([{}, {"remove": True}, {"remove": False}]),
            st.one_of(st.just({}), st.fixed_dictionaries({"version": st.none() | st.integers(0, 5)})),
        )

        @settings(FUZZ, max_examples=examples(50))
        @given(actor=w.actors(), pilot_id=id_of(w.pilots),
               edits=st.lists(edit, max_size=2, unique_by=lambda e: repr(e["id"])),
               additions=st.lists(inputs(crit_fields, {"statement"}), max_size=2),
               on=st.one_of(st.just(AS_OF), in_range_dates))
        @example(actor=w.admin, pilot_id=w.pilots[0], additions=[],
                 edits=[{"id": w.criteria[0], "status": "met"}], on=AS_OF)  # once dropped its KPI
        @example(actor=w.admin, pilot_id=w.pilots[0], edits=[],
                 additions=[{"statement": "Tied to a KPI of another pilot", "kpi_id": w.kpis[1]}], on=AS_OF)
        def check(actor, pilot_id, edits, additions, on):
            before = {r[0]: r for r in w.conn.execute(
                "SELECT id, statement, status, evidence, kpi_id, removed FROM criterion").fetchall()}
            counts, exc = attempt(w, lambda: decisions.save_criteria(
                w.conn, actor, pilot_id, edits=edits, additions=additions, on=on, settings=SETTINGS))
            if exc:
                return
            after = {r[0]: r for r in w.conn.execute(
                "SELECT id, statement, status, evidence, kpi_id, removed FROM criterion").fetchall()}
            mine = {k for k, r in w.conn.execute("SELECT id, pilot_id FROM criterion").fetchall() if r == pilot_id}
            pilot_kpis = {k for (k,) in w.conn.execute("SELECT id FROM kpi WHERE pilot_id = ?", [pilot_id]).fetchall()}
            for e in edits:
                crit = before[e["id"]]
                now = after[e["id"]]
                if e.get("remove"):
                    assert now[5] is True
                    continue
                # A criterion tied to a KPI shows the KPI's status: only its statement is its own.
                markable = ("statement",) if crit[4] is not None else ("statement", "status", "evidence")
                wanted = validate(CriterionIn, **({"statement": crit[1], "status": crit[2], "evidence": crit[3]}
                                                  | {k: e[k] for k in markable if k in e}))
                assert now[1:4] == (wanted.statement, wanted.status.value, wanted.evidence)
                assert now[4] == crit[4], "the criterion's KPI was dropped"
            for a in additions:
                wanted = validate(CriterionIn, **a)
                assert any(after[i][1].casefold() == wanted.statement.casefold() for i in mine)
            for i in set(after) - set(before):
                assert i in mine and (after[i][4] is None or after[i][4] in pilot_kpis)
            assert sum(counts.values()) >= len(set(after) - set(before))

        check()


def test_record_decision_stores_what_was_given_or_writes_nothing(world):
    with world() as w:
        leaders = st.sampled_from([w.admin.person_id, w.leader.person_id])
        fields = with_ids(
            MODELS[DecisionIn][0], pilot_id=id_of(w.pilots),
            decided_by=mostly(leaders, id_of(w.people + [w.inactive])),
            supersedes_id=mostly(st.none(), st.integers(1, 6)),
            decided_on=mostly(st.integers(-8, 1).map(lambda d: AS_OF + timedelta(days=d)), in_range_dates),
            new_go_no_go_date=st.one_of(st.none(), st.integers(0, 200).map(lambda d: AS_OF + timedelta(days=d))),
        )

        @settings(FUZZ, max_examples=examples(80))
        @given(actor=w.actors(), values=inputs(fields, {"pilot_id", "kind", "decided_on", "decided_by", "rationale"}),
               today=st.none() | st.just(AS_OF), data=st.data())
        def check(actor, values, today, data):
            # Pilots move on after a go or a no-go: half the time, correct the latest decision.
            pilot_id = values.get("pilot_id")
            known = isinstance(pilot_id, int) and pilot_id in w.pilots
            latest = decisions.effective_decisions(w.conn, pilot_id)[:1] if known else []
            if latest and data.draw(st.booleans(), label="correct the latest"):
                values = values | {"supersedes_id": latest[0].id}
            if isinstance(values.get("kind"), str) and values["kind"] in [k.value for k in DecisionKind] and data.draw(
                    st.booleans(), label="a new go/no-go date only for an extension"):
                extend = values["kind"] in (DecisionKind.EXTEND, "extend")
                values = values | {"new_go_no_go_date": AS_OF + timedelta(days=60) if extend else None}
            decision, exc = attempt(
                w, lambda: decisions.record_decision(w.conn, actor, values, SETTINGS, today=today))
            if exc:
                return
            wanted = validate(DecisionIn, **values)
            assert (decision.pilot_id, decision.kind, decision.decided_on, decision.decided_by, decision.rationale,
                    decision.supersedes_id) == (wanted.pilot_id, wanted.kind, wanted.decided_on, wanted.decided_by,
                                                wanted.rationale, wanted.supersedes_id)
            pilot = store.get_pilot(w.conn, wanted.pilot_id)
            assert pilot.stage == decision.stage_after
            assert pilot.go_no_go_date == decision.go_no_go_after
            if wanted.kind == DecisionKind.EXTEND:
                assert pilot.go_no_go_date == wanted.new_go_no_go_date

        check()


# --- the handover and the check-ins after go --------------------------------


def test_record_acceptance_stores_what_was_given_or_writes_nothing(world):
    with world() as w:
        fields = with_ids(MODELS[AcceptanceIn][0], pilot_id=id_of(w.pilots + [w.live]),
                          accepted_on=mostly(st.integers(-100, 2).map(lambda d: AS_OF + timedelta(days=d)),
                                             in_range_dates))

        @settings(FUZZ, max_examples=examples(60))
        @given(actor=w.actors(), values=inputs(fields, {"pilot_id", "verdict", "accepted_on"}),
               sponsor=st.booleans(), today=st.none() | st.just(AS_OF))
        def check(actor, values, sponsor, today):
            chosen = Settings(acceptance_by_sponsor=sponsor)
            word, exc = attempt(w, lambda: handover.record_acceptance(w.conn, actor, values, chosen, today=today))
            if exc:
                return
            wanted = validate(AcceptanceIn, **values)
            pilot = store.get_pilot(w.conn, wanted.pilot_id)
            assert (word.pilot_id, word.seat, word.verdict, word.note, word.accepted_on) == (
                wanted.pilot_id, wanted.seat, wanted.verdict, wanted.note, wanted.accepted_on)
            assert word.person_id == getattr(pilot, wanted.seat.value)
            assert actor.person_id in (word.person_id, w.admin.person_id)

        check()


def test_record_checkin_stores_what_was_given_or_writes_nothing(world):
    with world() as w:
        fields = with_ids(MODELS[CheckinIn][0], pilot_id=mostly(st.just(w.live), id_of(w.pilots)),
                          checked_on=mostly(st.integers(-60, 2).map(lambda d: AS_OF + timedelta(days=d)),
                                            in_range_dates))

        @settings(FUZZ, max_examples=examples(60))
        @given(actor=w.actors(), values=inputs(fields, {"pilot_id", "checked_on", "used", "kpis_hold",
                                                        "cost_as_expected"}), today=st.none() | st.just(AS_OF))
        def check(actor, values, today):
            done, exc = attempt(w, lambda: handover.record_checkin(w.conn, actor, values, SETTINGS, today=today))
            if exc:
                return
            wanted = validate(CheckinIn, **values)
            assert (done.pilot_id, done.checked_on, done.used, done.kpis_hold, done.cost_as_expected, done.note) == (
                wanted.pilot_id, wanted.checked_on, wanted.used, wanted.kpis_hold, wanted.cost_as_expected,
                wanted.note)
            assert done.due_day in SETTINGS.checkin_days
            assert done.checked_on >= PROMOTED + timedelta(days=done.due_day - SETTINGS.checkin_early_days)

        check()


# --- production: privileges, KPIs, readings, readiness ----------------------


def test_add_privilege_stores_what_was_given_or_writes_nothing(world):
    with world() as w:

        @settings(FUZZ, max_examples=examples(50))
        @given(actor=w.actors(), pilot_id=id_of(w.pilots), values=inputs(*MODELS[PrivilegeIn]))
        def check(actor, pilot_id, values):
            privilege_id, exc = attempt(w, lambda: production.add_privilege(w.conn, actor, pilot_id, values))
            if exc:
                return
            wanted = validate(PrivilegeIn, **values)
            stored = next(p for p in store.list_privileges(w.conn, pilot_id) if p.id == privilege_id)
            assert (stored.kind, stored.description, stored.granted_by, stored.since, stored.expires) == (
                wanted.kind, wanted.description, wanted.granted_by, wanted.since, wanted.expires)
            assert stored.disposition == Disposition.UNDECIDED

        check()


def test_add_kpi_stores_what_was_given_or_writes_nothing(world):
    with world() as w:

        @settings(FUZZ, max_examples=examples(50))
        @given(actor=w.actors(), pilot_id=id_of(w.pilots), values=inputs(*MODELS[KpiIn]))
        def check(actor, pilot_id, values):
            kpi_id, exc = attempt(w, lambda: production.add_kpi(w.conn, actor, pilot_id, values))
            if exc:
                return
            wanted = validate(KpiIn, **values)
            stored = store.get_kpi(w.conn, kpi_id)
            for f in ("name", "category", "unit", "direction", "baseline", "target", "horizon_days", "production"):
                assert getattr(stored, f) == getattr(wanted, f), f
            assert stored.pilot_id == pilot_id

        check()


def test_record_readings_stores_what_was_given_or_writes_nothing(world):
    with world() as w:
        reading = inputs(with_ids(MODELS[ReadingIn][0], kpi_id=id_of(w.kpis)), {"kpi_id", "value", "reading_on"})

        @settings(FUZZ, max_examples=examples(50))
        @given(actor=w.actors(), pilot_id=id_of(w.pilots), readings=st.lists(reading, max_size=3))
        def check(actor, pilot_id, readings):
            before = set(w.conn.execute("SELECT id FROM kpi_reading").fetchall())
            added, exc = attempt(w, lambda: production.record_readings(w.conn, actor, pilot_id, readings))
            if exc:
                return
            new = w.conn.execute("SELECT id, kpi_id, pilot_id, reading_on, value, note FROM kpi_reading").fetchall()
            new = [r for r in new if (r[0],) not in before]
            assert len(new) == added
            wanted = [validate(ReadingIn, **r) for r in readings if r.get("value") not in (None, "")]
            for _, kpi_id, pid, on, value, note in new:
                assert pid == pilot_id
                assert any((w_.kpi_id, w_.reading_on, w_.value, w_.note) == (kpi_id, on, value, note) for w_ in wanted)

        check()


def test_save_readiness_stores_what_was_given_or_writes_nothing(world):
    with world() as w:
        keys = [i["key"] for i in store.readiness_items(w.conn)]
        item = mostly(st.fixed_dictionaries({}, optional={
            "status": mostly(st.sampled_from([*ReadinessStatus, *(s.value for s in ReadinessStatus)]), anything),
            "evidence": mostly(st.text(max_size=30), anything),
            "version": st.none() | st.integers(0, 4),
        }), anything)

        @settings(FUZZ, max_examples=examples(50))
        @given(actor=w.actors(), pilot_id=id_of(w.pilots),
               items=st.dictionaries(st.one_of(st.sampled_from(keys), st.text(max_size=8)), item, max_size=3))
        def check(actor, pilot_id, items):
            _, exc = attempt(w, lambda: production.save_readiness(w.conn, actor, pilot_id, items))
            if exc:
                return
            stored = {r["key"]: r for r in store.pilot_readiness(w.conn, pilot_id)}
            for key, value in items.items():
                assert stored[key]["status"] == ReadinessStatus(value.get("status")).value
                assert stored[key]["evidence"] == clean_line(value.get("evidence") or "").strip()

        check()


def test_decide_privilege_stores_what_was_given_or_writes_nothing(world):
    with world() as w:

        @settings(FUZZ, max_examples=examples(50))
        @given(actor=w.actors(), privilege_id=mostly(id_of(w.privileges), anything),
               disposition=mostly(st.sampled_from([*Disposition, *(d.value for d in Disposition)]), anything),
               note=st.one_of(st.text(max_size=30), texts, st.none()),
               on=mostly(st.one_of(st.just(AS_OF), st.dates()), anything),
               expected_version=st.none() | st.integers(0, 4))
        @example(actor=w.admin, privilege_id=Decimal("Infinity"), disposition="withdraw", note="", on=AS_OF,
                 expected_version=None)  # once an OverflowError
        @example(actor=w.admin, privilege_id=2**300, disposition="withdraw", note="", on=AS_OF,
                 expected_version=None)  # too large for the database's integers
        def check(actor, privilege_id, disposition, note, on, expected_version):
            def stored(pid):
                return w.conn.execute("SELECT disposition, note, decided_on FROM privilege WHERE id = ?",
                                      [pid]).fetchone()

            try:
                before = stored(int(privilege_id))
            except Exception:  # not an id the database takes: the service refuses it below
                before = None
            _, exc = attempt(w, lambda: production.decide_privilege(
                w.conn, actor, privilege_id, disposition, note, on, expected_version=expected_version))
            if exc:
                return
            chosen = Disposition(disposition)
            row = stored(int(privilege_id))
            assert row[0] == chosen.value
            assert row[1] == clean_line(note or "").strip()
            if before is not None and before[:2] == row[:2]:
                # Already so (a repeated submit): nothing is written, the first decision's day stays.
                assert row[2] == before[2]
                return
            on_day = on.date() if isinstance(on, datetime) else on
            assert row[2] == (None if chosen == Disposition.UNDECIDED else on_day)

        check()


# --- the importer -------------------------------------------------------------

# The columns guess_mapping recognises, by the names the tracker itself uses.
HEADER = [importer.LABELS[f] for f in importer.FIELDS] + ["Notes"]
MESSY_DATES = ["2025-08-04", "8/4/2025", "4/8/2025", "Aug-25", "08/2025", "August 2025", "4 Aug 2025", "45873",
               "45873.5", "19999", "80001", "2025-13-01", "31/31/2025", "2025-08-04 00:00:00", "1899-12-30",
               "2300-01-01", "Sept 2025", "Foo-25", "0", "-1", "1e5", ""]
EMAILS = ["priya.shah@example.com", "Priya.Shah@EXAMPLE.com", "MARIA.COSTA@example.com", "not-an-email", "a@b",
          "x@y.z", "", "  lee.leader@example.com  ", "ada@example.com,bob@example.com"]
STAGES = ["proposed", "pilot", " Pilot ", "PRODUCTION", "bridge", "stopped", "retired", "In pilot", "live", "", "?"]
messy_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["a, b", 'say "hi"', "line\nbreak", "semi;colon", "tab\there", "=cmd()", "'=quoted", "   ",
                     "\r", '"', ",,,"]),
    st.just(201).map(lambda n: "x" * n),
)
GOOD_DATES = ["2025-08-04", "8/4/2025", "Aug-25", "08/2025", "August 2025", "4 Aug 2025", "45873", "Sept 2025",
              "2025-08-04 00:00:00", ""]
LATER_DATES = ["", "", "2026-01-15", "1/15/2026", "46037", "Jan-26"]
GOOD_EMAILS = ["priya.shah@example.com", "Priya.Shah@EXAMPLE.com", "MARIA.COSTA@example.com", "x@y.z",
               "  lee.leader@example.com  ", ""]
# Each cell mostly one a person would type, else anything messy.
cells = {
    # The tracker's own id, as its export carries it: mostly blank or a pilot's.
    "Tracker id": mostly(st.sampled_from(["", "", "1", "2", "3"]), st.sampled_from(["0", "999", "-1", "1.0"])
                         | messy_text),
    "External id": mostly(st.sampled_from(["UC-1", "UC-2", "uc-1", "UC-3", "", " UC-4 "]) | st.uuids().map(str),
                          messy_text),
    "Name": mostly(st.sampled_from(["Claims triage", "Fraud model", "  spaced  ", "名前 💥", "a, b", 'say "hi"'])
                   | st.text(min_size=1, max_size=30).filter(str.strip), messy_text),
    "Business unit": mostly(st.sampled_from(["Claims", "Fraud", ""]), messy_text),
    "Problem": messy_text,
    "Stage": mostly(st.sampled_from(["proposed", "pilot", " Pilot ", "PRODUCTION", ""]),
                    st.sampled_from(STAGES) | messy_text),
    "Start date": mostly(st.sampled_from(GOOD_DATES), st.sampled_from(MESSY_DATES) | st.integers(0, 100000).map(str)
                         | messy_text),
    "Go/no-go date": mostly(st.sampled_from(LATER_DATES), st.sampled_from(MESSY_DATES) | messy_text),
    **{seat: mostly(st.sampled_from(GOOD_EMAILS), st.sampled_from(EMAILS) | messy_text)
       for seat in ("Product owner", "Technical lead", "Executive sponsor", "Operational owner")},
    "Expected monthly volume": mostly(st.sampled_from(["", "40000", "12,400", "1 200", "0"]),
                                      st.sampled_from(["-5", "1e400", "lots", "9,000 EUR"]) | messy_text),
    "Expected monthly value": mostly(st.sampled_from(["", "9000", "9,000 EUR", "€9000", "150 hours"]),
                                     st.sampled_from(["-1", "1e13", "nan", "12 bananas"]) | messy_text),
    "Expected value unit": mostly(st.sampled_from(["", "EUR", "usd", "€", "hours"]), messy_text),
    "Notes": messy_text,
}
assert set(cells) == set(HEADER)


@st.composite
def csv_files(draw):
    columns = draw(st.lists(st.sampled_from(HEADER), unique=True, min_size=1))
    if draw(st.integers(0, 3)) and "Name" not in columns:
        columns.insert(0, "Name")
    rows = draw(st.lists(st.fixed_dictionaries({c: cells[c] for c in columns}), max_size=6))
    out = io.StringIO()
    # As Excel writes it: CRLF, so a cell holding a line break of either kind is quoted.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([[r[c] for c in columns] for r in rows])
    text = out.getvalue()
    if draw(st.booleans()):
        text = text.replace("\r\n", "\n")  # as other tools write it
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return (bom + text).encode("utf-8"), columns, rows


# Excel cells are typed: dates, times, numbers and booleans as well as text
# (never a formula: openpyxl keeps no value for one).
excel_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=20).filter(
    lambda t: not t.startswith("="))
excel_values = st.one_of(
    st.none(), excel_text, st.booleans(), st.integers(-(10**6), 10**6), st.floats(-1e9, 1e9),
    st.dates(date(1950, 1, 1), date(2250, 12, 31)), st.datetimes(datetime(1950, 1, 1), datetime(2250, 12, 31)),
    st.sampled_from(GOOD_DATES + GOOD_EMAILS + STAGES),
)


@st.composite
def xlsx_files(draw):
    import openpyxl

    columns = draw(st.lists(st.sampled_from(HEADER), unique=True, min_size=1))
    if "Name" not in columns:
        columns.insert(0, "Name")
    rows = draw(st.lists(st.lists(excel_values, min_size=len(columns), max_size=len(columns)), max_size=5))
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(columns)
    for r in rows:
        sheet.append(r)
    out = io.BytesIO()
    book.save(out)
    kept = sum(1 for r in rows if any(v is not None and str(v).strip() for v in r))
    return out.getvalue(), kept


raw_files = st.tuples(
    st.sampled_from([b"", b"Name,Stage,Start date\n", b"External id;Name;Stage\n", b"Name\tProduct owner\n"]),
    st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
).map(lambda p: p[0] + p[1])


def import_fuzzed(w: World, data: bytes, filename: str, skip_invalid: bool, file_rows: int | None = None) -> None:
    """read_table -> plan_import -> apply_import: InvalidInput and nothing
    changed, or every row imported or rejected and the pilots grown by the
    created count, each stored as planned."""
    before = w.tables if w.tables is not None else snapshot(w.conn)
    w.tables = None
    try:
        frame = importer.read_table(data, filename)
        if file_rows is not None:
            assert len(frame) == file_rows
        plan = importer.plan_import(w.conn, frame, importer.guess_mapping(frame.columns, frame), SETTINGS)
        assert plan.total == len(frame)
        result = importer.apply_import(w.conn, w.admin, plan, skip_invalid=skip_invalid)
    except InvalidInput as exc:
        event(f"refused: {str(exc)[:40]}")
        assert str(exc).split(":", 1)[0] in {"File", "Mapping", *importer.LABELS.values()}, str(exc)
        w.tables = snapshot(w.conn)
        assert_nothing_written(w.conn, before, w.tables, exc)
        return
    event(f"imported: {'some' if result.created + result.updated + result.unchanged else 'none'}, "
          f"{'some' if len(result.rejected) else 'none'} rejected")
    after = snapshot(w.conn)
    assert result.created + result.updated + result.unchanged + len(result.rejected) == len(frame)
    assert len(result.rejected) == plan.invalid_rows
    assert after["pilot"][0] - before["pilot"][0] == result.created
    assert after["person"][0] - before["person"][0] == len(result.new_people)
    good = plan.rows[~plan.rows["row"].isin(list(plan.problem_rows))]
    for r in good.itertuples():
        if r.external_id is None:
            continue
        pilot_id = w.conn.execute("SELECT id FROM pilot WHERE external_id = ?", [r.external_id]).fetchone()[0]
        stored = store.get_pilot(w.conn, pilot_id)
        assert (stored.name, stored.business_unit, stored.problem, stored.start_date, stored.go_no_go_date) == (
            r.name, r.business_unit, r.problem, r.start_date, r.go_no_go_date)
        if r.action == "create":
            assert stored.stage.value == r.stage


def test_fuzzed_csv_files_import_whole_or_not_at_all(world):
    with world() as w:

        @settings(FUZZ, max_examples=examples(50))
        @given(file=csv_files(), skip_invalid=st.booleans())
        def check(file, skip_invalid):
            data, columns, rows = file
            kept = sum(1 for r in rows if any(str(v).strip() for v in r.values()))
            import_fuzzed(w, data, "pilots.csv", skip_invalid, kept)

        check()


def test_fuzzed_excel_files_import_whole_or_not_at_all(world):
    with world() as w:

        @settings(FUZZ, max_examples=examples(30))
        @given(file=xlsx_files(), skip_invalid=st.booleans())
        def check(file, skip_invalid):
            data, kept = file
            import_fuzzed(w, data, "pilots.xlsx", skip_invalid, kept)

        check()


def test_random_bytes_import_whole_or_not_at_all(world):
    with world() as w:

        @settings(FUZZ, max_examples=examples(60))
        @given(data=raw_files, filename=st.sampled_from(["pilots.csv", "pilots.CSV", "pilots.xlsx", "pilots.txt"]),
               skip_invalid=st.booleans())
        def check(data, filename, skip_invalid):
            import_fuzzed(w, data, filename, skip_invalid)

        check()
