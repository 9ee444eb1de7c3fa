"""The daily readiness snapshot job: today's figures for every sector, area and organisation, kept.

Owns ``take`` (one snapshot of the province-local day of ``now``, replacing that day's rows, so
the last run of a day stands for it) and ``run`` (the loop ``hatang readiness snapshot --every``
runs, supervised by ``hatang run``; in a cluster a CronJob runs the one-shot command instead). The
loop is the edge that reads the clock; ``take`` is handed ``now``. It does not serve the figures.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import psycopg

from hatang.settings import ReadinessSettings
from registry.readiness import queries, zones
from registry.readiness.queries import Conn
from registry.readiness.service import today, window

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Taken:
    """One snapshot: its day, the rows written and how long it took."""

    day: date
    rows: int
    taken_at: datetime
    seconds: float


async def take(conn: Conn, *, settings: ReadinessSettings, now: datetime) -> Taken:
    """Snapshot the readiness of sectors and zones on the day of ``now`` (province time), replacing it."""
    started = time.perf_counter()
    day = today(now=now, settings=settings)
    rows = await queries.take_snapshot(
        conn, day=day, since=now - window(settings), window=window(settings), taken_at=now
    )
    rows += await zones.take_snapshot(conn, settings=settings, now=now)
    return Taken(day=day, rows=rows, taken_at=now, seconds=time.perf_counter() - started)


async def run(
    conninfo: str,
    *,
    settings: ReadinessSettings,
    stop: asyncio.Event,
    on_taken: Callable[[Taken], None] | None = None,
) -> None:
    """Take a snapshot now and then every ``snapshot_interval_s`` until ``stop`` is set.

    A failed run (database unreachable) is logged and retried at the next interval; the loop only
    ends when ``stop`` is set.
    """
    while not stop.is_set():
        try:
            conn: psycopg.AsyncConnection[Any]
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                taken = await take(conn, settings=settings, now=datetime.now(UTC))
            if on_taken is not None:
                on_taken(taken)
        except psycopg.Error as exc:
            log.warning("readiness snapshot failed, retry in %.0f s: %s", settings.snapshot_interval_s, exc)
        try:
            await asyncio.wait_for(stop.wait(), timeout=settings.snapshot_interval_s)
        except TimeoutError:
            continue
