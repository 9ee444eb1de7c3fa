"""``hatang bench storage``: the database side of the capacity model (docs/capacity.md).

Owns the storage benchmark: in a scratch database on the configured server (created, migrated and
dropped by the run), it COPYs synthetic one-a-minute readings into the ``readings`` hypertable in
ingest-sized transactions, binary format built beforehand so that only the server's work is timed,
then reports rows/s, bytes per reading on disk (``hypertable_size`` after VACUUM) split into heap
and index, and the size of a one-day chunk. It never touches the platform's own database.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from hatang.migrate import migrate
from hatang.settings import Settings
from hatang.stack import Stack
from ingest.pgcopy import epoch_us, frame, pack_row

_COPY = "COPY readings (time, device_id, metric_id, value) FROM STDIN (FORMAT BINARY)"
_START = 1_748_736_000.0  # 2025-06-01T00:00:00Z, a chunk boundary


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``bench storage``."""
    parser = subparsers.add_parser("storage", help="COPY rows/s and bytes per reading of the readings table")
    parser.add_argument("--rows", type=int, default=2_000_000, help="readings to load (default 2,000,000)")
    parser.add_argument("--devices", type=int, default=2_000, help="distinct devices (default 2,000)")
    parser.add_argument("--metrics", type=int, default=4, help="metrics per device (default 4)")
    parser.add_argument("--batch", type=int, default=None, help="rows per transaction (default: ingest's)")
    parser.set_defaults(func=_run)


def _batches(*, rows: int, devices: int, metrics: int, batch: int) -> list[bytes]:
    """COPY streams of ``batch`` rows: every device's metrics once a minute, in time order."""
    streams, current = [], bytearray()
    for i in range(rows):
        minute, rest = divmod(i, devices * metrics)
        device, metric = divmod(rest, metrics)
        current += pack_row(epoch_us(_START + 60 * minute), device + 1, metric + 1, 20.0 + (i % 997) / 10)
        if (i + 1) % batch == 0:
            streams.append(frame(current))
            current = bytearray()
    if current:
        streams.append(frame(current))
    return streams


def measure(*, url: str, rows: int, devices: int, metrics: int, batch: int) -> dict[str, Any]:
    """Load ``rows`` readings into a scratch database beside ``url``; returns the figures."""
    streams = _batches(rows=rows, devices=devices, metrics=metrics, batch=batch)
    scratch = f"hatang_bench_storage_{int(time.time())}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    try:
        with psycopg.connect(make_conninfo(url, dbname=scratch)) as conn:
            migrate(conn)
            start = time.perf_counter()
            for stream in streams:
                with conn.cursor() as cur, cur.copy(_COPY) as copy:
                    copy.write(stream)
                conn.commit()
            elapsed = time.perf_counter() - start
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE readings")
            row = conn.execute(
                "SELECT table_bytes, index_bytes, total_bytes FROM hypertable_detailed_size('readings')"
            ).fetchone()
            assert row is not None
            table_bytes, index_bytes, total_bytes = (int(v or 0) for v in row)
            chunks = conn.execute(
                "SELECT c.range_start, c.range_end, s.total_bytes FROM chunks_detailed_size('readings') s"
                " JOIN timescaledb_information.chunks c ON c.chunk_schema = s.chunk_schema"
                " AND c.chunk_name = s.chunk_name ORDER BY c.range_start"
            ).fetchall()
            span_s = (rows // (devices * metrics)) * 60
            version = conn.execute("SELECT current_setting('server_version')").fetchone()
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
    return {
        "benchmark": "storage",
        "postgresql": version[0] if version else "unknown",
        "rows": rows,
        "devices": devices,
        "metrics_per_device": metrics,
        "batch_rows": batch,
        "copy_seconds": round(elapsed, 3),
        "copy_rows_per_s": round(rows / elapsed),
        "bytes_per_reading": round(total_bytes / rows, 1),
        "heap_bytes_per_reading": round(table_bytes / rows, 1),
        "index_bytes_per_reading": round(index_bytes / rows, 1),
        "hypertable_bytes": total_bytes,
        "chunks": len(chunks),
        "largest_chunk_bytes": max((int(c[2] or 0) for c in chunks), default=0),
        "data_span_s": span_s,
    }


def _run(args: argparse.Namespace, settings: Settings) -> int:
    batch = args.batch or settings.ingest.batch_size
    figures = measure(
        url=Stack.from_settings(settings).database_url,
        rows=args.rows,
        devices=args.devices,
        metrics=args.metrics,
        batch=batch,
    )
    width = max(len(key) for key in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(figures))
    return 0
