"""The one models module: every table the app stores.

Times are timezone-aware UTC (`utcnow()`); SQLModel stores them as UTC on SQLite and PostgreSQL. JSON columns hold lists
and dicts that have no query of their own (metadata, language sets, audit values).
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Optional

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class Role(StrEnum):
    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"  # a senior developer who votes on annotated items (the review stage)
    LEAD = "lead"
    ADMIN = "admin"


class AssignmentState(StrEnum):
    """One annotator's claim on one query."""

    ASSIGNED = "assigned"  # pushed to this annotator by a lead
    RESERVED = "reserved"  # opened, held until reserved_until
    EXPIRED = "expired"  # a reservation that ran out: the slot went back to the pool, the draft stays
    SKIPPED = "skipped"  # passed on by the annotator, or closed because the item is final or retired
    SUBMITTED = "submitted"  # done


class AnnotationState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


class LabelSource(StrEnum):
    """Where a final label, or one field of it, came from."""

    UNANIMOUS = "unanimous"
    MAJORITY = "majority"
    ADJUDICATED = "adjudicated"
    ANNOTATOR = "annotator"  # a text field taken from the annotator who wrote it
    REVIEWED = "reviewed"  # the annotation stage's labels, kept or rejected by the reviewers' votes


ROLES = tuple(Role)
ASSIGNMENT_STATES = tuple(AssignmentState)
# The states that hold one of a query's k slots.
CLAIMING_STATES = (AssignmentState.ASSIGNED, AssignmentState.RESERVED, AssignmentState.SUBMITTED)
# Assignments of an item still being annotated, closed when the item is final or retired.
OPEN_STATES = (AssignmentState.ASSIGNED, AssignmentState.RESERVED, AssignmentState.EXPIRED)
ANNOTATION_STATES = tuple(AnnotationState)
LABEL_SOURCES = (LabelSource.UNANIMOUS, LabelSource.MAJORITY, LabelSource.REVIEWED, LabelSource.ADJUDICATED)

# Names for constraints and indexes, so Alembic autogenerate and hand-written migrations agree.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _json_column(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=nullable))


def _text_column(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(Text, nullable=nullable))


class User(SQLModel, table=True):
    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL
    __table_args__ = (UniqueConstraint("name"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    role: str = Field(max_length=20)
    # Argon2 hash; None for users created by an annotation import, who cannot log in.
    password_hash: Optional[str] = Field(default=None, max_length=255)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class ImportBatch(SQLModel, table=True):
    __tablename__ = "import_batch"

    id: Optional[int] = Field(default=None, primary_key=True)
    source: str = Field(max_length=200)
    file_name: str = Field(max_length=500)
    file_sha256: str = Field(max_length=64)
    file_format: str = Field(max_length=20)
    shape: str = Field(max_length=40)
    n_read: int = 0
    n_imported: int = 0
    n_duplicates: int = 0
    n_skipped: int = 0
    created_by_id: Optional[int] = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)


class Query(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("public_id"),
        UniqueConstraint("content_hash"),
        Index("ix_query_batch_id", "batch_id"),
        Index("ix_query_source_original_id", "source", "original_id"),
        # The shared pool: open queries in queue order, found without scanning the full ones.
        Index("ix_query_pool_open_queue_rank_id", "pool_open", "queue_rank", "id"),
        Index("ix_query_coding_score", "coding_score"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=300)
    # sha256 of the conversation after normalising white space and case: exact duplicates.
    content_hash: str = Field(max_length=64)
    # The conversation as a list of {"role", "content"}; the first user turn is the query.
    messages: list = Field(sa_column=Column(JSON, nullable=False))
    n_turns: int = 1
    n_chars: int = 0
    source: str = Field(max_length=200)
    source_file: str = Field(max_length=500)
    source_location: str = Field(max_length=50)  # "line 12", "row 7", "item 3"
    original_id: Optional[str] = Field(default=None, max_length=300)
    batch_id: int = Field(foreign_key="import_batch.id")
    extra: Optional[dict] = _json_column()  # every field the importer did not use
    # The primary (first imported) of the query's baselines, kept equal to that Baseline row by the
    # importer; every baseline, this one included, is a Baseline row.
    baseline_answer: Optional[str] = _text_column()
    baseline_model: Optional[str] = Field(default=None, max_length=200)
    triage_flags: Optional[dict] = _json_column()
    # How likely the query asks for help with code, 0 to 1 (None: not scored yet); written by the
    # coding-query detector, read as a filter by triage, sampling and assignment.
    coding_score: Optional[float] = None
    # Queue bookkeeping, written only by core/queue.py: released to annotators (never while final
    # or retired), how many slots are claimed (assigned, reserved or submitted), whether a slot is
    # still free (in_pool and n_claims < overlap), and retired: a confirmed duplicate, never offered.
    in_pool: bool = False
    n_claims: int = 0
    pool_open: bool = False
    retired: bool = False
    # Lower comes first; a lead may order by the category model's uncertainty (most uncertain first).
    queue_rank: float = 0.0
    created_at: datetime = Field(default_factory=utcnow)


class Baseline(SQLModel, table=True):
    """One model's answer to a query: from a `<model>_response` field of the imported row or from an
    answers file. One per (query, model): the same model again replaces its answer in place, so
    the lowest id is the query's first baseline."""

    __table_args__ = (UniqueConstraint("query_id", "model"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    query_id: int = Field(foreign_key="query.id")
    model: str = Field(max_length=200)
    answer: str = Field(sa_column=Column(Text, nullable=False))
    source_file: str = Field(max_length=500)  # the file the answer came from
    source_location: str = Field(max_length=50)  # "line 12", "row 7", "item 3"
    imported_at: datetime = Field(default_factory=utcnow)


class Assignment(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("query_id", "annotator_id"),
        # The annotator's queue: their open items in order.
        Index("ix_assignment_annotator_id_state_id", "annotator_id", "state", "id"),
        Index("ix_assignment_state_reserved_until", "state", "reserved_until"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    query_id: int = Field(foreign_key="query.id")
    annotator_id: int = Field(foreign_key="app_user.id")
    state: str = Field(default="assigned", max_length=20)
    reserved_until: Optional[datetime] = None
    assigned_by_id: Optional[int] = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Annotation(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("query_id", "annotator_id"),
        Index("ix_annotation_annotator_id_state", "annotator_id", "state"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    query_id: int = Field(foreign_key="query.id")
    annotator_id: int = Field(foreign_key="app_user.id")
    state: str = Field(default="draft", max_length=20)
    decision: Optional[str] = Field(default=None, max_length=20)
    reject_reason: Optional[str] = Field(default=None, max_length=100)
    category: Optional[str] = Field(default=None, max_length=200)
    subcategory: Optional[str] = Field(default=None, max_length=200)
    languages: Optional[list] = _json_column()
    difficulty: Optional[str] = Field(default=None, max_length=20)
    rewritten_prompt: Optional[str] = _text_column()
    reference_answer: Optional[str] = _text_column()
    notes: Optional[str] = _text_column()
    # The project's score fields (setting score_fields): {name: number}.
    scores: Optional[dict] = _json_column()
    # What the language detector suggested when the annotator opened the item.
    suggested_languages: Optional[list] = _json_column()
    # What the category model suggested, and whether the annotator chose to look at it.
    suggested_labels: Optional[dict] = _json_column()
    suggestions_opened: bool = False
    guideline_version: Optional[str] = Field(default=None, max_length=20)
    time_on_task_s: float = 0.0
    # Bumped on every write, for optimistic locking.
    revision: int = 1
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    submitted_at: Optional[datetime] = None


class FinalLabel(SQLModel, table=True):
    __tablename__ = "final_label"
    __table_args__ = (UniqueConstraint("query_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    query_id: int = Field(foreign_key="query.id")
    decision: Optional[str] = Field(default=None, max_length=20)
    reject_reason: Optional[str] = Field(default=None, max_length=100)
    category: Optional[str] = Field(default=None, max_length=200)
    subcategory: Optional[str] = Field(default=None, max_length=200)
    languages: Optional[list] = _json_column()
    difficulty: Optional[str] = Field(default=None, max_length=20)
    rewritten_prompt: Optional[str] = _text_column()
    reference_answer: Optional[str] = _text_column()
    scores: Optional[dict] = _json_column()
    # unanimous | majority | adjudicated: the weakest source among the fields.
    source: str = Field(max_length=20)
    # Per field: {"source": ..., "by": user name or None}.
    field_sources: Optional[dict] = _json_column()
    rationale: Optional[str] = _text_column()
    confidence: Optional[str] = Field(default=None, max_length=20)
    error_type: Optional[str] = Field(default=None, max_length=40)
    guidelines_need_update: bool = False
    # With a review stage: {"keep": n, "reject": n, "votes": n needed, "quorum": n} when decided.
    review: Optional[dict] = _json_column()
    decided_by_id: Optional[int] = Field(default=None, foreign_key="app_user.id")
    revision: int = 1
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ReviewVote(SQLModel, table=True):
    """A reviewer's vote on an item's proposed labels (the annotation stage's), blind to the others'."""

    __tablename__ = "review_vote"
    __table_args__ = (UniqueConstraint("query_id", "reviewer_id"), Index("ix_review_vote_reviewer_id", "reviewer_id"))

    id: Optional[int] = Field(default=None, primary_key=True)
    query_id: int = Field(foreign_key="query.id")
    reviewer_id: int = Field(foreign_key="app_user.id")
    vote: str = Field(max_length=20)  # keep | reject
    comment: Optional[str] = _text_column()
    # Labels the reviewer would change ({field: value}), for the lead; the vote is on the proposal.
    corrections: Optional[dict] = _json_column()
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Release(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    version: str = Field(max_length=50)
    path: str = Field(max_length=1000)
    n_items: int = 0
    sha256: str = Field(max_length=64)
    manifest: Optional[dict] = _json_column()
    created_by_id: Optional[int] = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)


class ReleaseItem(SQLModel, table=True):
    """An item as it was frozen. Database triggers refuse any update or delete of these rows
    and of their release."""

    __tablename__ = "release_item"
    __table_args__ = (Index("ix_release_item_query_id", "query_id"),)

    release_id: int = Field(foreign_key="release.id", primary_key=True)
    query_id: int = Field(foreign_key="query.id", primary_key=True)
    item: Optional[dict] = _json_column()  # the row as written to data.jsonl


class CandidateSample(SQLModel, table=True):
    """A seeded, stratified choice of queries for annotation (core/sampling.py): what was asked,
    what the pool allowed, and the coverage reached. Its members are CandidateSampleQuery rows."""

    __tablename__ = "candidate_sample"
    __table_args__ = (UniqueConstraint("name"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    seed: int = 0
    size_asked: int = 0
    size_chosen: int = 0
    # The sampling arguments (strata keys, floor, topics, coding filter...) and the coverage report.
    arguments: Optional[dict] = _json_column()
    report: Optional[dict] = _json_column()
    created_by_id: Optional[int] = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)


class CandidateSampleQuery(SQLModel, table=True):
    """A query chosen by a candidate sample. A query is chosen at most once: later samples draw
    from what earlier ones left."""

    __tablename__ = "candidate_sample_query"
    __table_args__ = (UniqueConstraint("query_id"),)

    sample_id: int = Field(foreign_key="candidate_sample.id", primary_key=True)
    query_id: int = Field(foreign_key="query.id", primary_key=True)
    # The stratum it was drawn from, e.g. "language=python | topic=3".
    stratum: str = Field(max_length=500)


class Setting(SQLModel, table=True):
    key: str = Field(primary_key=True, max_length=100)
    value: Any = Field(sa_column=Column(JSON, nullable=False))
    updated_by_id: Optional[int] = Field(default=None, foreign_key="app_user.id")
    updated_at: datetime = Field(default_factory=utcnow)


class AuditLog(SQLModel, table=True):
    """Append-only: core code inserts rows, and database triggers (migration 0005) refuse updates
    and deletes."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity_entity_id", "entity", "entity_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor_id: Optional[int] = Field(default=None, foreign_key="app_user.id")
    action: str = Field(max_length=60)
    entity: str = Field(max_length=40)
    entity_id: Optional[str] = Field(default=None, max_length=300)
    old: Optional[dict] = _json_column()
    new: Optional[dict] = _json_column()


class LoginSession(SQLModel, table=True):
    """A browser login that survives a page reload until it expires."""

    __tablename__ = "login_session"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64)
    user_id: int = Field(foreign_key="app_user.id")
    expires_at: datetime
    created_at: datetime = Field(default_factory=utcnow)
