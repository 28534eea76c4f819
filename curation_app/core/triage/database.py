"""Triage on the project's queries: run the checks, store what they found as flags on each
query, and let a lead confirm duplicates, clear flags or redact secrets.

Flags live in Query.triage_flags:
    possible_duplicate_of  the first query of its near-duplicate cluster (shown to annotators)
    duplicate_cluster      the cluster's ids
    contamination          [{benchmark, item, evidence}]
    secrets                [{kind, span}]
    duplicate_of           set by a lead who confirmed the duplicate (the query is retired from the queue)
    blocked                True while a contamination, secret or confirmed duplicate holds the
                           query out of releases; a lead clears it (cleared_by, cleared_reason)

The coding score lives in Query.coding_score (see `coding_queries`). Each run scores the queries
that have none, and every query again when the scorer changed since the last run (the model was
retrained on new final labels, or the rules changed): the audit log's last `triage.coding_score`
record names the scorer that wrote the stored scores.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from array import array
from collections import defaultdict, deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import orjson
from sqlalchemy import Text, and_, bindparam, cast, func, select, true, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from curation_app.core import audit, queue, triage
from curation_app.core.auth import require_role
from curation_app.core.errors import InvalidInput, NotFound
from curation_app.core.project import load_project
from curation_app.core.triage import coding_queries, context
from curation_app.core.triage.near_duplicates import hash_texts
from curation_app.database import read_scope, session_scope
from curation_app.models import AuditLog, Query, Role, User

REDACTION = "[REDACTED]"
CODING_PAGE = 50_000  # queries read and scored per round when the coding score runs on its own
UPDATE_IDS = 900  # ids per ... WHERE id IN (...), under every backend's parameter limit


def _user_text(messages: list[dict]) -> str:
    return "\n".join(m["content"] for m in messages if m["role"] == "user")


@dataclass
class Findings:
    """What triage found over every query, before anything is stored."""

    queries: int
    clusters: list[list[str]]
    contaminated: list[dict]
    secrets: dict[str, list[dict]]
    benchmarks: list[str]
    ngram: int
    threshold: float
    coding: CodingFindings | None = None


@dataclass
class CodingFindings:
    """Coding scores to write: query id -> score, and what computed them."""

    scores: dict[int, float]
    scorer: dict  # CodingScorer.describe()
    fingerprint: str
    rescored_all: bool


def find_problems(
    session: Session,
    *,
    actor: User,
    benchmark_files: list[str | Path] = (),
    ngram: int | None = None,
    threshold: float | None = None,
    rescore_coding: bool = False,
    progress: Callable[[str, int], Callable[[int], None] | None] | None = None,
    workers: int | None = None,
) -> Findings:
    """Near-duplicates, contamination and secrets over every query, and the coding score of the
    queries that need one (every query with `rescore_coding`). Only reads: the long part of triage
    can run in a read-only session, beside annotators' saves.

    progress(stage, total) may return a callback that is given the number of items done so far.
    workers: processes for the per-text checks (None: one per core from PARALLEL_FROM queries on,
    else this process alone; always this process alone while other threads run); the findings
    are the same whatever the number.
    """
    require_role(actor, Role.LEAD, Role.ADMIN)
    project = load_project(session)
    ngram = ngram or project.ngram
    threshold = threshold or project.duplicate_threshold
    names = [Path(path).name for path in benchmark_files]
    if len(set(names)) != len(names):
        raise InvalidInput("two benchmark files have the same name; evidence is kept per file name, so rename one")
    benchmarks = {}
    for path in benchmark_files:
        try:
            benchmarks[Path(path).name] = triage.read_benchmark_file(path)
        except (OSError, ValueError) as error:
            raise InvalidInput(f"benchmark file {path}: {error}") from None
    total = session.execute(select(func.count(Query.id))).scalar_one()
    if workers is None:
        workers = min(os.cpu_count() or 1, MAX_WORKERS) if total >= PARALLEL_FROM else 1
    if threading.active_count() > 1:
        workers = 1  # workers are forked, and forking a process that runs other threads is unsafe
    with _worker_pool(workers) as pool:  # forked now: progress bars may start threads of their own
        findings = _find(session, total, benchmarks, ngram, threshold, progress, pool)
    # The coding score reads only each query's first turn, a page at a time, in a pass of its own.
    findings.coding = find_coding_scores(session, actor=actor, rescore=rescore_coding, progress=progress)
    return findings


def _find(session: Session, total: int, benchmarks: dict, ngram: int, threshold: float,
          progress: Callable[[str, int], Callable[[int], None] | None] | None,
          pool: ProcessPoolExecutor | None) -> Findings:
    """find_problems once its options are checked and its workers (if any) are running."""
    def tracker(stage: str) -> Callable[[int], None] | None:
        return progress(stage, total) if progress else None

    duplicates_progress, secrets_progress = tracker("near-duplicates"), tracker("secrets")
    contamination_progress = tracker("contamination") if benchmarks else None
    index = None
    if benchmarks:
        index = triage.NgramIndex(ngram)
        for benchmark, items in benchmarks.items():
            for item_id, text in items:
                index.add(benchmark, item_id, text)
    finder = triage.NearDuplicateFinder(threshold=threshold)
    query_ids = array("q")  # position -> Query.id: the one thing kept per query
    contaminated: list[dict] = []
    found_secrets: dict[str, list[dict]] = {}
    # One pass over the queries in id order, READ_CHUNK at a time: each check looks at a query's
    # text once, and nothing keeps every text.
    for chunk, (hashed, secrets) in _checked_chunks(_query_chunks(session), finder.permutations(), pool):
        finder.add_hashed(hashed)
        for (query_id, public_id, text), hits in zip(chunk, secrets):
            query_ids.append(query_id)
            if index is not None:
                contaminated.extend({"id": public_id, **match} for match in index.matches(text))
            if hits:
                found_secrets[public_id] = hits
        for report in (contamination_progress, secrets_progress):
            if report:
                report(len(query_ids))
        if duplicates_progress and len(query_ids) < total:  # its last report comes once clusters are known
            duplicates_progress(len(query_ids))
    positions = finder.clusters(lambda wanted: _texts_of(session, [query_ids[p] for p in wanted]))
    if duplicates_progress:
        duplicates_progress(total)
    public_of = _public_ids(session, [query_ids[p] for cluster in positions for p in cluster])
    clusters = [[public_of[query_ids[p]] for p in cluster] for cluster in positions]
    return Findings(len(query_ids), clusters, contaminated, found_secrets, sorted(benchmarks), ngram, threshold)


# Queries read in one piece by triage: a few MB of conversations, and a progress report for each.
READ_CHUNK = triage.PROGRESS_EVERY
# From this many queries on, signatures and secrets are computed in worker processes (one per
# core, at most MAX_WORKERS) while this one reads the database, when this process runs no other
# thread (the CLI; the app's server runs triage in this process alone); below it, starting them
# costs more than it saves.
PARALLEL_FROM = 20_000
MAX_WORKERS = 4
# Chunks sent to the workers ahead of the one being stored: every worker busy, memory flat.
_CHUNKS_AHEAD = 2 * MAX_WORKERS


def _check_texts(texts: list[str], permutations: tuple) -> tuple[tuple, list[list[dict]]]:
    """The per-text work of triage, in a worker process or this one: what near-duplicate
    detection keeps of each text, and each text's secrets."""
    secrets = [[{"kind": h["kind"], "span": h["span"]} for h in triage.find_secrets(text)] for text in texts]
    return hash_texts(texts, permutations), secrets


@contextmanager
def _worker_pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """`workers` forked worker processes, all started before this returns; None for one."""
    if workers <= 1:
        yield None
        return
    # Forked (the caller runs no other thread): a spawned worker would import the caller's main
    # module again, which runs a script without a __main__ guard a second time.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        pool.submit(int).result()  # the first task forks every worker
        yield pool


def _checked_chunks(chunks: Iterator[list[tuple[int, str, str]]], permutations: tuple,
                    pool: ProcessPoolExecutor | None) -> Iterator[tuple[list[tuple[int, str, str]], tuple]]:
    """Each chunk with `_check_texts` of its texts, in order; with a pool computed in its worker
    processes, a few chunks ahead of the caller and never more (memory stays flat)."""
    if pool is None:
        for chunk in chunks:
            yield chunk, _check_texts([text for _, _, text in chunk], permutations)
        return
    pending: deque = deque()
    for chunk in chunks:
        pending.append((chunk, pool.submit(_check_texts, [text for _, _, text in chunk], permutations)))
        if len(pending) > _CHUNKS_AHEAD:
            done, future = pending.popleft()
            yield done, future.result()
    while pending:
        done, future = pending.popleft()
        yield done, future.result()


# Ids per `IN (...)` when triage reads queries back by id.
_IDS_PER_QUERY = 1000
# Flag updates sent in one executemany.
_UPDATE_BATCH = 5000


def _user_text_of(messages_json: str) -> str:
    return _user_text(orjson.loads(messages_json))


def _query_chunks(session: Session) -> Iterator[list[tuple[int, str, str]]]:
    """(id, public id, users' text) of every query in id order, READ_CHUNK at a time (keyset
    pages: no cursor stays open between chunks, on SQLite or PostgreSQL)."""
    after = 0
    while True:
        rows = session.connection().execute(
            select(Query.id, Query.public_id, cast(Query.messages, Text)).where(Query.id > after)
            .order_by(Query.id).limit(READ_CHUNK)).all()
        if not rows:
            return
        yield [(query_id, public_id, _user_text_of(messages)) for query_id, public_id, messages in rows]
        after = rows[-1][0]


def _texts_of(session: Session, query_ids: list[int]) -> list[str]:
    """The users' text of these queries, in this order."""
    found: dict[int, str] = {}
    for start in range(0, len(query_ids), _IDS_PER_QUERY):
        wanted = sorted(set(query_ids[start:start + _IDS_PER_QUERY]))
        found.update((query_id, _user_text_of(messages)) for query_id, messages in session.connection().execute(
            select(Query.id, cast(Query.messages, Text)).where(Query.id.in_(wanted))))
    return [found[query_id] for query_id in query_ids]


def _public_ids(session: Session, query_ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for start in range(0, len(query_ids), _IDS_PER_QUERY):
        rows = session.connection().execute(select(Query.id, Query.public_id).where(
            Query.id.in_(query_ids[start:start + _IDS_PER_QUERY])))
        found.update((query_id, public_id) for query_id, public_id in rows)
    return found


def store_findings(session: Session, *, actor: User, findings: Findings) -> dict:
    """Write what triage found onto the queries (a lead's decisions stay); returns the report."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    cluster_of = {member: cluster for cluster in findings.clusters for member in cluster}
    contamination_of: dict[str, list[dict]] = {}
    for hit in findings.contaminated:
        contamination_of.setdefault(hit["id"], []).append(
            {"benchmark": hit["benchmark"], "item": hit["item"], "evidence": hit["evidence"]})
    found = set(cluster_of) | set(contamination_of) | set(findings.secrets)
    statement = (Query.__table__.update().where(Query.__table__.c.id == bindparam("query_id"))
                 .values(triage_flags=bindparam("flags")))
    updates = []
    # Flags as text, decoded only where there are any: most of a million queries have none.
    rows = session.connection().execute(select(Query.id, Query.public_id, cast(Query.triage_flags, Text))
                                        .order_by(Query.id).execution_options(yield_per=10_000))
    for query_id, public_id, flags_text in rows:
        old_flags = orjson.loads(flags_text) if flags_text and flags_text != "null" else None
        if not old_flags and public_id not in found:
            continue  # nothing before, nothing now
        flags = {k: v for k, v in (old_flags or {}).items()
                 if k in ("duplicate_of", "cleared_by", "cleared_reason", "redacted")}
        # Evidence from benchmarks not checked in this run stands until they are checked again.
        kept_hits = [hit for hit in (old_flags or {}).get("contamination", [])
                     if hit["benchmark"] not in findings.benchmarks]
        hits = kept_hits + contamination_of.get(public_id, [])
        cluster = cluster_of.get(public_id)
        if cluster:
            flags["duplicate_cluster"] = cluster
            if cluster[0] != public_id:
                flags["possible_duplicate_of"] = cluster[0]
        if hits:
            flags["contamination"] = hits
        if public_id in findings.secrets:
            flags["secrets"] = findings.secrets[public_id]
        needs_lead = bool(flags.get("contamination") or flags.get("secrets") or flags.get("duplicate_of"))
        flags["blocked"] = needs_lead and not flags.get("cleared_by")
        cleaned = {k: v for k, v in flags.items() if v not in (None, False, [], {})}
        if cleaned != (old_flags or {}):
            updates.append({"query_id": query_id, "flags": cleaned or None})
    for start in range(0, len(updates), _UPDATE_BATCH):  # one statement per batch, not per query
        session.connection().execute(statement, updates[start:start + _UPDATE_BATCH])
    report = {
        "duplicate_clusters": findings.clusters,
        "contaminated": [{"id": h["id"], "benchmark": h["benchmark"], "item": h["item"], "evidence": h["evidence"]}
                         for h in findings.contaminated],
        "secrets": [{"id": public_id, "kind": hit["kind"], "span": hit["span"]}
                    for public_id, hits in findings.secrets.items() for hit in hits],
    }
    audit.record(session, actor=actor, action="triage.run", entity="queue",
                 new={"queries": findings.queries, "duplicate_clusters": len(findings.clusters),
                      "contaminated": len(findings.contaminated), "with_secrets": len(findings.secrets),
                      "ngram": findings.ngram, "threshold": findings.threshold, "benchmarks": findings.benchmarks})
    if findings.coding is not None:
        report["coding"] = store_coding_scores(session, actor=actor, findings=findings.coding)
    return report


def run_triage(session: Session, *, actor: User, **options: Any) -> dict:
    """Find and store in one session (options as for `find_problems`)."""
    return store_findings(session, actor=actor, findings=find_problems(session, actor=actor, **options))


def triage_beside_writers(*, actor: User, engine: Engine | None = None, **options: Any) -> dict:
    """Find in a read-only session, so the long part never holds the write lock that annotators'
    saves wait on; then store the flags in a short transaction. Options as for `find_problems`."""
    with read_scope(engine) as session:
        findings = find_problems(session, actor=actor, **options)
    with session_scope(engine) as session:
        return store_findings(session, actor=actor, findings=findings)


# --- the coding score ------------------------------------------------------------------------

def _last_scorer(session: Session) -> str | None:
    """The fingerprint of the scorer that wrote the stored coding scores (None before the first run)."""
    last = session.execute(select(AuditLog.new).where(AuditLog.entity == "coding_score")
                           .order_by(AuditLog.id.desc()).limit(1)).scalar_one_or_none()
    return (last or {}).get("fingerprint")


def _scorer_and_scope(session: Session, rescore: bool) -> tuple[coding_queries.CodingScorer, bool]:
    """The scorer for this run, and whether every query needs scoring again (asked for, or the
    scorer is not the one that wrote the stored scores)."""
    scorer = coding_queries.current_scorer(session)
    return scorer, rescore or _last_scorer(session) != scorer.fingerprint


def _score(scorer: coding_queries.CodingScorer, rows: list[tuple[int, str]],
           on_progress: Callable[[int], None] | None = None) -> dict[int, float]:
    """(query id, text) -> {query id: score}."""
    values = coding_queries.score_in_chunks(scorer, [text for _, text in rows], on_progress)
    return dict(zip((query_id for query_id, _ in rows), values.tolist()))


def _write_scores(session: Session, scores: dict[int, float]) -> None:
    """One UPDATE per score value and chunk of ids: scores are rounded, so a million queries take
    about two thousand statements, never one per query."""
    by_score: dict[float, list[int]] = defaultdict(list)
    for query_id, score in scores.items():
        by_score[score].append(query_id)
    table = Query.__table__
    for score, ids in by_score.items():
        for start in range(0, len(ids), UPDATE_IDS):
            session.execute(update(table).where(table.c.id.in_(ids[start:start + UPDATE_IDS]))
                            .values(coding_score=score))


def coding_counts(session: Session) -> dict:
    """How many queries are scored, at or above the project's threshold, and not scored yet."""
    threshold = coding_queries.coding_threshold(session)
    total, scored, coding = session.execute(select(
        func.count(), func.count(Query.coding_score),
        func.count().filter(coding_queries.coding_filter(threshold)))).one()
    return {"threshold": threshold, "scored_total": scored, "coding": coding, "not_coding": scored - coding,
            "not_scored": total - scored}


def store_coding_scores(session: Session, *, actor: User, findings: CodingFindings) -> dict:
    """Write the scores in bulk and record which scorer wrote them; returns the counts:
    {"scored" (this run), "rescored_all", "scorer" (rules | model), "positives", "negatives",
    "min_per_class", "threshold", "scored_total", "coding", "not_coding", "not_scored"}."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    _write_scores(session, findings.scores)
    session.flush()
    report = {"scored": len(findings.scores), "rescored_all": findings.rescored_all, **findings.scorer,
              **coding_counts(session)}
    audit.record(session, actor=actor, action="triage.coding_score", entity="coding_score",
                 new={"fingerprint": findings.fingerprint, **report})
    return report


def _pages_to_score(session: Session, everything: bool) -> Iterable[list[tuple[int, str]]]:
    """(id, first user turn) of the queries to score, a page at a time in id order (keyset paging:
    only a page's texts are in memory). The first message is read with the database's JSON path
    operators, not the whole conversation; a conversation that starts with another role is read whole."""
    first = Query.messages[0]
    after = 0
    while True:
        query = (select(Query.id, first["role"].as_string(), first["content"].as_string())
                 .where(Query.id > after).order_by(Query.id).limit(CODING_PAGE))
        if not everything:
            query = query.where(Query.coding_score.is_(None))
        rows = session.execute(query).all()
        if not rows:
            return
        others = [query_id for query_id, role, _ in rows if role != "user"]
        whole: dict[int, list] = {}
        for start in range(0, len(others), UPDATE_IDS):
            whole.update(session.execute(select(Query.id, Query.messages)
                                         .where(Query.id.in_(others[start:start + UPDATE_IDS]))).all())
        yield [(query_id, text if role == "user" else coding_queries.first_user_turn(whole[query_id]))
               for query_id, role, text in rows]
        after = rows[-1][0]


def find_coding_scores(session: Session, *, actor: User, rescore: bool = False,
                       progress: Callable[[str, int], Callable[[int], None] | None] | None = None) -> CodingFindings:
    """The coding scores of the queries without one, or of every query when `rescore` is set or the
    scorer changed since the stored scores were written. Only reads."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    scorer, everything = _scorer_and_scope(session, rescore)
    total = session.execute(select(func.count()).select_from(Query).where(
        true() if everything else Query.coding_score.is_(None))).scalar_one()
    on_progress = progress("coding score", total) if progress and total else None
    scores: dict[int, float] = {}
    for page in _pages_to_score(session, everything):
        before = len(scores)

        def page_progress(count: int, before: int = before) -> None:
            on_progress(before + count)  # type: ignore[misc]

        scores.update(_score(scorer, page, page_progress if on_progress else None))
    return CodingFindings(scores, scorer.describe(), scorer.fingerprint, everything)


def score_coding_queries(session: Session, *, actor: User, rescore: bool = False, **options: Any) -> dict:
    """The coding score alone, found and stored in one session (options as for `find_coding_scores`)."""
    return store_coding_scores(session, actor=actor,
                               findings=find_coding_scores(session, actor=actor, rescore=rescore, **options))


def coding_beside_writers(*, actor: User, engine: Engine | None = None, rescore: bool = False,
                          **options: Any) -> dict:
    """The coding score alone, scored in a read-only session and written in a short transaction, so
    annotators' saves never wait on the scoring (as `triage_beside_writers`)."""
    with read_scope(engine) as session:
        findings = find_coding_scores(session, actor=actor, rescore=rescore, **options)
    with session_scope(engine) as session:
        return store_coding_scores(session, actor=actor, findings=findings)


def coding_overview(session: Session, *, actor: User, min_score: float, lowest_first: bool = False,
                    limit: int = 200) -> dict:
    """The triage page's view of the coding score: the counts, a histogram in tenths, the queries at
    or above `min_score` (id, score, the start of the text; the lowest scores first with
    `lowest_first`, to look at the borderline ones), what wrote the stored scores, and the final labels
    the model would learn from."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    column = Query.coding_score
    # Tenths by comparison, not floor() or a cast: SQLite may lack floor and PostgreSQL's cast rounds.
    histogram = session.execute(select(*(
        func.count().filter(and_(column >= index / 10, column < (index + 1) / 10) if index < 9 else column >= 0.9)
        for index in range(10)))).one()
    order = Query.coding_score.asc() if lowest_first else Query.coding_score.desc()
    rows = session.execute(select(Query.public_id, Query.coding_score, Query.messages)
                           .where(coding_queries.coding_filter(min_score)).order_by(order, Query.id)
                           .limit(limit)).all()
    last = session.execute(select(AuditLog.new, AuditLog.at).where(AuditLog.entity == "coding_score")
                           .order_by(AuditLog.id.desc()).limit(1)).first()
    positives, negatives = coding_queries.label_counts(session)
    return {
        **coding_counts(session),
        "shown_from": min_score,
        "matching": session.execute(select(func.count()).select_from(Query)
                                    .where(coding_queries.coding_filter(min_score))).scalar_one(),
        "histogram": [int(count) for count in histogram],
        "queries": [{"id": public_id, "score": score,
                     "text": coding_queries.first_user_turn(messages)[:300]} for public_id, score, messages in rows],
        "last_run": None if last is None else {"scorer": last[0].get("scorer"), "at": last[1]},
        "labels": {"coding": positives, "not_coding": negatives, "needed": coding_queries.MIN_LABELS_PER_CLASS},
    }


def _query(session: Session, public_id: str) -> Query:
    query = session.execute(select(Query).where(Query.public_id == public_id)).scalar_one_or_none()
    if query is None:
        raise NotFound(f"no query with id {public_id!r}")
    return query


def _set_flags(session: Session, actor: User, query: Query, flags: dict, action: str, detail: dict) -> None:
    old = query.triage_flags
    query.triage_flags = {k: v for k, v in flags.items() if v not in (None, False, [], {})} or None
    session.add(query)
    audit.record(session, actor=actor, action=action, entity="query", entity_id=query.public_id,
                 old={"triage_flags": old}, new={"triage_flags": query.triage_flags, **detail})


def mark_duplicates(session: Session, *, actor: User, canonical: str, duplicates: list[str]) -> None:
    """Confirm duplicates of a canonical query: they leave the pool and never reach a release."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    _query(session, canonical)
    if canonical in duplicates:
        raise InvalidInput("the canonical query cannot be its own duplicate")
    confirmed = []
    for public_id in duplicates:
        query = _query(session, public_id)
        flags = {**(query.triage_flags or {}), "duplicate_of": canonical, "blocked": True}
        flags.pop("cleared_by", None)
        _set_flags(session, actor, query, flags, "triage.mark_duplicate", {"canonical": canonical})
        confirmed.append(query.id)
    session.flush()
    queue.retire_duplicates(session, query_ids=confirmed)


def clear_flags(session: Session, *, actor: User, public_id: str, reason: str) -> None:
    """A lead has looked: the query may be released after all (the flags stay as evidence)."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    if not (reason or "").strip():
        raise InvalidInput("say why the flags are cleared")
    query = _query(session, public_id)
    flags = {**(query.triage_flags or {}), "blocked": False, "cleared_by": actor.name, "cleared_reason": reason.strip()}
    _set_flags(session, actor, query, flags, "triage.clear", {"reason": reason.strip()})
    if query.retired:
        session.flush()
        queue.unretire(session, query_id=query.id)


def redact_secrets(session: Session, *, actor: User, public_id: str) -> int:
    """Replace every flagged secret in the query's text by [REDACTED]; returns how many.
    The content hash stays, so re-importing the original text is still a duplicate."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    query = _query(session, public_id)
    messages = [dict(m) for m in query.messages]
    redacted = 0
    for message in messages:
        if message["role"] != "user":
            continue
        hits = triage.find_secrets(message["content"])
        for hit in sorted(hits, key=lambda h: h["span"][0], reverse=True):
            start, end = hit["span"]
            message["content"] = message["content"][:start] + REDACTION + message["content"][end:]
            redacted += 1
    if not redacted:
        raise InvalidInput(f"{public_id} has no secret or personal data left to redact")
    old_messages = query.messages
    query.messages = messages
    flags = {k: v for k, v in (query.triage_flags or {}).items() if k != "secrets"}
    flags["redacted"] = redacted
    flags["blocked"] = bool(flags.get("contamination") or flags.get("duplicate_of")) and not flags.get("cleared_by")
    _set_flags(session, actor, query, flags, "triage.redact", {"redacted": redacted, "old_messages": old_messages})
    return redacted


def query_texts(session: Session, *, actor: User, public_ids: list[str]) -> dict[str, str]:
    """The users' text of these queries, for a lead comparing a cluster's members."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    found: dict[str, str] = {}
    for start in range(0, len(public_ids), 500):
        rows = session.execute(select(Query.public_id, Query.messages)
                               .where(Query.public_id.in_(public_ids[start:start + 500]))).all()
        found.update((public_id, _user_text(messages)) for public_id, messages in rows)
    return found


def flagged(session: Session, *, actor: User) -> list[dict]:
    """Every query with a flag, for the lead's triage page."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    rows = session.execute(select(Query.public_id, Query.triage_flags).where(Query.triage_flags.is_not(None))
                           .order_by(Query.public_id)).all()
    return [{"id": public_id, **flags} for public_id, flags in rows if flags]


def hits_in_context(session: Session, *, actor: User, width: int = context.CONTEXT_CHARACTERS,
                    max_clusters: int = 50) -> dict:
    """Every flag waiting for a lead, with the text around it, for deciding where it is listed:
    {"secrets": [{"id", "blocked", "hits": [{"kind", "span", "before", "masked", "after"}]}],
     "contamination": [{"id", "blocked", "benchmark", "item", "before", "overlap", "after", "found"}],
     "clusters": [{"members", "texts", "differences": {member: differences from the first}}],
     "clusters_total"}. Secrets are masked everywhere, also inside another hit's surroundings."""
    require_role(actor, Role.LEAD, Role.ADMIN)
    rows = session.execute(select(Query.public_id, Query.messages, Query.triage_flags)
                           .where(Query.triage_flags.is_not(None)).order_by(Query.public_id)).all()
    shown: dict[str, str] = {}
    secrets, contaminated, clusters = [], [], set()
    for public_id, messages, flags in rows:
        if not flags:
            continue
        text = _user_text(messages)
        found = flags.get("secrets") or []
        shown[public_id] = context.masked_text(text, found)
        if found:
            secrets.append({"id": public_id, "blocked": bool(flags.get("blocked")),
                            "hits": context.secret_contexts(text, found, width=width)})
        for hit in flags.get("contamination") or []:
            contaminated.append({"id": public_id, "blocked": bool(flags.get("blocked")), "benchmark": hit["benchmark"],
                                 "item": hit["item"],
                                 **context.overlap_context(shown[public_id], hit["evidence"], width=width)})
        if flags.get("duplicate_cluster") and not flags.get("duplicate_of"):
            clusters.add(tuple(flags["duplicate_cluster"]))
    chosen = sorted(clusters)[:max_clusters]
    missing = [m for cluster in chosen for m in cluster if m not in shown]
    shown.update(query_texts(session, actor=actor, public_ids=missing))  # members without a flag of their own
    return {
        "secrets": secrets, "contamination": contaminated, "clusters_total": len(clusters),
        "clusters": [{"members": list(cluster), "texts": {m: shown.get(m, "") for m in cluster},
                      "differences": {m: context.differences(shown.get(cluster[0], ""), shown.get(m, ""))
                                      for m in cluster[1:]}} for cluster in chosen],
    }
