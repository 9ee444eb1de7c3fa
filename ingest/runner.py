"""The ingest worker's composition root: it builds the parts, runs their loops and owns shutdown.

Owns :func:`build`, :func:`run` and :func:`tune_interpreter`. Three kinds of loop share one event
loop, each in a module of its own:
- the registry watcher (:mod:`ingest.watcher`, LISTEN ``hatang_registry`` on its own connection)
  keeps the device cache and the metric ids current, never a query per message;
- the builder (:mod:`ingest.builder`) takes messages from the broker, files them into a
  :class:`~ingest.batch.Batch` and hands the batch over at N readings or T milliseconds;
- two writers (:mod:`ingest.writer`), each on its own connection, commit batches (retrying with
  backoff while the database is away), then acknowledge their messages, then publish the fan-out.
The hand-over (:mod:`ingest.pipeline`) holds as many batches as there are writers: while the writers
are stuck the builder waits, the worker stops reading once ``queue_bound`` messages are held, and the
broker keeps the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import sys
from dataclasses import dataclass

from firmware_contracts import DeviceModel, Limits, load_models
from hatang.settings import Settings
from ingest.batch import TopicLayout
from ingest.budget import DeadLetterBudget
from ingest.builder import Builder
from ingest.health import Health, serve
from ingest.latency import LatencyRecorder
from ingest.metrics import IngestMetrics
from ingest.pipeline import Pipeline
from ingest.sink import DatabaseThread, Sink
from ingest.watcher import RegistryWatcher
from ingest.writer import Writer

log = logging.getLogger("hatang.ingest")

# Batches committed concurrently, each writer on its own connection: one writer waiting for its
# commit left the worker's CPU 40% idle (bench: single_worker_cpu_share 0.55-0.58). Upserts only move
# forward and lock rows in key order; acknowledgements keep the hand-over order (ingest.pipeline).
_WRITERS = 2
# The database thread (ingest.sink.DatabaseThread) waits for the GIL at each of a batch's dozen
# socket waits: at Python's default 5 ms a 5,000-row COPY took 66 ms beside a busy loop, at 0.5 ms
# 39 ms, as alone (measured). The process is the worker's own, so the setting is too.
_SWITCH_INTERVAL_S = 0.0005
# Allocations between two young-generation collections (CPython's default is 700; see tune_interpreter).
_GC_YOUNG_THRESHOLD = 100_000


@dataclass(frozen=True, slots=True)
class Worker:
    """One ingest worker process's parts, wired by :func:`build`."""

    registry: RegistryWatcher
    pipeline: Pipeline
    builder: Builder
    writers: list[Writer]
    database: DatabaseThread
    latency: LatencyRecorder

    @property
    def health(self) -> Health:
        """What ``/healthz`` and ``/readyz`` read."""
        return self.pipeline.health

    @property
    def sinks(self) -> list[Sink]:
        """The writers' database sessions."""
        return [writer.sink for writer in self.writers]

    async def close(self) -> None:
        """Roll back writes whose writer was cancelled and close every database session."""
        await self.database.cancel_pending()
        for sink in (*self.sinks, self.latency.sink):
            await sink.close()
        await self.registry.close()
        self.database.close()


def build(
    *,
    settings: Settings,
    database_url: str,
    mqtt_url: str,
    models: dict[tuple[str, int], DeviceModel],
    metrics: IngestMetrics,
    stop: asyncio.Event,
    leave: bool = False,
) -> Worker:
    """Wire a worker's parts; nothing connects until they run (``leave``: see :func:`run`).

    Kept whole: it is the composition root's wiring, one constructor call per part, read top to
    bottom in the order the parts depend on each other.
    """
    cfg = settings.ingest
    layout = TopicLayout(settings.topic_prefix, settings.device_mount)
    registry = RegistryWatcher(
        database_url=database_url,
        models=models,
        limits=Limits.of(settings.contracts),
        metrics=metrics,
        retry_initial_s=cfg.db_retry_initial_s,
        retry_max_s=cfg.db_retry_max_s,
    )
    pipeline = Pipeline(metrics=metrics, writers=_WRITERS, ready_stall_s=cfg.ready_stall_s)
    registry.health = pipeline.health
    database = DatabaseThread()
    dead_max = settings.contracts.max_payload_bytes
    # Its own connection, flushed in the background: no writer waits for the latency statistics.
    latency_sink = Sink(url=database_url, max_dead_payload=dead_max, thread=database)
    latency = LatencyRecorder(sink=latency_sink, flush_s=cfg.latency_flush_s)
    writers = [
        Writer(
            sink=Sink(url=database_url, max_dead_payload=dead_max, thread=database),
            pipeline=pipeline,
            layout=layout,
            fanout=cfg.fanout,
            retry_initial_s=cfg.db_retry_initial_s,
            retry_max_s=cfg.db_retry_max_s,
            latency=latency,
        )
        for _ in range(_WRITERS)
    ]
    builder = Builder(
        settings=cfg,
        mqtt_url=mqtt_url,
        client_id=cfg.client_id or f"hatang-ingest-{socket.gethostname()}",
        layout=layout,
        registry=registry,
        pipeline=pipeline,
        stop=stop,
        budget=DeadLetterBudget(
            budget=cfg.dead_letter_budget, window_s=cfg.dead_letter_window_s, sample=cfg.dead_letter_sample
        ),
        leave=leave,
    )
    return Worker(
        registry=registry,
        pipeline=pipeline,
        builder=builder,
        writers=writers,
        database=database,
        latency=latency,
    )


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
    serve_port: int = 0,
    serve_host: str = "127.0.0.1",
    leave_quiet_s: float | None = None,
) -> int:
    """Run a worker until ``stop`` is set, then drain within ``drain_timeout_s``; returns an exit code.

    ``serve_port`` (not 0): serve ``/healthz``, ``/readyz`` and ``/metrics`` there (``ingest.health``),
    on ``serve_host`` (``HATANG_INGEST__METRICS_HOST``).
    ``leave_quiet_s`` (not None): leave the group instead of joining it: resume this client id's
    session, unsubscribe, store what the session had queued, and stop once it has been quiet that
    long (docs/deploy.md, "Scaling ingest down").
    """
    metrics = metrics or IngestMetrics()
    worker = build(
        settings=settings,
        database_url=database_url,
        mqtt_url=mqtt_url,
        models=load_models(),
        metrics=metrics,
        stop=stop,
        leave=leave_quiet_s is not None,
    )
    endpoint = asyncio.create_task(
        serve(worker.health, metrics.registry, port=serve_port, host=serve_host), name="endpoint"
    )
    watcher = asyncio.create_task(worker.registry.run(), name="registry")
    writers = [asyncio.create_task(w.run(), name=f"writer-{i}") for i, w in enumerate(worker.writers)]
    others = [*writers, watcher]
    if leave_quiet_s is not None:
        others.append(asyncio.create_task(worker.builder.leave_when_drained(leave_quiet_s), name="leave"))
    exit_code = 0
    try:
        if await _ready(worker.registry.ready, stop):
            exit_code = await _serve(worker, tuple(others), stop, settings.ingest.drain_timeout_s)
    finally:
        for task in (*others, endpoint):
            task.cancel()
        for task in (*others, endpoint):
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
        await worker.close()
    log.info("stopped", extra={"batches": worker.pipeline.batches})
    return exit_code


async def _ready(ready: asyncio.Event, stop: asyncio.Event) -> bool:
    """Wait until the registry is loaded (True) or the worker is stopped first (False)."""
    loaded = asyncio.create_task(ready.wait())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait([loaded, stopped], return_when=asyncio.FIRST_COMPLETED)
    loaded.cancel()
    stopped.cancel()
    return ready.is_set()


async def _serve(
    worker: Worker, others: tuple[asyncio.Task[None], ...], stop: asyncio.Event, drain_timeout_s: float
) -> int:
    """Run the builder beside the other loops until stopped or one fails, then drain; an exit code."""
    exit_code = 0
    consumer = asyncio.create_task(worker.builder.run(), name="consumer")
    stopped = asyncio.create_task(stop.wait())
    loops = (consumer, *others)
    await asyncio.wait([stopped, *loops], return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    failed = [t for t in loops if t.done() and (t.cancelled() or t.exception() or not stop.is_set())]
    if failed:  # a loop died (a bug): exit non-zero, the broker keeps what is unacknowledged
        for task in failed:
            error = None if task.cancelled() else task.exception()
            log.error("worker loop failed", extra={"loop": task.get_name()}, exc_info=error)
        exit_code = 1
        stop.set()
    log.info("stopping: draining what is held", extra={"unacked": worker.pipeline.unacked})
    try:
        await asyncio.wait_for(asyncio.shield(consumer), timeout=drain_timeout_s)
    except TimeoutError:
        log.warning("drain timed out; unacknowledged messages stay with the broker")
        consumer.cancel()
        exit_code = 1
    except Exception:  # the consumer's failure, logged above
        exit_code = 1
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await consumer
    await worker.latency.close(timeout_s=5)  # latency counted since the last flush (best effort)
    return exit_code
