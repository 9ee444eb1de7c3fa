"""Writing one batch: readings, dead letters, latest values and last-seen, in one transaction.

Owns :class:`Sink`, :class:`DatabaseThread` and :class:`Written`. Readings go by binary COPY
straight into ``readings``; when that trips the unique key (a redelivered message: rare) the same
bytes go through a temporary staging table and ``INSERT ... ON CONFLICT DO NOTHING``, so duplicates
are skipped and counted. It must not acknowledge or publish anything: the runner does that once
:meth:`Sink.write` returned.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

import psycopg
from psycopg import errors as pgerrors

from ingest.batch import Batch, DeadLetter, Upserts
from ingest.errors import StoreError
from ingest.latency import LatencyBook
from ingest.latency import store as store_latency
from ingest.pgcopy import array_literal

_COPY_READINGS = "COPY readings (time, device_id, metric_id, value) FROM STDIN (FORMAT BINARY)"
_STAGING = """
    CREATE TEMP TABLE IF NOT EXISTS ingest_staging
        (LIKE readings INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
"""
_COPY_STAGING = "COPY ingest_staging (time, device_id, metric_id, value) FROM STDIN (FORMAT BINARY)"
_MERGE_STAGING = "INSERT INTO readings SELECT * FROM ingest_staging ON CONFLICT DO NOTHING"
_COPY_DEAD = "COPY dead_letters (received_at, topic, payload, device_id, reason, message, record) FROM STDIN"
# Only ever forward in time; µs since the Unix epoch keeps the value exactly what readings holds.
_UPSERT_LATEST = """
    INSERT INTO latest_readings (device_id, metric_id, time, value)
    SELECT d, m, timestamptz '1970-01-01 00:00:00+00' + t * interval '1 microsecond', v
    FROM unnest(%s::bigint[], %s::smallint[], %s::bigint[], %s::float8[]) AS u(d, m, t, v)
    ON CONFLICT (device_id, metric_id) DO UPDATE SET time = EXCLUDED.time, value = EXCLUDED.value
    WHERE latest_readings.time < EXCLUDED.time
"""
# The rollups re-aggregate a minute that received a reading older than its transaction's start by
# more than two minutes (timeseries.rollups.LATE_AFTER; tests/ingest check the two agree). One
# statement per batch over its distinct minutes replaced a plpgsql trigger run per late row (0600).
# Where the rollups are continuous aggregates (community edition) TimescaleDB tracks this itself.
LATE_AFTER_S = 120
_INVALIDATE_LATE = f"""
    INSERT INTO rollup_invalidations (bucket)
    SELECT timestamptz '1970-01-01 00:00:00+00' + m * interval '1 minute'
    FROM unnest(%s::bigint[], %s::bigint[]) AS u(m, t)
    WHERE timestamptz '1970-01-01 00:00:00+00' + t * interval '1 microsecond'
              < now() - interval '{LATE_AFTER_S} seconds'
      AND to_regclass('readings_1m_cagg') IS NULL
    ON CONFLICT DO NOTHING
"""
# last_seen lives in a narrow table of its own (migration 1200): the upsert there cost ~4.6 µs of
# PostgreSQL per device against ~16 µs for the update of the wide devices row, which also ran
# readiness's trigger over transition tables of whole device rows. This statement with its triggers
# costs 0.56-0.61 of the old one per device in steady state, e.g. 15.11 -> 8.65 µs (hatang bench
# seen, alternating in one process; docs/capacity.md, "What each device costs the database"). Rows
# are inserted in device-id order (the Sort below the insert), so that concurrent workers lock the
# rows of device_seen in the same order and never deadlock. Only devices this statement sees are
# written: the primary key lookup (``id = ANY``, never a hash of the whole devices table: 150-240 ms
# per 5,000-device batch at 100,000 devices, measured when this was an update of devices) drops one
# deleted meanwhile, where a foreign key would fail the whole batch instead (1200 explains why there
# is none). Forward only: a redelivered or late batch never moves last_seen back.
UPSERT_SEEN = """
    INSERT INTO device_seen AS s (device_id, last_seen)
    SELECT d.id, to_timestamp(u.at)
    FROM devices AS d
    JOIN unnest(%(ids)s::bigint[], %(ats)s::float8[]) AS u(id, at) ON u.id = d.id
    WHERE d.id = ANY(%(ids)s::bigint[])
    ORDER BY d.id
    ON CONFLICT (device_id) DO UPDATE SET last_seen = EXCLUDED.last_seen
    WHERE s.last_seen < EXCLUDED.last_seen
"""


class Written(NamedTuple):
    """What one committed batch did."""

    offered: int
    inserted: int
    dead_letters: int
    fallback: bool

    @property
    def duplicates(self) -> int:
        """Readings already in the table (redeliveries), skipped."""
        return self.offered - self.inserted


def _dead_row(dead: DeadLetter, max_payload: int) -> tuple[Any, ...]:
    payload, message = dead.payload, dead.message
    if len(payload) > max_payload:
        message = f"{message} [payload truncated to {max_payload} of {len(payload)} bytes]"
        payload = payload[:max_payload]
    # PostgreSQL text cannot hold NUL: a topic is UTF-8 from the broker but may contain one.
    topic = dead.topic.replace("\x00", "\\0")
    received = datetime.fromtimestamp(dead.received_at, UTC)
    message = message.replace("\x00", "\\0")
    return (received, topic, payload, dead.device_id, dead.reason, message, dead.record)


_T = TypeVar("_T")


class DatabaseThread:
    """An event loop of its own, in a thread of its own, for the sinks' database I/O.

    A batch's transaction takes about a dozen waits on its socket (BEGIN, COPY and its data, the
    upserts, COMMIT). On the worker's loop each wait lasted until the loop came round again, behind
    callbacks parsing MQTT and building batches: a 5,000-row COPY that takes 19 ms alone took
    75-240 ms there (measured), and the writers, not the CPU, set the worker's pace. Here the waits
    end when PostgreSQL answers (and the thread gets the GIL: see ``ingest.runner``).
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hatang-ingest-db", daemon=True)
        self._thread.start()

    async def run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coro`` on the database loop; cancelling the caller cancels it there too."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    async def cancel_pending(self) -> None:
        """Cancel what still runs there (writes whose callers were cancelled) and wait for it."""
        await self.run(_cancel_other_tasks())

    def close(self) -> None:
        """Stop the loop and its thread (the sinks are closed first)."""
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()


async def _cancel_other_tasks() -> None:
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class Sink:
    """One database connection writing batches; reconnects on the next write after a failure.

    Its connection lives on ``thread``'s loop (each call hops there), or on the caller's loop when
    there is none (tests, tools).
    """

    def __init__(
        self,
        *,
        url: str,
        max_dead_payload: int,
        connect_timeout_s: float = 5.0,
        thread: DatabaseThread | None = None,
    ) -> None:
        self._thread = thread
        self._url = url
        self._max_dead_payload = max_dead_payload
        self._connect_timeout_s = connect_timeout_s
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return await (self._thread.run(coro) if self._thread is not None else coro)

    async def connect(self) -> None:
        """Open the connection unless it is open."""
        await self._run(self._connect())

    async def _connect(self) -> None:
        if self._conn is not None and not self._conn.closed:
            return
        self._conn = await psycopg.AsyncConnection.connect(
            self._url,
            connect_timeout=max(1, round(self._connect_timeout_s)),
            application_name="hatang-ingest",
        )
        await self._conn.commit()

    async def close(self) -> None:
        """Close the connection (a transaction in progress is rolled back by the server)."""
        await self._run(self._close())

    async def _close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def write(self, batch: Batch, upserts: Upserts) -> Written:
        """Commit ``batch`` in one transaction; raises :class:`StoreError` (nothing committed)."""
        return await self._run(self._write(batch, upserts))

    async def write_latency(self, book: LatencyBook) -> int:
        """Add the latency histograms of ``book`` (``ingest.latency``); raises :class:`StoreError`."""
        return await self._run(self._write_latency(book))

    async def _write_latency(self, book: LatencyBook) -> int:
        try:
            await self._connect()
            assert self._conn is not None
            return await store_latency(self._conn, book)
        except psycopg.Error as exc:
            if self._conn is not None and (self._conn.closed or self._conn.broken):
                self._conn = None
            raise StoreError(f"latency not stored: {type(exc).__name__}", sqlstate=exc.sqlstate) from exc

    async def _write(self, batch: Batch, upserts: Upserts) -> Written:
        try:
            await self._connect()
            assert self._conn is not None
            return await write_batch(self._conn, batch, upserts, max_dead_payload=self._max_dead_payload)
        except psycopg.Error as exc:
            if self._conn is not None and (self._conn.closed or self._conn.broken):
                self._conn = None
            elif self._conn is not None:
                await self._conn.rollback()
            sqlstate = getattr(exc, "sqlstate", None)
            message = f"batch not stored: {type(exc).__name__}: {exc}".strip()
            raise StoreError(message, sqlstate=sqlstate) from exc


async def write_batch(
    conn: psycopg.AsyncConnection[Any], batch: Batch, upserts: Upserts, *, max_dead_payload: int
) -> Written:
    """Write ``batch`` in one transaction of ``conn`` (a savepoint if one is open); psycopg errors pass.

    The readings go by COPY straight into the transaction. When that trips the unique key (a
    redelivered message: rare) the whole transaction is rolled back and written again with the
    duplicates skipped: a savepoint around every COPY for that rare case cost two round trips and
    a subtransaction per batch.
    """
    try:
        return await _write_batch(conn, batch, upserts, max_dead_payload=max_dead_payload, skip=False)
    except _Duplicates:
        return await _write_batch(conn, batch, upserts, max_dead_payload=max_dead_payload, skip=True)


class _Duplicates(Exception):  # noqa: N818 - control flow, never leaves this module
    """The readings' COPY tripped the unique key: the transaction was rolled back."""


async def _write_batch(
    conn: psycopg.AsyncConnection[Any], batch: Batch, upserts: Upserts, *, max_dead_payload: int, skip: bool
) -> Written:
    offered = batch.row_count
    inserted = offered
    async with conn.transaction():
        async with conn.cursor() as cur:
            if offered and not skip:
                try:
                    async with cur.copy(_COPY_READINGS) as copy:
                        await copy.write(batch.copy_data())
                except pgerrors.UniqueViolation as exc:
                    raise _Duplicates from exc  # leaving the block rolls the transaction back
            elif offered:
                await cur.execute(_STAGING)
                async with cur.copy(_COPY_STAGING) as copy:
                    await copy.write(batch.copy_data())
                await cur.execute(_MERGE_STAGING)
                inserted = max(cur.rowcount, 0)
                await cur.execute("TRUNCATE ingest_staging")
            if batch.dead:
                async with cur.copy(_COPY_DEAD) as copy:
                    for dead in batch.dead:
                        await copy.write_row(_dead_row(dead, max_dead_payload))
        await _upsert(conn, upserts)
    return Written(offered=offered, inserted=inserted, dead_letters=len(batch.dead), fallback=skip)


async def _upsert(conn: psycopg.AsyncConnection[Any], upserts: Upserts) -> None:
    """The batch's latest values, late minutes and ``last_seen``, sent together (one pipeline sync)
    rather than each waiting for its answer: three round trips fewer per batch."""
    statements: list[tuple[str, tuple[str, ...] | dict[str, str]]] = []
    if upserts.latest_device:
        statements.append((_UPSERT_LATEST, tuple(array_literal(column) for column in upserts[:4])))
    if upserts.minute:
        late = (array_literal(upserts.minute), array_literal(upserts.minute_first_us))
        statements.append((_INVALIDATE_LATE, late))
    if upserts.seen_device:
        seen = {"ids": array_literal(upserts.seen_device), "ats": array_literal(upserts.seen_at)}
        statements.append((UPSERT_SEEN, seen))
    if not statements:
        return
    async with conn.pipeline(), conn.cursor() as cur:
        for query, params in statements:
            await cur.execute(query, params, prepare=True)
