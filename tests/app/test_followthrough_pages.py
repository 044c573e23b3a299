"""The decision followed through on the pages, through AppTest on the demo:
the Portfolio page's "still holding" list, the product owner recording a
revocation on the stopped pilot's page, the Stopped pilots page searched by
words and reason, and the stopped pilots a new pilot resembles on the
create form and in the import's preview."""

from portfolio.storage import db
from tests.app.test_import_page import table
from tests.app.test_pages import act_as, no_exception, open_app, open_section
from tests.app.test_production_pages import open_pilot


def stopped_still_holding(path) -> tuple[int, str, int]:
    """(id, name, product owner id) of the demo's stopped pilot that still
    holds what it borrowed."""
    with db.session(path) as c:
        return c.execute(
            "SELECT p.id, p.name, p.product_owner_id FROM pilot p WHERE p.stage = 'stopped' AND EXISTS"
            " (SELECT 1 FROM privilege v WHERE v.pilot_id = p.id AND v.revoked_on IS NULL"
            "  AND v.disposition <> 'make_permanent') ORDER BY p.id LIMIT 1").fetchone()


def stopped_on(path, name) -> str:
    with db.session(path) as c:
        (day,) = c.execute("SELECT s.stopped_on FROM stop_record s JOIN pilot p ON p.id = s.pilot_id"
                           " WHERE p.name = ?", [name]).fetchone()
    return f"{day:%d %b %Y}"


def frame_with(at, *columns):
    """The first table on the page holding these columns (None: no such table)."""
    return next((d.value for d in at.dataframe if set(columns) <= set(d.value.columns)), None)


def holding_lines(at):
    return [m.value for m in at.markdown if "still holds" in m.value]


def test_the_portfolio_lists_the_stopped_pilot_still_holding_what_it_borrowed(demo_db):
    _, name, _ = stopped_still_holding(demo_db)
    at = open_section(open_app(), "Borrowed privileges")
    no_exception(at)
    assert "Stopped, still holding borrowed privileges" in [s.value for s in at.subheader]
    (line,) = holding_lines(at)
    assert line.startswith(f"**{name}** · stopped on ")
    assert ("still holds 2 privileges: Innovation budget for GPU hours (budget, withdraw); "
            "Exception to the change freeze (permission, withdraw) · product owner ") in line


def test_the_product_owner_records_each_revocation_and_the_pilot_leaves_the_list(demo_db):
    pilot_id, name, owner = stopped_still_holding(demo_db)
    at = open_app("pages/pilot.py")
    act_as(at, owner)
    open_pilot(at, pilot_id, "Production readiness")
    no_exception(at)
    assert any("still holds 2 borrowed privileges" in w.value for w in at.warning)
    pick = at.selectbox(key=f"privilege-revoke-pick-{pilot_id}")
    assert pick.options == ["Innovation budget for GPU hours (withdraw)", "Exception to the change freeze (withdraw)"]
    # Without evidence: refused, naming the field; nothing revoked.
    at.button(key=f"privilege-revoke-save-{pilot_id}").click()
    at.run()
    assert [e.value for e in at.error] == ["Evidence: must not be blank"]
    for _ in range(2):
        at.text_input(key=f"privilege-revoke-evidence-{pilot_id}").input("Ticket SEC-42 closed")
        at.button(key=f"privilege-revoke-save-{pilot_id}").click()
        at.run()
        no_exception(at)
        assert not at.error, [e.value for e in at.error]
        assert "revoked on" in at.success[0].value
    assert not any("still holds" in w.value for w in at.warning)
    privileges = frame_with(at, "Evidence of revocation")
    assert set(privileges["Evidence of revocation"].dropna()) >= {"Ticket SEC-42 closed"}
    at.switch_page("pages/portfolio.py")
    open_section(at, "Borrowed privileges")
    assert "Stopped, still holding borrowed privileges" in [s.value for s in at.subheader]
    assert holding_lines(at) == []
    assert any("No stopped or retired pilot still holds" in c.value for c in at.caption)
    assert name not in set(frame_with(at, "next_date", "reasons")["name"])


def test_a_leader_off_the_seats_sees_who_records_the_revocations(demo_db):
    pilot_id, _, _ = stopped_still_holding(demo_db)
    with db.session(demo_db) as c:
        (leader,) = c.execute("SELECT id FROM person WHERE role = 'leadership' AND active AND id NOT IN"
                              " (SELECT product_owner_id FROM pilot WHERE id = ?) ORDER BY id LIMIT 1",
                              [pilot_id]).fetchone()
    at = open_app("pages/pilot.py")
    act_as(at, leader)
    open_pilot(at, pilot_id, "Production readiness")
    assert not [b for b in at.button if b.key == f"privilege-revoke-save-{pilot_id}"]
    assert any("Its product owner or technical lead, or an admin, records the revocations." == c.value
               for c in at.caption)


def test_the_stopped_pilots_page_lists_them_with_reasons_and_lessons_and_searches_words(demo_db):
    at = open_app("pages/stopped.py")
    no_exception(at)
    rows = frame_with(at, "lessons", "rationale")
    assert {"Value not proven", "Data not ready", "Superseded"} <= set(rows["reason"])
    assert rows["lessons"].str.len().min() > 20
    at.text_input(key="stopped-search").input("roadmap").run()
    rows = frame_with(at, "lessons", "rationale")
    assert set(rows["stage"]) == {"retired"} and set(rows["reason"]) == {"Superseded"}
    at.text_input(key="stopped-search").input("").run()
    at.multiselect(key="stopped-reason").set_value(["data_not_ready"]).run()
    rows = frame_with(at, "lessons", "rationale")
    assert list(rows["reason"]) == ["Data not ready"]
    at.text_input(key="stopped-search").input("nothing like this anywhere").run()
    assert any(i.value == "No stopped pilot matches." for i in at.info)


def test_creating_a_pilot_like_a_stopped_one_shows_it_and_why_it_stopped(demo_db):
    at = open_app("pages/pilot.py")
    at.text_input(key="pilot-name").input("Onboarding guide for contractors").run()
    no_exception(at)
    assert any(w.value.startswith("Resembles 1 stopped pilot") for w in at.warning)
    assert [m.value for m in at.markdown if m.value.startswith("**Onboarding guide**")] == [
        f"**Onboarding guide** · stopped on {stopped_on(demo_db, 'Onboarding guide')}: Value not proven"]
    assert any(c.value.startswith("Lessons learned: The error rate never fell") for c in at.caption)
    at.text_input(key="pilot-name").input("Payroll anomaly finder").run()
    assert not any(w.value.startswith("Resembles") for w in at.warning)


def test_the_import_preview_shows_new_pilots_beside_the_stopped_ones_they_resemble(demo_db):
    at = open_app("pages/import.py")
    data = (b"Name,Business unit,Problem\n"
            b"Inventory reorder v2,Operations,Propose reorder quantities\n"
            b"Payroll anomaly finder,Finance,Spot payroll errors\n")
    at.file_uploader(key="import-file").set_value(("new.csv", data, "text/csv"))
    at.run()
    no_exception(at)
    assert "New pilots that resemble stopped ones" in [s.value for s in at.subheader]
    alike = table(at, ["Row", "New pilot", "Resembles"])
    assert alike[["New pilot", "Resembles", "Stage", "Reason"]].values.tolist() == [
        ["Inventory reorder v2", "Inventory reorder", "retired", "Superseded"]]


def test_the_stopped_pilots_page_shows_why_it_stopped_and_a_correction_to_a_no_go_asks_why(demo_db):
    with db.session(demo_db) as c:
        (extended,) = c.execute("SELECT p.id FROM pilot p WHERE p.stage = 'pilot' AND EXISTS (SELECT 1 FROM decision d"
                                " WHERE d.pilot_id = p.id AND d.kind = 'extend') ORDER BY p.id LIMIT 1").fetchone()
    pilot_id, _, _ = stopped_still_holding(demo_db)
    at = open_app("pages/pilot.py")
    open_pilot(at, pilot_id, "Criteria and decisions")
    no_exception(at)
    assert any(m.value.startswith("*Why it stopped:* Value not proven  \n*Lessons learned:* The error rate")
               for m in at.markdown)
    # Correcting the latest extension into a no-go needs its reason too.
    open_pilot(at, extended)
    (tag,) = [r.key.removeprefix("correct-kind-") for r in at.radio if r.key.startswith("correct-kind-")]
    at.radio(key=f"correct-kind-{tag}").set_value("no_go").run()
    at.text_area(key=f"correct-why-{tag}").input("We meant to stop it")
    at.button(key=f"correct-go-{tag}").click()
    at.run()
    assert any(e.value.startswith("Reason: choose why the pilot stops") for e in at.error)
    at.selectbox(key=f"correct-{tag}-stop-reason").set_value("strategy_changed")
    at.button(key=f"correct-go-{tag}").click()
    at.run()
    no_exception(at)
    assert not [e.value for e in at.error if e.value.startswith("Reason")]
    assert any(s.value == f"Recorded the correction of decision {tag.split('-')[1]}." for s in at.success)
    assert any(m.value.startswith("*Why it stopped:* Strategy changed") for m in at.markdown)
