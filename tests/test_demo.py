"""`python -m curation_app demo`: a fresh database a newcomer can click through."""

from __future__ import annotations

import json
import re

from sqlmodel import Session, select

from curation_app.core import auth
from curation_app.core.demo import DEMO_QUERIES, DEMO_USERS
from curation_app.database import get_engine
from curation_app.models import Query


def test_demo_loads_users_of_every_role_and_at_least_40_queries(sqlite_url, cli, monkeypatch):
    monkeypatch.setenv("CURATION_DATABASE_URL", sqlite_url)
    result = cli("demo")  # runs the migrations itself
    assert result.code == 0, result.err
    assert "alice-demo" in result.out  # passwords are printed for the newcomer
    with Session(get_engine(sqlite_url)) as session:
        queries = list(session.exec(select(Query)))
        assert len(queries) >= 40
        for name, role, password in DEMO_USERS:
            assert auth.authenticate(session, name=name, password=password).role == role
    assert {role for _, role, _ in DEMO_USERS} == {"annotator", "lead", "admin"}
    again = cli("demo", "--json").json()
    assert again["loaded"] is False and again["queries"] == len(queries)


def test_demo_queries_cover_languages_code_blocks_and_plain_questions():
    rows = [json.loads(line) for line in DEMO_QUERIES.read_text(encoding="utf-8").splitlines()]
    texts = [" ".join(m["content"] for m in row["messages"]) for row in rows]
    fences = {tag.lower() for text in texts for tag in re.findall(r"```([A-Za-z+#]+)", text)}
    assert len(rows) >= 40 and len({r["id"] for r in rows}) == len(rows)
    assert len(fences) >= 8, fences
    assert sum("```" not in text for text in texts) >= 10  # plain questions and unfenced code
    assert any(len(row["messages"]) > 1 for row in rows)
    assert any("<script>" in text for text in texts)


def test_the_demo_loader_runs_the_triage_that_import_runs(demo_db):
    from curation_app.core.demo import PLANTED_KEY_ID

    with Session(get_engine(demo_db)) as session:
        flags = {q.public_id: q for q in session.exec(select(Query)) if q.triage_flags}
    leak = flags["demo-013"]
    assert PLANTED_KEY_ID in leak.messages[0]["content"]
    assert [hit["kind"] for hit in leak.triage_flags["secrets"]] == ["aws_access_key_id", "aws_secret_access_key"]
    assert leak.triage_flags["blocked"]
    assert PLANTED_KEY_ID not in DEMO_QUERIES.read_text(encoding="utf-8")  # built when loading, not stored
