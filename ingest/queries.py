"""The SQL ingest reads with: the registry's devices and the metric catalogue's ids.

Owns the queries (values always bound) that feed :class:`ingest.devices.DeviceCache` and the metric
id map. Writing batches is ``ingest.sink``'s; nothing here writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg

from ingest.devices import DeviceRow

# Rows whose updated_at is this close below the watermark are read again: a transaction that
# stamped its rows earlier may commit after the previous read (re-applying a row is harmless).
REFRESH_OVERLAP = timedelta(seconds=5)
# Rows converted to Python a slice at a time. psycopg converts a result's rows in C without letting
# other threads run: a whole-registry fetchall in the registry watcher's thread held the worker's
# loop for seconds at a million devices, and the 10,000 rows of a busy refresh for tenths of one
# (``hatang bench city`` measures both ways). 0: the whole result at once.
FETCH_SLICE = 500

_DEVICES = """
    SELECT d.id, d.external_id, m.model, m.version, d.state,
           coalesce(a.sector, m.sector)::text, ar.code, d.organisation_id, d.updated_at
    FROM devices d
    JOIN device_models m ON m.id = d.model_id
    LEFT JOIN assets a ON a.id = d.asset_id
    LEFT JOIN areas ar ON ar.id = a.area_id
"""


async def _rows(cur: psycopg.AsyncCursor[Any], slice_rows: int) -> list[DeviceRow]:
    """The result's rows as :class:`DeviceRow`, converted ``slice_rows`` at a time (0: all at once)."""
    if slice_rows <= 0:
        return [DeviceRow(*row) for row in await cur.fetchall()]
    out: list[DeviceRow] = []
    while rows := await cur.fetchmany(slice_rows):
        out.extend(DeviceRow(*row) for row in rows)
        await asyncio.sleep(0)  # a select() between slices: the GIL goes to whoever waits for it
    return out


async def load_devices(
    conn: psycopg.AsyncConnection[Any], *, since: datetime | None = None, slice_rows: int = FETCH_SLICE
) -> list[DeviceRow]:
    """Every device, or those changed at ``since`` - REFRESH_OVERLAP or later."""
    async with conn.cursor() as cur:
        if since is None:
            await cur.execute(_DEVICES)
        else:
            await cur.execute(_DEVICES + " WHERE d.updated_at >= %s", (since - REFRESH_OVERLAP,))
        return await _rows(cur, slice_rows)


async def stream_devices(
    conn: psycopg.AsyncConnection[Any], *, slice_rows: int = FETCH_SLICE
) -> AsyncIterator[list[DeviceRow]]:
    """Every device, ``slice_rows`` at a time, through a server-side cursor (in a transaction of its own).

    A client-side result of the whole registry stayed in libpq's memory until the last row was
    converted, beside the rows and the snapshot being built from them; here only a slice is held.
    """
    async with conn.transaction(), conn.cursor(name="hatang_registry") as cur:
        # A cursor is planned for its first rows (cursor_tuple_fraction 0.1): every row is wanted.
        await conn.execute("SET LOCAL cursor_tuple_fraction = 1.0")
        await cur.execute(_DEVICES)
        while rows := await cur.fetchmany(max(slice_rows, 1)):
            yield [DeviceRow(*row) for row in rows]


async def load_device(conn: psycopg.AsyncConnection[Any], *, external_id: str) -> list[DeviceRow]:
    """The device with this external id (an empty list when there is none)."""
    async with conn.cursor() as cur:
        await cur.execute(_DEVICES + " WHERE d.external_id = %s", (external_id,))
        return [DeviceRow(*row) for row in await cur.fetchall()]


async def load_devices_named(
    conn: psycopg.AsyncConnection[Any], *, external_ids: Sequence[str]
) -> list[DeviceRow]:
    """The devices with these external ids (those that exist), in one query."""
    async with conn.cursor() as cur:
        await cur.execute(_DEVICES + " WHERE d.external_id = ANY(%s)", (list(external_ids),))
        return await _rows(cur, FETCH_SLICE)


async def load_devices_of_changed_assets(
    conn: psycopg.AsyncConnection[Any], *, since: datetime | None, slice_rows: int = FETCH_SLICE
) -> tuple[list[DeviceRow], datetime | None]:
    """Devices fitted to assets changed at ``since`` - REFRESH_OVERLAP or later, and the database's
    clock before they were read (the next ``since``); an asset moving to another area changes its
    devices' area.

    The mark is the clock, not the newest ``updated_at``: a bulk load stamps its rows alike, so a
    mark at its newest row made the next look read every device of the whole load again (70,000
    rows at 100,000 devices in ``hatang bench city``).
    """
    async with conn.cursor() as cur:
        await cur.execute("SELECT clock_timestamp()")
        row = await cur.fetchone()
        mark: datetime | None = row[0] if row is not None else None
        if since is None:
            return [], mark
        await cur.execute(
            _DEVICES + " WHERE d.asset_id IN (SELECT id FROM assets WHERE updated_at >= %s)",
            (since - REFRESH_OVERLAP,),
        )
        return await _rows(cur, slice_rows), mark


async def load_metric_ids(conn: psycopg.AsyncConnection[Any]) -> dict[str, int]:
    """Metric name -> ``metrics.id``."""
    async with conn.cursor() as cur:
        await cur.execute("SELECT name, id FROM metrics")
        rows: list[tuple[str, int]] = await cur.fetchall()
        return dict(rows)
