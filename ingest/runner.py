"""The ingest worker's composition root: it builds the parts, runs the three loops and owns shutdown.

Owns :func:`run` and :class:`Worker`. Three loops share one event loop:
- the registry watcher (LISTEN ``hatang_registry`` on its own connection) keeps the device cache
  and the metric ids current, never a query per message;
- the builder takes messages from the broker, files them into a :class:`~ingest.batch.Batch` and
  hands the batch over at N readings or T milliseconds;
- two writers, each on its own connection, commit batches (retrying with backoff while the
  database is away), then acknowledge their messages, then publish the fan-out.
The hand-over holds as many batches as there are writers: while the writers are stuck the builder
waits, the worker stops reading once ``queue_bound`` messages are held, and the broker keeps the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from firmware_contracts import DeviceModel, Limits, load_models
from hatang.settings import Settings
from ingest.batch import Batch, TopicLayout, Upserts, fanout, intake, lags, upserts
from ingest.delivery import Delivery
from ingest.devices import DeviceCache, Snapshot
from ingest.errors import BrokerError, StoreError
from ingest.metrics import IngestMetrics
from ingest.mqtt import Consumer
from ingest.queries import load_devices, load_devices_named, load_devices_of_changed_assets, load_metric_ids
from ingest.seen import SeenThrottle
from ingest.sink import DatabaseThread, Sink

log = logging.getLogger("hatang.ingest")

_FULL_RELOAD_S = 300.0  # catches deleted devices, which an updated_at refresh cannot see
_MAX_ABSENT = 100_000  # external ids remembered as not in the registry (find_unknown)
_TAKE_CHUNK = 2000
# Batches committed concurrently, each writer on its own connection: one writer waiting for its
# commit left the worker's CPU 40% idle (bench: single_worker_cpu_share 0.55-0.58). Upserts only move
# forward and lock rows in key order; acknowledgements keep the hand-over order (see _Handover).
_WRITERS = 2
# The database thread (ingest.sink.DatabaseThread) waits for the GIL at each of a batch's dozen
# socket waits: at Python's default 5 ms a 5,000-row COPY took 66 ms beside a busy loop, at 0.5 ms
# 39 ms, as alone (measured). The process is the worker's own, so the setting is too.
_SWITCH_INTERVAL_S = 0.0005
# Allocations between two young-generation collections (CPython's default is 700; see tune_interpreter).
_GC_YOUNG_THRESHOLD = 100_000


@dataclass(slots=True)
class _Handover:
    batch: Batch
    upserts: Upserts
    consumer: Consumer
    # Acknowledgements go out in hand-over order although the writers commit concurrently: each
    # batch waits for its predecessor's. Mosquitto finds a PUBACK's message by walking the client's
    # in-flight list from the oldest; acknowledged out of order, that walk cost it 6.75-7.25 µs of
    # CPU per message instead of 3.5-4 (bench ingest, two writers against one).
    previous_acked: asyncio.Event
    acked: asyncio.Event


def _set(event: asyncio.Event) -> asyncio.Event:
    event.set()
    return event


@dataclass(slots=True)
class _Backoff:
    initial: float
    maximum: float
    current: float = 0.0

    def next(self) -> float:
        self.current = self.initial if self.current == 0 else min(self.current * 2, self.maximum)
        return self.current

    def reset(self) -> None:
        self.current = 0.0


@dataclass(slots=True)
class Worker:
    """One ingest worker process's state; :func:`run` builds and runs it."""

    settings: Settings
    database_url: str
    mqtt_url: str
    models: dict[tuple[str, int], DeviceModel]
    metrics: IngestMetrics
    stop: asyncio.Event
    client_id: str = ""
    layout: TopicLayout = field(init=False)
    devices: DeviceCache = field(init=False)
    seen: SeenThrottle = field(init=False)
    asset_mark: datetime | None = None
    absent: set[str] = field(default_factory=set)
    lookup: psycopg.AsyncConnection[Any] | None = None
    metric_ids: dict[str, int] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    database: DatabaseThread = field(init=False)
    sinks: list[Sink] = field(init=False)
    handover: asyncio.Queue[_Handover | None] = field(default_factory=lambda: asyncio.Queue(maxsize=_WRITERS))
    unacked: int = 0
    batches: int = 0
    last_acked: asyncio.Event = field(default_factory=lambda: _set(asyncio.Event()))

    def __post_init__(self) -> None:
        c = self.settings.contracts
        limits = Limits(
            max_age_s=c.max_age_s, max_future_s=c.max_future_s, max_payload_bytes=c.max_payload_bytes
        )
        self.layout = TopicLayout(self.settings.topic_prefix)
        self.devices = DeviceCache(models=self.models, limits=limits)
        self.seen = SeenThrottle(granularity_s=self.settings.ingest.last_seen_granularity_s)
        self.database = DatabaseThread()
        self.sinks = [
            Sink(url=self.database_url, max_dead_payload=c.max_payload_bytes, thread=self.database)
            for _ in range(_WRITERS)
        ]
        self.client_id = self.settings.ingest.client_id or f"hatang-ingest-{socket.gethostname()}"

    # -- registry -------------------------------------------------------------------------------

    async def _read_whole_registry(self) -> tuple[Snapshot, dict[str, int]]:
        # Runs in a thread of its own, on an event loop of its own (see reload_all).
        async with await psycopg.AsyncConnection.connect(
            self.database_url, autocommit=True, connect_timeout=5, application_name="hatang-ingest-registry"
        ) as conn:
            metric_ids = await load_metric_ids(conn)
            rows = await load_devices(conn)
        return self.devices.prepare(rows), metric_ids

    async def reload_all(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Every device, read and built in another thread, swapped in at once, then caught up.

        On the worker's loop, fetching and building a million devices stalled it for seconds,
        and nothing was read or acknowledged meanwhile; ``hatang bench city`` measures the stall.
        """
        _, asset_mark = await load_devices_of_changed_assets(conn, since=None)
        snapshot, metric_ids = await asyncio.to_thread(asyncio.run, self._read_whole_registry())
        self.metric_ids = metric_ids
        self.devices.install(snapshot)
        self.asset_mark = asset_mark
        # What changed while the snapshot was read and built (re-applying a row is harmless).
        self.devices.apply(await load_devices(conn, since=self.devices.watermark))
        self.metrics.devices.set(len(self.devices))

    async def _refresh(self, conn: psycopg.AsyncConnection[Any], tables: set[str]) -> None:
        """Only what changed: devices by their updated_at, devices of assets changed since the last look."""
        if "devices" in tables:
            self.devices.apply(await load_devices(conn, since=self.devices.watermark))
        if "assets" in tables:
            rows, self.asset_mark = await load_devices_of_changed_assets(conn, since=self.asset_mark)
            self.devices.apply(rows)
        self.metrics.devices.set(len(self.devices))

    async def watch_registry(self) -> None:
        """Keep the device cache current: full load, then refresh on each NOTIFY (not ingest's own)."""
        cfg = self.settings.ingest
        backoff = _Backoff(cfg.db_retry_initial_s, cfg.db_retry_max_s)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.database_url,
                    autocommit=True,
                    connect_timeout=5,
                    application_name="hatang-ingest-registry",
                ) as conn:
                    await conn.execute("LISTEN hatang_registry")
                    await self.reload_all(conn)
                    last_full = time.monotonic()
                    log.info(
                        "registry loaded",
                        extra={"devices": len(self.devices), "metrics": len(self.metric_ids)},
                    )
                    self.ready.set()
                    backoff.reset()
                    while True:
                        tables: set[str] = set()
                        own = {sink.backend_pid for sink in self.sinks}
                        async for note in conn.notifies(timeout=1.0):
                            if note.pid not in own:  # last_seen updates of our own batches
                                tables.add(note.payload)
                        if tables:
                            self.absent.clear()  # the registry changed: look again
                        if time.monotonic() - last_full > _FULL_RELOAD_S:
                            await self.reload_all(conn)
                            last_full = time.monotonic()
                        elif tables:
                            await self._refresh(conn, tables)
            except psycopg.Error as exc:
                delay = backoff.next()
                log.warning(
                    "registry connection failed; retrying", extra={"error": str(exc), "retry_s": delay}
                )
                await asyncio.sleep(delay)

    async def find_unknown(self, taken: list[Delivery]) -> None:
        """Look up, in one query, the devices of ``taken`` that the cache does not hold yet.

        The cache follows the registry about a second behind (NOTIFY, then a refresh): a device
        that published right after being created was dead-lettered ``unknown_device``. Ids found
        absent are not looked up again until the registry next changes (``absent``), so a stream
        of messages for a device that does not exist costs one query, not one per chunk.
        """
        layout, devices, absent = self.layout, self.devices, self.absent
        missing: set[str] = set()
        for delivery in taken:
            external_id = layout.device_of(delivery.topic)
            if external_id is not None and devices.get(external_id) is None and external_id not in absent:
                missing.add(external_id)
        if not missing:
            return
        cfg = self.settings.ingest
        backoff = _Backoff(cfg.db_retry_initial_s, cfg.db_retry_max_s)
        while True:
            try:
                if self.lookup is None or self.lookup.closed:
                    self.lookup = await psycopg.AsyncConnection.connect(
                        self.database_url, autocommit=True, connect_timeout=5,
                        application_name="hatang-ingest-lookup",
                    )  # fmt: skip
                rows = await load_devices_named(self.lookup, external_ids=sorted(missing))
                break
            except psycopg.Error as exc:
                if self.lookup is not None:
                    await self.lookup.close()
                    self.lookup = None
                if self.stop.is_set():  # draining: what is held now becomes dead letters (replayable)
                    return
                delay = backoff.next()
                log.warning("device lookup failed; retrying", extra={"error": str(exc), "retry_s": delay})
                await asyncio.sleep(delay)
        devices.apply(rows)
        absent.update(missing.difference(row.external_id for row in rows))
        if len(absent) > _MAX_ABSENT:
            absent.clear()
        self.metrics.devices.set(len(devices))

    # -- builder ----------------------------------------------------------------------------------

    def _consumer(self, session: int) -> Consumer:
        cfg = self.settings.ingest
        return Consumer(
            url=self.mqtt_url,
            client_id=self.client_id,
            topic_filter=self.layout.shared_filter(cfg.group),
            session_expiry_s=cfg.session_expiry_s,
            receive_maximum=cfg.receive_maximum,
            queue_bound=cfg.queue_bound,
            subscribe_timeout_s=cfg.subscribe_timeout_s,
            session=session,
        )

    async def consume(self) -> None:
        """Connect, build batches until stopped, reconnect after a loss; returns once drained."""
        backoff = _Backoff(0.2, 5.0)
        session = 0
        while not self.stop.is_set():
            try:
                async with self._consumer(session) as consumer:
                    log.info(
                        "connected to the broker", extra={"client_id": self.client_id, "session": session}
                    )
                    backoff.reset()
                    await self._pump(consumer)
                    await self.handover.join()  # everything taken is committed and acknowledged
                    return
            except BrokerError as exc:
                self.metrics.broker_reconnects.inc()
                delay = backoff.next()
                log.warning(
                    "broker connection lost; reconnecting", extra={"error": str(exc), "retry_s": delay}
                )
                session += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), timeout=delay)

    async def _flush(self, batch: Batch, consumer: Consumer) -> None:
        self.batches += 1
        acked = asyncio.Event()
        due = self.seen.thin(upserts(batch, self.metric_ids))
        item = _Handover(batch, due, consumer, self.last_acked, acked)
        self.last_acked = acked
        await self.handover.put(item)

    async def _pump(self, consumer: Consumer) -> None:
        cfg = self.settings.ingest
        limit, interval = cfg.batch_size, cfg.flush_interval_ms / 1000
        batch, opened = Batch(), 0.0
        layout, devices, received = self.layout, self.devices, self.metrics.received
        try:
            while True:
                stopping = self.stop.is_set()
                if stopping:
                    consumer.pause()  # what is held now is the last of it
                    if not consumer.held:
                        if batch.deliveries:
                            await self._flush(batch, consumer)
                            batch = Batch()
                        break
                else:
                    due = opened + interval - time.monotonic() if batch.deliveries else interval
                    await consumer.wait(max(0.0, due), interrupt=self.stop)
                taken = consumer.take(_TAKE_CHUNK)
                if taken:
                    received.inc(len(taken))
                    self.unacked += len(taken)
                    self.metrics.queue_messages.set(self.unacked + consumer.held)
                if taken:
                    await self.find_unknown(taken)
                metric_ids = self.metric_ids
                for delivery in taken:
                    if not batch.deliveries:
                        opened = time.monotonic()
                    intake(batch, delivery, layout=layout, devices=devices, metric_ids=metric_ids)
                    if batch.row_count >= limit or len(batch.deliveries) >= limit:
                        await self._flush(batch, consumer)
                        batch = Batch()
                if batch.deliveries and (stopping or time.monotonic() - opened >= interval):
                    await self._flush(batch, consumer)
                    batch = Batch()
        finally:
            if batch.deliveries:  # not handed over: never acknowledged, the broker sends them again
                self.unacked -= len(batch.deliveries)

    # -- writer -----------------------------------------------------------------------------------

    async def write(self, sink: Sink) -> None:
        """Commit handed-over batches through ``sink``; acknowledge and fan out each after its commit."""
        cfg = self.settings.ingest
        backoff = _Backoff(cfg.db_retry_initial_s, cfg.db_retry_max_s)
        m = self.metrics
        while True:
            item = await self.handover.get()
            try:
                if item is None:
                    return
                batch = item.batch
                while True:
                    started = time.monotonic()
                    try:
                        written = await sink.write(batch, item.upserts)
                        break
                    except StoreError as exc:
                        m.store_failures.inc()
                        delay = backoff.next()
                        log.warning(
                            "batch not stored; retrying",
                            extra={"error": str(exc), "sqlstate": exc.sqlstate, "retry_s": delay},
                        )
                        await asyncio.sleep(delay)
                if backoff.current:
                    log.info("database writes resumed")
                    backoff.reset()
                committed = time.time()
                m.commit_seconds.observe(time.monotonic() - started)
                m.last_commit.set(committed)
                await item.previous_acked.wait()
                acked = item.consumer.ack(batch.deliveries)
                item.acked.set()
                self.unacked -= len(batch.deliveries)
                m.acked.inc(acked)
                m.queue_messages.set(self.unacked)
                m.stored.inc(written.inserted)
                m.duplicates.inc(written.duplicates)
                m.batch_readings.observe(written.offered)
                for reason, count in batch.rejected_by_reason.items():
                    m.rejected.labels(reason).inc(count)
                m.lag_seconds.observe_many(lags(batch, committed))
                if written.fallback:
                    log.info(
                        "duplicates skipped", extra={"offered": written.offered, "inserted": written.inserted}
                    )
                if cfg.fanout and batch.accepted:
                    await self._publish(item.consumer, batch)
            finally:
                if item is not None:
                    item.acked.set()  # never hold up the next batch's acknowledgement for good
                self.handover.task_done()

    async def _publish(self, consumer: Consumer, batch: Batch) -> None:
        try:
            for topic, payload in fanout(batch, self.layout, batch_id=self.batches):
                await consumer.publish(topic, payload)
        except BrokerError as exc:  # the live feed is best effort; the readings are stored
            log.info("fan-out skipped", extra={"error": str(exc)})


def tune_interpreter() -> None:
    """Set this process's GIL switch interval and garbage collector for ingest's allocation pattern.

    A worker allocates about ten objects per message, and tens of thousands of them live for a
    batch or two (held deliveries, batches being written), so with CPython's defaults (700, 10, 10)
    they were promoted and rescanned over and over, with every module-level object at each full
    collection: 2.5 µs of a single-reading message's 10.9 µs of worker CPU (``hatang bench ingest``
    with the collector switched off: 8.1 µs). Objects that exist once start-up is over are frozen out
    of the collector (``gc.freeze``) and the young generation is collected every 100,000
    allocations; cycles are still collected, just later, and ``hatang bench ingest`` runs its own
    subscribers with the same settings so that its comparison stays like for like.
    """
    sys.setswitchinterval(_SWITCH_INTERVAL_S)
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(_GC_YOUNG_THRESHOLD, older, oldest)


async def run(
    *,
    settings: Settings,
    database_url: str,
    mqtt_url: str,
    stop: asyncio.Event,
    metrics: IngestMetrics | None = None,
) -> int:
    """Run a worker until ``stop`` is set, then drain within ``drain_timeout_s``; returns an exit code."""
    metrics = metrics or IngestMetrics()
    worker = Worker(
        settings=settings,
        database_url=database_url,
        mqtt_url=mqtt_url,
        models=load_models(),
        metrics=metrics,
        stop=stop,
    )
    watcher = asyncio.create_task(worker.watch_registry(), name="registry")
    writers = [
        asyncio.create_task(worker.write(sink), name=f"writer-{i}") for i, sink in enumerate(worker.sinks)
    ]
    exit_code = 0
    try:
        ready = asyncio.create_task(worker.ready.wait())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([ready, stopped], return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        stopped.cancel()
        if worker.ready.is_set():
            consumer = asyncio.create_task(worker.consume(), name="consumer")
            stopped = asyncio.create_task(stop.wait())
            loops = (consumer, *writers, watcher)
            await asyncio.wait([stopped, *loops], return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            failed = [t for t in loops if t.done() and (t.cancelled() or t.exception() or not stop.is_set())]
            if failed:  # a loop died (a bug): exit non-zero, the broker keeps what is unacknowledged
                for task in failed:
                    error = None if task.cancelled() else task.exception()
                    log.error("worker loop failed", extra={"loop": task.get_name()}, exc_info=error)
                exit_code = 1
                stop.set()
            log.info("stopping: draining what is held", extra={"unacked": worker.unacked})
            try:
                await asyncio.wait_for(asyncio.shield(consumer), timeout=settings.ingest.drain_timeout_s)
            except TimeoutError:
                log.warning("drain timed out; unacknowledged messages stay with the broker")
                consumer.cancel()
                exit_code = 1
            except Exception:  # the consumer's failure, logged above
                exit_code = 1
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await consumer
    finally:
        for task in (watcher, *writers):
            task.cancel()
        for task in (watcher, *writers):
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
        await worker.database.cancel_pending()  # writes whose writer was cancelled: rolled back
        for sink in worker.sinks:
            await sink.close()
        if worker.lookup is not None:
            await worker.lookup.close()
        worker.database.close()
    log.info("stopped", extra={"batches": worker.batches})
    return exit_code
