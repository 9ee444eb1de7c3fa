"""The writer loop: handed-over batches committed, then acknowledged in order, then fanned out.

Owns :class:`Writer`. Each writer has its own connection (its :class:`~ingest.sink.Sink`) and
retries a batch with backoff while the database is away; a batch is acknowledged only after its
commit and after its predecessor's acknowledgement, and the fan-out is best effort.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from ingest.batch import Batch, TopicLayout, fanout, lags
from ingest.errors import BrokerError, StoreError
from ingest.latency import LatencyRecorder
from ingest.mqtt import Consumer
from ingest.pipeline import Backoff, Handover, Pipeline
from ingest.sink import Sink, Written

log = logging.getLogger("hatang.ingest")


@dataclass(slots=True)
class Writer:
    """Commits what ``pipeline`` hands over through ``sink``."""

    sink: Sink
    pipeline: Pipeline
    layout: TopicLayout
    fanout: bool
    retry_initial_s: float
    retry_max_s: float
    latency: LatencyRecorder | None = None

    async def run(self) -> None:
        """Take batches until a ``None`` is handed over (or cancelled)."""
        backoff = Backoff(self.retry_initial_s, self.retry_max_s)
        handover = self.pipeline.handover
        while True:
            item = await handover.get()
            try:
                if item is None:
                    return
                await self._commit(item, backoff)
            finally:
                if item is not None:
                    item.acked.set()  # never hold up the next batch's acknowledgement for good
                handover.task_done()

    async def _store(self, batch: Batch, item: Handover, backoff: Backoff) -> tuple[Written, float]:
        """Write ``batch`` until it is stored; returns what was written and when the attempt began."""
        while True:
            started = time.monotonic()
            try:
                return await self.sink.write(batch, item.upserts), started
            except StoreError as exc:
                self.pipeline.metrics.store_failures.inc()
                self.pipeline.health.store_failing = True
                delay = backoff.next()
                log.warning(
                    "batch not stored; retrying",
                    extra={"error": str(exc), "sqlstate": exc.sqlstate, "retry_s": delay},
                )
                await asyncio.sleep(delay)

    async def _commit(self, item: Handover, backoff: Backoff) -> None:
        batch, m = item.batch, self.pipeline.metrics
        written, started = await self._store(batch, item, backoff)
        if backoff.current:
            log.info("database writes resumed")
            backoff.reset()
        committed = time.time()
        self.pipeline.health.store_failing = False
        self.pipeline.health.progressed()
        m.commit_seconds.observe(time.monotonic() - started)
        m.last_commit.set(committed)
        await item.previous_acked.wait()
        acked = item.consumer.ack(batch.deliveries)
        item.acked.set()
        self.pipeline.unacked -= len(batch.deliveries)
        m.acked.inc(acked)
        m.queue_messages.set(self.pipeline.unacked)
        m.stored.inc(written.inserted)
        m.duplicates.inc(written.duplicates)
        m.batch_readings.observe(written.offered)
        for reason, count in batch.rejected_by_reason.items():
            m.rejected.labels(reason).inc(count)
        m.unstored.inc(batch.unstored)
        lag = lags(batch, committed)
        m.lag_seconds.observe_many(lag)
        if self.latency is not None:
            self.latency.record(batch.newest_device, lag, committed)
        if written.fallback:
            log.info("duplicates skipped", extra={"offered": written.offered, "inserted": written.inserted})
        if self.fanout and batch.accepted:
            await self._publish(item.consumer, batch, committed)

    async def _publish(self, consumer: Consumer, batch: Batch, committed: float) -> None:
        try:
            consumer.publish_all(
                fanout(batch, self.layout, batch_id=self.pipeline.batches, committed_at=committed)
            )
        except BrokerError as exc:  # the live feed is best effort; the readings are stored
            log.info("fan-out skipped", extra={"error": str(exc)})
