"""The Import page as an admin reads it: the guessed mapping in words, the
stage values proposed (one it cannot place waits for a choice), the preview
and the counts before anything is written, the new people, and a second
import of the same file that creates and updates nothing."""

import re

from portfolio.services import importer
from tests.app.test_pages import no_exception, open_app

FILE = "inventory.csv"
TAG = f"{FILE}-guessed"
INVENTORY = (
    b"id,use_case_name,agency,development_stage,operational_date,contact_email,topic_area\n"
    b"UC-1,Claims triage,Claims,Pre-deployment,2024-05-01,jane.doe@agency.gov,Health\n"
    b"UC-2,Invoice matching,Finance,Deployed,03/2024,\"a.lee@agency.gov; b.kim@agency.gov\",\n"
    b"UC-3,Shift planner,Operations,In development,2025,https://www.agency.gov/contact,Workforce\n"
    b"UC-4,Letter drafting,Claims,On hold,,torey/adler@noaa.gov,\n"
)


def uploaded(data=INVENTORY):
    at = open_app("pages/import.py")
    no_exception(at)
    at.file_uploader(key="import-file").set_value((FILE, data, "text/csv"))
    at.run()
    no_exception(at)
    return at


def table(at, columns_start):
    """The one table on the page whose headers start with these."""
    (frame,) = [d.value for d in at.dataframe if list(d.value.columns[:len(columns_start)]) == columns_start]
    return frame


def counts(at):
    (line,) = [m.value for m in at.markdown if m.value.startswith("**Before anything is written:**")]
    return line.removeprefix("**Before anything is written:** ")


def test_the_guess_is_shown_in_words_and_a_stage_value_it_cannot_place_waits_for_a_choice(admin_db):
    at = uploaded()
    fields = {f"map-{f}-{TAG}" for f in importer.FIELDS}
    mapped = {s.label: s.value for s in at.selectbox if s.key in fields}
    assert {k: v for k, v in mapped.items() if not v.startswith("—")} == {
        "External id": "id", "Name": "use_case_name", "Business unit": "agency", "Stage": "development_stage",
        "Start date": "operational_date", "Product owner": "contact_email"}
    assert "Go/no-go date" in mapped and not any("_" in label for label in mapped)

    stages = {s.label: s.value for s in at.selectbox if s.key.startswith("map-stage-") and s.key not in fields}
    assert stages == {"Deployed": "production", "In development": "pilot", "On hold": None,
                      "Pre-deployment": "proposed"}
    assert at.selectbox(key=f"map-stage-On hold-{TAG}").proto.placeholder == "needs a choice"
    assert at.button(key="import-go").disabled
    assert "1 stage value needs a choice above before importing: On hold." in [c.value for c in at.caption]
    # Rejecting its rows is a choice too: they stay rejected, knowingly.
    at.selectbox(key=f"map-stage-On hold-{TAG}").set_value("— no stage: reject its rows —").run()
    assert not at.button(key="import-go").disabled
    assert counts(at) == "3 new, 0 updated, 0 unchanged, 1 rejected."
    at.selectbox(key=f"map-stage-On hold-{TAG}").set_value(None).run()
    assert at.button(key="import-go").disabled

    preview = table(at, ["Row", "Action"])
    assert list(preview.columns) == ["Row", "Action", "External id", "Name", "Business unit", "Problem", "Stage",
                                     "Start date", "Go/no-go date", "Product owner", "Technical lead",
                                     "Executive sponsor", "Operational owner", "Status"]
    assert preview["Stage"].tolist() == ["proposed", "production", "pilot", "needs a choice"]
    assert preview["Action"].tolist() == ["new"] * 4
    assert preview["Start date"].tolist()[0] == "2024-05-01" and preview["Start date"].tolist()[2] == ""
    assert preview["Product owner"].tolist() == ["jane.doe@agency.gov", "a.lee@agency.gov", "", ""]
    cells = preview.astype(str).to_numpy().ravel().tolist()
    assert not {"None", "nan", "NaN", "NaT", "<NA>"} & set(cells)
    report = table(at, ["Row", "Column"])
    assert list(report.columns) == ["Row", "Column", "Value", "Problem"]
    assert "Stage: 'On hold' is not a stage" in " ".join(report["Problem"])
    assert counts(at) == "3 new, 0 updated, 0 unchanged, 1 rejected."


def test_once_chosen_it_imports_and_the_same_file_again_creates_and_updates_nothing(admin_db):
    at = uploaded()
    at.selectbox(key=f"map-stage-On hold-{TAG}").set_value("stopped").run()
    no_exception(at)
    assert not at.button(key="import-go").disabled
    assert counts(at) == "4 new, 0 updated, 0 unchanged, 0 rejected."
    (people,) = [e for e in at.expander if re.fullmatch(r"\d+ new people \(added as viewers\)", e.label)]
    # The second email of a cell takes no seat, so it is nobody new.
    assert people.label.startswith("2 new people")
    assert table(at, ["Email"])["Email"].tolist() == ["jane.doe@agency.gov", "a.lee@agency.gov"]
    # As text, never a mail link.
    assert not [m for m in at.markdown if "agency.gov" in m.value]

    at.button(key="import-go").click().run()
    no_exception(at)
    assert [s.value for s in at.success] == ["Imported 4 rows (4 new, 0 updated); rejected 0."]

    again = uploaded()  # the same file, a fresh page: its proposals and its chosen value again
    again.selectbox(key=f"map-stage-On hold-{TAG}").set_value("stopped").run()
    assert counts(again) == "0 new, 0 updated, 4 unchanged, 0 rejected."
    assert table(again, ["Row", "Action"])["Action"].tolist() == ["unchanged"] * 4
    assert not [e for e in again.expander if "new pe" in e.label]
    again.button(key="import-go").click().run()
    no_exception(again)
    assert [s.value for s in again.success] == ["Imported 4 rows (0 new, 0 updated, 4 unchanged); rejected 0."]


def test_what_would_change_and_what_changed_read_in_words(admin_db):
    at = uploaded()
    at.selectbox(key=f"map-stage-On hold-{TAG}").set_value("stopped").run()
    at.button(key="import-go").click().run()
    renamed = INVENTORY.replace(b"Claims triage", b"Claims triage assistant").replace(b",Health", b",Care")
    at = uploaded(renamed)
    at.selectbox(key=f"map-stage-On hold-{TAG}").set_value("stopped").run()
    assert counts(at) == "0 new, 1 updated, 3 unchanged, 0 rejected."
    changes = table(at, ["Row", "Pilot"])
    assert changes.values.tolist() == [[2, "UC-1", "Name", "Claims triage", "Claims triage assistant"],
                                       [2, "UC-1", "topic_area", "Health", "Care"]]
    at.button(key="import-go").click().run()
    no_exception(at)
    assert [s.value for s in at.success] == ["Imported 4 rows (0 new, 1 updated, 3 unchanged); rejected 0."]
    assert table(at, ["Pilot", "Field"]).values.tolist() == [["UC-1", "Name", "Claims triage",
                                                              "Claims triage assistant"],
                                                             ["UC-1", "topic_area", "Health", "Care"]]


def test_past_fifty_stage_values_the_rest_keep_their_proposals(admin_db):
    rows = [f"P-{i},Pilot {i},Claims,Phase {i:02},," for i in range(1, 51)]
    rows += ["P-51,Pilot 51,Claims,Retired,,", "P-52,Pilot 52,Claims,Tbc,,"]
    at = uploaded(("id,use_case_name,agency,development_stage,operational_date,contact_email\n"
                   + "\n".join(rows) + "\n").encode())
    shown = [s for s in at.selectbox if s.key.startswith("map-stage-") and s.key != f"map-stage-{TAG}"]
    assert len(shown) == 50 and all(s.value is None for s in shown)
    assert "52 different values: map the rest in a mapping file." in [c.value for c in at.caption]
    # The 50 shown wait for a choice; of the two past them, "Retired" keeps its
    # proposal and "Tbc" is rejected for its stage.
    assert "50 stage values need a choice above before importing" in " ".join(c.value for c in at.caption)
    problems = table(at, ["Row", "Column"])
    stage_rows = set(problems.loc[problems["Problem"].str.startswith("Stage:"), "Row"])
    assert 52 not in stage_rows and {2, 53} <= stage_rows
