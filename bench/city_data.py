"""The city's data for ``hatang bench city``: the fleet, its live history, and the helpers the phases share.

Writes readings inside PostgreSQL (``generate_series``, in time order; nothing goes through MQTT).
Used by the ``bench.city*`` modules only.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from typing import Any

import psycopg

# Active devices with their model's reporting interval and metric ids (from the stored contract).
FLEET = """
    SELECT d.id, (dm.contract->>'reporting_interval_s')::float8::int AS every,
           (d.id * 7919) % (dm.contract->>'reporting_interval_s')::float8::int AS phase,
           array_agg(m.id ORDER BY m.id) AS metrics
    FROM devices d
    JOIN device_models dm ON dm.id = d.model_id
    CROSS JOIN LATERAL jsonb_array_elements(dm.contract->'fields') AS f(field)
    JOIN metrics m ON m.name = f.field->>'metric'
    WHERE d.state = 'active'
    GROUP BY d.id, dm.contract
"""
# One span of history: every active device at its reporting interval (phase spread by device id),
# each report carrying every metric of its model, written in time order as ingest writes it (in
# device order, each BRIN range of a span would cover the whole span). Runs inside PostgreSQL.
HISTORY = """
    INSERT INTO readings (time, device_id, metric_id, value)
    SELECT t, f.id, metric, ((f.id %% 97) + (extract(epoch FROM t)::bigint %% 13))::float8
    FROM bench_fleet f
    CROSS JOIN LATERAL generate_series(
        to_timestamp(ceil((extract(epoch FROM %(lo)s::timestamptz) - f.phase) / f.every) * f.every + f.phase),
        %(hi)s::timestamptz - interval '1 microsecond', f.every * interval '1 second') AS t
    CROSS JOIN LATERAL unnest(f.metrics) AS metric
    ORDER BY t
"""


def progress(message: str) -> None:
    print(f"city: {message}", file=sys.stderr, flush=True)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def one(conn: psycopg.Connection[Any], query: str, params: Any = None) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def write_history(conn: psycopg.Connection[Any], lo: datetime, hi: datetime, *, label: str) -> int:
    """Write the fleet's readings in ``[lo, hi)``, ten minutes per statement; returns the rows."""
    rows, step, start = 0, timedelta(minutes=10), lo
    while start < hi:
        end = min(start + step, hi)
        with conn.transaction():
            rows += max(conn.execute(HISTORY, {"lo": start, "hi": end}).rowcount, 0)
        start = end
        progress(f"{label}: {rows:,} readings up to {end:%H:%M}")
    return rows
