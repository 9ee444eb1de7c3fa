"""Pytest plugin: the suite's own PostgreSQL+TimescaleDB and Mosquitto, and a clean database per test.

One stack per test session (so one per pytest-xdist worker: ``make test`` runs two), in a fresh
directory under /tmp on free ports (tests/plugins/ports.py), so the suite never collides with
``make run``, another checkout or its other worker; a test that stops, restarts or kills a service
touches only its own worker's. Each test that asks for ``db_url`` gets its own
database cloned from a migrated template; each asks for a unique MQTT topic prefix.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from hatang.migrate import migrate
from hatang.settings import Settings
from hatang.stack import Stack
from hatang.stack._proc import chown_to, is_root, run_as
from hatang.stack.postgres import SERVER_USER, LocalPostgres, bin_dir
from tests.plugins.ports import free_port

TEMPLATE = "hatang_template"
_counter = itertools.count()


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The suite's own running stack (not durable: fsync off)."""
    root = Path(tempfile.mkdtemp(prefix="hatang-test-"))
    root.chmod(0o755)  # the postgres OS user must reach its data directory inside
    test_stack = Stack.local(
        root, pg_port=free_port(), mqtt_port=free_port(), mqtt_service_port=free_port(), durable=False,
        extra_prefixes=("bench/+/city/v1", "test/+/city/v1"), mosquitto_binary=Settings().stack.mosquitto,
    )
    try:
        test_stack.up()
        assert test_stack.postgres is not None
        with psycopg.connect(test_stack.postgres.admin_url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
        for url in (test_stack.postgres.admin_url(TEMPLATE), test_stack.database_url):
            with psycopg.connect(url) as conn:
                migrate(conn)
        _seal_template(test_stack)
        yield test_stack
    finally:
        test_stack.down()
        shutil.rmtree(root, ignore_errors=True)


def _seal_template(test_stack: Stack) -> None:
    """Make the template a real template, so cloning it cannot race.

    TimescaleDB's per-database scheduler stays connected to the template; its loader stops it for
    ``CREATE DATABASE ... TEMPLATE`` but the launcher restarts it, so clones would fail now and then
    with "source database is being accessed by other users". The launcher skips databases that are
    templates and refuse connections; the scheduler already running is ended once.
    """
    assert test_stack.postgres is not None
    with psycopg.connect(test_stack.postgres.admin_url(), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{TEMPLATE}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (TEMPLATE,))


@pytest.fixture
def db_url(stack: Stack) -> Iterator[str]:
    """A fresh, migrated database of this test's own."""
    assert stack.postgres is not None
    name = f"test_{next(_counter)}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(stack.postgres.admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    try:
        yield stack.postgres.admin_url(name)
    finally:
        with psycopg.connect(stack.postgres.admin_url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix no other test uses."""
    return f"test/{uuid.uuid4().hex[:12]}/city/v1"


@pytest.fixture(scope="session")
def replica(stack: Stack) -> Iterator[LocalPostgres]:
    """A real streaming standby of the suite's PostgreSQL (``pg_basebackup -R``), for the tests that
    ask for it; it replicates every database, including those cloned after it started."""
    assert stack.postgres is not None
    primary = stack.postgres
    root = Path(tempfile.mkdtemp(prefix="hatang-replica-"))
    root.chmod(0o755)
    data = root / "data"
    data.mkdir(mode=0o700)
    chown_to(data, SERVER_USER)
    user = SERVER_USER if is_root() else None
    run_as(user, [str(bin_dir(primary.version) / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
                  "-U", "hatang", "-D", str(data), "-R", "-X", "stream", "-c", "fast"])  # fmt: skip
    standby = LocalPostgres(data, port=free_port(), version=primary.version, durable=False)
    try:
        standby.init()  # only rewrites its own settings (port, socket directory): the data is the backup
        standby.start()
        yield standby
    finally:
        standby.stop(mode="immediate")
        shutil.rmtree(root, ignore_errors=True)


def wait_replayed(primary_url: str, standby_url: str, *, timeout: float = 60) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    with psycopg.connect(primary_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    target = row[0]
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(standby_url, autocommit=True) as conn:
                done = conn.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
                ).fetchone()
            if done is not None and done[0]:
                return
        except psycopg.OperationalError:
            pass  # the database itself may not have been replayed yet
        assert time.monotonic() < deadline, f"the standby did not reach {target}"
        time.sleep(0.05)
