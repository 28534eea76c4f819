"""Frozen releases: files and keys, byte-identical re-creation, verify, diff, immutability,
stratified selection, atomic writing; and the whole path on real data."""

from __future__ import annotations

import json
import random
from pathlib import Path

import jinja2
import pandas as pd
import pyarrow as pa
import pyarrow.json
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from curation_app.core import adjudicate, annotation_io, release
from curation_app.core.errors import Conflict
from curation_app.core.importer import import_answers, import_file
from curation_app.core.labels import FIELDS
from curation_app.core.project import load_project
from curation_app.core.release import ReleaseSpec, card, freeze
from curation_app.core.taxonomy import default_taxonomy
from curation_app.database import session_scope
from curation_app.models import Release
from tests.conftest import run_until_marker_then_kill, shared_file
from tests.factories import ROW, write_csv, write_jsonl

TAXONOMY = default_taxonomy()
PAIRS = [(main, sub) for main, subs in TAXONOMY.categories.items() for sub in subs]
LANGUAGES = ["python", "js", "c++", "sql", "go", "rust", "java", "bash"]
DIFFICULTIES = ["easy", "medium", "hard"]


def build_finals(engine, admin, tmp_path, n: int = 120, seed: int = 0, row_fields=None) -> None:
    """n queries, each labelled the same way by two annotators, finalised by the default rule;
    row_fields(i) gives more fields of query i's imported row."""
    rng = random.Random(seed)
    rows = [{"id": f"r{i:03d}", "prompt": f"release question {i}", **(row_fields(i) if row_fields else {})}
            for i in range(n)]
    import_file(write_jsonl(tmp_path / "queries.jsonl", rows), actor=admin, engine=engine)
    labels = []
    for i in range(n):
        main, sub = PAIRS[i % len(PAIRS)]
        values = {**ROW, "category": main, "subcategory": sub, "languages": rng.choice(LANGUAGES),
                  "difficulty": DIFFICULTIES[(i * 7) % 3] if i % 5 else "easy", "reference_answer": f"answer {i}",
                  "notes": ""}
        labels += [{"query_id": f"r{i:03d}", "annotator": who, **values} for who in ("ann_a", "ann_b")]
    annotation_io.import_annotations(write_csv(tmp_path / "labels.csv", labels), actor=admin, engine=engine)
    with session_scope(engine) as session:
        assert adjudicate.apply_rule(session, actor=admin)["finalised"] == n


@pytest.fixture
def finals(engine, admin, tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_EXPORTS_DIR", str(tmp_path / "exports"))
    build_finals(engine, admin, tmp_path)
    return tmp_path / "exports"


def make(engine, admin, name="bench", version="1.0", **spec) -> dict:
    with session_scope(engine) as session:
        return release.create_release(session, actor=admin, name=name, version=version, spec=ReleaseSpec(**spec))


def test_release_folder_keys_types_and_card(engine, admin, finals):
    created = make(engine, admin)
    folder = finals / "bench" / "1.0"
    assert created == {"path": str(folder), "items": 120, "sha256": created["sha256"], "problems": created["problems"]}
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "data.jsonl", "data.parquet", "manifest.json"]
    rows = [json.loads(line) for line in (folder / "data.jsonl").read_text().splitlines()]
    assert list(rows[0]) == list(release.ITEM_KEYS)
    assert rows[0]["id"] == "r000" and isinstance(rows[0]["programming_language"], list)
    assert rows[0]["messages"] == [{"role": "user", "content": "release question 0"}]
    assert rows[0]["label_source"] == "unanimous" and rows[0]["n_annotators"] == 2
    frame = pd.read_json(folder / "data.jsonl", lines=True)
    parquet = pd.read_parquet(folder / "data.parquet")
    assert len(frame) == len(parquet) == 120 and list(parquet.columns) == list(release.ITEM_KEYS)
    table = pq.read_table(folder / "data.parquet")
    assert table.schema.equals(release.parquet_schema())
    assert table.column("id").to_pylist() == frame["id"].tolist()
    from_jsonl = pyarrow.json.read_json(folder / "data.jsonl")  # pyarrow reads the JSONL too, with the same types
    assert from_jsonl.column_names == list(release.ITEM_KEYS)
    for name in ("id", "messages", "programming_language", "category", "rewritten"):
        assert from_jsonl.schema.field(name).type == release.parquet_schema().field(name).type, name
    assert pa.types.is_integer(from_jsonl.schema.field("n_annotators").type)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["files"]["data.jsonl"]["sha256"] == created["sha256"]
    assert manifest["items"] == 120 and manifest["guideline_versions"] == ["v1"]
    assert manifest["agreement"]["category"]["krippendorff_alpha"] == pytest.approx(1.0)
    card = (folder / "README.md").read_text()
    front = card.split("---")[1]
    # One config: `datasets` reads a folder with one builder (see test_release_card.py).
    assert "configs:" in front and "path: data.parquet" in front and "path: data.jsonl" not in front
    assert "task_categories:" in front
    assert "## How the items were selected" in card and "Krippendorff's alpha" in card and "| difficulty |" in card


JUDGE_MODEL = "gpt-4-turbo-2024-04-09"  # the baseline CodeArena's judge compares against


def test_each_baseline_is_released_under_its_models_response_key(engine, admin, tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_EXPORTS_DIR", str(tmp_path / "exports"))
    build_finals(engine, admin, tmp_path, n=12,
                 row_fields=lambda i: {f"{JUDGE_MODEL}_response": f"turbo answer {i}"} if i % 4 else {})
    second = [{"question_id": f"r{i:03d}", "model_id": "gpt-4-0314",
               "choices": [{"turns": [{"content": f"0314 answer {i}"}]}]} for i in range(0, 12, 2)]
    import_answers(write_jsonl(tmp_path / "gpt-4-0314_answers.jsonl", second), actor=admin, engine=engine)
    created = make(engine, admin, name="arena", version="1.0")
    folder = Path(created["path"])

    # CodeArena's judge: open the JSONL and index item[f"{model}_response"] for every item.
    with open(folder / "data.jsonl", encoding="utf-8") as handle:
        items = [json.loads(line) for line in handle]
    turbo = {item["id"]: item[f"{JUDGE_MODEL}_response"] for item in items}
    assert turbo == {f"r{i:03d}": f"turbo answer {i}" if i % 4 else None for i in range(12)}
    by_id = {item["id"]: item for item in items}
    assert by_id["r002"]["gpt-4-0314_response"] == "0314 answer 2" and by_id["r001"]["gpt-4-0314_response"] is None
    assert by_id["r002"]["baseline_models"] == [JUDGE_MODEL, "gpt-4-0314"]
    assert by_id["r002"]["baseline_answer"] == "turbo answer 2"  # the first one imported
    assert (by_id["r004"]["baseline_models"], by_id["r004"]["baseline_answer"]) == (["gpt-4-0314"], "0314 answer 4")
    assert (by_id["r001"]["baseline_models"], by_id["r003"]["baseline_answer"]) == ([JUDGE_MODEL], "turbo answer 3")
    assert all(list(item) == [*release.ITEM_KEYS, "gpt-4-0314_response", f"{JUDGE_MODEL}_response"]
               for item in items)

    table = pq.read_table(folder / "data.parquet")  # one type per column
    assert table.schema.equals(release.parquet_schema((), ["gpt-4-0314_response", f"{JUDGE_MODEL}_response"]))
    assert table.column(f"{JUDGE_MODEL}_response").to_pylist() == list(turbo.values())
    assert pa.types.is_list(table.schema.field("baseline_models").type)
    from_jsonl = pyarrow.json.read_json(folder / "data.jsonl")
    assert from_jsonl.schema.field(f"{JUDGE_MODEL}_response").type == pa.string()

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["baseline_models"] == {"gpt-4-0314": 6, JUDGE_MODEL: 9}
    assert manifest["keys"][-2:] == ["gpt-4-0314_response", f"{JUDGE_MODEL}_response"]
    card_text = (folder / "README.md").read_text()
    assert "## Baseline answers" in card_text
    assert f"| {JUDGE_MODEL} | `{JUDGE_MODEL}_response` | 9 |" in card_text
    assert release.verify(folder) == []

    # A model's replaced answer is a change of that item in the next version.
    fixed = [{"question_id": "r002", "model_id": "gpt-4-0314", "choices": [{"turns": [{"content": "better"}]}]}]
    assert import_answers(write_jsonl(tmp_path / "fix.jsonl", fixed), actor=admin, engine=engine).replaced == 1
    newer = make(engine, admin, name="arena", version="1.1")
    assert release.diff(folder, newer["path"])["changed"] == [{"id": "r002", "fields": ["gpt-4-0314_response"]}]


def test_a_release_without_baselines_has_no_response_keys(engine, admin, finals):
    folder = Path(make(engine, admin)["path"])
    first = json.loads((folder / "data.jsonl").read_text().splitlines()[0])
    assert not [key for key in first if key.endswith("_response")]
    assert first["baseline_models"] == [] and first["baseline_answer"] is None
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["baseline_models"] == {}
    assert "## Baseline answers" not in (folder / "README.md").read_text()


def test_the_card_renders_from_its_template_and_escapes_table_cells():
    assert (Path(card.__file__).parent / "card.md.j2").is_file()  # shipped next to the module
    manifest = {
        "items": 3, "files": {"data.jsonl": {"sha256": "ab" * 32, "bytes": 1234567}},
        "selection": {"spec": {"size": None, "seed": 0, "categories": ["a|b"], "mix": {}},
                      "report": {"pool": 3, "problems": []}},
        "agreement": {"category": {"level": "nominal", "n_items": 3, "n_annotators": 2, "percent_agreement": 0.5,
                                   "krippendorff_alpha": None, "alpha_ci95": {"low": 0.25, "high": 0.75}}},
        "scores": [{"name": "quality", "label": "Quality | <1-5>", "level": "interval", "scale_min": 1,
                    "scale_max": 5, "items": 2, "mean": 3.5, "min": 3, "max": 4}],
        "guideline_versions": ["v1"], "taxonomy": {"name": "CodeArena", "version": "1"},
        "rule": {"min_annotations": 2, "keep_quorum": 2}, "tool_version": "0.1", "created_at": "2024-01-01T00:00:00",
        "agreement_all": {}, "license": None, "languages": [], "content": {"with_reference_answer": 3, "rewritten": 0},
        "sources": [{"source": "<b>import</b>", "files": ["a.jsonl"], "read": 3, "imported": 3, "duplicates": 0,
                     "released": 3}],
        "funnel": {"files": 1, "read": 3, "duplicates_at_import": 0, "skipped_at_import": 0, "imported": 3,
                   "confirmed_duplicates": 0, "not_final": 0, "rejected": 0, "kept": 3, "held_out_by_triage": 0,
                   "outside_filters": 0, "not_sampled": 0, "released": 3},
        "contamination": {"triage_runs": 0, "last_run": None, "queries_with_evidence": 0, "benchmarks": []}}
    dists = {"category": {"pipes | and\nnew lines": 2, "<html> & `code`": 1}, "subcategory": {}, "difficulty": {},
             "programming_language": {}, "source": {"<b>import</b>": 3}, "label_source": {"unanimous": 3}}
    rendered = release.dataset_card("bench", "1.0", manifest, dists)
    assert rendered.startswith('---\npretty_name: "bench 1.0"\n') and rendered.endswith("on 2024-01-01T00:00:00.\n")
    assert "| pipes \\| and new lines | 2 | 66.7% |\n| &lt;html&gt; &amp; `code` | 1 | 33.3% |\n\n" in rendered
    assert "<b>" not in rendered and "| &lt;b&gt;import&lt;/b&gt; | a.jsonl | 3 | 0 | 3 | 3 |" in rendered
    assert "| Quality \\| &lt;1-5&gt; (`quality`) | interval | 1 to 5 | 2 | 3.500 | 3 | 4 |\n\n## Distributions" in rendered
    assert "| category | nominal | 3 | 0.500 | n/a | 0.250 to 0.750 |\n" in rendered
    assert 'holds out, filtered by {"categories": ["a|b"]}: 3 items.' in rendered
    assert "| subcategory | items | share |\n| --- | ---: | ---: |\n\n" in rendered  # an empty table keeps its header
    assert "| data.jsonl | 1,234,567 | `" in rendered and "(`label_source`: unanimous 3)" in rendered
    del manifest["tool_version"]
    with pytest.raises(jinja2.UndefinedError):  # a missing value fails instead of leaving a gap in the card
        release.dataset_card("bench", "1.0", manifest, dists)


def test_recreating_from_the_same_state_gives_identical_data_files(engine, admin, finals):
    first = make(engine, admin, version="1.0", size=50, seed=7)
    second = make(engine, admin, version="1.0-again", size=50, seed=7)
    assert first["sha256"] == second["sha256"]
    for name in release.DATA_FILES:
        assert (finals / "bench" / "1.0" / name).read_bytes() == (finals / "bench" / "1.0-again" / name).read_bytes()


def test_verify_passes_then_names_the_file_with_one_changed_byte(engine, admin, finals, cli, db_url):
    make(engine, admin)
    folder = finals / "bench" / "1.0"
    assert release.verify(folder) == []
    assert cli("release", "verify", folder).code == 0
    data = bytearray((folder / "data.parquet").read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / "data.parquet").write_bytes(bytes(data))
    assert release.verify(folder) == [f"{folder / 'data.parquet'}: sha256 differs from the manifest"]
    result = cli("release", "verify", folder)
    assert result.code == 1 and "data.parquet: sha256 differs" in result.err
    (folder / "extra.txt").write_text("x")
    (folder / "README.md").unlink()
    problems = release.verify(folder)
    assert f"{folder / 'README.md'}: missing" in problems and f"{folder / 'extra.txt'}: not in the manifest" in problems


def test_a_manifest_rewritten_to_match_changed_data_is_caught_against_the_database(engine, admin, finals, cli,
                                                                                    db_url):
    make(engine, admin)
    folder = finals / "bench" / "1.0"
    rows = (folder / "data.jsonl").read_text().splitlines()
    (folder / "data.jsonl").write_text("\n".join(rows[1:]) + "\n")  # an item quietly dropped...
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["data.jsonl"] = {"sha256": release.file_sha256(folder / "data.jsonl"),
                                       "bytes": (folder / "data.jsonl").stat().st_size}
    (folder / "manifest.json").write_text(json.dumps(manifest))  # ...and the manifest made to agree
    assert release.verify(folder) == []  # the folder alone cannot tell
    with Session(engine) as session:
        recorded = release.recorded_files(session, folder)
    assert release.verify(folder, recorded=recorded) == [
        f"{folder / 'manifest.json'}: the entry for data.jsonl differs from the database's record of this release"]
    result = cli("release", "verify", folder)  # the CLI asks the project's database when there is one
    assert result.code == 1 and "differs from the database's record" in result.err
    (folder / "extra.jsonl").write_text("{}\n")  # a file slipped in, with a manifest entry to match
    manifest["files"]["extra.jsonl"] = {"sha256": release.file_sha256(folder / "extra.jsonl"), "bytes": 3}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert f"{folder / 'manifest.json'}: lists extra.jsonl, which the database's record of this release does not" \
        in release.verify(folder, recorded=recorded)


def test_verify_with_no_database_answering_checks_the_manifest_alone_and_says_so(engine, admin, finals, cli,
                                                                                 monkeypatch):
    make(engine, admin)
    folder = finals / "bench" / "1.0"
    monkeypatch.setenv("CURATION_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nothing_listens_here")
    result = cli("release", "verify", folder)
    assert result.code == 0 and "every file matches the manifest" in result.out
    assert "could not be read" in result.err and "checking against the manifest alone" in result.err


def test_diff_between_two_real_releases(engine, admin, finals, cli, db_url):
    make(engine, admin, version="1.0", size=30, seed=1)
    item = json.loads((finals / "bench" / "1.0" / "data.jsonl").read_text().splitlines()[0])["id"]
    with session_scope(engine) as session:  # a lead changes a released item's label: only a new version shows it
        view = adjudicate.adjudication_view(session, actor=admin, public_id=item)
        adjudicate.resolve(session, actor=admin, public_id=item,
                           fields={**{k: v for k, v in view.final.items() if k in FIELDS},
                                   "difficulty": "hard" if view.final["difficulty"] != "hard" else "easy"},
                           rationale="harder than it looks", expected_revision=view.final_revision)
    make(engine, admin, version="1.1")
    changes = release.diff(finals / "bench" / "1.0", finals / "bench" / "1.1")
    assert len(changes["added"]) == 90 and changes["removed"] == [] and changes["unchanged"] == 29
    assert changes["changed"] == [{"id": item, "fields": ["difficulty", "label_source", "field_sources"]}]
    assert release.verify(finals / "bench" / "1.0") == []  # the frozen release did not move
    back = release.diff(finals / "bench" / "1.1", finals / "bench" / "1.0")
    assert len(back["removed"]) == 90 and back["added"] == []
    result = cli("release", "diff", finals / "bench" / "1.0", finals / "bench" / "1.1", "--json")
    assert result.json() == changes
    text_output = cli("release", "diff", finals / "bench" / "1.0", finals / "bench" / "1.1").out
    assert f"~ {item}: difficulty, label_source, field_sources" in text_output
    assert text_output.strip().endswith("90 added, 0 removed, 1 changed, 29 unchanged")


def test_a_frozen_release_refuses_changes(engine, admin, finals):
    make(engine, admin)
    with pytest.raises(Conflict, match="already exists and is frozen"):
        make(engine, admin)
    for statement in ("UPDATE release_item SET item = NULL", "DELETE FROM release_item",
                      "UPDATE release SET n_items = 0", "DELETE FROM release"):
        with pytest.raises(Exception, match="frozen release"):
            with engine.begin() as connection:
                connection.execute(text(statement))
    with Session(engine) as session:
        assert session.exec(select(Release)).one().n_items == 120


def test_stratified_selection_meets_quotas_and_covers_subcategories(engine, admin, finals):
    with session_scope(engine) as session:
        spec = ReleaseSpec(size=60, seed=3, mix=release.parse_mix("easy=25,medium=40,hard=35", TAXONOMY))
        preview = release.preview(session, actor=admin, spec=spec, with_agreement=False)
        again = release.preview(session, actor=admin, spec=spec, with_agreement=False)
    report = preview.report
    assert report["selected"] == 60 and report["shortfall"] == 0 and report["problems"] == []
    assert report["without_reference_answer"] == {"count": 0, "ids": []}
    assert {d: f["selected"] for d, f in report["difficulty"].items()} == {"easy": 15, "medium": 24, "hard": 21}
    assert report["subcategories_covered"] == 40
    assert report["languages_covered"] == report["languages_in_pool"] == len(LANGUAGES)
    assert [i["id"] for i in preview.items] == [i["id"] for i in again.items]  # the seed decides


def test_selection_reports_what_the_pool_cannot_meet(engine, admin, finals):
    with session_scope(engine) as session:
        pool, _ = release._pool(session, ReleaseSpec(), load_project(session).score_fields)
    hard = sum(1 for i in pool if i["difficulty"] == "hard")
    spec = ReleaseSpec(size=100, mix=(("easy", 0.0), ("medium", 0.0), ("hard", 1.0)))
    chosen, report = release.select_items(pool, spec, TAXONOMY)
    assert len(chosen) == hard and report["shortfall"] == 100 - hard
    assert f"asked for 100 items, the pool allows {hard}: {100 - hard} short" in report["problems"]
    assert f"hard: quota 100, only {hard} ({hard} in the pool)" in report["problems"]
    _, too_big = release.select_items(pool, ReleaseSpec(size=500), TAXONOMY)
    assert too_big["shortfall"] == 380


def test_a_failure_mid_write_leaves_no_release_and_no_partial_folder(engine, admin, finals, monkeypatch):
    def broken(jsonl, path, schema):
        path.write_bytes(b"half a parquet file")
        raise OSError("disk full")

    monkeypatch.setattr(freeze, "parquet_from_jsonl", broken)
    with pytest.raises(OSError, match="disk full"):
        make(engine, admin)
    assert not (finals / "bench" / "1.0").exists()
    assert list((finals / "bench").iterdir()) == []
    with Session(engine) as session:
        assert session.exec(select(Release)).all() == []


KILL_EXPORT = """
import sys, time
from pathlib import Path
from curation_app.core import release
from curation_app.core.auth import command_line_actor
from curation_app.core.release import freeze
from curation_app.database import get_engine, session_scope
real = freeze.parquet_from_jsonl
def slow(jsonl, path, schema):
    real(jsonl, path, schema)
    Path(sys.argv[1]).write_text("writing")
    time.sleep(600)  # killed here: data files written, manifest not yet, nothing renamed
freeze.parquet_from_jsonl = slow  # where create_release looks it up
with session_scope(get_engine()) as session:
    release.create_release(session, actor=command_line_actor(), name="bench", version="1.0",
                           spec=release.ReleaseSpec())
"""


def test_sigkill_mid_export_then_rerun_completes(db_url, engine, admin, finals, tmp_path):
    marker = tmp_path / "marker"
    run_until_marker_then_kill(KILL_EXPORT, marker)
    assert not (finals / "bench" / "1.0").exists()  # nothing that looks like a release
    assert all(p.name.startswith(".1.0.partial-") for p in (finals / "bench").iterdir())
    with Session(engine) as session:
        assert session.exec(select(Release)).all() == []
    created = make(engine, admin)
    assert created["items"] == 120 and release.verify(created["path"]) == []
    assert [p.name for p in (finals / "bench").iterdir()] == ["1.0"]  # the stale partial folder is gone


KILL_BEFORE_COMMIT = """
import sys, time
from pathlib import Path
from curation_app.core import release
from curation_app.core.auth import command_line_actor
from curation_app.database import get_engine, session_scope
with session_scope(get_engine()) as session:
    release.create_release(session, actor=command_line_actor(), name="bench", version="1.0",
                           spec=release.ReleaseSpec())
    Path(sys.argv[1]).write_text("renamed")
    time.sleep(600)  # killed here: the folder is in place, its database record not yet committed
"""


def test_sigkill_between_the_rename_and_the_commit_then_rerun_completes(db_url, engine, admin, finals, tmp_path):
    run_until_marker_then_kill(KILL_BEFORE_COMMIT, tmp_path / "marker")
    with Session(engine) as session:
        assert session.exec(select(Release)).all() == []
    assert (finals / "bench" / "1.0" / "manifest.json").exists()  # a folder the database never recorded
    created = make(engine, admin)
    assert created["items"] == 120 and release.verify(created["path"]) == []
    assert any("had no database record" in problem for problem in created["problems"])
    names = sorted(p.name for p in (finals / "bench").iterdir())
    assert names[0].startswith(".1.0.unrecorded-") and names[1:] == ["1.0"]  # kept aside, not deleted
    with Session(engine) as session:
        assert [r.path for r in session.exec(select(Release))] == [created["path"]]


def test_a_folder_another_database_made_is_never_moved(engine, admin, finals):
    folder = finals / "bench" / "1.0"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"name": "bench", "version": "1.0", "database": "elsewhere"}))
    with pytest.raises(Conflict, match="this database has no record of it"):
        make(engine, admin)
    assert json.loads((folder / "manifest.json").read_text())["database"] == "elsewhere"  # untouched
    assert sorted(p.name for p in (finals / "bench").iterdir()) == ["1.0"]  # no partial folder left either


def test_cli_release_create_json_and_list(db_url, engine, admin, finals, cli):
    result = cli("release", "create", "cli-bench", "--version", "0.1", "--size", "40", "--seed", "2",
                 "--mix", "easy=1,medium=1,hard=1", "--json")
    assert result.code == 0, result.err
    created = result.json()
    assert {"path", "items", "sha256"} <= set(created) and created["items"] == 40
    assert "cli-bench" in cli("release", "list").out
    bad = cli("release", "create", "../escape", "--version", "1")
    assert bad.code == 1 and "is not allowed" in bad.err
    # The same limits on both databases, and no name that differs from another by a line end.
    for name, version in (("cli-bench", "v1\n"), ("cli-bench\n", "0.2"), ("cli-bench", "9" * 51)):
        refused = cli("release", "create", name, "--version", version)
        assert refused.code == 1 and "is not allowed" in refused.err and "Traceback" not in refused.err, refused.err
    assert cli("release", "create", "cli-bench", "--version", "9" * 50, "--size", "5").code == 0


def test_end_to_end_on_real_arena_hard_data(db_url, engine, admin, cli, tmp_path, monkeypatch):
    """Import real queries and their answers, load labels for a subset, adjudicate, release, verify."""
    questions = shared_file("arena_hard", "question.jsonl")
    answers = shared_file("arena_hard", "gpt-4-0314_answers.jsonl")
    monkeypatch.setenv("CURATION_EXPORTS_DIR", str(tmp_path / "exports"))
    assert cli("import", questions, "--source", "arena-hard", "--json").json()["imported"] == 500
    assert cli("import", answers, "--json").json()["attached"] == 500
    ids = [json.loads(line)["question_id"] for line in questions.read_text().splitlines()][:80]
    rng = random.Random(5)
    labels = []
    for index, query_id in enumerate(ids):
        main, sub = PAIRS[index % len(PAIRS)]
        base = {**ROW, "category": main, "subcategory": sub, "languages": rng.choice(LANGUAGES),
                "difficulty": DIFFICULTIES[index % 3], "reference_answer": "", "notes": ""}
        other = dict(base, difficulty=DIFFICULTIES[(index + 1) % 3]) if index % 4 == 0 else base
        labels += [{"query_id": query_id, "annotator": "rater1", **base},
                   {"query_id": query_id, "annotator": "rater2", **other}]
    assert cli("annotations", "import", write_csv(tmp_path / "labels.csv", labels), "--json").json()["created"] == 160
    auto = cli("adjudicate", "--auto", "--json").json()
    assert auto == {"finalised": 60, "unanimous": 60, "majority": 0, "to_adjudicate": 20, "to_review": 0}
    with session_scope(engine) as session:
        for item in adjudicate.conflict_queue(session, actor=admin):
            view = adjudicate.adjudication_view(session, actor=admin, public_id=item.public_id)
            fields = {name: outcome.value for name, outcome in view.outcomes.items()}
            fields["difficulty"] = view.annotations[0]["difficulty"]
            adjudicate.resolve(session, actor=admin, public_id=item.public_id, fields=fields,
                               rationale="first annotator's difficulty", expected_revision=0)
    preview = cli("release", "preview", "--json").json()  # nobody wrote reference answers here
    assert preview["report"]["without_reference_answer"]["count"] == 80
    assert any("80 selected item(s) have no reference answer" in p for p in preview["report"]["problems"])
    created = cli("release", "create", "arena-coding", "--version", "1.0", "--json").json()
    assert created["items"] == 80
    assert cli("release", "verify", created["path"]).code == 0
    items = pd.read_json(f"{created['path']}/data.jsonl", lines=True)
    assert set(items["label_source"]) == {"unanimous", "adjudicated"}
    assert items["baseline_answer"].notna().all()  # the real answers file's baseline answers
    assert set(items["id"]) == set(ids)


def test_verify_refuses_a_release_the_database_does_not_record(engine, admin, finals, cli, db_url):
    import shutil

    make(engine, admin)
    folder = finals / "bench" / "1.0"
    copy = finals / "elsewhere" / "1.0"
    shutil.copytree(folder, copy)
    assert cli("release", "verify", copy).code == 0  # an untouched copy of a recorded release
    # A tampered copy whose manifest was rewritten to match, and a folder no freeze ever recorded.
    (copy / "README.md").write_text("edited\n")
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"]["README.md"] = {"sha256": release.file_sha256(copy / "README.md"), "bytes": 7}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    tampered = cli("release", "verify", copy)
    assert tampered.code == 1 and "differs from the database's record" in tampered.err
    manifest["version"] = "9.9"  # a release the database never froze
    (copy / "manifest.json").write_text(json.dumps(manifest))
    unknown = cli("release", "verify", copy)
    assert unknown.code == 1 and "records no such release" in unknown.err


def test_a_release_read_and_written_in_pieces_holds_the_same_items_everywhere(engine, admin, finals, monkeypatch):
    from curation_app.core.release import files, selection
    from curation_app.models import ReleaseItem

    whole = make(engine, admin, version="whole", size=90, seed=4)
    # Pieces that do not divide the 90 items: the last chunk, row group and batch are short.
    monkeypatch.setattr(selection, "READ_CHUNK_ITEMS", 11)
    monkeypatch.setattr(files, "ROW_GROUP_ITEMS", 7)
    monkeypatch.setattr(freeze, "_SNAPSHOT_BATCH", 13)
    pieces = make(engine, admin, version="pieces", size=90, seed=4)
    folder = Path(pieces["path"])
    assert (folder / "data.jsonl").read_bytes() == (Path(whole["path"]) / "data.jsonl").read_bytes()
    assert release.verify(folder) == []  # the checksums taken while writing are the files'
    lines = [json.loads(line) for line in (folder / "data.jsonl").read_text(encoding="utf-8").splitlines()]
    parquet = pq.ParquetFile(folder / "data.parquet")
    assert parquet.num_row_groups == 13  # 12 groups of 7 and one of 6
    assert parquet.read().to_pylist() == lines
    with Session(engine) as session:
        release_id = session.exec(select(Release.id).where(Release.version == "pieces")).one()
        snapshots = session.exec(select(ReleaseItem.item).where(ReleaseItem.release_id == release_id)
                                 .order_by(ReleaseItem.query_id)).all()
    assert sorted(snapshots, key=lambda item: item["id"]) == lines
