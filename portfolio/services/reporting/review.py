"""What changed since my last review: stage moves, decisions, seat changes
read from the audit trail, and the flags raised and cleared between the
review day and now."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import pandas as pd

from portfolio import flags as flag_rules
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import Seat
from portfolio.storage import audit, store

SEAT_FIELDS = {s.value: s.label for s in Seat}


@dataclass
class Changes:
    since: date
    as_of: date
    stage_moves: pd.DataFrame   # at, pilot_id, pilot, from, to, action, actor
    decisions: pd.DataFrame     # at, pilot_id, pilot, kind, decided_on, rationale, actor
    seat_changes: pd.DataFrame  # at, pilot_id, pilot, seat, from, to, action, actor
    flags_raised: pd.DataFrame  # pilot_id, pilot, code, severity, reason
    flags_cleared: pd.DataFrame

    @property
    def empty(self) -> bool:
        return all(f.empty for f in (self.stage_moves, self.decisions, self.seat_changes,
                                     self.flags_raised, self.flags_cleared))


def changes_since(conn, since: date, as_of: date, settings: Settings) -> Changes:
    """Everything that moved between ``since`` and ``as_of`` (both days
    included). Flags are those of ``since`` compared with those of
    ``as_of``, computed by the same rules."""
    trail = audit.trail(conn, since=since, until=as_of)
    trail = trail[~trail["action"].str.endswith("refused")]
    names = store.person_names(conn)
    moves, seats = [], []
    for row in trail[trail["entity"] == "pilot"].itertuples():
        before = json.loads(row.before) if row.before else {}
        after = json.loads(row.after) if row.after else {}
        base = {"at": row.at, "pilot_id": row.pilot_id, "pilot": after.get("name") or row.pilot,
                "action": row.action, "actor": row.actor}
        if before.get("stage") != after.get("stage"):
            moves.append(base | {"from": before.get("stage") or "(new)", "to": after.get("stage")})
        for field, label in SEAT_FIELDS.items():
            if before and before.get(field) != after.get(field):
                seats.append(base | {"seat": label, "from": names.get(before.get(field), "—"),
                                     "to": names.get(after.get(field), "—")})
    decisions = []
    for row in trail[trail["entity"] == "decision"].itertuples():
        after = json.loads(row.after)
        decisions.append({"at": row.at, "pilot_id": row.pilot_id, "pilot": row.pilot, "kind": after["kind"],
                          "decided_on": after["decided_on"], "rationale": after["rationale"],
                          "correction": after.get("supersedes_id") is not None, "actor": row.actor})
    then = flag_rules.portfolio_flags(conn, since, settings)
    now = flag_rules.portfolio_flags(conn, as_of, settings)
    key = ["pilot_id", "code"]
    raised = now.merge(then[key], on=key, how="left", indicator=True)
    cleared = then.merge(now[key], on=key, how="left", indicator=True)
    columns = ["pilot_id", "pilot", "code", "severity", "reason"]
    return Changes(
        since=since, as_of=as_of,
        stage_moves=pd.DataFrame(moves, columns=["at", "pilot_id", "pilot", "from", "to", "action", "actor"]),
        decisions=pd.DataFrame(decisions, columns=["at", "pilot_id", "pilot", "kind", "decided_on", "rationale",
                                                   "correction", "actor"]),
        seat_changes=pd.DataFrame(seats, columns=["at", "pilot_id", "pilot", "seat", "from", "to", "action",
                                                  "actor"]),
        flags_raised=_named(raised[raised["_merge"] == "left_only"], conn)[columns],
        flags_cleared=_named(cleared[cleared["_merge"] == "left_only"], conn)[columns],
    )


def _named(flags: pd.DataFrame, conn) -> pd.DataFrame:
    names = store.pilot_names(conn)
    out = flags.drop(columns=["_merge"]).copy()
    if "pilot" not in out.columns:
        out["pilot"] = out["pilot_id"].map(names)
    return out.reset_index(drop=True)
