"""The coding-query detector: clear and hard cases, the bulk scoring step of triage on SQLite and
PostgreSQL, the model that takes over once the final labels have enough of each class, the filter
(and `assign --coding-only`), the triage page, and precision and recall on hand-labelled Arena-Hard
queries (tests/data/coding_labels.csv, which holds ids and labels only)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, update
from sqlmodel import Session

from curation_app.core import adjudicate, annotation_io, auth, configure, queue, settings
from curation_app.core.errors import PermissionDenied
from curation_app.core.importer import import_file
from curation_app.core.triage import coding_queries
from curation_app.core.triage import database as triage_db
from curation_app.database import session_scope
from curation_app.models import AuditLog, Query
from tests.apptest import open_page
from tests.conftest import REPO_ROOT, shared_file
from tests.factories import label, write_csv, write_jsonl

LABELS = REPO_ROOT / "tests" / "data" / "coding_labels.csv"

TRACEBACK = ('Traceback (most recent call last):\n  File "app.py", line 12, in <module>\n    main()\n'
             '  File "app.py", line 8, in main\n    total = sum(values) / len(values)\n'
             'ZeroDivisionError: division by zero')
JAVA_TRACE = ('Exception in thread "main" java.lang.NullPointerException\n'
              '\tat com.example.App.run(App.java:27)\n\tat com.example.App.main(App.java:12)')
CODING = {
    "fenced": "Why does this print None?\n```python\ndef f(x):\n    print(x)\n\nprint(f(3))\n```",
    "function": "Write a Python function that returns the n-th Fibonacci number.",
    "unfenced C": ("#include <stdio.h>\nint main(void) {\n    int i;\n"
                   "    for (i = 0; i < 10; i++) printf(\"%d\\n\", i);\n    return 0;\n}"),
    "git": "How do I undo a git commit that I haven't pushed yet?",
    "sql": "SELECT name, COUNT(*) FROM orders GROUP BY name HAVING COUNT(*) > 5 -- why is this slow on a big table?",
    "exercise": "Given an array of integers nums and an integer target, return the indices of the two numbers "
                "that add up to target.",
}
NOT_CODING = {
    "poem": "Write a short poem about autumn leaves for my grandmother.",
    "capital": "What is the capital of France?",
    "recipe": "Give me a recipe for banana bread without eggs.",
    "history": "Explain the causes of the French revolution in five bullet points.",
    "email": "Write a polite email to my landlord asking to fix the heating.",
    "maths": "Prove that $\\sum_{k=1}^n k = \\frac{n(n+1)}{2}$ by induction.",
}


@pytest.mark.parametrize("name", CODING)
def test_clear_coding_queries_score_high(name):
    assert coding_queries.rule_score(CODING[name]) >= 0.75


@pytest.mark.parametrize("name", NOT_CODING)
def test_clear_other_queries_score_low(name):
    assert coding_queries.rule_score(NOT_CODING[name]) < 0.25


@pytest.mark.parametrize("text", [
    "I'm a junior developer. Should I learn Python or JavaScript to get a better salary and career?",
    "What programming language should I learn first if I want a career in software engineering?",
    "Write a movie script about a robot who falls in love with a lighthouse keeper.",
    "There is a bug in my kitchen, a small black beetle. Is it dangerous?",
])
def test_talk_about_programming_or_words_code_uses_are_not_coding_queries(text):
    assert coding_queries.rule_score(text) < 0.5


@pytest.mark.parametrize("trace", [TRACEBACK, JAVA_TRACE])
def test_a_stack_trace_with_no_question_is_a_coding_query(trace):
    assert coding_queries.rule_score(trace) >= 0.9


def test_only_the_head_and_tail_of_a_long_query_are_read():
    prose = "We walked along the river and talked about the weather and our plans for the summer. " * 200
    # the code sits in the middle of a long text: outside what the rules read
    hidden = prose + CODING["fenced"] + prose
    assert len(hidden) > 3 * coding_queries.MAX_CHARS
    assert coding_queries.rule_score(hidden) < 0.5
    assert coding_queries.rule_score(prose + TRACEBACK) >= 0.9  # the tail is read: a trace pasted last


def test_the_language_detector_decides_where_the_other_cues_leave_doubt():
    snippet = "x := <-results\nfmt.Println(x)"  # Go, in two short lines with no other cue
    matrix = coding_queries.feature_matrix([snippet])
    before = coding_queries._BIAS + matrix @ coding_queries._WEIGHTS
    assert coding_queries._DOUBT[0] < before[0] < coding_queries._DOUBT[1]
    assert coding_queries.language_confidence(snippet) >= 0.6  # a distinctive cue: fmt.Println(
    assert coding_queries.rule_logits([snippet])[0] > before[0] + 1
    assert coding_queries.language_confidence("Tell me about the weather in Paris.") == 0.0


def test_scores_are_between_0_and_1_and_an_empty_batch_is_empty():
    texts = [*CODING.values(), *NOT_CODING.values(), "", " ", "```", "{" * 5000]
    scores = coding_queries.rule_scores(texts)
    assert scores.shape == (len(texts),) and ((scores >= 0) & (scores <= 1)).all()
    assert coding_queries.rule_scores([]).shape == (0,)


def test_the_filter_refuses_a_threshold_outside_0_to_1():
    for wrong in (-0.1, 1.5, "0.5", True, None):
        with pytest.raises(ValueError, match="from 0 to 1"):
            coding_queries.coding_filter(wrong)


# --- the bulk step on the database -----------------------------------------------------------

QUERIES = [{"id": f"c{i}", "prompt": text} for i, text in enumerate(CODING.values())] + \
          [{"id": f"n{i}", "prompt": text} for i, text in enumerate(NOT_CODING.values())]


def _import(engine, admin, folder: Path, rows=QUERIES, name="q.jsonl") -> None:
    import_file(write_jsonl(folder / name, rows), actor=admin, engine=engine)


def _users(engine, admin, *names: str) -> dict:
    with session_scope(engine) as session:
        for name in names:
            auth.create_user(session, actor=admin, name=name, role="annotator", password="password1")
    with Session(engine) as session:
        return {name: auth.get_user(session, name) for name in names}


def _scores(engine) -> dict[str, float | None]:
    with Session(engine) as session:
        return dict(session.execute(select(Query.public_id, Query.coding_score)).all())


def test_triage_scores_every_query_in_bulk_and_then_only_new_ones(engine, admin, tmp_path, cli):
    _import(engine, admin, tmp_path)
    result = cli("triage", "--json")
    assert result.code == 0, result.err
    coding = result.json()["coding"]
    assert coding | {"scored": 12, "rescored_all": True, "scorer": "rules", "threshold": 0.5, "scored_total": 12,
                     "coding": 6, "not_coding": 6, "not_scored": 0} == coding
    stored = _scores(engine)
    assert all(stored[f"c{i}"] >= 0.5 for i in range(6)) and all(stored[f"n{i}"] < 0.5 for i in range(6))
    assert all(round(score, 3) == score for score in stored.values())  # stored rounded to 3 decimals

    # Nothing new, same scorer: nothing is written again.
    again = cli("triage", "--coding", "--json").json()["coding"]
    assert again["scored"] == 0 and not again["rescored_all"] and again["scored_total"] == 12
    # A query without a score (an import with --no-triage) is scored by the next run, alone.
    _import(engine, admin, tmp_path, [{"id": "late", "prompt": TRACEBACK}], "late.jsonl")
    assert _scores(engine)["late"] is None
    text = cli("triage", "--coding")
    assert text.code == 0, text.err
    assert "coding score: 1 quer(y/ies) scored by the rules" in text.out and "7 of 13 at or above 0.5" in text.out
    assert _scores(engine)["late"] >= 0.9
    # --rescore writes every score again.
    assert cli("triage", "--coding", "--rescore", "--json").json()["coding"]["scored"] == 13
    with Session(engine) as session:
        records = session.execute(select(AuditLog.new).where(AuditLog.action == "triage.coding_score")
                                  .order_by(AuditLog.id)).scalars().all()
    assert [r["scored"] for r in records] == [12, 0, 1, 13]
    assert {r["fingerprint"] for r in records} == {coding_queries.RULES_VERSION}


def test_the_coding_step_refuses_the_other_checks_options_and_annotators(engine, admin, tmp_path, cli):
    _import(engine, admin, tmp_path)
    refused = cli("triage", "--coding", "--ngram", "8")
    assert refused.code != 0 and "--coding runs the coding score alone" in refused.err
    annotator = _users(engine, admin, "ann1")["ann1"]
    with session_scope(engine) as session, pytest.raises(PermissionDenied):
        triage_db.score_coding_queries(session, actor=annotator)


def test_many_queries_are_written_with_few_statements(engine, admin, tmp_path):
    texts = [*CODING.values(), *NOT_CODING.values()]
    rows = [{"id": f"m{i}", "prompt": f"{texts[i % len(texts)]} (case {i})"} for i in range(2500)]
    _import(engine, admin, tmp_path, rows)
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.lstrip().upper().startswith("UPDATE QUERY"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with session_scope(engine) as session:
            report = triage_db.score_coding_queries(session, actor=admin)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert report["scored"] == 2500 and report["not_scored"] == 0
    assert len(statements) <= len(set(_scores(engine).values())) + 2500 // triage_db.UPDATE_IDS + 1
    assert len(statements) < 100  # twelve texts, a few distinct scores: not one statement a query


def test_the_first_user_turn_is_scored_even_after_a_system_message(engine, admin, tmp_path, cli):
    rows = [{"id": "sys", "messages": [{"role": "system", "content": "You are a helpful assistant."},
                                       {"role": "user", "content": TRACEBACK},
                                       {"role": "assistant", "content": "Check len(values) first."},
                                       {"role": "user", "content": "Write a poem about it instead."}]},
            {"id": "plain", "messages": [{"role": "user", "content": NOT_CODING["recipe"]}]}]
    _import(engine, admin, tmp_path, rows)
    assert cli("triage", "--coding").code == 0
    stored = _scores(engine)
    assert stored["sys"] >= 0.9 and stored["plain"] < 0.25
    assert coding_queries.first_user_turn(rows[0]["messages"]) == TRACEBACK


def test_scores_come_in_chunks_with_running_totals():
    texts = [*CODING.values(), *NOT_CODING.values()] * 300
    scorer = coding_queries.CodingScorer(None)
    seen: list[int] = []
    assert (coding_queries.score_in_chunks(scorer, texts, seen.append) == scorer.scores(texts)).all()
    assert seen == list(range(coding_queries.CHUNK, len(texts), coding_queries.CHUNK)) + [len(texts)]


# --- the model learnt from final labels -----------------------------------------------------

BAKING = ["sourdough starter", "proofing basket", "oven spring", "crumb structure", "rye flour", "levain"]


def _labelled_project(engine, admin, folder: Path, *, n_coding: int, n_not: int) -> None:
    """A project whose final labels call questions about bread coding queries (its benchmark is
    about bakery software, say) and poems not: the rules disagree on the first."""
    rng = random.Random(3)
    rows, labels = [], []
    for i in range(n_coding):
        text = f"Question {i}: my {rng.choice(BAKING)} and {rng.choice(BAKING)} keep failing, what should I change?"
        rows.append({"id": f"bread{i}", "prompt": text})
        reason = "duplicate" if i % 10 == 0 else ""  # rejected as a duplicate: still a coding query
        labels += [label(f"bread{i}", who, decision="reject" if reason else "keep", reject_reason=reason)
                   for who in ("ann_a", "ann_b")]
    for i in range(n_not):
        subject = f"{rng.choice(['rain', 'snow', 'sea'])} and {rng.choice(['love', 'time', 'home'])}"
        rows.append({"id": f"poem{i}", "prompt": f"Poem {i}: write a few lines about {subject}."})
        labels += [label(f"poem{i}", who, decision="reject", reject_reason=coding_queries.NOT_CODING_REASON)
                   for who in ("ann_a", "ann_b")]
    rows.append({"id": "unlabelled-bread", "prompt": "Why does my levain smell sour and the oven spring stay flat?"})
    import_file(write_jsonl(folder / "labelled.jsonl", rows), actor=admin, engine=engine)
    annotation_io.import_annotations(write_csv(folder / "labels.csv", labels), actor=admin, engine=engine)
    with session_scope(engine) as session:
        adjudicate.apply_rule(session, actor=admin)


def test_the_model_takes_over_with_enough_final_labels_of_each_class_and_rescores(engine, admin, tmp_path, cli):
    _labelled_project(engine, admin, tmp_path, n_coding=60, n_not=49)
    first = cli("triage", "--coding", "--json").json()["coding"]
    assert first["scorer"] == "rules" and (first["positives"], first["negatives"]) == (60, 49)
    rules_score = _scores(engine)["unlabelled-bread"]
    assert rules_score < 0.5  # the rules know nothing of bakery software

    one_more = [{"id": "poem49", "prompt": "Poem 49: write a few lines about the moon."}]
    import_file(write_jsonl(tmp_path / "more.jsonl", one_more), actor=admin, engine=engine)
    annotation_io.import_annotations(write_csv(tmp_path / "more.csv", [
        label("poem49", who, decision="reject", reject_reason=coding_queries.NOT_CODING_REASON)
        for who in ("ann_a", "ann_b")]), actor=admin, engine=engine)
    with session_scope(engine) as session:
        adjudicate.apply_rule(session, actor=admin)
    second = cli("triage", "--coding", "--json").json()["coding"]
    assert second["scorer"] == "model" and (second["positives"], second["negatives"]) == (60, 50)
    assert second["rescored_all"] and second["scored"] == 111  # every query, not only the new one
    stored = _scores(engine)
    assert stored["unlabelled-bread"] > 0.5 > rules_score
    assert stored["poem3"] < 0.5 and stored["bread7"] > 0.5
    # The same labels give the same model: the next run writes nothing again.
    assert cli("triage", "--coding", "--json").json()["coding"]["scored"] == 0


def test_rejects_without_a_reason_teach_nothing(engine, admin, tmp_path):
    _import(engine, admin, tmp_path)
    rejects = {"c0": "", "n0": coding_queries.NOT_CODING_REASON, "c1": "too trivial"}
    annotation_io.import_annotations(write_csv(tmp_path / "l.csv", [
        label(query_id, who, decision="reject", reject_reason=reason)
        for query_id, reason in rejects.items() for who in ("ann_a", "ann_b")]), actor=admin, engine=engine)
    with session_scope(engine) as session:
        adjudicate.apply_rule(session, actor=admin)
        texts, classes = coding_queries.training_examples(session)
        assert coding_queries.label_counts(session) == (1, 1)
    assert sorted(zip(classes, texts)) == [(False, NOT_CODING["poem"]), (True, CODING["function"])]


def test_the_model_needs_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        coding_queries.fit_model(["a", "b"], [True, True])


# --- the filter, the setting and assignment ---------------------------------------------------

def test_the_filter_and_the_threshold_setting_select_the_coding_queries(engine, admin, tmp_path, cli):
    _import(engine, admin, tmp_path)
    with session_scope(engine) as session:
        triage_db.score_coding_queries(session, actor=admin)
        session.execute(update(Query).where(Query.public_id == "n0").values(coding_score=None))

        def count(condition) -> int:  # noqa: ANN001
            return session.execute(select(func.count()).select_from(Query).where(condition)).scalar_one()

        assert count(coding_queries.coding_filter(0.0)) == 11  # an unscored query never passes
        assert count(coding_queries.coding_filter(0.5)) == 6
        assert count(coding_queries.coding_only(session)) == 6
        lowest_coding = min(s for p, s in session.execute(select(Query.public_id, Query.coding_score)) if p[0] == "c")
        configure.change_setting(session, actor=admin, key="coding_threshold", value=lowest_coding + 0.0005)
        assert count(coding_queries.coding_only(session)) == 5
    refused = cli("settings", "set", "coding_threshold", "1.5")
    assert refused.code != 0 and "coding_threshold" in refused.err and "from 0.0 to 1.0" in refused.err


def test_assign_coding_only_opens_only_coding_queries(engine, admin, tmp_path, cli):
    _import(engine, admin, tmp_path)
    refused = cli("assign", "--coding-only")
    assert refused.code != 0 and "12 of the selected queries have no coding score yet" in refused.err
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(Query).where(Query.in_pool)).scalar_one() == 0
    assert cli("triage", "--coding").code == 0
    result = cli("assign", "--coding-only", "--json")
    assert result.code == 0, result.err
    assert result.json()["queries"] == 6 and result.json()["opened"] == 6
    with Session(engine) as session:
        opened = set(session.execute(select(Query.public_id).where(Query.in_pool)).scalars())
    assert opened == {f"c{i}" for i in range(6)}
    # Named annotators too, with the other selections.
    _users(engine, admin, "ann1", "ann2")
    with session_scope(engine) as session:
        named = queue.assign(session, actor=admin, annotators=["ann1", "ann2"], public_ids=["c1", "n1"],
                             coding_only=True)
    assert named["queries"] == 1 and named["assigned"] == 2


# --- the triage page --------------------------------------------------------------------------

def test_the_triage_page_shows_scores_and_filters_them(demo_db):
    app = open_page("triage", "lead")  # the demo loader has run triage, coding score included
    assert not app.exception
    (tab,) = [tab for tab in app.tabs if tab.label.startswith("Coding queries (")]
    with session_scope() as session:
        counts = triage_db.coding_counts(session)
    assert counts["not_scored"] == 0 and 0 < counts["coding"] < counts["scored_total"]
    assert tab.label == f"Coding queries ({counts['coding']} of {counts['scored_total']})"
    (table,) = app.dataframe
    assert len(table.value) == counts["coding"] and table.value["score"].min() >= 0.5
    app = app.slider(key="coding_min").set_value(0.0).run()
    assert len(app.dataframe[0].value) == counts["scored_total"]
    app = app.toggle(key="coding_lowest").set_value(True).run()
    assert list(app.dataframe[0].value["score"]) == sorted(app.dataframe[0].value["score"])
    app = app.button(key="coding_threshold").click().run()  # make 0 the project's threshold
    assert not app.exception
    with session_scope() as session:
        assert coding_queries.coding_threshold(session) == 0.0
    app = app.button(key="coding_rescore").click().run()
    assert not app.exception and not app.error


# --- accuracy on hand-labelled real queries ---------------------------------------------------

def _hand_labels() -> list[dict]:
    with open(LABELS, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_hand_labels_hold_ids_labels_and_reasons_only():
    rows = _hand_labels()
    assert list(rows[0]) == ["question_id", "coding", "in_sample", "reason"]
    assert len(rows) == 500 and len({r["question_id"] for r in rows}) == 500
    assert {r["coding"] for r in rows} == {"yes", "no"} and {r["in_sample"] for r in rows} == {"yes", "no"}
    assert all(r["in_sample"] == "yes" for r in rows if r["coding"] == "no")  # every non-coding query is in
    sample = [r for r in rows if r["in_sample"] == "yes"]
    assert len(sample) >= 150 and 0.3 <= sum(r["coding"] == "yes" for r in sample) / len(sample) <= 0.37
    assert max(len(r["reason"]) for r in rows) <= 60  # a few words, never the query's text


def _figures(rows: list[dict], scores: dict[str, float], threshold: float) -> dict:
    true_pos = sum(1 for r in rows if r["coding"] == "yes" and scores[r["question_id"]] >= threshold)
    false_pos = sum(1 for r in rows if r["coding"] == "no" and scores[r["question_id"]] >= threshold)
    false_neg = sum(1 for r in rows if r["coding"] == "yes" and scores[r["question_id"]] < threshold)
    precision, recall = true_pos / (true_pos + false_pos), true_pos / (true_pos + false_neg)
    return {"precision": precision, "recall": recall, "f1": 2 * precision * recall / (precision + recall)}


def test_precision_and_recall_on_hand_labelled_arena_hard_queries():
    path = shared_file("arena_hard", "question.jsonl")
    with open(path, encoding="utf-8") as handle:
        texts = {row["question_id"]: row["turns"][0]["content"] for row in map(json.loads, handle)}
    rows = _hand_labels()
    assert {r["question_id"] for r in rows} <= set(texts)
    ids = [r["question_id"] for r in rows]
    scores = dict(zip(ids, coding_queries.rule_scores([texts[i] for i in ids]).tolist()))
    threshold = settings.SETTINGS["coding_threshold"].default
    sample = _figures([r for r in rows if r["in_sample"] == "yes"], scores, threshold)
    everything = _figures(rows, scores, threshold)
    print(f"\nsample (a third coding): {sample}\nall 500: {everything}")
    # Floors a little below the figures in docs/accuracy.md: a drop means the rules got worse.
    assert sample["precision"] >= 0.78 and sample["recall"] >= 0.78 and sample["f1"] >= 0.8
    assert everything["precision"] >= 0.92 and everything["recall"] >= 0.85
