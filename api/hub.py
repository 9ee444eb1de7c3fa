"""The live-stream hub: fan-out messages from the broker to every stream client, filtered, bounded.

Owns :class:`Hub` (the clients of one API process and the dispatch of each broker message),
:class:`Subscriber` (one client's bounded queue) and :class:`StreamFilter`. Ingest publishes one
columnar message per sector and area of each committed batch (``ingest.batch.fanout``); the hub
parses it once, and for every subscriber whose filter takes it enqueues one *chunk* — the message
itself, spliced with its sector and area, or (for per-reading filters: device, metric, organisation)
the matching readings, computed once per distinct filter. Clients filtering on one device are indexed
by it: a message is scanned once for the devices that have clients, and each such client's chunk is
built from that device's readings only, so 200 clients watching 200 devices cost one pass over the
message, not 200 (``hatang bench streams``). Dispatch never awaits: a slow client only
fills its own queue, whose oldest chunks are dropped first, counted per client and in
``hatang_stream_dropped_total``.

It must not touch the broker (``api.mqtt_feed``), the database or the network to clients
(``api.routers.streams``). Each reading's organisation comes with the message (its ``organisation``
column); a message without that column (from an ingest worker older than the column) goes whole to
clients that may see every organisation and to no organisation-bound client.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from api.metrics import STREAM_CLIENTS, STREAM_DELIVERED, STREAM_DROPPED, STREAM_FEED_UP, STREAM_MESSAGES

log = logging.getLogger("hatang.api.streams")

#: Alert events held per client (the oldest go first beyond it).
ALERT_QUEUE = 200

class HubFullError(RuntimeError):
    """The process already serves its most stream clients."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"this API process serves at most {limit} stream clients")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """What one client receives; ``None`` means "any". ``areas`` holds an area and its descendants."""

    sector: str | None = None
    areas: frozenset[str] | None = None
    organisation_id: int | None = None
    device: str | None = None
    metric: str | None = None

    @property
    def per_reading(self) -> bool:
        """Whether the filter looks inside a message (else a message is taken or left whole)."""
        return self.organisation_id is not None or self.device is not None or self.metric is not None

    def takes_slice(self, sector: str, area: str) -> bool:
        """Whether readings of ``sector`` in ``area`` may pass."""
        return (self.sector is None or self.sector == sector) and (self.areas is None or area in self.areas)


@dataclass(slots=True, eq=False)  # identity: clients are kept in a set
class Subscriber:
    """One client's queue of chunks, bounded in readings; the oldest chunks go first when it is full."""

    filter: StreamFilter
    capacity: int
    chunks: deque[tuple[bytes, int]] = field(default_factory=deque)
    held: int = 0
    dropped: int = 0
    delivered: int = 0
    # Alert events (``api.alert_feed``): few, so a small queue of whole frames of their own.
    alerts: deque[bytes] = field(default_factory=lambda: deque(maxlen=ALERT_QUEUE))

    def offer(self, chunk: bytes, count: int) -> None:
        """Enqueue a chunk of ``count`` readings, dropping the oldest beyond capacity (never the newest)."""
        self.chunks.append((chunk, count))
        self.held += count
        while self.held > self.capacity and len(self.chunks) > 1:
            _, gone = self.chunks.popleft()
            self.held -= gone
            self.dropped += gone
            STREAM_DROPPED.inc(gone)
        STREAM_DELIVERED.inc(count)

    def take(self) -> list[bytes]:
        """Everything queued, oldest first; the queue is empty afterwards."""
        taken = [chunk for chunk, _ in self.chunks]
        self.delivered += self.held
        self.chunks.clear()
        self.held = 0
        return taken

    def frame(self, chunks: list[bytes]) -> bytes:
        """The JSON frame a client receives: its running drop count and the chunks."""
        return b'{"type":"readings","dropped":%d,"chunks":[%b]}' % (self.dropped, b",".join(chunks))


class Hub:
    """The stream clients of one API process and the dispatch of each fan-out message to them."""

    def __init__(self, *, prefix: str, queue_size: int, max_clients: int) -> None:
        self.topic_head = f"{prefix}/normalized/"
        self.queue_size = queue_size
        self.max_clients = max_clients
        self.subscribers: set[Subscriber] = set()
        # Clients with a device filter, by that device; the rest are offered every message.
        self.by_device: dict[str, set[Subscriber]] = {}
        self.others: set[Subscriber] = set()
        self.feed_connected = False
        self.alerts_following = False  # api.alert_feed is LISTENing for alert events
        self.status_changed = asyncio.Event()

    @property
    def topic_filter(self) -> str:
        """The one subscription this process holds."""
        return f"{self.topic_head}#"

    def subscribe(self, stream_filter: StreamFilter) -> Subscriber:
        """A new client's queue (``HubFullError`` at the limit)."""
        if len(self.subscribers) >= self.max_clients:
            raise HubFullError(self.max_clients)
        subscriber = Subscriber(filter=stream_filter, capacity=self.queue_size)
        self.subscribers.add(subscriber)
        if stream_filter.device is not None:
            self.by_device.setdefault(stream_filter.device, set()).add(subscriber)
        else:
            self.others.add(subscriber)
        STREAM_CLIENTS.set(len(self.subscribers))
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a client that has gone."""
        self.subscribers.discard(subscriber)
        self.others.discard(subscriber)
        device = subscriber.filter.device
        if device is not None and device in self.by_device:
            watchers = self.by_device[device]
            watchers.discard(subscriber)
            if not watchers:
                del self.by_device[device]
        STREAM_CLIENTS.set(len(self.subscribers))

    def set_feed(self, connected: bool) -> None:
        """Record whether the broker subscription is up (each client's sender tells its client)."""
        if connected != self.feed_connected:
            self.feed_connected = connected
            STREAM_FEED_UP.set(1 if connected else 0)

    def publish(self, topic: str, payload: bytes) -> None:
        """Dispatch one fan-out message to every subscriber it concerns (never awaits, never raises)."""
        if not topic.startswith(self.topic_head):
            STREAM_MESSAGES.labels("bad_topic").inc()
            return
        sector, _, area = topic[len(self.topic_head) :].partition("/")
        try:
            doc: dict[str, Any] = orjson.loads(payload)
            devices: list[str] = doc["device"]
            metrics: list[str] = doc["metric"]
            times: list[float] = doc["time"]
            values: list[float] = doc["value"]
            owners: list[int] | None = doc.get("organisation")  # absent from older workers' messages
            if not (len(devices) == len(metrics) == len(times) == len(values)) or payload[:1] != b"{":
                raise ValueError("columns of unequal length")
            if owners is not None and len(owners) != len(devices):
                raise ValueError("columns of unequal length")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            STREAM_MESSAGES.labels("malformed").inc()
            return
        STREAM_MESSAGES.labels("ok").inc()
        if not devices:
            return
        head = orjson.dumps({"sector": sector, "area": area})[:-1] + b","
        whole: bytes | None = None
        filtered: dict[tuple[int | None, str | None, str | None], tuple[bytes, int] | None] = {}
        columns = (devices, metrics, times, values)
        if self.by_device:
            by_device, positions = self.by_device, dict[str, list[int]]()
            for i, device in enumerate(devices):
                if device in by_device:
                    positions.setdefault(device, []).append(i)
            for device, where in positions.items():
                for subscriber in by_device[device]:
                    flt = subscriber.filter
                    if not flt.takes_slice(sector, area):
                        continue
                    key = (flt.organisation_id, flt.device, flt.metric)
                    if key not in filtered:
                        filtered[key] = _select(head, flt, owners, columns, where)
                    chunk = filtered[key]
                    if chunk is not None:
                        subscriber.offer(*chunk)
        for subscriber in self.others:
            flt = subscriber.filter
            if not flt.takes_slice(sector, area):
                continue
            if not flt.per_reading:
                if whole is None:
                    whole = head + payload[1:]
                subscriber.offer(whole, len(devices))
                continue
            key = (flt.organisation_id, flt.device, flt.metric)
            if key not in filtered:
                filtered[key] = _select(head, flt, owners, columns, range(len(devices)))
            chunk = filtered[key]
            if chunk is not None:
                subscriber.offer(*chunk)

    def publish_alert(
        self, frame: bytes, *, organisation_id: int, sector: str | None, area: str | None, device: str | None
    ) -> None:
        """Queue an alert event for every client whose filter takes it (sector, area, organisation, device).

        A metric filter does not apply to alerts (a silence has no metric).
        """
        for subscriber in self.subscribers:
            flt = subscriber.filter
            if flt.sector is not None and flt.sector != sector:
                continue
            if flt.areas is not None and area not in flt.areas:
                continue
            if flt.organisation_id is not None and flt.organisation_id != organisation_id:
                continue
            if flt.device is not None and flt.device != device:
                continue
            subscriber.alerts.append(frame)


def _select(
    head: bytes,
    flt: StreamFilter,
    owners: list[int] | None,
    columns: tuple[list[str], list[str], list[float], list[float]],
    where: Iterable[int],
) -> tuple[bytes, int] | None:
    """The readings at positions ``where`` of one message that a per-reading filter takes, as a
    chunk (None: none)."""
    devices, metrics, times, values = columns
    if flt.organisation_id is not None and owners is None:
        return None  # whose readings these are is unknown: never shown to an organisation-bound client
    keep = []
    for i in where:
        device = devices[i]
        if flt.device is not None and device != flt.device:
            continue
        if flt.metric is not None and metrics[i] != flt.metric:
            continue
        if flt.organisation_id is not None and owners is not None and owners[i] != flt.organisation_id:
            continue
        keep.append(i)
    if not keep:
        return None
    body = orjson.dumps(
        {
            "device": [devices[i] for i in keep],
            "metric": [metrics[i] for i in keep],
            "time": [times[i] for i in keep],
            "value": [values[i] for i in keep],
        }
    )
    return head + body[1:], len(keep)
