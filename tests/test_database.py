"""Schema migrations on both backends, SQLite settings, and the models/migrations match."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from curation_app import database, models  # noqa: F401  (tables on the metadata)

EXPECTED_TABLES = {"alembic_version", "app_user", "annotation", "assignment", "audit_log", "baseline",
                   "candidate_sample", "candidate_sample_query", "final_label",
                   "import_batch", "login_session", "query", "release", "release_item", "review_vote", "setting"}


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


def test_migration_0007_retires_duplicates_confirmed_before_it(any_url):
    """A duplicate confirmed under 0006 left the pool but kept its assignment by name open."""
    database.upgrade(any_url, "0006")
    engine = database.make_engine(any_url, single_connection=True)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO app_user (name, role, active, created_at) "
                                "VALUES ('ann1', 'annotator', true, CURRENT_TIMESTAMP)"))
        connection.execute(text("INSERT INTO import_batch (source, file_name, file_sha256, file_format, shape, n_read, "
                                "n_imported, n_duplicates, n_skipped, created_at) "
                                "VALUES ('s', 'f', 'x', 'jsonl', 'flat', 2, 2, 0, 0, CURRENT_TIMESTAMP)"))
        for public_id, flags in (("q0", None), ("q1", '{"duplicate_of": "q0", "blocked": true}')):
            connection.execute(text(
                "INSERT INTO query (public_id, content_hash, messages, n_turns, n_chars, source, source_file, "
                "source_location, batch_id, triage_flags, in_pool, n_claims, pool_open, queue_rank, created_at) "
                "VALUES (:id, :id, '[]', 1, 1, 's', 'f', 'line 1', 1, :flags, false, 1, false, 0, CURRENT_TIMESTAMP)"),
                {"id": public_id, "flags": flags})
        for query_id in (1, 2):
            connection.execute(text("INSERT INTO assignment (query_id, annotator_id, state, created_at, updated_at) "
                                    "VALUES (:q, 1, 'assigned', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"q": query_id})
    engine.dispose()
    database.upgrade(any_url)
    engine = database.make_engine(any_url, single_connection=True)
    with engine.connect() as connection:
        queries = connection.execute(text("SELECT public_id, retired, n_claims FROM query ORDER BY id")).all()
        states = connection.execute(text("SELECT query_id, state FROM assignment ORDER BY query_id")).all()
    engine.dispose()
    assert [(p, bool(r), n) for p, r, n in queries] == [("q0", False, 1), ("q1", True, 0)]
    assert [tuple(s) for s in states] == [(1, "assigned"), (2, "skipped")]


def test_migration_0008_moves_each_querys_baseline_into_the_baseline_table(any_url):
    """Under 0007 a query held one baseline in query.baseline_answer/baseline_model (the model may be
    missing); 0008 makes each its first Baseline row and keeps the query's columns as its copy."""
    database.upgrade(any_url, "0007")
    engine = database.make_engine(any_url, single_connection=True)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO import_batch (source, file_name, file_sha256, file_format, shape, n_read, "
                                "n_imported, n_duplicates, n_skipped, created_at) "
                                "VALUES ('s', 'f.jsonl', 'x', 'jsonl', 'flat', 3, 3, 0, 0, CURRENT_TIMESTAMP)"))
        for public_id, answer, model in (("q0", "def f(): pass", "gpt-4-turbo-2024-04-09"), ("q1", None, None),
                                         ("q2", "SELECT 1;", None)):
            connection.execute(text(
                "INSERT INTO query (public_id, content_hash, messages, n_turns, n_chars, source, source_file, "
                "source_location, batch_id, baseline_answer, baseline_model, in_pool, n_claims, pool_open, "
                "queue_rank, retired, created_at) VALUES (:id, :id, '[]', 1, 1, 's', 'f.jsonl', 'line 1', 1, "
                ":answer, :model, false, 0, false, 0, false, CURRENT_TIMESTAMP)"),
                {"id": public_id, "answer": answer, "model": model})
    engine.dispose()
    database.upgrade(any_url)
    engine = database.make_engine(any_url, single_connection=True)
    with engine.connect() as connection:
        baselines = connection.execute(text(
            "SELECT q.public_id, b.model, b.answer, b.imported_at IS NOT NULL FROM baseline b "
            "JOIN query q ON q.id = b.query_id ORDER BY b.id")).all()
        columns = connection.execute(text("SELECT public_id, baseline_model, baseline_answer FROM query "
                                          "ORDER BY id")).all()
    engine.dispose()
    assert [tuple(b) for b in baselines] == [("q0", "gpt-4-turbo-2024-04-09", "def f(): pass", True),
                                             ("q2", "unknown", "SELECT 1;", True)]
    assert [tuple(c) for c in columns] == [("q0", "gpt-4-turbo-2024-04-09", "def f(): pass"), ("q1", None, None),
                                           ("q2", "unknown", "SELECT 1;")]
    database.downgrade(any_url, "0007")  # the first baseline stays where 0007 reads it
    engine = database.make_engine(any_url, single_connection=True)
    try:
        assert "baseline" not in database.table_names(engine)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT baseline_answer FROM query WHERE public_id = 'q0'")).scalar_one() \
                == "def f(): pass"
    finally:
        engine.dispose()
