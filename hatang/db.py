"""What every package may need of the database: the TimescaleDB edition, the area-subtree query,
one id or one row by a query (the caller's error when there is none), ping.

The Apache-2 edition (what Debian ships) has hypertables, ``time_bucket`` and ``drop_chunks``; the
community ("timescale") edition adds compression, continuous aggregates and job policies. Code that
wants those asks ``timescale_info`` and takes its fallback on the Apache edition.

:func:`area_subtree` is the one query of "an area and every area under it" (the scope of a
readiness figure, of a time-series query and of a live stream); it lives here because the registry,
the time series and the API all scope by area and none of them may import another's internals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import class_row

Row = TypeVar("Row")

Edition = Literal["apache", "community", "unknown", "none"]


@dataclass(frozen=True, slots=True)
class TimescaleInfo:
    """TimescaleDB as this database sees it: installed here, or only available to install."""

    version: str | None
    license: str | None
    installed: bool

    @property
    def available(self) -> bool:
        """Whether the server can load the extension (preloaded library present)."""
        return self.version is not None

    @property
    def edition(self) -> Edition:
        """``community`` when the license is ``timescale``, ``apache`` for the Apache-2 build."""
        if self.version is None:
            return "none"
        # The license setting exists once the extension is created in a database.
        return {"timescale": "community", "apache": "apache"}.get(self.license or "", "unknown")  # type: ignore[return-value]

    @property
    def has_continuous_aggregates(self) -> bool:
        """Continuous aggregates, compression and job policies need the community edition."""
        return self.installed and self.edition == "community"


def timescale_info(conn: psycopg.Connection[Any]) -> TimescaleInfo:
    """Read the extension's version (installed, else available) and ``timescaledb.license``."""
    row = conn.execute(
        """
        SELECT coalesce(e.extversion, a.default_version), e.extversion IS NOT NULL,
               current_setting('timescaledb.license', true)
        FROM pg_available_extensions a LEFT JOIN pg_extension e ON e.extname = a.name
        WHERE a.name = 'timescaledb'
        """
    ).fetchone()
    if row is None:
        return TimescaleInfo(version=None, license=None, installed=False)
    return TimescaleInfo(version=row[0], license=row[2], installed=bool(row[1]))


AreaColumn = Literal["id", "code"]


def area_subtree(root: sql.Composable, column: AreaColumn = "id") -> sql.Composed:
    """A query of ``column`` of the areas that ``root`` picks and of every area under them.

    ``root`` is a condition on ``areas`` with bound parameters (``sql.SQL("code = %(area)s")``); the
    hierarchy is the current one (``areas.parent_id``). ``UNION`` keeps each area once, so the
    recursion ends even on a parent cycle (which the registry's level rule already forbids). Use it
    as a statement of its own or as a subquery (``... IN ({})``).
    """
    return sql.SQL(
        "WITH RECURSIVE subtree (id, code) AS ("
        " SELECT id, code FROM areas WHERE {root}"
        " UNION SELECT c.id, c.code FROM areas c JOIN subtree s ON c.parent_id = s.id)"
        " SELECT {column} FROM subtree"
    ).format(root=root, column=sql.Identifier(column))


async def fetch_id(
    conn: psycopg.AsyncConnection[Any], query: str, params: tuple[Any, ...], *, missing: Exception
) -> int:
    """The integer in the first column of the first row of ``query`` (an id); raises ``missing``
    (the caller's domain error) when there is no row."""
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    if row is None:
        raise missing
    return int(row[0])


async def fetch_row(
    conn: psycopg.AsyncConnection[Any],
    row_type: type[Row],
    query: str,
    params: tuple[Any, ...],
    *,
    missing: Exception,
) -> Row:
    """The first row of ``query`` as a ``row_type`` (its columns by name); raises ``missing`` (the
    caller's domain error) when there is no row."""
    async with conn.cursor(row_factory=class_row(row_type)) as cur:
        await cur.execute(query, params)
        row = await cur.fetchone()
    if row is None:
        raise missing
    return row


async def ping(conn: psycopg.AsyncConnection[Any]) -> None:
    """One round trip: raises ``psycopg.Error`` unless the database answers."""
    await conn.execute("SELECT 1")
