"""A child process for the fault tests: a stream of writes through the
services, as page runs make them (open, write, close), with one line on
standard output per write, printed only after the write returned, that is
after it was reported saved.

    python tests/integration/fault_writer.py DB [--count N] [--max-file-size BYTES]

Lines: ``update <weekly_update id>``, ``reading <kpi id> <value>``,
``pilot <pilot id>``. A refusal (a PortfolioError) is printed to stderr as
``error: ...`` and exits 2, as the command line does; any other exception
is a traceback and exit 1, which the tests treat as a failure.

With --max-file-size no file may grow past BYTES (RLIMIT_FSIZE, SIGXFSZ
ignored), so a write beyond it fails with EFBIG as on a full disk.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from portfolio.domain.errors import PortfolioError  # noqa: E402
from portfolio.domain.settings import Settings  # noqa: E402
from portfolio.services import demo, production, signin, updates  # noqa: E402
from portfolio.services.pilots import create_pilot  # noqa: E402
from portfolio.storage import db

ADMIN = "alex.morgan@example.com"  # the demo's first admin: may write anything
AS_OF = demo.FIXED_AS_OF
KINDS = ("update", "reading", "pilot")


def targets(conn) -> list[tuple[int, int]]:
    """(pilot id, one of its KPI ids) of the live pilots with KPIs."""
    return conn.execute(
        "SELECT p.id, min(k.id) FROM pilot p JOIN kpi k ON k.pilot_id = p.id"
        " WHERE p.stage IN ('proposed', 'pilot', 'bridge', 'production') AND NOT p.archived"
        " GROUP BY p.id ORDER BY p.id"
    ).fetchall()


def one_write(conn, i: int, admin, pilots: list[tuple[int, int]], settings: Settings) -> str:
    """Write number ``i`` of this process. Its values are unique to the
    process too: the services take a repeat of the same values for a
    repeated submit and save nothing new."""
    pilot_id, kpi_id = pilots[i % len(pilots)]
    kind = KINDS[i % len(KINDS)]
    me = os.getpid()
    if kind == "update":
        update_id, _ = updates.post_weekly_update(
            conn, admin, {"pilot_id": pilot_id, "health": "amber", "summary": f"Fault write {i} of {me}",
                          "blockers": "x" * 200}, AS_OF)
        return f"update {update_id}"
    if kind == "reading":
        value = me * 10_000 + i  # a reading is identified by its KPI, day and value
        added = production.record_readings(conn, admin, pilot_id,
                                           [{"kpi_id": kpi_id, "value": value, "reading_on": AS_OF}])
        assert added == 1, added
        return f"reading {kpi_id} {value}"
    new_id = create_pilot(conn, admin, {"name": f"Fault pilot {i} of {me}", "stage": "proposed",
                                                 "problem": "p" * 200}, settings, today=AS_OF)
    return f"pilot {new_id}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("--count", type=int, default=10**6)
    parser.add_argument("--max-file-size", type=int, default=None)
    args = parser.parse_args(argv)
    settings = Settings()
    with db.session(args.db) as conn:
        admin = signin.actor_for_email(conn, ADMIN)
        pilots = targets(conn)
    assert admin is not None and pilots, "the database must be a demo portfolio"
    if args.max_file_size:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (args.max_file_size, args.max_file_size))
    print("ready", flush=True)
    for i in range(args.count):
        try:
            with db.session(args.db) as conn:
                line = one_write(conn, i, admin, pilots, settings)
                print(line, flush=True)  # saved: reported before the close
        except PortfolioError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
