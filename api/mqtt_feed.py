"""The API's one adapter over aiomqtt: a single QoS 0 subscription to the ingest fan-out topics.

Owns :class:`Feed`: it connects with the service account, subscribes to ``<prefix>/normalized/#``,
hands every message to a callback, reports connection changes, and reconnects with a back-off when
the broker goes away. It must not decode payloads or know about clients (``api.hub`` does).
Every aiomqtt import of ``api`` is in this module (aiomqtt 3 changes the API; STYLE.md).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

import aiomqtt

from ingest import parse_url

log = logging.getLogger("hatang.api.streams")

# Messages aiomqtt may hold before the hub takes them; beyond that it drops (QoS 0 allows it).
_QUEUED = 10_000


class Feed:
    """Subscribe to ``topic_filter`` on ``url`` and call ``on_message(topic, payload)`` for each message."""

    def __init__(
        self,
        *,
        url: str,
        topic_filter: str,
        on_message: Callable[[str, bytes], None],
        on_status: Callable[[bool], None],
        client_prefix: str = "hatang-api",
        retry_initial_s: float = 0.5,
        retry_max_s: float = 10.0,
    ) -> None:
        self._address = parse_url(url)
        self._filter = topic_filter
        self._on_message = on_message
        self._on_status = on_status
        # Unique per process: every API replica holds its own subscription (no shared group).
        self._client_id = f"{client_prefix}-{uuid.uuid4().hex[:12]}"
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s

    async def run(self) -> None:
        """Receive until cancelled; reconnect after every loss of the broker."""
        delay = self._retry_initial_s
        while True:
            try:
                async with aiomqtt.Client(
                    self._address.host,
                    self._address.port,
                    username=self._address.username,
                    password=self._address.password,
                    identifier=self._client_id,
                    protocol=aiomqtt.ProtocolVersion.V5,
                    clean_start=True,
                    keepalive=30,
                    max_queued_incoming_messages=_QUEUED,
                    timeout=10,
                ) as client:
                    await client.subscribe(self._filter, qos=0)
                    self._on_status(True)
                    delay = self._retry_initial_s
                    async for message in client.messages:
                        payload = message.payload
                        if isinstance(payload, bytes | bytearray):
                            self._on_message(message.topic.value, bytes(payload))
            except aiomqtt.MqttError as exc:
                log.warning("stream feed lost the broker: %s; retrying in %.1f s", exc, delay)
            self._on_status(False)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._retry_max_s)
