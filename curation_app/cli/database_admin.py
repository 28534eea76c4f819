"""`init`, `backup` and `demo`: create or upgrade the schema, copy the live database, load demo data."""

from __future__ import annotations

import argparse

from curation_app.cli.common import Commands, print_json
from curation_app.database import database_url, describe_url, get_engine, upgrade


def register_init(commands: Commands) -> None:
    commands.add_parser("init", help="create or upgrade the database schema").set_defaults(run=cmd_init)


def cmd_init(args: argparse.Namespace) -> int:
    upgrade(database_url())
    print(f"database ready at {describe_url(database_url())}")
    return 0


def register_backup(commands: Commands) -> None:
    backup = commands.add_parser("backup", help="a consistent copy of the live SQLite database")
    backup.add_argument("path")
    backup.set_defaults(run=cmd_backup)


def cmd_backup(args: argparse.Namespace) -> int:
    from curation_app.core.backup import backup_sqlite

    result = backup_sqlite(database_url(), args.path)
    print(f"consistent copy written to {result['path']} ({result['bytes']:,} bytes, {result['tables']} tables, "
          f"{result['rows']:,} rows, each table's count checked against the database); "
          f"restore by pointing CURATION_DATABASE_URL at it, or copying it over db/curation.sqlite")
    return 0


def register_demo(commands: Commands) -> None:
    demo = commands.add_parser("demo", help="load demo users and queries into a fresh database")
    demo.add_argument("--json", action="store_true")
    demo.set_defaults(run=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from curation_app.core.demo import load_demo

    upgrade(database_url())
    result = load_demo(engine=get_engine(database_url()))
    if args.json:
        print_json(result)
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
