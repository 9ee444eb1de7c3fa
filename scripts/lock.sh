#!/usr/bin/env bash
# `make lock`: (re)generate the hashed lock files from pyproject.toml with uv. Run it after changing
# dependencies, commit the three files, and `make test`. Versions already locked are kept (uv prefers
# the existing output's pins), so only what changed moves; `make lock-upgrade` (this script with
# --upgrade) takes the newest versions pyproject.toml allows.
#   requirements/runtime.lock  what the image installs (pyproject's dependencies)
#   requirements/dev.lock      what .venv installs: runtime + the dev extra, the same versions
#   requirements/build.lock    what building the project's own wheel needs (hatchling)
# Universal resolution for CPython 3.11 (any OS and architecture: markers, every wheel's hash).
set -euo pipefail
cd "$(dirname "$0")/.."
UV=.venv/bin/uv
EXTRA=("$@")  # e.g. --upgrade
if [ ! -x "$UV" ]; then
    # Bootstrap: the uv version pinned in the current dev lock (any uv if there is none yet).
    [ -x .venv/bin/python ] || python3 -m venv .venv
    pinned=$(sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements/dev.lock 2>/dev/null || true)
    .venv/bin/python -m pip install -q --disable-pip-version-check "uv${pinned:+==$pinned}"
fi
compile() {
    "$UV" pip compile --quiet --universal --python-version 3.11 --generate-hashes \
        --custom-compile-command "make lock" "${EXTRA[@]}" "$@"
}
compile pyproject.toml -o requirements/runtime.lock
compile pyproject.toml --extra dev -c requirements/runtime.lock -o requirements/dev.lock
compile requirements/build.in -o requirements/build.lock
echo "lock: requirements/runtime.lock, dev.lock and build.lock written from pyproject.toml"
