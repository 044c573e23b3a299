"""Applying the plan: an admin writes it in one transaction, all or
nothing, or only the valid rows with the rejected ones handed back; and the
rejected rows written out as a file to fix and import again."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Callable

import pandas as pd

from portfolio.domain import rights
from portfolio.domain.errors import InvalidInput
from portfolio.domain.models import Actor
from portfolio.domain.rights import Right
from portfolio.domain.text import plural
from portfolio.services import units
from portfolio.services.importer.mapping import REJECT_COLUMNS, SEATS
from portfolio.services.importer.plan import ImportPlan, changes_in_words, local_part_name
from portfolio.services.importer.read import row_numbers
from portfolio.storage import audit, imports
from portfolio.storage.db import write

# Progress is reported, and rows written, this many at a time.
CHUNK_ROWS = 500
# The plan's actions of a row matched to a stored pilot.
MATCHED = ("update", "unchanged")


@dataclass
class ImportResult:
    """What an import wrote. ``updated`` counts the rows that changed the
    stored pilot they match, ``unchanged`` those that matched one and left
    it as it was (attributes included); so created + updated + unchanged +
    len(rejected) is the number of rows in the file, and importing the same
    file twice creates and updates nothing the second time."""

    created: int
    updated: int
    rejected: pd.DataFrame
    new_people: list[str] = dataclass_field(default_factory=list)
    changes: list[tuple] = dataclass_field(default_factory=list)  # (external_id, field, before, after)
    unchanged: int = 0

    def changes_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.changes, columns=["external_id", "field", "before", "after"])

    def changes_table(self) -> pd.DataFrame:
        """The changes under headers in words, fields by their labels."""
        return changes_in_words(self.changes_frame())

    def summary(self) -> str:
        """What the import did, in one sentence."""
        unchanged = f", {self.unchanged:,} unchanged" if self.unchanged else ""
        return (f"Imported {plural(self.created + self.updated + self.unchanged, 'row')} ({self.created:,} new, "
                f"{self.updated:,} updated{unchanged}); rejected {len(self.rejected):,}.")


def rejected_rows(plan: ImportPlan) -> pd.DataFrame:
    """The rows with problems as they were in the file, with their row number
    and the reasons."""
    reasons: dict[int, list[str]] = {}
    for row, _, _, text in plan.problems:
        reasons.setdefault(row, []).append(text)
    numbers = row_numbers(plan.frame)
    mask = [n in reasons for n in numbers]
    out = plan.frame.loc[mask].drop(columns=[c for c in REJECT_COLUMNS if c in plan.frame.columns])
    out = out.reset_index(drop=True)
    out.insert(0, "row", [n for n in numbers if n in reasons])
    out["reason"] = ["; ".join(reasons[n]) for n in out["row"]]
    return out


def apply_import(
    conn, actor: Actor, plan: ImportPlan, *, skip_invalid: bool = False,
    progress: Callable[[int, int], None] | None = None, source: str = "",
) -> ImportResult:
    """Write the plan in one transaction: the new people, the pilots created
    or updated by external id, and their attributes (each attribute the file
    has is replaced; a blank cell removes it).

    Only an admin imports. By default a single row with a problem stops the
    whole import; with ``skip_invalid`` the valid rows are written and the
    others returned in ``rejected``. ``progress(done, total)`` is called every
    CHUNK_ROWS rows. If the portfolio changed since the plan was made, nothing
    is written and the file must be checked again.
    """
    rights.require(actor, Right.IMPORT, what="import pilots")
    bad = plan.problem_rows
    if bad and not skip_invalid:
        raise InvalidInput(
            f"File: {len(bad)} of {plan.total} rows have problems (see the report); nothing was imported. "
            "Fix them, or import only the valid rows.",
            field="file",
        )
    good = plan.rows[~plan.rows["row"].isin(list(bad))].reset_index(drop=True)
    rejected = rejected_rows(plan)
    # In the file's order: row by row, seat by seat.
    seat_keys = [k for k in good[[f"{s}_key" for s in SEATS]].to_numpy().ravel() if k is not None]
    new_keys = list(dict.fromkeys(k for k in seat_keys if k not in plan.people))
    first_spelling = {p.lower(): p for p in plan.new_people}
    total = len(good)

    def work(c) -> tuple[int, int, int]:
        _check_still_current(c, plan, good, new_keys)
        good["business_unit"] = units.keep_imported(c, actor, list(good["business_unit"]))
        people = dict(plan.people)
        if new_keys:
            ids = imports.next_ids(c, "person", len(new_keys))
            new = pd.DataFrame({
                "id": ids,
                "name": [local_part_name(first_spelling[k]) for k in new_keys],
                "email": [first_spelling[k] for k in new_keys],
                "email_key": new_keys,
            })
            imports.insert_viewers(c, new)
            people.update(zip(new_keys, ids))
            audit.record_many(c, actor, "person", "import",
                              [(i, None, a) for i, a in audit.snapshots(c, "person", ids).items()])
        created = updated = unchanged = 0
        for start in range(0, total, CHUNK_ROWS):
            chunk = good.iloc[start:start + CHUNK_ROWS]
            a, u, n = _write_chunk(c, actor, chunk, people, plan.attributes)
            created, updated, unchanged = created + a, updated + u, unchanged + n
            if progress:
                progress(min(start + CHUNK_ROWS, total), total)
        audit.event(c, actor, "import", source or "file", "import", {
            "file": source, "rows": plan.total, "created": created, "updated": updated, "unchanged": unchanged,
            "rejected": len(rejected), "new_people": len(new_keys),
        })
        return created, updated, unchanged

    created, updated, unchanged = write(conn, work)
    if progress and total == 0:
        progress(0, 0)
    changes = [
        (r.external_id or f"id {r.pilot_id}", f, before, after)
        for r in good.itertuples() if r.action == "update" for f, before, after in r.changes
    ]
    return ImportResult(
        created=created, updated=updated, unchanged=unchanged, rejected=rejected,
        new_people=[first_spelling[k] for k in new_keys], changes=changes,
    )


class PortfolioChanged(InvalidInput):
    """A plan met a portfolio changed since it was made: nothing was written;
    planning again sees the change."""


def _check_still_current(c, plan: ImportPlan, good: pd.DataFrame, new_keys: list[str]) -> None:
    """The plan was made against the portfolio as it stood; refuse it if a
    pilot it matched was edited, an external id it creates now exists, or a
    person it creates was added since."""
    versions = imports.pilot_versions(c)
    taken_ids = imports.external_ids(c)
    stale = [
        r.external_id or f"id {r.pilot_id}" for r in good.itertuples()
        if (r.action in MATCHED and versions.get(int(r.pilot_id)) != int(r.version))
        or (r.action == "create" and r.external_id is not None and r.external_id in taken_ids)
    ]
    known = imports.email_keys(c)
    taken = [k for k in new_keys if k in known]
    if stale or taken:
        what = []
        if stale:
            what.append(f"pilots edited or added: {', '.join(stale[:3])}")
        if taken:
            what.append(f"people added: {', '.join(taken[:3])}")
        raise PortfolioChanged(
            f"File: the portfolio changed since the file was checked ({'; '.join(what)}); nothing was "
            "imported. Check the file again.",
            field="file",
        )


def _seat_ids(chunk: pd.DataFrame, people: dict[str, int]) -> dict[str, pd.api.extensions.ExtensionArray]:
    return {
        column: pd.array([people[k] if k is not None else None for k in chunk[f"{seat}_key"]], dtype="Int64")
        for seat, column in SEATS.items()
    }


def _pilot_frame(chunk: pd.DataFrame, ids, people: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame({
        "id": pd.array(list(ids), dtype="Int64"),
        "external_id": pd.array(list(chunk["external_id"]), dtype=object),
        "name": list(chunk["name"]),
        "business_unit": list(chunk["business_unit"]),
        "problem": list(chunk["problem"]),
        "stage": list(chunk["stage"]),
        "start_date": pd.array(list(chunk["start_date"]), dtype=object),
        "go_no_go_date": pd.array(list(chunk["go_no_go_date"]), dtype=object),
        **_seat_ids(chunk, people),
        **{name: pd.array([None if v is None or v != v else float(v) for v in chunk[name]], dtype="Float64")
           for name in ("expected_monthly_volume", "expected_monthly_value")},
        "expected_value_unit": [v or "" for v in chunk["expected_value_unit"]],
    })


def _write_chunk(c, actor: Actor, chunk: pd.DataFrame, people: dict[str, int],
                 attributes: list[str]) -> tuple[int, int, int]:
    creates = chunk[chunk["action"] == "create"]
    updates = chunk[chunk["action"] == "update"]
    unchanged = int((chunk["action"] == "unchanged").sum())
    pilot_ids = dict(zip(chunk["row"], chunk["pilot_id"]))
    matched = [int(i) for i in chunk.loc[chunk["action"].isin(MATCHED), "pilot_id"]]
    before = audit.snapshots(c, "pilot", matched)
    if len(creates):
        ids = imports.next_ids(c, "pilot", len(creates))
        pilot_ids.update(zip(creates["row"], ids))
        imports.insert_pilots(c, _pilot_frame(creates, ids, people))
    if len(updates):
        imports.update_pilots(c, _pilot_frame(updates, updates["pilot_id"], people))
    written = chunk[chunk["action"] != "unchanged"]  # an unchanged row's attributes are as stored
    if attributes and len(written):
        ids = [int(pilot_ids[r]) for r in written["row"]]
        attrs = pd.DataFrame(
            [(pid, name, value) for pid, values in zip(ids, written["attributes"])
             for name, value in values.items() if value],
            columns=["pilot_id", "name", "value"],
        )
        imports.replace_attributes(c, ids, attributes, attrs)
    touched = [int(pilot_ids[r]) for r in chunk["row"]]
    after = audit.snapshots(c, "pilot", touched)
    audit.record_many(c, actor, "pilot", "import", [(i, before.get(i), after[i]) for i in touched])
    return len(creates), len(updates), unchanged


def write_rejects(frame: pd.DataFrame, path) -> None:
    """Write the rejected rows as CSV (with a byte-order mark, so that Excel
    reads accents right; ``read_table`` reads it back)."""
    from portfolio.services.reporting.export import (
        safe_frame,
    )  # the one place cells are made safe for a spreadsheet

    try:
        safe_frame(frame).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    except OSError as exc:
        raise InvalidInput(f"Rejects: cannot write {path}: {exc.strerror}", field="rejects") from None
