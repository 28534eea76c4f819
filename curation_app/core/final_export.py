"""Final labels out of the database: one row per final item with its labels, where each field
came from (`field_sources`, with the votes the rule counted), the reviewers' votes with a review
stage (`review`), and how many annotations it had."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from curation_app.core.annotation_io import neutralise_formula, write_rows
from curation_app.core.auth import require_role
from curation_app.core.errors import InvalidInput
from curation_app.core.labels import CHOSEN_TEXT_FIELDS, LABEL_FIELDS
from curation_app.core.project import load_project
from curation_app.core.scores import ScoreField
from curation_app.database import session_scope
from curation_app.models import Annotation, AnnotationState, FinalLabel, Query, Role, User

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
DECISION_COLUMNS = ("label_source", "field_sources", "review", "n_annotations", "rationale", "confidence", "error_type",
                    "guidelines_need_update", "decided_by", "revision", "updated_at")


def columns(score_fields: tuple[ScoreField, ...]) -> list[str]:
    return ["id", *LABEL_FIELDS, *CHOSEN_TEXT_FIELDS, *(f.name for f in score_fields), *DECISION_COLUMNS]


def final_rows(session: Session, *, actor: User, score_fields: tuple[ScoreField, ...] | None = None) -> Iterator[dict]:
    """Every final label, ordered by query id; scores under their own names."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    if score_fields is None:
        score_fields = load_project(session).score_fields
    counted = (select(Annotation.query_id, func.count().label("n"))
               .where(Annotation.state == AnnotationState.SUBMITTED).group_by(Annotation.query_id).subquery())
    result = session.execute(
        select(Query.public_id, FinalLabel, User.name, counted.c.n)
        .join(FinalLabel, FinalLabel.query_id == Query.id)
        .outerjoin(User, User.id == FinalLabel.decided_by_id)
        .outerjoin(counted, counted.c.query_id == Query.id)
        .order_by(Query.public_id)
        .execution_options(yield_per=2000))
    for public_id, final, decided_by, n_annotations in result:
        scores = final.scores or {}
        yield {"id": public_id, **{f: getattr(final, f) for f in (*LABEL_FIELDS, *CHOSEN_TEXT_FIELDS)},
               **{f.name: scores.get(f.name) for f in score_fields},
               "label_source": final.source, "field_sources": final.field_sources or {},
               # The reviewers' votes (the review stage): keep and reject counts, each reviewer's vote.
               "review": final.review,
               "n_annotations": n_annotations or 0, "rationale": final.rationale, "confidence": final.confidence,
               "error_type": final.error_type, "guidelines_need_update": final.guidelines_need_update,
               "decided_by": decided_by, "revision": final.revision, "updated_at": final.updated_at.isoformat()}


def _csv_cells(row: dict) -> dict:
    cells = {}
    for key, value in row.items():
        if value is None:
            cells[key] = ""
        elif key == "languages":
            cells[key] = neutralise_formula("|".join(value))
        elif key in ("field_sources", "review"):
            cells[key] = json.dumps(value, ensure_ascii=False, sort_keys=True)
        else:
            cells[key] = neutralise_formula(str(value))
    return cells


def export_finals(path: str | Path, *, actor: User, engine: Engine | None = None) -> int:
    """Write every final label to a .csv (languages '|'-separated, field sources as JSON, formulas
    neutralised) or .jsonl file, chosen by the extension; returns the row count."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    path = Path(path)
    file_format = FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise InvalidInput(f"{path}: give a .csv or .jsonl file name (the extension chooses the format)")
    if not path.parent.is_dir():
        raise InvalidInput(f"{path}: the folder {path.parent} does not exist")
    with session_scope(engine) as session:
        score_fields = load_project(session).score_fields
        return write_rows(path, final_rows(session, actor=actor, score_fields=score_fields), file_format=file_format,
                          fieldnames=columns(score_fields), csv_cells=_csv_cells)
