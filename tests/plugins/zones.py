"""Pytest plugin: zones with hand-placed devices and latency histograms (docs/readiness.md, zones).

``zone_world`` adds to the hand-computed province of ``tests.plugins.readiness`` (built relative to
the real clock) five zones, each showing one case of the rule, plus assets just outside a radius
and a suspended device inside one that must not count. ``EXPECTED_ZONES`` holds the verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from registry.readiness.latency import BUCKETS, histogram
from tests.plugins.readiness import World, build_world

# code -> (kind, lat, lon); radius 1,000 m each, 0.1 degree (~11 km) apart.
ZONES = {
    "z-ready": ("it_park", 21.10, 106.00),
    "z-slow": ("research_centre", 21.20, 106.00),
    "z-silent": ("high_tech_zone", 21.30, 106.00),
    "z-empty": ("research_centre", 21.40, 106.00),
    "z-unmeasured": ("industrial_park", 21.50, 106.00),
}
# code -> (ready, reason, active devices, fresh devices, messages, latency bound found)
EXPECTED_ZONES = {
    "z-ready": (True, None, 2, 2, 200, 0.25),
    "z-slow": (False, "slow", 1, 1, 100, 5.0),
    "z-silent": (False, "silent", 1, 0, 0, None),
    "z-empty": (False, "no_device", 0, 0, 0, None),
    "z-unmeasured": (False, "unmeasured", 1, 1, 0, None),
}
# The target counts high-tech zones, IT parks and research centres: 4 zones, 3 equipped, 1 ready.
EXPECTED_TOTAL = {"zones": 4, "equipped": 3, "ready": 1, "still_needed": 3, "status": "missed"}


@dataclass(frozen=True, slots=True)
class ZoneWorld:
    """The filled database and the clock the devices' reports are timed against."""

    world: World
    now: datetime


def _device(
    conn: psycopg.Connection[Any], *, asset: int, serial: str, state: str, seen: datetime | None
) -> int:
    row = conn.execute(
        """
        INSERT INTO devices (external_id, model_id, organisation_id, asset_id, state)
        SELECT %s, (SELECT min(id) FROM device_models), (SELECT min(id) FROM organisations), %s, %s
        RETURNING id
        """,
        (serial, asset, state),
    ).fetchone()
    assert row is not None
    if seen is not None:  # last_seen lives in device_seen (migration 1200)
        conn.execute("INSERT INTO device_seen (device_id, last_seen) VALUES (%s, %s)", (row[0], seen))
    return int(row[0])


def _asset(conn: psycopg.Connection[Any], *, name: str, lat: float, lon: float, area: int) -> int:
    row = conn.execute(
        """
        INSERT INTO assets (external_id, organisation_id, area_id, sector, kind, lat, lon, essential)
        VALUES (%s, (SELECT min(id) FROM organisations), %s, 'urban', 'site', %s, %s, false) RETURNING id
        """,
        (name, area, lat, lon),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _latency(conn: psycopg.Connection[Any], device: int, hour: datetime, values: list[float]) -> None:
    counts = list(histogram(values))
    assert len(counts) == BUCKETS
    conn.execute(
        "INSERT INTO device_latency (device_id, hour, counts, messages, sum_s) VALUES (%s, %s, %s, %s, %s)",
        (device, hour, counts, len(values), sum(values)),
    )


def build_zone_world(db_url: str, *, now: datetime) -> ZoneWorld:
    """The province of ``build_world`` plus the zones above, timed relative to ``now``."""
    world = build_world(db_url, now=now)
    fresh, silent = now - timedelta(hours=1), now - timedelta(days=3)
    hour = now.replace(minute=0, second=0, microsecond=0)
    area = world.areas["dong-ngan"]
    with psycopg.connect(db_url) as conn:
        zone_ids = {}
        for code, (kind, lat, lon) in ZONES.items():
            row = conn.execute(
                "INSERT INTO zones (code, name, name_en, kind, lat, lon, radius_m) "
                "VALUES (%s, %s, %s, %s, %s, %s, 1000) RETURNING id",
                (code, f"Khu {code}", f"Zone {code}", kind, lat, lon),
            ).fetchone()
            assert row is not None
            zone_ids[code] = row[0]
            conn.execute("INSERT INTO zone_areas (zone_id, area_id) VALUES (%s, %s)", (row[0], area))
        # z-ready: two fresh devices ~500 m apart inside, 95% of 200 deliveries within 0.25 s.
        a1 = _asset(conn, name="ZR1", lat=21.1045, lon=106.00, area=area)  # ~500 m north
        a2 = _asset(conn, name="ZR2", lat=21.10, lon=106.0040, area=area)  # ~415 m east
        d1 = _device(conn, asset=a1, serial="zr-1", state="active", seen=fresh)
        d2 = _device(conn, asset=a2, serial="zr-2", state="active", seen=fresh)
        _latency(conn, d1, hour, [0.2] * 95)
        _latency(conn, d2, hour - timedelta(hours=1), [0.1] * 95 + [3.0] * 10)
        # Deliveries older than the window do not count, however slow.
        _latency(conn, d1, hour - timedelta(days=2), [200.0] * 1000)
        # A suspended device inside, and a slow fresh device just outside (~1,110 m): neither counts.
        _device(conn, asset=a1, serial="zr-suspended", state="suspended", seen=fresh)
        outside = _asset(conn, name="ZR-out", lat=21.11, lon=106.00, area=area)
        _latency(
            conn, _device(conn, asset=outside, serial="zr-out", state="active", seen=fresh), hour, [99.0] * 50
        )
        # z-slow: 94 of 100 deliveries fast, 6 at 5 s: p95 lies in the 5 s bucket.
        asset = _asset(conn, name="ZS1", lat=21.20, lon=106.00, area=area)
        slow = _device(conn, asset=asset, serial="zs-1", state="active", seen=fresh)
        _latency(conn, slow, hour, [0.2] * 94 + [5.0] * 6)
        # z-silent: an active device that last reported three days ago.
        asset = _asset(conn, name="ZQ1", lat=21.30, lon=106.00, area=area)
        _device(conn, asset=asset, serial="zq-1", state="active", seen=silent)
        # z-unmeasured: a fresh device, but no latency recorded (not counted by the target anyway).
        asset = _asset(conn, name="ZU1", lat=21.50, lon=106.00, area=area)
        _device(conn, asset=asset, serial="zu-1", state="active", seen=fresh)
    return ZoneWorld(world=world, now=now)


@pytest.fixture
def zone_world(db_url: str) -> ZoneWorld:
    """The zones above in the test's own database, reports timed relative to the real clock."""
    return build_zone_world(db_url, now=datetime.now(UTC))
