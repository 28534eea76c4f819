"""From annotations to final labels: the acceptance rule, the lead's conflict queue, resolution
with optimistic locking, reopening and sending back, and feedback for the guidelines.

The rule, per item with at least `min_annotations` submitted annotations: a field is decided when
every annotator who gave it a value agrees (unanimous) or when at least `keep_quorum` of them
agree (majority, e.g. CodeArena's 3 of 4). Category, subcategory, languages and difficulty count
only for kept items and the reject reason only for rejected ones. An item whose needed fields
are all decided is finalised automatically; the rest go to a lead.
"""

from __future__ import annotations

import difflib
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, exists, func, not_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from curation_app.core import audit
from curation_app.core.annotate import FIELDS, LABEL_FIELDS, clean_fields
from curation_app.core.auth import require_role
from curation_app.core.errors import Conflict, InvalidInput, NotFound
from curation_app.core.scores import ScoreField, project_score_fields
from curation_app.core.settings import get_setting
from curation_app.core.taxonomy import project_taxonomy
from curation_app.models import Annotation, Assignment, FinalLabel, Query, User, utcnow

KEEP_FIELDS = ("category", "subcategory", "languages", "difficulty")
TEXT_CHOICES = ("rewritten_prompt", "reference_answer")
CONFIDENCES = ("low", "medium", "high")
ERROR_TYPES = ("ambiguous query", "guideline gap", "annotator error", "other")
# An annotation this much faster than the median time on task is flagged as suspiciously fast.
FAST_SHARE_OF_MEDIAN = 0.25
MIN_PLAUSIBLE_SECONDS = 10.0


@dataclass(frozen=True)
class Rule:
    min_annotations: int
    keep_quorum: int


def project_rule(session: Session) -> Rule:
    return Rule(get_setting(session, "min_annotations"), get_setting(session, "keep_quorum"))


@dataclass
class FieldOutcome:
    status: str  # unanimous | majority | conflict | not needed
    value: Any
    votes: dict[str, int]  # shown value -> count
    agreeing: int
    voters: int


def _key(value: Any) -> Any:
    return tuple(sorted(value)) if isinstance(value, list) else value


def show_value(value: Any) -> str:
    return ", ".join(value) if isinstance(value, (list, tuple)) else str(value)


def decide_field(values: list[Any], rule: Rule) -> FieldOutcome:
    """Vote on one field among the annotators who gave it a value (sets compare as sets)."""
    given = [v for v in values if v not in (None, [], "")]
    counts = Counter(_key(v) for v in given)
    votes = {show_value(k): n for k, n in counts.most_common()}
    if not counts:
        return FieldOutcome("conflict", None, votes, 0, 0)
    (top, agreeing), *rest = counts.most_common()
    value = list(top) if isinstance(top, tuple) else top
    tied = bool(rest) and rest[0][1] == agreeing
    if agreeing == len(given) and len(given) >= min(rule.keep_quorum, rule.min_annotations):
        return FieldOutcome("unanimous", value, votes, agreeing, len(given))
    if agreeing >= rule.keep_quorum and not tied:
        return FieldOutcome("majority", value, votes, agreeing, len(given))
    return FieldOutcome("conflict", value if not tied else None, votes, agreeing, len(given))


def decide_item(annotations: list[dict], rule: Rule, score_fields: tuple[ScoreField, ...] = ()) -> dict[str, FieldOutcome]:
    """Outcome per label field, and per score field of the project, for one item's submitted
    annotations. Score fields count for kept items, like the category; one nobody scored is not
    needed unless the project requires it."""
    outcomes = {"decision": decide_field([a["decision"] for a in annotations], rule)}
    decision = outcomes["decision"].value if outcomes["decision"].status != "conflict" else None
    keepers = [a for a in annotations if a["decision"] == "keep"]
    rejecters = [a for a in annotations if a["decision"] == "reject"]
    for name in KEEP_FIELDS:
        if decision == "reject":
            outcomes[name] = FieldOutcome("not needed", None, {}, 0, 0)
        else:
            outcomes[name] = decide_field([a[name] for a in (keepers or annotations)], rule)
    for score in score_fields:
        given = [(a.get("scores") or {}).get(score.name) for a in (keepers or annotations)]
        if decision == "reject" or (not score.required and all(v is None for v in given)):
            outcomes[score.name] = FieldOutcome("not needed", None, {}, 0, 0)
        else:
            outcomes[score.name] = decide_field(given, rule)
    if decision == "keep":
        outcomes["reject_reason"] = FieldOutcome("not needed", None, {}, 0, 0)
    else:
        outcomes["reject_reason"] = decide_field([a["reject_reason"] for a in (rejecters or annotations)], rule)
    return outcomes


def agreement_score(outcomes: dict[str, FieldOutcome]) -> float:
    """Mean share of annotators agreeing with the most common value, over the needed fields."""
    shares = [o.agreeing / o.voters for o in outcomes.values() if o.status != "not needed" and o.voters]
    return round(sum(shares) / len(shares), 3) if shares else 0.0


def _pick_text(annotations: list[dict], name: str) -> tuple[str | None, str | None]:
    """The most common non-empty text, the earliest submitted one on a tie; and who wrote it."""
    written = [a for a in sorted(annotations, key=lambda a: (a["submitted_at"] or utcnow(), a["annotator"]))
               if a[name]]
    if not written:
        return None, None
    counts = Counter(a[name] for a in written)
    best = max(written, key=lambda a: counts[a[name]])
    return best[name], best["annotator"]


def _submitted_annotations(session: Session, query_ids: list[int] | None = None) -> dict[int, list[dict]]:
    statement = (select(Annotation, User.name)
                 .join(User, User.id == Annotation.annotator_id)
                 .where(Annotation.state == "submitted")
                 .order_by(Annotation.query_id, User.name))
    if query_ids is not None:
        statement = statement.where(Annotation.query_id.in_(query_ids))
    grouped: dict[int, list[dict]] = defaultdict(list)
    for annotation, name in session.execute(statement):
        grouped[annotation.query_id].append({
            **{f: getattr(annotation, f) for f in FIELDS}, "annotator": name,
            "time_on_task_s": annotation.time_on_task_s, "submitted_at": annotation.submitted_at,
            "guideline_version": annotation.guideline_version})
    return grouped


def _open_complete_items(session: Session, rule: Rule) -> dict[int, list[dict]]:
    """Items with enough submitted annotations and no final label, with their annotations."""
    finalised = exists().where(FinalLabel.query_id == Annotation.query_id)
    complete = list(session.execute(
        select(Annotation.query_id).where(Annotation.state == "submitted", not_(finalised))
        .group_by(Annotation.query_id).having(func.count() >= rule.min_annotations)).scalars())
    grouped: dict[int, list[dict]] = {}
    for start in range(0, len(complete), 500):
        grouped.update(_submitted_annotations(session, complete[start:start + 500]))
    return grouped


def decided_fields(score_fields: tuple[ScoreField, ...]) -> tuple[str, ...]:
    """The fields an item's final label decides: the labels, then the project's score fields."""
    return LABEL_FIELDS + tuple(f.name for f in score_fields)


def flat_values(values: dict[str, Any], score_fields: tuple[ScoreField, ...]) -> dict[str, Any]:
    """Labels with each score beside them under its own name, as outcomes are keyed."""
    scores = values.get("scores") or {}
    return {**{k: v for k, v in values.items() if k != "scores"}, **{f.name: scores.get(f.name) for f in score_fields}}


def nested_values(flat: dict[str, Any], score_fields: tuple[ScoreField, ...]) -> dict[str, Any]:
    """The inverse of flat_values: scores gathered under "scores"."""
    names = {f.name for f in score_fields}
    return {**{k: v for k, v in flat.items() if k not in names},
            "scores": {k: v for k, v in flat.items() if k in names and v is not None}}


def _field_sources(outcomes: dict[str, FieldOutcome], chosen: dict[str, Any], lead: str | None,
                   score_fields: tuple[ScoreField, ...] = ()) -> dict:
    """Where each field's final value came from; chosen is flat (scores under their own names)."""
    sources = {}
    for name in decided_fields(score_fields):
        outcome = outcomes.get(name)
        if outcome is None or outcome.status == "not needed":
            if chosen.get(name) in (None, []):
                continue
        if (outcome is not None and outcome.status in ("unanimous", "majority")
                and _key(outcome.value) == _key(chosen.get(name))):
            sources[name] = {"source": outcome.status, "by": None, "votes": f"{outcome.agreeing}/{outcome.voters}"}
        else:
            sources[name] = {"source": "adjudicated", "by": lead,
                             "votes": f"{outcome.agreeing}/{outcome.voters}" if outcome else None}
    return sources


def _overall_source(sources: dict) -> str:
    kinds = {s["source"] for s in sources.values()}
    return "adjudicated" if "adjudicated" in kinds else "majority" if "majority" in kinds else "unanimous"


def _stop_annotating(session: Session, query_id: int) -> None:
    """A final item leaves the pool; its open assignments are closed and their slots released."""
    open_states = session.execute(select(Assignment.state).where(
        Assignment.query_id == query_id, Assignment.state.in_(("assigned", "reserved", "expired")))).scalars().all()
    held = sum(1 for state in open_states if state in ("assigned", "reserved"))
    if open_states:
        session.execute(update(Assignment).where(
            Assignment.query_id == query_id, Assignment.state.in_(("assigned", "reserved", "expired"))).values(
            state="skipped", reserved_until=None, updated_at=utcnow()))
    session.execute(update(Query).where(Query.id == query_id).values(
        in_pool=False, pool_open=False, n_claims=Query.n_claims - held))


def apply_rule(session: Session, *, actor: User) -> dict:
    """Finalise every complete item that the rule settles; count the ones left for a lead."""
    require_role(actor, "lead", "admin")
    rule = project_rule(session)
    taxonomy = project_taxonomy(session)
    score_fields = project_score_fields(session)
    result = {"finalised": 0, "unanimous": 0, "majority": 0, "to_adjudicate": 0}
    for query_id, item_annotations in _open_complete_items(session, rule).items():
        outcomes = decide_item(item_annotations, rule, score_fields)
        chosen = {name: o.value for name, o in outcomes.items()}
        try:
            # Decided fields can still disagree with each other (a subcategory of another category).
            values = not any(o.status == "conflict" for o in outcomes.values()) and clean_fields(
                nested_values(chosen, score_fields), taxonomy, complete=True, score_fields=score_fields)
        except InvalidInput:
            values = None
        if not values:
            result["to_adjudicate"] += 1
            continue
        texts = {name: _pick_text(item_annotations, name) for name in TEXT_CHOICES}
        sources = _field_sources(outcomes, chosen, None, score_fields)
        for name, (_, author) in texts.items():
            if author:
                sources[name] = {"source": "annotator", "by": author, "votes": None}
        values.pop("notes", None)
        values.update({k: v for k, (v, _) in texts.items()})
        label = FinalLabel(query_id=query_id, source=_overall_source(sources), field_sources=sources, **values)
        session.add(label)
        session.flush()
        _stop_annotating(session, query_id)
        result["finalised"] += 1
        result[label.source] += 1
    audit.record(session, actor=actor, action="final.apply_rule", entity="queue",
                 new={**result, "min_annotations": rule.min_annotations, "keep_quorum": rule.keep_quorum})
    return result


@dataclass
class ConflictItem:
    public_id: str
    annotations: int
    conflicts: list[str]
    agreement: float
    category: str | None
    annotators: list[str]


def conflict_queue(session: Session, *, actor: User, field: str | None = None, category: str | None = None,
                   annotator: str | None = None) -> list[ConflictItem]:
    """Complete items the rule did not settle, lowest agreement first."""
    require_role(actor, "lead", "admin")
    rule = project_rule(session)
    score_fields = project_score_fields(session)
    grouped = _open_complete_items(session, rule)
    public_ids: dict[int, str] = {}
    query_ids = list(grouped)
    for start in range(0, len(query_ids), 500):
        public_ids.update(session.execute(select(Query.id, Query.public_id).where(
            Query.id.in_(query_ids[start:start + 500]))).all())
    items = []
    for query_id, item_annotations in grouped.items():
        outcomes = decide_item(item_annotations, rule, score_fields)
        conflicts = [name for name, o in outcomes.items() if o.status == "conflict"]
        if not conflicts or (field and field not in conflicts):
            continue
        names = [a["annotator"] for a in item_annotations]
        if annotator and annotator not in names:
            continue
        modal = outcomes["category"].value
        if category and category not in {a["category"] for a in item_annotations}:
            continue
        items.append(ConflictItem(public_ids[query_id], len(item_annotations), conflicts, agreement_score(outcomes),
                                  modal, names))
    return sorted(items, key=lambda item: (item.agreement, item.public_id))


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
    reference_diffs: list[tuple[str, str, str]] = field(default_factory=list)  # (a, b, unified diff)


def _median_time(session: Session) -> float:
    times = list(session.execute(select(Annotation.time_on_task_s).where(
        Annotation.state == "submitted", Annotation.time_on_task_s > 0).limit(5000)).scalars())
    return statistics.median(times) if times else 0.0


def adjudication_view(session: Session, *, actor: User, public_id: str) -> AdjudicationView:
    require_role(actor, "lead", "admin")
    query = session.execute(select(Query).where(Query.public_id == public_id)).scalar_one_or_none()
    if query is None:
        raise NotFound(f"no query with id {public_id!r}")
    annotations = _submitted_annotations(session, [query.id]).get(query.id, [])
    score_fields = project_score_fields(session)
    outcomes = decide_item(annotations, project_rule(session), score_fields) if annotations else {}
    threshold = max(MIN_PLAUSIBLE_SECONDS, FAST_SHARE_OF_MEDIAN * _median_time(session))
    # Labels imported from elsewhere carry no time on task (0): they are not "fast", just unmeasured.
    fast = [a["annotator"] for a in annotations if 0 < a["time_on_task_s"] < threshold]
    final = session.execute(select(FinalLabel).where(FinalLabel.query_id == query.id)).scalar_one_or_none()
    answers = [(a["annotator"], a["reference_answer"] or "") for a in annotations if a["reference_answer"]]
    diffs = []
    for (name_a, text_a), (name_b, text_b) in zip(answers, answers[1:]):
        diff = "\n".join(difflib.unified_diff(text_a.splitlines(), text_b.splitlines(), name_a, name_b, lineterm=""))
        diffs.append((name_a, name_b, diff))
    return AdjudicationView(
        query_id=query.id, public_id=query.public_id, messages=query.messages,
        baseline_answer=query.baseline_answer, annotations=annotations, outcomes=outcomes, fast=fast,
        score_fields=score_fields,
        final=None if final is None else {**{f: getattr(final, f) for f in FIELDS if f != "notes"},
                                          "source": final.source, "field_sources": final.field_sources,
                                          "rationale": final.rationale, "confidence": final.confidence,
                                          "error_type": final.error_type,
                                          "guidelines_need_update": final.guidelines_need_update},
        final_revision=final.revision if final else 0, reference_diffs=diffs)


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
    require_role(actor, "lead", "admin")
    view = adjudication_view(session, actor=actor, public_id=public_id)
    if confidence is not None and confidence not in CONFIDENCES:
        raise InvalidInput(f"confidence {confidence!r} is not one of {', '.join(CONFIDENCES)}")
    if error_type is not None and error_type not in ERROR_TYPES:
        raise InvalidInput(f"error type {error_type!r} is not one of {', '.join(ERROR_TYPES)}")
    chosen = clean_fields({k: v for k, v in fields.items() if k != "notes"}, project_taxonomy(session),
                          complete=True, score_fields=view.score_fields)
    chosen.pop("notes", None)
    sources = _field_sources(view.outcomes, flat_values(chosen, view.score_fields), actor.name, view.score_fields)
    for name in TEXT_CHOICES:
        if chosen.get(name):
            authors = [a["annotator"] for a in view.annotations if a[name] == chosen[name]]
            sources[name] = ({"source": "annotator", "by": authors[0], "votes": None} if authors
                             else {"source": "adjudicated", "by": actor.name, "votes": None})
    values = {**chosen, "source": "adjudicated", "field_sources": sources, "rationale": (rationale or "").strip() or None,
              "confidence": confidence, "error_type": error_type,
              "guidelines_need_update": bool(guidelines_need_update), "decided_by_id": actor.id,
              "updated_at": utcnow()}
    conflict = Conflict(f"{public_id} was resolved by another lead while you were working on it; "
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
    _stop_annotating(session, view.query_id)
    audit.record(session, actor=actor, action="final.resolve", entity="final_label", entity_id=public_id,
                 old=view.final, new={**chosen, "rationale": values["rationale"], "confidence": confidence,
                                      "error_type": error_type, "guidelines_need_update": guidelines_need_update})
    session.flush()
    return session.execute(select(FinalLabel).where(FinalLabel.query_id == view.query_id)).scalar_one()


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
    require_role(actor, "lead", "admin")
    if not (reason or "").strip():
        raise InvalidInput("say why the item is reopened")
    query, final = _final_or_raise(session, public_id)
    if final is None:
        raise InvalidInput(f"{public_id} has no final label to reopen")
    audit.record(session, actor=actor, action="final.reopen", entity="final_label", entity_id=public_id,
                 old=_final_snapshot(final), new={"reason": reason.strip()})
    session.execute(delete(FinalLabel).where(FinalLabel.id == final.id))
    k = get_setting(session, "overlap")
    session.execute(update(Query).where(Query.id == query.id).values(in_pool=True, pool_open=Query.n_claims < k))


def send_back(session: Session, *, actor: User, public_id: str, annotators: list[str] | None, reason: str) -> list[str]:
    """Ask annotators to look again: their annotations become drafts and the item is back in
    their queue. A final label is reopened first. Returns who it was sent to."""
    require_role(actor, "lead", "admin")
    if not (reason or "").strip():
        raise InvalidInput("say what the annotators should look at again")
    query, final = _final_or_raise(session, public_id)
    if final is not None:
        reopen(session, actor=actor, public_id=public_id, reason=f"sent back: {reason}")
    rows = session.execute(select(Annotation, User).join(User, User.id == Annotation.annotator_id).where(
        Annotation.query_id == query.id, Annotation.state == "submitted")).all()
    chosen = [(a, u) for a, u in rows if not annotators or u.name in annotators]
    unknown = sorted(set(annotators or []) - {u.name for _, u in rows})
    if unknown:
        raise InvalidInput(f"{', '.join(unknown)} did not annotate {public_id}")
    for annotation, user in chosen:
        annotation.state = "draft"
        annotation.notes = ((annotation.notes or "") + f"\n[sent back by {actor.name}: {reason.strip()}]").strip()
        annotation.revision += 1
        session.add(annotation)
        session.execute(update(Assignment).where(
            Assignment.query_id == query.id, Assignment.annotator_id == user.id).values(
            state="assigned", reserved_until=None, updated_at=utcnow()))
    audit.record(session, actor=actor, action="final.send_back", entity="query", entity_id=public_id,
                 new={"annotators": [u.name for _, u in chosen], "reason": reason.strip()})
    return [u.name for _, u in chosen]


def guideline_feedback(session: Session, *, actor: User) -> dict:
    """What to fix in the guidelines next: flagged items, and where leads adjudicate most."""
    require_role(actor, "lead", "admin")
    flagged = session.execute(
        select(Query.public_id, FinalLabel.category, FinalLabel.error_type, FinalLabel.rationale, User.name)
        .join(FinalLabel, FinalLabel.query_id == Query.id)
        .outerjoin(User, User.id == FinalLabel.decided_by_id)
        .where(FinalLabel.guidelines_need_update)
        .order_by(FinalLabel.updated_at.desc())).all()
    by_category = session.execute(
        select(FinalLabel.category, func.count()).where(FinalLabel.source == "adjudicated")
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
