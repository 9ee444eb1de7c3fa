"""Late readings mark their minutes for the rollups once per batch (migration 0600 dropped the trigger)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import orjson
import psycopg

from firmware_contracts import Limits, load_models
from ingest.batch import Batch, TopicLayout, intake, upserts
from ingest.delivery import Delivery
from ingest.devices import DeviceCache
from ingest.queries import load_devices, load_metric_ids
from ingest.sink import LATE_AFTER_S, write_batch
from tests.plugins.ingest import DEVICE_MOUNT, IngestFleet
from timeseries import LATE_AFTER


async def _write(db_url: str, prefix: str, messages: list[tuple[str, bytes]]) -> None:
    async with await psycopg.AsyncConnection.connect(db_url) as conn:
        cache = DeviceCache(models=load_models(), limits=Limits())
        cache.apply(await load_devices(conn), replace=True)
        metric_ids = await load_metric_ids(conn)
        batch = Batch()
        for i, (topic, payload) in enumerate(messages):
            intake(
                batch,
                Delivery(topic, payload, i + 1, 1, time.time(), 0),
                layout=TopicLayout(prefix, DEVICE_MOUNT),
                devices=cache,
                metric_ids=metric_ids,
            )
        assert batch.row_count == len(messages)
        await write_batch(conn, batch, upserts(batch), max_dead_payload=65536)


def _minute(t: int) -> datetime:
    return datetime.fromtimestamp(t - t % 60, UTC)


def test_the_late_window_is_the_rollups_own() -> None:
    assert LATE_AFTER.total_seconds() == LATE_AFTER_S


def test_only_minutes_of_late_readings_are_invalidated(ingest_fleet: IngestFleet) -> None:
    fleet = ingest_fleet
    now = int(time.time())
    # Two late readings in one minute (one invalidation), one an hour late, one fresh.
    base = now - now % 60 - 3600
    times = [base + 5, base + 50, now - 7200, now - 5]
    messages = [
        (fleet.topic(fleet.active[i]), orjson.dumps({"t": t, "psi": 40.0})) for i, t in enumerate(times)
    ]
    asyncio.run(_write(fleet.db_url, fleet.prefix, messages))
    with psycopg.connect(fleet.db_url) as conn:
        buckets = [row[0] for row in conn.execute("SELECT bucket FROM rollup_invalidations ORDER BY 1")]
        stored = conn.execute("SELECT count(*) FROM readings").fetchone()
    assert stored == (4,)  # positive: every reading landed, the fresh one too
    assert buckets == [_minute(now - 7200), _minute(base)]
