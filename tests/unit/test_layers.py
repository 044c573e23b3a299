"""Only storage runs SQL: no module of the package outside portfolio/storage/,
no page and not the router calls the database (DuckDB's execute, sql,
query, df, fetch..., register, or anything of the duckdb module itself).
Catching duckdb.Error is fine; running a query is not. And the HTTP routes
(portfolio/api/), like the pages, call services: of storage they use only
db, to open the database for a request."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STORAGE = ROOT / "portfolio" / "storage"

# The connection's and the result's methods that run or read SQL.
SQL_METHODS = {"execute", "executemany", "sql", "query", "df", "fetchdf", "fetchnumpy", "fetchall", "fetchone",
               "fetchmany", "register", "unregister"}


def sql_calls(source: str) -> list[tuple[int, str]]:
    """(line, method) of every call in ``source`` that runs or reads SQL,
    in the order of the source."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value
        if isinstance(owner, ast.Name) and owner.id == "duckdb":
            found.add((node.func.lineno, f"duckdb.{node.func.attr}"))
        elif node.func.attr in SQL_METHODS:
            found.add((node.func.end_lineno, f".{node.func.attr}"))
    return sorted(found)


def checked_files() -> list[Path]:
    files = [p for p in (ROOT / "portfolio").rglob("*.py") if STORAGE not in p.parents]
    return files + sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py", ROOT / "serve.py"]


def test_the_scan_finds_sql_calls():
    assert sql_calls("conn.execute('SELECT 1')") == [(1, ".execute")]
    assert sql_calls("x = duckdb.connect()\nx.sql('SELECT 1').df()") == [(1, "duckdb.connect"), (2, ".df"), (2, ".sql")]
    assert sql_calls("try:\n    pass\nexcept duckdb.Error:\n    pass") == []


def test_only_storage_runs_sql():
    outside = [f"{path.relative_to(ROOT)}:{line}: {call}(...)"
               for path in checked_files() for line, call in sql_calls(path.read_text(encoding="utf-8"))]
    assert not outside, "SQL runs only in portfolio/storage/; move these there:\n" + "\n".join(outside)


def portfolio_imports(path: Path) -> set[str]:
    """Every portfolio module ``path`` imports (``from portfolio.x import y``
    counts as portfolio.x.y when y is a module, else portfolio.x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("portfolio")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("portfolio"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                module_file = ROOT / Path(*candidate.split("."))
                found.add(candidate if module_file.with_suffix(".py").exists() or module_file.is_dir()
                          else node.module)
    return found


def test_the_http_routes_call_services_not_storage():
    allowed = ("portfolio.services", "portfolio.domain", "portfolio.api")
    outside = [f"{path.relative_to(ROOT)}: {name}"
               for path in sorted((ROOT / "portfolio" / "api").rglob("*.py"))
               for name in sorted(portfolio_imports(path))
               if not name.startswith(allowed) and name != "portfolio.storage.db"]
    assert not outside, "the routes call services (storage.db only opens the database):\n" + "\n".join(outside)
    # The check can fail: a page that reads storage directly is caught by it.
    assert "portfolio.storage.store" in portfolio_imports(ROOT / "pages" / "people.py")
