"""The acceptance rule as plain functions: when an item's annotations settle a field without a lead.

Per item with at least `min_annotations` submitted annotations: a field that needs the quorum
(setting `quorum_fields`, every field by default) is decided when every annotator who gave it a
value agrees and there are enough of them (unanimous) or when at least `keep_quorum` of them agree
(majority, e.g. CodeArena's 3 of 4); any other field when the annotators who gave it a value all
agree, or more than half of them do. Category, subcategory, languages, difficulty, score fields and
the chosen texts count only for kept items and are voted on by the keepers, the reject reason only
for rejected ones and by the rejecters. An item whose needed fields are all decided is final without
a lead; the rest go to the conflict queue.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from curation_app.core.labels import CHOSEN_TEXT_FIELDS, KEEP, KEEP_FIELDS, REJECT, decided_fields
from curation_app.core.scores import ScoreField
from curation_app.models import LabelSource


@dataclass(frozen=True)
class Rule:
    min_annotations: int
    keep_quorum: int
    quorum_fields: frozenset[str] | None = None  # None: every field needs the quorum

    def needs_quorum(self, name: str) -> bool:
        return self.quorum_fields is None or name in self.quorum_fields


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


def decide_field(values: list[Any], rule: Rule, *, quorum: bool = True) -> FieldOutcome:
    """Vote on one field among the annotators who gave it a value (sets compare as sets). With
    quorum, agreement needs `keep_quorum` annotators; without, all of them or more than half."""
    given = [v for v in values if v not in (None, [], "")]
    counts = Counter(_key(v) for v in given)
    votes = {show_value(k): n for k, n in counts.most_common()}
    if not counts:
        return FieldOutcome(Outcome.CONFLICT, None, votes, 0, 0)
    (top, agreeing), *rest = counts.most_common()
    value = list(top) if isinstance(top, tuple) else top
    tied = bool(rest) and rest[0][1] == agreeing
    enough = len(given) >= min(rule.keep_quorum, rule.min_annotations) if quorum else True
    if agreeing == len(given) and enough:
        return FieldOutcome(Outcome.UNANIMOUS, value, votes, agreeing, len(given))
    if (agreeing >= rule.keep_quorum if quorum else 2 * agreeing > len(given)) and not tied:
        return FieldOutcome(Outcome.MAJORITY, value, votes, agreeing, len(given))
    return FieldOutcome(Outcome.CONFLICT, value if not tied else None, votes, agreeing, len(given))


def keep_only_fields(score_fields: tuple[ScoreField, ...] = ()) -> tuple[str, ...]:
    """The fields only a kept item has: the keepers' labels, scores and chosen texts."""
    return KEEP_FIELDS + tuple(f.name for f in score_fields) + CHOSEN_TEXT_FIELDS


def empty_by_decision(name: str, decision: str | None, score_fields: tuple[ScoreField, ...] = ()) -> bool:
    """Whether this field has no value because of the item's decision (a rejected item's category,
    a kept item's reject reason): not a conflict, and nothing a lead decided."""
    if decision == REJECT:
        return name in keep_only_fields(score_fields)
    return decision == KEEP and name == "reject_reason"


def decide_item(annotations: list[dict], rule: Rule, score_fields: tuple[ScoreField, ...] = (),
                decision: str | None = None) -> dict[str, FieldOutcome]:
    """Outcome per label field, and per score field of the project, for one item's submitted
    annotations. Score fields count for kept items, like the category; one nobody scored is not
    needed unless the project requires it. The fields that depend on the decision are voted on by
    the keepers (or the rejecters); `decision`, when given (a lead's), is the one they follow,
    otherwise the decision the annotations settle. While the decision itself is in conflict, both
    sides are voted on: see `conflicts_by_decision`."""
    outcomes = {"decision": decide_field([a["decision"] for a in annotations], rule,
                                         quorum=rule.needs_quorum("decision"))}
    if decision is None and outcomes["decision"].status != Outcome.CONFLICT:
        decision = outcomes["decision"].value
    keepers = [a for a in annotations if a["decision"] == KEEP]
    rejecters = [a for a in annotations if a["decision"] == REJECT]
    for name in KEEP_FIELDS:
        if decision == REJECT:
            outcomes[name] = NOT_NEEDED
        else:
            outcomes[name] = decide_field([a[name] for a in (keepers or annotations)], rule,
                                          quorum=rule.needs_quorum(name))
    for score in score_fields:
        given = [(a.get("scores") or {}).get(score.name) for a in (keepers or annotations)]
        if decision == REJECT or (not score.required and all(v is None for v in given)):
            outcomes[score.name] = NOT_NEEDED
        else:
            outcomes[score.name] = decide_field(given, rule, quorum=rule.needs_quorum(score.name))
    if decision == KEEP:
        outcomes["reject_reason"] = NOT_NEEDED
    else:
        outcomes["reject_reason"] = decide_field([a["reject_reason"] for a in (rejecters or annotations)], rule,
                                                 quorum=rule.needs_quorum("reject_reason"))
    return outcomes


def conflicts(outcomes: dict[str, FieldOutcome]) -> list[str]:
    return [name for name, o in outcomes.items() if o.status == Outcome.CONFLICT]


def conflicts_by_decision(outcomes: dict[str, FieldOutcome],
                          score_fields: tuple[ScoreField, ...] = ()) -> tuple[list[str], list[str], list[str]]:
    """(conflicts whatever the decision, conflicts only if the item is kept, only if rejected).
    While the decision is settled, the second and third are empty; while it is in conflict, the
    keepers' fields conflict only if the item is kept and the reject reason only if rejected."""
    names = conflicts(outcomes)
    if "decision" not in names:
        return names, [], []
    if_kept = [n for n in names if empty_by_decision(n, REJECT, score_fields)]
    if_rejected = [n for n in names if empty_by_decision(n, KEEP, score_fields)]
    return [n for n in names if n not in if_kept and n not in if_rejected], if_kept, if_rejected


def decision_margin(outcome: FieldOutcome) -> float:
    """How far the leading decision is ahead of the next, as a share of the voters (0: a tie)."""
    counts = sorted(outcome.votes.values(), reverse=True) + [0, 0]
    return (counts[0] - counts[1]) / outcome.voters if outcome.voters else 0.0


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


def proposed_texts(annotations: list[dict], decision: str | None) -> dict[str, tuple[str | None, str | None]]:
    """The rewritten prompt and reference answer a final label starts from, with who wrote each:
    the keepers' most common one (pick_text); nothing for a rejected item."""
    if decision == REJECT:
        return {name: (None, None) for name in CHOSEN_TEXT_FIELDS}
    writers = [a for a in annotations if a["decision"] == KEEP] or annotations
    return {name: pick_text(writers, name) for name in CHOSEN_TEXT_FIELDS}


def proposed_values(annotations: list[dict], rule: Rule, score_fields: tuple[ScoreField, ...] = (),
                    decision: str | None = None) -> dict[str, Any]:
    """What a final label of these annotations starts from, flat (scores under their own names):
    the settled or leading value of each field, or None on a tie, and the keepers' most common
    texts. With `decision` (a lead's choice), the fields follow that decision; without, the one the
    annotations settle (None while it is in conflict, the others then from each side)."""
    outcomes = decide_item(annotations, rule, score_fields, decision)
    values = {name: o.value for name, o in outcomes.items()}
    if decision is not None:
        values["decision"] = decision
    for name in list(values):
        if empty_by_decision(name, values["decision"], score_fields):
            values[name] = None
    values.update({name: text for name, (text, _) in proposed_texts(annotations, values["decision"]).items()})
    return values


def field_sources(outcomes: dict[str, FieldOutcome], chosen: dict[str, Any], lead: str | None,
                  score_fields: tuple[ScoreField, ...] = ()) -> dict:
    """Where each field's final value came from; chosen is flat (scores under their own names).
    A field left empty because of the chosen decision has no source: nobody decided it."""
    sources = {}
    for name in decided_fields(score_fields):
        outcome = outcomes.get(name)
        empty = chosen.get(name) in (None, [], "")
        if empty and (outcome is None or outcome.status == Outcome.NOT_NEEDED
                      or empty_by_decision(name, chosen.get("decision"), score_fields)):
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
