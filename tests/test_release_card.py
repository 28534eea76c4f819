"""The dataset card is true of its data: every config it declares loads with `datasets`, JSONL
and Parquet give the same rows and column types, and the card states the project's licence and
languages, the counts from import to release, the contamination check and which items each
agreement figure covers, with no raw HTML from user-made names."""

from __future__ import annotations

import json
import random

import pandas as pd
import pyarrow.parquet as pq
import pytest

from curation_app.core import adjudicate, annotation_io
from curation_app.core import release as release_api
from curation_app.core.importer import import_file
from curation_app.core.release import ReleaseSpec, card
from curation_app.core.triage import database as triage_db
from curation_app.database import session_scope
from tests.conftest import missing_real_part
from tests.factories import ROW, write_csv, write_jsonl

def _prompt(i: int) -> str:
    rng = random.Random(i)  # words of its own, so no two queries share an 8-gram
    return f"question {i}: " + " ".join(f"word{rng.randrange(100_000)}" for _ in range(12)) + " in sql"


@pytest.fixture
def project(engine, admin, tmp_path, monkeypatch):
    """40 queries from a source with a user-made name (plus 2 exact duplicates in the file): 30 kept
    unanimously, 5 rejected, 5 in conflict; 2 kept queries in a benchmark, one cleared by a lead."""
    monkeypatch.setenv("CURATION_EXPORTS_DIR", str(tmp_path / "exports"))
    rows = [{"id": f"q{i:02d}", "prompt": _prompt(i)} for i in range(40)]
    rows += [{"id": "again0", "prompt": _prompt(0)}, {"id": "again1", "prompt": _prompt(1)}]
    summary = import_file(write_jsonl(tmp_path / "queries.jsonl", rows), actor=admin, engine=engine,
                          source="<i>forum</i>")
    assert (summary.imported, summary.duplicates) == (40, 2)
    labels = []
    for i in range(40):
        values = {**ROW, "reference_answer": "" if i % 2 else f"answer {i}", "notes": ""}
        if 30 <= i < 35:
            values = {**values, "decision": "reject", "reject_reason": "too trivial", "category": "",
                      "subcategory": "", "languages": "", "difficulty": "", "reference_answer": ""}
        second = dict(values, decision="reject", reject_reason="unclear", category="", subcategory="",
                      languages="", difficulty="", reference_answer="") if i >= 35 else values
        labels += [{"query_id": f"q{i:02d}", "annotator": "ann_a", **values},
                   {"query_id": f"q{i:02d}", "annotator": "ann_b", **second}]
    annotation_io.import_annotations(write_csv(tmp_path / "labels.csv", labels), actor=admin, engine=engine)
    benchmark = write_jsonl(tmp_path / "<em>bench.jsonl", [{"id": "b1", "prompt": _prompt(3)},
                                                             {"id": "b2", "prompt": _prompt(4)}])
    with session_scope(engine) as session:
        assert adjudicate.apply_rule(session, actor=admin)["finalised"] == 35
        triage_db.run_triage(session, actor=admin, benchmark_files=[benchmark], ngram=8)
        triage_db.clear_flags(session, actor=admin, public_id="q04", reason="checked: a common phrasing")
    return tmp_path / "exports"


def _release(engine, admin, **spec) -> tuple:
    with session_scope(engine) as session:
        created = release_api.create_release(session, actor=admin, name="bench", version="1.0",
                                             spec=ReleaseSpec(**spec))
    folder = release_api.exports_dir() / "bench" / "1.0"
    return created, folder, json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def _front_matter(text: str) -> dict:
    import yaml  # installed with datasets

    assert text.startswith("---\n")
    return yaml.safe_load(text.split("\n---\n", 1)[0][4:])


def test_every_declared_config_loads_with_datasets_and_jsonl_matches_parquet(engine, admin, project, tmp_path,
                                                                             monkeypatch):
    for name, value in (("HF_DATASETS_OFFLINE", "1"), ("HF_HUB_OFFLINE", "1"), ("HF_HOME", str(tmp_path / "hf"))):
        monkeypatch.setenv(name, value)
    try:
        import datasets
    except ImportError:
        missing_real_part("the datasets package is not installed (requirements-dev.txt)")
    created, folder, _manifest = _release(engine, admin)
    assert created["items"] == 29  # 30 kept, q03 held out by its contamination evidence
    front = _front_matter((folder / "README.md").read_text(encoding="utf-8"))
    schema = pq.read_schema(folder / "data.parquet")
    expected = datasets.Features.from_arrow_schema(schema)
    parquet_rows = pq.read_table(folder / "data.parquet").to_pylist()
    assert [c["config_name"] for c in front["configs"]] == ["default"]
    for config in front["configs"]:
        loaded = datasets.load_dataset(str(folder), config["config_name"], split="test", cache_dir=str(tmp_path / "c"))
        assert loaded.features == expected, config
        assert loaded.to_list() == parquet_rows
    # The card's way to read the JSONL with datasets: the same types, including all-null columns.
    jsonl = datasets.load_dataset("json", data_files=str(folder / "data.jsonl"), split="train",
                                  features=loaded.features, cache_dir=str(tmp_path / "c"))
    assert jsonl.features == loaded.features and jsonl.to_list() == loaded.to_list()
    all_null = [name for name in schema.names if all(row[name] is None for row in parquet_rows)]
    assert {"baseline_answer", "original_messages"} <= set(all_null)
    for name in all_null:
        assert loaded.features[name] == jsonl.features[name] == datasets.Value("string"), name
    # pandas: the card's read_json dtypes give the Parquet reader's dtypes, column by column.
    from_parquet = pd.read_parquet(folder / "data.parquet")
    from_jsonl = pd.read_json(folder / "data.jsonl", lines=True, dtype=card.pandas_dtypes(schema))
    assert from_jsonl.dtypes.to_dict() == from_parquet.dtypes.to_dict()
    for name in card.pandas_dtypes(schema):
        pd.testing.assert_series_equal(from_jsonl[name], from_parquet[name], check_names=True)
    assert json.dumps(card.pandas_dtypes(schema)) in (folder / "README.md").read_text(encoding="utf-8")


def test_the_card_states_licence_languages_funnel_contamination_and_agreement_scope(engine, admin, project, cli):
    assert cli("settings", "set", "license", "cc-by-4.0").code == 0
    assert cli("settings", "set", "dataset_languages", "en, zh").code == 0
    refused = cli("settings", "set", "license", "CC BY <4>")
    assert refused.code != 0 and "setting license" in refused.err and "licence id" in refused.err
    refused = cli("settings", "set", "dataset_languages", "en,<script>")
    assert refused.code != 0 and "'<script>': not an ISO 639 language code" in refused.err
    assert "names a language twice" in cli("settings", "set", "dataset_languages", "en,en").err

    created, folder, manifest = _release(engine, admin, size=20, seed=3)
    text = (folder / "README.md").read_text(encoding="utf-8")
    front = _front_matter(text)
    assert front["license"] == "cc-by-4.0" and front["language"] == ["en", "zh"]
    assert "- Licence: `cc-by-4.0`.\n- Languages of the queries: en, zh.\n" in text
    assert manifest["funnel"] == {
        "files": 1, "read": 42, "duplicates_at_import": 2, "skipped_at_import": 0, "imported": 40,
        "confirmed_duplicates": 0, "not_final": 5, "rejected": 5, "kept": 30, "held_out_by_triage": 1,
        "outside_filters": 0, "not_sampled": 9, "released": 20}
    assert "| exact duplicates, not imported | 2 |" in text and "| rejected | 5 |" in text
    assert "| kept, not drawn by the sample | 9 |\n| released | 20 |\n" in text
    assert manifest["sources"] == [{"source": "<i>forum</i>", "files": ["queries.jsonl"], "read": 42, "imported": 40,
                                    "duplicates": 2, "released": 20}]
    assert "| &lt;i&gt;forum&lt;/i&gt; | queries.jsonl | 42 | 2 | 40 | 20 |" in text
    (checked,) = manifest["contamination"]["benchmarks"]
    assert checked["benchmark"] == "<em>bench.jsonl" and checked["ngram"] == 8
    assert (checked["queries_with_evidence"], checked["cleared_by_a_lead"]) == (2, 1)
    released_ids = {json.loads(line)["id"] for line in (folder / "data.jsonl").read_text().splitlines()}
    assert checked["released_ids"] == (["q04"] if "q04" in released_ids else [])
    assert "| &lt;em&gt;bench.jsonl |" in text and "<em>" not in text and "<i>" not in text
    # Agreement: the released items' figures and the project's, each saying what it covers.
    assert manifest["agreement"]["decision"]["n_items"] == 20 and manifest["agreement_all"]["decision"]["n_items"] == 40
    assert manifest["agreement"]["decision"]["percent_agreement"] == pytest.approx(1.0)
    assert manifest["agreement_all"]["decision"]["percent_agreement"] == pytest.approx(35 / 40)
    assert "Agreement on the 20 released items" in text and "Agreement over the whole project" in text
    assert "| decision | nominal | 40 | 0.875 |" in text and "| decision | nominal | 20 | 1.000 |" in text
    # Texts that depend on the data: half the kept items have a reference answer, none is rewritten.
    answered = manifest["content"]["with_reference_answer"]
    assert 0 < answered < 20 and f"{answered} of the 20 items have a reference answer" in text
    assert "no prompt was rewritten" in text


def test_card_texts_follow_the_data_when_nothing_is_set_answered_or_checked(engine, admin, project):
    _created, folder, manifest = _release(engine, admin, difficulties=("easy",), size=1, seed=0)
    text = (folder / "README.md").read_text(encoding="utf-8")
    front = _front_matter(text)
    assert front["license"] == "unknown" and "language" not in front
    assert "- Licence: not stated.\n- Languages of the queries: not stated.\n" in text
    base = {**manifest, "content": {"with_reference_answer": 0, "rewritten": 0},
            "contamination": {"triage_runs": 0, "last_run": None, "queries_with_evidence": 0, "benchmarks": []}}
    rendered = card.dataset_card("bench", "1.0", base, manifest["distributions"])
    assert "No item has a reference answer: `reference_answer` is null in every row." in rendered
    assert "written by annotators" not in rendered
    assert "No contamination check was run" in rendered
    answered = card.dataset_card("bench", "1.0", {**base, "content": {"with_reference_answer": 1, "rewritten": 1}},
                                 manifest["distributions"])
    assert "Every item has a reference answer" in answered and "For 1 item(s) `messages` is the benchmark" in answered
