"""The browser half of the scale benchmark: what a person opening a page
waits for, and what their browser receives.

For a built portfolio it serves the tracker (``streamlit run serve.py``, as
``make run`` does) and, beside it, an empty one-line Streamlit app served
the same way: the natural floor of any Streamlit page on this machine. A
headless Chromium opens each page in a new session (a new browser context,
so nothing is cached from an earlier visit), and the time runs from the
navigation to the page settled: its title drawn and the app reporting its
script as not running, the signal the browser tests wait on. The pages are
visited in turn, run after run, so that a change in the machine's load
falls on the floor and the pages alike; each page's figure is the median of
its per-run ratios to the floor of the same run. The bytes are what the
server sends over the websocket for that page (the page's own messages:
the JavaScript bundle is the same for every Streamlit app and cached by a
browser).

It needs Chromium (``apt-get install chromium``) and Playwright (in
requirements.txt for the browser tests).
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNS = 5                 # visits of each page, interleaved with the floor's
SETTLE_TIMEOUT_MS = 300_000
EMPTY_APP = 'import streamlit as st\n\nst.title("Empty page")\n'
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    for candidate in (shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def free_port() -> int:
    """A loopback port free now (the browser tests serve on such ports too)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    """Whether the Streamlit server at ``url`` answers its health check with
    "ok": another program that took the port answers something else."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


@contextmanager
def _served(script: Path, db: Path, log: Path):
    """``streamlit run script`` on a free loopback port over ``db``; yields its URL."""
    port = free_port()
    env = dict(os.environ, PORTFOLIO_DB=str(db), STREAMLIT_SERVER_FILE_WATCHER_TYPE="none")
    for name in ("PORTFOLIO_USER", "PORTFOLIO_TRUSTED_HEADER", "PORTFOLIO_LOCAL_MODE", "STREAMLIT_SERVER_ADDRESS"):
        env.pop(name, None)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
             "--server.headless", "true", "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{script.name} was not served (log: {log})")
            time.sleep(0.25)  # polling the server's health check, not a page
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _visit(browser, url: str, heading: str) -> tuple[float, int]:
    """Open ``url`` in a new session; the milliseconds until it settled and
    the bytes the server sent over the websocket until then."""
    received = [0]

    def on_socket(ws):
        ws.on("framereceived", lambda payload: received.__setitem__(
            0, received[0] + len(payload if isinstance(payload, bytes) else payload.encode())))

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.on("websocket", on_socket)
        start = time.perf_counter()
        page.goto(url, wait_until="domcontentloaded", timeout=SETTLE_TIMEOUT_MS)
        page.get_by_role("heading", level=1, name=heading, exact=True).wait_for(timeout=SETTLE_TIMEOUT_MS)
        page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(
            state="attached", timeout=SETTLE_TIMEOUT_MS)
        page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=SETTLE_TIMEOUT_MS)
        return (time.perf_counter() - start) * 1000, received[0]
    finally:
        context.close()


def measure(db: Path, pilot_id: str, runs: int = RUNS) -> dict:
    """The browser figures for the portfolio in ``db``: for the Portfolio,
    Decisions and one Pilot page, the median time to settled in a new
    session and its ratio to the empty app's, and the bytes received and
    their ratio to the empty app's."""
    from playwright.sync_api import sync_playwright

    chromium = chromium_path()
    if chromium is None:
        raise RuntimeError("the browser figures need Chromium: apt-get install chromium")
    pages = {"portfolio": ("", "Portfolio"), "decisions": ("/decisions", "Decisions"),
             "pilot": (f"/pilot?id={pilot_id}", "Pilot")}
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="portfolio-browser-")))
        empty = folder / "empty_app.py"
        empty.write_text(EMPTY_APP)
        floor_url = stack.enter_context(_served(empty, db, folder / "empty.log"))
        app_url = stack.enter_context(_served(ROOT / "serve.py", db, folder / "app.log"))
        browser = stack.enter_context(sync_playwright()).chromium.launch(executable_path=chromium,
                                                                         args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        # A first visit of each warms the servers' caches and the browser: not counted.
        _visit(browser, floor_url, "Empty page")
        for path, heading in pages.values():
            _visit(browser, app_url + path, heading)
        floors, times, sizes = [], {k: [] for k in pages}, {k: [] for k in pages}
        floor_bytes = []
        for _ in range(runs):
            ms, size = _visit(browser, floor_url, "Empty page")
            floors.append(ms)
            floor_bytes.append(size)
            for key, (path, heading) in pages.items():
                ms, size = _visit(browser, app_url + path, heading)
                times[key].append(ms)
                sizes[key].append(size)
    figures = {"browser_empty_ms": round(statistics.median(floors), 1),
               "browser_empty_kb": round(statistics.median(floor_bytes) / 1024, 1)}
    for key in pages:
        ratios = [t / f for t, f in zip(times[key], floors)]
        figures[f"browser_{key}_ms"] = round(statistics.median(times[key]), 1)
        figures[f"browser_{key}_ratio"] = round(statistics.median(ratios), 2)
        figures[f"browser_{key}_kb"] = round(statistics.median(sizes[key]) / 1024, 1)
        figures[f"browser_{key}_kb_ratio"] = round(
            statistics.median(s / max(f, 1) for s, f in zip(sizes[key], floor_bytes)), 2)
    return figures

