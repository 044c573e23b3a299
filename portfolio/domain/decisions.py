"""Which of a pilot's recorded decisions still stand, and which one may be
corrected. Pure: the decisions come in newest first, as storage lists them."""

from __future__ import annotations

from portfolio.domain.models import Decision, Pilot


def effective(history: list[Decision]) -> list[Decision]:
    """The decisions no later decision corrects (supersedes), newest first."""
    return [d for d in history if d.superseded_by is None]


def correctable(pilot: Pilot, history: list[Decision]) -> Decision | None:
    """The decision a correction would replace: the latest one still
    standing, while the pilot is where that decision left it (once it has
    moved on, by a promotion or a retirement, the decision is history)."""
    standing = effective(history)
    if standing and pilot.stage == standing[0].stage_after:
        return standing[0]
    return None
