"""`serve`: the Streamlit web app on the same database."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from curation_app.cli.common import Commands
from curation_app.database import database_url, describe_url, upgrade

APP_PATH = Path(__file__).parent.with_name("app.py")


def register_serve(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="start the web app")
    serve.add_argument("--port", type=int, default=8501)
    serve.add_argument("--address", default="localhost")
    serve.add_argument("--headless", action="store_true", help="do not open a browser")
    serve.set_defaults(run=cmd_serve)


# How Streamlit serves this app (benchmarks serve their baseline page with the same options).
STREAMLIT_OPTIONS = [
    "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
    # the annotate page gives saved values both as defaults and in session state, on purpose
    "--global.disableWidgetStateDuplicationWarning", "true",
    # A full garbage collection after every script run took longer than the annotate page's run
    # itself in this process (Pygments, SQLAlchemy and scikit-learn loaded) and held back the page
    # it had drawn; Python's own collector still runs as objects pile up.
    "--runner.postScriptGC", "false",
    # A server's copy of the app is not edited while it runs: no polling of its source files.
    "--server.fileWatcherType", "none",
]


def cmd_serve(args: argparse.Namespace) -> int:
    upgrade(database_url())
    command = [sys.executable, "-m", "streamlit", "run", str(APP_PATH),
               "--server.port", str(args.port), "--server.address", args.address, *STREAMLIT_OPTIONS]
    if args.headless or not sys.stdout.isatty():
        command += ["--server.headless", "true"]
    print(f"serving on http://{args.address}:{args.port} (database {describe_url(database_url())})",
          flush=True)
    return subprocess.call(command, env=os.environ.copy())
