"""``python -m portfolio``: the command line a scheduler or an admin runs.

Every command takes ``--db`` (default: ``PORTFOLIO_DB``, else
data/portfolio.duckdb) and ``--as-of`` (default: today). Errors go to stderr
with a non-zero exit; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from . import db, demo, flags
from .models import PortfolioError, check_date_range
from .settings import db_path, load_settings

EXIT_ERROR = 2


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m portfolio", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", default=None, help="database file (default: $PORTFOLIO_DB or data/portfolio.duckdb)")
        p.add_argument("--as-of", type=_date, default=None, help="the day to compute for (default: today)")

    p = sub.add_parser("demo", help="build the demo portfolio into a new database")
    common(p)
    p.add_argument("--pilots", type=_positive, default=demo.DEFAULT_PILOTS,
                   help=f"how many pilots (default {demo.DEFAULT_PILOTS}; more for benchmarks)")

    p = sub.add_parser("flags", help="print every flag of the portfolio")
    common(p)
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    path = args.db or str(db_path())
    as_of = args.as_of or date.today()
    try:
        settings = load_settings()
        if args.command == "demo":
            counts = demo.build_demo(path, as_of, args.pilots)
            print(
                f"Built the demo portfolio in {path} as of {as_of}: "
                f"{counts['pilots']} pilots, {counts['people']} people, {counts['updates']} weekly updates."
            )
            return 0
        if args.command == "flags":
            with db.session(path) as conn:
                frame = flags.portfolio_flags(conn, as_of, settings)
            _print_frame(frame, args.format)
            return 0
    except PortfolioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_ERROR


def _print_frame(frame, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(frame.to_dict("records"), indent=2, default=str))
    elif fmt == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif frame.empty:
        print("No flags.")
    else:
        print(frame.to_string(index=False))
