"""Schema migrations on both backends, SQLite settings, and the models/migrations match."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from curation_app import database, models  # noqa: F401  (tables on the metadata)

EXPECTED_TABLES = {"alembic_version", "app_user", "annotation", "assignment", "audit_log", "final_label",
                   "import_batch", "login_session", "query", "release", "release_item", "setting"}


def test_upgrade_creates_every_table_and_matches_the_models(any_url):
    database.upgrade(any_url)
    engine = database.make_engine(any_url, single_connection=True)
    try:
        assert set(database.table_names(engine)) == EXPECTED_TABLES
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, SQLModel.metadata)
        # A model changed without a migration: write one with
        #   alembic -c db/alembic.ini revision --autogenerate -m "..."
        assert differences == [], f"models and migrations differ: {differences}"
        database.check_schema(engine)
    finally:
        engine.dispose()


def test_downgrade_to_nothing_and_upgrade_again(any_url):
    database.upgrade(any_url)
    database.downgrade(any_url, "base")
    engine = database.make_engine(any_url, single_connection=True)
    try:
        assert set(database.table_names(engine)) == {"alembic_version"}
        with pytest.raises(database.DatabaseError, match="has no schema"):
            database.check_schema(engine)
    finally:
        engine.dispose()
    database.upgrade(any_url)
    engine = database.make_engine(any_url, single_connection=True)
    assert set(database.table_names(engine)) == EXPECTED_TABLES
    engine.dispose()


def test_every_migration_has_a_downgrade_and_one_head():
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(database.alembic_config("sqlite://"))
    assert len(scripts.get_heads()) == 1
    for revision in scripts.walk_revisions():
        assert "def downgrade" in open(revision.path).read()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout_and_foreign_keys(sqlite_url):
    database.upgrade(sqlite_url)
    engine = database.make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == database.SQLITE_BUSY_TIMEOUT_MS
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_check_schema_names_the_unreachable_database():
    engine = database.make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(database.DatabaseError, match="cannot open the database at postgresql"):
        database.check_schema(engine)


def test_the_audit_log_is_append_only_in_the_database(db_url):
    from curation_app.core import audit
    from curation_app.core.auth import command_line_actor

    engine = database.get_engine(db_url)
    with database.session_scope(engine) as session:
        audit.record(session, actor=command_line_actor(), action="test.event", entity="test", new={"n": 1})
    for statement in ("UPDATE audit_log SET action = 'rewritten'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only audit log"):
            with engine.begin() as connection:
                connection.execute(text(statement))
    if engine.dialect.name == "postgresql":  # row triggers do not see TRUNCATE; statement triggers do
        for table in ("audit_log", "release_item"):
            with pytest.raises(Exception, match="TRUNCATE on"), engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {table}"))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT action FROM audit_log")).scalars().all() == ["test.event"]
