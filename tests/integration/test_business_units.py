"""Business units as a kept list: seeded by the upgrade from the units the
pilots carry, kept by admins (add, rename moving every pilot, retire), the
only units a pilot may take, and matched by the import; and a start date in
the future only for a proposed pilot, in the form and the import alike."""

import csv
from datetime import date, timedelta

import pytest

from portfolio.domain.errors import InvalidInput, PermissionDenied
from portfolio.services import demo, importer, pilots, units
from portfolio.storage import audit, db, store
from tests.conftest import AS_OF

TODAY = AS_OF  # the real day of each save, fixed here


def kept(conn, active_only=False) -> list[str]:
    return [u.name for u in units.list_units(conn, active_only=active_only)]


def unit_id(conn, name) -> int:
    return next(u.id for u in units.list_units(conn) if u.name == name)


def pilot_units(conn) -> dict[int, str]:
    return dict(conn.execute("SELECT id, business_unit FROM pilot ORDER BY id").fetchall())


# --- the upgrade seeds the list ------------------------------------------------


def test_the_upgrade_keeps_each_unit_once_in_its_most_common_spelling_and_records_the_respelling(
        db_file, monkeypatch):
    with monkeypatch.context() as m:  # a database from before the kept list
        m.setattr(db, "MIGRATIONS", [(n, sql) for n, sql in db.MIGRATIONS if n < "008"])
        m.setattr(db, "_migrated", set())
        with db.session(db_file, create=True) as c:
            for unit in ["Sales", "sales", "Sales", "Finance", "", "customer service"]:
                c.execute("INSERT INTO pilot (name, business_unit, stage) VALUES (?, ?, 'pilot')",
                          [f"Pilot in {unit or 'no unit'}", unit])
    monkeypatch.setattr(db, "_migrated", set())  # as a new process finds it
    with db.session(db_file) as c:
        assert kept(c) == ["customer service", "Finance", "Sales"]
        assert list(pilot_units(c).values()) == ["Sales", "Sales", "Sales", "Finance", "", "customer service"]
        assert store.get_pilot(c, 2).version == 2 and store.get_pilot(c, 1).version == 1
        (record,) = audit.as_records(audit.trail(c, entity="pilot"))
        assert (record["actor"], record["via"], record["pilot_id"]) == ("The tracker's upgrade", "upgrade", 2)
        assert (record["before"]["business_unit"], record["after"]["business_unit"]) == ("sales", "Sales")


# --- admins keep the list ---------------------------------------------------------


def test_an_admin_adds_a_unit_once_whatever_the_case(conn, admin):
    units.add_unit(conn, admin, {"name": "  Legal   Affairs "})
    assert kept(conn) == ["Legal Affairs"]
    with pytest.raises(InvalidInput, match="Name: 'Legal Affairs' is already a business unit") as refused:
        units.add_unit(conn, admin, {"name": "legal affairs"})
    assert refused.value.field == "name"
    with pytest.raises(InvalidInput, match="Name: must not be blank"):
        units.add_unit(conn, admin, {"name": " "})
    assert kept(conn) == ["Legal Affairs"]
    assert audit.as_records(audit.trail(conn, entity="business_unit"))[0]["after"]["name"] == "Legal Affairs"


def test_only_an_admin_keeps_the_list(conn, leader, admin):
    with pytest.raises(PermissionDenied, match="may not add business units: only an admin may"):
        units.add_unit(conn, leader, {"name": "Legal"})
    legal = units.add_unit(conn, admin, {"name": "Legal"})
    with pytest.raises(PermissionDenied):
        units.rename_unit(conn, leader, legal, {"name": "Law"})
    with pytest.raises(PermissionDenied):
        units.set_unit_active(conn, leader, legal, False)
    assert kept(conn, active_only=True) == ["Legal"]


def test_renaming_a_unit_moves_every_pilot_of_it_in_one_recorded_change(conn, admin, settings):
    sales = units.add_unit(conn, admin, {"name": "Sales"})
    a = demo.make_pilot(conn, business_unit="Sales")
    b = demo.make_pilot(conn, business_unit="Sales")
    other = demo.make_pilot(conn, business_unit="Finance")
    pilots.archive_pilot(conn, admin, b)
    units.rename_unit(conn, admin, sales, {"name": "Sales and Marketing"})
    assert pilot_units(conn) == {a: "Sales and Marketing", b: "Sales and Marketing", other: "Finance"}
    assert kept(conn) == ["Finance", "Sales and Marketing"]
    moved = {r["pilot_id"]: r for r in audit.as_records(audit.trail(conn, entity="pilot")) if r["action"] == "edit"}
    assert set(moved) == {a, b}
    assert (moved[a]["before"]["business_unit"], moved[a]["after"]["business_unit"]) == (
        "Sales", "Sales and Marketing")
    renamed = audit.as_records(audit.trail(conn, entity="business_unit"))[0]
    assert (renamed["action"], renamed["before"]["name"], renamed["after"]["name"]) == (
        "rename", "Sales", "Sales and Marketing")
    with pytest.raises(InvalidInput, match="'Finance' is already a business unit"):
        units.rename_unit(conn, admin, sales, {"name": "FINANCE"})
    assert pilot_units(conn)[a] == "Sales and Marketing"


def test_a_retired_unit_is_offered_to_no_new_pilot_and_its_pilots_keep_it(conn, admin, settings):
    legal = units.add_unit(conn, admin, {"name": "Legal"})
    pid = pilots.create_pilot(conn, admin, {"name": "Clause finder", "business_unit": "Legal"}, settings,
                              today=TODAY)
    units.set_unit_active(conn, admin, legal, False)
    assert kept(conn, active_only=True) == [] and kept(conn) == ["Legal"]
    with pytest.raises(InvalidInput, match="Business unit: 'Legal' is not one of the organisation's units"):
        pilots.create_pilot(conn, admin, {"name": "Another", "business_unit": "Legal"}, settings, today=TODAY)
    edited = pilots.edit_pilot(conn, admin, pid, {"name": "Clause spotter"}, settings, today=TODAY)
    assert (edited.name, edited.business_unit) == ("Clause spotter", "Legal")
    units.set_unit_active(conn, admin, legal, True)
    assert kept(conn, active_only=True) == ["Legal"]


# --- a pilot takes a unit from the list ---------------------------------------------


def test_a_pilot_takes_a_kept_unit_in_its_kept_spelling(conn, admin, settings):
    units.add_unit(conn, admin, {"name": "Sales"})
    pid = pilots.create_pilot(conn, admin, {"name": "Lead scoring", "business_unit": "sales"}, settings, today=TODAY)
    assert store.get_pilot(conn, pid).business_unit == "Sales"


def test_a_unit_not_on_the_list_is_refused_naming_the_field_and_nothing_is_written(conn, admin, settings):
    units.add_unit(conn, admin, {"name": "Sales"})
    with pytest.raises(InvalidInput) as refused:
        pilots.create_pilot(conn, admin, {"name": "Lead scoring", "business_unit": "Slaes"}, settings, today=TODAY)
    assert refused.value.field == "business_unit"
    assert str(refused.value).startswith("Business unit: 'Slaes' is not one of the organisation's units; an admin "
                                         "adds units on the People page")
    assert store.list_pilots(conn) == []
    pid = pilots.create_pilot(conn, admin, {"name": "Lead scoring", "business_unit": "Sales"}, settings, today=TODAY)
    with pytest.raises(InvalidInput, match="'Slaes' is not one of"):
        pilots.edit_pilot(conn, admin, pid, {"business_unit": "Slaes"}, settings, today=TODAY)
    assert store.get_pilot(conn, pid).business_unit == "Sales"


# --- a start date in the future ----------------------------------------------------


def test_only_a_proposed_pilot_is_created_starting_after_today(conn, admin, settings):
    tomorrow = TODAY + timedelta(days=1)
    with pytest.raises(InvalidInput) as refused:
        pilots.create_pilot(conn, admin, {"name": "Early", "stage": "pilot", "start_date": tomorrow}, settings,
                            today=TODAY)
    assert refused.value.field == "start_date"
    assert "is in the future" in str(refused.value) and "only a proposed pilot may start later" in str(refused.value)
    assert store.list_pilots(conn) == []
    planned = pilots.create_pilot(conn, admin, {"name": "Planned", "stage": "proposed", "start_date": tomorrow},
                                  settings, today=TODAY)
    assert store.get_pilot(conn, planned).start_date == tomorrow
    started = pilots.create_pilot(conn, admin, {"name": "Today", "stage": "pilot", "start_date": TODAY}, settings,
                                  today=TODAY)
    assert store.get_pilot(conn, started).start_date == TODAY


def test_a_start_date_set_by_an_edit_or_the_start_action_is_not_in_the_future(conn, admin, settings):
    pid = pilots.create_pilot(conn, admin, {"name": "No clock yet", "stage": "pilot"}, settings, today=TODAY)
    with pytest.raises(InvalidInput, match="Start date: 03 Mar 2026 is in the future"):
        pilots.edit_pilot(conn, admin, pid, {"start_date": TODAY + timedelta(days=1)}, settings, today=TODAY)
    assert store.get_pilot(conn, pid).start_date is None
    proposed = pilots.create_pilot(conn, admin, {"name": "Proposed", "stage": "proposed"}, settings, today=TODAY)
    with pytest.raises(InvalidInput, match="is in the future"):
        pilots.start_pilot(conn, admin, proposed, TODAY + timedelta(days=7), settings, today=TODAY)
    assert pilots.start_pilot(conn, admin, proposed, TODAY, settings, today=TODAY).start_date == TODAY


# --- the import --------------------------------------------------------------------

HEADER = ["Use case ID", "Title", "Business unit", "Status", "Pilot start"]
MAPPING = importer.Mapping(
    columns={"external_id": "Use case ID", "name": "Title", "business_unit": "Business unit", "stage": "Status",
             "start_date": "Pilot start"},
    values={"stage": {"Idea": "proposed", "Live pilot": "pilot"}},
)


def plan_of(conn, tmp_path, rows):
    path = tmp_path / "pilots.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([HEADER, *rows])
    return importer.plan_import(conn, importer.read_table(path, "pilots.csv"), MAPPING, today=TODAY)


def test_the_import_stores_the_kept_spelling_and_adds_the_units_the_list_lacks(conn, admin, tmp_path):
    units.add_unit(conn, admin, {"name": "Sales"})
    plan = plan_of(conn, tmp_path, [["UC-1", "Lead scoring", "SALES", "Live pilot", "2026-01-05"],
                                    ["UC-2", "Clause finder", "Legal", "Live pilot", "2026-01-05"],
                                    ["UC-3", "Contract search", "legal", "Live pilot", "2026-01-05"]])
    assert plan.problems == []
    assert [n[3] for n in plan.notes] == [
        "Business unit: 'Legal' is not one of the organisation's units yet; the import adds it to the list"]
    importer.apply_import(conn, admin, plan)
    assert sorted(pilot_units(conn).values()) == ["Legal", "Legal", "Sales"]
    assert kept(conn) == ["Legal", "Sales"]
    added = audit.as_records(audit.trail(conn, entity="business_unit"))[0]
    assert (added["action"], added["after"]["name"]) == ("import", "Legal")


def test_the_import_leaves_the_clock_unstarted_for_a_future_start_unless_proposed(conn, admin, tmp_path):
    later = (TODAY + timedelta(days=30)).isoformat()
    plan = plan_of(conn, tmp_path, [["UC-1", "Too early", "", "Live pilot", later],
                                    ["UC-2", "Planned", "", "Idea", later]])
    assert plan.problems == []
    assert [n[3] for n in plan.notes] == [
        "Start date: 01 Apr 2026 is in the future (today is 02 Mar 2026); only a proposed pilot may start later; "
        "left blank, so the clock has not started (the pilot shows as having no clock)"]
    importer.apply_import(conn, admin, plan)
    starts = dict(conn.execute("SELECT external_id, start_date FROM pilot").fetchall())
    assert starts == {"UC-1": None, "UC-2": date(2026, 4, 1)}


def test_a_pilot_whose_unit_is_spelled_with_other_spaces_counts_for_the_unit_and_moves_with_it(conn, admin):
    sales = units.add_unit(conn, admin, {"name": "Sales Ops"})
    pid = demo.make_pilot(conn, business_unit="Sales Ops")
    conn.execute("UPDATE pilot SET business_unit = ? WHERE id = ?", ["  sales   ops\t", pid])  # as stored before
    assert [u.pilots for u in units.list_units(conn)] == [1]
    units.rename_unit(conn, admin, sales, {"name": "Sales Operations"})
    assert pilot_units(conn)[pid] == "Sales Operations"


def test_the_import_refuses_a_retired_unit_to_a_new_pilot_and_lets_a_pilot_keep_it(conn, admin, tmp_path):
    legal = units.add_unit(conn, admin, {"name": "Legal"})
    importer.apply_import(conn, admin, plan_of(conn, tmp_path, [["UC-1", "Clause finder", "Legal", "Live pilot",
                                                                 "2026-01-05"]]))
    units.set_unit_active(conn, admin, legal, False)
    plan = plan_of(conn, tmp_path, [["UC-1", "Clause finder", "legal", "Live pilot", "2026-01-05"],
                                    ["UC-2", "Contract search", "LEGAL", "Live pilot", "2026-01-05"]])
    assert [(p[0], p[3]) for p in plan.problems] == [
        (3, "Business unit: 'LEGAL' is not one of the organisation's units; an admin adds units on the "
            "People page (Business units)")]
    assert plan.counts()["unchanged"] == 1
