"""The review stage (CodeArena's): one annotator labels, four reviewers vote, 3 of 4 keep; on
SQLite and PostgreSQL, through core and the CLI."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from curation_app.core import adjudicate, annotation_io, configure, review
from curation_app.core.errors import InvalidInput, PermissionDenied
from curation_app.core.project import load_project
from curation_app.database import session_scope
from curation_app.models import FinalLabel, Query, ReviewVote, User
from tests.factories import SECURITY, label, make_team, write_csv, write_jsonl

REVIEWERS = ("r1", "r2", "r3", "r4")


@pytest.fixture
def team(engine, admin, tmp_path):
    people = (("ann", "annotator"), ("boss", "lead"), *((name, "reviewer") for name in REVIEWERS))
    users = make_team(engine, admin, tmp_path, queries=7, people=people)
    with session_scope(engine) as session:
        configure.change_settings(session, actor=admin, values={
            "min_annotations": 1, "keep_quorum": 1, "review_votes": 4, "review_quorum": 3})
    rows = [label(f"q{i}", "ann", category=SECURITY, difficulty="hard", languages="rust") for i in range(6)]
    rows.append(label("q6", "ann", decision="reject", reject_reason="too trivial"))
    rows[1]["rewritten_prompt"] = "Fix the race in this Rust channel code."
    annotation_io.import_annotations(write_csv(tmp_path / "labels.csv", rows), actor=admin, engine=engine)
    with session_scope(engine) as session:
        assert adjudicate.apply_rule(session, actor=users["boss"]) == {
            "finalised": 1, "unanimous": 1, "majority": 0, "to_adjudicate": 0, "to_review": 6}
    return users


def vote(engine, users, public_id, name, choice, **extra) -> str:
    with session_scope(engine) as session:
        return review.cast_vote(session, actor=users[name], public_id=public_id, vote=choice, **extra)


def final(engine, public_id) -> FinalLabel | None:
    with Session(engine) as session:
        return session.exec(select(FinalLabel).join(Query, Query.id == FinalLabel.query_id)
                            .where(Query.public_id == public_id)).first()


def test_three_of_four_keep_two_two_goes_to_a_lead_and_rejects_decide_early(engine, team):
    # 3-1: kept with the annotator's labels and rewrite, at the fourth vote.
    for name, choice in zip(REVIEWERS, ["keep", "reject", "keep"]):
        assert vote(engine, team, "q1", name, choice) == review.Verdict.WAITING
    assert vote(engine, team, "q1", "r4", "keep", comment="fine") == review.Verdict.KEPT
    kept = final(engine, "q1")
    assert (kept.decision, kept.category, kept.subcategory, kept.difficulty, kept.languages) == (
        "keep", *SECURITY, "hard", ["rust"])
    assert kept.rewritten_prompt == "Fix the race in this Rust channel code."
    assert kept.source == "reviewed" and kept.review["keep"] == 3 and kept.review["reject"] == 1
    assert [v["reviewer"] for v in kept.review["reviewers"]] == list(REVIEWERS)
    assert kept.rationale == "r4: fine"

    # 4-0 kept as soon as three keep: the fourth reviewer has nothing left to vote on.
    for name in REVIEWERS[:2]:
        assert vote(engine, team, "q0", name, "keep") == review.Verdict.WAITING
    assert vote(engine, team, "q0", "r3", "keep") == review.Verdict.KEPT
    with pytest.raises(InvalidInput, match="not waiting for a review"):
        vote(engine, team, "q0", "r4", "keep")

    # 1-3: rejected at the third reject, with the reviewers' most common reason.
    assert vote(engine, team, "q2", "r1", "keep") == review.Verdict.WAITING
    assert vote(engine, team, "q2", "r2", "reject", corrections={"reject_reason": "unsolvable"}) == review.Verdict.WAITING
    assert vote(engine, team, "q2", "r3", "reject", comment="needs hardware") == review.Verdict.WAITING
    assert vote(engine, team, "q2", "r4", "reject", corrections={"reject_reason": "unsolvable"}) == review.Verdict.REJECTED
    rejected = final(engine, "q2")
    assert (rejected.decision, rejected.reject_reason, rejected.category, rejected.difficulty) == (
        "reject", "unsolvable", None, None)
    assert rejected.review == {**rejected.review, "keep": 1, "reject": 3}

    # 2-2: every vote in, neither way: for a lead.
    for name, choice in zip(REVIEWERS, ["keep", "reject", "keep", "reject"]):
        vote(engine, team, "q3", name, choice)
    assert final(engine, "q3") is None
    with Session(engine) as session:
        q3 = session.exec(select(Query.id).where(Query.public_id == "q3")).one()
        assert review.split_items(session, project=load_project(session)) == {q3: {"keep": 2, "reject": 2}}


def test_a_reviewer_sees_only_their_own_vote_and_may_change_it(engine, team):
    vote(engine, team, "q4", "r1", "reject", comment="unclear")
    with session_scope(engine) as session:
        assert review.review_queue(session, actor=team["r2"])[:3] == ["q0", "q1", "q2"]
        seen = review.review_item(session, actor=team["r2"], public_id="q4")
        assert seen.own_vote is None and seen.proposed["category"] == SECURITY[0]
        assert "unclear" not in repr(seen) and "r1" not in repr(seen)  # nothing of another reviewer's
        mine = review.review_item(session, actor=team["r1"], public_id="q4")
        assert mine.own_vote == {"vote": "reject", "comment": "unclear", "corrections": None}
    vote(engine, team, "q4", "r1", "keep")  # changed before the item is decided: still one vote
    with Session(engine) as session:
        assert [v.vote for v in session.exec(select(ReviewVote))] == ["keep"]
        assert "q4" not in review.review_queue(session, actor=team["r1"])


def test_only_reviewers_vote_and_only_on_items_in_review(engine, team):
    for name in ("ann", "boss"):
        with pytest.raises(PermissionDenied, match="reviewer"):
            vote(engine, team, "q0", name, "keep")
    with pytest.raises(InvalidInput, match="not waiting for a review"):
        vote(engine, team, "q6", "r1", "keep")  # rejected by the annotation stage: final already
    with pytest.raises(InvalidInput, match="maybe"):
        vote(engine, team, "q0", "r1", "maybe")
    with pytest.raises(InvalidInput, match="subcategory 'Rocketry'"):
        vote(engine, team, "q0", "r1", "keep", corrections={"subcategory": "Rocketry"})


def test_settings_refuse_a_quorum_above_the_votes(engine, admin, team):
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="review_quorum .5. cannot exceed review_votes .4."):
        configure.change_settings(session, actor=admin, values={"review_quorum": 5})


def test_reviews_import_and_export_through_the_cli(engine, team, cli, tmp_path, db_url):
    rows = [{"query_id": "q5", "reviewer": name, "vote": "reject", "comment": ""} for name in ("r1", "r2", "new1", "new2")]
    rows += [{"query_id": "q0", "reviewer": name, "vote": "keep", "comment": "ok"} for name in REVIEWERS]
    result = cli("reviews", "import", write_jsonl(tmp_path / "votes.jsonl", rows), "--json")
    assert result.code == 0, result.err
    # 0-4 and 4-0: all four votes recorded, then decided.
    assert result.json() == {"votes": 8, "reviewers_created": 2, "kept": 1, "rejected": 1, "to_lead": 0, "waiting": 0}
    assert (final(engine, "q5").decision, final(engine, "q5").review["reject"]) == ("reject", 4)
    assert (final(engine, "q0").decision, final(engine, "q0").review["keep"]) == ("keep", 4)
    with Session(engine) as session:
        created = session.exec(select(User).where(User.name == "new1")).one()
        assert (created.role, created.password_hash) == ("reviewer", None)

    exported = tmp_path / "votes.csv"
    assert cli("reviews", "export", exported).code == 0
    lines = exported.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "query_id,reviewer,vote,comment" and len(lines) == 9
    assert "q0,r1,keep,ok" in lines


def test_reviews_import_refuses_bad_rows_by_number_and_imports_nothing(engine, team, cli, tmp_path):
    rows = [{"query_id": "q1", "reviewer": "r1", "vote": "keep"},
            {"query_id": "q1", "reviewer": "ann", "vote": "keep"},      # an annotator
            {"query_id": "nope", "reviewer": "r2", "vote": "keep"},     # no such query
            {"query_id": "q1", "reviewer": "r3", "vote": "perhaps"}]
    result = cli("reviews", "import", write_jsonl(tmp_path / "votes.jsonl", rows))
    assert result.code != 0
    assert "line 2: ann has the role annotator, not reviewer" in result.err
    assert "line 3: no query with id 'nope'" in result.err and "line 4: vote 'perhaps'" in result.err
    with Session(engine) as session:
        assert session.exec(select(ReviewVote)).all() == []


def test_a_reviewer_votes_in_the_app(engine, team, db_url, monkeypatch):
    from tests.apptest import log_in, open_app, shown

    app = log_in(open_app(), "r1", "password1")
    assert not app.exception and app.title[0].value == "Review"
    assert app.query_params["item"] == "q0"
    assert any("Security" in text for text in shown(app.markdown))  # the proposed labels
    app.text_area(key=f"review:{team['r1'].id}:q0:comment").input("clear and useful")
    app = app.button(key=f"review:{team['r1'].id}:q0:keep").click().run()
    assert not app.exception
    assert shown(app.success) == ["Voted keep on q0."]
    assert app.query_params["item"] == "q1"  # on to the next
    with Session(engine) as session:
        (stored,) = session.exec(select(ReviewVote)).all()
        assert (stored.vote, stored.comment) == ("keep", "clear and useful")


def test_a_two_two_split_is_the_lead_s_first_conflict_and_the_final_label_keeps_the_votes(engine, team, cli, tmp_path):
    for name, choice in zip(REVIEWERS, ["keep", "reject", "keep", "reject"]):
        vote(engine, team, "q3", name, choice, comment="too easy" if name == "r2" else None)
    listed = cli("adjudicate", "--json").json()["to_adjudicate"]
    assert [item["id"] for item in listed] == ["q3"] and listed[0]["conflicts"] == ["decision"]
    with session_scope(engine) as session:
        (item,) = adjudicate.conflict_queue(session, actor=team["boss"])
        assert item.reviewers_split and item.decision_votes == {"keep": 2, "reject": 2}
        assert item.conflict_text().startswith("decision (reviewers split)")
        view = adjudicate.adjudication_view(session, actor=team["boss"], public_id="q3")
        assert (view.review["keep"], view.review["reject"]) == (2, 2)
        assert {"reviewer": "r2", "vote": "reject", "comment": "too easy"} in view.review["reviewers"]
    resolved = cli("adjudicate", "resolve", "q3", "--set", "decision=keep", "--rationale", "worth keeping")
    assert resolved.code == 0, resolved.err
    kept = final(engine, "q3")
    assert (kept.decision, kept.subcategory, kept.source) == ("keep", SECURITY[1], "adjudicated")
    assert (kept.review["keep"], kept.review["reject"]) == (2, 2)
    assert cli("adjudicate", "--json").json()["to_adjudicate"] == []
    exported = cli("finals", "export", tmp_path / "finals.jsonl")
    assert exported.code == 0, exported.err
    rows = {row["id"]: row for row in map(json.loads, (tmp_path / "finals.jsonl").read_text().splitlines())}
    assert rows["q3"]["review"]["keep"] == 2 and rows["q6"]["review"] is None  # q6: rejected by the annotator


def test_a_comment_quoted_by_a_csv_export_is_read_back_as_written(engine, team, cli, tmp_path):
    votes = tmp_path / "votes.csv"
    votes.write_text("query_id,reviewer,vote,comment\nq4,r1,keep,'=2+2 is fine\n", encoding="utf-8")
    assert cli("reviews", "import", votes).code == 0
    with Session(engine) as session:
        assert session.exec(select(ReviewVote.comment)).one() == "=2+2 is fine"
    exported = tmp_path / "again.csv"
    assert cli("reviews", "export", exported).code == 0
    assert "'=2+2 is fine" in exported.read_text(encoding="utf-8")  # neutralised for spreadsheets again
