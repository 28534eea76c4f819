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
from sqlmodel import Session

from curation_app.core import audit, auth, queue
from curation_app.core.auth import require_role
from curation_app.core.errors import ImportRefused, InvalidInput
from curation_app.core.labels import FIELDS, LABEL_FIELDS, clean_fields, missing_labels
from curation_app.core.project import Project, load_project
from curation_app.core.readers import read_records
from curation_app.core.scores import ScoreField
from curation_app.database import session_scope
from curation_app.models import Annotation, AnnotationState, Query, Role, User, utcnow

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
    require_role(actor, Role.LEAD, Role.ADMIN)
    path = Path(path)
    summary = AnnotationImportSummary(file=str(path))
    problems: list[tuple[str, str]] = []
    parsed: list[tuple[str, str, str, dict]] = []
    seen: dict[tuple[str, str], str] = {}
    with session_scope(engine) as session:
        project = load_project(session)
        taxonomy, score_fields = project.taxonomy, project.score_fields
        expected = columns(score_fields)
        score_names = [f.name for f in score_fields]
        file_format, rows = _rows(path)
        # Only a CSV file had its formulas neutralised on export; JSON holds the text as it is.
        undo_quote = restore_formula if file_format == "csv" else (lambda value: value)
        for location, record, problem in rows:
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
                problems.append((location, f"unknown column(s) {', '.join(unknown)}; expected {', '.join(expected)}"))
                continue
            query_id, annotator = str(record["query_id"]).strip(), str(record["annotator"]).strip()
            pair = (query_id, annotator)
            if pair in seen:
                problems.append((location, f"{query_id} by {annotator} is also at {seen[pair]}"))
                continue
            seen[pair] = location
            try:
                auth.validate_name(annotator)
                given = {k: undo_quote(record.get(k)) for k in COLUMNS[2:]}
                given["scores"] = {name: record.get(name) for name in score_names}
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
        if summary.read == 0:
            raise ImportRefused(path.name, [("file", "no records: the file is empty")])
        query_ids = _lookup(session, Query.public_id, Query.id, {p[1] for p in parsed})
        for location, query_id, _, _ in parsed:
            if query_id not in query_ids:
                problems.append((location, f"unknown query id {query_id!r}"))
        users = {u.name: u for u in session.execute(select(User).where(
            User.name.in_({p[2] for p in parsed}))).scalars()}
        for location, _, annotator, _ in parsed:
            user = users.get(annotator)
            if user is not None and user.role != "annotator":
                problems.append((location, f"{annotator} is a {user.role}, not an annotator"))
        if problems:
            problems.sort(key=lambda p: _row_order(p[0]))
            raise ImportRefused(path.name, problems[:1000], len(problems))
        for name in sorted({p[2] for p in parsed} - set(users)):
            users[name] = auth.create_imported_annotator(session, actor=actor, name=name)
            summary.new_annotators.append(name)
        _store(session, actor, parsed, query_ids, users, summary, project)
        audit.record(session, actor=actor, action="import.annotations", entity="file", entity_id=path.name,
                     new={k: v for k, v in summary.as_dict().items() if k != "new_annotators"})
    return summary


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


def _store(session: Session, actor: User, parsed: list, query_ids: dict, users: dict,
           summary: AnnotationImportSummary, project: Project) -> None:
    now = utcnow()
    version = project.guideline_version
    for location, query_id, annotator, values in parsed:
        user, target = users[annotator], query_ids[query_id]
        existing = session.execute(select(Annotation).where(
            Annotation.query_id == target, Annotation.annotator_id == user.id)).scalar_one_or_none()
        if existing is not None:
            old = {name: getattr(existing, name) for name in FIELDS}
            if old == values and existing.state == AnnotationState.SUBMITTED:
                summary.unchanged += 1
                continue
            audit.record(session, actor=actor, action="annotation.import_overwrite", entity="annotation",
                         entity_id=f"{query_id}/{annotator}", old=old, new=values)
            annotation = existing
            summary.updated += 1
        else:
            annotation = Annotation(query_id=target, annotator_id=user.id, created_at=now,
                                    guideline_version=version)
            summary.created += 1
        was_submitted = annotation.state == AnnotationState.SUBMITTED
        for name, value in values.items():
            setattr(annotation, name, value)
        annotation.state = AnnotationState.SUBMITTED
        annotation.submitted_at = annotation.submitted_at or now
        annotation.updated_at = now
        annotation.revision = (annotation.revision or 0) + (1 if annotation.id else 0)
        session.add(annotation)
        session.flush()
        if not was_submitted:
            queue.mark_submitted(session, annotator=user, query_id=target, overlap=project.overlap)


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
