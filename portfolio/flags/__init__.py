"""The flags: what the portfolio should look at, pilot by pilot.

Everything a flag rule is lives in this folder: facts.sql reads the facts
of every pilot (one row each), rules.py derives the numbers the rules read
and states each rule, its severity and its reason. A new flag rule is added
there and nowhere else. Storage runs the query (storage/flags.py); this
module is what the rest of the tracker calls.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import Severity
from portfolio.flags.rules import (
    CODE_ORDER,
    CODES,
    HEADLINE_CODES,
    LABELS,
    RULES_SQL,
    label,
    params,
)
from portfolio.storage import flags as flag_store

if TYPE_CHECKING:  # pandas is loaded by the frames' makers: the summary's headline counts read no frame
    import pandas as pd

__all__ = ["CODES", "CODE_ORDER", "FLAG_COLUMNS", "HEADLINE_CODES", "LABELS", "SEVERITY_RANK", "flagged_by_code",
           "in_words", "label", "pilot_flags", "pilot_summary", "portfolio_flags", "sort_flags"]

FLAG_COLUMNS = ["pilot_id", "pilot", "code", "severity", "reason"]

SEVERITY_RANK = {s.value: s.rank for s in Severity}

_WORDS = {code: words for code, (words, _) in LABELS.items()}  # code -> what a person reads


def _frame(out: pd.DataFrame) -> pd.DataFrame:
    if not out.empty:
        return out
    import pandas as pd

    return pd.DataFrame(columns=FLAG_COLUMNS)


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
    """Every flag of the portfolio on ``as_of``, worst first: one query over
    the whole portfolio, in the database."""
    return _frame(flag_store.flag_rows(conn, RULES_SQL, params(as_of, settings)))


def pilot_flags(conn, pilot_id: int, as_of: date, settings: Settings) -> pd.DataFrame:
    """The flags of one pilot, by the same rules, without computing the rest."""
    return _frame(flag_store.flag_rows(conn, RULES_SQL, params(as_of, settings, pilot_id)))


def flagged_by_code(conn, as_of: date, settings: Settings) -> dict[str, int]:
    """How many pilots each code flags on ``as_of`` (codes that flag none
    left out): the counts ``portfolio_flags`` gives, without a frame."""
    return flag_store.pilots_by_code(conn, RULES_SQL, params(as_of, settings))


def in_words(flags: pd.DataFrame) -> pd.DataFrame:
    """``flags`` (or any frame with a ``code`` column) for people: the code
    replaced by its words, in a ``flag`` column."""
    return flags.assign(code=flags["code"].map(label)).rename(columns={"code": "flag"})


def pilot_summary(flags: pd.DataFrame, conn=None) -> pd.DataFrame:
    """One row per flagged pilot: its worst severity, its flags in words
    (``flags``, the labels) and its reasons (in the flags' order), worst
    pilots first, stalled and ownerless first. Computed on ``conn`` when
    given."""
    if flags.empty:
        import pandas as pd

        return pd.DataFrame(columns=["pilot_id", "pilot", "severity", "flags", "reasons"])
    return flag_store.summary(flags, SEVERITY_RANK, HEADLINE_CODES, _WORDS, conn)
