"""Reviewers' votes counted: the verdict a set of votes gives, and the items whose votes are all in
without one (for a lead). The review stage itself is core/review.py."""

from __future__ import annotations

from sqlalchemy import exists, func, not_, select
from sqlmodel import Session

from curation_app.core.labels import KEEP, REJECT
from curation_app.core.project import Project
from curation_app.models import FinalLabel, ReviewVote, User

VOTES = (KEEP, REJECT)


class Verdict:
    KEPT = "kept"
    REJECTED = "rejected"
    TO_LEAD = "to a lead"
    WAITING = "waiting for votes"


def verdict(keep_votes: int, reject_votes: int, *, votes: int, quorum: int) -> str:
    """Kept at `quorum` keep votes; rejected at `quorum` reject votes (a keep is then out of reach
    too); to a lead when every vote is in and neither happened (2-2 of 4 with a quorum of 3)."""
    if keep_votes >= quorum:
        return Verdict.KEPT
    if reject_votes >= quorum:
        return Verdict.REJECTED
    return Verdict.TO_LEAD if keep_votes + reject_votes >= votes else Verdict.WAITING


def votes_on(session: Session, query_id: int) -> list[tuple[ReviewVote, str]]:
    return list(session.execute(select(ReviewVote, User.name).join(User, User.id == ReviewVote.reviewer_id)
                                .where(ReviewVote.query_id == query_id).order_by(User.name)).all())


def split_items(session: Session, *, project: Project) -> dict[int, dict]:
    """Items whose votes are all in and left them undecided (e.g. 2-2): query id -> vote counts."""
    if not project.review_votes:
        return {}
    finalised = exists().where(FinalLabel.query_id == ReviewVote.query_id)
    rows = session.execute(select(ReviewVote.query_id, ReviewVote.vote, func.count())
                           .where(not_(finalised)).group_by(ReviewVote.query_id, ReviewVote.vote)).all()
    counts: dict[int, dict] = {}
    for query_id, vote, n in rows:
        counts.setdefault(query_id, {KEEP: 0, REJECT: 0})[vote] = n
    return {query_id: c for query_id, c in counts.items()
            if verdict(c[KEEP], c[REJECT], votes=project.review_votes, quorum=project.review_quorum) == Verdict.TO_LEAD}


def vote_summary(session: Session, *, query_id: int, project: Project) -> dict | None:
    """The votes on an item as a final label records them; None when it has none."""
    votes = votes_on(session, query_id)
    if not votes:
        return None
    keep = sum(1 for v, _ in votes if v.vote == KEEP)
    return {"keep": keep, "reject": len(votes) - keep, "votes": project.review_votes, "quorum": project.review_quorum,
            "reviewers": [{"reviewer": name, "vote": v.vote, "comment": v.comment} for v, name in votes]}
