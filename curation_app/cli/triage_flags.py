"""`triage` and `flags`: near-duplicate, contamination and secrets checks, the coding-query score, and a
lead's decisions on the flags."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from curation_app.cli.common import CommandFailed, Commands, actor, print_json, ready_engine


def triage_with_progress(*, engine: Any, coding_only: bool = False, **options: Any) -> dict:
    """Run triage over every query with progress bars; options go to `find_problems`. With
    `coding_only`, only the coding score runs (options go to `find_coding_scores`) and the report is
    {"coding": {...}}."""
    from tqdm import tqdm

    from curation_app.core.triage import database as triage_db

    bars = []

    def progress(stage: str, total: int):  # type: ignore[no-untyped-def]
        bar = tqdm(total=total, desc=stage, unit="queries", file=sys.stderr, disable=None, leave=False)
        bars.append(bar)

        def done_so_far(count: int) -> None:  # the checks report running totals, not increments
            bar.update(count - bar.n)

        return done_so_far

    try:
        if coding_only:
            return {"coding": triage_db.coding_beside_writers(actor=actor(), engine=engine, progress=progress,
                                                              **options)}
        return triage_db.triage_beside_writers(actor=actor(), engine=engine, progress=progress, **options)
    finally:
        for bar in bars:
            bar.close()


def register_triage(commands: Commands) -> None:
    triage = commands.add_parser("triage", help="near-duplicates, contamination, secrets and the coding-query "
                                                "score over all queries")
    triage.add_argument("--benchmark", nargs="+", action="extend", metavar="FILE",
                        help="public benchmark files (JSONL or .jsonl.gz) to check for contamination")
    triage.add_argument("--ngram", type=int, help="word n-gram length for contamination (default: setting, 10)")
    triage.add_argument("--threshold", type=float, help="near-duplicate similarity (default: setting, 0.85)")
    triage.add_argument("--coding", action="store_true",
                        help="only the coding-query score (queries without one, or all when the scorer changed)")
    triage.add_argument("--rescore", action="store_true", help="score every query's coding score again")
    triage.add_argument("--json", action="store_true")
    triage.set_defaults(run=cmd_triage)


def coding_line(coding: dict) -> str:
    scorer = ("the model trained on final labels" if coding["scorer"] == "model" else
              f"the rules (the model needs {coding['min_per_class']} final labels of each class: "
              f"{coding['positives']} coding, {coding['negatives']} not)")
    return (f"coding score: {coding['scored']} quer(y/ies) scored by {scorer}; {coding['coding']} of "
            f"{coding['scored_total']} at or above {coding['threshold']:g}, {coding['not_scored']} not scored")


def cmd_triage(args: argparse.Namespace) -> int:
    if args.coding and (args.benchmark or args.ngram or args.threshold):
        raise CommandFailed("--coding runs the coding score alone: --benchmark, --ngram and --threshold "
                            "belong to the other checks")
    if args.coding:
        report = triage_with_progress(engine=ready_engine(), coding_only=True, rescore=args.rescore)
    else:
        report = triage_with_progress(engine=ready_engine(), benchmark_files=args.benchmark or [],
                                      ngram=args.ngram, threshold=args.threshold, rescore_coding=args.rescore)
    if args.json:
        print_json(report)
        return 0
    if args.coding:
        print(coding_line(report["coding"]))
        return 0
    print(f"{len(report['duplicate_clusters'])} near-duplicate cluster(s), "
          f"{len(report['contaminated'])} contaminated quer(y/ies), "
          f"{len({s['id'] for s in report['secrets']})} quer(y/ies) with secrets or personal data")
    print(coding_line(report["coding"]))
    for cluster in report["duplicate_clusters"][:20]:
        print(f"  duplicates: {', '.join(cluster)}")
    for hit in report["contaminated"][:20]:
        print(f"  contaminated: {hit['id']} ~ {hit['benchmark']} {hit['item']}: {hit['evidence'][:80]!r}")
    for hit in report["secrets"][:20]:
        print(f"  {hit['kind']}: {hit['id']} characters {hit['span'][0]}-{hit['span'][1]}")
    return 0


def register_flags(commands: Commands) -> None:
    flags = commands.add_parser("flags", help="a lead's triage decisions: list, confirm duplicates, clear, redact")
    flags_commands = flags.add_subparsers(dest="flags_command", required=True, metavar="ACTION")
    flag_list = flags_commands.add_parser("list", help="every flagged query and whether it is held back")
    flag_list.add_argument("--json", action="store_true")
    duplicates = flags_commands.add_parser("duplicates", help="keep CANONICAL; the others are duplicates of it")
    duplicates.add_argument("canonical")
    duplicates.add_argument("duplicates", nargs="+")
    clear = flags_commands.add_parser("clear", help="clear a query's flags so it may be released")
    clear.add_argument("id")
    clear.add_argument("--reason", required=True)
    redact = flags_commands.add_parser("redact", help="replace a query's secrets and personal data by [REDACTED]")
    redact.add_argument("id")
    flags.set_defaults(run=cmd_flags)


def cmd_flags(args: argparse.Namespace) -> int:
    """A lead's triage decisions: list flagged queries, confirm duplicates, clear, redact."""
    from curation_app.core.triage import database as triage_db
    from curation_app.database import session_scope

    with session_scope(ready_engine()) as session:
        if args.flags_command == "duplicates":
            triage_db.mark_duplicates(session, actor=actor(), canonical=args.canonical, duplicates=args.duplicates)
            message = f"{', '.join(args.duplicates)} marked as duplicate(s) of {args.canonical}"
        elif args.flags_command == "clear":
            triage_db.clear_flags(session, actor=actor(), public_id=args.id, reason=args.reason)
            message = f"{args.id} cleared: it may be released"
        elif args.flags_command == "redact":
            count = triage_db.redact_secrets(session, actor=actor(), public_id=args.id)
            message = f"{args.id}: {count} secret(s) or personal data replaced by [REDACTED]"
        else:
            flagged = triage_db.flagged(session, actor=actor())
            if args.json:
                print_json(flagged)
                return 0
            for item in flagged:
                kinds = [k for k in ("possible_duplicate_of", "duplicate_of", "contamination", "secrets")
                         if item.get(k)]
                state = "held back" if item.get("blocked") else ("cleared" if item.get("cleared_by") else "noted")
                print(f"{item['id']:<40} {state:<10} {', '.join(kinds)}")
            print(f"{len(flagged)} flagged quer(y/ies), {sum(1 for f in flagged if f.get('blocked'))} held back")
            return 0
    print(message)
    return 0
