"""The API phases of ``hatang bench city``: ``/v1/latest`` walked page by page and ``/v1/readiness`` p99.

Through the real application, while a writer upserts ``last_seen`` the way ingest does; and the
``/v1/latest`` query before migration 0600's keyset paging, timed on the same two pages.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg

from api import create_app
from bench.city_data import one, progress, quantile
from bench.readiness import _readings_scans
from hatang.settings import Settings
from registry.audit import CLI
from registry.keys import create_key
from registry.readiness import service

# The /v1/latest query before migration 0600's keyset paging (ordered by a computed key).
LEGACY_LATEST = """
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
# As ingest writes it (ingest.sink, UPSERT_SEEN): in id order, forward only, existing devices only.
SEEN = """
    INSERT INTO device_seen AS s (device_id, last_seen)
    SELECT d.id, now() FROM devices d WHERE d.id = ANY(%s::bigint[]) ORDER BY d.id
    ON CONFLICT (device_id) DO UPDATE SET last_seen = EXCLUDED.last_seen
    WHERE s.last_seen < EXCLUDED.last_seen
"""


@dataclass(slots=True)
class SeenWriter:
    """A thread upserting last_seen for 5,000 active devices at a time, as ingest does, until stopped."""

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
                self.rows += max(conn.execute(SEEN, (chunk,)).rowcount, 0)
                time.sleep(0.05)


async def measure_api(
    settings: Settings, url: str, mqtt_url: str, args: argparse.Namespace, active: list[int]
) -> dict[str, Any]:
    """Walk ``/v1/latest`` and time ``/v1/readiness`` through the real application; returns figures.

    Kept whole: both cases share one application, one client and one admin key inside their
    lifespan, and the request helpers close over them; the two cases read in order below.
    """
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

        if "latest" in args.phases:
            out.update(await _walk_latest(get, timed, args))
        if "readiness" not in args.phases:
            return out

        # /v1/readiness with last_seen being written beside it.
        stop = threading.Event()
        writer = SeenWriter(url, active, stop)
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
            readiness_p50_s=round(quantile(readiness, 0.5), 4),
            readiness_p99_s=round(quantile(readiness, 0.99), 4),
            readiness_compute_p50_s=round(quantile(compute, 0.5), 4),
            readiness_compute_p99_s=round(quantile(compute, 0.99), 4),
            readiness_last_seen_rows=writer.rows,
            readiness_readings_scans=_readings_scans(url) - scans_before,
        )
    return out


def legacy_latest(url: str, *, page_size: int) -> dict[str, float]:
    """The query before keyset paging, on the first and the last page (same page size)."""
    with psycopg.connect(url, autocommit=True) as conn:
        total = one(conn, "SELECT count(*) FROM latest_readings")
        last_after = (
            one(
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
                conn.execute(LEGACY_LATEST, (after, page_size + 1)).fetchall()
                times[label].append(time.perf_counter() - started)
    first, last = statistics.median(times["first"]), statistics.median(times["last"])
    return {
        "legacy_latest_first_page_s": round(first, 4),
        "legacy_latest_last_page_s": round(last, 4),
        "legacy_latest_last_vs_first": round(last / first, 3),
    }


async def _walk_latest(
    get: Callable[..., Awaitable[dict[str, Any]]],
    timed: Callable[[Callable[[], Awaitable[object]], int], Awaitable[list[float]]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """/v1/latest: the whole fleet, page by page; then the first and the last page again."""
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
            progress(f"/v1/latest: {len(pages)} pages, {items:,} values")
    last = cursors[-1]
    repeats = max(5, args.requests // 5)
    first_times = await timed(lambda: get("/v1/latest", limit=size), repeats)
    last_times = await timed(
        lambda: get("/v1/latest", limit=size, cursor=last) if last else get("/v1/latest", limit=size),
        repeats,
    )
    out: dict[str, Any] = {
        "latest_pages": len(pages),
        "latest_values": items,
        "latest_walk_s": round(sum(pages), 2),
        "latest_first_page_s": round(statistics.median(first_times), 4),
        "latest_last_page_s": round(statistics.median(last_times), 4),
    }
    out["latest_last_vs_first"] = round(out["latest_last_page_s"] / out["latest_first_page_s"], 3)
    return out
