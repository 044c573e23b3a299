"""The digest as a scheduler runs it (cli.main, in this process, as
__main__ runs it): who may record a run (and so move everyone's "since the
previous digest"), and its delivery to a real HTTP server on 127.0.0.1 that
redirects, drips or is no URL at all."""

from __future__ import annotations

import http.server
import json
import os
import threading
import time

import duckdb
import pytest

from tests.conftest import AS_OF, run_cli

# Fault tests, fuzzing and real processes: make test runs them, make test-fast does not.
pytestmark = pytest.mark.thorough


def cli(*args, user: str | None):
    """The command as PORTFOLIO_USER ``user`` (None: not set)."""
    return run_cli(*args, env={"PORTFOLIO_USER": user})


def recorded(path) -> tuple[int, int]:
    """(digest runs, digest audit records) in the database."""
    with duckdb.connect(str(path), read_only=True) as c:
        return (c.execute("SELECT count(*) FROM digest_run").fetchone()[0],
                c.execute("SELECT count(*) FROM audit WHERE entity = 'digest'").fetchone()[0])


def email_of(path, where: str) -> str:
    with duckdb.connect(str(path), read_only=True) as c:
        return c.execute(f"SELECT email FROM person WHERE {where} ORDER BY id LIMIT 1").fetchone()[0]


# --- who records a digest (#12.4) ---------------------------------------------------------


def test_only_an_active_leader_or_admin_records_a_digest_the_others_just_get_it(fixed_demo_db):
    db_ = str(fixed_demo_db)
    viewer = email_of(fixed_demo_db, "role = 'viewer' AND active")
    owner = email_of(fixed_demo_db, "role = 'product_owner' AND active")
    # A leader who has left: inactive, so a viewer now.
    gone = email_of(fixed_demo_db, "role = 'leadership' AND active")
    with duckdb.connect(db_) as c:
        c.execute("UPDATE person SET active = false WHERE email = ?", [gone])
    for user in (None, "", viewer, owner, gone, "nobody@example.com"):
        out = cli("digest", "--db", db_, "--as-of", AS_OF.isoformat(), "--format", "json", user=user)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["numbers"]  # the digest itself, in full
        assert "not recorded" in out.stderr and "Traceback" not in out.stderr, user
        assert recorded(fixed_demo_db) == (0, 0), user  # "since the previous digest" did not move

    leader = email_of(fixed_demo_db, "role = 'leadership' AND active")
    admin = email_of(fixed_demo_db, "role = 'admin' AND active")
    first = cli("digest", "--db", db_, "--as-of", AS_OF.isoformat(), "--format", "json", user=leader)
    assert first.returncode == 0 and "not recorded" not in first.stderr, first.stderr
    assert json.loads(first.stdout)["changes_since_previous"]["previous"] is None
    assert recorded(fixed_demo_db) == (1, 1)
    second = cli("digest", "--db", db_, "--as-of", "2026-03-09", "--format", "json", user=admin.upper())
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["changes_since_previous"]["previous"]["as_of"] == AS_OF.isoformat()
    assert recorded(fixed_demo_db) == (2, 2)
    # A viewer's digest after them compares with the last recorded one and records nothing.
    third = cli("digest", "--db", db_, "--as-of", "2026-03-16", "--format", "json", user=viewer)
    assert json.loads(third.stdout)["changes_since_previous"]["previous"]["as_of"] == "2026-03-09"
    assert recorded(fixed_demo_db) == (2, 2)


# --- delivery to a real HTTP server (#12.13) ----------------------------------------------


class Server:
    """A real HTTP server on 127.0.0.1, each request in its own thread,
    logging every request it gets as (method, path, body length)."""

    def __init__(self, handler_body):
        requests = self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def _log(self):
                length = int(self.headers.get("Content-Length") or 0)
                requests.append((self.command, self.path, len(self.rfile.read(length)) if length else 0))

            def do_POST(self):
                self._log()
                handler_body(self)

            def do_GET(self):
                self._log()
                handler_body(self)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def redirect_then_accept(h):
    """POST /hooks/SECRET answers 302 to /landing, which takes anything with 200."""
    if h.path.startswith("/hooks/"):
        h.send_response(302)
        h.send_header("Location", "/landing")
        h.end_headers()
    else:
        h.send_response(200)
        h.end_headers()
        h.wfile.write(b"ok")


def test_a_redirecting_webhook_is_a_failed_delivery_and_nothing_is_recorded(fixed_demo_db):
    admin = email_of(fixed_demo_db, "role = 'admin' AND active")
    with Server(redirect_then_accept) as hook:
        out = cli("digest", "--db", str(fixed_demo_db), "--as-of", AS_OF.isoformat(), "--format", "json",
                  "--out", os.devnull, "--webhook", f"{hook.base}/hooks/SECRET-TOKEN", user=admin)
    assert out.returncode == 2, out.stderr
    assert "302" in out.stderr and "redirect" in out.stderr and "not delivered" in out.stderr
    assert "SECRET-TOKEN" not in out.stderr and "Traceback" not in out.stderr
    # Only the POST arrived: nobody followed the redirect with a body-less GET.
    assert [r[:2] for r in hook.requests] == [("POST", "/hooks/SECRET-TOKEN")] and hook.requests[0][2] > 0
    assert recorded(fixed_demo_db) == (0, 0)


def drip(h):
    """An answer that never ends: one byte every half second, for a minute."""
    try:
        h.wfile.write(b"H")
        h.wfile.flush()
        for _ in range(120):
            time.sleep(0.5)
            h.wfile.write(b"T")
            h.wfile.flush()
    except OSError:
        pass  # the client gave up


def test_a_slow_drip_webhook_is_given_up_at_the_deadline_and_nothing_is_recorded(fixed_demo_db):
    admin = email_of(fixed_demo_db, "role = 'admin' AND active")
    deadline = 2.0
    with Server(drip) as hook:
        started = time.monotonic()
        out = cli("digest", "--db", str(fixed_demo_db), "--as-of", AS_OF.isoformat(), "--format", "json",
                  "--out", os.devnull, "--webhook", f"{hook.base}/hooks/SECRET-TOKEN",
                  "--webhook-timeout", str(deadline), user=admin)
        elapsed = time.monotonic() - started
    assert out.returncode == 2, out.stderr
    assert "within 2 s" in out.stderr and "not delivered" in out.stderr
    assert "SECRET-TOKEN" not in out.stderr and "Traceback" not in out.stderr
    assert len(hook.requests) == 1
    # The whole run (the digest built included)
    # ended soon after the deadline, not when the server stopped dripping.
    assert elapsed < deadline + 15, elapsed
    assert recorded(fixed_demo_db) == (0, 0)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/hook", "http://", "http:///hooks/x", "file:///etc/passwd",
                                 "https://127.0.0.1:99999/hook", "127.0.0.1/hook", "http://127.0.0.1/a b"])
def test_an_unusable_webhook_url_is_refused_before_the_digest_is_built(fixed_demo_db, tmp_path, url):
    admin = email_of(fixed_demo_db, "role = 'admin' AND active")
    out_file = tmp_path / "digest.md"
    out = cli("digest", "--db", str(fixed_demo_db), "--as-of", AS_OF.isoformat(), "--out", str(out_file),
              "--webhook", url, user=admin)
    assert out.returncode == 2
    assert out.stderr.startswith("error: Webhook:") and "cannot be used" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and "passwd" not in out.stderr
    assert not out_file.exists()  # refused before the digest was built or written
    assert recorded(fixed_demo_db) == (0, 0)


def test_a_webhook_that_takes_the_digest_records_it(fixed_demo_db):
    def accept(h):
        h.send_response(200)
        h.end_headers()

    admin = email_of(fixed_demo_db, "role = 'admin' AND active")
    with Server(accept) as hook:
        out = cli("digest", "--db", str(fixed_demo_db), "--as-of", AS_OF.isoformat(), "--out", os.devnull,
                  "--webhook", f"{hook.base}/hooks/x?token=SECRET", "--webhook-timeout", "5", user=admin)
    assert out.returncode == 0, out.stderr
    assert hook.requests[0][:2] == ("POST", "/hooks/x?token=SECRET") and hook.requests[0][2] > 0
    assert recorded(fixed_demo_db) == (1, 1)
