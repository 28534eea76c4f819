"""What is in the database: counts for the overview page and the CLI."""

from __future__ import annotations

from sqlmodel import Session, func, select

from curation_app.models import Annotation, FinalLabel, ImportBatch, Query, User

RECENT_BATCHES = 50


def batch_ids(session: Session) -> list[int]:
    """Every import batch, newest first: the choices of a batch filter."""
    return list(session.exec(select(ImportBatch.id).order_by(ImportBatch.id.desc())).all())


def overview(session: Session) -> dict:
    """Totals, per-source counts and the most recent import batches, newest first."""
    count = lambda model: session.exec(select(func.count()).select_from(model)).one()  # noqa: E731
    by_source = session.exec(
        select(Query.source, func.count(), func.count(Query.baseline_answer), func.avg(Query.n_chars))
        .group_by(Query.source).order_by(func.count().desc())
    ).all()
    batches = session.exec(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(RECENT_BATCHES)).all()
    roles = dict(session.exec(select(User.role, func.count()).group_by(User.role)).all())
    return {
        "queries": count(Query),
        "with_baseline_answer": session.exec(
            select(func.count()).select_from(Query).where(Query.baseline_answer.is_not(None))).one(),
        "multi_turn": session.exec(select(func.count()).select_from(Query).where(Query.n_turns > 1)).one(),
        "annotations": session.exec(
            select(func.count()).select_from(Annotation).where(Annotation.state == "submitted")).one(),
        "final_labels": count(FinalLabel),
        "retired": session.exec(select(func.count()).select_from(Query).where(Query.retired)).one(),
        "users_by_role": roles,
        "sources": [
            {"source": s, "queries": n, "with_baseline_answer": b, "mean_characters": round(float(c or 0))}
            for s, n, b, c in by_source
        ],
        "batches": [
            {"batch": b.id, "source": b.source, "file": b.file_name, "format": b.file_format,
             "shape": b.shape, "read": b.n_read, "imported": b.n_imported,
             "duplicates": b.n_duplicates, "skipped": b.n_skipped, "at": b.created_at}
            for b in batches
        ],
    }
