"""A batch that repeats stored readings (a redelivery) is written again whole, duplicates skipped.

``ingest.sink.write_batch`` copies readings straight into the transaction; when that trips the
unique key the transaction is rolled back and written again through the staging table. Everything
else of the batch (new readings, dead letters, latest values, ``last_seen``) lands exactly once.
"""

from __future__ import annotations

import asyncio
import time

import orjson
import psycopg

from firmware_contracts import Limits, load_models
from ingest.batch import Batch, TopicLayout, intake, upserts
from ingest.delivery import Delivery
from ingest.devices import DeviceCache
from ingest.queries import load_devices, load_metric_ids
from ingest.sink import Written, write_batch
from tests.plugins.ingest import DEVICE_MOUNT, IngestFleet


async def _write(db_url: str, prefix: str, messages: list[tuple[str, bytes]]) -> Written:
    async with await psycopg.AsyncConnection.connect(db_url) as conn:
        cache = DeviceCache(models=load_models(), limits=Limits())
        cache.apply(await load_devices(conn), replace=True)
        metric_ids = await load_metric_ids(conn)
        batch = Batch()
        layout = TopicLayout(prefix, DEVICE_MOUNT)
        for i, (topic, payload) in enumerate(messages):
            intake(batch, Delivery(topic, payload, i + 1, 1, time.time(), 0), layout=layout, devices=cache,
                   metric_ids=metric_ids)  # fmt: skip
        written = await write_batch(conn, batch, upserts(batch), max_dead_payload=65536)
        await conn.commit()
        return written


def test_a_redelivered_batch_stores_only_what_is_new(ingest_fleet: IngestFleet) -> None:
    fleet = ingest_fleet
    now = time.time()
    first, second = fleet.active[0], fleet.active[1]
    old = [(fleet.topic(first), orjson.dumps({"t": now - 20, "psi": 40.0}))]
    written = asyncio.run(_write(fleet.db_url, fleet.prefix, old))
    assert (written.inserted, written.fallback) == (1, False)
    again = [
        *old,  # the redelivered message
        (fleet.topic(second), orjson.dumps({"t": now - 10, "psi": 41.0})),  # a new one
        (fleet.topic(first), orjson.dumps({"t": now - 5, "psi": 42.0})),  # a newer one
        (fleet.topic(first), b"not json"),  # a dead letter
    ]
    written = asyncio.run(_write(fleet.db_url, fleet.prefix, again))
    assert (written.offered, written.inserted, written.duplicates, written.fallback) == (3, 2, 1, True)
    with psycopg.connect(fleet.db_url) as conn:
        rows = conn.execute(
            "SELECT d.external_id, r.value FROM readings r JOIN devices d ON d.id = r.device_id"
            " ORDER BY r.time"
        ).fetchall()
        latest = conn.execute(
            "SELECT d.external_id, l.value FROM latest_readings l JOIN devices d ON d.id = l.device_id"
            " ORDER BY 1"
        ).fetchall()
        dead = conn.execute("SELECT count(*) FROM dead_letters WHERE reason = 'malformed'").fetchone()
        seen = conn.execute(
            "SELECT count(*) FROM devices d JOIN device_seen s ON s.device_id = d.id"
            " WHERE d.external_id = ANY(%s)",
            ([first, second],),
        ).fetchone()
    bar = 0.0689475729  # per psi: the model sends psi, readings hold the catalogue's bar
    assert [(device, round(value / bar, 6)) for device, value in rows] == [
        (first, 40.0), (second, 41.0), (first, 42.0),
    ]  # fmt: skip - each exactly once
    newest = sorted([(first, 42.0), (second, 41.0)])
    assert [(device, round(value / bar, 6)) for device, value in latest] == newest
    assert dead == (1,)  # written once, by the retried transaction only
    assert seen == (2,)
