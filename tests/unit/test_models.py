"""Bad input is refused with a message that names the field."""

from datetime import date

import pytest

from portfolio.domain.errors import InvalidInput, validate
from portfolio.domain.models import PersonIn, PilotIn, WeeklyUpdateIn


@pytest.mark.parametrize(
    "model, values, field, words",
    [
        pytest.param(PilotIn, {"name": "   "}, "name", "Name: must not be blank", id="blank-pilot-name"),
        pytest.param(PilotIn, {"name": "X", "start_date": date(2026, 3, 1), "go_no_go_date": date(2026, 2, 1)},
                     None, "Go/no-go date: 2026-02-01 is before the start date 2026-03-01", id="gng-before-start"),
        pytest.param(PilotIn, {"name": "X", "stage": "launched"}, "stage", "Stage:", id="unknown-stage"),
        pytest.param(PersonIn, {"name": "", "email": "a@example.com"}, "name", "Name: must not be blank",
                     id="blank-person-name"),
        pytest.param(PersonIn, {"name": "A", "email": "not-an-email"}, "email",
                     "Email: 'not-an-email' is not an email address", id="bad-email"),
        pytest.param(WeeklyUpdateIn, {"pilot_id": 1, "health": "purple", "summary": "s"}, "health",
                     "Health: 'purple' is not one of green, amber, red", id="bad-health"),
        pytest.param(WeeklyUpdateIn, {"pilot_id": 1, "health": "", "summary": "s"}, "health",
                     "Health: choose green, amber or red", id="no-health"),
        pytest.param(WeeklyUpdateIn, {"pilot_id": 1, "health": "red", "summary": " "}, "summary",
                     "Summary: must not be blank", id="blank-summary"),
    ],
)
def test_bad_input_names_the_field(model, values, field, words):
    with pytest.raises(InvalidInput) as err:
        validate(model, **values)
    assert words in str(err.value)
    if field:
        assert err.value.field == field


def test_health_is_case_insensitive_and_text_is_trimmed():
    update = validate(WeeklyUpdateIn, pilot_id=1, health=" Amber ", summary="  fine  ")
    assert update.health.value == "amber"
    assert update.summary == "fine"


def test_a_decision_must_say_which():
    from datetime import date

    from portfolio.domain.models import DecisionIn

    with pytest.raises(InvalidInput, match="Decision: choose go, no-go or extend"):
        validate(DecisionIn, pilot_id=1, kind=None, decided_on=date(2026, 3, 2), decided_by=1, rationale="r")


@pytest.mark.parametrize("email", ["torey/adler@noaa.gov", "a@b", "name@@x.org", "<a@x.org", "a@x.org>",
                                   "https://www.noaa.gov/ai", "http://jane@x.org/contact", "jane doe@x.org",
                                   "jane.@x.org", "jane@x..org", "jane@-x.org", "jane@x.o", "jane@x.123"])
def test_what_is_not_an_email_address_is_refused_naming_it(email):
    with pytest.raises(InvalidInput) as err:
        validate(PersonIn, name="A", email=email)
    assert str(err.value) == f"Email: '{email}' is not an email address" and err.value.field == "email"


@pytest.mark.parametrize("email", ["jane.doe@agency.gov", "a+b@x.co.uk", "O'Brien@x.org", "o_brien-smith@x.org",
                                   "Priya.Shah@Example.COM", "x@sub-domain.agency.gov"])
def test_an_email_address_is_taken_as_written(email):
    assert validate(PersonIn, name="A", email=f" {email} ").email == email
