"""Who is signed in, in a real browser against the served app.

- Sign-in with a real OIDC provider (oidc-provider-mock, started here on
  localhost, with discovery, an authorization page, tokens and an end-session
  endpoint): an admin's email signs in as admin, an unknown email only reads,
  and both sign out.
- `make run` listens on 127.0.0.1 only; local mode and the trusted header
  refuse a server that listens on every interface.
- In local mode the "Act as" picker offers no one above PORTFOLIO_USER's role.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
from contextlib import suppress
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from portfolio.storage import db

from .conftest import (
    REPO_ROOT,
    Server,
    app_env,
    copy_demo,
    free_port,
    serve_app,
    stop,
    wait_until_healthy,
)
from .test_browser_smoke import wait_for_app

pytestmark = pytest.mark.e2e



def person_of_role(db_file: Path, role: str) -> tuple[str, str]:
    """(name, email) of the first active person of ``role``, by name."""
    with db.session(db_file) as c:
        return c.execute("SELECT name, email FROM person WHERE active AND role = ? ORDER BY lower(name) LIMIT 1",
                         [role]).fetchone()


# --- OIDC sign-in -------------------------------------------------------------


@pytest.fixture(scope="module")
def oidc_provider() -> str:
    """A real OpenID Connect provider on localhost: any client id and secret
    are accepted, and its authorization page asks for the subject, whose
    email claim is the same text."""
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread() as provider:
        yield f"http://localhost:{provider.server_port}"


@pytest.fixture(scope="module")
def oidc_app(chromium, oidc_provider, demo_template, tmp_path_factory) -> Server:
    """The app with OIDC sign-in configured as the README says: an [auth]
    section in a secrets.toml (here one of the test's own, passed with
    --secrets.files, never the repository's)."""
    workdir = tmp_path_factory.mktemp("e2e-oidc")
    port = free_port()
    secrets = workdir / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://localhost:{port}/oauth2callback"\n'
        f'cookie_secret = "{os.urandom(24).hex()}"\n'
        'client_id = "pilot-portfolio"\n'
        'client_secret = "test-client-secret"\n'
        f'server_metadata_url = "{oidc_provider}/.well-known/openid-configuration"\n'
    )
    env = app_env(copy_demo(demo_template, workdir / "portfolio.duckdb"))
    with serve_app(workdir, env, "--secrets.files", str(secrets), host="localhost", port=port) as server:
        yield server


def sign_in(page: Page, app: Server, email: str) -> None:
    """Through the provider's own authorization page, back to the Portfolio."""
    page.goto(app.url, wait_until="domcontentloaded")
    wait_for_app(page, "Pilot portfolio")
    page.get_by_role("button", name="Sign in").click()
    page.locator("input[name=sub]").fill(email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{app.url}/**")
    wait_for_app(page, "Portfolio")


def sign_out(page: Page, app: Server) -> None:
    """Sign out, confirm at the provider's end-session page, and land on the
    app asking to sign in again; the portfolio is no longer shown."""
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(f"{app.url}/**")
    wait_for_app(page, "Pilot portfolio")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.goto(f"{app.url}/pilot", wait_until="domcontentloaded")
    wait_for_app(page, "Pilot portfolio")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.locator('[data-testid="stMetric"]')).to_have_count(0)


def test_an_admin_signs_in_with_the_provider_as_admin_and_signs_out(request, oidc_app, e2e_page: Page):
    page = e2e_page
    name, email = person_of_role(oidc_app.db_file, "admin")
    try:
        sign_in(page, oidc_app, email.upper())  # emails match whatever their case
        sidebar = page.locator('[data-testid="stSidebar"]')
        expect(sidebar.get_by_text(f"{name} · admin")).to_be_visible()
        expect(sidebar.get_by_text("Signed in (oidc).")).to_be_visible()
        page.goto(f"{oidc_app.url}/pilot", wait_until="domcontentloaded")
        wait_for_app(page, "Pilot")
        expect(page.get_by_text("New pilot")).to_be_visible()  # an admin creates pilots
        sign_out(page, oidc_app)
    except BaseException:
        oidc_app.save_failure(page, request.node.name)
        raise


def test_an_unknown_email_reads_only_and_signs_out(request, oidc_app, e2e_page: Page):
    page = e2e_page
    try:
        sign_in(page, oidc_app, "stranger@example.com")
        sidebar = page.locator('[data-testid="stSidebar"]')
        expect(sidebar.get_by_text("stranger@example.com · viewer")).to_be_visible()
        expect(sidebar.get_by_text("Your identity matches no active person: you can read, not write.")).to_be_visible()
        expect(page.locator('[data-testid="stMetric"]').first).to_be_visible()  # reads
        page.goto(f"{oidc_app.url}/pilot", wait_until="domcontentloaded")
        wait_for_app(page, "Pilot")
        expect(page.locator(".st-key-pilot-pick-None")).to_be_visible()
        expect(page.get_by_text("New pilot")).to_have_count(0)  # reads, does not create
        sign_out(page, oidc_app)
    except BaseException:
        oidc_app.save_failure(page, request.node.name)
        raise


# --- listening on this machine only ----------------------------------------------


def listening_addresses(port: int) -> list[str]:
    """The local addresses of the sockets listening on ``port``, as the
    kernel lists them (/proc/net/tcp and tcp6, addresses in hex)."""
    found = []
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                # Each 32-bit word is in the host's (little-endian) order.
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                found.append(socket.inet_ntop(family, raw))
    return found


def other_addresses() -> set[str]:
    """This machine's own IPv4 addresses that are not loopback, from the
    kernel's routing table (a /32 "host LOCAL" entry per address)."""
    lines = Path("/proc/net/fib_trie").read_text().splitlines()
    own = {previous.split()[-1] for previous, line in zip(lines, lines[1:]) if line.strip() == "/32 host LOCAL"}
    return {a for a in own if not ipaddress.ip_address(a).is_loopback}


def test_make_run_listens_on_this_machine_only(demo_db, tmp_path):
    """`make run` as a fresh clone has it: the repository's own
    .streamlit/config.toml, no address given anywhere else."""
    db_file = demo_db
    env = app_env(db_file)
    port = free_port()
    log_file = tmp_path / "make-run.log"
    with open(log_file, "wb") as log:
        # -o: the virtualenv counts as installed, so the run does not reinstall it.
        proc = subprocess.Popen(["make", "-o", ".venv/.installed", "run", f"PORT={port}", f"PORTFOLIO_DB={db_file}"],
                                cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", proc, Server(f"http://127.0.0.1:{port}", log_file, db_file))
        addresses = listening_addresses(port)
        assert addresses and all(a in ("127.0.0.1", "::1") for a in addresses), addresses
        for address in other_addresses():
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((address, port), timeout=5).close()
    finally:
        with suppress(ProcessLookupError):  # the group may be gone already
            os.killpg(proc.pid, signal.SIGTERM)  # make and the streamlit it started
        stop(proc)


@pytest.mark.parametrize(("settings", "claim"), [
    pytest.param({}, "act as anyone (local mode)", id="local"),
    pytest.param({"PORTFOLIO_TRUSTED_HEADER": "X-Forwarded-Email"}, "claim to be anyone with the trusted header",
                 id="trusted-header"),
])
def test_a_server_on_every_interface_refuses_local_and_header_sign_in(request, chromium, e2e_page: Page, demo_db,
                                                                        tmp_path, settings, claim):
    page = e2e_page
    with serve_app(tmp_path, app_env(demo_db, **settings), address="0.0.0.0") as server:
        try:
            page.goto(server.url, wait_until="domcontentloaded")
            wait_for_app(page, "Pilot portfolio")
            refusal = page.locator('[data-testid="stAlert"]')
            expect(refusal).to_contain_text(f"This server listens on every network interface, so anyone who reaches "
                                            f"it could {claim}.")
            expect(refusal).to_contain_text('server.address = "127.0.0.1" in .streamlit/config.toml')
            expect(refusal).to_contain_text("[auth] in .streamlit/secrets.toml")
            expect(page.locator('[data-testid="stMetric"]')).to_have_count(0)
            expect(page.locator(".st-key-act-as")).to_have_count(0)
        except BaseException:
            server.save_failure(page, request.node.name)
            raise


# --- the local picker -------------------------------------------------------------


def test_the_local_picker_offers_no_one_above_portfolio_users_role(request, chromium, e2e_page: Page, demo_db,
                                                                     tmp_path):
    page = e2e_page
    db_file = demo_db
    env = app_env(db_file)
    owner, owner_email = person_of_role(db_file, "product_owner")
    admin, _ = person_of_role(db_file, "admin")
    leader, _ = person_of_role(db_file, "leadership")
    viewer, _ = person_of_role(db_file, "viewer")
    with serve_app(tmp_path, dict(env, PORTFOLIO_USER=owner_email)) as server:
        try:
            page.goto(f"{server.url}/checklist", wait_until="domcontentloaded")  # a light page
            wait_for_app(page, "Readiness checklist")
            expect(page.locator('[data-testid="stSidebar"]').get_by_text(f"{owner} · product owner").first).to_be_visible()
            box = page.locator(".st-key-act-as input[role='combobox']")
            box.click()
            box.fill(viewer)
            expect(page.get_by_role("option", name=f"{viewer} · viewer", exact=True)).to_be_visible()
            for higher in (f"{admin} · admin", f"{leader} · leadership"):
                box.fill(higher)
                # The list's empty state is an option of its own.
                expect(page.get_by_role("option")).to_have_text(["No results"])
        except BaseException:
            server.save_failure(page, request.node.name)
            raise
