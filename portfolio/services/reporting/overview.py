"""The portfolio as leadership reads it: every pilot with its clock and its
flags, and the headline numbers. Two queries and one pass, whatever the
size of the portfolio."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from portfolio import flags as flag_rules
from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import Stage
from portfolio.services.reporting import headline
from portfolio.services.reporting.headline import DECISION_NUMBERS, HEADLINES
from portfolio.storage import store


@dataclass
class Overview:
    pilots: pd.DataFrame  # one row per pilot, with its clock, flags and decisions
    flags: pd.DataFrame   # one row per flag
    numbers: dict[str, int]
    decision_numbers: dict[str, str]

    def pilots_behind(self, name: str) -> pd.DataFrame:
        p = self.pilots
        if name in DECISION_NUMBERS:
            return {
                "Conversion": p[p["verdict"].notna()],
                "No-go decisions": p[p["verdict"] == "no_go"],
                "Median days to decision": p[p["days_to_decision"].notna()],
                "Extensions per pilot": p[p["extensions"] > 0],
            }[name]
        code = dict(HEADLINES)[name]
        if code is None:
            return p[p["stage"] == "pilot"]
        ids = set(self.flags.loc[self.flags["code"] == code, "pilot_id"])
        return p[p["id"].isin(ids)]

    def count_behind(self, name: str) -> int:
        """How many pilots ``pilots_behind(name)`` lists, without listing them."""
        code = dict(HEADLINES)[name]
        if code is None:
            return int((self.pilots["stage"] == "pilot").sum())
        return int(self.pilots["id"].isin(self.flags.loc[self.flags["code"] == code, "pilot_id"]).sum())

    def open_pilot_ages(self) -> pd.Series:
        """Days since the start of every pilot still waiting for its decision."""
        open_ = self.pilots[(self.pilots["stage"] == "pilot") & self.pilots["day"].notna()]
        return (open_["day"] - 1).astype(int)


def clock_columns(pilots: pd.DataFrame, as_of: date) -> tuple[pd.Series, pd.Series]:
    """Each pilot's day of the clock and days left on ``as_of``, as
    PRODUCT.md counts them: the start date is day 1, days left is 0 on the
    go/no-go date itself. Days left means something only on the clock: a
    bridge or production pilot has no go/no-go ahead of it (blank)."""
    today = pd.Timestamp(as_of)
    day = ((today - pd.to_datetime(pilots["start_date"])).dt.days + 1).astype("Int64")
    on_clock = pilots["stage"].isin([s.value for s in Stage.where("on_the_clock")])
    days_left = (pd.to_datetime(pilots["go_no_go_date"]) - today).dt.days.astype("Int64").where(on_clock)
    return day, days_left


# What each stage's next date is, in words: the date column it is read from.
NEXT_DATE = {
    Stage.PROPOSED: ("planned start", "start_date"),
    Stage.PILOT: ("go/no-go", "go_no_go_date"),
    Stage.BRIDGE: ("bridge due", "bridge_due_date"),
}


def next_dates(pilots: pd.DataFrame) -> pd.Series:
    """Each pilot's own next date, with what it is: "go/no-go 12 Mar 2027"
    on the clock, "bridge due 3 Feb 2027" on the bridge, "planned start
    5 Jan 2027" for a proposed pilot with a start date; blank for the other
    stages (production, retired and stopped pilots have no date ahead that
    the tracker keeps). Column by column, not row by row: it runs over the
    whole portfolio on the first Portfolio run after a change."""
    out = pd.Series("", index=pilots.index, dtype=object)
    for stage, (what, column) in NEXT_DATE.items():
        if column not in pilots.columns:
            continue
        when = pd.to_datetime(pilots[column])
        here = (pilots["stage"] == stage.value) & when.notna()
        if here.any():
            day = when[here]
            # The month's short name looked up, not formatted: strftime takes
            # ten times as long over a whole portfolio.
            month = pd.Series(_MONTHS[day.dt.month.to_numpy() - 1], index=day.index)
            out[here] = what + " " + day.dt.day.astype(str) + " " + month + " " + day.dt.year.astype(str)
    return out


# The months as "%b" writes them in English ("Mar").
_MONTHS = np.array(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
                   dtype=object)


def days_to_decision(pilots: pd.DataFrame) -> pd.Series:
    """Days from each pilot's start to its go or no-go (blank without one)."""
    start = pd.to_datetime(pilots["start_date"])
    return (pd.to_datetime(pilots["verdict_on"]) - start).dt.days.astype("Int64")


def build(conn, as_of: date, settings: Settings) -> Overview:
    pilots = store.pilots_frame(conn)
    flags = flag_rules.portfolio_flags(conn, as_of, settings)
    summary = flag_rules.pilot_summary(flags, conn).rename(columns={"pilot_id": "id"}).drop(columns=["pilot"])
    pilots = pilots.merge(summary, on="id", how="left").merge(
        store.decision_outcomes(conn, as_of), on="id", how="left")
    pilots["day"], pilots["days_left"] = clock_columns(pilots, as_of)
    pilots["next_date"] = next_dates(pilots)
    pilots["days_to_decision"] = days_to_decision(pilots)
    pilots["flags"] = pilots["flags"].fillna("")
    pilots["reasons"] = pilots["reasons"].fillna("")
    rank = pilots["severity"].map(flag_rules.SEVERITY_RANK).fillna(len(flag_rules.SEVERITY_RANK))
    pilots = pilots.assign(_rank=rank).sort_values(["_rank", "days_left", "name"], na_position="last")
    pilots = pilots.drop(columns=["_rank"]).reset_index(drop=True)
    overview = Overview(pilots=pilots, flags=flags, numbers={}, decision_numbers={})
    overview.numbers = {name: overview.count_behind(name) for name, _ in HEADLINES}
    overview.decision_numbers = decision_numbers(pilots)
    return overview


def decision_values(pilots: pd.DataFrame) -> dict[str, float | int | None]:
    """The decision numbers (``headline.decision_values``) counted from the
    page's rows."""
    decided = pilots["days_to_decision"].dropna()
    started = pilots[pilots["start_date"].notna() & (pilots["day"] >= 1)]
    return headline.decision_values(
        go=int((pilots["verdict"] == "go").sum()), no_go=int((pilots["verdict"] == "no_go").sum()),
        median_days=float(decided.median()) if len(decided) else None,
        extensions=int(pilots["extensions"].sum()), started=len(started))


def decision_numbers(pilots: pd.DataFrame) -> dict[str, str]:
    """The decision numbers (``decision_values``) as a person reads them:
    a percentage, whole days, a dash where there is nothing yet."""
    v = decision_values(pilots)
    return {
        "Conversion": "—" if v["Conversion"] is None else f"{v['Conversion']:.0%}",
        "No-go decisions": str(v["No-go decisions"]),
        "Median days to decision": "—" if v["Median days to decision"] is None else f"{v['Median days to decision']:.0f}",
        "Extensions per pilot": "—" if v["Extensions per pilot"] is None else f"{v['Extensions per pilot']:.2f}",
    }
