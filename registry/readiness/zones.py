"""Low-latency IoT readiness of the zones (the first clause of the plan's II.2 target): SQL and service.

Owns the queries that gather, per zone in service, its active devices (those attached to an asset
whose position lies within the zone's radius), how many reported within the freshness window, and
their merged delivery-latency histogram over the hours of that window (``device_latency``, kept by
ingest); the zone snapshots; and the service functions the API, the command line and the yearly
report call. The rule itself is ``registry.readiness.latency.judge``; the share, target status and
projection are ``core.assess`` with the zones counted by the target in place of assets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from hatang.settings import ReadinessSettings
from registry.readiness.core import Assessment, Counts, Point, Target, assess
from registry.readiness.errors import FutureDateError, SnapshotMissingError
from registry.readiness.latency import BUCKETS, ZoneFacts, ZoneReason, judge
from registry.readiness.queries import Conn
from registry.readiness.service import today, window

# The name zone figures carry where the core expects a sector (targets, assessments).
ZONES = "zones"

# Assets within a zone's radius: a bounding box first (plain comparisons), then the equirectangular
# distance, exact enough for a few kilometres. 111,320 m per degree of latitude.
_MEMBERS = """
    members AS (
        SELECT z.id AS zone_id, d.id AS device_id, ds.last_seen
        FROM zones z
        JOIN assets a
          ON a.lat BETWEEN z.lat - z.radius_m / 111320.0 AND z.lat + z.radius_m / 111320.0
         AND a.lon BETWEEN z.lon - z.radius_m / (111320.0 * cos(radians(z.lat)))
                       AND z.lon + z.radius_m / (111320.0 * cos(radians(z.lat)))
         AND 6371000 * sqrt(power(radians(a.lat - z.lat), 2)
                            + power(radians(a.lon - z.lon) * cos(radians(z.lat)), 2)) <= z.radius_m
        JOIN devices d ON d.asset_id = a.id AND d.state = 'active'
        LEFT JOIN device_seen ds ON ds.device_id = d.id
        WHERE z.retired_at IS NULL
    )
"""


@dataclass(frozen=True, slots=True)
class ZoneStatus:
    """One zone's readiness on a day."""

    code: str
    name: str
    name_en: str
    kind: str
    in_target: bool
    lat: float
    lon: float
    approximate: bool
    areas: list[str]
    active_devices: int
    fresh_devices: int
    messages: int
    latency_s: float | None
    ready: bool
    reason: ZoneReason | None


@dataclass(frozen=True, slots=True)
class ZoneReport:
    """Every zone's readiness on one day, and the target's assessment over the zones it counts."""

    as_of: date
    source: Literal["live", "snapshot"]
    freshness_window: timedelta
    latency_bound_s: float
    quantile: Decimal
    zones: list[ZoneStatus]
    assessment: Assessment


async def _zones(conn: Conn) -> list[tuple[int, str, str, str, str, bool, float, float, bool, list[str]]]:
    cur = await conn.execute(
        """
        SELECT z.id, z.code, z.name, z.name_en, z.kind, k.in_target, z.lat, z.lon, z.approximate,
               coalesce((SELECT array_agg(a.code ORDER BY a.code) FROM zone_areas za
                         JOIN areas a ON a.id = za.area_id WHERE za.zone_id = z.id), '{}')
        FROM zones z JOIN zone_kinds k ON k.code = z.kind
        WHERE z.retired_at IS NULL ORDER BY k.position, z.code
        """
    )
    return list(await cur.fetchall())


async def zone_facts(conn: Conn, *, since: datetime) -> dict[int, ZoneFacts]:
    """Per zone id in service: active devices, those reported since ``since``, merged histogram.

    The histogram covers the hours overlapping the window (hourly rows: up to an hour more).
    """
    cur = await conn.execute(
        "WITH " + _MEMBERS + " SELECT zone_id, count(*), count(*) FILTER (WHERE last_seen >= %(since)s)"
        " FROM members GROUP BY zone_id",
        {"since": since},
    )
    devices = {zone: (active, fresh) for zone, active, fresh in await cur.fetchall()}
    cur = await conn.execute(
        "WITH "
        + _MEMBERS
        + """
        SELECT m.zone_id, c.i, sum(c.n)
        FROM members m
        JOIN device_latency l ON l.device_id = m.device_id AND l.hour >= date_trunc('hour', %(since)s)
        CROSS JOIN LATERAL unnest(l.counts) WITH ORDINALITY AS c(n, i)
        GROUP BY m.zone_id, c.i
        """,
        {"since": since},
    )
    counts: dict[int, list[int]] = {}
    for zone, index, n in await cur.fetchall():
        if 1 <= index <= BUCKETS:
            counts.setdefault(zone, [0] * BUCKETS)[index - 1] = int(n)
    return {
        zone: ZoneFacts(
            active_devices=devices.get(zone, (0, 0))[0],
            fresh_devices=devices.get(zone, (0, 0))[1],
            counts=tuple(counts.get(zone, [0] * BUCKETS)),
        )
        for zone in devices.keys() | counts.keys()
    }


async def zone_targets(conn: Conn) -> list[Target]:
    """The zone targets (``zone_targets``), as core targets of the pseudo-sector ``zones``."""
    cur = await conn.execute("SELECT share, deadline, source FROM zone_targets ORDER BY deadline")
    return [Target(sector=ZONES, share=s, deadline=d, source=src) for s, d, src in await cur.fetchall()]


def _counts(zones: list[ZoneStatus]) -> Counts:
    counted = [z for z in zones if z.in_target]
    return Counts(
        essential=len(counted),
        equipped=sum(1 for z in counted if z.active_devices > 0),
        ready=sum(1 for z in counted if z.ready),
    )


async def series(conn: Conn, *, start: date, end: date) -> list[Point]:
    """Per snapshot day ``start``..``end``: zones counted by the target, those equipped and ready."""
    cur = await conn.execute(
        """
        SELECT s.day, count(*), count(*) FILTER (WHERE s.active_devices > 0), count(*) FILTER (WHERE s.ready)
        FROM zone_snapshots s JOIN zones z ON z.id = s.zone_id JOIN zone_kinds k ON k.code = z.kind
        WHERE k.in_target AND s.day BETWEEN %s AND %s
        GROUP BY s.day ORDER BY s.day
        """,
        (start, end),
    )
    return [
        Point(day=d, counts=Counts(essential=e, equipped=q, ready=r)) for d, e, q, r in await cur.fetchall()
    ]


async def _live(conn: Conn, *, settings: ReadinessSettings, now: datetime) -> list[ZoneStatus]:
    facts = await zone_facts(conn, since=now - window(settings))
    none = ZoneFacts(active_devices=0, fresh_devices=0, counts=(0,) * BUCKETS)
    found = []
    for zid, code, name, name_en, kind, in_target, lat, lon, approximate, areas in await _zones(conn):
        verdict = judge(
            facts.get(zid, none),
            bound_s=settings.zone_latency_bound_s,
            quantile=settings.zone_latency_quantile,
        )
        f = facts.get(zid, none)
        found.append(
            ZoneStatus(
                code=code, name=name, name_en=name_en, kind=kind, in_target=in_target, lat=lat, lon=lon,
                approximate=approximate, areas=list(areas), active_devices=f.active_devices,
                fresh_devices=f.fresh_devices, messages=verdict.messages, latency_s=verdict.latency_s,
                ready=verdict.ready, reason=verdict.reason,
            )
        )  # fmt: skip
    return found


async def _snapshot(conn: Conn, *, day: date) -> list[ZoneStatus]:
    cur = await conn.execute(
        """
        SELECT z.code, z.name, z.name_en, z.kind, k.in_target, z.lat, z.lon, z.approximate,
               coalesce((SELECT array_agg(a.code ORDER BY a.code) FROM zone_areas za
                         JOIN areas a ON a.id = za.area_id WHERE za.zone_id = z.id), '{}'),
               s.active_devices, s.fresh_devices, s.messages, s.latency_s, s.ready, s.reason
        FROM zone_snapshots s JOIN zones z ON z.id = s.zone_id JOIN zone_kinds k ON k.code = z.kind
        WHERE s.day = %s ORDER BY k.position, z.code
        """,
        (day,),
    )
    return [
        ZoneStatus(
            code=r[0], name=r[1], name_en=r[2], kind=r[3], in_target=r[4], lat=r[5], lon=r[6],
            approximate=r[7], areas=list(r[8]), active_devices=r[9], fresh_devices=r[10], messages=r[11],
            latency_s=r[12], ready=r[13], reason=None if r[14] is None else ZoneReason(r[14]),
        )
        for r in await cur.fetchall()
    ]  # fmt: skip


async def zone_readiness(
    conn: Conn, *, settings: ReadinessSettings, now: datetime, at: date | None = None
) -> ZoneReport:
    """Every zone's low-latency readiness: live for today, from the zone snapshot for a past day."""
    current = today(now=now, settings=settings)
    day = current if at is None else at
    if day > current:
        raise FutureDateError(day, today=current)
    if day == current:
        zones = await _live(conn, settings=settings, now=now)
        source: Literal["live", "snapshot"] = "live"
    else:
        taken = await conn.execute("SELECT EXISTS (SELECT 1 FROM zone_snapshots WHERE day = %s)", (day,))
        row = await taken.fetchone()
        if not (row and row[0]):
            raise SnapshotMissingError(day, area=None, organisation=None)
        zones = await _snapshot(conn, day=day)
        source = "snapshot"
    history = await series(conn, start=day - timedelta(days=settings.pace_window_days), end=day)
    assessment = assess(
        sector=ZONES,
        counts=_counts(zones),
        targets=await zone_targets(conn),
        as_of=day,
        history=[p for p in history if p.day < day],
        window_days=settings.pace_window_days,
    )
    return ZoneReport(
        as_of=day,
        source=source,
        freshness_window=window(settings),
        latency_bound_s=settings.zone_latency_bound_s,
        quantile=settings.zone_latency_quantile,
        zones=zones,
        assessment=assessment,
    )


async def take_snapshot(conn: Conn, *, settings: ReadinessSettings, now: datetime) -> int:
    """Replace the zone snapshot of the day of ``now``; drop latency rows past retention. Rows written."""
    day = today(now=now, settings=settings)
    zones = await _live(conn, settings=settings, now=now)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('hatang.readiness.zone_snapshot'))")
        await conn.execute("DELETE FROM zone_snapshots WHERE day = %s", (day,))
        async with conn.cursor() as cur:
            await cur.executemany(
                """
                INSERT INTO zone_snapshots (day, zone_id, active_devices, fresh_devices, messages, latency_s,
                    ready, reason, freshness_window, latency_bound_s, quantile, taken_at)
                SELECT %s, id, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s FROM zones WHERE code = %s
                """,
                [
                    (
                        day, z.active_devices, z.fresh_devices, z.messages,
                        None if z.latency_s is None or z.latency_s == float("inf") else z.latency_s,
                        z.ready, None if z.reason is None else z.reason.value, window(settings),
                        settings.zone_latency_bound_s, settings.zone_latency_quantile, now, z.code,
                    )
                    for z in zones
                ],
            )  # fmt: skip
        await conn.execute(
            "DELETE FROM device_latency WHERE hour < %s",
            (now - timedelta(days=settings.latency_retention_days),),
        )
    return len(zones)
