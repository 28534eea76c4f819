"""`reviews`: the review stage's votes in and out of files."""

from __future__ import annotations

import argparse

from curation_app.cli.common import CommandFailed, Commands, actor, print_json, print_problems, ready_engine
from curation_app.core.errors import ImportRefused


def register_reviews(commands: Commands) -> None:
    reviews = commands.add_parser("reviews", help="import or export reviewers' votes (CSV or JSONL)")
    actions = reviews.add_subparsers(dest="reviews_command", required=True, metavar="ACTION")
    importing = actions.add_parser("import", help="load votes (query_id, reviewer, vote, comment); all or nothing")
    importing.add_argument("file")
    importing.add_argument("--json", action="store_true")
    exporting = actions.add_parser("export", help="write every vote")
    exporting.add_argument("file", help="a .csv or .jsonl path")
    reviews.set_defaults(run=cmd_reviews)


def cmd_reviews(args: argparse.Namespace) -> int:
    from curation_app.core import review

    engine = ready_engine()
    if args.reviews_command == "export":
        count = review.export_vote_file(args.file, actor=actor(), engine=engine)
        print(f"{count} votes written to {args.file}")
        return 0
    try:
        result = review.import_vote_file(args.file, actor=actor(), engine=engine)
    except ImportRefused as refused:
        print_problems(refused)
        raise CommandFailed(f"{refused.file_name}: refused, {refused.n_problems} bad row(s); no vote was imported") from None
    if args.json:
        print_json(result)
    else:
        print(f"{result['votes']} votes ({result['reviewers_created']} new reviewers): {result['kept']} kept, "
              f"{result['rejected']} rejected, {result['to_lead']} to a lead, {result['waiting']} still waiting for votes")
    return 0
