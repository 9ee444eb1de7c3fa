"""Per-device delivery-latency histograms: the in-memory book, its store, and a real worker keeping them."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import psycopg

from ingest.latency import LatencyBook, store
from registry.readiness.latency import BUCKETS, bucket
from tests.plugins.ingest import IngestFleet, Workers, publish, single, wait_rows


def _device_ids(conn: psycopg.Connection[Any], fleet: IngestFleet) -> list[int]:
    rows = conn.execute("SELECT id FROM devices WHERE external_id = ANY(%s) ORDER BY id", (fleet.active,))
    return [r[0] for r in rows.fetchall()]


def _store(db_url: str, book: LatencyBook) -> int:
    async def main() -> int:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            return await store(conn, book)

    return asyncio.run(main())


def test_book_counts_per_device_and_hour_and_stores_by_adding(ingest_fleet: IngestFleet) -> None:
    with psycopg.connect(ingest_fleet.db_url) as conn:
        first, second = _device_ids(conn, ingest_fleet)[:2]
    hour = 1_780_000_000 // 3600 * 3600
    book = LatencyBook()
    # 0.3 s (the 0.5 s bucket) and 40 s (the 60 s bucket) for one device; 1,000 s (overflow) for
    # another; a device that does not exist is skipped when stored.
    book.add([first, first, second, 10**12], [0.3, 40.0, 1000.0, 1.0], committed_at=hour + 10)
    book.add([first], [-4.0], committed_at=hour + 3600 + 1)  # a clock ahead: the lowest bucket, next hour
    assert len(book) == 4
    taken = book.take()
    assert len(book) == 0
    assert _store(ingest_fleet.db_url, taken) == 3
    # A second flush of the same hour adds to the row, bucket by bucket.
    again = LatencyBook()
    again.add([first], [0.3], committed_at=hour + 30)
    assert _store(ingest_fleet.db_url, again) == 1
    with psycopg.connect(ingest_fleet.db_url) as conn:
        rows = conn.execute(
            "SELECT device_id, extract(epoch FROM hour)::bigint, counts, messages, sum_s FROM device_latency"
            " ORDER BY device_id, hour"
        ).fetchall()
    expected_first = [0] * BUCKETS
    expected_first[bucket(0.3)] = 2
    expected_first[bucket(40)] = 1
    ahead = [0] * BUCKETS
    ahead[0] = 1
    overflow = [0] * BUCKETS
    overflow[-1] = 1
    assert [(d, h, c, n) for d, h, c, n, _ in rows] == [
        (first, hour, expected_first, 3),
        (first, hour + 3600, ahead, 1),
        (second, hour, overflow, 1),
    ]
    assert abs(rows[0][4] - 40.6) < 1e-6


def test_failed_flush_is_put_back() -> None:
    book = LatencyBook()
    book.add([1], [0.2], committed_at=0.5)
    taken = book.take()
    book.add([1], [0.2], committed_at=1.5)
    book.put_back(taken)
    cell = book.hours[0][1]
    assert (sum(cell[:BUCKETS]), cell[bucket(0.2)]) == (2, 2)


def test_worker_keeps_latency_without_a_write_per_message(
    ingest_fleet: IngestFleet, workers: Workers
) -> None:
    workers.start(latency_flush_s="0.05")
    now = time.time()
    messages = []
    for i, device in enumerate(ingest_fleet.active):
        # Readings about 30 s old when sent: none can land in a bucket of 10 s or less.
        messages += [
            (ingest_fleet.topic(device), single(device, round(now) - 30 - k, 40.0 + i)) for k in range(5)
        ]
    publish(workers.stack.mqtt_url, messages)
    assert wait_rows(ingest_fleet.db_url, len(messages), timeout=60) == len(messages)
    deadline = time.monotonic() + 60
    total = 0
    while time.monotonic() < deadline:
        # The book is flushed with a later batch: keep a trickle going until it has been.
        device = ingest_fleet.active[0]
        publish(
            workers.stack.mqtt_url, [(ingest_fleet.topic(device), single(device, round(time.time()), 1.0))]
        )
        with psycopg.connect(ingest_fleet.db_url) as conn:
            rows = conn.execute(
                "SELECT d.external_id, sum(l.messages), count(*) FROM device_latency l"
                " JOIN devices d ON d.id = l.device_id GROUP BY d.external_id"
            ).fetchall()
        per_device = {r[0]: int(r[1]) for r in rows}
        # One row per device and hour however many messages: not a write per message.
        assert all(r[2] <= 2 for r in rows)
        total = sum(n for d, n in per_device.items() if d != device)
        if total >= 5 * (len(ingest_fleet.active) - 1):
            break
        time.sleep(0.2)
    assert total == 5 * (len(ingest_fleet.active) - 1)
    with psycopg.connect(ingest_fleet.db_url) as conn:
        low = conn.execute(
            "SELECT coalesce(sum(c.n), 0) FROM device_latency l JOIN devices d ON d.id = l.device_id,"
            " unnest(l.counts) WITH ORDINALITY AS c(n, i) WHERE d.external_id <> %s AND c.i <= %s",
            (ingest_fleet.active[0], bucket(30)),
        ).fetchone()
    assert low is not None
    assert low[0] == 0


def test_a_stopping_worker_flushes_what_it_counted(ingest_fleet: IngestFleet, workers: Workers) -> None:
    worker = workers.start(latency_flush_s="3600")  # never due while it runs
    now = round(time.time())
    device = ingest_fleet.active[0]
    messages = [(ingest_fleet.topic(device), single(device, now - k, 40.0)) for k in range(7)]
    publish(workers.stack.mqtt_url, messages)
    assert wait_rows(ingest_fleet.db_url, len(messages), timeout=60) == len(messages)  # committed
    with psycopg.connect(ingest_fleet.db_url) as conn:
        held = conn.execute("SELECT count(*) FROM device_latency").fetchone()
    assert held == (0,)  # counted in memory only, so far
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(timeout=60) == 0
    with psycopg.connect(ingest_fleet.db_url) as conn:
        row = conn.execute("SELECT coalesce(sum(messages), 0) FROM device_latency").fetchone()
    assert row == (len(messages),)
