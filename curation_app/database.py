"""Engine, sessions and schema migrations for SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import orjson
from sqlalchemy import Table, bindparam, event, insert, inspect, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from sqlalchemy.engine import Connection
from sqlmodel import Session, create_engine

from curation_app.core.errors import Busy

REPO_ROOT = Path(__file__).resolve().parent.parent
DB_HOME = REPO_ROOT / "db"
MIGRATIONS_DIR = DB_HOME / "migrations"
DEFAULT_SQLITE_PATH = DB_HOME / "curation.sqlite"
SQLITE_BUSY_TIMEOUT_MS = 30_000


class DatabaseError(RuntimeError):
    """The database is missing, unreachable or not at the current schema."""


def database_url() -> str:
    return os.environ.get("CURATION_DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_PATH}"


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the driver, decide when transactions begin, so BEGIN IMMEDIATE
        # below takes the write lock at the start and concurrent writers queue instead of failing.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        # Writers take the lock up front and queue on the busy timeout. Pure readers (read_scope)
        # start a deferred transaction: in WAL mode they never wait for, nor block, a writer.
        mode = connection.get_execution_options().get("curation_transaction", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {'DEFERRED' if mode == 'DEFERRED' else 'IMMEDIATE'}")


# A run of digits that orjson would read as a float (integers beyond 64 bits): the standard
# library's json keeps such integers exact, in and out.
_LONG_DIGITS = re.compile(r"\d{19,}")


def _json_dumps(value: object) -> str:
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:  # an integer beyond 64 bits (an id or a count from an imported file)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_loads(value: object) -> object:
    # SQLite gives a JSON column NUMERIC affinity: a stored number comes back as a number.
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode("utf-8")
    if not isinstance(value, str):
        return value
    return json.loads(value) if _LONG_DIGITS.search(value) else orjson.loads(value)


def make_engine(url: str | None = None, *, single_connection: bool = False,
                connect_timeout_s: int | None = None) -> Engine:
    """An engine with this app's SQLite settings; single_connection for short-lived scripts;
    connect_timeout_s bounds the wait for a database server that does not answer."""
    url = url or database_url()
    # orjson for the JSON columns: a 100,000-item release decodes several hundred thousand values.
    pooling: dict = {"json_serializer": _json_dumps, "json_deserializer": _json_loads}
    if single_connection:
        pooling["poolclass"] = NullPool
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if not single_connection:
            # Enough connections for every thread of a busy server: writers wait on SQLite's busy
            # timeout, not on the pool (whose own timeout would fail them first).
            pooling.update(pool_size=20, max_overflow=20, pool_timeout=SQLITE_BUSY_TIMEOUT_MS / 1000 * 2)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **pooling,
        )
        _configure_sqlite(engine)
        return engine
    if connect_timeout_s is not None:
        pooling["connect_args"] = {"connect_timeout": connect_timeout_s}
    if single_connection:
        return create_engine(url, **pooling)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **pooling)


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL per process (connection pools are meant to be shared)."""
    url = url or database_url()
    with _ENGINES_LOCK:
        if url not in _ENGINES:
            _ENGINES[url] = make_engine(url)
        return _ENGINES[url]


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def dispose_engines() -> None:
    """Close every pooled connection, e.g. before a test drops its database."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = Session(engine or get_engine(), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except OperationalError as exc:
        session.rollback()
        if _is_busy(exc):
            raise Busy("the database is busy with another long change (an import, say) and nothing was "
                       "saved; try again in a moment") from exc
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _is_busy(error: OperationalError) -> bool:
    """SQLite's lock wait ran out, or PostgreSQL gave up a lock or a transaction to another."""
    message = str(error.orig or error).lower()
    return any(sign in message for sign in ("database is locked", "deadlock detected", "could not serialize",
                                            "lock timeout"))


@contextmanager
def read_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session for reading only: on SQLite it takes no write lock, so it can run beside writers
    (and inside another session's work) without waiting. Anything it writes is rolled back."""
    bind = (engine or get_engine()).execution_options(curation_transaction="DEFERRED")
    session = Session(bind, expire_on_commit=False)
    try:
        yield session
    finally:
        session.expunge_all()  # objects read here stay usable, with the values they were read with
        session.rollback()
        session.close()


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's config is an INI parser: a literal % in a URL (an escaped password) must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Create or upgrade the schema with the Alembic migrations in db/migrations."""
    from alembic import command

    command.upgrade(alembic_config(url or database_url()), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(url or database_url()), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def check_schema(engine: Engine) -> None:
    """Refuse to run against a database that `init` has not brought to the current schema."""
    try:
        current = current_revision(engine)
    except Exception as exc:  # unreachable server, bad credentials, unreadable file
        raise DatabaseError(f"cannot open the database at {describe_url(str(engine.url))}: {exc}") from exc
    if current != head_revision():
        where = describe_url(str(engine.url))
        state = "has no schema" if current is None else f"is at schema revision {current}"
        raise DatabaseError(
            f"the database at {where} {state}; run `python -m curation_app init` to upgrade it"
        )


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())


def bulk_write(connection: Connection, table: Table, *, inserts: list[dict] = (), updates: list[dict] = ()) -> None:
    """Bulk writes in the caller's transaction: `inserts` as one executemany, and `updates` as
    another, where each parameter set's `target` picks the row by id and its other keys are SET."""
    if inserts:
        connection.execute(insert(table), list(inserts))
    if updates:
        connection.execute(update(table).where(table.c.id == bindparam("target")), list(updates))
