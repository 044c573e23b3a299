"""What production will need that the pilot had: borrowed privileges (seed
003), production KPIs and their readings (seeds 000, 003, 004), each with
its baseline read before the start, readiness in four dimensions (seeds
002, 004), the running cost at production volume beside the expected value
(the business case, domain/value.py), the three handover questions, and the
likely reason a pilot is stuck.

Writes check the same rights as editing the pilot; deciding a privilege and
recording readings are part of keeping a pilot true, so its product owner,
technical lead, leadership and admins may.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from portfolio.domain import rights, value
from portfolio.domain.errors import (
    EditConflict,
    InvalidInput,
    NotFound,
    validate,
)
from portfolio.domain.models import (
    Actor,
    KpiIn,
    Pilot,
    PrivilegeIn,
    ReadinessItemIn,
    check_id,
)
from portfolio.domain.rights import Right
from portfolio.domain.settings import Settings
from portfolio.domain.text import clean_line
from portfolio.domain.vocabulary import (
    READINESS_DIMENSIONS,
    Disposition,
    KpiCategory,
    ReadinessStatus,
)
from portfolio.services.updates import insert_new_readings, parse_readings
from portfolio.storage import audit, store
from portfolio.storage.db import write


def _live(pilot: Pilot, what: str) -> None:
    """The ledger, the KPIs and the readiness are kept while the pilot is in play."""
    if not pilot.stage.in_play:
        raise InvalidInput(f"Pilot: '{pilot.name}' is {pilot.stage.value}; its {what} are closed", field="pilot_id")


# --- borrowed privileges --------------------------------------------------


def add_privilege(conn, actor: Actor, pilot_id: int, values: dict) -> int:
    pilot = store.get_pilot(conn, pilot_id)
    rights.require(actor, Right.EDIT_PILOT, pilot, what="record a borrowed privilege")
    _live(pilot, "borrowed privileges")
    privilege = validate(PrivilegeIn, **values)
    for known in store.list_privileges(conn, pilot_id):
        if (known.kind, known.description.lower()) == (privilege.kind, privilege.description.lower()):
            raise InvalidInput(f"What it is: '{privilege.description}' is already in the ledger", field="description")

    def work(c):
        privilege_id = store.insert_privilege(c, pilot_id, privilege)
        audit.created(c, actor, "privilege", privilege_id)
        return privilege_id

    return write(conn, work)


def decide_privilege(conn, actor: Actor, privilege_id: int, disposition: str, note: str, on: date,
                     *, expected_version: int | None = None) -> None:
    """Make permanent or withdraw (saying what replaces it), or set back to
    undecided. With ``expected_version`` (the version the form was opened
    on), a privilege someone else decided since is refused, naming them."""
    try:
        privilege_id = check_id(int(privilege_id))
    except (TypeError, ValueError, OverflowError):  # OverflowError: infinity
        raise InvalidInput(f"Privilege: '{privilege_id}' is not a privilege id", field="privilege") from None
    if not isinstance(on, date):
        raise InvalidInput("Decided on: a date is needed", field="decided_on")
    pilot_id = store.privilege_pilot(conn, privilege_id)
    if pilot_id is None:
        raise NotFound(f"There is no borrowed privilege with id {privilege_id}", field="privilege")
    pilot = store.get_pilot(conn, pilot_id)
    rights.require(actor, Right.EDIT_PILOT, pilot, what="decide a borrowed privilege")
    _live(pilot, "borrowed privileges")
    try:
        chosen = Disposition(disposition)
    except ValueError:
        raise InvalidInput(f"Disposition: '{disposition}' is not undecided, make permanent or withdraw",
                           field="disposition") from None
    note = clean_line(note or "").strip()
    if len(note) > 1000:
        raise InvalidInput("Note: must be at most 1000 characters", field="note")
    if chosen == Disposition.WITHDRAW and not note:
        raise InvalidInput("Note: say what replaces a withdrawn privilege", field="note")

    def work(c):
        current = store.privilege_disposition(c, privilege_id)
        if current == (chosen.value, note):
            return  # already so (a repeated submit)
        audit.check_version(c, "privilege", privilege_id, expected_version, f"The privilege {privilege_id}")
        with audit.tracking(c, actor, "privilege", privilege_id, "decide"):
            store.decide_privilege(c, privilege_id, chosen, actor.person_id, on, note)

    try:
        write(conn, work)
    except EditConflict as conflict:
        audit.record_refusal(conn, actor, conflict, "decide", {"disposition": chosen.value, "note": note})
        raise


# --- KPIs -----------------------------------------------------------------


def add_kpi(conn, actor: Actor, pilot_id: int, values: dict) -> int:
    pilot = store.get_pilot(conn, pilot_id)
    rights.require(actor, Right.EDIT_PILOT, pilot, what="add a KPI")
    _live(pilot, "KPIs")
    kpi = validate(KpiIn, **values)
    _check_baseline_day(pilot, kpi)
    if any(k.name.lower() == kpi.name.lower() for k in store.list_kpis(conn, pilot_id)):
        raise InvalidInput(f"Name: '{pilot.name}' already has a KPI named '{kpi.name}'", field="name")

    def work(c):
        kpi_id = store.insert_kpi(c, pilot_id, kpi)
        audit.created(c, actor, "kpi", kpi_id)
        return kpi_id

    return write(conn, work)


def edit_kpi(conn, actor: Actor, kpi_id: int, values: dict, *, expected_version: int | None = None) -> None:
    """Change a KPI's definition (its readings stay). With
    ``expected_version``, a KPI someone else changed since is refused."""
    current = store.get_kpi(conn, kpi_id)
    pilot = store.get_pilot(conn, current.pilot_id)
    rights.require(actor, Right.EDIT_PILOT, pilot, what="edit a KPI")
    _live(pilot, "KPIs")
    fields = ("name", "category", "unit", "direction", "baseline", "baseline_on", "target", "horizon_days",
              "production")
    kpi = validate(KpiIn, **({f: getattr(current, f) for f in fields} | values))
    if (kpi.baseline, kpi.baseline_on) != (current.baseline, current.baseline_on):
        _check_baseline_day(pilot, kpi)  # a baseline kept as it was stays, whatever its day
    if any(k.id != kpi_id and k.name.lower() == kpi.name.lower() for k in store.list_kpis(conn, pilot.id)):
        raise InvalidInput(f"Name: '{pilot.name}' already has a KPI named '{kpi.name}'", field="name")

    def work(c):
        if all(getattr(store.get_kpi(c, kpi_id), f) == getattr(kpi, f) for f in fields):
            return  # nothing to change (or a repeated submit already saved it)
        audit.check_version(c, "kpi", kpi_id, expected_version, f"The KPI '{current.name}'")
        with audit.tracking(c, actor, "kpi", kpi_id, "edit"):
            store.update_kpi(c, kpi_id, kpi)

    try:
        write(conn, work)
    except EditConflict as conflict:
        audit.record_refusal(conn, actor, conflict, "edit", kpi.model_dump(mode="json"))
        raise


def _check_baseline_day(pilot: Pilot, kpi: KpiIn) -> None:
    """A baseline is read before the clock starts: one dated on or after
    the start is a reading, not a baseline."""
    if kpi.baseline_on is not None and pilot.start_date is not None and kpi.baseline_on >= pilot.start_date:
        raise InvalidInput(
            f"Baseline date: {kpi.baseline_on} is not before the start date {pilot.start_date}; a baseline is "
            "read before the clock starts (a later value is a reading)", field="baseline_on")


def record_readings(conn, actor: Actor, pilot_id: int, readings: list[dict]) -> int:
    """Record readings of the pilot's KPIs in one transaction; rows with no
    value are skipped, and a reading already recorded is not added twice.
    Returns how many were added."""
    pilot = store.get_pilot(conn, pilot_id)
    rights.require(actor, Right.EDIT_PILOT, pilot, what="record KPI readings")
    _live(pilot, "KPIs")
    parsed = parse_readings(conn, pilot_id, readings)
    return write(conn, lambda c: insert_new_readings(c, actor, pilot_id, parsed))


def monthly_cost(conn, pilot_id: int, as_of: date) -> float | None:
    costs = store.monthly_costs(conn, as_of, pilot_id)
    row = costs[costs["id"] == pilot_id]
    return float(row["monthly_cost"].iloc[0]) if not row.empty else None


def business_case(conn, pilot: Pilot, as_of: date, settings: Settings) -> value.BusinessCase:
    """The pilot's running cost at production volume (by ``as_of``) beside
    its expected monthly value, as WEAK_BUSINESS_CASE weighs them."""
    costs = store.monthly_costs(conn, as_of, pilot.id)
    row = costs[costs["id"] == pilot.id]
    cost = float(row["monthly_cost"].iloc[0]) if not row.empty else None
    unit = str(row["unit"].iloc[0]) if not row.empty else None
    return value.business_case(cost, unit, pilot.expected_monthly_value, pilot.expected_value_unit,
                               settings.hour_cost, settings.hour_cost_currency)


def cost_and_value_by_unit(conn, as_of: date, settings: Settings, costs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per business unit and currency, the live pilots' projected monthly
    running cost beside their expected monthly value (hours at the cost of
    an hour), counting only the pilots whose cost and value can be weighed
    (both stated, in the same currency): business_unit, currency, cost,
    value, pilots. ``costs``: ``store.monthly_costs`` on ``as_of`` when the
    caller has it already."""
    if costs is None:
        costs = store.monthly_costs(conn, as_of)
    rows = []
    live = costs[costs["stage"].isin(["pilot", "bridge", "production"])]
    for cost, unit, unit_name, amount, amount_unit in zip(
            live["monthly_cost"], live["unit"], live["business_unit"], live["expected_monthly_value"],
            live["expected_value_unit"]):
        case = value.business_case(float(cost), str(unit), None if pd.isna(amount) else float(amount),
                                   "" if pd.isna(amount_unit) else str(amount_unit),
                                   settings.hour_cost, settings.hour_cost_currency)
        if case.comparable:
            rows.append({"business_unit": unit_name or "(no business unit)",
                         "currency": case.cost_currency, "cost": case.cost, "value": case.value_money})
    frame = pd.DataFrame(rows, columns=["business_unit", "currency", "cost", "value"])
    return (frame.groupby(["business_unit", "currency"], as_index=False)
            .agg(cost=("cost", "sum"), value=("value", "sum"), pilots=("cost", "size"))
            .sort_values(["currency", "business_unit"], ignore_index=True))


# --- readiness ------------------------------------------------------------


def save_readiness(conn, actor: Actor, pilot_id: int, items: dict[str, dict]) -> None:
    """``items``: {key: {"status": ..., "evidence": ..., "version": ...}}
    for checklist keys. An item whose ``version`` (as the form was opened;
    0 for one never saved) is no longer current is refused, naming who
    changed it; items left as they are save nothing."""
    pilot = store.get_pilot(conn, pilot_id)
    rights.require(actor, Right.EDIT_PILOT, pilot, what="update the readiness checklist")
    _live(pilot, "readiness items")
    known = {i["key"]: i for i in store.readiness_items(conn)}
    parsed = []
    for key, value in items.items():
        if key not in known:
            raise InvalidInput(f"Readiness: '{key}' is not on the checklist", field="key")
        if not isinstance(value, dict):
            raise InvalidInput(f"{known[key]['label']}: give a status and evidence", field="status")
        try:
            status = ReadinessStatus(value.get("status"))
        except ValueError:
            raise InvalidInput(f"{known[key]['label']}: '{value.get('status')}' is not a readiness status",
                               field="status") from None
        evidence = clean_line(value.get("evidence") or "").strip()
        if len(evidence) > 2000:
            raise InvalidInput(f"{known[key]['label']}: evidence must be at most 2000 characters", field="evidence")
        parsed.append((key, status, evidence, value.get("version")))

    def work(c):
        changing = []
        recorded = store.readiness_recorded(c, pilot_id)
        for key, status, evidence, version in parsed:
            now = recorded.get(key, (ReadinessStatus.NOT_STARTED.value, ""))
            if now != (status.value, evidence):
                changing.append((key, status, evidence, version))
        audit.check_versions(c, [("readiness", (pilot_id, key), version, f"Readiness '{known[key]['label']}'")
                                 for key, _, _, version in changing])
        for key, status, evidence, _ in changing:
            with audit.tracking(c, actor, "readiness", (pilot_id, key), "save"):
                store.set_readiness(c, pilot_id, key, status, evidence, actor.person_id)

    try:
        write(conn, work)
    except EditConflict as conflict:
        audit.record_refusal(conn, actor, conflict, "save",
                             {("readiness", (pilot_id, k)): {"status": s.value, "evidence": e} for k, s, e, _ in parsed})
        raise


def save_checklist(conn, actor: Actor, rows: list[dict]) -> int:
    """Admins keep the standard checklist: add lines, reword them, mark them
    required for go, or retire them (active false; nothing is deleted)."""
    rights.require(actor, Right.MANAGE_CHECKLIST)
    items = []
    for number, row in enumerate(rows, start=1):
        try:
            items.append(validate(ReadinessItemIn, **row))
        except InvalidInput as exc:
            raise InvalidInput(f"Line {number}: {exc}", field=exc.field) from None
    seen = set()
    for item in items:
        if item.key in seen:
            raise InvalidInput(f"Key: '{item.key}' is used twice; each checklist line needs its own key",
                               field="key")
        seen.add(item.key)

    def work(c):
        for position, item in enumerate(items, start=1):
            with audit.tracking(c, actor, "readiness_item", item.key, "save"):
                store.upsert_readiness_item(c, item, position)
        return len(items)

    return write(conn, work)


def required_gaps(readiness: list[dict]) -> list[str]:
    """The items required for go that are neither done nor not applicable."""
    return [r["label"] for r in readiness if r["required_for_go"] and r["status"] not in ("done", "not_applicable")]


# --- the handover questions (seed 003) and why a pilot is stuck (seed 004) --


@dataclass
class Answer:
    question: str
    answered: bool
    detail: str


def handover_answers(conn, pilot: Pilot, as_of: date) -> list[Answer]:
    privileges = store.list_privileges(conn, pilot.id)
    undecided = [p for p in privileges if p.disposition == Disposition.UNDECIDED]
    kpis = [k for k in store.list_kpis(conn, pilot.id, as_of) if k.production]
    governed = [k for k in kpis if k.target is not None and k.horizon_days]
    owner = store.get_person(conn, pilot.operational_owner_id) if pilot.operational_owner_id else None
    return [
        Answer(
            "Which conditions become permanent?",
            not undecided,
            "no borrowed privileges recorded" if not privileges else
            (f"all {len(privileges)} borrowed privileges decided" if not undecided
             else f"{len(undecided)} of {len(privileges)} borrowed privileges still undecided"),
        ),
        Answer(
            "Which metrics govern production, and over what horizon?",
            bool(governed),
            ", ".join(f"{k.name} (target {k.target:g}{(' ' + k.unit) if k.unit else ''} over {k.horizon_days} days)"
                      for k in governed) or "no production KPI with a target and a horizon",
        ),
        Answer(
            "Who owns the delivery after the champion moves on?",
            bool(owner and owner.active),
            f"operational owner {owner.name}" + ("" if owner.active else " (inactive)") if owner
            else "no operational owner named",
        ),
    ]


REASONS = {
    "design": "Not designed for production",
    "data": "Data not ready",
    "governance": "Governance a slide deck",
    "workforce": "The workforce never invited",
    "finance": "No number the finance lead trusts",
}


# The flags that make the pilot page ask why the pilot is stuck.
STUCK_FLAGS = frozenset({"STALLED", "OVERDUE_DECISION"})


def looks_stuck(flag_codes) -> bool:
    """Whether the pilot's flags (their codes) say it is stuck: stalled, or
    past its go/no-go date without a decision; then its likely bottleneck
    is worth showing."""
    return bool(STUCK_FLAGS & set(flag_codes))


def likely_bottleneck(conn, pilot: Pilot, as_of: date) -> tuple[str, list[str]] | None:
    """Among seed 004's five reasons, the one with the most evidence in the
    pilot's own data, and that evidence; None when nothing points anywhere."""
    readiness = store.pilot_readiness(conn, pilot.id)
    open_items = {d: [r["label"] for r in readiness if r["dimension"] == d
                      and r["status"] not in ("done", "not_applicable")] for d in READINESS_DIMENSIONS}
    kpis = store.list_kpis(conn, pilot.id, as_of)
    production = [k for k in kpis if k.production]
    privileges = store.list_privileges(conn, pilot.id)
    evidence: dict[str, list[str]] = {key: [] for key in REASONS}
    evidence["design"] += [f"technical readiness open: {label}" for label in open_items["technical"]]
    if not any(k.category in (KpiCategory.LATENCY, KpiCategory.RELIABILITY) for k in production):
        evidence["design"].append("no production KPI for latency or reliability")
    evidence["data"] += [f"data readiness open: {label}" for label in open_items["data"]]
    evidence["data"] += [f"data access still borrowed and undecided: {p.description}" for p in privileges
                         if p.kind.value == "data_access" and p.disposition == Disposition.UNDECIDED]
    evidence["governance"] += [f"governance readiness open: {label}" for label in open_items["governance"]]
    evidence["workforce"] += [f"organisational readiness open: {label}" for label in open_items["organisational"]]
    if not pilot.operational_owner_id:
        evidence["workforce"].append("no operational owner")
    if not any(k.category == KpiCategory.COST_PER_TRANSACTION for k in production):
        evidence["finance"].append("no cost-per-transaction KPI")
    if not [k for k in production if k.target is not None]:
        evidence["finance"].append("no production KPI with a target")
    evidence["finance"] += [f"off target: {k.describe(k.latest_value)}" for k in production
                            if k.meets(k.latest_value) is False]
    key = max(REASONS, key=lambda k: len(evidence[k]))
    return (REASONS[key], evidence[key]) if evidence[key] else None
