"""The SQL of readiness targets: list, insert, update (psycopg, async).

Owns the statements on ``readiness_targets``; the other readiness SQL is in ``queries``. Values are
always bound.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import psycopg

from registry.readiness.core import Target
from registry.readiness.errors import TargetExistsError, TargetNotFoundError
from registry.readiness.queries import Conn


async def targets(conn: Conn) -> list[Target]:
    """Every target, by sector and deadline."""
    cur = await conn.execute(
        "SELECT sector, share, deadline, source FROM readiness_targets ORDER BY sector, deadline"
    )
    return [Target(sector=s, share=v, deadline=d, source=src) for s, v, d, src in await cur.fetchall()]


async def insert_target(conn: Conn, *, target: Target) -> Target:
    """Record a new target; ``TargetExistsError`` when the sector already has one with that deadline."""
    cur = await conn.execute(
        """
        INSERT INTO readiness_targets (sector, share, deadline, source) VALUES (%s, %s, %s, %s)
        ON CONFLICT (sector, deadline) DO NOTHING
        RETURNING sector, share, deadline, source
        """,
        (target.sector, target.share, target.deadline, target.source),
    )
    row = await cur.fetchone()
    if row is None:
        raise TargetExistsError(target.sector, target.deadline)
    return Target(sector=row[0], share=row[1], deadline=row[2], source=row[3])


async def update_target(
    conn: Conn,
    *,
    sector: str,
    deadline: date,
    share: Decimal | None = None,
    new_deadline: date | None = None,
    source: str | None = None,
) -> Target:
    """Change the given fields of a target; ``TargetNotFoundError`` when there is none."""
    try:
        cur = await conn.execute(
            """
            UPDATE readiness_targets SET
                share = coalesce(%(share)s, share),
                deadline = coalesce(%(new_deadline)s, deadline),
                source = coalesce(%(source)s, source),
                updated_at = now()
            WHERE sector = %(sector)s AND deadline = %(deadline)s
            RETURNING sector, share, deadline, source
            """,
            {
                "sector": sector,
                "deadline": deadline,
                "share": share,
                "new_deadline": new_deadline,
                "source": source,
            },
        )
    except psycopg.errors.UniqueViolation as exc:
        raise TargetExistsError(sector, new_deadline or deadline) from exc
    row = await cur.fetchone()
    if row is None:
        raise TargetNotFoundError(sector, deadline)
    return Target(sector=row[0], share=row[1], deadline=row[2], source=row[3])
