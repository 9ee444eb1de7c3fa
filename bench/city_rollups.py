"""The rollup phase of ``hatang bench city``: refresh per minute with the day's chunk full vs nearly empty.

With and without the BRIN index on ``readings (time)`` of migration 0600, and that index's insert cost.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from bench.city_data import progress
from ingest.pgcopy import PG_EPOCH_US, ROW, frame
from timeseries import REFRESH_LAG, refresh


def refresh_minute(conn: psycopg.Connection[Any], mark: datetime) -> float:
    """Seconds of a refresh that materialises the one minute after ``mark`` as new (its rows are
    deleted first, untimed) and re-reads the late window before it, as each pass of the job does."""
    conn.execute(
        "DELETE FROM readings_1m WHERE bucket >= %s AND bucket < %s", (mark, mark + timedelta(minutes=1))
    )
    conn.execute("UPDATE rollup_state SET watermark = %s WHERE level = '1m'", (mark,))
    conn.execute(
        "UPDATE rollup_state SET watermark = date_trunc('hour', %s::timestamptz) WHERE level = '1h'",
        (mark,),
    )
    started = time.perf_counter()
    refresh(conn, now=mark + timedelta(minutes=1) + REFRESH_LAG)
    return time.perf_counter() - started


def rollups(url: str, *, empty_mark: datetime, full_mark: datetime, repeats: int) -> dict[str, float]:
    """Median refresh of a minute, nearly empty and full chunk taking turns (so a load that drifts
    during the run weighs on both), with the BRIN index and without it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE readings")
        out: dict[str, float] = {}
        for label in ("brin", "no_index"):
            if label == "no_index":
                conn.execute("DROP INDEX readings_time_brin")
            spent: dict[str, list[float]] = {"empty": [], "full": []}
            for _ in range(repeats):
                spent["empty"].append(refresh_minute(conn, empty_mark))
                spent["full"].append(refresh_minute(conn, full_mark))
            empty, full = statistics.median(spent["empty"]), statistics.median(spent["full"])
            out[f"rollup_minute_empty_s_{label}"] = round(empty, 4)
            out[f"rollup_minute_full_s_{label}"] = round(full, 4)
            out[f"rollup_full_vs_empty_{label}"] = round(full / empty, 3)
            progress(f"rollup refresh ({label}): empty {empty:.4f} s, full {full:.4f} s")
        conn.execute(
            "CREATE INDEX readings_time_brin ON readings USING brin (time) WITH (autosummarize = on)"
        )
    return out


def brin_insert_cost(url: str, *, rows: int, devices: list[int], start: datetime) -> dict[str, float]:
    """COPY the same live-shaped batches into two readings-shaped hypertables, one with the BRIN index."""
    with psycopg.connect(url, autocommit=True) as conn:
        for name in ("bench_copy_plain", "bench_copy_brin"):
            conn.execute(sql.SQL("CREATE TABLE {} (LIKE readings)").format(sql.Identifier(name)))
            conn.execute(
                "SELECT create_hypertable(%s, by_range('time', INTERVAL '1 day'),"
                " create_default_indexes => false)",
                (name,),
            )
            conn.execute(
                sql.SQL("CREATE UNIQUE INDEX ON {} (device_id, metric_id, time DESC)").format(
                    sql.Identifier(name)
                )
            )
        conn.execute("CREATE INDEX ON bench_copy_brin USING brin (time) WITH (autosummarize = on)")
        batch, spent = 5000, {"bench_copy_plain": 0.0, "bench_copy_brin": 0.0}
        base_us = int(start.timestamp() * 1_000_000) - PG_EPOCH_US
        for first in range(0, rows, batch):
            body = bytearray()
            for i in range(first, min(first + batch, rows)):
                body += ROW.pack(
                    4, 8, base_us + i * 10_000, 8, devices[i % len(devices)], 2, 1 + i % 3, 8, float(i % 100)
                )
            data = frame(body)
            order = (
                ("bench_copy_plain", "bench_copy_brin")
                if first // batch % 2
                else ("bench_copy_brin", "bench_copy_plain")
            )
            for name in order:
                started = time.perf_counter()
                with (
                    conn.transaction(),
                    conn.cursor() as cur,
                    cur.copy(
                        sql.SQL(
                            "COPY {} (time, device_id, metric_id, value) FROM STDIN (FORMAT BINARY)"
                        ).format(sql.Identifier(name))
                    ) as copy,
                ):
                    copy.write(data)
                spent[name] += time.perf_counter() - started
        for name in spent:
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
    plain, brin = spent["bench_copy_plain"], spent["bench_copy_brin"]
    return {
        "brin_insert_rows": rows,
        "copy_rows_s_plain": round(rows / plain),
        "copy_rows_s_brin": round(rows / brin),
        "brin_insert_cost": round(brin / plain - 1, 3),
    }
