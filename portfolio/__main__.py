"""python -m portfolio: the command line (see cli.py)."""

import sys

from portfolio.cli import main

if __name__ == "__main__":
    sys.exit(main())
