"""From annotations to final labels: applying the acceptance rule (core/rule.py) to the database,
the lead's conflict queue, resolution with optimistic locking, reopening and sending back, and
feedback for the guidelines.
"""

from __future__ import annotations

import difflib
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import delete, exists, func, not_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from curation_app.core import audit, queue
from curation_app.core.auth import require_role
from curation_app.core.errors import InvalidInput, NotFound, ResolvedElsewhere
from curation_app.core.limits import MAX_COMMENT_CHARS, MAX_TEXT_CHARS, check, check_labels
from curation_app.core.labels import (CHOSEN_TEXT_FIELDS, FIELDS, KEEP, canonical_languages, clean_fields, decided_fields,
                                      TEXT_FIELDS, flat_values, nested_values)
from curation_app.core.project import Project, load_project
from curation_app.core.rule import (FieldOutcome, Outcome, agreement_score, conflicts, conflicts_by_decision,
                                    decide_item, decision_margin, field_sources, overall_source, proposed_texts,
                                    proposed_values, show_value)
from curation_app.core.scores import ScoreField
from curation_app.core.votes import split_items, vote_summary
from curation_app.models import Annotation, AnnotationState, FinalLabel, LabelSource, Query, Role, User, utcnow

CONFIDENCES = ("low", "medium", "high")
ERROR_TYPES = ("ambiguous query", "guideline gap", "annotator error", "other")
# An annotation this much faster than the median time on task is flagged as suspiciously fast.
FAST_SHARE_OF_MEDIAN = 0.25
MIN_PLAUSIBLE_SECONDS = 10.0
LEADS = (Role.LEAD, Role.ADMIN)


def _submitted_annotations(session: Session, query_ids: list[int] | None = None, *,
                           vocabulary: tuple[str, ...] | None = None) -> dict[int, list[dict]]:
    """Each item's submitted annotations; with the project's vocabulary, languages stored in an
    older spelling (RUST) read as the vocabulary's (rust), so they do not split a vote."""
    statement = (select(Annotation, User.name)
                 .join(User, User.id == Annotation.annotator_id)
                 .where(Annotation.state == AnnotationState.SUBMITTED)
                 .order_by(Annotation.query_id, User.name))
    if query_ids is not None:
        statement = statement.where(Annotation.query_id.in_(query_ids))
    grouped: dict[int, list[dict]] = defaultdict(list)
    for annotation, name in session.execute(statement):
        values = {f: getattr(annotation, f) for f in FIELDS}
        if vocabulary is not None:
            values["languages"] = canonical_languages(languages=values["languages"], vocabulary=vocabulary,
                                                      keep_unknown=True)
        grouped[annotation.query_id].append({
            **values, "annotator": name,
            "time_on_task_s": annotation.time_on_task_s, "submitted_at": annotation.submitted_at,
            "guideline_version": annotation.guideline_version})
    return grouped


def _open_complete_items(session: Session, project: Project) -> dict[int, list[dict]]:
    """Items with enough submitted annotations and no final label, with their annotations."""
    rule = project.rule
    finalised = exists().where(FinalLabel.query_id == Annotation.query_id)
    complete = list(session.execute(
        select(Annotation.query_id).where(Annotation.state == AnnotationState.SUBMITTED, not_(finalised))
        .group_by(Annotation.query_id).having(func.count() >= rule.min_annotations)).scalars())
    grouped: dict[int, list[dict]] = {}
    for start in range(0, len(complete), 500):
        grouped.update(_submitted_annotations(session, complete[start:start + 500],
                                              vocabulary=project.taxonomy.languages))
    return grouped


def settled_labels(item_annotations: list[dict], project: Project) -> tuple[dict, dict] | None:
    """The labels the rule settles for one complete item, with where each field came from; None
    when it leaves the item to a lead."""
    score_fields = project.score_fields
    outcomes = decide_item(item_annotations, project.rule, score_fields)
    chosen = {name: o.value for name, o in outcomes.items()}
    try:
        # Decided fields can still disagree with each other (a subcategory of another category).
        values = not conflicts(outcomes) and clean_fields(
            nested_values(chosen, score_fields), project.taxonomy, complete=True, score_fields=score_fields)
    except InvalidInput:
        values = None
    if not values:
        return None
    texts = proposed_texts(item_annotations, values["decision"])
    sources = field_sources(outcomes, chosen, None, score_fields)
    for name, (_, author) in texts.items():
        if author:
            sources[name] = {"source": LabelSource.ANNOTATOR, "by": author, "votes": None}
    values.pop("notes", None)
    values.update({k: v for k, (v, _) in texts.items()})
    return values, sources


def apply_rule(session: Session, *, actor: User) -> dict:
    """Finalise every complete item that the rule settles; count the ones left for a lead. With a
    review stage, a settled item that is kept waits for the reviewers' votes instead (core/review.py)."""
    require_role(actor, *LEADS)
    project = load_project(session)
    rule = project.rule
    result = {"finalised": 0, "unanimous": 0, "majority": 0, "to_adjudicate": 0, "to_review": 0}
    for query_id, item_annotations in _open_complete_items(session, project).items():
        settled = settled_labels(item_annotations, project)
        if settled is None:
            result["to_adjudicate"] += 1
            continue
        values, sources = settled
        if project.review_votes and values["decision"] == KEEP:
            result["to_review"] += 1
            continue
        label = FinalLabel(query_id=query_id, source=overall_source(sources), field_sources=sources, **values)
        session.add(label)
        session.flush()
        queue.close_item(session, query_id=query_id)
        result["finalised"] += 1
        result[label.source] += 1
    audit.record(session, actor=actor, action="final.apply_rule", entity="queue",
                 new={**result, "min_annotations": rule.min_annotations, "keep_quorum": rule.keep_quorum})
    return result


@dataclass
class ConflictItem:
    public_id: str
    annotations: int
    conflicts: list[str]  # whatever the decision is
    agreement: float
    category: str | None
    annotators: list[str]
    if_kept: list[str] = field(default_factory=list)  # while the decision is split: conflicts if kept
    if_rejected: list[str] = field(default_factory=list)  # ... and if rejected
    decision_votes: dict[str, int] = field(default_factory=dict)
    reviewers_split: bool = False  # the decision votes are the reviewers' (the review stage)

    @property
    def decision_split(self) -> bool:
        return "decision" in self.conflicts

    def conflict_text(self) -> str:
        """The conflicts in one line: "decision; if kept: category; if rejected: reject_reason"."""
        parts = [", ".join(self.conflicts) + (" (reviewers split)" if self.reviewers_split else "")]
        parts += [f"if kept: {', '.join(self.if_kept)}"] if self.if_kept else []
        parts += [f"if rejected: {', '.join(self.if_rejected)}"] if self.if_rejected else []
        return "; ".join(parts)


def conflict_queue(session: Session, *, actor: User, field: str | None = None, category: str | None = None,
                   annotator: str | None = None) -> list[ConflictItem]:
    """Complete items the rule did not settle, those most in doubt first: split decisions (the
    closest split first), then the others, lowest agreement first. On a split decision, the
    keepers' fields are conflicts only if the item is kept, the reject reason only if rejected."""
    require_role(actor, *LEADS)
    project = load_project(session)
    rule, score_fields = project.rule, project.score_fields
    grouped = _open_complete_items(session, project)
    public_ids: dict[int, str] = {}
    query_ids = list(grouped)
    for start in range(0, len(query_ids), 500):
        public_ids.update(session.execute(select(Query.id, Query.public_id).where(
            Query.id.in_(query_ids[start:start + 500]))).all())
    items = []
    margins: dict[str, float] = {}
    # Reviewers split (2-2 of 4): the annotation stage settled the labels, the decision is the lead's.
    review_splits = split_items(session, project=project)
    for query_id, item_annotations in grouped.items():
        outcomes = decide_item(item_annotations, rule, score_fields)
        in_conflict, if_kept, if_rejected = conflicts_by_decision(outcomes, score_fields)
        review_votes = review_splits.get(query_id)
        if review_votes and not in_conflict:
            in_conflict, outcomes["decision"] = ["decision"], replace(
                outcomes["decision"], status=Outcome.CONFLICT, votes=dict(review_votes), agreeing=max(review_votes.values()),
                voters=sum(review_votes.values()))
        if not in_conflict or (field and field not in (*in_conflict, *if_kept, *if_rejected)):
            continue
        names = [a["annotator"] for a in item_annotations]
        if annotator and annotator not in names:
            continue
        modal = outcomes["category"].value
        if category and category not in {a["category"] for a in item_annotations}:
            continue
        items.append(ConflictItem(public_ids[query_id], len(item_annotations), in_conflict, agreement_score(outcomes),
                                  modal, names, if_kept, if_rejected, outcomes["decision"].votes,
                                  reviewers_split=bool(review_votes)))
        margins[public_ids[query_id]] = decision_margin(outcomes["decision"])
    return sorted(items, key=lambda item: (not item.decision_split, margins[item.public_id] if item.decision_split
                                           else 0.0, item.agreement, item.public_id))


@dataclass
class AdjudicationView:
    query_id: int
    public_id: str
    messages: list[dict]
    baseline_answer: str | None
    annotations: list[dict]
    outcomes: dict[str, FieldOutcome]
    fast: list[str]  # annotators whose time on task looks too short
    final: dict | None
    final_revision: int  # 0 when there is no final label yet
    score_fields: tuple[ScoreField, ...] = ()
    project: Project | None = None
    reference_diffs: list[tuple[str, str, str]] = field(default_factory=list)  # (a, b, unified diff)
    # What the final-label form starts from, flat: the saved final label, otherwise the agreed or
    # leading value of each field and the keepers' most common texts (as `adjudicate --auto` keeps).
    proposal: dict[str, Any] = field(default_factory=dict)
    review: dict | None = None  # the reviewers' votes (the review stage), with their comments

    def proposal_for(self, decision: str | None) -> dict[str, Any]:
        """The proposal when the lead chooses this decision: the saved final label when it has
        that decision, otherwise the annotations' proposal for it."""
        if decision is None or decision == self.proposal.get("decision"):
            return dict(self.proposal)
        return proposed_values(self.annotations, self.project.rule, self.score_fields, decision)

    def side_by_side(self) -> list[dict]:
        """The annotators' values of each decided field, fields in conflict first: [{"field",
        "status", "values": {annotator: shown value, "" when none}, "disagreeing": [annotators
        whose value is not the leading one; on a tie at the top, everyone who gave one]}]."""
        flat = [flat_values(a, self.score_fields) for a in self.annotations]
        rows = []
        for name in decided_fields(self.score_fields):
            outcome = self.outcomes.get(name)
            status = outcome.status if outcome else ""
            given = {a["annotator"]: _comparable(a[name]) for a in flat if a[name] not in (None, [], "")}
            counts = Counter(given.values()).most_common()
            disagreeing: list[str] = []
            if status == Outcome.CONFLICT and counts:
                tied_at_top = len(counts) > 1 and counts[0][1] == counts[1][1]
                disagreeing = [who for who, value in given.items() if tied_at_top or value != counts[0][0]]
            rows.append({"field": name, "status": str(status),
                         "values": {a["annotator"]: show_value(a[name]) if a[name] not in (None, [], "") else ""
                                    for a in flat},
                         "disagreeing": disagreeing})
        return sorted(rows, key=lambda row: row["status"] != Outcome.CONFLICT)

    def text_versions(self, name: str) -> list[tuple[str, str]]:
        """(annotator, text) for each annotator who wrote this text field."""
        return [(a["annotator"], a[name]) for a in self.annotations if a[name]]


def _comparable(value: Any) -> Any:
    return tuple(sorted(value)) if isinstance(value, (list, tuple, set)) else value


def next_conflict(queue_ids: list[str], *, current: str | None, position: int) -> str | None:
    """The conflict to open after `current`: the one after it while it is still in the queue,
    otherwise the one that took its place (`position`, where it was listed); None when no
    other conflict is left."""
    others = [public_id for public_id in queue_ids if public_id != current]
    if not others:
        return None
    if current in queue_ids:
        after = queue_ids.index(current) + 1
        return queue_ids[after] if after < len(queue_ids) else others[0]
    return queue_ids[min(max(position, 0), len(queue_ids) - 1)]


def _median_time(session: Session) -> float:
    times = list(session.execute(select(Annotation.time_on_task_s).where(
        Annotation.state == AnnotationState.SUBMITTED, Annotation.time_on_task_s > 0).limit(5000)).scalars())
    return statistics.median(times) if times else 0.0


def adjudication_view(session: Session, *, actor: User, public_id: str,
                      project: Project | None = None) -> AdjudicationView:
    require_role(actor, *LEADS)
    project = project or load_project(session)
    query = session.execute(select(Query).where(Query.public_id == public_id)).scalar_one_or_none()
    if query is None:
        raise NotFound(f"no query with id {public_id!r}")
    annotations = _submitted_annotations(session, [query.id], vocabulary=project.taxonomy.languages).get(query.id, [])
    score_fields = project.score_fields
    outcomes = decide_item(annotations, project.rule, score_fields) if annotations else {}
    threshold = max(MIN_PLAUSIBLE_SECONDS, FAST_SHARE_OF_MEDIAN * _median_time(session))
    # Labels imported from elsewhere carry no time on task (0): they are not "fast", just unmeasured.
    fast = [a["annotator"] for a in annotations if 0 < a["time_on_task_s"] < threshold]
    final = session.execute(select(FinalLabel).where(FinalLabel.query_id == query.id)).scalar_one_or_none()
    if final is not None:
        proposal = flat_values({f: getattr(final, f) for f in FIELDS if f != "notes"}, score_fields)
    else:
        proposal = proposed_values(annotations, project.rule, score_fields)
    answers = [(a["annotator"], a["reference_answer"] or "") for a in annotations if a["reference_answer"]]
    diffs = []
    for (name_a, text_a), (name_b, text_b) in zip(answers, answers[1:]):
        diff = "\n".join(difflib.unified_diff(text_a.splitlines(), text_b.splitlines(), name_a, name_b, lineterm=""))
        diffs.append((name_a, name_b, diff))
    return AdjudicationView(
        query_id=query.id, public_id=query.public_id, messages=query.messages,
        baseline_answer=query.baseline_answer, annotations=annotations, outcomes=outcomes, fast=fast,
        score_fields=score_fields, project=project,
        final=None if final is None else {**{f: getattr(final, f) for f in FIELDS if f != "notes"},
                                          "source": final.source, "field_sources": final.field_sources,
                                          "rationale": final.rationale, "confidence": final.confidence,
                                          "error_type": final.error_type,
                                          "guidelines_need_update": final.guidelines_need_update},
        final_revision=final.revision if final else 0, reference_diffs=diffs, proposal=proposal,
        review=vote_summary(session, query_id=query.id, project=project))


def resolve(
    session: Session,
    *,
    actor: User,
    public_id: str,
    fields: dict[str, Any],
    rationale: str | None,
    confidence: str | None = None,
    error_type: str | None = None,
    guidelines_need_update: bool = False,
    expected_revision: int,
) -> FinalLabel:
    """Save a lead's final label. expected_revision is the final label's revision the lead saw
    (0: none yet); if another lead saved in between, nothing is written and Conflict is raised."""
    require_role(actor, *LEADS)
    check_labels(fields, text_fields=TEXT_FIELDS)
    check(rationale, field="rationale", limit=MAX_TEXT_CHARS)
    project = load_project(session)
    view = adjudication_view(session, actor=actor, public_id=public_id, project=project)
    if confidence is not None and confidence not in CONFIDENCES:
        raise InvalidInput(f"confidence {confidence!r} is not one of {', '.join(CONFIDENCES)}")
    if error_type is not None and error_type not in ERROR_TYPES:
        raise InvalidInput(f"error type {error_type!r} is not one of {', '.join(ERROR_TYPES)}")
    chosen = clean_fields({k: v for k, v in fields.items() if k != "notes"}, project.taxonomy,
                          complete=True, score_fields=view.score_fields)
    chosen.pop("notes", None)
    # The fields that depend on the decision are weighed by the side the lead chose.
    outcomes = decide_item(view.annotations, project.rule, view.score_fields, chosen["decision"]) \
        if view.annotations else {}
    sources = field_sources(outcomes, flat_values(chosen, view.score_fields), actor.name, view.score_fields)
    for name in CHOSEN_TEXT_FIELDS:
        if chosen.get(name):
            authors = [a["annotator"] for a in view.annotations if a[name] == chosen[name]]
            sources[name] = ({"source": LabelSource.ANNOTATOR, "by": authors[0], "votes": None} if authors
                             else {"source": LabelSource.ADJUDICATED, "by": actor.name, "votes": None})
    values = {**chosen, "source": LabelSource.ADJUDICATED, "field_sources": sources, "rationale": (rationale or "").strip() or None,
              "confidence": confidence, "error_type": error_type,
              "guidelines_need_update": bool(guidelines_need_update), "decided_by_id": actor.id,
              "review": vote_summary(session, query_id=view.query_id, project=project),
              "updated_at": utcnow()}
    conflict = ResolvedElsewhere(f"{public_id} was resolved by another lead while you were working on it; "
                        "reload to see their decision (nothing of yours was saved)")
    if expected_revision == 0:
        if view.final is not None:
            raise conflict
        try:
            with session.begin_nested():
                session.add(FinalLabel(query_id=view.query_id, revision=1, **values))
        except IntegrityError:
            raise conflict from None
    else:
        changed = session.execute(update(FinalLabel).where(
            FinalLabel.query_id == view.query_id, FinalLabel.revision == expected_revision).values(
            revision=FinalLabel.revision + 1, **values)).rowcount
        if changed != 1:
            raise conflict
    queue.close_item(session, query_id=view.query_id)
    audit.record(session, actor=actor, action="final.resolve", entity="final_label", entity_id=public_id,
                 old=view.final, new={**chosen, "rationale": values["rationale"], "confidence": confidence,
                                      "error_type": error_type, "guidelines_need_update": guidelines_need_update})
    session.flush()
    return session.execute(select(FinalLabel).where(FinalLabel.query_id == view.query_id)).scalar_one()


def resolve_as_proposed(
    session: Session,
    *,
    actor: User,
    public_id: str,
    changes: dict[str, Any],
    rationale: str | None,
    confidence: str | None = None,
    error_type: str | None = None,
    guidelines_need_update: bool = False,
    expected_revision: int | None = None,
) -> FinalLabel:
    """Resolve with the fields in `changes` (flat: scores under their own names; "" or None
    empties one) and every other field as the Adjudicate page proposes it (`proposal_for` the
    chosen decision). expected_revision defaults to the revision read here."""
    require_role(actor, *LEADS)
    view = adjudication_view(session, actor=actor, public_id=public_id)
    known = (*decided_fields(view.score_fields), *CHOSEN_TEXT_FIELDS)
    unknown = [name for name in changes if name not in known]
    if unknown:
        raise InvalidInput(f"{public_id}: unknown field(s) {', '.join(unknown)}; known: {', '.join(known)}")
    decision = changes.get("decision") or view.proposal.get("decision")
    values = {**view.proposal_for(decision), **changes}
    if values.get("decision") is None:
        votes = ", ".join(f"{v} x{n}" for v, n in view.outcomes["decision"].votes.items()) if view.outcomes else ""
        raise InvalidInput(f"{public_id}: the annotators do not settle the decision ({votes or 'no annotations'}); "
                           "choose one")
    return resolve(session, actor=actor, public_id=public_id, fields=nested_values(values, view.score_fields),
                   rationale=rationale, confidence=confidence, error_type=error_type,
                   guidelines_need_update=guidelines_need_update,
                   expected_revision=view.final_revision if expected_revision is None else expected_revision)


def _final_or_raise(session: Session, public_id: str) -> tuple[Query, FinalLabel | None]:
    query = session.execute(select(Query).where(Query.public_id == public_id)).scalar_one_or_none()
    if query is None:
        raise NotFound(f"no query with id {public_id!r}")
    final = session.execute(select(FinalLabel).where(FinalLabel.query_id == query.id)).scalar_one_or_none()
    return query, final


def _final_snapshot(final: FinalLabel) -> dict:
    return {**{f: getattr(final, f) for f in FIELDS if f != "notes"}, "source": final.source,
            "field_sources": final.field_sources, "rationale": final.rationale, "revision": final.revision}


def reopen(session: Session, *, actor: User, public_id: str, reason: str) -> None:
    """Remove a final label (its values stay in the audit log); the item is open again."""
    require_role(actor, *LEADS)
    if not (reason or "").strip():
        raise InvalidInput("say why the item is reopened")
    check(reason, field="reason", limit=MAX_COMMENT_CHARS)
    query, final = _final_or_raise(session, public_id)
    if final is None:
        raise InvalidInput(f"{public_id} has no final label to reopen")
    audit.record(session, actor=actor, action="final.reopen", entity="final_label", entity_id=public_id,
                 old=_final_snapshot(final), new={"reason": reason.strip()})
    session.execute(delete(FinalLabel).where(FinalLabel.id == final.id))
    queue.reopen_item(session, query_id=query.id, overlap=load_project(session).overlap)


def send_back(session: Session, *, actor: User, public_id: str, annotators: list[str] | None, reason: str) -> list[str]:
    """Ask annotators to look again: their annotations become drafts and the item is back in
    their queue. A final label is reopened first. Returns who it was sent to."""
    require_role(actor, *LEADS)
    if not (reason or "").strip():
        raise InvalidInput("say what the annotators should look at again")
    check(reason, field="reason", limit=MAX_COMMENT_CHARS)
    query, final = _final_or_raise(session, public_id)
    if final is not None:
        reopen(session, actor=actor, public_id=public_id, reason=f"sent back: {reason}")
    rows = session.execute(select(Annotation, User).join(User, User.id == Annotation.annotator_id).where(
        Annotation.query_id == query.id, Annotation.state == AnnotationState.SUBMITTED)).all()
    chosen = [(a, u) for a, u in rows if not annotators or u.name in annotators]
    unknown = sorted(set(annotators or []) - {u.name for _, u in rows})
    if unknown:
        raise InvalidInput(f"{', '.join(unknown)} did not annotate {public_id}")
    for annotation, user in chosen:
        annotation.state = AnnotationState.DRAFT
        annotation.notes = check(((annotation.notes or "") + f"\n[sent back by {actor.name}: {reason.strip()}]").strip(),
                                 field=f"the notes of {user.name}", limit=MAX_TEXT_CHARS)
        annotation.revision += 1
        session.add(annotation)
    queue.send_back_to(session, query_id=query.id, annotator_ids=[user.id for _, user in chosen])
    audit.record(session, actor=actor, action="final.send_back", entity="query", entity_id=public_id,
                 new={"annotators": [u.name for _, u in chosen], "reason": reason.strip()})
    return [u.name for _, u in chosen]


def guideline_feedback(session: Session, *, actor: User) -> dict:
    """What to fix in the guidelines next: flagged items, and where leads adjudicate most."""
    require_role(actor, *LEADS)
    flagged = session.execute(
        select(Query.public_id, FinalLabel.category, FinalLabel.error_type, FinalLabel.rationale, User.name)
        .join(FinalLabel, FinalLabel.query_id == Query.id)
        .outerjoin(User, User.id == FinalLabel.decided_by_id)
        .where(FinalLabel.guidelines_need_update)
        .order_by(FinalLabel.updated_at.desc())).all()
    by_category = session.execute(
        select(FinalLabel.category, func.count()).where(FinalLabel.source == LabelSource.ADJUDICATED)
        .group_by(FinalLabel.category).order_by(func.count().desc())).all()
    by_error = session.execute(
        select(FinalLabel.error_type, func.count()).where(FinalLabel.error_type.is_not(None))
        .group_by(FinalLabel.error_type).order_by(func.count().desc())).all()
    return {
        "flagged": [{"query": p, "category": c, "error_type": e, "rationale": r, "by": n}
                    for p, c, e, r, n in flagged],
        "adjudications_by_category": [{"category": c or "(rejected)", "adjudicated": n} for c, n in by_category],
        "error_types": [{"error_type": e, "items": n} for e, n in by_error],
    }
