"""Importing raw queries: every shape and format, provenance, duplicates, ids, refusals."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlmodel import Session, func, select

from curation_app.core.errors import ImportRefused, InvalidInput
from curation_app.core.importer import content_hash, import_answers, import_file
from curation_app.models import Annotation, AuditLog, Baseline, ImportBatch, Query
from tests.conftest import run_until_marker_then_kill, shared_file
from tests.factories import write_jsonl

PY_CODE = "def add(a, b):\n    return a + b\n"
CODEARENA_ROWS = [
    {"id": "ca-1", "messages": [{"role": "user", "content": f"Why does this fail?\n```python\n{PY_CODE}```"}],
     "gpt-4-turbo-2024-04-09_response": "It does not fail.", "category": "debugging"},
    {"id": "ca-2", "messages": [{"role": "user", "content": "Explain closures in JavaScript."},
                                {"role": "assistant", "content": "A closure is..."},
                                {"role": "user", "content": "And in Python?"}]},
]


def write_csv(path: Path, rows: list[dict]) -> Path:
    names = list(dict.fromkeys(name for row in rows for name in row))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()})
    return path


def counts(engine) -> dict:
    with Session(engine) as session:
        return {model.__name__: session.exec(select(func.count()).select_from(model)).one()
                for model in (Query, ImportBatch, AuditLog)}


def queries(engine) -> list[Query]:
    with Session(engine) as session:
        return list(session.exec(select(Query).order_by(Query.id)))


# Shapes and formats ---------------------------------------------------------------------------

def test_codearena_jsonl_keeps_messages_baseline_and_metadata(engine, admin, tmp_path):
    path = write_jsonl(tmp_path / "codearena.jsonl", CODEARENA_ROWS)
    summary = import_file(path, actor=admin, source="codearena", engine=engine)
    assert (summary.read, summary.imported, summary.duplicates, summary.errors) == (2, 2, 0, 0)
    assert summary.shape == "codearena"
    first, second = queries(engine)
    assert first.public_id == "ca-1" and first.original_id == "ca-1"
    assert first.messages == CODEARENA_ROWS[0]["messages"]
    assert first.baseline_answer == "It does not fail."
    assert first.baseline_model == "gpt-4-turbo-2024-04-09"
    assert first.extra == {"category": "debugging"}
    assert (first.source, first.source_file, first.source_location) == ("codearena", "codearena.jsonl", "line 1")
    assert first.batch_id == summary.batch_id
    assert second.n_turns == 3 and second.messages[2] == {"role": "user", "content": "And in Python?"}


def baselines(engine) -> dict[str, list[tuple[str, str]]]:
    """public id -> [(model, answer), ...] in the order the query's baselines were first imported."""
    with Session(engine) as session:
        rows = session.exec(select(Query.public_id, Baseline.model, Baseline.answer)
                            .join(Query, Query.id == Baseline.query_id).order_by(Baseline.id)).all()
    found: dict[str, list[tuple[str, str]]] = {}
    for public_id, model, answer in rows:
        found.setdefault(public_id, []).append((model, answer))
    return found


def test_every_response_field_of_a_row_is_a_baseline_of_its_model(engine, admin, tmp_path):
    rows = [{"id": "r-1", "messages": [{"role": "user", "content": "Reverse a list in Python"}],
             "gpt-4-turbo-2024-04-09_response": "xs[::-1]", "claude-3-opus_response": "list(reversed(xs))",
             "_response": "xs.reverse()", "judge_response": "", "category": "basics"},
            {"id": "r-2", "messages": [{"role": "user", "content": "Sort a dict by value"}],
             "gpt-4-turbo-2024-04-09_response": None}]
    summary = import_file(write_jsonl(tmp_path / "two_models.jsonl", rows), actor=admin, engine=engine)
    assert summary.baselines == {"unknown": 1, "claude-3-opus": 1, "gpt-4-turbo-2024-04-09": 1}
    assert baselines(engine) == {"r-1": [("unknown", "xs.reverse()"), ("claude-3-opus", "list(reversed(xs))"),
                                         ("gpt-4-turbo-2024-04-09", "xs[::-1]")]}
    first, second = queries(engine)
    assert (first.baseline_model, first.baseline_answer) == ("unknown", "xs.reverse()")  # the first, by field name
    assert first.extra == {"category": "basics"}  # no `_response` field left behind as metadata
    assert (second.baseline_answer, second.extra) == (None, None)
    with Session(engine) as session:
        stored = session.exec(select(Baseline).order_by(Baseline.id)).first()
    assert (stored.source_file, stored.source_location) == ("two_models.jsonl", "line 1")


def test_a_too_long_model_name_refuses_the_file_whole(engine, admin, tmp_path):
    rows = [{"prompt": "fine"}, {"prompt": "long model", f"{'m' * 201}_response": "an answer"}]
    with pytest.raises(ImportRefused) as refused:
        import_file(write_jsonl(tmp_path / "long.jsonl", rows), actor=admin, engine=engine)
    assert refused.value.problems[0][0] == "line 2" and "is too long: 201 characters, more than the 200 allowed" in refused.value.problems[0][1]
    assert counts(engine)["Query"] == 0 and baselines(engine) == {}


def test_an_answers_file_adds_a_baseline_and_the_same_model_again_replaces_its_answer(engine, admin, tmp_path):
    rows = [{"id": "a-1", "prompt": "Reverse a list", "gpt-4-turbo-2024-04-09_response": "xs[::-1]"},
            {"id": "a-2", "prompt": "Read a CSV file"}]
    import_file(write_jsonl(tmp_path / "queries.jsonl", rows), actor=admin, engine=engine)
    arena = [{"question_id": "a-1", "model_id": "gpt-4-0314", "choices": [{"turns": [{"content": "reversed(xs)"}]}]},
             {"question_id": "a-2", "model_id": "gpt-4-0314", "choices": [{"turns": [{"content": "csv.reader"}]}]}]
    added = import_answers(write_jsonl(tmp_path / "gpt-4-0314_answers.jsonl", arena), actor=admin, engine=engine)
    assert (added.attached, added.added, added.replaced, added.models) == (2, 2, 0, {"gpt-4-0314": 2})
    assert baselines(engine) == {"a-1": [("gpt-4-turbo-2024-04-09", "xs[::-1]"), ("gpt-4-0314", "reversed(xs)")],
                                 "a-2": [("gpt-4-0314", "csv.reader")]}
    # The first baseline stays the query's first; a-2 had none, so gpt-4-0314's is its first.
    assert [(q.baseline_model, q.baseline_answer) for q in queries(engine)] == [
        ("gpt-4-turbo-2024-04-09", "xs[::-1]"), ("gpt-4-0314", "csv.reader")]

    # No model in the records: the file name names it; the same model again replaces, and says so.
    fixes = [{"id": "a-1", "answer": "xs[::-1]  # a copy"}, {"id": "a-2", "answer": "csv.reader"}]
    again = import_answers(write_jsonl(tmp_path / "gpt-4-turbo-2024-04-09_answers.jsonl", fixes[:1]), actor=admin,
                           engine=engine)
    assert (again.added, again.replaced, again.replaced_ids) == (0, 1, ["a-1"])
    same = import_answers(write_jsonl(tmp_path / "more.jsonl", fixes[1:]), actor=admin, model="gpt-4-0314",
                          engine=engine)
    assert (same.added, same.replaced, same.unchanged) == (0, 0, 1)
    assert baselines(engine) == {"a-1": [("gpt-4-turbo-2024-04-09", "xs[::-1]  # a copy"),
                                         ("gpt-4-0314", "reversed(xs)")],
                                 "a-2": [("gpt-4-0314", "csv.reader")]}
    assert queries(engine)[0].baseline_answer == "xs[::-1]  # a copy"  # the first baseline's copy follows it


def test_an_answers_file_with_two_answers_from_one_model_to_one_query_is_refused(engine, admin, tmp_path):
    import_file(write_jsonl(tmp_path / "q.jsonl", [{"id": "d-1", "prompt": "question"}]), actor=admin, engine=engine)
    answers = [{"id": "d-1", "model": "m", "answer": "one"}, {"id": "d-1", "model": "other", "answer": "fine"},
               {"id": "d-1", "model": "m", "answer": "two"}]
    with pytest.raises(ImportRefused) as refused:
        import_answers(write_jsonl(tmp_path / "a.jsonl", answers), actor=admin, engine=engine)
    assert refused.value.problems == [("line 3", "a second answer from 'm' to 'd-1' (the first is at line 1)")]
    assert baselines(engine) == {} and queries(engine)[0].baseline_answer is None


def test_codearena_messages_as_python_literal_string_in_csv(engine, admin, tmp_path):
    literal = repr([{"role": "user", "content": "It's a 'quoted' question about C++ templates"}])
    path = tmp_path / "codearena.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "messages", "difficulty"])
        writer.writerow(["7", literal, "hard"])
    summary = import_file(path, actor=admin, engine=engine)
    assert summary.imported == 1 and summary.format == "csv" and summary.shape == "codearena"
    (query,) = queries(engine)
    assert query.messages[0]["content"] == "It's a 'quoted' question about C++ templates"
    assert query.extra == {"difficulty": "hard"} and query.source_location == "row 1 (line 2)"


def test_arena_hard_turns_sharegpt_mtbench_and_flat_fields(engine, admin, tmp_path):
    files = {
        "arena.jsonl": [{"question_id": "ah1", "cluster": "c", "turns": [{"content": "Write a Rust CLI."}]}],
        "sharegpt.jsonl": [{"id": "sg1", "conversations": [
            {"from": "human", "value": "How do I reverse a list in Go?"},
            {"from": "gpt", "value": "Use a loop."}]}],
        "mtbench.json": [{"question_id": 81, "category": "coding",
                          "turns": ["Write a SQL query for top 5.", "Now make it a view."]}],
        "flat_instruction.jsonl": [{"instruction": "Sort a dict by value in Python", "input": ""}],
        "flat_question.jsonl": [{"question": "What is a monad?"}],
        "flat_query.jsonl": [{"query": "bash loop over files"}],
        "flat_text.jsonl": [{"text": "explain the borrow checker"}],
    }
    shapes = {}
    for name, rows in files.items():
        path = tmp_path / name
        if name.endswith(".json"):
            path.write_text(json.dumps(rows), encoding="utf-8")
        else:
            write_jsonl(path, rows)
        shapes[name] = import_file(path, actor=admin, engine=engine).shape
    assert shapes == {"arena.jsonl": "arena-hard", "sharegpt.jsonl": "sharegpt", "mtbench.json": "mt-bench",
                      "flat_instruction.jsonl": "flat", "flat_question.jsonl": "flat",
                      "flat_query.jsonl": "flat", "flat_text.jsonl": "flat"}
    by_id = {q.public_id: q for q in queries(engine)}
    assert by_id["sg1"].messages == [{"role": "user", "content": "How do I reverse a list in Go?"},
                                     {"role": "assistant", "content": "Use a loop."}]
    assert by_id["81"].messages == [{"role": "user", "content": "Write a SQL query for top 5."},
                                    {"role": "user", "content": "Now make it a view."}]
    assert by_id["81"].original_id == "81" and by_id["81"].extra == {"category": "coding"}
    flat = [q for q in by_id.values() if q.original_id is None]
    assert len(flat) == 4 and all(q.public_id.startswith("q-") for q in flat)
    assert {(q.extra or {}).get("input") for q in flat} == {"", None}


def test_parquet_with_nested_messages_and_flat_prompt(engine, admin, tmp_path):
    nested = pa.table({
        "id": ["p1", "p2"],
        "messages": [[{"role": "user", "content": "Parquet question one"}],
                     [{"role": "user", "content": "Parquet question two"}]],
        "score": [1.5, 2.5],
    })
    pq.write_table(nested, tmp_path / "nested.parquet")
    flat = pa.table({"prompt": ["flat parquet prompt"], "model_response": ["an answer"]})
    pq.write_table(flat, tmp_path / "flat.parquet")
    assert import_file(tmp_path / "nested.parquet", actor=admin, engine=engine).imported == 2
    assert import_file(tmp_path / "flat.parquet", actor=admin, engine=engine).shape == "flat"
    by_text = {q.messages[0]["content"]: q for q in queries(engine)}
    assert by_text["Parquet question two"].extra == {"score": 2.5}
    assert by_text["Parquet question two"].source_location == "row 2"
    assert by_text["flat parquet prompt"].baseline_answer == "an answer"


def test_json_document_wrapping_records_and_gzip(engine, admin, tmp_path):
    import gzip

    (tmp_path / "wrapped.json").write_text(json.dumps({"data": [{"prompt": "wrapped one"}]}))
    with gzip.open(tmp_path / "rows.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"prompt": "gzipped one"}) + "\n")
    assert import_file(tmp_path / "wrapped.json", actor=admin, engine=engine).imported == 1
    assert import_file(tmp_path / "rows.jsonl.gz", actor=admin, engine=engine).format == "jsonl"
    assert len(queries(engine)) == 2


def test_text_field_named_by_the_user_when_detection_cannot_decide(engine, admin, tmp_path):
    path = write_jsonl(tmp_path / "custom.jsonl", [{"body": "How do I mmap a file in C?", "votes": 3}])
    with pytest.raises(ImportRefused) as refused:
        import_file(path, actor=admin, engine=engine)
    assert "cannot find the query text" in str(refused.value) and "--text-field" in str(refused.value)
    assert "'body', 'votes'" in str(refused.value)
    summary = import_file(path, actor=admin, text_field="body", engine=engine)
    assert summary.imported == 1
    assert queries(engine)[0].extra == {"votes": 3}


# Duplicates and ids ---------------------------------------------------------------------------

def test_exact_duplicates_after_normalising_space_and_case_are_counted_not_stored(engine, admin, tmp_path):
    rows = [{"prompt": "How do I  read a FILE in Rust?"}, {"prompt": "how do i read a file\nin rust?  "},
            {"prompt": "A different question"}]
    path = write_jsonl(tmp_path / "dups.jsonl", rows)
    summary = import_file(path, actor=admin, engine=engine)
    assert (summary.read, summary.imported, summary.duplicates) == (3, 2, 1)
    before = counts(engine)
    again = import_file(path, actor=admin, engine=engine)
    assert (again.read, again.imported, again.duplicates) == (3, 0, 3)
    after = counts(engine)
    assert after["Query"] == before["Query"] and after["ImportBatch"] == before["ImportBatch"]


def test_colliding_ids_from_another_source_take_a_prefix(engine, admin, tmp_path):
    import_file(write_jsonl(tmp_path / "a.jsonl", [{"id": 1, "prompt": "first source question"}]),
                actor=admin, source="alpha", engine=engine)
    summary = import_file(write_jsonl(tmp_path / "b.jsonl", [{"id": 1, "prompt": "second source question"},
                                                             {"id": 1, "prompt": "same id again in one file"}]),
                          actor=admin, source="beta", engine=engine)
    assert summary.imported == 2
    assert [r["now"] for r in summary.renamed] == ["beta:1", f"beta:1:{summary.renamed[1]['now'][-8:]}"]
    assert sorted(q.public_id for q in queries(engine))[:2] == ["1", "beta:1"]
    assert len({q.public_id for q in queries(engine)}) == 3


def test_content_hash_id_is_stable():
    messages = [{"role": "user", "content": "Same   text"}]
    assert content_hash(messages) == content_hash([{"role": "user", "content": "same text"}])


# Refusals: each one names where, and nothing changes -----------------------------------------

BAD_ROWS = {
    "invalid JSON": (b'{"prompt": "ok one"}\n{"prompt": "broken",\n', "line 2: invalid JSON"),
    "missing text": (b'{"prompt": "ok one"}\n{"prompt": null}\n', "line 2: missing text"),
    "empty text": (b'{"prompt": "ok one"}\n{"prompt": "   "}\n', "line 2: empty text"),
    "wrong type": (b'{"prompt": "ok one"}\n{"prompt": 42}\n', "line 2: wrong type: 'prompt' must be a string"),
    "wrong messages type": (b'{"messages": [{"role": "user", "content": "ok"}]}\n{"messages": 5}\n',
                            "line 2: wrong type: 'messages' must be a list"),
    "not UTF-8": (b'{"prompt": "ok one"}\n{"prompt": "caf\xe9"}\n', "line 2: not valid UTF-8"),
    "not an object": (b'{"prompt": "ok one"}\n[1, 2]\n', "line 2: expected a JSON object"),
    "NUL byte": (b'{"prompt": "ok one"}\n{"prompt": "a\\u0000b"}\n', "line 2: 'prompt' contains a NUL character (at character 2)"),
    "unknown role": (b'{"messages": [{"role": "wizard", "content": "hi"}]}\n', "line 1: messages[1] has an unknown role"),
    "deeply nested": (b'{"prompt": "ok"}\n' + b'{"prompt": "x", "meta": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
                      "line 2: invalid JSON: nested too deeply"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_rows_refuse_the_whole_file_naming_the_line(case, engine, admin, tmp_path):
    content, expected = BAD_ROWS[case]
    import_file(write_jsonl(tmp_path / "existing.jsonl", [{"prompt": "already here"}]), actor=admin, engine=engine)
    before = counts(engine)
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(ImportRefused) as refused:
        import_file(path, actor=admin, engine=engine)
    assert expected in str(refused.value)
    assert str(refused.value).startswith("bad.jsonl: refused")
    assert counts(engine) == before


OTHER_BAD_FILES = {
    "raw NUL byte in JSONL": ("bad.jsonl", b'{"prompt": "ok one"}\n{"prompt": "a\x00b"}\n',
                              "line 2: invalid JSON: unexpected control character"),
    "NUL byte in CSV": ("bad.csv", b"id,prompt\n1,a\x00b\n", "row 1 (line 2): 'prompt' contains a NUL character"),
    "Latin-1 CSV": ("bad.csv", "id,prompt\n1,caf\u00e9 cr\u00e8me\n".encode("latin-1"),
                    "row 1 (line 2): not valid UTF-8 (byte 0xe9 at column 6)"),
    "UTF-16 CSV": ("bad.csv", "id,prompt\n1,hello\n".encode("utf-16"),
                   "line 1: the file is UTF-16 (it starts with that byte-order mark); save it as UTF-8"),
    "UTF-16 JSONL": ("bad.jsonl", '{"prompt": "hello"}\n'.encode("utf-16"), "line 1: the file is UTF-16"),
    "Latin-1 JSON": ("bad.json", '[{"prompt": "caf\u00e9"}]'.encode("latin-1"), "line 1: not valid UTF-8"),
    "deeply nested JSON document": ("bad.json", b'[{"prompt": "x", "meta": ' + b"[" * 100_000 + b"]" * 100_000
                                    + b"}]", "line 1: invalid JSON: nested too deeply"),
    "truncated JSON document": ("bad.json", b'[{"prompt": "x"},', "line 1: invalid JSON: the array is never closed"),
    "empty JSON document": ("bad.json", b"  \n", "file: no records: the file is empty"),
}


@pytest.mark.parametrize("case", sorted(OTHER_BAD_FILES))
def test_bad_files_in_every_format_are_refused_naming_where(case, engine, admin, tmp_path):
    name, content, expected = OTHER_BAD_FILES[case]
    import_file(write_jsonl(tmp_path / "existing.jsonl", [{"prompt": "already here"}]), actor=admin, engine=engine)
    before = counts(engine)
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ImportRefused) as refused:
        import_file(tmp_path / name, actor=admin, engine=engine)
    assert expected in str(refused.value)
    assert counts(engine) == before


def test_every_problem_is_listed_and_skip_flag_imports_the_rest(engine, admin, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"id,prompt\n1,good one\n2,\n3,good three\n4\n5,\"good five\"\n")
    with pytest.raises(ImportRefused) as refused:
        import_file(path, actor=admin, engine=engine)
    assert [where for where, _ in refused.value.problems] == ["row 2 (line 3)", "row 4 (line 5)"]
    assert "has 1 cells, the header has 2 columns" in refused.value.problems[1][1]
    assert counts(engine)["Query"] == 0
    summary = import_file(path, actor=admin, skip_bad_rows=True, engine=engine)
    assert (summary.read, summary.imported, summary.errors) == (5, 3, 2)
    assert [s["location"] for s in summary.skipped] == ["row 2 (line 3)", "row 4 (line 5)"]
    assert sorted(q.public_id for q in queries(engine)) == ["1", "3", "5"]


def test_empty_file_and_too_long_query_and_broken_parquet(engine, admin, tmp_path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    with pytest.raises(ImportRefused, match="no records: the file is empty"):
        import_file(tmp_path / "empty.jsonl", actor=admin, engine=engine)
    write_jsonl(tmp_path / "huge.jsonl", [{"prompt": "x" * 1_000_001}])
    with pytest.raises(ImportRefused, match="line 1: 'prompt' is too long: 1,000,001 characters"):
        import_file(tmp_path / "huge.jsonl", actor=admin, engine=engine)
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ImportRefused, match="not a readable Parquet file"):
        import_file(tmp_path / "broken.parquet", actor=admin, engine=engine)
    pq.write_table(pa.table({"score": [1, 2]}), tmp_path / "wrong_schema.parquet")
    with pytest.raises(ImportRefused, match="row 1: cannot find the query text.*score"):
        import_file(tmp_path / "wrong_schema.parquet", actor=admin, engine=engine)
    assert counts(engine) == {"Query": 0, "ImportBatch": 0, "AuditLog": 0}


def test_annotators_may_not_import(engine, tmp_path):
    from curation_app.core.errors import PermissionDenied
    from curation_app.models import User

    path = write_jsonl(tmp_path / "q.jsonl", [{"prompt": "a question"}])
    with pytest.raises(PermissionDenied):
        import_file(path, actor=User(id=1, name="ann", role="annotator"), engine=engine)


# The CLI ------------------------------------------------------------------------------------

def test_cli_import_json_summary_and_refusal_exit_code(db_url, cli, tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", CODEARENA_ROWS)
    result = cli("import", good, "--source", "demo", "--json")
    assert result.code == 0
    summary = result.json()
    assert {k: summary[k] for k in ("read", "imported", "duplicates", "errors")} == {
        "read": 2, "imported": 2, "duplicates": 0, "errors": 0}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "fine"}\n{oops\n')
    result = cli("import", bad)
    assert result.code == 1
    assert "bad.jsonl: line 2: invalid JSON" in result.err
    assert result.err.strip().splitlines()[-1].startswith("error: bad.jsonl: refused, 1 bad row(s)")
    skipped = cli("import", bad, "--skip-bad-rows", "--json").json()
    assert skipped["imported"] == 1 and skipped["skipped"][0]["location"] == "line 2"


def test_cli_refuses_a_database_without_schema(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("CURATION_DATABASE_URL", f"sqlite:///{tmp_path / 'blank.sqlite'}")
    result = cli("import", tmp_path / "whatever.jsonl")
    assert result.code == 1 and "run `python -m curation_app init`" in result.err


# Killed mid-import: nothing half-written, and re-running completes the job -------------------

KILL_SCRIPT = """
import sys, time
from pathlib import Path
from curation_app.core.auth import command_line_actor
from curation_app.core.importer import import_file
from curation_app.database import get_engine
marker, path = Path(sys.argv[1]), Path(sys.argv[2])
seen = 0
def progress(n):
    global seen
    seen += n
    if seen > path.stat().st_size * 0.6 and not marker.exists():
        marker.write_text("mid-import")
        time.sleep(600)  # the test kills us here, with rows written but not committed
import_file(path, actor=command_line_actor(), engine=get_engine(), on_progress=progress)
"""


def test_sigkill_mid_import_leaves_the_database_unchanged(db_url, engine, admin, tmp_path):
    rows = [{"id": f"k{i}", "prompt": f"question number {i} about sorting algorithms"} for i in range(10_000)]
    path = write_jsonl(tmp_path / "big.jsonl", rows)
    marker = tmp_path / "marker"
    before = counts(engine)
    run_until_marker_then_kill(KILL_SCRIPT, marker, str(path), env={"CURATION_DATABASE_URL": db_url})
    assert counts(engine) == before
    summary = import_file(path, actor=admin, engine=engine)
    assert summary.imported == 10_000 and counts(engine)["Query"] == before["Query"] + 10_000


# Real data ----------------------------------------------------------------------------------

def test_real_arena_hard_queries_and_answers(engine, admin):
    questions = shared_file("arena_hard", "question.jsonl")
    answers = shared_file("arena_hard", "gpt-4-0314_answers.jsonl")
    first = import_file(questions, actor=admin, source="arena-hard", engine=engine)
    assert (first.read, first.imported, first.duplicates, first.errors) == (500, 500, 0, 0)
    assert first.shape == "arena-hard"
    again = import_file(questions, actor=admin, source="arena-hard", engine=engine)
    assert (again.imported, again.duplicates) == (0, 500)
    attached = import_answers(answers, actor=admin, engine=engine)
    assert (attached.read, attached.attached, len(attached.unmatched)) == (500, 500, 0)
    stored = queries(engine)
    assert len(stored) == 500
    assert all(q.baseline_answer and q.baseline_model == "gpt-4-0314" for q in stored)
    assert sum(len(b) for b in baselines(engine).values()) == 500
    assert import_answers(answers, actor=admin, engine=engine).unchanged == 500  # again: nothing added
    assert all(q.public_id == q.original_id and len(q.public_id) == 32 for q in stored)
    assert {"category", "cluster"} <= set(stored[0].extra)


def test_real_answers_file_is_detected_by_the_cli(db_url, cli):
    questions = shared_file("arena_hard", "question.jsonl")
    answers = shared_file("arena_hard", "gpt-4-0314_answers.jsonl")
    assert cli("import", questions, "--json").json()["imported"] == 500
    result = cli("import", answers, "--json").json()
    assert result["attached"] == 500 and result["imported"] == 0


def test_the_cli_says_which_answers_replaced_a_models_earlier_one(db_url, cli, tmp_path):
    queries_file = write_jsonl(tmp_path / "q.jsonl", [{"id": "c-1", "prompt": "Parse JSON in Go"},
                                                     {"id": "c-2", "prompt": "Parse JSON in Rust"}])
    assert cli("import", str(queries_file), "--no-triage", "--json").json()["imported"] == 2
    first = write_jsonl(tmp_path / "a.jsonl", [{"id": "c-1", "answer": "json.Unmarshal"},
                                               {"id": "c-2", "answer": "serde_json"}])
    added = cli("import", str(first), "--answers", "--model", "gpt-4o", "--json").json()
    assert (added["added"], added["replaced"], added["models"]) == (2, 0, {"gpt-4o": 2})
    second = write_jsonl(tmp_path / "b.jsonl", [{"id": "c-1", "answer": "json.NewDecoder"}])
    result = cli("import", str(second), "--answers", "--model", "gpt-4o")
    assert result.code == 0
    assert "0 added as baseline answers, 1 replaced the same model's earlier answer" in result.out
    assert "replaced: c-1" in result.out
    refused = cli("import", str(queries_file), "--model", "gpt-4o")
    assert refused.code != 0 and "--model names the model of an answers file" in refused.err


def test_csv_with_an_unclosed_quote_is_refused_at_the_line_it_starts(engine, admin, tmp_path):
    path = tmp_path / "unclosed.csv"
    path.write_text('id,prompt\n1,"How do I sort a list\n2,How do I reverse a string\n3,third\n')
    with pytest.raises(ImportRefused) as refused:
        import_file(path, actor=admin, engine=engine)
    assert refused.value.problems[0][0] == "row 1 (line 2)"
    assert "never closed" in refused.value.problems[0][1]
    assert counts(engine)["Query"] == 0


def test_answers_for_one_source_do_not_land_on_another_sources_query(engine, admin, tmp_path):
    import_file(write_jsonl(tmp_path / "a.jsonl", [{"question_id": "abc", "prompt": "question from A"}]),
                actor=admin, source="A", engine=engine)
    import_file(write_jsonl(tmp_path / "b.jsonl", [{"question_id": "abc", "prompt": "question from B"}]),
                actor=admin, source="B", engine=engine)
    answers = write_jsonl(tmp_path / "answers.jsonl", [{"question_id": "abc", "answer": "Answer meant for B"}])
    attached = import_answers(answers, actor=admin, source="B", engine=engine)
    assert attached.attached == 1
    by_source = {q.source: q.baseline_answer for q in queries(engine)}
    assert by_source == {"A": None, "B": "Answer meant for B"}
    ambiguous = import_answers(write_jsonl(tmp_path / "c.jsonl", [{"id": "zzz", "answer": "x"}]), actor=admin,
                               engine=engine)
    assert ambiguous.unmatched == ["zzz"]


def test_float_ids_from_pandas_and_long_sources_are_handled(engine, admin, tmp_path):
    pq.write_table(pa.table({"id": [1.0, None], "prompt": ["float id question", "no id question"]}),
                   tmp_path / "floats.parquet")
    import_file(tmp_path / "floats.parquet", actor=admin, engine=engine)
    assert sorted(q.public_id for q in queries(engine))[0] == "1"
    with pytest.raises(InvalidInput, match="1-100 characters"):
        import_file(tmp_path / "floats.parquet", actor=admin, source="s" * 101, engine=engine)
    long_id = write_jsonl(tmp_path / "long.jsonl", [{"id": "x" * 151, "prompt": "long id"}])
    with pytest.raises(ImportRefused, match="'id' is too long: 151 characters, more than the 150 allowed"):
        import_file(long_id, actor=admin, engine=engine)
    renamed = write_jsonl(tmp_path / "renamed.jsonl", [{"id": "1", "prompt": "another question with id 1"}])
    summary = import_file(renamed, actor=admin, source="s" * 100, engine=engine)
    assert summary.renamed[0]["now"] == "s" * 100 + ":1"


def test_a_10_mb_single_query_is_refused_with_its_size(engine, admin, tmp_path):
    path = write_jsonl(tmp_path / "huge.jsonl", [{"prompt": "short one"}, {"prompt": "x" * 10_000_000}])
    with pytest.raises(ImportRefused, match="line 2: 'prompt' is too long: 10,000,000 characters"):
        import_file(path, actor=admin, engine=engine)
    assert counts(engine)["Query"] == 0


def test_a_json_array_is_read_item_by_item_across_any_chunk_boundary(engine, admin, tmp_path, monkeypatch):
    from curation_app.core import readers

    rows = [{"id": f"j{i}", "prompt": f"Frage {i}: warum ist mein Code langsam? \u00e9\u00e8 \u4e2d\u6587 " + "x" * (i * 37),
             "meta": {"nested": [1, {"deep": [i, None, True]}], "note": "a ] and a , inside a string"}}
            for i in range(40)]
    path = tmp_path / "array.json"
    path.write_text(" \n" + json.dumps(rows, indent=2, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setattr(readers, "_JSON_CHUNK_BYTES", 7)  # every value and multi-byte character split somewhere
    _, records = readers.read_records(path)
    streamed = [(r.location, r.record, r.problem) for r in records]
    assert streamed == [(f"item {i + 1}", row, None) for i, row in enumerate(rows)]
    summary = import_file(path, actor=admin, engine=engine)
    assert (summary.read, summary.imported) == (40, 40)


@pytest.mark.parametrize("content, expected", [
    (b'[{"prompt": "one"}, {"prompt": "two"}', "line 1: invalid JSON: the array is never closed"),
    (b'[{"prompt": "one"}\n {"prompt": "two"}]', "line 2: invalid JSON: expected ',' or ']' after item 1"),
    (b'[{"prompt": "one"}] trailing', "line 1: invalid JSON: extra data after the array"),
    (b'[{"prompt": "one"},\n\n {"prompt": "two",}]', "line 3: invalid JSON: Expecting property name"),
    (b'[{"prompt": "one"}, "just a string"]', "item 2: expected a JSON object, got a string"),
    (b'[{"prompt": "unterminated}]', "line 1: invalid JSON: Unterminated string"),
    (b'[{"prompt": "caf\xe9"}]', "line 1: not valid UTF-8"),
])
def test_a_broken_json_array_is_refused_naming_where(engine, admin, tmp_path, monkeypatch, content, expected):
    from curation_app.core import readers

    monkeypatch.setattr(readers, "_JSON_CHUNK_BYTES", 5)
    (tmp_path / "bad.json").write_bytes(content)
    with pytest.raises(ImportRefused) as refused:
        import_file(tmp_path / "bad.json", actor=admin, engine=engine)
    assert expected in str(refused.value)
    assert counts(engine)["Query"] == 0


def test_json_array_problems_name_the_right_line_and_column_after_chunks(tmp_path, monkeypatch):
    from curation_app.core import readers

    monkeypatch.setattr(readers, "_JSON_CHUNK_BYTES", 64)
    rows = [{"prompt": f"question {i} " + "x" * 30} for i in range(60)]
    lines = json.dumps(rows, indent=1).encode().split(b"\n")
    target = next(i for i in range(150, len(lines)) if b"question" in lines[i])
    lines[target] = lines[target].replace(b"question", b"qu\xe9stion")  # a Latin-1 byte far into the file
    (tmp_path / "bytes.json").write_bytes(b"\n".join(lines))
    *_, bad = readers.read_records(tmp_path / "bytes.json")[1]
    assert (bad.location, bad.problem) == (f"line {target + 1}", "not valid UTF-8; the rest of the file was not read")

    minified = json.dumps(rows, separators=(",", ":"))  # one long line, as json.dump writes by default
    cut = minified.index("},{", 2000) + 2  # between two items, where "@" cannot be part of a string
    broken = minified[:cut] + "@" + minified[cut:]
    (tmp_path / "minified.json").write_text(broken)
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(broken)
    *_, bad = readers.read_records(tmp_path / "minified.json")[1]
    assert bad.location == "line 1" and f"(column {expected.value.colno})" in bad.problem


def test_skipping_bad_rows_never_drops_the_rest_of_a_broken_json_array(engine, admin, tmp_path):
    rows = [{"id": f"s{i}", "prompt": f"question number {i}"} for i in range(30)]
    (tmp_path / "cut.json").write_text(json.dumps(rows)[:400])
    with pytest.raises(ImportRefused, match="the rest of the file was not read"):
        import_file(tmp_path / "cut.json", actor=admin, engine=engine, skip_bad_rows=True)
    assert counts(engine)["Query"] == 0
    (tmp_path / "one_bad.json").write_text(json.dumps(rows[:3] + [{"prompt": 5}] + rows[3:6]))
    summary = import_file(tmp_path / "one_bad.json", actor=admin, engine=engine, skip_bad_rows=True)
    assert (summary.imported, summary.errors) == (6, 1)  # a bad item is skipped; the reading goes on


BIG = "123456789012345678901234567890"


@pytest.mark.parametrize("suffix", ["jsonl", "json"])
def test_long_integers_are_kept_exactly_and_ids_as_their_text(engine, admin, tmp_path, suffix):
    lines = [f'{{"id": {BIG}, "prompt": "why is my loop slow", "ticket": {BIG}1}}',
             '{"id": 7, "prompt": "and this one", "nested": {"a": 1, "b": {"c": 2}}}']
    path = tmp_path / f"big.{suffix}"
    path.write_text("\n".join(lines) + "\n" if suffix == "jsonl" else "[" + ",\n".join(lines) + "]\n", encoding="utf-8")
    import_file(path, actor=admin, engine=engine)
    first, second = queries(engine)
    assert first.public_id == BIG and first.original_id == BIG
    assert first.extra == {"ticket": int(BIG + "1")}  # exact, not a float
    assert second.extra == {"nested": {"a": 1, "b": {"c": 2}}}


@pytest.mark.parametrize("suffix", ["jsonl", "json"])
@pytest.mark.parametrize("value, message", [
    ('{"id": "n1", "prompt": "x", "score": NaN}', "NaN is not a JSON number"),
    ('{"id": "n1", "prompt": "x", "score": -Infinity}', "-Infinity is not a JSON number"),
    ('{"id": "n1", "prompt": "first", "prompt": "second"}', "the key 'prompt' appears twice"),
    ('{"id": "n1", "prompt": "x", "meta": {"a": 1, "a": 2}}', "the key 'a' appears twice"),
    ('{"id": "n1", "prompt": "x", "n": 1' + "0" * 5000 + '}', "5,001 digits is too long"),
    ('{"id": "n1", "prompt": "x", "n": 1e400}', "too large for a float"),
])
def test_json_that_would_change_silently_is_refused_with_its_line(engine, admin, tmp_path, suffix, value, message):
    good = '{"id": "ok", "prompt": "fine"}'
    path = tmp_path / f"bad.{suffix}"
    path.write_text(f"{good}\n{value}\n" if suffix == "jsonl" else f"[{good},\n{value}]\n", encoding="utf-8")
    with pytest.raises(ImportRefused) as refused:
        import_file(path, actor=admin, engine=engine)
    ((where, problem),) = refused.value.problems
    assert where == "line 2" and message in problem
    assert queries(engine) == []  # nothing half-written


def test_a_gzip_bomb_is_refused_while_streaming(engine, admin, tmp_path):
    import gzip

    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=9) as handle:  # under 1 MB on disk, 400 MB inside, no newline
        for _ in range(400):
            handle.write(b"0" * (1 << 20))
    assert path.stat().st_size < 1 << 20
    with pytest.raises(InvalidInput, match="expands to more than .* times its compressed size"):
        import_file(path, actor=admin, engine=engine)
    assert queries(engine) == []


@pytest.mark.parametrize("content, message", [
    (b"not gzip at all\n", "not a valid gzip file"),
    (None, "cut short"),
])
def test_a_broken_gzip_file_gets_a_one_line_reason(engine, admin, tmp_path, content, message):
    import gzip

    path = tmp_path / "broken.jsonl.gz"
    if content is None:
        whole = gzip.compress(b"".join(b'{"id": "g%d", "prompt": "query %d"}\n' % (i, i) for i in range(2000)))
        content = whole[: len(whole) // 2]
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message):
        import_file(path, actor=admin, engine=engine)
    assert queries(engine) == []


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "json"])
def test_a_line_longer_than_the_limit_is_reported_without_being_held(engine, admin, tmp_path, monkeypatch, suffix):
    from curation_app.core import readers

    monkeypatch.setattr(readers, "MAX_LINE_BYTES", 4096)  # the real limit is 64 MB; the logic is the same
    huge = "x" * 20_000
    path = tmp_path / f"long.{suffix}"
    if suffix == "jsonl":
        path.write_text(f'{{"id": "a", "prompt": "fine"}}\n{{"id": "b", "prompt": "{huge}"}}\n', encoding="utf-8")
    elif suffix == "csv":
        path.write_text(f"id,prompt\na,fine\nb,{huge}\n", encoding="utf-8")
    else:
        path.write_text(f'[{{"id": "a", "prompt": "fine"}},\n{{"id": "b", "prompt": "{huge}"}}]', encoding="utf-8")
    with pytest.raises(ImportRefused) as refused:
        import_file(path, actor=admin, engine=engine)
    ((where, problem),) = refused.value.problems
    assert where in ("line 2", "item 2", "row 2 (line 3)") and "longer than" in problem, (where, problem)
    assert queries(engine) == []


def test_a_folder_without_data_files_says_it_is_a_folder(engine, admin, tmp_path, cli, db_url):
    (tmp_path / "empty").mkdir()
    refused = cli("import", tmp_path / "empty")
    assert refused.code == 1 and "is a folder with no JSONL, JSON, CSV or Parquet file" in refused.err
    with pytest.raises(InvalidInput, match="is a folder; give the file"):
        import_file(tmp_path / "empty", actor=admin, engine=engine)


def test_a_folder_import_reads_its_files_and_never_follows_a_symlink_out_of_it(engine, admin, tmp_path, cli, db_url):
    outside = tmp_path / "outside"
    outside.mkdir()
    write_jsonl(outside / "secret.jsonl", [{"prompt": "a query from outside the folder"}])
    folder = tmp_path / "batch"
    (folder / "more").mkdir(parents=True)
    write_jsonl(folder / "a.jsonl", [{"id": "f1", "prompt": "first file"}])
    write_csv(folder / "more" / "b.csv", [{"id": "f2", "prompt": "second file"}])
    (folder / "notes.txt").write_text("not a data file\n")
    (folder / "secret.jsonl").symlink_to(outside / "secret.jsonl")
    (folder / "elsewhere").symlink_to(outside, target_is_directory=True)
    (folder / "again.jsonl").symlink_to(folder / "a.jsonl")  # inside the folder: read (and a duplicate)
    result = cli("import", folder, "--json", "--no-triage")
    assert result.code == 0, result.err
    summary = result.json()
    assert (summary["read"], summary["imported"], summary["duplicates"]) == (3, 2, 1)
    assert summary["skipped_links"] == ["elsewhere", "secret.jsonl"]
    assert "batch/secret.jsonl: a symlink leading outside the folder, not followed" in result.err
    assert sorted((q.public_id, q.source) for q in queries(engine)) == [("f1", "batch"), ("f2", "batch")]

    (folder / "more" / "c.jsonl").write_text('{"prompt": "fine"}\n{"prompt": "a\\u0000b"}\n')
    refused = cli("import", folder, "--source", "second")
    assert refused.code == 1 and "c.jsonl: line 2: 'prompt' contains a NUL character" in refused.err
    assert len(queries(engine)) == 2  # one bad file refuses the folder: nothing of it is written


# Id collisions: one line naming the rows, never a UNIQUE failure ---------------------------------

def test_three_rows_with_one_id_and_ids_shaped_like_renamed_ones_all_get_free_ids(engine, admin, tmp_path):
    three = [{"id": "x", "prompt": f"question {i}"} for i in range(3)]
    first = import_file(write_jsonl(tmp_path / "three.jsonl", three), actor=admin, source="s", engine=engine)
    again = import_file(write_jsonl(tmp_path / "again.jsonl", [{"id": "x", "prompt": f"other {i}"} for i in range(3)]),
                        actor=admin, source="s", engine=engine)
    # A file may hold the very id a later row of it would be renamed to.
    later = content_hash([{"role": "user", "content": "the fourth"}])[:8]
    shaped = [{"id": "y", "prompt": "one"}, {"id": "s:y", "prompt": "two"}, {"id": f"s:y:{later}", "prompt": "three"},
              {"id": "y", "prompt": "the fourth"}]
    renamed = import_file(write_jsonl(tmp_path / "shaped.jsonl", shaped), actor=admin, source="s", engine=engine)
    assert (first.imported, again.imported, renamed.imported) == (3, 3, 4)
    assert renamed.renamed == [{"location": "line 4", "id": "y", "now": f"s:y:{later}-2"}]
    ids = [q.public_id for q in queries(engine)]
    assert len(ids) == len(set(ids)) == 10


def test_two_response_fields_of_one_model_are_refused_naming_the_row(engine, admin, tmp_path):
    rows = [{"id": "r1", "prompt": "fine"}, {"id": "r2", "prompt": "two answers", "gpt_response": "a",
                                             "gpt _response": "b"}]
    with pytest.raises(ImportRefused) as refused:
        import_file(write_jsonl(tmp_path / "twice.jsonl", rows), actor=admin, engine=engine)
    assert refused.value.problems == [("line 2", "'gpt _response' and 'gpt_response' are both answers of the model "
                                                 "'gpt'; keep one")]
    assert counts(engine)["Query"] == 0


# The write lock: an annotation import holds it only to write ------------------------------------

def test_an_annotators_submit_goes_through_while_a_large_annotation_import_runs(db_url, admin, tmp_path, monkeypatch):
    """The import reads, checks and looks up its rows outside the write transaction; an annotator
    submitting meanwhile from another thread never meets "database is locked". (The old import held
    SQLite's lock for its whole run, about 2.6 ms a row: past the wait limit here.)"""
    import threading

    from curation_app import database
    from curation_app.core import annotate, annotation_io, auth, queue
    from curation_app.database import session_scope
    from tests.factories import label, write_csv

    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 5_000)  # a tenth of the default, so a long hold shows
    engine = database.make_engine(db_url)
    n_queries, importers = 1_500, ("imp0", "imp1", "imp2", "imp3")
    rows = [{"id": f"b{i}", "prompt": f"bulk question {i}: why is my python loop slow?"} for i in range(n_queries)]
    import_file(write_jsonl(tmp_path / "bulk.jsonl", rows + [{"id": "mine", "prompt": "the annotator's own item"}]),
                actor=admin, engine=engine)
    with session_scope(engine) as session:
        annotator = auth.create_user(session, actor=admin, name="ann1", role="annotator", password="password1")
        queue.assign(session, actor=admin, annotators=["ann1"], public_ids=["mine"], overlap=1)
        queue.next_item(session, actor=annotator)
    labels = write_csv(tmp_path / "labels.csv", [label(f"b{i}", name) for i in range(n_queries) for name in importers])

    outcome: dict = {}

    def run_import() -> None:
        try:
            outcome["summary"] = annotation_io.import_annotations(labels, actor=admin, engine=engine)
        except Exception as error:  # noqa: BLE001 - reported by the test below
            outcome["error"] = error

    importing = threading.Thread(target=run_import)
    importing.start()
    submits = 0
    fields = {"decision": "keep", "category": "Development and Programming", "subcategory": "Code Debugging",
              "languages": ["python"], "difficulty": "easy"}
    while importing.is_alive():
        with session_scope(engine) as session:  # raises Busy if the lock stays taken past the wait limit
            annotate.save(session, actor=annotator, public_id="mine", fields={**fields, "notes": f"take {submits}"},
                          submit=True)
        submits += 1
    importing.join()
    assert "error" not in outcome, outcome.get("error")
    assert submits >= 1 and outcome["summary"].created == n_queries * len(importers)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Annotation)).one() == n_queries * len(importers) + 1
        mine = session.exec(select(Annotation).join(Query, Query.id == Annotation.query_id)
                            .where(Query.public_id == "mine")).one()
    assert mine.notes == f"take {submits - 1}" and mine.state == "submitted"
    engine.dispose()


def test_an_id_another_import_writes_at_the_same_moment_gives_one_line_naming_the_rows(migrated_postgres_url, admin,
                                                                                       tmp_path):
    """PostgreSQL lets two imports run at once: one that meets an id the other wrote after it looked
    is refused in one line naming its rows, and writes nothing."""
    import threading
    import time

    from sqlalchemy import text

    from curation_app import database
    from curation_app.core import importer
    from curation_app.core.readers import read_records

    engine = database.get_engine(migrated_postgres_url)
    first = write_jsonl(tmp_path / "first.jsonl", [{"id": "same", "prompt": "the first import's question"}])
    second = write_jsonl(tmp_path / "second.jsonl", [{"id": "other", "prompt": "fine"},
                                                     {"id": "same", "prompt": "the second import's question"}])
    holder = Session(engine)
    importer._import_records(holder, first, read_records(first), actor=admin, source="first", text_field=None,
                             skip_bad_rows=False)  # written, not committed yet
    outcome: dict = {}

    def run_second() -> None:
        try:
            import_file(second, actor=admin, source="second", engine=engine)
        except InvalidInput as refusal:
            outcome["refusal"] = str(refusal)

    racing = threading.Thread(target=run_second)
    racing.start()
    with engine.connect() as watcher:  # until the second import waits on the first one's unique id
        for _ in range(600):
            if watcher.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")).scalar():
                break
            time.sleep(0.05)
    holder.commit()
    holder.close()
    racing.join(timeout=60)
    assert outcome["refusal"] == ("line 1 to line 2: an id or a query text of these rows was written by another "
                                  "import of source 'second' at the same time; nothing was imported, run it again")
    assert [(q.public_id, q.source) for q in queries(engine)] == [("same", "first")]


# At scale: chunks, and numbers JSON cannot hold --------------------------------------------

def test_duplicates_ids_and_baselines_across_chunks_without_a_set_of_every_hash(engine, admin, tmp_path,
                                                                                monkeypatch):
    from curation_app.core import importer

    monkeypatch.setattr(importer, "CHUNK_ROWS", 3)  # every rule below crosses a chunk boundary
    rows = [{"id": f"c{i}", "prompt": f"chunked question {i}", "m_response": f"answer {i}"} for i in range(8)]
    rows.append({"id": "c9", "prompt": "  CHUNKED question 1 "})  # a duplicate of row 2, two chunks later
    rows.append({"id": "c0", "prompt": "another question that says c0"})  # c0 is taken by row 1
    rows.append({"id": "c10", "prompt": "chunked question 2"})  # a duplicate within the last chunk's file
    summary = import_file(write_jsonl(tmp_path / "chunks.jsonl", rows), actor=admin, source="s", engine=engine)
    assert (summary.read, summary.imported, summary.duplicates) == (11, 9, 2)
    assert summary.renamed == [{"location": "line 10", "id": "c0", "now": "s:c0"}]
    stored = queries(engine)
    assert [q.public_id for q in stored] == [f"c{i}" for i in range(8)] + ["s:c0"]
    assert [q.source_location for q in stored][-2:] == ["line 8", "line 10"]
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Baseline)).one() == 8
    # Re-importing finds every row in the database, chunk by chunk, and writes nothing at all.
    again = import_file(tmp_path / "chunks.jsonl", actor=admin, source="s", engine=engine)
    assert (again.imported, again.duplicates, again.batch_id) == (0, 11, None)
    assert len(queries(engine)) == 9


def test_a_bad_row_after_written_chunks_leaves_nothing_written(engine, admin, tmp_path, monkeypatch):
    from curation_app.core import importer

    monkeypatch.setattr(importer, "CHUNK_ROWS", 2)
    rows = [{"id": f"w{i}", "prompt": f"written first {i}", "x_response": "an answer"} for i in range(5)]
    rows.append({"id": "w5", "prompt": 7})
    before = counts(engine)
    with pytest.raises(ImportRefused, match="line 6: wrong type: 'prompt' must be a string"):
        import_file(write_jsonl(tmp_path / "late.jsonl", rows), actor=admin, engine=engine)
    assert counts(engine) == before
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Baseline)).one() == 0


def test_an_infinite_number_is_refused_with_its_row_and_column_and_nan_is_no_value(engine, admin, tmp_path):
    table = pa.table({"prompt": ["finite row", "infinite row", "nested infinite row", "nan row"],
                      "score": [1.5, float("inf"), 2.0, float("nan")],
                      "scores": [[1.0], [2.0], [3.0, float("-inf")], [float("nan")]]})
    pq.write_table(table, tmp_path / "inf.parquet")
    before = counts(engine)
    with pytest.raises(ImportRefused) as refused:
        import_file(tmp_path / "inf.parquet", actor=admin, engine=engine)
    assert refused.value.problems == [
        ("row 2", "'score' is an infinite number (inf), which cannot be stored; write it as a string or leave it "
                  "empty"),
        ("row 3", "'scores'[2] is an infinite number (-inf), which cannot be stored; write it as a string or leave "
                  "it empty")]
    assert counts(engine) == before
    # A model's answer column with an infinite number is refused the same way, not dropped.
    pq.write_table(pa.table({"prompt": ["q"], "gpt_response": [float("inf")]}), tmp_path / "answer.parquet")
    with pytest.raises(ImportRefused, match="row 1: 'gpt_response' is an infinite number"):
        import_file(tmp_path / "answer.parquet", actor=admin, engine=engine)
    # NaN is a gap in a column, as an empty cell is: the rows import with no value there.
    pq.write_table(table.slice(3), tmp_path / "nan.parquet")
    pq.write_table(table.slice(0, 1), tmp_path / "finite.parquet")
    import_file(tmp_path / "nan.parquet", actor=admin, engine=engine)
    import_file(tmp_path / "finite.parquet", actor=admin, engine=engine)
    assert [q.extra for q in queries(engine)] == [{"score": None, "scores": [None]},
                                                  {"score": 1.5, "scores": [1.0]}]
