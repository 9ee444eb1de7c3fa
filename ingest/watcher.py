"""The registry watcher: the worker's device cache and metric ids, kept current by LISTEN/NOTIFY.

Owns :class:`RegistryWatcher`. It loads everything once, then refreshes on each ``hatang_registry``
notification (devices changed since the watermark; anything else reloads fully) and every five
minutes; never a query per message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from firmware_contracts import DeviceModel, Limits
from ingest.devices import DeviceCache
from ingest.health import Health
from ingest.metrics import IngestMetrics
from ingest.pipeline import Backoff
from ingest.queries import load_devices, load_metric_ids

log = logging.getLogger("hatang.ingest")

_FULL_RELOAD_S = 300.0  # catches deleted devices, which an updated_at refresh cannot see


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

    def __post_init__(self) -> None:
        self.devices = DeviceCache(models=self.models, limits=self.limits)

    async def reload(self, conn: psycopg.AsyncConnection[Any], *, full: bool) -> None:
        """Reload everything (``full``) or the devices changed since the cache's watermark."""
        if full:
            self.metric_ids = await load_metric_ids(conn)
            rows = await load_devices(conn)
            self.devices.apply(rows, replace=True)
        else:
            rows = await load_devices(conn, since=self.devices.watermark)
            self.devices.apply(rows)
        self.metrics.devices.set(len(self.devices))

    async def run(self) -> None:
        """Keep the cache current: full load, then refresh on each NOTIFY; reconnects for ever."""
        backoff = Backoff(self.retry_initial_s, self.retry_max_s)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.database_url,
                    autocommit=True,
                    connect_timeout=5,
                    application_name="hatang-ingest-registry",
                ) as conn:
                    await conn.execute("LISTEN hatang_registry")
                    await self.reload(conn, full=True)
                    last_full = time.monotonic()
                    log.info(
                        "registry loaded",
                        extra={"devices": len(self.devices), "metrics": len(self.metric_ids)},
                    )
                    self.ready.set()
                    if self.health is not None:
                        self.health.database_connected = True
                    backoff.reset()
                    while True:
                        tables = {note.payload async for note in conn.notifies(timeout=1.0)}
                        if tables - {"devices"} or time.monotonic() - last_full > _FULL_RELOAD_S:
                            await self.reload(conn, full=True)
                            last_full = time.monotonic()
                        elif tables:
                            await self.reload(conn, full=False)
            except psycopg.Error as exc:
                if self.health is not None:
                    self.health.database_connected = False
                delay = backoff.next()
                log.warning(
                    "registry connection failed; retrying", extra={"error": str(exc), "retry_s": delay}
                )
                await asyncio.sleep(delay)
