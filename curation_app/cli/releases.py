"""`release`: create, preview, verify, compare and list frozen releases."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from curation_app.cli.common import CommandFailed, Commands, actor, print_json, ready_engine
from curation_app.core.errors import CurationError
from curation_app.database import DatabaseError, database_url


def register_release(commands: Commands) -> None:
    releases = commands.add_parser("release", help="create, verify, compare and list frozen releases")
    release_commands = releases.add_subparsers(dest="release_command", required=True, metavar="ACTION")
    for action in ("create", "preview"):
        sub = release_commands.add_parser(action, help=f"{action} a release of final, kept items")
        if action == "create":
            sub.add_argument("name")
            sub.add_argument("--version", required=True)
        sub.add_argument("--size", type=int, help="a stratified sample of this many items (default: all)")
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--mix", help="difficulty shares, e.g. easy=23,medium=44,hard=33")
        sub.add_argument("--category-quota", action="append", metavar="NAME=N|P%",
                         help="items of a main category or subcategory: a count or a percentage of the size "
                              "(repeatable, one per name), e.g. 'Development and Programming=60%%'")
        sub.add_argument("--category", action="append", help="only this main category (repeatable)")
        sub.add_argument("--subcategory", action="append")
        sub.add_argument("--language", action="append")
        sub.add_argument("--difficulty", action="append")
        sub.add_argument("--batch", action="append", type=int)
        sub.add_argument("--source", action="append")
        sub.add_argument("--json", action="store_true")
    verify = release_commands.add_parser("verify", help="check every file against the manifest")
    verify.add_argument("path")
    compare = release_commands.add_parser("diff", help="items added, removed and changed between two releases")
    compare.add_argument("path_a")
    compare.add_argument("path_b")
    compare.add_argument("--json", action="store_true")
    listing = release_commands.add_parser("list", help="list releases")
    listing.add_argument("--json", action="store_true")
    releases.set_defaults(run=cmd_release)


_NO_DATABASE = object()


def _recorded_release_files(path: str) -> object:
    """What this project's database recorded for the release at `path` (None: nothing);
    _NO_DATABASE when there is no database here (a release checked on another machine is
    verified against its manifest alone)."""
    from sqlalchemy.engine import make_url

    from curation_app.core import release
    from curation_app.database import make_engine, read_scope

    url = make_url(database_url())
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
        return _NO_DATABASE  # and no empty database file made by asking
    engine = make_engine(database_url(), single_connection=True, connect_timeout_s=10)
    try:
        with read_scope(engine) as session:  # reads only: never waits on a writer's lock
            return release.recorded_files(session, path)
    except (CurationError, DatabaseError, SQLAlchemyError) as error:
        # An old schema, a server that does not answer: the manifest alone decides.
        print(f"note: the database could not be read ({type(error).__name__}); "
              "checking against the manifest alone", file=sys.stderr)
        return _NO_DATABASE
    finally:
        engine.dispose()


def cmd_release(args: argparse.Namespace) -> int:
    from curation_app.core import release

    if args.release_command == "verify":
        recorded = _recorded_release_files(args.path)
        problems = release.verify(args.path, recorded=None if recorded is _NO_DATABASE else recorded)
        if recorded is None and (Path(args.path) / "manifest.json").is_file():
            problems.append(f"{args.path}: this project's database records no such release (not at this path, "
                            "nor by the name and version its manifest gives): it was not frozen here, or its "
                            "freeze was cut short; `release list` shows the releases it knows")
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            raise CommandFailed(f"{args.path}: {len(problems)} problem(s); see above")
        print(f"{args.path}: every file matches the manifest")
        return 0
    if args.release_command == "diff":
        result = release.diff(args.path_a, args.path_b)
        if args.json:
            print_json(result)
        else:
            for item in result["added"]:
                print(f"+ {item}")
            for item in result["removed"]:
                print(f"- {item}")
            for item in result["changed"]:
                print(f"~ {item['id']}: {', '.join(item['fields'])}")
            print(f"{len(result['added'])} added, {len(result['removed'])} removed, "
                  f"{len(result['changed'])} changed, {result['unchanged']} unchanged")
        return 0
    from curation_app.core.project import load_project
    from curation_app.database import session_scope

    with session_scope(ready_engine()) as session:
        if args.release_command == "list":
            rows = release.list_releases(session)
            if args.json:
                print_json(rows)
            for row in [] if args.json else rows:
                print(f"{row['name']:<24} {row['version']:<10} {row['items']:>7} items  "
                      f"{row['sha256'][:16]}  {row['path']}")
            return 0
        spec = release.ReleaseSpec(
            size=args.size, seed=args.seed, categories=tuple(args.category or ()),
            subcategories=tuple(args.subcategory or ()), languages=tuple(args.language or ()),
            difficulties=tuple(args.difficulty or ()), batch_ids=tuple(args.batch or ()),
            sources=tuple(args.source or ()), mix=release.parse_mix(args.mix, load_project(session).taxonomy),
            category_quotas=release.parse_category_quotas(args.category_quota, load_project(session).taxonomy))
        if args.release_command == "preview":
            result = release.preview(session, actor=actor(), spec=spec, with_agreement=False)
            print_json({"items": len(result.items), "report": result.report, "distributions": result.distributions})
            return 0
        created = release.create_release(session, actor=actor(), name=args.name, version=args.version, spec=spec)
    if args.json:
        print_json({k: created[k] for k in ("path", "items", "sha256", "problems")})
    else:
        print(f"release {args.name} {args.version}: {created['items']} items in {created['path']} "
              f"(data.jsonl sha256 {created['sha256']})")
        for problem in created["problems"]:
            print(f"  note: {problem}")
    return 0
