"""The queue's bookkeeping after each of its operations, on SQLite and PostgreSQL.

The invariant is computed here from the rows themselves, independently of core/queue.py:
    n_claims  = the query's assignments that hold a slot (assigned, reserved, submitted)
    in_pool   => not final and not retired
    pool_open = in_pool and n_claims < overlap
and a final or retired query has no open assignment left in anyone's queue.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select, update

from curation_app.core import adjudicate, annotate, annotation_io, configure, queue
from curation_app.core.project import load_project
from curation_app.core.triage import database as triage_db
from curation_app.database import session_scope
from curation_app.models import Assignment, FinalLabel, Query, utcnow
from tests.factories import label, make_team, write_csv

KEEP = {"decision": "keep", "category": "Development and Programming", "subcategory": "Code Debugging",
        "languages": ["python"], "difficulty": "medium", "reference_answer": "Use a set."}


def pool_problems(engine) -> list[str]:
    """Every way the stored bookkeeping breaks the invariant; empty when it holds."""
    with Session(engine) as session:
        overlap = load_project(session).overlap
        finals = set(session.exec(select(FinalLabel.query_id)).all())
        states: dict[int, list[str]] = {}
        for query_id, state in session.exec(select(Assignment.query_id, Assignment.state)).all():
            states.setdefault(query_id, []).append(state)
        problems = []
        for query in session.exec(select(Query)).all():
            mine = states.get(query.id, [])
            claims = sum(state in ("assigned", "reserved", "submitted") for state in mine)
            if query.n_claims != claims:
                problems.append(f"{query.public_id}: n_claims {query.n_claims}, claiming assignments {claims}")
            if query.in_pool and (query.id in finals or query.retired):
                problems.append(f"{query.public_id}: in the pool while {'final' if query.id in finals else 'retired'}")
            if query.pool_open != (query.in_pool and claims < overlap):
                problems.append(f"{query.public_id}: pool_open {query.pool_open} with in_pool {query.in_pool}, "
                                f"{claims} claims of {overlap}")
            if (query.id in finals or query.retired) and any(s in ("assigned", "reserved", "expired") for s in mine):
                problems.append(f"{query.public_id}: final or retired but still in a queue ({mine})")
        return problems


@pytest.fixture
def team(engine, admin, tmp_path):
    return make_team(engine, admin, tmp_path, queries=6, prompt="Question {i}: why does my rust borrow fail?")


def next_id(engine, user) -> str | None:
    with session_scope(engine) as session:
        item = queue.next_item(session, actor=user)
        return item.public_id if item else None


def submit(engine, user, public_id):
    with session_scope(engine) as session:
        annotate.save(session, actor=user, public_id=public_id, fields=KEEP, submit=True)


def query_row(engine, public_id) -> Query:
    with Session(engine) as session:
        return session.exec(select(Query).where(Query.public_id == public_id)).one()


def test_imported_queries_start_outside_the_pool(engine, team):
    assert pool_problems(engine) == []
    assert {(q.in_pool, q.n_claims, q.pool_open, q.retired) for q in [query_row(engine, f"q{i}") for i in range(6)]} \
        == {(False, 0, False, False)}
    assert next_id(engine, team["ann1"]) is None


def test_assign_reserve_skip_expire_and_submit_keep_the_invariant(engine, team):
    with session_scope(engine) as session:
        queue.assign(session, actor=team["boss"])  # the pool, overlap 2
    assert pool_problems(engine) == []
    first = next_id(engine, team["ann1"])
    assert first == "q0" and pool_problems(engine) == []
    with session_scope(engine) as session:
        queue.skip(session, actor=team["ann1"], query_id=query_row(engine, first).id)
    assert pool_problems(engine) == [] and query_row(engine, first).n_claims == 0
    second = next_id(engine, team["ann2"])
    with session_scope(engine) as session:  # the reservation runs out
        session.exec(update(Assignment).where(Assignment.state == "reserved").values(
            reserved_until=utcnow() - timedelta(minutes=1)))
    with session_scope(engine) as session:
        assert queue.expire_reservations(session) == 1
    assert pool_problems(engine) == [] and query_row(engine, second).n_claims == 0
    submit(engine, team["ann2"], second)  # the slot was still free: taken back and submitted
    assert pool_problems(engine) == [] and query_row(engine, second).n_claims == 1
    with session_scope(engine) as session:
        queue.assign(session, actor=team["boss"], annotators=["ann1", "ann3"])
    assert pool_problems(engine) == []


def test_a_new_overlap_reopens_and_closes_slots(engine, team):
    with session_scope(engine) as session:
        queue.assign(session, actor=team["boss"], annotators=["ann1", "ann2"], public_ids=["q0"])
    assert query_row(engine, "q0").pool_open is False  # 2 of 2 slots taken
    with session_scope(engine) as session:
        configure.change_setting(session, actor=team["boss"], key="overlap", value=3)
    assert query_row(engine, "q0").pool_open is True and pool_problems(engine) == []
    with session_scope(engine) as session:
        configure.change_setting(session, actor=team["boss"], key="overlap", value=1)
    assert query_row(engine, "q0").pool_open is False and pool_problems(engine) == []


def test_closing_a_final_item_empties_every_queue_and_reopening_brings_it_back(engine, team, admin, tmp_path):
    with session_scope(engine) as session:
        configure.change_setting(session, actor=team["boss"], key="overlap", value=3)
        queue.assign(session, actor=team["boss"], annotators=["ann1", "ann2", "ann3"], public_ids=["q0"])
    submit(engine, team["ann1"], "q0")
    submit(engine, team["ann2"], "q0")  # ann3's assignment is still open
    with session_scope(engine) as session:
        assert adjudicate.apply_rule(session, actor=team["boss"])["finalised"] == 1
    assert pool_problems(engine) == []
    assert query_row(engine, "q0").in_pool is False and next_id(engine, team["ann3"]) is None
    with session_scope(engine) as session:
        adjudicate.reopen(session, actor=team["boss"], public_id="q0", reason="look again")
    assert pool_problems(engine) == [] and query_row(engine, "q0").in_pool is True
    assert query_row(engine, "q0").pool_open is True  # 2 submitted of 3: one slot free again
    with session_scope(engine) as session:  # a lead's resolution closes the item the same way
        adjudicate.resolve(session, actor=team["boss"], public_id="q0", fields=KEEP, rationale="fine",
                           expected_revision=0)
    assert pool_problems(engine) == [] and query_row(engine, "q0").in_pool is False


def test_sending_back_puts_the_item_in_the_annotators_queue_without_new_claims(engine, team):
    with session_scope(engine) as session:
        queue.assign(session, actor=team["boss"], annotators=["ann1", "ann2"], public_ids=["q1"])
    submit(engine, team["ann1"], "q1")
    submit(engine, team["ann2"], "q1")
    with session_scope(engine) as session:
        adjudicate.send_back(session, actor=team["boss"], public_id="q1", annotators=["ann1"], reason="check")
    assert pool_problems(engine) == [] and query_row(engine, "q1").n_claims == 2
    assert next_id(engine, team["ann1"]) == "q1" and next_id(engine, team["ann2"]) is None


def test_a_confirmed_duplicate_leaves_every_queue_even_when_assigned_by_name(engine, team):
    with session_scope(engine) as session:
        configure.change_setting(session, actor=team["boss"], key="overlap", value=1)
        queue.assign(session, actor=team["boss"], annotators=["ann1"], public_ids=["q0", "q1"])
    with session_scope(engine) as session:
        triage_db.mark_duplicates(session, actor=team["boss"], canonical="q0", duplicates=["q1"])
    assert pool_problems(engine) == []
    assert next_id(engine, team["ann1"]) == "q0"
    submit(engine, team["ann1"], "q0")
    assert next_id(engine, team["ann1"]) is None  # q1 is not offered
    with session_scope(engine) as session:  # and assigning again does not bring it back
        queue.assign(session, actor=team["boss"])
        queue.assign(session, actor=team["boss"], annotators=["ann2"], public_ids=["q1"])
    offered = []
    while (item := next_id(engine, team["ann2"])) is not None:
        offered.append(item)
        submit(engine, team["ann2"], item)
    assert "q1" not in offered and offered  # everything else was offered
    assert query_row(engine, "q1").in_pool is False and pool_problems(engine) == []
    with session_scope(engine) as session:  # a lead who clears it may assign it again
        triage_db.clear_flags(session, actor=team["boss"], public_id="q1", reason="not the same question")
        queue.assign(session, actor=team["boss"], annotators=["ann3"], public_ids=["q1"])
    assert next_id(engine, team["ann3"]) == "q1" and pool_problems(engine) == []


def test_labels_imported_from_elsewhere_hold_their_slots(engine, team, admin, tmp_path):
    with session_scope(engine) as session:
        queue.assign(session, actor=team["boss"])
    path = write_csv(tmp_path / "labels.csv", [label("q2", name) for name in ("ann1", "ann2", "ann3")])
    annotation_io.import_annotations(path, actor=admin, engine=engine)
    assert query_row(engine, "q2").n_claims == 3 and pool_problems(engine) == []
    assert next_id(engine, team["ann1"]) != "q2"  # its slots are all taken
