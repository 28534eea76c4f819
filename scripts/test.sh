#!/usr/bin/env bash
# Install everything the tests need (Python packages into .venv, Debian's chromium for the browser
# tests) and run the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
    else return 1
    fi
}

# Browser tests drive Debian's Chromium; Playwright's own browser download is not used.
if [ ! -x /usr/bin/chromium ]; then
    echo "installing Debian's chromium for the browser tests..." >&2
    as_root env DEBIAN_FRONTEND=noninteractive sh -c \
        'apt-get update -qq && apt-get install -y -qq chromium >/dev/null' \
        || echo "warning: could not install chromium; browser tests will skip (and fail under CI=true)" >&2
fi

# PostgreSQL tests use the local server; start the cluster if it is installed but down.
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
        as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start \
            || echo "warning: could not start PostgreSQL; its tests will skip (and fail under CI=true)" >&2
    fi
fi

exec .venv/bin/python -m pytest "$@"
