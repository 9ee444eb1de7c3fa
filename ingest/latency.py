"""Per-device delivery-latency histograms, kept in memory and added to the database periodically.

Owns :class:`LatencyBook`, the :class:`LatencyRecorder` the writers share, and the one statement
that stores a book. Each committed batch adds the latencies the writer already computed for its
metrics (``ingest.batch.lags``: newest reading time to commit, per accepted message) to the book —
one dictionary lookup, one bisection and two list updates per message, the hour looked up once per
batch — and every ``HATANG_INGEST__LATENCY_FLUSH_S`` the book goes to ``device_latency`` in one
statement. So a device sending one message a second costs one row update a minute, not sixty. Zone
readiness (``registry.readiness.zones``) reads the rows. It must not decide readiness: the buckets
are the vocabulary's (``firmware_contracts.vocabulary.LATENCY_BOUNDS_S``), the rule is
``registry.readiness.latency``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from firmware_contracts.vocabulary import LATENCY_BOUNDS_S
from ingest.errors import StoreError
from ingest.pgcopy import array_literal

if TYPE_CHECKING:
    from ingest.sink import Sink

log = logging.getLogger("hatang.ingest")

BOUNDS = LATENCY_BOUNDS_S
BUCKETS = len(BOUNDS) + 1  # the last one counts everything above the largest bound

# One array per bucket (not one flat array sliced per row, which copies it per row: quadratic), all
# unnested side by side, each sent as a literal (ingest.pgcopy.array_literal). Adds each row's counts
# to the stored ones bucket by bucket, each bucket an expression of its own (a subquery unnesting the
# two arrays per row cost more than the rest of the row's update). Devices deleted since the batch
# committed are skipped rather than failing the statement on the foreign key.
_BUCKET_COLUMNS = [sql.Identifier(f"b{i}") for i in range(BUCKETS)]
_STORE = sql.SQL(
    """
    INSERT INTO device_latency AS l (device_id, hour, counts, messages, sum_s)
    SELECT u.d, to_timestamp(u.h), ARRAY[{buckets}], {messages}, u.s
    FROM unnest(%(devices)s::bigint[], %(hours)s::float8[], %(sums)s::float8[], {arrays})
         AS u(d, h, s, {columns})
    WHERE EXISTS (SELECT 1 FROM devices WHERE id = u.d)
    ORDER BY u.d, u.h
    ON CONFLICT (device_id, hour) DO UPDATE SET
        counts = ARRAY[{added}],
        messages = l.messages + EXCLUDED.messages,
        sum_s = l.sum_s + EXCLUDED.sum_s
    """
).format(
    buckets=sql.SQL(", ").join(sql.SQL("u.{}").format(c) for c in _BUCKET_COLUMNS),
    messages=sql.SQL(" + ").join(sql.SQL("u.{}").format(c) for c in _BUCKET_COLUMNS),
    added=sql.SQL(", ").join(
        sql.SQL("l.counts[{i}] + EXCLUDED.counts[{i}]").format(i=sql.Literal(i + 1)) for i in range(BUCKETS)
    ),
    arrays=sql.SQL(", ").join(sql.Placeholder(f"b{i}") + sql.SQL("::int[]") for i in range(BUCKETS)),
    columns=sql.SQL(", ").join(_BUCKET_COLUMNS),
)


@dataclass(slots=True)
class LatencyBook:
    """Per hour start (Unix seconds) and device id: counts per bucket, then the sum of seconds."""

    hours: dict[int, dict[int, list[float]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(len(cells) for cells in self.hours.values())

    def add(self, devices: Iterable[int], latencies: Iterable[float], *, committed_at: float) -> None:
        """Count one batch: each message's device and latency (seconds), all committed at ``committed_at``."""
        hour = int(committed_at // 3600) * 3600
        cells = self.hours.get(hour)
        if cells is None:
            cells = self.hours[hour] = {}
        bounds, total = BOUNDS, BUCKETS
        for device_id, latency in zip(devices, latencies, strict=True):
            cell = cells.get(device_id)
            if cell is None:
                cell = cells[device_id] = [0] * (total + 1)
            cell[bisect_left(bounds, latency)] += 1
            if latency > 0:  # a device clock ahead of ours counts in the lowest bucket, adds nothing
                cell[total] += latency

    def take(self) -> LatencyBook:
        """The book so far, leaving this one empty (what a flush writes)."""
        taken = LatencyBook(hours=self.hours)
        self.hours = {}
        return taken

    def put_back(self, other: LatencyBook) -> None:
        """Merge a book whose flush failed back in, so the next flush carries it."""
        for hour, cells in other.hours.items():
            mine = self.hours.setdefault(hour, {})
            for device_id, cell in cells.items():
                kept = mine.get(device_id)
                mine[device_id] = cell if kept is None else [a + b for a, b in zip(kept, cell, strict=True)]

    def rows(self) -> list[tuple[int, int, Sequence[float]]]:
        """``(device id, hour start, cell)`` in key order (the order rows are locked in)."""
        found = [(device, hour, cell) for hour, cells in self.hours.items() for device, cell in cells.items()]
        return sorted(found, key=lambda row: (row[0], row[1]))


async def store(conn: psycopg.AsyncConnection[Any], book: LatencyBook) -> int:
    """Add ``book`` to ``device_latency`` in one statement (its own transaction); returns rows written."""
    rows = book.rows()
    if not rows:
        return 0
    params: dict[str, str] = {
        "devices": array_literal([d for d, _, _ in rows]),
        "hours": array_literal([h for _, h, _ in rows]),
        "sums": array_literal([float(c[BUCKETS]) for _, _, c in rows]),
    }
    for i in range(BUCKETS):
        params[f"b{i}"] = array_literal([int(c[i]) for _, _, c in rows])
    async with conn.transaction():
        cur = await conn.execute(_STORE, params)
    return max(cur.rowcount, 0)


@dataclass(slots=True)
class LatencyRecorder:
    """The worker's one book, shared by its writers, flushed in the background through its own sink.

    A flush of a city's devices takes about a second (``hatang bench readiness``: 1.45 s for 24,654
    devices on a loaded machine), so it runs as a task of its own on a connection of its own:
    no writer waits for it, and batches keep committing at their usual pace meanwhile.
    """

    sink: Sink
    flush_s: float
    book: LatencyBook = field(default_factory=LatencyBook)
    flushed: float = field(default_factory=time.monotonic)
    task: asyncio.Task[None] | None = None

    def record(self, devices: Iterable[int], latencies: Sequence[float], committed_at: float) -> None:
        """Count a committed batch's messages; start a flush in the background when one is due."""
        self.book.add(devices, latencies, committed_at=committed_at)
        due = time.monotonic() - self.flushed >= self.flush_s
        if self.book.hours and due and (self.task is None or self.task.done()):
            self.flushed = time.monotonic()
            self.task = asyncio.create_task(self.flush(), name="latency-flush")

    async def flush(self) -> None:
        """Store what the book holds; on failure keep it for the next flush (statistics, not data)."""
        taken = self.book.take()
        if not taken.hours:
            return
        try:
            await self.sink.write_latency(taken)
        except StoreError as exc:
            self.book.put_back(taken)
            log.warning("latency statistics not stored; kept for the next flush", extra={"error": str(exc)})

    async def close(self, *, timeout_s: float) -> None:
        """Wait for a flush under way, flush what is left (best effort, within ``timeout_s``), close."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                if self.task is not None:
                    await self.task
                await self.flush()
        await self.sink.close()
