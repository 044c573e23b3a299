"""The decision followed through (seeds 003 and 004): borrowed privileges
given back once the pilot stops (or past their expiry), with the day, who
and the evidence; why pilots were stopped or retired and what was learned,
as one searchable list; and, when a pilot is created, the stopped ones it
resembles.

Recording a revocation is for those who hold the access day to day: the
pilot's product owner and technical lead, and admins (``Right.REVOKE_PRIVILEGE``).
The reason a pilot stops is written with its no-go or its retirement, in
the same transaction (``services/decisions.py`` calls ``check_stop`` and
``record_stop``).
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from portfolio.domain import rights
from portfolio.domain.errors import EditConflict, InvalidInput, NotFound, validate
from portfolio.domain.followthrough import RevocationIn, StopIn, StopReason, reason_label
from portfolio.domain.models import Actor, check_id
from portfolio.domain.rights import Right
from portfolio.domain.vocabulary import Disposition, Stage
from portfolio.storage import audit, store
from portfolio.storage import followthrough as follow_store
from portfolio.storage.db import write

# --- revocations ----------------------------------------------------------


def revoke_privilege(conn, actor: Actor, privilege_id, values: dict, *, today: date | None = None,
                     expected_version: int | None = None) -> None:
    """Record that a borrowed privilege was given back: ``values`` holds
    ``revoked_on`` and ``evidence``. Only one not made permanent is
    revoked; a day after ``today`` (the pages pass it) or before the
    privilege was granted is refused. Recording the same again writes
    nothing; with ``expected_version``, a privilege someone else changed
    since is refused, naming them."""
    try:
        privilege_id = check_id(int(privilege_id))
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"Privilege: '{privilege_id}' is not a privilege id", field="privilege") from None
    pilot_id = store.privilege_pilot(conn, privilege_id)
    if pilot_id is None:
        raise NotFound(f"There is no borrowed privilege with id {privilege_id}", field="privilege")
    pilot = store.get_pilot(conn, pilot_id)
    if pilot.archived:
        raise InvalidInput(f"Pilot: '{pilot.name}' is archived; an admin restores it before anyone may record "
                           "a revocation", field="pilot_id")
    rights.require(actor, Right.REVOKE_PRIVILEGE, pilot)
    revocation = validate(RevocationIn, **values)
    privilege = next(p for p in store.list_privileges(conn, pilot_id) if p.id == privilege_id)
    if privilege.disposition == Disposition.MAKE_PERMANENT:
        raise InvalidInput(f"Privilege: '{privilege.description}' was made permanent; it is kept, not revoked",
                           field="privilege")
    if today is not None and revocation.revoked_on > today:
        raise InvalidInput(f"Revoked on: {revocation.revoked_on} is in the future (today is {today})",
                           field="revoked_on")
    if privilege.since and revocation.revoked_on < privilege.since:
        raise InvalidInput(f"Revoked on: {revocation.revoked_on} is before it was granted ({privilege.since})",
                           field="revoked_on")

    def work(c):
        if follow_store.revocation(c, privilege_id) == (revocation.revoked_on, revocation.evidence):
            return  # already so (a repeated submit)
        audit.check_version(c, "privilege", privilege_id, expected_version,
                            f"The privilege '{privilege.description}'")
        with audit.tracking(c, actor, "privilege", privilege_id, "revoke"):
            follow_store.revoke_privilege(c, privilege_id, revocation.revoked_on, actor.person_id,
                                          revocation.evidence)

    try:
        write(conn, work)
    except EditConflict as conflict:
        audit.record_refusal(conn, actor, conflict, "revoke", {
            "revoked_on": revocation.revoked_on.isoformat(), "revocation_evidence": revocation.evidence})
        raise


def still_holding(conn, as_of: date) -> pd.DataFrame:
    """The Portfolio page's "still holding" list: one row per stopped or
    retired pilot that still holds, on ``as_of``, a borrowed privilege not
    made permanent, with what it holds in words, oldest stop first."""
    rows = follow_store.still_holding(conn, as_of)
    columns = ["pilot_id", "pilot", "stage", "stopped_on", "business_unit", "product_owner", "holding", "count"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    rows["item"] = [f"{d} ({k.replace('_', ' ')}, {Disposition(s).label})"
                    for d, k, s in zip(rows["description"], rows["kind"], rows["disposition"])]
    out = (rows.groupby(["pilot_id", "pilot", "stage", "business_unit"], dropna=False, sort=False)
           .agg(stopped_on=("stopped_on", "first"), product_owner=("product_owner", "first"),
                holding=("item", "; ".join), count=("privilege_id", "count"))
           .reset_index())
    return out.sort_values(["stopped_on", "pilot"], na_position="first")[columns].reset_index(drop=True)


# --- stop reasons ---------------------------------------------------------


def check_stop(values: dict) -> StopIn:
    """The reason and lessons of a no-go or a retirement, checked before
    anything is written."""
    return validate(StopIn, reason=values.get("stop_reason"), lessons=values.get("lessons") or "")


def record_stop(c, actor: Actor, pilot_id: int, stop: StopIn, stage_after: Stage, on: date, *,
                decision_id: int | None = None, stage_event_id: int | None = None) -> int:
    """Write the stop record inside the caller's transaction, audited."""
    record_id = follow_store.insert_stop_record(c, {
        "pilot_id": pilot_id, "decision_id": decision_id, "stage_event_id": stage_event_id,
        "stage_after": stage_after.value, "stopped_on": on, "reason": stop.reason.value,
        "lessons": stop.lessons, "recorded_by": actor.person_id,
    })
    audit.created(c, actor, "stop_record", record_id, "record")
    return record_id


def latest_stage_event(c, pilot_id: int, action: str) -> int | None:
    return follow_store.latest_stage_event(c, pilot_id, action)


def stop_reasons(conn, pilot_id: int) -> dict[tuple[str, int], tuple[str, str]]:
    """The pilot's stop reasons in words with their lessons, by the act they
    came with: ("decision", id) for a no-go, ("stage_event", id) for a
    retirement."""
    rows = follow_store.stop_records(conn, pilot_id)
    out = {}
    for decision_id, event_id, reason, lessons in zip(rows["decision_id"], rows["stage_event_id"], rows["reason"],
                                                      rows["lessons"]):
        key = ("decision", int(decision_id)) if pd.notna(decision_id) else ("stage_event", int(event_id))
        out[key] = (reason_label(reason), lessons or "")
    return out


def stop_history(conn, pilot_id: int) -> pd.DataFrame:
    """The pilot's stop reasons as a person reads them, newest first."""
    rows = follow_store.stop_records(conn, pilot_id)
    return pd.DataFrame({
        "When": rows["stopped_on"], "Became": rows["stage_after"], "Reason": [reason_label(r) for r in rows["reason"]],
        "Lessons learned": rows["lessons"], "Recorded by": rows["recorded_by"],
    })


# The columns of the Stopped pilots view, in words.
GRAVEYARD_WORDS = {"pilot": "Pilot", "business_unit": "Business unit", "stage": "Stage", "stopped_on": "Stopped on",
                   "year": "Year", "reason": "Reason", "lessons": "Lessons learned", "rationale": "Rationale"}


def stopped_pilots(conn, *, words: str = "", reasons: list[str] | None = None, units: list[str] | None = None,
                   years: list[int] | None = None) -> pd.DataFrame:
    """The stopped and retired pilots with why and what was learned, newest
    first: those holding every one of ``words`` (name, problem, lessons,
    rationale, unit; any case), of the given reasons, units and years."""
    rows = follow_store.stopped_pilots(conn, words)
    rows["reason"] = [reason_label(r) or "not recorded" for r in rows["reason"]]
    if reasons:
        wanted = {reason_label(r) for r in reasons}
        rows = rows[rows["reason"].isin(wanted)]
    if units:
        rows = rows[rows["business_unit"].isin(units)]
    if years:
        rows = rows[rows["year"].isin(years)]
    rows["year"] = rows["year"].astype("Int64")
    return rows.reset_index(drop=True)


def stopped_by_reason(rows: pd.DataFrame) -> pd.DataFrame:
    """How many of ``rows`` (stopped_pilots) stopped for each reason, the
    most common first."""
    if rows.empty:
        return pd.DataFrame(columns=["Reason", "Pilots"])
    counts = rows.groupby("reason").size().sort_values(ascending=False, kind="stable")
    return pd.DataFrame({"Reason": counts.index, "Pilots": counts.to_numpy()})


def _in_words(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.copy()
    rows["reason"] = [reason_label(r) or "not recorded" for r in rows["reason"]]
    return rows


def resembling(conn, name: str, problem: str = "") -> pd.DataFrame:
    """The stopped and retired pilots a new pilot called ``name`` (solving
    ``problem``) resembles, with their reasons and lessons, the most alike
    first; empty for a blank name."""
    if not (name or "").strip():
        return follow_store.similar_stopped(conn, pd.DataFrame(columns=["key", "name", "problem"]))
    found = follow_store.similar_stopped(conn, pd.DataFrame({"key": [0], "name": [name], "problem": [problem or ""]}))
    return _in_words(found).drop(columns=["key"])


def resembling_rows(conn, rows: pd.DataFrame) -> pd.DataFrame:
    """For an import's new pilots (``rows``: columns ``row``, ``name``,
    ``problem``), the stopped and retired pilots each resembles, with their
    reasons: one query for all of them, in words for the Import page."""
    found = follow_store.similar_stopped(conn, rows.rename(columns={"row": "key"}).fillna(""))
    if found.empty:
        return pd.DataFrame(columns=["Row", "New pilot", "Resembles", "Stage", "Stopped on", "Reason",
                                     "Lessons learned"])
    names = dict(zip(rows["row"], rows["name"]))
    found = _in_words(found)
    return pd.DataFrame({
        "Row": found["key"].astype(int), "New pilot": [names.get(k, "") for k in found["key"]],
        "Resembles": found["pilot"], "Stage": found["stage"], "Stopped on": found["stopped_on"],
        "Reason": found["reason"], "Lessons learned": found["lessons"],
    })


REASON_CHOICES = [r.value for r in StopReason]
