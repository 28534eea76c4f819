"""Import raw user queries in the common chat shapes, deduplicated, with provenance.

One import is one database transaction: a file with bad rows is refused whole (unless the
caller asks to skip them) and a process killed mid-import leaves the database as it was.
Rows are inserted in chunks with SQLAlchemy Core, which keeps 100,000 queries to seconds.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlalchemy import JSON, bindparam, insert, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from curation_app.core import audit, queue
from curation_app.core.auth import require_role
from curation_app.core.errors import ImportRefused, InvalidInput
from curation_app.core.chat_logs import ChatLogShape, detect_chat_log
from curation_app.core.limits import (EXCERPT_CHARS, MAX_ID_CHARS, MAX_NAME_CHARS, MAX_PUBLIC_ID_CHARS,
                                      MAX_QUERY_CHARS, MAX_SOURCE_CHARS, MAX_TEXT_CHARS, FieldRefused, check, excerpt)
from curation_app.core.readers import RawRecord, RowProblem, file_sha256, folder_files, read_records, type_name
from curation_app.database import session_scope
from curation_app.models import Baseline, ImportBatch, Query, Role, User, utcnow

FLAT_TEXT_FIELDS = ("prompt", "instruction", "question", "query", "text")
ID_FIELDS = ("id", "question_id", "query_id", "conversation_id", "uid", "uuid", "task_id")
MAX_LISTED_PROBLEMS = 1_000
CHUNK_ROWS = 2_000
RESPONSE_SUFFIX = "_response"  # CodeArena's `<model>_response`: that model's answer to the query
UNKNOWN_MODEL = "unknown"  # a `_response` field with no model name before the suffix
_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                   "chatgpt": "assistant", "bard": "assistant", "bing": "assistant", "model": "assistant",
                   "system": "system"}
_ROLES = {"user", "assistant", "system"}


@dataclass(frozen=True)
class Shape:
    """How to find the conversation in a record of one file."""

    name: str  # codearena | arena-hard | mt-bench | sharegpt | flat
    field: str

    def messages(self, record: dict) -> list[dict]:
        if self.field not in record:
            raise RowProblem(f"missing text: no {self.field!r} field")
        if record[self.field] is None:
            raise RowProblem(f"missing text: {self.field!r} is empty")
        value = record[self.field]
        if self.name == "flat":
            return [{"role": "user", "content": _text(value, repr(self.field))}]
        if isinstance(value, str):
            value = _parse_list_literal(value, self.field)
        if not isinstance(value, list):
            raise RowProblem(f"wrong type: {self.field!r} must be a list, got {type_name(value)}")
        if not value:
            raise RowProblem(f"empty text: {self.field!r} is an empty list")
        return [_turn(self.field, index, turn) for index, turn in enumerate(value, start=1)]


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise RowProblem(f"wrong type: {where} must be a string, got {type_name(value)}")
    return value


def _parse_list_literal(text: str, field_name: str) -> Any:
    """CodeArena stores `messages` as JSON or as a Python literal string (single quotes)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        raise RowProblem(
            f"wrong type: {field_name!r} is a string that is neither a JSON list nor a Python list literal"
        ) from None


def _turn(field_name: str, index: int, turn: Any) -> dict:
    where = f"{field_name}[{index}]"
    if isinstance(turn, str):  # MT-Bench: turns are the user's messages
        return {"role": "user", "content": turn}
    if not isinstance(turn, dict):
        raise RowProblem(f"wrong type: {where} must be an object or a string, got {type_name(turn)}")
    if "content" in turn or "value" in turn:
        content = turn.get("content", turn.get("value"))
        raw_role = turn.get("role", turn.get("from", "user"))
    else:
        raise RowProblem(f"missing text: {where} has no 'content' (or ShareGPT 'value')")
    if not isinstance(raw_role, str):
        raise RowProblem(f"wrong type: {where} role must be a string, got {type_name(raw_role)}")
    role = raw_role.lower() if raw_role.lower() in _ROLES else _SHAREGPT_ROLES.get(raw_role.lower())
    if role is None:
        raise RowProblem(f"{where} has an unknown role {excerpt(raw_role)}")
    return {"role": role, "content": _text(content, f"{where} content")}


def detect_shape(record: dict, text_field: str | None = None) -> Shape | ChatLogShape:
    if text_field:
        if text_field not in record:
            raise RowProblem(f"the text field {text_field!r} is not among the fields {_field_list(record)}")
        value = record[text_field]
        if isinstance(value, (list, tuple)) or (isinstance(value, str) and value.lstrip().startswith("[{")):
            return Shape("codearena", text_field)
        return Shape("flat", text_field)
    if "messages" in record:
        return Shape("codearena", "messages")
    chat_log = detect_chat_log(record)  # LMSYS-Chat-1M, WildChat: `conversation`
    if chat_log:
        return chat_log
    if "conversations" in record:
        return Shape("sharegpt", "conversations")
    if "turns" in record:
        turns = record["turns"]
        if isinstance(turns, list) and turns and all(isinstance(t, str) for t in turns):
            return Shape("mt-bench", "turns")
        return Shape("arena-hard", "turns")
    for name in FLAT_TEXT_FIELDS:
        if name in record:
            return Shape("flat", name)
    raise RowProblem(
        "cannot find the query text: no 'messages', 'conversation', 'turns', 'conversations' or "
        f"{'/'.join(FLAT_TEXT_FIELDS)} field among {_field_list(record)}; name it with --text-field"
    )


def _field_list(record: dict) -> str:
    """The record's field names for a message: each quoted and escaped, and only as many as make
    about one excerpt, so a CSV header (a line of the file) is never quoted whole."""
    if not record:
        return "(no fields)"
    shown: list[str] = []
    for name in record:
        if shown and sum(len(item) for item in shown) >= EXCERPT_CHARS:
            return ", ".join(shown) + f" and {len(record) - len(shown)} more"
        shown.append(excerpt(name, 20))
    return ", ".join(shown)


def normalised_text(messages: list[dict]) -> str:
    """Case and white space do not make a query different."""
    return "\n".join(f"{m['role']}: {' '.join(m['content'].lower().split())}" for m in messages)


def content_hash(messages: list[dict]) -> str:
    return hashlib.sha256(normalised_text(messages).encode("utf-8")).hexdigest()


def _json_safe(value: Any, where: str) -> Any:
    """Parquet and CSV give dates, decimals and bytes that JSON columns cannot hold. NaN is a gap
    in a column (no value); an infinite number has no JSON form and would be stored as null without
    a word, so it is refused, naming the column (`where`) and the place in it."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v, f"{where}[{excerpt(str(k))}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, f"{where}[{index}]") for index, v in enumerate(value, start=1)]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, float) and not math.isfinite(value):
        if value != value:  # NaN: no value
            return None
        raise RowProblem(f"{where} is an infinite number ({value}), which cannot be stored; write it as a "
                         "string or leave it empty")
    return value


@dataclass
class ParsedRow:
    location: str
    messages: list[dict]
    content_hash: str
    original_id: str | None
    baselines: list[tuple[str, str]]  # (model, answer), the first one the query's primary baseline
    extra: dict


def _turn_name(shape: Shape | ChatLogShape, index: int) -> str:
    return repr(shape.field) if shape.name == "flat" else f"{shape.field}[{index}] content"


def parse_record(record: dict, shape: Shape | ChatLogShape) -> ParsedRow:
    """The query, id, baselines and metadata of one record, each field checked against the limits
    (core/limits.py): a row that breaks one raises RowProblem or FieldRefused, naming the field."""
    messages = shape.messages(record)
    user_text = [m["content"] for m in messages if m["role"] == "user"]
    if not any(text.strip() for text in user_text):
        raise RowProblem(f"empty text: {shape.field!r} has no non-blank user message")
    for index, message in enumerate(messages, start=1):
        check(message["content"], field=_turn_name(shape, index), limit=MAX_QUERY_CHARS)
    n_chars = sum(len(m["content"]) for m in messages)
    if n_chars > MAX_QUERY_CHARS:
        raise RowProblem(f"the conversation is too long: {n_chars:,} characters in all, more than the "
                         f"{MAX_QUERY_CHARS:,} allowed")
    if isinstance(shape, ChatLogShape):
        return _parse_chat_log(record, shape, messages)
    used = {shape.field}
    original_id = None
    for name in ID_FIELDS:
        value = record.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # pandas writes integer ids of a column with gaps as floats
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise RowProblem(f"wrong type: {name!r} must be a string or a whole number, got {type_name(value)}")
        original_id = check(str(value).strip(), field=repr(name), limit=MAX_ID_CHARS)
        used.add(name)
        break
    baselines = []
    seen_models: dict[str, str] = {}
    for name in sorted(record):
        value = record[name]
        if not name.endswith(RESPONSE_SUFFIX) or not (value is None or isinstance(value, (str, float))):
            continue  # a `_response` list or object is not an answer: kept as metadata
        if value is None or isinstance(value, float):
            if value is None or value != value:  # no answer from that model (a gap in a CSV or Parquet column)
                used.add(name)
            continue
        used.add(name)
        if not value.strip():
            continue
        model = name[: -len(RESPONSE_SUFFIX)].strip() or UNKNOWN_MODEL
        check(model, field=f"the model name of {excerpt(name)}", limit=MAX_NAME_CHARS)
        check(value, field=excerpt(name), limit=MAX_TEXT_CHARS)
        if model in seen_models:  # `gpt_response` and `gpt _response`: one model, two answers
            raise RowProblem(f"{excerpt(seen_models[model])} and {excerpt(name)} are both answers of the model "
                             f"{excerpt(model)}; keep one")
        seen_models[model] = name
        baselines.append((model, value))
    extra = {k: _json_safe(v, excerpt(k)) for k, v in record.items() if k not in used}
    check(extra, field="metadata")
    return ParsedRow("", messages, content_hash(messages), original_id, baselines, extra)


def _parse_chat_log(record: dict, shape: ChatLogShape, messages: list[dict]) -> ParsedRow:
    """A chat-log row: its dump's id, its model's first answer as a baseline, the rest as metadata."""
    log = shape.fields(record)
    original_id = check(log.original_id, field=repr(log.id_field), limit=MAX_ID_CHARS)
    baselines = []
    if log.first_answer and log.first_answer.strip():
        model = check(log.model or UNKNOWN_MODEL, field="'model'", limit=MAX_NAME_CHARS)
        baselines.append((model, check(log.first_answer, field="the first answer", limit=MAX_TEXT_CHARS)))
    extra = {name: _json_safe(value, excerpt(name)) for name, value in log.metadata.items()}
    check(extra, field="metadata")
    return ParsedRow("", messages, content_hash(messages), original_id, baselines, extra)


@dataclass
class ImportSummary:
    file: str
    source: str
    format: str
    shape: str | None
    read: int = 0
    imported: int = 0
    duplicates: int = 0
    errors: int = 0
    skipped: list[dict] = field(default_factory=list)
    renamed: list[dict] = field(default_factory=list)  # the first MAX_LISTED_PROBLEMS of n_renamed
    n_renamed: int = 0
    baselines: dict[str, int] = field(default_factory=dict)  # model -> baseline answers imported with the queries
    batch_id: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _hash_id(digest: str) -> str:
    return f"q-{digest[:16]}"


class _PublicIds:
    """Gives each new query an id nobody else has; a colliding source id takes a prefix."""

    def __init__(self, session: Session, source: str):
        self.session = session
        self.source = source
        self.taken_here: set[str] = set()

    def assign(self, rows: list[ParsedRow]) -> list[tuple[str, dict | None]]:
        wanted = [row.original_id or _hash_id(row.content_hash) for row in rows]
        renamings = [(f"{self.source}:{want}", f"{self.source}:{want}:{row.content_hash[:8]}")
                     for row, want in zip(rows, wanted)]
        existing = self._existing(set(wanted))
        taken_ids = [want for want in wanted if want in existing]
        if taken_ids or len(set(wanted)) < len(wanted):  # renaming: look up the names it may give
            existing |= self._existing({name for pair in renamings for name in pair})
        # Ids of earlier chunks are in the database by now: only this chunk's need remembering.
        self.taken_here = set()
        results = []

        def taken(name: str) -> bool:
            return name in existing or name in self.taken_here

        for row, want, (prefixed, hashed) in zip(rows, wanted, renamings):
            public_id, note = want, None
            if taken(want):
                public_id = prefixed if not taken(prefixed) else hashed
                # Another row may have taken even that (a file can hold ids shaped like renamed ones).
                number = 2
                while taken(public_id) or (number > 2 and self._existing({public_id})):
                    public_id = f"{hashed}-{number}"
                    number += 1
                note = {"location": row.location, "id": want, "now": public_id}
            self.taken_here.add(public_id)
            results.append((public_id, note))
        return results

    def _existing(self, ids: set[str]) -> set[str]:
        found: set[str] = set()
        id_list = list(ids)
        for start in range(0, len(id_list), 500):
            chunk = id_list[start:start + 500]
            found.update(self.session.execute(select(Query.public_id).where(Query.public_id.in_(chunk))).scalars())
        return found


def _existing_hashes(session: Session, hashes: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(hashes), 500):
        chunk = hashes[start:start + 500]
        found.update(session.execute(select(Query.content_hash).where(Query.content_hash.in_(chunk))).scalars())
    return found


def import_file(
    path: str | Path,
    *,
    actor: User,
    source: str | None = None,
    text_field: str | None = None,
    file_format: str | None = None,
    skip_bad_rows: bool = False,
    engine: Engine | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import every record of a file in one transaction; refuse the file whole if any row is bad."""
    require_role(actor, Role.ADMIN)
    path = Path(path)
    source = _source_name(source, path)
    records = read_records(path, file_format, on_progress)
    with session_scope(engine) as session:
        return _import_records(session, path, records, actor=actor, source=source, text_field=text_field,
                               skip_bad_rows=skip_bad_rows)


def _source_name(source: str | None, path: Path) -> str:
    source = (source or path.name.split(".")[0]).strip()
    if not source or len(source) > MAX_SOURCE_CHARS:
        raise InvalidInput(f"the source name must have 1-{MAX_SOURCE_CHARS} characters")
    return check(source, field="the source name", limit=MAX_SOURCE_CHARS)


@dataclass
class FolderSummary:
    folder: str
    files: list[ImportSummary]
    skipped_links: list[str]  # symlinks that lead outside the folder, relative to it

    def as_dict(self) -> dict:
        return {"folder": self.folder, **{key: sum(getattr(f, key) for f in self.files)
                                          for key in ("read", "imported", "duplicates", "errors")},
                "files": [f.as_dict() for f in self.files], "skipped_links": self.skipped_links}


def import_folder(
    folder: str | Path,
    *,
    actor: User,
    source: str | None = None,
    text_field: str | None = None,
    skip_bad_rows: bool = False,
    engine: Engine | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> FolderSummary:
    """Import every JSONL, JSON, CSV and Parquet file in a folder and below (a batch each, in name
    order, source the folder's name unless given) in one transaction: one bad file refuses them all.
    Symlinks that lead outside the folder are not followed; the summary names them."""
    require_role(actor, Role.ADMIN)
    folder = Path(folder)
    source = _source_name(source, folder)
    files, skipped_links = folder_files(folder)
    if not files:
        raise InvalidInput(f"{folder}: is a folder with no JSONL, JSON, CSV or Parquet file in it"
                           + (f" ({len(skipped_links)} symlink(s) leading outside it not followed)" if skipped_links
                              else ""))
    with session_scope(engine) as session:
        summaries = [_import_records(session, path, read_records(path, None, on_progress), actor=actor,
                                     source=source, text_field=text_field, skip_bad_rows=skip_bad_rows)
                     for path in files]
    return FolderSummary(folder=str(folder), files=summaries, skipped_links=skipped_links)


def _import_records(session: Session, path: Path, records: tuple[str, Iterator[RawRecord]], *, actor: User,
                    source: str, text_field: str | None, skip_bad_rows: bool) -> ImportSummary:
    """One file's records into the caller's transaction, as a batch; ImportRefused if any row is bad
    (unless skip_bad_rows), after listing every problem."""
    file_format, raw_records = records
    summary = ImportSummary(file=str(path), source=source, format=file_format, shape=None)
    problems: list[tuple[str, str]] = []
    batch = ImportBatch(source=source, file_name=path.name, file_sha256=file_sha256(path),
                        file_format=file_format, shape="unknown",
                        created_by_id=actor.id)
    session.add(batch)
    session.flush()
    ids = _PublicIds(session, source)
    shape: Shape | None = None
    _plan_lookups_with_their_values(session)

    def note_problem(location: str, problem: str) -> None:
        summary.errors += 1
        if len(problems) < MAX_LISTED_PROBLEMS:
            problems.append((location, problem))

    rest_unread = False

    def parsed_rows() -> Iterator[ParsedRow]:
        nonlocal shape, rest_unread
        for raw in raw_records:
            summary.read += 1
            if raw.problem is not None or raw.record is None:
                note_problem(raw.location, raw.problem or "unreadable")
                rest_unread = rest_unread or raw.rest_unread
                continue
            try:
                if shape is None:
                    shape = detect_shape(raw.record, text_field)
                row = parse_record(raw.record, shape)
            except (RowProblem, FieldRefused) as problem:
                note_problem(raw.location, str(problem))
                continue
            row.location = raw.location
            yield row

    chunk: list[ParsedRow] = []
    for row in parsed_rows():
        chunk.append(row)
        if len(chunk) >= CHUNK_ROWS:
            _insert_chunk(session, chunk, batch, ids, summary, write=skip_bad_rows or not problems)
            chunk = []
    _insert_chunk(session, chunk, batch, ids, summary, write=skip_bad_rows or not problems)

    if summary.read == 0:
        raise ImportRefused(path.name, [("file", "no records: the file is empty")], n_read=0)
    if problems and (rest_unread or not skip_bad_rows):  # skipping a row never means dropping the file's rest
        raise ImportRefused(path.name, problems, summary.errors, n_read=summary.read)
    summary.skipped = [{"location": where, "problem": what} for where, what in problems]
    summary.shape = shape.name if shape else None
    if summary.imported == 0:
        session.delete(batch)  # a re-import of known queries adds nothing, not even a batch
    else:
        summary.batch_id = batch.id
        batch.shape = summary.shape or "unknown"
        batch.n_read, batch.n_imported = summary.read, summary.imported
        batch.n_duplicates, batch.n_skipped = summary.duplicates, summary.errors
        session.add(batch)
    audit.record(session, actor=actor, action="import.queries", entity="import_batch",
                 entity_id=summary.batch_id,
                 new={k: v for k, v in summary.as_dict().items() if k not in ("skipped", "renamed")})
    return summary


def _plan_lookups_with_their_values(session: Session) -> None:
    """PostgreSQL: plan each id and hash lookup of this import with its values. psycopg prepares a
    statement run five times, and the generic plan PostgreSQL then keeps for 500 ids, made while the
    import's table was still small, scans the whole table: quadratic in the file's size."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def _insert_chunk(session: Session, chunk: list[ParsedRow], batch: ImportBatch, ids: _PublicIds,
                  summary: ImportSummary, *, write: bool) -> None:
    """Dedup a chunk against itself and the database, then write its new rows. Rows of earlier
    chunks are already written (in this transaction), so the database's unique index on
    content_hash finds a duplicate of any earlier row: no set of every hash is kept."""
    if not chunk:
        return
    fresh: list[ParsedRow] = []
    seen_here: set[str] = set()
    for row in chunk:
        if row.content_hash in seen_here:
            summary.duplicates += 1
        else:
            seen_here.add(row.content_hash)
            fresh.append(row)
    if not write:
        return  # a refused file: keep reading to list every problem, but look up and write nothing
    existing = _existing_hashes(session, [row.content_hash for row in fresh])
    new_rows = [row for row in fresh if row.content_hash not in existing]
    summary.duplicates += len(fresh) - len(new_rows)
    summary.imported += len(new_rows)
    if not new_rows:
        return
    now = utcnow()
    bookkeeping = queue.initial_bookkeeping()
    values = []
    answered: dict[str, ParsedRow] = {}
    for row, (public_id, renamed) in zip(new_rows, ids.assign(new_rows)):
        if renamed:
            summary.n_renamed += 1
            if len(summary.renamed) < MAX_LISTED_PROBLEMS:  # a million renamed rows are not listed whole
                summary.renamed.append(renamed)
        if row.baselines:
            answered[public_id] = row
        first_model, first_answer = row.baselines[0] if row.baselines else (None, None)
        values.append({
            "public_id": public_id, "content_hash": row.content_hash, "messages": row.messages,
            "n_turns": len(row.messages), "n_chars": sum(len(m["content"]) for m in row.messages),
            "source": summary.source, "source_file": batch.file_name, "source_location": row.location,
            "original_id": row.original_id, "batch_id": batch.id, "extra": row.extra or None,
            "baseline_answer": first_answer, "baseline_model": first_model,
            "triage_flags": None, **bookkeeping, "created_at": now,
        })
    # Core executemany, not the ORM's bulk path: a third of the time for 100,000 rows.
    _insert_or_explain(session, Query.__table__, values, new_rows, summary.source)
    if not answered:
        return
    baselines = []
    public_ids = list(answered)
    for start in range(0, len(public_ids), 500):
        for public_id, query_id in session.execute(select(Query.public_id, Query.id).where(
                Query.public_id.in_(public_ids[start:start + 500]))):
            row = answered[public_id]
            for model, answer in row.baselines:
                baselines.append({"query_id": query_id, "model": model, "answer": answer,
                                  "source_file": batch.file_name, "source_location": row.location,
                                  "imported_at": now})
                summary.baselines[model] = summary.baselines.get(model, 0) + 1
    _insert_or_explain(session, Baseline.__table__, baselines, new_rows, summary.source)


def _insert_or_explain(session: Session, table: Any, values: list[dict], rows: list[ParsedRow], source: str) -> None:
    """Ids and content were checked against the database and the file itself; an insert can still
    meet a unique id or text that another import wrote at the same moment (PostgreSQL lets two run).
    Then the refusal names the rows, in one line."""
    try:
        _bulk_insert(session, table, values)
    except IntegrityError:
        span = rows[0].location if len(rows) == 1 else f"{rows[0].location} to {rows[-1].location}"
        raise InvalidInput(f"{span}: an id or a query text of these rows was written by another import of "
                           f"source {excerpt(source)} at the same time; nothing was imported, run it again") from None


def _bulk_insert(session: Session, table: Any, values: list[dict]) -> None:
    """Rows into `table` in the session's transaction: on PostgreSQL with COPY (a sixth of the time
    of executemany for 2,000 queries), elsewhere with Core executemany. A unique violation comes
    as IntegrityError on both."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), values)
        return
    import psycopg
    from psycopg import sql

    columns = list(values[0])
    # JSON as the engine's serializer writes it (None as JSON null, as Core executemany stores it).
    as_json = {name for name in columns if isinstance(table.c[name].type, JSON)}
    dumps = connection.dialect._json_serializer or json.dumps
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns)))
    try:
        with connection.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for value in values:
                copy.write_row([dumps(value[name]) if name in as_json else value[name] for name in columns])
    except psycopg.errors.IntegrityError as error:
        raise IntegrityError(str(statement), None, error) from error


# Answers files: a baseline answer per query id, from a separate file.

ANSWER_TEXT_FIELDS = ("answer", "response", "output", "completion", "reference_answer")


def _answer_of(record: dict) -> tuple[str | None, str | None, str | None]:
    """(query id, answer text, model) of one answers-file record, each checked against the limits."""
    id_field = next((n for n in ID_FIELDS if record.get(n) not in (None, "")), None)
    query_id = None if id_field is None else check(str(record[id_field]), field=repr(id_field),
                                                   limit=MAX_PUBLIC_ID_CHARS)
    model = record.get("model_id") or record.get("model")
    if model is not None:
        check(str(model), field="the model name", limit=MAX_NAME_CHARS)
    if "choices" in record:
        choices = record["choices"]
        try:
            turns = choices[0]["turns"]
            text = "\n\n".join(t["content"] if isinstance(t, dict) else t for t in turns)
        except (KeyError, IndexError, TypeError):
            raise RowProblem("wrong type: 'choices' must be [{'turns': [{'content': ...}]}]") from None
        where = "choices[1].turns content"
        return query_id, check(_text(text, where), field=where, limit=MAX_TEXT_CHARS), model
    for name in ANSWER_TEXT_FIELDS:
        if record.get(name) is not None:
            return query_id, check(_text(record[name], repr(name)), field=repr(name), limit=MAX_TEXT_CHARS), model
    raise RowProblem(f"missing text: no 'choices' or {'/'.join(ANSWER_TEXT_FIELDS)} field among {_field_list(record)}")


def looks_like_answers(path: Path) -> bool:
    """An Arena-Hard answers file: records with `choices` and no query text."""
    try:
        _, records = read_records(path)
        first = next((raw.record for raw in records if raw.record is not None), None)
    except InvalidInput:
        return False
    return bool(first) and "choices" in first and not any(
        k in first for k in ("messages", "turns", "conversations", *FLAT_TEXT_FIELDS))


def model_from_file_name(path: Path) -> str:
    """The model of an answers file whose records do not name one: Arena-Hard names its files
    `<model>_answers.jsonl`, so `gpt-4-0314_answers.jsonl` holds gpt-4-0314's answers."""
    stem = path.name.split(".")[0]
    for suffix in ("_answers", "-answers", "_answer", "-answer"):
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return stem or UNKNOWN_MODEL


@dataclass
class AnswersSummary:
    file: str
    read: int = 0
    attached: int = 0  # added + replaced + unchanged
    added: int = 0  # a model's first answer to a query: one more baseline
    replaced: int = 0  # a new answer from a model the query already had one from
    unchanged: int = 0  # the same answer from the same model again
    replaced_ids: list[str] = field(default_factory=list)
    models: dict[str, int] = field(default_factory=dict)  # model -> answers attached
    unmatched: list[str] = field(default_factory=list)
    errors: int = 0

    def as_dict(self) -> dict:
        return {"file": self.file, "read": self.read, "attached": self.attached, "added": self.added,
                "replaced": self.replaced, "unchanged": self.unchanged, "replaced_ids": self.replaced_ids[:100],
                "models": dict(self.models), "unmatched": len(self.unmatched), "unmatched_ids": self.unmatched[:100],
                "errors": self.errors, "imported": 0, "duplicates": 0}


def import_answers(path: str | Path, *, actor: User, source: str | None = None, model: str | None = None,
                   engine: Engine | None = None) -> AnswersSummary:
    """Add baseline answers, keyed by query id, to queries already imported: each a baseline of its
    model (the record's `model_id` or `model`, else `model`, else the file name's). A model the
    query already has a baseline from has that answer replaced; other baselines stay."""
    require_role(actor, Role.ADMIN)
    path = Path(path)
    default_model = (model or "").strip() or model_from_file_name(path)
    _, raw_records = read_records(path)
    summary = AnswersSummary(file=str(path))
    problems: list[tuple[str, str]] = []
    answers: list[tuple[str, str, str, str]] = []
    first_seen: dict[tuple[str, str], str] = {}
    for raw in raw_records:
        summary.read += 1
        try:
            if raw.problem or raw.record is None:
                raise RowProblem(raw.problem or "unreadable")
            query_id, text, record_model = _answer_of(raw.record)
            if not query_id:
                raise RowProblem(f"missing id: none of {'/'.join(ID_FIELDS)}")
            if not text.strip():
                raise RowProblem("empty text: the answer is blank")
            answer_model = default_model if record_model is None else str(record_model).strip()
            if not answer_model:
                raise RowProblem("the model name is empty")
            check(answer_model, field="the model name", limit=MAX_NAME_CHARS)
            earlier = first_seen.setdefault((query_id, answer_model), raw.location)
            if earlier != raw.location:
                raise RowProblem(f"a second answer from {excerpt(answer_model)} to {excerpt(query_id)} "
                                 f"(the first is at {earlier})")
            answers.append((raw.location, query_id, text, answer_model))
        except (RowProblem, FieldRefused) as problem:
            summary.errors += 1
            problems.append((raw.location, str(problem)))
    if summary.read == 0:
        raise ImportRefused(path.name, [("file", "no records: the file is empty")])
    if problems:
        raise ImportRefused(path.name, problems[:MAX_LISTED_PROBLEMS], len(problems))
    with session_scope(engine) as session:
        now = utcnow()
        for start in range(0, len(answers), 500):
            chunk = answers[start:start + 500]
            wanted = [a[1] for a in chunk]
            # With --source, an id is that source's own id; without, a public id, else an original
            # id that only one query has (two sources may share one).
            scope = (Query.source == source) if source else True
            by_public = {} if source else dict(session.execute(
                select(Query.public_id, Query.id).where(Query.public_id.in_(wanted))).all())
            by_original: dict[str, list[int]] = {}
            for original_id, target in session.execute(select(Query.original_id, Query.id).where(
                    Query.original_id.in_(wanted), scope)):
                by_original.setdefault(original_id, []).append(target)
            matched: dict[tuple[int, str], tuple[str, str, str]] = {}  # (query, model) -> (location, text, id)
            for location, query_id, text, answer_model in chunk:
                candidates = by_original.get(query_id, [])
                target = by_public.get(query_id) or (candidates[0] if len(candidates) == 1 else None)
                if target is None:
                    summary.unmatched.append(query_id if len(candidates) < 2 else f"{query_id} (ambiguous: "
                                             f"{len(candidates)} sources; pass --source)")
                    continue
                matched[(target, answer_model)] = (location, text, query_id)
            _store_baselines(session, matched, path.name, now, summary)
        audit.record(session, actor=actor, action="import.answers", entity="file", entity_id=path.name,
                     new={"read": summary.read, "attached": summary.attached, "added": summary.added,
                          "replaced": summary.replaced, "unchanged": summary.unchanged,
                          "models": dict(summary.models), "unmatched": len(summary.unmatched)})
    return summary


def _store_baselines(session: Session, matched: dict[tuple[int, str], tuple[str, str, str]], file_name: str,
                     now: datetime, summary: AnswersSummary) -> None:
    """Insert each (query, model)'s answer, or replace that model's earlier one; keep each query's
    first baseline copied into query.baseline_answer/baseline_model."""
    if not matched:
        return
    targets = sorted({target for target, _ in matched})
    existing = {(query_id, model): (baseline_id, answer) for baseline_id, query_id, model, answer in session.execute(
        select(Baseline.id, Baseline.query_id, Baseline.model, Baseline.answer).where(Baseline.query_id.in_(targets)))}
    primary = dict(session.execute(select(Query.id, Query.baseline_model).where(Query.id.in_(targets))).all())
    inserts, replacements, firsts = [], [], {}
    for (target, model), (location, text, query_id) in matched.items():
        summary.attached += 1
        summary.models[model] = summary.models.get(model, 0) + 1
        row = {"query_id": target, "model": model, "answer": text, "source_file": file_name,
               "source_location": location, "imported_at": now}
        earlier = existing.get((target, model))
        if earlier is None:
            summary.added += 1
            inserts.append(row)
        elif earlier[1] == text:
            summary.unchanged += 1
            continue
        else:
            summary.replaced += 1
            summary.replaced_ids.append(query_id)
            replacements.append({**row, "target": earlier[0]})
        if primary.get(target) is None or primary[target] == model:  # the query's first baseline
            primary[target] = model
            firsts[target] = {"target": target, "answer": text, "model": model}
    connection = session.connection()
    if inserts:
        connection.execute(insert(Baseline.__table__), inserts)
    if replacements:
        table = Baseline.__table__
        connection.execute(update(table).where(table.c.id == bindparam("target")).values(
            answer=bindparam("answer"), source_file=bindparam("source_file"),
            source_location=bindparam("source_location"), imported_at=bindparam("imported_at")),
            [{k: r[k] for k in ("target", "answer", "source_file", "source_location", "imported_at")}
             for r in replacements])
    if firsts:
        table = Query.__table__
        connection.execute(update(table).where(table.c.id == bindparam("target")).values(
            baseline_answer=bindparam("answer"), baseline_model=bindparam("model")), list(firsts.values()))
