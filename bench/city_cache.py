"""The device-cache phase of ``hatang bench city``: the ingest worker's event loop while the registry moves.

Its registry watcher runs in this process: stall p99.9 and max while devices are onboarded in bulk and
assets move between areas; the whole-registry reload on the loop (before) vs off it (after); RSS.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from typing import Any

import psycopg

from bench.city_data import quantile
from firmware_contracts import Limits, load_models
from hatang.settings import Settings
from ingest import FETCH_SLICE, IngestMetrics, RegistryWatcher, load_devices

# New devices copying the model, operator and asset of one of the first hundred fitted devices.
ONBOARD = """
    INSERT INTO devices (external_id, model_id, organisation_id, asset_id, state)
    SELECT n, a.model_id, a.organisation_id, a.asset_id, 'active'
    FROM unnest(%s::text[]) WITH ORDINALITY AS u(n, k)
    JOIN LATERAL (SELECT model_id, organisation_id, asset_id FROM devices
                  WHERE asset_id IS NOT NULL ORDER BY id OFFSET (u.k %% 100) LIMIT 1
                 ) AS a ON true
"""


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Ticker:
    """Lateness of a 5-ms timer on the running loop: what a stall does to message handling."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + 0.005
            await asyncio.sleep(0.005)
            self.lags.append(max(0.0, loop.time() - due))

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def measure_device_cache(settings: Settings, url: str, *, onboard: int) -> dict[str, Any]:
    """Time the registry reload on and off the loop, then stalls while onboarding; returns figures.

    Kept whole: one registry watcher goes through the before/after reloads and then the bulk
    onboarding in sequence, and its cached size carries from one step to the next.
    """
    rss_before = rss_mb()
    worker = RegistryWatcher(
        database_url=url, models=load_models(), limits=Limits.of(settings.contracts),
        metrics=IngestMetrics(), retry_initial_s=0.2, retry_max_s=5.0,
    )  # fmt: skip
    out: dict[str, Any] = {}
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        # Before: the whole registry read and built on the loop (what the worker did every 5 minutes
        # and on any asset change).
        with Ticker() as ticker:
            started = time.perf_counter()
            worker.devices.apply(await load_devices(conn, slice_rows=0), replace=True)
            on_loop = time.perf_counter() - started
            await asyncio.sleep(0.05)
        out["reload_on_loop_s"] = round(on_loop, 3)
        out["reload_on_loop_stall_max_s"] = round(max(ticker.lags), 4)
        # After: read and built in a thread, swapped in.
        with Ticker() as ticker:
            started = time.perf_counter()
            await worker.reload_all(conn)
            off_loop = time.perf_counter() - started
            await asyncio.sleep(0.05)
        out["reload_off_loop_s"] = round(off_loop, 3)
        out["reload_off_loop_stall_max_s"] = round(max(ticker.lags), 4)
        out["cached_devices"] = len(worker.devices)
        out["worker_rss_mb"] = round(rss_mb(), 1)
        out["device_cache_mb"] = round(rss_mb() - rss_before, 1)

    # Bulk onboarding and assets moving between areas, with the registry watcher running: first as
    # the watcher was (registry rows converted whole; its asset mark at the newest asset's
    # updated_at, so its first look re-read every device of the province's bulk-loaded assets),
    # then as it is (a slice at a time; the mark at the database's clock).
    for label, fetch_slice in (("whole", 0), ("sliced", FETCH_SLICE)):
        worker.fetch_slice = fetch_slice
        figures = await _onboard(worker, url, onboard=onboard, legacy_mark=label == "whole")
        if label == "whole":
            out.update({f"{key}_whole_fetch": value for key, value in figures.items()})
        else:
            out.update(figures)
    await worker.close()
    return out


async def _onboard(worker: RegistryWatcher, url: str, *, onboard: int, legacy_mark: bool) -> dict[str, Any]:
    """Onboard ``onboard`` devices in bulk (1,000 a statement) while assets move between areas, with
    ``worker``'s watch running; the loop's stalls until every new device is cached. ``legacy_mark``:
    the asset mark the watcher used to take (the newest asset's ``updated_at``)."""
    watcher = asyncio.create_task(worker.run())
    await worker.ready.wait()
    before = len(worker.devices)
    tag = uuid.uuid4().hex[:6]
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        if legacy_mark:  # the watcher has loaded and waits for notifications: no look is under way
            cur = await conn.execute("SELECT max(updated_at) FROM assets")
            row = await cur.fetchone()
            worker.asset_mark = row[0] if row is not None else None
        cur = await conn.execute("SELECT id FROM areas WHERE level = 'commune' ORDER BY id")
        communes = [row[0] for row in await cur.fetchall()]
        rng = random.Random(15)
        with Ticker() as ticker:
            started = time.perf_counter()
            for first in range(0, onboard, 1000):
                names = [f"onb-{tag}-{i:07d}" for i in range(first, min(first + 1000, onboard))]
                await conn.execute(ONBOARD, (names,))
                await conn.execute(
                    "UPDATE assets SET area_id = %s"
                    " WHERE id IN (SELECT id FROM assets ORDER BY id OFFSET %s LIMIT 100)",
                    (rng.choice(communes), rng.randrange(1000)),
                )
                await asyncio.sleep(0.2)
            deadline = time.monotonic() + 120
            while len(worker.devices) < before + onboard and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # the cache has no event to wait on: poll its size
            onboard_s = time.perf_counter() - started
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    worker.ready.clear()
    return {
        "onboarded": onboard,
        "onboarded_cached": len(worker.devices) - before,
        "onboard_s": round(onboard_s, 2),
        "loop_stall_p999_s": round(quantile(ticker.lags, 0.999), 4),
        "loop_stall_max_s": round(max(ticker.lags), 4),
    }
