"""Hypothesis fuzzing of the two readers of outside data: the query importer and the ratings
reader. Whatever the bytes, the answer is a result or a clear refusal, never a crash, and a
refusal changes nothing."""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, func, select

from curation_app.core.agreement import RatingsError, read_ratings_csv
from curation_app.core.errors import CurationError
from curation_app.core.importer import import_file
from curation_app.models import Query

# FUZZ_EXAMPLES=5000 for a longer hunt.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Plain JSON: NaN and Infinity are not JSON numbers, and the importer refuses them (tested in test_import).
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12)
records = st.dictionaries(
    st.sampled_from(["id", "prompt", "messages", "turns", "conversations", "question", "text", "x_response", "meta"]),
    json_values | st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "bot"]),
                                                 "content": st.text(max_size=40)}), max_size=3),
    max_size=4)


def query_count(engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Query)).one()


@FUZZ
@given(lines=st.lists(records | json_values, min_size=0, max_size=8), junk=st.binary(max_size=40))
def test_importer_imports_or_refuses_cleanly(sqlite_db, admin, tmp_path_factory, lines, junk):
    from curation_app.database import get_engine

    engine = get_engine(sqlite_db)
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.jsonl"
    path.write_bytes(b"".join(json.dumps(line).encode() + b"\n" for line in lines) + junk)
    before = query_count(engine)
    try:
        summary = import_file(path, actor=admin, engine=engine, skip_bad_rows=False)
    except CurationError as refusal:
        assert str(refusal) and "\n" not in str(refusal).strip()
        assert query_count(engine) == before
    else:
        assert summary.errors == 0 and query_count(engine) == before + summary.imported


@FUZZ
@given(content=st.binary(max_size=300), level=st.sampled_from(["nominal", "ordinal", "interval", "multilabel"]))
def test_ratings_reader_reads_or_refuses_cleanly(tmp_path_factory, content, level):
    path = tmp_path_factory.mktemp("ratings") / "ratings.csv"
    path.write_bytes(b"item,annotator,value\n" + content)
    try:
        frame = read_ratings_csv(path, level=level)
    except RatingsError as refusal:
        assert str(refusal)
    else:
        assert list(frame.columns)[:3] == ["item", "annotator", "value"]


@FUZZ
@given(items=st.lists(json_values, max_size=6), indent=st.sampled_from([None, 0, 2]), chunk=st.integers(1, 40),
       cut=st.integers(0, 400), junk=st.binary(max_size=8))
def test_json_arrays_stream_as_they_parse_whole(tmp_path_factory, items, indent, chunk, cut, junk):
    """Read element by element in chunks of any size, a JSON array gives what json.loads gives;
    a cut or garbled file gives a clear problem, never an exception."""
    from curation_app.core import readers

    text = json.dumps(items, indent=indent, ensure_ascii=False).encode()
    path = tmp_path_factory.mktemp("array") / "items.json"
    for content in (text, text[:cut] + junk):
        path.write_bytes(content)
        original, readers._JSON_CHUNK_BYTES = readers._JSON_CHUNK_BYTES, chunk
        try:
            records = list(readers.read_records(path, "json")[1])
        finally:
            readers._JSON_CHUNK_BYTES = original
        if content == text:
            assert [r.record for r in records if r.problem is None] == [i for i in items if isinstance(i, dict)]
            assert len(records) == len(items)
        for record in records:
            assert (record.record is None) == (record.problem is not None)
            assert record.problem is None or "\n" not in record.problem


@FUZZ
@given(value=json_values | st.dictionaries(st.sampled_from(["quality", "minutes", "other"]),
                                           json_values | st.floats() | st.text(max_size=8), max_size=3),
       setting=st.lists(st.dictionaries(st.sampled_from(["name", "level", "min", "max", "step", "required"]),
                                        json_values, max_size=6), max_size=2))
def test_score_fields_and_scores_are_checked_or_refused_cleanly(value, setting):
    """Any setting value is refused with reasons or accepted; any scores for an accepted one come
    back in range and on the scale's steps, or are refused with InvalidInput."""
    from curation_app.core.errors import InvalidInput
    from curation_app.core.scores import clean_scores, from_setting, score_field_problems

    fields = from_setting([{"name": "quality", "level": "interval", "min": 1, "max": 5, "step": 1},
                           {"name": "minutes", "level": "ratio", "min": 0, "max": 600}])
    problems = score_field_problems(setting)
    if not problems:
        assert len(from_setting(setting)) == len(setting)
    try:
        cleaned = clean_scores(value, fields)
    except InvalidInput:
        return
    for name, number in (cleaned or {}).items():
        field = next(f for f in fields if f.name == name)
        assert field.minimum <= number <= field.maximum
        assert field.step is None or float(number).is_integer()


# Texts as they come, NUL and control characters included: both databases store the same rows or
# refuse the same file, never a database error.
odd_text = st.text(alphabet=st.sampled_from(["a", "b", " ", "\x00", "\n", "\t", "\x7f", "\u00e9", "\U0001f600"]),
                   max_size=10)
odd_records = st.fixed_dictionaries(
    {"prompt": odd_text | st.just("a fine question")},
    optional={"id": odd_text, "gpt_response": odd_text,
              "meta": st.dictionaries(odd_text, odd_text | st.lists(odd_text, max_size=3), max_size=3)})


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in _strings(key) + _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


@FUZZ
@given(rows=st.lists(odd_records, min_size=1, max_size=5))
def test_any_text_is_stored_or_refused_alike_on_both_databases(engine, admin, tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("odd") / "odd.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    before = query_count(engine)
    refused_rows = [row for row in rows if any("\x00" in s for s in _strings(row)) or not row["prompt"].strip()]
    try:
        summary = import_file(path, actor=admin, engine=engine)
    except CurationError as refusal:
        assert refused_rows, str(refusal)
        assert "\n" not in str(refusal) and query_count(engine) == before
    else:
        assert not refused_rows
        assert query_count(engine) == before + summary.imported
