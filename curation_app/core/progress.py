"""Progress for leads: where the queries are (the stage funnel) and what each annotator has done.

Every figure is aggregated by the database and comes back as a few rows (one per stage, per
annotator or per annotator and day), so the cost on the page does not grow with the number of
queries beyond the database's own scan.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
from sqlalchemy import and_, case, exists, func, literal, not_, or_, select
from sqlmodel import Session

from curation_app.core.auth import require_role
from curation_app.core.project import load_project
from curation_app.models import (Annotation, AnnotationState, Assignment, AssignmentState, AuditLog, FinalLabel, Query,
                                 ReleaseItem, ReviewVote, Role, User, utcnow)

LEADS = (Role.LEAD, Role.ADMIN)
IMPORTED, TRIAGED, IN_ANNOTATION, IN_REVIEW, FINAL, RELEASED = (
    "imported", "triaged", "in annotation", "in review", "final", "released")
# Fields whose final value is compared with each annotator's (nominal and ordinal: exact match).
COMPARED_FIELDS = ("decision", "category", "subcategory", "difficulty")
OPEN_ASSIGNMENTS = (AssignmentState.ASSIGNED, AssignmentState.RESERVED)


def stages(review_stage: bool) -> tuple[str, ...]:
    """The stages a query goes through, in order; 'in review' only with a review stage."""
    return (IMPORTED, TRIAGED, IN_ANNOTATION, *((IN_REVIEW,) if review_stage else ()), FINAL, RELEASED)


def last_triage_run(session: Session) -> datetime | None:
    return session.execute(select(func.max(AuditLog.at)).where(
        AuditLog.entity == "queue", AuditLog.action == "triage.run")).scalar_one()


def stage_funnel(session: Session) -> pd.DataFrame:
    """Each query counted once, at the furthest stage it has reached; retired duplicates are left out.

    released: in a frozen release. final: has a final label. in review (projects with
    review_votes > 0): `min_annotations` submitted annotations or a reviewer's vote, not final yet.
    in annotation: released to annotators, assigned or annotated. triaged: checked by the last
    triage run (imported before it). imported: none of these yet.

    Columns: stage, queries (at that stage now), reached (at that stage or further).
    """
    project = load_project(session)
    review_stage = project.review_votes > 0
    submitted = (select(func.count()).select_from(Annotation)
                 .where(Annotation.query_id == Query.id, Annotation.state == AnnotationState.SUBMITTED)
                 .scalar_subquery())
    triaged_at = last_triage_run(session)
    branches = [
        (exists().where(ReleaseItem.query_id == Query.id), RELEASED),
        (exists().where(FinalLabel.query_id == Query.id), FINAL),
    ]
    if review_stage:
        branches.append((or_(submitted >= project.rule.min_annotations,
                             exists().where(ReviewVote.query_id == Query.id)), IN_REVIEW))
    branches.append((or_(Query.in_pool, exists().where(Assignment.query_id == Query.id), submitted > 0),
                     IN_ANNOTATION))
    if triaged_at is not None:
        branches.append((Query.created_at <= triaged_at, TRIAGED))
    stage = case(*branches, else_=literal(IMPORTED)).label("stage")
    counted = select(stage).where(not_(Query.retired)).subquery()
    counts = dict(session.execute(select(counted.c.stage, func.count()).group_by(counted.c.stage)).all())
    names = stages(review_stage)
    now = [int(counts.get(name, 0)) for name in names]
    reached = [sum(now[position:]) for position in range(len(names))]
    return pd.DataFrame({"stage": names, "queries": now, "reached": reached})


def _utc_day(session: Session, column):  # type: ignore[no-untyped-def]
    """The UTC calendar day of a timestamp column, on SQLite (stored as UTC text) and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _start_of_day(now: datetime) -> datetime:
    return now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


def _annotators(session: Session) -> dict[int, str]:
    """Everyone with the annotator role, and anyone else who submitted an annotation."""
    with_work = exists().where(Annotation.annotator_id == User.id, Annotation.state == AnnotationState.SUBMITTED)
    return dict(session.execute(select(User.id, User.name).where(or_(User.role == Role.ANNOTATOR, with_work))
                                .order_by(User.name)).all())


def annotator_progress(session: Session, *, actor: User, now: datetime | None = None) -> pd.DataFrame:
    """One row per annotator: submitted today (UTC) and in total, open assignments, median time on
    task, and the share of their labels that match the final label, per compared field.
    Missing figures are NaN.

    Columns: annotator, done_today, done_total, open_assignments, median_time_s (NaN when no
    annotation was timed), then for each field in COMPARED_FIELDS `<field>_vs_final` (a share, NaN
    before any of their items is final) and `<field>_compared` (items counted).
    """
    require_role(actor, *LEADS)
    start = _start_of_day(now or utcnow())
    names = _annotators(session)
    done = {row[0]: row[1:] for row in session.execute(
        select(Annotation.annotator_id, func.count(), func.count(case((Annotation.submitted_at >= start, 1))))
        .where(Annotation.state == AnnotationState.SUBMITTED).group_by(Annotation.annotator_id)).all()}
    waiting = dict(session.execute(select(Assignment.annotator_id, func.count())
                                   .where(Assignment.state.in_(OPEN_ASSIGNMENTS))
                                   .group_by(Assignment.annotator_id)).all())
    medians = time_on_task(session, actor=actor).set_index("annotator")["median_s"].to_dict()
    versus = final_agreement(session, actor=actor).set_index("annotator")
    rows = []
    for annotator_id, name in names.items():
        total, today = done.get(annotator_id, (0, 0))
        row = {"annotator": name, "done_today": int(today), "done_total": int(total),
               "open_assignments": int(waiting.get(annotator_id, 0)), "median_time_s": medians.get(name)}
        for field in COMPARED_FIELDS:
            found = name in versus.index
            row[f"{field}_vs_final"] = versus.at[name, f"{field}_vs_final"] if found else None
            row[f"{field}_compared"] = int(versus.at[name, f"{field}_compared"]) if found else 0
        rows.append(row)
    columns = ["annotator", "done_today", "done_total", "open_assignments", "median_time_s",
               *[f"{field}_{suffix}" for field in COMPARED_FIELDS for suffix in ("vs_final", "compared")]]
    return pd.DataFrame(rows, columns=columns)


def throughput_per_day(session: Session, *, actor: User, days: int | None = 90,
                       now: datetime | None = None) -> pd.DataFrame:
    """Submitted annotations per annotator and UTC day (days with none are absent); the last
    `days` days, or every day with None. Columns: annotator, day (a Timestamp), submitted."""
    require_role(actor, *LEADS)
    day = _utc_day(session, Annotation.submitted_at).label("day")
    statement = (select(User.name, day, func.count()).join(User, User.id == Annotation.annotator_id)
                 .where(Annotation.state == AnnotationState.SUBMITTED, Annotation.submitted_at.is_not(None))
                 .group_by(User.name, day).order_by(day, User.name))
    if days is not None:
        statement = statement.where(Annotation.submitted_at >= _start_of_day(now or utcnow()) - timedelta(days=days - 1))
    rows = session.execute(statement).all()
    frame = pd.DataFrame([tuple(row) for row in rows], columns=["annotator", "day", "submitted"])
    frame["day"] = pd.to_datetime(frame["day"].astype(str)) if len(frame) else pd.Series(dtype="datetime64[ns]")
    return frame.astype({"submitted": "int64"})


def time_on_task(session: Session, *, actor: User) -> pd.DataFrame:
    """Quartiles of time on task per annotator, over their submitted annotations that were timed
    (imported annotations carry 0 s: not timed, left out). The median is exact (the mean of the
    two middle values for an even count); the quartiles are the nearest-rank ones.
    Columns: annotator, timed, p25_s, median_s, p75_s.

    Ranked by a window function in the database: only the few ranks needed come back."""
    require_role(actor, *LEADS)
    seconds = Annotation.time_on_task_s
    ranked = (select(Annotation.annotator_id.label("annotator_id"), seconds.label("seconds"),
                     func.row_number().over(partition_by=Annotation.annotator_id, order_by=seconds).label("rank"),
                     func.count().over(partition_by=Annotation.annotator_id).label("n"))
              .where(Annotation.state == AnnotationState.SUBMITTED, seconds > 0).subquery())
    n = ranked.c.n
    # Integer ranks: lower and upper middle; nearest-rank quartiles ceil(n/4) and ceil(3n/4).
    low_middle, high_middle = (n + 1) // 2, (n + 2) // 2
    first, third = (n + 3) // 4, (3 * n + 3) // 4
    wanted = or_(ranked.c.rank == low_middle, ranked.c.rank == high_middle,
                 ranked.c.rank == first, ranked.c.rank == third)
    rows = session.execute(select(User.name, ranked.c.rank, ranked.c.n, ranked.c.seconds)
                           .join(User, User.id == ranked.c.annotator_id).where(wanted)).all()
    figures: dict[str, dict] = {}
    for name, rank, count, value in rows:
        entry = figures.setdefault(name, {"timed": int(count), "ranks": {}})
        entry["ranks"][int(rank)] = float(value)
    result = []
    for name, entry in sorted(figures.items()):
        count, ranks = entry["timed"], entry["ranks"]
        middle = [ranks[(count + 1) // 2], ranks[(count + 2) // 2]]
        result.append({"annotator": name, "timed": count, "p25_s": ranks[(count + 3) // 4],
                       "median_s": sum(middle) / 2, "p75_s": ranks[(3 * count + 3) // 4]})
    return pd.DataFrame(result, columns=["annotator", "timed", "p25_s", "median_s", "p75_s"])


def final_agreement(session: Session, *, actor: User) -> pd.DataFrame:
    """Per annotator and compared field: on the items where both they and the final label have a
    value, the share where the values are the same (the `percent_agreement` that
    agreement.agreement_with_reference reports, counted by the database).
    Columns: annotator, then `<field>_compared` and `<field>_vs_final` per field in COMPARED_FIELDS."""
    require_role(actor, *LEADS)
    sums = []
    for field in COMPARED_FIELDS:
        mine, final = getattr(Annotation, field), getattr(FinalLabel, field)
        both = and_(mine.is_not(None), final.is_not(None))
        sums += [func.count(case((both, 1))), func.count(case((and_(both, mine == final), 1)))]
    rows = session.execute(select(User.name, *sums)
                           .join(Annotation, Annotation.annotator_id == User.id)
                           .join(FinalLabel, FinalLabel.query_id == Annotation.query_id)
                           .where(Annotation.state == AnnotationState.SUBMITTED)
                           .group_by(User.name).order_by(User.name)).all()
    result = []
    for name, *counts in rows:
        row: dict = {"annotator": name}
        for position, field in enumerate(COMPARED_FIELDS):
            compared, same = int(counts[2 * position]), int(counts[2 * position + 1])
            row[f"{field}_compared"] = compared
            row[f"{field}_vs_final"] = same / compared if compared else None
        result.append(row)
    columns = ["annotator", *[f"{field}_{suffix}" for field in COMPARED_FIELDS for suffix in ("compared", "vs_final")]]
    return pd.DataFrame(result, columns=columns)
