"""The core never imports Streamlit: the command line and a scheduler load it
without the UI framework (only portfolio.ui, the glue, may)."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import portfolio

CORE = sorted(
    f"portfolio.{m.name}" for m in pkgutil.iter_modules(portfolio.__path__)
    if m.name not in ("ui", "__main__")
)


def test_core_modules_are_listed():
    assert {"portfolio.models", "portfolio.flags", "portfolio.services", "portfolio.cli"} <= set(CORE)


def test_importing_the_core_does_not_import_streamlit():
    code = (
        "import sys, importlib\n"
        f"for name in {CORE!r}: importlib.import_module(name)\n"
        "print('streamlit' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(portfolio.__file__).parent.parent, check=True)
    assert out.stdout.strip() == "False"
