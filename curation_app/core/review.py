"""The review stage, CodeArena's second step: once the acceptance rule settles an item's labels
from the annotation stage (one annotator: their labels as they are), `review_votes` reviewers
(senior developers) vote keep or reject on those proposed labels, blind to each other's votes.
The item is kept with the proposed labels when keep votes reach `review_quorum`, rejected as soon
as the reject votes reach the quorum, and otherwise (for example 2-2 of 4) left to a lead.
Items the annotation stage itself rejects are final without a review, as before.

With 4 votes and a quorum of 3 (CodeArena): 4-0 and 3-1 keep, 1-3 and 0-4 reject, 2-2 goes to a
lead; an item is decided as soon as a quorum is reached, and later votes are refused.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import exists, func, not_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from curation_app.core import audit, queue
from curation_app.core.annotation_io import neutralise_formula, restore_formula, write_rows
from curation_app.core.readers import read_records
from curation_app.database import bulk_write, read_scope, session_scope
from curation_app.core.adjudicate import LEADS, _open_complete_items, _submitted_annotations, settled_labels
from curation_app.core.auth import create_imported_annotator, require_role, validate_name
from curation_app.core.errors import Conflict, ImportRefused, InvalidInput, NotFound, PermissionDenied
from curation_app.core.labels import KEEP, REJECT, TEXT_FIELDS, clean_fields
from curation_app.core.limits import MAX_COMMENT_CHARS, MAX_PUBLIC_ID_CHARS, check, check_labels, excerpt
from curation_app.core.project import Project, load_project
from curation_app.core.votes import VOTES, Verdict, split_items, verdict, vote_summary, votes_on  # noqa: F401 - part of this module's interface
from curation_app.models import Annotation, AuditLog, FinalLabel, LabelSource, Query, ReviewVote, Role, User, utcnow


@dataclass
class ReviewItem:
    """What a reviewer sees: the query, its proposed labels with the rewrite and the reference
    answer, and their own vote only."""

    query_id: int
    public_id: str
    messages: list[dict]
    proposed: dict[str, Any]
    own_vote: dict | None
    votes_needed: int


def _require_review_stage(project: Project) -> None:
    if not project.review_votes:
        raise InvalidInput("this project has no review stage: set review_votes (e.g. 4) and review_quorum "
                           "(e.g. 3) first")


def _proposal(session: Session, query_id: int, project: Project) -> dict[str, Any] | None:
    """The annotation stage's settled, kept labels for one item still open; None otherwise."""
    if session.execute(select(FinalLabel.id).where(FinalLabel.query_id == query_id)).first():
        return None
    annotations = _submitted_annotations(session, [query_id], vocabulary=project.taxonomy.languages).get(query_id, [])
    if len(annotations) < project.rule.min_annotations:
        return None
    return _kept_proposal(annotations, project)


def _kept_proposal(annotations: list[dict], project: Project) -> dict[str, Any] | None:
    settled = settled_labels(annotations, project)
    if settled is None or settled[0]["decision"] != KEEP:
        return None
    return {"values": settled[0], "sources": settled[1]}


def review_queue(session: Session, *, actor: User, limit: int = 50) -> list[str]:
    """Items waiting for this reviewer's vote, oldest first: proposed labels, fewer votes than
    `review_votes`, none from this reviewer."""
    require_role(actor, Role.REVIEWER)
    project = load_project(session)
    if not project.review_votes:
        return []
    mine = exists().where(ReviewVote.query_id == Query.id, ReviewVote.reviewer_id == actor.id)
    counted = (select(func.count()).select_from(ReviewVote).where(ReviewVote.query_id == Query.id)
               .scalar_subquery())
    found: list[str] = []
    candidates = _open_complete_items(session, project)  # open items with their annotations, read once
    rows = session.execute(select(Query.id, Query.public_id).where(
        Query.id.in_(list(candidates)), not_(mine), counted < project.review_votes).order_by(Query.id)).all()
    for query_id, public_id in rows:
        if _kept_proposal(candidates[query_id], project) is not None:
            found.append(public_id)
            if len(found) >= limit:
                break
    return found


def review_item(session: Session, *, actor: User, public_id: str) -> ReviewItem:
    require_role(actor, Role.REVIEWER)
    project = load_project(session)
    _require_review_stage(project)
    query = _query(session, public_id)
    proposal = _proposal(session, query.id, project)
    own = session.execute(select(ReviewVote).where(ReviewVote.query_id == query.id,
                                                   ReviewVote.reviewer_id == actor.id)).scalar_one_or_none()
    if proposal is None:
        raise InvalidInput(f"{public_id} is not waiting for a review (not annotated yet, or already final)")
    return ReviewItem(query_id=query.id, public_id=query.public_id, messages=query.messages,
                      proposed=proposal["values"], votes_needed=project.review_votes,
                      own_vote=None if own is None else {"vote": own.vote, "comment": own.comment,
                                                         "corrections": own.corrections})


def _query(session: Session, public_id: str) -> Query:
    query = session.execute(select(Query).where(Query.public_id == public_id)).scalar_one_or_none()
    if query is None:
        raise NotFound(f"no query with id {public_id!r}")
    return query


def _clean_vote(vote: Any, comment: Any, corrections: Any, project: Project, where: str) -> tuple[str, str | None, dict | None]:
    prefix = f"{where}: " if where else ""
    if vote not in VOTES:
        raise InvalidInput(f"{prefix}vote {excerpt(vote)} is not keep or reject")
    if comment is not None and not isinstance(comment, str):
        raise InvalidInput(f"{prefix}comment must be text")
    comment = check((comment or "").strip() or None, field="comment", where=where, limit=MAX_COMMENT_CHARS)
    if corrections in (None, {}):
        return vote, comment, None
    if not isinstance(corrections, dict):
        raise InvalidInput(f"{prefix}corrections must be an object of label fields")
    check_labels(corrections, text_fields=TEXT_FIELDS, where=where)
    cleaned = clean_fields(corrections, project.taxonomy, complete=False, where=where, score_fields=project.score_fields)
    return vote, comment, {name: cleaned[name] for name in corrections}


def cast_vote(session: Session, *, actor: User, public_id: str, vote: str, comment: str | None = None,
              corrections: dict | None = None) -> str:
    """Record (or change, until the item is decided) this reviewer's vote; decide the item when
    the votes allow. Returns the item's verdict."""
    require_role(actor, Role.REVIEWER)
    project = load_project(session)
    _require_review_stage(project)
    query = _query(session, public_id)
    if _proposal(session, query.id, project) is None:
        raise InvalidInput(f"{public_id} is not waiting for a review (not annotated yet, or already final)")
    vote, comment, corrections = _clean_vote(vote, comment, corrections, project, public_id)
    _store_vote(session, actor=actor, query_id=query.id, reviewer=actor, vote=vote, comment=comment,
                corrections=corrections, project=project, public_id=public_id)
    return decide(session, actor=actor, query_id=query.id, project=project)


def _store_vote(session: Session, *, actor: User, query_id: int, reviewer: User, vote: str, comment: str | None,
                corrections: dict | None, project: Project, public_id: str) -> None:
    existing = session.execute(select(ReviewVote).where(ReviewVote.query_id == query_id,
                                                        ReviewVote.reviewer_id == reviewer.id)).scalar_one_or_none()
    if existing is None:
        count = session.execute(select(func.count()).select_from(ReviewVote)
                                .where(ReviewVote.query_id == query_id)).scalar_one()
        if count >= project.review_votes:
            raise PermissionDenied(f"{public_id} already has its {project.review_votes} reviewers' votes")
        session.add(ReviewVote(query_id=query_id, reviewer_id=reviewer.id, vote=vote, comment=comment,
                               corrections=corrections))
    else:
        existing.vote, existing.comment, existing.corrections = vote, comment, corrections
        existing.updated_at = utcnow()
        session.add(existing)
    session.flush()
    audit.record(session, actor=actor, action="review.vote", entity="query", entity_id=public_id,
                 old=None if existing is None else {"reviewer": reviewer.name},
                 new={"reviewer": reviewer.name, "vote": vote, "comment": comment, "corrections": corrections})


def decide(session: Session, *, actor: User, query_id: int, project: Project | None = None,
           proposal: dict[str, Any] | None = None) -> str:
    """Finalise an item whose votes decide it (kept: the proposed labels; rejected: the reviewers'
    most common reject reason), recording the votes; a split stays for a lead. `proposal`: the
    item's proposal as the caller read it in this transaction (or checked it is unchanged)."""
    project = project or load_project(session)
    proposal = proposal or _proposal(session, query_id, project)
    if proposal is None:
        return Verdict.WAITING
    votes = votes_on(session, query_id)
    keep = sum(1 for v, _ in votes if v.vote == KEEP)
    reject = len(votes) - keep
    outcome = verdict(keep, reject, votes=project.review_votes, quorum=project.review_quorum)
    if outcome not in (Verdict.KEPT, Verdict.REJECTED):
        return outcome
    summary = vote_summary(session, query_id=query_id, project=project)
    values, sources = dict(proposal["values"]), dict(proposal["sources"])
    if outcome == Verdict.REJECTED:
        values = _rejected(values, [v for v, _ in votes if v.vote == REJECT], project)
        sources = {"decision": {"source": LabelSource.REVIEWED, "by": None, "votes": f"{reject}/{len(votes)}"},
                   "reject_reason": {"source": LabelSource.REVIEWED, "by": None, "votes": None}}
    else:
        sources["decision"] = {"source": LabelSource.REVIEWED, "by": None, "votes": f"{keep}/{len(votes)}"}
    comments = [f"{name}: {v.comment}" for v, name in votes if v.comment]
    label = FinalLabel(query_id=query_id, source=LabelSource.REVIEWED, field_sources=sources, review=summary,
                       rationale="; ".join(comments) or None, **values)
    session.add(label)
    session.flush()
    queue.close_item(session, query_id=query_id)
    audit.record(session, actor=actor, action="review.decided", entity="query", entity_id=str(query_id),
                 new={"verdict": outcome, "keep": keep, "reject": reject})
    return outcome


def _rejected(values: dict, rejects: list[ReviewVote], project: Project) -> dict:
    reasons = Counter((v.corrections or {}).get("reject_reason") for v in rejects)
    reasons.pop(None, None)
    reasons_known = project.taxonomy.reject_reasons
    reason = (reasons.most_common(1)[0][0] if reasons
              else "other" if "other" in reasons_known else reasons_known[0])
    cleaned = clean_fields({**{k: v for k, v in values.items() if k in TEXT_FIELDS or k == "scores"},
                            "decision": REJECT, "reject_reason": reason}, project.taxonomy, complete=True,
                           score_fields=project.score_fields)
    cleaned.pop("notes", None)
    return cleaned


VOTE_COLUMNS = ("query_id", "reviewer", "vote", "comment")


def import_vote_file(path: str | Path, *, actor: User, engine: Engine | None = None) -> dict:
    """`reviews import`: votes from CSV or JSONL (columns query_id, reviewer, vote, comment, and
    optionally corrections as a JSON object); all or nothing. The file is checked and what it meets
    looked up outside the write transaction, which then only writes (see import_votes)."""
    require_role(actor, *LEADS)
    path = Path(path)
    file_format, records = read_records(path)
    if file_format not in ("csv", "jsonl", "json"):
        raise InvalidInput(f"{path}: votes must be CSV or JSONL, not {file_format}")
    rows, unreadable = [], []
    for raw in records:
        if raw.problem or raw.record is None:
            unreadable.append((raw.location, raw.problem or "unreadable"))
        else:
            # A CSV export neutralised formulas in comments; the quote it added goes again.
            rows.append((raw.location, {k: restore_formula(v) for k, v in raw.record.items()}
                         if file_format == "csv" else raw.record))
    with read_scope(engine) as session:
        plan = _vote_plan(session, actor=actor, rows=rows, file_name=str(path), unreadable=unreadable)
    with session_scope(engine) as session:
        if not plan.still_holds(session):  # a vote, an annotation or a final label changed meanwhile
            plan = _vote_plan(session, actor=actor, rows=rows, file_name=str(path), unreadable=unreadable)
        try:
            return _write_votes(session, actor=actor, plan=plan)
        except IntegrityError:  # PostgreSQL: a reviewer voted on one of the file's items after the check
            raise Conflict(f"{path.name}: a vote or reviewer of this file was saved elsewhere while it was "
                           "written; nothing was imported, run the import again") from None


def export_vote_file(path: str | Path, *, actor: User, engine: Engine | None = None) -> int:
    """`reviews export`: every vote as CSV (formulas neutralised) or JSONL, by the file's suffix."""
    require_role(actor, *LEADS)
    path = Path(path)
    file_format = "jsonl" if path.suffix.lower() in (".jsonl", ".json", ".ndjson") else "csv"
    with session_scope(engine) as session:
        return write_rows(path, export_votes(session, actor=actor), file_format=file_format, fieldnames=VOTE_COLUMNS,
                          csv_cells=lambda row: {k: neutralise_formula(str(row[k] or "")) for k in VOTE_COLUMNS})


def import_votes(session: Session, *, actor: User, rows: Iterable[tuple[str, dict]], file_name: str = "votes",
                 unreadable: list[tuple[str, str]] = ()) -> dict:
    """Votes as (where, row) with query_id, reviewer, vote and comment: every row is checked
    before anything is written; unknown reviewers get the reviewer role and no password."""
    require_role(actor, *LEADS)
    return _write_votes(session, actor=actor, plan=_vote_plan(session, actor=actor, rows=list(rows),
                                                              file_name=file_name, unreadable=unreadable))


@dataclass
class _VotePlan:
    """Checked votes and the rows they rest on, as read: reviewers, the items' annotations and votes."""

    project: Project
    # (query, public id, reviewer, vote, comment, corrections)
    checked: list[tuple[int, str, str, str, str | None, dict | None]]
    users: dict[str, tuple[int, str]]  # name -> (id, role)
    votes: dict[tuple[int, int], tuple[int, str]]  # (query, reviewer) -> (vote id, updated_at)
    annotations: set[tuple[int, int, str]]  # (annotation id, revision, state) of the items
    proposals: dict[int, dict[str, Any] | None]  # query -> the labels its reviewers vote on

    def still_holds(self, session: Session) -> bool:
        query_ids = sorted({c[0] for c in self.checked})
        return (load_project(session) == self.project
                and _reviewers(session, {c[2] for c in self.checked}) == self.users
                and _item_votes(session, query_ids, for_update=True) == self.votes
                and _item_annotations(session, query_ids) == self.annotations
                and not _finals_among(session, query_ids))


def _vote_plan(session: Session, *, actor: User, rows: list[tuple[str, dict]], file_name: str,
               unreadable: list[tuple[str, str]] | tuple = ()) -> _VotePlan:
    """Check every row (refusing the file with every problem), looking up queries, reviewers and
    proposals once per item."""
    project = load_project(session)
    _require_review_stage(project)
    problems = list(unreadable)
    public_ids = {str(row.get("query_id") or "").strip() for _, row in rows}
    queries = dict(session.execute(select(Query.public_id, Query.id).where(Query.public_id.in_(public_ids))).all()) \
        if public_ids else {}
    users = _reviewers(session, {str(row.get("reviewer") or "").strip() for _, row in rows})
    proposals: dict[int, dict[str, Any] | None] = {}
    votes = _item_votes(session, sorted(set(queries.values())))
    counted = Counter(query_id for query_id, _ in votes)
    checked, seen = [], set()
    for where, row in rows:
        try:
            unknown = sorted(set(row) - {*VOTE_COLUMNS, "corrections"})
            if unknown:
                raise InvalidInput(f"unknown column(s) {', '.join(excerpt(c) for c in unknown[:5])}; "
                                   f"expected {', '.join(VOTE_COLUMNS)}")
            corrections = row.get("corrections")
            if isinstance(corrections, str):
                try:
                    corrections = json.loads(corrections) if corrections.strip() else None
                except json.JSONDecodeError:
                    raise InvalidInput("corrections is not a JSON object") from None
            public_id, name = str(row.get("query_id") or "").strip(), str(row.get("reviewer") or "").strip()
            if not public_id or not name:
                raise InvalidInput("query_id and reviewer are required")
            check(public_id, field="query_id", limit=MAX_PUBLIC_ID_CHARS)
            _check_reviewer_name(name)
            if (public_id, name) in seen:
                raise InvalidInput(f"a second vote by {name} on {excerpt(public_id, quoted=False)}")
            seen.add((public_id, name))
            query_id = queries.get(public_id)
            if query_id is None:
                raise InvalidInput(f"no query with id {excerpt(public_id)}")
            user = users.get(name)
            if user is not None and user[1] != Role.REVIEWER:
                raise InvalidInput(f"{name} has the role {user[1]}, not reviewer")
            if query_id not in proposals:
                proposals[query_id] = _proposal(session, query_id, project)
            if proposals[query_id] is None:
                raise InvalidInput(f"{excerpt(public_id, quoted=False)} is not waiting for a review (not annotated yet, "
                                   "or final)")
            vote, comment, corrections = _clean_vote(str(row.get("vote") or "").strip().lower(), row.get("comment"),
                                                     corrections, project, "")
            if user is None or (query_id, user[0]) not in votes:
                counted[query_id] += 1
                if counted[query_id] > project.review_votes:
                    raise InvalidInput(f"{excerpt(public_id, quoted=False)} would have more than its "
                                       f"{project.review_votes} reviewers' votes")
            checked.append((query_id, public_id, name, vote, comment, corrections))
        except InvalidInput as problem:
            problems.append((where, str(problem)))
    if problems:
        raise ImportRefused(file_name, problems)
    query_ids = sorted({c[0] for c in checked})
    return _VotePlan(project, checked, users, votes, _item_annotations(session, query_ids), proposals)


def _check_reviewer_name(name: str) -> None:
    try:
        validate_name(name)
    except InvalidInput:
        raise InvalidInput(f"user name {excerpt(name)} is not allowed: use 1-100 letters, digits, '_', '.', '@' "
                           "or '-', starting with a letter or digit") from None


def _reviewers(session: Session, names: set[str]) -> dict[str, tuple[int, str]]:
    names = {name for name in names if name}
    if not names:
        return {}
    return {name: (user_id, role) for name, user_id, role in session.execute(
        select(User.name, User.id, User.role).where(User.name.in_(names)))}


def _item_votes(session: Session, query_ids: list[int], *,
                for_update: bool = False) -> dict[tuple[int, int], tuple[int, str]]:
    found: dict[tuple[int, int], tuple[int, str]] = {}
    for start in range(0, len(query_ids), 500):
        statement = (select(ReviewVote.id, ReviewVote.query_id, ReviewVote.reviewer_id, ReviewVote.updated_at)
                     .where(ReviewVote.query_id.in_(query_ids[start:start + 500])))
        for vote_id, query_id, reviewer_id, updated_at in session.execute(
                statement.with_for_update() if for_update else statement):
            found[(query_id, reviewer_id)] = (vote_id, str(updated_at))
    return found


def _item_annotations(session: Session, query_ids: list[int]) -> set[tuple[int, int, str]]:
    found: set[tuple[int, int, str]] = set()
    for start in range(0, len(query_ids), 500):
        found.update((annotation_id, revision, state) for annotation_id, revision, state in session.execute(
            select(Annotation.id, Annotation.revision, Annotation.state).where(
                Annotation.query_id.in_(query_ids[start:start + 500]))))
    return found


def _finals_among(session: Session, query_ids: list[int]) -> bool:
    return any(session.execute(select(FinalLabel.id).where(FinalLabel.query_id.in_(query_ids[start:start + 500])))
               .first() for start in range(0, len(query_ids), 500))


def _write_votes(session: Session, *, actor: User, plan: _VotePlan) -> dict:
    """A checked plan's votes in bulk statements (each in the audit log), then each item decided."""
    reviewers, created = dict(plan.users), 0
    for name in sorted({c[2] for c in plan.checked} - set(reviewers)):
        reviewers[name] = (create_imported_annotator(session, actor=actor, name=name, role=Role.REVIEWER).id,
                           Role.REVIEWER)
        created += 1
    now = utcnow()
    inserts, updates, audits = [], [], []
    for query_id, public_id, name, vote, comment, corrections in plan.checked:
        earlier = plan.votes.get((query_id, reviewers[name][0]))
        values = {"vote": vote, "comment": comment, "corrections": corrections, "updated_at": now}
        if earlier is None:
            inserts.append({"query_id": query_id, "reviewer_id": reviewers[name][0], **values, "created_at": now})
        else:
            updates.append({"target": earlier[0], **values})
        audits.append({"at": now, "actor_id": actor.id, "action": "review.vote", "entity": "query",
                       "entity_id": public_id, "old": None if earlier is None else {"reviewer": name},
                       "new": {"reviewer": name, "vote": vote, "comment": comment, "corrections": corrections}})
    connection = session.connection()
    bulk_write(connection, ReviewVote.__table__, inserts=inserts, updates=updates)
    bulk_write(connection, AuditLog.__table__, inserts=audits)
    decided: Counter = Counter()
    for query_id in sorted({c[0] for c in plan.checked}):
        decided[decide(session, actor=actor, query_id=query_id, project=plan.project,
                       proposal=plan.proposals[query_id])] += 1
    return {"votes": len(plan.checked), "reviewers_created": created, "kept": decided[Verdict.KEPT],
            "rejected": decided[Verdict.REJECTED], "to_lead": decided[Verdict.TO_LEAD],
            "waiting": decided[Verdict.WAITING]}


def export_votes(session: Session, *, actor: User) -> list[dict]:
    """Every vote, for leads: query_id, reviewer, vote, comment (and corrections)."""
    require_role(actor, *LEADS)
    rows = session.execute(select(Query.public_id, User.name, ReviewVote.vote, ReviewVote.comment, ReviewVote.corrections)
                           .join(Query, Query.id == ReviewVote.query_id).join(User, User.id == ReviewVote.reviewer_id)
                           .order_by(Query.public_id, User.name)).all()
    return [{"query_id": public_id, "reviewer": name, "vote": vote, "comment": comment, "corrections": corrections}
            for public_id, name, vote, comment, corrections in rows]
