"""The command line starts fast: a scheduler runs it often and waits for it.
Importing it loads none of the heavy libraries (pandas, plotly, openpyxl)
nor the importer; each command imports what it uses, and the summary, run
most often, loads none of them. Parsing one command
fills in only that command's options, and they are the options the full
parser gives it."""

import subprocess
import sys
from pathlib import Path

import pytest

from portfolio import cli

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pandas", "plotly", "openpyxl", "portfolio.services.importer")


def _loaded_after(code: str) -> list[str]:
    """The HEAVY modules loaded after running ``code`` in a fresh Python."""
    probe = f"import sys\n{code}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_importing_the_command_line_loads_no_heavy_library():
    assert _loaded_after("import portfolio.cli") == []
    # Nor does reading the summary's arguments.
    assert _loaded_after("import portfolio.cli as c; c.build_parser('summary').parse_args(['summary'])") == []
    # The probe can fail: the Portfolio page's overview does need pandas, and the import command the importer.
    assert "pandas" in _loaded_after("import portfolio.services.reporting.overview")
    assert "portfolio.services.importer" in _loaded_after("import portfolio.services.importer")


def test_the_summary_command_loads_no_heavy_library(tmp_path):
    """The summary counts the flags and decisions in the database: the whole
    command, run on a demo portfolio, loads no pandas (nor anything else
    heavy), and prints the numbers."""
    from portfolio.services import demo

    path = tmp_path / "p.duckdb"
    demo.build_demo(path, demo.FIXED_AS_OF, n=8)
    run = (f"import portfolio.cli as c; assert c.main(['summary', '--db', {str(path)!r},"
           f" '--as-of', {demo.FIXED_AS_OF.isoformat()!r}]) == 0")
    assert _loaded_after(f"import contextlib, io\nwith contextlib.redirect_stdout(io.StringIO()):\n    {run}") == []
    out = subprocess.run([sys.executable, "-c", run], capture_output=True, text=True, cwd=ROOT, check=True)
    assert '"Active pilots"' in out.stdout and '"Conversion"' in out.stdout


def _options(parser, command: str) -> list[tuple]:
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return [(tuple(a.option_strings), a.dest, a.default, tuple(a.choices or ()), a.help) for a in sub._actions]


COMMANDS = sorted(next(a for a in cli.build_parser()._actions if a.dest == "command").choices)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_command_parsed_alone_has_the_options_the_full_parser_gives_it(command):
    assert _options(cli.build_parser(command), command) == _options(cli.build_parser(), command)
    assert len(_options(cli.build_parser(), command)) > 1  # more than --help


def test_a_mistyped_command_is_refused_and_a_command_alone_takes_its_options(tmp_path):
    with pytest.raises(SystemExit):
        cli.build_parser("sumary").parse_args(["sumary"])
    args = cli.build_parser("audit").parse_args(["audit", "--entity", "pilot", "--db", str(tmp_path / "x")])
    assert args.entity == "pilot"
