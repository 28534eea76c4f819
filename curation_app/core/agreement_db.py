"""Agreement on the project's own annotations: per field, per annotator pair, per category.

The statistics live in curation_app.core.agreement; this module turns submitted annotations into
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
from curation_app.core.taxonomy import project_taxonomy
from curation_app.models import Annotation, FinalLabel, Query, User

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


def check_field(name: str) -> str:
    if name not in FIELD_LEVELS:
        raise InvalidInput(f"unknown field {name!r}; fields with agreement: {', '.join(FIELD_LEVELS)}")
    return name


def annotation_table(session: Session, *, actor: User, filters: Filters = Filters()) -> pd.DataFrame:
    """Every submitted annotation as one row: item, annotator, batch, and each labelled field."""
    require_role(actor, "lead", "admin")
    # Languages come back as JSON text and are decoded in one pass below: for 300,000 rows the
    # per-value JSON processing of the ORM type costs more than the query.
    columns = [cast(Annotation.languages, Text).label(f) if f == "languages" else getattr(Annotation, f)
               for f in FIELD_LEVELS]
    statement = (
        select(Query.public_id.label("item"), User.name.label("annotator"), Query.batch_id.label("batch"), *columns)
        .join(Annotation, Annotation.query_id == Query.id)
        .join(User, User.id == Annotation.annotator_id)
        .where(Annotation.state == "submitted")
    )
    if filters.batch_ids:
        statement = statement.where(Query.batch_id.in_(filters.batch_ids))
    if filters.since:
        statement = statement.where(Annotation.submitted_at >= filters.since)
    if filters.until:
        statement = statement.where(Annotation.submitted_at <= filters.until)
    rows = session.connection().execute(statement).all()  # Core rows: no ORM bookkeeping for 300,000 rows
    table = pd.DataFrame.from_records([tuple(row) for row in rows], columns=["item", "annotator", "batch",
                                                                            *FIELD_LEVELS])
    if not table.empty:
        # Few distinct language lists among many rows: decode each distinct JSON text once, to a set.
        codes, texts = pd.factorize(table["languages"], use_na_sentinel=True)
        sets = [frozenset(orjson.loads(text) or ()) or None for text in texts]
        table["languages"] = np.array([*sets, None], dtype=object)[codes]
    if filters.categories and not table.empty:
        items = set(table.loc[table["category"].isin(filters.categories), "item"])
        table = table[table["item"].isin(items)]
    return table


def ratings_for(table: pd.DataFrame, field: str) -> pd.DataFrame:
    """The long (item, annotator, value) ratings of one field; an empty value is a missing rating."""
    check_field(field)
    ratings = table[["item", "annotator", field]].rename(columns={field: "value"})
    if FIELD_LEVELS[field] == "multilabel":
        ratings = ratings.assign(value=[(v if isinstance(v, frozenset) else frozenset(v)) if v else None
                                        for v in ratings["value"]])
    return ratings[ratings["value"].notna()].reset_index(drop=True)


def _scale(session: Session, field: str) -> list[str] | None:
    return list(project_taxonomy(session).difficulties) if FIELD_LEVELS[field] == "ordinal" else None


def field_report(session: Session, table: pd.DataFrame, field: str, *, n_bootstrap: int = 1000,
                 seed: int = 0) -> dict:
    return agreement.agreement_report(ratings_for(table, field), level=FIELD_LEVELS[field],
                                      scale=_scale(session, field), n_bootstrap=n_bootstrap, seed=seed)


def database_agreement(session: Session, *, actor: User, fields: list[str] | None = None,
                       filters: Filters = Filters(), n_bootstrap: int = 1000, seed: int = 0) -> dict[str, dict]:
    """The agreement report of each field on the submitted annotations."""
    for name in fields or ():
        check_field(name)
    table = annotation_table(session, actor=actor, filters=filters)
    return {name: field_report(session, table, name, n_bootstrap=n_bootstrap, seed=seed)
            for name in fields or FIELD_LEVELS}


def pairwise(session: Session, table: pd.DataFrame, field: str) -> pd.DataFrame:
    """Annotator x annotator agreement (Cohen's kappa, or alpha for sets)."""
    ratings = ratings_for(table, field)
    if ratings.empty:
        return pd.DataFrame()
    return agreement.pairwise_matrix(ratings, level=FIELD_LEVELS[field], scale=_scale(session, field))


def confusion(table: pd.DataFrame, field: str) -> pd.DataFrame:
    ratings = ratings_for(table, field)
    if ratings.empty or FIELD_LEVELS[field] == "multilabel":
        return pd.DataFrame()
    return agreement.confusion_matrix(ratings)


def by_category(session: Session, table: pd.DataFrame, field: str, *, min_items: int = 2) -> pd.DataFrame:
    """Per main category (the one most annotators chose for the item): items and agreement, lowest first."""
    ratings = ratings_for(table, field)
    if ratings.empty:
        return pd.DataFrame(columns=["category", "items", "percent_agreement", "krippendorff_alpha"])
    modal = (table.dropna(subset=["category"]).groupby("item")["category"]
             .agg(lambda values: values.value_counts().index[0]))
    ratings = ratings.assign(category=ratings["item"].map(modal).fillna("(no category)"))
    rows = []
    for category, group in ratings.groupby("category"):
        report = agreement.agreement_report(group[["item", "annotator", "value"]], level=FIELD_LEVELS[field],
                                            scale=_scale(session, field), n_bootstrap=0)
        if report["n_items"] >= min_items:
            rows.append({"category": category, "items": report["n_items"],
                         "percent_agreement": report["percent_agreement"],
                         "krippendorff_alpha": report["krippendorff_alpha"]})
    result = pd.DataFrame(rows, columns=["category", "items", "percent_agreement", "krippendorff_alpha"])
    return result.sort_values(["percent_agreement", "items"], ascending=[True, False], na_position="first")


def with_final_labels(session: Session, table: pd.DataFrame, field: str) -> pd.DataFrame:
    """Per annotator: agreement with the final labels, once items have them."""
    finals = session.execute(select(Query.public_id, getattr(FinalLabel, field))
                             .join(FinalLabel, FinalLabel.query_id == Query.id)).all()
    reference: dict[Any, Any] = {item: (frozenset(v) if FIELD_LEVELS[field] == "multilabel" and v else v)
                                 for item, v in finals if v is not None and v != []}
    ratings = ratings_for(table, field)
    if not reference or ratings.empty:
        return pd.DataFrame()
    return agreement.agreement_with_reference(ratings, reference, level=FIELD_LEVELS[field],
                                              scale=_scale(session, field))


def data_version(session: Session) -> tuple:
    """Changes whenever an annotation or a final label changes: a cache key for the page."""
    return tuple(session.execute(select(
        func.count(Annotation.id), func.max(Annotation.updated_at),
        select(func.count(FinalLabel.id)).scalar_subquery(),
        select(func.max(FinalLabel.updated_at)).scalar_subquery())).one())
