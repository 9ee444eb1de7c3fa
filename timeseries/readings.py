"""Raw readings of one device's metric over a time range, in pages (keyset on the reading's time).

Served by the unique index ``(device_id, metric_id, time DESC)``. The page key is the reading's time
in integer microseconds since the epoch, unique within one device and metric. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import class_row

from hatang.db import fetch_id
from timeseries.aggregates import metric_id
from timeseries.errors import InvalidRangeError, UnknownDeviceError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RawReading:
    """One stored reading."""

    time: datetime
    value: float

    @property
    def key(self) -> int:
        """The page key: microseconds since the epoch."""
        return time_key(self.time)


def time_key(moment: datetime) -> int:
    """``moment`` as integer microseconds since the epoch (exact, no float rounding)."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_time_key(key: int) -> datetime:
    """The inverse of ``time_key``."""
    return EPOCH + timedelta(microseconds=key)


async def device_id(
    conn: psycopg.AsyncConnection[Any], external_id: str, *, visible_organisation_id: int | None
) -> int:
    """The id of device ``external_id`` if the caller may see it."""
    return await fetch_id(
        conn,
        "SELECT id FROM devices WHERE external_id = %s AND (%s::bigint IS NULL OR organisation_id = %s)",
        (external_id, visible_organisation_id, visible_organisation_id),
        missing=UnknownDeviceError(external_id),
    )


async def raw_readings(
    conn: psycopg.AsyncConnection[Any],
    *,
    device: str,
    metric: str,
    start: datetime,
    end: datetime,
    limit: int,
    after: int | None = None,
    descending: bool = False,
    visible_organisation_id: int | None = None,
) -> list[RawReading]:
    """Up to ``limit`` readings in ``[start, end)`` in time order, after page key ``after``."""
    if end <= start:
        raise InvalidRangeError("end", end.isoformat(), "must be after start")
    dev = await device_id(conn, device, visible_organisation_id=visible_organisation_id)
    met = await metric_id(conn, metric)
    if after is not None:
        if descending:
            end = min(end, from_time_key(after))
        else:
            start = max(start, from_time_key(after) + timedelta(microseconds=1))
    order = "DESC" if descending else "ASC"
    async with conn.cursor(row_factory=class_row(RawReading)) as cur:
        await cur.execute(
            "SELECT time, value FROM readings WHERE device_id = %s AND metric_id = %s"
            f" AND time >= %s AND time < %s ORDER BY time {order} LIMIT %s",
            (dev, met, start, end, limit),
        )
        return await cur.fetchall()
