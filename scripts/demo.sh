#!/usr/bin/env bash
# Install the app into .venv, load the demo users and queries into SQLite under db/, and serve it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
.venv/bin/python -m curation_app demo
exec .venv/bin/python -m curation_app serve "$@"
