"""The scale benchmark: ``python -m portfolio bench`` (``make bench``).

For each size it builds a synthetic portfolio: the demo's archetypes at that
scale, every pilot with a clock carrying a year of weekly updates, every KPI
a year of weekly readings, the demo's decisions, and audit records. Then it
measures what people and the scheduler wait for, in a process of its own
(so peak memory is that size's), and prints a table against the targets.
It is a benchmark, not a test: it prints figures and never fails a build.

Part of web/, the Streamlit-aware layer: it times the
Portfolio page with Streamlit's own test harness (AppTest), imported (with
ui.py) inside the function that needs it, so importing the core never
loads Streamlit.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

SIZES = (1_000, 10_000, 50_000)
WEEKS = 52           # a year of weekly updates and readings per pilot and KPI
AUDIT_PER_PILOT = 8  # audit records per pilot, as a year of edits leaves
IMPORT_ROWS = 10_000
ROOT = Path(__file__).resolve().parents[2]

# Each measure: its label, its unit, and its target at 10,000 pilots (None: no target).
MEASURES = [
    ("flags_ms", "flags for the whole portfolio, computed", "ms", 100),
    ("page_ms", "Portfolio page, full script run after a change (AppTest)", "ms", 1000),
    ("rerun_ms", "Portfolio page, a rerun with no change since (a filter, a click)", "ms", 1000),
    ("empty_ms", "an empty page's run (the framework's floor)", "ms", None),
    ("page_ratio", "Portfolio page after a change / empty page", "x", None),
    ("update_ms", "posting one weekly update", "ms", 50),
    ("import_ms", f"importing {IMPORT_ROWS:,} rows", "ms", 5000),
    ("digest_ms", "producing the digest (built and rendered)", "ms", None),
    ("peak_mb", "peak memory of the process", "MB", None),
    # The browser (browser_bench): a new session's navigation to the page
    # settled, as a ratio to an empty Streamlit app served the same way, and
    # what the server sent over the websocket for the page.
    ("browser_empty_ms", "browser: the empty app, navigation to settled (the floor)", "ms", None),
    ("browser_portfolio_ratio", "browser: Portfolio page / the empty app", "x", 2),
    ("browser_decisions_ratio", "browser: Decisions page / the empty app", "x", 2),
    ("browser_pilot_ratio", "browser: a Pilot page / the empty app", "x", None),
    ("browser_empty_kb", "browser: bytes received, the empty app", "KB", None),
    ("browser_portfolio_kb", "browser: bytes received, Portfolio page", "KB", 500),
    ("browser_decisions_kb", "browser: bytes received, Decisions page", "KB", 500),
    ("browser_pilot_kb", "browser: bytes received, a Pilot page", "KB", 500),
]


def _median_ms(work, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def build(path: Path, n: int, as_of: date) -> dict:
    """The demo at ``n`` pilots, then a year of history for each pilot, KPI
    and a few audit records each, written in bulk."""
    from portfolio.services import demo
    from portfolio.storage import bench as bench_store

    counts = demo.build_demo(path, as_of, n)
    sizes = bench_store.add_history(path, WEEKS, AUDIT_PER_PILOT)
    return {"demo": counts, "rows": sizes}


def _import_file(folder: Path, owners: list[str]) -> Path:
    """A spreadsheet of IMPORT_ROWS new pilots, owned by existing people."""
    import csv

    path = folder / "import.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["Use case ID", "Title", "Business unit", "Stage", "Pilot start", "Product owner"])
        for i in range(IMPORT_ROWS):
            out.writerow([f"BENCH-{i:05d}", f"Imported pilot {i}", "Claims", "Pilot", "2026-09-01",
                          owners[i % len(owners)]])
    return path


def _apptest_runs(path: Path) -> tuple[float, float, float]:
    """The Portfolio page's full script run as after a change to the data
    (nothing kept from an earlier run), its rerun with nothing changed (the
    portfolio-wide reads kept, see ui.kept), and an empty page's run, in
    this process, each the median of three after one warm-up run."""
    import streamlit as st
    from streamlit import logger
    from streamlit.testing.v1 import AppTest

    # AppTest outside a server warns about a missing script context: noise here.
    logger.set_log_level("error")
    os.environ["PORTFOLIO_DB"] = str(path)
    os.environ.pop("PORTFOLIO_USER", None)
    page = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    page.run()
    if page.exception:
        raise RuntimeError(f"the Portfolio page failed: {page.exception[0].value}")
    rerun = _median_ms(page.run, 3)

    def after_a_change():
        st.cache_resource.clear()
        page.run()

    empty = AppTest.from_string("import streamlit as st\nst.title('Empty page')", default_timeout=60)
    empty.run()
    return _median_ms(after_a_change, 3), rerun, _median_ms(empty.run, 3)


def measure(n: int, folder: Path, as_of: date, browser: bool = True) -> dict:
    """Build a portfolio of ``n`` pilots in ``folder`` and measure it."""
    from portfolio import flags
    from portfolio.domain.models import Actor
    from portfolio.domain.settings import Settings
    from portfolio.services import importer, updates
    from portfolio.services.reporting import digest
    from portfolio.storage import bench as bench_store
    from portfolio.storage import db, store

    settings = Settings()
    path = folder / f"bench-{n}.duckdb"
    started = time.perf_counter()
    built = build(path, n, as_of)
    result = {"pilots": n, "build_s": round(time.perf_counter() - started, 1), **built["rows"]}

    with db.session(path) as c:
        result["flags_ms"] = _median_ms(lambda: flags.portfolio_flags(c, as_of, settings), 5)
        result["flags"] = len(flags.portfolio_flags(c, as_of, settings))
        result["digest_ms"] = _median_ms(
            lambda: digest.render_markdown(digest.build_digest(c, as_of, settings, record=False)), 3)
        # Pilots in `pilot` with an active owner and nothing posted this week: one update each.
        owners = bench_store.pilots_to_update(c, 21)
        actors = {pid: Actor.of(store.get_person(c, owner)) for pid, owner in owners}
        pending = iter(owners)

        def post_one():
            pid, _ = next(pending)
            updates.post_weekly_update(c, actors[pid], {"pilot_id": pid, "health": "green",
                                                         "summary": "Benchmark week"}, as_of)

        post_one()  # warm-up
        result["update_ms"] = _median_ms(post_one, 20)

    # The page before the import: the import adds ten thousand pilots.
    result["page_ms"], result["rerun_ms"], result["empty_ms"] = _apptest_runs(path)
    result["page_ratio"] = round(result["page_ms"] / max(result["empty_ms"], 0.1), 1)
    if browser:
        from portfolio.web import browser_bench

        with db.session(path) as c:
            pilot_id = bench_store.pilots_to_update(c, 1)[0][0]
        result.update(browser_bench.measure(path, pilot_id))

    with db.session(path) as c:
        emails = bench_store.product_owner_emails(c, 200)
        admin = Actor.of(next(p for p in store.list_people(c, active_only=True) if p.role.value == "admin"))
        sheet = _import_file(folder, emails)
        start = time.perf_counter()
        frame = importer.read_table(sheet, sheet.name)
        plan = importer.plan_import(c, frame, importer.guess_mapping(list(frame.columns)), settings)
        done = importer.apply_import(c, admin, plan)
        result["import_ms"] = round((time.perf_counter() - start) * 1000, 1)
        if done.created != IMPORT_ROWS:
            raise RuntimeError(f"the import created {done.created} pilots, not {IMPORT_ROWS}")

    # ru_maxrss is in kilobytes on Linux.
    result["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def _one_size(n: int, out: str, as_of: date, browser: bool = True) -> int:
    with tempfile.TemporaryDirectory(prefix="portfolio-bench-") as folder:
        figures = measure(n, Path(folder), as_of, browser)
    Path(out).write_text(json.dumps(figures))
    return 0


def table(results: list[dict]) -> str:
    """The figures as a Markdown table, one column per size, the target
    (at 10,000 pilots) and how each grows from the smallest to the largest
    portfolio against the portfolio itself."""
    sizes = [r["pilots"] for r in results]
    head = ["measure"] + [f"{n:,} pilots" for n in sizes] + ["target at 10,000", "growth"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    by_size = {r["pilots"]: r for r in results}
    for key, label, unit, target in MEASURES:
        if any(key not in r for r in results):
            continue  # a measure this run did not take (--no-browser)
        cells = [f"{r[key]:,}" if isinstance(r[key], int) else f"{r[key]:,.1f}" for r in results]
        if target is None:
            goal = "—"
        elif 10_000 in by_size:
            goal = f"< {target:,} {unit}: " + ("met" if by_size[10_000][key] < target else "**missed**")
        else:
            goal = f"< {target:,} {unit}"
        first, last = results[0], results[-1]
        if len(results) > 1 and first[key] and key != "page_ratio":
            growth = (last[key] / first[key]) / (last["pilots"] / first["pilots"])
            grow = f"×{last[key] / first[key]:.1f} for ×{last['pilots'] / first['pilots']:.0f} pilots" + (
                "" if growth <= 1 else " (**faster than the portfolio**)")
        else:
            grow = "—"
        lines.append("| " + " | ".join([f"{label} ({unit})"] + cells + [goal, grow]) + " |")
    rows = ["weekly_update", "kpi_reading", "audit"]
    lines.append("| " + " | ".join(["rows: updates / readings / audit"]
                                   + [" / ".join(f"{r[k]:,}" for k in rows) for r in results] + ["", ""]) + " |")
    return "\n".join(lines)


def run(sizes=SIZES, json_path: str | None = None, as_of: date | None = None, browser: bool = True) -> int:
    """Measure each size in a process of its own and print the table."""
    as_of = as_of or date.today()
    results = []
    for n in sizes:
        print(f"building and measuring {n:,} pilots ...", file=sys.stderr, flush=True)
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as part:
            out = part.name
        try:
            done = subprocess.run(
                [sys.executable, "-m", "portfolio", "bench", "--one-size", str(n), "--part", out,
                 "--as-of", as_of.isoformat(), *([] if browser else ["--no-browser"])],
                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            if done.returncode != 0:
                print(f"error: the benchmark of {n:,} pilots failed (exit {done.returncode})", file=sys.stderr)
                return 2
            results.append(json.loads(Path(out).read_text()))
        finally:
            Path(out).unlink(missing_ok=True)
    cores = os.cpu_count()
    print(f"\nAs of {as_of}, on {cores} cores, Python {sys.version.split()[0]}:\n")
    print(table(results))
    if json_path:
        Path(json_path).write_text(json.dumps({"as_of": as_of.isoformat(), "cores": cores, "results": results},
                                              indent=2))
        print(f"\nFigures written to {json_path}.")
    return 0
