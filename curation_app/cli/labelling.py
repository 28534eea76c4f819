"""`assign`, `annotations`, `adjudicate` and `finals`: hand out queries, move labels in and out, settle
final labels and export them."""

from __future__ import annotations

import argparse
import sys
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
    assign.add_argument("--sample", action="append", metavar="NAME",
                        help="only the queries of this candidate sample (repeatable; see `sample`)")
    assign.add_argument("--overlap", type=int, help="set the project's overlap setting first")
    assign.add_argument("--annotators-per-query", type=int, metavar="N",
                        help="with --annotators: give each query N of them in this assignment only; "
                             "the project's overlap setting stays as it is")
    assign.add_argument("--coding-only", action="store_true",
                        help="only queries whose coding score reaches the coding_threshold setting "
                             "(score them first with `triage --coding`)")
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
            public_ids=args.ids or None, sources=args.source or None, batch_ids=args.batch or None,
            overlap=args.annotators_per_query, coding_only=args.coding_only, samples=args.sample or None)
        summary = queue.pool_summary(session)
        warnings = configure.warnings_for(session)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
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
    adjudicate = commands.add_parser(
        "adjudicate", help="apply the acceptance rule, list the conflict queue, or record a lead's decision")
    adjudicate.add_argument("--auto", action="store_true",
                            help="finalise every item the rule settles (min_annotations, keep_quorum)")
    adjudicate.add_argument("--field", help="list only items that conflict on this field")
    adjudicate.add_argument("--json", action="store_true")
    actions = adjudicate.add_subparsers(dest="adjudicate_command", metavar="ACTION")
    resolve = actions.add_parser(
        "resolve", help="save a final label: the fields given with --set, the others as the Adjudicate page "
                        "proposes them (the saved final label, else the agreed or most common values)")
    resolve.add_argument("id", help="the query's public id")
    resolve.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", dest="changes",
                         help="a field's final value (repeatable; languages '|'-separated; FIELD= empties it)")
    resolve.add_argument("--rationale")
    resolve.add_argument("--confidence", help="low, medium or high")
    resolve.add_argument("--error-type", help="ambiguous query, guideline gap, annotator error or other")
    resolve.add_argument("--guidelines-need-update", action="store_true")
    resolve.add_argument("--revision", type=int,
                         help="the final label's revision this decision starts from (0: none yet); refused if "
                              "another lead saved since (default: the revision read now)")
    reopen = actions.add_parser("reopen", help="remove an item's final label (kept in the audit log)")
    reopen.add_argument("id")
    reopen.add_argument("--reason", required=True)
    send_back = actions.add_parser(
        "send-back", help="make annotations drafts again and put the item back in their annotators' queues "
                          "(a final label is reopened first)")
    send_back.add_argument("id")
    send_back.add_argument("--reason", required=True, help="what the annotators should look at again")
    send_back.add_argument("--to", action="append", metavar="ANNOTATOR",
                           help="only this annotator (repeatable; default: everyone who annotated it)")
    for action in (resolve, reopen, send_back):
        action.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    adjudicate.set_defaults(run=cmd_adjudicate)


def _changes(pairs: list[str]) -> dict[str, str]:
    changes = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise CommandFailed(f"--set {pair!r}: give FIELD=VALUE, e.g. --set difficulty=hard")
        if name.strip() in changes:
            raise CommandFailed(f"--set {name.strip()}: given twice")
        changes[name.strip()] = value
    return changes


def cmd_adjudicate(args: argparse.Namespace) -> int:
    if args.adjudicate_command:
        if args.auto or args.field:
            raise CommandFailed(f"adjudicate {args.adjudicate_command}: --auto and --field go without an action")
        return _lead_decision(args)
    from curation_app.core import adjudicate
    from curation_app.database import session_scope

    with session_scope(ready_engine()) as session:
        if args.auto:
            result: Any = adjudicate.apply_rule(session, actor=actor())
        else:
            items = adjudicate.conflict_queue(session, actor=actor(), field=args.field)
            result = {"to_adjudicate": [
                {"id": item.public_id, "agreement": item.agreement, "conflicts": item.conflicts,
                 "if_kept": item.if_kept, "if_rejected": item.if_rejected, "decision_votes": item.decision_votes,
                 "annotators": item.annotators} for item in items]}
            texts = [item.conflict_text() for item in items]
    if args.json:
        print_json(result)
    elif args.auto:
        print(f"{result['finalised']} finalised ({result[LabelSource.UNANIMOUS]} unanimous, "
              f"{result[LabelSource.MAJORITY]} majority); {result['to_adjudicate']} left for a lead"
              + (f"; {result['to_review']} waiting for reviewers' votes" if result["to_review"] else ""))
    else:
        for item, text in zip(result["to_adjudicate"], texts):
            print(f"{item['id']:<40} agreement {item['agreement']:.2f}  conflicts: {text}")
        print(f"{len(result['to_adjudicate'])} item(s) to adjudicate, split decisions first")
    return 0


def _lead_decision(args: argparse.Namespace) -> int:
    from curation_app.core import adjudicate
    from curation_app.core.labels import FIELDS
    from curation_app.database import session_scope

    with session_scope(ready_engine()) as session:
        if args.adjudicate_command == "resolve":
            final = adjudicate.resolve_as_proposed(
                session, actor=actor(), public_id=args.id, changes=_changes(args.changes), rationale=args.rationale,
                confidence=args.confidence, error_type=args.error_type,
                guidelines_need_update=args.guidelines_need_update, expected_revision=args.revision)
            result: dict[str, Any] = {"id": args.id, **{f: getattr(final, f) for f in FIELDS if f != "notes"},
                                      "label_source": final.source, "field_sources": final.field_sources,
                                      "rationale": final.rationale, "revision": final.revision}
            message = f"{args.id}: final label saved ({final.decision}, {final.source}), revision {final.revision}"
        elif args.adjudicate_command == "reopen":
            adjudicate.reopen(session, actor=actor(), public_id=args.id, reason=args.reason)
            result, message = {"id": args.id, "reopened": True}, f"{args.id} is open again"
        else:
            sent = adjudicate.send_back(session, actor=actor(), public_id=args.id, annotators=args.to or None,
                                        reason=args.reason)
            result, message = {"id": args.id, "sent_to": sent}, f"{args.id} sent back to {', '.join(sent) or 'nobody'}"
    if getattr(args, "json", False):
        print_json(result)
    else:
        print(message)
    return 0


def register_finals(commands: Commands) -> None:
    finals = commands.add_parser("finals", help="export the final labels (CSV or JSONL)")
    finals_commands = finals.add_subparsers(dest="finals_command", required=True, metavar="ACTION")
    export = finals_commands.add_parser(
        "export", help="one row per final item: labels, label_source, field_sources, n_annotations, the decision")
    export.add_argument("file", help="a .csv or .jsonl path")
    export.add_argument("--json", action="store_true")
    finals.set_defaults(run=cmd_finals)


def cmd_finals(args: argparse.Namespace) -> int:
    from curation_app.core import final_export

    count = final_export.export_finals(args.file, actor=actor(), engine=ready_engine())
    if args.json:
        print_json({"file": args.file, "rows": count})
    else:
        print(f"{count} final labels written to {args.file}")
    return 0
