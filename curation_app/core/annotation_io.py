"""Labels made elsewhere: import and export annotations as CSV or JSONL, one row per
(query, annotator), with the columns of the design's contract.

An import is all or nothing: an unknown query id or a value outside the taxonomy refuses the
file with each row's number. Unknown annotators are created as annotators who cannot log in.
Empty cells are allowed (a tool may label only some fields): a row is stored with the labels it
has, counted as incomplete, and the acceptance rule leaves its missing fields to the others or a
lead. A row without a single label is refused.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from curation_app.core import audit, auth, queue
from curation_app.core.auth import require_role
from curation_app.core.errors import Conflict, ImportRefused, InvalidInput
from curation_app.core.labels import FIELDS, LABEL_FIELDS, TEXT_FIELDS, clean_fields, missing_labels
from curation_app.core.limits import MAX_PUBLIC_ID_CHARS, check, check_labels, excerpt
from curation_app.core.project import Project, load_project
from curation_app.core.readers import read_records
from curation_app.core.scores import ScoreField
from curation_app.database import bulk_write, read_scope, session_scope
from curation_app.models import Annotation, AnnotationState, AuditLog, Query, Role, User, utcnow

# The project's score fields follow these columns, one column each (see columns()).
COLUMNS = ("query_id", "annotator") + tuple(f for f in FIELDS if f != "scores")
# Spreadsheet programs run a cell that starts with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: str) -> str:
    """Prefix a quote so a spreadsheet shows the text instead of evaluating it; text that the
    importer would read back shorter ("'=1", "''x") gets one too, so a round trip changes nothing."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) or restore_formula(value) != value else value


def restore_formula(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith((*FORMULA_PREFIXES, "'")):
        return value[1:]
    return value


@dataclass
class AnnotationImportSummary:
    file: str
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    incomplete: int = 0  # rows stored with some label left empty
    new_annotators: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def columns(score_fields: tuple[ScoreField, ...]) -> tuple[str, ...]:
    return COLUMNS + tuple(f.name for f in score_fields)


def _rows(path: Path) -> tuple[str, Iterator[tuple[str, dict | None, str | None]]]:
    file_format, records = read_records(path)
    if file_format not in ("csv", "jsonl", "json"):
        raise InvalidInput(f"{path}: annotations must be CSV or JSONL, not {file_format}")
    return file_format, ((raw.location, raw.record, raw.problem) for raw in records)


def import_annotations(path: str | Path, *, actor: User, engine: Engine | None = None) -> AnnotationImportSummary:
    """Load every row of an annotation file, or none. The file is read and checked, and the rows it
    needs looked up, outside the write transaction; the writing is a few bulk statements in one
    short transaction, so annotators saving meanwhile wait a moment at most. If a row the plan
    rests on changed between the two (an annotator saved one of the file's annotations), the plan
    is made again inside the transaction."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    path = Path(path)
    file_format, rows = _rows(path)
    records = list(rows)
    with read_scope(engine) as session:
        plan = _plan(session, path, records, file_format)
    with session_scope(engine) as session:
        if not plan.still_holds(session):
            plan = _plan(session, path, records, file_format)
        summary = plan.summary
        users = dict(plan.users)
        for name in plan.new_annotators:
            users[name] = (auth.create_imported_annotator(session, actor=actor, name=name).id, Role.ANNOTATOR)
            summary.new_annotators.append(name)
        try:
            _store(session, actor, plan, users)
        except IntegrityError:  # PostgreSQL: an annotator saved one of the file's pairs after the check
            raise Conflict(f"{path.name}: an annotation or annotator of this file was saved elsewhere while it "
                           "was written; nothing was imported, run the import again") from None
        audit.record(session, actor=actor, action="import.annotations", entity="file", entity_id=path.name,
                     new={k: v for k, v in summary.as_dict().items() if k != "new_annotators"})
    return summary


@dataclass
class _Plan:
    """A checked file and what it meets in the database: query ids, users and the annotations its
    rows would replace, as they were when read."""

    project: Project
    parsed: list[tuple[str, str, str, dict]]  # (location, query id, annotator, cleaned values)
    summary: AnnotationImportSummary
    query_ids: dict[str, int]
    users: dict[str, tuple[int, str]]  # name -> (id, role)
    existing: dict[tuple[int, int], dict]  # (query, annotator) -> the stored annotation's columns

    @property
    def new_annotators(self) -> list[str]:
        return sorted({p[2] for p in self.parsed} - set(self.users))

    def pairs(self) -> set[tuple[int, int]]:
        return {(self.query_ids[q], self.users[a][0]) for _, q, a, _ in self.parsed if a in self.users}

    def still_holds(self, session: Session) -> bool:
        """Whether the settings, users and annotations the plan rests on are as they were read."""
        if load_project(session) != self.project or _users(session, {p[2] for p in self.parsed}) != self.users:
            return False
        now = {pair: (row["id"], row["state"], row["revision"])
               for pair, row in _annotations(session, self.pairs(), columns=False, for_update=True).items()}
        return now == {pair: (row["id"], row["state"], row["revision"]) for pair, row in self.existing.items()}


def _plan(session: Session, path: Path, records: list[tuple[str, dict | None, str | None]],
          file_format: str) -> _Plan:
    """Check every row (refusing the file with every problem) and look up what the rows meet."""
    project = load_project(session)
    summary = AnnotationImportSummary(file=str(path))
    problems: list[tuple[str, str]] = []
    parsed = _checked_rows(records, project, file_format, summary, problems)
    if summary.read == 0:
        raise ImportRefused(path.name, [("file", "no records: the file is empty")])
    query_ids = _lookup(session, Query.public_id, Query.id, {p[1] for p in parsed})
    for location, query_id, _, _ in parsed:
        if query_id not in query_ids:
            problems.append((location, f"unknown query id {excerpt(query_id)}"))
    users = _users(session, {p[2] for p in parsed})
    for location, _, annotator, _ in parsed:
        known = users.get(annotator)
        if known is not None and known[1] != Role.ANNOTATOR:
            problems.append((location, f"{annotator} is a {known[1]}, not an annotator"))
    if problems:
        problems.sort(key=lambda p: _row_order(p[0]))
        raise ImportRefused(path.name, problems[:1000], len(problems))
    plan = _Plan(project, parsed, summary, query_ids, users, {})
    plan.existing = _annotations(session, plan.pairs(), columns=True)
    return plan


def _checked_rows(records: list[tuple[str, dict | None, str | None]], project: Project, file_format: str,
                  summary: AnnotationImportSummary,
                  problems: list[tuple[str, str]]) -> list[tuple[str, str, str, dict]]:
    taxonomy, score_fields = project.taxonomy, project.score_fields
    expected = columns(score_fields)
    score_names = [f.name for f in score_fields]
    # Only a CSV file had its formulas neutralised on export; JSON holds the text as it is.
    undo_quote = restore_formula if file_format == "csv" else (lambda value: value)
    parsed: list[tuple[str, str, str, dict]] = []
    seen: dict[tuple[str, str], str] = {}
    for location, record, problem in records:
        summary.read += 1
        if problem or record is None:
            problems.append((location, problem or "unreadable"))
            continue
        missing = [c for c in ("query_id", "annotator") if not str(record.get(c) or "").strip()]
        if missing:
            problems.append((location, f"missing {' and '.join(missing)}"))
            continue
        unknown = sorted(set(record) - set(expected))
        if unknown:
            problems.append((location, f"unknown column(s) {', '.join(excerpt(c) for c in unknown[:5])}"
                                       f"{' ...' if len(unknown) > 5 else ''}; expected {', '.join(expected)}"))
            continue
        query_id, annotator = str(record["query_id"]).strip(), str(record["annotator"]).strip()
        pair = (query_id, annotator)
        if pair in seen:
            problems.append((location, f"{excerpt(query_id, quoted=False)} by {excerpt(annotator, quoted=False)} "
                                       f"is also at {seen[pair]}"))
            continue
        seen[pair] = location
        try:
            check(query_id, field="query_id", limit=MAX_PUBLIC_ID_CHARS)
            _check_annotator(annotator)
            given = {k: undo_quote(record.get(k)) for k in COLUMNS[2:]}
            given["scores"] = {name: record.get(name) for name in score_names}
            check_labels(given, text_fields=TEXT_FIELDS)
            values = clean_fields(given, taxonomy, complete=False, score_fields=score_fields)
        except InvalidInput as error:
            problems.append((location, str(error)))
            continue
        if not values["scores"] and all(values[name] is None for name in LABEL_FIELDS):
            problems.append((location, f"no label: {', '.join(LABEL_FIELDS)} and any score fields are all empty"))
            continue
        if missing_labels(values, score_fields):
            summary.incomplete += 1
        parsed.append((location, query_id, annotator, values))
    return parsed


def _check_annotator(name: str) -> None:
    try:
        auth.validate_name(name)
    except InvalidInput:
        raise InvalidInput(f"user name {excerpt(name)} is not allowed: use 1-100 letters, digits, '_', '.', "
                           "'@' or '-', starting with a letter or digit") from None


def _users(session: Session, names: set[str]) -> dict[str, tuple[int, str]]:
    found: dict[str, tuple[int, str]] = {}
    name_list = sorted(names)
    for start in range(0, len(name_list), 500):
        for name, user_id, role in session.execute(select(User.name, User.id, User.role).where(
                User.name.in_(name_list[start:start + 500]))):
            found[name] = (user_id, role)
    return found


_STATE_COLUMNS = (Annotation.id, Annotation.query_id, Annotation.annotator_id, Annotation.state, Annotation.revision)


def _annotations(session: Session, pairs: set[tuple[int, int]], *, columns: bool,
                 for_update: bool = False) -> dict[tuple[int, int], dict]:
    """The stored annotations of these (query, annotator) pairs: id, state and revision, and with
    columns=True also every label field and submitted_at. for_update locks them (PostgreSQL) until
    the transaction ends, so none changes between this check and the writes."""
    labels = (Annotation.submitted_at, *(getattr(Annotation, f) for f in FIELDS))
    selected = _STATE_COLUMNS + (labels if columns else ())
    query_ids = sorted({query_id for query_id, _ in pairs})
    annotator_ids = sorted({annotator_id for _, annotator_id in pairs})
    found: dict[tuple[int, int], dict] = {}
    for start in range(0, len(query_ids), 500):
        statement = select(*selected).where(Annotation.query_id.in_(query_ids[start:start + 500]),
                                            Annotation.annotator_id.in_(annotator_ids))
        for row in session.execute(statement.with_for_update() if for_update else statement).mappings():
            pair = (row["query_id"], row["annotator_id"])
            if pair in pairs:
                found[pair] = dict(row)
    return found


def _row_order(location: str) -> tuple[int, str]:
    digits = "".join(ch if ch.isdigit() else " " for ch in location).split()
    return (int(digits[0]) if digits else 0, location)


def _lookup(session: Session, key_column, value_column, keys: set) -> dict:  # type: ignore[no-untyped-def]
    found: dict = {}
    key_list = list(keys)
    for start in range(0, len(key_list), 500):
        found.update(session.execute(select(key_column, value_column).where(
            key_column.in_(key_list[start:start + 500]))).all())
    return found


def _store(session: Session, actor: User, plan: _Plan, users: dict[str, tuple[int, str]]) -> None:
    """The plan's writes as bulk statements: new annotations, replaced ones (each replacement in the
    audit log with its old and new values), and their queue slots."""
    summary, project = plan.summary, plan.project
    now = utcnow()
    inserts, updates, audits, newly_submitted = [], [], [], []
    for _, query_id, annotator, values in plan.parsed:
        pair = (plan.query_ids[query_id], users[annotator][0])
        existing = plan.existing.get(pair)
        if existing is None:
            summary.created += 1
            inserts.append({"query_id": pair[0], "annotator_id": pair[1], "state": AnnotationState.SUBMITTED,
                            **values, "suggested_languages": None, "suggested_labels": None,
                            "suggestions_opened": False, "guideline_version": project.guideline_version,
                            "time_on_task_s": 0.0, "revision": 1, "created_at": now, "updated_at": now,
                            "submitted_at": now})
            newly_submitted.append(pair)
            continue
        old = {name: existing[name] for name in FIELDS}
        if old == values and existing["state"] == AnnotationState.SUBMITTED:
            summary.unchanged += 1
            continue
        summary.updated += 1
        audits.append({"at": now, "actor_id": actor.id, "action": "annotation.import_overwrite",
                       "entity": "annotation", "entity_id": f"{query_id}/{annotator}", "old": old, "new": values})
        updates.append({"target": existing["id"], **values, "state": AnnotationState.SUBMITTED,
                        "submitted_at": existing["submitted_at"] or now, "updated_at": now,
                        "revision": existing["revision"] + 1})
        if existing["state"] != AnnotationState.SUBMITTED:
            newly_submitted.append(pair)
    connection = session.connection()
    bulk_write(connection, Annotation.__table__, inserts=inserts, updates=updates)
    bulk_write(connection, AuditLog.__table__, inserts=audits)
    queue.mark_submitted_many(session, pairs=newly_submitted, overlap=project.overlap)


def export_rows(session: Session, *, actor: User,
                score_fields: tuple[ScoreField, ...] | None = None) -> Iterator[dict]:
    """Every submitted annotation in the import format, ordered by query then annotator."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    if score_fields is None:
        score_fields = load_project(session).score_fields
    result = session.execute(
        select(Query.public_id, User.name, Annotation)
        .join(Annotation, Annotation.query_id == Query.id)
        .join(User, User.id == Annotation.annotator_id)
        .where(Annotation.state == AnnotationState.SUBMITTED)
        .order_by(Query.public_id, User.name)
        .execution_options(yield_per=2000))
    score_names = [f.name for f in score_fields]
    for public_id, name, annotation in result:
        scores = annotation.scores or {}
        yield {"query_id": public_id, "annotator": name, **{f: getattr(annotation, f) for f in COLUMNS[2:]},
               **{score: scores.get(score) for score in score_names}}


def export_annotations(path: str | Path, *, actor: User, engine: Engine | None = None,
                       file_format: str | None = None) -> int:
    """Write CSV (languages '|'-separated, formulas neutralised) or JSONL; returns the row count."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    path = Path(path)
    file_format = file_format or ("jsonl" if path.suffix.lower() in (".jsonl", ".json", ".ndjson") else "csv")
    with session_scope(engine) as session:
        score_fields = load_project(session).score_fields
        return write_rows(path, export_rows(session, actor=actor, score_fields=score_fields), file_format=file_format,
                          fieldnames=columns(score_fields), csv_cells=_csv_cells)


def write_rows(path: Path, rows: Iterable[dict], *, file_format: str, fieldnames: Sequence[str],
               csv_cells: Callable[[dict], dict]) -> int:
    """Rows to a CSV file (each through csv_cells) or JSONL, written beside it as .partial and
    renamed into place: readers never see half a file, and a failure leaves none. The row count."""
    temporary = path.with_name(path.name + ".partial")
    count = 0
    try:
        with open(temporary, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(fieldnames)) if file_format == "csv" else None
            if writer:
                writer.writeheader()
            for row in rows:
                if writer:
                    writer.writerow(csv_cells(row))
                else:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    temporary.replace(path)
    return count


def _csv_cells(row: dict) -> dict:
    return {k: "" if v is None else neutralise_formula("|".join(v) if k == "languages" else str(v))
            for k, v in row.items()}
