"""Acknowledgements leave in hand-over order even when the writers commit out of order.

Mosquitto walks a client's in-flight list from the oldest message to find the one a PUBACK names,
so acknowledging out of order made the broker's work per message double (docs/ingest.md, "Speed").
Here the database is real and the first batch is held up by a row lock; the object standing in for
the MQTT consumer only records, in order, what the writers acknowledge.
"""

from __future__ import annotations

import asyncio
import time
from typing import cast

import psycopg

from firmware_contracts import load_models
from hatang.settings import IngestSettings, Settings
from ingest.batch import Batch, intake, upserts
from ingest.delivery import Delivery
from ingest.metrics import IngestMetrics
from ingest.mqtt import Consumer
from ingest.runner import build
from tests.plugins.ingest import IngestFleet, single


class _AckRecorder:
    """The writer's side of :class:`ingest.mqtt.Consumer`: what was acknowledged, in order."""

    def __init__(self) -> None:
        self.acked: list[list[int]] = []

    def ack(self, deliveries: list[Delivery]) -> int:
        self.acked.append([d.mid for d in deliveries])
        return len(deliveries)


def _commits(metrics: IngestMetrics) -> float:
    """Batches the writers have committed (their commit-time histogram's count)."""
    return metrics.registry.get_sample_value("hatang_ingest_commit_seconds_count") or 0.0


async def _stored(db_url: str, device: str) -> int:
    async with await psycopg.AsyncConnection.connect(db_url) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM readings r JOIN devices d ON d.id = r.device_id WHERE d.external_id = %s",
            (device,),
        )
        row = await cur.fetchone()
        return int(row[0]) if row else 0


async def _scenario(fleet: IngestFleet) -> list[list[int]]:
    settings = Settings(topic_prefix=fleet.prefix, ingest=IngestSettings(fanout=False))
    metrics = IngestMetrics()
    worker = build(
        settings=settings,
        database_url=fleet.db_url,
        mqtt_url="mqtt://127.0.0.1:1",  # never connected: batches are handed over directly
        models=load_models(),
        metrics=metrics,
        stop=asyncio.Event(),
    )
    recorder = _AckRecorder()
    consumer = cast(Consumer, recorder)  # the writers only call ack() (fan-out is off)
    writers = [asyncio.create_task(writer.run()) for writer in worker.writers]
    try:
        async with await psycopg.AsyncConnection.connect(fleet.db_url, autocommit=True) as conn:
            await worker.registry.reload_all(conn)
        first, second = fleet.active[0], fleet.active[1]
        now = time.time()

        def batch_of(device: str, mid: int) -> Batch:
            batch = Batch()
            delivery = Delivery(fleet.topic(device), single(device, now - 1, 30.0), mid, 1, now, 0)
            registry = worker.registry
            layout = worker.builder.layout
            intake(batch, delivery, layout=layout, devices=registry.devices, metric_ids=registry.metric_ids)
            return batch

        # The chunk exists first: creating it in the first batch would hold up the second one too.
        warm = batch_of(fleet.active[2], 0)
        await worker.sinks[0].write(warm, upserts(warm))
        async with await psycopg.AsyncConnection.connect(fleet.db_url) as locker:
            await locker.execute("SELECT 1 FROM devices WHERE external_id = %s FOR UPDATE", (first,))
            await worker.builder.hand_over(batch_of(first, 1), consumer)  # waits for the lock (its FK check)
            await worker.builder.hand_over(batch_of(second, 2), consumer)
            for _ in range(200):  # 10 s at most
                if await _stored(fleet.db_url, second):
                    break
                await asyncio.sleep(0.05)
            assert await _stored(fleet.db_url, second) == 1  # committed before the first batch
            # Its writer observes the commit and then, with no await in between, acknowledges or
            # waits for its predecessor: once the histogram has it, an early ack would be recorded.
            for _ in range(200):  # 10 s at most
                if _commits(metrics) == 1:
                    break
                await asyncio.sleep(0.05)
            assert _commits(metrics) == 1
            assert recorder.acked == []  # ... and not acknowledged before it
            assert await _stored(fleet.db_url, first) == 0
            await locker.rollback()
        await asyncio.wait_for(worker.pipeline.handover.join(), timeout=10)
        assert await _stored(fleet.db_url, first) == 1
    finally:
        for task in writers:
            task.cancel()
        await asyncio.gather(*writers, return_exceptions=True)
        await worker.close()
    return recorder.acked


def test_acks_follow_the_handover_order_not_the_commit_order(ingest_fleet: IngestFleet) -> None:
    assert asyncio.run(_scenario(ingest_fleet)) == [[1], [2]]
