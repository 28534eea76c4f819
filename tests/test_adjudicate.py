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


def test_a_final_label_holds_vocabulary_languages_only(engine, admin, lead, tmp_path):
    load(engine, admin, tmp_path, [label("i2", a, category=SECURITY if a in "yz" else DEBUG) for a in "wxyz"])
    chosen = {"decision": "keep", "category": DEBUG[0], "subcategory": DEBUG[1], "difficulty": "easy",
              "reference_answer": "Merged answer."}
    with session_scope(engine) as session:
        with pytest.raises(InvalidInput, match="language 'Klingon' is not in the project's vocabulary"):
            adjudicate.resolve(session, actor=lead["lead1"], public_id="i2", fields={**chosen, "languages": ["Klingon"]},
                               rationale=None, expected_revision=0)
    assert finals(engine) == {}
    with session_scope(engine) as session:
        adjudicate.resolve(session, actor=lead["lead1"], public_id="i2",
                           fields={**chosen, "languages": ["PYTHON", "Python 3", "RUST"]}, rationale=None,
                           expected_revision=0)
    assert finals(engine)["i2"].languages == ["python", "rust"]


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


def test_split_decisions_come_first_closest_split_first(engine, admin, lead, tmp_path):
    with session_scope(engine) as session:
        configure.change_setting(session, actor=admin, key="keep_quorum", value=4)
    reject = {"decision": "reject", "reject_reason": "too trivial"}
    rows = ([label("i0", a, category=SECURITY if a == "z" else DEBUG) for a in "wxyz"]      # a category conflict
            + [label("i1", a, **(reject if a == "z" else {})) for a in "wxyz"]               # keep 3 : 1
            + [label("i2", a, **(reject if a in "yz" else {})) for a in "wxyz"])             # keep 2 : 2
    load(engine, admin, tmp_path, rows)
    with session_scope(engine) as session:
        queued = adjudicate.conflict_queue(session, actor=lead["lead1"])
        # The category conflict has the lowest agreement score, but a split decision is more in doubt.
        assert queued[0].agreement > queued[2].agreement
        assert [i.public_id for i in queued] == ["i2", "i1", "i0"]
        split = queued[0]
        assert (split.conflicts, split.if_rejected) == (["decision"], ["reject_reason"])
        assert split.if_kept == ["category", "subcategory", "languages", "difficulty"]
        assert split.decision_votes == {"keep": 2, "reject": 2}
        assert split.conflict_text() == ("decision; if kept: category, subcategory, languages, difficulty; "
                                         "if rejected: reject_reason")
        assert [i.public_id for i in adjudicate.conflict_queue(session, actor=lead["lead1"],
                                                                 field="reject_reason")] == ["i2", "i1"]


def test_keepers_texts_go_to_kept_items_and_none_to_rejected_ones(engine, admin, lead, tmp_path):
    rows = ([{**label("i0", a), "rewritten_prompt": "Fix this loop." if a != "z" else "Other words."} for a in "wxyz"]
            + [{**label("i1", a, decision="reject", reject_reason="too trivial"), "rewritten_prompt": "Short."}
               for a in "wxy"] + [label("i1", "z")])
    load(engine, admin, tmp_path, rows)
    with session_scope(engine) as session:
        assert adjudicate.apply_rule(session, actor=lead["lead1"])["finalised"] == 2
    final = finals(engine)
    assert final["i0"].rewritten_prompt == "Fix this loop." and final["i0"].field_sources["rewritten_prompt"]["by"] == "w"
    assert (final["i1"].decision, final["i1"].reference_answer, final["i1"].rewritten_prompt) == ("reject", None, None)
    assert set(final["i1"].field_sources) == {"decision", "reject_reason"}


def test_resolving_a_split_as_kept_records_no_reject_reason_and_keeps_the_rewrite(engine, admin, lead, tmp_path):
    reject = {"decision": "reject", "reject_reason": "too trivial"}
    rows = [{**label("i2", a, **(reject if a in "yz" else {})), "rewritten_prompt": "" if a in "yz" else "Clean."}
            for a in "wxyz"]
    load(engine, admin, tmp_path, rows)
    with session_scope(engine) as session:
        view = adjudicate.adjudication_view(session, actor=lead["lead1"], public_id="i2")
        assert view.proposal["decision"] is None and view.proposal["rewritten_prompt"] == "Clean."
        with pytest.raises(InvalidInput, match="do not settle the decision .keep x2, reject x2.; choose one"):
            adjudicate.resolve_as_proposed(session, actor=lead["lead1"], public_id="i2", changes={}, rationale=None)
        adjudicate.resolve_as_proposed(session, actor=lead["lead1"], public_id="i2", changes={"decision": "keep"},
                                       rationale="a real bug report")
    final = finals(engine)["i2"]
    assert (final.decision, final.category, final.rewritten_prompt) == ("keep", DEBUG[0], "Clean.")
    assert "reject_reason" not in final.field_sources
    assert final.field_sources["decision"] == {"source": "adjudicated", "by": "lead1", "votes": "2/4"}
    assert final.field_sources["rewritten_prompt"] == {"source": "annotator", "by": "w", "votes": None}
    with session_scope(engine) as session:  # editing the final label: the rest stays as saved
        adjudicate.resolve_as_proposed(session, actor=lead["lead1"], public_id="i2",
                                       changes={"difficulty": "hard"}, rationale="harder than it looks")
        with pytest.raises(InvalidInput, match="unknown field.s. colour"):
            adjudicate.resolve_as_proposed(session, actor=lead["lead1"], public_id="i2", changes={"colour": "red"},
                                           rationale=None)
    final = finals(engine)["i2"]
    assert (final.difficulty, final.rewritten_prompt, final.revision) == ("hard", "Clean.", 2)
    with session_scope(engine) as session:  # turned into a reject, the keepers' fields go
        adjudicate.resolve_as_proposed(session, actor=lead["lead1"], public_id="i2", changes={"decision": "reject"},
                                       rationale="trivial after all")
    final = finals(engine)["i2"]
    assert (final.reject_reason, final.category, final.rewritten_prompt) == ("too trivial", None, None)
    assert set(final.field_sources) == {"decision", "reject_reason"}


def test_cli_lead_decisions_resolve_reopen_and_send_back(db_url, engine, admin, lead, tmp_path, cli):
    reject = {"decision": "reject", "reject_reason": "too trivial"}
    load(engine, admin, tmp_path, [{**label("i2", a, **(reject if a in "yz" else {})),
                                    "rewritten_prompt": "" if a in "yz" else "Clean."} for a in "wxyz"])
    listed = cli("adjudicate", "--json").json()["to_adjudicate"]
    assert [(i["id"], i["conflicts"], i["if_rejected"], i["decision_votes"]) for i in listed] == [
        ("i2", ["decision"], ["reject_reason"], {"keep": 2, "reject": 2})]
    undecided = cli("adjudicate", "resolve", "i2", "--rationale", "no decision given")
    assert undecided.code == 1 and undecided.err.startswith("error: i2: the annotators do not settle the decision")
    assert "give FIELD=VALUE" in cli("adjudicate", "resolve", "i2", "--set", "decision").err
    assert "unknown field(s) colour" in cli("adjudicate", "resolve", "i2", "--set", "colour=red").err
    assert "no query with id 'nope'" in cli("adjudicate", "resolve", "nope", "--set", "decision=keep").err
    assert "i2" not in finals(engine)  # nothing was written by the refusals
    saved = cli("adjudicate", "resolve", "i2", "--set", "decision=keep", "--set", "languages=python|sql",
                "--rationale", "a real bug report", "--confidence", "medium", "--json")
    assert saved.code == 0, saved.err
    result = saved.json()
    assert (result["decision"], result["languages"], result["rewritten_prompt"]) == ("keep", ["python", "sql"], "Clean.")
    assert result["label_source"] == "adjudicated" and result["revision"] == 1
    assert "reject_reason" not in result["field_sources"]
    final = finals(engine)["i2"]
    assert (final.category, final.difficulty, final.confidence) == (DEBUG[0], "easy", "medium")
    stale = cli("adjudicate", "resolve", "i2", "--set", "difficulty=hard", "--revision", "0")
    assert stale.code == 1 and "resolved by another lead" in stale.err
    edited = cli("adjudicate", "resolve", "i2", "--set", "difficulty=hard", "--revision", "1")
    assert edited.code == 0 and edited.out.strip() == "i2: final label saved (keep, adjudicated), revision 2"
    assert (finals(engine)["i2"].difficulty, finals(engine)["i2"].languages) == ("hard", ["python", "sql"])
    with pytest.raises(SystemExit):  # --reason is required
        cli("adjudicate", "reopen", "i2")
    reopened = cli("adjudicate", "reopen", "i2", "--reason", "second look", "--json")
    assert reopened.code == 0 and reopened.json() == {"id": "i2", "reopened": True}
    assert "i2" not in finals(engine)
    again = cli("adjudicate", "reopen", "i2", "--reason", "again")
    assert again.code == 1 and "i2 has no final label to reopen" in again.err
    assert "q did not annotate i2" in cli("adjudicate", "send-back", "i2", "--reason", "r", "--to", "q").err
    sent = cli("adjudicate", "send-back", "i2", "--reason", "is it trivial?", "--to", "y", "--to", "z")
    assert sent.code == 0 and sent.out.strip() == "i2 sent back to y, z"
    with Session(engine) as session:
        states = dict(session.exec(select(User.name, Annotation.state).join(
            Annotation, Annotation.annotator_id == User.id)).all())
    assert states == {"w": "submitted", "x": "submitted", "y": "draft", "z": "draft"}
    with Session(engine) as session:
        actions = [r.action for r in session.exec(select(AuditLog).where(AuditLog.action.like("final.%"))
                                                  .order_by(AuditLog.id))]
    assert actions == ["final.resolve", "final.resolve", "final.reopen", "final.send_back"]


def test_cli_finals_export_csv_and_jsonl(db_url, engine, admin, lead, tmp_path, cli):
    import csv
    import json

    reject = {"decision": "reject", "reject_reason": "too trivial"}
    load(engine, admin, tmp_path, [label("i0", a) for a in "wxyz"]
         + [label("i1", a, **(reject if a != "w" else {})) for a in "wxyz"]
         + [label("i2", a, **(reject if a in "yz" else {})) for a in "wxyz"])
    assert cli("adjudicate", "--auto").code == 0
    assert cli("adjudicate", "resolve", "i2", "--set", "decision=keep", "--rationale", "kept").code == 0
    exported = cli("finals", "export", tmp_path / "finals.csv", "--json")
    assert exported.code == 0, exported.err
    assert exported.json() == {"file": str(tmp_path / "finals.csv"), "rows": 3}
    with open(tmp_path / "finals.csv", newline="", encoding="utf-8") as handle:
        rows = {row["id"]: row for row in csv.DictReader(handle)}
    assert list(rows) == ["i0", "i1", "i2"] and "votes" not in rows["i0"]
    assert (rows["i0"]["label_source"], rows["i0"]["n_annotations"], rows["i0"]["languages"]) == (
        "unanimous", "4", "python")
    assert json.loads(rows["i0"]["field_sources"])["decision"] == {"source": "unanimous", "by": None, "votes": "4/4"}
    assert (rows["i1"]["decision"], rows["i1"]["reject_reason"], rows["i1"]["category"]) == (
        "reject", "too trivial", "")
    assert (rows["i2"]["label_source"], rows["i2"]["decided_by"], rows["i2"]["rationale"]) == (
        "adjudicated", "", "kept")  # the command line is no user of the database
    assert json.loads(rows["i2"]["field_sources"])["decision"]["by"] == "(command line)"
    assert cli("finals", "export", tmp_path / "finals.jsonl").out.strip() == (
        f"3 final labels written to {tmp_path / 'finals.jsonl'}")
    lines = [json.loads(line) for line in (tmp_path / "finals.jsonl").read_text(encoding="utf-8").splitlines()]
    by_id = {line["id"]: line for line in lines}
    assert by_id["i0"]["languages"] == ["python"] and by_id["i2"]["n_annotations"] == 4
    assert set(by_id["i1"]["field_sources"]) == {"decision", "reject_reason"}
    assert "reject_reason" not in by_id["i2"]["field_sources"]
    refused = cli("finals", "export", tmp_path / "finals.txt")
    assert refused.code == 1 and "give a .csv or .jsonl file name" in refused.err
    assert not (tmp_path / "finals.txt").exists() and not (tmp_path / "finals.txt.partial").exists()


def test_the_next_conflict_is_the_one_after_the_open_item_or_the_one_that_took_its_place():
    from curation_app.core.adjudicate import next_conflict

    queue_ids = ["a", "b", "c"]
    assert next_conflict(queue_ids, current="a", position=0) == "b"  # still open: the one after it
    assert next_conflict(queue_ids, current="c", position=2) == "a"  # the last one: back to the top
    assert next_conflict(["a", "c"], current="b", position=1) == "c"  # resolved: the one now in its place
    assert next_conflict(["a"], current="c", position=2) == "a"  # it was last: the new last one
    assert next_conflict(queue_ids, current=None, position=0) == "a"
    assert next_conflict(["a"], current="a", position=0) is None and next_conflict([], current="a", position=0) is None
