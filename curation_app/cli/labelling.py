"""`assign`, `annotations` and `adjudicate`: hand out queries, move labels in and out, settle final labels."""

from __future__ import annotations

import argparse
from typing import Any

from curation_app.cli.common import CommandFailed, Commands, actor, print_json, print_problems, ready_engine
from curation_app.core.errors import ImportRefused
from curation_app.models import LabelSource


def register_assign(commands: Commands) -> None:
    assign = commands.add_parser("assign", help="release queries to annotators with overlap k")
    assign.add_argument("--annotators", help="comma-separated names; without it the queries open to everyone")
    assign.add_argument("--source", action="append", help="only queries from this source (repeatable)")
    assign.add_argument("--batch", action="append", type=int, help="only this import batch (repeatable)")
    assign.add_argument("--ids", nargs="+", help="only these query ids")
    assign.add_argument("--overlap", type=int, help="set the overlap setting first")
    assign.add_argument("--json", action="store_true")
    assign.set_defaults(run=cmd_assign)


def cmd_assign(args: argparse.Namespace) -> int:
    from curation_app.core import configure, queue
    from curation_app.database import session_scope

    engine = ready_engine()
    with session_scope(engine) as session:
        if args.overlap is not None:
            configure.change_setting(session, actor=actor(), key="overlap", value=args.overlap)
        result = queue.assign(
            session, actor=actor(),
            annotators=[n.strip() for n in args.annotators.split(",") if n.strip()] if args.annotators else None,
            public_ids=args.ids or None, sources=args.source or None, batch_ids=args.batch or None)
        summary = queue.pool_summary(session)
    if args.json:
        print_json({**result, "open_slots": summary["open_slots"]})
    elif result["mode"] == "pool":
        print(f"{result['opened']} queries opened to every annotator ({result['queries']} selected, "
              f"overlap {result['overlap']}); {summary['open_slots']} slots open in all")
    else:
        print(f"{result['assigned']} assignments over {result['queries']} queries (overlap {result['overlap']}): "
              + ", ".join(f"{name} {n}" for name, n in result["per_annotator"].items()))
    return 0


def register_annotations(commands: Commands) -> None:
    notes = commands.add_parser("annotations", help="import or export labels (CSV or JSONL)")
    notes_commands = notes.add_subparsers(dest="annotations_command", required=True, metavar="ACTION")
    notes_import = notes_commands.add_parser("import", help="load labels made elsewhere")
    notes_import.add_argument("file")
    notes_import.add_argument("--json", action="store_true")
    notes_export = notes_commands.add_parser("export", help="write every submitted annotation")
    notes_export.add_argument("file", help="a .csv or .jsonl path")
    notes_export.add_argument("--format", choices=("csv", "jsonl"))
    notes.set_defaults(run=cmd_annotations)


def cmd_annotations(args: argparse.Namespace) -> int:
    from curation_app.core import annotation_io

    engine = ready_engine()
    if args.annotations_command == "import":
        try:
            summary = annotation_io.import_annotations(args.file, actor=actor(), engine=engine)
        except ImportRefused as refused:
            print_problems(refused)
            raise CommandFailed(f"{refused.file_name}: refused, {refused.n_problems} bad row(s); "
                                "no annotation was imported") from None
        result = summary.as_dict()
        if args.json:
            print_json(result)
        else:
            print(f"{result['read']} rows: {result['created']} new annotations, {result['updated']} updated, "
                  f"{result['unchanged']} unchanged; new annotators: {', '.join(result['new_annotators']) or 'none'}")
            if result["incomplete"]:
                print(f"{result['incomplete']} row(s) leave some labels empty: they count as missing ratings, and "
                      "the acceptance rule decides those fields from the other annotators or leaves them to a lead")
        return 0
    count = annotation_io.export_annotations(args.file, actor=actor(), engine=engine, file_format=args.format)
    print(f"{count} annotations written to {args.file}")
    return 0


def register_adjudicate(commands: Commands) -> None:
    adjudicate = commands.add_parser("adjudicate", help="apply the acceptance rule, or list the conflict queue")
    adjudicate.add_argument("--auto", action="store_true",
                            help="finalise every item the rule settles (min_annotations, keep_quorum)")
    adjudicate.add_argument("--field", help="list only items that conflict on this field")
    adjudicate.add_argument("--json", action="store_true")
    adjudicate.set_defaults(run=cmd_adjudicate)


def cmd_adjudicate(args: argparse.Namespace) -> int:
    from curation_app.core import adjudicate
    from curation_app.database import session_scope

    with session_scope(ready_engine()) as session:
        if args.auto:
            result: Any = adjudicate.apply_rule(session, actor=actor())
        else:
            result = {"to_adjudicate": [
                {"id": item.public_id, "agreement": item.agreement, "conflicts": item.conflicts,
                 "annotators": item.annotators}
                for item in adjudicate.conflict_queue(session, actor=actor(), field=args.field)]}
    if args.json:
        print_json(result)
    elif args.auto:
        print(f"{result['finalised']} finalised ({result[LabelSource.UNANIMOUS]} unanimous, "
              f"{result[LabelSource.MAJORITY]} majority); {result['to_adjudicate']} left for a lead"
              + (f"; {result['to_review']} waiting for reviewers' votes" if result["to_review"] else ""))
    else:
        for item in result["to_adjudicate"]:
            print(f"{item['id']:<40} agreement {item['agreement']:.2f}  conflicts: {', '.join(item['conflicts'])}")
        print(f"{len(result['to_adjudicate'])} item(s) to adjudicate")
    return 0
