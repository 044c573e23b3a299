"""The portfolio as leadership reads it: every pilot with its clock and its
flags, and the headline numbers. Two queries and one pass, whatever the
size of the portfolio."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from . import flags as flag_rules
from . import store
from .settings import Settings

# Headline numbers, in the order the Portfolio page shows them: the two
# words leadership asked for first. Each maps to the flag code behind it
# (None: a stage count).
HEADLINES = [
    ("Stalled", "STALLED"),
    ("Ownerless", "OWNERLESS"),
    ("Overdue", "OVERDUE_DECISION"),
    ("Decisions due in 14 days", "DECISION_DUE_SOON"),
    ("Active pilots", None),
]


@dataclass
class Overview:
    pilots: pd.DataFrame  # one row per pilot, with its clock and flags
    flags: pd.DataFrame   # one row per flag
    numbers: dict[str, int]

    def pilots_behind(self, headline: str) -> pd.DataFrame:
        code = dict(HEADLINES)[headline]
        if code is None:
            return self.pilots[self.pilots["stage"] == "pilot"]
        ids = set(self.flags.loc[self.flags["code"] == code, "pilot_id"])
        return self.pilots[self.pilots["id"].isin(ids)]


def build(conn, as_of: date, settings: Settings) -> Overview:
    pilots = store.pilots_frame(conn)
    flags = flag_rules.portfolio_flags(conn, as_of, settings)
    summary = flag_rules.pilot_summary(flags).rename(columns={"pilot_id": "id"}).drop(columns=["pilot"])
    pilots = pilots.merge(summary, on="id", how="left")
    gng = pd.to_datetime(pilots["go_no_go_date"])
    start = pd.to_datetime(pilots["start_date"])
    today = pd.Timestamp(as_of)
    pilots["day"] = ((today - start).dt.days + 1).astype("Int64")
    pilots["days_left"] = (gng - today).dt.days.astype("Int64")
    pilots["flags"] = pilots["flags"].fillna("")
    pilots["reasons"] = pilots["reasons"].fillna("")
    rank = pilots["severity"].map(flag_rules.SEVERITY_RANK).fillna(len(flag_rules.SEVERITY_RANK))
    pilots = pilots.assign(_rank=rank).sort_values(["_rank", "days_left", "name"], na_position="last")
    pilots = pilots.drop(columns=["_rank"]).reset_index(drop=True)
    overview = Overview(pilots=pilots, flags=flags, numbers={})
    overview.numbers = {name: len(overview.pilots_behind(name)) for name, _ in HEADLINES}
    return overview
