"""Progress figures (the stage funnel, per-annotator work, time on task, agreement with final labels)
and the agreement page's tables, on SQLite and PostgreSQL, against values worked out by hand."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from curation_app.core import agreement_views, configure, progress, queue
from curation_app.core.agreement import database as agreement_db
from curation_app.core.annotation_io import import_annotations
from curation_app.core.errors import PermissionDenied
from curation_app.core.importer import import_file
from curation_app.core.project import load_project
from curation_app.core.triage.database import find_problems, store_findings
from curation_app.database import read_scope, session_scope
from curation_app.models import Annotation, FinalLabel, Query, Release, ReleaseItem, User
from tests.factories import DEBUG, label, make_team, write_csv, write_jsonl

D1 = datetime(2025, 3, 1, 10, 0, tzinfo=timezone.utc)
D2_MORNING = datetime(2025, 3, 2, 9, 0, tzinfo=timezone.utc)
D2_LATE = datetime(2025, 3, 2, 23, 30, tzinfo=timezone.utc)  # still 2 March in UTC, 3 March east of it
NOW = datetime(2025, 3, 2, 23, 59, tzinfo=timezone.utc)

# (query, annotator) -> (submitted at, seconds on task; 0: not timed, as imported labels are)
WHEN = {("q0", "ann1"): (D1, 10), ("q1", "ann1"): (D1, 20), ("q2", "ann1"): (D2_LATE, 30), ("q3", "ann1"): (D2_LATE, 40),
        ("q0", "ann2"): (D2_MORNING, 5), ("q1", "ann2"): (D2_MORNING, 50), ("q2", "ann2"): (D2_MORNING, 7),
        ("q0", "ann3"): (D1, 0), ("q1", "ann3"): (D1, 0), ("q2", "ann3"): (D1, 0)}


@pytest.fixture
def project_state(engine, admin, tmp_path):
    """q0 released, q1 final, q2 three annotations, q3 one, q4 triaged only, q5 imported after
    triage, q6 a retired duplicate."""
    users = make_team(engine, admin, tmp_path, queries=5)
    with session_scope(engine) as session:
        store_findings(session, actor=users["boss"], findings=find_problems(session, actor=users["boss"]))
    later = [{"id": "q5", "prompt": "A later question about sql joins"},
             {"id": "q6", "prompt": "A later question about css grids"}]
    import_file(write_jsonl(tmp_path / "later.jsonl", later), actor=admin, engine=engine)
    rows = [label("q0", name) for name in ("ann1", "ann2", "ann3")]
    rows += [label("q1", "ann1", difficulty="easy"), label("q1", "ann2", difficulty="medium"),
             label("q1", "ann3", decision="reject", reject_reason="unclear")]
    rows += [label("q2", "ann1"), label("q2", "ann2"), label("q2", "ann3", difficulty="hard"), label("q3", "ann1")]
    import_annotations(write_csv(tmp_path / "labels.csv", rows), actor=admin, engine=engine)
    with session_scope(engine) as session:
        ids = dict(session.execute(select(Query.public_id, Query.id)).all())
        names = dict(session.execute(select(User.name, User.id)).all())
        for (item, name), (at, seconds) in WHEN.items():
            session.execute(update(Annotation).where(Annotation.query_id == ids[item], Annotation.annotator_id == names[name])
                            .values(submitted_at=at, time_on_task_s=seconds))
        for item, difficulty in (("q0", "easy"), ("q1", "medium")):
            session.add(FinalLabel(query_id=ids[item], decision="keep", category=DEBUG[0], subcategory=DEBUG[1],
                                   difficulty=difficulty, languages=["python"], source="majority"))
        release = Release(name="bench", version="1", path="exports/bench/1", n_items=1, sha256="0" * 64)
        session.add(release)
        session.flush()
        session.add(ReleaseItem(release_id=release.id, query_id=ids["q0"], item={"id": "q0"}))
        queue.retire_duplicates(session, query_ids=[ids["q6"]])
    return users


def funnel(engine) -> dict[str, tuple[int, int]]:
    with read_scope(engine) as session:
        frame = progress.stage_funnel(session)
    return {row.stage: (row.queries, row.reached) for row in frame.itertuples()}


def test_each_query_is_counted_at_the_furthest_stage_it_reached(engine, project_state, admin):
    assert funnel(engine) == {"imported": (1, 6), "triaged": (1, 5), "in annotation": (2, 4), "final": (1, 2),
                              "released": (1, 1)}
    with session_scope(engine) as session:  # a review stage: q2 has its 3 annotations, q3 only one
        configure.change_settings(session, actor=admin, values={"min_annotations": 3, "keep_quorum": 3,
                                                                "review_votes": 4, "review_quorum": 3})
    assert list(funnel(engine)) == ["imported", "triaged", "in annotation", "in review", "final", "released"]
    assert funnel(engine)["in annotation"] == (1, 4) and funnel(engine)["in review"] == (1, 3)
    with session_scope(engine) as session:  # assigned: q5 goes into annotation
        queue.assign(session, actor=project_state["boss"], annotators=["ann2", "ann3"], public_ids=["q5"])
    assert funnel(engine)["imported"] == (0, 6) and funnel(engine)["in annotation"] == (2, 5)


def test_annotator_progress_counts_today_total_waiting_and_median_time(engine, project_state):
    with session_scope(engine) as session:
        queue.assign(session, actor=project_state["boss"], annotators=["ann2", "ann3"], public_ids=["q5"])
    with read_scope(engine) as session:
        table = progress.annotator_progress(session, actor=project_state["boss"], now=NOW).set_index("annotator")
    assert list(table.index) == ["ann1", "ann2", "ann3"]  # the lead is not an annotator
    assert table["done_today"].to_dict() == {"ann1": 2, "ann2": 3, "ann3": 0}
    assert table["done_total"].to_dict() == {"ann1": 4, "ann2": 3, "ann3": 3}
    assert table["open_assignments"].to_dict() == {"ann1": 0, "ann2": 1, "ann3": 1}
    # ann1: 10 20 30 40 -> (20 + 30) / 2; ann2: 5 7 50 -> 7; ann3: imported, never timed.
    assert table.at["ann1", "median_time_s"] == 25.0 and table.at["ann2", "median_time_s"] == 7.0
    assert pd.isna(table.at["ann3", "median_time_s"])


def test_time_on_task_quartiles_leave_out_untimed_annotations(engine, project_state):
    with read_scope(engine) as session:
        timing = progress.time_on_task(session, actor=project_state["boss"])
    assert timing.to_dict("records") == [
        {"annotator": "ann1", "timed": 4, "p25_s": 10.0, "median_s": 25.0, "p75_s": 30.0},
        {"annotator": "ann2", "timed": 3, "p25_s": 5.0, "median_s": 7.0, "p75_s": 50.0}]


def test_throughput_is_counted_per_utc_day(engine, project_state):
    with read_scope(engine) as session:
        every_day = progress.throughput_per_day(session, actor=project_state["boss"], days=None)
        today_only = progress.throughput_per_day(session, actor=project_state["boss"], days=1, now=NOW)
    rows = {(r.annotator, r.day.date().isoformat()): r.submitted for r in every_day.itertuples()}
    assert rows == {("ann1", "2025-03-01"): 2, ("ann3", "2025-03-01"): 3, ("ann1", "2025-03-02"): 2,
                    ("ann2", "2025-03-02"): 3}
    assert [(r.annotator, r.submitted) for r in today_only.itertuples()] == [("ann1", 2), ("ann2", 3)]


def test_agreement_with_final_labels_matches_the_agreement_package(engine, project_state):
    lead = project_state["boss"]
    with read_scope(engine) as session:
        versus = progress.final_agreement(session, actor=lead).set_index("annotator")
        project = load_project(session)
        table = agreement_db.annotation_table(session, actor=lead, project=project)
        reference = agreement_db.with_final_labels(session, project, table, "difficulty").set_index("annotator")
    # Final: q0 keep/easy, q1 keep/medium. ann1 said easy twice; ann3 rejected q1.
    assert versus["decision_vs_final"].to_dict() == {"ann1": 1.0, "ann2": 1.0, "ann3": 0.5}
    assert versus["difficulty_vs_final"].to_dict() == {"ann1": 0.5, "ann2": 1.0, "ann3": 1.0}
    assert versus["difficulty_compared"].to_dict() == {"ann1": 2, "ann2": 2, "ann3": 1}
    assert versus["category_vs_final"].to_dict() == {"ann1": 1.0, "ann2": 1.0, "ann3": 1.0}
    assert versus["difficulty_vs_final"].to_dict() == reference["percent_agreement"].to_dict()
    assert versus["difficulty_compared"].to_dict() == reference["n"].to_dict()


def test_annotators_may_not_read_each_others_progress(engine, project_state):
    with read_scope(engine) as session:
        for figures in (progress.annotator_progress, progress.throughput_per_day, progress.time_on_task,
                        progress.final_agreement):
            with pytest.raises(PermissionDenied):
                figures(session, actor=project_state["ann1"])


def test_confusion_follows_the_taxonomy_order_not_the_alphabet(engine, project_state):
    with read_scope(engine) as session:
        project = load_project(session)
        table = agreement_db.annotation_table(session, actor=project_state["boss"], project=project)
    counts = agreement_views.ordered_confusion(project, table, "difficulty")
    assert list(counts.index) == list(counts.columns) == ["easy", "medium", "hard"]
    # q0: easy x3 (6 ordered pairs); q1: easy-medium; q2: easy, easy, hard.
    assert counts.to_numpy().tolist() == [[8, 1, 2], [1, 0, 0], [2, 0, 0]]
    cells = agreement_views.confusion_cells(counts).set_index(["value_a", "value_b"])
    assert cells.at[("easy", "hard"), "count"] == 2 and cells.at[("easy", "hard"), "share_of_row"] == 2 / 11
    assert list(agreement_views.ordered_confusion(project, table, "decision").index) == ["keep", "reject"]
    assert agreement_views.ordered_confusion(project, table, "languages").empty


def test_field_measures_carry_each_interval_and_the_wide_table_one_row_per_field():
    reports = {"difficulty": {"level": "ordinal", "n_items": 3, "n_annotators": 3, "percent_agreement": 0.5,
                              "krippendorff_alpha": None, "ci95": {"percent_agreement": {"low": 0.25, "high": 0.75},
                                                                   "krippendorff_alpha": None},
                              "reasons": {"krippendorff_alpha": "no variation"}}}
    measures = agreement_views.field_measures(reports)
    assert measures[["measure", "value", "low", "high", "why_not"]].fillna(-9).to_dict("records") == [
        {"measure": "percent_agreement", "value": 0.5, "low": 0.25, "high": 0.75, "why_not": ""},
        {"measure": "krippendorff_alpha", "value": -9, "low": -9, "high": -9, "why_not": "no variation"}]
    wide = agreement_views.field_table(measures)
    assert wide.to_dict("records") == [{"field": "difficulty", "level": "ordinal", "items": 3, "annotators": 3,
                                        "percent_agreement": "0.500 [0.25, 0.75]", "krippendorff_alpha": "n/a"}]


def test_pair_cells_leave_out_the_diagonal_and_pairs_without_a_value():
    names = pd.Index(["ann1", "ann2", "ann3"], name="annotator")
    matrix = pd.DataFrame([[None, 0.5, None], [0.5, None, 1.0], [None, 1.0, None]], index=names, columns=names,
                          dtype=float)
    assert agreement_views.pair_cells(matrix).to_dict("records") == [
        {"annotator": "ann1", "other": "ann2", "agreement": 0.5}, {"annotator": "ann2", "other": "ann1", "agreement": 0.5},
        {"annotator": "ann2", "other": "ann3", "agreement": 1.0}, {"annotator": "ann3", "other": "ann2", "agreement": 1.0}]
