"""The pydantic models at the boundary and the records storage hands back.

A model ending in ``In`` is what a person or a file gives us; it is validated
here, before anything touches the database. The plain models are what
storage hands back.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from portfolio.domain.reminders import ALL_CATEGORIES, Category
from portfolio.domain.text import clean_line, clean_text
from portfolio.domain.value import value_unit
from portfolio.domain.vocabulary import (
    ACCEPTING_SEATS,
    READINESS_DIMENSIONS,
    Acceptance,
    CriterionStatus,
    DecisionKind,
    Direction,
    Disposition,
    Health,
    KpiCategory,
    PrivilegeKind,
    Role,
    Seat,
    Severity,
    Stage,
)

# --- helpers for validators ----------------------------------------------

# An email address: a local part of letters, digits and the marks mail
# systems allow (. not first, last or twice running; no slash, brackets or
# spaces), one @, and a domain of dot-separated labels of letters, digits
# and hyphens (not at a label's ends) ending in a top-level domain of two or
# more letters. "torey/adler@noaa.gov", "a@b", "name@@x.org", "<a@x.org" and
# a web address are not addresses; "a+b@x.co.uk" and "O'Brien@x.org" are.
_EMAIL_LOCAL = r"[A-Za-z0-9!#$%&'*+=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+=?^_`{|}~-]+)*"
_EMAIL_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^{_EMAIL_LOCAL}@(?:{_EMAIL_LABEL}\.)+[A-Za-z]{{2,}}$")


# Dates the tracker accepts: wide enough for any real pilot, narrow enough
# that the clock's arithmetic never leaves the calendar.
EARLIEST_DATE = date(1990, 1, 1)


LATEST_DATE = date(2199, 12, 31)


# KPI values the tracker accepts: any real measure, never infinity.
LARGEST_NUMBER = 1e12


def check_number(value: float) -> float:
    if value != value or abs(value) > LARGEST_NUMBER:
        raise ValueError(f"must be a number between -{LARGEST_NUMBER:g} and {LARGEST_NUMBER:g}")
    return value


# Ids are the database's INTEGER keys: a number outside that is no record's.
LARGEST_ID = 2**31 - 1


def check_id(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= LARGEST_ID:
        raise ValueError(f"{value} is not the id of anything")
    return value


def check_date_range(value: date | None) -> date | None:
    if value is not None and not (EARLIEST_DATE <= value <= LATEST_DATE):
        raise ValueError(f"{value} is outside {EARLIEST_DATE.year} to {LATEST_DATE.year}")
    return value


# The longest text a pilot's form takes in each field; the importer checks a
# file's cells against the same numbers (an external id as a name, a column
# kept as an attribute as a problem statement).
PILOT_NAME_MAX = 200


BUSINESS_UNIT_MAX = 120


PROBLEM_MAX = 4000


# The fields typed in a text area: they keep tabs and line breaks; every
# other text field is one line (see text.py).
MULTI_LINE_FIELDS = frozenset({"problem", "summary", "blockers", "next_steps", "rationale"})


def _required_text(value: str, max_len: int = 200, *, multiline: bool = False) -> str:
    value = (clean_text if multiline else clean_line)(value).strip()
    if not value:
        raise ValueError("must not be blank")
    if len(value) > max_len:
        raise ValueError(f"must be at most {max_len} characters")
    return value


def _optional_text(value: str | None, max_len: int = 4000, *, multiline: bool = False) -> str:
    value = (clean_text if multiline else clean_line)(value).strip()
    if len(value) > max_len:
        raise ValueError(f"must be at most {max_len} characters")
    return value


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- people ---------------------------------------------------------------


class PersonIn(_Input):
    name: str
    email: str
    role: Role = Role.VIEWER
    active: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _required_text(v, 120)

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        v = clean_line(v).strip()
        if not v:
            raise ValueError("must not be blank")
        if not _EMAIL.match(v) or len(v) > 254:
            raise ValueError(f"'{v}' is not an email address")
        return v


class EmailPreferencesIn(_Input):
    """Whether a person gets reminder emails, and of which categories."""

    email_me: bool = True
    categories: list[Category] = Field(default_factory=lambda: list(ALL_CATEGORIES))

    @field_validator("categories")
    @classmethod
    def _categories(cls, v: list[Category]) -> list[Category]:
        return [c for c in ALL_CATEGORIES if c in set(v)]  # each once, in the table's order


class Person(BaseModel):
    id: int
    name: str
    email: str
    role: Role
    active: bool

    @property
    def label(self) -> str:
        return self.name if self.active else f"{self.name} (inactive)"


class AccessTokenIn(_Input):
    """A name for an API token, so its holder tells their tokens apart."""

    LABELS: ClassVar[dict[str, str]] = {"label": "Name"}

    label: str

    @field_validator("label")
    @classmethod
    def _label(cls, v: str) -> str:
        return _required_text(v, 100)


class AccessToken(BaseModel):
    """A calendar link or API token as stored: never the token itself."""

    id: int
    person_id: int
    purpose: str
    label: str
    created_at: datetime
    created_by: int | None = None
    revoked_at: datetime | None = None


# --- pilots ---------------------------------------------------------------


class PilotIn(_Input):
    """What a person types to create or edit a pilot."""

    name: str
    business_unit: str = ""
    problem: str = ""
    stage: Stage = Stage.PILOT
    start_date: date | None = None
    go_no_go_date: date | None = None
    product_owner_id: int | None = None
    technical_lead_id: int | None = None
    executive_sponsor_id: int | None = None
    operational_owner_id: int | None = None
    expected_monthly_volume: float | None = Field(None, ge=0, le=1e12)
    # What it is expected to bring a month in production: an amount, and
    # its unit (a currency code such as EUR, or hours saved).
    expected_monthly_value: float | None = Field(None, ge=0, le=1e12)
    expected_value_unit: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _required_text(v, PILOT_NAME_MAX)

    @field_validator("expected_value_unit", mode="before")
    @classmethod
    def _value_unit(cls, v) -> str:
        return value_unit(v)

    @field_validator("start_date", "go_no_go_date")
    @classmethod
    def _in_range(cls, v: date | None) -> date | None:
        return check_date_range(v)

    @field_validator("product_owner_id", "technical_lead_id", "executive_sponsor_id", "operational_owner_id")
    @classmethod
    def _ids(cls, v: int | None) -> int | None:
        return check_id(v)

    @field_validator("business_unit")
    @classmethod
    def _bu(cls, v: str) -> str:
        return _optional_text(v, BUSINESS_UNIT_MAX)

    @field_validator("problem")
    @classmethod
    def _problem(cls, v: str) -> str:
        return _optional_text(v, PROBLEM_MAX, multiline=True)

    @model_validator(mode="after")
    def _dates(self) -> "PilotIn":
        if self.go_no_go_date and not self.start_date:
            raise ValueError("Go/no-go date: needs a start date first")
        if self.start_date and self.go_no_go_date and self.go_no_go_date < self.start_date:
            raise ValueError(
                f"Go/no-go date: {self.go_no_go_date} is before the start date {self.start_date}"
            )
        if self.expected_monthly_value is not None and not self.expected_value_unit:
            raise ValueError("Expected value unit: say what the expected monthly value is in: a currency "
                             "code such as EUR, or hours")
        return self

    def seats(self) -> dict[Seat, int | None]:
        return {seat: getattr(self, seat.value) for seat in Seat}


class Pilot(BaseModel):
    id: int
    name: str
    business_unit: str
    problem: str
    stage: Stage
    start_date: date | None
    go_no_go_date: date | None
    product_owner_id: int | None
    technical_lead_id: int | None
    executive_sponsor_id: int | None
    operational_owner_id: int | None
    version: int
    bridge_due_date: date | None = None
    expected_monthly_volume: float | None = None
    expected_monthly_value: float | None = None
    expected_value_unit: str = ""
    archived: bool = False

    def seat_holders(self) -> set[int]:
        return {getattr(self, s.value) for s in Seat if getattr(self, s.value)}


# --- business units -------------------------------------------------------


class BusinessUnitIn(_Input):
    """A unit as an admin names it."""

    name: str

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return " ".join(_required_text(v, BUSINESS_UNIT_MAX).split())


class BusinessUnit(BaseModel):
    id: int
    name: str
    active: bool
    pilots: int = 0  # how many pilots (archived ones included) carry it

    @property
    def label(self) -> str:
        return self.name if self.active else f"{self.name} (retired)"


# --- weekly updates -------------------------------------------------------


class WeeklyUpdateIn(_Input):
    pilot_id: int
    health: Health
    summary: str
    blockers: str = ""
    next_steps: str = ""

    @field_validator("pilot_id")
    @classmethod
    def _id(cls, v: int) -> int:
        return check_id(v)

    @field_validator("health", mode="before")
    @classmethod
    def _health(cls, v):
        if isinstance(v, str):
            v = v.strip().lower()
        allowed = [h.value for h in Health]
        if v in ("", None):
            raise ValueError("choose green, amber or red")
        if v not in allowed and not isinstance(v, Health):
            raise ValueError(f"'{v}' is not one of green, amber, red")
        return v

    @field_validator("summary")
    @classmethod
    def _summary(cls, v: str) -> str:
        return _required_text(v, 4000, multiline=True)

    @field_validator("blockers", "next_steps")
    @classmethod
    def _free_text(cls, v: str) -> str:
        return _optional_text(v, 4000, multiline=True)


class WeeklyUpdate(BaseModel):
    id: int
    pilot_id: int
    week_start: date
    revision: int
    posted_on: date
    health: Health
    summary: str
    blockers: str
    next_steps: str
    author_id: int | None
    author_name: str | None = None
    created_at: datetime


class Flag(BaseModel):
    pilot_id: int
    pilot: str
    code: str
    severity: Severity
    reason: str


class Actor(BaseModel):
    """Who is acting: a signed-in person, or an identity that matches no
    active person (then a viewer, with no person id)."""

    person_id: int | None
    name: str
    email: str | None
    role: Role
    via: str = "app"  # or "command line": where the audit trail says the change came from

    @classmethod
    def of(cls, person: Person) -> "Actor":
        role = person.role if person.active else Role.VIEWER
        return cls(person_id=person.id, name=person.name, email=person.email, role=role)


class CriterionIn(_Input):
    statement: str
    status: CriterionStatus = CriterionStatus.UNKNOWN
    evidence: str = ""
    kpi_id: int | None = None

    @field_validator("kpi_id")
    @classmethod
    def _id(cls, v: int | None) -> int | None:
        return check_id(v)

    @field_validator("statement")
    @classmethod
    def _statement(cls, v: str) -> str:
        return _required_text(v, 500)

    @field_validator("evidence")
    @classmethod
    def _evidence(cls, v: str) -> str:
        return _optional_text(v, 2000)


class Criterion(BaseModel):
    id: int
    pilot_id: int
    statement: str
    status: CriterionStatus
    evidence: str
    version: int
    kpi_id: int | None = None


class DecisionIn(_Input):
    pilot_id: int
    kind: DecisionKind
    decided_on: date
    decided_by: int
    rationale: str
    new_go_no_go_date: date | None = None
    override_reason: str = ""
    supersedes_id: int | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, v):
        if v in (None, ""):
            raise ValueError("choose go, no-go or extend")
        return v

    @field_validator("pilot_id", "decided_by", "supersedes_id")
    @classmethod
    def _ids(cls, v: int | None) -> int | None:
        return check_id(v)

    @field_validator("decided_on", "new_go_no_go_date")
    @classmethod
    def _in_range(cls, v: date | None) -> date | None:
        return check_date_range(v)

    @field_validator("rationale")
    @classmethod
    def _rationale(cls, v: str) -> str:
        return _required_text(v, 4000, multiline=True)

    @field_validator("override_reason")
    @classmethod
    def _override(cls, v: str) -> str:
        return _optional_text(v, 2000)

    @model_validator(mode="after")
    def _extend_needs_a_date(self) -> "DecisionIn":
        if self.kind == DecisionKind.EXTEND and self.new_go_no_go_date is None:
            raise ValueError("New go/no-go date: an extension needs the new date")
        if self.kind != DecisionKind.EXTEND and self.new_go_no_go_date is not None:
            raise ValueError("New go/no-go date: only an extension sets one")
        return self


class Decision(BaseModel):
    id: int
    pilot_id: int
    kind: DecisionKind
    decided_on: date
    decided_by: int
    decided_by_name: str | None = None
    rationale: str
    stage_before: Stage
    stage_after: Stage
    go_no_go_before: date | None
    go_no_go_after: date | None
    bridge_due_before: date | None = None
    bridge_due_after: date | None = None
    override_reason: str
    criteria_snapshot: list[dict]
    supersedes_id: int | None
    superseded_by: int | None = None
    created_at: datetime


class PrivilegeIn(_Input):
    LABELS: ClassVar[dict[str, str]] = {"kind": "Kind"}

    kind: PrivilegeKind
    description: str
    granted_by: str = ""
    since: date | None = None
    expires: date | None = None

    @field_validator("description")
    @classmethod
    def _description(cls, v: str) -> str:
        return _required_text(v, 500)

    @field_validator("granted_by")
    @classmethod
    def _granted(cls, v: str) -> str:
        return _optional_text(v, 200)

    @field_validator("since", "expires")
    @classmethod
    def _in_range(cls, v: date | None) -> date | None:
        return check_date_range(v)

    @model_validator(mode="after")
    def _order(self) -> "PrivilegeIn":
        if self.since and self.expires and self.expires < self.since:
            raise ValueError(f"Expires: {self.expires} is before it was granted ({self.since})")
        return self


class Privilege(BaseModel):
    id: int
    pilot_id: int
    kind: PrivilegeKind
    description: str
    granted_by: str
    since: date | None
    expires: date | None
    disposition: Disposition
    decided_by: int | None
    decided_by_name: str | None = None
    decided_on: date | None
    note: str
    version: int
    # Given back (seed 003): on which day, by whom, with what evidence.
    revoked_on: date | None = None
    revoked_by: int | None = None
    revoked_by_name: str | None = None
    revocation_evidence: str = ""

    @property
    def must_be_revoked(self) -> bool:
        """Not to be kept: every privilege but one made permanent is given
        back once the pilot stops, and a withdrawn one when it is replaced."""
        return self.disposition != Disposition.MAKE_PERMANENT


class KpiIn(_Input):
    name: str
    category: KpiCategory
    unit: str = ""
    direction: Direction
    baseline: float | None = None
    baseline_on: date | None = None  # the day the baseline was read: before the start, to count
    target: float | None = None
    horizon_days: int | None = Field(None, ge=1, le=3650)
    production: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _required_text(v, 120)

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str) -> str:
        return _optional_text(v, 30)

    @field_validator("baseline", "target")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        return None if v is None else check_number(v)

    @field_validator("baseline_on")
    @classmethod
    def _baseline_day(cls, v: date | None) -> date | None:
        return check_date_range(v)

    @model_validator(mode="after")
    def _baseline_read(self) -> "KpiIn":
        if self.baseline_on is not None and self.baseline is None:
            raise ValueError("Baseline: a baseline date needs the baseline reading too")
        return self


class Kpi(BaseModel):
    id: int
    pilot_id: int
    name: str
    category: KpiCategory
    unit: str
    direction: Direction
    baseline: float | None
    target: float | None
    horizon_days: int | None
    production: bool
    version: int
    baseline_on: date | None = None
    latest_value: float | None = None
    latest_on: date | None = None

    def meets(self, value: float | None) -> bool | None:
        """Whether ``value`` meets the target (None: no target or no value)."""
        if value is None or self.target is None:
            return None
        return value >= self.target if self.direction == Direction.HIGHER else value <= self.target

    def change(self) -> str | None:
        """The latest reading against the baseline, in words: "-680 ms
        (-49 %), better"; None without both."""
        if self.baseline is None or self.latest_value is None:
            return None
        delta = self.latest_value - self.baseline
        unit = f" {self.unit}" if self.unit and self.unit != "%" else (" points" if self.unit == "%" else "")
        text = f"{delta:+,.4g}{unit}"
        if self.baseline:
            text += f" ({delta / abs(self.baseline) * 100:+.0f} %)"
        if delta == 0:
            return text + ", unchanged"
        better = delta < 0 if self.direction == Direction.LOWER else delta > 0
        return text + (", better" if better else ", worse")

    def describe(self, value: float) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.name}: {value:g}{unit} against a target of {self.target:g}{unit} ({self.direction.value} is better)"


class ReadingIn(_Input):
    kpi_id: int
    value: float
    reading_on: date
    note: str = ""

    @field_validator("kpi_id")
    @classmethod
    def _id(cls, v: int) -> int:
        return check_id(v)

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        return check_number(v)

    @field_validator("reading_on")
    @classmethod
    def _in_range(cls, v: date) -> date:
        return check_date_range(v)

    @field_validator("note")
    @classmethod
    def _note(cls, v: str) -> str:
        return _optional_text(v, 500)


class ReadinessItemIn(_Input):
    """A line of the standard checklist, as an admin writes it."""

    key: str
    dimension: str
    label: str
    required_for_go: bool = False
    active: bool = True

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        v = (v or "").strip().lower()
        if not re.fullmatch(r"[a-z][a-z0-9_]{1,40}", v):
            raise ValueError("use 2 to 41 lower-case letters, digits or _ , starting with a letter")
        return v

    @field_validator("dimension")
    @classmethod
    def _dimension(cls, v: str) -> str:
        if v not in READINESS_DIMENSIONS:
            raise ValueError(f"'{v}' is not one of {', '.join(READINESS_DIMENSIONS)}")
        return v

    @field_validator("label")
    @classmethod
    def _label(cls, v: str) -> str:
        return _required_text(v, 200)


# --- the handover and the check-ins after go --------------------------------


def _yes_or_no(value):
    """A yes-or-no answer a person must give: no default stands for one."""
    if value is None or value == "":
        raise ValueError("answer yes or no")
    if isinstance(value, str) and value.strip().lower() in ("yes", "no"):
        return value.strip().lower() == "yes"
    return value


class AcceptanceIn(_Input):
    """The operational owner's (or the executive sponsor's) word on the
    handover: accepted, accepted with conditions, or refused, with a note
    (the conditions, or why it is refused)."""

    LABELS: ClassVar[dict[str, str]] = {"note": "Note", "verdict": "Acceptance"}

    pilot_id: int
    seat: Seat = Seat.OPERATIONAL_OWNER
    verdict: Acceptance
    note: str = ""
    accepted_on: date

    @field_validator("verdict", mode="before")
    @classmethod
    def _verdict(cls, v):
        if v in (None, ""):
            raise ValueError("choose accepted, accepted with conditions or refused")
        return v

    @field_validator("seat")
    @classmethod
    def _seat(cls, v: Seat) -> Seat:
        if v not in ACCEPTING_SEATS:
            raise ValueError(f"the {v.label.lower()} does not accept the handover; the operational owner does")
        return v

    @field_validator("pilot_id")
    @classmethod
    def _id(cls, v: int) -> int:
        return check_id(v)

    @field_validator("accepted_on")
    @classmethod
    def _in_range(cls, v: date) -> date:
        return check_date_range(v)

    @field_validator("note")
    @classmethod
    def _note(cls, v: str) -> str:
        return _optional_text(v, 2000)

    @model_validator(mode="after")
    def _note_when_not_plain(self) -> "AcceptanceIn":
        if not self.note and self.verdict == Acceptance.WITH_CONDITIONS:
            raise ValueError("Note: say what the conditions are")
        if not self.note and self.verdict == Acceptance.REFUSED:
            raise ValueError("Note: say why the handover is refused")
        return self


class HandoverAcceptance(BaseModel):
    id: int
    pilot_id: int
    seat: Seat
    person_id: int | None
    person_name: str | None = None
    verdict: Acceptance
    note: str
    accepted_on: date
    recorded_by: int | None
    recorded_by_name: str | None = None
    created_at: datetime


class CheckinIn(_Input):
    """A check-in after go: is it used, do its production KPIs hold, is its
    cost what was expected, and a note."""

    LABELS: ClassVar[dict[str, str]] = {"note": "Note"}

    pilot_id: int
    checked_on: date
    used: bool
    kpis_hold: bool
    cost_as_expected: bool
    note: str = ""

    @field_validator("used", "kpis_hold", "cost_as_expected", mode="before")
    @classmethod
    def _answered(cls, v):
        return _yes_or_no(v)

    @field_validator("pilot_id")
    @classmethod
    def _id(cls, v: int) -> int:
        return check_id(v)

    @field_validator("checked_on")
    @classmethod
    def _in_range(cls, v: date) -> date:
        return check_date_range(v)

    @field_validator("note")
    @classmethod
    def _note(cls, v: str) -> str:
        return _optional_text(v, 2000)


class Checkin(BaseModel):
    id: int
    pilot_id: int
    due_day: int
    checked_on: date
    used: bool
    kpis_hold: bool
    cost_as_expected: bool
    note: str
    person_id: int | None
    person_name: str | None = None
    recorded_by: int | None
    created_at: datetime
