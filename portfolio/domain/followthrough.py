"""The decision followed through: why a pilot was stopped or retired (a short
list of reasons, seed 004's five stall reasons first, and the lessons
learned), and the revocation of what it borrowed (seed 003). Pure: the
models a person's input is checked against, and the words each reason is
read in."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import ClassVar

from pydantic import field_validator

from portfolio.domain.models import _Input, _optional_text, _required_text, check_date_range


class StopReason(str, Enum):
    """Why a pilot was stopped (no-go) or retired. The first five are seed
    004's reasons pilots stall before production."""

    NOT_DESIGNED_FOR_PRODUCTION = "not_designed_for_production"
    DATA_NOT_READY = "data_not_ready"
    GOVERNANCE_A_SLIDE_DECK = "governance_a_slide_deck"
    WORKFORCE_NEVER_INVITED = "workforce_never_invited"
    NO_NUMBER_FINANCE_TRUSTS = "no_number_finance_trusts"
    VALUE_NOT_PROVEN = "value_not_proven"
    SUPERSEDED = "superseded"
    STRATEGY_CHANGED = "strategy_changed"
    OTHER = "other"

    @property
    def label(self) -> str:
        return STOP_REASON_LABELS[self]


# What a person reads for each reason (the stall reasons in seed 004's words,
# as the pilot page's "likely bottleneck" says them).
STOP_REASON_LABELS = {
    StopReason.NOT_DESIGNED_FOR_PRODUCTION: "Not designed for production",
    StopReason.DATA_NOT_READY: "Data not ready",
    StopReason.GOVERNANCE_A_SLIDE_DECK: "Governance a slide deck",
    StopReason.WORKFORCE_NEVER_INVITED: "The workforce never invited",
    StopReason.NO_NUMBER_FINANCE_TRUSTS: "No number the finance lead trusts",
    StopReason.VALUE_NOT_PROVEN: "Value not proven",
    StopReason.SUPERSEDED: "Superseded",
    StopReason.STRATEGY_CHANGED: "Strategy changed",
    StopReason.OTHER: "Other",
}


def reason_label(value: str | None) -> str:
    """The words for a stored reason (blank for none, the value itself for
    one a later version no longer offers)."""
    if not value:
        return ""
    try:
        return StopReason(value).label
    except ValueError:
        return str(value).replace("_", " ")


LESSONS_MAX = 4000


class StopIn(_Input):
    """Why a pilot stops (a no-go) or is retired, and what was learned."""

    LABELS: ClassVar[dict[str, str]] = {"reason": "Reason", "lessons": "Lessons learned"}

    reason: StopReason
    lessons: str = ""

    @field_validator("reason", mode="before")
    @classmethod
    def _reason(cls, v):
        if v in (None, ""):
            raise ValueError("choose why the pilot stops (" + ", ".join(
                r.label.lower() for r in StopReason) + ")")
        if isinstance(v, str) and v not in {r.value for r in StopReason}:
            raise ValueError(f"'{v}' is not one of the reasons")
        return v

    @field_validator("lessons")
    @classmethod
    def _lessons(cls, v: str) -> str:
        return _optional_text(v, LESSONS_MAX, multiline=True)


class RevocationIn(_Input):
    """A borrowed privilege given back: on which day, and the evidence (a
    ticket, the access review, the cancelled licence)."""

    LABELS: ClassVar[dict[str, str]] = {"revoked_on": "Revoked on", "evidence": "Evidence"}

    revoked_on: date
    evidence: str

    @field_validator("revoked_on", mode="before")
    @classmethod
    def _date_given(cls, v):
        if v in (None, ""):
            raise ValueError("give the day it was revoked")
        return v

    @field_validator("revoked_on")
    @classmethod
    def _in_range(cls, v: date) -> date:
        return check_date_range(v)

    @field_validator("evidence")
    @classmethod
    def _evidence(cls, v: str) -> str:
        return _required_text(v, 1000)


# How alike a new pilot's name must be to a stopped one's (Jaro-Winkler,
# 0 to 1) for the stopped one to be shown beside it: "Claims triage bot"
# and "Claims triage assistant" are (0.91); "Claims triage assistant" and
# "Cash forecast" are not (0.6).
SIMILAR_NAME = 0.88
# Or: at least half of the words (four letters or more) of the shorter of
# the two names in common, and SIMILAR_NAME_WORDS_MIN of them at least
# ("Claims triage helper" and "Claims triage assistant"); or half of the
# words of the shorter name-and-problem, and SIMILAR_WORDS_MIN at least.
SIMILAR_WORDS_SHARE = 0.5
SIMILAR_NAME_WORDS_MIN = 2
SIMILAR_WORDS_MIN = 3
# The most stopped pilots shown beside one new pilot.
SIMILAR_SHOWN = 5
