"""The builder loop: messages from the broker filed into batches and handed over to the writers.

Owns :class:`Builder`: it connects (reconnecting after a loss, the session number counting up),
files each delivery with :func:`ingest.batch.intake` and hands a batch over at N readings or
T milliseconds. Stopping, it pauses the broker, files what is held and returns once everything taken
is committed and acknowledged. It must not touch the database itself: the registry watcher looks up
devices the cache does not hold yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from hatang.settings import IngestSettings
from ingest.batch import Batch, TopicLayout, intake, upserts
from ingest.budget import DeadLetterBudget
from ingest.errors import BrokerError
from ingest.mqtt import Consumer
from ingest.pipeline import Backoff, Pipeline
from ingest.seen import SeenThrottle
from ingest.watcher import RegistryWatcher

log = logging.getLogger("hatang.ingest")

_TAKE_CHUNK = 2000


@dataclass(slots=True)
class Builder:
    """Reads the shared subscription of ``settings.group`` and feeds ``pipeline``."""

    settings: IngestSettings
    mqtt_url: str
    client_id: str
    layout: TopicLayout
    registry: RegistryWatcher
    pipeline: Pipeline
    stop: asyncio.Event
    budget: DeadLetterBudget | None = None
    # ``hatang ingest --leave``: unsubscribe this client id's session instead of subscribing.
    leave: bool = False
    current: Consumer | None = None
    seen: SeenThrottle = field(init=False)

    def __post_init__(self) -> None:
        self.seen = SeenThrottle(granularity_s=self.settings.last_seen_granularity_s)

    def _consumer(self, session: int) -> Consumer:
        cfg = self.settings
        return Consumer(
            url=self.mqtt_url,
            client_id=self.client_id,
            topic_filter=self.layout.shared_filter(cfg.group),
            session_expiry_s=cfg.session_expiry_s,
            receive_maximum=cfg.receive_maximum,
            queue_bound=cfg.queue_bound,
            subscribe_timeout_s=cfg.subscribe_timeout_s,
            session=session,
            leave=self.leave,
        )

    async def run(self) -> None:
        """Connect, build batches until stopped, reconnect after a loss; returns once drained."""
        backoff = Backoff(0.2, 5.0)
        session = 0
        while not self.stop.is_set():
            try:
                async with self._consumer(session) as consumer:
                    log.info(
                        "connected to the broker", extra={"client_id": self.client_id, "session": session}
                    )
                    backoff.reset()
                    self.current = consumer
                    self.pipeline.health.broker_connected = True
                    await self._pump(consumer)
                    await self.pipeline.handover.join()  # everything taken is committed and acknowledged
                    return
            except BrokerError as exc:
                self.pipeline.health.broker_connected = False
                self.pipeline.metrics.broker_reconnects.inc()
                delay = backoff.next()
                log.warning(
                    "broker connection lost; reconnecting", extra={"error": str(exc), "retry_s": delay}
                )
                session += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), timeout=delay)

    async def leave_when_drained(self, quiet_s: float) -> None:
        """``--leave``: once unsubscribed, stop when nothing is held or unacknowledged and nothing
        has arrived for ``quiet_s`` (the session's queue is empty: the broker sends it at once)."""
        while not self.stop.is_set():
            consumer = self.current
            if consumer is not None and consumer.unsubscribed.is_set():
                idle = time.monotonic() - consumer.last_delivery
                if not consumer.held and not self.pipeline.unacked and idle >= quiet_s:
                    log.info("left the group: the session is drained", extra={"client_id": self.client_id})
                    self.stop.set()
                    return
            await asyncio.sleep(0.1)

    async def hand_over(self, batch: Batch, consumer: Consumer) -> None:
        """Hand ``batch`` to the writers with its upserts, computed with the current metric ids
        (``last_seen`` only where it is due: ``ingest.seen``)."""
        due = self.seen.thin(upserts(batch))
        await self.pipeline.hand_over(batch, due, consumer)

    async def _pump(self, consumer: Consumer) -> None:
        limit, interval = self.settings.batch_size, self.settings.flush_interval_ms / 1000
        batch, opened = Batch(), 0.0
        pipeline, layout, devices, budget = self.pipeline, self.layout, self.registry.devices, self.budget
        received = pipeline.metrics.received
        try:
            while True:
                stopping = self.stop.is_set()
                if stopping:
                    consumer.pause()  # what is held now is the last of it
                    if not consumer.held:
                        if batch.deliveries:
                            await self.hand_over(batch, consumer)
                            batch = Batch()
                        break
                else:
                    due = opened + interval - time.monotonic() if batch.deliveries else interval
                    await consumer.wait(max(0.0, due), interrupt=self.stop)
                taken = consumer.take(_TAKE_CHUNK)
                if taken:
                    if not pipeline.unacked:  # held messages after none: the stall clock starts now
                        pipeline.health.progressed()
                    received.inc(len(taken))
                    pipeline.unacked += len(taken)
                    pipeline.metrics.queue_messages.set(pipeline.unacked + consumer.held)
                if taken:
                    await self.registry.find_unknown(taken, layout=layout, stop=self.stop)
                metric_ids = self.registry.metric_ids
                for delivery in taken:
                    if not batch.deliveries:
                        opened = time.monotonic()
                    intake(
                        batch, delivery, layout=layout, devices=devices, metric_ids=metric_ids, budget=budget
                    )
                    if batch.row_count >= limit or len(batch.deliveries) >= limit:
                        await self.hand_over(batch, consumer)
                        batch = Batch()
                if batch.deliveries and (stopping or time.monotonic() - opened >= interval):
                    await self.hand_over(batch, consumer)
                    batch = Batch()
        finally:
            if batch.deliveries:  # not handed over: never acknowledged, the broker sends them again
                pipeline.unacked -= len(batch.deliveries)
