"""Rollups answer exactly what ``time_bucket`` over raw readings answers, however far they are refreshed.

The reference answers below are computed here, straight from ``readings``, not through the code
under test. The Apache edition runs here, so these tests exercise the platform's own rollup tables;
the selection of the backend is tested in test_buckets.py.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from hatang.db import timescale_info
from tests.plugins.timeseries import Fleet, irregular_times
from timeseries import (
    Bucket,
    GroupBy,
    RefreshBusyError,
    Scope,
    aggregate,
    align,
    apply_retention,
    backend_in_use,
    ensure,
    refresh,
)

ORIGIN = datetime(2000, 1, 3, tzinfo=timezone(timedelta(hours=7)))
Row = tuple[datetime, str, int, float, float, float, float, float]

REFERENCE = """
    SELECT time_bucket(%(width)s, r.time, %(origin)s) AS bucket, {key} AS grp, count(*), sum(r.value),
           avg(r.value), min(r.value), max(r.value),
           (array_agg(r.value ORDER BY r.time DESC, r.device_id DESC))[1]
    FROM readings r JOIN devices d ON d.id = r.device_id LEFT JOIN assets a ON a.id = d.asset_id
         JOIN device_models dm ON dm.id = d.model_id
    WHERE r.metric_id = %(metric)s AND r.time >= %(start)s AND r.time < %(end)s AND {key} IS NOT NULL
    GROUP BY 1, 2 ORDER BY 2, 1
"""
KEYS: dict[str, str] = {
    "device": "d.external_id",
    "asset": "a.external_id",
    "area": "(SELECT code FROM areas WHERE id = a.area_id)",
    "sector": "coalesce(a.sector, dm.sector)",
}
CASES: list[tuple[GroupBy, str]] = [
    ("device", "1m"),
    ("device", "7m"),
    ("asset", "1h"),
    ("area", "90m"),
    ("sector", "3h"),
    ("device", "1d"),
]


def _reference(
    conn: psycopg.Connection[Any],
    fleet: Fleet,
    group_by: str,
    bucket: Bucket,
    *,
    start: datetime,
    end: datetime,
) -> list[Row]:
    first, stop = align(start, end, bucket, ORIGIN)
    rows = conn.execute(
        REFERENCE.format(key=KEYS[group_by]),
        {
            "width": bucket.width,
            "origin": ORIGIN,
            "metric": fleet.metrics["water_temperature"],
            "start": first,
            "end": stop,
        },
    ).fetchall()
    return [tuple(row) for row in rows]


def _answer(db_url: str, group_by: GroupBy, bucket: Bucket, start: datetime, end: datetime) -> list[Row]:
    async def run() -> list[Row]:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            rows = await aggregate(
                conn,
                metric="water_temperature",
                group_by=group_by,
                bucket=bucket,
                start=start,
                end=end,
                scope=Scope(),
                origin=ORIGIN,
                backend="tables",
                max_rows=100_000,
            )
        return [(r.bucket, r.group, r.count, r.sum, r.avg, r.min, r.max, r.last) for r in rows]

    return asyncio.run(run())


def _same(got: list[Row], want: list[Row]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g[:3] == w[:3]
        assert g[7] == w[7]  # the last value is one stored value, not a sum: exactly equal
        for a, b in zip(g[3:7], w[3:7], strict=True):
            assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)


@pytest.fixture
def loaded(fleet: Fleet) -> tuple[datetime, datetime]:
    """Six hours of irregular water-temperature readings from three devices, ending a minute ago."""
    now = fleet.conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    end = now - timedelta(minutes=1)
    start = (end - timedelta(hours=6)).replace(minute=17, second=3)
    for seed, device in enumerate(("wq-1", "wq-2", "wq-3")):
        fleet.add_readings(device, "water_temperature", irregular_times(start, end, seed=seed), seed=seed)
    # Another metric, which no answer may include.
    fleet.add_readings("loop-1", "traffic_vehicle_count", irregular_times(start, end, seed=9))
    return start, end


def _check_all(db_url: str, fleet: Fleet, start: datetime, end: datetime) -> None:
    for group_by, width in CASES:
        bucket = Bucket.parse(width)
        want = _reference(fleet.conn, fleet, group_by, bucket, start=start, end=end)
        assert want, (group_by, width)
        _same(_answer(db_url, group_by, bucket, start, end), want)


def test_answers_equal_raw_time_bucket_before_during_and_after_refresh(
    db_url: str, fleet: Fleet, loaded: tuple[datetime, datetime]
) -> None:
    start, end = loaded
    _check_all(db_url, fleet, start, end)  # nothing materialised: every answer from raw readings
    report = refresh(fleet.conn, now=start + timedelta(hours=2, minutes=31))  # watermarks mid-range
    assert report.watermark_1m is not None
    assert report.watermark_1h is not None
    assert start < report.watermark_1h < report.watermark_1m < end
    _check_all(db_url, fleet, start, end)  # hour rollup, then minute rollup, then raw
    refresh(fleet.conn)
    _check_all(db_url, fleet, start, end)
    # A window that starts and ends mid-bucket, and scoped queries.
    _check_all(db_url, fleet, start + timedelta(minutes=41, seconds=7), end - timedelta(minutes=53))


def test_answers_come_from_the_rollups_once_refreshed(
    db_url: str, fleet: Fleet, loaded: tuple[datetime, datetime]
) -> None:
    start, end = loaded
    report = refresh(fleet.conn)
    assert report.watermark_1m is not None
    wanted = {
        (group_by, width): _reference(fleet.conn, fleet, group_by, Bucket.parse(width), start=start, end=end)
        for group_by, width in CASES
    }
    # Raw readings behind the watermark gone (as retention would drop them): answers unchanged.
    fleet.conn.execute("DELETE FROM readings WHERE time < %s", (report.watermark_1m,))
    for (group_by, width), want in wanted.items():
        _same(_answer(db_url, group_by, Bucket.parse(width), start, end), want)


def test_late_readings_are_re_aggregated(
    db_url: str, fleet: Fleet, loaded: tuple[datetime, datetime]
) -> None:
    start, end = loaded
    refresh(fleet.conn)
    assert fleet.conn.execute("SELECT count(*) FROM rollup_invalidations").fetchone() == (0,)
    # A device that was offline flushes its buffer: hours behind the watermark, mid-bucket.
    late = irregular_times(start + timedelta(minutes=30), start + timedelta(minutes=95), seed=77)
    fleet.add_readings("wq-2", "water_temperature", [t + timedelta(microseconds=1) for t in late], seed=5)
    invalid = fleet.conn.execute("SELECT count(*) FROM rollup_invalidations").fetchone()
    assert invalid is not None
    assert invalid[0] > 0
    report = refresh(fleet.conn)
    assert report.invalidated_minutes == invalid[0]
    assert fleet.conn.execute("SELECT count(*) FROM rollup_invalidations").fetchone() == (0,)
    wanted = {
        (group_by, width): _reference(fleet.conn, fleet, group_by, Bucket.parse(width), start=start, end=end)
        for group_by, width in CASES
    }
    assert report.watermark_1m is not None
    fleet.conn.execute("DELETE FROM readings WHERE time < %s", (report.watermark_1m,))
    for (group_by, width), want in wanted.items():
        _same(_answer(db_url, group_by, Bucket.parse(width), start, end), want)


def test_scope_filters_and_visibility(db_url: str, fleet: Fleet, loaded: tuple[datetime, datetime]) -> None:
    start, end = loaded
    refresh(fleet.conn)

    async def groups(scope: Scope, group_by: GroupBy) -> set[str]:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            rows = await aggregate(
                conn, metric="water_temperature", group_by=group_by, bucket=Bucket.parse("1h"), start=start,
                end=end, scope=scope, origin=ORIGIN, backend="tables", max_rows=10_000,
            )  # fmt: skip
        return {r.group for r in rows}

    assert asyncio.run(groups(Scope(), "device")) == {"wq-1", "wq-2", "wq-3"}
    # wq-3 is fitted to no asset: it has a sector (its model's) but no area.
    assert asyncio.run(groups(Scope(), "area")) == {"dong-ngan"}
    assert asyncio.run(groups(Scope(area="tu-son"), "device")) == {"wq-1", "wq-2"}  # the commune is under it
    assert asyncio.run(groups(Scope(area="que-vo"), "device")) == set()
    assert asyncio.run(groups(Scope(sector="water"), "sector")) == {"water"}
    assert asyncio.run(groups(Scope(device="wq-2"), "device")) == {"wq-2"}
    assert asyncio.run(groups(Scope(organisation="org-b"), "device")) == set()
    assert asyncio.run(groups(Scope(visible_organisation_id=fleet.organisations["org-b"]), "device")) == set()


def test_apache_edition_keeps_the_tables_backend(fleet: Fleet) -> None:
    info = timescale_info(fleet.conn)
    assert info.edition == "apache"
    backend = ensure(
        fleet.conn, info=info, refresh_interval=timedelta(seconds=30), late_window=timedelta(days=7),
        raw_retention=timedelta(days=90), rollup_1m_retention=timedelta(days=400),
        rollup_1h_retention=timedelta(days=3650),
    )  # fmt: skip
    assert backend == "tables"
    assert backend_in_use(fleet.conn) == "tables"
    assert fleet.conn.execute("SELECT to_regclass('readings_1m_cagg')").fetchone() == (None,)


def test_one_refresh_at_a_time(db_url: str, fleet: Fleet) -> None:
    with psycopg.connect(db_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(x'686174616E68'::bigint)")
        with pytest.raises(RefreshBusyError):
            refresh(fleet.conn)
        other.execute("SELECT pg_advisory_unlock_all()")
    refresh(fleet.conn)


def test_retention_drops_old_raw_chunks_and_keeps_rollups(fleet: Fleet) -> None:
    now = datetime.now(UTC)
    noon = (now - timedelta(days=120)).replace(hour=12, minute=0, second=0, microsecond=0)
    old = [noon - timedelta(minutes=i) for i in range(5)]  # one day: one chunk
    fleet.add_readings("wq-1", "water_temperature", old)
    fleet.add_readings("wq-1", "water_temperature", [now - timedelta(minutes=30)])
    refresh(fleet.conn)
    assert fleet.conn.execute("SELECT sum(count) FROM readings_1m").fetchone() == (6,)
    report = apply_retention(
        fleet.conn, raw=timedelta(days=90), rollup_1m=timedelta(days=400), rollup_1h=timedelta(days=3650)
    )
    assert report.readings == 1
    assert (report.readings_1m, report.readings_1h) == (0, 0)
    assert fleet.conn.execute("SELECT count(*) FROM readings").fetchone() == (1,)
    assert fleet.conn.execute("SELECT sum(count) FROM readings_1m").fetchone() == (6,)
    report = apply_retention(
        fleet.conn, raw=timedelta(days=90), rollup_1m=timedelta(days=100), rollup_1h=timedelta(days=3650)
    )
    assert report.readings_1m == 1
    # The old readings live on in the hour rollup (the recent one joins it once its hour is over).
    old_hours = "SELECT sum(count) FROM readings_1h WHERE bucket < now() - interval '100 days'"
    assert fleet.conn.execute(old_hours).fetchone() == (5,)


def test_retention_never_drops_readings_the_rollups_have_not_covered(fleet: Fleet) -> None:
    now = datetime.now(UTC)
    fleet.add_readings("wq-1", "water_temperature", [now - timedelta(days=120)])
    report = apply_retention(
        fleet.conn, raw=timedelta(days=90), rollup_1m=timedelta(days=400), rollup_1h=timedelta(days=3650)
    )
    assert report.readings == 0  # never refreshed: nothing is rolled up yet
    refresh(fleet.conn)
    report = apply_retention(
        fleet.conn, raw=timedelta(days=90), rollup_1m=timedelta(days=400), rollup_1h=timedelta(days=3650)
    )
    assert report.readings == 1
