"""An annotator's work on one query: open it, save drafts, submit, edit until it is final.

Blind by construction: nothing here ever returns another annotator's labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from curation_app.core import audit, queue
from curation_app.core.auth import require_role
from curation_app.core.errors import EditedElsewhere, FinalisedMeanwhile, InvalidInput, NotFound, PermissionDenied
from curation_app.core.labels import CLEARED_ON_REJECT, FIELDS, TEXT_FIELDS, clean_fields, in_vocabulary
from curation_app.core.languages import confident_languages
from curation_app.core.limits import check_labels
from curation_app.core.project import Project, load_project
from curation_app.core.rendering import suggest_for_messages
from curation_app.core.scores import merge_scores
from curation_app.models import (Annotation, AnnotationState, Assignment, AssignmentState, Baseline, FinalLabel, Query,
                                 Role, User, utcnow)

# Time on task counts at most this much per save, so an item left open overnight does not count.
MAX_SECONDS_PER_SAVE = 30 * 60


@dataclass
class ItemView:
    """What an annotator may see of one item: the query and their own work, nothing else."""

    query_id: int
    public_id: str
    messages: list[dict]
    source: str
    baseline_answer: str | None  # the first of `baselines`
    baseline_model: str | None
    suggested_languages: list[dict]
    baselines: list[dict] = field(default_factory=list)  # {"model", "answer"} per model, first imported first
    annotation: dict[str, Any] = field(default_factory=dict)
    state: str | None = None  # None | draft | submitted
    revision: int = 0
    time_on_task_s: float = 0.0
    finalised: bool = False
    reserved_until: datetime | None = None
    suggestions_opened: bool = False
    suggested_labels: dict | None = None
    triage_flags: dict | None = None  # possible duplicate, secrets: shown to the annotator


def _query(session: Session, public_id: str) -> Query:
    query = session.execute(select(Query).where(Query.public_id == public_id)).scalar_one_or_none()
    if query is None:
        raise NotFound(f"no query with id {public_id!r}")
    return query


def _own(session: Session, model: type, query_id: int, annotator_id: int | None) -> Any:
    return session.execute(select(model).where(
        model.query_id == query_id, model.annotator_id == annotator_id)).scalar_one_or_none()


def _is_final(session: Session, query_id: int) -> bool:
    return session.execute(select(FinalLabel.id).where(FinalLabel.query_id == query_id)).first() is not None


def _assignment(session: Session, query: Query, actor: User) -> Assignment:
    assignment = _own(session, Assignment, query.id, actor.id)
    if assignment is None:
        raise PermissionDenied(f"query {query.public_id} is not assigned to {actor.name}")
    return assignment


def open_item(session: Session, *, actor: User, public_id: str) -> ItemView:
    require_role(actor, Role.ANNOTATOR)
    query = _query(session, public_id)
    assignment = _assignment(session, query, actor)
    if assignment.state == AssignmentState.SKIPPED:
        raise InvalidInput(f"you skipped {public_id} (or a lead closed it); it is no longer in your queue")
    annotation: Annotation | None = _own(session, Annotation, query.id, actor.id)
    baselines = _baselines(session, query.id)
    suggestions = (annotation.suggested_languages if annotation and annotation.suggested_languages is not None
                   else [s.as_dict() for s in suggest_for_messages(query.messages)])
    return ItemView(
        query_id=query.id, public_id=query.public_id, messages=query.messages, source=query.source,
        baseline_answer=baselines[0]["answer"] if baselines else None,
        baseline_model=baselines[0]["model"] if baselines else None,
        suggested_languages=suggestions, baselines=baselines,
        annotation={name: getattr(annotation, name) for name in FIELDS} if annotation else {},
        state=annotation.state if annotation else None, revision=annotation.revision if annotation else 0,
        time_on_task_s=annotation.time_on_task_s if annotation else 0.0,
        finalised=_is_final(session, query.id), reserved_until=assignment.reserved_until,
        suggestions_opened=bool(annotation and annotation.suggestions_opened),
        suggested_labels=annotation.suggested_labels if annotation else None,
        triage_flags=query.triage_flags,
    )


def _baselines(session: Session, query_id: int) -> list[dict]:
    return [{"model": model, "answer": answer} for model, answer in session.execute(
        select(Baseline.model, Baseline.answer).where(Baseline.query_id == query_id).order_by(Baseline.id))]


def baseline_answer(session: Session, *, actor: User, public_id: str, model: str | None = None) -> str | None:
    """The item's first baseline answer, or `model`'s, for an annotator who has it in their queue."""
    require_role(actor, Role.ANNOTATOR)
    query = _query(session, public_id)
    _assignment(session, query, actor)
    baselines = _baselines(session, query.id)
    if model is None:
        return baselines[0]["answer"] if baselines else None
    answer = next((b["answer"] for b in baselines if b["model"] == model), None)
    if answer is None:
        raise NotFound(f"query {public_id} has no baseline answer from {model!r}")
    return answer


def start_item(session: Session, *, actor: User, public_id: str) -> ItemView:
    """Open an item; the first time, start its draft with the detector's confident languages, so
    the suggestion is on record and every later save starts from the same saved state."""
    view = open_item(session, actor=actor, public_id=public_id)
    if view.state is not None or view.finalised:
        return view
    project = load_project(session)
    # Only languages of the project's vocabulary: a suggestion outside it could never be saved.
    languages = in_vocabulary(confident_languages(view.suggested_languages), project.taxonomy.languages)
    save(session, actor=actor, public_id=public_id, fields={"languages": languages}, submit=False,
         suggested_languages=view.suggested_languages, project=project)
    return open_item(session, actor=actor, public_id=public_id)


def save(
    session: Session,
    *,
    actor: User,
    public_id: str,
    fields: dict[str, Any],
    submit: bool,
    elapsed_s: float = 0.0,
    expected_revision: int | None = None,
    suggested_languages: list[dict] | None = None,
    suggested_labels: dict | None = None,
    project: Project | None = None,
) -> Annotation:
    """Save a draft (submit=False) or submit; a submitted annotation is edited by submitting again.
    Only the given fields change; the others keep their saved values.

    suggested_labels: the model's suggestions, given once the annotator has opened them.
    Submitting the same values twice changes nothing. expected_revision is the revision the
    caller last saw (0: no annotation yet); another one means the annotation changed elsewhere
    (another tab) and the save is refused.
    """
    require_role(actor, Role.ANNOTATOR)
    check_labels(fields, text_fields=TEXT_FIELDS)
    query = _query(session, public_id)
    if _is_final(session, query.id):
        raise FinalisedMeanwhile(f"query {public_id} has been finalised by a lead; ask a lead to reopen it to change it")
    project = project or load_project(session)
    queue.hold_for_save(session, annotator=actor, query_id=query.id, public_id=public_id, submit=submit,
                        overlap=project.overlap, reservation_minutes=project.reservation_minutes)
    annotation: Annotation | None = _own(session, Annotation, query.id, actor.id)
    # Fields left out keep their saved values: a page that lost track of a field never blanks it.
    saved = {name: getattr(annotation, name) for name in FIELDS} if annotation is not None else {}
    score_fields = project.score_fields
    given = {**saved, **fields}
    given["scores"], retired = merge_scores(saved.get("scores"), fields.get("scores", {}), score_fields)
    cleaned = clean_fields(given, project.taxonomy, complete=submit, score_fields=score_fields,
                           answer_required=project.require_reference_answer)
    dropped = {name: given[name] for name in CLEARED_ON_REJECT
               if cleaned[name] is None and given.get(name) not in (None, "", [], {})}
    if retired:  # scores of fields the project no longer has stay as they were
        cleaned["scores"] = {**(cleaned["scores"] or {}), **retired}
    seen = 0 if annotation is None else annotation.revision  # 0: the caller saw no annotation yet
    if expected_revision is not None and seen != expected_revision:
        raise EditedElsewhere(f"your annotation of {public_id} was changed elsewhere (another tab?); reload it first")
    if annotation is not None and annotation.state == AnnotationState.SUBMITTED and not submit:
        raise InvalidInput(f"query {public_id} is already submitted: save changes by submitting them")
    now = utcnow()
    seconds = max(0.0, min(float(elapsed_s), MAX_SECONDS_PER_SAVE))
    if annotation is None:
        annotation = Annotation(
            query_id=query.id, annotator_id=actor.id, state=AnnotationState.DRAFT, created_at=now,
            suggested_languages=suggested_languages if suggested_languages is not None
            else [s.as_dict() for s in suggest_for_messages(query.messages)])
        old_values = None
    else:
        old_values = {name: getattr(annotation, name) for name in FIELDS}
        if submit and annotation.state == AnnotationState.SUBMITTED and old_values == cleaned and suggested_labels is None:
            return annotation  # the same submission again: nothing to do
    was_submitted = annotation.state == AnnotationState.SUBMITTED
    for name, value in cleaned.items():
        setattr(annotation, name, value)
    if suggested_labels is not None and not annotation.suggestions_opened:
        # The model's suggestions were shown: record what they were, once, before any submission.
        annotation.suggested_labels, annotation.suggestions_opened = suggested_labels, True
    annotation.time_on_task_s = (annotation.time_on_task_s or 0.0) + seconds
    annotation.guideline_version = project.guideline_version
    annotation.updated_at = now
    annotation.revision = (annotation.revision or 0) + (1 if annotation.id else 0)
    if submit:
        annotation.state = AnnotationState.SUBMITTED
        annotation.submitted_at = annotation.submitted_at or now
    session.add(annotation)
    session.flush()
    if dropped:  # what rejecting cleared stays on record, even from a draft
        audit.record(session, actor=actor, action="annotation.clear_on_reject", entity="annotation",
                     entity_id=f"{public_id}/{actor.name}", old=dropped, new={"decision": cleaned["decision"]})
    if submit:
        if not was_submitted:
            queue.mark_submitted(session, annotator=actor, query_id=query.id, overlap=project.overlap)
        audit.record(session, actor=actor, action="annotation.edit" if was_submitted else "annotation.submit",
                     entity="annotation", entity_id=f"{public_id}/{actor.name}",
                     old=old_values if was_submitted else None, new=cleaned)
    return annotation


def last_submitted(session: Session, *, actor: User) -> str | None:
    """The id of the item this annotator submitted last, for the page's way back to it."""
    require_role(actor, Role.ANNOTATOR)
    return session.execute(
        select(Query.public_id).join(Annotation, Annotation.query_id == Query.id)
        .where(Annotation.annotator_id == actor.id, Annotation.state == AnnotationState.SUBMITTED)
        .order_by(Annotation.submitted_at.desc(), Annotation.id.desc()).limit(1)).scalar_one_or_none()


FIRST_LINE_CHARS = 100


def first_line(messages: list[dict]) -> str:
    """The first non-empty line the user wrote, shortened: enough to recognise an item in a list."""
    for message in messages:
        if message["role"] == "user":
            for line in message["content"].splitlines():
                if line.strip():
                    line = line.strip()
                    return line if len(line) <= FIRST_LINE_CHARS else line[:FIRST_LINE_CHARS - 1] + "…"
    return ""


def submitted_items(session: Session, *, actor: User, limit: int = 500) -> list[dict]:
    """The annotator's own submitted work, newest first, with whether each can still be edited.
    Empty labels are empty text, so a table of them shows no placeholder for nothing."""
    require_role(actor, Role.ANNOTATOR)
    rows = session.execute(
        select(Query.public_id, Query.messages, Annotation, FinalLabel.id)
        .join(Query, Query.id == Annotation.query_id)
        .outerjoin(FinalLabel, FinalLabel.query_id == Annotation.query_id)
        .where(Annotation.annotator_id == actor.id, Annotation.state == AnnotationState.SUBMITTED)
        .order_by(Annotation.submitted_at.desc(), Annotation.id.desc())
        .limit(limit)
    ).all()
    return [{
        "query": public_id, "first_line": first_line(messages), "decision": a.decision or "",
        "reject_reason": a.reject_reason or "", "category": a.category or "", "subcategory": a.subcategory or "",
        "languages": ", ".join(a.languages or []), "difficulty": a.difficulty or "",
        "scores": ", ".join(f"{name} {value}" for name, value in (a.scores or {}).items()),
        "minutes": round(a.time_on_task_s / 60, 1), "submitted_at": a.submitted_at, "updated_at": a.updated_at,
        "editable": final_id is None,
    } for public_id, messages, a, final_id in rows]
