"""The evaluator's reads: rules, devices, open alerts, and the committed data rules speak of.

Owns the SQL the evaluator runs besides the lifecycle writes (``alerts.lifecycle``): loading the
rule and device indexes, the open alerts it must not open again, readings to replay after a start or
a gap (``latest_readings`` and ``readings`` by time, bounded by the longest hold), ``last_seen`` for
silence (never a scan of ``readings``) and dead-letter counts for rejection rates. Values are bound.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from alerts.subjects import Device, Rule

_RULES = """
    SELECT id, organisation_id, kind, severity, scope_kind, scope_value, subject, metric, operator,
           low, high, clear_low, clear_high, duration_s, rate_per_hour
    FROM alert_rules WHERE enabled AND deleted_at IS NULL ORDER BY id
"""

# Every device that can deliver readings, with every key a scope can name. A device's sector and area
# are its asset's (its model's sector while fitted to no asset), as in timeseries.scope.
_DEVICES = """
    WITH RECURSIVE up (area_id, ancestor_id, code) AS (
        SELECT id, id, code FROM areas
        UNION ALL
        SELECT up.area_id, p.id, p.code FROM up JOIN areas c ON c.id = up.ancestor_id
        JOIN areas p ON p.id = c.parent_id
    ), chains AS (
        SELECT area_id, array_agg(code) AS codes FROM up GROUP BY area_id
    )
    SELECT d.id, d.external_id, d.organisation_id, o.slug, d.asset_id, a.external_id, dm.model,
           coalesce(a.sector, dm.sector), a.area_id, coalesce(ch.codes, '{}'),
           coalesce((dm.contract ->> 'reporting_interval_s')::float8, 300), a.lat, a.lon
    FROM devices d JOIN organisations o ON o.id = d.organisation_id
    JOIN device_models dm ON dm.id = d.model_id
    LEFT JOIN assets a ON a.id = d.asset_id
    LEFT JOIN chains ch ON ch.area_id = a.area_id
    WHERE d.state = 'active'
"""


async def load_rules(conn: psycopg.AsyncConnection[Any]) -> list[Rule]:
    """Every enabled rule."""
    cur = await conn.execute(_RULES)
    return [
        Rule(
            id=r[0],
            organisation_id=r[1],
            kind=r[2],
            severity=r[3],
            scope_kind=r[4],
            scope_value=r[5],
            subject=r[6],
            metric=r[7],
            operator=r[8],
            low=r[9],
            high=r[10],
            clear_low=r[11],
            clear_high=r[12],
            duration_s=r[13],
            rate_per_hour=r[14],
        )
        for r in await cur.fetchall()
    ]


async def load_devices(conn: psycopg.AsyncConnection[Any]) -> list[Device]:
    """Every active device with its scope keys."""
    cur = await conn.execute(_DEVICES)
    return [
        Device(
            id=r[0],
            external_id=r[1],
            organisation_id=r[2],
            organisation=r[3],
            asset_id=r[4],
            asset=r[5],
            model=r[6],
            sector=r[7],
            area_id=r[8],
            areas=tuple(r[9]),
            reporting_interval_s=float(r[10]),
            lat=r[11],
            lon=r[12],
        )
        for r in await cur.fetchall()
    ]


async def open_alerts(conn: psycopg.AsyncConnection[Any]) -> list[tuple[int, str, int]]:
    """(rule, subject kind, subject id) of every open or acknowledged alert."""
    cur = await conn.execute(
        "SELECT rule_id, subject_kind, subject_id FROM alerts WHERE state IN ('open', 'acknowledged')"
    )
    return [(int(r[0]), str(r[1]), int(r[2])) for r in await cur.fetchall()]


async def recent_readings(
    conn: psycopg.AsyncConnection[Any], *, metrics: list[str], since: datetime
) -> list[tuple[int, str, float, float]]:
    """(device, metric, epoch time, value) of every committed reading of ``metrics`` since ``since``.

    The replay after a start: bounded by the longest hold of any rule, it rebuilds each rule's breach
    state from what the database holds (chunk exclusion on ``time`` keeps it to the newest chunks).
    """
    cur = await conn.execute(
        """
        SELECT r.device_id, m.name, extract(epoch FROM r.time)::float8, r.value
        FROM readings r JOIN metrics m ON m.id = r.metric_id
        WHERE r.time > %s AND m.name = ANY(%s) ORDER BY r.time
        """,
        (since, metrics),
    )
    return [(int(r[0]), str(r[1]), float(r[2]), float(r[3])) for r in await cur.fetchall()]


async def latest(
    conn: psycopg.AsyncConnection[Any], *, metrics: list[str], since: datetime
) -> list[tuple[int, str, float, float]]:
    """(device, metric, epoch time, value) from ``latest_readings`` newer than ``since``: the catch-up
    after readings the fan-out (QoS 0) may have dropped."""
    cur = await conn.execute(
        """
        SELECT l.device_id, m.name, extract(epoch FROM l.time)::float8, l.value
        FROM latest_readings l JOIN metrics m ON m.id = l.metric_id
        WHERE l.time > %s AND m.name = ANY(%s) ORDER BY l.time
        """,
        (since, metrics),
    )
    return [(int(r[0]), str(r[1]), float(r[2]), float(r[3])) for r in await cur.fetchall()]


async def silent_candidates(
    conn: psycopg.AsyncConnection[Any], *, quiet_for_s: float, newest_within_s: float, slack_s: float
) -> tuple[float, dict[int, float]]:
    """The database's clock and, per active device quiet for ``quiet_for_s`` or more, when it was last
    heard (epoch seconds; docs/alerts.md, "Silence").

    That is its ``last_seen`` (``device_seen``, joined by device id; its creation, if it never
    delivered) or, where newer, its newest committed reading's time in ``latest_readings``, but
    never more than ``slack_s`` (ingest's ``last_seen`` granularity) past ``last_seen``: ingest
    writes ``last_seen`` only when it moved by that much, so nothing it received can be newer, and a
    device clock running ahead gains nothing.
    ``latest_readings`` is upserted on every batch, so the newest reading closes the granularity's
    gap. It is looked up (by its primary key's ``device_id``) only for devices whose ``last_seen`` is
    within ``newest_within_s``: one quiet for longer is silent whatever its readings say. A read of
    devices and device_seen, never ``readings``.
    """
    cur = await conn.execute(
        """
        SELECT extract(epoch FROM now())::float8, d.id,
               extract(epoch FROM greatest(heard, CASE
                   WHEN heard >= now() - make_interval(secs => %(within)s) THEN least(
                       (SELECT max(l.time) FROM latest_readings l WHERE l.device_id = d.id),
                       heard + make_interval(secs => %(slack)s))
               END))::float8
        FROM (SELECT 1) one
        LEFT JOIN (devices d LEFT JOIN device_seen ds ON ds.device_id = d.id
                   CROSS JOIN LATERAL (SELECT coalesce(ds.last_seen, d.created_at) AS heard) h)
            ON d.state = 'active' AND h.heard < now() - make_interval(secs => %(quiet)s)
        """,
        {"quiet": quiet_for_s, "within": newest_within_s, "slack": slack_s},
    )
    rows = await cur.fetchall()
    return float(rows[0][0]), {int(r[1]): float(r[2]) for r in rows if r[1] is not None}


async def rejections_last_hour(conn: psycopg.AsyncConnection[Any]) -> dict[int, int]:
    """Dead letters of the last hour per known device (the received_at index bounds the scan)."""
    cur = await conn.execute(
        """
        SELECT device_id, count(*) FROM dead_letters
        WHERE received_at > now() - interval '1 hour' AND device_id IS NOT NULL GROUP BY device_id
        """
    )
    return {int(r[0]): int(r[1]) for r in await cur.fetchall()}
