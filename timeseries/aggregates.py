"""``time_bucket`` aggregates of one metric by device, asset, area or sector, served from rollups.

Every source yields the same partial aggregates per device and rollup bucket — count, sum, min, max,
the last value and its time — and one final ``SELECT`` combines them into the requested buckets, so
the answer is the one ``time_bucket`` over raw readings would give. Sources by backend:

- ``continuous``: the continuous aggregate of the level (real-time: it adds not-yet-materialised
  data itself).
- ``tables``: the platform's rollup tables before their watermark, then the next finer rollup, then
  raw readings from the per-minute watermark on (what a continuous aggregate does internally).

Owns the SQL of aggregate queries; it never writes (``rollups`` keeps the rollups).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from hatang.db import fetch_id
from timeseries.buckets import Backend, Bucket, Level, align
from timeseries.errors import InvalidRangeError, UnknownMetricError
from timeseries.scope import SCOPE_FROM, SECTOR, Scope

GroupBy = Literal["device", "asset", "area", "sector"]
GROUP_BY: tuple[GroupBy, ...] = ("device", "asset", "area", "sector")

_GROUP_KEY: dict[GroupBy, sql.Composable] = {
    "device": sql.SQL("d.external_id"),
    "asset": sql.SQL("a.external_id"),
    "area": sql.SQL("(SELECT code FROM areas WHERE id = a.area_id)"),
    "sector": SECTOR,
}

# Raw readings folded into per-minute partials, from a lower bound on.
_RAW_PARTS = """
    SELECT time_bucket('1 minute', r.time) AS bucket, r.device_id, count(*) AS count, sum(r.value) AS sum,
           min(r.value) AS min, max(r.value) AS max, max(r.time) AS last_time,
           last(r.value, r.time) AS last_value
    FROM readings r
    WHERE r.metric_id = %(metric_id)s AND r.device_id IN (SELECT device_id FROM scope)
      AND r.time >= {lower} AND r.time < %(end)s
    GROUP BY 1, 2
"""
_ROLLUP_PARTS = """
    SELECT r.bucket, r.device_id, r.count, r.sum, r.min, r.max, r.last_time, r.last_value
    FROM {relation} r
    WHERE r.metric_id = %(metric_id)s AND r.device_id IN (SELECT device_id FROM scope)
      AND r.bucket >= {lower} AND r.bucket < {upper}
"""
_WATERMARKS = """
    SELECT coalesce((SELECT watermark FROM rollup_state WHERE level = '1m'), '-infinity') AS m,
           least(coalesce((SELECT watermark FROM rollup_state WHERE level = '1h'), '-infinity'),
                 coalesce((SELECT watermark FROM rollup_state WHERE level = '1m'), '-infinity')) AS h
"""


@dataclass(frozen=True, slots=True)
class AggregateRow:
    """One bucket of one group: the aggregates of every reading of the metric in it."""

    bucket: datetime
    group: str
    count: int
    sum: float
    avg: float
    min: float
    max: float
    last: float
    last_time: datetime


def relation(level: Level, backend: Backend) -> sql.Identifier:
    """The relation holding ``level``'s rollup on ``backend``."""
    return sql.Identifier(f"readings_{level}_cagg" if backend == "continuous" else f"readings_{level}")


def _parts(level: Level, backend: Backend) -> sql.Composable:
    if backend == "continuous":
        return sql.SQL(_ROLLUP_PARTS).format(
            relation=relation(level, backend), lower=sql.SQL("%(start)s"), upper=sql.SQL("%(end)s")
        )
    raw = sql.SQL(_RAW_PARTS).format(lower=sql.SQL("greatest(%(start)s, (SELECT m FROM wm))"))
    minute = sql.SQL(_ROLLUP_PARTS).format(
        relation=relation("1m", backend),
        lower=sql.SQL("%(start)s") if level == "1m" else sql.SQL("greatest(%(start)s, (SELECT h FROM wm))"),
        upper=sql.SQL("least(%(end)s, (SELECT m FROM wm))"),
    )
    branches: list[sql.Composable] = [minute, raw]
    if level == "1h":
        hour = sql.SQL(_ROLLUP_PARTS).format(
            relation=relation("1h", backend),
            lower=sql.SQL("%(start)s"),
            upper=sql.SQL("least(%(end)s, (SELECT h FROM wm))"),
        )
        branches.insert(0, hour)
    return sql.SQL(" UNION ALL ").join(branches)


def aggregate_query(
    *,
    metric_id: int,
    group_by: GroupBy,
    bucket: Bucket,
    start: datetime,
    end: datetime,
    scope: Scope,
    origin: datetime,
    backend: Backend,
    limit: int,
) -> tuple[sql.Composed, dict[str, Any]]:
    """The SQL and parameters of an aggregate over the whole buckets covering ``[start, end)``."""
    first, stop = align(start, end, bucket, origin)
    conditions, params = scope.conditions()
    query = sql.SQL(
        """
        WITH scope AS MATERIALIZED (
            SELECT d.id AS device_id, {key} AS grp FROM {scope_from} WHERE {conditions} AND {key} IS NOT NULL
        ), wm AS MATERIALIZED ({watermarks}),
        parts AS ({parts})
        SELECT time_bucket(%(width)s, p.bucket, %(origin)s) AS bucket, s.grp AS "group",
               sum(p.count)::bigint AS count, sum(p.sum) AS sum, sum(p.sum) / sum(p.count) AS avg,
               min(p.min) AS min, max(p.max) AS max,
               (array_agg(p.last_value ORDER BY p.last_time DESC, p.device_id DESC))[1] AS last,
               max(p.last_time) AS last_time
        FROM parts p JOIN scope s ON s.device_id = p.device_id
        GROUP BY 1, 2
        ORDER BY 2, 1
        LIMIT %(limit)s
        """
    ).format(
        key=_GROUP_KEY[group_by],
        scope_from=SCOPE_FROM,
        conditions=conditions,
        watermarks=sql.SQL(_WATERMARKS),
        parts=_parts(bucket.level, backend),
    )
    params.update(
        metric_id=metric_id, start=first, end=stop, width=bucket.width, origin=origin, limit=limit + 1
    )
    return query, params


async def metric_id(conn: psycopg.AsyncConnection[Any], name: str) -> int:
    """The id of the catalogue metric ``name``."""
    return await fetch_id(
        conn, "SELECT id FROM metrics WHERE name = %s", (name,), missing=UnknownMetricError(name)
    )


async def aggregate(
    conn: psycopg.AsyncConnection[Any],
    *,
    metric: str,
    group_by: GroupBy,
    bucket: Bucket,
    start: datetime,
    end: datetime,
    scope: Scope,
    origin: datetime,
    backend: Backend,
    max_rows: int,
) -> list[AggregateRow]:
    """Aggregates of ``metric`` per ``group_by`` and bucket; at most ``max_rows`` rows, else an error."""
    if end <= start:
        raise InvalidRangeError("end", end.isoformat(), "must be after start")
    query, params = aggregate_query(
        metric_id=await metric_id(conn, metric),
        group_by=group_by,
        bucket=bucket,
        start=start,
        end=end,
        scope=scope,
        origin=origin,
        backend=backend,
        limit=max_rows,
    )
    async with conn.cursor(row_factory=class_row(AggregateRow)) as cur:
        await cur.execute(query, params)
        rows = await cur.fetchall()
    if len(rows) > max_rows:
        raise InvalidRangeError(
            "bucket", bucket.label, f"more than {max_rows} rows: choose a wider bucket or a shorter range"
        )
    return rows
