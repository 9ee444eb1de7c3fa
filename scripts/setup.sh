#!/usr/bin/env bash
# Idempotent set-up of everything hatang needs on a Debian machine: apt packages, TimescaleDB for the
# installed PostgreSQL, and a .venv with the project installed editable. A second run only checks.
# Runs as root, or as a user with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
say() { printf 'setup: %s\n' "$*"; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
APT_UPDATED=""
apt_install() {
    local missing=()
    for pkg in "$@"; do installed "$pkg" || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    if [ -z "$APT_UPDATED" ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Debian 13 ("trixie")'s source package $2 unpacked into $1/src (its .dsc matched by $3): trixie as a
# deb-src source for this step only, with its own list directory, so the machine's apt configuration
# is left exactly as it was.
trixie_source() {
    local build=$1 package=$2 dsc=$3
    rm -rf "$build" && mkdir -p "$build/lists/partial"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
        > "$build/trixie-src.list"
    local apt=(-o "Dir::Etc::SourceList=$build/trixie-src.list" -o Dir::Etc::SourceParts=/dev/null
               -o "Dir::State::Lists=$build/lists")
    say "fetching Debian 13's $package source package"
    # shellcheck disable=SC2086  # $dsc is a glob
    (cd "$build" && apt-get -qq "${apt[@]}" update \
        && apt-get -qq "${apt[@]}" source --download-only "$package" 2>/dev/null \
        && dpkg-source -x --no-check ./$dsc src >/dev/null) \
        || { say "could not fetch Debian 13's $package source package"; exit 1; }
}

# PostgreSQL server and Mosquitto (broker and clients); chromium for the dashboard's browser test.
apt_install postgresql mosquitto mosquitto-clients python3-venv ca-certificates chromium
PG_VERSION=${HATANG_STACK__PG_VERSION:-$(ls /usr/lib/postgresql | sort -n | tail -n 1)}
PG_CONFIG=/usr/lib/postgresql/$PG_VERSION/bin/pg_config
PG_LIBDIR=/usr/lib/postgresql/$PG_VERSION/lib

# TimescaleDB: a distro package where the apt sources have one, else Debian 13's source package
# built against this PostgreSQL's server headers (Apache-2 edition, as Debian ships it).
if [ ! -e "$PG_LIBDIR/timescaledb.so" ]; then
    if [ -z "$APT_UPDATED" ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
    if apt-cache show "postgresql-$PG_VERSION-timescaledb" >/dev/null 2>&1; then
        apt_install "postgresql-$PG_VERSION-timescaledb"
    else
        apt_install "postgresql-server-dev-$PG_VERSION" cmake gcc make libssl-dev dpkg-dev
        BUILD="$ROOT/.data/build/timescaledb"
        trixie_source "$BUILD" timescaledb "timescaledb_*.dsc"
        say "building TimescaleDB $(sed -n 's/^version = //p' "$BUILD/src/version.config") for PostgreSQL $PG_VERSION"
        (cd "$BUILD/src" && cmake -S . -B build -DPG_CONFIG="$PG_CONFIG" -DAPACHE_ONLY=ON \
            -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DUSE_TELEMETRY=OFF -DSEND_TELEMETRY_DEFAULT=OFF \
            -DWARNINGS_AS_ERRORS=OFF -DCMAKE_BUILD_TYPE=Release >"$BUILD/cmake.log" 2>&1 \
            && make -C build -j"$(nproc)" >"$BUILD/make.log" 2>&1 \
            && $SUDO make -C build install >"$BUILD/install.log" 2>&1) \
            || { say "TimescaleDB build failed; logs in $BUILD"; exit 1; }
    fi
    [ -e "$PG_LIBDIR/timescaledb.so" ] || { say "TimescaleDB did not install into $PG_LIBDIR"; exit 1; }
fi

# Mosquitto: Debian 13's source package (2.0.21) with two patches of ours, built once and installed as
# /usr/local/sbin/mosquitto (hatang's broker; HATANG_STACK__MOSQUITTO overrides). Debian's own
# /usr/sbin/mosquitto and its service stay as they are. Every 2.0.x (Debian 12's 2.0.11, Debian 13's
# 2.0.21, upstream's 2.0.22) can add one session to its session expiry list twice, which crashes it
# (use after free, double free) from a device action; scripts/mosquitto/session-expiry-once.patch
# keeps each session there at most once (docs/security.md, finding 0). Every 2.0 from 2.0.12 to 2.0.22
# also forgets an offline session's listener, so with per_listener_settings the ACL check denies what
# the session should queue (a restarting ingest worker lost its QoS 1 backlog);
# scripts/mosquitto/offline-sessions-keep-listener.patch keeps it (upstream fixed it in 2.0.23).
MOSQUITTO_VERSION=2.0.21
MOSQUITTO_BUILD_ID="$MOSQUITTO_VERSION+hatang.2"
MOSQUITTO_BIN=/usr/local/sbin/mosquitto
# (`mosquitto -h` exits non-zero: its output is taken whole, then searched.)
MOSQUITTO_HELP=$( { [ -x "$MOSQUITTO_BIN" ] && "$MOSQUITTO_BIN" -h 2>&1; } || true)
if [[ "$MOSQUITTO_HELP" != *"mosquitto version $MOSQUITTO_BUILD_ID"* ]]; then
    apt_install gcc make libssl-dev dpkg-dev
    BUILD="$ROOT/.data/build/mosquitto"
    trixie_source "$BUILD" mosquitto "mosquitto_${MOSQUITTO_VERSION}-*.dsc"
    say "building Mosquitto $MOSQUITTO_BUILD_ID (broker only)"
    # The broker alone: no documentation, no cJSON (only the dynamic-security plugin and the clients
    # need it); VERSION names the patched build in `mosquitto -h` and in `hatang stack status`.
    (cd "$BUILD/src" && cat "$ROOT"/scripts/mosquitto/*.patch | patch -p1 >"$BUILD/patch.log" \
        && make -C src -j"$(nproc)" WITH_DOCS=no WITH_CJSON=no VERSION="$MOSQUITTO_BUILD_ID" >"$BUILD/make.log" 2>&1 \
        && $SUDO install -m 0755 src/mosquitto "$MOSQUITTO_BIN") \
        || { say "Mosquitto build failed; logs in $BUILD"; exit 1; }
fi

# The project's virtualenv, from the hashed lock files (docs/deploy.md, "Reproducible builds"):
# every dependency at its locked version and hash, then the project itself (editable, no resolver).
# Reinstalled only when pyproject.toml or a lock file changed.
LOCK=requirements/dev.lock
if [ ! -x .venv/bin/python ] || [ ! -e .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ] \
        || [ "$LOCK" -nt .venv/.installed ] || [ requirements/build.lock -nt .venv/.installed ]; then
    say "installing the locked dependencies and the project into .venv"
    [ -x .venv/bin/python ] || python3 -m venv .venv
    PIP=(.venv/bin/python -m pip install -q --disable-pip-version-check)
    "${PIP[@]}" --require-hashes -r "$LOCK" -r requirements/build.lock
    "${PIP[@]}" --no-deps --no-build-isolation -e .
    touch .venv/.installed
fi
# Loud, never silent drift: pyproject.toml must ask for nothing the locks do not pin.
.venv/bin/python scripts/lockcheck.py || { say "the lock files are stale (see above): run \`make lock\`"; exit 1; }
