"""One received MQTT message as the rest of ingest sees it: :class:`Delivery`, a plain value.

The MQTT adapter (``ingest.mqtt``) makes them; the pure core (``ingest.batch``) files them; the
adapter acknowledges them after commit. Nothing here imports an MQTT library.
"""

from __future__ import annotations

from typing import NamedTuple


class Delivery(NamedTuple):
    """One received message. ``session`` tells acknowledgements of an earlier connection apart.

    ``received_at`` is the worker's clock (epoch seconds) when the message arrived; ``mid`` and
    ``qos`` are what the acknowledgement needs (QoS 0 messages are never acknowledged).
    """

    topic: str
    payload: bytes
    mid: int
    qos: int
    received_at: float
    session: int
