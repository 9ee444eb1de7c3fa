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
  few seconds) and of the computation itself (a cache miss) while a writer writes ``last_seen``
  the way ingest does, with the scans of ``readings`` counted (must be 0);
- **ingest**: ``hatang ingest`` draining what the whole city sends in a checkpoint cycle (each device
  at its model's interval, a city's mix) and the same messages from a tenth of its devices and from
  500, each drain from a checkpoint (``bench.city_ingest``): messages and readings a second, city vs
  the tenth (the goal: both write the same per-device rows a message) and city vs 500 devices
  (reported);
- **the ingest worker's event loop** (its registry watcher in this process) while devices are
  onboarded in bulk and assets move between areas: stall p99.9 and max, the registry's rows
  converted whole (before) and a slice at a time (after), in one run; the whole-registry reload on
  the loop (before) vs off it (after); the process's RSS with the fleet cached;
- **streams** (``bench.city_streams``): ``--stream-clients`` WebSocket clients of a real ``hatang
  api``, each following a device of its own, at ``--stream-rate`` readings/s: lag p99 with the
  readings put straight on the fan-out topics, then end to end from each device's MQTT publish
  through a real ``hatang ingest`` worker to the client.

Prints a table, then one JSON object (every figure, the goals, ``"ok"``) as its last line;
``--check`` exits 1 when a goal is missed.

Modules: ``city`` (the command, the order of the phases, the goals, the table), ``city_data``
(fleet, live history, shared helpers), ``city_rollups``, ``city_api``, ``city_cache`` (the device-cache
phase), ``city_streams`` and ``city_ingest``: one phase each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from bench.city_api import legacy_latest, measure_api
from bench.city_cache import measure_device_cache
from bench.city_data import FLEET, one, progress, write_history
from bench.city_ingest import measure_ingest
from bench.city_rollups import brin_insert_cost, rollups
from bench.city_streams import measure_streams
from bench.province import generate
from hatang.migrate import migrate
from hatang.settings import Settings
from hatang.stack import Stack

GOALS: dict[str, float] = {
    "ingest_city_vs_tenth_min": 0.8,
    "rollup_full_vs_empty_max": 1.5,
    "latest_last_vs_first_max": 1.5,
    "readiness_p99_max_s": 1.0,
    "readiness_readings_scans_max": 0,
    "loop_stall_p999_max_s": 0.25,
    "streams_lag_p99_max_s": 1.0,
    "streams_e2e_p99_max_s": 1.5,
}


PHASES = ("rollups", "cache", "latest", "readiness", "streams", "ingest")
# Each phase's goals, met or not, from the figures.
CHECKS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "rollups": lambda f: f["rollup_full_vs_empty_brin"] <= GOALS["rollup_full_vs_empty_max"],
    "cache": lambda f: f["loop_stall_p999_s"] < GOALS["loop_stall_p999_max_s"],
    "latest": lambda f: f["latest_last_vs_first"] <= GOALS["latest_last_vs_first_max"],
    "readiness": lambda f: (
        f["readiness_compute_p99_s"] < GOALS["readiness_p99_max_s"]
        and f["readiness_readings_scans"] <= GOALS["readiness_readings_scans_max"]
    ),
    "streams": lambda f: (
        f["streams_hub_lag_p99_s"] < GOALS["streams_lag_p99_max_s"]
        and f["streams_e2e_lag_p99_s"] < GOALS["streams_e2e_p99_max_s"]
    ),
    "ingest": lambda f: (
        f["ingest_msgs_city_vs_tenth"] >= GOALS["ingest_city_vs_tenth_min"]
        and f["ingest_readings_city_vs_tenth"] >= GOALS["ingest_city_vs_tenth_min"]
    ),
}


def _phases(text: str) -> frozenset[str]:
    chosen = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = chosen - set(PHASES)
    if not chosen or unknown:
        raise argparse.ArgumentTypeError(f"phases are {', '.join(PHASES)}; not {', '.join(sorted(unknown))}")
    return chosen


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``bench city``."""
    parser = subparsers.add_parser(
        "city", help="rollups, latest, readiness, the device cache, streams and ingest at city shape"
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
        "--ingest-seconds", type=float, default=None,
        help="seconds of the city's messages per ingest drain (default: the server's checkpoint_timeout)",
    )  # fmt: skip
    parser.add_argument("--requests", type=int, default=50, help="timed requests per case (default 50)")
    parser.add_argument("--page-size", type=int, default=1000, help="/v1/latest page size (1,000)")
    parser.add_argument(
        "--stream-clients", type=int, default=200, help="WebSocket clients, one device each (200)"
    )
    parser.add_argument(
        "--stream-rate", type=int, default=5000, help="readings/s in the streams phase (5,000)"
    )
    parser.add_argument(
        "--stream-seconds", type=float, default=20.0, help="measured seconds per streams run (20)"
    )
    parser.add_argument(
        "--phases", type=_phases, default=",".join(PHASES),
        help=f"comma-separated phases to run (default all: {','.join(PHASES)}); history is written only"
        " for rollups",
    )  # fmt: skip
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument(
        "--url",
        default=None,
        help="PostgreSQL server URL for the scratch database (default: the local stack)",
    )
    parser.set_defaults(func=_run)


def measure(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """Build the city in a scratch database and measure it; returns the JSON figures.

    Kept whole: the benchmark's sequential phases (build, history, rollups, device cache, API, streams,
    ingest; ``--phases`` picks) read best in order, inside the one ``try`` that drops the scratch database.
    """
    stack = Stack.from_settings(settings)
    started = [] if args.url else stack.up()
    server = args.url or stack.database_url
    scratch = f"hatang_bench_city_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    url = make_conninfo(server, dbname=scratch)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    figures: dict[str, Any] = {"benchmark": "city", "phases": [p for p in PHASES if p in args.phases]}
    try:
        with psycopg.connect(url) as conn:
            migrate(conn)
        with psycopg.connect(url) as conn:
            assets = args.assets if args.assets is not None else max(1, args.devices // 2)
            made = generate(conn, assets=assets, devices=args.devices, now=now)
            progress(f"province: {made.essential_assets:,} essential assets, {made.devices:,} devices")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE UNLOGGED TABLE bench_fleet AS {FLEET}")
            active = [row[0] for row in conn.execute("SELECT id FROM bench_fleet ORDER BY id")]
            shared = one(
                conn, "SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers'"
            )
            # Live history up to a minute ago (the active chunk holds what falls after 00:00 UTC);
            # the chunk of the day before yesterday: ten minutes only.
            hours = min(args.history_hours, 23.5) if "rollups" in args.phases else 0.0
            full_end = now - timedelta(minutes=1)
            empty_day = now.replace(hour=0, minute=0) - timedelta(days=2)
            history_started = time.perf_counter()
            full_rows = write_history(conn, full_end - timedelta(hours=hours), full_end, label="live history")
            empty_end = empty_day + timedelta(minutes=10 if "rollups" in args.phases else 0)
            empty_rows = write_history(conn, empty_day, empty_end, label="nearly empty day")
            history_s = max(time.perf_counter() - history_started, 1e-6)
            chunk_bytes = one(
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
        progress(f"history: {full_rows + empty_rows:,} readings; full chunk {figures['full_chunk_mb']} MB")
        if "rollups" in args.phases:
            figures.update(
                rollups(
                    url,
                    empty_mark=empty_day + timedelta(minutes=7),
                    full_mark=full_end - timedelta(minutes=2),
                    repeats=3,
                )
            )
            rows = min(500_000, max(50_000, full_rows // 20))
            figures.update(brin_insert_cost(url, rows=rows, devices=active, start=now))
            progress(f"BRIN insert cost {figures['brin_insert_cost']}")
        if "cache" in args.phases:
            figures.update(asyncio.run(measure_device_cache(settings, url, onboard=args.onboard)))
            progress(f"device cache: stall p99.9 {figures['loop_stall_p999_s']} s")
        if "latest" in args.phases:
            figures.update(legacy_latest(url, page_size=args.page_size))
        if args.phases & {"latest", "readiness"}:
            figures.update(asyncio.run(measure_api(settings, url, stack.mqtt_url("api"), args, active)))
        if "readiness" in args.phases:
            progress(f"readiness p99 {figures['readiness_p99_s']} / {figures['readiness_compute_p99_s']} s")
        if "streams" in args.phases:
            figures.update(measure_streams(
                url, stack.mqtt_url, mount=settings.device_mount, clients=args.stream_clients,
                rate=args.stream_rate, seconds=args.stream_seconds, warmup=3.0,
            ))  # fmt: skip
            progress(
                f"streams: lag p99 {figures['streams_hub_lag_p99_s']} s,"
                f" end to end {figures['streams_e2e_lag_p99_s']} s"
            )
        if "ingest" in args.phases:
            figures.update(
                measure_ingest(
                    url, stack.mqtt_url, mount=settings.device_mount, seconds=args.ingest_seconds,
                    batch=settings.ingest.batch_size,
                )
            )
            progress(
                f"ingest city vs a tenth: {figures['ingest_msgs_city_vs_tenth']},"
                f" vs 500 devices: {figures['ingest_msgs_city_vs_small']}"
            )
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
        if started:
            stack.down(only=started)
    figures["load_avg_1m"] = round(os.getloadavg()[0], 2)
    figures["cpus"] = os.cpu_count()
    figures["goals"] = GOALS
    figures["ok"] = all(check(figures) for phase, check in CHECKS.items() if phase in args.phases)
    return figures


# The ingest phase's shapes, in the order its rows list them.
_SHAPES = ("city", "tenth", "small")


class _NotRun:
    """A figure of a phase not run (``--phases``): shown as "-" whatever its format."""

    def __format__(self, spec: str) -> str:
        return "-"


def _run(args: argparse.Namespace, settings: Settings) -> int:
    figures = measure(settings, args)
    f: dict[str, Any] = defaultdict(_NotRun, figures)
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
        ("  the same with whole fetches (before)",
         f"{f['loop_stall_p999_s_whole_fetch']} / {f['loop_stall_max_s_whole_fetch']} s"),
        (f"streams, {f['streams_clients']} clients / devices at {f['streams_readings_s']:,} readings/s:"
         " lag p50 / p99", f"{f['streams_hub_lag_p50_s']} / {f['streams_hub_lag_p99_s']} s "
         f"(delivered {f['streams_hub_delivered_share']})"),
        ("  end to end, MQTT publish -> ingest -> client", f"{f['streams_e2e_lag_p50_s']} / "
         f"{f['streams_e2e_lag_p99_s']} s (delivered {f['streams_e2e_delivered_share']}; "
         f"publish -> commit p99 <= {f['streams_e2e_commit_lag_p99_s']} s)"),
        ("worker RSS with the fleet cached", f"{f['worker_rss_mb']} MB ({f['cached_devices']:,} devices)"),
        (f"ingest msg/s (readings/s), city vs a tenth ({f['ingest_tenth_devices']:,} devices)",
         f"{f['ingest_city_msgs_s']:,} ({f['ingest_city_readings_s']:,}) vs {f['ingest_tenth_msgs_s']:,} "
         f"({f['ingest_tenth_readings_s']:,}) = {f['ingest_msgs_city_vs_tenth']} "
         f"({f['ingest_readings_city_vs_tenth']})"),
        ("  city vs 500 devices (reported: folds per-device writes)",
         f"{f['ingest_city_msgs_s']:,} ({f['ingest_city_readings_s']:,}) vs {f['ingest_small_msgs_s']:,} "
         f"({f['ingest_small_readings_s']:,}) = {f['ingest_msgs_city_vs_small']} "
         f"({f['ingest_readings_city_vs_small']})"),
        ("  write-ahead log a message: bytes, full-page images (city; tenth; small)",
         "; ".join(f"{f[f'ingest_{shape}_wal_bytes_per_msg']:,} B, {f[f'ingest_{shape}_wal_fpi_per_msg']}"
                   for shape in _SHAPES)),
        ("  checkpoints during the drains (city; tenth; small)",
         "; ".join(f"{f[f'ingest_{shape}_checkpoints']}" for shape in _SHAPES)),
        ("  rows a message: latest values, last_seen (city; tenth; small)",
         "; ".join(f"{f[f'ingest_{shape}_latest_rows_per_msg']}, {f[f'ingest_{shape}_seen_rows_per_msg']}"
                   for shape in _SHAPES)),
        ("  CPU µs a message: worker, PostgreSQL, Mosquitto (city; tenth; small)",
         "; ".join(", ".join(str(f.get(f"ingest_{shape}_cpu_us_per_msg_{p}", "-"))
                             for p in ("worker", "postgres", "mosquitto")) for shape in _SHAPES)),
        ("  VACUUM after a drain (city; tenth; small)",
         "; ".join(f"{f[f'ingest_{shape}_vacuum_s_per_drain']}" for shape in _SHAPES) + " s"),
        ("  share of the drains with autovacuum running (city; tenth; small)",
         "; ".join(f"{f[f'ingest_{shape}_autovacuum_share']}" for shape in _SHAPES)),
        ("load average (1 min) at the end", f"{f['load_avg_1m']} on {f['cpus']} CPUs"),
        ("ok", str(f["ok"])),
    ]  # fmt: skip
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(json.dumps(figures))
    return 1 if args.check and not figures["ok"] else 0
