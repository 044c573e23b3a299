"""Fixtures for the browser tests: Chromium, the served app over the demo
database, and a place to leave screenshots and the server log on failure.

One demo is built and one app served per test session (per worker when the
tests run in parallel), and each test gets the demo back as it was built:
what one journey saves, the next does not see, whatever their order. Tests
that need a server of their own (sign-in, another address, other settings)
start one over a copy of the same demo.

A journey waits on the app's own signals, never on a fixed pause: the
messages that open and close each script run on the page's connection
(``Runs``), then the app root's ``data-test-script-state``.

Without Chromium the browser tests are skipped locally; with CI=true they
fail instead, since CI installs Chromium and requires them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import weakref
from contextlib import contextmanager
from pathlib import Path

import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from portfolio.storage import db
from tests.conftest import copy_demo
from portfolio.web.browser_bench import free_port
from portfolio.web.browser_bench import healthy as _healthy

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
STARTUP_TIMEOUT = 60  # seconds for the server to answer its health check
STARTUP_ATTEMPTS = 3  # a free port can be taken by another test run before the server binds it
STOP_TIMEOUT = 10  # seconds for the server to stop before it is killed
EXPECT_TIMEOUT = 60_000  # ms an expectation or action in a browser test waits at most (see e2e_browser)
VIEWPORT = {"width": 1400, "height": 1000}
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


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


@pytest.fixture(scope="session")
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
            size = page.viewport_size or VIEWPORT
            if height > size["height"]:
                page.set_viewport_size({"width": size["width"], "height": min(height + 40, 10_000)})
                drawn(page)
            page.screenshot(path=str(artifact_path(f"{name}.png")), full_page=True)
        except Exception as exc:  # the browser may be gone; keep the test's own failure
            artifact_path(f"{name}.screenshot-error.txt").write_text(f"{exc!r}\n")
        self.save_log(name)


def drawn(page) -> None:
    """Until the browser has drawn what the page holds now: two animation
    frames, the second after the first one's layout."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r())))")


# --- the app's own signals ------------------------------------------------------

_FINISHED = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR,
             ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}


class Runs:
    """The script runs of one browser page, counted from the messages the
    app sends on its connection: ``new_session`` opens a run, and a
    ``script_finished`` other than "finished early for a rerun" closes the
    chain of runs one action started (a callback or ``st.rerun()`` ends a
    run early and starts the next)."""

    def __init__(self, page):
        self.started = 0  # runs opened since the page was created
        self.idle = True  # no run going: the last run message closed its chain
        self.seen = 0  # runs already waited for (see waited)
        self.quiet = False  # the last action changed nothing, so no run is coming
        self.socket = None
        page.on("websocket", self._connected)

    def _connected(self, socket) -> None:
        if socket.url.endswith("/_stcore/stream"):
            self.socket = socket
            self.idle = True  # a new session: nothing runs before its first new_session
            socket.on("framereceived", self._received)
            socket.on("close", lambda closed: self._closed(closed))

    def _closed(self, socket) -> None:
        """A page that leaves the app (a sign-in provider, another page)
        closes its connection: no run of that session will report."""
        if socket is self.socket:
            self.idle = True

    def _received(self, payload) -> None:
        if isinstance(payload, str):
            return
        msg = ForwardMsg()
        msg.ParseFromString(payload)
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.started += 1
            self.idle = False
            self.quiet = False  # an action did start a run: wait for it
        elif kind == "script_finished":
            self.idle = msg.script_finished in _FINISHED

    def _wait(self, done, what: str, timeout_ms: float) -> None:
        """Until ``done()``, woken by every message of the page's connection.
        The connection can change while waiting (a page that leaves the app
        and comes back opens a new one, whose messages do not wake a wait on
        the old): each wait on a connection is bounded by a second, and
        then ``done()`` and the current connection are looked at again."""
        from playwright.sync_api import Error as PlaywrightError

        deadline = time.monotonic() + timeout_ms / 1000
        while not done():
            if self.socket is None:
                raise AssertionError("the page has no connection to the app")
            left_ms = (deadline - time.monotonic()) * 1000
            if left_ms <= 0:
                raise AssertionError(f"{what} within {timeout_ms / 1000:g} s")
            try:
                self.socket.wait_for_event("framereceived", predicate=lambda _: done(),
                                           timeout=min(left_ms, 1000))
            except PlaywrightError:  # a second without the awaited message, or the connection closed
                continue

    def wait_for_new_run(self, timeout_ms: float = EXPECT_TIMEOUT) -> None:
        """Until a run begun since the last wait has finished its chain;
        at once when the last action changed nothing (``quiet``)."""
        if self.quiet:
            self.quiet = False
            return
        self._wait(lambda: self.started > self.seen and self.idle,
                   "no script run began and finished after the last action", timeout_ms)

    def wait_until_idle(self, timeout_ms: float = EXPECT_TIMEOUT) -> None:
        """Until no run is going."""
        self._wait(lambda: self.idle, "the script run did not finish", timeout_ms)

    def waited(self) -> None:
        """What has run so far is done: the next wait is for a new run."""
        self.seen = self.started
        self.quiet = False


_runs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def new_page(browser):
    """A page in a fresh browser context (so a fresh Streamlit session),
    its script runs counted."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(EXPECT_TIMEOUT)
    page = context.new_page()
    _runs[page] = Runs(page)
    return page


def runs_of(page) -> Runs:
    return _runs[page]


# --- the demo and the served app -------------------------------------------------


def build_demo_db(db_file: Path, env: dict) -> None:
    """The demo portfolio, built for today by the command line."""
    demo = subprocess.run(
        [sys.executable, "-m", "portfolio", "demo", "--db", str(db_file)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    if demo.returncode != 0:
        pytest.fail(f"building the demo database failed:\n{demo.stdout}\n{demo.stderr}", pytrace=False)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """The demo portfolio, built once for today; every served database
    starts as a copy of it."""
    template = tmp_path_factory.mktemp("e2e-demo") / "demo.duckdb"
    build_demo_db(template, app_env(template))
    return template


@pytest.fixture
def demo_db(demo_template, tmp_path) -> Path:
    """A copy of the demo of this test's own."""
    return copy_demo(demo_template, tmp_path / "portfolio.duckdb")


class ServerExited(Exception):
    """The server stopped before answering its health check."""


def wait_until_healthy(url: str, proc: subprocess.Popen, server: Server) -> None:
    """Until the server answers its health check. Not answering in time
    fails the test with the tail of its log; exiting first raises
    ServerExited (the caller may try another port)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not _healthy(url):
        if proc.poll() is not None:
            raise ServerExited(f"streamlit exited with {proc.returncode} before answering")
        if time.monotonic() > deadline:
            saved = server.save_log("server-startup")
            pytest.fail(f"streamlit did not answer {url}/_stcore/health within "
                        f"{STARTUP_TIMEOUT}s (log: {saved}):\n{_tail(server.log)}", pytrace=False)
        time.sleep(0.25)  # the server's health check is polled, not a browser page


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
                 "PORTFOLIO_LOCAL_MODE", "STREAMLIT_SERVER_ADDRESS", "PORTFOLIO_LOCK_WAIT_SECONDS"):
        env.pop(name, None)
    env.update(settings)
    return env


@contextmanager
def serve_app(workdir: Path, env: dict, *args: str, host: str = "127.0.0.1", address: str = "127.0.0.1",
              port: int | None = None):
    """``streamlit run serve.py`` (what ``make run`` serves: the pages, the
    API and the calendar feeds) from the repository over the database that
    ``env`` names, on ``port`` (a free one by default, another one should
    the server find it taken), listening on ``address``, with more
    command-line ``args``; yields a Server whose URL uses ``host``."""
    db_file = Path(env["PORTFOLIO_DB"])
    log_file = workdir / "streamlit.log"
    for attempt in range(1, STARTUP_ATTEMPTS + 1):
        chosen = port or free_port()
        url = f"http://{host}:{chosen}"
        with open(log_file, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "serve.py",
                 "--server.port", str(chosen), "--server.headless", "true",
                 "--server.address", address, "--browser.gatherUsageStats", "false", *args],
                cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        server = Server(url, log_file, db_file)
        try:
            wait_until_healthy(f"http://127.0.0.1:{chosen}", proc, server)
            break
        except ServerExited as exc:
            if port is None and attempt < STARTUP_ATTEMPTS and "already in use" in _tail(log_file):
                continue
            saved = server.save_log(f"server-startup-{chosen}")
            pytest.fail(f"{exc} (log: {saved}):\n{_tail(log_file)}", pytrace=False)
        except BaseException:
            stop(proc)
            raise
    try:
        yield server
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def served_app(chromium, demo_template, tmp_path_factory) -> Server:
    """The app served on a free port over a copy of the demo, once per session."""
    workdir = tmp_path_factory.mktemp("e2e-app")
    db_file = copy_demo(demo_template, workdir / "portfolio.duckdb")
    with serve_app(workdir, app_env(db_file)) as server:
        yield server


@pytest.fixture
def app_server(served_app, demo_template) -> Server:
    """The session's served app, its database the demo as built. The app
    holds the file only while a page runs: waiting for the lock here waits
    out a run the previous test left going, and closing writes back its log."""
    with db.session(served_app.db_file):
        pass
    copy_demo(demo_template, served_app.db_file)
    return served_app


@pytest.fixture(scope="session")
def e2e_browser(chromium):
    from playwright.sync_api import expect, sync_playwright

    # How long an expectation waits for the app before it fails, one bound
    # for every check (actions and navigations too, see new_page). It is a
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
    page = new_page(e2e_browser)
    try:
        yield page
    finally:
        page.context.close()
