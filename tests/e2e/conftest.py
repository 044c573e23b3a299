"""Fixtures for the browser tests: Chromium, a served app over a fresh demo
database, and a place to leave screenshots and the server log on failure.

Without Chromium the browser tests are skipped locally; with CI=true they
fail instead, since CI installs Chromium and requires them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
STARTUP_TIMEOUT = 60  # seconds for the server to answer its health check
STOP_TIMEOUT = 10  # seconds for the server to stop before it is killed
EXPECT_TIMEOUT = 30_000  # ms an expectation in a browser test waits at most (see e2e_browser)
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    for candidate in (shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def artifact_path(name: str) -> Path:
    """A file in test-artifacts/ named after a test id, safe for any file system."""
    ARTIFACTS.mkdir(exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("_")
    return ARTIFACTS / safe


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        reason = "Chromium not found (neither `chromium` on PATH nor /usr/bin/chromium); install it with `apt-get install chromium`"
        if in_ci():
            pytest.fail(f"{reason}. CI=true requires the browser tests.", pytrace=False)
        pytest.skip(reason)
    return path


class Server:
    def __init__(self, url: str, log: Path, db_file: Path):
        self.url = url
        self.log = log
        self.db_file = db_file

    def save_log(self, name: str) -> Path:
        target = artifact_path(f"{name}.server.log")
        try:
            shutil.copyfile(self.log, target)
        except OSError:
            target.write_text("(no server log)\n")
        return target

    def save_failure(self, page, test_name: str) -> None:
        """A full-page screenshot and the server log, named after the test:
        test_page_renders[pilot-1] -> test_page_renders-pilot-1.png/.server.log."""
        name = test_name.replace("[", "-").rstrip("]")
        try:
            # Streamlit scrolls inside its main block, not the document, so a
            # full-page shot is only the viewport: grow it to the content first.
            height = page.evaluate(
                "Math.max(0, ...Array.from(document.querySelectorAll("
                "'[data-testid=stMain], [data-testid=stSidebarContent]')).map(e => e.scrollHeight))"
            )
            size = page.viewport_size or {"width": 1400, "height": 1000}
            if height > size["height"]:
                page.set_viewport_size({"width": size["width"], "height": min(height + 40, 10_000)})
                page.wait_for_timeout(500)
            page.screenshot(path=str(artifact_path(f"{name}.png")), full_page=True)
        except Exception as exc:  # the browser may be gone; keep the test's own failure
            artifact_path(f"{name}.screenshot-error.txt").write_text(f"{exc!r}\n")
        self.save_log(name)


def build_demo_db(db_file: Path, env: dict) -> None:
    """The demo portfolio, built for today by the command line."""
    demo = subprocess.run(
        [sys.executable, "-m", "portfolio", "demo", "--db", str(db_file)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    if demo.returncode != 0:
        pytest.fail(f"building the demo database failed:\n{demo.stdout}\n{demo.stderr}", pytrace=False)


def wait_until_healthy(url: str, proc: subprocess.Popen, server: Server) -> None:
    """Until the server answers its health check; it exiting or not answering
    in time fails the test with the tail of its log."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not _healthy(url):
        if proc.poll() is not None:
            saved = server.save_log("server-startup")
            pytest.fail(f"streamlit exited with {proc.returncode} before answering "
                        f"(log: {saved}):\n{_tail(server.log)}", pytrace=False)
        if time.monotonic() > deadline:
            saved = server.save_log("server-startup")
            pytest.fail(f"streamlit did not answer {url}/_stcore/health within "
                        f"{STARTUP_TIMEOUT}s (log: {saved}):\n{_tail(server.log)}", pytrace=False)
        time.sleep(0.25)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def app_env(db_file: Path, **settings: str) -> dict:
    """The environment of a served app over ``db_file``: local mode (the
    first admin acts) unless ``settings`` say otherwise, whatever the
    caller's shell has set."""
    # No file watcher: a file edited while the tests run must not put up
    # Streamlit's "File change" prompt, which would look like a run not done.
    env = dict(os.environ, PORTFOLIO_DB=str(db_file), STREAMLIT_SERVER_FILE_WATCHER_TYPE="none")
    for name in ("PORTFOLIO_TRUSTED_HEADER", "PORTFOLIO_TRUSTED_HEADER_SECRET", "PORTFOLIO_USER",
                 "PORTFOLIO_LOCAL_MODE", "STREAMLIT_SERVER_ADDRESS"):
        env.pop(name, None)
    env.update(settings)
    return env


@contextmanager
def serve_app(workdir: Path, env: dict, *args: str, host: str = "127.0.0.1", address: str = "127.0.0.1",
              port: int | None = None):
    """``streamlit run app.py`` from the repository on ``port`` (a free one by
    default), listening on ``address``, with more command-line ``args``;
    yields a Server whose URL uses ``host``. The demo database is built first
    when missing."""
    db_file = Path(env["PORTFOLIO_DB"])
    if not db_file.exists():
        build_demo_db(db_file, env)
    log_file = workdir / "streamlit.log"
    port = port or free_port()
    url = f"http://{host}:{port}"
    with open(log_file, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py",
             "--server.port", str(port), "--server.headless", "true",
             "--server.address", address, "--browser.gatherUsageStats", "false", *args],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    server = Server(url, log_file, db_file)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", proc, server)
        yield server
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def app_server(chromium, tmp_path_factory) -> Server:
    """The app served on a free port over a demo database built for today."""
    workdir = tmp_path_factory.mktemp("e2e-app")
    with serve_app(workdir, app_env(workdir / "portfolio.duckdb")) as server:
        yield server


@pytest.fixture(scope="module")
def e2e_browser(chromium):
    from playwright.sync_api import expect, sync_playwright

    # How long an expectation waits for the app before it fails. It is a
    # bound, not a pause: each check returns as soon as the page shows what
    # it waits for. Playwright's 5 s default fails on a loaded 2-core
    # machine, where the browser may still be drawing the Portfolio page's
    # charts well after the script run has finished.
    expect.set_options(timeout=EXPECT_TIMEOUT)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def e2e_page(e2e_browser):
    """A fresh browser context (so a fresh Streamlit session) per test."""
    context = e2e_browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
