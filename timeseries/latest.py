"""The latest value per device and metric, and the health of the fleet, from ``latest_readings`` and
``device_seen.last_seen`` (kept by ingest once per batch) — never a scan of the readings hypertable.

Health: a device is ``online`` when active and seen within the window, ``silent`` when active and
not (or never) seen within it, ``suspended``, ``provisioned`` (not yet active) — retired devices are
left out. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from timeseries.scope import SCOPE_FROM, SECTOR, Scope

HEALTH_STATES: tuple[str, ...] = ("online", "silent", "suspended", "provisioned")
_METRIC_SPAN = 32768  # metric ids are smallints: the page key is device_id * 2**15 + metric_id


@dataclass(frozen=True, slots=True)
class LatestValue:
    """The newest reading of one metric of one device, with where the device sits."""

    device: str
    metric: str
    unit: str
    time: datetime
    value: float
    sector: str
    area: str | None
    asset: str | None
    organisation: str
    key: int


@dataclass(frozen=True, slots=True)
class HealthCount:
    """Devices of one sector in one health state."""

    sector: str
    state: str
    devices: int


async def latest(
    conn: psycopg.AsyncConnection[Any],
    *,
    scope: Scope,
    metric: str | None,
    limit: int,
    after: int | None = None,
) -> list[LatestValue]:
    """Latest values in ``scope`` (of ``metric`` if given), ordered by device, up to ``limit``.

    The page key is ``device_id * 2**15 + metric_id`` (metric ids are smallints). Pages are keyset
    pages on ``(device_id, metric_id)``, the primary key of ``latest_readings``: each page reads
    from where the last one stopped, so the last page of the fleet costs what the first one does
    (ordering by the computed key, which no index serves, sorted the whole scope on every page;
    ``hatang bench city`` measures both).
    """
    conditions, params = scope.conditions()
    query = sql.SQL(
        """
        SELECT d.external_id AS device, m.name AS metric, m.unit, l.time, l.value, {sector} AS sector,
               (SELECT code FROM areas WHERE id = a.area_id) AS area, a.external_id AS asset,
               (SELECT slug FROM organisations WHERE id = d.organisation_id) AS organisation,
               (d.id * 32768 + l.metric_id) AS key
        FROM latest_readings l JOIN {scope_from} ON d.id = l.device_id JOIN metrics m ON m.id = l.metric_id
        WHERE {conditions} AND (%(metric)s::text IS NULL OR m.name = %(metric)s)
          AND (l.device_id, l.metric_id) > (%(after_device)s, %(after_metric)s)
        ORDER BY l.device_id, l.metric_id
        LIMIT %(limit)s
        """
    ).format(sector=SECTOR, scope_from=SCOPE_FROM, conditions=conditions)
    after_device, after_metric = (-1, -1) if after is None else divmod(after, _METRIC_SPAN)
    params.update(metric=metric, after_device=after_device, after_metric=after_metric, limit=limit)
    async with conn.cursor(row_factory=class_row(LatestValue)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def health(
    conn: psycopg.AsyncConnection[Any], *, scope: Scope, window: timedelta, now: datetime | None = None
) -> list[HealthCount]:
    """Devices per sector and health state (every sector and state present, zeros included)."""
    conditions, params = scope.conditions()
    query = sql.SQL(
        """
        WITH classified AS (
            SELECT {sector} AS sector,
                   CASE WHEN d.state = 'active' AND ds.last_seen >= coalesce(%(now)s, now()) - %(window)s
                            THEN 'online'
                        WHEN d.state = 'active' THEN 'silent'
                        ELSE d.state END AS state
            FROM {scope_from} LEFT JOIN device_seen ds ON ds.device_id = d.id
            WHERE {conditions} AND d.state <> 'retired'
        )
        SELECT s.code AS sector, h.state, count(c.sector)::int AS devices
        FROM sectors s CROSS JOIN unnest(%(states)s::text[]) AS h(state)
             LEFT JOIN classified c ON c.sector = s.code AND c.state = h.state
        GROUP BY s.code, s.position, h.state
        ORDER BY s.position, s.code, array_position(%(states)s::text[], h.state)
        """
    ).format(sector=SECTOR, scope_from=SCOPE_FROM, conditions=conditions)
    params.update(
        now=now,
        window=window,
        states=list(HEALTH_STATES),
    )
    async with conn.cursor(row_factory=class_row(HealthCount)) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()
