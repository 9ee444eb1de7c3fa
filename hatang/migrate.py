"""Ordered SQL migrations: ``hatang/migrations/NNNN_name.sql``, each applied once, in a transaction.

Applied versions are recorded in ``schema_migrations`` with a checksum; an applied file that has
since changed is an error, not a silent re-run. An advisory lock makes concurrent runs (several
replicas starting at once, a Helm hook) safe. Running it again changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

# Any constant works; it only has to be the same for every process migrating this database.
_LOCK_ID = 0x6861_7461_6E67


class MigrationError(RuntimeError):
    """A migration failed or an applied migration was edited afterwards."""

    def __init__(self, message: str, *, version: str) -> None:
        super().__init__(message)
        self.version = version


@dataclass(frozen=True, slots=True)
class Migration:
    """One SQL file."""

    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's text."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    """Every migration shipped with the package, in order."""
    found = []
    for entry in resources.files("hatang.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append(Migration(version=version, name=rest.removesuffix(".sql"), sql=entry.read_text()))
    return sorted(found, key=lambda m: m.version)


def migrate(
    conn: psycopg.Connection[Any], *, on_step: Callable[[Migration, bool], None] | None = None
) -> list[Migration]:
    """Apply every pending migration on ``conn`` (autocommit); returns those applied now.

    ``on_step(migration, applied_now)`` is called once per known migration, in order (progress).
    """
    conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
    try:
        conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version text PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        applied = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
        done = []
        for migration in available():
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version}_{migration.name} changed after it was applied; "
                        "add a new migration instead of editing an applied one",
                        version=migration.version,
                    )
                if on_step is not None:
                    on_step(migration, False)
                continue
            try:
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
            except psycopg.Error as exc:
                raise MigrationError(
                    f"migration {migration.version}_{migration.name} failed: {exc}", version=migration.version
                ) from exc
            done.append(migration)
            if on_step is not None:
                on_step(migration, True)
        return done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
