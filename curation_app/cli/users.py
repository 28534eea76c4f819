"""`users`: add users, set passwords and roles, list them, and clear login blocks."""

from __future__ import annotations

import argparse
import getpass
import sys

from curation_app.cli.common import CommandFailed, Commands, actor, print_json, ready_engine
from curation_app.models import Role


def register_users(commands: Commands) -> None:
    roles = [role.value for role in Role]
    users = commands.add_parser("users", help="manage users")
    users_commands = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = users_commands.add_parser("add", help="add a user (password from stdin or a prompt)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=roles)
    add.add_argument("--no-password", action="store_true", help="an account that cannot log in")
    passwd = users_commands.add_parser("passwd", help="set a user's password (stdin or a prompt)")
    passwd.add_argument("name")
    passwd.set_defaults(no_password=False)
    role = users_commands.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=roles)
    for action, text in (("deactivate", "stop a user logging in and end their login sessions (their work stays)"),
                         ("activate", "let a deactivated user log in again")):
        users_commands.add_parser(action, help=text).add_argument("name")
    listing = users_commands.add_parser("list", help="list users")
    listing.add_argument("--json", action="store_true")
    blocked = users_commands.add_parser("blocked", help="list the names and clients blocked after failed logins")
    blocked.add_argument("--json", action="store_true")
    unblock = users_commands.add_parser(
        "unblock", help="let a blocked name (or, with --client, a client address) log in again at once; "
                        "its failed logins stay in the audit log")
    unblock.add_argument("name", nargs="?")
    unblock.add_argument("--client", metavar="ADDRESS", help="a client address as `users blocked` shows it")
    users.set_defaults(run=cmd_users)


def _read_password(args: argparse.Namespace) -> str | None:
    if args.no_password:
        return None
    if sys.stdin.isatty():
        first = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != first:
            raise CommandFailed("the two passwords differ")
        return first
    # Piped in: one line, so scripts can create accounts without a terminal.
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise CommandFailed("no password on standard input (or pass --no-password)")
    return line


def cmd_users(args: argparse.Namespace) -> int:
    from curation_app.core import auth
    from curation_app.database import read_scope, session_scope

    engine = ready_engine()
    if args.users_command == "add":
        password = _read_password(args)
        with session_scope(engine) as session:
            auth.create_user(session, actor=actor(), name=args.name, role=args.role, password=password)
        print(f"user {args.name} ({args.role}) created")
    elif args.users_command == "passwd":
        password = _read_password(args)
        if password is None:
            raise CommandFailed("a new password is needed")
        with session_scope(engine) as session:
            auth.set_password(session, actor=actor(), name=args.name, password=password)
        print(f"password of {args.name} changed")
    elif args.users_command == "role":
        with session_scope(engine) as session:
            auth.set_role(session, actor=actor(), name=args.name, role=args.role)
        print(f"{args.name} is now {args.role}")
    elif args.users_command in ("deactivate", "activate"):
        from curation_app.core import accounts

        with session_scope(engine) as session:
            done = accounts.set_active(session, actor=actor(), name=args.name,
                                       active=args.users_command == "activate")
        if done["active"]:
            print(f"{args.name} can log in again")
        else:
            print(f"{args.name} is deactivated: {done['login_sessions_ended']} login session(s) ended, "
                  f"{done['items_released']} held item(s) back in the pool; their work stays")
    elif args.users_command == "blocked":
        with read_scope(engine) as session:
            blocks = [{"kind": b.kind, "key": b.key, "failed_logins": b.unsuccessful,
                       "blocked_until": b.until.isoformat(timespec="seconds")}
                      for b in auth.login_blocks(session, actor=actor())]
        if args.json:
            print_json(blocks)
        elif not blocks:
            print("no name or client is blocked from logging in")
        else:
            for block in blocks:
                print(f"{block['kind']:<7} {block['key']:<40} {block['failed_logins']:>3} failed logins, "
                      f"blocked until {block['blocked_until']}")
    elif args.users_command == "unblock":
        with session_scope(engine) as session:
            cleared = auth.clear_login_block(session, actor=actor(), name=args.name, client=args.client)
        print(f"login block of {cleared.describe()} cleared ({cleared.unsuccessful} failed logins stay in the audit log)")
    else:
        with session_scope(engine) as session:
            users = [{"name": u.name, "role": u.role, "can_log_in": u.password_hash is not None,
                      "active": u.active} for u in auth.list_users(session)]
        if args.json:
            print_json(users)
        else:
            for user in users:
                print(f"{user['name']:<24} {user['role']:<10} "
                      f"{'' if user['can_log_in'] else '(no password)'}"
                      f"{'' if user['active'] else ' (deactivated)'}")
    return 0
