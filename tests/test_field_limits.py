"""The size and NUL limits of core/limits.py hold for every stored field of every writer, on SQLite
and PostgreSQL alike: a refused file writes nothing and says where (file, line or row, field); a
refused page save names the field; no message quotes more than a short excerpt of what it read."""

from __future__ import annotations

import json
import re

import pytest
from sqlmodel import Session, func, select

from curation_app.core import adjudicate, annotate, annotation_io, configure, queue, review
from curation_app.core.errors import ImportRefused, InvalidInput
from curation_app.core.importer import import_answers, import_file
from curation_app.core.limits import (EXCERPT_CHARS, MAX_COMMENT_CHARS, MAX_METADATA_BYTES, MAX_TEXT_CHARS, check,
                                      excerpt)
from curation_app.database import session_scope
from curation_app.models import (Annotation, AuditLog, Baseline, FinalLabel, ImportBatch, Query, ReviewVote,
                                 User)
from tests.factories import SECURITY, label, make_team, write_csv, write_jsonl

TABLES = (Query, Baseline, ImportBatch, Annotation, ReviewVote, FinalLabel, User, AuditLog)


def counts(engine) -> dict[str, int]:
    with Session(engine) as session:
        return {table.__name__: session.exec(select(func.count()).select_from(table)).one() for table in TABLES}


def refusal(engine, write) -> ImportRefused:
    """What writing a file refused with; the database must be exactly as before."""
    before = counts(engine)
    with pytest.raises(ImportRefused) as refused:
        write()
    assert counts(engine) == before
    assert "\n" not in str(refused.value)
    return refused.value


def quotes_at_most_an_excerpt(message: str, value: str) -> None:
    """The message holds no run of the value longer than an excerpt."""
    longest = max((len(run) for run in re.findall(f"(?:{re.escape(value[0])})+", message)), default=0)
    assert longest <= EXCERPT_CHARS, message[:300]
    assert len(message) < 1_000, message[:300]


# Query files: every field of a row --------------------------------------------------------------

GOOD = {"id": "fine-1", "prompt": "How do I reverse a list in Python?"}
BIG = "y" * (MAX_TEXT_CHARS + 1)
QUERY_ROWS = {
    "NUL in the id": ({"id": "a\u0000b", "prompt": "q"}, "line 2: 'id' contains a NUL character (at character 2)"),
    "NUL in a baseline": ({"id": "n2", "prompt": "q", "gpt-4_response": "ok\u0000"},
                          "line 2: 'gpt-4_response' contains a NUL character"),
    "a baseline over the text limit": ({"id": "n3", "prompt": "q", "gpt-4_response": BIG},
                                       f"line 2: 'gpt-4_response' is too long: {MAX_TEXT_CHARS + 1:,} characters, "
                                       f"more than the {MAX_TEXT_CHARS:,} allowed"),
    "NUL in a metadata value": ({"id": "n4", "prompt": "q", "meta": {"tags": ["ok", "b\u0000d"]}},
                                "line 2: metadata['meta']['tags'][2] contains a NUL character"),
    "NUL in a metadata key": ({"id": "n5", "prompt": "q", "meta": {"k\u0000": 1}},
                              "line 2: a key in metadata['meta'] contains a NUL character"),
    "a metadata text over the text limit": ({"id": "n6", "prompt": "q", "meta": BIG},
                                            "line 2: metadata['meta'] is too long"),
    "metadata over its total size": ({"id": "n7", "prompt": "q", "meta": ["z" * 100_000] * 11},
                                     f"more than the {MAX_METADATA_BYTES:,} allowed"),
    "NUL in the second turn": ({"id": "n8", "messages": [{"role": "user", "content": "hi"},
                                                         {"role": "assistant", "content": "x\u0000"}]},
                               "line 2: messages[2] content contains a NUL character"),
    "NUL in a ShareGPT turn": ({"id": "n9", "conversations": [{"from": "human", "value": "\u0000"}]},
                               "line 2: conversations[1] content contains a NUL character"),
    "a metadata key over the name limit": ({"id": "n10", "prompt": "q", "meta": {"k" * 201: 1}},
                                           "line 2: a key in metadata['meta'] is too long: 201 characters"),
}


@pytest.mark.parametrize("case", sorted(QUERY_ROWS))
def test_every_field_of_a_query_row_is_checked_on_both_databases(case, engine, admin, tmp_path):
    row, expected = QUERY_ROWS[case]
    import_file(write_jsonl(tmp_path / "before.jsonl", [{"id": "old", "prompt": "already here"}]), actor=admin,
                engine=engine)
    good = {"messages": {"id": "fine-1", "messages": [{"role": "user", "content": "fine"}]},
            "conversations": {"id": "fine-1", "conversations": [{"from": "human", "value": "fine"}]}}
    first = next((good[key] for key in good if key in row), GOOD)  # a file keeps the shape of its first row
    path = write_jsonl(tmp_path / "bad.jsonl", [first, row])
    refused = refusal(engine, lambda: import_file(path, actor=admin, engine=engine))
    assert str(refused).startswith("bad.jsonl: refused")
    assert expected in str(refused), str(refused)[:400]


def test_a_fifty_megabyte_metadata_field_is_refused_without_being_stored(engine, admin, tmp_path):
    path = tmp_path / "huge_meta.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(GOOD) + "\n")
        handle.write('{"id": "m", "prompt": "q", "notes": "' + "n" * 50_000_000 + '"}\n')
    refused = refusal(engine, lambda: import_file(path, actor=admin, engine=engine))
    assert "line 2: metadata['notes'] is too long: 50,000,000 characters" in str(refused)


def test_every_cell_of_a_csv_row_is_checked(engine, admin, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,prompt,context,claude_response\nc1,fine,ok,fine\nc2,fine,ok," + "w" * (MAX_TEXT_CHARS + 1)
                    + "\n", encoding="utf-8")
    refused = refusal(engine, lambda: import_file(path, actor=admin, engine=engine))
    assert refused.problems == [("row 2 (line 3)", f"'claude_response' is too long: {MAX_TEXT_CHARS + 1:,} "
                                                   f"characters, more than the {MAX_TEXT_CHARS:,} allowed")]


def test_a_source_name_with_a_nul_is_refused(engine, admin, tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [GOOD])
    with pytest.raises(InvalidInput, match="the source name contains a NUL character"):
        import_file(path, actor=admin, source="web\u0000site", engine=engine)
    assert counts(engine)["Query"] == 0


ANSWERS = {
    "NUL in an answer": ({"id": "fine-1", "model": "m", "answer": "\u0000"}, "line 1: 'answer' contains a NUL"),
    "an answer over the text limit": ({"question_id": "fine-1", "model_id": "m",
                                       "choices": [{"turns": [{"content": BIG}]}]},
                                      "line 1: choices[1].turns content is too long"),
    "NUL in the query id": ({"id": "fine\u0000", "model": "m", "answer": "a"}, "line 1: 'id' contains a NUL"),
    "NUL in the model": ({"id": "fine-1", "model": "m\u0000", "answer": "a"},
                         "line 1: the model name contains a NUL"),
}


@pytest.mark.parametrize("case", sorted(ANSWERS))
def test_an_answers_file_is_checked_like_the_queries(case, engine, admin, tmp_path):
    record, expected = ANSWERS[case]
    import_file(write_jsonl(tmp_path / "q.jsonl", [GOOD]), actor=admin, engine=engine)
    path = write_jsonl(tmp_path / "answers.jsonl", [record])
    refused = refusal(engine, lambda: import_answers(path, actor=admin, engine=engine))
    assert expected in str(refused), str(refused)[:400]


# Annotation and vote files ----------------------------------------------------------------------

@pytest.fixture
def team(engine, admin, tmp_path):
    people = (("ann", "annotator"), ("boss", "lead"), ("r1", "reviewer"), ("r2", "reviewer"))
    return make_team(engine, admin, tmp_path, queries=3, people=people)


@pytest.mark.parametrize("column, value, expected", [
    ("rewritten_prompt", "p" * (MAX_TEXT_CHARS + 1), f"rewritten_prompt is too long: {MAX_TEXT_CHARS + 1:,}"),
    ("reference_answer", "use\u0000 a set", "reference_answer contains a NUL character (at character 4)"),
    ("notes", "n\u0000", "notes contains a NUL character"),
    ("category", "c" * 5_000, "category is too long: 5,000 characters, more than the 200 allowed"),
])
def test_every_text_of_an_annotation_file_is_checked(engine, admin, team, tmp_path, column, value, expected):
    rows = [label("q0", "ann"), {**label("q1", "ann"), column: value}]
    path = write_jsonl(tmp_path / "labels.jsonl", rows)
    refused = refusal(engine, lambda: annotation_io.import_annotations(path, actor=admin, engine=engine))
    assert refused.problems == [("line 2", next(p for _, p in refused.problems))]
    assert expected in refused.problems[0][1]


def test_a_nul_in_a_csv_cell_is_named_by_its_column(engine, admin, team, tmp_path):
    path = write_csv(tmp_path / "labels.csv", [label("q0", "ann"), {**label("q1", "ann"), "notes": "see\u0000this"}])
    refused = refusal(engine, lambda: annotation_io.import_annotations(path, actor=admin, engine=engine))
    assert refused.problems == [("row 2 (line 3)", "notes contains a NUL character (at character 4)")]


def test_a_vote_file_checks_comments_and_corrections(engine, admin, team, tmp_path):
    with session_scope(engine) as session:
        configure.change_settings(session, actor=admin, values={
            "min_annotations": 1, "keep_quorum": 1, "review_votes": 2, "review_quorum": 2})
    annotation_io.import_annotations(write_csv(tmp_path / "labels.csv", [label(f"q{i}", "ann", category=SECURITY)
                                                                        for i in range(3)]),
                                     actor=admin, engine=engine)
    with session_scope(engine) as session:
        adjudicate.apply_rule(session, actor=team["boss"])
    votes = [{"query_id": "q0", "reviewer": "r1", "vote": "keep", "comment": "fine"},
             {"query_id": "q1", "reviewer": "r1", "vote": "keep", "comment": "bad\u0000"},
             {"query_id": "q2", "reviewer": "r1", "vote": "reject", "comment": "c" * (MAX_COMMENT_CHARS + 1)},
             {"query_id": "q2", "reviewer": "r2", "vote": "keep",
              "corrections": {"reference_answer": "\u0000"}}]
    path = write_jsonl(tmp_path / "votes.jsonl", votes)
    refused = refusal(engine, lambda: review.import_vote_file(path, actor=team["boss"], engine=engine))
    assert [(where, problem.split(" (")[0]) for where, problem in refused.problems] == [
        ("line 2", "comment contains a NUL character"),
        ("line 3", f"comment is too long: {MAX_COMMENT_CHARS + 1:,} characters, more than the "
                   f"{MAX_COMMENT_CHARS:,} allowed"),
        ("line 4", "reference_answer contains a NUL character")]


# Page saves: the same rule, naming the field ----------------------------------------------------

KEEP = {"decision": "keep", "category": "Development and Programming", "subcategory": "Code Debugging",
        "languages": ["python"], "difficulty": "medium", "reference_answer": "Use a set."}


def test_the_annotate_adjudicate_and_review_saves_apply_the_same_rule(engine, admin, team):
    with session_scope(engine) as session:
        queue.assign(session, actor=team["boss"], annotators=["ann"], public_ids=["q0"], overlap=1)
        queue.next_item(session, actor=team["ann"])
    for fields, message in [({**KEEP, "notes": "a\u0000"}, "^notes contains a NUL character"),
                            ({**KEEP, "reference_answer": "r" * (MAX_TEXT_CHARS + 1)},
                             f"^reference_answer is too long: {MAX_TEXT_CHARS + 1:,} characters"),
                            ({**KEEP, "languages": ["py\u0000"]}, r"^languages\[1\] contains a NUL")]:
        with session_scope(engine) as session, pytest.raises(InvalidInput, match=message):
            annotate.save(session, actor=team["ann"], public_id="q0", fields=fields, submit=True)
    with session_scope(engine) as session:
        annotate.save(session, actor=team["ann"], public_id="q0", fields=KEEP, submit=True)
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="^rationale contains a NUL"):
        adjudicate.resolve(session, actor=team["boss"], public_id="q0", fields=KEEP, rationale="\u0000",
                           expected_revision=0)
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="^rewritten_prompt contains a NUL"):
        adjudicate.resolve(session, actor=team["boss"], public_id="q0", fields={**KEEP, "rewritten_prompt": "\u0000"},
                           rationale=None, expected_revision=0)
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="^reason is too long"):
        adjudicate.send_back(session, actor=team["boss"], public_id="q0", annotators=None,
                             reason="r" * (MAX_COMMENT_CHARS + 1))
    with session_scope(engine) as session:
        configure.change_settings(session, actor=admin, values={
            "min_annotations": 1, "keep_quorum": 1, "review_votes": 2, "review_quorum": 2})
        adjudicate.apply_rule(session, actor=team["boss"])
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="^q0: comment contains a NUL"):
        review.cast_vote(session, actor=team["r1"], public_id="q0", vote="keep", comment="ok\u0000")
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="^q0: notes contains a NUL"):
        review.cast_vote(session, actor=team["r1"], public_id="q0", vote="keep", corrections={"notes": "\u0000"})
    with Session(engine) as session:
        saved = session.exec(select(Annotation)).one()
        assert (saved.notes, saved.reference_answer) == (None, "Use a set.")
        assert session.exec(select(func.count()).select_from(ReviewVote)).one() == 0
        assert session.exec(select(func.count()).select_from(FinalLabel)).one() == 0


# Messages quote an excerpt, never a line ---------------------------------------------------------

def test_messages_quote_at_most_a_short_escaped_excerpt(engine, admin, team, tmp_path):
    long_role = "w" * 5_000
    path = write_jsonl(tmp_path / "roles.jsonl", [{"messages": [{"role": long_role, "content": "hi"}]}])
    quotes_at_most_an_excerpt(str(refusal(engine, lambda: import_file(path, actor=admin, engine=engine))), long_role)

    long_key = "k" * 5_000
    path = tmp_path / "keys.jsonl"
    path.write_text('{"prompt": "x", "%s": 1, "%s": 2}\n' % (long_key, long_key), encoding="utf-8")
    quotes_at_most_an_excerpt(str(refusal(engine, lambda: import_file(path, actor=admin, engine=engine))), long_key)

    for column, value in [("category", "c" * 150), ("difficulty", "d" * 150), ("query_id", "q" * 250),
                          ("vote_of_someone", 1)]:
        row = {**label("q0", "ann"), column: value}
        path = write_jsonl(tmp_path / "labels.jsonl", [row])
        message = str(refusal(engine, lambda: annotation_io.import_annotations(path, actor=admin, engine=engine)))
        quotes_at_most_an_excerpt(message, str(value) if column != "vote_of_someone" else "vote_of_someone")

    assert excerpt("line one\nline two\u0000") == "'line one\\nline two\\x00'"
    assert excerpt("z" * 100) == repr("z" * EXCERPT_CHARS) + "..."
    assert check("fine", field="x") == "fine"
