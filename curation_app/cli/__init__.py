"""The `python -m curation_app` command line: thin wrappers around curation_app.core.

Each command module defines its sub-parsers beside its handler and imports core modules inside
the handler, so `--help` and light commands start without pandas, scikit-learn or Streamlit.
"""

from __future__ import annotations

import argparse
import os
import sys

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from curation_app import __version__
from curation_app.cli import (
    agreement_report,
    database_admin,
    labelling,
    project_settings,
    queries,
    releases,
    reviews,
    sampling,
    suggestions,
    triage_flags,
    users,
    web,
)
from curation_app.cli.common import CommandFailed
from curation_app.core.errors import CurationError
from curation_app.database import DatabaseError, database_url, describe_url

# In the order `--help` lists them, which the README follows.
_REGISTRATIONS = (
    database_admin.register_init,
    queries.register_import,
    users.register_users,
    project_settings.register_settings,
    sampling.register_sample,
    labelling.register_assign,
    agreement_report.register_agreement,
    labelling.register_annotations,
    labelling.register_adjudicate,
    labelling.register_finals,
    reviews.register_reviews,
    releases.register_release,
    database_admin.register_backup,
    triage_flags.register_triage,
    triage_flags.register_flags,
    suggestions.register_suggest,
    database_admin.register_demo,
    web.register_serve,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m curation_app",
        description="Curate a code benchmark from raw user queries. The database is "
                    "CURATION_DATABASE_URL (default: SQLite under db/).")
    parser.add_argument("--version", action="version", version=f"curation_app {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in _REGISTRATIONS:
        register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.run(args)
        sys.stdout.flush()  # here, so a reader that went away (`| head`) is handled below, not at exit
        return code
    except BrokenPipeError:
        # The reader stopped reading: stop quietly, as shell tools do (128 + SIGPIPE).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
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


__all__ = ["build_parser", "main"]
