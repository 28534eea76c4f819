"""Agreement on the project's own annotations: per field, per annotator pair, per category.

The statistics live in the rest of this package; this module turns submitted annotations into
the long (item, annotator, value) tables it reads, with the level each field calls for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import Text, cast, func, select
from sqlmodel import Session

from curation_app.core import agreement
from curation_app.core.auth import require_role
from curation_app.core.errors import InvalidInput
from curation_app.core.labels import canonical_languages
from curation_app.core.project import Project, load_project
from curation_app.models import Annotation, AnnotationState, FinalLabel, Query, Role, Setting, User

# Field -> level of measurement. Difficulty is ordinal over the taxonomy's declared scale.
FIELD_LEVELS = {
    "decision": "nominal",
    "reject_reason": "nominal",
    "category": "nominal",
    "subcategory": "nominal",
    "difficulty": "ordinal",
    "languages": "multilabel",
}


@dataclass(frozen=True)
class Filters:
    batch_ids: tuple[int, ...] = ()
    categories: tuple[str, ...] = ()  # items that any annotator put in one of these main categories
    since: datetime | None = None
    until: datetime | None = None


def field_levels(project: Project) -> dict[str, str]:
    """Every field with agreement: the built-in ones, then the project's score fields."""
    return {**FIELD_LEVELS, **{f.name: f.level for f in project.score_fields}}


def _level(project: Project, field: str) -> str:
    levels = field_levels(project)
    if field not in levels:
        raise InvalidInput(f"unknown field {field!r}; fields with agreement: {', '.join(levels)}")
    return levels[field]


def annotation_table(session: Session, *, actor: User, filters: Filters = Filters(),
                     project: Project | None = None) -> pd.DataFrame:
    """Every submitted annotation as one row: item, annotator, batch, and each labelled field."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    project = project or load_project(session)
    # Languages and scores come back as JSON text and are decoded in one pass below: for 300,000
    # rows the per-value JSON processing of the ORM type costs more than the query.
    columns = [cast(Annotation.languages, Text).label(f) if f == "languages" else getattr(Annotation, f)
               for f in FIELD_LEVELS]
    score_names = [f.name for f in project.score_fields]
    if score_names:
        columns.append(cast(Annotation.scores, Text).label("scores"))
    statement = (
        select(Query.public_id.label("item"), User.name.label("annotator"), Query.batch_id.label("batch"), *columns)
        .join(Annotation, Annotation.query_id == Query.id)
        .join(User, User.id == Annotation.annotator_id)
        .where(Annotation.state == AnnotationState.SUBMITTED)
    )
    if filters.batch_ids:
        statement = statement.where(Query.batch_id.in_(filters.batch_ids))
    if filters.since:
        statement = statement.where(Annotation.submitted_at >= filters.since)
    if filters.until:
        statement = statement.where(Annotation.submitted_at <= filters.until)
    rows = session.connection().execute(statement).all()  # Core rows: no ORM bookkeeping for 300,000 rows
    table = pd.DataFrame.from_records([tuple(row) for row in rows], columns=[
        "item", "annotator", "batch", *FIELD_LEVELS, *(["scores"] if score_names else [])])
    if not table.empty:
        # Few distinct language lists among many rows: decode each distinct JSON text once, to a set,
        # in the vocabulary's spelling (rows stored before spellings were merged hold `RUST` beside
        # `rust`; one language must count as one label).
        codes, texts = pd.factorize(table["languages"], use_na_sentinel=True)
        vocabulary = project.taxonomy.languages
        sets = [frozenset(stored_languages(orjson.loads(text), vocabulary) or ()) or None for text in texts]
        table["languages"] = np.array([*sets, None], dtype=object)[codes]
    if score_names:
        scores = [orjson.loads(text) or {} if isinstance(text, str) else {} for text in table.pop("scores")]
        for name in score_names:
            table[name] = pd.Series([s.get(name) for s in scores], index=table.index, dtype=float)
    if filters.categories and not table.empty:
        items = set(table.loc[table["category"].isin(filters.categories), "item"])
        table = table[table["item"].isin(items)]
    return table


def stored_languages(languages: Any, vocabulary: tuple[str, ...]) -> list[str] | None:
    """Stored languages as one spelling per language; a name outside today's vocabulary is kept
    (case-folded): agreement reports what was labelled, it does not refuse old rows."""
    return canonical_languages(languages=languages, vocabulary=vocabulary, keep_unknown=True)


def ratings_for(table: pd.DataFrame, field: str, level: str) -> pd.DataFrame:
    """The long (item, annotator, value) ratings of one field; an empty value is a missing rating.

    Stored languages are never the empty-set answer: a kept item needs one, and labels.py stores
    "no languages" as None, so an empty field here is an unlabelled one, not a rating of no label.
    """
    if field not in table.columns:
        raise InvalidInput(f"unknown field {field!r}")
    ratings = table[["item", "annotator", field]].rename(columns={field: "value"})
    if level == "multilabel":
        ratings = ratings.assign(value=[(v if isinstance(v, frozenset) else frozenset(v)) if v else None
                                        for v in ratings["value"]])
    return ratings[ratings["value"].notna()].reset_index(drop=True)


def _scale(project: Project, field: str) -> list[str] | None:
    return list(project.taxonomy.difficulties) if FIELD_LEVELS.get(field) == "ordinal" else None


def _field_ratings(project: Project, table: pd.DataFrame, field: str) -> tuple[pd.DataFrame, str, list | None]:
    level = _level(project, field)
    return ratings_for(table, field, level), level, _scale(project, field)


def field_report(project: Project, table: pd.DataFrame, field: str, *, n_bootstrap: int = 1000,
                 seed: int = 0) -> dict:
    ratings, level, scale = _field_ratings(project, table, field)
    return agreement.agreement_report(ratings, level=level, scale=scale, n_bootstrap=n_bootstrap, seed=seed)


def database_agreement(session: Session, *, actor: User, fields: list[str] | None = None,
                       filters: Filters = Filters(), n_bootstrap: int = 1000, seed: int = 0) -> dict[str, dict]:
    """The agreement report of each field on the submitted annotations."""
    project = load_project(session)
    for name in fields or ():
        _level(project, name)
    table = annotation_table(session, actor=actor, filters=filters, project=project)
    return {name: field_report(project, table, name, n_bootstrap=n_bootstrap, seed=seed)
            for name in fields or field_levels(project)}


def pairwise(project: Project, table: pd.DataFrame, field: str) -> pd.DataFrame:
    """Annotator x annotator agreement (Cohen's kappa, or alpha for sets)."""
    ratings, level, scale = _field_ratings(project, table, field)
    if ratings.empty:
        return pd.DataFrame()
    return agreement.pairwise_matrix(ratings, level=level, scale=scale)


def confusion(table: pd.DataFrame, field: str) -> pd.DataFrame:
    """Label x label counts over pairs of annotators, for the nominal and ordinal fields."""
    if FIELD_LEVELS.get(field) not in ("nominal", "ordinal"):
        return pd.DataFrame()
    ratings = ratings_for(table, field, FIELD_LEVELS[field])
    if ratings.empty:
        return pd.DataFrame()
    return agreement.confusion_matrix(ratings)


def by_category(project: Project, table: pd.DataFrame, field: str, *, min_items: int = 2) -> pd.DataFrame:
    """Per main category (the one most annotators chose for the item): items and agreement, lowest first."""
    ratings, level, scale = _field_ratings(project, table, field)
    if ratings.empty:
        return pd.DataFrame(columns=["category", "items", "percent_agreement", "krippendorff_alpha"])
    modal = (table.dropna(subset=["category"]).groupby("item")["category"]
             .agg(lambda values: values.value_counts().index[0]))
    ratings = ratings.assign(category=ratings["item"].map(modal).fillna("(no category)"))
    rows = []
    for category, group in ratings.groupby("category"):
        report = agreement.agreement_report(group[["item", "annotator", "value"]], level=level, scale=scale,
                                            n_bootstrap=0)
        if report["n_items"] >= min_items:
            rows.append({"category": category, "items": report["n_items"],
                         "percent_agreement": report["percent_agreement"],
                         "krippendorff_alpha": report["krippendorff_alpha"]})
    result = pd.DataFrame(rows, columns=["category", "items", "percent_agreement", "krippendorff_alpha"])
    return result.sort_values(["percent_agreement", "items"], ascending=[True, False], na_position="first")


def with_final_labels(session: Session, project: Project, table: pd.DataFrame, field: str) -> pd.DataFrame:
    """Per annotator: agreement with the final labels, once items have them."""
    ratings, level, scale = _field_ratings(project, table, field)
    if field in FIELD_LEVELS:
        finals = session.execute(select(Query.public_id, getattr(FinalLabel, field))
                                 .join(FinalLabel, FinalLabel.query_id == Query.id)).all()
    else:  # a score field
        finals = [(item, (scores or {}).get(field)) for item, scores in session.execute(
            select(Query.public_id, FinalLabel.scores).join(FinalLabel, FinalLabel.query_id == Query.id))]
    if field == "languages":
        finals = [(item, stored_languages(v, project.taxonomy.languages)) for item, v in finals]
    reference: dict[Any, Any] = {item: (frozenset(v) if level == "multilabel" and v else v)
                                 for item, v in finals if v is not None and v != []}
    if not reference or ratings.empty:
        return pd.DataFrame()
    return agreement.agreement_with_reference(ratings, reference, level=level, scale=scale)


def data_version(session: Session) -> tuple:
    """Changes whenever an annotation, a final label or a setting (score fields, the taxonomy's
    scale) changes: a cache key for the page."""
    return tuple(session.execute(select(
        func.count(Annotation.id), func.max(Annotation.updated_at),
        select(func.count(FinalLabel.id)).scalar_subquery(),
        select(func.max(FinalLabel.updated_at)).scalar_subquery(),
        select(func.max(Setting.updated_at)).scalar_subquery())).one())
