"""The searching picker's labels and matches (portfolio/web/pickers.py)."""

from portfolio.web.pickers import distinct, matching


def test_two_entries_bearing_one_name_are_told_apart_and_others_keep_their_label():
    options = {3: "Invoice matching", 7: "Invoice matching", 9: "Lead scoring"}
    assert distinct(options) == {3: "Invoice matching · #3", 7: "Invoice matching · #7", 9: "Lead scoring"}
    assert distinct({1: "A", 2: "B"}) == {1: "A", 2: "B"}


def test_a_search_matches_every_word_in_any_case_in_the_lists_order():
    options = {1: "Claims triage assistant", 2: "Claims intake", 3: "Triage of emails"}
    assert matching(options, "TRIAGE claims") == [1]
    assert matching(options, "triage") == [1, 3]
    assert matching(options, "  ") == [1, 2, 3]
