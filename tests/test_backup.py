"""`backup PATH`: a consistent copy of a live SQLite database, and restoring from it."""

from __future__ import annotations

import threading

from sqlmodel import Session, func, select

from curation_app import database
from curation_app.core.importer import import_file
from curation_app.models import Query
from tests.factories import write_jsonl


def test_backup_while_writing_then_restore(sqlite_db, admin, tmp_path, cli, monkeypatch):
    engine = database.get_engine(sqlite_db)
    import_file(write_jsonl(tmp_path / "first.jsonl", [{"prompt": f"first {i}"} for i in range(2000)]),
                actor=admin, engine=engine)
    writer = threading.Thread(target=lambda: import_file(
        write_jsonl(tmp_path / "second.jsonl", [{"prompt": f"second {i}"} for i in range(20_000)]),
        actor=admin, engine=engine))
    writer.start()  # a big import runs while the backup copies
    result = cli("backup", tmp_path / "copy.sqlite")
    writer.join()
    assert result.code == 0, result.err
    restored = f"sqlite:///{tmp_path / 'copy.sqlite'}"
    database.check_schema(database.make_engine(restored))  # a complete, current database
    with Session(database.make_engine(restored)) as session:
        count = session.exec(select(func.count()).select_from(Query)).one()
    assert count in (2000, 22_000)  # before or after the import, never half of it
    monkeypatch.setenv("CURATION_DATABASE_URL", restored)
    assert cli("import", tmp_path / "first.jsonl", "--json").json()["duplicates"] == 2000  # it works as a database
    again = cli("backup", tmp_path / "copy.sqlite")
    assert again.code == 1 and "already exists" in again.err


def test_backup_explains_pg_dump_for_postgresql(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("CURATION_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    result = cli("backup", tmp_path / "x.sqlite")
    assert result.code == 1 and "pg_dump" in result.err


def test_backup_from_and_to_paths_with_uri_characters_copies_everything(admin, tmp_path, cli, monkeypatch):
    folder = tmp_path / "a#b"
    folder.mkdir()
    url = f"sqlite:///{folder / 'db.sqlite'}"
    database.upgrade(url)
    import_file(write_jsonl(tmp_path / "q.jsonl", [{"prompt": f"query {i}"} for i in range(25)]),
                actor=admin, engine=database.get_engine(url))
    monkeypatch.setenv("CURATION_DATABASE_URL", url)
    result = cli("backup", tmp_path / "copy#1.sqlite")
    assert result.code == 0, result.err
    assert "tables" in result.out and "rows" in result.out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a#b", "copy#1.sqlite", "q.jsonl"]  # no stray file
    with Session(database.make_engine(f"sqlite:///{tmp_path / 'copy#1.sqlite'}")) as session:
        assert session.exec(select(func.count()).select_from(Query)).one() == 25
