import pytest

from portfolio.domain.errors import InvalidInput
from portfolio.domain.settings import db_path, load_settings


def test_defaults_are_the_product_thresholds():
    s = load_settings({})
    assert (s.clock_days, s.stale_update_days, s.stalled_no_update_days, s.stalled_red_streak,
            s.due_soon_days) == (90, 14, 28, 3, 14)


def test_environment_overrides_a_threshold():
    assert load_settings({"PORTFOLIO_STALE_UPDATE_DAYS": "21"}).stale_update_days == 21


def test_file_then_environment(tmp_path):
    f = tmp_path / "settings.toml"
    f.write_text("clock_days = 60\nstale_update_days = 10\n")
    s = load_settings({"PORTFOLIO_SETTINGS": str(f), "PORTFOLIO_STALE_UPDATE_DAYS": "12"})
    assert (s.clock_days, s.stale_update_days) == (60, 12)


def test_bad_setting_names_it():
    with pytest.raises(InvalidInput, match="clock_days"):
        load_settings({"PORTFOLIO_CLOCK_DAYS": "zero"})


def test_database_path_from_environment():
    assert str(db_path({})) == "data/portfolio.duckdb"
    assert str(db_path({"PORTFOLIO_DB": "/tmp/x.duckdb"})) == "/tmp/x.duckdb"


def test_a_settings_path_that_is_a_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInput, match="cannot be read"):
        load_settings({"PORTFOLIO_SETTINGS": str(tmp_path)})


def test_the_check_in_days_and_the_sponsors_acceptance_are_settings(tmp_path):
    s = load_settings({})
    assert (s.checkin_days, s.acceptance_by_sponsor, s.checkin_early_days) == ((30, 60, 90), False, 7)
    s = load_settings({"PORTFOLIO_CHECKIN_DAYS": "14, 45", "PORTFOLIO_ACCEPTANCE_BY_SPONSOR": "true"})
    assert (s.checkin_days, s.acceptance_by_sponsor) == ((14, 45), True)
    f = tmp_path / "settings.toml"
    f.write_text("checkin_days = [30, 90]\n")
    assert load_settings({"PORTFOLIO_SETTINGS": str(f)}).checkin_days == (30, 90)


@pytest.mark.parametrize("days", ["60,30", "30,30", "0", "", "thirty"])
def test_check_in_days_that_are_not_rising_days_are_refused_naming_the_setting(days):
    with pytest.raises(InvalidInput, match="checkin_days"):
        load_settings({"PORTFOLIO_CHECKIN_DAYS": days})
