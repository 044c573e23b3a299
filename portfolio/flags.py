"""The flag rules, in one place.

``evaluate`` takes the facts of the whole portfolio (one row per pilot, from
``store.pilot_facts``) and returns every flag in one vectorised pass: no
query per pilot. Each rule states its stages, its condition and its reason,
with the numbers, the way PRODUCT.md writes them.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from . import store
from .models import Severity
from .settings import Settings

FLAG_COLUMNS = ["pilot_id", "pilot", "code", "severity", "reason"]

# Leadership asked for these two words; they are always shown first.
HEADLINE_CODES = ("STALLED", "OWNERLESS")

SEVERITY_RANK = {s.value: s.rank for s in Severity}

# Every code this module raises, in the order a list shows them within a severity.
CODES = [
    "OWNERLESS", "OVERDUE_DECISION", "STALLED", "STALE_UPDATE", "NO_CLOCK",
    "PRIVILEGES_UNDECIDED", "NO_PRODUCTION_KPIS", "MISSING_SEAT", "NO_CRITERIA", "CRITERIA_CHANGED",
    "KPI_STALE", "GOVERNANCE_LATE", "WEAK_SHIP_SIGNAL", "KPI_OFF_TARGET", "DECISION_DUE_SOON",
]
CODE_ORDER = {code: i for i, code in enumerate(CODES)}


def _dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, errors="coerce").astype("datetime64[us]")


def _days_between(later: pd.Series | pd.Timestamp, earlier: pd.Series | pd.Timestamp) -> pd.Series:
    return (later - earlier).dt.days


def _derive(facts: pd.DataFrame, as_of: date) -> pd.DataFrame:
    f = facts.copy()
    today = pd.Timestamp(as_of)
    start = _dates(f["start_date"])
    gng = _dates(f["go_no_go_date"])
    last = _dates(f["last_update"])
    f["days_left"] = _days_between(gng, today)  # NaN without a go/no-go date
    f["bridge_overrun"] = _days_between(today, _dates(f["bridge_due_date"]))
    f["day"] = _days_between(today, start) + 1  # start date is day 1
    # Days without an update count from the start when there has been none
    # since it (an update from before the clock started does not count).
    since = last.where(last.isna() | start.isna() | (last >= start), start).fillna(start)
    f["days_since_update"] = _days_between(today, since)
    for seat in ("product_owner", "technical_lead", "executive_sponsor", "operational_owner"):
        held = f[f"{seat}_id"].notna()
        active = f[f"{seat}_active"].fillna(False).astype(bool)
        f[f"{seat}_ok"] = held & active
    return f


def _flag(f: pd.DataFrame, mask: pd.Series, code: str, severity: Severity, reasons) -> pd.DataFrame:
    hit = f.loc[mask.fillna(False).astype(bool)]
    if hit.empty:
        return pd.DataFrame(columns=FLAG_COLUMNS)
    reason = reasons(hit) if callable(reasons) else reasons
    return pd.DataFrame(
        {
            "pilot_id": hit["pilot_id"].astype(int).to_numpy(),
            "pilot": hit["pilot"].to_numpy(),
            "code": code,
            "severity": severity.value,
            "reason": list(reason) if not isinstance(reason, str) else reason,
        }
    )


def _in(f: pd.DataFrame, *stages: str) -> pd.Series:
    return f["stage"].isin(stages)


def evaluate(facts: pd.DataFrame, as_of: date, settings: Settings) -> pd.DataFrame:
    """Every flag of every pilot in ``facts`` on ``as_of``, worst first."""
    if facts.empty:
        return pd.DataFrame(columns=FLAG_COLUMNS)
    f = _derive(facts, as_of)
    s = settings
    in_pilot = _in(f, "pilot")
    out: list[pd.DataFrame] = []

    # OVERDUE_DECISION: the as-of date is after the go/no-go date.
    overdue = in_pilot & (f["days_left"] < 0)
    out.append(
        _flag(
            f, overdue, "OVERDUE_DECISION", Severity.CRITICAL,
            lambda h: [
                f"go/no-go date {d:%Y-%m-%d} passed {-int(n)} days ago"
                for d, n in zip(_dates(h["go_no_go_date"]), h["days_left"])
            ],
        )
    )

    # OWNERLESS: no product owner, or the product owner is inactive.
    ownerless = _in(f, "pilot", "bridge", "production") & ~f["product_owner_ok"]
    out.append(
        _flag(
            f, ownerless, "OWNERLESS", Severity.CRITICAL,
            lambda h: [
                f"product owner {name} is inactive" if pd.notna(pid) else "no product owner"
                for pid, name in zip(h["product_owner_id"], h["product_owner"])
            ],
        )
    )

    # STALLED: any of its parts; the reason names each that holds.
    stalled_stages = _in(f, "pilot", "bridge")
    parts = [
        (
            f["days_since_update"] >= s.stalled_no_update_days,
            lambda r: f"no weekly update for {int(r.days_since_update)} days "
            f"(threshold {s.stalled_no_update_days})",
        ),
        (
            f["red_streak"] >= s.stalled_red_streak,
            lambda r: f"the last {s.stalled_red_streak} updates were all red",
        ),
        (
            in_pilot & (f["day"] - 1 > s.stalled_days_without_decision),
            lambda r: f"{int(r.day) - 1} days since the start without a go or no-go "
            f"(threshold {s.stalled_days_without_decision})",
        ),
        (
            in_pilot & (f["extensions"] >= s.extension_limit),
            lambda r: f"extended {int(r.extensions)} times (limit {s.extension_limit})",
        ),
        (
            _in(f, "bridge") & (f["bridge_overrun"] > 0),
            lambda r: f"bridge {int(r.bridge_overrun)} days past its due date "
            f"{pd.Timestamp(r.bridge_due_date):%Y-%m-%d}",
        ),
    ]
    any_part = pd.Series(False, index=f.index)
    for mask, _ in parts:
        any_part |= mask.fillna(False).astype(bool)
    stalled = stalled_stages & any_part

    def stalled_reasons(h: pd.DataFrame) -> list[str]:
        masks = [m.loc[h.index].fillna(False).astype(bool).to_numpy() for m, _ in parts]
        texts = []
        for i, row in enumerate(h.itertuples(index=False)):
            texts.append("; ".join(text(row) for (m, text), hit in zip(parts, masks) if hit[i]))
        return texts

    out.append(_flag(f, stalled, "STALLED", Severity.HIGH, stalled_reasons))

    # STALE_UPDATE: more than the threshold without an update.
    stale = stalled_stages & (f["days_since_update"] > s.stale_update_days)
    out.append(
        _flag(
            f, stale, "STALE_UPDATE", Severity.HIGH,
            lambda h: [
                (f"no weekly update for {int(n)} days" if pd.notna(last) and (pd.isna(st) or last >= st)
                 else f"no weekly update since the start {int(n)} days ago")
                + f" (threshold {s.stale_update_days})"
                for n, last, st in zip(h["days_since_update"], _dates(h["last_update"]), _dates(h["start_date"]))
            ],
        )
    )

    # NO_CLOCK: a pilot without a start date.
    out.append(
        _flag(
            f, in_pilot & f["start_date"].isna(), "NO_CLOCK", Severity.HIGH,
            "no start date: the 90-day clock has not started",
        )
    )

    # MISSING_SEAT: pilot needs a technical lead and an executive sponsor;
    # bridge and production need an operational owner.
    def missing_reasons(h: pd.DataFrame) -> list[str]:
        texts = []
        for row in h.itertuples(index=False):
            gaps = []
            if row.stage == "pilot":
                for seat, label in (("technical_lead", "technical lead"),
                                    ("executive_sponsor", "executive sponsor")):
                    if not getattr(row, f"{seat}_ok"):
                        held = pd.notna(getattr(row, f"{seat}_id"))
                        gaps.append(f"{label} inactive" if held else f"no {label}")
            elif not row.operational_owner_ok:
                held = pd.notna(row.operational_owner_id)
                gaps.append("operational owner inactive" if held else "no operational owner")
            texts.append("; ".join(gaps))
        return texts

    missing = (in_pilot & ~(f["technical_lead_ok"] & f["executive_sponsor_ok"])) | (
        _in(f, "bridge", "production") & ~f["operational_owner_ok"]
    )
    out.append(_flag(f, missing, "MISSING_SEAT", Severity.MEDIUM, missing_reasons))

    # NO_CRITERIA: past kickoff (day 15 on) without a go/no-go criterion.
    out.append(
        _flag(
            f, in_pilot & (f["day"] >= s.criteria_lock_day) & (f["criteria_count"] == 0),
            "NO_CRITERIA", Severity.MEDIUM,
            lambda h: [f"no go/no-go criteria on day {int(d)} (due by day {s.criteria_lock_day - 1})"
                       for d in h["day"]],
        )
    )

    # CRITERIA_CHANGED: a criterion written, reworded or removed after kickoff.
    out.append(
        _flag(
            f, in_pilot & f["criteria_changed_on"].notna(), "CRITERIA_CHANGED", Severity.MEDIUM,
            lambda h: [f"criteria changed after kickoff on {pd.Timestamp(d):%Y-%m-%d} by {who or 'unknown'}"
                       for d, who in zip(h["criteria_changed_on"], h["criteria_changed_by"])],
        )
    )

    # PRIVILEGES_UNDECIDED: undecided borrowed privileges close to (or past)
    # the go/no-go date.
    out.append(
        _flag(
            f, in_pilot & (f["privileges_undecided"] > 0) & (f["days_left"] <= s.privileges_decision_days),
            "PRIVILEGES_UNDECIDED", Severity.HIGH,
            lambda h: [
                f"{int(n)} of {int(t)} borrowed privileges undecided with "
                + (f"{int(d)} days left" if d >= 0 else f"the decision {-int(d)} days overdue")
                for n, t, d in zip(h["privileges_undecided"], h["privileges"], h["days_left"])
            ],
        )
    )

    # NO_PRODUCTION_KPIS: past kickoff without a production KPI with a target.
    out.append(
        _flag(
            f, in_pilot & (f["day"] >= s.kickoff_day) & (f["production_kpis_with_target"] == 0),
            "NO_PRODUCTION_KPIS", Severity.HIGH,
            lambda h: [f"no production KPI with a target on day {int(d)} (due by day {s.kickoff_day - 1})"
                       for d in h["day"]],
        )
    )

    kpi_stages = _in(f, "pilot", "bridge", "production")

    # KPI_STALE: a production KPI without a reading for the threshold or
    # longer (from the start when it was never read).
    def stale_text(value) -> str:
        return "; ".join(
            f"{k['name']} has had no reading since the start {k['days']} days ago" if k["never"]
            else f"{k['name']} has had no reading for {k['days']} days"
            for k in _records(value)
        ) + f" (threshold {s.kpi_stale_days})"

    stale = f["stale_kpis"].map(lambda v: bool(_records(v)))
    out.append(_flag(f, kpi_stages & stale, "KPI_STALE", Severity.MEDIUM,
                     lambda h: [stale_text(v) for v in h["stale_kpis"]]))

    # GOVERNANCE_LATE: past kickoff and the governance review not done (seed
    # 000: legal, compliance and security in the room in week two).
    gov_done = f["governance_review"].isin(["done", "not_applicable"])
    out.append(
        _flag(
            f, in_pilot & (f["day"] >= s.kickoff_day) & ~gov_done, "GOVERNANCE_LATE", Severity.MEDIUM,
            lambda h: [f"governance review {st.replace('_', ' ')} on day {int(d)} (due by day {s.kickoff_day - 1})"
                       for st, d in zip(h["governance_review"].fillna("not_started"), h["day"])],
        )
    )

    # WEAK_SHIP_SIGNAL: half or more of the borrowed privileges to be withdrawn.
    weak = _in(f, "pilot", "bridge") & (f["privileges"] > 0) & (2 * f["privileges_withdrawn"] >= f["privileges"])
    out.append(
        _flag(
            f, weak, "WEAK_SHIP_SIGNAL", Severity.MEDIUM,
            lambda h: [f"{int(w)} of {int(t)} borrowed privileges to be withdrawn"
                       for w, t in zip(h["privileges_withdrawn"], h["privileges"])],
        )
    )

    # KPI_OFF_TARGET: the latest reading of a production KPI misses its target.
    def off_text(value) -> str:
        parts = []
        for k in _records(value):
            unit = f" {k['unit']}" if k["unit"] else ""
            parts.append(f"{k['name']}: {k['value']:g}{unit} against a target of {k['target']:g}{unit} "
                         f"({k['direction']} is better)")
        return "; ".join(parts)

    off = f["kpis_off_target"].map(lambda v: bool(_records(v)))
    out.append(_flag(f, kpi_stages & off, "KPI_OFF_TARGET", Severity.MEDIUM,
                     lambda h: [off_text(v) for v in h["kpis_off_target"]]))

    # DECISION_DUE_SOON: 0 to the threshold days left.
    due = in_pilot & f["days_left"].between(0, s.due_soon_days)
    out.append(
        _flag(
            f, due, "DECISION_DUE_SOON", Severity.INFO,
            lambda h: [
                "go/no-go decision due today" if int(n) == 0
                else f"go/no-go decision due in {int(n)} days ({d:%Y-%m-%d})"
                for n, d in zip(h["days_left"], _dates(h["go_no_go_date"]))
            ],
        )
    )

    flags = pd.concat([o for o in out if not o.empty], ignore_index=True) if any(
        not o.empty for o in out
    ) else pd.DataFrame(columns=FLAG_COLUMNS)
    return sort_flags(flags)


def _records(value) -> list[dict]:
    """A list column from DuckDB (a list of dicts, an array, or missing)."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return []
    return [dict(v) for v in value if v is not None]


def sort_flags(flags: pd.DataFrame) -> pd.DataFrame:
    if flags.empty:
        return flags.reset_index(drop=True)
    order = flags.assign(
        _rank=flags["severity"].map(SEVERITY_RANK),
        _headline=~flags["code"].isin(HEADLINE_CODES),
        _code=flags["code"].map(CODE_ORDER),
    )
    order = order.sort_values(["_rank", "_headline", "_code", "pilot"], kind="stable")
    return order.drop(columns=["_rank", "_headline", "_code"]).reset_index(drop=True)


def portfolio_flags(conn, as_of: date, settings: Settings) -> pd.DataFrame:
    """Every flag of the portfolio on ``as_of``: one query, one pass."""
    return evaluate(store.pilot_facts(conn, as_of, settings.stalled_red_streak, settings.kpi_stale_days),
                    as_of, settings)


def pilot_flags(conn, pilot_id: int, as_of: date, settings: Settings) -> pd.DataFrame:
    """The flags of one pilot, by the same rules, without computing the rest."""
    facts = store.pilot_facts(conn, as_of, settings.stalled_red_streak, settings.kpi_stale_days, pilot_id)
    return evaluate(facts, as_of, settings)


def pilot_summary(flags: pd.DataFrame) -> pd.DataFrame:
    """One row per flagged pilot: its worst severity, its codes, its reasons."""
    if flags.empty:
        return pd.DataFrame(columns=["pilot_id", "pilot", "severity", "flags", "reasons"])
    ranked = flags.assign(_rank=flags["severity"].map(SEVERITY_RANK))
    grouped = ranked.groupby(["pilot_id", "pilot"], sort=False).agg(
        _rank=("_rank", "min"),
        flags=("code", lambda c: ", ".join(c)),
        reasons=("reason", lambda r: " · ".join(r)),
    ).reset_index()
    grouped["severity"] = grouped["_rank"].map({v: k for k, v in SEVERITY_RANK.items()})
    grouped["_headline"] = ~grouped["flags"].str.contains("|".join(HEADLINE_CODES))
    grouped = grouped.sort_values(["_rank", "_headline", "pilot"], kind="stable")
    return grouped[["pilot_id", "pilot", "severity", "flags", "reasons"]].reset_index(drop=True)
