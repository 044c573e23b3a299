"""The rules the pilot and Portfolio pages show, pure: which decisions stand
and which may be corrected, which privileges run out before the decision,
when a pilot looks stuck, and the privileges' roll-up."""

from datetime import date, datetime

import pandas as pd
import pytest

from portfolio.domain import decisions, privileges
from portfolio.domain.models import Decision, Pilot, Privilege
from portfolio.domain.vocabulary import DecisionKind, Disposition, PrivilegeKind, Stage
from portfolio.services import production
from portfolio.services.reporting import privileges as privilege_report

GNG = date(2026, 4, 5)


def pilot(stage=Stage.PILOT, go_no_go=GNG) -> Pilot:
    return Pilot(id=1, name="Drafts", business_unit="", problem="", stage=stage, start_date=date(2026, 1, 5),
                 go_no_go_date=go_no_go, product_owner_id=None, technical_lead_id=None,
                 executive_sponsor_id=None, operational_owner_id=None, version=1)


def decision(id, kind=DecisionKind.GO, after=Stage.BRIDGE, superseded_by=None, supersedes_id=None) -> Decision:
    return Decision(id=id, pilot_id=1, kind=kind, decided_on=date(2026, 4, 5), decided_by=1, rationale="why",
                    stage_before=Stage.PILOT, stage_after=after, go_no_go_before=GNG, go_no_go_after=GNG,
                    override_reason="", criteria_snapshot=[], supersedes_id=supersedes_id,
                    superseded_by=superseded_by, created_at=datetime(2026, 4, 5, 9))


def privilege(expires, id=1) -> Privilege:
    return Privilege(id=id, pilot_id=1, kind=PrivilegeKind.DATA_ACCESS, description=f"access {id}",
                     granted_by="", since=None, expires=expires, disposition=Disposition.UNDECIDED,
                     decided_by=None, decided_on=None, note="", version=1)


# --- decisions ------------------------------------------------------------


def test_a_corrected_decision_no_longer_stands():
    history = [decision(3, supersedes_id=2), decision(2, superseded_by=3), decision(1, kind=DecisionKind.EXTEND,
                                                                                   after=Stage.PILOT)]
    assert [d.id for d in decisions.effective(history)] == [3, 1]


def test_the_latest_standing_decision_is_correctable_while_the_pilot_is_where_it_left_it():
    history = [decision(2), decision(1, kind=DecisionKind.EXTEND, after=Stage.PILOT)]
    assert decisions.correctable(pilot(Stage.BRIDGE), history).id == 2


def test_no_decision_is_correctable_once_the_pilot_has_moved_on():
    assert decisions.correctable(pilot(Stage.PRODUCTION), [decision(2)]) is None


def test_no_decision_is_correctable_without_a_standing_one():
    assert decisions.correctable(pilot(Stage.PILOT), []) is None
    assert decisions.correctable(pilot(Stage.BRIDGE), [decision(1, superseded_by=2)]) is None


# --- privileges -----------------------------------------------------------


@pytest.mark.parametrize("expires, go_no_go, before", [
    pytest.param(date(2026, 4, 4), GNG, True, id="day-before-go-no-go"),
    pytest.param(GNG, GNG, False, id="on-the-go-no-go-date"),
    pytest.param(date(2026, 4, 6), GNG, False, id="after"),
    pytest.param(None, GNG, False, id="never-expires"),
    pytest.param(date(2026, 4, 4), None, False, id="no-go-no-go-date"),
])
def test_a_privilege_expires_before_the_decision_only_strictly_before_it(expires, go_no_go, before):
    assert privileges.expires_before_decision(privilege(expires), go_no_go) is before


def test_the_expiring_privileges_keep_their_order():
    held = [privilege(date(2026, 3, 1), 1), privilege(None, 2), privilege(date(2026, 2, 1), 3)]
    assert [p.id for p in privileges.expiring(held, GNG)] == [1, 3]


# --- stuck ----------------------------------------------------------------


@pytest.mark.parametrize("codes, stuck", [
    pytest.param(["STALLED"], True, id="stalled"),
    pytest.param(["OVERDUE_DECISION", "OWNERLESS"], True, id="overdue"),
    pytest.param(["OWNERLESS", "STALE_UPDATE"], False, id="other-flags"),
    pytest.param([], False, id="no-flags"),
])
def test_a_pilot_looks_stuck_when_stalled_or_overdue(codes, stuck):
    assert production.looks_stuck(codes) is stuck


# --- the portfolio's privileges -------------------------------------------


def privileges_frame(rows):
    return pd.DataFrame(rows, columns=["id", "pilot_id", "pilot", "stage", "kind", "disposition"])


def test_the_rollup_counts_live_pilots_privileges_by_kind_and_disposition():
    frame = privileges_frame([
        (1, 1, "A", "pilot", "data_access", "undecided"),
        (2, 1, "A", "pilot", "budget", "permanent"),
        (3, 2, "B", "bridge", "data_access", "undecided"),
        (4, 3, "C", "stopped", "data_access", "undecided"),  # not in play: left out
    ])
    rolled = privilege_report.rollup(frame)
    assert (rolled.borrowed, rolled.undecided) == (3, 2)
    assert rolled.by_kind.loc["data access", "undecided"] == 2
    assert rolled.by_kind.loc["budget", "permanent"] == 1
    assert rolled.dependent.to_dict("records") == [{"pilot": "A", "borrowed": 2, "undecided": 1},
                                                   {"pilot": "B", "borrowed": 1, "undecided": 1}]


def test_the_rollup_names_kinds_and_dispositions_in_words():
    rolled = privilege_report.rollup(privileges_frame([(1, 1, "A", "pilot", "vendor_support", "make_permanent")]))
    assert rolled.by_kind.loc["vendor support", "make permanent"] == 1
    assert not [c for c in [*rolled.by_kind.columns, *rolled.by_kind.index] if "_" in c]


def test_the_rollup_is_none_without_live_privileges():
    assert privilege_report.rollup(privileges_frame([(4, 3, "C", "retired", "budget", "undecided")])) is None
