"""The alert process's one adapter over aiomqtt: the ingest fan-out of committed readings.

Owns :func:`receive`: connect with the service account, subscribe at QoS 0 to
``<prefix>/normalized/#`` (published by ingest after each commit), put each payload on a queue, and
reconnect with a back-off when the broker goes away. A gap is harmless: the evaluator catches up
from the database after every (re)connection. Every aiomqtt import of ``alerts`` is here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable

import aiomqtt

from ingest import parse_url

log = logging.getLogger("hatang.alerts")

# Messages aiomqtt may hold before the evaluator takes them; beyond that it drops (QoS 0 allows it,
# and the catch-up from latest_readings finds what was dropped).
_QUEUED = 10_000


async def receive(
    *,
    url: str,
    topic_filter: str,
    queue: asyncio.Queue[bytes],
    on_connected: Callable[[], None],
    retry_initial_s: float = 0.5,
    retry_max_s: float = 10.0,
) -> None:
    """Receive fan-out payloads into ``queue`` until cancelled; ``on_connected`` after each subscribe."""
    address = parse_url(url)
    client_id = f"hatang-alerts-{uuid.uuid4().hex[:12]}"  # every evaluator holds its own subscription
    delay = retry_initial_s
    while True:
        try:
            async with aiomqtt.Client(
                address.host,
                address.port,
                username=address.username,
                password=address.password,
                identifier=client_id,
                protocol=aiomqtt.ProtocolVersion.V5,
                clean_start=True,
                keepalive=30,
                max_queued_incoming_messages=_QUEUED,
                timeout=10,
            ) as client:
                await client.subscribe(topic_filter, qos=0)
                log.info("subscribed", extra={"filter": topic_filter})
                on_connected()
                delay = retry_initial_s
                async for message in client.messages:
                    payload = message.payload
                    if isinstance(payload, bytes | bytearray):
                        with contextlib.suppress(asyncio.QueueFull):  # caught up from the database
                            queue.put_nowait(bytes(payload))
        except aiomqtt.MqttError as exc:
            log.warning("fan-out lost the broker; retrying", extra={"error": str(exc), "retry_s": delay})
        await asyncio.sleep(delay)
        delay = min(delay * 2, retry_max_s)
