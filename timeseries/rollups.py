"""Rollup maintenance: continuous aggregates where the edition has them, the platform's own tables else.

``ensure`` prepares the backend ``choose_backend`` picks (idempotent, run by the maintenance job at
start). On the Apache edition, ``refresh`` brings the rollup tables of migration 0400 up to date:

- **Forward, with a watermark per level.** Everything before ``rollup_state.watermark`` is
  materialised; a run aggregates raw readings from ``watermark - LATE_AFTER`` up to one minute ago
  (``REFRESH_LAG``) in spans of at most ``MAX_SPAN``, upserting per-minute rows, then folds whole
  hours of per-minute rows into per-hour rows. Queries read raw data after the watermark, so answers
  never wait for a run.
- **Late data.** A reading older than its transaction's start by more than ``LATE_AFTER`` has its
  minute recorded in ``rollup_invalidations`` by the writer (``ingest.sink.write_batch``, one
  statement per batch; migration 0600 replaced 0400's row trigger); a run re-aggregates those
  minutes (and their hours) and forgets them. Readings less late than that are inside the window the
  forward pass re-reads. Only a single ingest transaction open for longer than ``REFRESH_LAG`` could
  slip a reading past both (docs/dashboard.md).

One run at a time per database (a session advisory lock; a second caller returns at once). The
rollups answer exactly what ``time_bucket`` over the raw readings answers; tests/timeseries prove it.
Owns the rollup DDL and writes; never reads for the API (``aggregates`` does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from hatang.db import TimescaleInfo
from timeseries.buckets import Backend, choose_backend

LATE_AFTER = timedelta(minutes=2)  # ingest.sink.LATE_AFTER_S (tests/ingest/test_late_minutes.py)
REFRESH_LAG = timedelta(minutes=1)
MAX_SPAN = timedelta(hours=6)
_LOCK_ID = 0x6861_7461_6E68  # "hatanh": the rollup job's advisory lock

# A row already holding what the run computed is left alone (locked, not rewritten): every forward
# pass re-reads the late window (LATE_AFTER) before its watermark, which is mostly already
# materialised and unchanged, and rewriting it cost a new row version and index entries per row. A
# refresh of the minute after a mark at 100,000 devices (390,000 rows upserted) took a median
# 4.98 s rewriting and 3.12 s skipping (alternately, same database, load average 3.6-5).
_UPSERT_SET = sql.SQL(
    "count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min, max = EXCLUDED.max, "
    "last_time = EXCLUDED.last_time, last_value = EXCLUDED.last_value "
    "WHERE (t.count, t.sum, t.min, t.max, t.last_time, t.last_value) IS DISTINCT FROM "
    "(EXCLUDED.count, EXCLUDED.sum, EXCLUDED.min, EXCLUDED.max, EXCLUDED.last_time, EXCLUDED.last_value)"
)
_MINUTES_FROM_RAW = sql.SQL(
    """
    INSERT INTO readings_1m AS t (bucket, device_id, metric_id, count, sum, min, max, last_time, last_value)
    SELECT time_bucket('1 minute', r.time), r.device_id, r.metric_id, count(*), sum(r.value), min(r.value),
           max(r.value), max(r.time), last(r.value, r.time)
    FROM readings r {join}
    WHERE {where}
    GROUP BY 1, 2, 3
    ON CONFLICT (device_id, metric_id, bucket) DO UPDATE SET {set}
    """
)
_HOURS_FROM_MINUTES = sql.SQL(
    """
    INSERT INTO readings_1h AS t (bucket, device_id, metric_id, count, sum, min, max, last_time, last_value)
    SELECT time_bucket('1 hour', m.bucket), m.device_id, m.metric_id, sum(m.count), sum(m.sum), min(m.min),
           max(m.max), max(m.last_time), last(m.last_value, m.last_time)
    FROM readings_1m m {join}
    WHERE {where}
    GROUP BY 1, 2, 3
    ON CONFLICT (device_id, metric_id, bucket) DO UPDATE SET {set}
    """
)

_CAGG_DDL = (
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS readings_1m_cagg
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket('1 minute', time) AS bucket, device_id, metric_id, count(*) AS count,
           sum(value) AS sum, min(value) AS min, max(value) AS max, max(time) AS last_time,
           last(value, time) AS last_value
    FROM readings GROUP BY 1, 2, 3 WITH NO DATA
    """,
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS readings_1h_cagg
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket('1 hour', bucket) AS bucket, device_id, metric_id, sum(count)::bigint AS count,
           sum(sum) AS sum, min(min) AS min, max(max) AS max, max(last_time) AS last_time,
           last(last_value, last_time) AS last_value
    FROM readings_1m_cagg GROUP BY 1, 2, 3 WITH NO DATA
    """,
)


class RefreshBusyError(RuntimeError):
    """Another session holds the rollup job's lock (not an error for a periodic job: it skips)."""


@dataclass(slots=True)
class RefreshReport:
    """What one ``refresh`` did."""

    watermark_1m: datetime | None = None
    watermark_1h: datetime | None = None
    minute_rows: int = 0  # rows inserted or changed (those already right are not rewritten)
    hour_rows: int = 0
    invalidated_minutes: int = 0
    spans: list[tuple[datetime, datetime]] = field(default_factory=list)


def backend_in_use(conn: psycopg.Connection[Any]) -> Backend:
    """``continuous`` once ``ensure`` has created the continuous aggregates here, else ``tables``."""
    row = conn.execute("SELECT to_regclass('readings_1m_cagg') IS NOT NULL").fetchone()
    return "continuous" if row is not None and row[0] else "tables"


def ensure(
    conn: psycopg.Connection[Any],
    *,
    info: TimescaleInfo,
    refresh_interval: timedelta,
    late_window: timedelta,
    raw_retention: timedelta,
    rollup_1m_retention: timedelta,
    rollup_1h_retention: timedelta,
) -> Backend:
    """Set up the rollup backend the edition allows (idempotent); returns it.

    On the community edition: per-minute and per-hour continuous aggregates (the hour one built on
    the minute one) with refresh policies reaching ``late_window`` back, retention policies, native
    compression of raw chunks older than ``late_window`` plus a day (ingest refuses readings older
    than the late window, so no insert meets a compressed chunk), and the late-data trigger dropped
    (continuous aggregates track invalidations themselves). On the Apache
    edition the tables of migration 0400 are already there: nothing to do.
    """
    backend = choose_backend(info)
    if backend == "tables":
        return backend
    conn.autocommit = True
    for ddl in _CAGG_DDL:
        conn.execute(ddl)
    conn.execute(
        "SELECT add_continuous_aggregate_policy('readings_1m_cagg', start_offset => %s, end_offset => %s,"
        " schedule_interval => %s, if_not_exists => true)",
        (late_window + timedelta(days=1), REFRESH_LAG, refresh_interval),
    )
    conn.execute(
        "SELECT add_continuous_aggregate_policy('readings_1h_cagg', start_offset => %s, end_offset => %s,"
        " schedule_interval => %s, if_not_exists => true)",
        (late_window + timedelta(days=2), timedelta(hours=1), max(refresh_interval, timedelta(minutes=10))),
    )
    for relation, keep in (
        ("readings", raw_retention),
        ("readings_1m_cagg", rollup_1m_retention),
        ("readings_1h_cagg", rollup_1h_retention),
    ):
        conn.execute("SELECT add_retention_policy(%s, %s, if_not_exists => true)", (relation, keep))
    compressed = conn.execute(
        "SELECT compression_enabled FROM timescaledb_information.hypertables"
        " WHERE hypertable_name = 'readings'"
    ).fetchone()
    if compressed is not None and not compressed[0]:
        conn.execute(
            "ALTER TABLE readings SET (timescaledb.compress,"
            " timescaledb.compress_segmentby = 'device_id, metric_id',"
            " timescaledb.compress_orderby = 'time DESC')"
        )
    conn.execute(
        "SELECT add_compression_policy('readings', compress_after => %s, if_not_exists => true)",
        (late_window + timedelta(days=1),),
    )
    conn.execute("DROP TRIGGER IF EXISTS readings_late ON readings")
    return backend


def refresh(conn: psycopg.Connection[Any], *, now: datetime | None = None) -> RefreshReport:
    """Bring the rollup tables up to ``now - REFRESH_LAG`` and re-aggregate late minutes.

    ``now`` defaults to the database's clock. Raises ``RefreshBusyError`` while another session runs.
    """
    conn.autocommit = True
    locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (_LOCK_ID,)).fetchone()
    if locked is None or not locked[0]:
        raise RefreshBusyError("another rollup refresh is running")
    try:
        return _refresh(conn, now)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))


def _refresh(conn: psycopg.Connection[Any], now: datetime | None) -> RefreshReport:
    report = RefreshReport()
    row = conn.execute(
        "SELECT date_trunc('minute', coalesce(%s::timestamptz, now()) - %s),"
        " (SELECT watermark FROM rollup_state WHERE level = '1m'),"
        " (SELECT watermark FROM rollup_state WHERE level = '1h')",
        (now, REFRESH_LAG),
    ).fetchone()
    assert row is not None
    horizon: datetime = row[0]
    minute_mark: datetime | None = row[1]
    hour_mark: datetime | None = row[2]
    forward_start = _forward_minutes(conn, report, horizon=horizon, minute_mark=minute_mark)
    minute_mark = max(minute_mark, horizon) if minute_mark is not None else horizon
    late_hours = _late_minutes(conn, report, minute_mark=minute_mark)
    hour_horizon = _hours(
        conn, report, minute_mark=minute_mark, hour_mark=hour_mark, forward_start=forward_start,
        late_hours=late_hours,
    )  # fmt: skip
    report.watermark_1m = minute_mark
    report.watermark_1h = max(hour_mark, hour_horizon) if hour_mark is not None else hour_horizon
    return report


_ALL = sql.SQL("TRUE")


def _fold_late(
    conn: psycopg.Connection[Any], template: sql.SQL, column: str, width: str, buckets: list[datetime]
) -> int:
    """Re-aggregate with ``template`` the rows of ``column`` within ``width`` of each late bucket;
    returns the rows written."""
    join = sql.SQL(
        "JOIN unnest(%(late)s::timestamptz[]) AS l(bucket)"
        " ON {c} >= l.bucket AND {c} < l.bucket + {w}::interval"
    ).format(c=sql.SQL(column), w=sql.Literal(width))
    cur = conn.execute(template.format(join=join, where=_ALL, set=_UPSERT_SET), {"late": buckets})
    return max(cur.rowcount, 0)


def _fold_range(
    conn: psycopg.Connection[Any], template: sql.SQL, column: str, lower: datetime, upper: datetime
) -> int:
    """Aggregate with ``template`` the rows of ``column`` in ``[lower, upper)``; returns the rows written."""
    where = sql.SQL("{c} >= %(lo)s AND {c} < %(hi)s").format(c=sql.SQL(column))
    query = template.format(join=sql.SQL(""), where=where, set=_UPSERT_SET)
    cur = conn.execute(query, {"lo": lower, "hi": upper})
    return max(cur.rowcount, 0)


def _forward_minutes(
    conn: psycopg.Connection[Any], report: RefreshReport, *, horizon: datetime, minute_mark: datetime | None
) -> datetime:
    """Forward, per minute: from the watermark less the late window (or the first reading) to the
    horizon, ``MAX_SPAN`` a transaction; returns where it started."""
    if minute_mark is None:
        first = conn.execute("SELECT date_trunc('minute', min(time)) FROM readings").fetchone()
        lower = first[0] if first is not None and first[0] is not None else horizon
    else:
        lower = minute_mark - LATE_AFTER
    lower = min(lower, horizon)
    forward_start = lower
    while True:
        upper = min(lower + MAX_SPAN, horizon)
        with conn.transaction():
            report.minute_rows += _fold_range(conn, _MINUTES_FROM_RAW, "r.time", lower, upper)
            conn.execute(
                "UPDATE rollup_state SET watermark = greatest(watermark, %s), refreshed_at = now()"
                " WHERE level = '1m'",
                (upper,),
            )
        report.spans.append((lower, upper))
        if upper >= horizon:
            return forward_start
        lower = upper


def _late_minutes(
    conn: psycopg.Connection[Any], report: RefreshReport, *, minute_mark: datetime
) -> list[datetime]:
    """Late minutes behind the watermark: re-aggregate and forget them, in one transaction; returns
    the hours they fall in."""
    late_hours: list[datetime] = []
    with conn.transaction():
        late = [
            r[0]
            for r in conn.execute(
                "DELETE FROM rollup_invalidations WHERE bucket < %s RETURNING bucket", (minute_mark,)
            ).fetchall()
        ]
        if late:
            report.minute_rows += _fold_late(conn, _MINUTES_FROM_RAW, "r.time", "1 minute", late)
            late_hours = sorted({m.replace(minute=0, second=0, microsecond=0) for m in late})
    report.invalidated_minutes = len(late)
    return late_hours


def _hours(
    conn: psycopg.Connection[Any],
    report: RefreshReport,
    *,
    minute_mark: datetime,
    hour_mark: datetime | None,
    forward_start: datetime,
    late_hours: list[datetime],
) -> datetime:
    """Per hour, from the per-minute rows: whole hours before the per-minute watermark, and the late
    hours before that again; returns the hour horizon."""
    hour_horizon = minute_mark.replace(minute=0, second=0, microsecond=0)
    if hour_mark is None:
        first = conn.execute("SELECT date_trunc('hour', min(bucket)) FROM readings_1m").fetchone()
        hour_lower = first[0] if first is not None and first[0] is not None else hour_horizon
    else:
        # Hours whose minutes this run rewrote are folded again (the forward pass re-reads LATE_AFTER).
        hour_lower = min(hour_mark, forward_start.replace(minute=0, second=0, microsecond=0))
    hour_lower = min(hour_lower, hour_horizon)
    with conn.transaction():
        report.hour_rows += _fold_range(conn, _HOURS_FROM_MINUTES, "m.bucket", hour_lower, hour_horizon)
        redo = [h for h in late_hours if h < hour_lower]
        if redo:
            report.hour_rows += _fold_late(conn, _HOURS_FROM_MINUTES, "m.bucket", "1 hour", redo)
        conn.execute(
            "UPDATE rollup_state SET watermark = greatest(watermark, %s), refreshed_at = now()"
            " WHERE level = '1h'",
            (hour_horizon,),
        )
    return hour_horizon
