"""The ingest benchmark's two ceilings: raw binary COPY and subscribers that do no work of hatang's.

Owns phases (a), (b) and (b'): COPY straight into ``readings``; the bare subscriber (the same MQTT
adapter as the worker, QoS 1, acks in batches, no decoding, no database); aiomqtt as shipped.
"""

from __future__ import annotations

import asyncio
import time

import aiomqtt
import psycopg
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest import Consumer, parse_url
from ingest.pgcopy import epoch_us, frame, pack_row

COPY = "COPY readings (time, device_id, metric_id, value) FROM STDIN (FORMAT BINARY)"

# (mqtt url, client id, shared-subscription group, topic prefix, batch size)
ConsumerSpec = tuple[str, str, str, str, int]


def raw_copy(url: str, readings: list[tuple[float, int, float]], batch: int, metric_id: int) -> float:
    """Phase (a): COPY ``readings`` in ingest-sized transactions; readings a second (then TRUNCATE)."""
    streams, current = [], bytearray()
    for i, (t, device_id, value) in enumerate(readings, start=1):
        current += pack_row(epoch_us(t), device_id, metric_id, value)
        if i % batch == 0:
            streams.append(frame(current))
            current = bytearray()
    if current:
        streams.append(frame(current))
    with psycopg.connect(url) as conn:
        start = time.perf_counter()
        for stream in streams:
            with conn.cursor() as cur, cur.copy(COPY) as copy:
                copy.write(stream)
            conn.commit()
        elapsed = time.perf_counter() - start
        conn.execute("TRUNCATE readings")
        conn.commit()
    return len(readings) / elapsed


def subscriber(mqtt_url: str, client_id: str, group: str, prefix: str, batch: int) -> Consumer:
    """The worker's MQTT adapter, subscribed to the telemetry of ``prefix`` in ``group``."""
    return Consumer(
        url=mqtt_url,
        client_id=client_id,
        topic_filter=f"$share/{group}/{prefix}/devices/+/telemetry",
        session_expiry_s=120,
        receive_maximum=20_000,
        queue_bound=20_000,
        subscribe_timeout_s=600,
    )


async def touch_session(spec: ConsumerSpec) -> None:
    """Subscribe once, so that the broker queues messages for this persistent session."""
    async with subscriber(*spec):
        await asyncio.sleep(0.5)  # the subscription is made; the session now queues for us


async def bare_drain(spec: ConsumerSpec, expected: int, batch: int) -> float:
    """Count and acknowledge ``expected`` messages; seconds from CONNACK to the last one."""
    count = 0
    async with subscriber(*spec) as consumer:
        start = time.perf_counter()
        pending = []
        while count < expected:
            await consumer.wait(1.0)
            taken = consumer.take(batch)
            pending += taken
            count += len(taken)
            if len(pending) >= batch or count >= expected:
                consumer.ack(pending)
                pending = []
        return time.perf_counter() - start


async def stock_drain(spec: ConsumerSpec, expected: int) -> float:
    """aiomqtt as shipped: its message iterator, QoS 1 acknowledged by the library on arrival,
    counting only; seconds from CONNACK to the last message. The session exists (subscribed)."""
    address = parse_url(spec[0])
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 120
    client = aiomqtt.Client(
        address.host,
        address.port,
        username=address.username,
        password=address.password,
        identifier=spec[1],
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=False,
        properties=properties,
    )
    count = 0
    async with client:
        start = time.perf_counter()
        async for _ in client.messages:
            count += 1
            if count >= expected:
                break
        return time.perf_counter() - start

