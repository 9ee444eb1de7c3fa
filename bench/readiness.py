"""``hatang bench readiness``: ``GET /v1/readiness`` over a synthetic province of 100,000 assets.

Owns the readiness benchmark. In a scratch database beside the configured one (the local stack's,
or the server of ``--url``; created, migrated and dropped by the run) it generates essential assets
and devices (``bench.province``), then times, in the same run: the endpoint through
the real application (httpx ASGI transport, lifespan entered, a real admin key) for the whole
province and for one district, the same figures by the service alone (no HTTP), the first page of
gaps, one snapshot, the zones' low-latency readiness (the packaged zones, per-device latency
histograms for every reporting device, a tenth of them slow) and ingest's latency book (counting
one message per device, then one flush). It counts scans of the ``readings`` hypertable before and
after (must stay 0). Prints a table, then one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from api import create_app
from bench.province import generate
from hatang.migrate import migrate
from hatang.settings import Settings
from hatang.stack import Stack
from ingest.latency import LatencyBook, store
from registry.audit import CLI
from registry.keys import create_key
from registry.readiness import service, snapshots
from registry.zones import load_zones, packaged_zones

# One hour of deliveries per reporting device (registry.readiness.latency.BOUNDS): most within
# 0.25 s; every tenth device slow (a fifth above 2 s), so a zone holding many of those is "slow".
_LATENCY_ROWS = """
    INSERT INTO device_latency (device_id, hour, counts, messages, sum_s)
    SELECT d.id, date_trunc('hour', now()),
           CASE WHEN d.id % 10 = 0 THEN ARRAY[0, 10, 30, 20, 10, 10, 10, 10, 0, 0, 0, 0]
                ELSE ARRAY[0, 20, 70, 8, 2, 0, 0, 0, 0, 0, 0, 0] END,
           100, 30
    FROM devices d JOIN device_seen s ON s.device_id = d.id WHERE d.state = 'active'
"""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``bench readiness``."""
    parser = subparsers.add_parser(
        "readiness", help="GET /v1/readiness over 100,000 assets and 200,000 devices"
    )
    parser.add_argument("--assets", type=int, default=100_000, help="essential assets (default 100,000)")
    parser.add_argument("--devices", type=int, default=200_000, help="devices (default 200,000)")
    parser.add_argument("--requests", type=int, default=100, help="timed requests per case (default 100)")
    parser.add_argument(
        "--url",
        default=None,
        help="PostgreSQL server URL for the scratch database (default: the local stack)",
    )
    parser.set_defaults(func=_run)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _timed(count: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    """Seconds of ``count`` sequential calls, after two untimed warm-up calls."""
    for _ in range(2):
        await call()
    times = []
    for _ in range(count):
        start = time.perf_counter()
        await call()
        times.append(time.perf_counter() - start)
    return times


def _readings_scans(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            """
            SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0) FROM pg_stat_user_tables
            WHERE relname = 'readings' OR relid IN (
                SELECT format('%I.%I', chunk_schema, chunk_name)::regclass
                FROM timescaledb_information.chunks WHERE hypertable_name = 'readings')
            """
        ).fetchone()
        assert row is not None
        return int(row[0])


async def _measure_app(settings: Settings, url: str, mqtt_url: str, requests: int) -> dict[str, Any]:
    """Prepare the data (key, snapshot, zones), then time the endpoints; returns the raw timings.

    Kept whole: the timed requests share one application, lifespan and client, which the request
    helper closes over; setup and measurement read in the order they run.
    """
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute("SELECT id FROM organisations ORDER BY id LIMIT 1")
        row = await cur.fetchone()
        assert row is not None
        issued = await create_key(conn, organisation_id=row[0], role="admin", name="bench", actor=CLI)
        readiness = settings.readiness
        started = time.perf_counter()
        taken = await snapshots.take(conn, settings=readiness, now=datetime.now(UTC))
        snapshot_s = time.perf_counter() - started
        latency = await _latency_book(conn)
        known = {code for (code,) in await (await conn.execute("SELECT code FROM areas")).fetchall()}
        specs = [replace(z, areas=tuple(a for a in z.areas if a in known)) for z in packaged_zones()]
        await load_zones(conn, specs=specs, actor=CLI)
        await conn.execute(_LATENCY_ROWS)
        await conn.execute("ANALYZE device_latency, zones")
    # Every request computes (no live-counts cache): this bench times the computation itself;
    # ``hatang bench city`` reports the cached endpoint beside it.
    uncached = settings.model_copy(
        update={"readiness": settings.readiness.model_copy(update={"live_cache_s": 0})}
    )
    app = create_app(uncached, database_url=url, mqtt_url=mqtt_url, load_contracts=False)
    headers = {"Authorization": f"Bearer {issued.token}"}
    async with (
        await psycopg.AsyncConnection.connect(url, autocommit=True) as conn,
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client,
    ):

        async def get(path: str, **params: str) -> dict[str, Any]:
            response = await client.get(path, params=params, headers=headers)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body

        body = await get("/v1/readiness")
        # Interleaved, so the HTTP/service ratio holds when the machine's load wanders.
        await service.readiness(conn, settings=readiness, now=datetime.now(UTC))
        province, sql_times = [], []
        for _ in range(requests):
            start = time.perf_counter()
            await get("/v1/readiness")
            middle = time.perf_counter()
            await service.readiness(conn, settings=readiness, now=datetime.now(UTC))
            province.append(middle - start)
            sql_times.append(time.perf_counter() - middle)
        district = await _timed(requests, lambda: get("/v1/readiness", area="tu-son"))
        gaps = await _timed(max(10, requests // 5), lambda: get("/v1/readiness/gaps", limit="50"))
        history = await _timed(max(10, requests // 5), lambda: get("/v1/readiness/history"))
        zone_body = await get("/v1/readiness/zones")
        zone_times = await _timed(max(10, requests // 5), lambda: get("/v1/readiness/zones"))
    return {
        "zones": zone_times,
        "zone_body": zone_body,
        **latency,
        "body": body,
        "province": province,
        "district": district,
        "gaps": gaps,
        "history": history,
        "service": sql_times,
        "snapshot_s": snapshot_s,
        "snapshot_rows": taken.rows,
    }


async def _latency_book(conn: psycopg.AsyncConnection[Any]) -> dict[str, Any]:
    """Ingest's latency book over every active device: µs to count a message, seconds to flush it."""
    cur = await conn.execute("SELECT id FROM devices WHERE state = 'active' ORDER BY id")
    ids = [row[0] for row in await cur.fetchall()]
    book = LatencyBook()
    now = time.time()
    latencies = [0.2] * len(ids)
    started = time.perf_counter()
    for start in range(0, len(ids), 5000):  # batches of the default size
        book.add(ids[start : start + 5000], latencies[start : start + 5000], committed_at=now)
    add_s = time.perf_counter() - started
    started = time.perf_counter()
    rows = await store(conn, book.take())
    store_s = time.perf_counter() - started
    await conn.execute("TRUNCATE device_latency")
    return {
        "latency_add_us": round(1e6 * add_s / max(1, len(ids)), 3),
        "latency_flush_devices": rows,
        "latency_flush_s": round(store_s, 3),
    }


def measure(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """Generate the province in a scratch database, time the endpoint; returns the JSON figures."""
    stack = Stack.from_settings(settings)
    started = [] if args.url else stack.up()
    server = args.url or stack.database_url
    scratch = f"hatang_bench_readiness_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    url = make_conninfo(server, dbname=scratch)
    try:
        with psycopg.connect(url) as conn:
            migrate(conn)
        with psycopg.connect(url) as conn:
            made = generate(conn, assets=args.assets, devices=args.devices, now=datetime.now(UTC))
        scans_before = _readings_scans(url)
        timed = asyncio.run(_measure_app(settings, url, stack.mqtt_url("api"), args.requests))
        time.sleep(0.6)  # backends flush their table statistics at most once a second
        scans = _readings_scans(url) - scans_before
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
        if started:
            stack.down(only=started)
    total = timed["body"]["total"]
    province, district = timed["province"], timed["district"]
    return {
        "benchmark": "readiness",
        "assets": made.essential_assets,
        "non_essential_assets": made.other_assets,
        "devices": made.devices,
        "areas": made.areas,
        "generate_s": round(made.seconds, 2),
        "requests": len(province),
        "p50_s": round(_quantile(province, 0.50), 4),
        "p99_s": round(_quantile(province, 0.99), 4),
        "district_p50_s": round(_quantile(district, 0.50), 4),
        "district_p99_s": round(_quantile(district, 0.99), 4),
        "service_p50_s": round(_quantile(timed["service"], 0.50), 4),
        "ratio_http_vs_service": round(_quantile(province, 0.50) / _quantile(timed["service"], 0.50), 3),
        "gaps_page_p50_s": round(_quantile(timed["gaps"], 0.50), 4),
        "history_p50_s": round(_quantile(timed["history"], 0.50), 4),
        "snapshot_s": round(timed["snapshot_s"], 3),
        "snapshot_rows": timed["snapshot_rows"],
        "ready_share": round(total["ready_share"], 4),
        "equipped": total["equipped"],
        "ready": total["ready"],
        "readings_scans": scans,
        "zones_p50_s": round(_quantile(timed["zones"], 0.50), 4),
        "zones": len(timed["zone_body"]["zones"]),
        "zones_ready": sum(1 for z in timed["zone_body"]["zones"] if z["ready"]),
        "zones_counted_ready": timed["zone_body"]["total"]["ready"],
        "zones_counted": timed["zone_body"]["total"]["zones"],
        "latency_add_us": timed["latency_add_us"],
        "latency_flush_devices": timed["latency_flush_devices"],
        "latency_flush_s": timed["latency_flush_s"],
    }


def _run(args: argparse.Namespace, settings: Settings) -> int:
    figures = measure(settings, args)
    rows = [
        ("essential assets / devices", f"{figures['assets']:,} / {figures['devices']:,}"),
        ("generated in", f"{figures['generate_s']} s"),
        ("GET /v1/readiness p50 / p99", f"{figures['p50_s']} s / {figures['p99_s']} s"),
        ("  ?area=tu-son p50 / p99", f"{figures['district_p50_s']} s / {figures['district_p99_s']} s"),
        (
            "service alone p50 (HTTP ratio)",
            f"{figures['service_p50_s']} s ({figures['ratio_http_vs_service']})",
        ),
        ("GET /v1/readiness/gaps p50", f"{figures['gaps_page_p50_s']} s"),
        ("GET /v1/readiness/history p50", f"{figures['history_p50_s']} s"),
        ("snapshot job", f"{figures['snapshot_s']} s, {figures['snapshot_rows']} rows"),
        ("ready share (all sectors)", f"{figures['ready_share']}"),
        ("scans of readings", f"{figures['readings_scans']}"),
        ("GET /v1/readiness/zones p50", f"{figures['zones_p50_s']} s"),
        ("zones ready (all / counted)", f"{figures['zones_ready']}/{figures['zones']} / "
         f"{figures['zones_counted_ready']}/{figures['zones_counted']}"),
        ("latency book: count / flush", f"{figures['latency_add_us']} µs per message / "
         f"{figures['latency_flush_s']} s for {figures['latency_flush_devices']:,} devices"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(json.dumps(figures))
    return 0
