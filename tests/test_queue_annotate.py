"""Assignment with overlap, reservations, the next item, drafts, submit, edit, blindness."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import Session, func, select, update

from curation_app.core import annotate, auth, configure, labels, queue
from curation_app.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from curation_app.core.importer import import_answers, import_file
from curation_app.database import session_scope
from curation_app.models import Annotation, Assignment, AuditLog, FinalLabel, Query, User, utcnow
from tests.factories import make_team, write_jsonl

KEEP = {"decision": "keep", "category": "Development and Programming", "subcategory": "Code Debugging",
        "languages": ["python"], "difficulty": "medium", "reference_answer": "Use a set.", "notes": None}


@pytest.fixture
def project(engine, admin, tmp_path):
    """Ten queries and three annotators plus a lead; returns their users by name."""
    return make_team(engine, admin, tmp_path, queries=10)


def claims(engine) -> dict[str, int]:
    with Session(engine) as session:
        return dict(session.exec(select(Query.public_id, Query.n_claims)).all())


def next_for(engine, user):
    with session_scope(engine) as session:
        return queue.next_item(session, actor=user)


def submit(engine, user, public_id, fields=KEEP, **kwargs):
    with session_scope(engine) as session:
        return annotate.save(session, actor=user, public_id=public_id, fields=fields, submit=True, **kwargs)


def test_pool_gives_each_query_to_at_most_k_annotators(engine, project):
    with session_scope(engine) as session:
        result = queue.assign(session, actor=project["boss"])
    assert result == {"mode": "pool", "queries": 10, "opened": 10, "assigned": 0, "overlap": 2}
    got = {name: [] for name in ("ann1", "ann2", "ann3")}
    for _ in range(10):
        for name in got:
            item = next_for(engine, project[name])
            if item:
                got[name].append(item.public_id)
                submit(engine, project[name], item.public_id)
    assert sum(len(v) for v in got.values()) == 20  # 10 queries x overlap 2
    assert set(claims(engine).values()) == {2}
    for name, items in got.items():
        assert len(items) == len(set(items))
    assert next_for(engine, project["ann1"]) is None


def test_the_same_open_item_comes_back_until_submitted_or_skipped(engine, project):
    with session_scope(engine) as session:
        queue.assign(session, actor=project["boss"], public_ids=["q3", "q4"])
    first = next_for(engine, project["ann1"])
    assert first.public_id == "q3" and next_for(engine, project["ann1"]).public_id == "q3"
    with session_scope(engine) as session:
        queue.skip(session, actor=project["ann1"], query_id=first.query_id)
    assert next_for(engine, project["ann1"]).public_id == "q4"
    assert next_for(engine, project["ann2"]).public_id == "q3"  # the skipped slot went back
    assert claims(engine)["q3"] == 1


def test_named_assignment_balances_load_and_respects_overlap(engine, project):
    with session_scope(engine) as session:
        result = queue.assign(session, actor=project["boss"], annotators=["ann1", "ann2", "ann3"])
    assert result["assigned"] == 20 and sorted(result["per_annotator"].values()) == [6, 7, 7]
    with session_scope(engine) as session:
        again = queue.assign(session, actor=project["boss"], annotators=["ann1", "ann2", "ann3"])
    assert again["assigned"] == 0
    assert set(claims(engine).values()) == {2}
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="only 1 annotator"):
        configure.change_setting(session, actor=project["boss"], key="overlap", value=2)
        queue.assign(session, actor=project["boss"], annotators=["ann1"], public_ids=["q0"])


def test_expired_reservation_returns_to_the_pool_and_the_draft_is_kept(engine, project):
    with session_scope(engine) as session:
        configure.change_setting(session, actor=project["boss"], key="overlap", value=1)
        queue.assign(session, actor=project["boss"], public_ids=["q0"])
    item = next_for(engine, project["ann1"])
    with session_scope(engine) as session:
        annotate.save(session, actor=project["ann1"], public_id="q0", fields={"notes": "half done"}, submit=False)
    assert next_for(engine, project["ann2"]) is None  # q0's only slot is reserved by ann1
    with session_scope(engine) as session:
        session.execute(update(Assignment).values(reserved_until=utcnow() - timedelta(minutes=1)))
    taken = next_for(engine, project["ann2"])
    assert taken.public_id == "q0"  # the abandoned slot went back to the pool
    with session_scope(engine) as session:
        view = annotate.open_item(session, actor=project["ann1"], public_id=item.public_id)
    assert view.annotation["notes"] == "half done"  # ann1's typing is kept
    with pytest.raises(Conflict, match="your draft is kept, but it cannot be submitted"):
        submit(engine, project["ann1"], "q0")  # k = 1 and ann2 holds the only slot
    with session_scope(engine) as session:  # drafts can still be saved
        annotate.save(session, actor=project["ann1"], public_id="q0", fields={"notes": "more"}, submit=False)
    with session_scope(engine) as session:
        queue.skip(session, actor=project["ann2"], query_id=taken.query_id)
    submit(engine, project["ann1"], "q0")  # the slot is free again: the reservation is taken back
    assert claims(engine)["q0"] == 1
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Annotation).where(
            Annotation.state == "submitted")).one() == 1


def test_skipped_items_cannot_be_opened_or_submitted_again(engine, project):
    with session_scope(engine) as session:
        configure.change_setting(session, actor=project["boss"], key="overlap", value=1)
        queue.assign(session, actor=project["boss"], public_ids=["q0"])
    item = next_for(engine, project["ann1"])
    with session_scope(engine) as session:
        queue.skip(session, actor=project["ann1"], query_id=item.query_id)
    assert next_for(engine, project["ann2"]).public_id == "q0"
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="you skipped q0"):
        annotate.open_item(session, actor=project["ann1"], public_id="q0")
    with pytest.raises(InvalidInput, match="you skipped q0"):
        submit(engine, project["ann1"], "q0")
    submit(engine, project["ann2"], "q0")
    assert claims(engine)["q0"] == 1


def test_saving_keeps_the_reservation_alive(engine, project):
    with session_scope(engine) as session:
        queue.assign(session, actor=project["boss"], public_ids=["q0"])
    next_for(engine, project["ann1"])
    with session_scope(engine) as session:
        session.execute(update(Assignment).values(reserved_until=utcnow() + timedelta(seconds=5)))
    with session_scope(engine) as session:
        annotate.save(session, actor=project["ann1"], public_id="q0", fields={"notes": "typing"}, submit=False)
    with Session(engine) as session:
        until = session.exec(select(Assignment.reserved_until)).one()
    assert until > utcnow() + timedelta(minutes=25)


def test_drafts_submit_edit_idempotence_and_audit(engine, project):
    with session_scope(engine) as session:
        queue.assign(session, actor=project["boss"], public_ids=["q1"])
    next_for(engine, project["ann1"])
    with session_scope(engine) as session:
        draft = annotate.save(session, actor=project["ann1"], public_id="q1",
                              fields={"decision": "keep", "notes": "draft"}, submit=False, elapsed_s=12)
        assert draft.state == "draft" and draft.suggested_languages[0]["language"] == "python"
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="missing category, subcategory"):
        annotate.save(session, actor=project["ann1"], public_id="q1", fields={"decision": "keep"}, submit=True)
    done = submit(engine, project["ann1"], "q1", elapsed_s=30)
    assert done.state == "submitted" and done.time_on_task_s == 42 and done.guideline_version == "v1"
    again = submit(engine, project["ann1"], "q1")  # the same submission twice
    assert again.revision == done.revision
    edited = submit(engine, project["ann1"], "q1", fields={**KEEP, "difficulty": "hard"},
                    expected_revision=done.revision)
    assert edited.difficulty == "hard"
    with session_scope(engine) as session, pytest.raises(Conflict, match="changed elsewhere"):
        annotate.save(session, actor=project["ann1"], public_id="q1", fields=KEEP, submit=True,
                      expected_revision=done.revision)
    with Session(engine) as session:
        actions = [(a.action, (a.old or {}).get("difficulty"), a.new.get("difficulty")) for a in session.exec(
            select(AuditLog).where(AuditLog.entity == "annotation").order_by(AuditLog.id))]
    assert actions == [("annotation.submit", None, "medium"), ("annotation.edit", "medium", "hard")]
    with session_scope(engine) as session:
        session.add(FinalLabel(query_id=done.query_id, source="unanimous"))
    with session_scope(engine) as session, pytest.raises(Conflict, match="finalised by a lead"):
        annotate.save(session, actor=project["ann1"], public_id="q1", fields=KEEP, submit=True)
    with session_scope(engine) as session:
        listed = annotate.submitted_items(session, actor=project["ann1"])
    assert [(i["query"], i["editable"], i["first_line"]) for i in listed] == [
        ("q1", False, "Question 1: why is my python loop slow?")]


def test_the_first_line_is_the_users_first_words_shortened():
    long = "x" * 150
    assert annotate.first_line([{"role": "system", "content": "be brief"},
                                {"role": "user", "content": "\n\n  Why does this fail?\nmore"}]) == "Why does this fail?"
    assert annotate.first_line([{"role": "user", "content": long}]) == "x" * 99 + "…"
    assert annotate.first_line([{"role": "assistant", "content": "hi"}]) == ""


@pytest.mark.parametrize("fields, message", [
    ({"decision": "maybe"}, "decision 'maybe' is not in the taxonomy"),
    ({"decision": "reject"}, "missing reject reason"),
    ({**KEEP, "subcategory": "Cryptography"}, "belongs to 'Specialized Computing Areas'"),
    ({**KEEP, "difficulty": "extreme"}, "difficulty 'extreme' is not in the taxonomy"),
    ({**KEEP, "languages": []}, "missing programming language"),
    ({**KEEP, "colour": "red"}, "unknown field(s): colour"),
])
def test_submit_refuses_labels_outside_the_taxonomy(engine, project, fields, message):
    with session_scope(engine) as session:
        queue.assign(session, actor=project["boss"], public_ids=["q2"])
    next_for(engine, project["ann1"])
    with session_scope(engine) as session, pytest.raises(InvalidInput) as error:
        annotate.save(session, actor=project["ann1"], public_id="q2", fields=fields, submit=True)
    assert message in str(error.value)


def test_languages_come_from_the_vocabulary_and_an_admin_can_add_to_it(engine, project, admin):
    with session_scope(engine) as session:
        queue.assign(session, actor=project["boss"], public_ids=["q5", "q6"])
    next_for(engine, project["ann1"])
    with pytest.raises(InvalidInput, match="language 'zig' is not in the project's vocabulary"):
        submit(engine, project["ann1"], "q5", fields={**KEEP, "languages": ["python", " zig "]})
    with session_scope(engine) as session:  # nothing of the refused submission was kept
        assert session.exec(select(func.count()).select_from(Annotation)).one() == 0
    with session_scope(engine) as session:
        with pytest.raises(PermissionDenied):  # what an annotation may hold is the admin's
            configure.change_setting(session, actor=project["boss"], key="extra_languages", value=["zig"])
        configure.change_setting(session, actor=admin, key="extra_languages", value=["Zig"])
    kept = submit(engine, project["ann1"], "q5", fields={**KEEP, "languages": ["PYTHON", "zig", "golang", "python"]})
    assert kept.languages == ["python", "Zig", "go"]  # the vocabulary's spelling, each once


def test_a_save_merges_spellings_and_refuses_an_unknown_language(engine, project):
    with session_scope(engine) as session:
        queue.assign(session, actor=project["boss"], public_ids=["q5"])
    next_for(engine, project["ann1"])
    with pytest.raises(InvalidInput, match="^language 'Klingon' is not in the project's vocabulary"):
        submit(engine, project["ann1"], "q5", fields={**KEEP, "languages": ["RUST", "Klingon"]})
    with session_scope(engine) as session:  # a draft is checked too
        with pytest.raises(InvalidInput, match="^language 'Klingon'"):
            annotate.save(session, actor=project["ann1"], public_id="q5", fields={"languages": ["Klingon"]},
                          submit=False)
    kept = submit(engine, project["ann1"], "q5", fields={**KEEP, "languages": ["RUST", "Rust", "C++", "cpp"]})
    assert kept.languages == ["rust", "c++"]


def test_an_added_language_may_not_be_another_spelling_of_one_the_vocabulary_has(engine, admin):
    with session_scope(engine) as session:
        for name, known in (("golang", "go"), ("RUST", "rust"), ("Python 3", "python")):
            with pytest.raises(InvalidInput, match=f"extra_languages: {name!r} is already in the vocabulary as {known!r}"):
                configure.change_setting(session, actor=admin, key="extra_languages", value=["zig", name])
        with pytest.raises(InvalidInput, match="names a language twice"):  # names compare without case or spaces
            configure.change_setting(session, actor=admin, key="extra_languages", value=["Objective C", "objectivec"])
        configure.change_setting(session, actor=admin, key="extra_languages", value=["zig"])


def test_rejecting_clears_what_a_rejected_item_never_carries_and_keeps_it_on_record(engine, project):
    with session_scope(engine) as session:
        queue.assign(session, actor=project["boss"], public_ids=["q6"])
    next_for(engine, project["ann1"])
    with session_scope(engine) as session:
        annotate.save(session, actor=project["ann1"], public_id="q6", fields=KEEP, submit=False)
    rejected = submit(engine, project["ann1"], "q6", fields={"decision": "reject", "reject_reason": "too trivial"})
    assert (rejected.decision, rejected.difficulty, rejected.reference_answer) == ("reject", None, None)
    assert rejected.category == KEEP["category"]  # the guidelines allow an obvious category
    with Session(engine) as session:
        (record,) = session.exec(select(AuditLog).where(AuditLog.action == "annotation.clear_on_reject")).all()
    assert record.old == {"difficulty": "medium", "reference_answer": "Use a set."}


def test_a_missing_reference_answer_is_refused_only_where_the_project_requires_one(engine, project, admin):
    with session_scope(engine) as session:
        queue.assign(session, actor=project["boss"], public_ids=["q8", "q9"])
    no_answer = {**KEEP, "reference_answer": None}
    next_for(engine, project["ann1"])
    assert submit(engine, project["ann1"], "q8", fields=no_answer).state == "submitted"
    assert labels.submission_warnings(no_answer | {"reject_reason": None}) != []
    with session_scope(engine) as session:
        configure.change_setting(session, actor=project["boss"], key="require_reference_answer", value=True)
    next_for(engine, project["ann1"])
    with pytest.raises(InvalidInput, match="missing reference answer"):
        submit(engine, project["ann1"], "q9", fields=no_answer)


def test_an_item_shows_every_baseline_and_starts_from_the_first(engine, project, admin, tmp_path):
    rows = [{"id": "b-1", "messages": [{"role": "user", "content": "How do I flatten a nested list in Python?"}],
             "gpt-4-turbo-2024-04-09_response": "Use itertools.chain."}]
    import_file(write_jsonl(tmp_path / "codearena.jsonl", rows), actor=admin, engine=engine)
    import_answers(write_jsonl(tmp_path / "gpt-4-0314_answers.jsonl", [{"id": "b-1", "answer": "A comprehension."}]),
                   actor=admin, engine=engine)
    with session_scope(engine) as session:
        queue.assign(session, actor=project["boss"], annotators=["ann1", "ann3"], public_ids=["b-1"])
    with session_scope(engine) as session:
        view = annotate.open_item(session, actor=project["ann1"], public_id="b-1")
        first = annotate.baseline_answer(session, actor=project["ann1"], public_id="b-1")
        chosen = annotate.baseline_answer(session, actor=project["ann1"], public_id="b-1", model="gpt-4-0314")
        with pytest.raises(NotFound, match="no baseline answer from 'gpt-5'"):
            annotate.baseline_answer(session, actor=project["ann1"], public_id="b-1", model="gpt-5")
        with pytest.raises(PermissionDenied, match="not assigned to ann2"):
            annotate.baseline_answer(session, actor=project["ann2"], public_id="b-1")
    assert view.baselines == [{"model": "gpt-4-turbo-2024-04-09", "answer": "Use itertools.chain."},
                              {"model": "gpt-4-0314", "answer": "A comprehension."}]
    assert (view.baseline_model, view.baseline_answer) == ("gpt-4-turbo-2024-04-09", "Use itertools.chain.")
    assert (first, chosen) == ("Use itertools.chain.", "A comprehension.")


def test_roles_are_enforced_in_core_and_annotators_are_blind(engine, project):
    with session_scope(engine) as session:
        queue.assign(session, actor=project["boss"], annotators=["ann1", "ann2"], public_ids=["q7"])
    with session_scope(engine) as session:
        with pytest.raises(PermissionDenied):
            queue.assign(session, actor=project["ann1"])
        with pytest.raises(PermissionDenied):
            queue.next_item(session, actor=project["boss"])
        with pytest.raises(PermissionDenied, match="not assigned to ann3"):
            annotate.open_item(session, actor=project["ann3"], public_id="q7")
    next_for(engine, project["ann1"])
    submit(engine, project["ann1"], "q7", fields={**KEEP, "notes": "ann1's secret note"})
    next_for(engine, project["ann2"])
    with session_scope(engine) as session:
        view = annotate.open_item(session, actor=project["ann2"], public_id="q7")
    assert view.annotation == {} and view.state is None
    assert "ann1's secret note" not in repr(view)

    # Nothing an annotator can call hands them another annotator's labels for the item.
    with session_scope(engine) as session:
        seen = [queue.next_item(session, actor=project["ann2"]), queue.queue_status(session, annotator=project["ann2"]),
                annotate.submitted_items(session, actor=project["ann2"])]
    seen.append(submit(engine, project["ann2"], "q7", fields={**KEEP, "notes": "ann2's own note"}))
    with session_scope(engine) as session:
        seen += [annotate.submitted_items(session, actor=project["ann2"]),
                 annotate.open_item(session, actor=project["ann2"], public_id="q7")]
    assert all("ann1's secret note" not in repr(result) for result in seen)
    assert "ann2's own note" in repr(seen[-1])


def test_twenty_annotators_racing_for_slots_never_exceed_k(engine, project, admin):
    with session_scope(engine) as session:
        for i in range(20):
            auth.create_user(session, actor=admin, name=f"racer{i}", role="annotator", password="password1")
        queue.assign(session, actor=project["boss"])
    with Session(engine) as session:
        racers = list(session.exec(select(User).where(User.name.startswith("racer"))))
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(racers), timeout=60)

    def work(user: User) -> None:
        try:
            barrier.wait()
            while (item := next_for(engine, user)) is not None:
                submit(engine, user, item.public_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(u,)) for u in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "an annotator thread hung"
    assert errors == []
    assert set(claims(engine).values()) == {2}
    with Session(engine) as session:
        per_query = session.exec(select(Annotation.query_id, func.count()).where(
            Annotation.state == "submitted").group_by(Annotation.query_id)).all()
    assert len(per_query) == 10 and {n for _, n in per_query} == {2}


def test_cli_assign_to_the_pool_and_to_named_annotators(db_url, engine, project, cli):
    pooled = cli("assign", "--ids", "q0", "q1", "--json")
    assert pooled.code == 0, pooled.err
    assert pooled.json()["mode"] == "pool" and pooled.json()["opened"] == 2
    named = cli("assign", "--annotators", "ann1,ann2", "--overlap", "2", "--json").json()
    assert named["mode"] == "named" and named["assigned"] == 20  # opening to the pool claims no slot
    unknown = cli("assign", "--annotators", "nobody")
    assert unknown.code == 1 and "no active annotator named nobody" in unknown.err
    text = cli("assign", "--source", "q")
    assert text.code == 0 and "queries opened to every annotator" in text.out


def test_a_save_that_waits_too_long_on_another_sqlite_writer_is_refused_cleanly_and_can_be_retried(
        sqlite_db, admin, tmp_path, monkeypatch):
    import sqlite3

    from sqlalchemy.engine import make_url

    from curation_app import database
    from curation_app.core.errors import Busy

    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 300)  # not 30 s: the test waits it out
    engine = database.make_engine(sqlite_db)
    import_file(write_jsonl(tmp_path / "q.jsonl", [{"id": "q0", "prompt": "Why is my loop slow?"}]),
                actor=admin, engine=engine)
    with session_scope(engine) as session:
        annotator = auth.create_user(session, actor=admin, name="ann1", role="annotator", password="password1")
        queue.assign(session, actor=admin)
    item = next_for(engine, annotator)

    blocker = sqlite3.connect(make_url(sqlite_db).database)  # another process's long write, e.g. an import
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Busy, match="busy with another long change .* nothing was saved"):
            submit(engine, annotator, item.public_id)
    finally:
        blocker.rollback()
        blocker.close()
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Annotation)).one() == 0  # nothing half-written
    assert submit(engine, annotator, item.public_id).state == "submitted"  # the same save, once the lock is gone
    engine.dispose()
