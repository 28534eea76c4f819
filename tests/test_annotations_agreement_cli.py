"""`annotations import/export` and `agreement` on the database and on ratings files."""

from __future__ import annotations

import csv
import json

import pytest
from sqlmodel import Session, select, update

from curation_app.core import adjudicate, annotation_io
from curation_app.core.agreement import database as agreement_db
from curation_app.core.errors import ImportRefused
from curation_app.core.importer import import_file
from curation_app.models import Annotation, AuditLog, FinalLabel, Query, User
from tests.factories import ROW, write_csv, write_jsonl

CONTRACT_KEYS = {"n_items", "n_annotators", "percent_agreement", "krippendorff_alpha", "fleiss_kappa",
                 "cohen_kappa", "gwet_ac1", "ci95"}
@pytest.fixture
def queries(engine, admin, tmp_path):
    rows = [{"id": f"t{i}", "prompt": f"question {i} about python and sql"} for i in range(4)]
    import_file(write_jsonl(tmp_path / "q.jsonl", rows), actor=admin, engine=engine)


def stored(engine) -> list[tuple]:
    with Session(engine) as session:
        return sorted(session.exec(select(Query.public_id, User.name, Annotation.difficulty, Annotation.languages)
                                   .join(Annotation, Annotation.query_id == Query.id)
                                   .join(User, User.id == Annotation.annotator_id)).all())


def test_import_creates_annotators_and_round_trips_through_export(db_url, engine, queries, cli, tmp_path):
    rows = [{"query_id": f"t{i}", "annotator": name, **ROW, "difficulty": level}
            for i in range(3) for name, level in (("ann_a", "easy"), ("ann_b", "medium"))]
    result = cli("annotations", "import", write_csv(tmp_path / "labels.csv", rows), "--json")
    assert result.code == 0, result.err
    assert result.json() | {"file": None} == {"file": None, "read": 6, "created": 6, "updated": 0, "unchanged": 0,
                                              "incomplete": 0,
                                              "new_annotators": ["ann_a", "ann_b"]}
    with Session(engine) as session:
        accounts = session.exec(select(User).where(User.name.in_(["ann_a", "ann_b"]))).all()
    assert {(u.role, u.password_hash) for u in accounts} == {("annotator", None)}
    assert stored(engine)[0] == ("t0", "ann_a", "easy", ["python", "sql"])

    exported = tmp_path / "out.csv"
    assert cli("annotations", "export", exported).code == 0
    cells = list(csv.DictReader(exported.open(encoding="utf-8")))
    assert cells[0]["reference_answer"] == "'=SUM(A1:A3) is not code"  # no live formula in a spreadsheet
    assert cells[0]["notes"] == "'@bob look" and cells[0]["languages"] == "python|sql"
    again = cli("annotations", "import", exported, "--json").json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 6)  # the quote is undone on import
    jsonl = tmp_path / "out.jsonl"
    assert cli("annotations", "export", jsonl).code == 0
    first = json.loads(jsonl.read_text().splitlines()[0])
    assert first["languages"] == ["python", "sql"] and first["reference_answer"] == "=SUM(A1:A3) is not code"


def test_overwriting_an_annotation_is_audited_with_old_and_new(db_url, engine, queries, cli, tmp_path):
    cli("annotations", "import", write_csv(tmp_path / "a.csv", [{"query_id": "t0", "annotator": "ann_a", **ROW}]))
    changed = {"query_id": "t0", "annotator": "ann_a", **ROW, "difficulty": "hard"}
    assert cli("annotations", "import", write_csv(tmp_path / "b.csv", [changed]), "--json").json()["updated"] == 1
    with Session(engine) as session:
        record = session.exec(select(AuditLog).where(AuditLog.action == "annotation.import_overwrite")).one()
    assert record.old["difficulty"] == "easy" and record.new["difficulty"] == "hard"


@pytest.mark.parametrize("bad, message", [
    ({"query_id": "nope"}, "row 2 (line 3): unknown query id 'nope'"),
    ({"category": "Cooking"}, "row 2 (line 3): category 'Cooking' is not in the taxonomy"),
    ({"subcategory": "Security"}, "row 2 (line 3): subcategory 'Security' belongs to 'Specialized Computing Areas'"),
    ({"difficulty": "trivial"}, "row 2 (line 3): difficulty 'trivial' is not in the taxonomy"),
    ({"languages": "python|Klingon"}, "row 2 (line 3): language 'Klingon' is not in the project's vocabulary"),
    ({"annotator": "bad name"}, "row 2 (line 3): user name 'bad name' is not allowed"),
    ({**{k: "" for k in ROW}, "notes": "only a note"}, "row 2 (line 3): no label: decision, reject_reason"),
])
def test_bad_rows_refuse_the_whole_file(engine, queries, admin, tmp_path, bad, message):
    rows = [{"query_id": "t0", "annotator": "ann_a", **ROW}, {"query_id": "t1", "annotator": "ann_b", **ROW, **bad}]
    with pytest.raises(ImportRefused) as refused:
        annotation_io.import_annotations(write_csv(tmp_path / "bad.csv", rows), actor=admin, engine=engine)
    assert message in str(refused.value)
    assert stored(engine) == []
    with Session(engine) as session:
        assert session.exec(select(User).where(User.name.in_(["ann_a", "ann_b"]))).all() == []


def test_rows_with_empty_cells_are_stored_with_the_labels_they_have(engine, queries, admin, tmp_path, cli):
    """A tool that labelled only some fields: the row counts for those, and the others are missing
    ratings, which agreement skips and the acceptance rule leaves to the other annotators or a lead."""
    blank = {k: "" for k in ROW}
    rows = [{"query_id": "t0", "annotator": "ann_a", **ROW},
            {"query_id": "t0", "annotator": "ann_b", **blank, "category": ROW["category"], "difficulty": "hard"},
            {"query_id": "t1", "annotator": "ann_a", **blank, "decision": "keep", "languages": "python"},
            {"query_id": "t1", "annotator": "ann_b", **blank, "decision": "keep", "languages": "python"}]
    result = cli("annotations", "import", write_csv(tmp_path / "partial.csv", rows), "--json")
    assert result.code == 0 and (result.json()["created"], result.json()["incomplete"]) == (4, 3)
    assert "3 row(s) leave some labels empty" in cli("annotations", "import", tmp_path / "partial.csv").out
    with Session(engine) as session:
        partial = session.exec(select(Annotation).join(User, User.id == Annotation.annotator_id)
                               .join(Query, Query.id == Annotation.query_id)
                               .where(User.name == "ann_b", Query.public_id == "t0")).one()
    assert (partial.state, partial.decision, partial.category, partial.difficulty, partial.languages) == (
        "submitted", None, ROW["category"], "hard", None)
    report = cli("agreement", "--json").json()
    assert report["category"]["n_items"] == 1 and report["category"]["percent_agreement"] == 1.0
    assert report["decision"]["n_items"] == 1  # t1 only: ann_b gave t0 no decision
    assert report["difficulty"]["n_items"] == 1 and report["difficulty"]["percent_agreement"] == 0.0
    exported = tmp_path / "out.csv"
    assert cli("annotations", "export", exported).code == 0
    assert cli("annotations", "import", exported, "--json").json()["unchanged"] == 4


@pytest.mark.parametrize("name, content, message", [
    ("empty.csv", b"", "file: no records: the file is empty"),
    ("unclosed.csv", b'query_id,annotator,decision\nt0,ann_a,"keep\n', "row 1 (line 2): malformed CSV"),
    ("latin1.csv", "query_id,annotator,decision,notes\nt0,ann_a,keep,caf\u00e9\n".encode("latin-1"),
     "row 1 (line 2): not valid UTF-8 (byte 0xe9"),
    ("utf16.csv", "query_id,annotator,decision\nt0,ann_a,keep\n".encode("utf-16"), "line 1: the file is UTF-16"),
    ("broken.jsonl", b'{"query_id": "t0", "annotator": "ann_a", "decision": "keep"\n', "line 1: invalid JSON"),
])
def test_unreadable_annotation_files_are_refused(engine, queries, admin, tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ImportRefused) as refused:
        annotation_io.import_annotations(tmp_path / name, actor=admin, engine=engine)
    assert message in str(refused.value)
    assert stored(engine) == []


def test_every_formula_prefix_is_neutralised_on_export():
    cells = ["=SUM(A1:A3)", "+1+1", "-1+1", "@cmd", "\t=1", "\r=1"]
    assert [annotation_io.neutralise_formula(cell) for cell in cells] == ["'" + cell for cell in cells]
    assert annotation_io.neutralise_formula("plain text") == "plain text"


def test_jsonl_annotations_with_a_duplicate_pair_are_refused(engine, queries, admin, tmp_path):
    row = {"query_id": "t0", "annotator": "ann_a", **ROW, "languages": ["python"]}
    path = write_jsonl(tmp_path / "dup.jsonl", [row, row])
    with pytest.raises(ImportRefused, match="line 2: t0 by ann_a is also at line 1"):
        annotation_io.import_annotations(path, actor=admin, engine=engine)


def test_agreement_on_the_database_per_field_and_all_fields(db_url, engine, queries, cli, tmp_path):
    rows = [{"query_id": f"t{i}", "annotator": name, **ROW,
             "difficulty": "hard" if (name, i) == ("ann_b", 2) else "easy"}
            for i in range(4) for name in ("ann_a", "ann_b")]
    cli("annotations", "import", write_csv(tmp_path / "labels.csv", rows))
    single = cli("agreement", "--field", "difficulty", "--json")
    assert single.code == 0, single.err
    report = single.json()
    assert CONTRACT_KEYS | {"cohen_kappa_linear", "cohen_kappa_quadratic"} <= set(report)
    assert report["n_items"] == 4 and report["n_annotators"] == 2
    assert report["percent_agreement"] == pytest.approx(0.75)
    everything = cli("agreement", "--json", "--bootstrap", "50").json()
    assert set(everything) == {"decision", "reject_reason", "category", "subcategory", "difficulty", "languages"}
    # Everybody chose "keep": agreement is undefined, not perfect.
    assert everything["decision"]["krippendorff_alpha"] is None
    assert "identical" in everything["decision"]["reasons"]["krippendorff_alpha"]
    text = cli("agreement", "--field", "category")
    assert text.code == 0 and "krippendorff_alpha" in text.out
    assert "unknown field 'colour'" in cli("agreement", "--field", "colour").err


def test_import_stores_one_spelling_per_language_and_refuses_unknown_ones(db_url, engine, queries, cli, tmp_path):
    rows = [{"query_id": "t0", "annotator": "ann_a", **ROW, "languages": "RUST|C++"},
            {"query_id": "t1", "annotator": "ann_a", **ROW, "languages": "Rust|cpp|rust"}]
    assert cli("annotations", "import", write_csv(tmp_path / "a.csv", rows)).code == 0
    jsonl = [{"query_id": "t2", "annotator": "ann_a", **ROW, "languages": ["Golang", "JS"]}]
    assert cli("annotations", "import", write_jsonl(tmp_path / "a.jsonl", jsonl)).code == 0
    assert [languages for *_, languages in stored(engine)] == [["rust", "c++"], ["rust", "c++"], ["go", "js"]]
    unknown = [{"query_id": "t3", "annotator": "ann_b", **ROW}, {"query_id": "t0", "annotator": "ann_b", **ROW,
                                                                   "languages": ["python", "KLINGON"]}]
    refused = cli("annotations", "import", write_jsonl(tmp_path / "b.jsonl", unknown))
    assert refused.code == 1 and "b.jsonl: line 2: language 'KLINGON' is not in the project's vocabulary" in refused.err
    assert len(stored(engine)) == 3  # nothing of the refused file
    assert cli("settings", "set", "extra_languages", "Klingon").code == 0  # an admin adds it
    assert cli("annotations", "import", write_jsonl(tmp_path / "b.jsonl", unknown)).code == 0
    assert stored(engine)[1][-1] == ["python", "Klingon"]


def test_agreement_counts_old_spellings_of_one_language_as_one_label(db_url, engine, queries, admin, cli, tmp_path):
    rows = [{"query_id": f"t{i}", "annotator": name, **ROW, "languages": "rust"}
            for i in range(3) for name in ("ann_a", "ann_b")]
    cli("annotations", "import", write_csv(tmp_path / "labels.csv", rows))
    with Session(engine) as session:
        adjudicate.apply_rule(session, actor=admin)
        ann_b = session.exec(select(User.id).where(User.name == "ann_b")).one()
        # Rows stored before spellings were merged: the same language in other spellings.
        session.exec(update(Annotation).where(Annotation.annotator_id == ann_b).values(languages=["RUST"]))
        session.exec(update(FinalLabel).values(languages=["Rust"]))
        session.commit()
    report = cli("agreement", "--field", "languages", "--json").json()
    assert (report["n_items"], report["percent_agreement"]) == (3, 1.0)
    with Session(engine) as session:
        project = agreement_db.load_project(session)
        table = agreement_db.annotation_table(session, actor=admin, project=project)
        against_final = agreement_db.with_final_labels(session, project, table, "languages")
    assert set(table["languages"]) == {frozenset({"rust"})}
    assert list(against_final["percent_agreement"]) == [1.0, 1.0]


def test_agreement_on_a_ratings_file(cli, tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("item,annotator,value\n" + "".join(
        f"{item},{who},{value}\n" for item, who, value in [
            (1, "a", "low"), (1, "b", "low"), (2, "a", "high"), (2, "b", "mid"), (3, "a", "mid"), (3, "b", "mid"),
            (4, "a", "low"), (4, "b", "high")]))
    result = cli("agreement", "--ratings", path, "--level", "ordinal", "--scale", "low,mid,high,extreme", "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert CONTRACT_KEYS <= set(report) and report["n_items"] == 4
    from sklearn.metrics import cohen_kappa_score

    a, b = ["low", "high", "mid", "low"], ["low", "mid", "mid", "high"]
    labels = ["low", "mid", "high", "extreme"]
    assert report["cohen_kappa_quadratic"] == pytest.approx(cohen_kappa_score(a, b, labels=labels, weights="quadratic"))
    assert set(report["ci95"]) >= {"krippendorff_alpha"}
    missing = cli("agreement", "--ratings", path, "--json")
    assert missing.code == 1 and "--level" in missing.err
    bad = cli("agreement", "--ratings", path, "--level", "ordinal", "--scale", "low,mid", "--json")
    assert bad.code == 1 and "high" in bad.err


def test_text_that_starts_with_a_quote_survives_a_csv_round_trip(db_url, engine, queries, cli, tmp_path):
    texts = ["'=1+1 (quoted in the source)", "''double", "'plain quote"]
    rows = [{"query_id": f"t{i}", "annotator": "ann_a", **ROW, "notes": text} for i, text in enumerate(texts)]
    jsonl = tmp_path / "labels.jsonl"
    jsonl.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert cli("annotations", "import", jsonl).code == 0  # JSONL: the notes stored exactly as written
    exported = tmp_path / "out.csv"
    assert cli("annotations", "export", exported).code == 0
    again = cli("annotations", "import", exported, "--json").json()
    assert (again["updated"], again["unchanged"]) == (0, 3)
    with Session(engine) as session:
        assert sorted(a.notes for a in session.exec(select(Annotation))) == sorted(texts)


def test_agreement_on_set_ratings_with_empty_sets(cli, tmp_path):
    from pathlib import Path

    from tests.test_agreement import DKPRO_SETS, package_alpha_on_sets, passonneau_masi

    # DKPro Agreement's set-valued example; a cell holding only "|" is the empty set.
    path = Path(__file__).parent / "agreement_data" / "dkpro_set_annotations.csv"
    result = cli("agreement", "--ratings", path, "--level", "multilabel", "--bootstrap", "0", "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert (report["n_items"], report["n_ratings"]) == (9, 18)
    assert report["percent_agreement"] == pytest.approx(0.333, abs=1e-3)  # DKPro's published figure
    assert report["krippendorff_alpha"] == pytest.approx(281 / 1029, abs=1e-12)

    # An empty cell is no rating: the first item drops out and the second cannot be paired.
    blank = tmp_path / "blank.csv"
    blank.write_text(path.read_text().replace(",|,", ",,"))
    unrated = cli("agreement", "--ratings", blank, "--level", "multilabel", "--bootstrap", "0", "--json").json()
    assert (unrated["n_items"], unrated["n_ratings"]) == (7, 15)
    expected = package_alpha_on_sets([(None, None), (("A",), None), *DKPRO_SETS[2:]], passonneau_masi)
    assert unrated["krippendorff_alpha"] == pytest.approx(expected, abs=1e-12)


def test_agreement_refuses_a_nominal_file_mixing_true_false_and_numbers(cli, tmp_path):
    path = tmp_path / "flags.csv"
    path.write_text("item,annotator,value\nq1,a,True\nq1,b,True\nq2,a,False\nq2,b,0\n")
    result = cli("agreement", "--ratings", path, "--level", "nominal", "--json")
    assert result.code == 1 and result.out == ""
    assert result.err.strip().count("\n") == 0
    assert f"{path}: row 4 (line 5): value '0' is a number, but row 1 (line 2) has a true/false value, 'True'" \
        in result.err and "most likely an error" in result.err
    declared = cli("agreement", "--ratings", path, "--level", "nominal", "--scale", "True,False,0", "--json")
    assert declared.code == 0, declared.err  # categories the user declared are taken as written
    path.write_text("item,annotator,value\nq1,a,True\nq1,b,True\nq2,a,False\nq2,b,false\n")
    assert cli("agreement", "--ratings", path, "--level", "nominal", "--json").json()["n_items"] == 2
