"""``python -m portfolio``: the command line a scheduler or an admin runs.

Every command takes ``--db`` (default: ``PORTFOLIO_DB``, else
data/portfolio.duckdb) and ``--as-of`` (default: today). Errors go to stderr
with a non-zero exit; no traceback reaches the user.

A scheduler calls it often and waits for it, so each command imports what
it uses, inside it: pandas, the importer and the spreadsheet libraries take
most of a second to import, and a command needs a few of them at most.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
from datetime import date, datetime, timezone

import duckdb

from portfolio.domain.errors import (
    InvalidInput,
    PermissionDenied,
    PortfolioError,
    validate,
)
from portfolio.domain.models import PersonIn, check_date_range
from portfolio.domain.settings import base_url, db_path, load_settings
from portfolio.domain.text import plural, without_controls
from portfolio.domain.vocabulary import ROLE_ORDER, Role
from portfolio.storage import db

EXIT_ERROR = 2
# A scheduler's alert: the run worked, and flags of the --fail-on severity exist.
EXIT_FLAGGED = 3
# How many times an import is planned when people keep changing the pilots
# it updates between its plan and its write; each plan sees their changes.
IMPORT_PLAN_ATTEMPTS = 3


def _date(text: str) -> date:
    try:
        return check_date_range(date.fromisoformat(text))
    except ValueError as exc:
        if "outside" in str(exc):
            raise argparse.ArgumentTypeError(str(exc)) from None
        raise argparse.ArgumentTypeError(f"'{text}' is not a date: use YYYY-MM-DD") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("give a number of seconds above 0, at most 3600")
    return value


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("give sizes as whole numbers separated by commas, e.g. 1000,10000") from None
    if not sizes or min(sizes) < 100:
        raise argparse.ArgumentTypeError("each size must be 100 pilots or more")
    return sizes


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command. Given ``command``, the one to be run,
    the other commands whose options name the defaults and choices of the
    modules doing their work (demo, digest, audit) are left without them:
    that spares a command importing what it does not use."""
    parser = argparse.ArgumentParser(prog="python -m portfolio", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def filled(name: str) -> bool:
        return command is None or command == name

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", default=None, help="database file (default: $PORTFOLIO_DB or data/portfolio.duckdb)")
        p.add_argument("--as-of", type=_date, default=None, help="the day to compute for (default: today)")

    p = sub.add_parser("init", help="start your organisation's portfolio: an empty database with its first admin "
                                    "(or give an existing one without an admin its first)")
    p.add_argument("--db", default=None, help="database file (default: $PORTFOLIO_DB or data/portfolio.duckdb)")
    p.add_argument("--admin", required=True, metavar="EMAIL", help="the first admin's email (how they sign in)")
    p.add_argument("--name", required=True, help="the first admin's name")

    p = sub.add_parser("people", help="list, add or deactivate people (adding and deactivating: as an admin, "
                                      "named by PORTFOLIO_USER)")
    people_sub = p.add_subparsers(dest="action", required=True)
    q = people_sub.add_parser("list", help="everyone, by name: name, email, role, active")
    q.add_argument("--db", default=None, help="database file (default: $PORTFOLIO_DB or data/portfolio.duckdb)")
    q.add_argument("--all", action="store_true", help="the deactivated people too")
    q.add_argument("--format", choices=["table", "json", "csv"], default="table")
    q = people_sub.add_parser("add", help="add a person")
    q.add_argument("--db", default=None, help="database file (default: $PORTFOLIO_DB or data/portfolio.duckdb)")
    q.add_argument("--email", required=True)
    q.add_argument("--name", required=True)
    q.add_argument("--role", choices=[r.value for r in ROLE_ORDER], default=Role.VIEWER.value,
                   help="; ".join(f"{r.value}: {r.label}" for r in ROLE_ORDER) + " (default viewer)")
    q = people_sub.add_parser("deactivate", help="deactivate a person (never deleted); the seats they hold stay "
                                                 "theirs, flagged, until someone takes them on the People page")
    q.add_argument("--db", default=None, help="database file (default: $PORTFOLIO_DB or data/portfolio.duckdb)")
    q.add_argument("email")

    p = sub.add_parser("demo", help="build the demo portfolio into a new database")
    if filled("demo"):
        from portfolio.services import demo

        common(p)
        p.add_argument("--pilots", type=_positive, default=demo.DEFAULT_PILOTS,
                       help=f"how many pilots (default {demo.DEFAULT_PILOTS}; more for benchmarks)")

    p = sub.add_parser("flags", help="print every flag of the portfolio")
    common(p)
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    fail_on(p)

    p = sub.add_parser("summary", help="print the headline numbers as JSON")
    common(p)

    p = sub.add_parser("digest", help="the leadership digest, recorded so the next says what changed")
    if filled("digest"):
        from portfolio.services.reporting import chat, digest

        common(p)
        p.add_argument("--format", choices=["markdown", "html", "json"], default="markdown")
        p.add_argument("--out", default=None, help="write to this file instead of standard output")
        p.add_argument("--webhook", default=None, help="also post the digest to this URL (a Slack or Teams webhook)")
        p.add_argument("--webhook-format", choices=chat.FORMATS, default="auto",
                       help="slack (blocks in Slack's mrkdwn), teams (an Adaptive Card), json (the digest as it is), "
                            "or auto (the default): slack for hooks.slack.com, teams for a Microsoft webhook, "
                            "json for any other address")
        p.add_argument("--webhook-timeout", type=_seconds, default=digest.WEBHOOK_DEADLINE, metavar="SECONDS",
                       help=f"give up on the webhook after this long, all told (default {digest.WEBHOOK_DEADLINE:g})")
        p.add_argument("--personal", action="store_true",
                       help="print the per-person digests (your pilots that need you) as JSON instead")
        fail_on(p)

    p = sub.add_parser("notify", help="email each person what needs them (daily, from cron): at most one email "
                                      "each, never the same reminder twice")
    common(p)
    p.add_argument("--dry-run", action="store_true", help="print who would get what; send and record nothing")
    p.add_argument("--only", metavar="EMAIL", default=None, help="this one person's email only")

    p = sub.add_parser("calendar", help="write the calendar feed (iCalendar): go/no-go dates, bridge due dates "
                                        "and privilege expiries")
    common(p)
    p.add_argument("--out", required=True, help="the .ics file to write")
    p.add_argument("--person", default=None, metavar="EMAIL",
                   help="only the pilots where this person holds a seat (default: the whole portfolio)")

    p = sub.add_parser("import", help="import pilots from a CSV or Excel file")
    common(p)
    p.add_argument("file", help="the .csv or .xlsx file")
    p.add_argument("--mapping", default=None, help="a TOML mapping of columns and stage values (see README)")
    p.add_argument("--skip-invalid", action="store_true", help="import the valid rows, reject the others")
    p.add_argument("--rejects", default=None, help="with --skip-invalid: write the rejected rows here (CSV)")
    p.add_argument("--dry-run", action="store_true", help="check and report, write nothing")

    p = sub.add_parser("export", help="export the pilots (CSV), the whole portfolio (Excel workbook) "
                                      "or every table (Parquet files, for analysts)")
    common(p)
    p.add_argument("--format", choices=["csv", "xlsx", "parquet"], required=True)
    p.add_argument("--out", required=True, help="the file to write (for parquet: a folder)")

    p = sub.add_parser("backup", help="write a complete, restorable copy of the database")
    common(p)
    p.add_argument("--out", required=True)

    p = sub.add_parser("restore", help="put a backup in place of the database, keeping the current one aside")
    p.add_argument("backup", help="the backup file (made by `backup`)")
    p.add_argument("--db", default=None, help="database file (default: $PORTFOLIO_DB or data/portfolio.duckdb)")

    p = sub.add_parser("bench", help="the scale benchmark: build synthetic portfolios and print what each costs")
    p.add_argument("--sizes", type=_sizes, default=None,
                   help="portfolio sizes, comma-separated (default: 1000,10000,50000)")
    p.add_argument("--json", default=None, help="also write the figures to this file as JSON")
    p.add_argument("--as-of", type=_date, default=None, help="the day the portfolios are built for (default: today)")
    p.add_argument("--no-browser", action="store_true",
                   help="skip the browser figures (they need Chromium: apt-get install chromium)")
    p.add_argument("--runs", type=_positive, default=None,
                   help="how many times each figure and its floor are taken in turn (default: 5); "
                        "fewer is quicker and noisier")
    p.add_argument("--one-size", type=_positive, default=None, help=argparse.SUPPRESS)
    p.add_argument("--part", default=None, help=argparse.SUPPRESS)

    p = sub.add_parser("audit", help="print the audit trail: who changed what, when, before and after")
    if filled("audit"):
        from portfolio.storage import audit

        common(p)
        p.add_argument("--since", type=_date, default=None, help="from this day (YYYY-MM-DD) on")
        p.add_argument("--until", type=_date, default=None, help="up to and including this day")
        p.add_argument("--pilot", type=_positive, default=None, help="only this pilot's records (its id)")
        p.add_argument("--entity", choices=sorted([*audit.ENTITIES, *audit.EVENT_ENTITIES]), default=None)
        p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    return parser


def fail_on(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fail-on", choices=["critical", "high"], default=None,
                   help=f"exit {EXIT_FLAGGED} when a flag of this severity or worse exists (for a scheduler)")


class _TerminalSafe:
    """A text stream that drops control characters (an ESC starts a terminal
    escape sequence) and bidi overrides from what passes through: pilot
    names, reasons and audit records are printed as they were stored, and a
    database may hold such characters from before they were refused."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(without_controls(text))

    def __getattr__(self, name):
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _TerminalSafe(out), _TerminalSafe(err)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = out, err


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The command is the first word that is not an option (the commands
    # take their options after their name).
    named = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(named).parse_args(argv)
    as_of = getattr(args, "as_of", None) or date.today()
    if args.command == "bench":
        from portfolio.web import bench  # imports Streamlit's test harness: only here

        runs = args.runs or bench.RUNS
        if args.one_size:
            return bench._one_size(args.one_size, args.part, as_of, not args.no_browser, runs)
        return bench.run(args.sizes or bench.SIZES, args.json, as_of, not args.no_browser, runs)
    path = args.db or str(db_path())
    try:
        settings = load_settings()
        if args.command == "restore":
            return _restore(args.backup, path)
        if args.command == "init":
            return _init(path, args)
        if args.command != "demo" and not os.path.isfile(path):
            # Only init and demo create a database: a mistyped path must not look like
            # an empty, healthy portfolio to a scheduler.
            raise InvalidInput(f"Database: {path} does not exist (check --db or PORTFOLIO_DB)", field="db")
        if args.command == "demo":
            from portfolio.services import demo

            counts = demo.build_demo(path, as_of, args.pilots)
            print(
                f"Built the demo portfolio in {path} as of {as_of}: "
                f"{counts['pilots']} pilots, {counts['people']} people, {counts['updates']} weekly updates."
            )
            return 0
        if args.command == "people":
            return _people(path, args)
        if args.command == "flags":
            from portfolio import flags

            with db.session(path) as conn:
                frame = flags.sort_flags(flags.portfolio_flags(conn, as_of, settings))
            if args.format == "json":  # for machines: the codes
                _print_frame(frame, args.format)
            else:  # for people (a terminal, a spreadsheet): the flags in words
                _print_frame(flags.in_words(frame), args.format)
            return _flag_exit(frame, args.fail_on)
        if args.command == "summary":
            from portfolio.services.reporting import headline

            with db.session(path) as conn:
                values = headline.values(conn, as_of, settings)
            # Numbers as numbers (null where there is nothing yet), for whatever reads them.
            print(json.dumps({"as_of": str(as_of), **values}, indent=2))
            return 0
        if args.command == "digest":
            return _digest(path, as_of, settings, args)
        if args.command == "import":
            return _import(path, as_of, settings, args)
        if args.command == "notify":
            return _notify(path, as_of, settings, args)
        if args.command == "calendar":
            from portfolio.services.reporting import calendar

            with db.session(path) as conn:
                person = calendar.person_by_email(conn, args.person) if args.person else None
                ics = calendar.feed(conn, as_of=as_of, stamp=datetime.now(timezone.utc), person=person,
                                    base_url=base_url())
            with open(args.out, "wb") as fh:
                fh.write(ics)
            print(f"Wrote {ics.count(b'BEGIN:VEVENT')} dates to {args.out}"
                  + (f" for {person.name}." if person else "."))
            return 0
        if args.command in ("export", "backup"):
            from portfolio.services.reporting import export
        if args.command == "export" and args.format == "parquet":
            with db.session(path) as conn:
                counts = export.export_parquet(conn, args.out)
            print(f"Exported {len(counts)} tables ({sum(counts.values())} rows) to {args.out}, "
                  "one TABLE.parquet file each.")
            return 0
        if args.command == "export":
            with db.session(path) as conn:
                (export.export_csv if args.format == "csv" else export.export_xlsx)(conn, as_of, settings, args.out)
            print(f"Exported to {args.out}.")
            return 0
        if args.command == "audit":
            from portfolio.storage import audit

            with db.session(path) as conn:
                frame = audit.trail(conn, since=args.since, until=args.until, pilot_id=args.pilot,
                                    entity=args.entity)
            _print_trail(frame, args.format)
            return 0
        if args.command == "backup":
            export.backup(path, args.out)
            print(f"Backed up {path} to {args.out}. To restore it, stop the app and run: "
                  f"python -m portfolio restore {shlex.quote(str(args.out))} --db {shlex.quote(str(path))}")
            return 0
    except PortfolioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except duckdb.Error as exc:
        # The storage failing under a read (a write is translated in db.write).
        problem = db.storage_error(exc, path)
        if problem is None:
            raise
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_ERROR
    except (OSError, UnicodeDecodeError) as exc:
        where = getattr(exc, "filename", None)
        reason = getattr(exc, "strerror", None) or str(exc)
        print(f"error: {reason}" + (f": {where}" if where else ""), file=sys.stderr)
        return EXIT_ERROR
    return EXIT_ERROR


def _init(path: str, args) -> int:
    """A new portfolio with its first admin, or an existing one that has no
    admin given its first. The name and email are checked before any file
    is made; a file made here is removed again should the admin not be
    written."""
    from portfolio.services import people
    from portfolio.storage import store

    validate(PersonIn, name=args.name, email=args.admin, role=Role.ADMIN)
    existed = os.path.exists(path)
    try:
        with db.session(path, create=True) as conn:
            person_id, new = people.add_first_admin(conn, {"name": args.name, "email": args.admin})
            admin = store.get_person(conn, person_id)
    except BaseException:
        if not existed:
            for leftover in (path, f"{path}.wal"):
                with contextlib.suppress(OSError):
                    os.remove(leftover)
        raise
    did = "Created" if not existed else "Opened"
    who = f"{admin.name} <{admin.email}>"
    print(f"{did} {path} with its first admin, {who}" + ("" if new else " (already a person there, now admin)") + ".")
    quoted = shlex.quote(str(path))
    print("Next: start the app on it, acting as that admin on this machine:\n"
          f"  make run PORTFOLIO_DB={quoted} PORTFOLIO_USER={shlex.quote(admin.email)}\n"
          "then add people on the People page (or: .venv/bin/python -m portfolio people add ...) and import "
          "your pilots on the Import page. To share the app, configure sign-in first (see the README).")
    return 0


def _people(path: str, args) -> int:
    from portfolio.services import people
    from portfolio.storage import store

    if args.action == "list":
        with db.session(path) as conn:
            everyone = store.list_people(conn, active_only=not args.all)
        import pandas as pd

        frame = pd.DataFrame(
            [{"name": p.name, "email": p.email, "role": p.role.value, "active": p.active} for p in everyone],
            columns=["name", "email", "role", "active"])
        _print_frame(frame, args.format, empty="No people yet: python -m portfolio init gives a portfolio its "
                                               "first admin, who adds everyone else.")
        return 0
    with db.session(path) as conn:
        acting = _admin_at_the_command_line(conn, "add or deactivate people")
        if args.action == "add":
            person_id = people.add_person(conn, acting, {"name": args.name, "email": args.email, "role": args.role})
            added = store.get_person(conn, person_id)
            print(f"Added {added.name} <{added.email}> as {added.role.label}.")
            return 0
        person = store.find_person_by_email(conn, args.email)
        if person is None:
            raise InvalidInput(f"Email: {args.email} belongs to nobody in this portfolio", field="email")
        still_held = people.deactivate_person(conn, acting, person.id)
    print(f"Deactivated {person.name} <{person.email}>.")
    if still_held:
        print(f"{len(still_held)} seat(s) on pilots in play are still theirs, flagged until someone takes them "
              "(the People page hands them over):")
        for pilot, seat in still_held:
            print(f"  {pilot.name}: {seat.label}")
    return 0


def _admin_at_the_command_line(conn, what: str):
    """The person PORTFOLIO_USER names, who must be able to act: refused at
    once when it names nobody (whether they may, the service decides)."""
    from portfolio.services import signin

    acting = signin.command_line_actor(conn)
    if acting.person_id is None:
        raise PermissionDenied(
            f"PORTFOLIO_USER must name an active admin's email to {what}"
            + (f" ('{acting.email}' matches no person)" if acting.email else " (it is not set)")
        )
    return acting


def _importer(conn):
    """Who imports (whether they may, apply_import decides)."""
    return _admin_at_the_command_line(conn, "import")


def _check_writable(path: str, what: str) -> None:
    """Refuse an output path before any work is done, not after."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path) or not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise InvalidInput(f"{what}: cannot write {path}", field=what.lower())


def _flag_exit(frame, fail_on: str | None) -> int:
    from portfolio.services.reporting import digest

    if fail_on and digest.has_flags_at_least(frame, fail_on):
        print(f"flags of severity {fail_on} or worse exist", file=sys.stderr)
        return EXIT_FLAGGED
    return 0


def _digest(path, as_of, settings, args) -> int:
    from portfolio import flags
    from portfolio.domain import rights
    from portfolio.domain.rights import Right
    from portfolio.services import signin
    from portfolio.services.reporting import chat, digest

    if args.webhook:
        digest.check_webhook_url(args.webhook)  # before any work: a mistyped hook costs nothing
        base_url()  # and a mistyped address of the app, which the chat message links to
    with db.session(path) as conn:
        actor = signin.command_line_actor(conn)
        report = digest.build_digest(conn, as_of, settings, record=False)
        frame = flags.portfolio_flags(conn, as_of, settings)
    if args.personal:
        text = json.dumps(digest.personal_digests(report), indent=2, default=str)
    else:
        text = {"markdown": digest.render_markdown, "html": digest.render_html,
                "json": lambda d: json.dumps(d, indent=2, default=str)}[args.format](report)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        print(text)
    if args.webhook:
        fmt = chat.format_for(args.webhook, args.webhook_format)
        digest.post_webhook(args.webhook, chat.payload(report, fmt, base_url()), timeout=args.webhook_timeout)
    if not args.personal:
        if rights.may(actor, Right.RECORD_DIGEST):
            # Recorded once delivered: the next digest's "changes since"
            # compares with a digest somebody received.
            with db.session(path) as conn:
                digest.build_digest(conn, as_of, settings, record=True, actor=actor)
        else:
            # Anyone may read the digest; only leadership or an admin moves
            # everyone's "since the previous digest".
            who = f"'{actor.email}' is not an active leadership or admin person" if actor.email \
                else "PORTFOLIO_USER is not set"
            print(f"note: this digest was not recorded ({who}), so the next one still compares with the "
                  "last recorded digest", file=sys.stderr)
    return _flag_exit(frame, args.fail_on)


def _notify(path, as_of, settings, args) -> int:
    from portfolio.services import notify

    config = notify.env_config(need_server=not args.dry_run)
    result = notify.run(path, as_of, settings, config, only=args.only, dry_run=args.dry_run,
                        progress=lambda text: print(text, flush=True))
    if not result.planned:
        print(f"Nothing new to remind anyone of as of {as_of}" + (f" ({args.only})" if args.only else "") + ".")
        return 0
    if args.dry_run:
        for r in result.planned:
            print(f"{r.person.name} <{r.person.email}>: {notify.subject(r)}")
            for _, name, _, items in r.pilots:
                for i in items:
                    print(f"  {name}: {i.text}")
        print(f"Dry run: {plural(len(result.planned), 'email')} would be sent; nothing sent or recorded.")
        return 0
    print(f"Sent {plural(len(result.sent), 'email')}" + (
        f"; {len(result.failed)} not sent, tried again on the next run" if result.failed else "") + (
        f"; {len(result.unrecorded)} sent but not recorded, sent again on the next run"
        if result.unrecorded else "") + ".")
    for r, why in result.failed:
        print(f"error: not sent to {r.person.email}: {why}", file=sys.stderr)
    for r, why in result.unrecorded:
        print(f"error: sent to {r.person.email} but not recorded: {why}", file=sys.stderr)
    return EXIT_ERROR if result.failed or result.unrecorded else 0


def _restore(backup: str, path: str) -> int:
    from portfolio.storage import restore

    done = restore.restore(backup, path)
    print(f"Restored {backup} to {done.database}: it opens with every table, {done.pilots} pilots.")
    for kept in done.kept:
        print(f"The previous {'write-ahead log' if kept.name.endswith('.wal') else 'database'} "
              f"was kept as {kept}.")
    if not done.kept:
        print("There was no previous database file to keep.")
    return 0


def _import(path, as_of, settings, args) -> int:
    from portfolio.services import importer
    from portfolio.services.reporting import export

    # Read and check the file first, then plan without holding the database:
    # a big file takes a minute to read and plan, and the app must keep
    # serving (and saving) meanwhile. The database is held twice, briefly:
    # to read what the rows are matched against, and to write.
    frame = importer.read_table(args.file, args.file)
    if args.mapping:
        with open(args.mapping, encoding="utf-8") as fh:
            mapping = importer.load_mapping(fh.read())
    else:
        mapping = importer.guess_mapping(list(frame.columns), frame)
    if args.rejects:
        _check_writable(args.rejects, "Rejects")
    for attempt in range(1, IMPORT_PLAN_ATTEMPTS + 1):
        with db.session(path) as conn:
            _importer(conn)  # a non-admin is refused before the long part
            db.check_readable(conn, path)  # a bulk write must not land in a damaged file
            known = importer.read_known(conn)
        print(f"Checking {len(frame)} rows against the portfolio (the database stays free meanwhile) ...",
              file=sys.stderr, flush=True)
        plan = importer.plan_import(known, frame, mapping, settings, today=date.today())
        report = plan.report()
        if plan.ignored:
            print(f"Not imported, as the tracker computes them: {', '.join(plan.ignored)}.")
        if not report.empty:
            print(report.to_string(index=False), file=sys.stderr)
        counts = plan.counts()
        newcomers = plural(len(plan.new_people), "new person", "new people")
        if args.dry_run:
            print(f"Dry run: {len(frame)} rows checked, {plan.invalid_rows} with problems, nothing written.")
            print(f"Importing would create {counts['created']}, update {counts['updated']}, leave "
                  f"{counts['unchanged']} unchanged and reject {counts['rejected']}; {newcomers}.")
            return EXIT_ERROR if plan.invalid_rows else 0
        print(f"Checked {len(frame)} rows; writing ...", file=sys.stderr, flush=True)
        try:
            with db.session(path) as conn:
                actor = _importer(conn)
                result = importer.apply_import(conn, actor, plan, skip_invalid=args.skip_invalid,
                                               source=os.path.basename(args.file))
            break
        except importer.PortfolioChanged:
            if attempt == IMPORT_PLAN_ATTEMPTS:
                raise
            print("Someone changed the portfolio while the file was checked; checking it again.",
                  file=sys.stderr, flush=True)
    rejected = len(result.rejected)
    if rejected and args.rejects:
        importer.write_rejects(result.rejected, args.rejects)
    elif rejected:
        print("Rejected rows (use --rejects FILE to keep them):", file=sys.stderr)
        print(export.csv_text(result.rejected), file=sys.stderr)
    for external_id, field, before, after in result.changes[:50]:
        print(f"  {external_id}: {field} {before!r} -> {after!r}")
    if len(result.changes) > 50:
        print(f"  ... and {len(result.changes) - 50} more changes")
    unchanged = f", {result.unchanged} unchanged" if result.unchanged else ""
    print(f"Imported {result.created + result.updated + result.unchanged} rows ({result.created} new, "
          f"{result.updated} updated{unchanged}), "
          f"rejected {rejected}" + (f" (written to {args.rejects})" if rejected and args.rejects else "")
          + (f"; {plural(len(result.new_people), 'new person', 'new people')}" if result.new_people else "")
          + ".")
    return 0


def _print_trail(frame, fmt: str) -> None:
    from portfolio.services.reporting import export
    from portfolio.storage import audit

    records = audit.as_records(frame)
    if fmt == "json":
        print(json.dumps(records, indent=2, default=str))
    elif fmt == "csv":
        flat = frame.drop(columns=["actor_id"])
        sys.stdout.write(export.csv_text(flat))
    elif frame.empty:
        print("No audit records.")
    else:
        shown = frame[["at", "actor", "via", "entity", "entity_id", "pilot", "action", "change"]].copy()
        shown["at"] = shown["at"].dt.strftime("%Y-%m-%d %H:%M:%S")
        shown["change"] = shown["change"].str.slice(0, 80)
        print(shown.to_string(index=False))


def _print_frame(frame, fmt: str, empty: str = "No flags.") -> None:
    from portfolio.services.reporting import export

    if fmt == "json":
        print(json.dumps(frame.to_dict("records"), indent=2, default=str))
    elif fmt == "csv":
        sys.stdout.write(export.csv_text(frame))
    elif frame.empty:
        print(empty)
    else:
        print(frame.to_string(index=False))
