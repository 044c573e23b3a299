"""The portfolio's headline numbers, as the Portfolio page shows them and
the command line's summary prints them: the pilots behind each headline
flag, the pilots on the clock, and the decision numbers.

Counted in the database, with no data frame: the summary is what a
scheduler runs and waits for, and it loads no pandas. The Portfolio page
counts the same numbers from the rows it lists (overview.py), with the
same formulas (``decision_values``); a test holds the two equal.
"""

from __future__ import annotations

from datetime import date

from portfolio import flags as flag_rules
from portfolio.domain.settings import Settings
from portfolio.storage import store

# Headline numbers, in the order the Portfolio page shows them: the two
# words leadership asked for first. Each maps to the flag code behind it
# (None: the pilots on the clock).
HEADLINES = [
    ("Stalled", "STALLED"),
    ("Ownerless", "OWNERLESS"),
    ("Overdue", "OVERDUE_DECISION"),
    ("Decisions due in 14 days", "DECISION_DUE_SOON"),
    ("Active pilots", None),
]

# The numbers of the decisions taken, in the order the page shows them.
DECISION_NUMBERS = ["Conversion", "No-go decisions", "Median days to decision", "Extensions per pilot"]


def decision_values(go: int, no_go: int, median_days: float | None, extensions: int,
                    started: int) -> dict[str, float | int | None]:
    """Conversion (go over go plus no-go, a fraction), no-go count, median
    days from start to decision, extensions per started pilot: as numbers,
    None where there is nothing to compute them from."""
    return {
        "Conversion": go / (go + no_go) if go + no_go else None,
        "No-go decisions": no_go,
        "Median days to decision": median_days,
        "Extensions per pilot": extensions / started if started else None,
    }


def values(conn, as_of: date, settings: Settings) -> dict[str, int | float | None]:
    """The headline numbers, then the decision values, on ``as_of``: what the
    Portfolio page shows, for machines (the command line's summary)."""
    flagged = flag_rules.flagged_by_code(conn, as_of, settings)
    counts = store.decision_counts(conn, as_of)
    numbers = {name: counts["on_the_clock"] if code is None else flagged.get(code, 0) for name, code in HEADLINES}
    return {**numbers, **decision_values(counts["go"], counts["no_go"], counts["median_days"],
                                         counts["extensions"], counts["started"])}
