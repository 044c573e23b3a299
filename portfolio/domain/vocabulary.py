"""The tracker's vocabulary: stages, roles, seats, severities and the other
enums, the sets of them the rules use, and the words a field is shown by."""

from __future__ import annotations

from enum import Enum

FIELD_LABELS = {
    "name": "Name",
    "email": "Email",
    "role": "Role",
    "business_unit": "Business unit",
    "problem": "Problem",
    "start_date": "Start date",
    "go_no_go_date": "Go/no-go date",
    "product_owner_id": "Product owner",
    "technical_lead_id": "Technical lead",
    "executive_sponsor_id": "Executive sponsor",
    "operational_owner_id": "Operational owner",
    "health": "Health",
    "summary": "Summary",
    "blockers": "Blockers",
    "next_steps": "Next steps",
    "pilot_id": "Pilot",
    "stage": "Stage",
}


# --- enums ----------------------------------------------------------------


class Stage(str, Enum):
    PROPOSED = "proposed"
    PILOT = "pilot"
    BRIDGE = "bridge"
    PRODUCTION = "production"
    RETIRED = "retired"
    STOPPED = "stopped"

    @property
    def in_play(self) -> bool:
        """Not retired or stopped: the pilot still takes weekly updates, its
        ledger, KPIs and readiness are still kept, and its seats still matter."""
        return self not in (Stage.RETIRED, Stage.STOPPED)

    @property
    def on_the_clock(self) -> bool:
        """Inside its 90 days (or an extension): waiting for its go/no-go."""
        return self == Stage.PILOT

    @classmethod
    def where(cls, quality: str) -> tuple[Stage, ...]:
        """The stages with ``quality`` (a property's name), in order: for a
        query's ``IN`` list, say ``Stage.where("on_the_clock")``."""
        return tuple(s for s in cls if getattr(s, quality))


# A pilot may be created only in one of these; every later stage is reached
# through a decision or the promote and retire actions.
CREATABLE_STAGES = (Stage.PROPOSED, Stage.PILOT)


class Health(str, Enum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


class Role(str, Enum):
    VIEWER = "viewer"
    PRODUCT_OWNER = "product_owner"
    LEADERSHIP = "leadership"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class Severity(str, Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 is the most severe: sort ascending to see the worst first."""
        return list(Severity).index(self)


class Seat(str, Enum):
    PRODUCT_OWNER = "product_owner_id"
    TECHNICAL_LEAD = "technical_lead_id"
    EXECUTIVE_SPONSOR = "executive_sponsor_id"
    OPERATIONAL_OWNER = "operational_owner_id"

    @property
    def label(self) -> str:
        return FIELD_LABELS[self.value]


ROLE_ORDER = [Role.VIEWER, Role.PRODUCT_OWNER, Role.LEADERSHIP, Role.ADMIN]


# --- criteria and decisions -----------------------------------------------


class CriterionStatus(str, Enum):
    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class DecisionKind(str, Enum):
    GO = "go"
    NO_GO = "no_go"
    EXTEND = "extend"

    @property
    def label(self) -> str:
        return {"go": "go", "no_go": "no-go", "extend": "extend"}[self.value]


FIELD_LABELS.update({
    "statement": "Criterion",
    "status": "Status",
    "evidence": "Evidence",
    "kind": "Decision",
    "decided_on": "Decision date",
    "decided_by": "Decided by",
    "rationale": "Rationale",
    "new_go_no_go_date": "New go/no-go date",
    "override_reason": "Override reason",
    "supersedes_id": "Corrects decision",
})


# The bridge to production (seed 001): what must be true before promotion,
# besides a named operational owner. (key, label)
BRIDGE_ITEMS = [
    ("phased_rollout", "Rollout plan: phased rollout"),
    ("parallel_run", "Rollout plan: parallel run"),
    ("kill_switch", "Rollout plan: kill switch"),
    ("operators_involved", "The operators who will run it are named and involved"),
    ("monitoring", "Monitoring in place"),
    ("cost_model", "A cost model"),
]


# --- borrowed privileges, KPIs, readiness ---------------------------------


class PrivilegeKind(str, Enum):
    DATA_ACCESS = "data_access"
    PERMISSION = "permission"
    STAKEHOLDER_ACCESS = "stakeholder_access"
    SPONSOR_TIME = "sponsor_time"
    BUDGET = "budget"
    INFRASTRUCTURE = "infrastructure"
    VENDOR_SUPPORT = "vendor_support"
    OTHER = "other"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class Disposition(str, Enum):
    UNDECIDED = "undecided"
    MAKE_PERMANENT = "make_permanent"
    WITHDRAW = "withdraw"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class KpiCategory(str, Enum):
    LATENCY = "latency"
    RELIABILITY = "reliability"
    ADOPTION = "adoption"
    ERROR_RECOVERY = "error_recovery"
    COST_PER_TRANSACTION = "cost_per_transaction"
    QUALITY = "quality"
    BUSINESS_OUTCOME = "business_outcome"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class Direction(str, Enum):
    HIGHER = "higher"
    LOWER = "lower"


class ReadinessStatus(str, Enum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    NOT_APPLICABLE = "not_applicable"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


READINESS_DIMENSIONS = ["technical", "data", "organisational", "governance"]


FIELD_LABELS.update({
    "description": "What it is",
    "granted_by": "Granted by",
    "since": "Since",
    "expires": "Expires",
    "disposition": "Disposition",
    "note": "Note",
    "category": "Category",
    "unit": "Unit",
    "direction": "Direction",
    "baseline": "Baseline",
    "target": "Target",
    "horizon_days": "Horizon (days)",
    "production": "Production KPI",
    "value": "Value",
    "reading_on": "Reading date",
    "kpi_id": "KPI",
    "dimension": "Dimension",
    "label": "Item",
    "key": "Key",
    "expected_monthly_volume": "Expected monthly volume",
    "expected_monthly_value": "Expected monthly value",
    "expected_value_unit": "Expected value unit",
    "baseline_on": "Baseline date",
    "active": "Active",
    "required_for_go": "Required for go",
})


# --- the handover and the watch after go (seed 001) -----------------------


class Acceptance(str, Enum):
    """What the operational owner (and, where a setting asks, the executive
    sponsor) says of the handover before go."""

    ACCEPTED = "accepted"
    WITH_CONDITIONS = "with_conditions"
    REFUSED = "refused"

    @property
    def label(self) -> str:
        return {"accepted": "accepted", "with_conditions": "accepted with conditions",
                "refused": "refused"}[self.value]

    @property
    def accepts(self) -> bool:
        """Whether it lets a go through: accepted, or with conditions."""
        return self != Acceptance.REFUSED


# The seats whose holder records acceptance of the handover.
ACCEPTING_SEATS = (Seat.OPERATIONAL_OWNER, Seat.EXECUTIVE_SPONSOR)


FIELD_LABELS.update({
    "verdict": "Acceptance",
    "seat": "Seat",
    "accepted_on": "Date",
    "checked_on": "Check-in date",
    "used": "In use",
    "kpis_hold": "Production KPIs hold",
    "cost_as_expected": "Cost as expected",
})


# A person's choice of reminder emails (People page).
FIELD_LABELS.update({
    "person_id": "Person",
    "email_me": "Email me",
    "categories": "Email categories",
})
