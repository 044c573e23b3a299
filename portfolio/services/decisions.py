"""Go, no-go, extend, and the road to production: criteria, the decision,
the bridge checklist, promote and retire.

Stages move only here (and in pilots.start_pilot). Decisions are never
edited or deleted: a correction is a new decision that supersedes the
latest one, undoing what it did to the pilot and doing its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

from portfolio.domain import clock, rights
from portfolio.domain.errors import (
    EditConflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    validate,
)
from portfolio.domain.models import (
    Actor,
    Criterion,
    CriterionIn,
    Decision,
    DecisionIn,
    Pilot,
)
from portfolio.domain.rights import Right
from portfolio.domain.settings import Settings
from portfolio.domain.text import clean_line
from portfolio.domain.vocabulary import (
    BRIDGE_ITEMS,
    CriterionStatus,
    DecisionKind,
    Stage,
)
from portfolio.services import followthrough
from portfolio.services import handover
from portfolio.storage import audit, store
from portfolio.storage.db import write

VERDICT_GO = "go"
VERDICT_NO_GO = "no-go"
VERDICT_UNCLEAR = "not enough evidence"

# Stages in which criteria may still be written.
CRITERIA_STAGES = (Stage.PROPOSED, Stage.PILOT)


# --- criteria -------------------------------------------------------------


def suggested_verdict(criteria: list[Criterion]) -> tuple[str, str]:
    """(verdict, why): every criterion met suggests go; any not met suggests
    no-go; otherwise there is not enough evidence."""
    if not criteria:
        return VERDICT_UNCLEAR, "no go/no-go criteria were written"
    missed = [c for c in criteria if c.status == CriterionStatus.NOT_MET]
    if missed:
        return VERDICT_NO_GO, f"{len(missed)} of {len(criteria)} criteria not met"
    unknown = [c for c in criteria if c.status == CriterionStatus.UNKNOWN]
    if unknown:
        return VERDICT_UNCLEAR, f"{len(unknown)} of {len(criteria)} criteria still unknown"
    return VERDICT_GO, f"all {len(criteria)} criteria met"


def criteria_locked(pilot: Pilot, on: date, settings: Settings) -> bool:
    """From the lock day of the clock (day 15 by default) criteria are settled."""
    return bool(pilot.start_date) and clock.day_of_clock(pilot.start_date, on) >= settings.criteria_lock_day


def save_criteria(
    conn, actor: Actor, pilot_id: int, *, edits: list[dict] | None = None,
    additions: list[dict] | None = None, on: date, settings: Settings,
) -> dict[str, int]:
    """Apply edits ({"id", "statement", "status", "evidence", "remove"}) and
    additions ({"statement", "status", "evidence"}) in one transaction.

    Marking a criterion met, not met or unknown, and its evidence, is
    anyone's who may edit the pilot. Writing, rewording or removing one is
    too until kickoff ends; from the lock day only leadership may, and the
    change is recorded and flagged (CRITERIA_CHANGED)."""
    pilot = store.get_pilot(conn, pilot_id)
    rights.require(actor, Right.EDIT_PILOT, pilot, what="change the go/no-go criteria")
    if pilot.stage not in CRITERIA_STAGES:
        raise InvalidInput(
            f"Criteria: '{pilot.name}' is {pilot.stage.value}; its criteria were settled by the decision",
            field="statement",
        )
    locked = criteria_locked(pilot, on, settings)
    current = {c.id: c for c in store.list_criteria(conn, pilot_id)}
    as_stored = store.stored_criteria(conn, pilot_id) if edits else {}
    planned: list[tuple] = []
    for edit in edits or []:
        crit = current.get(edit.get("id"))
        if crit is None:
            raise NotFound(f"Criterion {edit.get('id')} is not one of this pilot's criteria", field="criterion")
        if edit.get("remove"):
            planned.append(("removed", crit, None))
            continue
        # As stored, not as shown: one tied to a KPI shows the KPI's status and
        # evidence, which are not its own to mark, and it stays tied.
        stored = as_stored.get(crit.id)
        if stored is None:  # removed by someone else since
            raise NotFound(f"There is no criterion with id {crit.id}", field="criterion")
        markable = ("statement",) if stored.kpi_id is not None else ("statement", "status", "evidence")
        current_values = {"statement": stored.statement, "status": stored.status, "evidence": stored.evidence,
                          "kpi_id": stored.kpi_id}
        new = validate(CriterionIn, **(current_values | {k: edit[k] for k in markable if k in edit}))
        if (new.statement, new.status, new.evidence) != (stored.statement, stored.status, stored.evidence):
            planned.append(("edited" if new.statement != stored.statement else "marked", crit, new))
    known = {c.statement.casefold() for c in current.values()}
    kpis = {k.id for k in store.list_kpis(conn, pilot_id)}
    for addition in additions or []:
        new = validate(CriterionIn, **addition)
        if new.kpi_id is not None and new.kpi_id not in kpis:
            raise InvalidInput(f"KPI: {new.kpi_id} is not one of this pilot's KPIs", field="kpi_id")
        if new.statement.casefold() not in known:  # else a repeated submit: added once
            planned.append(("added", None, new))
            known.add(new.statement.casefold())
    versions = {e.get("id"): e.get("version") for e in edits or []}

    rewording = [p for p in planned if p[0] != "marked"]
    if rewording and locked and not rights.may(actor, Right.CHANGE_CRITERIA_AFTER_KICKOFF):
        raise PermissionDenied(
            f"Criteria: kickoff ended on day {settings.criteria_lock_day - 1} of the clock; from then on "
            "only leadership may write, reword or remove a criterion (you may still mark them met or "
            "not met, with evidence)."
        )

    def work(c):
        audit.check_versions(c, [("criterion", crit.id, versions.get(crit.id), f"Criterion '{crit.statement}'")
                                 for action, crit, new in planned if crit is not None])
        counts = {"added": 0, "edited": 0, "removed": 0, "marked": 0}
        for action, crit, new in planned:
            counts[action] += 1
            if action == "added":
                crit_id = store.insert_criterion(c, pilot_id, new)
                audit.created(c, actor, "criterion", crit_id, "add")
                before, after = None, new.statement
            else:
                with audit.tracking(c, actor, "criterion", crit.id, "remove" if action == "removed" else action):
                    if action == "removed":
                        store.remove_criterion(c, crit.id)
                    else:
                        store.update_criterion(c, crit.id, new)
                crit_id = crit.id
                before, after = crit.statement, (None if action == "removed" else new.statement)
            if action != "marked":
                store.record_criteria_change(
                    c, pilot_id, crit_id, action, before, after, on, actor.person_id, locked
                )
        return counts

    try:
        return write(conn, work)
    except EditConflict as conflict:
        audit.record_refusal(conn, actor, conflict, "edit", {
            ("criterion", crit.id): {"statement": new.statement, "status": new.status.value, "evidence": new.evidence}
            if new is not None else {"removed": True}
            for action, crit, new in planned if crit is not None})
        raise


# --- decisions ------------------------------------------------------------


def effective_decisions(conn, pilot_id: int) -> list[Decision]:
    """The pilot's decisions that no later decision supersedes, newest first."""
    return [d for d in store.list_decisions(conn, pilot_id) if d.superseded_by is None]


def extension_count(decisions: list[Decision]) -> int:
    return sum(1 for d in decisions if d.kind == DecisionKind.EXTEND and d.superseded_by is None)


def record_decision(
    conn, actor: Actor, values: dict, settings: Settings, *, today: date | None = None
) -> Decision:
    """Record go, no-go or extend for a pilot in `pilot`, or a correction of
    the pilot's latest decision (``supersedes_id``). A no-go (a correction
    to one too) needs ``stop_reason`` (a StopReason) and may carry
    ``lessons``; they are recorded with it. With ``today`` (the pages pass
    it), a decision dated after it is refused. A go needs the operational
    owner's acceptance of the handover given by the decision date (see
    services/handover.py), or an override reason, which the decision keeps."""
    rights.require(actor, Right.DECIDE, what="record go/no-go decisions")
    values = dict(values)
    # A no-go says why, from the short list, with the lessons learned.
    stop_values = {"stop_reason": values.pop("stop_reason", None), "lessons": values.pop("lessons", "")}
    decision = validate(DecisionIn, **values)
    pilot = store.get_pilot(conn, decision.pilot_id)
    if pilot.archived:
        raise InvalidInput(f"Pilot: '{pilot.name}' is archived; an admin restores it before a decision",
                           field="pilot_id")
    try:
        decider = store.get_person(conn, decision.decided_by)
    except NotFound:
        raise InvalidInput(f"Decided by: there is no person with id {decision.decided_by}",
                           field="decided_by") from None
    if not decider.active:
        raise InvalidInput(f"Decided by: {decider.name} is inactive", field="decided_by")
    if not rights.may(Actor.of(decider), Right.DECIDE):
        raise InvalidInput(f"Decided by: {decider.name} is {decider.role.label}, not leadership",
                           field="decided_by")
    if pilot.start_date is None:
        raise InvalidInput(f"Decision: '{pilot.name}' has no start date, so no clock to decide on; "
                           "set its start date first", field="kind")
    if today is not None and decision.decided_on > today:
        raise InvalidInput(f"Decision date: {decision.decided_on} is in the future", field="decided_on")

    history = store.list_decisions(conn, pilot.id)
    effective = [d for d in history if d.superseded_by is None]
    stage, gng, bridge_due = pilot.stage, pilot.go_no_go_date, pilot.bridge_due_date
    if decision.supersedes_id is not None:
        latest = effective[0] if effective else None
        if latest is None or latest.id != decision.supersedes_id:
            raise InvalidInput(
                "Corrects decision: only the pilot's latest decision can be corrected", field="supersedes_id"
            )
        if pilot.stage != latest.stage_after:
            raise InvalidInput(
                f"Corrects decision: '{pilot.name}' has moved on to {pilot.stage.value} since that decision",
                field="supersedes_id",
            )
        # Undo what the corrected decision did, then decide again from there.
        stage, gng, bridge_due = latest.stage_before, latest.go_no_go_before, latest.bridge_due_before
        effective = effective[1:]
        if effective and decision.decided_on < effective[0].decided_on:
            raise InvalidInput(
                f"Decision date: {decision.decided_on} is before the decision of {effective[0].decided_on}",
                field="decided_on",
            )
    elif pilot.stage != Stage.PILOT:
        raise InvalidInput(
            f"Decision: '{pilot.name}' is {pilot.stage.value}, not in pilot"
            + (", so it was already decided; to change that decision, record a correction"
               if pilot.stage in (Stage.BRIDGE, Stage.STOPPED) else ""),
            field="kind",
        )
    if decision.supersedes_id is None and effective and decision.decided_on < effective[0].decided_on:
        raise InvalidInput(
            f"Decision date: {decision.decided_on} is before the latest decision of {effective[0].decided_on}",
            field="decided_on",
        )
    if pilot.start_date and decision.decided_on < pilot.start_date:
        raise InvalidInput(
            f"Decision date: {decision.decided_on} is before the start date {pilot.start_date}",
            field="decided_on",
        )

    override = decision.override_reason
    if decision.kind == DecisionKind.EXTEND:
        new = decision.new_go_no_go_date
        # "No more than 90 days later": than the go/no-go date it replaces,
        # or than the decision day when that date has already passed.
        base = max(gng, decision.decided_on) if gng else decision.decided_on
        latest_allowed = base + timedelta(days=settings.max_extension_days)
        if new <= decision.decided_on or (gng and new <= gng):
            raise InvalidInput(
                f"New go/no-go date: {new} must be after the decision date"
                + (f" and the current go/no-go date {gng}" if gng else ""),
                field="new_go_no_go_date",
            )
        if new > latest_allowed:
            raise InvalidInput(
                f"New go/no-go date: {new} is more than {settings.max_extension_days} days after "
                f"{base} (at most {latest_allowed})",
                field="new_go_no_go_date",
            )
        number = extension_count(effective) + 1
        if number >= settings.extension_limit and not override:
            raise InvalidInput(
                f"Override reason: this would be extension {number}, which reaches the limit of "
                f"{settings.extension_limit}; say why the pilot should go on anyway",
                field="override_reason",
            )
        stage_after, gng_after, bridge_after = Stage.PILOT, new, bridge_due
    elif decision.kind == DecisionKind.GO:
        # Seed 001: the people who will run it accept it before go, not
        # after go-live. Without their acceptance, only an override on record.
        missing = handover.go_acceptance_gaps(conn, pilot, settings, decision.decided_on)
        if missing and not override:
            raise InvalidInput(
                "Override reason: go needs the operational owner's acceptance of the handover"
                + (" and the executive sponsor's" if settings.acceptance_by_sponsor else "")
                + f" ({'; '.join(missing)}); record it on the pilot page (Handover and check-ins), "
                "or give the reason to go anyway",
                field="override_reason",
            )
        stage_after, gng_after = Stage.BRIDGE, gng
        bridge_after = decision.decided_on + timedelta(days=settings.bridge_days)
    else:
        stage_after, gng_after, bridge_after = Stage.STOPPED, gng, None

    stop = followthrough.check_stop(stop_values) if decision.kind == DecisionKind.NO_GO else None
    snapshot = [
        {"statement": c.statement, "status": c.status.value, "evidence": c.evidence}
        for c in store.list_criteria(conn, pilot.id, decision.decided_on)
    ]

    def work(c):
        audit.check_version(c, "pilot", pilot.id, pilot.version, f"'{pilot.name}'")
        decision_id = store.insert_decision(c, {
            "pilot_id": pilot.id, "kind": decision.kind.value, "decided_on": decision.decided_on,
            "decided_by": decision.decided_by, "recorded_by": actor.person_id,
            "rationale": decision.rationale, "stage_before": stage.value,
            "stage_after": stage_after.value, "go_no_go_before": gng, "go_no_go_after": gng_after,
            "bridge_due_before": bridge_due, "bridge_due_after": bridge_after,
            "override_reason": override, "criteria_snapshot": json.dumps(snapshot),
            "supersedes_id": decision.supersedes_id,
        })
        audit.created(c, actor, "decision", decision_id,
                      "correct" if decision.supersedes_id else decision.kind.value)
        with audit.tracking(c, actor, "pilot", pilot.id, f"decision: {decision.kind.label}"):
            store.set_pilot_state(c, pilot.id, stage=stage_after, go_no_go_date=gng_after,
                                  bridge_due_date=bridge_after)
        if stop is not None:
            followthrough.record_stop(c, actor, pilot.id, stop, Stage.STOPPED, decision.decided_on,
                                      decision_id=decision_id)
        return next(d for d in store.list_decisions(c, pilot.id) if d.id == decision_id)

    return write(conn, work)


# --- the bridge, promote, retire ------------------------------------------


@dataclass(frozen=True)
class BridgePilot:
    """A bridge pilot as the Decisions page shows it: its checklist (by
    item key) and what stands between it and production."""

    pilot: Pilot
    checklist: dict[str, dict]
    gaps: list[str]


def _gaps(pilot: Pilot, owner_active: bool | None, checklist: dict[str, dict]) -> list[str]:
    gaps = []
    if pilot.operational_owner_id is None:
        gaps.append("no operational owner")
    elif not owner_active:
        gaps.append("the operational owner is inactive")
    return gaps + [label for key, label in BRIDGE_ITEMS if not checklist.get(key, {}).get("done")]


def bridge_gaps(conn, pilot: Pilot) -> list[str]:
    """What stands between a bridge pilot and production."""
    owner = pilot.operational_owner_id
    active = store.get_person(conn, owner).active if owner is not None else None
    return _gaps(pilot, active, store.bridge_checklist(conn, pilot.id))


def bridge_pilots(conn, pilot_ids: list[int]) -> list[BridgePilot]:
    """The pilots of ``pilot_ids`` (the bridge pilots a page lists), in
    that order, each with its checklist and its gaps: one read for all of
    them, however many there are."""
    found = store.bridge_pilots(conn, pilot_ids)
    missing = set(pilot_ids) - {pilot.id for pilot, _, _ in found}
    if missing:
        raise NotFound(f"There is no pilot with id {min(missing)}", field="pilot_id")
    return [BridgePilot(pilot, checklist, _gaps(pilot, active, checklist)) for pilot, active, checklist in found]


def save_bridge_checklist(conn, actor: Actor, pilot_id: int, items: dict[str, dict]) -> None:
    """``items``: {key: {"done": bool, "note": str}} for BRIDGE_ITEMS keys."""
    pilot = store.get_pilot(conn, pilot_id)
    rights.require(actor, Right.EDIT_PILOT, pilot, what="update the bridge checklist")
    if pilot.stage != Stage.BRIDGE:
        raise InvalidInput(f"Bridge: '{pilot.name}' is {pilot.stage.value}, not in bridge", field="stage")
    known = dict(BRIDGE_ITEMS)
    for key in items:
        if key not in known:
            raise InvalidInput(f"Bridge: '{key}' is not a checklist item", field="item")

    parsed = []
    for key, value in items.items():
        if not isinstance(value, dict) or not isinstance(value.get("done", False), bool):
            raise InvalidInput(f"{known[key]}: give done as true or false, with an optional note", field="done")
        note = clean_line(value.get("note") or "").strip()
        if len(note) > 2000:
            raise InvalidInput(f"{known[key]}: the note must be at most 2000 characters", field="note")
        parsed.append((key, value.get("done", False), note))

    def work(c):
        for key, done, note in parsed:
            with audit.tracking(c, actor, "bridge_check", (pilot_id, key), "save"):
                store.set_bridge_item(c, pilot_id, key, done, note, actor.person_id)

    write(conn, work)


def promote(conn, actor: Actor, pilot_id: int, on: date, override_reason: str = "") -> Pilot:
    """Bridge to production: needs the operational owner and the checklist
    done, or an override whose reason stays on record."""
    rights.require(actor, Right.PROMOTE_RETIRE, what="promote a pilot to production")
    pilot = store.get_pilot(conn, pilot_id)
    if pilot.stage != Stage.BRIDGE:
        raise InvalidInput(f"Stage: '{pilot.name}' is {pilot.stage.value}; only a bridge pilot is promoted",
                           field="stage")
    gaps = bridge_gaps(conn, pilot)
    override_reason = clean_line(override_reason).strip()
    if gaps and not override_reason:
        raise InvalidInput(
            "Override reason: not ready for production (" + "; ".join(gaps)
            + "); finish these, or give the reason to promote anyway",
            field="override_reason",
        )
    return _move(conn, actor, pilot, Stage.PRODUCTION, "promote", on,
                 override_reason if gaps else "", "; ".join(gaps))


def retire(conn, actor: Actor, pilot_id: int, on: date, note: str = "", *, stop_reason: str | None = None,
           lessons: str = "") -> Pilot:
    """End a production pilot's life, saying why from the short list of
    reasons (``stop_reason``), with the lessons learned."""
    rights.require(actor, Right.PROMOTE_RETIRE, what="retire a pilot")
    pilot = store.get_pilot(conn, pilot_id)
    if pilot.stage != Stage.PRODUCTION:
        raise InvalidInput(f"Stage: '{pilot.name}' is {pilot.stage.value}; only a production pilot is retired",
                           field="stage")
    stop = followthrough.check_stop({"stop_reason": stop_reason, "lessons": lessons})
    return _move(conn, actor, pilot, Stage.RETIRED, "retire", on, "", clean_line(note).strip(),
                 then=lambda c, event: followthrough.record_stop(c, actor, pilot.id, stop, Stage.RETIRED, on,
                                                                 stage_event_id=event))


def _move(conn, actor, pilot, to: Stage, action: str, on: date, override: str, note: str, then=None) -> Pilot:
    """Move ``pilot`` to ``to``; ``then(c, stage_event_id)`` writes what
    belongs with the move, in the same transaction."""
    def work(c):
        if store.get_pilot(c, pilot.id).stage == to:
            return store.get_pilot(c, pilot.id)  # a repeated submit: already moved
        with audit.tracking(c, actor, "pilot", pilot.id, action):
            store.set_pilot_state(c, pilot.id, stage=to, go_no_go_date=pilot.go_no_go_date,
                                  bridge_due_date=pilot.bridge_due_date)
        event = store.record_stage_event(c, pilot.id, action, pilot.stage, to, on, actor.person_id, override, note)
        audit.created(c, actor, "stage_event", event, action)
        if then is not None:
            then(c, event)
        return store.get_pilot(c, pilot.id)

    return write(conn, work)
