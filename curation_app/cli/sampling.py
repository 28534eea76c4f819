"""`sample`: choose candidate queries for annotation, seeded and stratified, and open them as a named batch."""

from __future__ import annotations

import argparse

from curation_app.cli.common import CommandFailed, Commands, actor, print_json, ready_engine

STRATA_SHOWN = 30


def register_sample(commands: Commands) -> None:
    sample = commands.add_parser(
        "sample", help="choose N candidate queries (seeded, stratified) and open them to annotators as a batch")
    sample.add_argument("--size", type=int, help="how many queries to choose")
    sample.add_argument("--seed", type=int, default=0, help="the same database and arguments with the same seed "
                                                            "choose the same queries (default 0)")
    sample.add_argument("--by", metavar="KEYS",
                        help="strata: any of language, topic, source, comma-separated, or none "
                             "(default: language,topic)")
    sample.add_argument("--coding-only", action="store_true",
                        help="only queries the coding-query detector scored at or above the coding threshold")
    sample.add_argument("--floor", type=int, help="at least this many from every stratum that has them (default 1)")
    sample.add_argument("--topics", type=int, help="topic clusters for --by topic (default 10)")
    sample.add_argument("--name", help="the batch's name, for `assign --sample NAME` (default sample-N)")
    sample.add_argument("--hold", action="store_true",
                        help="record the sample without opening it: a lead assigns it later with "
                             "`assign --sample NAME [--annotators ...]`")
    sample.add_argument("--list", action="store_true", help="list the recorded samples instead")
    sample.add_argument("--json", action="store_true", help="print the coverage report as one JSON object")
    sample.set_defaults(run=cmd_sample)


def cmd_sample(args: argparse.Namespace) -> int:
    from curation_app.core import sampling
    from curation_app.database import read_scope

    engine = ready_engine()
    if args.list:
        with read_scope(engine) as session:
            samples = sampling.list_samples(session)
        if args.json:
            print_json(samples)
            return 0
        for item in samples:
            print(f"{item['name']}: {item['size_chosen']:,} of {item['size_asked']:,} asked, seed {item['seed']}, "
                  f"by {', '.join(item['by']) or 'none'}{', coding only' if item['coding_only'] else ''}; "
                  f"{item['in_pool']:,} open to annotators; {item['created_by']}, {item['created_at']:%Y-%m-%d %H:%M}")
        return 0
    if args.size is None:
        raise CommandFailed("sample needs --size N (or --list)")
    spec = sampling.SampleSpec(
        size=args.size, seed=args.seed, by=sampling.parse_strata(args.by), coding_only=args.coding_only,
        floor=sampling.DEFAULT_FLOOR if args.floor is None else args.floor,
        topics=sampling.DEFAULT_TOPICS if args.topics is None else args.topics, name=args.name)
    report = sampling.sample_candidates(actor=actor(), spec=spec, open_to_pool=not args.hold, engine=engine)
    if args.json:
        print_json(report)
        return 0
    for line in report_lines(report):
        print(line)
    return 0


def report_lines(report: dict) -> list[str]:
    by = ", ".join(report["by"]) or "none"
    lines = [f"{report['name']}: {report['size_chosen']:,} of {report['size_asked']:,} queries asked "
             f"(seed {report['seed']}; strata: {by}"
             + (f"; coding score at least {report['coding_threshold']}" if report["coding_only"] else "") + ")"]
    if report["open_to_pool"]:
        lines.append(f"opened {report['opened']:,} to every annotator")
    else:
        lines.append(f"recorded, not opened: `python -m curation_app assign --sample {report['name']}` opens it "
                     "(add --annotators a,b to assign it by name)")
    skipped = ", ".join(f"{count:,} {why}" for why, count in report["skipped"].items()) or "none"
    lines.append(f"{report['candidates']:,} candidates among {report['queries']:,} queries; skipped: {skipped}")
    strata = report["strata"]
    if report["by"]:
        width = min(70, max(len(s["stratum"]) for s in strata)) if strata else 10
        lines.append(f"{'stratum':<{width}} {'available':>10} {'asked':>7} {'chosen':>7}")
        for item in strata[:STRATA_SHOWN]:
            lines.append(f"{item['stratum'][:width]:<{width}} {item['available']:>10,} {item['asked']:>7,} "
                         f"{item['chosen']:>7,}")
        if len(strata) > STRATA_SHOWN:
            lines.append(f"... {len(strata) - STRATA_SHOWN} more strata (--json lists every one)")
        for key, values in report["by_key"].items():
            covered = sum(1 for figures in values.values() if figures["chosen"])
            lines.append(f"{key}: {covered} of {len(values)} values covered")
    for problem in report["problems"]:
        lines.append(f"note: {problem}")
    return lines
