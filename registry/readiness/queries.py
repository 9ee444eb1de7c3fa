"""The SQL of readiness: live counts, snapshots, series, gaps and targets (psycopg, async).

Owns every statement readiness runs; values are always bound, optional filters are composed with
``psycopg.sql``. The live counts and the snapshots read the per-asset state ``readiness_assets``,
which triggers keep from the registry and from ``device_seen.last_seen`` (written by ingest from
valid readings only, migrations 1100 and 1200); the gaps read the devices and their ``device_seen``
rows themselves. Nothing here reads the ``readings`` hypertable. No arithmetic beyond counting
here: shares, status and projection are ``core``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from hatang.db import area_subtree, fetch_id
from registry.readiness.core import Counts
from registry.readiness.errors import (
    UnknownAreaError,
    UnknownOrganisationError,
)

Conn = psycopg.AsyncConnection[Any]

# Descendants of one area through the current hierarchy (areas.parent_id), the area included.
# Fetched first and passed as an array: the planner then sees how many assets the scope holds (a
# commune's few hundred are probed through an area index; the province's are scanned), which it
# cannot guess through a recursive CTE.
_SCOPE = area_subtree(sql.SQL("id = %s"))

# One row per essential asset in scope, read from the per-asset state the database keeps
# (``readiness_assets``, migration 1100; docs/readiness.md, "The per-asset state"): equipped, and
# ready when the newest last_seen of its active fitting devices is within the window. No join to
# devices: one narrow row per asset, whatever the fleet's size.
_PER_ASSET = sql.SQL(
    """
    per_asset AS (
        SELECT a.asset_id AS id, a.sector, a.area_id, a.organisation_id, a.demo, a.equipped,
               a.equipped AND coalesce(a.newest_seen >= %(since)s, false) AS ready
        FROM readiness_assets a
        WHERE a.essential {filters}
    )"""
)

# Why an essential asset is not ready, first cause first; NULL when it is ready. Silent or not is
# the per-asset state's verdict (its newest_seen, ``r``), so that the gaps are exactly the essential
# assets the live counts do not count as ready, granularity included.
_REASON = sql.SQL(
    """CASE
        WHEN f.devices = 0 THEN 'no_device'
        WHEN f.active = 0 THEN 'device_not_active'
        WHEN f.fitting = 0 THEN 'wrong_sector'
        WHEN f.last_seen IS NULL THEN 'never_reported'
        WHEN NOT coalesce(f.newest_seen >= %(since)s, false) THEN 'silent'
    END"""
)

# Per-asset device facts for the gaps, one index range of devices per asset.
_FACTS = sql.SQL(
    """
    CROSS JOIN LATERAL (
        SELECT count(*) AS devices,
               count(*) FILTER (WHERE d.state = 'active') AS active,
               count(*) FILTER (WHERE d.state = 'active' AND m.sector = a.sector) AS fitting,
               max(ds.last_seen) FILTER (WHERE d.state = 'active' AND m.sector = a.sector) AS last_seen,
               (SELECT r.newest_seen FROM readiness_assets r WHERE r.asset_id = a.id) AS newest_seen
        FROM devices d JOIN device_models m ON m.id = d.model_id
        LEFT JOIN device_seen ds ON ds.device_id = d.id
        WHERE d.asset_id = a.id
    ) f"""
)


@dataclass(frozen=True, slots=True)
class Gap:
    """An essential asset that is not ready, and why."""

    asset_id: int
    external_id: str
    name: str
    kind: str
    sector: str
    area: str
    organisation: str
    reason: str
    devices: int
    active_devices: int
    fitting_devices: int
    last_seen: datetime | None


def _filters(
    *, area_id: int | None, organisation_id: int | None, sector: str | None = None, include_demo: bool = True
) -> sql.Composed:
    parts: list[sql.Composable] = []
    if not include_demo:
        parts.append(sql.SQL(" AND NOT a.demo"))
    if area_id is not None:
        parts.append(sql.SQL(" AND a.area_id = ANY(%(area_ids)s)"))
    if organisation_id is not None:
        parts.append(sql.SQL(" AND a.organisation_id = %(organisation_id)s"))
    if sector is not None:
        parts.append(sql.SQL(" AND a.sector = %(sector)s"))
    return sql.Composed(parts)


async def _area_ids(conn: Conn, area_id: int | None) -> list[int] | None:
    """``area_id`` and its descendants, or None without an area filter."""
    if area_id is None:
        return None
    cur = await conn.execute(_SCOPE, (area_id,))
    return [row[0] for row in await cur.fetchall()]


async def descendants(conn: Conn, area_id: int) -> list[int]:
    """``area_id`` and every area under it through the current hierarchy."""
    found = await _area_ids(conn, area_id)
    return [] if found is None else found


async def area_id(conn: Conn, *, code: str) -> int:
    """The id of the area with ``code`` (retired areas included: their history still counts)."""
    return await fetch_id(
        conn, "SELECT id FROM areas WHERE code = %s", (code,), missing=UnknownAreaError(code)
    )


async def organisation_id(conn: Conn, *, slug: str) -> int:
    """The id of the organisation with ``slug``."""
    return await fetch_id(
        conn, "SELECT id FROM organisations WHERE slug = %s", (slug,), missing=UnknownOrganisationError(slug)
    )


async def live_counts(
    conn: Conn,
    *,
    since: datetime,
    area_id: int | None = None,
    organisation_id: int | None = None,
    include_demo: bool = True,
) -> dict[str, Counts]:
    """Essential, equipped and ready assets per sector now, in one aggregate query.

    ``since`` is the start of the freshness window; sectors without essential assets are absent.
    ``include_demo=False`` leaves demo assets out.
    """
    query = sql.SQL(
        "WITH {per_asset} SELECT sector, count(*), count(*) FILTER (WHERE equipped),"
        " count(*) FILTER (WHERE ready) FROM per_asset GROUP BY sector"
    ).format(
        per_asset=_PER_ASSET.format(
            filters=_filters(area_id=area_id, organisation_id=organisation_id, include_demo=include_demo)
        )
    )
    params = {
        "since": since,
        "area_ids": await _area_ids(conn, area_id),
        "organisation_id": organisation_id,
    }
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(query, params)
        rows = await cur.fetchall()
    return {sector: Counts(essential=e, equipped=q, ready=r) for sector, e, q, r in rows}


async def demo_counts(
    conn: Conn, *, since: datetime, area_id: int | None = None, organisation_id: int | None = None
) -> dict[str, Counts]:
    """Of the essential assets in scope, the demo ones per sector (essential, equipped, ready) now."""
    query = sql.SQL(
        "WITH {per_asset} SELECT sector, count(*), count(*) FILTER (WHERE equipped),"
        " count(*) FILTER (WHERE ready) FROM per_asset WHERE demo GROUP BY sector"
    ).format(per_asset=_PER_ASSET.format(filters=_filters(area_id=area_id, organisation_id=organisation_id)))
    params = {"since": since, "area_ids": await _area_ids(conn, area_id), "organisation_id": organisation_id}
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(query, params)
        rows = await cur.fetchall()
    return {sector: Counts(essential=e, equipped=q, ready=r) for sector, e, q, r in rows}


async def snapshot_taken(conn: Conn, *, day: date) -> bool:
    """Whether the snapshot job ran on ``day``."""
    cur = await conn.execute("SELECT EXISTS (SELECT 1 FROM readiness_snapshots WHERE day = %s)", (day,))
    row = await cur.fetchone()
    return bool(row and row[0])


async def series(
    conn: Conn,
    *,
    start: date,
    end: date,
    area_id: int | None = None,
    organisation_id: int | None = None,
    include_demo: bool = True,
) -> list[tuple[date, str, Counts]]:
    """Snapshot counts of one scope per day and sector, ``start``..``end`` inclusive, oldest first.

    ``include_demo=False`` reads the figures without demo assets (days snapshotted before they
    were kept apart are left out).
    """
    columns = "essential, equipped, ready" if include_demo else "real_essential, real_equipped, real_ready"
    query = sql.SQL(
        """
        SELECT day, sector, {columns} FROM readiness_snapshots
        WHERE coalesce(area_id, 0) = %(area)s AND coalesce(organisation_id, 0) = %(org)s
          AND day BETWEEN %(start)s AND %(end)s {known}
        ORDER BY day, sector
        """
    ).format(
        columns=sql.SQL(columns), known=sql.SQL("" if include_demo else "AND real_essential IS NOT NULL")
    )
    cur = await conn.execute(
        query, {"area": area_id or 0, "org": organisation_id or 0, "start": start, "end": end}
    )
    return [(d, s, Counts(essential=e, equipped=q, ready=r)) for d, s, e, q, r in await cur.fetchall()]


# The same three counts without demo assets, kept beside them in each snapshot row.
_REAL = sql.SQL(
    "count(*) FILTER (WHERE NOT demo), count(*) FILTER (WHERE equipped AND NOT demo),"
    " count(*) FILTER (WHERE ready AND NOT demo)"
)


async def take_snapshot(
    conn: Conn, *, day: date, since: datetime, window: timedelta, taken_at: datetime
) -> int:
    """Replace ``day``'s snapshot rows with the figures as of now; returns the rows written.

    Rows per sector for: every area (rolled up through the current hierarchy) by organisation and
    for all organisations, and the whole province by organisation and for all. Runs in one
    transaction, under an advisory lock so concurrent jobs take turns instead of interleaving.
    """
    query = sql.SQL(
        """
        WITH RECURSIVE up (area_id, ancestor_id, depth) AS (
            SELECT id, id, 0 FROM areas
            UNION ALL
            SELECT up.area_id, a.parent_id, up.depth + 1
            FROM up JOIN areas a ON a.id = up.ancestor_id
            WHERE a.parent_id IS NOT NULL AND up.depth < 32
        ),
        {per_asset}
        INSERT INTO readiness_snapshots
            (day, sector, area_id, organisation_id, essential, equipped, ready, freshness_window, taken_at,
             real_essential, real_equipped, real_ready)
        SELECT %(day)s, sector, ancestor_id, organisation_id, count(*),
               count(*) FILTER (WHERE equipped), count(*) FILTER (WHERE ready), %(window)s, %(taken_at)s,
               {real}
        FROM per_asset p JOIN up ON up.area_id = p.area_id
        GROUP BY GROUPING SETS ((sector, ancestor_id, organisation_id), (sector, ancestor_id))
        UNION ALL
        SELECT %(day)s, sector, NULL, organisation_id, count(*),
               count(*) FILTER (WHERE equipped), count(*) FILTER (WHERE ready), %(window)s, %(taken_at)s,
               {real}
        FROM per_asset
        GROUP BY GROUPING SETS ((sector, organisation_id), (sector))
        """
    ).format(per_asset=_PER_ASSET.format(filters=sql.SQL("")), real=_REAL)
    params = {"day": day, "since": since, "window": window, "taken_at": taken_at}
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('hatang.readiness.snapshot'))")
        await conn.execute("DELETE FROM readiness_snapshots WHERE day = %s", (day,))
        cur = await conn.execute(query, params)
        return cur.rowcount


async def gap_summary(
    conn: Conn,
    *,
    since: datetime,
    area_id: int | None = None,
    organisation_id: int | None = None,
    sector: str | None = None,
    include_demo: bool = True,
) -> dict[tuple[str, str], int]:
    """Essential assets not ready, counted by (reason, sector).

    One join of every asset in scope with its devices, grouped per asset (the page below probes
    per asset instead, as it stops after a page).
    """
    query = sql.SQL(
        """
        SELECT reason, sector, count(*) FROM (
            SELECT f.sector, {reason} AS reason FROM (
                SELECT a.sector,
                       count(d.id) AS devices,
                       count(d.id) FILTER (WHERE d.state = 'active') AS active,
                       count(d.id) FILTER (WHERE d.state = 'active' AND m.sector = a.sector) AS fitting,
                       max(ds.last_seen) FILTER (WHERE d.state = 'active' AND m.sector = a.sector)
                           AS last_seen,
                       r.newest_seen
                FROM assets a
                JOIN readiness_assets r ON r.asset_id = a.id
                LEFT JOIN (devices d JOIN device_models m ON m.id = d.model_id
                           LEFT JOIN device_seen ds ON ds.device_id = d.id) ON d.asset_id = a.id
                WHERE a.essential {filters}
                GROUP BY a.id, r.asset_id
            ) f
        ) g
        WHERE reason IS NOT NULL GROUP BY reason, sector
        """
    ).format(
        reason=_REASON,
        filters=_filters(
            area_id=area_id, organisation_id=organisation_id, sector=sector, include_demo=include_demo
        ),
    )
    params = {
        "since": since,
        "area_ids": await _area_ids(conn, area_id),
        "organisation_id": organisation_id,
        "sector": sector,
    }
    cur = await conn.execute(query, params)
    return {(reason, s): int(n) for reason, s, n in await cur.fetchall()}


async def gap_page(
    conn: Conn,
    *,
    since: datetime,
    limit: int,
    after: int | None = None,
    area_id: int | None = None,
    organisation_id: int | None = None,
    sector: str | None = None,
    reason: str | None = None,
    include_demo: bool = True,
) -> list[Gap]:
    """Up to ``limit`` essential assets not ready, by ascending asset id after ``after``."""
    extra: list[sql.Composable] = []
    if after is not None:
        extra.append(sql.SQL(" AND a.id > %(after)s"))
    query = sql.SQL(
        "SELECT * FROM ("
        " SELECT a.id, a.external_id, a.name, a.kind, a.sector, ar.code, o.slug, {reason} AS reason,"
        "        f.devices, f.active, f.fitting, f.last_seen"
        " FROM assets a JOIN areas ar ON ar.id = a.area_id JOIN organisations o ON o.id = a.organisation_id"
        " {facts}"
        " WHERE a.essential {filters}{extra}"
        " ORDER BY a.id) g"
        " WHERE {which} LIMIT %(limit)s"
    ).format(
        reason=_REASON,
        facts=_FACTS,
        filters=_filters(
            area_id=area_id, organisation_id=organisation_id, sector=sector, include_demo=include_demo
        ),
        extra=sql.Composed(extra),
        which=sql.SQL("reason = %(reason)s" if reason is not None else "reason IS NOT NULL"),
    )
    params = {
        "since": since,
        "limit": limit,
        "after": after,
        "area_ids": await _area_ids(conn, area_id),
        "organisation_id": organisation_id,
        "sector": sector,
        "reason": reason,
    }
    cur = await conn.execute(query, params)
    # The query's columns are Gap's fields, in order.
    return [Gap(*row) for row in await cur.fetchall()]
