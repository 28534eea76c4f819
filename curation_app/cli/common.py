"""What every command shares: the command-line actor, the checked engine, JSON and refused-row output."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from curation_app.core.errors import ImportRefused
from curation_app.database import check_schema, database_url, get_engine

# What `add_subparsers` returns; each command module adds its commands to it.
Commands = argparse._SubParsersAction


class CommandFailed(Exception):
    """A one-line reason for stderr and a non-zero exit."""


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def ready_engine():  # type: ignore[no-untyped-def]
    """The engine of CURATION_DATABASE_URL, refused unless the schema is current."""
    engine = get_engine(database_url())
    check_schema(engine)
    return engine


def actor():  # type: ignore[no-untyped-def]
    # auth pulls in the models; only commands that act on the database pay for it.
    from curation_app.core.auth import command_line_actor

    return command_line_actor()


def print_problems(refused: ImportRefused, limit: int = 50) -> None:
    """Each bad row of a refused file on stderr, with where it is."""
    from curation_app.core.import_report import problem_lines

    for line in problem_lines(refused, limit):
        print(line, file=sys.stderr)
