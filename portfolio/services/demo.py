"""The deterministic demo portfolio, and the builders the tests use.

``build_demo`` lays out pilots by archetype, each dated relative to the
as-of date, so that every stage and every flag is on show whatever day the
demo is built. The same code makes the larger synthetic portfolios of the
benchmarks (``n`` pilots cycle through the same archetypes).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from portfolio.domain import clock
from portfolio.domain.errors import InvalidInput
from portfolio.domain.models import PersonIn, PilotIn, WeeklyUpdateIn
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import BRIDGE_ITEMS, Health, Role, Stage
from portfolio.services.signin import command_line_actor
from portfolio.domain import units
from portfolio.storage import audit, bulk, db, store
from portfolio.storage import demo as demo_store
from portfolio.storage import units as unit_store

DEFAULT_PILOTS = 40
# The most pilots the demo builds: twice the benchmark's largest portfolio.
# It holds the whole portfolio in memory before writing it, and the cost
# grows with the number (measured here at 10,000 pilots: 0.5 GB, minutes),
# so a bigger number is a typo that would exhaust the machine: it is
# refused before anything is written.
MAX_PILOTS = 100_000
DEMO_SEED = 2026
FIXED_AS_OF = date(2026, 3, 2)  # the builders' default day: a Monday

BUSINESS_UNITS = ["Claims", "Finance", "Customer Service", "Operations", "HR", "Sales"]

USE_CASES = [
    ("Claims triage assistant", "Route incoming claims to the right adjuster with a draft assessment"),
    ("Invoice matching", "Match supplier invoices to purchase orders and flag exceptions"),
    ("Support reply drafts", "Draft first replies to customer emails for agents to edit"),
    ("Shift planner", "Forecast demand and propose shift rosters"),
    ("Policy Q&A bot", "Answer employees' HR policy questions from the handbook"),
    ("Lead scoring", "Rank inbound leads by likelihood to convert"),
    ("Fraud signal review", "Summarise fraud signals for investigators"),
    ("Contract clause finder", "Find non-standard clauses in supplier contracts"),
    ("Call summarisation", "Summarise support calls into the CRM"),
    ("Maintenance predictor", "Predict equipment failures from sensor data"),
    ("CV screening helper", "Shortlist applicants against role requirements"),
    ("Quote generator", "Draft sales quotes from product configurations"),
    ("Document intake OCR", "Extract fields from scanned claim documents"),
    ("Expense audit", "Flag out-of-policy expense claims"),
    ("Knowledge search", "Search internal knowledge articles in plain language"),
    ("Inventory reorder", "Propose reorder quantities per warehouse"),
    ("Onboarding guide", "Guide new hires through their first month"),
    ("Churn early warning", "Warn account managers of accounts likely to churn"),
    ("Subrogation finder", "Spot claims with recovery potential"),
    ("Cash forecast", "Forecast weekly cash position"),
]

FIRST = ["Alex", "Priya", "Jonas", "Maria", "Kenji", "Fatima", "Liam", "Sofia", "Noah", "Amara",
         "Mateo", "Hana", "Oscar", "Leila", "Ravi", "Elena", "Tomas", "Ines", "Yusuf", "Greta"]
LAST = ["Morgan", "Shah", "Berg", "Costa", "Tanaka", "Khan", "Walsh", "Rossi", "Meyer", "Okafor",
        "Silva", "Kim", "Lund", "Haddad", "Iyer", "Novak", "Ruiz", "Duarte", "Aydin", "Holm"]


@dataclass(frozen=True)
class Archetype:
    """A pilot's situation on the as-of date, chosen to show a stage or flag."""

    key: str
    stage: Stage
    start_ago: int | None          # days before as-of that the clock started
    last_update_ago: int | None    # days before as-of of the latest update
    healths: tuple[str, ...] = ("green",)  # cycled, newest last
    product_owner: str = "active"  # active | none | inactive
    technical_lead: bool = True
    executive_sponsor: bool = True
    operational_owner: bool = True
    gng_after: int = 90            # go/no-go date: start plus this
    criteria: str = "none"         # none | unknown | mixed | met: see CRITERIA_PATTERNS
    extensions: int = 0            # extend decisions that moved the date to gng_after
    decision: str | None = None    # go | no_go, on the go/no-go date
    promoted_after: int | None = None  # days after the go decision
    retired_after: int | None = None   # days after the promotion
    checklist: int = 0             # bridge checklist items done
    late_change: bool = False      # a criterion reworded after kickoff
    kpis: str = "none"             # none | full | off | stale | pilot_only: see _production_story
    privileges: str = "none"       # none | decided | undecided | weak
    readiness: str = "none"        # none | late | partial | done
    value: str = "stated"          # stated | hours | weak | weak_hours | none: see _business_case
    baselines: bool = True         # production KPIs' baselines read before the start


CRITERIA_STATEMENTS = [
    ("p95 latency under 800 ms on live traffic", "Load test report, week 6"),
    ("30 % of the team uses it weekly", "Usage dashboard"),
    ("Error rate under 2 % over four weeks", "Error log review"),
]
CRITERIA_PATTERNS = {
    "none": (),
    "unknown": ("met", "unknown", "unknown"),
    "mixed": ("met", "not_met", "unknown"),
    "met": ("met", "met", "met"),
}

ARCHETYPES = [
    Archetype("on_track", Stage.PILOT, 30, 3, ("green", "amber", "green"), criteria="unknown", kpis="full",
              privileges="decided", readiness="partial"),
    Archetype("due_soon", Stage.PILOT, 80, 2, criteria="met", kpis="full", privileges="undecided",
              readiness="partial", value="weak"),
    Archetype("due_today", Stage.PILOT, 90, 4, ("amber", "green"), criteria="mixed", kpis="off",
              privileges="undecided", readiness="partial"),
    Archetype("overdue", Stage.PILOT, 105, 5, ("amber",), criteria="unknown", kpis="full", privileges="weak",
              readiness="partial"),
    Archetype("silent", Stage.PILOT, 60, 35, criteria="unknown", kpis="stale", readiness="partial",
              baselines=False),
    Archetype("stale", Stage.PILOT, 45, 20, ("green", "amber"), kpis="pilot_only", readiness="late",
              value="none"),
    Archetype("red_streak", Stage.PILOT, 50, 1, ("green", "red", "red", "red"), criteria="mixed", kpis="off",
              privileges="undecided", readiness="partial"),
    Archetype("no_clock", Stage.PILOT, None, None),
    Archetype("ownerless", Stage.PILOT, 40, 6, product_owner="none", criteria="unknown", kpis="full",
              readiness="partial"),
    Archetype("owner_left", Stage.PILOT, 25, 4, product_owner="inactive", criteria="unknown", kpis="full",
              privileges="decided", readiness="late"),
    Archetype("no_sponsor", Stage.PILOT, 35, 3, executive_sponsor=False, kpis="pilot_only", readiness="late"),
    Archetype("proposed", Stage.PROPOSED, None, None, operational_owner=False),
    # Its bridge due within 14 days of the as-of date: the operational owner's reminder.
    Archetype("bridge", Stage.BRIDGE, 135, 4, criteria="met", decision="go", checklist=3, kpis="full",
              privileges="decided", readiness="done", value="hours"),
    Archetype("bridge_overrun", Stage.BRIDGE, 160, 6, operational_owner=False, criteria="met",
              decision="go", checklist=2, kpis="full", privileges="weak", readiness="partial"),
    # Latency drifted past its target in production: KPI_OFF_TARGET, the operational owner's reminder.
    Archetype("production", Stage.PRODUCTION, 300, 7, criteria="met", decision="go", promoted_after=60,
              checklist=6, kpis="drifting", privileges="decided", readiness="done"),
    Archetype("retired", Stage.RETIRED, 600, 200, criteria="met", decision="go", promoted_after=60,
              retired_after=250, checklist=6),
    Archetype("stopped", Stage.STOPPED, 150, 58, ("amber", "red"), criteria="mixed", decision="no_go",
              kpis="off", privileges="weak"),
    Archetype("long_running", Stage.PILOT, 200, 9, ("amber",), gng_after=180, criteria="unknown",
              extensions=2, kpis="stale", privileges="undecided", readiness="partial"),
    Archetype("fresh", Stage.PILOT, 5, None, technical_lead=False),
    Archetype("amber", Stage.PILOT, 70, 6, ("amber",), gng_after=120, criteria="unknown", extensions=1,
              late_change=True, kpis="full", privileges="decided", readiness="partial", value="weak_hours"),
]


def _people(n_pilots: int, rng: random.Random) -> pd.DataFrame:
    """The people of the demo: one admin first (local mode acts as them by
    default), leadership who sponsor, product owners, technical leads,
    operators and a few who have left."""
    n_po = max(6, n_pilots // 3)
    n_tl = max(6, n_pilots // 3)
    n_ops = max(4, n_pilots // 6)
    roles = (
        [("admin", Role.ADMIN, True)]
        + [("leadership", Role.LEADERSHIP, True)] * 4
        + [("product_owner", Role.PRODUCT_OWNER, True)] * n_po
        + [("technical_lead", Role.PRODUCT_OWNER, True)] * n_tl
        + [("operator", Role.VIEWER, True)] * n_ops
        + [("left", Role.PRODUCT_OWNER, False)] * max(2, n_pilots // 20)
        + [("viewer", Role.VIEWER, True)] * 2
    )
    rows = []
    for i, (kind, role, active) in enumerate(roles):
        # Every (first, last) pair is distinct for the first 400 people.
        first = FIRST[i % len(FIRST)]
        last = LAST[(i + 3 * (i // len(FIRST))) % len(LAST)]
        suffix = "" if i < len(FIRST) * len(LAST) else str(i // (len(FIRST) * len(LAST)))
        rows.append(
            {
                "name": f"{first} {last}{(' ' + suffix) if suffix else ''}",
                "email": f"{first}.{last}{suffix}@example.com".lower(),
                "role": role.value,
                "active": active,
                "kind": kind,
            }
        )
    return pd.DataFrame(rows)


def _health_series(arch: Archetype, n_updates: int) -> list[str]:
    # The archetype's pattern ends at the latest week; earlier weeks are green.
    pattern = list(arch.healths)
    if n_updates <= len(pattern):
        return pattern[-n_updates:] if n_updates else []
    return ["green"] * (n_updates - len(pattern)) + pattern


def build_demo(
    path: str | Path, as_of: date, n: int = DEFAULT_PILOTS, *, seed: int = DEMO_SEED,
    weeks_of_history: int | None = None,
) -> dict:
    """Build the demo portfolio into a new (or empty) database at ``path``.

    Refuses a database that already holds pilots: the demo never mixes with
    real data. Returns counts of what was written.
    """
    if n < 1:
        raise InvalidInput("Pilots: the demo needs at least 1 pilot", field="pilots")
    if n > MAX_PILOTS:
        raise InvalidInput(f"Pilots: the demo builds at most {MAX_PILOTS:,} pilots ({n:,} asked); nothing was "
                           "written. Choose a smaller --pilots.", field="pilots")
    rng = random.Random(seed)
    with db.session(path, create=True) as conn:
        existing = demo_store.pilot_count(conn)
        if existing:
            raise InvalidInput(
                f"Database: {path} already holds {existing} pilots; the demo is built only "
                "into a new database (choose another --db, or remove the file)",
                field="db",
            )
        people = _people(n, rng)
        pilots, updates = _pilots_and_updates(people, as_of, n, rng, weeks_of_history)

        def work(c):
            unit_store.insert_units(c, sorted(BUSINESS_UNITS, key=units.key))  # the organisation's kept list
            bulk.insert_frame(c, "person", "person_id_seq", people.drop(columns=["kind"]).assign(
                email_key=people["email"].str.lower()))
            by_kind = _ids_by_kind(c, people)
            pilot_rows = _assign_seats(pilots, by_kind, rng)
            ids = bulk.insert_frame(c, "pilot", "pilot_id_seq", pilot_rows.drop(columns=["k", "arch"]))
            upd = updates.assign(pilot_id=updates["k"].map(dict(zip(pilot_rows["k"], ids))))
            author = dict(zip(ids, pilot_rows["product_owner_id"]))
            upd = upd.assign(author_id=upd["pilot_id"].map(author)).drop(columns=["k"])
            bulk.insert_frame(c, "weekly_update", "weekly_update_id_seq", upd)
            history = _decisions_and_criteria(c, pilot_rows.assign(id=ids), by_kind, as_of)
            story = _production_story(c, pilot_rows.assign(id=ids), by_kind, as_of)
            watch = _handover_story(c, pilot_rows.assign(id=ids), as_of)
            counts = {"people": len(people), "pilots": len(pilot_rows), "updates": len(upd), **history, **story,
                      **watch}
            audit.event(c, command_line_actor(c), "demo", "portfolio", "build",
                        {"as_of": as_of, "seed": seed, **counts})
            return counts

        return db.write(conn, work)


def _pilots_and_updates(people, as_of, n, rng, weeks_of_history):
    pilot_rows, update_rows = [], []
    for k in range(n):
        arch = ARCHETYPES[k % len(ARCHETYPES)]
        cycle = k // len(ARCHETYPES)
        name, problem = USE_CASES[(k + cycle * 7) % len(USE_CASES)]
        bu = BUSINESS_UNITS[(k + cycle) % len(BUSINESS_UNITS)]
        if cycle:
            name = f"{name} {bu} {cycle + 1}" if n <= 200 else f"{name} #{k}"
        start = as_of - timedelta(days=arch.start_ago) if arch.start_ago is not None else None
        gng = start + timedelta(days=arch.gng_after) if start else None
        bridge_due = (
            gng + timedelta(days=Settings().bridge_days)
            if arch.decision == "go" and arch.stage == Stage.BRIDGE else None
        )
        pilot_rows.append(
            {
                "k": k, "name": name, "business_unit": bu, "problem": problem,
                "stage": arch.stage.value, "start_date": start, "go_no_go_date": gng,
                "bridge_due_date": bridge_due, "arch": arch.key,
            }
        )
        if start is None or arch.last_update_ago is None:
            continue
        last = as_of - timedelta(days=arch.last_update_ago)
        weeks = []
        day = last
        while day >= start and (weeks_of_history is None or len(weeks) < weeks_of_history):
            weeks.append(day)
            day -= timedelta(days=7)
        weeks.reverse()
        for posted, health in zip(weeks, _health_series(arch, len(weeks))):
            update_rows.append(
                {
                    "k": k, "week_start": clock.week_start(posted), "revision": 1,
                    "posted_on": posted, "health": health,
                    "summary": _summary(health, rng), "blockers": _blockers(health, rng),
                    "next_steps": rng.choice(NEXT_STEPS),
                }
            )
    return pd.DataFrame(pilot_rows), pd.DataFrame(
        update_rows,
        columns=["k", "week_start", "revision", "posted_on", "health", "summary", "blockers", "next_steps"],
    )


SUMMARIES = {
    "green": ["Usage up week on week; accuracy holding.", "Met this week's milestones.",
              "Users report time saved on every case."],
    "amber": ["Latency above target on peak days.", "Adoption slower than planned in one team.",
              "Waiting on a data extract from the source system."],
    "red": ["Blocked on data access approval.", "Accuracy dropped after the model update.",
            "Key users pulled onto another project."],
}
BLOCKERS = ["Data access approval pending with security", "No operator named for after launch",
            "Vendor contract renewal", "Integration test environment unavailable"]
NEXT_STEPS = ["Run the load test at three times peak", "Review criteria with the sponsor",
              "Extend to a second team", "Draft the rollout plan", "Collect user feedback"]


def _summary(health: str, rng: random.Random) -> str:
    return rng.choice(SUMMARIES[health])


def _blockers(health: str, rng: random.Random) -> str:
    return "" if health == "green" else rng.choice(BLOCKERS)


def _ids_by_kind(conn, people: pd.DataFrame) -> dict[str, list[int]]:
    ids = demo_store.person_ids_by_email_key(conn)
    out: dict[str, list[int]] = {}
    for email, kind in zip(people["email"], people["kind"]):
        out.setdefault(kind, []).append(ids[email.lower()])
    return out


ARCHETYPE_BY_KEY = {a.key: a for a in ARCHETYPES}

# Why the demo's stopped pilots were stopped, and what was learned (one
# story per cycle of the archetypes), and why the retired one was retired.
STOP_STORIES = [
    ("value_not_proven", "The error rate never fell below target on live traffic. Agree the error budget with the "
                         "operators before building, and measure it from week one, not in the last fortnight."),
    ("data_not_ready", "The source system's data needed months of cleaning nobody had budgeted. Fund the data work "
                       "with the pilot, and name a data owner at kickoff."),
]
RETIRE_STORY = ("superseded", "The vendor shipped the same feature in the core product. Check the vendor's roadmap "
                              "before building, and plan the exit with the licence.")
# How the demo's second stopped pilot gave back what it borrowed (the
# first still holds it: the Portfolio page's "still holding" list).
REVOCATION_EVIDENCE = "Access review ticket closed by the platform team"


def _decisions_and_criteria(conn, pilots: pd.DataFrame, by_kind: dict[str, list[int]], as_of: date) -> dict:
    """Criteria, their late changes, decisions (extensions included), stage
    events and bridge checklists, as each archetype's story says."""
    criteria, changes, decisions, events, checks = [], [], [], [], []
    stops = []  # (decision index or None, stage event index or None, the stop record)
    leaders = by_kind["leadership"]
    for i, p in enumerate(pilots.to_dict("records")):
        arch = ARCHETYPE_BY_KEY[p["arch"]]
        leader = leaders[i % len(leaders)]
        start = p["start_date"]
        pattern = CRITERIA_PATTERNS[arch.criteria]
        crit = [
            {"pilot_id": p["id"], "statement": st, "status": status,
             "evidence": ev if status != "unknown" else ""}
            for (st, ev), status in zip(CRITERIA_STATEMENTS, pattern)
        ]
        criteria += crit
        if arch.late_change and crit:
            changes.append({"pilot_id": p["id"], "k_statement": crit[0]["statement"], "action": "edited",
                            "before": "p95 latency under 1 s in the demo environment",
                            "after": crit[0]["statement"], "changed_on": start + timedelta(days=40),
                            "changed_by": leader, "after_kickoff": True})
        snapshot = json.dumps([{k: c[k] for k in ("statement", "status", "evidence")} for c in crit])
        gng = start + timedelta(days=90) if start else None
        for e in range(1, arch.extensions + 1):
            step = (arch.gng_after - 90) // arch.extensions
            new = start + timedelta(days=90 + step * e)
            decided = min(start + timedelta(days=90 + step * (e - 1)), as_of - timedelta(days=arch.extensions - e + 1))
            decisions.append(_decision(p["id"], "extend", decided, leader, "pilot", "pilot", gng, new, snapshot,
                                       "Needs four more weeks of live traffic to judge latency",
                                       "Sponsor asked for one more cycle" if e >= Settings().extension_limit else ""))
            gng = new
        if arch.decision:
            decided = start + timedelta(days=arch.gng_after)
            after = "bridge" if arch.decision == "go" else "stopped"
            rationale = ("All criteria met on live traffic" if arch.decision == "go"
                         else "Error rate stayed above target; stopping frees the team for the next bet")
            # A go needs the operational owner's acceptance (_handover_story
            # records it) or an override on record: a pilot without one goes
            # on the override.
            override = GO_OVERRIDE if arch.decision == "go" and pd.isna(p["operational_owner_id"]) else ""
            d = _decision(p["id"], arch.decision, decided, leader, "pilot", after, gng, gng, snapshot, rationale,
                          override)
            d["bridge_due_after"] = decided + timedelta(days=Settings().bridge_days) if arch.decision == "go" else None
            decisions.append(d)
            if arch.decision == "no_go":
                reason, lessons = STOP_STORIES[(p["k"] // len(ARCHETYPES)) % len(STOP_STORIES)]
                stops.append((len(decisions) - 1, None, {
                    "pilot_id": p["id"], "stage_after": "stopped", "stopped_on": decided, "reason": reason,
                    "lessons": lessons, "recorded_by": leader}))
            if arch.promoted_after is not None:
                promoted = decided + timedelta(days=arch.promoted_after)
                events.append({"pilot_id": p["id"], "action": "promote", "stage_before": "bridge",
                               "stage_after": "production", "happened_on": promoted, "actor_id": leader,
                               "override_reason": "", "note": ""})
                if arch.retired_after is not None:
                    events.append({"pilot_id": p["id"], "action": "retire", "stage_before": "production",
                                   "stage_after": "retired",
                                   "happened_on": promoted + timedelta(days=arch.retired_after),
                                   "actor_id": leader, "override_reason": "",
                                   "note": "Replaced by the vendor's built-in feature"})
                    reason, lessons = RETIRE_STORY
                    stops.append((None, len(events) - 1, {
                        "pilot_id": p["id"], "stage_after": "retired", "stopped_on": events[-1]["happened_on"],
                        "reason": reason, "lessons": lessons, "recorded_by": leader}))
        for key, _ in BRIDGE_ITEMS[: arch.checklist]:
            checks.append({"pilot_id": p["id"], "item": key, "done": True, "note": "", "updated_by": leader})

    crit_ids = bulk.insert_frame(conn, "criterion", "criterion_id_seq", pd.DataFrame(criteria))
    if changes:
        by_statement = {(c["pilot_id"], c["statement"]): cid for c, cid in zip(criteria, crit_ids)}
        frame = pd.DataFrame(changes)
        frame["criterion_id"] = [by_statement[(r.pilot_id, r.k_statement)] for r in frame.itertuples()]
        bulk.insert_frame(conn, "criteria_change", "criteria_change_id_seq", frame.drop(columns=["k_statement"]))
    decision_ids = bulk.insert_frame(conn, "decision", "decision_id_seq", pd.DataFrame(decisions))
    event_ids = bulk.insert_frame(conn, "stage_event", "stage_event_id_seq", pd.DataFrame(events))
    bulk.insert_frame(conn, "stop_record", "stop_record_id_seq", pd.DataFrame([
        {**record, "decision_id": decision_ids[d] if d is not None else None,
         "stage_event_id": event_ids[e] if e is not None else None} for d, e, record in stops]))
    bulk.insert_frame(conn, "bridge_check", None, pd.DataFrame(checks))
    return {"criteria": len(criteria), "decisions": len(decisions)}


# name, category, unit, direction, baseline, target, (first, last) reading
KPI_SETS = {
    "full": [
        ("p95 latency", "latency", "ms", "lower", 1400.0, 800.0, (1250.0, 720.0)),
        ("Weekly active users", "adoption", "%", "higher", 0.0, 30.0, (5.0, 36.0)),
        ("Cost per claim", "cost_per_transaction", "EUR", "lower", 0.12, 0.05, (0.09, 0.04)),
    ],
    # As "full", but the latest latency reading misses its target.
    "drifting": [
        ("p95 latency", "latency", "ms", "lower", 1400.0, 800.0, (1250.0, 860.0)),
        ("Weekly active users", "adoption", "%", "higher", 0.0, 30.0, (5.0, 36.0)),
        ("Cost per claim", "cost_per_transaction", "EUR", "lower", 0.12, 0.05, (0.09, 0.04)),
    ],
    "off": [
        ("p95 latency", "latency", "ms", "lower", 1400.0, 800.0, (1300.0, 950.0)),
        ("Weekly active users", "adoption", "%", "higher", 0.0, 30.0, (4.0, 18.0)),
    ],
    "stale": [
        ("Error rate", "reliability", "%", "lower", 6.0, 2.0, (5.0, 1.8)),
    ],
    "pilot_only": [
        ("Demo accuracy", "quality", "%", "higher", None, None, (80.0, 91.0)),
    ],
}
PRIVILEGE_SETS = {
    "decided": [("data_access", "Read access to the claims warehouse", "make_permanent", ""),
                ("infrastructure", "Dedicated GPU node", "make_permanent", ""),
                ("sponsor_time", "Weekly hour with the COO", "withdraw", "Monthly steering review")],
    "undecided": [("data_access", "Production customer data in the sandbox", "undecided", ""),
                  ("stakeholder_access", "Direct line to the fraud team lead", "undecided", "")],
    "weak": [("budget", "Innovation budget for GPU hours", "withdraw", "Standard cloud budget"),
             ("permission", "Exception to the change freeze", "withdraw", "Normal change process"),
             ("vendor_support", "Vendor engineers on call", "make_permanent", "")],
}


def _production_story(conn, pilots: pd.DataFrame, by_kind: dict[str, list[int]], as_of: date) -> dict:
    """KPIs with weekly readings, borrowed privileges and readiness, as each
    archetype's story says; the cost KPI's pilots get an expected volume."""
    kpis, readings, privileges, readiness = [], [], [], []
    items = demo_store.active_readiness_keys(conn)
    leaders = by_kind["leadership"]
    for i, p in enumerate(pilots.to_dict("records")):
        arch = ARCHETYPE_BY_KEY[p["arch"]]
        start = p["start_date"]
        if start is None:
            continue
        _business_case(conn, p["id"], arch)
        for name, category, unit, direction, baseline, target, (first, last) in KPI_SETS.get(arch.kpis, []):
            if not arch.baselines and target is not None:
                baseline = None
            kpis.append({"pilot_id": p["id"], "name": name, "category": category, "unit": unit,
                         "direction": direction, "baseline": baseline,
                         # Read in the fortnight before the clock started.
                         "baseline_on": start - timedelta(days=14) if baseline is not None else None,
                         "target": target,
                         "horizon_days": 90 if target is not None else None, "production": target is not None,
                         "_readings": (first, last)})
        # The stopped pilots of every other cycle gave back what they borrowed.
        revoked = arch.stage == Stage.STOPPED and (p["k"] // len(ARCHETYPES)) % 2 == 1
        for kind, description, disposition, note in PRIVILEGE_SETS.get(arch.privileges, []):
            decided = disposition != "undecided"
            give_back = revoked and disposition != "make_permanent"
            privileges.append({"pilot_id": p["id"], "kind": kind, "description": description,
                               "granted_by": "Sponsor", "since": start,
                               "expires": (p["go_no_go_date"] - timedelta(days=5)) if kind == "data_access"
                               and p["go_no_go_date"] else None,
                               "disposition": disposition, "decided_by": leaders[i % len(leaders)] if decided else None,
                               "decided_on": start + timedelta(days=20) if decided else None, "note": note,
                               "revoked_on": p["go_no_go_date"] + timedelta(days=10) if give_back else None,
                               "revoked_by": p["product_owner_id"] if give_back else None,
                               "revocation_evidence": REVOCATION_EVIDENCE if give_back else ""})
        done = {"done": len(items), "partial": len(items) // 2, "late": 0}.get(arch.readiness)
        if done is not None:
            # "partial" has the governance review done; "late" has nothing done.
            order = ["governance_review"] + [k for k in items if k != "governance_review"]
            for n, key in enumerate(order):
                status = "done" if n < done else ("in_progress" if n < done + 2 else "not_started")
                readiness.append({"pilot_id": p["id"], "item_key": key, "status": status,
                                  "evidence": "Reviewed in the steering meeting" if status == "done" else "",
                                  "updated_by": leaders[i % len(leaders)]})
    kpi_frame = pd.DataFrame(kpis)
    ids = bulk.insert_frame(conn, "kpi", "kpi_id_seq", kpi_frame.drop(columns=["_readings"])) if kpis else []
    for kpi_id, k in zip(ids, kpis):
        p = pilots[pilots["id"] == k["pilot_id"]].iloc[0]
        arch = ARCHETYPE_BY_KEY[p["arch"]]
        last_day = as_of - timedelta(days=40 if arch.kpis == "stale" else (arch.last_update_ago or 0))
        days = []
        day = p["start_date"] + timedelta(days=6)
        while day <= last_day:
            days.append(day)
            day += timedelta(days=7)
        first, last = k["_readings"]
        for n, day in enumerate(days):
            share = n / max(1, len(days) - 1)
            readings.append({"kpi_id": kpi_id, "pilot_id": k["pilot_id"], "reading_on": day,
                             "value": round(first + (last - first) * share, 4), "note": ""})
        if k["category"] == "cost_per_transaction":
            demo_store.set_expected_volume(conn, k["pilot_id"], demo_volume(k["pilot_id"]))
        if arch.key == "amber" and k["category"] == "latency":
            demo_store.tie_latency_criterion(conn, k["pilot_id"], kpi_id)
    bulk.insert_frame(conn, "kpi_reading", "kpi_reading_id_seq", pd.DataFrame(readings))
    bulk.insert_frame(conn, "privilege", "privilege_id_seq", pd.DataFrame(privileges))
    bulk.insert_frame(conn, "readiness", None, pd.DataFrame(readiness))
    return {"kpis": len(kpis), "readings": len(readings), "privileges": len(privileges)}


def demo_volume(pilot_id: int) -> float:
    """The expected monthly volume of a demo pilot with a cost KPI."""
    return 20000.0 + 5000.0 * (pilot_id % 7)


# The latest cost per transaction of the "full" KPI set: the running cost
# is this times the volume.
DEMO_COST_PER_TRANSACTION = KPI_SETS["full"][2][6][1]


def _business_case(conn, pilot_id: int, arch: Archetype) -> None:
    """The expected monthly value, as the archetype's story says: well above
    the running cost in EUR (stated) or in hours (hours), below it (weak,
    weak_hours: WEAK_BUSINESS_CASE), or none stated (none: WEAK_BUSINESS_CASE
    from kickoff)."""
    cost = DEMO_COST_PER_TRANSACTION * demo_volume(pilot_id)
    hour = Settings().hour_cost
    value, unit = {
        "stated": (4000.0 + 500.0 * (pilot_id % 5), "EUR"),
        "hours": (120.0, "hours"),
        "weak": (round(cost * 0.6, -2), "EUR"),
        "weak_hours": (max(1.0, round(cost * 0.5 / hour)), "hours"),
        "none": (None, ""),
    }[arch.value]
    demo_store.set_expected_value(conn, pilot_id, value, unit)


GO_OVERRIDE = "Operations has not named an owner yet; the sponsor carries the handover until one is named"

# The handover's acceptance by the operational owner, per archetype: the
# word, its note and how many days before the go/no-go date it was given.
ACCEPTANCE_STORY = {
    "due_soon": ("accepted", "", 10),
    "due_today": ("with_conditions", "Only once the kill switch is tested with the night shift", 5),
    "overdue": ("refused", "No runbook yet, and the service desk was not trained", 20),
    "bridge": ("accepted", "", 7),
    "production": ("with_conditions", "Two operators trained before the phased rollout", 7),
    "retired": ("accepted", "", 7),
}
# The check-ins done after promotion, per archetype and cycle of the demo
# (the first production pilot misses its day-60 and day-90 check-ins; the
# next has done all three, so its watch is over).
CHECKIN_STORY = {("production", 0): 1, ("production", 1): 3, ("retired", 0): 3, ("retired", 1): 3}
CHECKIN_NOTES = ["Used daily by the claims team; latency holding", "Usage steady; one cost spike in month two",
                 "Running as planned; watch closed"]


def _handover_story(conn, pilots: pd.DataFrame, as_of: date) -> dict:
    """The operational owners' acceptance of the handover before go, and
    the check-ins after promotion, as each archetype's story says."""
    settings = Settings()
    accepted, checkins = [], []
    for k, p in enumerate(pilots.to_dict("records")):
        arch = ARCHETYPE_BY_KEY[p["arch"]]
        owner = None if pd.isna(p["operational_owner_id"]) else int(p["operational_owner_id"])
        story = ACCEPTANCE_STORY.get(arch.key)
        if story is None or owner is None or p["go_no_go_date"] is None:
            continue
        verdict, note, before = story
        accepted.append({"pilot_id": p["id"], "seat": "operational_owner_id", "person_id": owner,
                         "verdict": verdict, "note": note,
                         "accepted_on": p["go_no_go_date"] - timedelta(days=before), "recorded_by": owner})
        done = CHECKIN_STORY.get((arch.key, min(k // len(ARCHETYPES), 1)), 0)
        if arch.promoted_after is None or not done:
            continue
        promoted = p["go_no_go_date"] + timedelta(days=arch.promoted_after)
        for n, day in enumerate(settings.checkin_days[:done]):
            checkins.append({"pilot_id": p["id"], "promoted_on": promoted, "due_day": day,
                             "checked_on": promoted + timedelta(days=day), "used": True, "kpis_hold": n != 1,
                             "cost_as_expected": n != 1, "note": CHECKIN_NOTES[n % len(CHECKIN_NOTES)],
                             "person_id": owner, "recorded_by": owner})
    bulk.insert_frame(conn, "handover_acceptance", "handover_acceptance_id_seq", pd.DataFrame(accepted))
    bulk.insert_frame(conn, "checkin", "checkin_id_seq", pd.DataFrame(checkins))
    return {"acceptances": len(accepted), "checkins": len(checkins)}


def _decision(pilot_id, kind, decided_on, by, before, after, gng_before, gng_after, snapshot, rationale,
              override) -> dict:
    return {"pilot_id": pilot_id, "kind": kind, "decided_on": decided_on, "decided_by": by, "recorded_by": by,
            "rationale": rationale, "stage_before": before, "stage_after": after,
            "go_no_go_before": gng_before, "go_no_go_after": gng_after, "bridge_due_before": None,
            "bridge_due_after": None, "override_reason": override, "criteria_snapshot": snapshot,
            "supersedes_id": None}


def _assign_seats(pilots: pd.DataFrame, by_kind: dict[str, list[int]], rng) -> pd.DataFrame:
    rows = []
    for i, row in enumerate(pilots.to_dict("records")):
        arch = ARCHETYPE_BY_KEY[row["arch"]]
        po = {
            "active": by_kind["product_owner"][i % len(by_kind["product_owner"])],
            "inactive": by_kind["left"][i % len(by_kind["left"])],
            "none": None,
        }[arch.product_owner]
        row.update(
            product_owner_id=po,
            technical_lead_id=by_kind["technical_lead"][i % len(by_kind["technical_lead"])]
            if arch.technical_lead else None,
            executive_sponsor_id=by_kind["leadership"][i % len(by_kind["leadership"])]
            if arch.executive_sponsor else None,
            operational_owner_id=by_kind["operator"][i % len(by_kind["operator"])]
            if arch.operational_owner else None,
        )
        rows.append(row)
    return pd.DataFrame(rows)


# --- builders for tests: valid defaults, fixed dates ----------------------

_counter = iter(range(1, 10**9))


def make_person(conn, **overrides) -> int:
    n = next(_counter)
    values = {"name": f"Person {n}", "email": f"person{n}@example.com", "role": Role.PRODUCT_OWNER}
    values.update(overrides)
    return store.insert_person(conn, PersonIn(**values))


def make_pilot(conn, **overrides) -> int:
    """A pilot in `pilot` started 30 days before FIXED_AS_OF with all four
    seats filled by new active people, unless overridden; its business unit
    is on the kept list."""
    start = overrides.pop("start_date", FIXED_AS_OF - timedelta(days=30))
    values = {
        "name": f"Pilot {next(_counter)}",
        "business_unit": "Claims",
        "problem": "A problem worth solving",
        "stage": Stage.PILOT,
        "start_date": start,
        "go_no_go_date": clock.go_no_go_date(start, Settings().clock_days) if start else None,
        # A business case stated (no WEAK_BUSINESS_CASE unless a test sets one).
        "expected_monthly_value": 10000.0,
        "expected_value_unit": "EUR",
    }
    for seat in ("product_owner_id", "technical_lead_id", "executive_sponsor_id", "operational_owner_id"):
        if seat not in overrides:
            values[seat] = make_person(conn)
    values.update(overrides)
    values["stage"] = Stage(values["stage"])
    make_unit(conn, values["business_unit"])
    return store.insert_pilot(conn, PilotIn.model_construct(**values))


def make_unit(conn, name: str) -> int | None:
    """The kept business unit ``name`` (added when the organisation does not
    keep it yet, in any case): its id, or None for a blank name."""
    if not units.key(name):
        return None
    found = unit_store.find_unit(conn, name)
    return found.id if found is not None else unit_store.insert_unit(conn, " ".join(name.split()))


def make_update(conn, pilot_id: int, posted_on: date, health: str = "green", **overrides) -> int:
    values = {"pilot_id": pilot_id, "health": Health(health), "summary": "Progress this week"}
    values.update(overrides)
    return store.insert_update(
        conn, WeeklyUpdateIn(**values), week=clock.week_start(posted_on), posted_on=posted_on,
        author_id=None,
    )
