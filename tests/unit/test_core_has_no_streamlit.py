"""The core never imports Streamlit: the command line and a scheduler load it
without the UI framework. Only portfolio/web/, app.py, serve.py and pages/
may. The HTTP routes (portfolio/api/) are Starlette's, and only they and
serve.py, which hands them to Streamlit's server, import Starlette."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import portfolio

ROOT = Path(portfolio.__file__).resolve().parent.parent


def _all_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(portfolio.__path__, "portfolio."))


CORE = [name for name in _all_modules() if name != "portfolio.web" and not name.startswith("portfolio.web.")]


def test_every_layer_outside_web_is_checked():
    packages = {name.split(".")[1] for name in CORE if name.count(".") >= 1}
    assert {"domain", "flags", "storage", "services", "cli"} <= packages
    # Every module below those folders is listed, none left out by name.
    on_disk = set()
    for path in (ROOT / "portfolio").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if "web" not in parts and len(parts) > 1:
            on_disk.add(".".join(parts))
    assert on_disk == set(CORE)


def test_importing_the_core_does_not_import_streamlit():
    code = (
        "import sys, importlib\n"
        f"for name in {CORE!r}: importlib.import_module(name)\n"
        "print('streamlit' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def _imports(path: Path, package: str) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == package for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == package:
            return True
    return False


def _imports_streamlit(path: Path) -> bool:
    return _imports(path, "streamlit")


ENTRY_POINTS = {ROOT / "app.py", ROOT / "serve.py"}
SOURCES = set((ROOT / "portfolio").rglob("*.py")) | ENTRY_POINTS | set((ROOT / "pages").rglob("*.py"))


def test_only_web_app_and_pages_import_streamlit():
    allowed = ENTRY_POINTS | set((ROOT / "pages").rglob("*.py")) | set((ROOT / "portfolio" / "web").rglob("*.py"))
    offenders = sorted(str(p.relative_to(ROOT)) for p in SOURCES - allowed if _imports_streamlit(p))
    assert offenders == []
    # The check can fail: the web layer does import it.
    assert _imports_streamlit(ROOT / "portfolio" / "web" / "ui.py")


def test_only_the_http_routes_import_starlette():
    allowed = {ROOT / "serve.py"} | set((ROOT / "portfolio" / "api").rglob("*.py"))
    offenders = sorted(str(p.relative_to(ROOT)) for p in SOURCES - allowed if _imports(p, "starlette"))
    assert offenders == []
    assert _imports(ROOT / "portfolio" / "api" / "routes.py", "starlette")
