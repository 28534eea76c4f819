"""The acceptance rule as plain functions: when an item's annotations settle a field without a lead.

Per item with at least `min_annotations` submitted annotations: a field is decided when every
annotator who gave it a value agrees (unanimous) or when at least `keep_quorum` of them agree
(majority, e.g. CodeArena's 3 of 4). Category, subcategory, languages, difficulty and score
fields count only for kept items, the reject reason only for rejected ones. An item whose needed
fields are all decided is final without a lead; the rest go to the conflict queue.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from curation_app.core.labels import KEEP, KEEP_FIELDS, REJECT, decided_fields
from curation_app.core.scores import ScoreField
from curation_app.models import LabelSource


@dataclass(frozen=True)
class Rule:
    min_annotations: int
    keep_quorum: int


class Outcome(StrEnum):
    UNANIMOUS = "unanimous"
    MAJORITY = "majority"
    CONFLICT = "conflict"
    NOT_NEEDED = "not needed"


@dataclass
class FieldOutcome:
    status: Outcome
    value: Any
    votes: dict[str, int]  # shown value -> count
    agreeing: int
    voters: int

    @property
    def settled(self) -> bool:
        return self.status in (Outcome.UNANIMOUS, Outcome.MAJORITY)


NOT_NEEDED = FieldOutcome(Outcome.NOT_NEEDED, None, {}, 0, 0)


def _key(value: Any) -> Any:
    return tuple(sorted(value)) if isinstance(value, list) else value


def same_value(a: Any, b: Any) -> bool:
    """Equal as labels: language sets compare as sets."""
    return _key(a) == _key(b)


def show_value(value: Any) -> str:
    return ", ".join(value) if isinstance(value, (list, tuple)) else str(value)


def decide_field(values: list[Any], rule: Rule) -> FieldOutcome:
    """Vote on one field among the annotators who gave it a value (sets compare as sets)."""
    given = [v for v in values if v not in (None, [], "")]
    counts = Counter(_key(v) for v in given)
    votes = {show_value(k): n for k, n in counts.most_common()}
    if not counts:
        return FieldOutcome(Outcome.CONFLICT, None, votes, 0, 0)
    (top, agreeing), *rest = counts.most_common()
    value = list(top) if isinstance(top, tuple) else top
    tied = bool(rest) and rest[0][1] == agreeing
    if agreeing == len(given) and len(given) >= min(rule.keep_quorum, rule.min_annotations):
        return FieldOutcome(Outcome.UNANIMOUS, value, votes, agreeing, len(given))
    if agreeing >= rule.keep_quorum and not tied:
        return FieldOutcome(Outcome.MAJORITY, value, votes, agreeing, len(given))
    return FieldOutcome(Outcome.CONFLICT, value if not tied else None, votes, agreeing, len(given))


def decide_item(annotations: list[dict], rule: Rule, score_fields: tuple[ScoreField, ...] = ()) -> dict[str, FieldOutcome]:
    """Outcome per label field, and per score field of the project, for one item's submitted
    annotations. Score fields count for kept items, like the category; one nobody scored is not
    needed unless the project requires it."""
    outcomes = {"decision": decide_field([a["decision"] for a in annotations], rule)}
    decision = outcomes["decision"].value if outcomes["decision"].status != Outcome.CONFLICT else None
    keepers = [a for a in annotations if a["decision"] == KEEP]
    rejecters = [a for a in annotations if a["decision"] == REJECT]
    for name in KEEP_FIELDS:
        if decision == REJECT:
            outcomes[name] = NOT_NEEDED
        else:
            outcomes[name] = decide_field([a[name] for a in (keepers or annotations)], rule)
    for score in score_fields:
        given = [(a.get("scores") or {}).get(score.name) for a in (keepers or annotations)]
        if decision == REJECT or (not score.required and all(v is None for v in given)):
            outcomes[score.name] = NOT_NEEDED
        else:
            outcomes[score.name] = decide_field(given, rule)
    if decision == KEEP:
        outcomes["reject_reason"] = NOT_NEEDED
    else:
        outcomes["reject_reason"] = decide_field([a["reject_reason"] for a in (rejecters or annotations)], rule)
    return outcomes


def conflicts(outcomes: dict[str, FieldOutcome]) -> list[str]:
    return [name for name, o in outcomes.items() if o.status == Outcome.CONFLICT]


def agreement_score(outcomes: dict[str, FieldOutcome]) -> float:
    """Mean share of annotators agreeing with the most common value, over the needed fields."""
    shares = [o.agreeing / o.voters for o in outcomes.values() if o.status != Outcome.NOT_NEEDED and o.voters]
    return round(sum(shares) / len(shares), 3) if shares else 0.0


_NEVER_SUBMITTED = datetime.max.replace(tzinfo=timezone.utc)


def pick_text(annotations: list[dict], name: str) -> tuple[str | None, str | None]:
    """The most common non-empty text, the earliest submitted one on a tie; and who wrote it."""
    written = [a for a in sorted(annotations, key=lambda a: (a["submitted_at"] or _NEVER_SUBMITTED, a["annotator"]))
               if a[name]]
    if not written:
        return None, None
    counts = Counter(a[name] for a in written)
    best = max(written, key=lambda a: counts[a[name]])
    return best[name], best["annotator"]


def field_sources(outcomes: dict[str, FieldOutcome], chosen: dict[str, Any], lead: str | None,
                  score_fields: tuple[ScoreField, ...] = ()) -> dict:
    """Where each field's final value came from; chosen is flat (scores under their own names)."""
    sources = {}
    for name in decided_fields(score_fields):
        outcome = outcomes.get(name)
        if (outcome is None or outcome.status == Outcome.NOT_NEEDED) and chosen.get(name) in (None, []):
            continue
        if outcome is not None and outcome.settled and same_value(outcome.value, chosen.get(name)):
            sources[name] = {"source": LabelSource(outcome.status.value), "by": None,
                             "votes": f"{outcome.agreeing}/{outcome.voters}"}
        else:
            sources[name] = {"source": LabelSource.ADJUDICATED, "by": lead,
                             "votes": f"{outcome.agreeing}/{outcome.voters}" if outcome else None}
    return sources


def overall_source(sources: dict) -> LabelSource:
    kinds = {s["source"] for s in sources.values()}
    if LabelSource.ADJUDICATED in kinds:
        return LabelSource.ADJUDICATED
    return LabelSource.MAJORITY if LabelSource.MAJORITY in kinds else LabelSource.UNANIMOUS
