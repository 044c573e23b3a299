"""Thresholds and paths. Defaults are PRODUCT.md's; each can be overridden by
an environment variable ``PORTFOLIO_<NAME>`` (for example
``PORTFOLIO_STALE_UPDATE_DAYS=21``) or by a TOML file named in
``PORTFOLIO_SETTINGS`` whose keys are the field names below. The environment
wins over the file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from portfolio.domain.errors import InvalidInput, invalid_from

DEFAULT_DB = "data/portfolio.duckdb"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Length of the pilot clock: the go/no-go date is the start plus this.
    clock_days: int = Field(90, ge=1, le=3650)
    # STALE_UPDATE: more than this many days without a weekly update.
    stale_update_days: int = Field(14, ge=1)
    # STALLED: this many days or more without a weekly update.
    stalled_no_update_days: int = Field(28, ge=1)
    # STALLED: this many red updates in a row, the latest included.
    stalled_red_streak: int = Field(3, ge=1)
    # STALLED: more than this many days since the start without a go or no-go.
    stalled_days_without_decision: int = Field(180, ge=1)
    # DECISION_DUE_SOON: this many days left or fewer (and not overdue).
    due_soon_days: int = Field(14, ge=0)
    # Criteria are settled at kickoff: from this day of the clock a change is
    # leadership's only, and raises CRITERIA_CHANGED; NO_CRITERIA from it too.
    criteria_lock_day: int = Field(15, ge=1)
    # An extension moves the go/no-go date at most this many days past the
    # decision date.
    max_extension_days: int = Field(90, ge=1)
    # The extension that brings the count to this needs an override reason;
    # STALLED names a pilot extended this many times.
    extension_limit: int = Field(2, ge=1)
    # The bridge to production is due this many days after the go decision.
    bridge_days: int = Field(56, ge=1)
    # From this day of the clock a pilot needs a production KPI with a target
    # (NO_PRODUCTION_KPIS) and its governance review done (GOVERNANCE_LATE).
    kickoff_day: int = Field(15, ge=1)
    # PRIVILEGES_UNDECIDED: an undecided privilege with this many days left or fewer.
    privileges_decision_days: int = Field(14, ge=0)
    # KPI_STALE: a production KPI without a reading for this many days or more.
    kpi_stale_days: int = Field(30, ge=1)
    # WEAK_BUSINESS_CASE: the projected monthly running cost exceeds this
    # share of the expected monthly value (1: the cost exceeds the value).
    business_case_cost_share: float = Field(1.0, gt=0, le=100)
    # An hour saved counts as this much money when a value in hours is
    # weighed against a cost in money (in hour_cost_currency).
    hour_cost: float = Field(60.0, ge=0, le=1e6)
    hour_cost_currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")
    # Go needs the operational owner's acceptance of the handover (or an
    # override); with this on, the executive sponsor's too (seed 001:
    # the people who run it accept it before go, not after go-live).
    acceptance_by_sponsor: bool = False
    # A production pilot is checked in on at these days after its promotion
    # (CHECKIN_OVERDUE from the day after one is due; all done ends the watch).
    checkin_days: tuple[int, ...] = (30, 60, 90)
    # A check-in may be recorded from this many days before it is due.
    checkin_early_days: int = Field(7, ge=0)

    @field_validator("checkin_days", mode="before")
    @classmethod
    def _days_list(cls, v):
        # The environment gives "30,60,90"; a TOML file a list.
        if isinstance(v, str):
            parts = [p.strip() for p in v.split(",") if p.strip()]
            try:
                v = [int(p) for p in parts]
            except ValueError:
                raise ValueError(f"'{v}' is not a list of days such as 30,60,90") from None
        return v

    @field_validator("checkin_days")
    @classmethod
    def _days_order(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(d < 1 or d > 3650 for d in v) or list(v) != sorted(set(v)):
            raise ValueError("give one or more days from 1 to 3650, rising, such as 30,60,90")
        return tuple(v)
    # Email reminders (python -m portfolio notify): from this day of the week
    # (ISO: 1 is Monday, 7 Sunday) a pilot without this week's update is
    # reminded to its product owner and technical lead.
    update_reminder_weekday: int = Field(1, ge=1, le=7)
    # Email reminders: the executive sponsor (and leadership) get an
    # escalation once a decision is overdue by more than this many days.
    escalation_days: int = Field(7, ge=0)
    # Email reminders: a reason that still holds at the same step is sent
    # again after this many days (weekly), never sooner.
    reminder_repeat_days: int = Field(7, ge=1)


def _from_file(path: str) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InvalidInput(f"Settings file {path} does not exist", field="PORTFOLIO_SETTINGS") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"Settings file {path} is not valid TOML: {exc}", field="PORTFOLIO_SETTINGS") from None
    except OSError as exc:
        raise InvalidInput(f"Settings file {path} cannot be read: {exc.strerror}", field="PORTFOLIO_SETTINGS") from None


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    values: dict = {}
    if env.get("PORTFOLIO_SETTINGS"):
        values.update(_from_file(env["PORTFOLIO_SETTINGS"]))
    for name in Settings.model_fields:
        key = f"PORTFOLIO_{name.upper()}"
        if key in env:
            values[name] = env[key]
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise invalid_from(exc) from None


# How long a page run or a command waits, by default, for the database
# another program holds before saying so (PORTFOLIO_LOCK_WAIT_SECONDS).
DEFAULT_LOCK_WAIT_SECONDS = 15.0
MAX_LOCK_WAIT_SECONDS = 600.0


def lock_wait_seconds(env: dict[str, str] | None = None) -> float:
    env = os.environ if env is None else env
    text = (env.get("PORTFOLIO_LOCK_WAIT_SECONDS") or "").strip()
    if not text:
        return DEFAULT_LOCK_WAIT_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= MAX_LOCK_WAIT_SECONDS:
        raise InvalidInput(f"PORTFOLIO_LOCK_WAIT_SECONDS: '{text}' is not a number of seconds from 0 to "
                           f"{MAX_LOCK_WAIT_SECONDS:.0f}", field="PORTFOLIO_LOCK_WAIT_SECONDS")
    return value


def db_path(env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("PORTFOLIO_DB") or DEFAULT_DB)


# Where people open the app: the links in reminder emails and chat messages
# (PORTFOLIO_BASE_URL, e.g. https://pilots.example.com).
DEFAULT_BASE_URL = "http://localhost:8501"


def base_url(env: dict[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    text = (env.get("PORTFOLIO_BASE_URL") or "").strip().rstrip("/") or DEFAULT_BASE_URL
    if not (text.startswith(("http://", "https://")) and len(text.split("://", 1)[1]) > 0) \
            or any(c.isspace() for c in text):
        raise InvalidInput(f"PORTFOLIO_BASE_URL: '{text}' is not an http or https address of the app "
                           "(e.g. https://pilots.example.com)", field="PORTFOLIO_BASE_URL")
    return text
