"""`settings`: show the project settings, or set one."""

from __future__ import annotations

import argparse
import json
import sys

from curation_app.cli.common import Commands, actor, print_json, ready_engine


def register_settings(commands: Commands) -> None:
    settings = commands.add_parser("settings", help="show or set project settings")
    settings_commands = settings.add_subparsers(dest="settings_command", required=True, metavar="ACTION")
    setter = settings_commands.add_parser("set", help="set KEY to VALUE")
    setter.add_argument("key")
    setter.add_argument("value")
    show = settings_commands.add_parser("show", help="show every setting")
    show.add_argument("--json", action="store_true")
    settings.set_defaults(run=cmd_settings)


def cmd_settings(args: argparse.Namespace) -> int:
    from curation_app.core import configure, settings
    from curation_app.database import session_scope

    engine = ready_engine()
    with session_scope(engine) as session:
        if args.settings_command == "set":
            value = settings.parse_setting(args.key, args.value)
            configure.change_setting(session, actor=actor(), key=args.key, value=value)
            print(f"{args.key} = {json.dumps(value) if args.key != 'taxonomy' else args.value}")
            # The same warnings the settings page shows: allowed, but some items could never be settled.
            for warning in configure.warnings_for(session):
                print(f"warning: {warning}", file=sys.stderr)
            return 0
        values = settings.all_settings(session)
    if args.json:
        print_json(values)
    else:
        for key, value in values.items():
            shown = "(default CodeArena taxonomy)" if key == "taxonomy" and value is None else json.dumps(value)
            if key == "taxonomy" and value is not None:
                shown = f"{value.get('name', 'custom')} v{value.get('version', '?')}"
            print(f"{key:<20} {shown:<32} {settings.SETTINGS[key].help}")
    return 0
