"""The portfolio as records for the tools around the tracker (the HTTP
API): every pilot with its clock and flags, one pilot whole, the flags, a
pilot's weekly updates. Plain JSON-ready dicts; flags carry their code (for
machines) and their words (``flag``), as the digest's JSON does. Reads
only: anyone who may read the tracker may read these."""

from __future__ import annotations

from datetime import date

import pandas as pd

from portfolio import flags as flag_rules
from portfolio.domain import clock
from portfolio.domain.models import Person, Pilot
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import Seat
from portfolio.storage import store


def _flag(code: str, severity: str, reason: str) -> dict:
    return {"code": code, "flag": flag_rules.label(code), "severity": severity, "reason": reason}


def _by_pilot(frame: pd.DataFrame) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for pid, code, severity, reason in zip(frame["pilot_id"], frame["code"], frame["severity"], frame["reason"]):
        out.setdefault(int(pid), []).append(_flag(str(code), str(severity), str(reason)))
    return out


def _person(people: dict[int, Person], person_id: int | None) -> dict | None:
    p = people.get(person_id) if person_id is not None else None
    return None if p is None else {"id": p.id, "name": p.name, "email": p.email, "active": p.active}


def _pilot(p: Pilot, people: dict[int, Person], flags: list[dict], as_of: date) -> dict:
    on_clock = p.stage.on_the_clock and p.go_no_go_date is not None
    return {
        "id": p.id,
        "name": p.name,
        "business_unit": p.business_unit or None,
        "stage": p.stage.value,
        "archived": p.archived,
        "start_date": p.start_date.isoformat() if p.start_date else None,
        "go_no_go_date": p.go_no_go_date.isoformat() if p.go_no_go_date else None,
        "bridge_due_date": p.bridge_due_date.isoformat() if p.bridge_due_date else None,
        # The clock as the Portfolio page counts it: day 1 is the start date,
        # days left is 0 on the go/no-go date and only for a pilot on the clock.
        "day": clock.day_of_clock(p.start_date, as_of) if p.start_date else None,
        "days_left": clock.days_left(p.go_no_go_date, as_of) if on_clock else None,
        "overdue": bool(on_clock and clock.is_overdue(p.go_no_go_date, as_of)),
        **{seat.value.removesuffix("_id"): _person(people, getattr(p, seat.value)) for seat in Seat},
        "flags": flags,
    }


def pilots(conn, as_of: date, settings: Settings) -> list[dict]:
    """Every pilot of the portfolio (not the archived), by name, each with
    its clock on ``as_of`` and its flags, worst first."""
    people = {p.id: p for p in store.list_people(conn)}
    flagged = _by_pilot(flag_rules.portfolio_flags(conn, as_of, settings))
    return [_pilot(p, people, flagged.get(p.id, []), as_of) for p in store.list_pilots(conn)]


def flags(conn, as_of: date, settings: Settings) -> list[dict]:
    """Every flag of the portfolio on ``as_of``, worst first."""
    frame = flag_rules.sort_flags(flag_rules.portfolio_flags(conn, as_of, settings))
    return [{"pilot_id": int(pid), "pilot": str(name), **_flag(str(code), str(sev), str(reason))}
            for pid, name, code, sev, reason in zip(frame["pilot_id"], frame["pilot"], frame["code"],
                                                    frame["severity"], frame["reason"])]


def _update(u) -> dict:
    return {"id": u.id, "week_start": u.week_start.isoformat(), "revision": u.revision,
            "posted_on": u.posted_on.isoformat(), "health": u.health.value, "summary": u.summary,
            "blockers": u.blockers, "next_steps": u.next_steps, "author": u.author_name}


def updates(conn, pilot_id: int, as_of: date | None = None) -> list[dict]:
    """The pilot's weekly updates, newest first (each week's latest revision
    first; earlier revisions follow)."""
    store.get_pilot(conn, pilot_id)  # NotFound for no such pilot
    return [_update(u) for u in store.list_updates(conn, pilot_id)
            if as_of is None or u.posted_on <= as_of]


def pilot(conn, pilot_id: int, as_of: date, settings: Settings) -> dict:
    """One pilot whole: its fields, seats, clock and flags, criteria, KPIs
    with their latest readings, borrowed privileges, decisions and its ten
    latest weekly updates. An archived pilot is there too, marked."""
    p = store.get_pilot(conn, pilot_id)
    people = {q.id: q for q in store.list_people(conn)}
    frame = flag_rules.sort_flags(flag_rules.pilot_flags(conn, pilot_id, as_of, settings))
    record = _pilot(p, people, [] if p.archived else _by_pilot(frame).get(p.id, []), as_of)
    record["problem"] = p.problem
    record["criteria"] = [{"id": c.id, "statement": c.statement, "status": c.status.value, "evidence": c.evidence,
                           "kpi_id": c.kpi_id} for c in store.list_criteria(conn, pilot_id, as_of)]
    record["kpis"] = [{"id": k.id, "name": k.name, "category": k.category.value, "unit": k.unit,
                       "direction": k.direction.value, "baseline": k.baseline, "target": k.target,
                       "production": k.production, "latest_value": k.latest_value,
                       "latest_on": k.latest_on.isoformat() if k.latest_on else None}
                      for k in store.list_kpis(conn, pilot_id, as_of)]
    record["privileges"] = [{"id": v.id, "kind": v.kind.value, "description": v.description,
                             "granted_by": v.granted_by, "expires": v.expires.isoformat() if v.expires else None,
                             "disposition": v.disposition.value} for v in store.list_privileges(conn, pilot_id)]
    record["decisions"] = [{"id": d.id, "kind": d.kind.value, "decided_on": d.decided_on.isoformat(),
                            "decided_by": d.decided_by_name, "rationale": d.rationale,
                            "stage_after": d.stage_after.value, "supersedes_id": d.supersedes_id}
                           for d in store.list_decisions(conn, pilot_id) if d.decided_on <= as_of]
    record["updates"] = updates(conn, pilot_id, as_of)[:10]
    return record
