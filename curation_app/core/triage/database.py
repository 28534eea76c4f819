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
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from array import array
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import orjson
from sqlalchemy import Text, bindparam, cast, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from curation_app.core import audit, queue, triage
from curation_app.core.auth import require_role
from curation_app.core.errors import InvalidInput, NotFound
from curation_app.core.project import load_project
from curation_app.core.triage import context
from curation_app.core.triage.near_duplicates import hash_texts
from curation_app.database import read_scope, session_scope
from curation_app.models import Query, Role, User

REDACTION = "[REDACTED]"


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


def find_problems(
    session: Session,
    *,
    actor: User,
    benchmark_files: list[str | Path] = (),
    ngram: int | None = None,
    threshold: float | None = None,
    progress: Callable[[str, int], Callable[[int], None] | None] | None = None,
    workers: int | None = None,
) -> Findings:
    """Near-duplicates, contamination and secrets over every query. Only reads: the long part of
    triage can run in a read-only session, beside annotators' saves.

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
        return _find(session, total, benchmarks, ngram, threshold, progress, pool)


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
