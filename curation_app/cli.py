"""The `python -m curation_app` command line: thin wrappers around curation_app.core."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from curation_app import __version__
from curation_app.core.errors import CurationError, ImportRefused
from curation_app.database import DatabaseError, check_schema, database_url, describe_url, get_engine, upgrade

APP_PATH = Path(__file__).with_name("app.py")


class CommandFailed(Exception):
    """A one-line reason for stderr and a non-zero exit."""


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _ready_engine():  # type: ignore[no-untyped-def]
    engine = get_engine(database_url())
    check_schema(engine)
    return engine


def _actor():  # type: ignore[no-untyped-def]
    from curation_app.core.auth import command_line_actor

    return command_line_actor()


def _print_problems(refused: ImportRefused, limit: int = 50) -> None:
    """Each bad row of a refused file on stderr, with where it is."""
    for where, problem in refused.problems[:limit]:
        print(f"{refused.file_name}: {where}: {problem}", file=sys.stderr)
    if refused.n_problems > limit:
        print(f"... and {refused.n_problems - limit} more", file=sys.stderr)


def cmd_init(args: argparse.Namespace) -> int:
    upgrade(database_url())
    print(f"database ready at {describe_url(database_url())}")
    return 0


def _progress_bar(path: Path) -> tuple[Callable[[int], None] | None, Any]:
    from tqdm import tqdm

    bar = tqdm(total=path.stat().st_size if path.is_file() else None, unit="B", unit_scale=True,
               desc=path.name, file=sys.stderr, disable=None, leave=False)
    return bar.update, bar


def cmd_import(args: argparse.Namespace) -> int:
    from curation_app.core.importer import import_answers, import_file, looks_like_answers

    engine = _ready_engine()
    path = Path(args.file)
    if args.answers or (path.is_file() and looks_like_answers(path)):
        summary: Any = import_answers(path, actor=_actor(), source=args.source, engine=engine)
        result = summary.as_dict()
        if args.json:
            _print_json(result)
        else:
            print(f"{path.name}: {result['read']} answers read, {result['attached']} attached as "
                  f"baseline answers, {result['unmatched']} with no matching query")
        return 0
    update, bar = _progress_bar(path)
    try:
        summary = import_file(path, actor=_actor(), source=args.source, text_field=args.text_field,
                              file_format=args.format, skip_bad_rows=args.skip_bad_rows,
                              engine=engine, on_progress=update)
    except ImportRefused as refused:
        bar.close()
        if args.json:
            _print_json({"read": refused.n_read, "imported": 0, "duplicates": 0, "errors": refused.n_problems,
                         "refused": True,
                         "problems": [{"location": w, "problem": p} for w, p in refused.problems]})
        else:
            _print_problems(refused)
        raise CommandFailed(
            f"{refused.file_name}: refused, {refused.n_problems} bad row(s); nothing was imported "
            "(fix them, or pass --skip-bad-rows to import the rest)") from None
    bar.close()
    result = summary.as_dict()
    if result["imported"] and not args.no_triage:  # new queries are checked at once, not only on demand
        try:
            report = _triage(engine)
        except CurationError as error:  # the import stands; triage can be run again on its own
            result["triage"] = {"error": str(error)}
        else:
            result["triage"] = {"duplicate_clusters": len(report["duplicate_clusters"]),
                                "with_secrets": len({s["id"] for s in report["secrets"]})}
    if args.json:
        _print_json(result)
        return 0
    print(f"{path.name} ({result['format']}, {result['shape']} shape) as source {result['source']!r}: "
          f"{result['read']} read, {result['imported']} imported, {result['duplicates']} duplicates, "
          f"{result['errors']} skipped")
    if "error" in result.get("triage", {}):
        print(f"  triage did not run ({result['triage']['error']}); run `python -m curation_app triage` later")
    elif "triage" in result:
        print(f"  triage: {result['triage']['duplicate_clusters']} near-duplicate cluster(s), "
              f"{result['triage']['with_secrets']} quer(y/ies) with secrets or personal data "
              "(details: python -m curation_app triage; leads decide on the Triage page)")
    for item in result["skipped"][:50]:
        print(f"  skipped {item['location']}: {item['problem']}")
    if result["renamed"]:
        print(f"  {len(result['renamed'])} id(s) were already taken and now carry the prefix "
              f"'{result['source']}:' (first: {result['renamed'][0]['id']} -> {result['renamed'][0]['now']})")
    return 0


def _read_password(args: argparse.Namespace) -> str | None:
    if args.no_password:
        return None
    if sys.stdin.isatty():
        first = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != first:
            raise CommandFailed("the two passwords differ")
        return first
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise CommandFailed("no password on standard input (or pass --no-password)")
    return line


def cmd_users(args: argparse.Namespace) -> int:
    from curation_app.core import auth
    from curation_app.database import session_scope

    engine = _ready_engine()
    if args.users_command == "add":
        password = _read_password(args)
        with session_scope(engine) as session:
            auth.create_user(session, actor=_actor(), name=args.name, role=args.role, password=password)
        print(f"user {args.name} ({args.role}) created")
    elif args.users_command == "passwd":
        password = _read_password(args)
        if password is None:
            raise CommandFailed("a new password is needed")
        with session_scope(engine) as session:
            auth.set_password(session, actor=_actor(), name=args.name, password=password)
        print(f"password of {args.name} changed")
    elif args.users_command == "role":
        with session_scope(engine) as session:
            auth.set_role(session, actor=_actor(), name=args.name, role=args.role)
        print(f"{args.name} is now {args.role}")
    else:
        with session_scope(engine) as session:
            users = [{"name": u.name, "role": u.role, "can_log_in": u.password_hash is not None,
                      "active": u.active} for u in auth.list_users(session)]
        if args.json:
            _print_json(users)
        else:
            for user in users:
                print(f"{user['name']:<24} {user['role']:<10} "
                      f"{'' if user['can_log_in'] else '(no password)'}")
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    from curation_app.core import settings
    from curation_app.database import session_scope

    engine = _ready_engine()
    with session_scope(engine) as session:
        if args.settings_command == "set":
            value = settings.parse_setting(args.key, args.value)
            settings.set_setting(session, actor=_actor(), key=args.key, value=value)
            print(f"{args.key} = {json.dumps(value) if args.key != 'taxonomy' else args.value}")
            return 0
        values = settings.all_settings(session)
    if args.json:
        _print_json(values)
    else:
        for key, value in values.items():
            shown = "(default CodeArena taxonomy)" if key == "taxonomy" and value is None else json.dumps(value)
            if key == "taxonomy" and value is not None:
                shown = f"{value.get('name', 'custom')} v{value.get('version', '?')}"
            print(f"{key:<20} {shown:<32} {settings.SETTINGS[key].help}")
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    from curation_app.core import queue, settings
    from curation_app.database import session_scope

    engine = _ready_engine()
    with session_scope(engine) as session:
        if args.overlap is not None:
            settings.set_setting(session, actor=_actor(), key="overlap", value=args.overlap)
        result = queue.assign(
            session, actor=_actor(),
            annotators=[n.strip() for n in args.annotators.split(",") if n.strip()] if args.annotators else None,
            public_ids=args.ids or None, sources=args.source or None, batch_ids=args.batch or None)
        summary = queue.pool_summary(session)
    if args.json:
        _print_json({**result, "open_slots": summary["open_slots"]})
    elif result["mode"] == "pool":
        print(f"{result['opened']} queries opened to every annotator ({result['queries']} selected, "
              f"overlap {result['overlap']}); {summary['open_slots']} slots open in all")
    else:
        print(f"{result['assigned']} assignments over {result['queries']} queries (overlap {result['overlap']}): "
              + ", ".join(f"{name} {n}" for name, n in result["per_annotator"].items()))
    return 0


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
        from curation_app.core.agreement_db import database_agreement
        from curation_app.database import session_scope

        with session_scope(_ready_engine()) as session:
            reports = database_agreement(session, actor=_actor(), fields=[args.field] if args.field else None,
                                         n_bootstrap=args.bootstrap, seed=args.seed)
    single = args.ratings or args.field
    if args.json:
        _print_json(next(iter(reports.values())) if single else reports)
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


def cmd_annotations(args: argparse.Namespace) -> int:
    from curation_app.core import annotation_io

    engine = _ready_engine()
    if args.annotations_command == "import":
        try:
            summary = annotation_io.import_annotations(args.file, actor=_actor(), engine=engine)
        except ImportRefused as refused:
            _print_problems(refused)
            raise CommandFailed(f"{refused.file_name}: refused, {refused.n_problems} bad row(s); "
                                "no annotation was imported") from None
        result = summary.as_dict()
        if args.json:
            _print_json(result)
        else:
            print(f"{result['read']} rows: {result['created']} new annotations, {result['updated']} updated, "
                  f"{result['unchanged']} unchanged; new annotators: {', '.join(result['new_annotators']) or 'none'}")
            if result["incomplete"]:
                print(f"{result['incomplete']} row(s) leave some labels empty: they count as missing ratings, and "
                      "the acceptance rule decides those fields from the other annotators or leaves them to a lead")
        return 0
    count = annotation_io.export_annotations(args.file, actor=_actor(), engine=engine, file_format=args.format)
    print(f"{count} annotations written to {args.file}")
    return 0


def cmd_adjudicate(args: argparse.Namespace) -> int:
    from curation_app.core import adjudicate
    from curation_app.database import session_scope

    with session_scope(_ready_engine()) as session:
        if args.auto:
            result: Any = adjudicate.apply_rule(session, actor=_actor())
        else:
            result = {"to_adjudicate": [
                {"id": item.public_id, "agreement": item.agreement, "conflicts": item.conflicts,
                 "annotators": item.annotators}
                for item in adjudicate.conflict_queue(session, actor=_actor(), field=args.field)]}
    if args.json:
        _print_json(result)
    elif args.auto:
        print(f"{result['finalised']} finalised ({result['unanimous']} unanimous, {result['majority']} majority); "
              f"{result['to_adjudicate']} left for a lead")
    else:
        for item in result["to_adjudicate"]:
            print(f"{item['id']:<40} agreement {item['agreement']:.2f}  conflicts: {', '.join(item['conflicts'])}")
        print(f"{len(result['to_adjudicate'])} item(s) to adjudicate")
    return 0


def _recorded_release_files(path: str) -> dict | None:
    """What this project's database recorded for the release at `path`; None when there is no
    database here (a release checked on another machine is verified against its manifest alone)."""
    from sqlalchemy.engine import make_url

    from curation_app.core import release
    from curation_app.database import make_engine, read_scope

    url = make_url(database_url())
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
        return None  # and no empty database file made by asking
    engine = make_engine(database_url(), single_connection=True, connect_timeout_s=10)
    try:
        with read_scope(engine) as session:  # reads only: never waits on a writer's lock
            return release.recorded_files(session, path)
    except (CurationError, DatabaseError, SQLAlchemyError) as error:
        # An old schema, a server that does not answer: the manifest alone decides.
        print(f"note: the database could not be read ({type(error).__name__}); "
              "checking against the manifest alone", file=sys.stderr)
        return None
    finally:
        engine.dispose()


def cmd_release(args: argparse.Namespace) -> int:
    from curation_app.core import release

    if args.release_command == "verify":
        problems = release.verify(args.path, recorded=_recorded_release_files(args.path))
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            raise CommandFailed(f"{args.path}: {len(problems)} file(s) differ from the manifest")
        print(f"{args.path}: every file matches the manifest")
        return 0
    if args.release_command == "diff":
        result = release.diff(args.path_a, args.path_b)
        if args.json:
            _print_json(result)
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
    from curation_app.core.taxonomy import project_taxonomy
    from curation_app.database import session_scope

    with session_scope(_ready_engine()) as session:
        if args.release_command == "list":
            rows = release.list_releases(session)
            if args.json:
                _print_json(rows)
            for row in [] if args.json else rows:
                print(f"{row['name']:<24} {row['version']:<10} {row['items']:>7} items  {row['sha256'][:16]}  {row['path']}")
            return 0
        spec = release.ReleaseSpec(
            size=args.size, seed=args.seed, categories=tuple(args.category or ()),
            subcategories=tuple(args.subcategory or ()), languages=tuple(args.language or ()),
            difficulties=tuple(args.difficulty or ()), batch_ids=tuple(args.batch or ()),
            sources=tuple(args.source or ()), mix=release.parse_mix(args.mix, project_taxonomy(session)))
        if args.release_command == "preview":
            result = release.preview(session, actor=_actor(), spec=spec, with_agreement=False)
            _print_json({"items": len(result.items), "report": result.report, "distributions": result.distributions})
            return 0
        created = release.create_release(session, actor=_actor(), name=args.name, version=args.version, spec=spec)
    if args.json:
        _print_json({k: created[k] for k in ("path", "items", "sha256", "problems")})
    else:
        print(f"release {args.name} {args.version}: {created['items']} items in {created['path']} "
              f"(data.jsonl sha256 {created['sha256']})")
        for problem in created["problems"]:
            print(f"  note: {problem}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from curation_app.core.backup import backup_sqlite

    result = backup_sqlite(database_url(), args.path)
    print(f"consistent copy written to {result['path']} ({result['bytes']:,} bytes); "
          f"restore by pointing CURATION_DATABASE_URL at it, or copying it over db/curation.sqlite")
    return 0


def _triage(engine: Any, **options: Any) -> dict:
    """Run triage over every query with progress bars; options go to `run_triage`."""
    from tqdm import tqdm

    from curation_app.core import triage_db

    bars = []

    def progress(stage: str, total: int):  # type: ignore[no-untyped-def]
        bar = tqdm(total=total, desc=stage, unit="queries", file=sys.stderr, disable=None, leave=False)
        bars.append(bar)
        return bar.update

    try:
        return triage_db.triage_beside_writers(actor=_actor(), engine=engine, progress=progress, **options)
    finally:
        for bar in bars:
            bar.close()


def cmd_triage(args: argparse.Namespace) -> int:
    report = _triage(_ready_engine(), benchmark_files=args.benchmark or [], ngram=args.ngram,
                     threshold=args.threshold)
    if args.json:
        _print_json(report)
        return 0
    print(f"{len(report['duplicate_clusters'])} near-duplicate cluster(s), "
          f"{len(report['contaminated'])} contaminated quer(y/ies), "
          f"{len({s['id'] for s in report['secrets']})} quer(y/ies) with secrets or personal data")
    for cluster in report["duplicate_clusters"][:20]:
        print(f"  duplicates: {', '.join(cluster)}")
    for hit in report["contaminated"][:20]:
        print(f"  contaminated: {hit['id']} ~ {hit['benchmark']} {hit['item']}: {hit['evidence'][:80]!r}")
    for hit in report["secrets"][:20]:
        print(f"  {hit['kind']}: {hit['id']} characters {hit['span'][0]}-{hit['span'][1]}")
    return 0


def cmd_flags(args: argparse.Namespace) -> int:
    """A lead's triage decisions: list flagged queries, confirm duplicates, clear, redact."""
    from curation_app.core import triage_db
    from curation_app.database import session_scope

    with session_scope(_ready_engine()) as session:
        if args.flags_command == "duplicates":
            triage_db.mark_duplicates(session, actor=_actor(), canonical=args.canonical, duplicates=args.duplicates)
            message = f"{', '.join(args.duplicates)} marked as duplicate(s) of {args.canonical}"
        elif args.flags_command == "clear":
            triage_db.clear_flags(session, actor=_actor(), public_id=args.id, reason=args.reason)
            message = f"{args.id} cleared: it may be released"
        elif args.flags_command == "redact":
            count = triage_db.redact_secrets(session, actor=_actor(), public_id=args.id)
            message = f"{args.id}: {count} secret(s) or personal data replaced by [REDACTED]"
        else:
            flagged = triage_db.flagged(session, actor=_actor())
            if args.json:
                _print_json(flagged)
                return 0
            for item in flagged:
                kinds = [k for k in ("possible_duplicate_of", "duplicate_of", "contamination", "secrets") if item.get(k)]
                state = "held back" if item.get("blocked") else ("cleared" if item.get("cleared_by") else "noted")
                print(f"{item['id']:<40} {state:<10} {', '.join(kinds)}")
            print(f"{len(flagged)} flagged quer(y/ies), {sum(1 for f in flagged if f.get('blocked'))} held back")
            return 0
    print(message)
    return 0


def cmd_suggest(args: argparse.Namespace) -> int:
    """The category model and the language detector: accuracy, and queue order by uncertainty."""
    from curation_app.core import suggest
    from curation_app.database import read_scope, session_scope

    engine = _ready_engine()
    if args.suggest_command == "accuracy":
        with read_scope(engine) as session:
            model = suggest.train(session, actor=_actor())
            result = {"model": {"items": model.n_training, "accuracy": model.accuracy},
                      "languages": suggest.language_suggestion_accuracy(session)}
        if args.json:
            _print_json(result)
        else:
            print(f"category model, trained on {model.n_training} final kept items (held-out accuracy):")
            for target, figures in model.accuracy.items():
                shown = "n/a (" + figures["reason"] + ")" if figures.get("top1") is None else \
                    f"top-1 {figures['top1']:.3f}, top-3 {figures['top3']:.3f} on {figures['n_test']} items"
                print(f"  {target:<12} {shown}")
            print(f"language detector: {json.dumps(result['languages'])}")
        return 0
    with session_scope(engine) as session:
        if args.suggest_command == "order":
            result = suggest.order_queue_by_uncertainty(session, actor=_actor())
            message = f"{result['ranked']} open item(s) ordered, most uncertain first"
        else:
            suggest.reset_queue_order(session, actor=_actor())
            result, message = {"ranked": 0}, "the shared pool is back in import order"
    if args.json:
        _print_json(result)
    else:
        print(message)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from curation_app.core.demo import load_demo

    upgrade(database_url())
    result = load_demo(engine=get_engine(database_url()))
    if args.json:
        _print_json(result)
        return 0
    if result["loaded"]:
        print(f"demo loaded into {describe_url(database_url())}: {result['queries']} queries, "
              f"{result['annotations']} annotations")
    else:
        print(f"demo data already present in {describe_url(database_url())}; nothing changed")
    print("log in as (name / password):")
    for user in result["users"]:
        print(f"  {user['name']:<8} {user['password']:<18} {user['role']}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    upgrade(database_url())
    command = [sys.executable, "-m", "streamlit", "run", str(APP_PATH),
               "--server.port", str(args.port), "--server.address", args.address,
               "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
               # the annotate page gives saved values both as defaults and in session state, on purpose
               "--global.disableWidgetStateDuplicationWarning", "true"]
    if args.headless or not sys.stdout.isatty():
        command += ["--server.headless", "true"]
    print(f"serving on http://{args.address}:{args.port} (database {describe_url(database_url())})",
          flush=True)
    return subprocess.call(command, env=os.environ.copy())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m curation_app",
        description="Curate a code benchmark from raw user queries. The database is "
                    "CURATION_DATABASE_URL (default: SQLite under db/).")
    parser.add_argument("--version", action="version", version=f"curation_app {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("init", help="create or upgrade the database schema").set_defaults(run=cmd_init)

    imp = commands.add_parser("import", help="import raw queries (JSONL, JSON, CSV, Parquet) or an answers file")
    imp.add_argument("file")
    imp.add_argument("--source", help="source name kept as provenance (default: the file name)")
    imp.add_argument("--text-field", help="the field holding the query text, when detection cannot decide")
    imp.add_argument("--format", choices=("jsonl", "json", "csv", "parquet"), help="override format detection")
    imp.add_argument("--no-triage", action="store_true",
                     help="skip the near-duplicate and secrets check that follows an import (run `triage` later)")
    imp.add_argument("--skip-bad-rows", action="store_true",
                     help="import the good rows and list the bad ones instead of refusing the file")
    imp.add_argument("--answers", action="store_true",
                     help="the file holds baseline answers keyed by query id (detected for Arena-Hard answers)")
    imp.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    imp.set_defaults(run=cmd_import)

    users = commands.add_parser("users", help="manage users")
    users_commands = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = users_commands.add_parser("add", help="add a user (password from stdin or a prompt)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("annotator", "lead", "admin"))
    add.add_argument("--no-password", action="store_true", help="an account that cannot log in")
    passwd = users_commands.add_parser("passwd", help="set a user's password (stdin or a prompt)")
    passwd.add_argument("name")
    passwd.set_defaults(no_password=False)
    role = users_commands.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=("annotator", "lead", "admin"))
    listing = users_commands.add_parser("list", help="list users")
    listing.add_argument("--json", action="store_true")
    users.set_defaults(run=cmd_users)

    settings = commands.add_parser("settings", help="show or set project settings")
    settings_commands = settings.add_subparsers(dest="settings_command", required=True, metavar="ACTION")
    setter = settings_commands.add_parser("set", help="set KEY to VALUE")
    setter.add_argument("key")
    setter.add_argument("value")
    show = settings_commands.add_parser("show", help="show every setting")
    show.add_argument("--json", action="store_true")
    settings.set_defaults(run=cmd_settings)

    assign = commands.add_parser("assign", help="release queries to annotators with overlap k")
    assign.add_argument("--annotators", help="comma-separated names; without it the queries open to everyone")
    assign.add_argument("--source", action="append", help="only queries from this source (repeatable)")
    assign.add_argument("--batch", action="append", type=int, help="only this import batch (repeatable)")
    assign.add_argument("--ids", nargs="+", help="only these query ids")
    assign.add_argument("--overlap", type=int, help="set the overlap setting first")
    assign.add_argument("--json", action="store_true")
    assign.set_defaults(run=cmd_assign)

    agree = commands.add_parser("agreement", help="inter-annotator agreement on the database or a ratings file")
    agree.add_argument("--field", help="one field (decision, reject_reason, category, subcategory, difficulty, "
                                       "languages); default: every field")
    agree.add_argument("--ratings", help="a long-format CSV with columns item,annotator,value instead of the database")
    agree.add_argument("--level", choices=("nominal", "ordinal", "interval", "ratio", "multilabel"))
    agree.add_argument("--scale", help="ordered values for an ordinal level, e.g. easy,medium,hard")
    agree.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95%% intervals")
    agree.add_argument("--seed", type=int, default=0)
    agree.add_argument("--json", action="store_true")
    agree.set_defaults(run=cmd_agreement)

    notes = commands.add_parser("annotations", help="import or export labels (CSV or JSONL)")
    notes_commands = notes.add_subparsers(dest="annotations_command", required=True, metavar="ACTION")
    notes_import = notes_commands.add_parser("import", help="load labels made elsewhere")
    notes_import.add_argument("file")
    notes_import.add_argument("--json", action="store_true")
    notes_export = notes_commands.add_parser("export", help="write every submitted annotation")
    notes_export.add_argument("file", help="a .csv or .jsonl path")
    notes_export.add_argument("--format", choices=("csv", "jsonl"))
    notes.set_defaults(run=cmd_annotations)

    adjudicate = commands.add_parser("adjudicate", help="apply the acceptance rule, or list the conflict queue")
    adjudicate.add_argument("--auto", action="store_true",
                            help="finalise every item the rule settles (min_annotations, keep_quorum)")
    adjudicate.add_argument("--field", help="list only items that conflict on this field")
    adjudicate.add_argument("--json", action="store_true")
    adjudicate.set_defaults(run=cmd_adjudicate)

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

    backup = commands.add_parser("backup", help="a consistent copy of the live SQLite database")
    backup.add_argument("path")
    backup.set_defaults(run=cmd_backup)

    triage = commands.add_parser("triage", help="near-duplicates, contamination and secrets over all queries")
    triage.add_argument("--benchmark", nargs="+", action="extend", metavar="FILE",
                        help="public benchmark files (JSONL or .jsonl.gz) to check for contamination")
    triage.add_argument("--ngram", type=int, help="word n-gram length for contamination (default: setting, 10)")
    triage.add_argument("--threshold", type=float, help="near-duplicate similarity (default: setting, 0.85)")
    triage.add_argument("--json", action="store_true")
    triage.set_defaults(run=cmd_triage)

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

    suggest = commands.add_parser("suggest", help="category model and language detector: accuracy, queue order")
    suggest_commands = suggest.add_subparsers(dest="suggest_command", required=True, metavar="ACTION")
    for action, text in (("accuracy", "held-out accuracy of the category model and the language detector"),
                         ("order", "put the most uncertain open items first in the shared pool"),
                         ("reset-order", "put the shared pool back in import order")):
        suggest_commands.add_parser(action, help=text).add_argument("--json", action="store_true")
    suggest.set_defaults(run=cmd_suggest)

    demo = commands.add_parser("demo", help="load demo users and queries into a fresh database")
    demo.add_argument("--json", action="store_true")
    demo.set_defaults(run=cmd_demo)

    serve = commands.add_parser("serve", help="start the web app")
    serve.add_argument("--port", type=int, default=8501)
    serve.add_argument("--address", default="localhost")
    serve.add_argument("--headless", action="store_true", help="do not open a browser")
    serve.set_defaults(run=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (CurationError, CommandFailed, DatabaseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        print(f"error: cannot use the database at {describe_url(database_url())}: {reason}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:  # anything else the database refused, in one line
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"error: the database refused the change, nothing was written: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; nothing was half-written", file=sys.stderr)
        return 130
