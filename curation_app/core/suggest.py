"""Model suggestions: a scikit-learn text classifier for category, subcategory and difficulty,
trained on final labels; its held-out accuracy; queue order by its uncertainty; and how often
the language detector agrees with the languages annotators finally chose.

Suggestions stay suggestions: the annotate page hides them until the annotator opens them, and
the annotation records what was suggested and whether it was opened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import bindparam, func, select, update
from sqlmodel import Session

from curation_app.core import audit
from curation_app.core.auth import require_role
from curation_app.core.errors import InvalidInput
from curation_app.core.languages import confident_languages
from curation_app.core.rendering import suggest_for_messages
from curation_app.models import FinalLabel, Query, Role, User

TARGETS = ("category", "subcategory", "difficulty")
MIN_TRAINING_ITEMS = 20
TOP_K = 3


def query_text(messages: list[dict]) -> str:
    return "\n".join(m["content"] for m in messages if m["role"] == "user")


def _pipeline(seed: int):  # type: ignore[no-untyped-def]
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline

    # Words carry the topic; character n-grams catch code tokens and misspellings.
    features = FeatureUnion([
        ("words", TfidfVectorizer(sublinear_tf=True, min_df=1, ngram_range=(1, 2), max_features=50_000)),
        ("chars", TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(3, 5), max_features=50_000)),
    ])
    return make_pipeline(features, LogisticRegression(max_iter=2000, C=5.0, random_state=seed))


@dataclass
class SuggestionModel:
    models: dict[str, Any]
    n_training: int
    accuracy: dict[str, dict] = field(default_factory=dict)  # target -> {"top1", "top3", "n_test", "majority"}

    def suggest(self, texts: list[str]) -> list[dict[str, list[tuple[str, float]]]]:
        """Top-3 labels with probabilities per target, for each text."""
        results: list[dict[str, list[tuple[str, float]]]] = [{} for _ in texts]
        for target, model in self.models.items():
            probabilities = model.predict_proba(texts)
            classes = model.classes_
            for row, probs in enumerate(probabilities):
                best = np.argsort(-probs)[:TOP_K]
                results[row][target] = [(str(classes[i]), round(float(probs[i]), 3)) for i in best]
        return results

    def uncertainty(self, texts: list[str], target: str = "subcategory") -> np.ndarray:
        """1 - the top probability: high where the model knows least."""
        return 1.0 - self.models[target].predict_proba(texts).max(axis=1)


def training_data(session: Session) -> tuple[list[str], dict[str, list[str]]]:
    rows = session.execute(select(Query.messages, FinalLabel.category, FinalLabel.subcategory, FinalLabel.difficulty)
                           .join(FinalLabel, FinalLabel.query_id == Query.id)
                           .where(FinalLabel.decision == "keep").order_by(Query.id)).all()
    texts = [query_text(messages) for messages, *_ in rows]
    labels = {target: [row[index + 1] for row in rows] for index, target in enumerate(TARGETS)}
    return texts, labels


def _held_out_accuracy(texts: list[str], labels: list[str], seed: int) -> dict:
    """Top-1 and top-3 accuracy on a 25% split held out from training (stratified where possible)."""
    from sklearn.model_selection import train_test_split

    counts = {label: labels.count(label) for label in set(labels)}
    stratify = labels if min(counts.values()) >= 2 and len(counts) * 2 <= len(labels) * 0.25 else None
    train_x, test_x, train_y, test_y = train_test_split(texts, labels, test_size=0.25, random_state=seed,
                                                        stratify=stratify)
    if len(set(train_y)) < 2:
        return {"top1": None, "top3": None, "n_test": len(test_y), "reason": "one class in the training split"}
    model = _pipeline(seed).fit(train_x, train_y)
    probabilities = model.predict_proba(test_x)
    ranked = model.classes_[np.argsort(-probabilities, axis=1)]
    truth = np.array(test_y)
    majority = max(set(train_y), key=train_y.count)
    return {"top1": round(float((ranked[:, 0] == truth).mean()), 3),
            "top3": round(float((ranked[:, :TOP_K] == truth[:, None]).any(axis=1).mean()), 3),
            "n_test": len(test_y), "majority_baseline": round(float((truth == majority).mean()), 3)}


def training_version(session: Session) -> tuple:
    """Changes when final labels do: a cache key for a trained model."""
    return tuple(session.execute(select(func.count(FinalLabel.id), func.max(FinalLabel.updated_at))).one())


def model_for_suggestions(session: Session, seed: int = 0) -> SuggestionModel | None:
    """The model annotators' suggestions come from, or None while too few items are final.
    Trained only on final labels of other items, so it reveals no annotator's labels."""
    try:
        return _fit(session, seed=seed, evaluate=False)
    except InvalidInput:
        return None


def train(session: Session, *, actor: User, seed: int = 0, evaluate: bool = True) -> SuggestionModel:
    """Fit one classifier per target on the final, kept items, with held-out accuracy."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    return _fit(session, seed=seed, evaluate=evaluate)


def _fit(session: Session, *, seed: int, evaluate: bool) -> SuggestionModel:
    texts, labels = training_data(session)
    if len(texts) < MIN_TRAINING_ITEMS:
        raise InvalidInput(f"{len(texts)} final kept item(s): the model needs at least {MIN_TRAINING_ITEMS}")
    models, accuracy = {}, {}
    for target in TARGETS:
        pairs = [(t, y) for t, y in zip(texts, labels[target]) if y]
        target_texts, target_labels = [t for t, _ in pairs], [y for _, y in pairs]
        if len(set(target_labels)) < 2:
            accuracy[target] = {"top1": None, "top3": None, "n_test": 0, "reason": "fewer than two classes"}
            continue
        models[target] = _pipeline(seed).fit(target_texts, target_labels)
        if evaluate:
            accuracy[target] = _held_out_accuracy(target_texts, target_labels, seed)
    return SuggestionModel(models, len(texts), accuracy)


def order_queue_by_uncertainty(session: Session, *, actor: User, model: SuggestionModel | None = None) -> dict:
    """Most uncertain open items first in the shared pool (queue_rank = -uncertainty); the model is
    trained on the final labels when none is given."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    model = model or train(session, actor=actor, evaluate=False)
    if "subcategory" not in model.models:
        raise InvalidInput("the model has no subcategory classifier yet")
    rows = session.execute(select(Query.id, Query.messages).where(Query.in_pool)
                           .where(~select(FinalLabel.id).where(FinalLabel.query_id == Query.id).exists())).all()
    if not rows:
        return {"ranked": 0}
    scores = model.uncertainty([query_text(m) for _, m in rows])
    table = Query.__table__
    session.connection().execute(update(table).where(table.c.id == bindparam("target")).values(
        queue_rank=bindparam("rank")), [{"target": qid, "rank": -float(s)} for (qid, _), s in zip(rows, scores)])
    audit.record(session, actor=actor, action="queue.order_by_uncertainty", entity="queue",
                 new={"ranked": len(rows), "mean_uncertainty": round(float(scores.mean()), 3)})
    return {"ranked": len(rows), "mean_uncertainty": round(float(scores.mean()), 3)}


def reset_queue_order(session: Session, *, actor: User) -> None:
    require_role(actor, Role.LEAD, Role.ADMIN)
    session.execute(update(Query).values(queue_rank=0.0))
    audit.record(session, actor=actor, action="queue.order_by_id", entity="queue")


def language_suggestion_accuracy(session: Session) -> dict:
    """How the detector's confident suggestions compare with the final languages of kept items."""
    rows = session.execute(select(Query.messages, FinalLabel.languages).join(FinalLabel, FinalLabel.query_id == Query.id)
                           .where(FinalLabel.decision == "keep", FinalLabel.languages.is_not(None))).all()
    n = exact = top1 = 0
    true_positive = suggested_total = final_total = 0
    for messages, languages in rows:
        final = set(languages or [])
        if not final:
            continue
        suggestions = suggest_for_messages(messages)
        confident = set(confident_languages([s.as_dict() for s in suggestions])) or {suggestions[0].language}
        n += 1
        exact += confident == final
        top1 += suggestions[0].language in final
        true_positive += len(confident & final)
        suggested_total += len(confident)
        final_total += len(final)
    if not n:
        return {"items": 0, "reason": "no final kept item with languages yet"}
    return {"items": n, "top1_accuracy": round(top1 / n, 3), "exact_set_accuracy": round(exact / n, 3),
            "precision": round(true_positive / suggested_total, 3), "recall": round(true_positive / final_total, 3)}
