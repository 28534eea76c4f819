"""Where a release's items came from, read from the database when the release is frozen: the
import files per source, the counts from import to release, and the contamination check (which
benchmarks it ran against, what it found, and what of it is in the release)."""

from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import Text, cast, func, select
from sqlmodel import Session

from curation_app.core.labels import KEEP, REJECT
from curation_app.core.release.selection import decode_json
from curation_app.models import AuditLog, FinalLabel, ImportBatch, Query


def sources(session: Session, released: dict[str, int]) -> list[dict]:
    """Per import source: its files, records read, queries imported, exact duplicates not imported,
    and items released (`released`: source -> items)."""
    per_source: dict[str, dict] = {}
    for batch in session.execute(select(ImportBatch.source, ImportBatch.file_name, ImportBatch.n_read,
                                        ImportBatch.n_imported, ImportBatch.n_duplicates)
                                 .order_by(ImportBatch.source, ImportBatch.id)):
        entry = per_source.setdefault(batch.source, {"source": batch.source, "files": [], "read": 0, "imported": 0,
                                                     "duplicates": 0})
        if batch.file_name not in entry["files"]:
            entry["files"].append(batch.file_name)
        entry["read"] += batch.n_read
        entry["imported"] += batch.n_imported
        entry["duplicates"] += batch.n_duplicates
    for entry in per_source.values():
        entry["released"] = released.get(entry["source"], 0)
    return list(per_source.values())


def query_flags(session: Session) -> dict[int, dict]:
    """Triage flags of every query that has any."""
    # As text, decoded only where there are flags: most queries have none.
    rows = session.connection().execute(select(Query.id, cast(Query.triage_flags, Text))
                                        .execution_options(yield_per=10_000))
    found = ((query_id, decode_json(text)) for query_id, text in rows if text and text != "null")
    return {query_id: flags for query_id, flags in found if flags}


def funnel(session: Session, *, pool: int, released_query_ids: list[int],
           flags: dict[int, dict] | None = None) -> dict:
    """The counts from import to release over the whole database. `pool`: the kept items that
    passed the release's filters and no triage flag holds out, the sample's population."""
    flags = query_flags(session) if flags is None else flags
    batches = session.execute(select(func.count(ImportBatch.id), func.coalesce(func.sum(ImportBatch.n_read), 0),
                                     func.coalesce(func.sum(ImportBatch.n_duplicates), 0),
                                     func.coalesce(func.sum(ImportBatch.n_skipped), 0))).one()
    imported = session.execute(select(func.count(Query.id))).scalar_one()
    decisions = dict(session.execute(select(FinalLabel.decision, func.count()).group_by(FinalLabel.decision)).all())
    kept_ids = session.execute(select(FinalLabel.query_id).where(FinalLabel.decision == KEEP)).scalars()
    held_out = sum(1 for query_id in kept_ids if flags.get(query_id, {}).get("blocked"))
    kept = decisions.get(KEEP, 0)
    return {
        "files": batches[0], "read": int(batches[1]), "duplicates_at_import": int(batches[2]),
        "skipped_at_import": int(batches[3]), "imported": imported,
        "confirmed_duplicates": sum(1 for f in flags.values() if f.get("duplicate_of")),
        "not_final": imported - sum(decisions.values()),
        "rejected": decisions.get(REJECT, 0), "kept": kept,
        "held_out_by_triage": held_out,
        "outside_filters": kept - held_out - pool,
        "not_sampled": pool - len(released_query_ids),
        "released": len(released_query_ids),
    }


def contamination(session: Session, *, released_query_ids: list[int], public_ids: dict[int, str],
                  flags: dict[int, dict] | None = None) -> dict:
    """The contamination check as the database records it: every triage run's benchmarks (the
    evidence of a benchmark stands until it is checked again), the queries with evidence per
    benchmark, how many of them a lead cleared, and the released items among them."""
    flags = query_flags(session) if flags is None else flags
    runs = session.execute(select(AuditLog.at, AuditLog.new).where(AuditLog.action == "triage.run")
                           .order_by(AuditLog.at, AuditLog.id)).all()
    benchmarks: dict[str, dict] = {}
    for at, new in runs:
        for name in (new or {}).get("benchmarks", []):
            benchmarks[name] = {"last_checked": at.isoformat(timespec="seconds"), "ngram": (new or {}).get("ngram")}
    hits: Counter[str] = Counter()
    cleared: Counter[str] = Counter()
    flagged_queries = set()
    for query_id, found in flags.items():
        names = {hit["benchmark"] for hit in found.get("contamination", [])}
        if names:
            flagged_queries.add(query_id)
        for name in names:
            hits[name] += 1
            if not found.get("blocked"):
                cleared[name] += 1
    released_with_evidence: dict[str, list[str]] = defaultdict(list)
    for query_id in released_query_ids:
        for name in sorted({hit["benchmark"] for hit in flags.get(query_id, {}).get("contamination", [])}):
            released_with_evidence[name].append(public_ids[query_id])
    per_benchmark = []
    for name in sorted(set(benchmarks) | set(hits)):
        ids = sorted(released_with_evidence.get(name, []))
        per_benchmark.append({"benchmark": name, **benchmarks.get(name, {"last_checked": None, "ngram": None}),
                              "queries_with_evidence": hits[name], "cleared_by_a_lead": cleared[name],
                              "released": len(ids), "released_ids": ids[:100]})
    return {"triage_runs": len(runs), "last_run": runs[-1][0].isoformat(timespec="seconds") if runs else None,
            "queries_with_evidence": len(flagged_queries), "benchmarks": per_benchmark}
