"""Shared fixtures: real SQLite files, a throwaway database on the real PostgreSQL server, the CLI.

PostgreSQL: CURATION_TEST_POSTGRES_URL (default postgres@127.0.0.1:5432/test) must reach a server
that lets this user create databases. Where none answers, its tests skip, except under CI=true,
where they fail, so CI can never pass with the real server skipped.
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import sys
import time
import uuid
from contextlib import closing
from pathlib import Path

import hypothesis
import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from curation_app import database
from curation_app.core import auth
from curation_app.core.demo import load_demo

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
POSTGRES_ADMIN_URL = os.environ.get(
    "CURATION_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Fuzz tests explore new inputs on developers' machines; CI replays a fixed set, so a run on main
# passes or fails on the code alone. Failures found locally are replayed from .hypothesis/.
hypothesis.settings.register_profile("ci", derandomize=True, print_blob=True)
if IN_CI:
    hypothesis.settings.load_profile("ci")


def pytest_collection_modifyitems(items):
    """Browser tests run one after another in one worker: each starts a Streamlit server and a
    Chromium, which two cores cannot run twice over without slowing every page to a crawl."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing():
    """Argon2 at its lowest cost: a full-cost hash takes about 0.4 s, and fixtures make many users.
    The app's own hasher is checked in test_auth_hashing.py, in a process of its own."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth, "_hasher", cheap)
        patch.setattr(auth, "_DUMMY_HASH", cheap.hash("not-a-real-password"))
        yield


def missing_real_part(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, where every real part must be present."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required)", pytrace=False)
    pytest.skip(reason)


def shared_file(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data {path} is not present (it lives outside the repository)")
    return path


_postgres_problem: str | None = None


def _postgres_admin_engine():
    global _postgres_problem
    if _postgres_problem:
        missing_real_part(_postgres_problem)
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    # A busy server can miss one connection; only repeated failures mean there is none.
    for attempt in range(4):
        try:
            with engine.connect() as connection:
                connection.execute(text("select 1"))
            return engine
        except Exception as exc:  # noqa: BLE001 - any failure may mean "no server here"
            problem = str(exc).strip().splitlines()[0]
            if "Connection refused" in problem or attempt == 3:
                break
            time.sleep(2 * (attempt + 1))
    engine.dispose()
    _postgres_problem = f"no PostgreSQL server answers at {POSTGRES_ADMIN_URL}: {problem}"
    missing_real_part(_postgres_problem)


def _create_postgres_database(admin) -> str:
    name = f"curation_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return name


def _drop_postgres_database(admin, name: str) -> None:
    database.dispose_engines()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _postgres_database_url(name: str) -> str:
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def postgres_url():
    """The URL of a fresh, empty PostgreSQL database, dropped afterwards."""
    admin = _postgres_admin_engine()
    name = _create_postgres_database(admin)
    try:
        yield _postgres_database_url(name)
    finally:
        _drop_postgres_database(admin, name)


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'curation.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request):
    """Run the test once on a real SQLite file and once on the real PostgreSQL server."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


# Migrating a database takes a second or more; tests that need a migrated one get a copy of a
# database migrated once per run (a copy of a template file on SQLite, one emptied database on PostgreSQL).

@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "curation.sqlite"
    url = f"sqlite:///{path}"
    database.upgrade(url)
    database.dispose_engines()
    with closing(sqlite3.connect(path)) as connection:  # everything into the main file: one copy is whole
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def migrated_sqlite_url(sqlite_template, tmp_path) -> str:
    path = tmp_path / "curation.sqlite"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def demo_template(sqlite_template, tmp_path_factory) -> Path:
    """The demo (users, queries, labels), loaded once per run into a copy of the template."""
    path = tmp_path_factory.mktemp("demo") / "curation.sqlite"
    shutil.copyfile(sqlite_template, path)
    load_demo(engine=database.get_engine(f"sqlite:///{path}"))
    database.dispose_engines()
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def demo_db(demo_template, tmp_path, monkeypatch):
    """A SQLite database holding the demo, also the app's database."""
    path = tmp_path / "curation.sqlite"
    shutil.copyfile(demo_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("CURATION_DATABASE_URL", url)
    yield url
    database.dispose_engines()


@pytest.fixture(scope="session")
def postgres_migrated_database():
    admin = _postgres_admin_engine()
    name = _create_postgres_database(admin)
    database.upgrade(_postgres_database_url(name))
    database.dispose_engines()
    try:
        yield name
    finally:
        _drop_postgres_database(admin, name)


@pytest.fixture
def migrated_postgres_url(postgres_migrated_database):
    """One migrated PostgreSQL database for the run, emptied before each test: creating and
    dropping a database costs the server a checkpoint each time (about 2 s here)."""
    url = _postgres_database_url(postgres_migrated_database)
    database.dispose_engines()
    tables = ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            # replica: the append-only triggers of the audit log and frozen releases stand aside
            connection.execute(text("SET session_replication_role = replica"))
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()
    yield url
    database.dispose_engines()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, monkeypatch):
    """A migrated database on each backend, also the CLI's and the app's database."""
    url = request.getfixturevalue("migrated_sqlite_url" if request.param == "sqlite" else "migrated_postgres_url")
    monkeypatch.setenv("CURATION_DATABASE_URL", url)
    yield url
    database.dispose_engines()


@pytest.fixture
def sqlite_db(migrated_sqlite_url, monkeypatch):
    """A migrated SQLite database only, for tests about the app rather than the backend."""
    monkeypatch.setenv("CURATION_DATABASE_URL", migrated_sqlite_url)
    yield migrated_sqlite_url
    database.dispose_engines()


@pytest.fixture
def engine(db_url):
    return database.get_engine(db_url)


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def json(self):
        import json

        return json.loads(self.out)


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run `python -m curation_app ...` in this process; stdin text optional."""
    from curation_app.cli import main

    def run(*args: str, stdin: str = "") -> CliResult:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def admin():
    from curation_app.core.auth import command_line_actor

    return command_line_actor()


def run_until_marker_then_kill(script: str, marker: Path, *args: str, env: dict | None = None) -> None:
    """Run `script` in a child Python until it writes `marker` (it then waits), and SIGKILL it there."""
    import signal
    import subprocess
    import time

    child = subprocess.Popen([sys.executable, "-c", script, str(marker), *args], cwd=REPO_ROOT,
                             env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})})
    try:
        for _ in range(600):
            if marker.exists() or child.poll() is not None:
                break
            time.sleep(0.1)
        assert marker.exists(), "the child never reached the point where it is killed"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
