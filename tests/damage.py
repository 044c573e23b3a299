"""Damage a DuckDB file as a failing disk or a stray writer would, for the
tests of a damaged database (the command line's and the app's)."""

from __future__ import annotations

from pathlib import Path

import duckdb

HEADER_BYTES = 3 * 4096  # DuckDB's file header and its two database headers, before block 0


def block_of(path: Path, table: str) -> int:
    """Where a block holding ``table``'s rows starts in the file."""
    with duckdb.connect(str(path), read_only=True) as c:
        size = c.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0]
        block = c.execute(f"SELECT min(block_id) FROM pragma_storage_info('{table}') WHERE block_id >= 0"
                          ).fetchone()[0]
    return HEADER_BYTES + block * size


def scribble(path: Path, at: int, n: int = 4000) -> None:
    """Overwrite ``n`` bytes inside a block (past its 8-byte checksum): the
    block then fails its checksum."""
    with open(path, "r+b") as fh:
        fh.seek(at + 8 + 300)
        fh.write(bytes((i * 37 + 11) % 256 for i in range(n)))
