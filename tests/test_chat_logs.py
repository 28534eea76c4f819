"""Importing LMSYS-Chat-1M and WildChat as distributed (JSONL, gzipped JSONL, Parquet), and Parquet
read a row group at a time with its timestamps and durations kept as text."""

from __future__ import annotations

import copy
import json
from datetime import date, time, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlmodel import Session, func, select

from curation_app.core import readers
from curation_app.core.errors import ImportRefused
from curation_app.core.importer import detect_shape, import_file
from curation_app.core.readers import iso_duration
from curation_app.models import AuditLog, Baseline, ImportBatch, Query
from tests.data.chat_logs.samples import HERE as SAMPLES
from tests.data.chat_logs.samples import (LMSYS_ROWS, LMSYS_SCHEMA, SHAPES, SUFFIXES, WILDCHAT_ROWS, as_json,
                                          write_samples)
from tests.factories import write_jsonl

SHAPE_OF = {"lmsys_chat": ("lmsys-chat", "conversation_id"), "wildchat": ("wildchat", "conversation_hash")}


def queries(engine) -> list[Query]:
    with Session(engine) as session:
        return list(session.exec(select(Query).order_by(Query.id)))


def baselines(engine) -> dict[str, list[tuple[str, str]]]:
    with Session(engine) as session:
        rows = session.exec(select(Query.public_id, Baseline.model, Baseline.answer)
                            .join(Baseline, Baseline.query_id == Query.id).order_by(Baseline.id))
        found: dict[str, list[tuple[str, str]]] = {}
        for public_id, model, answer in rows:
            found.setdefault(public_id, []).append((model, answer))
        return found


def counts(engine) -> dict:
    with Session(engine) as session:
        return {model.__name__: session.exec(select(func.count()).select_from(model)).one()
                for model in (Query, ImportBatch, AuditLog, Baseline)}


def first_answer(row: dict) -> str:
    turns = row["conversation"]
    first_user = next(i for i, turn in enumerate(turns) if turn["role"] == "user")
    return next(turn["content"] for turn in turns[first_user + 1:] if turn["role"] == "assistant")


# Every field where it should be ------------------------------------------------------------------

@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("stem", sorted(SHAPES))
def test_every_field_of_a_dump_lands_where_it_should(stem, suffix, engine, admin):
    rows, _ = SHAPES[stem]
    shape, id_field = SHAPE_OF[stem]
    path = SAMPLES / f"{stem}{suffix}"
    summary = import_file(path, actor=admin, source=stem, engine=engine)

    assert (summary.read, summary.imported, summary.duplicates, summary.errors) == (len(rows), len(rows), 0, 0)
    assert summary.shape == shape
    assert summary.format == ("parquet" if suffix == ".parquet" else "jsonl")
    with Session(engine) as session:
        assert session.get(ImportBatch, summary.batch_id).shape == shape
    found = queries(engine)
    answers = baselines(engine)
    assert len(found) == len(rows)
    for number, (query, row) in enumerate(zip(found, rows), start=1):
        expected = as_json(row)
        assert query.original_id == query.public_id == row[id_field]
        assert query.messages == [{"role": t["role"], "content": t["content"]} for t in row["conversation"]]
        assert query.n_turns == len(row["conversation"])
        assert query.source_location == (f"row {number}" if suffix == ".parquet" else f"line {number}")
        # Every field but the conversation and the id, under its own name; timestamps as ISO text.
        per_turn = [{k: v for k, v in turn.items() if k not in ("role", "content")} for turn in expected["conversation"]]
        assert query.extra == {**{k: v for k, v in expected.items() if k not in ("conversation", id_field)},
                               **({"turn_metadata": per_turn} if any(per_turn) else {})}
        assert answers[query.public_id] == [(row["model"], first_answer(row))]
        assert (query.baseline_model, query.baseline_answer) == (row["model"], first_answer(row))


def test_the_dumps_metadata_reads_as_their_cards_say(engine, admin):
    import_file(SAMPLES / "lmsys_chat.parquet", actor=admin, engine=engine)
    import_file(SAMPLES / "wildchat.parquet", actor=admin, engine=engine)
    by_id = {q.public_id: q for q in queries(engine)}

    chinese = by_id["a1c2e3f4b5d6478899aabbccddeeff00"]
    assert chinese.extra["language"] == "Chinese" and chinese.messages[0]["content"].startswith("如何用 Python")
    assert by_id["7d8e9f0a1b2c4d3e5f6a7b8c9d0e1f2a"].extra["redacted"] is True
    flagged = by_id["c4d5e6f7a8b94c0d9e1f2a3b4c5d6e7f"].extra["openai_moderation"]
    assert [m["flagged"] for m in flagged] == [True, False]
    assert flagged[0]["categories"]["harassment/threatening"] is True
    assert flagged[0]["category_scores"]["harassment/threatening"] == 0.75
    assert "turn_metadata" not in chinese.extra  # LMSYS turns hold role and content only

    russian = by_id["1e5a9c3d7b0f4e8a2c6d0b4f8e2a6c9d"]
    assert russian.n_turns == 4 and russian.extra["language"] == "Russian"
    assert russian.extra["timestamp"] == "2023-05-17T14:30:05+00:00"
    turns = russian.extra["turn_metadata"]
    assert [t["turn_identifier"] for t in turns] == [2001, 2001, 2002, 2002]
    assert turns[2]["timestamp"] == "2023-05-17T14:31:40+00:00"
    assert turns[0]["header"]["accept-language"].startswith("ru-RU") and turns[1]["header"] is None
    assert all(set(m) == {"role", "content"} for m in russian.messages)  # where a release takes them from
    toxic = by_id["2a6e0c4b8d1f5a9e3c7b1d5f9a3e7c0b"].extra
    assert toxic["toxic"] is True and toxic["detoxify_moderation"][0]["toxicity"] == 0.9375
    assert by_id["f7b3d9e1a5c2486e0d4b8f2a6c0e4d8b"].extra["turn_metadata"][0]["redacted"] is True


def test_the_three_formats_of_a_dump_hold_the_same_conversations(engine, admin):
    first = import_file(SAMPLES / "wildchat.jsonl", actor=admin, engine=engine)
    for suffix in (".jsonl.gz", ".parquet"):
        again = import_file(SAMPLES / f"wildchat{suffix}", actor=admin, engine=engine)
        assert (again.read, again.imported, again.duplicates) == (first.read, 0, first.read)


def test_the_sample_files_are_what_the_sample_script_writes(tmp_path):
    for stem, (rows, schema) in SHAPES.items():
        written = write_samples(tmp_path, rows, schema, stem)
        for suffix in (".jsonl", ".jsonl.gz"):
            assert written[suffix].read_bytes() == (SAMPLES / f"{stem}{suffix}").read_bytes()
        table = pq.read_table(SAMPLES / f"{stem}.parquet")
        assert table.schema.equals(schema) and table.to_pylist() == rows
        assert pq.ParquetFile(SAMPLES / f"{stem}.parquet").metadata.num_row_groups > 1


# Shape detection -----------------------------------------------------------------------------------

def test_a_conversation_field_is_detected_as_its_dump():
    assert detect_shape(LMSYS_ROWS[0]).name == "lmsys-chat"
    assert detect_shape(WILDCHAT_ROWS[0]).name == "wildchat"
    early_wildchat = {"conversation_id": "abc", "timestamp": "2023-04-09T00:02:53+00:00",
                      "conversation": [{"role": "user", "content": "hi"}]}
    assert detect_shape(early_wildchat).name == "wildchat"
    assert detect_shape({"messages": [], "conversation": []}).name == "codearena"  # `messages` comes first
    assert detect_shape({"conversations": [{"from": "human", "value": "hi"}]}).name == "sharegpt"
    assert detect_shape(LMSYS_ROWS[0], text_field="conversation").name == "codearena"  # the user's choice


def test_early_wildchat_rows_keep_their_conversation_id(engine, admin, tmp_path):
    row = {"conversation_id": "wc-early-1", "model": "gpt-3.5-turbo", "timestamp": "2023-04-10T08:00:00+00:00",
           "conversation": [{"role": "user", "content": "What does `git stash pop` do?", "toxic": False},
                            {"role": "assistant", "content": "It applies the latest stash and drops it."}],
           "turn": 1}
    summary = import_file(write_jsonl(tmp_path / "early.jsonl", [row]), actor=admin, engine=engine)
    query, = queries(engine)
    assert summary.shape == "wildchat" and query.original_id == "wc-early-1"
    assert query.extra["turn_metadata"] == [{"toxic": False}, {}]


def test_the_first_answer_is_the_one_after_the_first_user_turn(engine, admin, tmp_path):
    rows = [
        {"conversation_id": "greeting-first", "model": "claude-1",
         "conversation": [{"role": "assistant", "content": "Hello! How can I help?"},
                          {"role": "user", "content": "Sort a list of tuples by the second item in Python."},
                          {"role": "assistant", "content": "`sorted(items, key=lambda t: t[1])`"}]},
        {"conversation_id": "no-answer", "model": "vicuna-13b",
         "conversation": [{"role": "user", "content": "Why is my Docker build cache never used?"},
                          {"role": "assistant", "content": "   "}]},
        {"conversation_id": "unanswered", "conversation": [{"role": "user", "content": "What is a monad?"}]},
    ]
    summary = import_file(write_jsonl(tmp_path / "answers.jsonl", rows), actor=admin, engine=engine)
    assert summary.imported == 3 and summary.baselines == {"claude-1": 1}
    assert baselines(engine) == {"greeting-first": [("claude-1", "`sorted(items, key=lambda t: t[1])`")]}
    assert {q.public_id: q.baseline_model for q in queries(engine)} == {
        "greeting-first": "claude-1", "no-answer": None, "unanswered": None}


# Bad rows: refused with their line or row and field -----------------------------------------------

GOOD = {"conversation_id": "good-1", "model": "vicuna-13b",
        "conversation": [{"role": "user", "content": "How do I list files by size in bash?"},
                         {"role": "assistant", "content": "`ls -lS`"}]}


def _with(**changes) -> dict:
    row = copy.deepcopy(GOOD)
    row["conversation_id"] = "bad-1"
    for key, value in changes.items():
        if value is _DROP:
            del row[key]
        else:
            row[key] = value
    return row


_DROP = object()
BAD_ROWS = {
    "no user turn": (_with(conversation=[{"role": "assistant", "content": "Hi!"}]),
                     "line 2: missing text: 'conversation' has no user turn"),
    "conversation not a list": (_with(conversation="user: hello"),
                                "line 2: wrong type: 'conversation' must be a list of turns, got a string"),
    "conversation empty": (_with(conversation=[]), "line 2: empty text: 'conversation' is an empty list"),
    "conversation null": (_with(conversation=None), "line 2: missing text: 'conversation' is empty"),
    "no conversation": (_with(conversation=_DROP), "line 2: missing text: no 'conversation' field"),
    "content a number": (_with(conversation=[{"role": "user", "content": 42}]),
                         "line 2: wrong type: conversation[1] content must be a string, got a number"),
    "content null": (_with(conversation=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": None}]),
                     "line 2: wrong type: conversation[2] content must be a string, got null"),
    "content missing": (_with(conversation=[{"role": "user"}]), "line 2: missing text: conversation[1] has no 'content'"),
    "blank user turn": (_with(conversation=[{"role": "user", "content": "  "}]),
                        "line 2: empty text: 'conversation' has no non-blank user message"),
    "turn not an object": (_with(conversation=["hello"]),
                           "line 2: wrong type: conversation[1] must be an object, got a string"),
    "role missing": (_with(conversation=[{"content": "hello"}]), "line 2: missing role: conversation[1] has no 'role'"),
    "unknown role": (_with(conversation=[{"role": "user", "content": "hi"}, {"role": "wizard", "content": "x"}]),
                     "line 2: conversation[2] has an unknown role 'wizard'"),
    "missing id": (_with(conversation_id=_DROP), "line 2: missing id: no 'conversation_id' field"),
    "empty id": (_with(conversation_id=" "), "line 2: missing id: 'conversation_id' is empty"),
    "id an object": (_with(conversation_id={"id": 1}),
                     "line 2: wrong type: 'conversation_id' must be a string or a whole number, got an object"),
    "model a list": (_with(model=["gpt-4"]), "line 2: wrong type: 'model' must be a string, got a list"),
    "NUL in an answer": (_with(conversation=[{"role": "user", "content": "hi"},
                                             {"role": "assistant", "content": "a\x00b"}]),
                         "line 2: conversation[2] content contains a NUL character"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_a_bad_chat_log_row_refuses_the_file_naming_its_line_and_field(case, engine, admin, tmp_path):
    bad, expected = BAD_ROWS[case]
    before = counts(engine)
    path = write_jsonl(tmp_path / "lmsys.jsonl", [GOOD, bad, {**GOOD, "conversation_id": "good-3"}])
    with pytest.raises(ImportRefused) as refused:
        import_file(path, actor=admin, engine=engine)
    assert [where for where, _ in refused.value.problems] == ["line 2"]
    assert expected in str(refused.value)
    assert counts(engine) == before


def test_a_wildchat_row_without_its_hash_is_refused(engine, admin, tmp_path):
    rows = [as_json(WILDCHAT_ROWS[0]), {k: v for k, v in as_json(WILDCHAT_ROWS[1]).items() if k != "conversation_hash"}]
    with pytest.raises(ImportRefused, match="line 2: missing id: no 'conversation_hash' field"):
        import_file(write_jsonl(tmp_path / "wildchat.jsonl", rows), actor=admin, engine=engine)
    assert counts(engine)["Query"] == 0


def test_bad_parquet_rows_are_named_by_row_across_row_groups_and_can_be_skipped(engine, admin, tmp_path):
    rows = [copy.deepcopy(row) for row in LMSYS_ROWS + LMSYS_ROWS[:2]]
    for row in rows[5:]:  # another conversation, not a duplicate
        row["conversation_id"] += "-2"
        row["conversation"][0]["content"] += " Please explain each step."
    rows[2]["conversation"][0]["content"] = None  # row 3, in the second row group
    rows[5]["conversation_id"] = None  # row 6, in the third
    path = tmp_path / "lmsys.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=LMSYS_SCHEMA), path, row_group_size=2)
    with pytest.raises(ImportRefused) as refused:
        import_file(path, actor=admin, engine=engine)
    assert refused.value.problems == [("row 3", "wrong type: conversation[1] content must be a string, got null"),
                                      ("row 6", "missing id: 'conversation_id' is empty")]
    assert counts(engine)["Query"] == 0
    summary = import_file(path, actor=admin, skip_bad_rows=True, engine=engine)
    assert (summary.read, summary.imported, summary.errors) == (7, 5, 2)
    assert [q.source_location for q in queries(engine)] == ["row 1", "row 2", "row 4", "row 5", "row 7"]


# Parquet: row groups, and values JSON has no word for -------------------------------------------

def test_a_parquet_file_of_many_row_groups_is_read_whole_and_in_order(engine, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "PARQUET_BATCH_ROWS", 7)  # several batches per row group too
    n = 1_234
    path = tmp_path / "many_groups.parquet"
    pq.write_table(pa.table({"id": [f"p-{i}" for i in range(n)], "prompt": [f"Question number {i}?" for i in range(n)]}),
                   path, row_group_size=100)
    assert pq.ParquetFile(path).metadata.num_row_groups == 13
    summary = import_file(path, actor=admin, engine=engine)
    assert (summary.read, summary.imported) == (n, n)
    found = queries(engine)
    assert [q.public_id for q in found] == [f"p-{i}" for i in range(n)]
    assert [q.source_location for q in found] == [f"row {i + 1}" for i in range(n)]


def test_parquet_times_and_durations_are_kept_as_iso_text(engine, admin, tmp_path):
    table = pa.table({
        "prompt": ["How long did the build take?", "Why is the second build slower?"],
        "elapsed": pa.array([timedelta(minutes=1, seconds=30.5), timedelta(days=-1, seconds=86_395)],
                            pa.duration("us")),
        "elapsed_ns": pa.array([1_500, None], pa.duration("ns")),
        "started": pa.array([1_700_000_000_000_000_000, 1_700_000_000_123_456_789], pa.timestamp("ns", tz="UTC")),
        "day": pa.array([date(2024, 2, 29), None], pa.date32()),
        "at": pa.array([time(12, 30), time(23, 59, 59, 999_999)], pa.time64("us")),
        "steps": pa.array([[{"name": "compile", "took": timedelta(seconds=2)}], []],
                          pa.list_(pa.struct([("name", pa.string()), ("took", pa.duration("ms"))]))),
        "by_stage": pa.array([[("link", timedelta(milliseconds=250))], None], pa.map_(pa.string(), pa.duration("ms"))),
    })
    path = tmp_path / "timed.parquet"
    pq.write_table(table, path)
    import_file(path, actor=admin, engine=engine)
    first, second = (q.extra for q in queries(engine))
    assert first == {"elapsed": "PT1M30.5S", "elapsed_ns": "PT0.0000015S", "started": "2023-11-14T22:13:20+00:00",
                     "day": "2024-02-29", "at": "12:30:00", "steps": [{"name": "compile", "took": "PT2S"}],
                     "by_stage": [["link", "PT0.25S"]]}
    assert second == {"elapsed": "-PT5S", "elapsed_ns": None, "started": "2023-11-14T22:13:20.123456789+00:00",
                      "day": None, "at": "23:59:59.999999", "steps": [], "by_stage": None}
    json.dumps([first, second])  # plain JSON all through


@pytest.mark.parametrize(("value", "text"), [
    (timedelta(0), "PT0S"), (timedelta(seconds=90.5), "PT1M30.5S"), (timedelta(days=2, hours=3), "P2DT3H"),
    (timedelta(hours=1, seconds=1), "PT1H1S"), (timedelta(seconds=-5), "-PT5S"), (timedelta(microseconds=1), "PT0.000001S"),
    (pd.Timedelta(1_500, "ns"), "PT0.0000015S"), (pd.Timedelta(days=1, seconds=1), "P1DT1S"),
])
def test_durations_are_written_in_iso_8601(value, text):
    assert iso_duration(value) == text


def test_a_parquet_file_broken_after_its_first_row_group_is_never_half_imported(engine, admin, tmp_path):
    path = tmp_path / "cut.parquet"
    pq.write_table(pa.table({"prompt": [f"Question {i}: what does this regex match?" for i in range(300)]}), path,
                   row_group_size=100, compression="snappy")
    metadata = pq.ParquetFile(path).metadata
    second_group = metadata.row_group(1).column(0)
    data = bytearray(path.read_bytes())
    start = second_group.data_page_offset
    data[start:start + second_group.total_compressed_size] = b"\xff" * second_group.total_compressed_size
    path.write_bytes(bytes(data))
    with pytest.raises(ImportRefused) as refused:
        import_file(path, actor=admin, skip_bad_rows=True, engine=engine)  # skipping a row never drops the rest
    assert refused.value.problems[-1][0] == "row 101"
    assert "unreadable Parquet data" in refused.value.problems[-1][1]
    assert "the rest of the file was not read" in refused.value.problems[-1][1]
    assert counts(engine)["Query"] == 0


# The command line ---------------------------------------------------------------------------------

def test_the_cli_imports_a_dump_and_names_its_shape(db_url, cli):
    result = cli("import", SAMPLES / "lmsys_chat.jsonl.gz", "--no-triage", "--json")
    assert result.code == 0, result.err
    summary = result.json()
    assert (summary["shape"], summary["read"], summary["imported"]) == ("lmsys-chat", len(LMSYS_ROWS), len(LMSYS_ROWS))
    assert summary["baselines"] == {row["model"]: 1 for row in LMSYS_ROWS}
    text = cli("import", SAMPLES / "wildchat.parquet", "--no-triage")
    assert text.code == 0, text.err
