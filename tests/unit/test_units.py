"""Business units matched as the organisation keeps them, and a start date
in the future only for a proposed pilot (pure: no database)."""

from datetime import date

import pytest

from portfolio.domain import pilot_rules, units
from portfolio.domain.errors import InvalidInput
from portfolio.domain.vocabulary import Stage

KEPT = ["Customer Service", "Finance", "Sales"]
TODAY = date(2026, 3, 2)


@pytest.mark.parametrize("typed, kept", [
    ("Sales", "Sales"), ("sales", "Sales"), ("  SALES ", "Sales"), ("customer   service", "Customer Service"),
    ("Slaes", None), ("", None), (None, None),
], ids=["same", "lower", "upper-spaced", "inner-spaces", "typo", "blank", "none"])
def test_a_unit_matches_its_kept_spelling_whatever_the_case(typed, kept):
    assert units.match(KEPT, typed) == kept


def test_the_most_common_spelling_is_kept_and_a_tie_goes_to_the_capitalised():
    assert units.kept_spelling(["sales", "Sales", "sales", "Finance", "finance", "HR", ""]) == {
        "sales": "sales", "finance": "Finance", "hr": "HR"}


def test_a_pilot_takes_a_kept_unit_in_its_kept_spelling_or_none():
    assert units.check_pilot_unit(KEPT, "finance") == "Finance"
    assert units.check_pilot_unit(KEPT, "  ") == ""


def test_a_unit_not_on_the_list_is_refused_naming_the_field_and_where_units_are_added():
    with pytest.raises(InvalidInput) as refused:
        units.check_pilot_unit(KEPT, "Slaes")
    assert refused.value.field == "business_unit"
    assert str(refused.value) == ("Business unit: 'Slaes' is not one of the organisation's units; an admin adds "
                                  "units on the People page (Business units)")


def test_a_pilot_keeps_the_unit_it_has_even_once_it_is_no_longer_offered():
    assert units.check_pilot_unit(KEPT, "legal", current="Legal") == "Legal"
    with pytest.raises(InvalidInput):
        units.check_pilot_unit(KEPT, "Legal", current="Finance")


@pytest.mark.parametrize("stage, start, refused", [
    (Stage.PILOT, date(2026, 3, 3), True),
    (Stage.PILOT, TODAY, False),
    (Stage.PILOT, date(2025, 1, 1), False),
    (Stage.PROPOSED, date(2026, 9, 1), False),
    (Stage.PILOT, None, False),
], ids=["pilot-tomorrow", "pilot-today", "pilot-past", "proposed-later", "no-start"])
def test_only_a_proposed_pilot_may_start_after_today(stage, start, refused):
    if not refused:
        pilot_rules.check_start_not_in_future(stage, start, TODAY)
        return
    with pytest.raises(InvalidInput) as error:
        pilot_rules.check_start_not_in_future(stage, start, TODAY)
    assert error.value.field == "start_date"
    assert str(error.value) == ("Start date: 03 Mar 2026 is in the future (today is 02 Mar 2026); only a proposed "
                                "pilot may start later")
