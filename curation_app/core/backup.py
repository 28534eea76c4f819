"""Consistent copies of a live SQLite database (the online backup API)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from curation_app.core.errors import InvalidInput

PG_DUMP_HINT = ("PostgreSQL: use its own tools, e.g. `pg_dump --format=custom --file=curation.dump DBNAME` "
                "and `pg_restore --clean --dbname=DBNAME curation.dump`")


def backup_sqlite(url: str, target: str | Path) -> dict:
    """Copy the database page by page while others keep reading and writing; the copy is consistent."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise InvalidInput(f"backup copies SQLite databases only. {PG_DUMP_HINT}")
    source_path = Path(parsed.database or "")
    if not source_path.is_file():
        raise InvalidInput(f"{source_path}: no such database file")
    target = Path(target)
    if target.exists():
        raise InvalidInput(f"{target} already exists; choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy, pages=1024)  # in steps, so writers are not held up for long
        ok = copy.execute("PRAGMA integrity_check").fetchone()[0]
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        copy.close()
        source.close()
    if ok != "ok":
        partial.unlink(missing_ok=True)
        raise InvalidInput(f"the copy failed its integrity check: {ok}")
    os.replace(partial, target)
    return {"path": str(target), "bytes": target.stat().st_size}
