"""``python -m portfolio bench`` at a tiny size, as ``make bench`` runs it
(without the browser, which tests/e2e/test_browser_bench.py covers): every
figure is printed beside its floor and their ratio, all measured."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from portfolio.web import bench

pytestmark = pytest.mark.thorough  # real processes, a portfolio built and measured

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_prints_every_figure_with_its_floor_and_their_ratio(tmp_path):
    figures_file = tmp_path / "bench.json"
    # One run of each figure and its floor: this checks what is printed, not how steady it is.
    done = subprocess.run([sys.executable, "-m", "portfolio", "bench", "--sizes", "200", "--no-browser",
                           "--runs", "1", "--as-of", "2026-11-30", "--json", str(figures_file)],
                          capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    [figures] = json.loads(figures_file.read_text())["results"]
    assert figures["pilots"] == 200 and figures["build_s"] > 0 and figures["measure_s"] > 0
    measured = [m for m in bench.MEASURES if not m.key.startswith("browser_")]
    assert {"flags_ms", "summary_ms", "rerun_ms", "page_ms"} <= {m.key for m in measured}
    for m in measured:
        assert figures[m.key] > 0, m.key
        line = next((line for line in done.stdout.splitlines() if line.startswith(f"| {m.label} |")), None)
        assert line is not None, m.label
        if m.floor:
            assert figures[m.floor] > 0 and figures[m.ratio] > 0, m.key
            # The table shows the figure, its floor and their ratio as the run measured them.
            assert f"| {m.floor_label} |" in line
            assert f"{figures[m.key]:,.1f} / {figures[m.floor]:,.1f} {m.unit} = ×{figures[m.ratio]:,.2f}" in line
