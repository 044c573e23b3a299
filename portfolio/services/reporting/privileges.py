"""The borrowed privileges across the portfolio, rolled up for the Portfolio
page: how many are borrowed and undecided, by kind and disposition, and the
pilots that depend on the most. One pass over the privileges read once."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from portfolio.domain.vocabulary import Stage

# Pilots listed as depending on the most privileges.
MOST_DEPENDENT = 10


@dataclass
class Rollup:
    borrowed: int
    undecided: int
    by_kind: pd.DataFrame  # a row per kind (in words), a column per disposition: counts
    dependent: pd.DataFrame  # pilot, borrowed, undecided: the most borrowed first


def rollup(privileges: pd.DataFrame) -> Rollup | None:
    """The roll-up of ``privileges`` (storage's privileges_frame) over the
    pilots still in play; None when they hold none."""
    live = privileges[privileges["stage"].isin([s.value for s in Stage.where("in_play")])]
    if live.empty:
        return None
    undecided = live["disposition"] == "undecided"
    by_kind = live.pivot_table(index="kind", columns="disposition", values="id", aggfunc="count", fill_value=0)
    by_kind.index = [k.replace("_", " ") for k in by_kind.index]
    by_kind.columns = [str(d).replace("_", " ") for d in by_kind.columns]  # "make permanent", in words
    by_kind.index.name = by_kind.columns.name = None
    dependent = (live.assign(undecided=undecided)
                 .groupby(["pilot_id", "pilot"]).agg(borrowed=("id", "count"), undecided=("undecided", "sum"))
                 .sort_values(["borrowed", "undecided"], ascending=False).head(MOST_DEPENDENT).reset_index()
                 .drop(columns=["pilot_id"]))
    return Rollup(borrowed=len(live), undecided=int(undecided.sum()), by_kind=by_kind, dependent=dependent)
