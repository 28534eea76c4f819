"""`agreement`: inter-annotator agreement on the database's labels or on a long-format ratings file."""

from __future__ import annotations

import argparse

from curation_app.cli.common import CommandFailed, Commands, actor, print_json, ready_engine


def register_agreement(commands: Commands) -> None:
    agree = commands.add_parser("agreement", help="inter-annotator agreement on the database or a ratings file")
    agree.add_argument("--field", help="one field (decision, reject_reason, category, subcategory, difficulty, "
                                       "languages); default: every field")
    agree.add_argument("--ratings", help="a long-format CSV with columns item,annotator,value instead of the database")
    agree.add_argument("--level", choices=("nominal", "ordinal", "interval", "ratio", "multilabel"))
    agree.add_argument("--scale", help="ordered values for an ordinal level, e.g. easy,medium,hard; for a nominal "
                                       "level, every category, taken as written (e.g. True,False,0)")
    agree.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95%% intervals")
    agree.add_argument("--seed", type=int, default=0)
    agree.add_argument("--json", action="store_true")
    agree.set_defaults(run=cmd_agreement)


def cmd_agreement(args: argparse.Namespace) -> int:
    from curation_app.core import agreement

    if args.ratings:
        if not args.level:
            raise CommandFailed("--ratings needs --level nominal|ordinal|interval|ratio|multilabel")
        scale = [v.strip() for v in args.scale.split(",")] if args.scale else None
        ratings = agreement.read_ratings_csv(args.ratings, level=args.level, scale=scale)
        reports = {"ratings": agreement.agreement_report(ratings, level=args.level, scale=scale,
                                                         n_bootstrap=args.bootstrap, seed=args.seed)}
    else:
        from curation_app.core.agreement.database import database_agreement
        from curation_app.database import session_scope

        with session_scope(ready_engine()) as session:
            reports = database_agreement(session, actor=actor(), fields=[args.field] if args.field else None,
                                         n_bootstrap=args.bootstrap, seed=args.seed)
    # One field or one file: its report at the top level, as the interface promises.
    single = args.ratings or args.field
    if args.json:
        print_json(next(iter(reports.values())) if single else reports)
        return 0
    for name, report in reports.items():
        print(f"{name}: {report['n_items']} items with 2+ ratings, {report['n_annotators']} annotators "
              f"({report['level']})")
        for measure in agreement.MEASURES:
            if measure not in report:
                continue
            value, interval = report[measure], report["ci95"].get(measure)
            shown = "n/a" if value is None else f"{value:.3f}"
            if interval:
                shown += f"  [{interval['low']:.3f}, {interval['high']:.3f}]"
            elif value is None:
                shown += f"  ({report['reasons'].get(measure, 'undefined')})"
            print(f"  {measure:<22} {shown}")
    return 0
