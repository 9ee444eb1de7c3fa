"""``hatang bench city``: the platform at city shape, each cost against the same cost at small shape.

Owns the city benchmark. In a scratch database beside the configured one (created, migrated and
dropped by the run) it writes a province of ``--devices`` devices of every model over every sector,
organisation and area (``bench.province``) and ``--history-hours`` of live history (up to a minute
ago) at each model's reporting interval, generated inside PostgreSQL (``generate_series``, in time
order; nothing goes through MQTT) — the active chunk holds what falls after 00:00 UTC — then
measures, side by side in one run, each figure against the same figure at a small shape:

- **rollup refresh** per minute of new data with the day's chunk full (``--history-hours`` of the
  fleet) vs nearly empty (ten minutes of it), with and without the BRIN index on ``readings
  (time)`` of migration 0600 — and that index's insert cost: binary COPY into two hypertables
  shaped like ``readings``, one with it, batches alternating;
- **``/v1/latest``** through the real application, walking the whole fleet page by page: last page
  vs first page; the query before migration 0600's keyset paging timed on the same two pages;
- **``/v1/readiness``** p99 through the real application (its live counts cached per scope for a
  few seconds) and of the computation itself (a cache miss) while a writer updates ``last_seen``
  the way ingest does, with the scans of ``readings`` counted (must be 0);
- **ingest**: ``hatang ingest`` draining the same messages of a city's mix at 500 devices and at the
  whole city (``bench.city_ingest``): messages and readings a second, city vs small;
- **the ingest worker's event loop** (its registry watcher in this process) while devices are
  onboarded in bulk and assets move between areas: stall p99.9 and max; the whole-registry reload
  on the loop (before) vs off it (after); the process's RSS with the fleet cached.

Prints a table, then one JSON object (every figure, the goals, ``"ok"``) as its last line;
``--check`` exits 1 when a goal is missed. The 200-client stream phase is ``hatang bench streams
--filter device`` (a bench of its own); end to end from an MQTT publish through ingest to a
WebSocket client is not measured yet (docs/capacity.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from api import create_app
from bench.city_ingest import measure_ingest
from bench.province import generate
from bench.readiness import _readings_scans
from firmware_contracts import Limits, load_models
from hatang.migrate import migrate
from hatang.settings import Settings
from hatang.stack import Stack
from ingest import IngestMetrics, RegistryWatcher, load_devices
from ingest.pgcopy import PG_EPOCH_US, ROW, frame
from registry.audit import CLI
from registry.keys import create_key
from registry.readiness import service
from timeseries import REFRESH_LAG, refresh

GOALS: dict[str, float] = {
    "ingest_city_vs_small_min": 0.8,
    "rollup_full_vs_empty_max": 1.5,
    "latest_last_vs_first_max": 1.5,
    "readiness_p99_max_s": 1.0,
    "readiness_readings_scans_max": 0,
    "loop_stall_p999_max_s": 0.25,
}

# Active devices with their model's reporting interval and metric ids (from the stored contract).
_FLEET = """
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
_HISTORY = """
    INSERT INTO readings (time, device_id, metric_id, value)
    SELECT t, f.id, metric, ((f.id %% 97) + (extract(epoch FROM t)::bigint %% 13))::float8
    FROM bench_fleet f
    CROSS JOIN LATERAL generate_series(
        to_timestamp(ceil((extract(epoch FROM %(lo)s::timestamptz) - f.phase) / f.every) * f.every + f.phase),
        %(hi)s::timestamptz - interval '1 microsecond', f.every * interval '1 second') AS t
    CROSS JOIN LATERAL unnest(f.metrics) AS metric
    ORDER BY t
"""
# The /v1/latest query before migration 0600's keyset paging (ordered by a computed key).
_LEGACY_LATEST = """
    SELECT d.external_id, m.name, l.time, l.value, (d.id * 32768 + l.metric_id) AS key
    FROM latest_readings l
    JOIN devices d ON d.id = l.device_id
    LEFT JOIN assets a ON a.id = d.asset_id
    JOIN device_models dm ON dm.id = d.model_id
    JOIN metrics m ON m.id = l.metric_id
    WHERE (d.id * 32768 + l.metric_id) > %s
    ORDER BY key
    LIMIT %s
"""
_SEEN = """
    UPDATE devices SET last_seen = now()
    WHERE id = ANY(%s::bigint[]) AND (last_seen IS NULL OR last_seen < now())
"""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``bench city``."""
    parser = subparsers.add_parser(
        "city", help="rollups, latest, readiness and the device cache at city shape vs small shape"
    )
    parser.add_argument("--devices", type=int, default=100_000, help="devices (default 100,000)")
    parser.add_argument(
        "--assets", type=int, default=None, help="essential assets (default: half the devices)"
    )
    parser.add_argument(
        "--history-hours", type=float, default=12.0,
        help="hours of the fleet's live history (default 12; ~96 M readings at 100,000 devices)",
    )  # fmt: skip
    parser.add_argument("--onboard", type=int, default=10_000, help="devices onboarded in bulk (10,000)")
    parser.add_argument(
        "--ingest-messages", type=int, default=100_000, help="messages per ingest shape (default 100,000)"
    )
    parser.add_argument("--requests", type=int, default=50, help="timed requests per case (default 50)")
    parser.add_argument("--page-size", type=int, default=1000, help="/v1/latest page size (1,000)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument(
        "--url",
        default=None,
        help="PostgreSQL server URL for the scratch database (default: the local stack)",
    )
    parser.set_defaults(func=_run)


def _progress(message: str) -> None:
    print(f"city: {message}", file=sys.stderr, flush=True)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _one(conn: psycopg.Connection[Any], query: str, params: Any = None) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


# -- data -----------------------------------------------------------------------------------------


def _history(conn: psycopg.Connection[Any], lo: datetime, hi: datetime, *, label: str) -> int:
    """Write the fleet's readings in ``[lo, hi)``, ten minutes per statement; returns the rows."""
    rows, step, start = 0, timedelta(minutes=10), lo
    while start < hi:
        end = min(start + step, hi)
        with conn.transaction():
            rows += max(conn.execute(_HISTORY, {"lo": start, "hi": end}).rowcount, 0)
        start = end
        _progress(f"{label}: {rows:,} readings up to {end:%H:%M}")
    return rows


# -- rollups --------------------------------------------------------------------------------------


def _refresh_minute(conn: psycopg.Connection[Any], mark: datetime, repeats: int) -> float:
    """Median seconds of a refresh that materialises the one minute after ``mark``."""
    times = []
    for _ in range(repeats):
        conn.execute("UPDATE rollup_state SET watermark = %s WHERE level = '1m'", (mark,))
        conn.execute(
            "UPDATE rollup_state SET watermark = date_trunc('hour', %s::timestamptz) WHERE level = '1h'",
            (mark,),
        )
        started = time.perf_counter()
        refresh(conn, now=mark + timedelta(minutes=1) + REFRESH_LAG)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _rollups(url: str, *, empty_mark: datetime, full_mark: datetime, repeats: int) -> dict[str, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE readings")
        out: dict[str, float] = {}
        for label in ("brin", "no_index"):
            if label == "no_index":
                conn.execute("DROP INDEX readings_time_brin")
            empty = _refresh_minute(conn, empty_mark, repeats)
            full = _refresh_minute(conn, full_mark, repeats)
            out[f"rollup_minute_empty_s_{label}"] = round(empty, 4)
            out[f"rollup_minute_full_s_{label}"] = round(full, 4)
            out[f"rollup_full_vs_empty_{label}"] = round(full / empty, 3)
            _progress(f"rollup refresh ({label}): empty {empty:.4f} s, full {full:.4f} s")
        conn.execute(
            "CREATE INDEX readings_time_brin ON readings USING brin (time) WITH (autosummarize = on)"
        )
    return out


def _brin_insert_cost(url: str, *, rows: int, devices: list[int], start: datetime) -> dict[str, float]:
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


# -- API ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _SeenWriter:
    """A thread updating last_seen for 5,000 active devices at a time, as ingest does, until stopped."""

    url: str
    ids: list[int]
    stop: threading.Event
    rows: int = 0

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            k = 0
            while not self.stop.is_set():
                chunk = self.ids[k : k + 5000] or self.ids[:5000]
                k = k + 5000 if k + 5000 < len(self.ids) else 0
                self.rows += max(conn.execute(_SEEN, (chunk,)).rowcount, 0)
                time.sleep(0.05)


async def _api(
    settings: Settings, url: str, mqtt_url: str, args: argparse.Namespace, active: list[int]
) -> dict[str, Any]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute("SELECT id FROM organisations ORDER BY id LIMIT 1")
        row = await cur.fetchone()
        assert row is not None
        issued = await create_key(conn, organisation_id=row[0], role="admin", name="bench", actor=CLI)
    app = create_app(settings, database_url=url, mqtt_url=mqtt_url, load_contracts=False)
    headers = {"Authorization": f"Bearer {issued.token}"}
    out: dict[str, Any] = {}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120
        ) as client,
    ):

        async def get(path: str, **params: str) -> dict[str, Any]:
            response = await client.get(path, params=params, headers=headers)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body

        async def timed(call: Callable[[], Awaitable[object]], count: int) -> list[float]:
            times = []
            for _ in range(count):
                started = time.perf_counter()
                await call()
                times.append(time.perf_counter() - started)
            return times

        # /v1/latest: the whole fleet, page by page; then the first and the last page again.
        size = str(args.page_size)
        cursors: list[str | None] = [None]
        pages, items = [], 0
        while True:
            cursor = cursors[-1]
            started = time.perf_counter()
            body = await (
                get("/v1/latest", limit=size, cursor=cursor) if cursor else get("/v1/latest", limit=size)
            )
            pages.append(time.perf_counter() - started)
            items += len(body["items"])
            if not body.get("next_cursor"):
                break
            cursors.append(body["next_cursor"])
            if len(pages) % 100 == 0:
                _progress(f"/v1/latest: {len(pages)} pages, {items:,} values")
        last = cursors[-1]
        repeats = max(5, args.requests // 5)
        first_times = await timed(lambda: get("/v1/latest", limit=size), repeats)
        last_times = await timed(
            lambda: get("/v1/latest", limit=size, cursor=last) if last else get("/v1/latest", limit=size),
            repeats,
        )
        out.update(
            latest_pages=len(pages),
            latest_values=items,
            latest_walk_s=round(sum(pages), 2),
            latest_first_page_s=round(statistics.median(first_times), 4),
            latest_last_page_s=round(statistics.median(last_times), 4),
        )
        out["latest_last_vs_first"] = round(out["latest_last_page_s"] / out["latest_first_page_s"], 3)

        # /v1/readiness with last_seen being written beside it.
        stop = threading.Event()
        writer = _SeenWriter(url, active, stop)
        thread = threading.Thread(target=writer.run, name="bench-last-seen", daemon=True)
        scans_before = _readings_scans(url)
        thread.start()
        try:
            await get("/v1/readiness")
            readiness = await timed(lambda: get("/v1/readiness"), args.requests)
            # What a cache miss costs: the computation itself, every time.
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                compute = await timed(
                    lambda: service.readiness(conn, settings=settings.readiness, now=datetime.now(UTC)),
                    args.requests,
                )
        finally:
            stop.set()
            thread.join(timeout=30)
        await asyncio.sleep(0.6)  # backends flush their table statistics at most once a second
        out.update(
            readiness_requests=len(readiness),
            readiness_p50_s=round(_quantile(readiness, 0.5), 4),
            readiness_p99_s=round(_quantile(readiness, 0.99), 4),
            readiness_compute_p50_s=round(_quantile(compute, 0.5), 4),
            readiness_compute_p99_s=round(_quantile(compute, 0.99), 4),
            readiness_last_seen_rows=writer.rows,
            readiness_readings_scans=_readings_scans(url) - scans_before,
        )
    return out


def _legacy_latest(url: str, *, page_size: int) -> dict[str, float]:
    """The query before keyset paging, on the first and the last page (same page size)."""
    with psycopg.connect(url, autocommit=True) as conn:
        total = _one(conn, "SELECT count(*) FROM latest_readings")
        last_after = (
            _one(
                conn,
                "SELECT coalesce(min(k), -1) FROM (SELECT device_id * 32768 + metric_id AS k"
                " FROM latest_readings ORDER BY 1 DESC LIMIT %s) AS t",
                (page_size + 1,),
            )
            if total > page_size
            else -1
        )
        times: dict[str, list[float]] = {"first": [], "last": []}
        for _ in range(5):
            for label, after in (("first", -1), ("last", last_after)):
                started = time.perf_counter()
                conn.execute(_LEGACY_LATEST, (after, page_size + 1)).fetchall()
                times[label].append(time.perf_counter() - started)
    first, last = statistics.median(times["first"]), statistics.median(times["last"])
    return {
        "legacy_latest_first_page_s": round(first, 4),
        "legacy_latest_last_page_s": round(last, 4),
        "legacy_latest_last_vs_first": round(last / first, 3),
    }


# -- ingest's device cache ------------------------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _Ticker:
    """Lateness of a 5-ms timer on the running loop: what a stall does to message handling."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + 0.005
            await asyncio.sleep(0.005)
            self.lags.append(max(0.0, loop.time() - due))

    def __enter__(self) -> _Ticker:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def _device_cache(settings: Settings, url: str, *, onboard: int) -> dict[str, Any]:
    rss_before = _rss_mb()
    worker = RegistryWatcher(
        database_url=url, models=load_models(), limits=Limits.of(settings.contracts),
        metrics=IngestMetrics(), retry_initial_s=0.2, retry_max_s=5.0,
    )  # fmt: skip
    out: dict[str, Any] = {}
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        # Before: the whole registry read and built on the loop (what the worker did every 5 minutes
        # and on any asset change).
        with _Ticker() as ticker:
            started = time.perf_counter()
            worker.devices.apply(await load_devices(conn), replace=True)
            on_loop = time.perf_counter() - started
            await asyncio.sleep(0.05)
        out["reload_on_loop_s"] = round(on_loop, 3)
        out["reload_on_loop_stall_max_s"] = round(max(ticker.lags), 4)
        # After: read and built in a thread, swapped in.
        with _Ticker() as ticker:
            started = time.perf_counter()
            await worker.reload_all(conn)
            off_loop = time.perf_counter() - started
            await asyncio.sleep(0.05)
        out["reload_off_loop_s"] = round(off_loop, 3)
        out["reload_off_loop_stall_max_s"] = round(max(ticker.lags), 4)
        out["cached_devices"] = len(worker.devices)
        out["worker_rss_mb"] = round(_rss_mb(), 1)
        out["device_cache_mb"] = round(_rss_mb() - rss_before, 1)

    # Bulk onboarding and assets moving between areas, with the registry watcher running.
    watcher = asyncio.create_task(worker.run())
    await worker.ready.wait()
    tag = uuid.uuid4().hex[:6]
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute("SELECT id FROM areas WHERE level = 'commune' ORDER BY id")
        communes = [row[0] for row in await cur.fetchall()]
        rng = random.Random(15)
        with _Ticker() as ticker:
            started = time.perf_counter()
            for first in range(0, onboard, 1000):
                names = [f"onb-{tag}-{i:07d}" for i in range(first, min(first + 1000, onboard))]
                await conn.execute(
                    """
                    INSERT INTO devices (external_id, model_id, organisation_id, asset_id, state)
                    SELECT n, a.model_id, a.organisation_id, a.asset_id, 'active'
                    FROM unnest(%s::text[]) WITH ORDINALITY AS u(n, k)
                    JOIN LATERAL (SELECT model_id, organisation_id, asset_id FROM devices
                                  WHERE asset_id IS NOT NULL ORDER BY id OFFSET (u.k %% 100) LIMIT 1
                                 ) AS a ON true
                    """,
                    (names,),
                )
                await conn.execute(
                    "UPDATE assets SET area_id = %s"
                    " WHERE id IN (SELECT id FROM assets ORDER BY id OFFSET %s LIMIT 100)",
                    (rng.choice(communes), rng.randrange(1000)),
                )
                await asyncio.sleep(0.2)
            expected = out["cached_devices"] + onboard
            deadline = time.monotonic() + 120
            while len(worker.devices) < expected and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # the cache has no event to wait on: poll its size
            onboard_s = time.perf_counter() - started
        out["onboarded"] = onboard
        out["onboarded_cached"] = len(worker.devices) - out["cached_devices"]
        out["onboard_s"] = round(onboard_s, 2)
        out["loop_stall_p999_s"] = round(_quantile(ticker.lags, 0.999), 4)
        out["loop_stall_max_s"] = round(max(ticker.lags), 4)
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    await worker.close()
    return out


# -- the run --------------------------------------------------------------------------------------


def measure(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """Build the city in a scratch database and measure it; returns the JSON figures."""
    stack = Stack.from_settings(settings)
    started = [] if args.url else stack.up()
    server = args.url or stack.database_url
    scratch = f"hatang_bench_city_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    url = make_conninfo(server, dbname=scratch)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    figures: dict[str, Any] = {"benchmark": "city"}
    try:
        with psycopg.connect(url) as conn:
            migrate(conn)
        with psycopg.connect(url) as conn:
            assets = args.assets if args.assets is not None else max(1, args.devices // 2)
            made = generate(conn, assets=assets, devices=args.devices, now=now)
            _progress(f"province: {made.essential_assets:,} essential assets, {made.devices:,} devices")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE UNLOGGED TABLE bench_fleet AS {_FLEET}")
            active = [row[0] for row in conn.execute("SELECT id FROM bench_fleet ORDER BY id")]
            shared = _one(
                conn, "SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers'"
            )
            # Live history up to a minute ago (the active chunk holds what falls after 00:00 UTC);
            # the chunk of the day before yesterday: ten minutes only.
            hours = min(args.history_hours, 23.5)
            full_end = now - timedelta(minutes=1)
            empty_day = now.replace(hour=0, minute=0) - timedelta(days=2)
            history_started = time.perf_counter()
            full_rows = _history(conn, full_end - timedelta(hours=hours), full_end, label="live history")
            empty_rows = _history(
                conn, empty_day, empty_day + timedelta(minutes=10), label="nearly empty day"
            )
            history_s = time.perf_counter() - history_started
            chunk_bytes = _one(
                conn,
                "SELECT coalesce(sum(total_bytes), 0) FROM chunks_detailed_size('readings')"
                " WHERE chunk_name = (SELECT chunk_name FROM timescaledb_information.chunks"
                " WHERE hypertable_name = 'readings' AND range_start <= %s AND range_end > %s)",
                (full_end, full_end),
            )
            conn.execute(
                "INSERT INTO latest_readings (device_id, metric_id, time, value)"
                " SELECT f.id, m, now(), 1.0 FROM bench_fleet f, unnest(f.metrics) AS m"
            )
            conn.execute("VACUUM ANALYZE readings")
            conn.execute("VACUUM ANALYZE latest_readings")
        figures.update(
            essential_assets=made.essential_assets,
            devices=made.devices,
            active_devices=len(active),
            areas=made.areas,
            organisations=made.organisations,
            history_hours=hours,
            history_rows=full_rows + empty_rows,
            history_rows_s=round((full_rows + empty_rows) / history_s),
            full_chunk_mb=round(int(chunk_bytes) / 2**20, 1),
            shared_buffers_mb=round(int(shared) / 2**20, 1),
        )
        _progress(f"history: {full_rows + empty_rows:,} readings; full chunk {figures['full_chunk_mb']} MB")
        figures.update(
            _rollups(
                url,
                empty_mark=empty_day + timedelta(minutes=7),
                full_mark=full_end - timedelta(minutes=2),
                repeats=3,
            )
        )
        figures.update(
            _brin_insert_cost(url, rows=min(500_000, max(50_000, full_rows // 20)), devices=active, start=now)
        )
        _progress(f"BRIN insert cost {figures['brin_insert_cost']}")
        figures.update(asyncio.run(_device_cache(settings, url, onboard=args.onboard)))
        _progress(f"device cache: stall p99.9 {figures['loop_stall_p999_s']} s")
        figures.update(_legacy_latest(url, page_size=args.page_size))
        figures.update(asyncio.run(_api(settings, url, stack.mqtt_url("api"), args, active)))
        figures.update(
            measure_ingest(
                url, stack.mqtt_url, mount=settings.device_mount, messages=args.ingest_messages,
                batch=settings.ingest.batch_size,
            )
        )
        _progress(f"ingest city vs small: {figures['ingest_msgs_city_vs_small']}")
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
        if started:
            stack.down(only=started)
    figures["goals"] = GOALS
    figures["ok"] = (
        figures["ingest_msgs_city_vs_small"] >= GOALS["ingest_city_vs_small_min"]
        and figures["ingest_readings_city_vs_small"] >= GOALS["ingest_city_vs_small_min"]
        and figures["rollup_full_vs_empty_brin"] <= GOALS["rollup_full_vs_empty_max"]
        and figures["latest_last_vs_first"] <= GOALS["latest_last_vs_first_max"]
        and figures["readiness_compute_p99_s"] < GOALS["readiness_p99_max_s"]
        and figures["readiness_readings_scans"] <= GOALS["readiness_readings_scans_max"]
        and figures["loop_stall_p999_s"] < GOALS["loop_stall_p999_max_s"]
    )
    return figures


def _run(args: argparse.Namespace, settings: Settings) -> int:
    f = measure(settings, args)
    rollup = "rollup_minute_{}_s_{}"
    rows = [
        ("devices (active) / essential assets",
         f"{f['devices']:,} ({f['active_devices']:,}) / {f['essential_assets']:,}"),
        ("history", f"{f['history_rows']:,} readings, {f['history_hours']} h; "
                    f"full chunk {f['full_chunk_mb']} MB (shared_buffers {f['shared_buffers_mb']} MB)"),
        ("rollup minute, full vs empty chunk (BRIN)",
         f"{f[rollup.format('full', 'brin')]} / {f[rollup.format('empty', 'brin')]} s"
         f" = {f['rollup_full_vs_empty_brin']}"),
        ("  without the BRIN index (before)",
         f"{f[rollup.format('full', 'no_index')]} / {f[rollup.format('empty', 'no_index')]} s"
         f" = {f['rollup_full_vs_empty_no_index']}"),
        ("BRIN insert cost (COPY rows/s)",
         f"{f['copy_rows_s_brin']:,} vs {f['copy_rows_s_plain']:,}: {f['brin_insert_cost']:+.1%}"),
        ("/v1/latest last vs first page (keyset)",
         f"{f['latest_last_page_s']} / {f['latest_first_page_s']} s = {f['latest_last_vs_first']} "
         f"({f['latest_pages']} pages)"),
        ("  query before keyset paging",
         f"{f['legacy_latest_last_page_s']} / {f['legacy_latest_first_page_s']} s"
         f" = {f['legacy_latest_last_vs_first']}"),
        ("/v1/readiness p50 / p99 (last_seen written)",
         f"{f['readiness_p50_s']} / {f['readiness_p99_s']} s; "
         f"readings scans {f['readiness_readings_scans']}"),
        ("  computed every time (cache miss) p50 / p99",
         f"{f['readiness_compute_p50_s']} / {f['readiness_compute_p99_s']} s"),
        ("registry reload on loop (before): stall",
         f"{f['reload_on_loop_stall_max_s']} s of {f['reload_on_loop_s']} s"),
        ("registry reload off loop (after): stall",
         f"{f['reload_off_loop_stall_max_s']} s of {f['reload_off_loop_s']} s"),
        (f"onboarding {f['onboarded']:,}: loop stall p99.9 / max",
         f"{f['loop_stall_p999_s']} / {f['loop_stall_max_s']} s ({f['onboarded_cached']:,} cached)"),
        ("worker RSS with the fleet cached", f"{f['worker_rss_mb']} MB ({f['cached_devices']:,} devices)"),
        ("ingest msg/s (readings/s), city vs 500 devices",
         f"{f['ingest_city_msgs_s']:,} ({f['ingest_city_readings_s']:,}) vs {f['ingest_small_msgs_s']:,} "
         f"({f['ingest_small_readings_s']:,}) = {f['ingest_msgs_city_vs_small']} "
         f"({f['ingest_readings_city_vs_small']})"),
        ("ok", str(f["ok"])),
    ]  # fmt: skip
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(json.dumps(f))
    return 1 if args.check and not f["ok"] else 0
