"""Score fields: numeric fields a project defines (setting score_fields), carried from the
setting through annotation, agreement (Krippendorff's alpha at their level), the acceptance rule
and the lead's resolution, annotation files, and releases; on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest
from sqlmodel import Session, select

from curation_app.core import (
    adjudicate,
    agreement,
    annotate,
    annotation_io,
    auth,
    configure,
    labels,
    queue,
    release,
    settings,
)
from curation_app.core.agreement import database as agreement_db
from curation_app.core.errors import ImportRefused, InvalidInput, PermissionDenied
from curation_app.core.importer import import_file
from curation_app.core.project import load_project
from curation_app.core.scores import RESERVED_NAMES, clean_scores, from_setting
from curation_app.database import get_engine, session_scope
from curation_app.models import Annotation, AuditLog, FinalLabel, Query, User
from tests.apptest import annotations, key_for, log_in, open_app, open_page, send_form, shown
from tests.factories import label, write_jsonl

QUALITY = {"name": "quality", "label": "Answer quality", "level": "interval", "min": 1, "max": 5, "step": 1,
           "required": True}
MINUTES = {"name": "expert_minutes", "level": "ratio", "min": 0, "max": 600}


@pytest.fixture
def project(engine, admin, tmp_path):
    rows = [{"id": f"s{i}", "prompt": f"item {i}: fix my python loop"} for i in range(6)]
    import_file(write_jsonl(tmp_path / "q.jsonl", rows), actor=admin, engine=engine)
    with session_scope(engine) as session:
        configure.change_setting(session, actor=admin, key="score_fields", value=[QUALITY, MINUTES])
        for name in ("ann1", "ann2", "ann3"):
            auth.create_user(session, actor=admin, name=name, role="annotator", password="password1")
        auth.create_user(session, actor=admin, name="lead1", role="lead", password="password1")
    return engine


def user(engine, name: str) -> User:
    with Session(engine) as session:
        return session.exec(select(User).where(User.name == name)).one()


def write_labels(path, rows: list[dict]):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*annotation_io.COLUMNS, "quality", "expert_minutes"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def scored(query_id: str, annotator: str, quality, minutes="", **changes) -> dict:
    return {**label(query_id, annotator, **changes), "quality": quality, "expert_minutes": minutes}


# The setting ---------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, message", [
    ({**QUALITY, "name": "difficulty"}, "taken by a built-in field"),
    ({**QUALITY, "name": "Quality!"}, "lower-case letters"),
    ({**QUALITY, "min": 5, "max": 1}, "min < max"),
    ({**QUALITY, "level": "nominal"}, "level must be one of interval, ratio"),
    ({**MINUTES, "min": -1}, "true zero"),
    ({**QUALITY, "colour": "red"}, "unknown key(s) colour"),
    ({**QUALITY, "step": 0}, "step must be a positive number"),
    ({**QUALITY, "required": "yes"}, "required must be true or false"),
])
def test_a_wrong_score_field_is_refused_with_what_and_where(sqlite_db, admin, spec, message):
    with session_scope() as session:
        with pytest.raises(InvalidInput, match="setting score_fields: score field 1") as refused:
            configure.change_setting(session, actor=admin, key="score_fields", value=[spec])
    assert message in str(refused.value)
    with session_scope() as session:
        assert settings.get_setting(session, "score_fields") == []  # nothing half-set


def test_two_fields_with_one_name_are_refused(sqlite_db, admin):
    with session_scope() as session, pytest.raises(InvalidInput, match="score field 2 .'quality'.: name is used twice"):
        configure.change_setting(session, actor=admin, key="score_fields", value=[QUALITY, QUALITY])


def test_reserved_names_cover_every_built_in_field_and_column():
    assert set(labels.FIELDS) <= RESERVED_NAMES
    assert set(annotation_io.COLUMNS) <= RESERVED_NAMES
    assert set(release.ITEM_KEYS) <= RESERVED_NAMES
    assert set(agreement_db.FIELD_LEVELS) <= RESERVED_NAMES


def test_score_fields_are_the_admins_to_set_from_a_file_inline_or_none(sqlite_db, admin, cli, tmp_path):
    spec_file = tmp_path / "scores.json"
    spec_file.write_text(json.dumps([QUALITY]), encoding="utf-8")
    assert cli("settings", "set", "score_fields", str(spec_file)).code == 0
    with session_scope() as session:
        assert [f.name for f in from_setting(settings.get_setting(session, "score_fields"))] == ["quality"]
        lead = auth.create_user(session, actor=admin, name="lead9", role="lead", password="password1")
        with pytest.raises(PermissionDenied):
            configure.change_setting(session, actor=lead, key="score_fields", value=[])
    assert cli("settings", "set", "score_fields", json.dumps([MINUTES])).code == 0
    assert cli("settings", "set", "score_fields", "none").code == 0
    broken = cli("settings", "set", "score_fields", "[{")
    assert broken.code != 0 and "score_fields: the value is not valid JSON" in broken.err


def test_clean_scores_checks_range_steps_and_names():
    fields = from_setting([QUALITY, MINUTES])
    assert clean_scores({"quality": "4", "expert_minutes": 12.5}, fields) == {"quality": 4, "expert_minutes": 12.5}
    assert clean_scores({"quality": None, "expert_minutes": ""}, fields) is None
    for value, message in [({"quality": 6}, "quality 6 is outside 1 to 5"),
                           ({"quality": 2.5}, "not on the scale's steps of 1"),
                           ({"quality": "good"}, "quality 'good' is not a number"),
                           ({"quality": float("nan")}, "is not a number"),
                           ({"quality": True}, "is not a number"),
                           ({"quality": 10 ** 400}, "is not a number"),
                           ({"quality": "1e999"}, "is not a number"),
                           ({"speed": 1}, "unknown score field(s) 'speed'"),
                           ([4], "scores must be an object")]:
        with pytest.raises(InvalidInput, match="row 3: ") as refused:
            clean_scores(value, fields, prefix="row 3: ")
        assert message in str(refused.value)


# Annotating ----------------------------------------------------------------------------------

def test_an_annotator_scores_merges_clears_and_must_give_a_required_score(project):
    ann1 = user(project, "ann1")
    with session_scope(project) as session:
        queue.assign(session, actor=auth.command_line_actor(), annotators=["ann1", "ann2"], public_ids=["s0"])
    with session_scope(project) as session:
        annotate.save(session, actor=ann1, public_id="s0", fields={"scores": {"expert_minutes": 20}}, submit=False)
        annotate.save(session, actor=ann1, public_id="s0", fields={"notes": "n", "scores": {"quality": 3}}, submit=False)
    with Session(project) as session:
        assert session.exec(select(Annotation.scores)).one() == {"quality": 3, "expert_minutes": 20}
    complete = {"decision": "keep", "category": "Development and Programming", "subcategory": "Code Debugging",
                "languages": ["python"], "difficulty": "easy"}
    with session_scope(project) as session, pytest.raises(InvalidInput, match="missing Answer quality"):
        annotate.save(session, actor=ann1, public_id="s0", fields={**complete, "scores": {"quality": None}}, submit=True)
    with session_scope(project) as session, pytest.raises(InvalidInput, match="quality 9 is outside 1 to 5"):
        annotate.save(session, actor=ann1, public_id="s0", fields={**complete, "scores": {"quality": 9}}, submit=True)
    with Session(project) as session:  # refused saves changed nothing
        assert session.exec(select(Annotation.scores, Annotation.state)).one() == (
            {"quality": 3, "expert_minutes": 20}, "draft")
    with session_scope(project) as session:
        annotate.save(session, actor=ann1, public_id="s0", fields={**complete, "scores": {"expert_minutes": None}},
                      submit=True)
    with Session(project) as session:
        assert session.exec(select(Annotation.scores, Annotation.state)).one() == ({"quality": 3}, "submitted")
        audit = session.exec(select(AuditLog).where(AuditLog.action == "annotation.submit")).one()
        assert audit.new["scores"] == {"quality": 3}


def test_a_reject_needs_no_score_and_a_retired_field_keeps_its_value(project, admin):
    ann1 = user(project, "ann1")
    with session_scope(project) as session:
        queue.assign(session, actor=admin, annotators=["ann1", "ann2"], public_ids=["s1"])
        annotate.save(session, actor=ann1, public_id="s1", fields={"scores": {"expert_minutes": 5}}, submit=False)
        configure.change_setting(session, actor=admin, key="score_fields", value=[QUALITY])  # minutes retired
    with session_scope(project) as session:
        annotate.save(session, actor=ann1, public_id="s1", fields={"decision": "reject", "reject_reason": "too trivial"},
                      submit=True)
    with Session(project) as session:
        assert session.exec(select(Annotation.scores)).one() == {"expert_minutes": 5}


# Agreement -----------------------------------------------------------------------------------

def test_agreement_on_a_score_field_is_alpha_at_its_level(project, admin, tmp_path, cli):
    qualities = {"s0": (5, 5, 4), "s1": (2, 3, 2), "s2": (1, 1, 1), "s3": (4, 2, 3)}
    rows = [scored(item, name, q, minutes=10 * q) for item, values in qualities.items()
            for name, q in zip(("ann1", "ann2", "ann3"), values)]
    annotation_io.import_annotations(write_labels(tmp_path / "labels.csv", rows), actor=admin, engine=project)
    with session_scope(project) as session:
        reports = agreement_db.database_agreement(session, actor=admin, n_bootstrap=200)
    assert {"quality": "interval", "expert_minutes": "ratio"}.items() <= {k: r["level"] for k, r in reports.items()}.items()
    expected = agreement.agreement_report(pd.DataFrame(
        [(item, name, q) for item, values in qualities.items() for name, q in zip(("ann1", "ann2", "ann3"), values)],
        columns=["item", "annotator", "value"]), level="interval", n_bootstrap=200)
    assert reports["quality"]["krippendorff_alpha"] == pytest.approx(expected["krippendorff_alpha"], abs=1e-12)
    assert reports["quality"]["n_items"] == 4 and reports["quality"]["ci95"]["krippendorff_alpha"]
    # The same numbers through the ratings reader and the CLI.
    ratings = tmp_path / "quality.csv"
    pd.DataFrame(expected_rows := [(i, n, q) for i, v in qualities.items() for n, q in zip(("ann1", "ann2", "ann3"), v)],
                 columns=["item", "annotator", "value"]).to_csv(ratings, index=False)
    assert len(expected_rows) == 12
    from_file = cli("agreement", "--ratings", str(ratings), "--level", "interval", "--json").json()
    from_database = cli("agreement", "--field", "quality", "--json").json()
    assert from_file["krippendorff_alpha"] == pytest.approx(from_database["krippendorff_alpha"], abs=1e-12)
    assert from_database["level"] == "interval"
    with session_scope(project) as session:
        table = agreement_db.annotation_table(session, actor=admin)
        assert not agreement_db.pairwise(load_project(session), table, "quality").empty
        assert agreement_db.confusion(table, "quality").empty  # no confusion table for numbers


# Adjudication --------------------------------------------------------------------------------

def test_the_rule_decides_scores_and_a_lead_resolves_a_disagreement(project, admin, tmp_path):
    with session_scope(project) as session:
        configure.change_settings(session, actor=admin, values={"min_annotations": 3, "keep_quorum": 2})
    rows = ([scored("s0", n, 4) for n in ("ann1", "ann2", "ann3")]                        # unanimous
            + [scored("s1", n, q) for n, q in (("ann1", 4), ("ann2", 4), ("ann3", 2))]   # 2 of 3
            + [scored("s2", n, q) for n, q in (("ann1", 1), ("ann2", 3), ("ann3", 5))]   # all differ
            + [scored("s3", n, 3, minutes=m) for n, m in (("ann1", 10), ("ann2", 30), ("ann3", ""))])
    annotation_io.import_annotations(write_labels(tmp_path / "labels.csv", rows), actor=admin, engine=project)
    lead = user(project, "lead1")
    with session_scope(project) as session:
        result = adjudicate.apply_rule(session, actor=lead)
        assert result["finalised"] == 2 and result["to_adjudicate"] == 2
        queue_items = {i.public_id: i.conflicts for i in adjudicate.conflict_queue(session, actor=lead)}
        assert queue_items == {"s2": ["quality"], "s3": ["expert_minutes"]}
        assert [i.public_id for i in adjudicate.conflict_queue(session, actor=lead, field="quality")] == ["s2"]
    with Session(project) as session:
        final = {p: f for p, f in session.exec(select(Query.public_id, FinalLabel)
                                                .join(FinalLabel, FinalLabel.query_id == Query.id))}
    assert final["s0"].scores == {"quality": 4} and final["s0"].field_sources["quality"]["source"] == "unanimous"
    assert final["s1"].scores == {"quality": 4} and final["s1"].field_sources["quality"]["votes"] == "2/3"
    with session_scope(project) as session:
        view = adjudicate.adjudication_view(session, actor=lead, public_id="s2")
        assert view.outcomes["quality"].votes == {"1": 1, "3": 1, "5": 1}
        fields = {**{k: view.outcomes[k].value for k in ("decision", "category", "subcategory", "languages",
                                                         "difficulty")}, "scores": {"quality": 3}}
        with pytest.raises(InvalidInput, match="quality 3.5 is not on the scale's steps"):
            adjudicate.resolve(session, actor=lead, public_id="s2", fields={**fields, "scores": {"quality": 3.5}},
                               rationale="middle", expected_revision=0)
    with session_scope(project) as session:
        adjudicate.resolve(session, actor=lead, public_id="s2", fields=fields, rationale="middle", expected_revision=0)
    with Session(project) as session:
        resolved = session.exec(select(FinalLabel).join(Query, Query.id == FinalLabel.query_id)
                                .where(Query.public_id == "s2")).one()
    assert resolved.scores == {"quality": 3}
    assert resolved.field_sources["quality"] == {"source": "adjudicated", "by": "lead1", "votes": "1/3"}
    assert resolved.field_sources["decision"]["source"] == "unanimous"


# Files and releases --------------------------------------------------------------------------

def test_annotation_files_carry_one_column_per_score_and_refuse_bad_ones(project, admin, tmp_path):
    rows = [scored("s0", "ann1", 4, minutes=12.5), scored("s0", "ann2", "5")]
    annotation_io.import_annotations(write_labels(tmp_path / "labels.csv", rows), actor=admin, engine=project)
    out = tmp_path / "out.csv"
    assert annotation_io.export_annotations(out, actor=admin, engine=project) == 2
    with open(out, encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    assert list(exported[0])[-2:] == ["quality", "expert_minutes"]
    assert [(r["annotator"], r["quality"], r["expert_minutes"]) for r in exported] == [
        ("ann1", "4", "12.5"), ("ann2", "5", "")]
    # The export imports again unchanged.
    assert annotation_io.import_annotations(out, actor=admin, engine=project).unchanged == 2
    bad = [scored("s1", "ann1", 4), scored("s1", "ann2", 7), scored("s2", "ann1", "x")]
    with pytest.raises(ImportRefused) as refused:
        annotation_io.import_annotations(write_labels(tmp_path / "bad.csv", bad), actor=admin, engine=project)
    message = str(refused.value)
    assert "row 2 (line 3): quality 7 is outside 1 to 5" in message
    assert "row 3 (line 4): quality 'x' is not a number" in message
    with Session(project) as session:  # all or nothing
        assert len(session.exec(select(Annotation)).all()) == 2
    # A required score left empty is a missing rating, as any empty cell of a file is.
    partial = annotation_io.import_annotations(write_labels(tmp_path / "partial.csv", [scored("s2", "ann1", "")]),
                                               actor=admin, engine=project)
    assert (partial.created, partial.incomplete) == (1, 1)


def test_a_release_carries_scores_in_both_files_and_the_card(project, admin, tmp_path):
    with session_scope(project) as session:
        configure.change_settings(session, actor=admin, values={"min_annotations": 2, "keep_quorum": 2})
    rows = [scored(f"s{i}", n, 1 + i % 5, minutes=10 if i % 2 else "") for i in range(4) for n in ("ann1", "ann2")]
    annotation_io.import_annotations(write_labels(tmp_path / "labels.csv", rows), actor=admin, engine=project)
    with session_scope(project) as session:
        assert adjudicate.apply_rule(session, actor=admin)["finalised"] == 4
        made = release.create_release(session, actor=admin, name="scored", version="v1", spec=release.ReleaseSpec(),
                                      root=tmp_path / "exports")
    folder = tmp_path / "exports" / "scored" / "v1"
    items = [json.loads(line) for line in (folder / "data.jsonl").read_text(encoding="utf-8").splitlines()]
    assert list(items[0]) == [*release.ITEM_KEYS, "scores"]
    assert {i["id"]: i["scores"] for i in items} == {
        "s0": {"quality": 1, "expert_minutes": None}, "s1": {"quality": 2, "expert_minutes": 10},
        "s2": {"quality": 3, "expert_minutes": None}, "s3": {"quality": 4, "expert_minutes": 10}}
    import pyarrow.parquet as pq

    table = pq.read_table(folder / "data.parquet")
    assert table.schema.equals(release.parquet_schema(["quality", "expert_minutes"]))
    assert table.column("scores").to_pylist()[1] == {"quality": 2.0, "expert_minutes": 10.0}
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["keys"][-1] == "scores"
    assert manifest["scores"][0] == {"name": "quality", "label": "Answer quality", "level": "interval",
                                     "scale_min": 1.0, "scale_max": 5.0, "items": 4, "mean": 2.5, "min": 1, "max": 4}
    assert {"quality", "expert_minutes"} <= set(manifest["agreement"])
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "## Scores" in card and "| Answer quality (`quality`) | interval | 1 to 5 | 4 | 2.500 | 1 | 4 |" in card
    with session_scope(project) as session:
        assert release.verify(folder, release.recorded_files(session, folder)) == []
    assert made["items"] == 4
    # A rescored item shows up in a diff as a change of its scores.
    lead = user(project, "lead1")
    with session_scope(project) as session:
        view = adjudicate.adjudication_view(session, actor=lead, public_id="s1")
        fields = {k: view.final[k] for k in ("decision", "category", "subcategory", "languages", "difficulty",
                                              "reference_answer", "rewritten_prompt")}
        adjudicate.resolve(session, actor=lead, public_id="s1", fields={**fields, "scores": {"quality": 5}},
                           rationale="rescored", expected_revision=view.final_revision)
        release.create_release(session, actor=admin, name="scored", version="v2", spec=release.ReleaseSpec(),
                               root=tmp_path / "exports")
    changes = release.diff(folder, tmp_path / "exports" / "scored" / "v2")
    assert changes["changed"] == [{"id": "s1", "fields": ["label_source", "field_sources", "scores"]}]


def test_without_score_fields_a_release_is_as_before(sqlite_db, admin, tmp_path):
    assert release.parquet_schema().names == list(release.ITEM_KEYS)
    assert "scores" not in release.item_keys([{k: None for k in release.ITEM_KEYS}])


# Pages (AppTest) -------------------------------------------------------------------------------

@pytest.fixture
def scored_demo(demo_db):
    with session_scope() as session:
        configure.change_setting(session, actor=auth.command_line_actor(), key="score_fields", value=[QUALITY, MINUTES])
    return demo_db


def import_by_two_annotators(tmp_path, rows: list[dict]) -> User:
    """ann1 and ann2's labels into the demo database, with the rule at 2 of 2; returns the actor."""
    admin = auth.command_line_actor()
    with session_scope() as session:
        configure.change_settings(session, actor=admin, values={"min_annotations": 2, "keep_quorum": 2})
        for name in ("ann1", "ann2"):
            auth.create_user(session, actor=admin, name=name, role="annotator", password="password1")
    annotation_io.import_annotations(write_labels(tmp_path / "labels.csv", rows), actor=admin)
    return admin


def test_the_annotate_page_shows_score_inputs_and_saves_them(scored_demo):
    app = log_in(open_app(), "alice", "alice-demo")
    item = app.query_params["item"]
    quality = app.number_input(key=key_for(app, item, "score:quality"))
    assert quality.label == "Answer quality (required to keep)" and quality.value is None
    quality.set_value(4).run()
    app.number_input(key=key_for(app, item, "score:expert_minutes")).set_value(7.5).run()
    (draft,) = [a for a in annotations("alice") if a.state == "draft"]
    assert draft.scores == {"quality": 4, "expert_minutes": 7.5}
    labels = {"decision": "keep", "category": "Development and Programming", "subcategory": "Code Debugging",
              "languages": ["python"], "difficulty": "easy"}
    app = send_form(app, "save", **labels)
    app.number_input(key=key_for(app, item, "score:quality")).set_value(None).run()
    app = send_form(app, "submit")
    assert shown(app.error) == ["missing Answer quality"]  # required to keep
    app.number_input(key=key_for(app, item, "score:quality")).set_value(5).run()
    app = send_form(app, "submit")
    assert shown(app.warning)[0].startswith(f"Submitted {item}. No reference answer")
    (done,) = [a for a in annotations("alice") if a.state == "submitted" and a.scores]
    assert done.scores == {"quality": 5, "expert_minutes": 7.5}
    my_work = open_page("my_work", "alice").dataframe[0].value
    assert my_work.set_index("query").loc[item, "scores"] == "quality 5, expert_minutes 7.5"


def test_the_adjudicate_page_proposes_and_saves_a_score(scored_demo, tmp_path):
    rows = [scored("demo-040", "ann1", 2, minutes=5), scored("demo-040", "ann2", 4, minutes=5)]
    import_by_two_annotators(tmp_path, rows)
    app = open_page("adjudicate", "lead", adjudicate="demo-040")
    assert not app.exception
    side_by_side = app.table[-1].value
    assert list(side_by_side.index[:1]) == ["quality"]  # the field in conflict comes first
    prefix = "adjudicate:demo-040:0"
    assert app.number_input(key=f"{prefix}:score:expert_minutes").value == 5  # agreed: filled in
    assert app.number_input(key=f"{prefix}:score:quality").value is None  # a tie: the lead decides
    app.number_input(key=f"{prefix}:score:quality").set_value(3)
    app.text_area(key=f"{prefix}:rationale").input("between the two")
    app = app.button(key=f"FormSubmitter:{prefix}-Save final label").click().run()
    assert shown(app.success) == ["Final label of demo-040 saved."]
    with Session(get_engine()) as session:
        final = session.exec(select(FinalLabel).join(Query, Query.id == FinalLabel.query_id)
                             .where(Query.public_id == "demo-040")).one()
    assert final.scores == {"quality": 3, "expert_minutes": 5}
    assert final.field_sources["quality"]["source"] == "adjudicated"
    assert final.field_sources["expert_minutes"]["source"] == "unanimous"


def test_the_agreement_page_lists_score_fields(scored_demo, tmp_path):
    rows = [scored(f"demo-0{n}", name, q) for n in (30, 31, 32) for name, q in (("ann1", 2), ("ann2", n % 5 + 1))]
    import_by_two_annotators(tmp_path, rows)
    app = open_page("agreement", "lead")
    assert not app.exception
    per_field = app.dataframe[0].value
    assert set(per_field.loc[per_field["field"] == "quality", "level"]) == {"interval"}
    assert any("quality" in box.options for box in app.selectbox)  # the field picker for the details


def test_the_releases_page_previews_the_scores(scored_demo, tmp_path):
    rows = [scored(item, name, 4, minutes=m) for item, m in (("demo-040", 30), ("demo-041", "")) for name in ("ann1", "ann2")]
    admin = import_by_two_annotators(tmp_path, rows)
    with session_scope() as session:
        adjudicate.apply_rule(session, actor=admin)
    app = open_page("releases", "lead")
    app = app.button[0].click().run()  # Preview
    assert not app.exception
    (summary,) = [d.value for d in app.dataframe if "scale_min" in d.value.columns]
    quality = summary.set_index("name").loc["quality"]
    minutes = summary.set_index("name").loc["expert_minutes"]
    assert quality["items"] >= 2 and quality["mean"] == 4 and minutes["max"] == 30
