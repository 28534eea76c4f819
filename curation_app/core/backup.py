"""Consistent copies of a live SQLite database (the online backup API)."""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from curation_app import models  # noqa: F401 - the app's tables, registered in SQLModel.metadata
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
    # The path quoted: in a URI a '#' starts a fragment and '?' a query, so "a#b/db.sqlite" would
    # open (and create) a file named "a".
    source = sqlite3.connect(f"file:{urllib.parse.quote(str(source_path.resolve()))}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(partial)
    try:
        # One read transaction for the counts and the copy: both see the same snapshot (in WAL
        # mode writers go on meanwhile).
        source.execute("BEGIN")
        expected = _row_counts(source)
        source.backup(copy)
        source.execute("COMMIT")
        ok = copy.execute("PRAGMA integrity_check").fetchone()[0]
        copied = _row_counts(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    except sqlite3.Error as error:
        copy.close()
        partial.unlink(missing_ok=True)
        raise InvalidInput(f"{source_path}: could not be copied: {error}") from None
    finally:
        copy.close()
        source.close()
    problem = (f"the copy failed its integrity check: {ok}" if ok != "ok"
               else "the copy holds no tables" if not copied
               else f"the copy's tables or row counts differ from the database's ({copied} against {expected})"
               if copied != expected else None)
    if problem:
        partial.unlink(missing_ok=True)
        raise InvalidInput(problem)
    os.replace(partial, target)
    return {"path": str(target), "bytes": target.stat().st_size, "tables": len(copied),
            "rows": sum(n for n in copied.values() if n)}


def _row_counts(connection: sqlite3.Connection) -> dict[str, int | None]:
    """Every table of the file, each of the app's with its row count (the names counted are the
    app's own, never text read from the file)."""
    present = {name for (name,) in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
    known = [table.name for table in SQLModel.metadata.sorted_tables] + ["alembic_version"]
    counts: dict[str, int | None] = dict.fromkeys(sorted(present))
    for table in known:
        if table in present:
            counts[table] = connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    return counts
