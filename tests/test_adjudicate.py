"""The acceptance rule (including CodeArena's 3 of 4), the conflict queue, resolution with
optimistic locking, reopen and send back, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session, select

from curation_app.core import adjudicate, annotation_io, auth, configure, queue
from curation_app.core.errors import Conflict, InvalidInput, PermissionDenied
from curation_app.core.importer import import_file
from curation_app.database import session_scope
from curation_app.models import Annotation, AuditLog, FinalLabel, Query, User
from tests.factories import DEBUG, SECURITY, label, write_csv, write_jsonl


@pytest.fixture
def lead(engine, admin, tmp_path):
    rows = [{"id": f"i{i}", "prompt": f"item {i}: fix my python"} for i in range(6)]
    import_file(write_jsonl(tmp_path / "q.jsonl", rows), actor=admin, engine=engine)
    with session_scope(engine) as session:
        auth.create_user(session, actor=admin, name="lead1", role="lead", password="password1")
        auth.create_user(session, actor=admin, name="lead2", role="lead", password="password1")
        configure.change_setting(session, actor=admin, key="min_annotations", value=4)
        configure.change_setting(session, actor=admin, key="keep_quorum", value=3)
    with Session(engine) as session:
        return {u.name: u for u in session.exec(select(User).where(User.role == "lead"))}


def load(engine, admin, tmp_path, rows):
    annotation_io.import_annotations(write_csv(tmp_path / "labels.csv", rows), actor=admin, engine=engine)


def finals(engine) -> dict[str, FinalLabel]:
    with Session(engine) as session:
        return {p: f for p, f in session.exec(select(Query.public_id, FinalLabel)
                                               .join(FinalLabel, FinalLabel.query_id == Query.id)).all()}


def test_codearena_rule_three_of_four(engine, admin, lead, tmp_path):
    annotators = ["w", "x", "y", "z"]
    rows = []
    rows += [label("i0", a) for a in annotators]                                             # unanimous
    rows += [label("i1", a, difficulty="hard" if a == "z" else "easy") for a in annotators]  # 3 of 4
    rows += [label("i2", a, category=SECURITY if a in "yz" else DEBUG) for a in annotators]  # 2 vs 2
    rows += [label("i3", a, decision="reject" if a != "w" else "keep", reject_reason="too trivial"
                   if a != "w" else "") for a in annotators]                                  # rejected 3 of 4
    rows += [label("i4", a) for a in annotators[:3]]                                          # incomplete
    load(engine, admin, tmp_path, rows)
    with session_scope(engine) as session:
        result = adjudicate.apply_rule(session, actor=lead["lead1"])
    assert result == {"finalised": 3, "unanimous": 1, "majority": 2, "to_adjudicate": 1, "to_review": 0}
    final = finals(engine)
    assert set(final) == {"i0", "i1", "i3"}
    assert final["i0"].source == "unanimous" and final["i1"].source == "majority"
    assert final["i1"].difficulty == "easy"
    assert final["i1"].field_sources["difficulty"] == {"source": "majority", "by": None, "votes": "3/4"}
    assert (final["i3"].decision, final["i3"].reject_reason, final["i3"].category) == ("reject", "too trivial", None)
    assert final["i0"].reference_answer == "Use a set."
    with session_scope(engine) as session:
        queued = adjudicate.conflict_queue(session, actor=lead["lead1"])
        assert [(i.public_id, i.conflicts) for i in queued] == [("i2", ["category", "subcategory"])]
        assert adjudicate.conflict_queue(session, actor=lead["lead1"], field="difficulty") == []
        assert adjudicate.apply_rule(session, actor=lead["lead1"])["finalised"] == 0  # nothing twice


def test_queue_is_lowest_agreement_first_and_filters(engine, admin, lead, tmp_path):
    with session_scope(engine) as session:
        configure.change_setting(session, actor=admin, key="keep_quorum", value=2)
        configure.change_setting(session, actor=admin, key="min_annotations", value=2)
    rows = [label("i0", "w"), label("i0", "x", difficulty="hard"),
            label("i1", "w"), label("i1", "x", category=SECURITY, difficulty="hard", languages="c")]
    load(engine, admin, tmp_path, rows)
    with session_scope(engine) as session:
        order = [i.public_id for i in adjudicate.conflict_queue(session, actor=lead["lead1"])]
        assert order == ["i1", "i0"]
        assert [i.public_id for i in adjudicate.conflict_queue(
            session, actor=lead["lead1"], category=SECURITY[0])] == ["i1"]
        assert adjudicate.conflict_queue(session, actor=lead["lead1"], annotator="nobody") == []


def test_resolve_with_an_override_records_sources_and_rationale(engine, admin, lead, tmp_path):
    rows = [label("i2", a, category=SECURITY if a in "yz" else DEBUG) for a in "wxyz"]
    load(engine, admin, tmp_path, rows)
    with session_scope(engine) as session:
        view = adjudicate.adjudication_view(session, actor=lead["lead1"], public_id="i2")
        assert view.outcomes["category"].status == "conflict" and view.final_revision == 0
        chosen = {"decision": "keep", "category": "Development and Programming",
                  "subcategory": "Testing and Debugging",  # a value nobody chose
                  "languages": ["python"], "difficulty": "easy", "reference_answer": "Merged answer."}
        adjudicate.resolve(session, actor=lead["lead1"], public_id="i2", fields=chosen,
                           rationale="the user is debugging a test", confidence="medium",
                           error_type="guideline gap", guidelines_need_update=True, expected_revision=0)
    final = finals(engine)["i2"]
    assert final.source == "adjudicated" and final.rationale == "the user is debugging a test"
    assert final.field_sources["subcategory"] == {"source": "adjudicated", "by": "lead1", "votes": "2/4"}
    assert final.field_sources["decision"]["source"] == "unanimous"
    assert final.field_sources["reference_answer"] == {"source": "adjudicated", "by": "lead1", "votes": None}
    with session_scope(engine) as session:
        feedback = adjudicate.guideline_feedback(session, actor=lead["lead1"])
    assert feedback["flagged"][0]["query"] == "i2"
    assert feedback["adjudications_by_category"] == [{"category": "Development and Programming", "adjudicated": 1}]


def test_second_lead_gets_a_conflict_and_the_first_decision_stays(engine, admin, lead, tmp_path):
    load(engine, admin, tmp_path, [label("i2", a, category=SECURITY if a in "yz" else DEBUG) for a in "wxyz"])
    fields = {"decision": "keep", "category": DEBUG[0], "subcategory": DEBUG[1], "languages": ["python"],
              "difficulty": "easy"}
    with session_scope(engine) as session:
        seen_by_both = adjudicate.adjudication_view(session, actor=lead["lead1"], public_id="i2").final_revision
    with session_scope(engine) as session:
        adjudicate.resolve(session, actor=lead["lead1"], public_id="i2", fields=fields, rationale="first",
                           expected_revision=seen_by_both)
    with session_scope(engine) as session, pytest.raises(Conflict, match="resolved by another lead"):
        adjudicate.resolve(session, actor=lead["lead2"], public_id="i2", fields={**fields, "difficulty": "hard"},
                           rationale="second", expected_revision=seen_by_both)
    assert finals(engine)["i2"].rationale == "first" and finals(engine)["i2"].revision == 1
    with session_scope(engine) as session:  # with the current revision, the second lead may change it
        adjudicate.resolve(session, actor=lead["lead2"], public_id="i2", fields={**fields, "difficulty": "hard"},
                           rationale="second", expected_revision=1)
    assert (finals(engine)["i2"].difficulty, finals(engine)["i2"].revision) == ("hard", 2)


def test_two_leads_racing_on_a_new_final_label(engine, admin, lead, tmp_path):
    load(engine, admin, tmp_path, [label("i2", a, category=SECURITY if a in "yz" else DEBUG) for a in "wxyz"])
    fields = {"decision": "keep", "category": DEBUG[0], "subcategory": DEBUG[1], "languages": ["python"],
              "difficulty": "easy"}
    outcomes: list[str] = []
    barrier = threading.Barrier(2, timeout=60)

    def resolve_as(name: str) -> None:
        barrier.wait()
        try:
            with session_scope(engine) as session:
                adjudicate.resolve(session, actor=lead[name], public_id="i2", fields=fields, rationale=name,
                                   expected_revision=0)
            outcomes.append("saved")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=resolve_as, args=(n,)) for n in ("lead1", "lead2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a lead's thread hung"
    assert sorted(outcomes) == ["conflict", "saved"]
    assert finals(engine)["i2"].revision == 1


def test_reopen_keeps_the_old_decision_in_the_audit_log_and_send_back(engine, admin, lead, tmp_path):
    load(engine, admin, tmp_path, [label("i0", a) for a in "wxyz"])
    with session_scope(engine) as session:
        adjudicate.apply_rule(session, actor=lead["lead1"])
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="say why"):
        adjudicate.reopen(session, actor=lead["lead1"], public_id="i0", reason=" ")
    with session_scope(engine) as session:
        adjudicate.reopen(session, actor=lead["lead1"], public_id="i0", reason="wrong difficulty")
    assert "i0" not in finals(engine)
    with Session(engine) as session:
        record = session.exec(select(AuditLog).where(AuditLog.action == "final.reopen")).one()
    assert record.old["difficulty"] == "easy" and record.old["source"] == "unanimous"
    with session_scope(engine) as session:
        sent = adjudicate.send_back(session, actor=lead["lead1"], public_id="i0", annotators=["w"], reason="recheck")
    assert sent == ["w"]
    with Session(engine) as session:
        w = session.exec(select(User).where(User.name == "w")).one()
        annotation = session.exec(select(Annotation).where(Annotation.annotator_id == w.id)).one()
        assert annotation.state == "draft" and "recheck" in annotation.notes
    with session_scope(engine) as session:
        assert queue.next_item(session, actor=w).public_id == "i0"  # back in w's queue


def test_finalising_takes_the_item_out_of_the_pool(engine, admin, lead, tmp_path):
    with session_scope(engine) as session:
        configure.change_setting(session, actor=admin, key="overlap", value=5)
        queue.assign(session, actor=lead["lead1"], public_ids=["i0"])
    load(engine, admin, tmp_path, [label("i0", a) for a in "wxyz"])
    with session_scope(engine) as session:
        newcomer = auth.create_user(session, actor=admin, name="late", role="annotator", password="password1")
        adjudicate.apply_rule(session, actor=lead["lead1"])
    with session_scope(engine) as session:
        assert queue.next_item(session, actor=newcomer) is None
    with Session(engine) as session:
        assert session.exec(select(Query.pool_open).where(Query.public_id == "i0")).one() is False


def test_annotators_may_not_adjudicate(engine, admin, lead, tmp_path):
    load(engine, admin, tmp_path, [label("i0", a) for a in "wxyz"])
    with Session(engine) as session:
        w = session.exec(select(User).where(User.name == "w")).one()
    with session_scope(engine) as session:
        for call in (lambda: adjudicate.apply_rule(session, actor=w),
                     lambda: adjudicate.conflict_queue(session, actor=w),
                     lambda: adjudicate.adjudication_view(session, actor=w, public_id="i0"),
                     lambda: adjudicate.reopen(session, actor=w, public_id="i0", reason="x"),
                     lambda: adjudicate.resolve(session, actor=w, public_id="i0", fields={}, rationale="",
                                                expected_revision=0)):
            with pytest.raises(PermissionDenied):
                call()


def test_cli_adjudicate_auto_json(db_url, engine, admin, lead, tmp_path, cli):
    load(engine, admin, tmp_path, [label("i0", a) for a in "wxyz"] + [label("i1", a, difficulty="hard" if a == "z"
                                                                           else "easy") for a in "wxyz"])
    result = cli("adjudicate", "--auto", "--json")
    assert result.code == 0, result.err
    assert result.json() == {"finalised": 2, "unanimous": 1, "majority": 1, "to_adjudicate": 0, "to_review": 0}
