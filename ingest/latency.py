"""Per-device delivery-latency histograms, kept in memory and added to the database periodically.

Owns :class:`LatencyBook`, the :class:`LatencyRecorder` the writers share, and the one statement
that stores a book. Each committed batch adds, per
accepted message, the seconds from its newest reading's time to the commit into the book (a
dictionary keyed by device and hour: one list index per message, no I/O); every
``HATANG_INGEST__LATENCY_FLUSH_S`` the writer hands the book's rows to :func:`store`, which adds
them to ``device_latency`` in one statement. So a device sending one message a second costs one
row update a minute, not sixty. Zone readiness (``registry.readiness.zones``) reads the rows.
It must not decide readiness: the buckets and the rule are ``registry.readiness.latency``'s.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg

from ingest.errors import StoreError
from registry.readiness.latency import BUCKETS, bucket

if TYPE_CHECKING:
    from ingest.batch import Batch
    from ingest.sink import Sink

log = logging.getLogger("hatang.ingest")

# Adds each row's bucket counts to the stored ones (element by element). Devices deleted since the
# batch committed are skipped rather than failing the whole statement on the foreign key.
_STORE = """
    INSERT INTO device_latency AS l (device_id, hour, counts, messages, sum_s)
    SELECT u.d, to_timestamp(u.h), (%(counts)s::int[])[(u.i - 1) * %(k)s + 1 : u.i * %(k)s], u.n, u.s
    FROM unnest(%(devices)s::bigint[], %(hours)s::float8[], %(messages)s::bigint[], %(sums)s::float8[])
         WITH ORDINALITY AS u(d, h, n, s, i)
    WHERE EXISTS (SELECT 1 FROM devices WHERE id = u.d)
    ORDER BY u.d, u.h
    ON CONFLICT (device_id, hour) DO UPDATE SET
        counts = ARRAY(
            SELECT a + b FROM unnest(l.counts, EXCLUDED.counts) WITH ORDINALITY AS c(a, b, i) ORDER BY c.i
        ),
        messages = l.messages + EXCLUDED.messages,
        sum_s = l.sum_s + EXCLUDED.sum_s
"""


@dataclass(slots=True)
class _Cell:
    counts: list[int]
    messages: int = 0
    sum_s: float = 0.0


@dataclass(slots=True)
class LatencyBook:
    """Latency histograms per (device id, hour start in Unix seconds) since the last flush."""

    cells: dict[tuple[int, int], _Cell] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.cells)

    def add(self, device_id: int, *, reading_time: float, committed_at: float) -> None:
        """Count one message: its newest reading's time and its batch's commit (Unix seconds)."""
        latency = committed_at - reading_time
        key = (device_id, int(committed_at // 3600) * 3600)
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = _Cell(counts=[0] * BUCKETS)
        cell.counts[bucket(latency)] += 1
        cell.messages += 1
        cell.sum_s += max(latency, 0.0)

    def take(self) -> LatencyBook:
        """The book so far, leaving this one empty (what a flush writes)."""
        taken = LatencyBook(cells=self.cells)
        self.cells = {}
        return taken

    def put_back(self, other: LatencyBook) -> None:
        """Merge a book whose flush failed back in, so the next flush carries it."""
        for key, cell in other.cells.items():
            mine = self.cells.get(key)
            if mine is None:
                self.cells[key] = cell
                continue
            mine.counts = [a + b for a, b in zip(mine.counts, cell.counts, strict=True)]
            mine.messages += cell.messages
            mine.sum_s += cell.sum_s


async def store(conn: psycopg.AsyncConnection[Any], book: LatencyBook) -> int:
    """Add ``book`` to ``device_latency`` in one statement (its own transaction); returns rows written."""
    if not book.cells:
        return 0
    keys = sorted(book.cells)
    cells = [book.cells[key] for key in keys]
    params = {
        "k": BUCKETS,
        "devices": [d for d, _ in keys],
        "hours": [float(h) for _, h in keys],
        "messages": [c.messages for c in cells],
        "sums": [c.sum_s for c in cells],
        "counts": [n for c in cells for n in c.counts],
    }
    async with conn.transaction():
        cur = await conn.execute(_STORE, params)
    return max(cur.rowcount, 0)


@dataclass(slots=True)
class LatencyRecorder:
    """The worker's one book, shared by its writers, and when it was last flushed."""

    flush_s: float
    book: LatencyBook = field(default_factory=LatencyBook)
    flushed: float = field(default_factory=time.monotonic)

    async def record(self, sink: Sink, batch: Batch, committed_at: float) -> None:
        """Count every accepted message of a committed batch; store the book through ``sink`` when due."""
        book = self.book
        for device, readings, _ in batch.accepted:
            newest = readings[0].time if len(readings) == 1 else max(r.time for r in readings)
            book.add(device.id, reading_time=newest, committed_at=committed_at)
        if book and time.monotonic() - self.flushed >= self.flush_s:
            await self.flush(sink)

    async def flush(self, sink: Sink) -> None:
        """Store what the book holds; on failure keep it for the next flush (statistics, not data)."""
        self.flushed = time.monotonic()
        taken = self.book.take()
        if not taken:
            return
        try:
            await sink.write_latency(taken)
        except StoreError as exc:
            self.book.put_back(taken)
            log.warning("latency statistics not stored; kept for the next flush", extra={"error": str(exc)})
