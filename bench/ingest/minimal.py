"""The ingest benchmark's fairer baseline: a *minimal correct ingester* on the same messages.

Owns :func:`minimal_drain`. What any correct ingester must do and nothing more: the worker's MQTT
adapter (:class:`ingest.mqtt.Consumer`, QoS 1, persistent session), orjson decoding of the two
payload shapes the benchmark publishes (a native single reading, a SenML pack), device id from the
topic through a dict, binary COPY into the same keyed ``readings`` hypertable in transactions of the
worker's batch size, and PUBACK only after the commit. No validation, units, dead letters,
``last_seen``, latest values or fan-out. Unlike the bare subscriber of ``ceilings`` it stores every
reading, so hatang's ratio to it is the price of hatang's own work alone.
"""

from __future__ import annotations

import time

import orjson
import psycopg

from bench.ingest.ceilings import COPY, ConsumerSpec, subscriber
from ingest import Delivery
from ingest.pgcopy import epoch_us, frame, pack_row


def _rows(delivery: Delivery, prefix_len: int, ids: dict[str, int], metric_id: int, out: bytearray) -> int:
    device_id = ids[delivery.topic[prefix_len:].split("/", 1)[0]]
    body = orjson.loads(delivery.payload)
    if isinstance(body, dict):
        out += pack_row(epoch_us(body["t"]), device_id, metric_id, float(body["psi"]))
        return 1
    base = float(body[0].get("bt", 0.0))
    for record in body:
        at = epoch_us(base + float(record.get("t", 0.0)))
        out += pack_row(at, device_id, metric_id, float(record["v"]))
    return len(body)


async def minimal_drain(
    spec: ConsumerSpec, url: str, *, expected: int, per_message: int, ids: dict[str, int], metric_id: int
) -> float:
    """Store ``expected`` readings from the session of ``spec``; seconds from CONNACK to the last commit.

    A transaction holds the worker's batch size in readings (``per_message`` readings a message).
    """
    mqtt_url, client_id, group, prefix, batch = spec
    prefix_len = len(f"{prefix}/devices/")
    stored = 0
    async with (
        await psycopg.AsyncConnection.connect(url) as conn,
        subscriber(mqtt_url, client_id, group, prefix, batch) as consumer,
    ):
        start = time.perf_counter()
        while stored < expected:
            await consumer.wait(0.2)
            taken = consumer.take(max(1, batch // per_message))
            if not taken:
                continue
            rows, count = bytearray(), 0
            for delivery in taken:
                count += _rows(delivery, prefix_len, ids, metric_id, rows)
            async with conn.transaction(), conn.cursor() as cur, cur.copy(COPY) as copy:
                await copy.write(frame(rows))
            consumer.ack(taken)  # after the commit
            stored += count
        return time.perf_counter() - start
