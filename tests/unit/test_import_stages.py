"""The stage a file's stage value is proposed: the common words of
spreadsheets and public AI use-case inventories, and nothing guessed for a
word that is not among them."""

import pandas as pd
import pytest

from portfolio.domain.vocabulary import Stage
from portfolio.services import importer
from portfolio.services.importer.mapping import STAGE_SYNONYMS, norm, propose_stage, stage_proposals


@pytest.mark.parametrize("value, stage", [
    ("Pre-deployment", "proposed"), ("Planned", "proposed"), ("Initiated", "proposed"), ("Idea", "proposed"),
    ("Concept", "proposed"), ("Pilot", "pilot"), ("In development", "pilot"),
    ("Development and acquisition", "pilot"), ("Acquisition and/or Development", "pilot"), ("Testing", "pilot"),
    ("Implementation and Assessment", "pilot"), ("Deployed", "production"), ("Operational", "production"),
    ("In production", "production"), ("Operation and Maintenance", "production"), ("LIVE", "production"),
    ("Retired", "retired"), ("Decommissioned", "retired"), ("Cancelled", "stopped"), ("Stopped", "stopped"),
    ("Discontinued", "stopped"), ("Abandoned", "stopped"), ("  in   PRODUCTION ", "production"),
])
def test_common_stage_words_are_proposed_their_stage(value, stage):
    assert propose_stage(value) == Stage(stage)


@pytest.mark.parametrize("value", ["On hold", "Active", "Completed", "Phase 2", "TBD", "", "Unknown"])
def test_a_word_that_could_mean_two_stages_or_none_is_not_guessed(value):
    assert propose_stage(value) is None


def test_each_word_means_one_stage_and_every_stage_its_own_name():
    words = [w for ws in STAGE_SYNONYMS.values() for w in ws]
    assert len(words) == len(set(words))
    assert all(w == norm(w) for w in words)
    assert all(s.value in STAGE_SYNONYMS[s] for s in Stage)


def test_the_distinct_values_are_proposed_once_each_in_the_files_order():
    assert stage_proposals(["Deployed", " deployed", "", "On  hold", "Pilot", None, "On hold"]) == {
        "Deployed": Stage.PRODUCTION, "On hold": None, "Pilot": Stage.PILOT}


def test_the_guessed_mapping_carries_the_proposals_and_leaves_out_what_needs_a_choice():
    frame = pd.DataFrame({"use_case_name": ["A", "B", "C", "D", "E"],
                          "development_stage": ["Pre-deployment", "Deployed", "On hold", "pilot", ""]})
    mapping = importer.guess_mapping(frame.columns, frame)
    assert mapping.columns["stage"] == "development_stage"
    # A stage's own name needs no mapping; "On hold" waits for a person.
    assert mapping.values == {"stage": {"Pre-deployment": Stage.PROPOSED, "Deployed": Stage.PRODUCTION}}
    assert importer.guess_mapping(frame.columns).values == {}  # without the table, no values
    # The proposals survive the TOML a person keeps beside the file.
    assert importer.load_mapping(importer.dump_mapping(mapping)) == mapping
