"""The benchmark's table: every figure beside its floor and their ratio,
each target with whether it is met at the sizes measured."""

import re

import pytest

from portfolio.web import bench


def figures(n: int, slow: float = 1.0) -> dict:
    """A size's results as a run leaves them; ``slow`` scales the figures
    (not the floors)."""
    out = {"pilots": n, "weekly_update": 10 * n, "kpi_reading": 20 * n, "audit": 8 * n,
           "build_s": n / 1000, "measure_s": n / 500}
    for m in bench.MEASURES:
        out[m.key] = round(50.0 * slow, 1)
        if m.floor:
            out[m.floor] = 25.0
            out[m.ratio] = round(1.2 * slow, 2)
    return out


def row(text: str, label: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_each_figure_is_printed_with_its_floor_and_their_ratio():
    text = bench.table([figures(1_000), figures(10_000)])
    assert row(text, "measure")[:4] == ["measure", "floor", "1,000 pilots", "10,000 pilots"]
    floored = [m for m in bench.MEASURES if m.floor]
    # The browser pages (time and bytes), the Portfolio page's two runs, the flags, the command line.
    assert len(floored) == 10
    for m in floored:
        cells = row(text, m.label)
        assert cells[1] == m.floor_label and cells[1]
        assert cells[2] == f"50.0 / 25.0 {m.unit} = ×1.20", m.key
    assert row(text, "posting one weekly update")[1:3] == ["—", "50.0 ms"]
    assert row(text, "building the portfolio, then measuring it (s)")[2:4] == ["1.0, 2.0", "10.0, 20.0"]


def test_the_floors_are_the_ones_each_figure_is_measured_against():
    floors = {m.key: m.floor for m in bench.MEASURES}
    assert floors["flags_ms"] == "raw_facts_ms"
    assert floors["summary_ms"] == "cli_floor_ms"
    assert floors["rerun_ms"] == floors["page_ms"] == "empty_ms"
    assert {floors[f"browser_{p}_ms"] for p in ("portfolio", "decisions", "pilot")} == {"browser_empty_ms"}
    assert {floors[f"browser_{p}_kb"] for p in ("portfolio", "decisions", "pilot")} == {"browser_empty_kb"}


@pytest.mark.parametrize("slow, verdict", [(1.0, "met"), (40.0, "**missed**")], ids=["fast", "slow"])
def test_each_target_says_whether_it_is_met_at_its_size(slow, verdict):
    text = bench.table([figures(1_000), figures(10_000, slow), figures(50_000, slow)])
    flags = row(text, "flags for the whole portfolio, computed")[-1]
    assert flags == f"< 100 ms at 10,000: {verdict}; < ×1.5 at 10,000: {verdict}"
    page = row(text, "browser: Portfolio page, new session to settled")[-1]
    assert page == f"< ×2 at 10,000: {verdict}; < ×3 at 50,000: {verdict}"
    size = row(text, "browser: bytes received, Portfolio page")[-1]
    assert size == ("< 500 KB at every size: met" if verdict == "met"
                    else "< 500 KB at every size: **missed** at 10,000, 50,000")


def test_a_target_at_a_size_not_measured_has_no_verdict():
    text = bench.table([figures(200)])
    assert row(text, "command line: python -m portfolio summary, whole process")[-1] == "< 1,000 ms at 10,000"
    assert not re.search(r"met|missed", row(text, "flags for the whole portfolio, computed")[-1])


def test_a_run_without_the_browser_leaves_its_rows_out():
    results = [{k: v for k, v in figures(200).items() if not k.startswith("browser_")}]
    text = bench.table(results)
    assert "browser:" not in text and "flags for the whole portfolio" in text
