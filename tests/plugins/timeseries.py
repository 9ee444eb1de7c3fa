"""Pytest plugin: a small fleet with readings, for time-series queries, rollups, streams and the page.

``fleet`` loads the firmware contracts into the test's database and adds two organisations, four
areas (a province, two districts, a commune; reused where the packaged ones are loaded), three
assets in three sectors and five devices (one suspended, one never seen); ``Fleet.add_readings``
writes deterministic pseudo-random readings with COPY, the way ingest lands them, and keeps
``latest_readings`` and ``device_seen.last_seen`` in step.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from registry.contracts import sync_contracts

AREAS = (  # code, name, level, parent
    ("bac-ninh", "Bắc Ninh", "province", None),
    ("tu-son", "Từ Sơn", "district", "bac-ninh"),
    ("que-vo", "Quế Võ", "district", "bac-ninh"),
    ("dong-ngan", "Đông Ngàn", "commune", "tu-son"),
)
ASSETS = (  # external id, organisation, area, sector, kind, lat, lon
    ("plant-1", "org-a", "dong-ngan", "water", "treatment_plant", 21.118, 105.962),
    ("junction-1", "org-b", "que-vo", "transport", "junction", 21.089, 106.150),
    ("substation-1", "org-a", "tu-son", "energy", "substation", 21.123, 105.975),
)
DEVICES = (  # external id, model, organisation, asset, state
    ("wq-1", "sonde-wq6", "org-a", "plant-1", "active"),
    ("wq-2", "sonde-wq6", "org-a", "plant-1", "active"),
    ("loop-1", "loopcount-il200", "org-b", "junction-1", "active"),
    ("loop-2", "loopcount-il200", "org-b", "junction-1", "suspended"),
    ("wq-3", "sonde-wq6", "org-a", None, "active"),
)


@dataclass(slots=True)
class Fleet:
    """The arranged fleet: ids by external id, and a connection to add readings through."""

    conn: psycopg.Connection[Any]
    organisations: dict[str, int] = field(default_factory=dict)
    devices: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, int] = field(default_factory=dict)

    def add_readings(
        self,
        device: str,
        metric: str,
        times: Sequence[datetime],
        *,
        seed: int = 0,
        values: Sequence[float] | None = None,
    ) -> list[tuple[datetime, float]]:
        """COPY readings at ``times`` (values random unless given); update latest and last_seen."""
        rng = random.Random(f"{device}/{metric}/{seed}")
        rows = [
            (moment, values[i] if values is not None else round(rng.uniform(0, 100), 2))
            for i, moment in enumerate(times)
        ]
        device_id, metric_id = self.devices[device], self.metrics[metric]
        with self.conn.transaction():
            copy_sql = "COPY readings (time, device_id, metric_id, value) FROM STDIN"
            with self.conn.cursor().copy(copy_sql) as copy:
                for moment, value in rows:
                    copy.write_row((moment, device_id, metric_id, value))
            # What ingest.sink.write_batch does per batch: late minutes for the rollups.
            self.conn.execute(
                "INSERT INTO rollup_invalidations (bucket)"
                " SELECT DISTINCT date_trunc('minute', t) FROM unnest(%s::timestamptz[]) AS u(t)"
                " WHERE t < now() - interval '2 minutes' ON CONFLICT DO NOTHING",
                ([moment for moment, _ in rows],),
            )
            newest = max(rows)
            self.conn.execute(
                "INSERT INTO latest_readings (device_id, metric_id, time, value) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (device_id, metric_id)"
                " DO UPDATE SET time = EXCLUDED.time, value = EXCLUDED.value"
                " WHERE latest_readings.time < EXCLUDED.time",
                (device_id, metric_id, newest[0], newest[1]),
            )
            self.conn.execute(
                "INSERT INTO device_seen AS s (device_id, last_seen) VALUES (%s, %s)"
                " ON CONFLICT (device_id) DO UPDATE SET last_seen = EXCLUDED.last_seen"
                " WHERE s.last_seen < EXCLUDED.last_seen",
                (device_id, newest[0]),
            )
        return rows


def irregular_times(start: datetime, end: datetime, *, seed: int, mean_gap_s: float = 37.0) -> list[datetime]:
    """Times from ``start`` to before ``end`` with random gaps (sub-second parts included)."""
    rng = random.Random(seed)
    out, moment = [], start
    while moment < end:
        out.append(moment)
        moment += timedelta(seconds=rng.expovariate(1 / mean_gap_s) + 0.001)
    return out


def make_fleet(conn: psycopg.Connection[Any]) -> Fleet:
    """Arrange the fleet in ``conn``'s database (organisations are reused if they exist)."""
    sync_contracts(conn)
    fleet = Fleet(conn=conn)
    with conn.transaction():
        for slug in ("org-a", "org-b"):
            conn.execute(
                "INSERT INTO organisations (slug, name) VALUES (%s, %s) ON CONFLICT (slug) DO NOTHING",
                (slug, slug.upper()),
            )
        fleet.organisations = dict(conn.execute("SELECT slug, id FROM organisations").fetchall())
        for code, name, level, parent in AREAS:
            conn.execute(
                "INSERT INTO areas (code, name, level, parent_id)"
                " VALUES (%s, %s, %s, (SELECT id FROM areas WHERE code = %s)) ON CONFLICT (code) DO NOTHING",
                (code, name, level, parent),
            )
        for external_id, org, area, sector, kind, lat, lon in ASSETS:
            conn.execute(
                "INSERT INTO assets (external_id, organisation_id, area_id, sector, kind, name, lat, lon)"
                " VALUES (%s, %s, (SELECT id FROM areas WHERE code = %s), %s, %s, %s, %s, %s)",
                (external_id, fleet.organisations[org], area, sector, kind, external_id, lat, lon),
            )
        for external_id, model, org, asset, state in DEVICES:
            conn.execute(
                "INSERT INTO devices (external_id, model_id, organisation_id, asset_id, state)"
                " VALUES (%s, (SELECT id FROM device_models WHERE model = %s ORDER BY version DESC LIMIT 1),"
                " %s, (SELECT id FROM assets WHERE external_id = %s), %s)",
                (external_id, model, fleet.organisations[org], asset, state),
            )
    fleet.devices = dict(conn.execute("SELECT external_id, id FROM devices").fetchall())
    fleet.metrics = dict(conn.execute("SELECT name, id FROM metrics").fetchall())
    return fleet


@pytest.fixture
def fleet(db_url: str) -> Iterator[Fleet]:
    """The fleet in this test's database, with an autocommit connection to it."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield make_fleet(conn)
