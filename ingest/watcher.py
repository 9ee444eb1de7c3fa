"""The registry watcher: the worker's device cache and metric ids, kept current by LISTEN/NOTIFY.

Owns :class:`RegistryWatcher`. It loads everything once (read and built off the worker's loop),
then refreshes only what each ``hatang_registry`` notification names (devices changed since the
watermark, devices of assets changed since the last look), reloads everything every five minutes,
and looks up, in one query per chunk, devices the builder meets before the cache holds them; never
a query per known device's message.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from firmware_contracts import DeviceModel, Limits
from ingest.batch import TopicLayout
from ingest.collector import rebuilding
from ingest.delivery import Delivery
from ingest.devices import DeviceCache, Snapshot, SnapshotBuilder
from ingest.health import Health
from ingest.metrics import IngestMetrics
from ingest.pipeline import Backoff
from ingest.queries import (
    FETCH_SLICE,
    load_devices,
    load_devices_named,
    load_devices_of_changed_assets,
    load_metric_ids,
    stream_devices,
)

log = logging.getLogger("hatang.ingest")

_FULL_RELOAD_S = 300.0  # catches deleted devices, which an updated_at refresh cannot see
_MAX_ABSENT = 100_000  # external ids remembered as not in the registry (find_unknown)
# Entries of a replaced snapshot dropped between two turns of the watch thread's loop (at most a few
# milliseconds of work; the GIL can change hands between any two of them anyway).
RELEASE_SLICE = 10_000
_GRACE_S = 5.0  # the longest wait for the worker's loop to turn before a replaced snapshot is emptied


@dataclass(slots=True)
class RegistryWatcher:
    """Devices and metric ids as the database has them; :attr:`ready` once first loaded."""

    database_url: str
    models: dict[tuple[str, int], DeviceModel]
    limits: Limits
    metrics: IngestMetrics
    retry_initial_s: float
    retry_max_s: float
    devices: DeviceCache = field(init=False)
    metric_ids: dict[str, int] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    health: Health | None = None
    asset_mark: datetime | None = None
    absent: set[str] = field(default_factory=set)
    lookup: psycopg.AsyncConnection[Any] | None = None
    #: Registry rows converted at a time (``ingest.queries.FETCH_SLICE``; 0: whole results at once,
    #: as before: ``hatang bench city`` onboards both ways).
    fetch_slice: int = FETCH_SLICE
    #: Entries of a replaced snapshot dropped at a time (``RELEASE_SLICE``).
    release_slice: int = RELEASE_SLICE
    #: The worker's loop, where lookups read the cache (set by :meth:`run`).
    main: asyncio.AbstractEventLoop | None = None

    def __post_init__(self) -> None:
        self.devices = DeviceCache(models=self.models, limits=self.limits)

    async def _read_whole_registry(self) -> tuple[Snapshot, dict[str, int]]:
        # Runs in a thread of its own, on an event loop of its own (see reload_all).
        async with await psycopg.AsyncConnection.connect(
            self.database_url, autocommit=True, connect_timeout=5, application_name="hatang-ingest-registry"
        ) as conn:
            metric_ids = await load_metric_ids(conn)
            cur = await conn.execute("SELECT clock_timestamp()")
            row = await cur.fetchone()
            builder = SnapshotBuilder(self.devices)
            if self.fetch_slice <= 0:  # whole results at once, as before
                builder.add(await load_devices(conn, slice_rows=0))
            else:  # each slice's rows dropped once added: never the whole registry's rows at once
                async for rows in stream_devices(conn, slice_rows=self.fetch_slice):
                    builder.add(rows)
        return builder.build(read_at=row[0] if row else None), metric_ids

    async def reload_all(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Every device, read and built in another thread, swapped in at once, then caught up.

        On the worker's loop, fetching and building a million devices stalled it for seconds, and
        nothing was read or acknowledged meanwhile; ``hatang bench city`` measures both ways. Off
        the loop, what still held the GIL for long single calls was the collector's full
        collections while the snapshot was built and the release of the replaced snapshot: see
        ``ingest.collector`` and :meth:`_retire`.
        """
        _, asset_mark = await load_devices_of_changed_assets(conn, since=None, slice_rows=self.fetch_slice)
        with rebuilding():
            snapshot, metric_ids = await asyncio.to_thread(asyncio.run, self._read_whole_registry())
            self.metric_ids = metric_ids
            replaced = self.devices.install(snapshot)
            self.asset_mark = asset_mark
            # What changed while the snapshot was read and built (re-applying a row is harmless).
            since = self.devices.watermark
            self.devices.apply(await load_devices(conn, since=since, slice_rows=self.fetch_slice))
            self.metrics.devices.set(len(self.devices))
            await self._retire(replaced)

    async def _retire(self, replaced: Snapshot) -> None:
        """Empty a replaced snapshot a slice at a time, once no lookup can still be reading it.

        A lookup on the worker's loop that fetched the old map just before the swap may use it a
        moment later (the GIL can change hands between the two): emptying it under that lookup
        would make a device the registry holds look unknown. Once the worker's loop has run one
        more callback, every lookup begun before the swap has returned.
        """
        here = asyncio.get_running_loop()
        if self.main is not None and self.main is not here and not self.main.is_closed():
            turned = asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self.main)
            try:
                await asyncio.wait_for(asyncio.wrap_future(turned), _GRACE_S)
            except (TimeoutError, RuntimeError):
                return  # the loop did not turn (stopping?): drop it whole, never emptied under a reader
        for _ in replaced.release(slice_size=self.release_slice):
            await asyncio.sleep(0)

    async def refresh(self, conn: psycopg.AsyncConnection[Any], tables: set[str]) -> None:
        """Only what changed: devices by their updated_at, devices of assets changed since the last look."""
        if "devices" in tables:
            since = self.devices.watermark
            self.devices.apply(await load_devices(conn, since=since, slice_rows=self.fetch_slice))
        if "assets" in tables:
            rows, self.asset_mark = await load_devices_of_changed_assets(
                conn, since=self.asset_mark, slice_rows=self.fetch_slice
            )
            self.devices.apply(rows)
        self.metrics.devices.set(len(self.devices))

    async def run(self) -> None:
        """Keep the cache current: full load, then refresh on each NOTIFY; reconnects for ever.

        The watch runs on a thread and an event loop of its own: fetching and building changed
        rows (a bulk upload is 100,000 of them in one NOTIFY) then never holds up the worker's loop
        for longer than a GIL switch interval. The cache's dictionaries are only ever updated key by
        key or swapped whole, which the builder's lookups on the worker's loop tolerate.
        """
        main = self.main = asyncio.get_running_loop()
        stop = threading.Event()
        try:
            await asyncio.to_thread(asyncio.run, self._watch(main, stop))
        finally:
            stop.set()  # cancelled: the thread sees it within a second

    async def _watch(self, main: asyncio.AbstractEventLoop, stop: threading.Event) -> None:
        backoff = Backoff(self.retry_initial_s, self.retry_max_s)
        while not stop.is_set():
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
                    main.call_soon_threadsafe(self.ready.set)
                    if self.health is not None:
                        self.health.database_connected = True
                    backoff.reset()
                    while not stop.is_set():
                        tables = {note.payload async for note in conn.notifies(timeout=1.0)}
                        if tables:
                            self.absent.clear()  # the registry changed: look again
                        if time.monotonic() - last_full > _FULL_RELOAD_S:
                            await self.reload_all(conn)
                            last_full = time.monotonic()
                        elif tables:
                            await self.refresh(conn, tables)
            except psycopg.Error as exc:
                if self.health is not None:
                    self.health.database_connected = False
                delay = backoff.next()
                log.warning(
                    "registry connection failed; retrying", extra={"error": str(exc), "retry_s": delay}
                )
                await asyncio.sleep(delay)

    async def find_unknown(self, taken: list[Delivery], *, layout: TopicLayout, stop: asyncio.Event) -> None:
        """Look up, in one query, the devices of ``taken`` that the cache does not hold yet.

        The cache follows the registry about a second behind (NOTIFY, then a refresh): a device
        that published right after being created was dead-lettered ``unknown_device``. Ids found
        absent are not looked up again until the registry next changes (``absent``), so a stream
        of messages for a device that does not exist costs one query, not one per chunk. While the
        database is away the lookup is retried like a batch write; once ``stop`` is set it gives up
        (what is held then becomes dead letters, which can be replayed).
        """
        devices, absent = self.devices, self.absent
        missing: set[str] = set()
        for topic in {delivery.topic for delivery in taken}:  # each device once (0.4 µs a message)
            external_id = layout.device_of(topic)
            if external_id is not None and devices.get(external_id) is None and external_id not in absent:
                missing.add(external_id)
        if not missing:
            return
        backoff = Backoff(self.retry_initial_s, self.retry_max_s)
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
                await self.close()
                if stop.is_set():
                    return
                delay = backoff.next()
                log.warning("device lookup failed; retrying", extra={"error": str(exc), "retry_s": delay})
                await asyncio.sleep(delay)
        devices.apply(rows)
        absent.update(missing.difference(row.external_id for row in rows))
        if len(absent) > _MAX_ABSENT:
            absent.clear()
        self.metrics.devices.set(len(devices))

    async def close(self) -> None:
        """Close the lookup connection (the watch connection closes with :meth:`run`)."""
        if self.lookup is not None:
            lookup, self.lookup = self.lookup, None
            await lookup.close()
