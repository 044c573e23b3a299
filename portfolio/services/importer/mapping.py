"""The mapping: which column of the file fills which field, what the file's
stage values mean and which way round its dates are; guessed from the column
names, or kept as TOML beside the file."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from portfolio.domain.errors import InvalidInput
from portfolio.domain.vocabulary import FIELD_LABELS, Stage

# The fields a column of the file can fill. The four seats hold emails.
FIELDS = (
    "tracker_id", "external_id", "name", "business_unit", "problem", "stage", "start_date", "go_no_go_date",
    "product_owner", "technical_lead", "executive_sponsor", "operational_owner",
    "expected_monthly_volume", "expected_monthly_value", "expected_value_unit",
)
SEATS = {
    "product_owner": "product_owner_id",
    "technical_lead": "technical_lead_id",
    "executive_sponsor": "executive_sponsor_id",
    "operational_owner": "operational_owner_id",
}
DATE_FIELDS = ("start_date", "go_no_go_date")
# The business case: numbers, and the value's unit (a currency or hours).
NUMBER_FIELDS = ("expected_monthly_volume", "expected_monthly_value")
CASE_FIELDS = (*NUMBER_FIELDS, "expected_value_unit")
TEXT_FIELDS = ("name", "business_unit", "problem")
LABELS = {
    "tracker_id": "Tracker id",
    "external_id": "External id",
    **{f: FIELD_LABELS[f] for f in ("name", "business_unit", "problem", "stage", "start_date", "go_no_go_date")},
    **{f: FIELD_LABELS[seat] for f, seat in SEATS.items()},
    **{f: FIELD_LABELS[f] for f in CASE_FIELDS},
}
FIELD_BY_LABEL = {label: f for f, label in LABELS.items()}
STAGE_NAMES = [s.value for s in Stage]

# The columns a rejects file adds to the original ones. A rejects file fixed
# and imported again carries both; they are ours, not the organisation's, so
# they are not kept as attributes.
REJECT_COLUMNS = ("row", "reason")


class Mapping(BaseModel):
    """Which column of the file fills which field, what the file's stage
    values mean, and whether 8/4/2025 is in August (mdy) or April (dmy)."""

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, Stage]] = Field(default_factory=dict)
    date_order: Literal["mdy", "dmy"] = "mdy"

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, columns: dict[str, str]) -> dict[str, str]:
        for name, column in columns.items():
            if name not in FIELDS:
                raise ValueError(f"'{name}' is not a field; the fields are {', '.join(FIELDS)}")
            if not column.strip():
                raise ValueError(f"{name}: the column name is blank")
        return columns

    @field_validator("values", mode="before")
    @classmethod
    def _known_stages(cls, values):
        if not isinstance(values, dict):
            return values  # pydantic says what is wrong with the shape
        out = {}
        for name, table in values.items():
            if name != "stage":
                raise ValueError(f"'{name}': only the values of stage can be mapped")
            if not isinstance(table, dict):
                raise ValueError("stage: expected a table of value in the file = stage")
            out[name] = {}
            for raw, stage in table.items():
                text = stage.value if isinstance(stage, Stage) else str(stage).strip().lower()
                if text not in STAGE_NAMES:
                    raise ValueError(
                        f"stage value '{raw}' is mapped to '{stage}', which is not a stage "
                        f"({', '.join(STAGE_NAMES)})"
                    )
                out[name][str(raw)] = text
        return out


def norm(text: str) -> str:
    """Column names and values compared without case, spaces or punctuation."""
    return re.sub(r"[^0-9a-z]", "", str(text).casefold())


# The column names each field is guessed from, best first, normalised.
SYNONYMS = {
    "tracker_id": ["trackerid", "trackerpilotid"],
    # A bare "id" last: a file's own identifier, unless the file is the
    # tracker's export, where tracker_id (guessed first) takes it.
    "external_id": ["externalid", "usecaseid", "usecaseref", "usecasenumber", "usecaseno", "usecaseidentifier",
                    "pilotref", "pilotid", "inventoryid", "recordid", "identifier", "reference", "ref", "extid",
                    "id"],
    "name": ["name", "title", "pilot", "pilotname", "usecase", "usecasename", "usecasetitle", "project",
             "projectname", "initiative", "initiativename", "systemname", "aiusecase"],
    "business_unit": ["businessunit", "bu", "unit", "department", "division", "agency", "agencyname", "bureau",
                      "office", "businessarea", "team", "organisation", "organization", "owningunit"],
    "problem": ["problem", "description", "problemstatement", "businessproblem", "purpose", "usecasedescription",
                "summary", "summaryofuse", "usecasesummary", "usecasepurpose", "intendedpurpose",
                "purposeandbenefits", "problemtobesolved"],
    "stage": ["stage", "status", "phase", "developmentstage", "stageofdevelopment", "lifecyclestage",
              "currentstage", "pilotstage", "maturity"],
    "start_date": ["startdate", "start", "pilotstart", "pilotstartdate", "started", "startedon", "datestarted",
                   "kickoff", "kickoffdate", "dateinitiated", "initiated", "operationaldate", "launchdate"],
    "go_no_go_date": ["gonogodate", "gonogo", "decisiondate", "gonogodecision", "decisiondue", "decision"],
    "product_owner": ["productowner", "owner", "po", "contact", "contactemail", "pointofcontact", "poc",
                      "pocemail", "responsibleofficial"],
    "technical_lead": ["technicallead", "techlead", "tl"],
    "executive_sponsor": ["executivesponsor", "sponsor", "execsponsor"],
    "operational_owner": ["operationalowner", "opsowner", "operationsowner"],
    "expected_monthly_volume": ["expectedmonthlyvolume", "monthlyvolume", "expectedvolume", "volume",
                                "volumepermonth", "transactionspermonth", "monthlytransactions",
                                "expectedtransactions", "productionvolume", "expectedmonthlyvolumetransactions"],
    "expected_monthly_value": ["expectedmonthlyvalue", "monthlyvalue", "expectedvalue", "valuepermonth",
                               "expectedmonthlybenefit", "monthlybenefit", "expectedbenefit", "benefitpermonth",
                               "monthlysavings", "expectedsavings", "savingspermonth", "businessvalue", "value"],
    "expected_value_unit": ["expectedvalueunit", "valueunit", "valuecurrency", "unitofvalue", "benefitunit",
                            "savingsunit", "currency"],
}
for _seat in SEATS:
    # A seat's column often says it holds an email; when a file has both a
    # name and an email column for a seat (the tracker's CSV export does),
    # the email column is the one people are matched by.
    SYNONYMS[_seat] = [s + suffix for s in SYNONYMS[_seat] for suffix in ("email", "emailaddress")] + SYNONYMS[_seat]


def _export_signature() -> tuple[set[str], set[str]]:
    from portfolio.services.reporting.export import (  # the export owns its columns
        COMPUTED_COLUMNS,
        header_words,
    )

    computed = {norm(c) for c in COMPUTED_COLUMNS} | {norm(header_words(c, "pilot")) for c in COMPUTED_COLUMNS}
    return computed, {norm("id"), norm(header_words("id", "pilot"))}


def is_pilots_export(columns) -> bool:
    """Whether the columns are those of the tracker's own pilots export (CSV
    or the workbook's Pilots sheet): its id and the columns it computes."""
    norms = {norm(c) for c in columns}
    computed, ids = _export_signature()
    return bool(norms & ids) and {"day", "daysleft", "flags", "reasons"} <= norms


def export_ignored(columns, source: dict[str, str]) -> list[str]:
    """In a file the tracker exported, the columns it computed (the clock,
    the flags, what only decisions change) and the seat holders' names
    beside their emails: they are not the pilot's to import, so they are
    ignored rather than kept as attributes."""
    if not is_pilots_export(columns):
        return []
    computed, _ = _export_signature()
    mapped = set(source.values())
    seat_names = {norm(s) for s in SEATS} | {norm(LABELS[s]) for s in SEATS}
    return [c for c in columns if c not in mapped and (norm(c) in computed or norm(c) in seat_names)]


# The words a file's stage column commonly uses, by the stage each means,
# compared like column names (without case, spaces or punctuation): the
# stage names themselves, the lifecycle words of public AI use-case
# inventories ("Initiated", "Development and acquisition", "Implementation
# and assessment", "Operation and maintenance", "Retired") and the plain
# words people write. Anything else (and words that could mean two stages,
# such as "On hold", "Active" or "Completed") is not guessed: a person
# chooses.
STAGE_SYNONYMS = {
    Stage.PROPOSED: ["proposed", "predeployment", "planned", "planning", "initiated", "initiation", "idea",
                     "concept", "ideation", "notstarted", "backlog", "discovery", "exploration", "exploratory",
                     "research", "requested", "submitted", "underconsideration", "new", "draft"],
    Stage.PILOT: ["pilot", "piloting", "inpilot", "pilotphase", "indevelopment", "development", "developing",
                  "developmentandacquisition", "acquisitionanddevelopment", "acquisitionandordevelopment",
                  "acquisition", "testing", "test", "intesting", "prototype", "prototyping",
                  "proofofconcept", "poc", "implementation", "implementationandassessment", "assessment",
                  "evaluation", "trial", "inprogress", "experiment", "experimental", "beta"],
    Stage.BRIDGE: ["bridge", "bridging", "scaling", "scaleup", "rollout", "rollingout", "transition"],
    Stage.PRODUCTION: ["production", "inproduction", "deployed", "deployment", "operational", "inoperation",
                       "operationandmaintenance", "operationsandmaintenance", "operations", "live", "inuse",
                       "implemented", "launched", "released", "inservice", "productionuse"],
    Stage.RETIRED: ["retired", "decommissioned", "sunset", "sunsetted", "archived", "endoflife"],
    Stage.STOPPED: ["stopped", "cancelled", "canceled", "discontinued", "abandoned", "terminated", "halted",
                    "rejected", "withdrawn", "nogo", "shelved"],
}
STAGE_BY_WORD = {word: stage for stage, words in STAGE_SYNONYMS.items() for word in words}


def propose_stage(value: str) -> Stage | None:
    """The stage a file's stage value most likely means ("Deployed" is
    production, "Pre-deployment" proposed), or None when it is not one of
    the common words: that value needs a person's choice."""
    return STAGE_BY_WORD.get(norm(value))


def stage_proposals(values) -> dict[str, Stage | None]:
    """Each distinct value of a stage column (trimmed, first spelling kept,
    blanks left out) with its proposed stage, or None where a person must
    choose."""
    out: dict[str, Stage | None] = {}
    seen: set[str] = set()
    for value in values:
        text = " ".join(str(value if value is not None else "").split())
        if not text or norm_value(text) in seen:
            continue
        seen.add(norm_value(text))
        out[text] = propose_stage(text)
    return out


def guess_mapping(columns, frame: pd.DataFrame | None = None) -> Mapping:
    """A mapping guessed from the column names; each field takes at most one
    column and each column at most one field. Given the file's table, the
    stage column's values are proposed a stage each from common words
    (``propose_stage``); a value not placed is left out of the mapping, so
    its rows keep their problem until a person maps it. A file the tracker
    exported maps back onto its pilots by their tracker id."""
    columns = list(columns)
    by_norm: dict[str, str] = {}
    for column in columns:
        by_norm.setdefault(norm(column), column)
    chosen: dict[str, str] = {}
    used: set[str] = set()
    for name in FIELDS:
        synonyms = SYNONYMS[name]
        if name == "tracker_id" and is_pilots_export(columns):
            synonyms = synonyms + ["id"]  # a bare "id" is the tracker's only in its own export
        for synonym in synonyms:
            column = by_norm.get(synonym)
            if column is not None and column not in used:
                chosen[name] = column
                used.add(column)
                break
    values = {}
    if frame is not None and "stage" in chosen and chosen["stage"] in frame.columns:
        proposed = stage_proposals(frame[chosen["stage"]].tolist())
        # A value that is a stage's name needs no mapping.
        values = {"stage": {raw: stage for raw, stage in proposed.items()
                            if stage is not None and norm_value(raw) not in STAGE_NAMES}}
    return Mapping(columns=chosen, values=values)


def load_mapping(text: str | bytes) -> Mapping:
    """A mapping from its TOML (see ``dump_mapping`` for the shape)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"Mapping: not valid TOML: {exc}", field="mapping") from None
    try:
        return Mapping(**data)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()))
            msg = err.get("msg", "is not valid").removeprefix("Value error, ")
            if err.get("type") == "extra_forbidden":
                msg = "is not a setting of a mapping (date_order, [columns], [values.stage])"
            parts.append(f"[{loc}] {msg}" if loc else msg)
        raise InvalidInput("Mapping: " + "; ".join(parts), field="mapping") from None


def _toml_string(text: str) -> str:
    # A JSON string is a TOML basic string, except that TOML wants DEL escaped.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def dump_mapping(mapping: Mapping) -> str:
    """The mapping as TOML that ``load_mapping`` reads back."""
    lines = [f"date_order = {_toml_string(mapping.date_order)}", "", "[columns]"]
    lines += [f"{name} = {_toml_string(mapping.columns[name])}" for name in FIELDS if name in mapping.columns]
    for name, table in mapping.values.items():
        lines += ["", f"[values.{name}]"]
        lines += [f"{_toml_string(raw)} = {_toml_string(stage.value)}" for raw, stage in table.items()]
    return "\n".join(lines) + "\n"


def norm_value(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def resolve_columns(frame: pd.DataFrame, mapping: Mapping) -> dict[str, str]:
    """Field -> the file's column. A column is found by its exact name, else
    by the one name equal to it without case, spaces and punctuation."""
    if "name" not in mapping.columns:
        raise InvalidInput("Mapping: no column is mapped to name, and every pilot needs its name", field="name")
    by_norm: dict[str, list[str]] = {}
    for column in frame.columns:
        by_norm.setdefault(norm(column), []).append(column)
    source = {}
    for name, column in mapping.columns.items():
        if column in frame.columns:
            source[name] = column
        elif len(by_norm.get(norm(column), [])) == 1:
            source[name] = by_norm[norm(column)][0]
        else:
            raise InvalidInput(
                f"Mapping: {name} is mapped to the column '{column}', which is not in the file "
                f"(its columns: {', '.join(map(str, frame.columns))})",
                field=name,
            )
    taken: dict[str, str] = {}
    for name, column in source.items():
        if column in taken:
            raise InvalidInput(
                f"Mapping: the column '{column}' is mapped to both {taken[column]} and {name}; a column fills "
                "one field, so map one of them to another column or to none",
                field=name,
            )
        taken[column] = name
    return source
