"""Pytest plugin: the suite's own PostgreSQL+TimescaleDB and Mosquitto, and a clean database per test.

One stack per test session, in a fresh directory under /tmp on free ports, so the suite never
collides with ``make run`` or another checkout. Each test that asks for ``db_url`` gets its own
database cloned from a migrated template; each asks for a unique MQTT topic prefix.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from hatang.migrate import migrate
from hatang.stack import Stack, free_port

TEMPLATE = "hatang_template"
_counter = itertools.count()


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The suite's own running stack (not durable: fsync off)."""
    root = Path(tempfile.mkdtemp(prefix="hatang-test-"))
    root.chmod(0o755)  # the postgres OS user must reach its data directory inside
    test_stack = Stack.local(
        root, pg_port=free_port(), mqtt_port=free_port(), mqtt_service_port=free_port(), durable=False,
        extra_prefixes=("bench/+/city/v1", "test/+/city/v1"),
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
