"""The scale benchmark: ``python -m portfolio bench`` (``make bench``).

For each size it builds a synthetic portfolio: the demo's archetypes at that
scale, every pilot with a clock carrying a year of weekly updates, every KPI
a year of weekly readings, the demo's decisions, and audit records. Then it
measures what people and the scheduler wait for, in a process of its own
(so peak memory is that size's), and prints a table against the targets.
It is a benchmark, not a test: it prints figures and never fails a build.

This machine's absolute times move 2 to 5 times with its load, so each
figure that can be is measured beside its natural floor, in the same run,
the two taken in turn run after run, and reported as the median of the
per-run ratios: a page against an empty page, the flags against a plain
query of their facts, the command line against Python importing DuckDB.

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
from dataclasses import dataclass
from datetime import date
from pathlib import Path

SIZES = (1_000, 10_000, 50_000)
WEEKS = 52           # a year of weekly updates and readings per pilot and KPI
AUDIT_PER_PILOT = 8  # audit records per pilot, as a year of edits leaves
IMPORT_ROWS = 10_000
RUNS = 5             # runs of a figure and its floor, taken in turn
ROOT = Path(__file__).resolve().parents[2]
# The command line's floor: a Python process that imports DuckDB and exits,
# the least any command reading the database does.
CLI_FLOOR = ("-c", "import duckdb")


@dataclass(frozen=True)
class Target:
    bound: float
    on: str = "figure"            # "figure" (in the measure's unit) or "ratio" (to the floor)
    at: int | None = 10_000       # the portfolio size it holds for; None: every size

    def words(self, unit: str) -> str:
        what = f"< ×{self.bound:g}" if self.on == "ratio" else f"< {self.bound:,g} {unit}"
        return what + (" at every size" if self.at is None else f" at {self.at:,}")

    def met(self, figures: dict, measure: Measure) -> bool:
        key = measure.ratio if self.on == "ratio" else measure.key
        return figures[key] < self.bound


@dataclass(frozen=True)
class Measure:
    key: str                      # the figure in the results
    label: str
    unit: str
    floor: str | None = None      # the floor's figure in the results, in the same unit
    floor_label: str = ""
    ratio: str | None = None      # the ratio's key: the median of the per-run ratios
    targets: tuple[Target, ...] = ()


_PAGES = (("portfolio", "Portfolio page"), ("decisions", "Decisions page"), ("pilot", "a Pilot page"))
_EMPTY_PAGE = "an empty page's run (AppTest)"

MEASURES = [
    # The browser (browser_bench): a new session's navigation to the page
    # settled, against an empty Streamlit app served the same way, and what
    # the server sent over the websocket for the page.
    *(Measure(f"browser_{page}_ms", f"browser: {label}, new session to settled", "ms",
              "browser_empty_ms", "the empty app, navigation to settled", f"browser_{page}_ratio",
              (Target(2, "ratio"), Target(3, "ratio", 50_000)))
      for page, label in _PAGES),
    *(Measure(f"browser_{page}_kb", f"browser: bytes received, {label}", "KB",
              "browser_empty_kb", "bytes received, the empty app", f"browser_{page}_kb_ratio",
              (Target(500, at=None),))
      for page, label in _PAGES),
    Measure("rerun_ms", "Portfolio page, a rerun with nothing changed (a filter, a click; AppTest)", "ms",
            "empty_ms", _EMPTY_PAGE, "rerun_ratio", (Target(100),)),
    Measure("page_ms", "Portfolio page, the first run after a change (nothing kept; AppTest)", "ms",
            "empty_ms", _EMPTY_PAGE, "page_ratio", (Target(300),)),
    Measure("flags_ms", "flags for the whole portfolio, computed", "ms",
            "raw_facts_ms", "a plain DuckDB query of the same per-pilot facts", "flags_ratio",
            (Target(100), Target(1.5, "ratio"))),
    Measure("summary_ms", "command line: python -m portfolio summary, whole process", "ms",
            "cli_floor_ms", f'python {CLI_FLOOR[0]} "{CLI_FLOOR[1]}"', "summary_ratio", (Target(1000),)),
    Measure("update_ms", "posting one weekly update", "ms", targets=(Target(50),)),
    Measure("import_ms", f"importing {IMPORT_ROWS:,} rows", "ms", targets=(Target(5000),)),
    Measure("digest_ms", "producing the digest (built and rendered)", "ms"),
    Measure("peak_mb", "peak memory of the process", "MB"),
]


def _ms(work) -> float:
    start = time.perf_counter()
    work()
    return (time.perf_counter() - start) * 1000


def _median_ms(work, runs: int) -> float:
    return round(statistics.median(_ms(work) for _ in range(runs)), 1)


def against_floor(work, floor, runs: int = RUNS) -> tuple[float, float, float]:
    """``work`` and its ``floor`` timed in turn, ``runs`` times after one
    untimed run of each: the median milliseconds of each and the median of
    the per-run ratios, so that a change in the machine's load falls on
    both alike."""
    floor()
    work()
    pairs = [(_ms(work), _ms(floor)) for _ in range(runs)]
    figure, base = (round(statistics.median(side), 1) for side in zip(*pairs))
    return figure, base, round(statistics.median(w / max(f, 0.001) for w, f in pairs), 2)


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


def _apptest_runs(path: Path, runs: int = RUNS) -> dict:
    """The Portfolio page's rerun with nothing changed (the portfolio-wide
    reads kept, see ui.kept) and its full script run as after a change to
    the data (nothing kept from an earlier run), each against an empty
    page's run in this process, taken in turn run after run."""
    import streamlit as st
    from streamlit import config, logger
    from streamlit.testing.v1 import AppTest

    # AppTest outside a server warns about a missing script context: noise
    # here. The level is set once Streamlit has read its configuration, which
    # sets it again.
    config.get_config_options()
    logger.set_log_level("error")
    os.environ["PORTFOLIO_DB"] = str(path)
    os.environ.pop("PORTFOLIO_USER", None)
    page = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    page.run()
    if page.exception:
        raise RuntimeError(f"the Portfolio page failed: {page.exception[0].value}")

    def after_a_change():
        st.cache_resource.clear()
        page.run()

    empty = AppTest.from_string("import streamlit as st\nst.title('Empty page')", default_timeout=60)
    empty.run()
    figures = {}
    figures["rerun_ms"], figures["empty_ms"], figures["rerun_ratio"] = against_floor(page.run, empty.run, runs)
    # Each run after a change leaves the reads kept again for the next.
    figures["page_ms"], _, figures["page_ratio"] = against_floor(after_a_change, empty.run, runs)
    return figures


def _summary_process(path: Path, as_of: date, runs: int = RUNS) -> dict:
    """``python -m portfolio summary`` over ``path``, the whole process,
    against a Python process importing DuckDB, taken in turn."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def process(*args: str):
        subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)

    figure, floor, ratio = against_floor(
        lambda: process("-m", "portfolio", "summary", "--db", str(path), "--as-of", as_of.isoformat()),
        lambda: process(*CLI_FLOOR), runs)
    return {"summary_ms": figure, "cli_floor_ms": floor, "summary_ratio": ratio}


def measure(n: int, folder: Path, as_of: date, browser: bool = True, runs: int = RUNS) -> dict:
    """Build a portfolio of ``n`` pilots in ``folder`` and measure it, each
    figure and its floor taken ``runs`` times in turn."""
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
    started = time.perf_counter()

    with db.session(path) as c:
        result["flags_ms"], result["raw_facts_ms"], result["flags_ratio"] = against_floor(
            lambda: flags.portfolio_flags(c, as_of, settings), lambda: bench_store.raw_facts(c, as_of), runs)
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

    # The pages and the summary before the import: it adds ten thousand pilots.
    result.update(_apptest_runs(path, runs))
    result.update(_summary_process(path, as_of, runs))
    if browser:
        from portfolio.web import browser_bench

        with db.session(path) as c:
            pilot_id = bench_store.pilots_to_update(c, 1)[0][0]
        result.update(browser_bench.measure(path, pilot_id, runs))

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
    result["measure_s"] = round(time.perf_counter() - started, 1)
    return result


def _one_size(n: int, out: str, as_of: date, browser: bool = True, runs: int = RUNS) -> int:
    with tempfile.TemporaryDirectory(prefix="portfolio-bench-") as folder:
        figures = measure(n, Path(folder), as_of, browser, runs)
    Path(out).write_text(json.dumps(figures))
    return 0


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def _cell(measure: Measure, figures: dict) -> str:
    """The figure, its floor and their ratio, e.g. ``161.0 / 104.2 ms = ×1.53``."""
    figure = _number(figures[measure.key])
    if measure.floor is None:
        return f"{figure} {measure.unit}"
    return f"{figure} / {_number(figures[measure.floor])} {measure.unit} = ×{figures[measure.ratio]:,.2f}"


def _goal(measure: Measure, by_size: dict[int, dict]) -> str:
    """Each target, and whether it is met where this run measured its size."""
    goals = []
    for target in measure.targets:
        sizes = sorted(by_size) if target.at is None else [target.at] if target.at in by_size else []
        verdict = ""
        if sizes:
            missed = [n for n in sizes if not target.met(by_size[n], measure)]
            verdict = ": " + ("met" if not missed else "**missed**" if target.at is not None
                              else "**missed** at " + ", ".join(f"{n:,}" for n in missed))
        goals.append(target.words(measure.unit) + verdict)
    return "; ".join(goals) or "—"


def table(results: list[dict]) -> str:
    """The figures as a Markdown table: one row per measure, its floor, one
    column per size with the figure, its floor and their ratio, and each
    target with whether it is met."""
    head = ["measure", "floor"] + [f"{r['pilots']:,} pilots" for r in results] + ["target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    by_size = {r["pilots"]: r for r in results}
    for measure in MEASURES:
        if any(measure.key not in r for r in results):
            continue  # a measure this run did not take (--no-browser)
        cells = [_cell(measure, r) for r in results]
        lines.append("| " + " | ".join([measure.label, measure.floor_label or "—", *cells,
                                         _goal(measure, by_size)]) + " |")
    rows = ["weekly_update", "kpi_reading", "audit"]
    lines.append("| " + " | ".join(["rows: updates / readings / audit", ""]
                                   + [" / ".join(f"{r[k]:,}" for k in rows) for r in results] + [""]) + " |")
    lines.append("| " + " | ".join(["building the portfolio, then measuring it (s)", ""]
                                   + [f"{r['build_s']:,.1f}, {r['measure_s']:,.1f}" for r in results] + [""]) + " |")
    return "\n".join(lines)


def run(sizes=SIZES, json_path: str | None = None, as_of: date | None = None, browser: bool = True,
        runs: int = RUNS) -> int:
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
                 "--as-of", as_of.isoformat(), "--runs", str(runs), *([] if browser else ["--no-browser"])],
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
